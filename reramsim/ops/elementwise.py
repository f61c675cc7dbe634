"""Element-wise arithmetic: add, sub, mul, div, pow (ONNX Add/Sum/Sub/Mul/Div/Pow), and
matmul between two activations.

An arithmetic layer combines its activation inputs with numpy broadcasting (per-sample
shapes, batch axes aligned) and at most one constant operand, kept in the layer's
``const`` attribute (a per-sample array) with ``const_first`` saying whether it is the
left operand. A constant operand of Add after a weight layer that feeds only the Add is
not an IR op: it is folded into that layer's bias; a per-channel constant Mul there is
folded into its weights and bias (:func:`reramsim.ops.weights.fold_bias`,
:func:`reramsim.ops.weights.fold_scale`).

``matmul`` multiplies two activations (e.g. attention scores): crossbars hold
weights, so it runs on the ``other`` digital unit, one multiply-add per term.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from reramsim.ir import Layer
from reramsim.ops.base import (
    SAME_PIXEL,
    WHOLE,
    define_op,
    out_per_pixel,
    pixel_inputs,
    register_op,
    spread_inputs,
)
from reramsim.ops.onnx_attrs import norm_axis
from reramsim.ops.weights import emit_fc, fold_bias, fold_scale, weight_operand

if TYPE_CHECKING:
    from reramsim.onnx_import import Importer, Node

#: IR op -> the numpy function it applies left to right over its operands.
ARITHMETIC: dict[str, Callable[..., np.ndarray]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power,
}


def _operands(layer: Layer) -> int:
    return len(layer.inputs) + ("const" in layer.attrs)


def _arith_work(layer: Layer) -> tuple[int, int]:
    """The pixel's inputs fetched; n - 1 operations per output element for n operands."""
    return pixel_inputs(layer), out_per_pixel(layer) * (_operands(layer) - 1)


def _arith_kernel(fn: Callable[..., np.ndarray]) -> Callable[[Layer, list[np.ndarray]],
                                                               np.ndarray]:
    def kernel(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
        """``fn`` over the operands left to right, broadcast (batch axis first)."""
        operands = list(xs)
        const = layer.attrs.get("const")
        if const is not None:
            c = np.asarray(const, xs[0].dtype)[None]
            operands.insert(0 if layer.attrs.get("const_first") else len(operands), c)
        out = operands[0]
        for x in operands[1:]:
            out = fn(out, x)
        return np.broadcast_to(out, (xs[0].shape[0], *layer.out_shape)).astype(
            xs[0].dtype, copy=True)
    return kernel


for _name, _fn in ARITHMETIC.items():
    define_op(_name, attrs=("const", "const_first"), unit="eltwise", ready=SAME_PIXEL,
              work=_arith_work)(_arith_kernel(_fn))


def _per_sample_const(imp: Importer, node: Node, value: np.ndarray, rank: int,
                      legacy_axis: int | None) -> np.ndarray:
    """A constant operand as a per-sample array that broadcasts against rank-``rank`` inputs.

    ``rank`` counts the batch axis. Opset < 7 ``broadcast=1`` with ``axis`` aligns the
    constant's dims at that axis instead of at the end.
    """
    if legacy_axis is not None:
        tail = rank - legacy_axis - value.ndim
        if tail < 0:
            raise imp.error(node, f"constant of shape {value.shape} does not fit at axis "
                                  f"{legacy_axis} of a {rank}-D input")
        value = value.reshape((1,) * legacy_axis + value.shape + (1,) * tail)
    if value.ndim > rank:
        raise imp.error(node, f"constant of shape {value.shape} has more dims than the "
                              f"{rank}-D activation; it would broadcast over the batch")
    full = value.reshape((1,) * (rank - value.ndim) + value.shape)
    if full.shape[0] != 1:
        raise imp.error(node, f"constant of shape {value.shape} varies along the batch axis")
    return np.array(full[0], dtype=np.float32)  # keeps 0-d


def _onnx_arith(imp: Importer, node: Node, op: str) -> None:
    """Binary (or n-ary, Sum) arithmetic: activations broadcast, at most one constant."""
    names = [n for n in node.inputs if n]
    is_const = [imp.is_const(n) for n in names]
    acts = [imp.act(node, i) for i, n in enumerate(node.inputs) if n and not imp.is_const(n)]
    consts = [n for n, c in zip(names, is_const) if c]
    if len(consts) > 1:
        raise imp.error(node, "more than one constant operand; expected at most one")
    ranks = {len(s) for _, s in acts}
    if len(ranks) > 1:
        raise imp.error(node, f"activations of different ranks {[s for _, s in acts]}: their "
                              "batch axes would not line up")
    rank = 1 + ranks.pop()
    legacy_axis = None
    if imp.opset < 7 and node.attr("broadcast", 0) and node.attr("axis") is not None:
        legacy_axis = norm_axis(imp, node, int(node.attr("axis")), rank)
    if consts and len(acts) == 1:
        act_raw = node.inputs[is_const.index(False)]
        if op == "add" and fold_bias(imp, node, act_raw, consts[0], legacy_axis):
            return
        if op == "mul" and fold_scale(imp, node, act_raw, consts[0], legacy_axis):
            return
    attrs: dict[str, Any] = {}
    shapes = [s for _, s in acts]
    if consts:
        const = _per_sample_const(imp, node, imp.consts[imp.resolve(consts[0])], rank,
                                  legacy_axis)
        attrs = {"const": const, "const_first": bool(is_const[0])}
        shapes.append(const.shape)
    try:
        out = tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        raise imp.error(node, f"operand shapes {shapes} (per sample) do not broadcast") from None
    if op == "add" and not consts and len(acts) == 1:
        imp.make_alias(node, acts[0][0])  # Sum of one input
        return
    imp.digital(node, op, [n for n, _ in acts], out, **attrs)


for _onnx, _op in (("Add", "add"), ("Sum", "add"), ("Sub", "sub"), ("Mul", "mul"),
                   ("Div", "div"), ("Pow", "pow")):
    register_op(_onnx, emits=(_op,))(
        lambda imp, node, _op=_op: _onnx_arith(imp, node, _op))


# --------------------------------------------------------------------------- matmul


def _matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """Per-sample output shape of ``A @ B`` (stacked matrices broadcast), or None."""
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
        return None
    try:
        stack = np.broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        return None
    return (*stack, a[-2], b[-1])


def _matmul_work(layer: Layer) -> tuple[int, int]:
    """Both operands fetched (spread over the output pixels); K multiply-adds per output."""
    k = layer.in_shapes[0][-1]
    return spread_inputs(layer), out_per_pixel(layer) * k


@define_op("matmul", unit="other", ready=WHOLE, work=_matmul_work)
def _matmul(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """``A @ B`` between two activations, per sample."""
    return np.matmul(xs[0], xs[1])


@register_op("MatMul", emits=("fc", "matmul"))
def _onnx_matmul(imp: Importer, node: Node) -> None:
    """A constant B is an fc weight (crossbars); two activations are a ``matmul`` layer."""
    if all(n and not imp.is_const(n) for n in node.inputs[:2]):
        _activation_matmul(imp, node)
        return
    x, xs, b = weight_operand(imp, node)
    if b.shape[0] != xs[0]:
        raise imp.error(node, f"weight B {b.shape} does not fit K={xs[0]}")
    emit_fc(imp, node, x, xs, b.T, None)


def _activation_matmul(imp: Importer, node: Node) -> None:
    """MatMul of two activations of per-sample rank >= 2."""
    (a, sa), (b, sb) = imp.act(node, 0, "A"), imp.act(node, 1, "B")
    out = _matmul_shape(sa, sb)
    if out is None:
        raise imp.error(node, f"activations (N, {', '.join(map(str, sa))}) @ "
                              f"(N, {', '.join(map(str, sb))}): expected per-sample matrices "
                              "(rank >= 2 after the batch) with matching inner dims")
    imp.digital(node, "matmul", [a, b], out)
