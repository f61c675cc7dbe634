"""Activations: relu, clip, leaky_relu, sigmoid (element-wise) and softmax (whole tensor)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from reramsim.ir import Layer
from reramsim.ops.base import (
    SAME_PIXEL,
    WHOLE,
    define_op,
    out_per_pixel,
    pointwise_work,
    register_op,
    spread_inputs,
    unary,
)
from reramsim.ops.onnx_attrs import norm_axis

if TYPE_CHECKING:
    from reramsim.onnx_import import Importer, Node


@define_op("relu", unit="activation", ready=SAME_PIXEL, work=pointwise_work)
def _relu(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    return np.maximum(xs[0], 0)


register_op("Relu", emits=("relu",))(unary("relu"))


@define_op("clip", attrs=("min", "max"), unit="activation", ready=SAME_PIXEL,
           work=pointwise_work)
def _clip(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    return np.clip(x, x.dtype.type(layer.attrs["min"]), x.dtype.type(layer.attrs["max"]))


@register_op("Clip", emits=("clip",))
def _clip_attrs(imp: Importer, node: Node) -> None:
    """Opset < 11: bounds are the ``min``/``max`` attributes (missing = unbounded)."""
    x, xs = imp.act(node, 0)
    imp.digital(node, "clip", [x], xs, min=float(node.attr("min", -math.inf)),
                max=float(node.attr("max", math.inf)))


@register_op("Clip", since=11, emits=("clip",))
def _clip_inputs(imp: Importer, node: Node) -> None:
    """Opset >= 11: bounds are optional constant inputs 1 and 2 (missing = unbounded)."""
    x, xs = imp.act(node, 0)
    lo, hi = imp.opt_const(node, 1, "min"), imp.opt_const(node, 2, "max")
    imp.digital(node, "clip", [x], xs, min=-math.inf if lo is None else float(lo.reshape(-1)[0]),
                max=math.inf if hi is None else float(hi.reshape(-1)[0]))


@define_op("leaky_relu", attrs=("alpha",), unit="activation", ready=SAME_PIXEL,
           work=pointwise_work)
def _leaky_relu(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    return np.where(x >= 0, x, x * x.dtype.type(layer.attrs["alpha"]))


register_op("LeakyRelu", emits=("leaky_relu",))(unary("leaky_relu", alpha=0.01))


@define_op("sigmoid", unit="activation", ready=SAME_PIXEL, work=pointwise_work)
def _sigmoid(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


register_op("Sigmoid", emits=("sigmoid",))(unary("sigmoid"))


def _softmax_work(layer: Layer) -> tuple[int, int]:
    """Every input fetched; exp, sum and divide per output element."""
    return spread_inputs(layer), 3 * out_per_pixel(layer)


@define_op("softmax", attrs=("axis",), unit="other", ready=WHOLE, work=_softmax_work)
def _softmax(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """Softmax along the per-sample ``axis``."""
    axis = layer.attrs["axis"] + 1
    x = xs[0]
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@register_op("Softmax", emits=("softmax",))
def _softmax_coerced(imp: Importer, node: Node) -> None:
    """Opset < 13: softmax over the input coerced to 2-D at ``axis`` (default 1)."""
    x, xs = imp.act(node, 0)
    rank = 1 + len(xs)
    axis = norm_axis(imp, node, int(node.attr("axis", 1)), rank)
    if axis == 0:
        raise imp.error(node, "axis=0 normalises across the batch; expected axis >= 1")
    if int(np.prod(xs[axis:])) != 1:
        raise imp.error(node, f"axis={axis} on (N, {', '.join(map(str, xs))}) normalises over "
                              "several non-unit axes at once; only a single axis is supported")
    imp.digital(node, "softmax", [x], xs, axis=axis - 1)


@register_op("Softmax", since=13, emits=("softmax",))
def _softmax_axis(imp: Importer, node: Node) -> None:
    """Opset >= 13: softmax along one ``axis`` (default -1)."""
    x, xs = imp.act(node, 0)
    axis = norm_axis(imp, node, int(node.attr("axis", -1)), 1 + len(xs))
    if axis == 0:
        raise imp.error(node, "axis=0 normalises across the batch; expected axis >= 1")
    imp.digital(node, "softmax", [x], xs, axis=axis - 1)
