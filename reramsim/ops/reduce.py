"""Reductions over per-sample axes: reduce_mean, reduce_sum, reduce_max, reduce_min.

They run on the pooling unit. ``ReduceMean`` over all spatial axes of an
``(N, C, H, W)`` tensor with ``keepdims=1`` (what PyTorch's exporter writes for
``AdaptiveAvgPool2d(1)``) is the ``global_avgpool`` layer, as ``GlobalAveragePool``
would give; every other reduction is a ``reduce_*`` layer with ``axes`` (per-sample,
sorted) and ``keepdims``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from reramsim.ir import Layer
from reramsim.ops.base import SAME_PIXEL, WHOLE, define_op, register_op, spread_inputs

if TYPE_CHECKING:
    from reramsim.onnx_import import Importer, Node

#: IR op -> (ONNX op, opset from which ``axes`` is an input, numpy reduction).
REDUCTIONS: dict[str, tuple[str, int, Callable[..., np.ndarray]]] = {
    "reduce_mean": ("ReduceMean", 18, np.mean),
    "reduce_sum": ("ReduceSum", 13, np.sum),
    "reduce_max": ("ReduceMax", 18, np.max),
    "reduce_min": ("ReduceMin", 18, np.min),
}


def _reduce_ready(layer: Layer) -> str:
    """A reduction over channels only keeps pixels apart (same pixel); any other, whole."""
    return SAME_PIXEL if len(layer.in_shapes[0]) == 3 and layer.attrs["axes"] == (0,) else WHOLE


def _reduce_work(layer: Layer) -> tuple[int, int]:
    """Every input element fetched and combined once (spread over the output pixels)."""
    n = spread_inputs(layer)
    return n, n


def _reduce_kernel(fn: Callable[..., np.ndarray]) -> Callable[[Layer, list[np.ndarray]],
                                                               np.ndarray]:
    def kernel(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
        x = xs[0]
        axes = tuple(a + 1 for a in layer.attrs["axes"])
        return np.asarray(fn(x, axis=axes, keepdims=layer.attrs["keepdims"])).astype(
            x.dtype, copy=False).reshape((x.shape[0], *layer.out_shape))
    return kernel


def _onnx_reduce(imp: Importer, node: Node, op: str, axes_input_since: int) -> None:
    x, xs = imp.act(node, 0)
    rank = 1 + len(xs)
    if imp.opset >= axes_input_since:
        given = imp.opt_const(node, 1, "axes")
        axes = None if given is None else [int(a) for a in given.reshape(-1)]
    else:
        axes = node.attr("axes")
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            imp.make_alias(node, x)
            return
        axes = list(range(rank))
    full = sorted({a + rank if a < 0 else a for a in axes})
    if full[0] < 0 or full[-1] >= rank:
        raise imp.error(node, f"axes={list(axes)} out of range for a {rank}-D input")
    if full[0] == 0:
        raise imp.error(node, f"axes={list(axes)} reduce across the batch axis 0; expected "
                              "per-sample axes (>= 1)")
    keep = bool(node.attr("keepdims", 1))
    sample = tuple(a - 1 for a in full)
    out = tuple(1 if i in sample else d for i, d in enumerate(xs) if keep or i not in sample)
    if op == "reduce_mean" and keep and len(xs) == 3 and sample == (1, 2):
        imp.digital(node, "global_avgpool", [x], out)
        return
    imp.digital(node, op, [x], out, axes=sample, keepdims=keep)


for _op, (_onnx, _since, _fn) in REDUCTIONS.items():
    define_op(_op, attrs=("axes", "keepdims"), unit="pooling", ready=_reduce_ready,
              work=_reduce_work)(_reduce_kernel(_fn))
    register_op(_onnx, emits=(_op, "global_avgpool") if _op == "reduce_mean" else (_op,))(
        lambda imp, node, _op=_op, _since=_since: _onnx_reduce(imp, node, _op, _since))
