"""The exact integer model that scores a policy during the search (``acc_reram``), in PyTorch.

The search needs the accuracy of the pruned, not fine-tuned network on the hardware
once per episode, hundreds of times. The functional model
(:class:`reramsim.functional.FunctionalModel`) rebuilds its OU classes for every new
set of weights and runs them in float64 (~3 s per episode on Plain20 with 200
images). When every OU of the config is *ADC-transparent* (the ADC reports every
possible bit-line sum exactly: an ideal ADC, or a ``unit`` ADC whose range covers
``ou.rows x max cell level x max DAC level``; ``autoprune_128x128_ou32``: 32 rows x 1 x 1
<= 63), the functional model's output per layer is, exactly,

    y = (s_x * s_w[c]) * sum_r x_int[r] * q[r, c] + bias[c]

with the same quantised weights ``q`` (:func:`reramsim.quantize.quantize_weights` of
the pruned weights), the same input levels ``x_int = clip(rint(x / s_x))`` and the
same input scales (calibrated from the float network on a calibration batch). This
module computes that with PyTorch: the integer sums as a float32 convolution/matmul
of integer-valued tensors, which is exact while every partial sum stays below 2^24
(checked per layer from ``max|x_int| * max_c sum_r |q[r, c]|``; above it the layer runs
in float64), then scales, bias and the digital layers (ReLU, pooling) in float64.
The tests check its logits against the functional model on the exported ONNX.

BatchNorm of the pruned network (``bn_recalibration``, :data:`BN_MODES`) [reconstruction]:
its statistics are re-estimated on the calibration images ("adaptive BN", Li et al., ECCV
2020), because a pruned, not fine-tuned network scored with the dense network's statistics
is at chance level (Plain20 at rate 0.4 in every layer: 13 % with them, 98.5 % re-estimated).
Where the re-estimated normalisation goes matters with per-layer weight scales: a channel
that lost most of its weights has a tiny variance, so its re-estimated scale ``gamma /
sqrt(var + eps)`` is large, and folded into the weights it makes that channel's weights the
layer's peak (AlexNet at rate 0.7 everywhere: one channel 127x the median channel), so
the per-layer 8-bit scale rounds the other channels to a few levels and a network that
scores 90.5 % in float scores 8.5 % (``docs/autoprune.md``, "Why the CR on crossbars
is below the paper's"). Modes:

* ``"digital"`` (default): the crossbars hold the pruned weights with the *dense* network's
  BatchNorm scale folded in, as the dense network's export would place them; the
  re-estimated normalisation's per-channel correction ``sqrt(var_dense + eps) /
  sqrt(var + eps)`` multiplies the output digitally with the weight scale (``s_w[c]``
  above becomes ``s_w[c] * gain[c]``: one more per-channel factor in the output stage
  that already rescales every column), and its shift goes into the bias. With
  per-channel weight scales this equals ``"folded"``.
* ``"folded"``: the re-estimated BatchNorm is folded into the weights, which are then
  quantised: exactly what the exported ONNX of this pruned network gives on the hardware
  (the functional model).
* ``"off"``: the dense network's statistics, folded.

Differences from the functional model, stated: the input scales are calibrated
with a float32 forward (the functional model uses float64; the scales agree to
float32 rounding), and a config whose ADC can clip or round (not transparent) is
refused here (:class:`IntegerModel` raises), since then only the bit-serial
functional model is right.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from reramsim.config import Config
from reramsim.prune.base import PruningError, matrix_view
from reramsim.prune.finetune import bn_scales, prunable_layers
from reramsim.quantize import InputQuant, calibrate_input, quantize_weights

#: float32 represents every integer below this exactly.
EXACT_F32 = float(1 << 24)
#: Where the search puts the re-estimated BatchNorm of a pruned network (module doc).
BN_MODES = ("digital", "folded", "off")


def adc_transparent(config: Config) -> bool:
    """True when every OU sum of ``config`` is read exactly by its ADC (module doc)."""
    adc = config.adc
    if adc.ideal:
        return True
    cell_max = (1 << config.crossbar.cell_bits) - 1
    dac_max = (1 << config.dac.bits) - 1
    # unit: no sum above the largest code; full_range: an LSB of 1 (as many codes as sums)
    return config.ou.rows * cell_max * dac_max <= (1 << adc.bits) - 1


@dataclass
class _LayerState:
    """One weight layer's quantised form for the current masks."""

    q32: torch.Tensor  # integer-valued quantised weight, float32, module weight shape
    q64: torch.Tensor  # the same in float64 (for layers whose sums may exceed 2^24)
    scale_w: torch.Tensor  # (Cout,) float64
    col_abs_sum: float  # max over output channels of sum |q|


class _IntegerLayer(nn.Module):
    """A conv/fc evaluated on integer inputs and weights, rescaled in float64."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.state: _LayerState | None = None
        self.quant: InputQuant | None = None

    def _op(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        m = self.module
        if isinstance(m, nn.Linear):
            return x @ w.T
        return nn.functional.conv2d(x, w, None, m.stride, m.padding, m.dilation, m.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        st, quant = self.state, self.quant
        assert st is not None and quant is not None
        levels = torch.div(x, quant.scale).round_().clamp_(quant.lo, quant.hi)
        if max(abs(quant.lo), quant.hi) * st.col_abs_sum < EXACT_F32:
            y = self._op(levels.float(), st.q32).double()
        else:
            y = self._op(levels, st.q64)
        shape = (1, -1) + (1,) * (y.dim() - 2)
        y.mul_((quant.scale * st.scale_w).reshape(shape))  # the functional model's order:
        bias = self.module.bias  # y_int * (s_x * s_w), then + bias, in float64
        if bias is not None:
            y.add_(bias.detach().double().reshape(shape))
        return y


class IntegerModel:
    """A zoo model, BN folded, evaluated as the ADC-transparent hardware computes it.

    Args:
        model: the trained PyTorch model (BatchNorm not folded; not modified).
        config: the hardware config (precision; its ADC must be transparent).
        calibration: images ``(N, C, H, W)`` for the input scales (training images).
        bn_recalibration: one of :data:`BN_MODES` (module doc): re-estimate every
            BatchNorm's statistics on the calibration images with the pruned weights and
            apply the correction digitally (``"digital"``) or fold it (``"folded"``), or
            keep the dense network's statistics (``"off"``) [reconstruction].

    Call :meth:`set_masks` with a policy's keep masks, then :meth:`accuracy` or
    :meth:`logits`; :attr:`folded` is the pruned float model (re-estimated BatchNorm
    folded), which the integer model computes (quantisation aside) in every mode.

    Raises:
        PruningError: a config whose ADC can clip or round OU sums, or an unknown mode.
    """

    def __init__(self, model: nn.Module, config: Config, calibration: np.ndarray,
                 bn_recalibration: str = "digital") -> None:
        if bn_recalibration not in BN_MODES:
            raise PruningError(f"bn_recalibration must be one of {', '.join(BN_MODES)}, got "
                               f"{bn_recalibration!r}")
        if not adc_transparent(config):
            raise PruningError(
                f"config {config.name}: the ADC ({config.adc.bits} bits, {config.adc.lsb_mode}) "
                f"can clip {config.ou.rows}-row OU sums, so the search's fast accuracy model "
                "would differ from the hardware; use an ADC that covers the OU sums")
        self.config = config
        self.bn_recalibration = bn_recalibration
        self.base = copy.deepcopy(model).eval()  # unfolded; pruned in place per policy
        self.names = [n for n, _ in prunable_layers(self.base)]
        self.dense = {n: m.weight.detach().clone() for n, m in prunable_layers(self.base)}
        self.bn_state = {k: v.clone() for k, v in self.base.state_dict().items()}
        self.dense_bn_scales = bn_scales(self.base)
        self.folded = _fold(self.base)
        self.int_model = copy.deepcopy(self.folded).double()
        self.layers: dict[str, _IntegerLayer] = {}
        for name, module in prunable_layers(self.int_model):
            wrapper = _IntegerLayer(module)
            parent, _, child = name.rpartition(".")
            setattr(self.int_model.get_submodule(parent) if parent else self.int_model, child,
                    wrapper)
            self.layers[name] = wrapper
        self.calibration = torch.from_numpy(np.ascontiguousarray(calibration, np.float32))
        self.set_masks({})

    @torch.no_grad()
    def set_masks(self, masks: dict[str, torch.Tensor]) -> None:
        """Prune (weight-shaped 0/1 masks per layer name; absent = dense), re-estimate the
        BatchNorm statistics (when asked), fold, quantise, calibrate the input scales."""
        prec = self.config.precision
        self.base.load_state_dict(self.bn_state)
        base = dict(prunable_layers(self.base))
        for name in self.names:
            if name in masks:
                base[name].weight.mul_(masks[name].to(base[name].weight.dtype))
        if self.bn_recalibration != "off":
            _recalibrate_bn(self.base, self.calibration)
        gains = self._digital_gains()
        self.folded = _fold(self.base)
        folded = dict(prunable_layers(self.folded))
        for name in self.names:
            w = folded[name].weight.detach()
            module = self.layers[name].module
            if folded[name].bias is not None:
                module.bias.copy_(folded[name].bias.double())
            groups = module.groups if isinstance(module, nn.Conv2d) else 1
            gain = gains.get(name)
            if gain is not None:  # the crossbars hold w / gain; the gain is digital
                w = w.double() / gain.reshape(-1, *([1] * (w.dim() - 1)))
            q, scale = quantize_weights(matrix_view(w.double().numpy(), groups),
                                        prec.weight_bits, prec.weight_scale == "per_channel")
            if gain is not None:
                scale = scale * gain.numpy()
            q_w = torch.from_numpy(q.transpose(0, 2, 1).reshape(w.shape).astype(np.float64))
            col_sum = float(np.abs(q).sum(axis=1).max(initial=0))
            self.layers[name].state = _LayerState(q_w.float(), q_w, torch.from_numpy(scale),
                                                  col_sum)
        self._calibrate()

    def _digital_gains(self) -> dict[str, torch.Tensor]:
        """Per layer, ``(Cout,)`` float64 re-estimated / dense BatchNorm scale (``"digital"``
        mode; 1 where the dense scale is 0, whose folded weights are 0 anyway)."""
        if self.bn_recalibration != "digital":
            return {}
        out = {}
        for name, new in bn_scales(self.base).items():
            dense = self.dense_bn_scales[name].double()
            out[name] = torch.where(dense != 0, new.double() / torch.where(dense != 0, dense, 1.0),
                                    torch.ones_like(dense))
        return out

    @torch.no_grad()
    def _calibrate(self) -> None:
        """Input formats from the pruned float model's activations on the calibration batch."""
        ranges: dict[str, list[float]] = {}
        hooks = []
        for name, module in prunable_layers(self.folded):
            def record(_m, args, name=name):
                x = args[0]
                ranges[name] = [float(x.min()), float(x.max())]
            hooks.append(module.register_forward_pre_hook(record))
        try:
            self.folded(self.calibration)
        finally:
            for h in hooks:
                h.remove()
        bits = self.config.precision.input_bits
        for name in self.names:
            lo, hi = ranges[name]
            self.layers[name].quant = calibrate_input(min(lo, 0.0), max(hi, 0.0), bits)

    @property
    def input_quant(self) -> dict[str, InputQuant]:
        """Layer name -> the calibrated input format (module names)."""
        return {n: self.layers[n].quant for n in self.names}

    @torch.no_grad()
    def logits(self, x: np.ndarray, batch: int = 50) -> np.ndarray:
        """``(N, classes)`` float64 outputs on images ``x``."""
        out = [self.int_model(torch.from_numpy(np.asarray(x[i:i + batch], np.float64)))
               for i in range(0, len(x), batch)]
        return torch.cat(out).numpy() if out else np.zeros((0, 0))

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        """Top-1 accuracy in [0, 1] on images ``x`` with labels ``y``."""
        if not len(x):
            raise PruningError("accuracy on an empty set of images")
        return float((self.logits(x).argmax(axis=1) == np.asarray(y)).mean())


def _fold(model: nn.Module) -> nn.Module:
    """A BN-folded copy of ``model`` in eval mode (what export writes to ONNX)."""
    from reramsim.zoo import fold_batchnorm

    return fold_batchnorm(copy.deepcopy(model)).eval()


@torch.no_grad()
def _recalibrate_bn(model: nn.Module, images: torch.Tensor) -> None:
    """Replace every BatchNorm's running statistics by those of ``images`` (one batch).

    Only the BatchNorms run in training mode (dropout stays off); the model is left in
    eval mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch gives exactly its statistics
        m.train()
    try:
        model(images)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()
