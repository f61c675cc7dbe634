"""Resize (and the older Upsample): nearest and linear interpolation along any per-sample axes.

Each resized axis is an ``(out, in)`` interpolation matrix built from ONNX's
coordinate transformation (``half_pixel``, ``pytorch_half_pixel``, ``align_corners``,
``asymmetric``, ``tf_half_pixel_for_nn``, ``half_pixel_symmetric``) and the nearest
rounding mode; source positions outside the input take the edge value, as ONNX's
reference does. Cubic mode, antialiasing, ``tf_crop_and_resize`` and
``keep_aspect_ratio_policy`` other than ``stretch`` are refused.

It runs on the ``other`` digital unit and waits for the whole input (an output pixel
of an upsampling depends on input rows the raster order has not necessarily reached).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reramsim.ir import Layer
from reramsim.ops.base import WHOLE, define_op, out_per_pixel, per_pixel, register_op

if TYPE_CHECKING:
    from reramsim.onnx_import import Importer, Node

_TRANSFORMS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
               "tf_half_pixel_for_nn", "half_pixel_symmetric")
_ROUNDING = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def source_coords(n_out: int, n_in: int, scale: float, mode: str) -> np.ndarray:
    """Input coordinate of each output index along one axis (ONNX Resize's formulas).

    As in ONNX, the resized length in the formulas is ``n_in * scale`` (not rounded).
    """
    x = np.arange(n_out, dtype=np.float64)
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if n_out > 1 else np.zeros(n_out)
    if mode == "align_corners":
        return x * (n_in - 1) / (n_in * scale - 1) if n_out > 1 else np.zeros(n_out)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / scale
    adjustment = n_out / (scale * n_in)  # half_pixel_symmetric
    offset = n_in / 2 * (1 - adjustment)
    return offset + (x + 0.5) / scale - 0.5


def interpolation_matrix(n_out: int, n_in: int, scale: float, mode: str, transform: str,
                         rounding: str) -> np.ndarray:
    """``(n_out, n_in)`` float64 weights: output = matrix @ input along the axis."""
    coords = source_coords(n_out, n_in, scale, transform)
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    if mode == "nearest":
        if rounding == "round_prefer_floor":
            idx = np.where(coords == np.floor(coords) + 0.5, np.floor(coords), np.round(coords))
        elif rounding == "round_prefer_ceil":
            idx = np.floor(coords + 0.5)
        else:
            idx = np.floor(coords) if rounding == "floor" else np.ceil(coords)
        m[rows, np.clip(idx, 0, n_in - 1).astype(np.int64)] = 1.0
        return m
    lo = np.floor(coords)
    frac = coords - lo
    lo = lo.astype(np.int64)
    np.add.at(m, (rows, np.clip(lo, 0, n_in - 1)), 1 - frac)
    np.add.at(m, (rows, np.clip(lo + 1, 0, n_in - 1)), frac)
    return m


def _taps(layer: Layer) -> int:
    resized = sum(1 for s in layer.attrs["scales"] if s != 1.0)
    return 2 ** resized if layer.attrs["mode"] == "linear" else 1


@define_op("resize", attrs=("scales", "mode", "transform", "rounding"), unit="other",
           ready=WHOLE,
           work=lambda layer: (per_pixel(layer.in_shapes[0]) * _taps(layer),
                               out_per_pixel(layer) * _taps(layer)))
def _resize(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """Separable interpolation: one matrix product per resized per-sample axis."""
    y = xs[0].astype(np.float64)
    a = layer.attrs
    for axis, (n_in, n_out, scale) in enumerate(zip(layer.in_shapes[0], layer.out_shape,
                                                    a["scales"])):
        if n_in == n_out and scale == 1.0:
            continue
        m = interpolation_matrix(n_out, n_in, scale, a["mode"], a["transform"], a["rounding"])
        y = np.moveaxis(np.tensordot(y, m, axes=([axis + 1], [1])), -1, axis + 1)
    return y.astype(xs[0].dtype)


def _emit_resize(imp: Importer, node: Node, scales: list[float] | None,
                 sizes: list[int] | None, transform: str, legacy: bool = False) -> None:
    """One resize layer; ``legacy`` (Upsample, Resize-10): nearest rounds down."""
    x, xs = imp.act(node, 0)
    rank = 1 + len(xs)
    mode = node.attr("mode", "nearest")
    if mode not in ("nearest", "linear", "bilinear"):
        raise imp.error(node, f"mode={mode!r}: only nearest and linear are supported")
    mode = "linear" if mode == "bilinear" else mode
    if transform not in _TRANSFORMS:
        raise imp.error(node, f"coordinate_transformation_mode={transform!r} is not supported; "
                              f"expected one of {', '.join(_TRANSFORMS)}")
    rounding = "floor" if legacy else node.attr("nearest_mode", "round_prefer_floor")
    if rounding not in _ROUNDING:
        raise imp.error(node, f"nearest_mode={rounding!r}: expected one of {', '.join(_ROUNDING)}")
    if node.attr("antialias", 0):
        raise imp.error(node, "antialias=1 is not supported")
    if node.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise imp.error(node, "keep_aspect_ratio_policy other than stretch is not supported")
    axes = node.attr("axes")
    axes = list(range(rank)) if axes is None else [a + rank if a < 0 else a for a in axes]
    full_in = (imp.batch, *xs)
    full_scales = [1.0] * rank
    full_out = list(full_in)
    for i, a in enumerate(axes):
        if sizes is not None:
            full_out[a] = int(sizes[i])
            full_scales[a] = sizes[i] / full_in[a]
        else:
            full_scales[a] = float(scales[i])  # type: ignore[index]
            full_out[a] = int(np.floor(full_in[a] * full_scales[a]))
    if full_out[0] != full_in[0]:
        raise imp.error(node, "resizing the batch axis 0 is not supported")
    if min(full_out) < 1:
        raise imp.error(node, f"output shape {full_out} has an empty dim")
    imp.digital(node, "resize", [x], tuple(full_out[1:]), scales=tuple(full_scales[1:]),
                mode=mode, transform=transform, rounding=rounding)


@register_op("Upsample", since=7, emits=("resize",))
def _onnx_upsample_attr(imp: Importer, node: Node) -> None:
    """Opsets 7-8: the ``scales`` attribute; the asymmetric transform."""
    _emit_resize(imp, node, list(node.attr("scales", [])), None, "asymmetric", legacy=True)


@register_op("Upsample", since=9, emits=("resize",))
def _onnx_upsample_input(imp: Importer, node: Node) -> None:
    """Opset 9: constant input ``scales``."""
    _emit_resize(imp, node, [float(s) for s in imp.const(node, 1, "scales").reshape(-1)], None,
                 "asymmetric", legacy=True)


@register_op("Resize", since=10, emits=("resize",))
def _onnx_resize_v10(imp: Importer, node: Node) -> None:
    """Opset 10: constant input ``scales``; the asymmetric transform."""
    _emit_resize(imp, node, [float(s) for s in imp.const(node, 1, "scales").reshape(-1)], None,
                 "asymmetric", legacy=True)


@register_op("Resize", since=11, emits=("resize",))
def _onnx_resize(imp: Importer, node: Node) -> None:
    """Opset >= 11: constant ``scales`` (input 2) or ``sizes`` (input 3); roi unused."""
    transform = node.attr("coordinate_transformation_mode", "half_pixel")
    scales = imp.opt_const(node, 2, "scales")
    sizes = imp.opt_const(node, 3, "sizes")
    if scales is not None and scales.size == 0:
        scales = None
    if (scales is None) == (sizes is None):
        raise imp.error(node, "exactly one of scales and sizes must be given")
    _emit_resize(imp, node, None if scales is None else [float(s) for s in scales.reshape(-1)],
                 None if sizes is None else [int(s) for s in sizes.reshape(-1)], transform)
