"""Ops that move data without arithmetic: concat, flatten, reshape (also Squeeze and
Unsqueeze), transpose, pad, slice (also Split, one layer per output).

Dropout, Identity and Cast (to a float type) are converted here too: they emit no
layer, the output is an alias of the input.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import onnx

from reramsim.ir import Layer
from reramsim.ops.base import (
    SAME_PIXEL,
    WHOLE,
    WINDOW,
    define_op,
    layout_work,
    out_per_pixel,
    pixel_inputs,
    register_op,
)
from reramsim.ops.onnx_attrs import Shape, norm_axis

if TYPE_CHECKING:
    from reramsim.onnx_import import Importer, Node


def _on_channels(layer: Layer) -> bool:
    """Concat along the channel axis (per-sample axis 0): pixel p of every input gives pixel p."""
    return layer.attrs.get("axis", 0) == 0


def _concat_work(layer: Layer) -> tuple[int, int]:
    """Inputs fetched (the pixel's, or all spread over the pixels), no arithmetic."""
    return (pixel_inputs(layer), 0) if _on_channels(layer) else layout_work(layer)


@define_op("concat", attrs=("axis",), unit="other",
           ready=lambda layer: SAME_PIXEL if _on_channels(layer) else WHOLE, work=_concat_work)
def _concat(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """Concatenation along the per-sample ``axis`` (0 is the channel axis)."""
    return np.concatenate(xs, axis=layer.attrs["axis"] + 1)


@register_op("Concat", emits=("concat",))
def _onnx_concat(imp: Importer, node: Node) -> None:
    acts = [imp.act(node, i) for i in range(len(node.inputs))]
    rank = 1 + len(acts[0][1])
    axis = norm_axis(imp, node, int(node.attr("axis", 1)), rank)
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


@define_op("flatten", unit="other", ready=WHOLE, work=layout_work)
def _flatten(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """To ``(prod(shape),)``."""
    return xs[0].reshape(xs[0].shape[0], -1)


@register_op("Flatten", emits=("flatten",))
def _onnx_flatten(imp: Importer, node: Node) -> None:
    x, xs = imp.act(node, 0)
    axis = norm_axis(imp, node, int(node.attr("axis", 1)), 1 + len(xs)) if xs else 1
    if axis != 1:
        raise imp.error(node, f"axis={node.attr('axis')}: only axis=1 (keep the batch dim, "
                              "flatten the rest) is supported")
    imp.digital(node, "flatten", [x], (int(np.prod(xs)),))


@define_op("reshape", attrs=("shape",), unit="other", ready=WHOLE, work=layout_work)
def _reshape(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """To the per-sample target ``shape`` (no -1 left)."""
    return xs[0].reshape((xs[0].shape[0], *layer.attrs["shape"]))


def _onnx_reshape(imp: Importer, node: Node, target: list[int]) -> None:
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


@register_op("Reshape", emits=("reshape",))
def _onnx_reshape_attr(imp: Importer, node: Node) -> None:
    """Opset < 5: the target shape is the ``shape`` attribute."""
    target = node.attr("shape")
    if target is None:
        raise imp.error(node, "attribute 'shape' is required before opset 5")
    _onnx_reshape(imp, node, list(target))


@register_op("Reshape", since=5, emits=("reshape",))
def _onnx_reshape_input(imp: Importer, node: Node) -> None:
    """Opset >= 5: the target shape is constant input 1."""
    _onnx_reshape(imp, node, [int(v) for v in imp.const(node, 1, "shape").reshape(-1)])


@define_op("transpose", attrs=("perm",), unit="other", ready=WHOLE, work=layout_work)
def _transpose(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """The per-sample permutation ``perm``."""
    return np.ascontiguousarray(xs[0].transpose((0, *(p + 1 for p in layer.attrs["perm"]))))


@register_op("Transpose", emits=("transpose",))
def _onnx_transpose(imp: Importer, node: Node) -> None:
    x, xs = imp.act(node, 0)
    rank = 1 + len(xs)
    perm = [int(p) for p in node.attr("perm", list(range(rank))[::-1])]
    if sorted(perm) != list(range(rank)):
        raise imp.error(node, f"perm={perm} is not a permutation of {rank} axes")
    if perm[0] != 0:
        raise imp.error(node, f"perm={perm} moves the batch axis; perm[0] must be 0")
    sample_perm = tuple(p - 1 for p in perm[1:])
    imp.digital(node, "transpose", [x], tuple(xs[p] for p in sample_perm), perm=sample_perm)


@register_op("Dropout")
def _onnx_dropout(imp: Importer, node: Node) -> None:
    """Inference: the identity (``ratio``/``is_test`` attributes of old opsets are ignored)."""
    imp.require_unused_outputs(node, 1)
    if len(node.inputs) > 2 and node.inputs[2]:
        mode = imp.const(node, 2, "training_mode")
        if bool(mode.reshape(-1)[0]):
            raise imp.error(node, "training_mode=True is not supported; export in eval mode")
    x, _ = imp.act(node, 0)
    imp.make_alias(node, x)


@register_op("Identity")
def _onnx_identity(imp: Importer, node: Node) -> None:
    x, _ = imp.act(node, 0)
    imp.make_alias(node, x)


@register_op("Cast", emits=())
def _onnx_cast(imp: Importer, node: Node) -> None:
    """A cast of an activation to float32/float64 is the identity here (values stay float).

    A cast to a narrower float (float16...) would round; it is refused, not ignored.
    """
    to = int(node.attr("to", 0))
    if to not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
        raise imp.error(node, f"cast of an activation to {onnx.TensorProto.DataType.Name(to)}: "
                              "only float types FLOAT and DOUBLE are supported")
    x, _ = imp.act(node, 0)
    imp.make_alias(node, x)


def _axes_arg(imp: Importer, node: Node, since: int) -> list[int] | None:
    """``axes``: the attribute before opset ``since``, the optional constant input 1 after."""
    if imp.opset < since:
        value = node.attr("axes")
        return None if value is None else [int(a) for a in value]
    given = imp.opt_const(node, 1, "axes")
    return None if given is None else [int(a) for a in given.reshape(-1)]


@register_op("Squeeze", emits=("reshape",))
def _onnx_squeeze(imp: Importer, node: Node) -> None:
    x, xs = imp.act(node, 0)
    rank = 1 + len(xs)
    axes = _axes_arg(imp, node, 13)
    full = (imp.batch, *xs)
    drop = ({norm_axis(imp, node, a, rank) for a in axes} if axes is not None
            else {i for i in range(1, rank) if full[i] == 1})
    if 0 in drop:
        raise imp.error(node, "squeezing the batch axis 0 is not supported")
    if any(full[a] != 1 for a in drop):
        raise imp.error(node, f"axes={axes}: only dims of size 1 can be squeezed, input is "
                              f"(N, {', '.join(map(str, xs))})")
    out = tuple(d for i, d in enumerate(xs) if i + 1 not in drop)
    imp.digital(node, "reshape", [x], out, shape=out)


@register_op("Unsqueeze", emits=("reshape",))
def _onnx_unsqueeze(imp: Importer, node: Node) -> None:
    x, xs = imp.act(node, 0)
    axes = _axes_arg(imp, node, 13)
    if not axes:
        raise imp.error(node, "axes are required")
    rank = 1 + len(xs) + len(axes)
    new = sorted(norm_axis(imp, node, a, rank) for a in axes)
    if new[0] == 0:
        raise imp.error(node, "inserting a dim before the batch axis is not supported")
    out = list(xs)
    for a in new:
        out.insert(a - 1, 1)
    imp.digital(node, "reshape", [x], tuple(out), shape=tuple(out))


# --------------------------------------------------------------------------- pad


def _pad_ready(layer: Layer) -> str:
    """Constant and edge padding: the window rule (kernel 1, the pads); reflect/wrap: whole."""
    return WINDOW if layer.attrs["mode"] in ("constant", "edge") else WHOLE


@define_op("pad", attrs=("widths", "mode", "value", "kernel", "stride", "pads"), unit="other",
           ready=_pad_ready, work=lambda layer: (pixel_inputs(layer), 0))
def _pad(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """Per-sample ``widths`` ((begin, end) per axis; negative crops) in ``mode``."""
    return pad_array(xs[0], layer.attrs["widths"], layer.attrs["mode"], layer.attrs["value"])


def pad_array(x: np.ndarray, widths: tuple[tuple[int, int], ...], mode: str = "constant",
              value: float = 0.0) -> np.ndarray:
    """Batched ``x`` with per-sample ``widths`` ((begin, end) per axis, negative crops)."""
    crop = tuple(slice(max(0, -b), d - max(0, -e) if e < 0 else None)
                 for (b, e), d in zip(widths, x.shape[1:]))
    x = x[(slice(None), *crop)]
    full = [(0, 0)] + [(max(0, b), max(0, e)) for b, e in widths]
    if mode == "constant":
        return np.pad(x, full, constant_values=x.dtype.type(value))
    return np.pad(x, full, mode=mode)


@define_op("zero_insert", attrs=("stride", "widths"), unit="other", ready=WHOLE,
           work=layout_work)
def _zero_insert(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """(C, H, W): ``stride - 1`` zeros between pixels, then the spatial ``widths`` padded
    (negative: cropped); the input of the conv that computes a ConvTranspose."""
    x = xs[0]
    (sy, sx), (h, w) = layer.attrs["stride"], x.shape[2:]
    spread = np.zeros((*x.shape[:2], (h - 1) * sy + 1, (w - 1) * sx + 1), x.dtype)
    spread[:, :, ::sy, ::sx] = x
    return pad_array(spread, ((0, 0), *layer.attrs["widths"]))


def _onnx_pad(imp: Importer, node: Node, pads: list[int], value: float,
              axes: list[int] | None) -> None:
    x, xs = imp.act(node, 0)
    rank = 1 + len(xs)
    mode = node.attr("mode", "constant")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise imp.error(node, f"mode={mode!r}: expected constant, reflect, edge or wrap")
    axes = list(range(rank)) if axes is None else [norm_axis(imp, node, a, rank) for a in axes]
    if len(pads) != 2 * len(axes):
        raise imp.error(node, f"pads={pads}: expected 2 values per axis ({2 * len(axes)})")
    widths = [(0, 0)] * rank
    for i, a in enumerate(axes):
        widths[a] = (int(pads[i]), int(pads[i + len(axes)]))
    if widths[0] != (0, 0):
        raise imp.error(node, f"pads={pads} pad the batch axis; expected 0 there")
    sample = tuple(widths[1:])
    out = tuple(d + b + e for d, (b, e) in zip(xs, sample))
    if min(out, default=1) < 1:
        raise imp.error(node, f"pads={pads} crop (N, {', '.join(map(str, xs))}) to nothing")
    if mode == "reflect" and any(max(b, e) >= d for d, (b, e) in zip(xs, sample)):
        raise imp.error(node, f"pads={pads}: reflect padding must be smaller than the dim")
    spatial = (0, 0, 0, 0)
    if len(xs) == 3:
        spatial = (sample[1][0], sample[2][0], sample[1][1], sample[2][1])
    imp.digital(node, "pad", [x], out, widths=sample, mode=mode, value=float(value),
                kernel=(1, 1), stride=(1, 1), pads=spatial)


@register_op("Pad", emits=("pad",))
def _onnx_pad_v1(imp: Importer, node: Node) -> None:
    """Opset 1: the ``paddings`` attribute."""
    _onnx_pad(imp, node, list(node.attr("paddings", [])), float(node.attr("value", 0.0)), None)


@register_op("Pad", since=2, emits=("pad",))
def _onnx_pad_attr(imp: Importer, node: Node) -> None:
    """Opsets 2-10: the ``pads`` and ``value`` attributes."""
    _onnx_pad(imp, node, list(node.attr("pads", [])), float(node.attr("value", 0.0)), None)


@register_op("Pad", since=11, emits=("pad",))
def _onnx_pad_inputs(imp: Importer, node: Node) -> None:
    """Opset >= 11: constant inputs pads, constant_value and (18) axes."""
    pads = [int(p) for p in imp.const(node, 1, "pads").reshape(-1)]
    value = imp.opt_const(node, 2, "constant_value")
    axes = imp.opt_const(node, 3, "axes")
    _onnx_pad(imp, node, pads, 0.0 if value is None or value.size == 0 else float(
        value.reshape(-1)[0]), None if axes is None else [int(a) for a in axes.reshape(-1)])


# --------------------------------------------------------------------------- slice, split


def _only_channels(layer: Layer) -> bool:
    """A slice that keeps every pixel of a (C, H, W) tensor (it cuts channels only)."""
    return (len(layer.in_shapes[0]) == 3 and
            tuple(layer.in_shapes[0][1:]) == tuple(layer.out_shape[1:]))


@define_op("slice", attrs=("index",), unit="other",
           ready=lambda layer: SAME_PIXEL if _only_channels(layer) else WHOLE,
           work=lambda layer: (out_per_pixel(layer), 0) if _only_channels(layer)
           else layout_work(layer))
def _slice(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """``x[:, index...]``, ``index`` a ``(start, stop, step)`` per per-sample axis."""
    index = tuple(slice(a, None if b < 0 else b, c) for a, b, c in layer.attrs["index"])
    return np.ascontiguousarray(xs[0][(slice(None), *index)])


def _slice_index(dim: int, start: int, end: int, step: int) -> tuple[int, int, int, int]:
    """ONNX's clamping of one axis: ``(start, stop, step, length)``; stop -1 = before 0."""
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
    else:
        start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return start, end, step, len(range(start, end, step))


def _emit_slice(imp: Importer, node: Node, x: str, xs: Shape, axes: list[int],
                starts: list[int], ends: list[int], steps: list[int], output: int = 0,
                name: str | None = None) -> None:
    rank = 1 + len(xs)
    index = [(0, d, 1) for d in xs]
    out = list(xs)
    for a, s, e, st in zip(axes, starts, ends, steps):
        a = norm_axis(imp, node, a, rank)
        if a == 0:
            raise imp.error(node, "slicing the batch axis 0 is not supported")
        if st == 0:
            raise imp.error(node, "steps must not be 0")
        lo, hi, st, n = _slice_index(xs[a - 1], s, e, st)
        index[a - 1], out[a - 1] = (lo, hi, st), n
    if min(out, default=1) < 1:
        raise imp.error(node, f"the slice of (N, {', '.join(map(str, xs))}) is empty")
    imp.digital(node, "slice", [x], tuple(out), output=node.outputs[output], name=name,
                index=tuple(index))


@register_op("Slice", emits=("slice",))
def _onnx_slice_attr(imp: Importer, node: Node) -> None:
    """Opsets < 10: ``starts``/``ends``/``axes`` attributes."""
    x, xs = imp.act(node, 0)
    starts, ends = list(node.attr("starts", [])), list(node.attr("ends", []))
    axes = list(node.attr("axes", range(len(starts))))
    _emit_slice(imp, node, x, xs, axes, starts, ends, [1] * len(starts))


@register_op("Slice", since=10, emits=("slice",))
def _onnx_slice_inputs(imp: Importer, node: Node) -> None:
    """Opset >= 10: constant inputs starts, ends, axes, steps."""
    x, xs = imp.act(node, 0)
    starts = [int(v) for v in imp.const(node, 1, "starts").reshape(-1)]
    ends = [int(v) for v in imp.const(node, 2, "ends").reshape(-1)]
    axes_c, steps_c = imp.opt_const(node, 3, "axes"), imp.opt_const(node, 4, "steps")
    axes = list(range(len(starts))) if axes_c is None else [int(a) for a in axes_c.reshape(-1)]
    steps = [1] * len(starts) if steps_c is None else [int(s) for s in steps_c.reshape(-1)]
    _emit_slice(imp, node, x, xs, axes, starts, ends, steps)


@register_op("Split", emits=("slice",))
def _onnx_split(imp: Importer, node: Node) -> None:
    """One ``slice`` layer per output (named ``<node>:<k>``) along ``axis``."""
    x, xs = imp.act(node, 0)
    axis = norm_axis(imp, node, int(node.attr("axis", 0)), 1 + len(xs))
    if axis == 0:
        raise imp.error(node, "splitting the batch axis 0 is not supported")
    dim, n_out = xs[axis - 1], len(node.outputs)
    sizes = node.attr("split") if imp.opset < 13 else None
    if imp.opset >= 13 and len(node.inputs) > 1 and node.inputs[1]:
        sizes = [int(v) for v in imp.const(node, 1, "split").reshape(-1)]
    if not sizes:
        n = int(node.attr("num_outputs", n_out))
        chunk = -(-dim // n)
        sizes = [min(chunk, dim - i * chunk) for i in range(n)]
    if len(sizes) != n_out or sum(sizes) != dim or min(sizes) < 1:
        raise imp.error(node, f"split sizes {list(sizes)} do not cut dim {dim} into {n_out} "
                              "non-empty parts")
    start = 0
    for k, size in enumerate(sizes):
        if node.outputs[k]:
            _emit_slice(imp, node, x, xs, [axis], [start], [start + size], [1], output=k,
                        name=f"{node.name}:{k}")
        start += size
