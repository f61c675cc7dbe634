"""The PIM-Prune mapping: per crossbar-wide block of columns, kept rows compacted.

PIM-Prune (Chu et al., DAC 2020) prunes a layer's matrix ``M`` for crossbars: the
columns are cut into blocks as wide as a crossbar, whole rows of each block are
pruned (optionally whole columns too), and each block's kept rows are compacted into
dense crossbars, with an input row index per crossbar so the right inputs reach the
compacted word-lines. Block rules here (reconstruction, ``docs/pimprune.md``):

* ``block_cols`` weight columns per block (default ``xbar_cols // s``: one crossbar
  of bit-lines, 16 columns of 16-bit weights on 2-bit cells in 128x128 crossbars);
* the kept columns (all of them without column pruning) are cut, in order, into
  blocks of ``block_cols``; block ``k`` keeps the rows ``row_masks[k]``;
* each block is laid out by :func:`reramsim.mapping.compact.map_blocks`: its kept
  rows compacted onto consecutive word-lines, ``ceil(kept_rows / xbar_rows)``
  crossbars; the input gather, row lists and (with pruned columns) column lists are
  its data path.

The structure comes from the ONNX metadata (:class:`PimLayout` per conv group) or,
without metadata, from the zeros (:func:`pim_layout_from_matrix`): all-zero columns are
dropped as column pruning would drop them, and each block keeps the rows that have a
non-zero weight in it.

Example: a 400x120 fc layer pruned to 100 kept rows per block: 8 blocks of 16
columns (the last of 8), one crossbar each: 8 crossbars instead of the dense 32.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reramsim.config import Config
from reramsim.ir import WeightLayer
from reramsim.mapping.base import LayerMapping, MappingError, check_options, register_mapper
from reramsim.mapping.compact import Block, map_blocks

#: Per-layer options the mapper accepts (``layouts`` come from the ONNX metadata).
MAPPER_OPTIONS = ("block_cols", "layouts", "source")


@dataclass
class PimLayout:
    """PIM-Prune's structure of one conv group's matrix.

    Attributes:
        block_cols: weight columns per block.
        columns: ``(n_kept_cols,)`` ascending kept columns (all columns without column pruning).
        row_masks: ``(n_blocks, rows)`` bool, the rows block ``k`` keeps; block ``k`` holds
            ``columns[k*block_cols:(k+1)*block_cols]``.
    """

    block_cols: int
    columns: np.ndarray
    row_masks: np.ndarray

    def block_columns(self) -> list[np.ndarray]:
        """The columns of each block, in block order."""
        return [self.columns[k:k + self.block_cols]
                for k in range(0, len(self.columns), self.block_cols)]

    def mask(self, rows: int, cols: int) -> np.ndarray:
        """The ``(rows, cols)`` keep mask the layout implies."""
        out = np.zeros((rows, cols), bool)
        for keep_rows, block in zip(self.row_masks, self.block_columns()):
            out[np.ix_(keep_rows, block)] = True
        return out


def default_block_cols(config: Config | None) -> int:
    """Weight columns whose bit-lines fill one crossbar: ``max(1, xbar_cols // s)`` (16 default)."""
    if config is None:
        return 16
    return max(1, config.crossbar.cols // config.slices)


def n_blocks(n_columns: int, block_cols: int) -> int:
    return -(-n_columns // block_cols)


def pim_layout_from_matrix(matrix: np.ndarray, block_cols: int) -> PimLayout:
    """Recover a layout from the zeros: non-zero columns in blocks, each block's non-zero rows."""
    nonzero = matrix != 0
    columns = np.flatnonzero(nonzero.any(axis=0)).astype(np.int32)
    layout = PimLayout(block_cols, columns, np.zeros((0, matrix.shape[0]), bool))
    layout.row_masks = np.array([nonzero[:, cols].any(axis=1) for cols in layout.block_columns()],
                                bool).reshape(-1, matrix.shape[0])
    return layout


def check_pim_layout(layout: PimLayout, rows: int, cols: int, where: str) -> None:
    """Raise MappingError unless the layout fits a ``rows x cols`` matrix."""
    c = np.asarray(layout.columns)
    if layout.block_cols < 1:
        raise MappingError(f"{where}: block_cols must be >= 1, got {layout.block_cols}")
    if len(c) and (c.min() < 0 or c.max() >= cols or np.any(np.diff(c) <= 0)):
        raise MappingError(f"{where}: kept columns must be ascending and in [0, {cols})")
    want = (n_blocks(len(c), layout.block_cols), rows)
    if layout.row_masks.shape != want:
        raise MappingError(f"{where}: row masks are {layout.row_masks.shape[0]}x"
                           f"{layout.row_masks.shape[1]}, expected {want[0]} blocks x {rows} rows")


@register_mapper("pimprune")
def map_pimprune(layer: WeightLayer, config: Config, options: dict | None = None
                 ) -> LayerMapping:
    """Map a (pruned) layer block by block with compacted rows (module doc).

    Args:
        options: ``{}`` (recover the layout from the zeros, ``block_cols`` from the config)
            or ``block_cols`` and/or ``layouts`` (one :class:`PimLayout` per conv group).

    Raises:
        MappingError: unknown options, or a layout that does not fit or cover the weights.
    """
    options = options or {}
    where = f"layer {layer.name} (pimprune)"
    check_options(where, options, MAPPER_OPTIONS)
    layouts = options.get("layouts")
    if layouts is None:
        width = int(options.get("block_cols") or default_block_cols(config))
        layouts = [pim_layout_from_matrix(m, width) for m in layer.matrices()]
    elif len(layouts) != layer.groups:
        raise MappingError(f"{where}: {len(layouts)} layouts for {layer.groups} conv groups")
    blocks = []
    for g, layout in enumerate(layouts):
        check_pim_layout(layout, layer.rows, layer.cols, where)
        blocks += [Block(g, np.flatnonzero(keep), cols)
                   for keep, cols in zip(layout.row_masks, layout.block_columns())]
    kept_rows = [len(b.rows) for b in blocks]
    return map_blocks(layer, config, "pimprune", blocks, {
        "block_cols": layouts[0].block_cols if layouts else default_block_cols(config),
        "source": options.get("source", "metadata" if "layouts" in options else "zeros"),
        "kept_columns": sum(len(lay.columns) for lay in layouts),
        "mean_kept_rows": float(np.mean(kept_rows)) if kept_rows else 0.0,
        "reconstruction": True,
    })
