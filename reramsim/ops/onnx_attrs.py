"""Decoding of ONNX attributes shared by converters: pairs, pads, axes, ranks.

Each helper takes the importer (for its one-line ``error(node, msg)``) and the node
being converted, and raises that error for a value it cannot accept.
"""
from __future__ import annotations

from typing import Any

Shape = tuple[int, ...]


def pair(imp: Any, node: Any, key: str, default: int) -> tuple[int, int]:
    """Attribute ``key`` as a ``(y, x)`` pair (``default`` for both when absent)."""
    value = node.attr(key)
    if value is None:
        return default, default
    if len(value) != 2:
        raise imp.error(node, f"{key}={list(value)}: expected 2 values (y, x)")
    return int(value[0]), int(value[1])


def resolve_pads(imp: Any, node: Any, in_hw: Shape, kernel: tuple[int, int],
                 stride: tuple[int, int], dilation: tuple[int, int]
                 ) -> tuple[int, int, int, int]:
    """Explicit ``(top, left, bottom, right)`` pads from ``pads`` or ``auto_pad``."""
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pads = node.attr("pads", [0, 0, 0, 0])
        if len(pads) != 4:
            raise imp.error(node, f"pads={list(pads)}: expected 4 values "
                                  "(top, left, bottom, right)")
        if min(pads) < 0:
            raise imp.error(node, f"pads={list(pads)}: negative pads are not supported")
        return int(pads[0]), int(pads[1]), int(pads[2]), int(pads[3])
    if auto == "VALID":
        return 0, 0, 0, 0
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise imp.error(node, f"auto_pad={auto!r}: expected NOTSET, SAME_UPPER, SAME_LOWER "
                              "or VALID")
    begin, end = [], []
    for size, k, s, d in zip(in_hw, kernel, stride, dilation):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, large = total // 2, total - total // 2
        begin.append(small if auto == "SAME_UPPER" else large)
        end.append(large if auto == "SAME_UPPER" else small)
    return begin[0], begin[1], end[0], end[1]


def require_rank(imp: Any, node: Any, shape: Shape, rank: int, layout: str) -> None:
    """Refuse a per-sample ``shape`` whose rank is not ``rank`` (``layout`` for the message)."""
    if len(shape) != rank:
        raise imp.error(node, f"expected a {rank + 1}-D {layout} input, got (N, "
                              f"{', '.join(map(str, shape))})")


def norm_axis(imp: Any, node: Any, axis: int, rank: int) -> int:
    """An ONNX axis over the full rank (batch included), made non-negative."""
    if not -rank <= axis < rank:
        raise imp.error(node, f"axis={axis} is out of range for a {rank}-D tensor")
    return axis + rank if axis < 0 else axis
