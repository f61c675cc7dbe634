"""Write pruned weights back into the user's original ONNX graph.

The IR folds BatchNormalization, a constant bias Add and a per-channel constant Mul into
the conv/fc before them (``WeightLayer.attrs``: ``onnx_node``, the index of the weight
node, and ``folded``, the indices of the nodes folded into it). A pruned model keeps the
user's graph: every node, name, input and output stays; only constants change:

* the weight node's weight becomes the pruned IR weight in the node's own layout (Conv
  as is; ConvTranspose back to ``(Cin, Cout/group, kh, kw)`` with the kernel flipped;
  Gemm per ``transB`` with ``alpha = 1``; MatMul transposed);
* the IR bias goes into the node's bias input (Conv, ConvTranspose, Gemm ``C`` with
  ``beta = 1``; added when the node had none), or, for MatMul, into its folded Add;
* every other folded node becomes the identity (BatchNormalization: scale 1, B 0, mean 0,
  var ``1 - epsilon``; Add: zeros; Mul: ones).

A constant read by several nodes, or computed by a constant subgraph, is not changed in
place: the node gets a new initializer named ``<node>_<input>``.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from reramsim import ReramsimError
from reramsim.ir import Network

__all__ = ["write_back"]


class _Graph:
    """The original graph with a way to set one node input to a constant."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.graph = model.graph
        self.inits = {i.name: i for i in self.graph.initializer}
        self.readers: dict[str, int] = {}
        self.constants = set(self.inits)  # initializers and what is computed from them only
        for node in self.graph.node:
            for name in node.input:
                self.readers[name] = self.readers.get(name, 0) + 1
            if node.op_type != "Shape" and all(not n or n in self.constants for n in node.input):
                self.constants.update(node.output)

    def const_input(self, node: onnx.NodeProto) -> int:
        """Index of the constant operand of a folded two-input node (Add, Mul)."""
        return next(i for i, n in enumerate(node.input[:2]) if n in self.constants)

    def shape_of(self, name: str) -> tuple[int, ...]:
        """Dims of an initializer; () (a scalar, which broadcasts) for any other constant."""
        return tuple(self.inits[name].dims) if name in self.inits else ()

    def set_const(self, node: onnx.NodeProto, i: int, value: np.ndarray, dtype: int) -> None:
        value = value.astype(helper.tensor_dtype_to_np_dtype(dtype))
        while len(node.input) <= i:
            node.input.append("")
        name = node.input[i]
        if name and name in self.inits and self.readers.get(name, 0) == 1:
            self.inits[name].CopyFrom(numpy_helper.from_array(value, name))
            return
        new = f"{node.name or node.output[0]}_{i}"
        while new in self.inits:
            new += "_"
        tensor = numpy_helper.from_array(value, new)
        self.graph.initializer.append(tensor)
        self.inits[new] = self.graph.initializer[-1]
        node.input[i] = new
        self.readers[new] = 1


def _set_attr(node: onnx.NodeProto, key: str, value: float) -> None:
    for a in node.attribute:
        if a.name == key:
            node.attribute.remove(a)
            break
    node.attribute.append(helper.make_attribute(key, value))


def _attr(node: onnx.NodeProto, key: str, default):
    for a in node.attribute:
        if a.name == key:
            return helper.get_attribute_value(a)
    return default


def _weight_layout(node: onnx.NodeProto, weight: np.ndarray, groups: int) -> np.ndarray:
    """The IR weight (Cout, Cin/g, kh, kw) or (Cout, Cin) in ``node``'s own layout."""
    if node.op_type == "Conv":
        return weight
    if node.op_type == "ConvTranspose":
        cout, cin_g, kh, kw = weight.shape
        w = weight.reshape(groups, cout // groups, cin_g, kh, kw)[..., ::-1, ::-1]
        return np.ascontiguousarray(w.transpose(0, 2, 1, 3, 4).reshape(
            groups * cin_g, cout // groups, kh, kw))
    if node.op_type == "Gemm":
        return weight if _attr(node, "transB", 0) else weight.T
    return weight.T  # MatMul: x @ B with B (K, M)


def _identity(g: _Graph, node: onnx.NodeProto, dtype: int, channels: int) -> None:
    """Make a folded node the identity on its activation."""
    if node.op_type == "BatchNormalization":
        eps = float(_attr(node, "epsilon", 1e-5))
        for i, v in ((1, 1.0), (2, 0.0), (3, 0.0), (4, 1.0 - eps)):
            g.set_const(node, i, np.full(channels, v), dtype)
        return
    i = g.const_input(node)
    g.set_const(node, i, np.full(g.shape_of(node.input[i]), 1.0 if node.op_type == "Mul"
                                 else 0.0), dtype)


def write_back(original: onnx.ModelProto, network: Network,
               weights: dict[str, tuple[np.ndarray, np.ndarray | None]]) -> onnx.ModelProto:
    """A copy of ``original`` whose weight layers hold ``weights`` (IR layer name -> (W, b)).

    ``network`` is the IR ``load_onnx`` made of ``original`` (its weight layers record
    the nodes they came from). Raises ReramsimError for a layer without that record.
    """
    model = onnx.ModelProto()
    model.CopyFrom(original)
    g = _Graph(model)
    nodes = model.graph.node
    for layer in network.weight_layers():
        if layer.name not in weights:
            continue
        if "onnx_node" not in layer.attrs:
            raise ReramsimError(f"layer {layer.name!r} does not record its ONNX node")
        weight, bias = weights[layer.name]
        node = nodes[layer.attrs["onnx_node"]]
        dtype = _dtype(g, node)
        g.set_const(node, 1, _weight_layout(node, np.asarray(weight), layer.groups), dtype)
        if node.op_type == "Gemm":
            _set_attr(node, "alpha", 1.0)
            _set_attr(node, "beta", 1.0)
        folded = [nodes[i] for i in layer.attrs.get("folded", [])]
        bias_done = bias is None
        if bias is not None and node.op_type in ("Conv", "ConvTranspose", "Gemm"):
            g.set_const(node, 2, np.asarray(bias), dtype)
            bias_done = True
        for f in folded:
            if not bias_done and f.op_type in ("Add", "Sum"):
                idx = g.const_input(f)
                shape = g.shape_of(f.input[idx])
                value = np.asarray(bias)
                g.set_const(f, idx, value.reshape(shape) if int(np.prod(shape)) == value.size
                            else value, dtype)
                bias_done = True
                continue
            _identity(g, f, dtype, layer.cout)
        if not bias_done:
            raise ReramsimError(f"layer {layer.name!r} ({node.op_type}) has a bias but its "
                                "node cannot hold one")
    return model


def _dtype(g: _Graph, node: onnx.NodeProto) -> int:
    name = node.input[1]
    return g.inits[name].data_type if name in g.inits else onnx.TensorProto.FLOAT
