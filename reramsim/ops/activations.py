"""Activations: relu, clip, leaky_relu, sigmoid, hard_sigmoid, hard_swish, gelu and the
element-wise math functions of :data:`MATH` (tanh, erf, exp, sqrt, reciprocal...), all on
the activation unit pixel by pixel, and softmax (whole tensor).

SiLU / Swish exported as ``Sigmoid`` then ``Mul`` is a sigmoid layer and a ``mul``
layer (:mod:`reramsim.ops.elementwise`).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

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


# --------------------------------------------------------------------------- element-wise math


def _hard_sigmoid_of(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    return np.clip(x * x.dtype.type(alpha) + x.dtype.type(beta), 0, 1)


@define_op("hard_sigmoid", attrs=("alpha", "beta"), unit="activation", ready=SAME_PIXEL,
           work=pointwise_work)
def _hard_sigmoid(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """``clip(alpha*x + beta, 0, 1)``."""
    return _hard_sigmoid_of(xs[0], layer.attrs["alpha"], layer.attrs["beta"])


register_op("HardSigmoid", emits=("hard_sigmoid",))(unary("hard_sigmoid", alpha=0.2, beta=0.5))


@define_op("hard_swish", unit="activation", ready=SAME_PIXEL, work=pointwise_work)
def _hard_swish(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """``x * clip(x/6 + 1/2, 0, 1)`` (ONNX HardSwish, PyTorch Hardswish)."""
    return xs[0] * _hard_sigmoid_of(xs[0], 1 / 6, 0.5)


register_op("HardSwish", since=14, emits=("hard_swish",))(unary("hard_swish"))


@define_op("gelu", attrs=("approximate",), unit="activation", ready=SAME_PIXEL,
           work=pointwise_work)
def _gelu(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """``x * Phi(x)`` with the erf form, or the tanh form when ``approximate == "tanh"``."""
    x = xs[0].astype(np.float64)
    if layer.attrs.get("approximate", "none") == "tanh":
        y = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    else:
        y = 0.5 * x * (1 + special.erf(x / math.sqrt(2)))
    return y.astype(xs[0].dtype)


@register_op("Gelu", since=20, emits=("gelu",))
def _onnx_gelu(imp: Importer, node: Node) -> None:
    x, xs = imp.act(node, 0)
    approximate = node.attr("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise imp.error(node, f"approximate={approximate!r}: expected 'none' or 'tanh'")
    imp.digital(node, "gelu", [x], xs, approximate=approximate)


#: Element-wise functions without attributes: IR op -> (ONNX op, first opset, function).
MATH: dict[str, tuple[str, int, Callable[[np.ndarray], np.ndarray]]] = {
    "tanh": ("Tanh", 1, np.tanh),
    "erf": ("Erf", 9, lambda x: special.erf(x).astype(x.dtype)),
    "exp": ("Exp", 1, np.exp),
    "log": ("Log", 1, np.log),
    "sqrt": ("Sqrt", 1, np.sqrt),
    "reciprocal": ("Reciprocal", 1, np.reciprocal),
    "neg": ("Neg", 1, np.negative),
    "abs": ("Abs", 1, np.abs),
    "softplus": ("Softplus", 1, lambda x: np.logaddexp(x, x.dtype.type(0))),
}


def _math_kernel(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Layer, list[np.ndarray]],
                                                                      np.ndarray]:
    def kernel(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return fn(xs[0])
    return kernel


for _op, (_onnx, _since, _fn) in MATH.items():
    define_op(_op, unit="activation", ready=SAME_PIXEL, work=pointwise_work)(_math_kernel(_fn))
    register_op(_onnx, since=_since, emits=(_op,))(unary(_op))
