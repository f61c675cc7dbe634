"""AUTO-PRUNE's projection: column-vector pruning at a per-layer rate (registered ``autoprune``).

A *column vector* is ``g`` consecutive rows of one column of the layer's matrix
(``g = granularity``, default 16; see :mod:`reramsim.mapping.autoprune`). Pruning layer
``k`` at rate ``a_k`` removes exactly ``round(a_k * N_k)`` of its ``N_k`` vectors (all conv
groups together), those with the lowest L2 norm (ties: lower index first) [paper:
column-vector pruning; the norm criterion and ``g`` are our reconstruction].

Two entry points:

* :func:`vector_mask` / :func:`prune_rate`: the rate form the agent uses;
* :meth:`AutoPrunePruner.project`: the budget form of the shared fine-tuning driver; it
  keeps the longest prefix of vectors (by decreasing norm) whose weights fit the budget.
  When the pruner carries a policy (``rates`` per module and the policy's
  ``target_ratio``), :meth:`AutoPrunePruner.layer_budgets` gives the driver each layer's
  budget: the weights of its top vectors at rate ``a_k * p``, ``p`` the progress of the
  driver's sparsity schedule (1 at the target), so the final masks are the policy's.

Importing this module registers the scheme and its metadata decoder; numpy only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from reramsim.mapping.autoprune import (
    DEFAULT_GRANULARITY,
    MappingError,
    check_granularity,
    expand_vector_mask,
    n_blocks,
)
from reramsim.prune.base import LayerTarget, Projection, Pruner, PruningError, register_pruner
from reramsim.prune.metadata import PruningMetadataError, register_table_decoder


def check_rate(rate: float, where: str) -> float:
    """``rate`` as a float in [0, 1]; raises PruningError naming ``where`` otherwise."""
    try:
        value = float(rate)
    except (TypeError, ValueError):
        raise PruningError(f"{where}: pruning rate must be a number in [0, 1], got {rate!r}"
                           ) from None
    if not 0.0 <= value <= 1.0 or not np.isfinite(value):
        raise PruningError(f"{where}: pruning rate must be in [0, 1], got {rate!r}")
    return value


def vector_norms(scores: np.ndarray, granularity: int) -> np.ndarray:
    """Squared L2 norm of every column vector: ``(groups, n_blocks, cols)``.

    ``scores`` are ``(groups, rows, cols)`` squared weights (the driver's importance).
    """
    groups, rows, cols = scores.shape
    nb = n_blocks(rows, granularity)
    padded = np.zeros((groups, nb * granularity, cols))
    padded[:, :rows] = scores
    return padded.reshape(groups, nb, granularity, cols).sum(axis=2)


def vector_order(scores: np.ndarray, granularity: int) -> np.ndarray:
    """Flat vector indices (into ``(groups, n_blocks, cols)``), strongest first, stable."""
    norms = vector_norms(scores, granularity).ravel()
    return np.argsort(-norms, kind="stable")


def vector_mask(scores: np.ndarray, granularity: int, rate: float) -> np.ndarray:
    """``(groups, n_blocks, cols)`` bool: the vectors kept at ``rate``.

    Exactly ``round(rate * N)`` vectors are pruned (``N`` = all vectors of the layer),
    the ones with the lowest norm.

    Raises:
        PruningError: a rate outside [0, 1].
    """
    rate = check_rate(rate, "vector_mask")
    groups, rows, cols = scores.shape
    shape = (groups, n_blocks(rows, granularity), cols)
    n = int(np.prod(shape))
    keep = n - int(round(rate * n))
    flat = np.zeros(n, bool)
    flat[vector_order(scores, granularity)[:keep]] = True
    return flat.reshape(shape)


def prune_rate(scores: np.ndarray, granularity: int, rate: float) -> np.ndarray:
    """The ``(groups, rows, cols)`` weight keep mask of :func:`vector_mask`."""
    vmask = vector_mask(scores, granularity, rate)
    return np.stack([expand_vector_mask(v, scores.shape[1], granularity) for v in vmask])


def _vector_sizes(rows: int, cols: int, groups: int, granularity: int) -> np.ndarray:
    """Weights in each vector, flat over ``(groups, n_blocks, cols)``."""
    nb = n_blocks(rows, granularity)
    heights = np.full(nb, granularity)
    heights[-1] = rows - (nb - 1) * granularity
    return np.broadcast_to(heights[None, :, None], (groups, nb, cols)).ravel()


@register_pruner("autoprune")
class AutoPrunePruner(Pruner):
    """AUTO-PRUNE: column vectors of ``granularity`` rows, pruned by L2 norm."""

    defaults: dict[str, Any] = {
        "granularity": DEFAULT_GRANULARITY,
        "rates": None,  # module name -> pruning rate of the policy (None: budgets by ratio)
        "target_ratio": None,  # the network pruning ratio the policy reaches (with rates)
    }

    def resolve_params(self) -> None:
        p = self.params
        try:
            p["granularity"] = check_granularity(p["granularity"], self.config, "autoprune")
        except MappingError as err:
            raise PruningError(str(err)) from None
        if p["rates"] is not None:
            p["rates"] = {str(k): check_rate(v, f"autoprune: layer {k!r}")
                          for k, v in dict(p["rates"]).items()}
            if p["target_ratio"] is None or float(p["target_ratio"]) < 1:
                raise PruningError("autoprune: a policy (rates) needs its target_ratio >= 1")
            p["target_ratio"] = float(p["target_ratio"])

    def describe(self) -> str:
        rates = self.params["rates"]
        policy = f", {len(rates)} layer rates" if rates else ""
        return f"autoprune(granularity={self.params['granularity']}{policy}) [reconstruction]"

    def project(self, scores: np.ndarray, target: LayerTarget) -> Projection:
        """Keep the strongest vectors whose weights fit ``target.keep`` (a prefix by norm)."""
        scores = np.asarray(scores, np.float64)
        if scores.ndim != 3:
            raise PruningError(f"{target.name}: scores must be (groups, rows, cols), "
                               f"got {scores.shape}")
        g = self.params["granularity"]
        groups, rows, cols = scores.shape
        order = vector_order(scores, g)
        sizes = _vector_sizes(rows, cols, groups, g)[order]
        n_keep = int(np.searchsorted(np.cumsum(sizes), target.keep, side="right"))
        shape = (groups, n_blocks(rows, g), cols)
        flat = np.zeros(int(np.prod(shape)), bool)
        flat[order[:n_keep]] = True
        vmask = flat.reshape(shape)
        mask = np.stack([expand_vector_mask(v, rows, g) for v in vmask])
        rate = 1.0 - n_keep / max(flat.size, 1)
        return Projection(mask, {"vector_masks": list(vmask), "rate": rate},
                          {"rate": rate, "vectors": float(flat.size), "kept_vectors": n_keep})

    def layer_budgets(self, names: list[str], scores: list[np.ndarray], ratio: float
                      ) -> list[int] | None:
        """Per-layer weight budgets of the policy at network ratio ``ratio`` (module doc)."""
        rates = self.params["rates"]
        if rates is None:
            return None
        missing = [n for n in names if n not in rates]
        if missing:
            raise PruningError(f"autoprune: the policy has no rate for layer(s) {missing}")
        final = self.params["target_ratio"]
        if ratio >= final * (1 - 1e-9) or final <= 1:
            progress = 1.0
        else:
            progress = min(1.0, (1 - 1 / ratio) / (1 - 1 / final))
        g = self.params["granularity"]
        budgets = []
        for name, s in zip(names, scores):
            vmask = vector_mask(s, g, rates[name] * progress)
            groups, rows, cols = s.shape
            budgets.append(int(_vector_sizes(rows, cols, groups, g)[vmask.ravel()].sum()))
        return budgets

    def encode_tables(self, projection: Projection) -> Any:
        tables = projection.tables or {}
        return {"granularity": self.params["granularity"], "rate": tables.get("rate"),
                "groups": [encode_vector_mask(v) for v in tables.get("vector_masks", [])]}


# --------------------------------------------------------------------------- metadata


def encode_vector_mask(vmask: np.ndarray) -> str:
    """Hex of the row-major bits of a ``(n_blocks, cols)`` vector mask (``np.packbits``)."""
    return np.packbits(np.asarray(vmask, bool).ravel()).tobytes().hex()


def decode_vector_mask(text: str, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`encode_vector_mask`; raises PruningMetadataError on a bad string."""
    n = shape[0] * shape[1]
    try:
        raw = np.frombuffer(bytes.fromhex(text), np.uint8)
    except (TypeError, ValueError):
        raise PruningMetadataError("autoprune vector mask is not a hex string") from None
    if len(raw) != -(-n // 8):
        raise PruningMetadataError(f"autoprune vector mask has {len(raw) * 8} bits, expected "
                                   f"{n} ({shape[0]} blocks x {shape[1]} columns)")
    return np.unpackbits(raw)[:n].astype(bool).reshape(shape)


@register_table_decoder("autoprune")
def _decode_autoprune(tables: dict[str, Any], layer: Any) -> dict[str, Any]:
    """Mapper options of one layer from AUTO-PRUNE's tables."""
    g = int(tables["granularity"])
    if g < 1:
        raise PruningMetadataError(f"granularity must be >= 1, got {g}")
    groups = tables["groups"]
    if len(groups) != layer.groups:
        raise PruningMetadataError(f"{len(groups)} vector masks for {layer.groups} conv groups")
    shape = (n_blocks(layer.rows, g), layer.cols)
    return {"granularity": g, "vector_masks": [decode_vector_mask(t, shape) for t in groups],
            "source": "metadata"}
