"""The agent's environment: one episode walks the layers, one action (pruning rate) per layer.

State of layer ``k`` [paper, slide "DDPG Algorithm"]::

    (k, t, inc, outc, ks, h, w, s, xb[k], xb_saved[k], xb_rest[k], a_{k-1})

``t``: conv 1, fc 0; ``inc``/``outc``: input/output channels (fc: features); ``ks``:
kernel elements ``kh*kw`` (fc 1); ``h``/``w``: input feature-map size (fc 1); ``s``:
stride (fc 1); ``xb[k]``: crossbars layer ``k`` needs dense; ``xb_saved[k]``: crossbars
saved by the actions on layers ``0..k-1`` (dense minus the mapper's count);
``xb_rest[k]``: dense crossbars of layers ``k+1..``; ``a_{k-1}``: the previous rate.
Every feature is min-max normalised [reconstruction, as AMC]: the static ones
(``k .. xb[k]``, ``xb_rest``) over the network's layers (a feature equal on all layers
is 0), ``xb_saved`` over its range ``[0, total dense crossbars]``, and the rate is
already in [0, 1].

Action: the agent's output ``u`` in [0, 1] is the rate ``a_k = u * max_rate_k``, with
``max_rate_k = max_rate`` (default 0.98), or ``edge_max_rate`` (0.5) for the first and
the last weight layer [reconstruction: AMC bounds its first layer similarly].

Reward at the end of an episode [paper]: ``(1 - 1/CR_xb)^alpha * acc_reram``; ``CR_xb``
= dense crossbars / the mapper's crossbars (:func:`reramsim.mapping.autoprune.crossbar_count`),
``acc_reram`` = top-1 of the pruned, not fine-tuned network on the validation images
through :class:`.quantized.IntegerModel` (the hardware's exact integer arithmetic), its
BatchNorm statistics re-estimated on the calibration images first, the correction applied
digitally after the crossbars [reconstruction, :mod:`.quantized`].
With ``max_drop`` (points), an episode whose ``acc_reram`` is more than ``max_drop``
points below the dense network's gets reward 0 [reconstruction].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from reramsim.config import Config
from reramsim.mapping.autoprune import check_granularity, crossbar_count
from reramsim.mapping.base import MappingError
from reramsim.mapping.dense import dense_crossbar_count
from reramsim.prune.autoprune.projection import expand_vector_mask, vector_order
from reramsim.prune.autoprune.quantized import IntegerModel
from reramsim.prune.base import PruningError, from_matrix_view
from reramsim.prune.finetune import importance, prunable_layers

STATE_NAMES = ("k", "t", "inc", "outc", "ks", "h", "w", "s", "xb", "xb_saved", "xb_rest",
               "a_prev")
N_STATE = len(STATE_NAMES)


@dataclass
class LayerInfo:
    """Static facts of one prunable layer (the state's first features, the matrix view)."""

    name: str
    conv: bool
    inc: int
    outc: int
    ks: int
    h: int
    w: int
    stride: int
    groups: int
    rows: int
    cols: int
    xb_dense: int
    weight_shape: tuple[int, ...]


def layer_table(model: nn.Module, input_shape: tuple[int, int, int], config: Config
                ) -> list[LayerInfo]:
    """The prunable layers of ``model`` with their input sizes (one forward on zeros)."""
    sizes: dict[str, tuple[int, ...]] = {}
    hooks = []
    layers = prunable_layers(model)
    for name, module in layers:
        def record(_m, args, name=name):
            sizes[name] = tuple(args[0].shape[1:])
        hooks.append(module.register_forward_pre_hook(record))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    table = []
    for name, m in layers:
        conv = isinstance(m, nn.Conv2d)
        groups = m.groups if conv else 1
        rows = int(np.prod(m.weight.shape[1:]))
        cols = int(m.weight.shape[0]) // groups
        shape = sizes[name]
        table.append(LayerInfo(
            name=name, conv=conv, inc=int(shape[0]), outc=int(m.weight.shape[0]),
            ks=int(np.prod(m.kernel_size)) if conv else 1,
            h=int(shape[1]) if conv else 1, w=int(shape[2]) if conv else 1,
            stride=int(m.stride[0]) if conv else 1, groups=groups, rows=rows, cols=cols,
            xb_dense=dense_crossbar_count(rows, cols, groups, config),
            weight_shape=tuple(m.weight.shape)))
    return table


def static_features(table: list[LayerInfo]) -> np.ndarray:
    """``(layers, 12)`` raw features with ``xb_saved = 0`` and ``a_prev = 0``."""
    dense = np.array([t.xb_dense for t in table], np.float64)
    rest = np.concatenate([np.cumsum(dense[::-1])[::-1][1:], [0.0]])
    return np.array([[k, float(t.conv), t.inc, t.outc, t.ks, t.h, t.w, t.stride, t.xb_dense,
                      0.0, rest[k], 0.0] for k, t in enumerate(table)], np.float64)


def normalise(raw: np.ndarray, total_dense: float) -> np.ndarray:
    """Min-max normalise state rows (module doc); ``raw`` is ``(n, 12)`` or ``(12,)``.

    Static columns use the min and max over the rows given (the whole layer table).
    """
    raw = np.atleast_2d(np.asarray(raw, np.float64))
    out = raw.copy()
    static = [i for i in range(N_STATE) if STATE_NAMES[i] not in ("xb_saved", "a_prev")]
    lo, hi = raw[:, static].min(axis=0), raw[:, static].max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    out[:, static] = (raw[:, static] - lo) / span
    out[:, STATE_NAMES.index("xb_saved")] = raw[:, STATE_NAMES.index("xb_saved")] / max(
        total_dense, 1.0)
    return out


class PruningEnv:
    """Layers, vector orders, the crossbar counter and the accuracy model of one search.

    Args:
        model: the trained model (not modified).
        config: the hardware the policy is searched on.
        input_shape: ``(C, H, W)``.
        calibration: training images for the input scales.
        val: ``(x, y)`` held-out validation images and labels (numpy).
        granularity: column-vector height ``g``.
        alpha: the reward's exponent; max_drop: accuracy constraint in points (None: off).
        max_rate, edge_max_rate: action bounds (module doc).
        bn_recalibration: where the BatchNorm statistics of each pruned network,
            re-estimated on the calibration images, go before scoring it: ``"digital"``,
            ``"folded"`` or ``"off"`` (:mod:`.quantized`).

    Raises:
        PruningError: an empty validation split, a granularity larger than the crossbar,
            bad bounds.
    """

    def __init__(self, model: nn.Module, config: Config, input_shape: tuple[int, int, int],
                 calibration: np.ndarray, val: tuple[np.ndarray, np.ndarray], *,
                 granularity: int = 16, alpha: float = 1.0, max_drop: float | None = None,
                 max_rate: float = 0.98, edge_max_rate: float = 0.5,
                 bn_recalibration: str = "digital") -> None:
        if len(val[0]) == 0:
            raise PruningError("the validation split is empty: give --val-size >= 1 and a "
                               "dataset with more training images than that")
        try:
            self.granularity = check_granularity(granularity, config, "--granularity")
        except MappingError as err:
            raise PruningError(str(err)) from None
        for flag, value in (("max_rate", max_rate), ("edge_max_rate", edge_max_rate)):
            if not 0.0 <= value <= 1.0:
                raise PruningError(f"{flag} must be in [0, 1], got {value}")
        if alpha <= 0:
            raise PruningError(f"--alpha must be > 0, got {alpha}")
        if max_drop is not None and max_drop < 0:
            raise PruningError(f"--max-drop must be >= 0 points, got {max_drop}")
        self.config, self.alpha, self.max_drop = config, float(alpha), max_drop
        self.table = layer_table(model, input_shape, config)
        n = len(self.table)
        self.max_rates = np.full(n, max_rate)
        if n > 1:
            self.max_rates[[0, -1]] = edge_max_rate
        scores = importance(model)
        self.scores = [scores[t.name] for t in self.table]
        self.orders = [vector_order(s, self.granularity) for s in self.scores]
        self.raw = static_features(self.table)
        self.total_dense = float(sum(t.xb_dense for t in self.table))
        self.states = normalise(self.raw, self.total_dense)
        self.val = val
        self.model = IntegerModel(model, config, calibration, bn_recalibration)
        self.acc_dense = self.model.accuracy(*val)

    @property
    def n_layers(self) -> int:
        return len(self.table)

    def vector_masks(self, k: int, rate: float) -> np.ndarray:
        """``(groups, n_blocks, cols)`` kept vectors of layer ``k`` at ``rate`` (exact count)."""
        order = self.orders[k]
        keep = len(order) - int(round(rate * len(order)))
        flat = np.zeros(len(order), bool)
        flat[order[:keep]] = True
        t = self.table[k]
        return flat.reshape(t.groups, -1, t.cols)

    def crossbars(self, k: int, rate: float) -> int:
        """Crossbars layer ``k`` needs at ``rate`` (the mapper's count)."""
        return crossbar_count(self.vector_masks(k, rate), self.table[k].rows, self.granularity,
                              self.config)

    def state(self, k: int, saved: float, prev_rate: float) -> np.ndarray:
        """Normalised state of layer ``k`` given the crossbars saved so far and the last rate."""
        s = self.states[k].copy()
        s[STATE_NAMES.index("xb_saved")] = saved / max(self.total_dense, 1.0)
        s[STATE_NAMES.index("a_prev")] = prev_rate
        return s

    def rate(self, k: int, action: float) -> float:
        """The rate of action ``action`` in [0, 1] on layer ``k``."""
        return float(np.clip(action, 0.0, 1.0) * self.max_rates[k])

    def masks(self, rates: list[float]) -> dict[str, torch.Tensor]:
        """Weight-shaped keep masks of a policy, per layer name."""
        out = {}
        for k, (t, r) in enumerate(zip(self.table, rates)):
            vm = self.vector_masks(k, r)
            mat = np.stack([expand_vector_mask(v, t.rows, self.granularity) for v in vm])
            out[t.name] = torch.from_numpy(np.ascontiguousarray(
                from_matrix_view(mat, t.weight_shape)))
        return out

    def evaluate(self, rates: list[float], crossbars: list[int]
                 ) -> tuple[float, float, float, bool]:
        """``(cr, acc_reram, reward, feasible)`` of a full policy."""
        cr = self.total_dense / max(sum(crossbars), 1)
        self.model.set_masks(self.masks(rates))
        acc = self.model.accuracy(*self.val)
        reward = (1.0 - 1.0 / cr) ** self.alpha * acc if cr > 1 else 0.0
        feasible = self.max_drop is None or (self.acc_dense - acc) * 100 <= self.max_drop + 1e-9
        return cr, acc, (reward if feasible else 0.0), feasible
