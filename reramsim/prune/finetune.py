"""One fine-tuning driver for every pruning scheme (PyTorch).

Two methods, both built on the scheme's projection (:meth:`Pruner.project`):

* ``"gradual"`` (default): sparsity rises from dense to the target over the first
  ``ramp_fraction`` of the training steps, in ``projections`` steps on the cubic
  schedule of Zhu & Gupta (2017) (``d_k = d + (1 - d) (1 - (k+1)/P)^3``). Each step
  projects the current weights onto the scheme's structure; between projections the
  masks stay fixed (pruned weights, their gradients and momentum are held at zero).
  The rest of the epochs fine-tune with the final masks.
* ``"admm"``: for the first ``admm_fraction`` of the epochs, train with the penalty
  ``rho/2 ||W - Z + U||^2`` and, after every epoch, ``Z = projection(W + U)``,
  ``U += W - Z`` (Zhang et al., ECCV 2018); then hard-prune ``W`` to
  ``projection(W)`` and fine-tune with fixed masks.

Importance is the squared *BN-folded* weight: a conv/fc followed by BatchNorm is
scored with each filter scaled by ``gamma / sqrt(var + eps)``, the factor export
folds into it, so the projection ranks what the hardware will store. Folding scales
whole filters, so the zeros survive it (:mod:`.export` checks). Budgets per layer
come from :func:`reramsim.prune.base.allocate`.

A checkpoint (weights, optimizer, masks, projection tables, RNG states, history) is
written after every epoch, atomically; rerunning with the same settings resumes.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from reramsim.prune.base import (
    LayerTarget,
    Projection,
    Pruner,
    PruningError,
    allocate_prunable,
    check_reachable,
    from_matrix_view,
    matrix_view,
)

METHODS = ("gradual", "admm")
CHECKPOINT_FORMAT = 1


@dataclass
class FinetuneSettings:
    """Fine-tuning hyper-parameters (defaults: our choice, tuned on the digits zoo)."""

    epochs: int = 30  # total passes over the training set; 0 = one-shot projection
    method: str = "gradual"  # "gradual" or "admm"
    projections: int = 8  # gradual: sparsity steps
    ramp_fraction: float = 0.5  # gradual: share of the steps over which sparsity rises
    admm_fraction: float = 0.5  # admm: share of the epochs with the ADMM penalty
    admm_rho: float = 5e-3  # admm: penalty weight
    allocation: str = "lamp"  # per-layer budgets: "lamp", "uniform" or "latency" (base.allocate)
    lr: float = 0.01  # SGD peak learning rate, cosine-annealed to 0
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 64
    shift_px: int = 2  # augmentation: random translation of up to this many pixels
    seed: int = 0

    def check(self) -> None:
        if self.method not in METHODS:
            raise PruningError(f"unknown fine-tuning method {self.method!r}; known: "
                               f"{', '.join(METHODS)}")
        if self.epochs < 0 or self.projections < 1 or self.batch_size < 1:
            raise PruningError("epochs must be >= 0, projections and batch_size >= 1")
        if not 0 < self.ramp_fraction <= 1 or not 0 < self.admm_fraction <= 1:
            raise PruningError("ramp_fraction and admm_fraction must be in (0, 1]")


@dataclass
class PruneResult:
    """The outcome of :func:`prune_model`.

    Attributes:
        model: the pruned model (BatchNorm not folded), eval mode, masked weights exactly 0.
        pruner: the scheme with its resolved parameters.
        target_ratio: the requested network pruning ratio.
        layer_names: the pruned modules' names, definition order.
        projections: module name -> its final :class:`Projection` (mask in the matrix view).
        history: one dict per epoch (loss, density, test accuracy when test data was given).
        settings: the fine-tuning settings used (recorded in the export's metadata).
    """

    model: nn.Module
    pruner: Pruner
    target_ratio: float
    layer_names: list[str]
    projections: dict[str, Projection]
    history: list[dict[str, float]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def dense_weights(self) -> int:
        return sum(p.mask.size for p in self.projections.values())

    @property
    def kept_weights(self) -> int:
        return sum(p.n_kept for p in self.projections.values())

    @property
    def ratio(self) -> float:
        """Dense weights / kept weights of the pruned layers."""
        return self.dense_weights / max(self.kept_weights, 1)


# --------------------------------------------------------------------------- model helpers


def prunable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every Conv2d and Linear, in definition order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _groups(module: nn.Module) -> int:
    return int(module.groups) if isinstance(module, nn.Conv2d) else 1


def layer_target(name: str, module: nn.Module, keep: int,
                 weight: torch.Tensor | None = None) -> LayerTarget:
    """The matrix view of a Conv2d/Linear as a :class:`LayerTarget` (signs of ``weight``).

    ``weight`` replaces the module's own (ADMM projects ``W + U``).
    """
    g = _groups(module)
    w = module.weight if weight is None else weight
    kernel = tuple(int(k) for k in w.shape[2:]) if w.dim() == 4 else (1, 1)
    signs = matrix_view(np.sign(w.detach().cpu().numpy()).astype(np.int8), g)
    return LayerTarget(name, g, int(np.prod(w.shape[1:])), int(w.shape[0]) // g, keep, kernel,
                       signs)


def bn_scales(model: nn.Module) -> dict[str, torch.Tensor]:
    """Module name -> per-filter factor that BatchNorm folding will apply to its weight.

    Same pairing rule as :func:`reramsim.zoo.fold_batchnorm`: a conv/fc directly followed by
    its BatchNorm inside an ``nn.Sequential``.
    """
    names = {id(m): n for n, m in model.named_modules()}
    out: dict[str, torch.Tensor] = {}
    for seq in (m for m in model.modules() if isinstance(m, nn.Sequential)):
        for layer, norm in zip(list(seq)[:-1], list(seq)[1:]):
            if isinstance(layer, (nn.Conv2d, nn.Linear)) and isinstance(
                    norm, (nn.BatchNorm1d, nn.BatchNorm2d)) and norm.running_var is not None:
                gamma = norm.weight if norm.affine else torch.ones_like(norm.running_var)
                out[names[id(layer)]] = (gamma / torch.sqrt(norm.running_var + norm.eps)).detach()
    return out


def importance(model: nn.Module, weights: dict[str, torch.Tensor] | None = None
               ) -> dict[str, np.ndarray]:
    """Squared BN-folded weights per layer, ``(groups, rows, cols)`` float64 (matrix view).

    ``weights`` replaces the modules' own weights (ADMM scores ``W + U``).
    """
    scales = bn_scales(model)
    out = {}
    for name, module in prunable_layers(model):
        w = (weights or {}).get(name, module.weight).detach()
        if name in scales:
            w = w * scales[name].reshape(-1, *([1] * (w.dim() - 1)))
        out[name] = matrix_view(w.double().cpu().numpy() ** 2, _groups(module))
    return out


def project_all(model: nn.Module, pruner: Pruner, ratio: float, allocation: str,
                weights: dict[str, torch.Tensor] | None = None,
                pixels: dict[str, int] | None = None) -> dict[str, Projection]:
    """Project every layer at network pruning ratio ``ratio`` (budgets by ``allocation``;
    ``"latency"`` needs ``pixels``, each layer's output pixels, see :func:`output_pixels`)."""
    scores = importance(model, weights)
    layers = prunable_layers(model)
    targets = [layer_target(name, module, 0, (weights or {}).get(name))
               for name, module in layers]
    keep = pruner.layer_budgets([n for n, _ in layers], [scores[n] for n, _ in layers], ratio)
    if keep is None:
        keep = allocate_prunable(
            pruner, [scores[n] for n, _ in layers], targets, ratio, allocation,
            pixels=[pixels[n] for n, _ in layers] if pixels is not None else None)
    targets = [dataclasses.replace(t, keep=k) for t, k in zip(targets, keep)]
    pruner.prepare(scores, {t.name: t for t in targets})
    return {t.name: pruner.project(scores[t.name], t) for t in targets}


@torch.no_grad()
def output_pixels(model: nn.Module, sample: torch.Tensor) -> dict[str, int]:
    """Output pixels (``H x W`` of a conv, 1 for a linear layer) of every prunable layer,
    from one forward pass of ``sample`` (a batch of one input)."""
    out: dict[str, int] = {}
    hooks = [module.register_forward_hook(
        lambda mod, inp, res, name=name: out.__setitem__(
            name, int(np.prod(res.shape[2:])) if res.dim() > 2 else 1))
        for name, module in prunable_layers(model)]
    was_training = model.training
    model.eval()
    try:
        model(sample[:1])
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return out


def mask_tensor(projection: Projection, module: nn.Module) -> torch.Tensor:
    """The projection's constraint in the module weight's shape: 0 pruned, 1 kept (any sign),
    +2 kept and non-negative, -2 kept and non-positive (a sign-constrained scheme, FORMS)."""
    keep = projection.mask.astype(np.int8)
    if projection.signs is not None:
        keep = np.where(projection.mask & (projection.signs != 0), 2 * projection.signs, keep)
    mask = from_matrix_view(keep, tuple(module.weight.shape))
    return torch.from_numpy(np.ascontiguousarray(mask)).to(module.weight.dtype)


def constrain(weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``weight`` projected onto a :func:`mask_tensor` constraint: zeros and signs."""
    return torch.where(mask == 2, weight.clamp(min=0),
                       torch.where(mask == -2, weight.clamp(max=0), weight * (mask != 0)))


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor],
                optimizer: torch.optim.Optimizer | None = None) -> None:
    """Zero the pruned weights (and their momentum buffers) and clamp constrained signs."""
    modules = dict(prunable_layers(model))
    for name, mask in masks.items():
        weight = modules[name].weight
        weight.copy_(constrain(weight, mask))
        mask = mask != 0
        if optimizer is not None:
            buf = optimizer.state.get(weight, {}).get("momentum_buffer")
            if buf is not None:
                buf.mul_(mask)


# --------------------------------------------------------------------------- the driver


def density_schedule(target_ratio: float, projections: int) -> list[float]:
    """Network density after each gradual projection (cubic, ends at ``1/target_ratio``)."""
    final = 1.0 / target_ratio
    return [final + (1 - final) * (1 - (k + 1) / projections) ** 3 for k in range(projections)]


def prune_model(model: nn.Module, pruner: Pruner, target_ratio: float,
                train_data: tuple[torch.Tensor, torch.Tensor],
                settings: FinetuneSettings | None = None, *,
                test_data: tuple[torch.Tensor, torch.Tensor] | None = None,
                checkpoint: str | os.PathLike[str] | None = None,
                signature: dict[str, Any] | None = None, progress: bool = True) -> PruneResult:
    """Prune ``model`` to ``target_ratio`` with ``pruner`` and fine-tune it.

    Args:
        model: a trained model (modified in place and returned in the result).
        pruner: the scheme (its projection defines the structure).
        target_ratio: network pruning ratio, dense weights / kept weights, >= 1.
        train_data: images ``(N, C, H, W)`` float32 and labels ``(N,)`` int64.
        settings: hyper-parameters (:class:`FinetuneSettings`).
        test_data: if given, accuracy is measured after every epoch (for the log only).
        checkpoint: file to resume from and write after every epoch; ``None``: none.
        signature: extra facts (e.g. the model's name) that a checkpoint must match.
        progress: show tqdm bars.

    Raises:
        PruningError: bad settings, a ratio the scheme cannot reach, or a checkpoint made
            with other settings.
    """
    settings = settings or FinetuneSettings()
    settings.check()
    if not math.isfinite(target_ratio) or target_ratio < 1:
        raise PruningError(f"target_ratio must be a finite number >= 1, got {target_ratio}")
    if len(train_data[0]) == 0:
        raise PruningError("no training images to fine-tune on")
    check_reachable(pruner, [layer_target(n, m, 0) for n, m in prunable_layers(model)],
                    target_ratio)
    torch.manual_seed(settings.seed)
    x_train, y_train = train_data
    n_batches = -(-len(x_train) // settings.batch_size)
    total_steps = settings.epochs * n_batches
    sig = {"format": CHECKPOINT_FORMAT, "scheme": pruner.scheme, "params": pruner.params,
           "target_ratio": float(target_ratio), "settings": dataclasses.asdict(settings),
           "n_train": len(x_train), **(signature or {})}
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                                weight_decay=settings.weight_decay, nesterov=True)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    generator = torch.Generator().manual_seed(settings.seed)
    state = _State()
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt is not None and ckpt.is_file():
        state = _load_checkpoint(ckpt, sig, model, optimizer, schedule, generator)
    modules = dict(prunable_layers(model))
    pixels = output_pixels(model, x_train) if settings.allocation == "latency" else None
    plan = _plan(settings, target_ratio, total_steps)
    epochs = range(state.epoch, settings.epochs)
    bar = tqdm(epochs, desc=f"prune {pruner.scheme}", unit="epoch", disable=not progress,
               initial=state.epoch, total=settings.epochs)
    admm_epochs = max(1, round(settings.admm_fraction * settings.epochs))
    for epoch in bar:
        if settings.method == "admm" and not state.final:
            if epoch < admm_epochs and state.admm is None:
                _admm_init(model, pruner, settings, target_ratio, state, pixels)
            elif epoch >= admm_epochs:  # end of ADMM: hard-prune, then masked fine-tuning
                _project(model, pruner, target_ratio, settings.allocation, state, optimizer,
                         pixels=pixels)
                state.final, state.admm = True, None
        loss = _train_epoch(model, pruner, settings, plan, state, modules, optimizer, schedule,
                            generator, x_train, y_train, epoch * n_batches, pixels)
        if settings.method == "admm" and state.admm is not None:
            _admm_update(model, pruner, settings, target_ratio, state, pixels)
        record = {"epoch": epoch + 1, "loss": loss, "density": _density(state, modules)}
        if test_data is not None:
            record["test_acc"] = _evaluate(model, *test_data)
        state.history.append(record)
        state.epoch = epoch + 1
        bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k != "epoch"})
        if ckpt is not None:
            _save_checkpoint(ckpt, sig, model, optimizer, schedule, generator, state)
    if not state.final:  # epochs == 0 (one-shot), or a schedule that never reached the target
        _project(model, pruner, target_ratio, settings.allocation, state, optimizer,
                 pixels=pixels)
        state.final = True
    apply_masks(model, state.masks)
    model.eval()
    return PruneResult(model, pruner, float(target_ratio), list(modules), dict(state.projections),
                       state.history, dataclasses.asdict(settings))


@dataclass
class _State:
    """Everything a checkpoint restores besides the model, optimizer and RNGs."""

    epoch: int = 0
    done_projections: int = 0
    final: bool = False  # the masks are at the target density
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    projections: dict[str, Projection] = field(default_factory=dict)
    admm: dict[str, dict[str, torch.Tensor]] | None = None  # {"Z": {...}, "U": {...}}
    history: list[dict[str, float]] = field(default_factory=list)


def _plan(settings: FinetuneSettings, target_ratio: float, total_steps: int
          ) -> list[tuple[int, float]]:
    """``(global step, network ratio)`` of each gradual projection."""
    if settings.method != "gradual":
        return []
    densities = density_schedule(target_ratio, settings.projections)
    ramp = int(settings.ramp_fraction * total_steps)
    last = max(len(densities) - 1, 1)
    return [(round(k * ramp / last) if len(densities) > 1 else ramp, 1.0 / d)
            for k, d in enumerate(densities)]


def _project(model: nn.Module, pruner: Pruner, ratio: float, allocation: str, state: _State,
             optimizer: torch.optim.Optimizer | None, weights: dict | None = None,
             pixels: dict[str, int] | None = None) -> None:
    state.projections = project_all(model, pruner, ratio, allocation, weights, pixels)
    modules = dict(prunable_layers(model))
    state.masks = {n: mask_tensor(p, modules[n]) for n, p in state.projections.items()}
    apply_masks(model, state.masks, optimizer)


def _train_epoch(model, pruner, settings, plan, state, modules, optimizer, schedule, generator,
                 x, y, first_step, pixels=None) -> float:
    """One pass over the data; projections happen at their planned global steps."""
    from reramsim.training import random_shift

    model.train()
    order = torch.randperm(len(x), generator=generator)
    total = 0.0
    for i, batch in enumerate(order.split(settings.batch_size)):
        step = first_step + i
        while state.done_projections < len(plan) and plan[state.done_projections][0] <= step:
            _project(model, pruner, plan[state.done_projections][1], settings.allocation, state,
                     optimizer, pixels=pixels)
            state.done_projections += 1
            state.final = state.done_projections == len(plan)
        images = x[batch]
        if settings.shift_px:
            images = random_shift(images, settings.shift_px, generator)
        loss = nn.functional.cross_entropy(model(images), y[batch])
        if state.admm is not None:
            loss = loss + _admm_penalty(modules, state, settings.admm_rho)
        optimizer.zero_grad()
        loss.backward()
        for name, mask in state.masks.items():
            if modules[name].weight.grad is not None:
                modules[name].weight.grad.mul_(mask != 0)
        optimizer.step()
        schedule.step()
        apply_masks(model, state.masks)
        total += loss.item() * len(batch)
    return total / max(len(x), 1)


def _admm_init(model, pruner, settings, target_ratio, state, pixels=None) -> None:
    modules = dict(prunable_layers(model))
    z = {n: m.weight.detach().clone() for n, m in modules.items()}
    projections = project_all(model, pruner, target_ratio, settings.allocation, pixels=pixels)
    for n, p in projections.items():
        z[n] = constrain(z[n], mask_tensor(p, modules[n]))
    state.admm = {"Z": z, "U": {n: torch.zeros_like(m.weight) for n, m in modules.items()}}


def _admm_penalty(modules, state, rho) -> torch.Tensor:
    z, u = state.admm["Z"], state.admm["U"]
    return 0.5 * rho * sum(((modules[n].weight - z[n] + u[n]) ** 2).sum() for n in z)


@torch.no_grad()
def _admm_update(model, pruner, settings, target_ratio, state, pixels=None) -> None:
    """``Z = projection(W + U)``, ``U += W - Z`` (the projection sees BN-folded scores)."""
    if state.admm is None:
        return
    modules = dict(prunable_layers(model))
    z, u = state.admm["Z"], state.admm["U"]
    w_plus_u = {n: modules[n].weight + u[n] for n in z}
    projections = project_all(model, pruner, target_ratio, settings.allocation, w_plus_u,
                              pixels)
    for n, p in projections.items():
        z[n] = constrain(w_plus_u[n], mask_tensor(p, modules[n]))
        u[n] += modules[n].weight - z[n]


def _density(state: _State, modules: dict[str, nn.Module]) -> float:
    if not state.masks:
        return 1.0
    kept = sum(float((m != 0).sum()) for m in state.masks.values())
    return kept / sum(modules[n].weight.numel() for n in state.masks)


@torch.no_grad()
def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    from reramsim.training import evaluate

    was_training = model.training
    acc = evaluate(model, x, y)
    model.train(was_training)
    return acc


# --------------------------------------------------------------------------- checkpoints


def _save_checkpoint(path: Path, sig, model, optimizer, schedule, generator, state) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"signature": sig, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(), "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(), "state": copy.copy(state)}, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, sig, model, optimizer, schedule, generator) -> _State:
    """Restore a checkpoint written by this driver (a pickle: load only your own files)."""
    try:
        data = torch.load(path, weights_only=False)
    except Exception as err:  # a truncated or foreign file
        raise PruningError(f"{path}: not a readable pruning checkpoint ({err})") from None
    if not isinstance(data, dict) or data.get("signature") != sig:
        theirs = data.get("signature") if isinstance(data, dict) else None
        diff = sorted(k for k in set(sig) | set(theirs or {})
                      if (theirs or {}).get(k) != sig.get(k))
        raise PruningError(f"{path}: checkpoint was made with other settings (differs in: "
                           f"{', '.join(diff) or 'format'}); delete it or choose another "
                           "--checkpoint")
    model.load_state_dict(data["model"])
    optimizer.load_state_dict(data["optimizer"])
    schedule.load_state_dict(data["schedule"])
    generator.set_state(data["generator"])
    torch.set_rng_state(data["torch_rng"])
    return data["state"]
