"""Compacted blocks: the crossbar layout PIM-Prune, Hybrid-P and Pattern-Prune share.

Each of these schemes removes whole rows (inputs) and/or whole columns (filters)
from parts of a layer's matrix ``M`` and squeezes what is left together, so the
surviving weights fill dense crossbars. A :class:`Block` is one such part: the
sub-matrix ``M_g[rows, cols]`` of conv group ``g`` (``rows`` and ``cols``
ascending). The mapper of a scheme decides the blocks (PIM-Prune: one per
crossbar-wide run of columns; Hybrid-P: one per conv group; Pattern-Prune: one per
run of filters grouped by pattern); :func:`map_blocks` lays every block out as the
dense mapping lays out a whole matrix:

* ``len(cols) * s`` bit-lines, column-major (bit-line ``c*s + k`` is slice ``k`` of
  the block's ``c``-th column), and ``len(rows)`` word-lines;
* cut into ``xbar_rows x xbar_cols`` crossbars, each tiled into OUs row block by row
  block; a differential config duplicates every crossbar for the negative weights.

A block never shares a crossbar with another block: blocks differ in their rows,
so their bit-lines would sum different inputs.

The data path (a reconstruction, documented in ``docs/pimprune.md``) follows from
the layout:

* **Input gather.** A crossbar whose word-lines hold a run of consecutive matrix
  rows reads its inputs like a dense crossbar (an offset into the input buffer).
  Otherwise its rows are a sorted subset of the ``span = last - first + 1`` inputs
  from its first to its last row: those inputs are put on the crossbar's input bus
  and one ``span``:1 multiplexer per active OU row picks the input of each word-line
  (``xbar_gather_fanin = span``; an OU step routes its rows through it,
  ``ou_gather_inputs``, after 1 lookup of the OU's row-index word,
  ``ou_index_reads``).
* **Output index.** A block whose columns are not a run of consecutive filters needs
  each column's filter index to send its partial sum to the right accumulator:
  1 lookup of the OU's filter-index word per OU step.
* **Index storage.** Per block with gathered rows: its row list; per block with
  indexed columns: its column list; each as ``ceil(log2 N)``-bit indices of the
  ``N`` rows (columns) of the matrix, or an ``N``-bit bitmap when that is smaller
  (both name a sorted subset). A differential pair shares one copy.

Example: a 400x120 fc layer whose block of columns 0-15 keeps rows ``{0, 2, ..., 198}``
(100 rows, span 199) needs one 128x128 crossbar (100 word-lines x 128 bit-lines with
8 slices), a 199:1 gather per OU row, and ``min(100*9, 400) = 400`` bits of row bitmap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reramsim.config import Config
from reramsim.ir import WeightLayer
from reramsim.mapping.base import LayerMapping, MappingError, index_bits, tile_crossbars


@dataclass
class Block:
    """A compacted sub-matrix: rows ``rows`` x columns ``cols`` of group ``group``'s matrix."""

    group: int
    rows: np.ndarray  # (n_r,) int, ascending matrix rows kept
    cols: np.ndarray  # (n_c,) int, ascending matrix columns kept


def is_run(index: np.ndarray) -> bool:
    """True when ``index`` (ascending) is a run of consecutive integers (or empty)."""
    return len(index) == 0 or int(index[-1]) - int(index[0]) + 1 == len(index)


def index_list_bits(n: int, universe: int) -> int:
    """Bits that name ``n`` sorted items of ``universe``: indices or a bitmap, the smaller.

    Example: 100 of 400 rows take ``min(100 * 9, 400) = 400`` bits (the bitmap).
    """
    if n <= 0:
        return 0
    return min(n * index_bits(universe), universe)


def block_storage_bits(blocks: list[Block], rows: int, cols: int) -> dict[str, int]:
    """Index data of a layer's blocks, by kind (module doc): row lists and column lists."""
    row_bits = sum(index_list_bits(len(b.rows), rows) for b in blocks if not is_run(b.rows))
    col_bits = sum(index_list_bits(len(b.cols), cols) for b in blocks if not is_run(b.cols))
    return {"row_indices": row_bits, "column_indices": col_bits, "total": row_bits + col_bits}


def check_blocks(blocks: list[Block], layer: WeightLayer, where: str) -> None:
    """Raise MappingError unless the blocks are disjoint, in range and cover every non-zero."""
    covered = np.zeros((layer.groups, layer.rows, layer.cols), np.int32)
    for b in blocks:
        rows, cols = np.asarray(b.rows), np.asarray(b.cols)
        if not 0 <= b.group < layer.groups or (len(rows) and (rows.min() < 0
                                                              or rows.max() >= layer.rows)) \
                or (len(cols) and (cols.min() < 0 or cols.max() >= layer.cols)):
            raise MappingError(f"{where}: a block lies outside the {layer.rows}x{layer.cols} "
                               f"matrix of {layer.groups} group(s)")
        if np.any(np.diff(rows) <= 0) or np.any(np.diff(cols) <= 0):
            raise MappingError(f"{where}: block rows and columns must be strictly ascending")
        covered[b.group][np.ix_(rows, cols)] += 1
    if covered.max(initial=0) > 1:
        raise MappingError(f"{where}: two blocks hold the same weight")
    for g, matrix in enumerate(layer.matrices()):
        outside = (matrix != 0) & (covered[g] == 0)
        if outside.any():
            r, c = (int(v[0]) for v in np.nonzero(outside))
            raise MappingError(f"{where}: non-zero weight (group {g}, row {r}, col {c}) lies "
                               "outside the kept rows and columns; the pruning metadata does "
                               "not match the weights")


def map_blocks(layer: WeightLayer, config: Config, scheme: str, blocks: list[Block],
               info: dict) -> LayerMapping:
    """Lay out every block in its own crossbars, with the data path of the module doc.

    Args:
        layer: the weight layer (checked: the blocks must cover its non-zero weights).
        config: crossbar and OU sizes, bit slices, polarities.
        scheme: the mapping's scheme name.
        blocks: the compacted sub-matrices (empty blocks are skipped).
        info: scheme facts for reports; ``index_bits`` and ``blocks`` are added.

    Raises:
        MappingError: blocks that overlap, leave the matrix or miss a non-zero weight.
    """
    check_blocks(blocks, layer, f"layer {layer.name} ({scheme})")
    xr, xc = config.crossbar.rows, config.crossbar.cols
    s, n_pol = config.slices, config.polarities
    blocks = [b for b in blocks if len(b.rows) and len(b.cols)]
    row_table, bl_cols, bl_slices = [], [], []
    x_group, x_row0, x_nwl, x_bl0, x_nbl, x_gather, x_colidx = ([] for _ in range(7))
    row_off = bl_off = 0
    for b in blocks:
        rows, cols = np.asarray(b.rows, np.int32), np.asarray(b.cols, np.int32)
        col_indexed = not is_run(cols)
        row_table.append(rows)
        bl_cols.append(np.repeat(cols, s))
        bl_slices.append(np.tile(np.arange(s, dtype=np.int16), len(cols)))
        n_bl = len(cols) * s
        for r0 in range(0, len(rows), xr):
            chunk = rows[r0:r0 + xr]
            span = int(chunk[-1] - chunk[0] + 1)
            for c0 in range(0, n_bl, xc):
                x_group.append(b.group)
                x_row0.append(row_off + r0)
                x_nwl.append(len(chunk))
                x_bl0.append(bl_off + c0)
                x_nbl.append(min(xc, n_bl - c0))
                x_gather.append(0 if span == len(chunk) else span)
                x_colidx.append(col_indexed)
        row_off += len(rows)
        bl_off += n_bl
    # One entry per physical crossbar, ordered (logical crossbar, polarity) as the dense mapping.
    rep = lambda a, dt: np.repeat(np.asarray(a, dt), n_pol)  # noqa: E731
    group, row0, used_rows = rep(x_group, np.int32), rep(x_row0, np.int64), rep(x_nwl, np.int64)
    bl0, used_bls = rep(x_bl0, np.int64), rep(x_nbl, np.int64)
    fanin, col_idx = rep(x_gather, np.int32), rep(x_colidx, bool)
    polarity = np.tile(np.array([1, -1][:n_pol], np.int8), len(x_group))
    ou_xbar, n_wl, n_bl, row_ptr, wl, col_ptr, bl = tile_crossbars(used_rows, used_bls, config)
    rows_all = np.concatenate(row_table) if row_table else np.zeros(0, np.int32)
    cols_all = np.concatenate(bl_cols) if bl_cols else np.zeros(0, np.int32)
    slices_all = np.concatenate(bl_slices) if bl_slices else np.zeros(0, np.int16)
    row_pos = np.repeat(row0[ou_xbar], n_wl) + wl
    bl_pos = np.repeat(bl0[ou_xbar], n_bl) + bl
    gathers = fanin[ou_xbar] > 0
    storage = block_storage_bits(blocks, layer.rows, layer.cols)
    return LayerMapping(
        layer=layer.name,
        scheme=scheme,
        xbar_group=group,
        xbar_polarity=polarity,
        ou_xbar=ou_xbar.astype(np.int32),
        ou_row_ptr=row_ptr,
        ou_rows=rows_all[row_pos].astype(np.int32),
        ou_wl=wl,
        ou_col_ptr=col_ptr,
        ou_cols=cols_all[bl_pos].astype(np.int32),
        ou_slices=slices_all[bl_pos].astype(np.int16),
        ou_bl=bl,
        ou_index_reads=(gathers.astype(np.int32) + col_idx[ou_xbar]).astype(np.int32),
        ou_gather_inputs=np.where(gathers, n_wl, 0).astype(np.int32),
        index_storage_bits=storage["total"],
        xbar_gather_fanin=fanin,
        info={**info, "blocks": len(blocks), "index_bits": storage},
    )
