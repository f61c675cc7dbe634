"""Read an ONNX file into the IR (:mod:`reramsim.ir`).

:func:`load_onnx` does, in order:

1. load and sanity-check the model (one-line :class:`OnnxImportError` naming the file
   for anything malformed);
2. run ONNX shape inference (used to cross-check the shapes computed here);
3. wrap the graph once: unique node names (empty or repeated names become
   ``<OpType>_<index>``), the initializer index, a topological order;
4. walk the nodes: a node whose inputs are all constant (initializers, Constant
   nodes, other folded nodes, or ``Shape`` of a tensor whose shape is known) is
   evaluated here with ONNX's reference evaluator; any other node is dispatched
   to the handler registered for its op and the model's opset
   (``@register_op("Conv", since=1)``), which emits at most one IR layer, folds
   itself into the previous layer (BatchNorm, constant Add), or aliases its input
   (Dropout, Identity);
5. name the graph outputs, drop layers no output depends on.

Shapes in the IR are per sample: dim 0 of every activation is the batch, dynamic
or not. Where an op's attribute or target shape includes the batch dim (Reshape,
Shape) the batch is the static dim 0 of the graph inputs, or 1 when it is
dynamic. See ``docs/onnx_import.md`` for the supported ops and the rules.
"""
from __future__ import annotations

import heapq
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from reramsim import ReramsimError
from reramsim.ir import Layer, Network, WeightLayer
from reramsim.ops import conv_output_size, pool_output_size

__all__ = ["OnnxImportError", "load_onnx", "register_op", "supported_ops"]


class OnnxImportError(ReramsimError):
    """The ONNX model cannot be read or mapped onto the IR; the message is one line."""


Shape = tuple[int, ...]
Handler = Callable[["_Importer", "_Node"], None]
_REGISTRY: dict[str, dict[int, Handler]] = {}
_DEFAULT_DOMAINS = ("", "ai.onnx")


def register_op(op_type: str, since: int = 1) -> Callable[[Handler], Handler]:
    """Register the import handler of ONNX op ``op_type`` for opsets ``>= since``.

    The handler used for a model is the one with the largest ``since`` not above the
    model's opset, so a later registration overrides an op's changed semantics.
    Raises ValueError when ``(op_type, since)`` is already registered.
    """

    def decorate(fn: Handler) -> Handler:
        versions = _REGISTRY.setdefault(op_type, {})
        if since in versions:
            raise ValueError(f"ONNX op {op_type!r} since opset {since} is already registered "
                             f"by {versions[since].__name__}")
        versions[since] = fn
        return fn

    return decorate


def supported_ops() -> list[str]:
    """Names of the ONNX ops with a registered handler, sorted."""
    return sorted(_REGISTRY)


# --------------------------------------------------------------------------- graph wrapper


@dataclass
class _Node:
    """An ONNX node with a unique name and decoded attributes."""

    proto: onnx.NodeProto
    name: str
    index: int

    @property
    def op(self) -> str:
        return self.proto.op_type

    @property
    def inputs(self) -> list[str]:
        return list(self.proto.input)

    @property
    def outputs(self) -> list[str]:
        return list(self.proto.output)

    def attr(self, key: str, default: Any = None) -> Any:
        for a in self.proto.attribute:
            if a.name == key:
                value = helper.get_attribute_value(a)
                if isinstance(value, bytes):
                    return value.decode()
                if isinstance(value, list):
                    return [v.decode() if isinstance(v, bytes) else v for v in value]
                return value
        return default


def _value_shape(value: onnx.ValueInfoProto) -> tuple[int | str | None, ...] | None:
    """Full shape of a value: ints, dim_param strings or None (unknown); None if no shape."""
    t = value.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims: list[int | str | None] = []
    for d in t.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return tuple(dims)


def _read_model(model: Any, source: str | None) -> tuple[onnx.ModelProto, str]:
    if isinstance(model, onnx.ModelProto):
        return model, source or (model.graph.name or "<model>")
    if not isinstance(model, (str, os.PathLike)):
        raise OnnxImportError(f"{source or '<model>'}: expected a path or an onnx.ModelProto, "
                              f"got {type(model).__name__}")
    path = Path(model)
    src = source or str(model)
    if not path.is_file():
        raise OnnxImportError(f"{src}: no such file")
    try:
        proto = onnx.load(str(path))
    except Exception as e:  # protobuf DecodeError, external-data errors, OSError...
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise OnnxImportError(f"{src}: not a readable ONNX model ({reason})") from e
    return proto, src


class _Importer:
    """State of one import: constants, activation shapes, aliases and the layers so far."""

    def __init__(self, model: onnx.ModelProto, source: str) -> None:
        self.model = model
        self.source = source
        self.graph = model.graph
        self._check_model()
        self.opset = self._default_opset()
        self.consts: dict[str, np.ndarray] = {}
        for init in self.graph.initializer:
            try:
                self.consts[init.name] = numpy_helper.to_array(init)
            except Exception as e:
                raise self.file_error(f"initializer {init.name!r} cannot be read "
                                      f"({str(e).splitlines()[0] if str(e) else e!r})") from e
        self.shapes: dict[str, Shape] = {}  # activation tensor -> per-sample shape
        self.alias: dict[str, str] = {}  # dropped node's output -> the tensor it equals
        self.layers: list[Layer] = []
        self.producer: dict[str, Layer] = {}
        self.batch = 1
        self.inputs = self._graph_inputs()
        self.nodes = self._sorted_nodes()
        self.n_readers: dict[str, int] = {}
        for node in self.nodes:
            for name in node.inputs:
                self.n_readers[name] = self.n_readers.get(name, 0) + 1
        for out in self.graph.output:
            self.n_readers[out.name] = self.n_readers.get(out.name, 0) + 1
        self.inferred = self._infer_shapes()

    # -- errors ---------------------------------------------------------------------------
    def file_error(self, msg: str) -> OnnxImportError:
        return OnnxImportError(f"{self.source}: {msg}")

    def error(self, node: _Node, msg: str) -> OnnxImportError:
        return OnnxImportError(f"{self.source}: node '{node.name}' ({node.op}, opset "
                               f"{self.opset}): {msg}")

    # -- setup ----------------------------------------------------------------------------
    def _check_model(self) -> None:
        if not self.model.HasField("graph") or (not self.graph.node and not self.graph.input):
            raise self.file_error("not an ONNX model (no graph)")
        if not self.graph.output:
            raise self.file_error("the graph has no output")

    def _default_opset(self) -> int:
        versions = [o.version for o in self.model.opset_import if o.domain in _DEFAULT_DOMAINS]
        if not versions:
            raise self.file_error("no opset_import for the default ONNX domain")
        return int(versions[0])

    def _graph_inputs(self) -> dict[str, Shape]:
        inputs: dict[str, Shape] = {}
        batches = set()
        for value in self.graph.input:
            if value.name in self.consts:
                continue  # an initializer listed as input (IR version < 4): a constant
            elem = value.type.tensor_type.elem_type
            if elem not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
                            onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16):
                raise self.file_error(f"graph input {value.name!r} is not a float tensor "
                                      f"(element type {elem})")
            full = _value_shape(value)
            if not full:
                raise self.file_error(f"graph input {value.name!r} has no shape; expected "
                                      "(batch, ...) with static dims after the batch")
            if any(not isinstance(d, int) for d in full[1:]):
                raise self.file_error(f"graph input {value.name!r} has shape {full}; only the "
                                      "batch dim (dim 0) may be dynamic")
            if isinstance(full[0], int):
                batches.add(full[0])
            inputs[value.name] = tuple(int(d) for d in full[1:])  # type: ignore[arg-type]
            self.shapes[value.name] = inputs[value.name]
        if not inputs:
            raise self.file_error("the graph has no input (every input is an initializer)")
        if len(batches) > 1:
            raise self.file_error(f"graph inputs disagree on the batch size: {sorted(batches)}")
        self.batch = batches.pop() if batches else 1
        return inputs

    def _sorted_nodes(self) -> list[_Node]:
        """Nodes with unique names, in a topological order (file order where it is one)."""
        used: set[str] = set()
        nodes = []
        for i, proto in enumerate(self.graph.node):
            name = proto.name
            if not name or name in used:
                name = f"{proto.op_type}_{i}"
                k = 2
                while name in used:
                    name, k = f"{proto.op_type}_{i}_{k}", k + 1
            used.add(name)
            nodes.append(_Node(proto, name, i))
        producer = {out: n for n in nodes for out in n.outputs if out}
        known = set(self.consts) | set(self.inputs) | {""}
        waiting: dict[int, int] = {}
        readers: dict[str, list[_Node]] = {}
        ready: list[int] = []
        for n in nodes:
            missing = {name for name in n.inputs if name not in known}
            for name in missing:
                if name not in producer:
                    raise self.error(n, f"input {name!r} is not an initializer, a graph input "
                                        "or the output of any node (missing initializer?)")
                readers.setdefault(name, []).append(n)
            waiting[n.index] = len(missing)
            if not missing:
                heapq.heappush(ready, n.index)
        order = []
        while ready:
            n = nodes[heapq.heappop(ready)]
            order.append(n)
            for out in n.outputs:
                for r in readers.pop(out, []):
                    waiting[r.index] -= 1
                    if waiting[r.index] == 0:
                        heapq.heappush(ready, r.index)
        if len(order) != len(nodes):
            stuck = [n.name for n in nodes if waiting[n.index] > 0]
            raise self.file_error(f"the graph has a cycle through nodes {stuck[:5]}")
        for out in self.graph.output:
            if out.name not in producer and out.name not in known:
                raise self.file_error(f"graph output {out.name!r} is not produced by any node")
        return order

    def _infer_shapes(self) -> dict[str, tuple[int | str | None, ...]]:
        """ONNX shape inference, run on a copy whose large initializers are typed inputs."""
        graph = self.graph
        big = [i for i in graph.initializer if int(np.prod(i.dims)) > 4096]
        declared = {v.name for v in graph.input}
        slim = helper.make_model(
            helper.make_graph(
                graph.node, graph.name,
                list(graph.input) + [helper.make_tensor_value_info(i.name, i.data_type, i.dims)
                                     for i in big if i.name not in declared],
                graph.output, [i for i in graph.initializer if int(np.prod(i.dims)) <= 4096],
                value_info=graph.value_info),
            opset_imports=self.model.opset_import, ir_version=max(self.model.ir_version, 4))
        try:
            inferred = onnx.shape_inference.infer_shapes(slim, data_prop=True)
        except Exception:  # inference is only a cross-check; our own shapes are authoritative
            return {}
        values = list(inferred.graph.value_info) + list(inferred.graph.output)
        return {v.name: s for v in values if (s := _value_shape(v)) is not None}

    # -- tensors --------------------------------------------------------------------------
    def resolve(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def is_const(self, name: str) -> bool:
        return self.resolve(name) in self.consts

    def const(self, node: _Node, i: int, what: str) -> np.ndarray:
        """Input ``i`` as a constant array; raises if it is missing or computed at run time."""
        if i >= len(node.inputs) or not node.inputs[i]:
            raise self.error(node, f"{what} (input {i}) is missing")
        name = self.resolve(node.inputs[i])
        if name not in self.consts:
            raise self.error(node, f"{what} (input {i}, '{node.inputs[i]}') must be a constant "
                                   "(initializer or constant subgraph); it is computed at run time")
        return self.consts[name]

    def opt_const(self, node: _Node, i: int, what: str) -> np.ndarray | None:
        if i >= len(node.inputs) or not node.inputs[i]:
            return None
        return self.const(node, i, what)

    def act(self, node: _Node, i: int, what: str = "input") -> tuple[str, Shape]:
        """Input ``i`` as an activation: its resolved name and per-sample shape."""
        if i >= len(node.inputs) or not node.inputs[i]:
            raise self.error(node, f"{what} (input {i}) is missing")
        name = self.resolve(node.inputs[i])
        if name in self.consts:
            raise self.error(node, f"{what} (input {i}, '{node.inputs[i]}') is a constant; "
                                   "expected an activation computed from the graph input")
        if name not in self.shapes:
            raise self.error(node, f"{what} (input {i}, '{node.inputs[i]}') is a secondary "
                                   "output of another node, which is not computed")
        return name, self.shapes[name]

    def require_unused_outputs(self, node: _Node, first: int) -> None:
        for out in node.outputs[first:]:
            if out and self.n_readers.get(out, 0):
                raise self.error(node, f"output {out!r} is used, but only output 0 is supported")

    # -- emitting -------------------------------------------------------------------------
    def emit(self, node: _Node, layer: Layer, check_shape: bool = True) -> Layer:
        if check_shape:
            self._cross_check(node, layer.out_shape)
        self.layers.append(layer)
        self.producer[layer.output] = layer
        self.shapes[layer.output] = layer.out_shape
        return layer

    def digital(self, node: _Node, op: str, inputs: list[str], out_shape: Shape,
                check_shape: bool = True, **attrs: Any) -> Layer:
        layer = Layer(name=node.name, op=op, inputs=tuple(inputs), output=node.outputs[0],
                      in_shapes=tuple(self.shapes[i] for i in inputs),
                      out_shape=tuple(int(d) for d in out_shape), attrs=attrs)
        return self.emit(node, layer, check_shape)

    def make_alias(self, node: _Node, src: str) -> None:
        self.alias[node.outputs[0]] = src

    def _cross_check(self, node: _Node, out_shape: Shape) -> None:
        full = self.inferred.get(node.outputs[0])
        if full is None:
            return
        ok = len(full) == len(out_shape) + 1 and all(
            not isinstance(d, int) or d == s for d, s in zip(full[1:], out_shape))
        if not ok:
            raise self.error(node, f"computed output shape (N, {', '.join(map(str, out_shape))}) "
                                   f"disagrees with ONNX shape inference {full}")

    def foldable_producer(self, name: str) -> WeightLayer | None:
        """The weight layer writing ``name`` if this node's input is its only reader."""
        layer = self.producer.get(name)
        if isinstance(layer, WeightLayer) and self.n_readers.get(name, 0) == 1:
            return layer
        return None

    def rename_tensor(self, old: str, new: str) -> None:
        """Give tensor ``old`` the name ``new`` everywhere (layers, shapes, aliases)."""
        for layer in self.layers:
            if old in layer.inputs:
                layer.inputs = tuple(new if n == old else n for n in layer.inputs)
            if layer.output == old:
                layer.output = new
        if old in self.producer:
            self.producer[new] = self.producer.pop(old)
        self.shapes[new] = self.shapes.pop(old)
        for key, value in self.alias.items():
            if value == old:
                self.alias[key] = new
        self.alias.pop(new, None)

    # -- the walk -------------------------------------------------------------------------
    def run(self) -> Network:
        for node in self.nodes:
            if self._foldable(node):
                self._fold(node)
                continue
            self._dispatch(node)
        outputs = self._finish_outputs()
        layers = self._live_layers(outputs)
        metadata = {p.key: p.value for p in self.model.metadata_props}
        stem = Path(self.source).stem if self.source else ""
        return Network(name=stem or self.graph.name or "model", inputs=dict(self.inputs),
                       outputs=outputs, layers=layers, metadata=metadata, source=self.source,
                       batch=max(1, int(self.batch)))

    def _foldable(self, node: _Node) -> bool:
        if node.op == "Shape" and node.proto.domain in _DEFAULT_DOMAINS:
            return True  # the input's static shape is always known here
        return all(not name or self.is_const(name) for name in node.inputs)

    def _fold(self, node: _Node) -> None:
        if node.op == "Shape" and not self.is_const(node.inputs[0]):
            name, shape = self.act(node, 0)
            full = np.array((self.batch, *shape), dtype=np.int64)
            start, end = node.attr("start", 0), node.attr("end", None)
            self.consts[node.outputs[0]] = full[start:end]
            return
        feeds = {name: self.consts[self.resolve(name)] for name in node.inputs if name}
        try:
            from onnx.reference import ReferenceEvaluator

            # A one-node model, so that the evaluator picks the op's version for our opset.
            graph = helper.make_graph(
                [node.proto], "fold", [helper.make_empty_tensor_value_info(n) for n in feeds],
                [helper.make_empty_tensor_value_info(n) for n in node.outputs if n])
            one = helper.make_model(graph, opset_imports=list(self.model.opset_import))
            results = ReferenceEvaluator(one).run(None, feeds)
        except Exception as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise self.error(node, f"cannot fold this constant node ({reason})") from e
        for out, value in zip(node.outputs, results):
            if out:
                self.consts[out] = np.asarray(value)

    def _dispatch(self, node: _Node) -> None:
        if node.proto.domain not in _DEFAULT_DOMAINS:
            raise self.error(node, f"unsupported op '{node.proto.domain}.{node.op}' (domain "
                                   f"{node.proto.domain!r}); supported: "
                                   f"{', '.join(supported_ops())} (default domain)")
        versions = _REGISTRY.get(node.op)
        if not versions:
            raise self.error(node, f"unsupported op '{node.op}'; supported: "
                                   f"{', '.join(supported_ops())}")
        usable = [v for v in versions if v <= self.opset]
        if not usable:
            raise self.error(node, f"op '{node.op}' is supported from opset {min(versions)}")
        versions[max(usable)](self, node)

    def _finish_outputs(self) -> list[str]:
        """Graph output names, each now written by a layer (aliases renamed or copied)."""
        outputs = []
        graph_outputs = {o.name for o in self.graph.output}
        for value in self.graph.output:
            name = value.name
            if name in self.consts:
                raise self.file_error(f"graph output {name!r} is a constant; nothing computes it")
            src = self.resolve(name)
            if src != name:
                if src in self.producer and src not in graph_outputs:
                    self.rename_tensor(src, name)
                else:  # a graph input or another output: an explicit identity copy
                    shape = self.shapes[src]
                    layer = Layer(name=f"{name}_copy", op="reshape", inputs=(src,), output=name,
                                  in_shapes=(shape,), out_shape=shape, attrs={"shape": shape})
                    self.layers.append(layer)
                    self.producer[name] = layer
                    self.shapes[name] = shape
                self.alias.pop(name, None)
            outputs.append(name)
        return outputs

    def _live_layers(self, outputs: list[str]) -> list[Layer]:
        """The layers some graph output depends on, in order."""
        needed = set(outputs)
        live = []
        for layer in reversed(self.layers):
            if layer.output in needed:
                live.append(layer)
                needed.update(layer.inputs)
        return live[::-1]


# --------------------------------------------------------------------------- public entry


def load_onnx(model: str | os.PathLike[str] | onnx.ModelProto, source: str | None = None
              ) -> Network:
    """Read an ONNX model into a :class:`~reramsim.ir.Network`.

    Args:
        model: path of an ``.onnx`` file, or an already loaded ``onnx.ModelProto``.
        source: name used in messages and for ``Network.source`` (default: the path, or
            the graph name for a ModelProto); ``Network.name`` is its file stem.

    Returns:
        the network: weight layers with BatchNorm, Gemm alpha/beta and constant bias Adds
        folded in, digital ops, per-sample shapes, ``metadata`` = the model's
        ``metadata_props``.

    Raises:
        OnnxImportError: one line, ``"<file>: node '<name>' (<OpType>, opset <N>): <why>"``
            for a node it cannot map (unsupported op, non-constant weights, an attribute
            that moves the batch axis...), ``"<file>: <why>"`` for an unreadable or
            malformed file.
    """
    proto, src = _read_model(model, source)
    return _Importer(proto, src).run()


# --------------------------------------------------------------------------- helpers


def _pair(node: _Node, imp: _Importer, key: str, default: int) -> tuple[int, int]:
    value = node.attr(key)
    if value is None:
        return default, default
    if len(value) != 2:
        raise imp.error(node, f"{key}={list(value)}: expected 2 values (y, x)")
    return int(value[0]), int(value[1])


def _resolve_pads(imp: _Importer, node: _Node, in_hw: Shape, kernel: tuple[int, int],
                  stride: tuple[int, int], dilation: tuple[int, int]
                  ) -> tuple[int, int, int, int]:
    """Explicit ``(top, left, bottom, right)`` pads from ``pads`` or ``auto_pad``."""
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pads = node.attr("pads", [0, 0, 0, 0])
        if len(pads) != 4:
            raise imp.error(node, f"pads={list(pads)}: expected 4 values "
                                  "(top, left, bottom, right)")
        if min(pads) < 0:
            raise imp.error(node, f"pads={list(pads)}: negative pads are not supported")
        return int(pads[0]), int(pads[1]), int(pads[2]), int(pads[3])
    if auto == "VALID":
        return 0, 0, 0, 0
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise imp.error(node, f"auto_pad={auto!r}: expected NOTSET, SAME_UPPER, SAME_LOWER "
                              "or VALID")
    begin, end = [], []
    for size, k, s, d in zip(in_hw, kernel, stride, dilation):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, large = total // 2, total - total // 2
        begin.append(small if auto == "SAME_UPPER" else large)
        end.append(large if auto == "SAME_UPPER" else small)
    return begin[0], begin[1], end[0], end[1]


def _require_rank(imp: _Importer, node: _Node, shape: Shape, rank: int, layout: str) -> None:
    if len(shape) != rank:
        raise imp.error(node, f"expected a {rank + 1}-D {layout} input, got (N, "
                              f"{', '.join(map(str, shape))})")


def _norm_axis(imp: _Importer, node: _Node, axis: int, rank: int) -> int:
    """An ONNX axis over the full rank (batch included), made non-negative."""
    if not -rank <= axis < rank:
        raise imp.error(node, f"axis={axis} is out of range for a {rank}-D tensor")
    return axis + rank if axis < 0 else axis


def _per_channel(imp: _Importer, node: _Node, value: np.ndarray, shape: Shape,
                 legacy_axis: int | None = None) -> np.ndarray:
    """A constant that broadcasts to ``(1, *shape)`` and is constant per channel, as ``(C,)``."""
    full = (1, *shape)
    if legacy_axis is not None:  # opset < 7 broadcast=1 with axis: align at that axis
        tail = len(full) - legacy_axis - value.ndim
        if tail < 0:
            raise imp.error(node, f"constant of shape {value.shape} does not fit at axis "
                                  f"{legacy_axis} of {full}")
        value = value.reshape((1,) * legacy_axis + value.shape + (1,) * tail)
    try:
        if np.broadcast_shapes(value.shape, full) != full:
            raise ValueError
        b = np.broadcast_to(value, full)[0].reshape(shape[0], -1)
    except ValueError:
        raise imp.error(node, f"constant of shape {value.shape} does not broadcast to the "
                              f"activation (N, {', '.join(map(str, shape))})") from None
    if not np.all(b == b[:, :1]):
        raise imp.error(node, f"constant of shape {value.shape} is not constant per channel; "
                              "only a per-channel bias can be folded")
    return b[:, 0].astype(np.float64)


def _fold_bias(imp: _Importer, node: _Node, act_raw: str, const_name: str,
               legacy_axis: int | None) -> bool:
    """Fold ``act + const`` into the bias of the weight layer writing ``act``; False if none."""
    layer = imp.foldable_producer(act_raw)
    if layer is None:
        return False
    value = imp.consts[imp.resolve(const_name)]
    vec = _per_channel(imp, node, value, layer.out_shape, legacy_axis)
    bias = layer.bias.astype(np.float64) if layer.bias is not None else 0.0
    layer.bias = (bias + vec).astype(np.float32)
    imp.rename_tensor(act_raw, node.outputs[0])
    return True


# --------------------------------------------------------------------------- weight ops


@register_op("Conv")
def _conv(imp: _Importer, node: _Node) -> None:
    x, xs = imp.act(node, 0)
    _require_rank(imp, node, xs, 3, "(N, C, H, W)")
    weight = imp.const(node, 1, "weight W")
    bias = imp.opt_const(node, 2, "bias B")
    groups = int(node.attr("group", 1))
    if weight.ndim != 4:
        raise imp.error(node, f"weight of shape {weight.shape}: expected (Cout, Cin/group, kh, kw)")
    cout, cin_g, kh, kw = weight.shape
    if groups < 1 or xs[0] != cin_g * groups or cout % groups:
        raise imp.error(node, f"weight {weight.shape} with group={groups} does not fit "
                              f"{xs[0]} input channels")
    kernel_attr = node.attr("kernel_shape")
    if kernel_attr is not None and tuple(kernel_attr) != (kh, kw):
        raise imp.error(node, f"kernel_shape={list(kernel_attr)} disagrees with weight "
                              f"{weight.shape}")
    if bias is not None and bias.size != cout:
        raise imp.error(node, f"bias of shape {bias.shape}: expected ({cout},)")
    stride, dilation = _pair(node, imp, "strides", 1), _pair(node, imp, "dilations", 1)
    pads = _resolve_pads(imp, node, xs[1:], (kh, kw), stride, dilation)
    out_hw = tuple(conv_output_size(xs[1 + a], (kh, kw)[a], stride[a], pads[a], pads[a + 2],
                                    dilation[a]) for a in (0, 1))
    if min(out_hw) < 1:
        raise imp.error(node, f"the kernel does not fit the (padded) input {xs}")
    imp.emit(node, WeightLayer(
        name=node.name, op="conv", inputs=(x,), output=node.outputs[0], in_shapes=(xs,),
        out_shape=(cout, *out_hw), weight=weight.astype(np.float32),
        bias=None if bias is None else bias.reshape(cout).astype(np.float32), groups=groups,
        kernel=(kh, kw), stride=stride, pads=pads, dilation=dilation))


def _emit_fc(imp: _Importer, node: _Node, x: str, xs: Shape, weight: np.ndarray,
             bias: np.ndarray | None) -> None:
    """An fc layer ``y = x @ weight.T + bias`` with ``weight`` (Cout, Cin) in float64."""
    imp.emit(node, WeightLayer(
        name=node.name, op="fc", inputs=(x,), output=node.outputs[0], in_shapes=(xs,),
        out_shape=(weight.shape[0],), weight=weight.astype(np.float32),
        bias=None if bias is None else bias.astype(np.float32)))


def _weight_operand(imp: _Importer, node: _Node) -> tuple[str, Shape, np.ndarray]:
    """Activation A (input 0) and constant weight B (input 1) of Gemm / MatMul."""
    if imp.is_const(node.inputs[0]) and not imp.is_const(node.inputs[1]):
        raise imp.error(node, "the activation must be input A (0) and the weight input B (1) "
                              "a constant; here A is the constant")
    weight = imp.const(node, 1, "weight B")
    x, xs = imp.act(node, 0, "activation A")
    if len(xs) != 1:
        raise imp.error(node, "expected a 2-D (N, K) activation, got "
                              f"(N, {', '.join(map(str, xs))})")
    if weight.ndim != 2:
        raise imp.error(node, f"weight B of shape {weight.shape}: expected a 2-D matrix")
    return x, xs, weight


@register_op("Gemm")
def _gemm(imp: _Importer, node: _Node) -> None:
    x, xs, b = _weight_operand(imp, node)
    if node.attr("transA", 0):
        raise imp.error(node, "transA=1 would transpose the batch axis; only transA=0 is supported")
    b = b.T if node.attr("transB", 0) else b  # (K, M)
    if b.shape[0] != xs[0]:
        raise imp.error(node, f"weight B {b.shape} (after transB) does not fit K={xs[0]}")
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    weight = alpha * b.T.astype(np.float64)
    m = weight.shape[0]
    bias = None
    c = imp.opt_const(node, 2, "bias C")
    if c is not None:
        vec = c[0] if c.ndim == 2 and c.shape[0] == 1 else c
        try:
            if vec.ndim > 1:
                raise ValueError
            bias = beta * np.broadcast_to(vec, (m,)).astype(np.float64)
        except ValueError:
            raise imp.error(node, f"bias C of shape {c.shape} does not broadcast to ({m},); "
                                  "a per-sample bias is not supported") from None
    _emit_fc(imp, node, x, xs, weight, bias)


@register_op("MatMul")
def _matmul(imp: _Importer, node: _Node) -> None:
    x, xs, b = _weight_operand(imp, node)
    if b.shape[0] != xs[0]:
        raise imp.error(node, f"weight B {b.shape} does not fit K={xs[0]}")
    _emit_fc(imp, node, x, xs, b.T.astype(np.float64), None)


@register_op("BatchNormalization")
def _batchnorm(imp: _Importer, node: _Node) -> None:
    x, xs = imp.act(node, 0)
    if not xs:
        raise imp.error(node, "expected an (N, C, ...) input")
    if node.attr("spatial", 1) == 0:
        raise imp.error(node, "spatial=0 (per-activation statistics) is not supported")
    if node.attr("training_mode", 0):
        raise imp.error(node, "training_mode=1 is not supported; export the model in eval mode")
    imp.require_unused_outputs(node, 1)
    names = ("scale", "B", "mean", "var")
    scale, shift, mean, var = (imp.const(node, i + 1, names[i]).astype(np.float64)
                               for i in range(4))
    channels = xs[0]
    for n, v in zip(names, (scale, shift, mean, var)):
        if v.size != channels:
            raise imp.error(node, f"{n} has {v.size} values; expected one per channel ({channels})")
    s = scale.reshape(-1) / np.sqrt(var.reshape(-1) + float(node.attr("epsilon", 1e-5)))
    t = shift.reshape(-1) - mean.reshape(-1) * s
    layer = imp.foldable_producer(node.inputs[0])
    if layer is None:
        imp.digital(node, "affine", [x], xs, scale=s.astype(np.float32), shift=t.astype(np.float32))
        return
    w = layer.weight.astype(np.float64)
    layer.weight = (w * s.reshape((-1,) + (1,) * (w.ndim - 1))).astype(np.float32)
    bias = layer.bias.astype(np.float64) if layer.bias is not None else 0.0
    layer.bias = (bias * s + t).astype(np.float32)
    imp.rename_tensor(node.inputs[0], node.outputs[0])


# --------------------------------------------------------------------------- element-wise


def _unary(op: str, **attrs: Any) -> Handler:
    def handle(imp: _Importer, node: _Node) -> None:
        x, xs = imp.act(node, 0)
        values = {k: float(node.attr(k, default)) for k, default in attrs.items()}
        imp.digital(node, op, [x], xs, **values)

    handle.__name__ = f"_{op}"
    return handle


register_op("Relu")(_unary("relu"))
register_op("Sigmoid")(_unary("sigmoid"))
register_op("LeakyRelu")(_unary("leaky_relu", alpha=0.01))


@register_op("Clip")
def _clip_attrs(imp: _Importer, node: _Node) -> None:
    """Opset < 11: bounds are the ``min``/``max`` attributes (missing = unbounded)."""
    x, xs = imp.act(node, 0)
    imp.digital(node, "clip", [x], xs, min=float(node.attr("min", -math.inf)),
                max=float(node.attr("max", math.inf)))


@register_op("Clip", since=11)
def _clip_inputs(imp: _Importer, node: _Node) -> None:
    """Opset >= 11: bounds are optional constant inputs 1 and 2 (missing = unbounded)."""
    x, xs = imp.act(node, 0)
    lo, hi = imp.opt_const(node, 1, "min"), imp.opt_const(node, 2, "max")
    imp.digital(node, "clip", [x], xs, min=-math.inf if lo is None else float(lo.reshape(-1)[0]),
                max=math.inf if hi is None else float(hi.reshape(-1)[0]))


def _add_like(imp: _Importer, node: _Node, legacy: bool) -> None:
    """Add / Sum: activations of one shape are summed; a constant is folded into a bias."""
    names = [n for n in node.inputs if n]
    consts = [n for n in names if imp.is_const(n)]
    acts = [n for n in names if not imp.is_const(n)]
    if consts:
        if len(consts) != 1 or len(acts) != 1:
            raise imp.error(node, "a constant operand is only supported as a bias added to one "
                                  "activation")
        axis = None
        if legacy and node.attr("broadcast", 0):
            axis = node.attr("axis")
            if axis is not None:
                axis = _norm_axis(imp, node, int(axis), 1 + len(imp.shapes[imp.resolve(acts[0])]))
        if not _fold_bias(imp, node, acts[0], consts[0], axis):
            raise imp.error(node, f"constant operand '{consts[0]}' can only be folded into the "
                                  "bias of a Conv/Gemm/MatMul whose output feeds only this node")
        return
    shapes = [imp.shapes[imp.resolve(n)] for n in acts]
    if any(s != shapes[0] for s in shapes):
        raise imp.error(node, f"inputs have per-sample shapes {shapes}; broadcasting between "
                              "activations is not supported")
    if len(acts) == 1:
        imp.make_alias(node, imp.resolve(acts[0]))
        return
    imp.digital(node, "add", [imp.resolve(n) for n in acts], shapes[0])


@register_op("Add")
def _add(imp: _Importer, node: _Node) -> None:
    _add_like(imp, node, legacy=imp.opset < 7)


@register_op("Sum")
def _sum(imp: _Importer, node: _Node) -> None:
    _add_like(imp, node, legacy=False)


# --------------------------------------------------------------------------- pooling


def _pool(imp: _Importer, node: _Node, op: str) -> None:
    x, xs = imp.act(node, 0)
    _require_rank(imp, node, xs, 3, "(N, C, H, W)")
    imp.require_unused_outputs(node, 1)
    kernel_attr = node.attr("kernel_shape")
    if kernel_attr is None or len(kernel_attr) != 2:
        raise imp.error(node, "kernel_shape must give 2 values (y, x)")
    kernel = (int(kernel_attr[0]), int(kernel_attr[1]))
    stride, dilation = _pair(node, imp, "strides", 1), _pair(node, imp, "dilations", 1)
    if op == "avgpool" and dilation != (1, 1):
        raise imp.error(node, f"dilations={list(dilation)} is not supported for AveragePool")
    ceil_mode = bool(node.attr("ceil_mode", 0))
    pads = _resolve_pads(imp, node, xs[1:], kernel, stride, dilation)
    out_hw = tuple(pool_output_size(xs[1 + a], kernel[a], stride[a], pads[a], pads[a + 2],
                                    dilation[a], ceil_mode) for a in (0, 1))
    if min(out_hw) < 1:
        raise imp.error(node, f"the kernel does not fit the (padded) input {xs}")
    attrs: dict[str, Any] = {"kernel": kernel, "stride": stride, "pads": pads,
                             "ceil_mode": ceil_mode}
    if op == "maxpool":
        attrs["dilation"] = dilation
    else:
        attrs["count_include_pad"] = bool(node.attr("count_include_pad", 0))
    # ONNX shape inference keeps ceil_mode windows that start in the end padding,
    # onnxruntime (like PyTorch) drops them: no cross-check there.
    imp.digital(node, op, [x], (xs[0], *out_hw), check_shape=not ceil_mode, **attrs)


@register_op("MaxPool")
def _maxpool(imp: _Importer, node: _Node) -> None:
    _pool(imp, node, "maxpool")


@register_op("AveragePool")
def _avgpool(imp: _Importer, node: _Node) -> None:
    _pool(imp, node, "avgpool")


@register_op("GlobalAveragePool")
def _global_avgpool(imp: _Importer, node: _Node) -> None:
    x, xs = imp.act(node, 0)
    if len(xs) < 2:
        raise imp.error(node, "expected an (N, C, spatial...) input")
    imp.digital(node, "global_avgpool", [x], (xs[0],) + (1,) * (len(xs) - 1))


@register_op("LRN")
def _lrn(imp: _Importer, node: _Node) -> None:
    x, xs = imp.act(node, 0)
    if node.attr("size") is None:
        raise imp.error(node, "attribute 'size' is required")
    imp.digital(node, "lrn", [x], xs, size=int(node.attr("size")),
                alpha=float(node.attr("alpha", 1e-4)), beta=float(node.attr("beta", 0.75)),
                bias=float(node.attr("bias", 1.0)))


# --------------------------------------------------------------------------- layout ops


@register_op("Concat")
def _concat(imp: _Importer, node: _Node) -> None:
    acts = [imp.act(node, i) for i in range(len(node.inputs))]
    rank = 1 + len(acts[0][1])
    axis = _norm_axis(imp, node, int(node.attr("axis", 1)), rank)
    if axis == 0:
        raise imp.error(node, "axis=0 concatenates along the batch; expected a per-sample axis")
    a = axis - 1
    first = acts[0][1]
    for _, s in acts[1:]:
        if len(s) != len(first) or s[:a] + s[a + 1:] != first[:a] + first[a + 1:]:
            raise imp.error(node, f"input shapes {[s for _, s in acts]} differ outside axis {axis}")
    out = list(first)
    out[a] = sum(s[a] for _, s in acts)
    imp.digital(node, "concat", [n for n, _ in acts], tuple(out), axis=a)


@register_op("Flatten")
def _flatten(imp: _Importer, node: _Node) -> None:
    x, xs = imp.act(node, 0)
    axis = _norm_axis(imp, node, int(node.attr("axis", 1)), 1 + len(xs)) if xs else 1
    if axis != 1:
        raise imp.error(node, f"axis={node.attr('axis')}: only axis=1 (keep the batch dim, "
                              "flatten the rest) is supported")
    imp.digital(node, "flatten", [x], (int(np.prod(xs)),))


def _reshape(imp: _Importer, node: _Node, target: list[int]) -> None:
    x, xs = imp.act(node, 0)
    full_in = (imp.batch, *xs)
    allowzero = bool(node.attr("allowzero", 0))
    out = []
    for i, d in enumerate(int(v) for v in target):
        if d == 0 and not allowzero:
            if i >= len(full_in):
                raise imp.error(node, f"shape {list(target)}: 0 at dim {i} has no input dim "
                                      "to copy")
            d = full_in[i]
        out.append(d)
    total = int(np.prod(full_in))
    if out.count(-1) > 1 or any(d < -1 for d in out):
        raise imp.error(node, f"shape {list(target)}: at most one -1 and no other negative dims")
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1]))
        if known == 0 or total % known:
            raise imp.error(node, f"shape {list(target)} does not fit {total} values")
        out[out.index(-1)] = total // known
    if int(np.prod(out)) != total:
        raise imp.error(node, f"shape {list(target)} does not fit input (N={imp.batch}, "
                              f"{', '.join(map(str, xs))})")
    if not out or out[0] != imp.batch:
        raise imp.error(node, f"shape {list(target)} resolves to {out}: the batch dim must stay "
                              f"first (dim 0 = batch = {imp.batch})")
    imp.digital(node, "reshape", [x], tuple(out[1:]), shape=tuple(out[1:]))


@register_op("Reshape")
def _reshape_attr(imp: _Importer, node: _Node) -> None:
    """Opset < 5: the target shape is the ``shape`` attribute."""
    target = node.attr("shape")
    if target is None:
        raise imp.error(node, "attribute 'shape' is required before opset 5")
    _reshape(imp, node, list(target))


@register_op("Reshape", since=5)
def _reshape_input(imp: _Importer, node: _Node) -> None:
    """Opset >= 5: the target shape is constant input 1."""
    _reshape(imp, node, [int(v) for v in imp.const(node, 1, "shape").reshape(-1)])


@register_op("Transpose")
def _transpose(imp: _Importer, node: _Node) -> None:
    x, xs = imp.act(node, 0)
    rank = 1 + len(xs)
    perm = [int(p) for p in node.attr("perm", list(range(rank))[::-1])]
    if sorted(perm) != list(range(rank)):
        raise imp.error(node, f"perm={perm} is not a permutation of {rank} axes")
    if perm[0] != 0:
        raise imp.error(node, f"perm={perm} moves the batch axis; perm[0] must be 0")
    sample_perm = tuple(p - 1 for p in perm[1:])
    imp.digital(node, "transpose", [x], tuple(xs[p] for p in sample_perm), perm=sample_perm)


@register_op("Softmax")
def _softmax_coerced(imp: _Importer, node: _Node) -> None:
    """Opset < 13: softmax over the input coerced to 2-D at ``axis`` (default 1)."""
    x, xs = imp.act(node, 0)
    rank = 1 + len(xs)
    axis = _norm_axis(imp, node, int(node.attr("axis", 1)), rank)
    if axis == 0:
        raise imp.error(node, "axis=0 normalises across the batch; expected axis >= 1")
    if int(np.prod(xs[axis:])) != 1:
        raise imp.error(node, f"axis={axis} on (N, {', '.join(map(str, xs))}) normalises over "
                              "several non-unit axes at once; only a single axis is supported")
    imp.digital(node, "softmax", [x], xs, axis=axis - 1)


@register_op("Softmax", since=13)
def _softmax_axis(imp: _Importer, node: _Node) -> None:
    """Opset >= 13: softmax along one ``axis`` (default -1)."""
    x, xs = imp.act(node, 0)
    axis = _norm_axis(imp, node, int(node.attr("axis", -1)), 1 + len(xs))
    if axis == 0:
        raise imp.error(node, "axis=0 normalises across the batch; expected axis >= 1")
    imp.digital(node, "softmax", [x], xs, axis=axis - 1)


@register_op("Dropout")
def _dropout(imp: _Importer, node: _Node) -> None:
    """Inference: the identity (``ratio``/``is_test`` attributes of old opsets are ignored)."""
    imp.require_unused_outputs(node, 1)
    if len(node.inputs) > 2 and node.inputs[2]:
        mode = imp.const(node, 2, "training_mode")
        if bool(mode.reshape(-1)[0]):
            raise imp.error(node, "training_mode=True is not supported; export in eval mode")
    x, _ = imp.act(node, 0)
    imp.make_alias(node, x)


@register_op("Identity")
def _identity(imp: _Importer, node: _Node) -> None:
    x, _ = imp.act(node, 0)
    imp.make_alias(node, x)
