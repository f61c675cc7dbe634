"""Pattern-Prune's projection: kernel patterns from a model-wide library, plus connectivity.

Pattern-Prune (the PatDNN family: Niu et al., ASPLOS 2020; Ma et al., AAAI 2020)
prunes each 3x3 kernel to a *pattern*: 4 kept positions, the centre plus 3 others,
chosen from a small library of the most frequent patterns of the model; and removes
whole kernels (*connectivity pruning*) to reach the target. Our reconstruction
(``docs/pattern.md``), every choice a parameter:

* ``pattern_weights`` (4): positions a pattern keeps, the centre always among them;
  the candidates are the ``C(8, pattern_weights - 1)`` ways to add the others (56).
* ``n_patterns`` (8): the library. Every kernel of every 3x3 layer with non-zero
  importance votes for its best candidate (centre plus its top 3 other positions);
  the ``n_patterns`` candidates with most votes (ties: most summed importance) form
  the library (:meth:`PatternPruner.prepare`, called once per projection of the
  network; a layer projected on its own builds the library from its own kernels).
* Each kernel is projected onto the library pattern that keeps most of its importance;
  then the ``keep // pattern_weights`` kernels with the largest kept importance (the
  squared L2 norm of the projected kernel) stay, the rest are removed whole. Kept:
  exactly ``pattern_weights * min(n_kernels, keep // pattern_weights)``, where ``keep``
  is the layer's budget rounded to whole kernels across the network when the driver
  projects a whole model (:func:`round_budgets`), the budget itself otherwise.
* ``other_kernels`` (``"connectivity"``): what happens to layers whose kernels are not
  3x3 (LeNet's 5x5 convs, 1x1 convs, fc layers, where a "kernel" is one weight):
  ``"connectivity"`` removes whole kernels by squared L2 norm, keeping exactly
  ``kh*kw * min(n_kernels, keep // (kh*kw))`` weights (same ``keep``; for fc and 1x1: unstructured
  magnitude pruning); ``"dense"`` leaves them unpruned, and the 3x3 layers take the
  whole network budget (an unreachable ratio is an error naming the dense layers).

Example: a kernel ``[[0, 1, 0], [9, 5, 8], [0, 7, 0]]`` (squared weights) votes for
the centre plus positions 3, 5, 7 (values 9, 8, 7); with that pattern in the library
it keeps all 29 of its 30 units of importance.
"""
from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from reramsim.prune.base import LayerTarget, Projection, Pruner, PruningError, register_pruner
from reramsim.prune.bitmaps import hex_to_mask, ids_to_text, mask_to_hex, text_to_ids
from reramsim.prune.metadata import PruningMetadataError, register_table_decoder

PATTERN_KERNEL = (3, 3)
CENTRE = 4
OTHER_KERNELS = ("connectivity", "dense")


def candidate_patterns(pattern_weights: int) -> np.ndarray:
    """``(n, 9)`` bool: the centre plus every choice of ``pattern_weights - 1`` other positions."""
    others = [i for i in range(9) if i != CENTRE]
    out = []
    for chosen in combinations(others, pattern_weights - 1):
        mask = np.zeros(9, bool)
        mask[[CENTRE, *chosen]] = True
        out.append(mask)
    return np.array(out, bool).reshape(-1, 9)


def kernels_of(scores: np.ndarray, kernel: tuple[int, int]) -> np.ndarray:
    """``(groups * cols * cin, kh*kw)``: the kernels of a ``(groups, rows, cols)`` score array.

    Kernel ``(g, j, c)`` (group, filter, input channel) is row ``(g * cols + j) * cin + c``.
    """
    groups, rows, cols = scores.shape
    size = kernel[0] * kernel[1]
    return scores.reshape(groups, rows // size, size, cols).transpose(0, 3, 1, 2).reshape(-1, size)


def mask_from_kernels(kernel_masks: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Inverse of :func:`kernels_of` for bool kernel masks."""
    groups, rows, cols = shape
    size = kernel_masks.shape[1]
    return kernel_masks.reshape(groups, cols, rows // size, size).transpose(0, 2, 3, 1).reshape(
        shape)


def pattern_library(kernels: np.ndarray, candidates: np.ndarray, n_patterns: int) -> np.ndarray:
    """The ``n_patterns`` candidates most voted for by ``kernels`` (module doc), ``(n, 9)``.

    A kernel's vote is the centre plus its ``k - 1`` largest other positions (ties: lowest
    position), ``k`` the candidates' size: the candidate that keeps most of its importance.
    """
    kernels = kernels[kernels.sum(axis=1) > 0]
    if not len(kernels):
        return candidates[:n_patterns]
    others = np.array([i for i in range(9) if i != CENTRE])
    k = int(candidates[0].sum())
    top = others[np.argsort(-kernels[:, others], axis=1, kind="stable")[:, :k - 1]]
    bits = np.int64(1) << np.arange(9, dtype=np.int64)
    codes = (1 << CENTRE) + bits[top].sum(axis=1)
    index = np.full(512, -1, np.int64)
    index[candidates.astype(np.int64) @ bits] = np.arange(len(candidates))
    vote = index[codes]
    energy_of = np.take_along_axis(kernels, top, axis=1).sum(axis=1) + kernels[:, CENTRE]
    votes = np.bincount(vote, minlength=len(candidates))
    energy = np.bincount(vote, energy_of, len(candidates))
    order = np.lexsort((np.arange(len(candidates)), -energy, -votes))
    return candidates[order[:n_patterns]]


def round_budgets(targets: list[LayerTarget], units: list[int]) -> list[int]:
    """Per-layer budgets rounded to whole kernels, the network total still within budget.

    Flooring every layer's budget to whole kernels would lose up to a kernel per layer at
    every gradual step, and a layer of few large kernels (LeNet's first conv: six 5x5
    kernels) would lose one at each step for good (pruned kernels score zero). So each
    layer keeps the *nearest* whole number of kernels (at most all of them), and the
    rounding surplus is taken back from the layers with the smallest kernels first (fc
    layers: single weights), so ``sum(rounded) <= sum(target.keep)``.

    Example: budgets 140 (25-weight kernels) and 1000 (1-weight kernels) become 150 and 990.
    """
    rounded = [min(t.size, int(round(t.keep / u)) * u) for t, u in zip(targets, units)]
    surplus = sum(rounded) - sum(t.keep for t in targets)
    for i in sorted(range(len(targets)), key=lambda i: (units[i], -targets[i].size)):
        if surplus <= 0:
            break
        take = min(rounded[i] // units[i], -(-surplus // units[i])) * units[i]
        rounded[i] -= take
        surplus -= take
    return rounded


def _keep_top(values: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(len(values), bool)
    out[np.argsort(-values, kind="stable")[:max(n, 0)]] = True
    return out


@register_pruner("pattern")
class PatternPruner(Pruner):
    """Pattern-Prune: library patterns in 3x3 kernels plus connectivity pruning (module doc)."""

    defaults: dict[str, Any] = {"n_patterns": 8, "pattern_weights": 4,
                                "other_kernels": "connectivity"}

    def resolve_params(self) -> None:
        p = self.params
        if not isinstance(p["pattern_weights"], (int, np.integer)) or \
                not 1 <= p["pattern_weights"] <= 9:
            raise PruningError(f"pattern: pattern_weights must be an integer in [1, 9], "
                               f"got {p['pattern_weights']!r}")
        self.candidates = candidate_patterns(int(p["pattern_weights"]))
        if not isinstance(p["n_patterns"], (int, np.integer)) or \
                not 1 <= p["n_patterns"] <= min(35, len(self.candidates)):
            raise PruningError(f"pattern: n_patterns must be an integer in "
                               f"[1, {min(35, len(self.candidates))}], got {p['n_patterns']!r}")
        if p["other_kernels"] not in OTHER_KERNELS:
            raise PruningError(f"pattern: other_kernels must be one of "
                               f"{', '.join(OTHER_KERNELS)}, got {p['other_kernels']!r}")
        p["pattern_weights"], p["n_patterns"] = int(p["pattern_weights"]), int(p["n_patterns"])
        self.library: np.ndarray | None = None
        self.budgets: dict[str, tuple[int, int]] = {}  # layer -> (budget given, rounded)

    def mode(self, target: LayerTarget) -> str:
        """``"pattern"`` for 3x3 kernels, else the ``other_kernels`` parameter."""
        if tuple(target.kernel) == PATTERN_KERNEL:
            return "pattern"
        return self.params["other_kernels"]

    def prunable(self, target: LayerTarget) -> bool:
        return self.mode(target) != "dense"

    def unit(self, target: LayerTarget) -> int:
        """Weights one kept kernel costs: ``pattern_weights`` for 3x3, else ``kh*kw``."""
        if self.mode(target) == "pattern":
            return self.params["pattern_weights"]
        return int(target.kernel[0] * target.kernel[1])

    def prepare(self, scores: dict[str, np.ndarray], targets: dict[str, LayerTarget]) -> None:
        """Build the model-wide library from every 3x3 layer's kernels, and round the
        layers' budgets to whole kernels across the network (:func:`round_budgets`)."""
        kernels = [kernels_of(scores[n], PATTERN_KERNEL) for n, t in targets.items()
                   if self.mode(t) == "pattern"]
        self.library = (pattern_library(np.concatenate(kernels), self.candidates,
                                        self.params["n_patterns"]) if kernels else None)
        pruned = [t for t in targets.values() if self.prunable(t)]
        self.budgets = dict(zip([t.name for t in pruned], zip(
            [t.keep for t in pruned], round_budgets(pruned, [self.unit(t) for t in pruned]))))

    def project(self, scores: np.ndarray, target: LayerTarget) -> Projection:
        scores = np.asarray(scores, np.float64)
        mode = self.mode(target)
        kernel = tuple(target.kernel)
        size = kernel[0] * kernel[1]
        if scores.shape[1] % size:
            raise PruningError(f"pattern: layer {target.name}: {scores.shape[1]} rows are not "
                               f"a multiple of its {kernel[0]}x{kernel[1]} kernel")
        if mode == "dense":
            if target.keep < scores.size:
                raise PruningError(f"pattern: layer {target.name} has {kernel[0]}x{kernel[1]} "
                                   "kernels, which other_kernels=dense leaves unpruned, but "
                                   f"its budget is {target.keep} of {scores.size} weights")
            return Projection(np.ones(scores.shape, bool), {"kernel": list(kernel),
                                                           "mode": "dense"})
        kernels = kernels_of(scores, kernel)
        keep, rounded = self.budgets.get(target.name, (None, None))
        keep = rounded if keep == target.keep else target.keep
        if mode == "pattern":
            library = self.library
            if library is None:
                library = pattern_library(kernels, self.candidates, self.params["n_patterns"])
            value = kernels @ library.T.astype(np.float64)
            ids = value.argmax(axis=1)
            kept = _keep_top(value[np.arange(len(ids)), ids],
                             keep // self.params["pattern_weights"])
            kernel_masks = np.where(kept[:, None], library[ids], False)
            tables = {"kernel": list(kernel), "mode": "pattern", "library": library,
                      "ids": np.where(kept, ids + 1, 0).astype(np.int32)}
        else:
            kept = _keep_top(kernels.sum(axis=1), keep // size)
            kernel_masks = np.repeat(kept[:, None], size, axis=1)
            tables = {"kernel": list(kernel), "mode": "connectivity", "kept": kept}
        mask = mask_from_kernels(kernel_masks, scores.shape)
        return Projection(mask, tables, {"kernels_kept": float(kept.sum()),
                                         "kernels": float(len(kept))})

    def encode_tables(self, projection: Projection) -> Any:
        t = projection.tables
        out = {"kernel": t["kernel"], "mode": t["mode"]}
        if t["mode"] == "pattern":
            out["library"] = [mask_to_hex(p) for p in t["library"]]
            out["ids"] = ids_to_text(t["ids"])
        elif t["mode"] == "connectivity":
            out["kept"] = mask_to_hex(t["kept"])
        return out

    def summary_notes(self, projections: dict[str, Projection]) -> list[str]:
        """What happened to each kind of kernel, for the ``reramsim prune`` summary.

        Example: ``"5x5 kernels (2 layers): whole kernels removed by L2 norm
        (other_kernels=connectivity)"``.
        """
        p = self.params
        what = {
            "pattern": f"{p['pattern_weights']} of 9 weights kept in one of "
                       f"{p['n_patterns']} library patterns, plus whole kernels removed",
            "connectivity": "whole kernels removed by L2 norm (other_kernels=connectivity)",
            "dense": "left dense (other_kernels=dense)",
        }
        kinds: dict[tuple[str, str], int] = {}
        for projection in projections.values():
            kh, kw = projection.tables["kernel"]
            kind = "fc and 1x1" if kh * kw == 1 else f"{kh}x{kw}"
            key = (kind, projection.tables["mode"])
            kinds[key] = kinds.get(key, 0) + 1
        notes = []
        for (kind, mode), n in kinds.items():
            text = what[mode]
            if kind == "fc and 1x1" and mode == "connectivity":
                text = "single weights removed by magnitude (other_kernels=connectivity)"
            notes.append(f"{kind} kernels ({n} layer{'s' if n > 1 else ''}): {text}")
        return notes


@register_table_decoder("pattern")
def decode_pattern(tables: dict[str, Any], layer: Any) -> dict[str, Any]:
    """The keep masks of one layer from Pattern-Prune's tables (``docs/pattern.md``)."""
    kernel = tuple(int(k) for k in tables["kernel"])
    size = kernel[0] * kernel[1]
    shape = (layer.groups, layer.rows, layer.cols)
    if layer.rows % size:
        raise PruningMetadataError(f"kernel {kernel} does not divide the layer's {layer.rows} "
                                   "rows")
    n_kernels = layer.groups * layer.cols * (layer.rows // size)
    mode = tables["mode"]
    if mode == "dense":
        return {"masks": list(np.ones(shape, bool)), "source": "metadata"}
    if mode == "pattern":
        library = np.array([hex_to_mask(p, size) for p in tables["library"]], bool)
        ids = text_to_ids(tables["ids"], n_kernels, len(library))
        padded = np.vstack([np.zeros((1, size), bool), library.reshape(-1, size)])
        kernel_masks = padded[ids]
    elif mode == "connectivity":
        kernel_masks = np.repeat(hex_to_mask(tables["kept"], n_kernels)[:, None], size, axis=1)
    else:
        raise PruningMetadataError(f"unknown pattern mode {mode!r}; known: pattern, "
                                   f"{', '.join(OTHER_KERNELS)}")
    return {"masks": list(mask_from_kernels(kernel_masks, shape)), "source": "metadata"}
