"""SegPrune's projection: projection-based shape voting (TCAD 2022, reconstructed).

What the paper states: segments (sub-columns of a filter over a run of rows) that
share a *shape* are pruned alike; a *projection-based shape voting* algorithm picks
the shapes. The algorithm itself is not public; this is our reconstruction
(docs/sources.md, SegPrune [choice]), every choice a parameter:

* ``segment_height`` ``h`` (default: the config's OU rows, 16 without a config): rows
  are cut into row-blocks of ``h``; segment ``(b, j) = M[b*h:(b+1)*h, j]``.
* ``max_shapes`` (default 8): non-empty shapes per row-block; the empty shape
  (prune the whole segment) is always available and costs no table entry.

For a layer with importance scores ``S`` (squared, BN-folded weights by default) and
a budget of ``keep`` weights, every decision is scored by one Lagrangian: a segment
assigned shape ``sigma`` gains ``sum_{i in sigma} (S_ij - lam)``, where ``lam`` is
the per-weight threshold that meets the budget. Per row-block:

1. **Vote.** Every segment proposes its own best mask, ``{i: S_ij > lam}`` (its top-k
   weights by importance, ``k`` set by the threshold). The ``max_shapes`` masks with
   the most votes (segments proposing them; ties broken by their kept energy) become
   the candidates.
2. **Project.** Each segment takes the candidate with the largest gain, or the empty
   shape when no gain is positive (its kept energy would not pay for its weights,
   i.e. its norm is below the threshold). With shapes of one size this is "keep the
   most squared magnitude" as docs/sources.md words it.
3. **Recount.** Each candidate is re-derived from the segments assigned to it, their
   votes weighted by kept energy: row ``i`` stays in the shape when its summed score
   over the members exceeds ``lam`` times the member count (the best shape for those
   members). Candidates left without members are dropped, duplicates merged, and free
   slots refilled with the proposals most voted by the segments that lose most energy
   to the current set. Steps 2-3 repeat until the set stops changing (the objective
   never decreases) or ``max_iters``.

Then ``lam`` is re-tuned by bisection so that the kept count meets the budget
(``<= keep``; the kept count is monotone in ``lam``), and 1-3 rerun at the new
threshold (``outer_iters`` rounds). The fine-tuning driver calls the projection
again as sparsity rises, so shapes are re-voted on the fine-tuned weights.

Worked example (``h = 4``, one block, 3 segments, ``keep = 4``)::

    S = [[9, 8, 0],      lam = 0.5 (4 largest scores: 9, 8, 8, 7)
         [8, 7, 0],      proposals: seg0 {0,1}, seg1 {0,1}, seg2 {} -> candidate {0,1} (2 votes)
         [0, 0, 1],      projection: seg0, seg1 -> {0,1}; seg2 -> empty (no candidate gains)
         [0, 0, 0]]      kept = 4 weights, shape table [{0,1}], ids [1, 1, 0]
"""
from __future__ import annotations

from typing import Any

import numpy as np

from reramsim.mapping.segprune import DEFAULT_MAX_SHAPES, SegmentLayout, block_bounds
from reramsim.prune.base import LayerTarget, Projection, Pruner, PruningError, register_pruner
from reramsim.prune.metadata import (
    PruningMetadataError,
    decode_layout,
    encode_layout,
    register_table_decoder,
)


@register_pruner("segprune")
class SegPrunePruner(Pruner):
    """SegPrune: segments of a row-block pruned with one of a few shared shapes."""

    defaults: dict[str, Any] = {
        "segment_height": None,  # None: the config's OU rows (16 without a config)
        "max_shapes": DEFAULT_MAX_SHAPES,
        "max_iters": 20,
        "outer_iters": 3,
    }

    def resolve_params(self) -> None:
        p = self.params
        if p["segment_height"] is None:
            p["segment_height"] = self.config.ou.rows if self.config is not None else 16
        for key, lo in (("segment_height", 1), ("max_shapes", 1), ("max_iters", 1),
                        ("outer_iters", 1)):
            if not isinstance(p[key], (int, np.integer)) or p[key] < lo:
                raise PruningError(f"segprune: {key} must be an integer >= {lo}, got {p[key]!r}")
            p[key] = int(p[key])

    def project(self, scores: np.ndarray, target: LayerTarget) -> Projection:
        """Shape voting on every conv group; the groups share the budget in proportion to size."""
        scores = np.asarray(scores, np.float64)
        if scores.ndim != 3:
            raise PruningError(f"{target.name}: scores must be (groups, rows, cols), "
                               f"got {scores.shape}")
        groups = scores.shape[0]
        share = _split_budget(target.keep, groups, scores.shape[1] * scores.shape[2])
        layouts, masks = [], []
        stats = {"energy_kept": 0.0, "energy_kept_unstructured": 0.0, "energy": 0.0}
        for g in range(groups):
            layout, lam = shape_vote(scores[g], share[g], self.params["segment_height"],
                                     self.params["max_shapes"], self.params["max_iters"],
                                     self.params["outer_iters"])
            mask = layout.mask(scores.shape[1])
            layouts.append(layout)
            masks.append(mask)
            flat = np.sort(scores[g].ravel())[::-1]
            stats["energy"] += float(flat.sum())
            stats["energy_kept"] += float(scores[g][mask].sum())
            stats["energy_kept_unstructured"] += float(flat[:share[g]].sum())
        stats["shapes_per_block"] = float(np.mean([len(t) for lay in layouts for t in lay.shapes]))
        return Projection(np.stack(masks), layouts, stats)

    def encode_tables(self, projection: Projection) -> Any:
        return {"segment_height": self.params["segment_height"],
                "groups": [encode_layout(layout) for layout in projection.tables]}


def _split_budget(keep: int, groups: int, per_group: int) -> list[int]:
    """Split ``keep`` over equal-size conv groups (the first ones take the remainder)."""
    keep = max(0, min(keep, groups * per_group))
    return [keep // groups + (1 if g < keep % groups else 0) for g in range(groups)]


# --------------------------------------------------------------------------- the algorithm


def shape_vote(scores: np.ndarray, keep: int, segment_height: int, max_shapes: int = 8,
               max_iters: int = 20, outer_iters: int = 3) -> tuple[SegmentLayout, float]:
    """Projection-based shape voting on one ``(rows, cols)`` score matrix (module doc).

    Args:
        scores: non-negative importance of every weight.
        keep: the budget; the returned layout keeps at most ``keep`` weights.
        segment_height: ``h``; max_shapes: non-empty shapes per row-block.

    Returns:
        ``(layout, lam)``: the shape tables and assignments, and the final threshold.
    """
    rows, cols = scores.shape
    bounds = block_bounds(rows, segment_height)
    if keep >= rows * cols:
        shapes = [np.ones((1, stop - start), bool) for start, stop in bounds]
        return SegmentLayout(segment_height, shapes, np.ones((len(bounds), cols), np.int32)), 0.0
    s3 = _blocks(scores, bounds, segment_height)  # (n_blocks, h, cols), zero-padded
    if keep <= 0:
        return _layout([np.zeros((0, segment_height), bool)] * len(bounds), s3, np.inf,
                       bounds, segment_height), np.inf
    flat = np.sort(scores.ravel())[::-1]
    lam = float(flat[keep])  # unstructured threshold: S > lam keeps at most `keep`
    tables: list[np.ndarray] = []
    for _ in range(outer_iters):
        tables = [_refine(s3[b], _vote(s3[b], lam, max_shapes), lam, max_shapes, max_iters)
                  for b in range(len(bounds))]
        new_lam = _bisect_threshold(tables, s3, keep)
        if np.isclose(new_lam, lam, rtol=1e-3, atol=0.0):
            lam = new_lam
            break
        lam = new_lam
    return _layout(tables, s3, lam, bounds, segment_height), lam


def _blocks(scores: np.ndarray, bounds: list[tuple[int, int]], h: int) -> np.ndarray:
    """Scores cut into row-blocks, ``(n_blocks, h, cols)``; the short last block zero-padded."""
    rows, cols = scores.shape
    padded = np.zeros((len(bounds) * h, cols))
    padded[:rows] = scores
    return padded.reshape(len(bounds), h, cols)


def _vote(s: np.ndarray, lam: float, max_shapes: int) -> np.ndarray:
    """Candidate shapes of a block: the most proposed own masks ``S > lam`` (count, energy)."""
    proposals = (s > lam).T  # (cols, h)
    energy = np.where(proposals, s.T, 0.0).sum(axis=1)
    return _top_masks(proposals, np.ones(len(proposals)), energy, max_shapes)


def _top_masks(masks: np.ndarray, votes: np.ndarray, energy: np.ndarray, n: int,
               exclude: np.ndarray | None = None) -> np.ndarray:
    """The ``n`` distinct non-empty masks with the most votes (ties: energy), ``(<=n, h)``."""
    codes = _codes(masks)
    uniq, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    total_votes = np.bincount(inverse, votes, len(uniq))
    total_energy = np.bincount(inverse, energy, len(uniq))
    keep = masks[first].any(axis=1) & (total_votes > 0)
    if exclude is not None and len(exclude):
        keep &= ~np.isin(uniq, _codes(exclude))
    order = [i for i in np.lexsort((-total_energy, -total_votes)) if keep[i]]
    return masks[first[order[:n]]].astype(bool)


def _codes(masks: np.ndarray) -> np.ndarray:
    """One hashable, sortable code per mask row: int64 bits up to 62 rows, bytes beyond."""
    masks = np.asarray(masks, bool)
    h = masks.shape[1]
    if h <= 62:
        return masks.astype(np.int64) @ (np.int64(1) << np.arange(h, dtype=np.int64))
    packed = np.ascontiguousarray(np.packbits(masks, axis=1))
    return packed.view(f"V{packed.shape[1]}").ravel()


def _unique_rows(masks: np.ndarray) -> np.ndarray:
    """The distinct rows of a ``(n, h)`` bool array, in code order."""
    _, first = np.unique(_codes(masks), return_index=True)
    return masks[np.sort(first)]


def _assign(table: np.ndarray, s: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Best candidate per segment: ``(ids, gains)``, id -1 / gain 0 for the empty shape."""
    if not len(table):
        return np.full(s.shape[1], -1), np.zeros(s.shape[1])
    gain = table.astype(np.float64) @ (s - lam)  # (n, cols)
    best = gain.argmax(axis=0)
    best_gain = gain[best, np.arange(s.shape[1])]
    return np.where(best_gain > 0, best, -1), np.maximum(best_gain, 0.0)


def _refine(s: np.ndarray, table: np.ndarray, lam: float, max_shapes: int, max_iters: int
            ) -> np.ndarray:
    """Alternate projection and recount on one block at a fixed threshold (module doc)."""
    own_gain = np.maximum(s - lam, 0.0).sum(axis=0)  # each segment's unconstrained best
    ids, gains = _assign(table, s, lam)
    best_table, best_obj = table, gains.sum()
    for _ in range(max_iters):
        new = []
        for i in range(len(table)):
            members = ids == i
            if members.any():
                shape = (s[:, members] - lam).sum(axis=1) > 0
                if shape.any():
                    new.append(shape)
        new_table = _unique_rows(np.array(new, bool).reshape(-1, s.shape[0]))
        if len(new_table) < max_shapes:  # refill with what the worst-served segments propose
            regret = own_gain - gains
            extra = _top_masks((s > lam).T, regret, regret, max_shapes - len(new_table),
                               exclude=new_table)
            new_table = np.vstack([new_table, extra]) if len(extra) else new_table
        ids, gains = _assign(new_table, s, lam)
        obj = gains.sum()
        same = (len(new_table) == len(table)
                and np.array_equal(np.sort(_codes(new_table)), np.sort(_codes(table))))
        improved = obj > best_obj * (1 + 1e-12)
        if improved:
            best_table, best_obj = new_table, obj
        if same or not improved:
            break
        table = new_table
    return best_table


def _stack(tables: list[np.ndarray], h: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad per-block tables to ``(n_blocks, n_max, h)`` plus a validity mask."""
    n_max = max([len(t) for t in tables] + [1])
    stacked = np.zeros((len(tables), n_max, h), bool)
    valid = np.zeros((len(tables), n_max), bool)
    for b, t in enumerate(tables):
        stacked[b, :len(t)] = t
        valid[b, :len(t)] = True
    return stacked, valid


def _assign_all(tables: list[np.ndarray], s3: np.ndarray, lam: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Shape ids (1-based, 0 = empty) and kept sizes of every segment at threshold ``lam``."""
    stacked, valid = _stack(tables, s3.shape[1])
    value = np.einsum("bnh,bhc->bnc", stacked.astype(np.float64), s3)
    size = stacked.sum(axis=2).astype(np.float64)  # (b, n)
    gain = np.where(valid[:, :, None], value - lam * size[:, :, None], -np.inf)
    best = gain.argmax(axis=1)  # (b, cols)
    best_gain = np.take_along_axis(gain, best[:, None, :], axis=1)[:, 0, :]
    ids = np.where(best_gain > 0, best + 1, 0).astype(np.int32)
    kept = np.where(ids > 0, np.take_along_axis(size, best, axis=1), 0)
    return ids, kept


def _bisect_threshold(tables: list[np.ndarray], s3: np.ndarray, keep: int) -> float:
    """The smallest threshold (to float precision) at which the kept count is ``<= keep``."""
    stacked, valid = _stack(tables, s3.shape[1])
    value = np.einsum("bnh,bhc->bnc", stacked.astype(np.float64), s3)
    size = stacked.sum(axis=2).astype(np.float64)[:, :, None]
    value = np.where(valid[:, :, None], value, -np.inf)

    def count(lam: float) -> int:
        gain = value - lam * size
        best = gain.argmax(axis=1)
        ok = np.take_along_axis(gain, best[:, None, :], axis=1)[:, 0, :] > 0
        return int(np.where(ok, np.take_along_axis(size[:, :, 0], best, axis=1), 0).sum())

    lo, hi = 0.0, float(s3.max()) * 1.000001 + 1e-300
    if count(lo) <= keep:
        return lo
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if count(mid) <= keep:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-12 * hi:
            break
    return hi


def _layout(tables: list[np.ndarray], s3: np.ndarray, lam: float,
            bounds: list[tuple[int, int]], h: int) -> SegmentLayout:
    """Assign every segment at ``lam``; drop unused shapes; trim tables to the block heights."""
    ids, _ = _assign_all(tables, s3, lam) if np.isfinite(lam) else (
        np.zeros((len(bounds), s3.shape[2]), np.int32), None)
    shapes, assign = [], np.zeros_like(ids)
    for b, (start, stop) in enumerate(bounds):
        used = [i for i in range(len(tables[b])) if (ids[b] == i + 1).any()]
        remap = np.zeros(len(tables[b]) + 1, np.int32)
        remap[[i + 1 for i in used]] = np.arange(1, len(used) + 1)
        assign[b] = remap[ids[b]]
        shapes.append(tables[b][used, :stop - start].reshape(len(used), stop - start))
    return SegmentLayout(h, shapes, assign)


@register_table_decoder("segprune")
def decode_tables(tables: dict[str, Any], layer: Any) -> dict[str, Any]:
    """Mapper options of one layer from the tables :meth:`SegPrunePruner.encode_tables` wrote.

    Raises:
        PruningMetadataError: a layout per conv group is missing, or a layout is malformed.
    """
    height = int(tables["segment_height"])
    groups = tables["groups"]
    if len(groups) != layer.groups:
        raise PruningMetadataError(f"{len(groups)} layouts for {layer.groups} conv groups")
    layouts = [decode_layout(g, layer.rows, layer.cols, height) for g in groups]
    return {"segment_height": height, "layouts": layouts, "source": "metadata"}
