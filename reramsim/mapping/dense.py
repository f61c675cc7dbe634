"""The dense ("naive") mapping: every weight mapped, im2col matrix tiled into crossbars.

The convention, shared with other tools so crossbar counts compare: group ``g``'s
matrix (``R`` rows, ``C`` columns) with ``s = ceil(weight_bits / cell_bits)``
bit-slices per weight is laid out as ``C*s`` bit-lines, column-major (bit-line
``c*s + k`` holds slice ``k`` of column ``c``), and cut into blocks of
``xbar_rows`` word-lines by ``xbar_cols`` bit-lines. A layer therefore needs::

    groups * ceil(R / xbar_rows) * ceil(C * s / xbar_cols) * polarities

crossbars (polarities = 2 for differential pairs, else 1). A weight's slices may
straddle two crossbars when ``xbar_cols`` is not a multiple of ``s``; the
formula counts bit-lines, not whole weights. Each crossbar's used rectangle is
tiled into OUs of ``ou.rows x ou.cols``, row block by row block.

Balanced blocks: the ``ceil(R / ou_rows)`` OU rows of the matrix are dealt out to
the ``ceil(R / xbar_rows)`` row blocks as evenly as whole OU rows allow (and the
bit-lines likewise, in whole OU columns), so no crossbar runs more OUs than it must:
a 144-row matrix on 128-row crossbars with 16-row OUs is cut 80 + 64 rows (5 and
4 OU rows), not 128 + 16 (8 and 1). The crossbar count is unchanged.

Example: a 3x3 conv 64->64 (``R = 576``, ``C = 64``) with 16-bit weights on
2-bit cells (``s = 8``) and 128x128 crossbars needs
``ceil(576/128) * ceil(512/128) = 5 * 4 = 20`` crossbars.
"""
from __future__ import annotations

import numpy as np

from reramsim.config import Config
from reramsim.ir import WeightLayer
from reramsim.mapping.base import (
    MIN_CROSSBARS,
    LayerMapping,
    check_options,
    register_mapper,
    tile_crossbars,
)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def dense_crossbar_count(rows: int, cols: int, groups: int, config: Config) -> int:
    """The closed-form crossbar count of the dense mapping (see the module doc)."""
    xbar = config.crossbar
    return (groups * ceil_div(rows, xbar.rows) * ceil_div(cols * config.slices, xbar.cols)
            * config.polarities)


def balanced_block(n: int, capacity: int, ou: int, blocks: int = 0) -> int:
    """Lines per block when ``n`` lines are cut into ``blocks`` blocks of whole OUs.

    ``blocks`` defaults to (and is at least) ``ceil(n / capacity)``, and at most one OU
    per block: ``ceil(ceil(n / ou) / blocks) * ou``, capped at ``capacity``. E.g.
    ``n = 144``, ``capacity = 128``, ``ou = 16``: 9 OU rows over 2 blocks -> 5 per
    block -> 80 lines. Every block but the last is full; ``ceil(n / block)`` blocks.
    """
    least = ceil_div(n, capacity)
    blocks = min(max(blocks, least), ceil_div(n, ou))
    block = min(capacity, ceil_div(ceil_div(n, ou), blocks) * ou)
    return block if (least - 1) * block < n else capacity


@register_mapper("dense")
def map_dense(layer: WeightLayer, config: Config, options: dict | None = None) -> LayerMapping:
    """Tile every group's matrix into crossbars and OUs.

    ``options`` may hold ``min_crossbars`` (:data:`reramsim.mapping.base.MIN_CROSSBARS`):
    cut the matrix into more, smaller blocks (more row blocks first, then bit-line
    blocks, whole OUs each) until the layer has at least that many crossbars or every
    block is one OU: the same OUs, spread (copies of layers use spare crossbars this way
    when a layer has too few pixels to copy, :mod:`reramsim.replication`).
    """
    options = options or {}
    check_options(f"layer {layer.name} (dense)", options, (MIN_CROSSBARS,))
    xr, xc = config.crossbar.rows, config.crossbar.cols
    our, ouc = config.ou.rows, config.ou.cols
    s, n_pol = config.slices, config.polarities
    R, n_bitlines = layer.rows, layer.cols * s
    per_block = layer.groups * n_pol
    want = ceil_div(int(options.get(MIN_CROSSBARS, 0)), per_block)
    block_bls = balanced_block(n_bitlines, xc, ouc)
    block_rows = balanced_block(R, xr, our, ceil_div(want, ceil_div(n_bitlines, block_bls)))
    row_blocks = ceil_div(R, block_rows)
    block_bls = balanced_block(n_bitlines, xc, ouc, ceil_div(want, row_blocks))
    bl_blocks = ceil_div(n_bitlines, block_bls)

    # One entry per crossbar, ordered (group, row block, bit-line block, polarity).
    g, rb, bb, pol = np.meshgrid(np.arange(layer.groups), np.arange(row_blocks),
                                 np.arange(bl_blocks), np.arange(n_pol), indexing="ij")
    g, rb, bb, pol = (a.ravel() for a in (g, rb, bb, pol))
    used_rows = np.minimum(block_rows, R - rb * block_rows)
    used_bls = np.minimum(block_bls, n_bitlines - bb * block_bls)

    ou_xbar, n_wl, n_bl, row_ptr, wl, col_ptr, bl = tile_crossbars(used_rows, used_bls, config)

    rows = wl + np.repeat(rb[ou_xbar] * block_rows, n_wl).astype(np.int32)
    global_bl = bl.astype(np.int64) + np.repeat(bb[ou_xbar] * block_bls, n_bl)
    return LayerMapping(
        layer=layer.name,
        scheme="dense",
        xbar_group=g.astype(np.int32),
        xbar_polarity=np.where(pol == 0, 1, -1).astype(np.int8),
        ou_xbar=ou_xbar.astype(np.int32),
        ou_row_ptr=row_ptr,
        ou_rows=rows.astype(np.int32),
        ou_wl=wl,
        ou_col_ptr=col_ptr,
        ou_cols=(global_bl // s).astype(np.int32),
        ou_slices=(global_bl % s).astype(np.int16),
        ou_bl=bl,
    )
