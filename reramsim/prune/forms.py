"""FORMS's projection: polarised fragments, pruned whole (ISCA 2021, reconstructed).

What the paper states: the weights of one crossbar column *fragment* (a bit-line over
a few rows) share one sign (*polarisation*), enforced during training with ADMM, so a
crossbar stores magnitudes and a sign bit per fragment column. The pruning and the
training schedule are not fully public; this is our reconstruction (docs/sources.md
[choice], ``docs/forms.md``), every choice a parameter:

* ``fragment_rows`` ``f`` (default 8): rows are cut into row-blocks of ``f``; fragment
  ``(b, j) = M[b*f:(b+1)*f, j]``.

For a layer with importance scores ``S`` (squared, BN-folded weights) and the signs of
its weights, per conv group:

1. **Polarise.** Each fragment takes the sign whose weights hold more of its score
   (``E+ >= E-``: positive); the weights of the other sign are pruned. Polarisation is
   unchanged by BN folding, which scales whole columns.
2. **Prune whole fragments.** Fragments are ranked by their kept score per kept weight
   (``max(E+, E-) / n``, the Lagrangian gain ``E - lam*n > 0`` of SegPrune's projection at
   every threshold ``lam``) and kept whole, best first, while the budget allows; the next
   one keeps its largest weights up to the budget, so a layer keeps exactly
   ``min(keep, polarised weights)``. A filter whose fragments are all pruned is pruned
   (it takes no bit-line in the mapping); there is no separate filter step.

The projection returns ``signs``: the fine-tuning driver clamps every kept weight to
its fragment's sign after each step, and ADMM's ``Z = projection(W + U)`` obeys the same
constraint, so the polarisation holds through fine-tuning and in the exported file.

Worked example (``f = 2``, one column, ``keep = 2``)::

    w = [3, -1 | -2, -2]   fragment 0: E+ = 9 > E- = 1 -> +, keeps {3}    (9 per weight)
                           fragment 1: E- = 8          -> -, keeps {-2, -2} (4 per weight)
    fragment 0 kept whole (1 weight), fragment 1 keeps 1 of its 2 -> mask [1, 0, 1, 0]
"""
from __future__ import annotations

from typing import Any

import numpy as np

from reramsim.mapping.forms import DEFAULT_FRAGMENT_ROWS
from reramsim.mapping.segprune import block_bounds
from reramsim.prune.base import LayerTarget, Projection, Pruner, PruningError, register_pruner
from reramsim.prune.metadata import register_table_decoder


@register_pruner("forms")
class FormsPruner(Pruner):
    """FORMS: fragments of one sign, pruned whole."""

    defaults: dict[str, Any] = {"fragment_rows": DEFAULT_FRAGMENT_ROWS}

    def resolve_params(self) -> None:
        f = self.params["fragment_rows"]
        if not isinstance(f, (int, np.integer)) or f < 1:
            raise PruningError(f"forms: fragment_rows must be an integer >= 1, got {f!r}")
        if self.config is not None and f > self.config.ou.rows:
            raise PruningError(f"forms: fragment_rows {f} exceeds the {self.config.ou.rows} OU "
                               f"rows of config '{self.config.name}' (an OU reads one fragment)")
        self.params["fragment_rows"] = int(f)

    def project(self, scores: np.ndarray, target: LayerTarget) -> Projection:
        """Polarise and prune fragments of every conv group (budget shared by size)."""
        scores = np.asarray(scores, np.float64)
        if scores.ndim != 3:
            raise PruningError(f"{target.name}: scores must be (groups, rows, cols), "
                               f"got {scores.shape}")
        if target.signs is None or np.shape(target.signs) != scores.shape:
            raise PruningError(f"{target.name}: forms needs the sign of every weight "
                               f"(LayerTarget.signs of shape {scores.shape})")
        groups, rows, cols = scores.shape
        share = [target.keep // groups + (1 if g < target.keep % groups else 0)
                 for g in range(groups)]
        masks, signs = [], []
        for g in range(groups):
            mask, sign = polarised_fragments(scores[g], np.sign(target.signs[g]), share[g],
                                             self.params["fragment_rows"])
            masks.append(mask)
            signs.append(sign)
        mask = np.stack(masks)
        f = self.params["fragment_rows"]
        n_frag = sum(len(block_bounds(rows, f)) * cols for _ in range(groups))
        kept_frag = sum(int(_fragment_any(m, f).sum()) for m in masks)
        stats = {"fragments_kept": float(kept_frag), "fragments": float(n_frag),
                 "energy_kept": float(scores[mask].sum()), "energy": float(scores.sum())}
        return Projection(mask, {"fragment_rows": f}, stats, np.stack(signs) * mask)


def polarised_fragments(scores: np.ndarray, signs: np.ndarray, keep: int, fragment_rows: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-2 of the module doc on one ``(rows, cols)`` matrix.

    Args:
        scores: non-negative importance; signs: -1/0/+1 sign of every weight (0: an
            exact zero, never kept); keep: the budget; fragment_rows: ``f``.

    Returns:
        ``(mask, sign)``: the ``(rows, cols)`` keep mask (``min(keep, polarised weights)``
        weights) and the ``(rows, cols)`` int8 sign of every weight's fragment.
    """
    rows, cols = scores.shape
    bounds = block_bounds(rows, fragment_rows)
    frag_sign = np.ones((len(bounds), cols), np.int8)
    members = np.zeros((rows, cols), bool)
    for b, (start, stop) in enumerate(bounds):
        s, sg = scores[start:stop], signs[start:stop]
        e_pos, e_neg = (s * (sg > 0)).sum(axis=0), (s * (sg < 0)).sum(axis=0)
        frag_sign[b] = np.where(e_pos >= e_neg, 1, -1)
        members[start:stop] = sg == frag_sign[b]
    sign = np.repeat(frag_sign, [stop - start for start, stop in bounds], axis=0)
    block_of = np.repeat(np.arange(len(bounds)), [stop - start for start, stop in bounds])
    frag_id = block_of[:, None] * cols + np.arange(cols)[None, :]  # (rows, cols)
    n = np.bincount(frag_id[members], minlength=len(bounds) * cols)
    energy = np.bincount(frag_id[members], scores[members], minlength=len(bounds) * cols)
    density = np.divide(energy, n, out=np.full(len(n), -1.0), where=n > 0)
    rank = np.empty(len(n), np.int64)
    rank[np.argsort(-density, kind="stable")] = np.arange(len(n))
    # members in fragment order, each fragment's largest first: the first `keep` are kept
    cells = np.flatnonzero(members.ravel())
    cells = cells[np.lexsort((-scores.ravel()[cells], rank[frag_id.ravel()[cells]]))]
    mask = np.zeros(rows * cols, bool)
    mask[cells[:max(0, int(keep))]] = True
    return mask.reshape(rows, cols), sign


def _fragment_any(mask: np.ndarray, fragment_rows: int) -> np.ndarray:
    """``(n_blocks, cols)``: fragments holding a kept weight."""
    return np.stack([mask[a:b].any(axis=0) for a, b in block_bounds(len(mask), fragment_rows)])


@register_table_decoder("forms")
def _decode_forms(tables: dict[str, Any], layer: Any) -> dict[str, Any]:
    """Mapper options of one layer from FORMS's tables (``{"fragment_rows": f}``)."""
    return {"fragment_rows": int(tables["fragment_rows"]), "source": "metadata"}
