"""PIM-Prune's projection: whole rows of crossbar-wide column blocks, optionally whole columns.

PIM-Prune (Chu et al., DAC 2020) prunes at the granularity crossbars can exploit: the
matrix's columns are cut into blocks one crossbar wide, and whole rows of a block (the
*row segment* of that block) are removed, so each block's kept rows compact into
fewer crossbars. Our reconstruction of the selection (``docs/pimprune.md``):

* ``block_cols`` (default ``xbar_cols // s`` of the config, 16 without one): columns
  per block;
* ``column_fraction`` (default 0): share of each layer's columns removed first as
  whole columns (lowest squared L2 norm), never more than the budget asks; the kept
  columns are then cut into blocks in order;
* row segments are kept greedily by their squared L2 norm (the sum of their scores),
  largest first, while they fit the budget; a segment that does not fit is skipped
  and smaller ones (the last, narrower block's) may still fill the gap. The kept
  count is therefore ``<= keep`` and within one segment of it:
  ``keep - block_cols < kept <= keep`` (unless the whole layer fits).

Example: scores ``[[9, 9, 1, 1], [1, 1, 8, 8], [2, 2, 2, 2]]`` with ``block_cols = 2``
and ``keep = 6``: segments (row, block) score 18 (0, 0), 16 (1, 1), 4 (2, 0) and
(2, 1), 2 (0, 1) and (1, 0); the first three fit: rows {0, 2} of block 0 and row {1}
of block 1, 6 weights.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from reramsim.mapping.base import MappingError
from reramsim.mapping.pimprune import PimLayout, check_pim_layout, default_block_cols, n_blocks
from reramsim.prune.base import LayerTarget, Projection, Pruner, PruningError, register_pruner
from reramsim.prune.bitmaps import hex_to_mask, mask_to_hex
from reramsim.prune.metadata import PruningMetadataError, register_table_decoder
from reramsim.prune.segprune import _split_budget


@register_pruner("pimprune")
class PimPrunePruner(Pruner):
    """PIM-Prune: row segments of crossbar-wide column blocks (module doc)."""

    defaults: dict[str, Any] = {"block_cols": None, "column_fraction": 0.0}

    def resolve_params(self) -> None:
        p = self.params
        if p["block_cols"] is None:
            p["block_cols"] = default_block_cols(self.config)
        if not isinstance(p["block_cols"], (int, np.integer)) or p["block_cols"] < 1:
            raise PruningError(f"pimprune: block_cols must be an integer >= 1, "
                               f"got {p['block_cols']!r}")
        p["block_cols"] = int(p["block_cols"])
        if not isinstance(p["column_fraction"], (int, float)) or not \
                0 <= p["column_fraction"] < 1:
            raise PruningError(f"pimprune: column_fraction must be in [0, 1), "
                               f"got {p['column_fraction']!r}")
        p["column_fraction"] = float(p["column_fraction"])

    def project(self, scores: np.ndarray, target: LayerTarget) -> Projection:
        scores = np.asarray(scores, np.float64)
        share = _split_budget(target.keep, scores.shape[0], scores.shape[1] * scores.shape[2])
        layouts = [pim_project(s, k, self.params["block_cols"], self.params["column_fraction"])
                   for s, k in zip(scores, share)]
        masks = np.stack([lay.mask(*scores.shape[1:]) for lay in layouts])
        kept_rows = [int(lay.row_masks.sum(axis=1).mean()) if len(lay.row_masks) else 0
                     for lay in layouts]
        return Projection(masks, layouts, {"mean_kept_rows": float(np.mean(kept_rows))})

    def encode_tables(self, projection: Projection) -> Any:
        return {"block_cols": self.params["block_cols"],
                "groups": [{"columns": mask_to_hex(_column_mask(lay, mask.shape[1])),
                            "rows": [mask_to_hex(m) for m in lay.row_masks]}
                           for lay, mask in zip(projection.tables, projection.mask)]}


def _column_mask(layout: PimLayout, cols: int) -> np.ndarray:
    out = np.zeros(cols, bool)
    out[layout.columns] = True
    return out


def pim_project(scores: np.ndarray, keep: int, block_cols: int, column_fraction: float = 0.0
                ) -> PimLayout:
    """PIM-Prune's projection of one ``(rows, cols)`` score matrix (module doc)."""
    rows, cols = scores.shape
    keep = max(0, min(int(keep), rows * cols))
    n_drop = min(int(round(column_fraction * cols)), cols - -(-keep // rows)) if rows else 0
    order = np.argsort(scores.sum(axis=0), kind="stable")
    columns = np.sort(order[max(n_drop, 0):]).astype(np.int32)
    layout = PimLayout(block_cols, columns, np.zeros((n_blocks(len(columns), block_cols), rows),
                                                     bool))
    blocks = layout.block_columns()
    seg_score = np.array([scores[:, c].sum(axis=1) for c in blocks]).reshape(len(blocks), rows)
    seg_size = np.repeat([len(c) for c in blocks], rows)
    ranked = np.argsort(-seg_score.ravel(), kind="stable")
    total = np.cumsum(seg_size[ranked])
    n_first = int(np.searchsorted(total, keep, side="right"))
    take = list(ranked[:n_first])
    room = keep - (int(total[n_first - 1]) if n_first else 0)
    for unit in ranked[n_first:]:  # only narrower segments can still fit
        if seg_size[unit] <= room:
            take.append(unit)
            room -= int(seg_size[unit])
    layout.row_masks.ravel()[np.asarray(take, np.int64)] = True
    return layout


@register_table_decoder("pimprune")
def decode_pimprune(tables: dict[str, Any], layer: Any) -> dict[str, Any]:
    """Mapper options of one layer from PIM-Prune's tables (format in ``docs/pimprune.md``)."""
    width = int(tables["block_cols"])
    groups = tables["groups"]
    if len(groups) != layer.groups:
        raise PruningMetadataError(f"{len(groups)} layouts for {layer.groups} conv groups")
    layouts = []
    for g in groups:
        columns = np.flatnonzero(hex_to_mask(g["columns"], layer.cols)).astype(np.int32)
        rows = np.array([hex_to_mask(text, layer.rows) for text in g["rows"]], bool)
        layout = PimLayout(width, columns, rows.reshape(len(g["rows"]), layer.rows))
        try:
            check_pim_layout(layout, layer.rows, layer.cols, "pimprune tables")
        except MappingError as err:
            raise PruningMetadataError(str(err)) from None
        layouts.append(layout)
    return {"block_cols": width, "layouts": layouts, "source": "metadata"}
