"""Pooling: maxpool and avgpool (windowed) and global_avgpool (whole tensor)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from reramsim.ir import Layer
from reramsim.ops.base import (
    WHOLE,
    WINDOW,
    define_op,
    out_per_pixel,
    per_pixel,
    register_op,
    spread_inputs,
)
from reramsim.ops.onnx_attrs import pair, require_rank, resolve_pads
from reramsim.ops.weights import spatial_windows

if TYPE_CHECKING:
    from reramsim.onnx_import import Importer, Node


def pool_output_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                     dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a pool along one spatial axis, as onnxruntime and PyTorch compute it.

    Without ``ceil_mode`` it is :func:`reramsim.ops.weights.conv_output_size`. With it the division
    rounds up, and a last window that would *start* in the end padding is
    dropped (onnxruntime and PyTorch do this; ONNX shape inference does not).
    Example: size 5, kernel 2, stride 2, pads 1+1: ``ceil(5/2) + 1 = 4`` windows,
    but the 4th starts at padded index 6 >= 5 + 1, so the result is 3.
    """
    extent = (kernel - 1) * dilation + 1
    span = size + pad_begin + pad_end - extent
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


def _pool_padded(x: np.ndarray, layer: Layer, fill: float) -> np.ndarray:
    """``x`` padded with the explicit pads plus the end margin ceil_mode windows reach into."""
    top, left, bottom, right = layer.attrs["pads"]
    (kh, kw), (sy, sx) = layer.attrs["kernel"], layer.attrs["stride"]
    dy, dx = layer.attrs.get("dilation", (1, 1))
    ho, wo = layer.out_shape[1:]
    h, w = x.shape[-2:]
    extra_h = max(0, (ho - 1) * sy + (kh - 1) * dy + 1 - (h + top + bottom))
    extra_w = max(0, (wo - 1) * sx + (kw - 1) * dx + 1 - (w + left + right))
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom + extra_h), (left, right + extra_w)]
    return np.pad(x, widths, constant_values=fill)


def _pool_sum(xp: np.ndarray, layer: Layer, reduce: Callable[..., Any]) -> np.ndarray:
    """``reduce`` (np.maximum, np.add) over the window positions of a padded input."""
    windows = spatial_windows(xp, layer.attrs["kernel"], layer.attrs["stride"],
                              layer.attrs.get("dilation", (1, 1)), layer.out_shape[1:])
    out = next(windows)[2].copy()
    for _, _, view in windows:
        reduce(out, view, out=out)
    return out


def _window_work(layer: Layer) -> tuple[int, int]:
    """The window's inputs fetched, one op per output element and window position."""
    kh, kw = layer.attrs["kernel"]
    return per_pixel(layer.in_shapes[0]) * kh * kw, out_per_pixel(layer) * kh * kw


_POOL_ATTRS = ("kernel", "stride", "pads", "ceil_mode")


@define_op("maxpool", attrs=(*_POOL_ATTRS, "dilation"), unit="pooling", ready=WINDOW,
           work=_window_work)
def _maxpool(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    return _pool_sum(_pool_padded(xs[0], layer, -np.inf), layer, np.maximum)


@define_op("avgpool", attrs=(*_POOL_ATTRS, "count_include_pad"), unit="pooling", ready=WINDOW,
           work=_window_work)
def _avgpool(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """Window mean; the divisor counts input pixels, plus explicit pads if count_include_pad.

    Positions a ceil_mode window reaches beyond the explicit pads never count.
    """
    x = xs[0]
    top, left, bottom, right = layer.attrs["pads"]
    total = _pool_sum(_pool_padded(x, layer, 0.0), layer, np.add)
    h, w = x.shape[-2:]
    if layer.attrs.get("count_include_pad", False):
        ones = np.ones((h + top + bottom, w + left + right), x.dtype)
        shape_layer = Layer(layer.name, layer.op, (), "", (), layer.out_shape,
                            {**layer.attrs, "pads": (0, 0, 0, 0)})
        count = _pool_sum(_pool_padded(ones, shape_layer, 0.0), layer, np.add)
    else:
        count = _pool_sum(_pool_padded(np.ones((h, w), x.dtype), layer, 0.0), layer, np.add)
    return total / count


def _global_work(layer: Layer) -> tuple[int, int]:
    """Every input fetched and added once."""
    n = spread_inputs(layer)
    return n, n


@define_op("global_avgpool", unit="pooling", ready=WHOLE, work=_global_work)
def _global_avgpool(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True, dtype=np.float64).astype(x.dtype)


def _onnx_pool(imp: Importer, node: Node, op: str) -> None:
    x, xs = imp.act(node, 0)
    require_rank(imp, node, xs, 3, "(N, C, H, W)")
    imp.require_unused_outputs(node, 1)
    kernel_attr = node.attr("kernel_shape")
    if kernel_attr is None or len(kernel_attr) != 2:
        raise imp.error(node, "kernel_shape must give 2 values (y, x)")
    kernel = (int(kernel_attr[0]), int(kernel_attr[1]))
    stride, dilation = pair(imp, node, "strides", 1), pair(imp, node, "dilations", 1)
    if op == "avgpool" and dilation != (1, 1):
        raise imp.error(node, f"dilations={list(dilation)} is not supported for AveragePool")
    ceil_mode = bool(node.attr("ceil_mode", 0))
    pads = resolve_pads(imp, node, xs[1:], kernel, stride, dilation)
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


@register_op("MaxPool", emits=("maxpool",))
def _onnx_maxpool(imp: Importer, node: Node) -> None:
    _onnx_pool(imp, node, "maxpool")


@register_op("AveragePool", emits=("avgpool",))
def _onnx_avgpool(imp: Importer, node: Node) -> None:
    _onnx_pool(imp, node, "avgpool")


@register_op("GlobalAveragePool", emits=("global_avgpool",))
def _onnx_global_avgpool(imp: Importer, node: Node) -> None:
    x, xs = imp.act(node, 0)
    if len(xs) < 2:
        raise imp.error(node, "expected an (N, C, spatial...) input")
    imp.digital(node, "global_avgpool", [x], (xs[0],) + (1,) * (len(xs) - 1))

