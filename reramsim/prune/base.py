"""The interface every pruning scheme shares: a *projection* in a registry.

A scheme is a :class:`Pruner`: given one layer's importance scores (in the matrix
view of :mod:`reramsim.ir`, one ``(rows, cols)`` matrix per conv group) and the
number of weights to keep, :meth:`Pruner.project` returns the keep mask of the
nearest weights that obey the scheme's structure, plus the tables the scheme's
mapper needs (SegPrune: shape tables and shape ids). One fine-tuning driver
(:mod:`reramsim.prune.finetune`) and one exporter (:mod:`reramsim.prune.export`)
serve every scheme; the mapper of the same name (:mod:`reramsim.mapping`) turns the
exported weights and tables into crossbars.

This module is numpy-only (no torch), so the simulator side can import it.
Register a scheme with ``@register_pruner("name")`` on a :class:`Pruner` subclass.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

from reramsim import ReramsimError
from reramsim.config import Config
from reramsim.registry import Registry


class PruningError(ReramsimError):
    """Bad pruning parameters, targets or checkpoints."""


@dataclass
class LayerTarget:
    """One prunable layer as the projection sees it.

    Attributes:
        name: the layer's name on the PyTorch side (module path, e.g. ``"3.0"``).
        groups, rows, cols: the matrix view: ``groups`` matrices of ``rows x cols``.
        keep: weights to keep in the layer (all groups together).
        kernel: ``(kh, kw)`` of a conv, ``(1, 1)`` for fc (Pattern-Prune's patterns need it).
        signs: ``(groups, rows, cols)`` sign (-1, 0, +1) of every weight, for schemes whose
            structure depends on signs (FORMS); None when the caller has none.
    """

    name: str
    groups: int
    rows: int
    cols: int
    keep: int
    kernel: tuple[int, int] = (1, 1)
    signs: np.ndarray | None = None

    @property
    def size(self) -> int:
        return self.groups * self.rows * self.cols


@dataclass
class Projection:
    """What a projection returns for one layer.

    Attributes:
        mask: ``(groups, rows, cols)`` bool keep mask in the matrix view.
        tables: scheme-specific, JSON-serialisable index data for the metadata
            (see :meth:`Pruner.encode_tables`); ``{}`` for schemes without any.
        stats: facts for progress output and reports (numbers only).
        signs: ``(groups, rows, cols)`` int8 sign every kept weight must keep (+1, -1; 0 =
            free), enforced by the fine-tuning driver like the mask; None: no constraint.
    """

    mask: np.ndarray
    tables: Any = None
    stats: dict[str, float] = field(default_factory=dict)
    signs: np.ndarray | None = None

    @property
    def n_kept(self) -> int:
        return int(self.mask.sum())


class Pruner(ABC):
    """A pruning scheme: its parameters and its projection.

    Subclasses set :attr:`scheme` (the registry name, also the mapper's name) and
    :attr:`defaults` (parameter name -> default; every reconstruction choice is one),
    and implement :meth:`project`. ``config`` is the target hardware; schemes derive
    hardware-dependent defaults from it (SegPrune: segment height = OU rows).
    """

    scheme: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    reconstruction: ClassVar[bool] = True  # the sources do not give the full algorithm

    def __init__(self, config: Config | None = None, **params: Any) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise PruningError(f"{self.scheme}: unknown parameters {sorted(unknown)}; "
                               f"allowed: {', '.join(sorted(self.defaults))}")
        self.config = config
        self.params: dict[str, Any] = {**self.defaults,
                                       **{k: v for k, v in params.items() if v is not None}}
        self.resolve_params()

    def resolve_params(self) -> None:
        """Fill hardware-dependent defaults and check ranges (override in subclasses)."""

    @abstractmethod
    def project(self, scores: np.ndarray, target: LayerTarget) -> Projection:
        """Keep mask of the weights to keep, obeying the scheme's structure.

        Args:
            scores: ``(groups, rows, cols)`` non-negative importance of every weight.
            target: the layer; ``target.keep`` is an upper bound on the weights kept.

        Returns:
            a :class:`Projection` with ``mask.sum() <= target.keep``.
        """

    # -- optional hooks (used by Pattern-Prune and AUTO-PRUNE) ---------------------------------

    def prunable(self, target: LayerTarget) -> bool:
        """Whether the scheme prunes this layer at all; False: it stays dense and the
        other layers share the network's budget (see :func:`allocate_prunable`)."""
        return True

    def prepare(self, scores: dict[str, np.ndarray], targets: dict[str, LayerTarget]) -> None:
        """Called before the layers of one network are projected, with every layer's
        scores and target: model-wide choices (Pattern-Prune's pattern library) go here."""

    def summary_notes(self, projections: dict[str, Projection]) -> list[str]:
        """Lines for the ``reramsim prune`` summary on how layers were treated (default none)."""
        return []

    def layer_budgets(self, names: list[str], scores: list[np.ndarray], ratio: float
                      ) -> list[int] | None:
        """Weights to keep per layer when the scheme sets them itself (AUTO-PRUNE's policy).

        ``None`` (the default): the driver allocates budgets for network ratio ``ratio``
        with :func:`allocate`.
        """
        return None

    # ------------------------------------------------------------------------------------------

    def encode_tables(self, projection: Projection) -> Any:
        """The JSON form of ``projection.tables`` for the ONNX metadata."""
        return projection.tables if projection.tables is not None else {}

    def describe(self) -> str:
        """One line naming the scheme and its parameters, for output."""
        params = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        note = " [reconstruction]" if self.reconstruction else ""
        return f"{self.scheme}({params}){note}"


PRUNERS: Registry[type[Pruner]] = Registry("pruning scheme", PruningError)
registered_pruners = PRUNERS.names


def register_pruner(name: str) -> Callable[[type[Pruner]], type[Pruner]]:
    """Register a :class:`Pruner` subclass under ``name`` (refuses duplicates)."""

    def decorate(cls: type[Pruner]) -> type[Pruner]:
        cls.scheme = name
        return PRUNERS.register(name)(cls)

    return decorate


def get_pruner(name: str, config: Config | None = None, **params: Any) -> Pruner:
    """An instance of scheme ``name``; an unknown name lists the registered ones."""
    return PRUNERS.get(name)(config, **params)


# --------------------------------------------------------------------------- matrix view


def matrix_view(weight: np.ndarray, groups: int = 1) -> np.ndarray:
    """``(groups, rows, cols)`` view of a conv ``(Cout, Cin/g, kh, kw)`` or fc ``(Cout, Cin)``.

    Row order (c, ky, kx), column = filter within its group, as :meth:`WeightLayer.matrix`.
    """
    cout = weight.shape[0]
    return weight.reshape(groups, cout // groups, -1).transpose(0, 2, 1)


def from_matrix_view(matrices: np.ndarray, weight_shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`matrix_view`: back to the weight's own shape."""
    groups, rows, cols = matrices.shape
    return matrices.transpose(0, 2, 1).reshape(weight_shape)


# --------------------------------------------------------------------------- allocation


ALLOCATIONS = ("uniform", "lamp", "latency")


def allocate(scores: list[np.ndarray], sizes: list[int], target_ratio: float,
             method: str = "lamp", min_keep: int = 1,
             pixels: list[int] | None = None) -> list[int]:
    """Weights to keep per layer so that ``sum(sizes) / sum(keep) >= target_ratio``.

    Args:
        scores: each layer's importance scores (any shape, non-negative).
        sizes: each layer's weight count (``scores[i].size``).
        target_ratio: the network pruning ratio, dense weights / kept weights (>= 1).
        method: ``"uniform"``: every layer keeps the same fraction; ``"lamp"``: one
            global threshold on LAMP scores (Lee et al., ICLR 2021: a weight's squared
            score over the sum of the squared scores not smaller than it in its layer),
            which is scale-free per layer and keeps more of small, sensitive layers;
            ``"latency"``: the same global threshold on LAMP score per unit of time,
            ``lamp / (pixels_k / mean pixels)``: a kept weight of layer ``k`` costs an
            OU-step share on every one of its ``pixels_k`` output pixels, so the
            many-pixel layers that bound the pipeline are pruned harder (a knapsack
            rule: importance per cycle).
        min_keep: every layer keeps at least this many weights.
        pixels: each layer's output pixels per image (``"latency"`` only).

    Raises:
        PruningError: ratio below 1, unknown method, or ``"latency"`` without pixels.

    Example: two layers of 100 and 900 weights at ratio 4 keep 25 and 225 with
    ``"uniform"``.
    """
    if target_ratio < 1:
        raise PruningError(f"target ratio must be >= 1, got {target_ratio}")
    if method not in ALLOCATIONS:
        raise PruningError(f"unknown allocation {method!r}; known: {', '.join(ALLOCATIONS)}")
    if method == "latency" and (pixels is None or len(pixels) != len(sizes)
                                or min(pixels, default=1) < 1):
        raise PruningError("allocation 'latency' needs every layer's output pixels (>= 1)")
    total = int(sum(sizes))
    budget = int(np.floor(total / target_ratio + 1e-9))
    if method == "uniform":
        keep = [int(np.floor(n / target_ratio + 1e-9)) for n in sizes]
    else:
        lamp = [_lamp_scores(np.asarray(s, np.float64).ravel()) for s in scores]
        if method == "latency":
            mean = float(np.mean(pixels))
            lamp = [s * (mean / p) for s, p in zip(lamp, pixels)]
        flat = np.concatenate(lamp)
        if budget >= total:
            keep = list(sizes)
        elif budget <= 0:
            keep = [0] * len(sizes)
        else:
            threshold = np.partition(flat, total - budget)[total - budget]
            keep = [int((s > threshold).sum()) for s in lamp]
            spare = budget - sum(keep)  # ties at the threshold fill the remaining budget
            for i, s in enumerate(lamp):
                take = min(spare, int((s == threshold).sum()))
                keep[i] += take
                spare -= take
    keep = [min(n, max(k, min_keep)) for k, n in zip(keep, sizes)]
    excess = sum(keep) - budget
    if excess > 0:  # min_keep pushed the total over the budget: trim the largest layer
        i = int(np.argmax(keep))
        keep[i] = max(min(min_keep, sizes[i]), keep[i] - excess)
    return keep


def check_reachable(pruner: Pruner, targets: list[LayerTarget], target_ratio: float) -> None:
    """Raise PruningError when the layers ``pruner`` leaves dense exceed the network budget.

    Every prunable layer keeps at least one weight.
    """
    sizes = [t.size for t in targets]
    fixed = [t for t in targets if not pruner.prunable(t)]
    dense = sum(t.size for t in fixed)
    if fixed and sum(sizes) / target_ratio < dense + len(targets) - len(fixed):
        names = ", ".join(t.name for t in fixed)
        best = sum(sizes) / (dense + len(targets) - len(fixed))
        raise PruningError(f"{pruner.scheme}: ratio {target_ratio:g} is unreachable: layers "
                           f"{names} stay dense ({dense:,} of {sum(sizes):,} weights; "
                           f"{pruner.describe()}), at most {best:.2f}x")


def allocate_prunable(pruner: Pruner, scores: list[np.ndarray], targets: list[LayerTarget],
                      target_ratio: float, method: str = "lamp",
                      pixels: list[int] | None = None) -> list[int]:
    """:func:`allocate` over the layers ``pruner`` prunes; the others keep every weight.

    The network ratio counts all layers, so the prunable ones are pruned harder.

    Raises:
        PruningError: the layers left dense alone exceed the network budget
            (:func:`check_reachable`).
    """
    sizes = [t.size for t in targets]
    fixed = [i for i, t in enumerate(targets) if not pruner.prunable(t)]
    if not fixed:
        return allocate(scores, sizes, target_ratio, method, pixels=pixels)
    check_reachable(pruner, targets, target_ratio)
    free = [i for i in range(len(targets)) if i not in fixed]
    budget = sum(sizes) / target_ratio - sum(sizes[i] for i in fixed)
    free_size = sum(sizes[i] for i in free)
    free_pixels = [pixels[i] for i in free] if pixels is not None else None
    kept = allocate([scores[i] for i in free], [sizes[i] for i in free],
                    max(1.0, free_size / budget), method, pixels=free_pixels) if free else []
    keep = list(sizes)
    for i, k in zip(free, kept):
        keep[i] = k
    return keep


def _lamp_scores(scores: np.ndarray) -> np.ndarray:
    """LAMP score of every entry: ``s_i / sum_{j: s_j >= s_i} s_j`` (scores are squared weights)."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    tail = np.cumsum(sorted_scores[::-1])[::-1]
    out = np.empty_like(scores)
    out[order] = np.divide(sorted_scores, tail, out=np.zeros_like(tail), where=tail > 0)
    return out
