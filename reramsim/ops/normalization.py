"""Normalisation: lrn (cross-channel) and affine (a BatchNormalization left unfolded).

BatchNormalization after a weight layer that feeds only it is folded into that
layer's weights and bias; otherwise it becomes a per-channel ``affine``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reramsim.ir import Layer
from reramsim.ops.base import (
    SAME_PIXEL,
    define_op,
    out_per_pixel,
    pixel_inputs,
    pointwise_work,
    register_op,
)

if TYPE_CHECKING:
    from reramsim.onnx_import import Importer, Node


def _lrn_work(layer: Layer) -> tuple[int, int]:
    """The pixel's inputs fetched; ``size`` ops (square-and-add) per output element."""
    return pixel_inputs(layer), out_per_pixel(layer) * int(layer.attrs.get("size", 1))


@define_op("lrn", attrs=("size", "alpha", "beta", "bias"), unit="other", ready=SAME_PIXEL,
           work=_lrn_work)
def _lrn(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """Cross-channel LRN: ``x / (bias + alpha/size * sum of x^2 over the size neighbours)^beta``.

    Channel ``c`` sums channels ``c - floor((size-1)/2)`` .. ``c + ceil((size-1)/2)``
    that exist (ONNX's definition).
    """
    x = xs[0]
    size = int(layer.attrs["size"])
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = np.square(x)
    widths = [(0, 0), (lo, hi)] + [(0, 0)] * (x.ndim - 2)
    sqp = np.pad(sq, widths)
    channels = x.shape[1]
    acc = np.zeros_like(sq)
    for j in range(size):
        acc += sqp[:, j:j + channels]
    alpha, beta, bias = (x.dtype.type(v) for v in (layer.attrs["alpha"] / size,
                                                   layer.attrs["beta"], layer.attrs["bias"]))
    return x / np.power(bias + alpha * acc, beta)


@register_op("LRN", emits=("lrn",))
def _onnx_lrn(imp: Importer, node: Node) -> None:
    x, xs = imp.act(node, 0)
    if node.attr("size") is None:
        raise imp.error(node, "attribute 'size' is required")
    imp.digital(node, "lrn", [x], xs, size=int(node.attr("size")),
                alpha=float(node.attr("alpha", 1e-4)), beta=float(node.attr("beta", 0.75)),
                bias=float(node.attr("bias", 1.0)))


@define_op("affine", attrs=("scale", "shift"), unit="eltwise", ready=SAME_PIXEL,
           work=pointwise_work)
def _affine(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """Per-channel ``x*scale + shift``; the channel axis is per-sample axis 0."""
    x = xs[0]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scale = np.asarray(layer.attrs["scale"], x.dtype).reshape(shape)
    shift = np.asarray(layer.attrs["shift"], x.dtype).reshape(shape)
    return x * scale + shift


@register_op("BatchNormalization", emits=("affine",))
def _onnx_batchnorm(imp: Importer, node: Node) -> None:
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
