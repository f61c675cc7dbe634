"""One validation pass over an ONNX model before the importer reads any tensor.

:func:`validate_model` checks what ``onnx.checker`` checks per node (the op's schema at
the model's opset: input and output counts, attribute types) and what the simulator
needs beyond it, and raises a one-line ``OnnxImportError`` naming the file, the place
(node, tensor, attribute) and what was expected:

* versions: IR version in ``[3, onnx.IR_VERSION]``, one default-domain opset in
  ``[1, onnx.defs.onnx_opset_version()]``;
* names: unique producers (a tensor written by two nodes, or by a node and an
  initializer or input), names that print (UTF-8, at most :data:`MAX_NAME` characters);
* attributes: strides, dilations, kernel shapes, LRN size and groups >= 1; float
  attributes not NaN (nor infinite, except Clip's bounds);
* initializers: a numeric element type, dims >= 0 and at most :data:`MAX_ELEMENTS`
  elements, computed from the header before any data is decoded; a weight (the
  constant operand of Conv, Gemm, MatMul, BatchNormalization...) of the graph input's
  element type, as ONNX's type constraints require;
* graph inputs: every per-sample dim >= 1 and at most :data:`MAX_ELEMENTS` elements.

:func:`check_values` refuses NaN/Inf in a constant and negative BatchNorm variances
when a converter reads them; :func:`check_shape` bounds every computed activation.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, checker, helper, numpy_helper

from reramsim.io_checks import printable

__all__ = ["MAX_ELEMENTS", "MAX_NAME", "check_shape", "check_values", "validate_model"]

#: The most elements one tensor (an initializer, or one sample of an activation) may
#: have: 2^28, 1 GiB of float32.
MAX_ELEMENTS = 2 ** 28

#: The longest tensor or node name accepted.
MAX_NAME = 1024

_DEFAULT_DOMAINS = ("", "ai.onnx")
_FLOATS = (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16)
_NUMERIC = (*_FLOATS, TensorProto.INT8, TensorProto.INT16, TensorProto.INT32, TensorProto.INT64,
            TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64,
            TensorProto.BOOL)

#: op type -> input positions that are float operands of the graph's element type (ONNX's
#: type constraint T ties them to the activation's type).
_WEIGHT_INPUTS = {
    "Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (0, 1, 2), "MatMul": (0, 1),
    "BatchNormalization": (1, 2, 3, 4), "Add": (0, 1), "Sub": (0, 1), "Mul": (0, 1),
    "Div": (0, 1), "PRelu": (1,), "InstanceNormalization": (1, 2),
}

#: Integer attributes (every value) that must be >= 1, for any op that has them.
_POSITIVE_INTS = ("strides", "dilations", "kernel_shape", "size", "group")

#: Float attributes that may be infinite (bounds that default to +-inf).
_INF_ALLOWED = {("Clip", "min"), ("Clip", "max")}


def _error(source: str, msg: str):
    from reramsim.onnx_import import OnnxImportError

    return OnnxImportError(f"{source}: {msg}")


def _name(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    return repr(printable(text)) if len(text) <= 80 else repr(printable(text[:77]) + "...")


def validate_model(model: onnx.ModelProto, source: str) -> None:
    """Refuse a model the importer must not read (rules in the module docstring).

    Raises:
        OnnxImportError: ``"<file>: <place>: <what was expected>"``.
    """
    if not 3 <= model.ir_version <= onnx.IR_VERSION:
        raise _error(source, f"IR version {model.ir_version}; expected 3..{onnx.IR_VERSION}")
    newest = onnx.defs.onnx_opset_version()
    default = [o.version for o in model.opset_import if o.domain in _DEFAULT_DOMAINS]
    if len(default) > 1:
        raise _error(source, f"{len(default)} opset_import entries for the default domain "
                             "(concatenated files?); expected one")
    if default and not 1 <= default[0] <= newest:
        raise _error(source, f"opset {default[0]}; expected 1..{newest} (this onnx "
                             f"{onnx.__version__})")
    for prop in model.metadata_props:
        for text in (prop.key, prop.value):
            if isinstance(text, bytes):
                raise _error(source, f"metadata_props entry {_name(prop.key)} is not valid UTF-8")
    graph = model.graph
    _check_names(graph, source)
    initializers = {init.name: init for init in graph.initializer}
    for init in graph.initializer:
        _check_initializer(init, source)
    elem = _check_inputs(graph, initializers, source)
    ctx = checker.C.CheckerContext()
    ctx.ir_version = max(model.ir_version, 3)
    ctx.opset_imports = {o.domain or "": o.version for o in model.opset_import}
    for index, node in enumerate(graph.node):
        where = f"node {_name(node.name or f'{node.op_type}_{index}')} ({printable(node.op_type)})"
        _check_node(node, ctx, where, source)
        if node.op_type == "BatchNormalization" and len(node.input) > 4 \
                and node.input[4] in initializers:
            var = numpy_helper.to_array(initializers[node.input[4]])
            if var.size and np.nanmin(var) < 0:
                raise _error(source, f"{where}: variance {_name(node.input[4])} has a negative "
                                     f"element ({np.nanmin(var)}); expected values >= 0")
        if node.domain in _DEFAULT_DOMAINS and elem is not None:
            for i in _WEIGHT_INPUTS.get(node.op_type, ()):
                init = initializers.get(node.input[i]) if i < len(node.input) else None
                if init is not None and init.data_type != elem:
                    raise _error(source, f"{where}: input {i} {_name(init.name)} has element "
                                         f"type {_type(init.data_type)}; expected {_type(elem)}, "
                                         "the graph input's type")


def _type(code: int) -> str:
    try:
        return TensorProto.DataType.Name(code).lower()
    except ValueError:
        return f"<type {code}>"


def _check_names(graph: onnx.GraphProto, source: str) -> None:
    """Every name UTF-8 and short; every tensor produced once."""
    producers: dict[str, str] = {}

    def produce(name: str, by: str) -> None:
        if not name:
            return
        if name in producers:
            raise _error(source, f"tensor {_name(name)} is produced by {producers[name]} and "
                                 f"by {by}; expected one producer (SSA form)")
        producers[name] = by

    def check(name: str | bytes, what: str) -> None:
        if isinstance(name, bytes):  # protobuf hands out a string that is not UTF-8 as bytes
            raise _error(source, f"{what} name {printable(repr(name)[:80])} is not valid UTF-8")
        if len(name) > MAX_NAME:
            raise _error(source, f"{what} name of {len(name)} characters "
                                 f"({_name(name)}); expected at most {MAX_NAME}")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise _error(source, f"{what} name {_name(name)} is not valid UTF-8") from None

    check(graph.name, "graph")
    for index, node in enumerate(graph.node):
        check(node.op_type, f"node {index}: op type")
        check(node.domain, f"node {index}: domain")
    for init in graph.initializer:
        check(init.name, "initializer")
        produce(init.name, f"initializer {_name(init.name)}")
    initializers = set(producers)
    for value in graph.input:
        check(value.name, "graph input")
        if value.name not in initializers:
            produce(value.name, f"graph input {_name(value.name)}")
    for value in graph.output:
        check(value.name, "graph output")
    for index, node in enumerate(graph.node):
        check(node.name, "node")
        by = f"node {_name(node.name or f'{node.op_type}_{index}')}"
        for name in (*node.input, *node.output):
            check(name, f"{by}: tensor")
        for name in node.output:
            produce(name, by)


def _check_initializer(init: onnx.TensorProto, source: str) -> None:
    where = f"initializer {_name(init.name)}"
    if init.data_type not in _NUMERIC:
        raise _error(source, f"{where} has element type {_type(init.data_type)}; expected "
                             "a numeric type (float, int or bool)")
    if any(d < 0 for d in init.dims):
        raise _error(source, f"{where} has dims {list(init.dims)}; expected sizes >= 0")
    size = math.prod(init.dims)
    if size > MAX_ELEMENTS:
        raise _error(source, f"{where} of shape {tuple(init.dims)} holds {size:,} elements; "
                             f"at most {MAX_ELEMENTS:,} are accepted")
    if init.data_location != TensorProto.EXTERNAL and init.HasField("raw_data"):
        itemsize = helper.tensor_dtype_to_np_dtype(init.data_type).itemsize
        if len(init.raw_data) != size * itemsize:
            raise _error(source, f"{where} of shape {tuple(init.dims)} needs "
                                 f"{size * itemsize:,} bytes of data, has {len(init.raw_data):,}")


def _check_inputs(graph: onnx.GraphProto, initializers: dict, source: str) -> int | None:
    """The graph inputs' element type (None without a real input) once their dims check."""
    elem = None
    for value in graph.input:
        if value.name in initializers:
            continue
        t = value.type.tensor_type
        elem = elem if elem is not None else t.elem_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim][1:]
        where = f"graph input {_name(value.name)}"
        if any(d is not None and d < 1 for d in dims):
            raise _error(source, f"{where} has per-sample dims {dims}; expected sizes >= 1")
        size = math.prod(d for d in dims if d is not None)
        if size > MAX_ELEMENTS:
            raise _error(source, f"{where} of per-sample shape {tuple(dims)} holds {size:,} "
                                 f"elements; at most {MAX_ELEMENTS:,} are accepted")
    return elem


def _check_node(node: onnx.NodeProto, ctx: Any, where: str, source: str) -> None:
    if node.domain in _DEFAULT_DOMAINS and onnx.defs.has(node.op_type):
        try:
            checker.check_node(node, ctx)
        except checker.ValidationError as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else "invalid"
            if not reason.startswith("Unrecognized attribute"):  # legacy ones are ignored
                raise _error(source, f"{where}: {printable(reason)}") from None
    if not node.output or not any(node.output):
        raise _error(source, f"{where}: no output; expected at least one")
    for attr in node.attribute:
        key = f"{where}: attribute {attr.name}"
        if attr.name in _POSITIVE_INTS:
            values = list(attr.ints) if attr.type == onnx.AttributeProto.INTS else \
                [attr.i] if attr.type == onnx.AttributeProto.INT else None
            if values is None:
                raise _error(source, f"{key}: expected integers")
            if any(v < 1 for v in values):
                raise _error(source, f"{key}={values}: expected values >= 1")
        if attr.type in (onnx.AttributeProto.FLOAT, onnx.AttributeProto.FLOATS):
            values = [attr.f] if attr.type == onnx.AttributeProto.FLOAT else list(attr.floats)
            allowed = (node.op_type, attr.name) in _INF_ALLOWED
            if any(math.isnan(v) or (math.isinf(v) and not allowed) for v in values):
                raise _error(source, f"{key}={values}: expected finite numbers")


def check_values(error: Any, what: str, array: np.ndarray) -> None:
    """Refuse a non-finite element in a float constant; ``error(msg)`` builds the exception."""
    if array.dtype.kind == "f" and array.size and not np.isfinite(array).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise error(f"{what} has element {array[index]} at {index}; expected finite values")


def check_shape(error: Any, tensor: str, shape: tuple[int, ...]) -> None:
    """Refuse a computed per-sample activation shape with a dim < 1 or too many elements."""
    if any(d < 1 for d in shape):
        raise error(f"output {_name(tensor)} would have shape (N, "
                    f"{', '.join(map(str, shape))}); expected every size >= 1")
    size = math.prod(shape)
    if size > MAX_ELEMENTS:
        raise error(f"output {_name(tensor)} of shape (N, {', '.join(map(str, shape))}) holds "
                    f"{size:,} elements per sample; at most {MAX_ELEMENTS:,} are accepted")
