"""Read an ONNX file into the IR (:mod:`reramsim.ir`).

:func:`load_onnx` does, in order:

1. load and sanity-check the model (one-line :class:`OnnxImportError` naming the file
   for anything malformed); ``input_shapes`` (``--input-shape``) fix dynamic input dims;
2. run ONNX shape inference (used to cross-check the shapes computed here);
3. wrap the graph once: unique node names (empty or repeated names become
   ``<OpType>_<index>``), the initializer index, a topological order;
4. check that every op that will not be folded has a converter (one error listing
   every unsupported op with one node of each);
5. walk the nodes: a node whose inputs are all constant (initializers, Constant
   nodes, other folded nodes, or ``Shape`` of a tensor whose shape is known) is
   evaluated here (:mod:`reramsim.const_fold` directly, else ONNX's reference
   evaluator); any other node is dispatched to the converter registered for its op
   and the model's opset in :data:`reramsim.ops.ONNX_OPS` (each op's converter lives
   with its descriptor in :mod:`reramsim.ops`), which emits IR layers through
   :meth:`Importer.digital` / :meth:`Importer.emit`, folds itself into the previous
   layer (BatchNorm, constant Add or Mul), or aliases its input (Dropout, Identity);
   a constant is released after its last reader;
6. name the graph outputs, drop layers no output depends on.

Shapes in the IR are per sample: dim 0 of every activation is the batch, dynamic
or not. Where an op's attribute or target shape includes the batch dim (Reshape,
Shape) the batch is the static dim 0 of the graph inputs, or 1 when it is
dynamic. See ``docs/onnx_import.md`` for the supported ops and the rules.
"""
from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from reramsim import ReramsimError, const_fold
from reramsim.io_checks import InputError, check_input_file
from reramsim.ir import Layer, Network, WeightLayer
from reramsim.onnx_check import MAX_ELEMENTS, check_values, validate_model
from reramsim.onnx_check import check_shape as bound_shape
from reramsim.ops import ONNX_OPS, OpError, register_op, supported_ops

__all__ = ["OnnxImportError", "load_onnx", "parse_input_shapes", "register_op", "supported_ops"]


class OnnxImportError(ReramsimError):
    """The ONNX model cannot be read or mapped onto the IR; the message is one line."""


Shape = tuple[int, ...]
_DEFAULT_DOMAINS = ("", "ai.onnx")
_SMALL = 4096  # initializers up to this many elements go to shape inference with their data


# --------------------------------------------------------------------------- graph wrapper


@dataclass
class Node:
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
    try:
        check_input_file(model)  # a folder, FIFO, device or empty path is named as such
    except InputError as err:
        raise OnnxImportError(str(err)) from None
    try:
        proto = onnx.load(str(path))
    except Exception as e:  # protobuf DecodeError, external-data errors, OSError...
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise OnnxImportError(f"{src}: not a readable ONNX model ({reason})") from e
    return proto, src


class Importer:
    """State of one import: constants, activation shapes, aliases and the layers so far.

    A converter (``convert(importer, node)``, :func:`reramsim.ops.register_op`) reads
    its inputs with :meth:`act` (an activation: name, per-sample shape), :meth:`const`
    / :meth:`opt_const` / :meth:`is_const` (constants), ``node.attr(key, default)``,
    ``opset`` and ``batch``; it writes with :meth:`digital` (one digital layer),
    :meth:`emit` (a built layer), :meth:`make_alias`, or folds into
    :meth:`foldable_producer` and :meth:`fold_into`; it refuses with
    ``raise importer.error(node, why)``.
    """

    def __init__(self, model: onnx.ModelProto, source: str,
                 input_shapes: dict[str, tuple[int, ...]] | None = None,
                 owned: bool = False) -> None:
        self.model = model
        self.given_shapes = dict(input_shapes or {})
        self.source = source
        self.graph = model.graph
        self._check_model()
        validate_model(self.model, self.source)  # sizes checked before any tensor is decoded
        self.opset = self._default_opset()
        self.consts: dict[str, np.ndarray] = {}
        for init in self.graph.initializer:
            try:
                self.consts[init.name] = numpy_helper.to_array(init)
            except Exception as e:
                raise self.file_error(f"initializer {init.name!r} cannot be read "
                                      f"({str(e).splitlines()[0] if str(e) else e!r})") from e
            check_values(self.file_error, f"initializer {init.name!r}", self.consts[init.name])
            if owned and init.HasField("raw_data") and int(np.prod(init.dims)) > _SMALL:
                init.ClearField("raw_data")  # the array above is now the only copy
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

    def error(self, node: Node, msg: str) -> OnnxImportError:
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
        declared = [v.name for v in self.graph.input if v.name not in self.consts]
        unknown = sorted(set(self.given_shapes) - set(declared))
        if unknown:
            raise self.file_error(f"--input-shape names {unknown}, which are not graph inputs; "
                                  f"the inputs are {declared}")
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
            if value.name in self.given_shapes:
                full = self._given_shape(value.name, full)
            if not full:
                raise self.file_error(f"graph input {value.name!r} has no shape; expected "
                                      "(batch, ...) with static dims after the batch (give it "
                                      "with --input-shape)")
            if any(not isinstance(d, int) for d in full[1:]):
                raise self.file_error(f"graph input {value.name!r} has shape {full}; only the "
                                      "batch dim (dim 0) may be dynamic (fix the others with "
                                      "--input-shape NAME=1x3x224x224)")
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

    def _given_shape(self, name: str, declared: tuple[int | str | None, ...] | None
                     ) -> tuple[int, ...]:
        """The shape given for input ``name``, checked against its declared static dims."""
        given = self.given_shapes[name]
        if declared is not None:
            if len(declared) != len(given):
                raise self.file_error(f"--input-shape {name}={'x'.join(map(str, given))} has "
                                      f"{len(given)} dims; the input is declared with "
                                      f"{len(declared)}: {declared}")
            clash = [i for i, (d, g) in enumerate(zip(declared, given))
                     if isinstance(d, int) and d > 0 and d != g]
            if clash:
                raise self.file_error(f"--input-shape {name}={'x'.join(map(str, given))} "
                                      f"disagrees with the declared static shape {declared} "
                                      f"at dim {clash[0]}")
        return given

    def _sorted_nodes(self) -> list[Node]:
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
            nodes.append(Node(proto, name, i))
        producer = {out: n for n in nodes for out in n.outputs if out}
        known = set(self.consts) | set(self.inputs) | {""}
        waiting: dict[int, int] = {}
        readers: dict[str, list[Node]] = {}
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
        big = [i for i in graph.initializer if int(np.prod(i.dims)) > _SMALL]
        declared = {v.name for v in graph.input}
        inputs = [helper.make_tensor_value_info(v.name, v.type.tensor_type.elem_type,
                                                (self.batch, *self.inputs[v.name]))
                  if v.name in self.inputs else v for v in graph.input]
        slim = helper.make_model(
            helper.make_graph(
                graph.node, graph.name,
                inputs + [helper.make_tensor_value_info(i.name, i.data_type, i.dims)
                          for i in big if i.name not in declared],
                graph.output, [i for i in graph.initializer if int(np.prod(i.dims)) <= _SMALL],
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

    def const(self, node: Node, i: int, what: str) -> np.ndarray:
        """Input ``i`` as a constant array; raises if it is missing or computed at run time."""
        if i >= len(node.inputs) or not node.inputs[i]:
            raise self.error(node, f"{what} (input {i}) is missing")
        name = self.resolve(node.inputs[i])
        if name not in self.consts:
            raise self.error(node, f"{what} (input {i}, '{node.inputs[i]}') must be a constant "
                                   "(initializer or constant subgraph); it is computed at run time")
        check_values(lambda msg: self.error(node, msg), f"{what} (input {i})", self.consts[name])
        return self.consts[name]

    def opt_const(self, node: Node, i: int, what: str) -> np.ndarray | None:
        if i >= len(node.inputs) or not node.inputs[i]:
            return None
        return self.const(node, i, what)

    def act(self, node: Node, i: int, what: str = "input") -> tuple[str, Shape]:
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

    def require_unused_outputs(self, node: Node, first: int) -> None:
        for out in node.outputs[first:]:
            if out and self.n_readers.get(out, 0):
                raise self.error(node, f"output {out!r} is used, but only output 0 is supported")

    # -- emitting -------------------------------------------------------------------------
    def emit(self, node: Node, layer: Layer, check_shape: bool = True) -> Layer:
        bound_shape(lambda msg: self.error(node, msg), layer.output, layer.out_shape)
        """Add ``layer``; a weight layer records its node's index (``attrs["onnx_node"]``)."""
        if isinstance(layer, WeightLayer):
            layer.attrs["onnx_node"] = node.index
        if check_shape:
            self._cross_check(layer.output, node, layer.out_shape)
        self.layers.append(layer)
        self.producer[layer.output] = layer
        self.shapes[layer.output] = layer.out_shape
        return layer

    def digital(self, node: Node, op: str, inputs: list[str], out_shape: Shape,
                check_shape: bool = True, output: str | None = None, name: str | None = None,
                **attrs: Any) -> Layer:
        """Emit digital layer ``op`` writing ``output`` (default: the node's first output).

        A node that becomes several layers names all but one of them (``name``; default:
        the node's name) and gives each its own ``output``.
        """
        layer = Layer(name=name or node.name, op=op, inputs=tuple(inputs),
                      output=output or node.outputs[0],
                      in_shapes=tuple(self.shapes[i] for i in inputs),
                      out_shape=tuple(int(d) for d in out_shape), attrs=attrs)
        return self.emit(node, layer, check_shape)

    def make_alias(self, node: Node, src: str) -> None:
        self.alias[node.outputs[0]] = src

    def _cross_check(self, output: str, node: Node, out_shape: Shape) -> None:
        full = self.inferred.get(output)
        if full is None:
            return
        ok = len(full) == len(out_shape) + 1 and all(
            not isinstance(d, int) or d == s for d, s in zip(full[1:], out_shape))
        if not ok:
            raise self.error(node, f"computed output shape (N, {', '.join(map(str, out_shape))}) "
                                   f"disagrees with ONNX shape inference {full}")

    def fold_into(self, layer: WeightLayer, node: Node) -> None:
        """Record that ``node`` was folded into ``layer`` (``attrs["folded"]``, node indices),
        and let the node's output name the layer's output."""
        layer.attrs.setdefault("folded", []).append(node.index)
        self.rename_tensor(layer.output, node.outputs[0])

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
        self._check_supported()
        for node in self.nodes:
            if self._foldable(node):
                self._fold(node)
            else:
                self._dispatch(node)
            self._release_consts(node)
        outputs = self._finish_outputs()
        layers = self._live_layers(outputs)
        metadata = {p.key: p.value for p in self.model.metadata_props}
        stem = Path(self.source).stem if self.source else ""
        return Network(name=stem or self.graph.name or "model", inputs=dict(self.inputs),
                       outputs=outputs, layers=layers, metadata=metadata, source=self.source,
                       batch=max(1, int(self.batch)))

    def _check_supported(self) -> None:
        """One error naming every op no converter handles (one node of each), if any.

        A node is checked unless it will be folded: constness is propagated through the
        graph first (inputs all constant, or ``Shape``), as the walk will find it.
        """
        const = set(self.consts)
        unsupported: dict[str, tuple[Node, str]] = {}  # op -> (first node, why)
        for node in self.nodes:
            folds = (node.op == "Shape" and node.proto.domain in _DEFAULT_DOMAINS) or all(
                not n or n in const for n in node.inputs)
            if folds:
                const.update(node.outputs)
                continue
            if node.proto.domain not in _DEFAULT_DOMAINS:
                op = f"{node.proto.domain}.{node.op}"
                unsupported.setdefault(op, (node, f"unsupported op '{op}' (domain "
                                                  f"{node.proto.domain!r})"))
                continue
            try:
                ONNX_OPS.get(node.op, self.opset)
            except OpError as e:
                unsupported.setdefault(node.op, (node, str(e).split(";")[0]))
        supported = f"supported: {', '.join(supported_ops())} (default domain)"
        if len(unsupported) == 1:
            node, why = next(iter(unsupported.values()))
            raise self.error(node, f"{why}; {supported}")
        if unsupported:
            listed = ", ".join(f"'{op}' (node '{node.name}')"
                               for op, (node, _) in unsupported.items())
            raise self.file_error(f"unsupported ops at opset {self.opset}: {listed}; {supported}")

    def _release_consts(self, node: Node) -> None:
        """Drop constants no later node reads, so a converted weight is not held twice."""
        for name in node.inputs:
            if not name:
                continue
            left = self.n_readers.get(name, 0) - 1
            self.n_readers[name] = left
            if left <= 0 and name in self.consts:
                del self.consts[name]

    def _foldable(self, node: Node) -> bool:
        if node.op == "Shape" and node.proto.domain in _DEFAULT_DOMAINS:
            return True  # the input's static shape is always known here
        return all(not name or self.is_const(name) for name in node.inputs)

    def _fold(self, node: Node) -> None:
        if node.op == "Shape" and not self.is_const(node.inputs[0]):
            name, shape = self.act(node, 0)
            full = np.array((self.batch, *shape), dtype=np.int64)
            start, end = node.attr("start", 0), node.attr("end", None)
            self.consts[node.outputs[0]] = full[start:end]
            return
        for out in node.outputs:  # bound what folding would allocate, where inference knows
            full = self.inferred.get(out)
            if full and all(isinstance(d, int) for d in full):
                size = int(np.prod([max(d, 0) for d in full], dtype=object))
                if size > MAX_ELEMENTS:
                    raise self.error(node, f"constant {out!r} of shape {full} would hold "
                                           f"{size:,} elements; at most {MAX_ELEMENTS:,} "
                                           "are accepted")
        values = [self.consts[self.resolve(n)] if n else None for n in node.inputs]
        results = None
        if node.proto.domain in _DEFAULT_DOMAINS:
            try:
                results = const_fold.fold(node.op, node.attr, values, self.opset)
            except (ValueError, IndexError, TypeError):
                results = None  # let the reference evaluator give its own verdict
        if results is None:
            results = self._fold_reference(node)
        for out, value in zip(node.outputs, results):
            if out:
                self.consts[out] = np.asarray(value)

    def _fold_reference(self, node: Node) -> list[np.ndarray]:
        """Outputs of a constant node from ONNX's reference evaluator (any op, slow)."""
        feeds = {name: self.consts[self.resolve(name)] for name in node.inputs if name}
        try:
            from onnx.reference import ReferenceEvaluator

            # A one-node model, so that the evaluator picks the op's version for our opset.
            graph = helper.make_graph(
                [node.proto], "fold", [helper.make_empty_tensor_value_info(n) for n in feeds],
                [helper.make_empty_tensor_value_info(n) for n in node.outputs if n])
            one = helper.make_model(graph, opset_imports=list(self.model.opset_import))
            return list(ReferenceEvaluator(one).run(None, feeds))
        except Exception as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise self.error(node, f"cannot fold this constant node ({reason})") from e

    def _dispatch(self, node: Node) -> None:
        converter = ONNX_OPS.get(node.op, self.opset)  # _check_supported vouched for it
        converter.convert(self, node)

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


def parse_input_shapes(specs: list[str] | None, where: str = "--input-shape"
                       ) -> dict[str, tuple[int, ...]] | tuple[int, ...] | None:
    """``["1x3x224x224"]`` or ``["NAME=1x3x224x224", ...]`` as shapes (None for no spec).

    Raises:
        OnnxImportError: a spec that is not ``[NAME=]D0xD1x...`` with positive dims, or an
            unnamed spec next to others.
    """
    if not specs:
        return None
    named: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, _, dims = spec.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.lower().split("x"))
            if not shape or min(shape) < 1:
                raise ValueError
        except ValueError:
            raise OnnxImportError(f"{where} {spec!r}: expected [NAME=]D0xD1x... with positive "
                                  "integer dims, e.g. 1x3x224x224") from None
        if not name:
            if len(specs) > 1:
                raise OnnxImportError(f"{where} {spec!r}: name each input (NAME=...) when "
                                      "giving several")
            return shape
        named[name] = shape
    return named


def load_onnx(model: str | os.PathLike[str] | onnx.ModelProto, source: str | None = None,
              input_shapes: dict[str, tuple[int, ...]] | tuple[int, ...] | None = None
              ) -> Network:
    """Read an ONNX model into a :class:`~reramsim.ir.Network`.

    Args:
        model: path of an ``.onnx`` file, or an already loaded ``onnx.ModelProto``.
        source: name used in messages and for ``Network.source`` (default: the path, or
            the graph name for a ModelProto); ``Network.name`` is its file stem.
        input_shapes: full shapes (batch first) that fix the graph inputs' dynamic dims:
            input name -> shape, or one shape for a single-input model. Dim 0 is the
            batch (``Network.batch``, images per run); declared static dims must agree.

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
    owned = not isinstance(model, onnx.ModelProto)
    proto, src = _read_model(model, source)
    if isinstance(input_shapes, tuple):
        names = [v.name for v in proto.graph.input
                 if v.name not in {i.name for i in proto.graph.initializer}]
        if len(names) != 1:
            raise OnnxImportError(f"{src}: --input-shape without a name, but the model has "
                                  f"inputs {names}; use NAME=D0xD1x...")
        input_shapes = {names[0]: input_shapes}
    return Importer(proto, src, input_shapes, owned=owned).run()

