"""Ops that move data without arithmetic: concat, flatten, reshape, transpose.

Dropout and Identity are converted here too: they emit no layer, the output is an
alias of the input.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reramsim.ir import Layer
from reramsim.ops.base import (
    SAME_PIXEL,
    WHOLE,
    define_op,
    layout_work,
    pixel_inputs,
    register_op,
)
from reramsim.ops.onnx_attrs import norm_axis

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
