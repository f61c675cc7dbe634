"""Hybrid-P's projection (reconstruction): whole rows and whole columns over the matrix.

SegPrune's abstract compares against "Hybrid-P"; the paper could not be identified, so
this scheme is a **reconstruction** (``docs/hybridp.md``) of what the name and the
comparison suggest: a structured *hybrid* of row pruning (input channel slices, one
matrix row ``(c, ky, kx)`` each) and column pruning (filters) over each conv group's
whole matrix, the kept sub-matrix compacted into fewer crossbars.

Selection: maximise the kept importance ``sum_{i in rows, j in cols} S_ij`` with
``|rows| * |cols| <= keep``. For each candidate column count ``n_c`` (all of them up
to ``search_points`` values, else ``search_points`` values spread geometrically over
``1..C``) with ``n_r = min(R, keep // n_c)``: start from the ``n_c`` columns of largest
score, then alternate ``refine_iters`` times: the ``n_r`` best rows on those columns,
the ``n_c`` best columns on those rows; take the ``n_r`` best rows on the final columns
and keep the candidate of largest kept importance (sums in float32).
The kept count is ``n_r * n_c <= keep``; it is not exact (a product of two counts).

Example: scores ``[[5, 5, 0], [5, 5, 0], [1, 1, 9]]`` with ``keep = 4``: ``n_c = 2``
keeps rows {0, 1} x columns {0, 1} (importance 20), better than ``n_c = 1``
(column 0, all rows: 11) and ``n_c = 3`` (row 2: 11).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from reramsim.mapping.hybridp import HybridLayout
from reramsim.prune.base import LayerTarget, Projection, Pruner, PruningError, register_pruner
from reramsim.prune.bitmaps import hex_to_mask, mask_to_hex
from reramsim.prune.metadata import PruningMetadataError, register_table_decoder
from reramsim.prune.segprune import _split_budget


@register_pruner("hybridp")
class HybridPPruner(Pruner):
    """Hybrid-P (reconstruction): whole rows and columns of each matrix (module doc)."""

    defaults: dict[str, Any] = {"search_points": 24, "refine_iters": 1}

    def resolve_params(self) -> None:
        for key, lo in (("search_points", 1), ("refine_iters", 0)):
            value = self.params[key]
            if not isinstance(value, (int, np.integer)) or value < lo:
                raise PruningError(f"hybridp: {key} must be an integer >= {lo}, got {value!r}")
            self.params[key] = int(value)

    def project(self, scores: np.ndarray, target: LayerTarget) -> Projection:
        scores = np.asarray(scores, np.float64)
        share = _split_budget(target.keep, scores.shape[0], scores.shape[1] * scores.shape[2])
        layouts = [hybrid_project(s, k, self.params["search_points"], self.params["refine_iters"])
                   for s, k in zip(scores, share)]
        return Projection(np.stack([lay.mask() for lay in layouts]), layouts,
                          {"kept_rows": float(sum(lay.rows.sum() for lay in layouts)),
                           "kept_columns": float(sum(lay.cols.sum() for lay in layouts))})

    def encode_tables(self, projection: Projection) -> Any:
        return {"groups": [{"rows": mask_to_hex(lay.rows), "columns": mask_to_hex(lay.cols)}
                           for lay in projection.tables]}


def _top(values: np.ndarray, n: int) -> np.ndarray:
    """Bool mask of the ``n`` largest entries (ties broken by the selection algorithm)."""
    out = np.zeros(len(values), bool)
    if n >= len(values):
        out[:] = True
    elif n > 0:
        out[np.argpartition(-values, n - 1)[:n]] = True
    return out


def hybrid_project(scores: np.ndarray, keep: int, search_points: int = 24,
                   refine_iters: int = 1) -> HybridLayout:
    """Hybrid-P's projection of one ``(rows, cols)`` score matrix (module doc)."""
    rows, cols = scores.shape
    if keep >= rows * cols:
        return HybridLayout(np.ones(rows, bool), np.ones(cols, bool))
    best = HybridLayout(np.zeros(rows, bool), np.zeros(cols, bool))
    if keep <= 0:
        return best
    limit = min(cols, keep)
    if limit <= search_points:
        candidates = np.arange(1, limit + 1)
    else:
        candidates = np.unique(np.round(np.geomspace(1, limit, search_points)).astype(int))
    best_value = -1.0
    scores = np.ascontiguousarray(scores, np.float32)  # one contiguous copy: fast matvecs
    column_score = scores.sum(axis=0)
    for n_c in candidates:
        n_r = min(rows, keep // int(n_c))
        col_mask = _top(column_score, int(n_c))
        for _ in range(refine_iters):  # float masks: matmul on BLAS
            row_mask = _top(scores @ col_mask.astype(scores.dtype), n_r)
            col_mask = _top(row_mask.astype(scores.dtype) @ scores, int(n_c))
        row_score = scores @ col_mask.astype(scores.dtype)
        row_mask = _top(row_score, n_r)
        value = float(row_score[row_mask].sum())
        if value > best_value:
            best, best_value = HybridLayout(row_mask, col_mask), value
    return best


@register_table_decoder("hybridp")
def decode_hybridp(tables: dict[str, Any], layer: Any) -> dict[str, Any]:
    """Mapper options of one layer from Hybrid-P's tables (format in ``docs/hybridp.md``)."""
    groups = tables["groups"]
    if len(groups) != layer.groups:
        raise PruningMetadataError(f"{len(groups)} layouts for {layer.groups} conv groups")
    layouts = [HybridLayout(hex_to_mask(g["rows"], layer.rows), hex_to_mask(g["columns"],
                                                                             layer.cols))
               for g in groups]
    return {"layouts": layouts, "source": "metadata"}
