"""Number formats of the functional crossbar model: weights, activations, cell slices, the ADC.

Pure functions on numpy arrays; :mod:`reramsim.functional` composes them into the
mapped hardware. The conventions (see ``docs/functional.md`` for the reasoning):

Weights (``precision.weight_bits = b``) are quantised symmetrically,
``q = clip(rint(w / s_w), -L, L)`` with ``L = 2^(b-1) - 1`` and
``s_w = max|w| / L`` over the layer (``per_layer``) or over each output
channel (``per_channel``). A crossbar cell holds unsigned levels, so ``q`` is
stored either

* ``offset`` (ISAAC): ``u = q + 2^(b-1)`` in ``[1, 2^b - 1]``, ``2^(b-1) * sum(x)``
  subtracted digitally; or
* ``differential``: ``max(q, 0)`` on the positive crossbar, ``max(-q, 0)`` on the
  negative one, the two results subtracted digitally;

and cut into ``ceil(b / cell_bits)`` slices, slice ``t`` being bits
``[t*cell_bits, (t+1)*cell_bits)`` (:func:`cell_slice`).

Activations (``precision.input_bits = B``) use one scale per layer input,
calibrated on a batch (:class:`InputQuant`): a tensor that is never negative on
the calibration batch (after ReLU) is unsigned, ``x_int = clip(rint(x / s_x), 0,
2^B - 1)``; one that is (a raw image, a residual sum) is signed symmetric,
``|x_int| <= 2^(B-1) - 1``, and is streamed with an offset ``x_u = x_int + 2^(B-1)``
(so every DAC level is non-negative), the offset removed digitally. The DAC
streams ``dac_bits`` of ``x_u`` per step, least significant first.

The ADC (:func:`adc_convert`) reads one bit-line's partial sum of one OU in one
input step, an integer count of (cell level x DAC level) units; with analog subtraction
(``crossbar.subtract: analog``) it reads the difference of a positive and a negative
bit-line's sums, signed, with one of its bits for the sign (:func:`adc_top`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reramsim import ReramsimError
from reramsim.config.schema import Adc

__all__ = [
    "FunctionalError",
    "InputQuant",
    "adc_convert",
    "adc_lsb",
    "adc_top",
    "calibrate_input",
    "cell_slice",
    "quantize_weights",
    "weight_levels",
]


class FunctionalError(ReramsimError):
    """A setting or input the functional model cannot simulate."""


def weight_levels(weight_bits: int) -> int:
    """Largest quantised weight magnitude ``L = 2^(b-1) - 1`` (b=8 gives 127).

    Raises:
        FunctionalError: ``weight_bits < 2`` (a symmetric signed format needs a sign and
            at least one magnitude bit).
    """
    if weight_bits < 2:
        raise FunctionalError(f"precision.weight_bits={weight_bits}: symmetric signed weights "
                              "need at least 2 bits")
    return (1 << (weight_bits - 1)) - 1


def quantize_weights(matrices: np.ndarray, weight_bits: int, per_channel: bool
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric quantisation of a layer's matrices.

    Args:
        matrices: ``(groups, rows, cols)`` float weights (group ``g``'s matrix view).
        weight_bits: ``b``; magnitudes are clipped to ``L = 2^(b-1) - 1``.
        per_channel: one scale per output channel (matrix column) instead of one per layer.

    Returns:
        ``(q, scale)``: ``q`` int64 ``(groups, rows, cols)`` in ``[-L, L]``; ``scale`` float64
        ``(groups * cols,)``, the value of one level for output channel ``g*cols + c``
        (all equal for per-layer). An all-zero channel (or layer) gets scale 1.

    Example: ``[[0.5], [-1.0], [0.26]]`` with b=3 (L=3): ``s_w = 1/3``, ``q = [2, -3, 1]``
    (0.5*3 = 1.5 rounds half to even, to 2; 0.26*3 = 0.78 rounds to 1).
    """
    levels = weight_levels(weight_bits)
    w = np.asarray(matrices, np.float64)
    groups, _, cols = w.shape
    if per_channel:
        peak = np.abs(w).max(axis=1, initial=0.0)  # (groups, cols)
    else:
        peak = np.full((groups, cols), np.abs(w).max(initial=0.0))
    scale = np.where(peak > 0, peak / levels, 1.0)
    q = np.clip(np.rint(w / scale[:, None, :]), -levels, levels).astype(np.int64)
    return q, scale.reshape(-1)


def cell_slice(values: np.ndarray, slice_index: np.ndarray | int, cell_bits: int) -> np.ndarray:
    """Bits ``[t*cell_bits, (t+1)*cell_bits)`` of non-negative integers: a cell's level.

    ``values`` and ``slice_index`` broadcast. Example: 45 = 0b10_11_01 with 2-bit cells
    has slices ``[1, 3, 2]`` (least significant first).
    """
    shift = np.asarray(slice_index, np.int64) * cell_bits
    return (np.asarray(values, np.int64) >> shift) & ((1 << cell_bits) - 1)


@dataclass(frozen=True)
class InputQuant:
    """How one weight layer's input is quantised and streamed through the DACs.

    Attributes:
        scale: value of one input level (float, > 0).
        signed: signed symmetric with offset streaming, else unsigned.
        bits: ``precision.input_bits``.
    """

    scale: float
    signed: bool
    bits: int

    @property
    def lo(self) -> int:
        """Smallest integer input level."""
        return -self.hi if self.signed else 0

    @property
    def hi(self) -> int:
        """Largest integer input level: ``2^(B-1) - 1`` signed, ``2^B - 1`` unsigned."""
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def offset(self) -> int:
        """``X0``, added to ``x_int`` before streaming: ``2^(B-1)`` signed, else 0."""
        return 1 << (self.bits - 1) if self.signed else 0

    def to_int(self, x: np.ndarray) -> np.ndarray:
        """``x_int = clip(rint(x / scale), lo, hi)`` as int64 (the DACs stream x_int + offset)."""
        return self.streamed(x).astype(np.int64) - self.offset

    def streamed(self, x: np.ndarray) -> np.ndarray:
        """``x_u = x_int + offset`` in ``[0, 2^B - 1]``, the levels the DACs stream, as float64."""
        levels = np.rint(np.asarray(x, np.float64) / self.scale)
        np.clip(levels, self.lo, self.hi, out=levels)
        if self.offset:
            levels += self.offset
        return levels


def calibrate_input(x_min: float, x_max: float, input_bits: int) -> InputQuant:
    """The input format that covers ``[x_min, x_max]`` (observed on a calibration batch).

    Unsigned with ``scale = x_max / (2^B - 1)`` when ``x_min >= 0``, else signed with
    ``scale = max(|x_min|, |x_max|) / (2^(B-1) - 1)``. A range of zero gives scale 1.

    Raises:
        FunctionalError: signed inputs with ``input_bits < 2``.
    """
    signed = x_min < 0
    if signed and input_bits < 2:
        raise FunctionalError(f"precision.input_bits={input_bits}: signed inputs (this layer "
                              "sees negative values) need at least 2 bits")
    peak = max(abs(x_min), abs(x_max)) if signed else x_max
    probe = InputQuant(1.0, signed, input_bits)
    scale = float(peak) / probe.hi if peak > 0 else 1.0
    return InputQuant(scale, signed, input_bits)


def adc_top(adc: Adc, signed: bool = False) -> int:
    """The largest code magnitude: ``2^bits - 1``, or ``2^(bits-1) - 1`` for a signed ADC.

    A signed ADC (``crossbar.subtract: analog``: it converts the difference of a positive
    and a negative bit-line) spends one of its bits on the sign, codes in
    ``[-(2^(bits-1) - 1), 2^(bits-1) - 1]``, as MNSIM-2.0 does (``Interface/layer.py``:
    ``clamp(round(x), -thres, thres)``, ``thres = 2^(Q-1) - 1``).
    """
    return (1 << (adc.bits - 1)) - 1 if signed else (1 << adc.bits) - 1


def adc_lsb(max_sum: float, adc: Adc, signed: bool = False) -> float:
    """The ADC step in units of one (cell level x DAC level), for OU sums ``|a| <= max_sum``.

    ``unit`` mode: 1. ``full_range``: ``max_sum / adc_top``, but never below 1: with
    more codes than levels every integer sum is resolved exactly. Ideal: 1.
    """
    if adc.ideal or adc.lsb_mode == "unit":
        return 1.0
    return max(1.0, float(max_sum) / adc_top(adc, signed))


def adc_convert(a: np.ndarray, max_sum: float, adc: Adc, signed: bool = False) -> int:
    """Convert partial sums ``a`` in place to the values the ADC reports; return the clip count.

    ``a`` holds integer sums (any float dtype), ``0 <= a <= max_sum``, or ``|a| <= max_sum``
    for a ``signed`` ADC (an analog difference). ``unit``: ``a`` clipped to
    ``[0, T]`` or ``[-T, T]``, ``T = adc_top`` (sums are integers so rounding is exact; the
    count of clipped samples is returned). ``full_range``: ``rint(a / lsb) * lsb`` with
    ``lsb = adc_lsb(max_sum)``, no clipping since ``|a| <= max_sum``. ``adc.ideal``:
    unchanged.

    Example (unit, 3 bits): sums ``[5, 9, 7]`` read ``[5, 7, 7]``, clip count 1; signed,
    sums ``[5, -9, 2]`` read ``[3, -3, 2]``, clip count 2.
    """
    if adc.ideal:
        return 0
    if adc.lsb_mode == "unit":
        limit = adc_top(adc, signed)
        clipped = int(np.count_nonzero(a > limit))
        if signed:
            clipped += int(np.count_nonzero(a < -limit))
        if clipped:
            np.clip(a, -limit if signed else None, limit, out=a)
        return clipped
    lsb = adc_lsb(max_sum, adc, signed)
    if lsb > 1.0:
        np.divide(a, lsb, out=a)
        np.rint(a, out=a)
        np.multiply(a, lsb, out=a)
    return 0
