"""The ops: one descriptor per digital IR op, the ONNX converters, the float kernels.

* :mod:`reramsim.ops.base`: the descriptor (:class:`OpDef`), the registries :data:`OPS`
  (IR op -> descriptor) and :data:`ONNX_OPS` (ONNX op type and opset -> converter), the
  decorators that fill them and the completeness check;
* one module per op family, each holding its ops' descriptors and converters:
  :mod:`~reramsim.ops.activations`, :mod:`~reramsim.ops.pooling`,
  :mod:`~reramsim.ops.elementwise`, :mod:`~reramsim.ops.normalization`,
  :mod:`~reramsim.ops.shape`, and :mod:`~reramsim.ops.weights` (conv / fc, which run
  on crossbars: their float math and converters, no descriptor);
* :mod:`~reramsim.ops.reference`: :func:`run_float`, the float reference of a network.

Importing this package registers every op and checks that descriptors and converters
fit together (:func:`check_registry`); a mismatch is an error at import.
"""
from reramsim.ops import (  # noqa: F401 (importing a family registers its ops)
    activations,
    elementwise,
    normalization,
    pooling,
    shape,
    weights,
)
from reramsim.ops.base import (
    ONNX_OPS,
    OPS,
    OpDef,
    OpError,
    check_registry,
    define_op,
    digital_op,
    register_op,
    supported_ops,
)
from reramsim.ops.pooling import pool_output_size
from reramsim.ops.reference import run_float
from reramsim.ops.weights import (
    col2im_output,
    conv_output_size,
    im2col,
    im2col_groups,
    weight_layer_float,
)

check_registry()

__all__ = [
    "ONNX_OPS",
    "OPS",
    "OpDef",
    "OpError",
    "check_registry",
    "col2im_output",
    "conv_output_size",
    "define_op",
    "digital_op",
    "im2col",
    "im2col_groups",
    "pool_output_size",
    "register_op",
    "run_float",
    "supported_ops",
    "weight_layer_float",
]
