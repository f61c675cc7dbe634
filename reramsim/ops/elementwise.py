"""Element-wise arithmetic between activations: add (ONNX Add and Sum).

A constant operand of Add is not an IR op: it is folded into the bias of the weight
layer that produces the other operand (:func:`reramsim.ops.weights.fold_bias`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reramsim.ir import Layer
from reramsim.ops.base import SAME_PIXEL, define_op, out_per_pixel, pixel_inputs, register_op
from reramsim.ops.onnx_attrs import norm_axis
from reramsim.ops.weights import fold_bias

if TYPE_CHECKING:
    from reramsim.onnx_import import Importer, Node


def _add_work(layer: Layer) -> tuple[int, int]:
    """The pixel's inputs fetched; n - 1 additions per output element for n inputs."""
    return pixel_inputs(layer), out_per_pixel(layer) * (len(layer.inputs) - 1)


@define_op("add", unit="eltwise", ready=SAME_PIXEL, work=_add_work)
def _add(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """The sum of all inputs (one shape)."""
    out = xs[0].copy()
    for x in xs[1:]:
        out += x
    return out


def _onnx_add_like(imp: Importer, node: Node, legacy: bool) -> None:
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
                axis = norm_axis(imp, node, int(axis), 1 + len(imp.shapes[imp.resolve(acts[0])]))
        if not fold_bias(imp, node, acts[0], consts[0], axis):
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


@register_op("Add", emits=("add",))
def _onnx_add(imp: Importer, node: Node) -> None:
    _onnx_add_like(imp, node, legacy=imp.opset < 7)


@register_op("Sum", emits=("add",))
def _onnx_sum(imp: Importer, node: Node) -> None:
    _onnx_add_like(imp, node, legacy=False)
