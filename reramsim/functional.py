"""The functional model: what the mapped ReRAM hardware numerically outputs.

:class:`FunctionalModel` executes a network the way its crossbars would: every
weight layer runs through the OU lists of its :class:`~reramsim.mapping.LayerMapping`
(the crossbars, word-line/bit-line sets and input gathers a mapper produced, right
or wrong), with

1. weights quantised to ``weight_bits`` and bit-sliced into ``cell_bits`` cells, signed
   by an offset or by differential crossbar pairs (:mod:`reramsim.quantize`);
2. inputs quantised to ``input_bits`` (a per-layer scale calibrated on a batch) and
   streamed ``dac.bits`` per step;
3. each OU's bit-line current summed over that OU's word-lines only, i.e. over the
   matrix rows ``ou_rows`` drives, and sampled by the ADC once per (pixel, input step,
   OU, bit-line) with its resolution, range and LSB mode (clipping, rounding; ideal);
4. shift-and-add over input steps and weight slices, the offset corrections, the sum over
   OUs and crossbars, the polarity of differential pairs or the sign bit of a FORMS
   fragment column (``sign_bit``: cells hold ``|q|``, each bit-line's partial sum is
   added or subtracted by its ``ou_bl_sign``), de-quantisation and bias, all digital
   and exact;
5. digital layers (ReLU, pooling, add...) in float64 with :func:`reramsim.ops.digital_op`.

How the arithmetic is organised (one layer)
-------------------------------------------
For OU ``k`` with word-line inputs ``R_k`` and bit-line ``j`` holding slice ``t_j`` of
matrix column ``c_j`` on a crossbar of polarity ``p_k``, input step ``s`` reads
``a[k,j,s] = sum_{r in R_k} d_s(x_u[r]) * cell[r, j]`` where ``d_s`` is the step's DAC
level. The layer's integer output is::

    y_int[c] = sum_{k, j: c_j = c} p_k 2^(t_j*cell_bits) sum_s 2^(s*dac_bits) ADC(a[k,j,s])
               - W0 * sum_{k, j: c_j = c, t_j = top} p_k sum_{r in R_k} x_u[r]     (weight offset)
               + X0 * const[c]                                                   (input offset)

and ``y = s_x * s_w[c] * y_int + bias`` (see :mod:`reramsim.quantize` for ``x_u``,
``X0``, ``W0``). OUs with the same input rows (the column blocks of one row block in a
dense mapping, the two arrays of a differential pair) read the same word-line
vectors, so they are merged into one *unit* whose bit-lines are concatenated:
the ADC is per bit-line, so this changes nothing numerically. Units with the same
number of rows form a class, executed as one batched matmul
``(units, bit-lines, rows) @ (units, rows, pixels*steps)``, chunked over pixels.

When a class's ADC cannot clip or round any sum (an ideal ADC; a ``unit`` ADC whose
code range exceeds every bit-line's largest possible sum; a ``full_range`` ADC with
at least as many codes as levels), ``ADC(a) = a`` is linear, so the shift-and-add
commutes with the row sums: the class then multiplies the integer inputs by its
pre-shifted cells summed per column, ``sum_j p_k 2^(t_j*cell_bits) cell[r, j]`` minus
``W0 * p_k`` for each top-slice bit-line (the weight-offset correction, folded in),
built from the mapping's own rows, slices and polarities, in one step. The result is
the same integers (exact in float64 while below 2^53), which tests check against the
bit-serial path. A ``unit`` ADC that can clip runs ``cells @ x_u`` the same way and then
subtracts ``2^(s*dac_bits) * max(a - L, 0)`` for the (step, pixel) samples that can
exceed ``L = 2^bits - 1`` (bounded by the step's DAC levels summed over the OU's rows x
its largest cell), counted bit by bit in popcounts by a compiled kernel
(:meth:`CrossbarLayer._run_clipping`, :mod:`reramsim._core._bitserial`).
``shortcut=False`` turns both off: one ADC sample per step everywhere.

Analog subtraction (``crossbar.subtract: analog`` with differential weights): the
positive and the negative array's bit-lines holding the same column and slice are one
ADC channel whose cells are ``G+ - G-``, read by a signed ADC (codes
``-(2^(bits-1) - 1) .. 2^(bits-1) - 1``, :func:`reramsim.quantize.adc_top`); one
conversion per pair.

Device models (``config.device``, :mod:`reramsim.devices`; all off by default): the
layers keep their cells' levels and physical sites, :meth:`CrossbarLayer.program` writes
the chip's real-valued conductances (leak, variation, stuck-at faults, IR drop) into the
bit-serial cell tensors, and every sample takes read noise and the ADC on real values
(:func:`reramsim.devices.adc_read`); the digital side still uses the intended weights.

"Full precision" (:func:`full_precision`): 32-bit weights and inputs with an ideal ADC;
the output then matches the float model to ~1e-9 relative, and onnxruntime to its own
float32 rounding (< 1e-5 relative).
"""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from reramsim import workers
from reramsim._core._bitserial import clip_correction, pack_cells
from reramsim.config import Config
from reramsim.devices import CellSites, DeviceModel, ReadNoise, adc_read
from reramsim.ir import Network, WeightLayer
from reramsim.mapping import LayerMapping, NetworkMapping, map_network
from reramsim.ops import col2im_output, digital_op, run_float
from reramsim.quantize import (
    FunctionalError,
    InputQuant,
    adc_convert,
    adc_lsb,
    adc_top,
    calibrate_input,
    cell_slice,
    quantize_weights,
)

__all__ = ["AdcStats", "CrossbarLayer", "FunctionalError", "FunctionalModel", "full_precision"]

#: Elements of the largest temporary (bit planes or ADC samples) per chunk of pixels.
CHUNK_ELEMENTS = 1 << 23
#: Scatter matrices (outputs x unit bit-lines) up to this size are dense, larger ones sparse.
DENSE_SCATTER_ELEMENTS = 1 << 22
#: Cells gathered at once while building a layer's cell tensors.
BUILD_CHUNK_CELLS = 1 << 22
#: Integers below this are exact in float32 (bit-serial sums use float32 below it).
_EXACT_F32 = 1 << 24


def full_precision(config: Config) -> Config:
    """``config`` with 32-bit weights and inputs and an ideal ADC (the reference setting).

    Cell bits, DAC bits, crossbar and OU geometry are kept, so the same OU lists run.
    """
    return dataclasses.replace(
        config,
        precision=dataclasses.replace(config.precision, weight_bits=32, input_bits=32),
        adc=dataclasses.replace(config.adc, ideal=True),
    )


@dataclass
class AdcStats:
    """ADC conversions of one layer since the model was built: ``samples`` done, ``clipped``
    of them."""

    samples: int = 0
    clipped: int = 0


@dataclass
class _Program:
    """Physical bit-lines of a class that a chip programs, and the slots they feed.

    ``levels`` ``(n, rows)`` uint8 are the levels written at ``sites``; the conductances
    are added, times ``sign``, to rows ``slots`` of the class's flattened cells (one
    program per polarity with analog subtraction, whose slots hold ``G+ - G-``).
    """

    slots: np.ndarray
    sign: float
    levels: np.ndarray
    sites: CellSites


@dataclass
class _OuClass:
    """OU units of one layer with the same number of word-lines, executed together.

    ``weights`` is ``(units, outs, rows)``: cell levels per bit-line (bit-serial) or
    pre-shifted cells per column (linear). ``scatter`` maps the ``units * outs`` results
    to the layer's ``groups * cols`` integer outputs; ``offset_scatter`` maps the units'
    input sums (``-W0 * p`` for top-slice bit-lines), or is None.
    """

    n_rows: int
    unit_inputs: np.ndarray  # (units, rows) int64: flat input index g*R + r of each word-line
    unit_start: np.ndarray | None  # (units,) first input of each unit when all are contiguous
    linear: bool
    weights: np.ndarray
    scatter: np.ndarray | sp.csr_array
    offset_scatter: np.ndarray | sp.csr_array | None
    max_sum: float  # largest possible one-step bit-line sum: rows * dac_max * cell_max
    n_bitlines: int  # real bit-lines (ADC channels) over all units
    slots: np.ndarray | None  # (entries,) row of weights.reshape(-1, rows) per bit-line (serial)
    signed: bool = False  # the ADC converts analog differences (crossbar.subtract: analog)
    # With device models on (analog cells or readings; always bit-serial):
    real: np.ndarray | None = None  # (units, outs, 1) bool: slots holding a real bit-line
    programs: list[_Program] | None = None  # the physical bit-lines behind the slots
    packed: tuple | None = None  # cell bit planes for the clipping kernel (built on first use)

    @property
    def n_units(self) -> int:
        return len(self.unit_inputs)

    @property
    def analog(self) -> bool:
        """True when a device model makes its sums real-valued (ADC rounds, noise)."""
        return self.real is not None


class CrossbarLayer:
    """One weight layer programmed into its crossbars; call it on the layer's float input.

    Built once per (layer, mapping, config): quantised weights, cell levels per OU unit,
    the scatter of bit-lines to outputs. Raises FunctionalError for a mapping whose
    indices fall outside the layer or the config's slicing.
    """

    def __init__(self, layer: WeightLayer, mapping: LayerMapping, config: Config,
                 shortcut: bool = True, device: DeviceModel | None = None) -> None:
        _check_mapping(layer, mapping, config)
        self.layer = layer
        self.mapping = mapping
        self.config = config
        prec = config.precision
        matrices = np.stack(list(layer.matrices()))  # (G, R, C)
        self.q, self.weight_scale = quantize_weights(matrices, prec.weight_bits,
                                                     prec.weight_scale == "per_channel")
        self.steps = config.input_steps
        self.dac_max = (1 << config.dac.bits) - 1
        self.shortcut = shortcut
        device = device if device is not None and device.active else None
        self.classes, self.offset_const = _build_classes(layer, mapping, config, self.q, shortcut,
                                                         device)
        self.stats = AdcStats()
        #: stuck-at cells among the cells the mapping reads, on the current chip
        self.faulty_cells = 0
        self.device: DeviceModel | None = None
        self._noise: ReadNoise | None = None
        if device is not None:
            self.program(device)

    @property
    def cells_used(self) -> int:
        """Cells read by some OU of the layer (those a fault can hit)."""
        return self.mapping.cells_used

    def program(self, device: DeviceModel) -> None:
        """Program the cells as chip ``device`` holds them (variation, faults, IR drop).

        ``device`` must have the device parameters the layer was built with (another seed
        is another chip); the read-noise stream restarts.
        """
        if self.device is not None and device.params != self.device.params:
            raise FunctionalError(f"layer {self.layer.name}: programmed with other device "
                                  "parameters; build a new model for a new device section")
        self.device = device
        self._noise = device.read_noise(self.layer.name)
        self.faulty_cells = 0
        for cls in self.classes:
            if cls.programs is None:
                continue
            flat = cls.weights.reshape(-1, cls.n_rows)
            flat[cls.slots] = 0.0
            for prog in cls.programs:
                cells, faulty = device.program(prog.levels, prog.sites, self.layer.name)
                flat[prog.slots] += prog.sign * cells
                self.faulty_cells += faulty

    def __call__(self, x: np.ndarray, quant: InputQuant) -> np.ndarray:
        """The layer's output on the hardware: ``(N, Cout, Ho, Wo)`` or ``(N, Cout)`` float64.

        ``x`` is the layer input ``(N, Cin, H, W)`` / ``(N, Cin)`` in float; ``quant`` its
        format. Images are processed in chunks that keep temporaries near
        :data:`CHUNK_ELEMENTS` elements.
        """
        layer = self.layer
        n = x.shape[0]
        per_image = layer.groups * layer.rows * layer.out_pixels
        step = max(1, CHUNK_ELEMENTS // (4 * per_image))
        y = np.empty((n, layer.out_pixels, layer.cout), np.float64)
        for i0 in range(0, n, step):
            y[i0:i0 + step] = self._run_images(x[i0:i0 + step], quant)
        return col2im_output(y, layer)

    def _run_images(self, x: np.ndarray, quant: InputQuant) -> np.ndarray:
        """``(n, P, Cout)`` outputs of a few images."""
        layer = self.layer
        inputs = word_line_inputs(quant.streamed(x), layer, pad_value=quant.offset)
        width = inputs.shape[1]  # n * P pixels
        y_int = np.zeros((layer.cout, width), np.float64)
        if quant.offset:
            y_int += float(quant.offset) * self.offset_const[:, None]
        for cls in self.classes:
            if cls.linear:
                self._run_linear(cls, inputs, y_int)
            else:
                self._run_bit_serial(cls, inputs, y_int, _uint_for(quant.bits))
        y = y_int.T * (quant.scale * self.weight_scale)
        if layer.bias is not None:
            y += layer.bias.astype(np.float64)
        return y.reshape(x.shape[0], -1, layer.cout)

    # ----------------------------------------------------------------------- execution

    def _chunks(self, cls: _OuClass, width: int, per_pixel: int) -> Iterable[slice]:
        step = max(1, CHUNK_ELEMENTS // max(1, cls.n_units * per_pixel))
        for p0 in range(0, width, step):
            yield slice(p0, min(width, p0 + step))

    @staticmethod
    def _gather(cls: _OuClass, inputs: np.ndarray, cols: slice) -> np.ndarray:
        """The word-line inputs of every unit: ``(units, rows, pixels)``."""
        if cls.unit_start is not None and cls.n_units == 1:
            start = int(cls.unit_start[0])
            return inputs[None, start:start + cls.n_rows, cols]  # a view
        return np.take(inputs[:, cols], cls.unit_inputs, axis=0)

    def _run_linear(self, cls: _OuClass, inputs: np.ndarray, y_int: np.ndarray) -> None:
        """ADC-transparent class: inputs times pre-shifted cells, one matmul per unit."""
        units, outs, rows = cls.weights.shape
        for cols in self._chunks(cls, inputs.shape[1], max(rows, outs)):
            if cls.unit_start is not None:  # contiguous rows: views, no gather
                part = np.empty((units, outs, cols.stop - cols.start), np.float64)
                for u, start in enumerate(cls.unit_start):
                    np.matmul(cls.weights[u], inputs[start:start + rows, cols], out=part[u])
            else:
                part = np.matmul(cls.weights, self._gather(cls, inputs, cols))
            y_int[:, cols] += cls.scatter @ part.reshape(units * outs, -1)
        self.stats.samples += cls.n_bitlines * self.steps * inputs.shape[1]

    def _run_bit_serial(self, cls: _OuClass, inputs: np.ndarray, y_int: np.ndarray,
                        uint: type) -> None:
        """One ADC sample per (pixel, step, OU, bit-line), then shift-and-add.

        With the shortcut on, a saturating (``unit``) ADC on integer sums goes through
        :meth:`_run_clipping` instead (same integers, only the samples that can clip).
        """
        if self.shortcut and self.config.adc.lsb_mode == "unit" and not cls.analog \
                and not self.config.adc.ideal:
            self._run_clipping(cls, inputs, y_int)
            return
        steps, dac_bits = self.steps, self.config.dac.bits
        units, outs, rows = cls.weights.shape
        mask = uint(self.dac_max)
        adc = self.config.adc
        # readings are integers up to this bound (None: real-valued), for _shift_add
        if adc.ideal:
            bound = None if cls.analog else cls.max_sum
        else:
            limit = float(adc_top(adc, cls.signed))
            bound = None if adc.lsb_mode == "full_range" else \
                limit if cls.analog else min(limit, cls.max_sum)
        for cols in self._chunks(cls, inputs.shape[1], steps * max(rows, outs)):
            xg = self._gather(cls, inputs, cols)  # (units, rows, px) streamed levels
            levels = xg.astype(uint)
            px = xg.shape[2]
            planes = np.empty((units, rows, steps, px), cls.weights.dtype)
            for s in range(steps):  # DAC level of step s: bits [s*dac_bits, (s+1)*dac_bits)
                planes[:, :, s, :] = (levels >> uint(s * dac_bits)) & mask
            noise = self._noise.start((units, outs, steps * px), cls.weights.dtype) \
                if cls.analog and self._noise is not None else None  # drawn meanwhile
            sums = np.matmul(cls.weights, planes.reshape(units, rows, steps * px))
            if cls.analog:
                if noise is not None:
                    sums += noise.result()
                self.stats.clipped += adc_read(sums, cls.max_sum, adc, cls.real, cls.signed)
            else:
                self.stats.clipped += adc_convert(sums, cls.max_sum, adc, cls.signed)
            merged = self._shift_add(sums.reshape(units * outs, steps, px), bound)
            y_int[:, cols] += cls.scatter @ merged.reshape(units * outs, px)
            if cls.offset_scatter is not None:  # digital: -W0 * p * sum of the OU's inputs
                y_int[:, cols] += cls.offset_scatter @ xg.sum(axis=1, dtype=np.float64)
        self.stats.samples += cls.n_bitlines * steps * inputs.shape[1]

    def _run_clipping(self, cls: _OuClass, inputs: np.ndarray, y_int: np.ndarray) -> None:
        """A saturating (``unit``) ADC on integer sums, exactly, sampling only what can clip.

        ``ADC(a) = a - max(a - T, 0)`` with ``T = 2^bits - 1`` (a signed ADC, analog
        subtraction: ``T = 2^(bits-1) - 1`` and also ``- min(a + T, 0)``). Shift-and-add of
        the first term over the steps, scattered to the outputs, is one float64 matmul of
        ``x_u`` with the pre-shifted cells summed per output. A (unit, step, pixel) sample
        can clip only if its step's DAC levels summed over the unit's rows, times the
        unit's largest cell magnitude, exceed ``T``; for those the compiled
        kernel :func:`reramsim._core._bitserial.clip_correction` counts every bit-line's
        sum in popcounts of bit planes and subtracts ``2^(s*dac_bits)`` times the part
        the ADC cuts off (times the bit-line's digital weight) from its output. Integers
        throughout: the same numbers and clip count as the step-by-step path.
        """
        units, outs, rows = cls.weights.shape
        if cls.packed is None:
            cls.packed = _clip_kernel_inputs(cls)
        plus, minus, cell_max, target, weight, folded = cls.packed
        top = adc_top(self.config.adc, cls.signed)
        for cols in self._chunks(cls, inputs.shape[1], max(rows, outs)):
            xg = self._gather(cls, inputs, cols)  # (units, rows, px) streamed levels
            px = xg.shape[2]
            correction = np.zeros((px, y_int.shape[0]))
            # parts of the pixels on the worker threads (the kernel releases the GIL)
            levels = xg.astype(np.float64, copy=False)  # the kernel reads it in place
            edges = np.linspace(0, px, min(workers.THREADS, px) + 1).astype(int)
            parts = [workers.pool().submit(
                clip_correction, levels, plus, minus, cell_max, top, self.steps,
                self.config.dac.bits, cls.signed, target, weight, correction, p0, p1)
                for p0, p1 in zip(edges[:-1], edges[1:]) if p1 > p0]
            # meanwhile the shift-and-added sums of a, folded into the outputs (exact)
            y_int[:, cols] += folded @ xg.reshape(units * rows, -1)
            self.stats.clipped += sum(part.result() for part in parts)
            y_int[:, cols] += correction.T
            if cls.offset_scatter is not None:  # digital: -W0 * p * sum of the OU's inputs
                y_int[:, cols] += cls.offset_scatter @ xg.sum(axis=1, dtype=np.float64)
        self.stats.samples += cls.n_bitlines * self.steps * inputs.shape[1]

    def _shift_add(self, sums: np.ndarray, bound: float | None) -> np.ndarray:
        """``sum_s 2^(s*dac_bits) * sums[:, s, :]`` in float64, ``sums`` ``(bit-lines, steps, px)``.

        Readings that are integers up to ``bound`` are summed in groups of steps whose
        partial sums stay exact in the readings' dtype (below 2^24 in float32), one
        matmul per group; real-valued readings (``bound`` None) step by step in float64.
        Both give the float64 step-by-step sum exactly when the readings are integers.
        """
        n, steps, px = sums.shape
        dac_bits = self.config.dac.bits
        if bound is None:
            merged = sums[:, 0, :].astype(np.float64)
            for s in range(1, steps):
                merged += float(1 << (s * dac_bits)) * sums[:, s, :]
            return merged
        exact = _EXACT_F32 if sums.dtype == np.float32 else float(1 << 53)
        merged, s0 = np.zeros((n, px)), 0
        while s0 < steps:
            k = 1  # steps in this group: bound * (1 + 2^d + ... + 2^((k-1)d)) < exact
            while s0 + k < steps and bound * (((1 << ((k + 1) * dac_bits)) - 1)
                                              // ((1 << dac_bits) - 1)) < exact:
                k += 1
            weights = np.exp2(np.arange(k) * dac_bits).astype(sums.dtype)
            part = np.matmul(weights, sums[:, s0:s0 + k, :])  # (n, px), exact
            merged += float(1 << (s0 * dac_bits)) * part
            s0 += k
        return merged


def _clip_kernel_inputs(cls: _OuClass) -> tuple:
    """What :func:`reramsim._core._bitserial.clip_correction` needs for a bit-serial class.

    The cells' bit planes (positive and negative parts), each unit's largest cell
    magnitude, each bit-line's output and digital weight (``(units, lines8)``, read off the
    scatter matrix, which has one entry per real bit-line), and ``folded``
    ``(outputs, units*rows)``: the cells pre-shifted and summed per output, so that
    ``folded @ x_u`` is the shift-and-added ``a`` of every bit-line, scattered.
    """
    units, outs, rows = cls.weights.shape
    plus = pack_cells(np.maximum(cls.weights, 0))
    negative = np.maximum(-cls.weights, 0)
    minus = pack_cells(negative) if negative.any() else plus[:, :0].copy()
    lines8 = plus.shape[3]
    scatter = sp.coo_array(cls.scatter)
    target = np.zeros(units * lines8, np.int64)
    weight = np.zeros(units * lines8)
    position = scatter.col // outs * lines8 + scatter.col % outs
    target[position] = scatter.row
    weight[position] = scatter.data
    folded = cls.scatter @ sp.block_diag(list(cls.weights.astype(np.float64)), format="csr")
    return (plus, minus, np.abs(cls.weights).max(axis=(1, 2), initial=0).astype(np.float64),
            target.reshape(units, lines8), weight.reshape(units, lines8),
            np.ascontiguousarray(folded.toarray() if sp.issparse(folded) else folded))


def word_line_inputs(x: np.ndarray, layer: WeightLayer, pad_value: float = 0.0) -> np.ndarray:
    """The values driven on the word-lines: ``(groups*rows, N*P)``, row ``g*rows + r``.

    The transpose of :func:`reramsim.ops.im2col_groups` (same row order ``(c, ky, kx)``,
    pixels ``n*P + p`` in raster order), built directly in this layout so that an OU's
    word-lines are a block of rows. Padding positions hold ``pad_value`` (the streamed
    level of a zero input, ``X0``).
    """
    n = x.shape[0]
    if layer.op == "fc":
        return np.ascontiguousarray(x.reshape(n, -1).T)
    _, cin, _, _ = x.shape
    (kh, kw), (sy, sx), (dy, dx) = layer.kernel, layer.stride, layer.dilation
    ho, wo = layer.out_shape[1:]
    top, left, bottom, right = layer.pads
    if any(layer.pads):
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=pad_value)
    out = np.empty((cin, kh, kw, n, ho, wo), x.dtype)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dy, kx * dx
            view = x[:, :, y0:y0 + (ho - 1) * sy + 1:sy, x0:x0 + (wo - 1) * sx + 1:sx]
            out[:, ky, kx] = view.transpose(1, 0, 2, 3)
    return out.reshape(cin * kh * kw, n * ho * wo)


def _uint_for(bits: int) -> type:
    return np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32


def _check_mapping(layer: WeightLayer, m: LayerMapping, config: Config) -> None:
    """Index bounds the execution relies on; anything else a mapping says is executed as is."""
    where = f"layer {layer.name} ({m.scheme} mapping)"
    checks = [
        (m.ou_rows, layer.rows, "ou_rows (matrix rows)"),
        (m.ou_cols, layer.cols, "ou_cols (matrix columns)"),
        (m.ou_slices, config.slices, "ou_slices (weight bit-slices)"),
        (m.xbar_group, layer.groups, "xbar_group"),
        (m.ou_xbar, m.n_crossbars, "ou_xbar"),
    ]
    for values, bound, what in checks:
        if len(values) and (values.min() < 0 or values.max() >= bound):
            raise FunctionalError(f"{where}: {what} outside [0, {bound}); was it made with "
                                  "another config or layer?")
    if config.precision.signed_weights != "differential" and np.any(m.xbar_polarity < 0):
        raise FunctionalError(f"{where}: negative-polarity crossbars, but precision."
                              f"signed_weights is '{config.precision.signed_weights}' "
                              "(map with the same config)")
    if config.precision.signed_weights == "sign_bit":
        signs = m.ou_bl_sign
        if signs is None or len(signs) != len(m.ou_cols) or not np.all(np.abs(signs) == 1):
            raise FunctionalError(f"{where}: precision.signed_weights is 'sign_bit' but the "
                                  "mapping gives no +1/-1 sign per bit-line (map with scheme "
                                  "forms)")


def _ranges(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(start[i], start[i] + count[i])`` over ``i``."""
    count = np.asarray(count, np.int64)
    first = np.cumsum(count) - count  # position of each range's first element
    return np.repeat(np.asarray(start, np.int64) - first, count) + np.arange(int(count.sum()))


def _build_classes(layer: WeightLayer, m: LayerMapping, config: Config, q: np.ndarray,
                   shortcut: bool, device: DeviceModel | None
                   ) -> tuple[list[_OuClass], np.ndarray]:
    """Group the OUs into units and classes and program their cells; also the X0 constant.

    With analog subtraction (``crossbar.subtract: analog``) the bit-lines of a unit that
    hold the same column and slice on the positive and the negative array become one ADC
    channel whose cells are ``G+ - G-`` (:func:`_pair_bit_lines`). With an active
    ``device`` every class runs bit-serially with real-valued readings, and keeps its
    physical bit-lines' levels and sites for :meth:`CrossbarLayer.program`.

    Returns ``(classes, const)`` with ``const`` ``(groups*cols,)``: the input-offset
    correction per output, multiplied by ``X0`` at run time.
    """
    prec, cb = config.precision, config.crossbar.cell_bits
    n_rows_all = m.ou_n_rows
    n_out = layer.groups * layer.cols
    const = np.zeros(n_out, np.float64)
    if prec.signed_weights == "offset":
        w0 = 1 << (prec.weight_bits - 1)
        stored = (q + w0)[:, None]  # (G, 1, R, C)
    elif prec.signed_weights == "sign_bit":  # magnitudes; the sign comes from ou_bl_sign
        w0 = 0
        stored = np.abs(q)[:, None]
    else:
        w0 = 0
        stored = np.stack([np.maximum(q, 0), np.maximum(-q, 0)], axis=1)  # (G, 2, R, C)
    analog_pairs = _analog_subtraction(config)
    top = (prec.weight_bits - 1) // cb
    ou_group = m.xbar_group[m.ou_xbar].astype(np.int64)
    ou_sign = m.xbar_polarity[m.ou_xbar].astype(np.int64)
    bl_sign = (np.ones(len(m.ou_cols), np.int64) if m.ou_bl_sign is None
               or prec.signed_weights != "sign_bit" else m.ou_bl_sign.astype(np.int64))
    classes = []
    for n_rows in np.unique(n_rows_all[n_rows_all > 0]):
        ous = np.flatnonzero(n_rows_all == n_rows)
        rows = m.ou_rows[m.ou_row_ptr[ous][:, None] + np.arange(n_rows)].astype(np.int64)
        flat = ou_group[ous][:, None] * layer.rows + rows
        unit_inputs, ou_unit = np.unique(flat, axis=0, return_inverse=True)
        ou_unit = ou_unit.reshape(-1)
        count = m.ou_n_cols[ous]
        entry = _ranges(m.ou_col_ptr[ous], count)
        local = np.repeat(np.arange(len(ous)), count)  # OU (position in ous) of each bit-line
        e = _Entries(
            unit=ou_unit[local], rows=rows, local=local, group=ou_group[ous][local],
            pol=(ou_sign[ous][local] < 0).astype(np.int64),
            sign=ou_sign[ous][local] * bl_sign[entry], col=m.ou_cols[entry].astype(np.int64),
            slice=m.ou_slices[entry].astype(np.int64),
        )
        channels, member = _pair_bit_lines(e) if analog_pairs else (e, np.arange(len(e)))
        cls = _build_class(int(n_rows), unit_inputs, channels, stored, const, w0, top, layer,
                           config, shortcut and device is None, analog_pairs)
        if device is not None:
            sites = CellSites(xbar=m.ou_xbar[ous][local], bl=m.ou_bl[entry], ou=local,
                              wl=m.ou_wl[m.ou_row_ptr[ous][:, None] + np.arange(n_rows)])
            _keep_for_devices(cls, e, member, stored, cb, sites)
        classes.append(cls)
    return classes, const


def _analog_subtraction(config: Config) -> bool:
    """True when differential pairs subtract their currents before one (signed) ADC."""
    return (config.crossbar.subtract == "analog"
            and config.precision.signed_weights == "differential")


def _pair_bit_lines(e: _Entries) -> tuple[_Entries, np.ndarray]:
    """The ADC channels of analog subtraction: one per (unit, group, column, slice).

    A channel reads the positive array's bit-line minus the negative array's (either may
    be missing from a mapping: its term is then 0). Returns the channels, with ``pol`` 0,
    ``sign`` +1 and ``plus`` / ``minus`` saying which arrays they read, and ``member``:
    the channel of each bit-line of ``e``.
    """
    key = np.stack([e.unit, e.group, e.col, e.slice], axis=1)
    _, first, member = np.unique(key, axis=0, return_index=True, return_inverse=True)
    member = member.reshape(-1)
    plus = np.zeros(len(first), np.int64)
    minus = np.zeros(len(first), np.int64)
    np.add.at(plus, member[e.pol == 0], 1)
    np.add.at(minus, member[e.pol == 1], 1)
    channels = _Entries(unit=e.unit[first], rows=e.rows, local=e.local[first],
                        group=e.group[first], pol=np.zeros(len(first), np.int64),
                        sign=np.ones(len(first), np.int64), col=e.col[first],
                        slice=e.slice[first], plus=plus, minus=minus)
    return channels, member


def _keep_for_devices(cls: _OuClass, e: _Entries, member: np.ndarray, stored: np.ndarray,
                      cell_bits: int, sites: CellSites) -> None:
    """Make a bit-serial class analog: real-slot mask, float32 cells, the programs kept.

    ``e`` are the physical bit-lines (at ``sites``), ``member[i]`` the class entry (ADC
    channel) bit-line ``i`` feeds: one program per polarity that a channel subtracts
    (analog subtraction), else one program for all.
    """
    units, width = cls.weights.shape[:2]
    cls.real = np.zeros(units * width, bool)
    cls.real[cls.slots] = True
    cls.real = cls.real.reshape(units, width, 1)
    cls.weights = cls.weights.astype(np.float32)
    cls.programs = []
    for pol in (0, 1) if cls.signed else (None,):
        idx = np.arange(len(e)) if pol is None else np.flatnonzero(e.pol == pol)
        if not len(idx):
            continue
        cls.programs.append(_Program(
            slots=cls.slots[member[idx]], sign=-1.0 if pol == 1 else 1.0,
            levels=e.cells(stored, cell_bits, idx).astype(np.uint8),
            sites=CellSites(xbar=sites.xbar[idx], bl=sites.bl[idx], ou=sites.ou[idx],
                            wl=sites.wl)))


@dataclass
class _Entries:
    """The bit-lines of one class's OUs, one array element per (OU, bit-line).

    With analog subtraction an entry is an ADC channel reading ``plus`` x the positive
    array's cell minus ``minus`` x the negative array's (:func:`_pair_bit_lines`).
    """

    unit: np.ndarray
    rows: np.ndarray  # (OUs of the class, rows): indexed by ``local``
    local: np.ndarray
    group: np.ndarray
    pol: np.ndarray  # 1 for the negative array of a differential pair: which cells to read
    sign: np.ndarray  # digital sign of the bit-line's partial sum (polarity x sign bit)
    col: np.ndarray
    slice: np.ndarray
    plus: np.ndarray | None = None  # analog subtraction: 0/1, reads the positive array
    minus: np.ndarray | None = None  # analog subtraction: 0/1, subtracts the negative array

    def __len__(self) -> int:
        return len(self.unit)

    def cells(self, stored: np.ndarray, cell_bits: int, part: slice | np.ndarray
              ) -> np.ndarray:
        """Cell levels ``(entries in part, rows)`` read from the programmed weights (signed
        ``G+ - G-`` levels for analog-subtraction channels)."""
        g, rows = self.group[part, None], self.rows[self.local[part]]
        col, t = self.col[part, None], self.slice[part, None]
        if self.minus is None:
            return cell_slice(stored[g, self.pol[part, None], rows, col], t, cell_bits)
        return (self.plus[part, None] * cell_slice(stored[g, 0, rows, col], t, cell_bits)
                - self.minus[part, None] * cell_slice(stored[g, 1, rows, col], t, cell_bits))


def _build_class(n_rows: int, unit_inputs: np.ndarray, e: _Entries, stored: np.ndarray,
                 const: np.ndarray, w0: int, top: int, layer: WeightLayer, config: Config,
                 shortcut: bool, signed: bool = False) -> _OuClass:
    """Program one class's cells (bit-serial) or pre-shifted cells (linear); add to ``const``.

    ``const`` collects the input-offset correction ``-sum_r (digital weight of row r)``
    per output, so that ``X0 * const`` removes the ``X0`` every streamed input carries.
    ``signed``: the entries are analog-subtraction channels read by a signed ADC.
    """
    cb = config.crossbar.cell_bits
    n_units, n_out = len(unit_inputs), layer.groups * layer.cols
    out = e.group * layer.cols + e.col  # output column of each bit-line
    shift = e.sign * np.exp2(e.slice * cb)  # digital weight of each bit-line
    is_top = (e.slice == top) if w0 else np.zeros(len(e), bool)
    max_sum = float(n_rows * ((1 << config.dac.bits) - 1) * ((1 << cb) - 1))
    step = max(1, BUILD_CHUNK_CELLS // n_rows)
    parts = [slice(i, min(i + step, len(e))) for i in range(0, len(e), step)]
    linear = shortcut and _adc_transparent(config, max_sum, signed, lambda: max(
        (_largest_sum(e.cells(stored, cb, p)) for p in parts), default=0))
    if linear:  # pre-shifted cells summed per (unit, output column), weight offset folded in
        pair_key, pair = np.unique(e.unit * n_out + out, return_inverse=True)
        pair = pair.reshape(-1)
        pair_unit, pair_out = pair_key // n_out, pair_key % n_out
        rank = np.arange(len(pair_key)) - np.searchsorted(pair_unit, pair_unit)
        width = int(rank.max(initial=-1)) + 1
        slot = pair_unit * width + rank
        weights = np.zeros((n_units * width, n_rows), np.float64)
        for p in parts:
            idx = np.arange(p.start, p.stop)
            agg = sp.csr_array((shift[idx], (slot[pair[idx]], idx - p.start)),
                               shape=(n_units * width, len(idx)))
            weights += agg @ e.cells(stored, cb, p).astype(np.float64)
        # -W0 * p * (sum of the OU's inputs) per top-slice bit-line = -W0 * p on each row
        fold = np.zeros(n_units * width)
        np.add.at(fold, slot[pair[is_top]], -float(w0) * e.sign[is_top])
        weights += fold[:, None]
        scatter = _scatter(np.ones(len(pair_key)), pair_out, slot, (n_out, n_units * width))
        offset_scatter = None
    else:  # cell levels per bit-line
        order = np.argsort(e.unit, kind="stable")
        rank = np.empty(len(e), np.int64)
        rank[order] = np.arange(len(e)) - np.searchsorted(e.unit[order], e.unit[order])
        width = int(rank.max(initial=-1)) + 1
        slot = e.unit * width + rank
        weights = np.zeros((n_units * width, n_rows),
                           np.float32 if max_sum < _EXACT_F32 else np.float64)
        for p in parts:
            weights[slot[p]] = e.cells(stored, cb, p)
        scatter = _scatter(shift, out, slot, (n_out, n_units * width))
        offset_scatter = _scatter(-float(w0) * e.sign[is_top], out[is_top], e.unit[is_top],
                                  (n_out, n_units)) if is_top.any() else None
        np.add.at(const, out[is_top], float(w0 * n_rows) * e.sign[is_top])
    const -= scatter @ weights.sum(axis=1, dtype=np.float64)
    contiguous = n_rows == 1 or bool(np.all(np.diff(unit_inputs, axis=1) == 1))
    return _OuClass(n_rows, unit_inputs, unit_inputs[:, 0].copy() if contiguous else None, linear,
                    weights.reshape(n_units, width, n_rows), scatter, offset_scatter, max_sum,
                    len(e), None if linear else slot, signed)


def _scatter(data: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]
             ) -> np.ndarray | sp.csr_array:
    """The matrix with ``data`` summed at ``(rows, cols)``: dense when small, else sparse."""
    matrix = sp.csr_array((data, (rows, cols)), shape=shape)
    return matrix.toarray() if shape[0] * shape[1] <= DENSE_SCATTER_ELEMENTS else matrix


def _adc_transparent(config: Config, max_sum: float, signed: bool,
                     max_column_sum: Callable[[], int]) -> bool:
    """True when the ADC (``signed`` for analog differences) reports every possible sum exactly.

    ``max_column_sum()`` is the class's largest bit-line sum magnitude in cell levels
    (computed only for a ``unit`` ADC, where it decides).
    """
    adc = config.adc
    if adc.ideal:
        return True
    if adc.lsb_mode == "unit":
        return max_column_sum() * ((1 << config.dac.bits) - 1) <= adc_top(adc, signed)
    return adc_lsb(max_sum, adc, signed) == 1.0


def _largest_sum(cells: np.ndarray) -> int:
    """The largest ``|sum_r d_r cells[i, r]|`` over bit-lines ``i`` for 0/1 inputs ``d``:
    the positive cells' sum or the negative cells' (signed channels), whichever is larger."""
    if not cells.size:
        return 0
    positive, negative = np.maximum(cells, 0).sum(axis=1), np.maximum(-cells, 0).sum(axis=1)
    return int(max(positive.max(), negative.max()))


# --------------------------------------------------------------------------- whole network


class FunctionalModel:
    """A network running on the simulated crossbars; build once, call many times.

    Args:
        network: the IR network (:func:`reramsim.onnx_import.load_onnx`).
        config: the hardware config (precision, cell bits, DAC, ADC, crossbar and OU sizes).
        mapping: a :class:`~reramsim.mapping.NetworkMapping` to execute; ``None`` maps the
            network with ``scheme`` and ``options`` (:func:`reramsim.mapping.map_network`).
        scheme, options: the mapper and its per-layer options when ``mapping`` is None.
        ideal_adc: override ``config.adc.ideal`` to True (unlimited resolution and range).
        calibration: a batch to calibrate the input scales on now (see :meth:`calibrate`);
            otherwise the first batch given to :meth:`run` / :meth:`forward` calibrates them.
        shortcut: run ADC-transparent OU classes as one exact integer matmul (see the module
            doc); False forces one ADC sample per input step everywhere (tests, debugging).
        blas_threads: cap the BLAS threads while the model runs (needs ``threadpoolctl``;
            ignored without it). The model makes many mid-sized matmuls, which a
            multi-threaded BLAS slows down badly when the cores are busy with other work
            (another process, PyTorch training next to AUTO-PRUNE). ``None``: one BLAS
            thread while bit-serial classes run (see :meth:`_blas_cap`), else the BLAS as
            it is.
        seed: the chip the device models program (``config.device``: variation, stuck-at
            faults, read noise); :meth:`program` programs another one.

    Example::

        model = FunctionalModel(load_onnx("models/lenet.onnx"), load_config("isaac"),
                                calibration=x_train[:64])
        acc = model.accuracy(x_test, y_test)             # top-1 on the hardware
        model.set_layer("fc1", weight=pruned_w, mapping=new_layer_mapping)

    Raises:
        FunctionalError: a mapping that does not fit the network or the config, or a
            precision the model cannot represent (weight_bits < 2...).
        MappingError: from the mapper when ``mapping`` is None.
    """

    def __init__(self, network: Network, config: Config, mapping: NetworkMapping | None = None,
                 *, scheme: str = "dense", options: dict[str, dict] | None = None,
                 ideal_adc: bool = False, calibration: Any = None, shortcut: bool = True,
                 blas_threads: int | None = None, seed: int = 0) -> None:
        if ideal_adc:
            config = dataclasses.replace(config, adc=dataclasses.replace(config.adc, ideal=True))
        self.config = config
        self.network = network
        self.shortcut = shortcut
        self.blas_threads = blas_threads
        self._layers = list(network.layers)
        if mapping is None:
            mapping = map_network(network, config, scheme, options)
        _check_network_mapping(network, mapping, config)
        self.mapping = NetworkMapping(mapping.scheme, mapping.config, dict(mapping.layers))
        #: the programmed chip: device variations, faults and read noise (config.device)
        self.device = DeviceModel(config, seed)
        self._crossbars = {
            layer.name: CrossbarLayer(layer, self.mapping.layers[layer.name], config, shortcut,
                                      self.device)
            for layer in network.weight_layers()}
        #: weight layer name -> its input format; filled by :meth:`calibrate`.
        self.input_quant: dict[str, InputQuant] = {}
        if calibration is not None:
            self.calibrate(calibration)

    # ----------------------------------------------------------------------- set-up

    def calibrate(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> None:
        """Set every weight layer's input format from the float model's activations on a batch.

        Each layer input gets the unsigned or signed format of
        :func:`reramsim.quantize.calibrate_input` covering the batch's min and max (float
        network, the model's current weights). Values outside the range later saturate.
        """
        view = dataclasses.replace(self.network, layers=self._layers)
        values = run_float(view, self._feeds(inputs), keep_all=True, dtype=np.float64)
        bits = self.config.precision.input_bits
        self.input_quant = {
            layer.name: calibrate_input(float(values[layer.inputs[0]].min(initial=0.0)),
                                        float(values[layer.inputs[0]].max(initial=0.0)), bits)
            for layer in self._weight_layers()
        }

    def set_layer(self, name: str, weight: np.ndarray | None = None, bias: np.ndarray | None = None,
                  mapping: LayerMapping | None = None) -> None:
        """Swap one weight layer's weights, bias and/or mapping; only that layer is rebuilt.

        ``weight`` keeps the layer's shape (``(Cout, Cin/g, kh, kw)`` or ``(Cout, Cin)``).
        ``mapping`` defaults to the current one, which is right for weight-independent
        schemes (dense); a pruning scheme passes the layer's new mapping. Input scales are
        kept; call :meth:`calibrate` again to refresh them.

        Raises:
            KeyError: no weight layer ``name``.
            FunctionalError: a weight of another shape, or a mapping that does not fit.
        """
        index = next((i for i, layer in enumerate(self._layers)
                      if layer.name == name and isinstance(layer, WeightLayer)), None)
        if index is None:
            raise KeyError(f"no weight layer named {name!r}; weight layers: "
                           f"{', '.join(self._crossbars)}")
        layer = self._layers[index]
        assert isinstance(layer, WeightLayer)
        changes: dict[str, Any] = {}
        if weight is not None:
            if np.shape(weight) != layer.weight.shape:
                raise FunctionalError(f"layer {name}: weight shape {np.shape(weight)}, expected "
                                      f"{layer.weight.shape}")
            changes["weight"] = np.asarray(weight, np.float32)
        if bias is not None:
            changes["bias"] = np.asarray(bias, np.float32).reshape(layer.cout)
        new = dataclasses.replace(layer, **changes) if changes else layer
        layer_mapping = mapping if mapping is not None else self.mapping.layers[name]
        self._crossbars[name] = CrossbarLayer(new, layer_mapping, self.config, self.shortcut,
                                              self.device)
        self._layers[index] = new
        self.mapping.layers[name] = layer_mapping

    def program(self, seed: int) -> None:
        """Program another chip: the device models' draws for ``seed`` (a Monte Carlo trial).

        Weights, mappings and input scales are kept; with every device model off this
        changes nothing. Same seed, same chip (and the same read-noise sequence).
        """
        self.device = DeviceModel(self.config, seed)
        if self.device.active:
            for xbar in self._crossbars.values():
                xbar.program(self.device)

    # ----------------------------------------------------------------------- execution

    def run(self, inputs: Mapping[str, np.ndarray] | np.ndarray,
            observe: Callable[[WeightLayer, np.ndarray, InputQuant], None] | None = None
            ) -> dict[str, np.ndarray]:
        """Every graph output, float64 ``(N, *shape)``, for a batch (one array or name -> array).

        Calibrates the input scales on this batch if they are not set yet. ``observe`` is
        called with each weight layer, its float input and its input format before the
        layer runs (e.g. to record the bits its word-lines see, :mod:`reramsim.activity`).
        Raises FunctionalError for missing, unknown or misshapen inputs.
        """
        values = self._feeds(inputs)
        if not self.input_quant:
            self.calibrate(values)
        with _blas_limit(self._blas_cap()):
            return self._run(values, observe)

    def _blas_cap(self) -> int | None:
        """The BLAS thread cap of a run: ``blas_threads`` when given; else 1 when some OU
        class runs bit-serially, because its clipping kernel and noise draws keep the worker
        threads (:mod:`reramsim.workers`) busy beside the matmuls and a multi-threaded BLAS
        spinning on the same cores slows both (Plain20 with a 6-bit ADC on 2 cores, with an
        earlier kernel: 15.6 s uncapped, 10.8 s capped; ``benchmarks/bench_functional.py``);
        else no cap."""
        if self.blas_threads is not None:
            return self.blas_threads
        serial = any(not cls.linear for layer in self._crossbars.values() for cls in layer.classes)
        return 1 if serial and workers.THREADS > 1 else None

    def _run(self, values: dict[str, np.ndarray], observe=None) -> dict[str, np.ndarray]:
        last_use = {name: i for i, layer in enumerate(self._layers) for name in layer.inputs}
        keep = set(self.network.outputs)
        for i, layer in enumerate(self._layers):
            xs = [values[name] for name in layer.inputs]
            if isinstance(layer, WeightLayer) and observe is not None:
                observe(self._layers[i], xs[0], self.input_quant[layer.name])
            if isinstance(layer, WeightLayer):
                values[layer.output] = self._crossbars[layer.name](xs[0],
                                                                   self.input_quant[layer.name])
            else:
                values[layer.output] = digital_op(layer, xs)
            for name in set(layer.inputs):
                if last_use[name] == i and name not in keep:
                    del values[name]
        return {name: values[name] for name in self.network.outputs}

    def forward(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> np.ndarray:
        """The first graph output (the logits of a classifier), float64 ``(N, ...)``."""
        return self.run(inputs)[self.network.outputs[0]]

    __call__ = forward

    def predict(self, x: np.ndarray, batch: int = 256) -> np.ndarray:
        """Top-1 class per sample, ``(N,)`` int64, in batches of ``batch``."""
        if not len(x):
            return np.zeros(0, np.int64)
        return np.concatenate([self.forward(x[i:i + batch]).argmax(axis=1)
                               for i in range(0, len(x), batch)])

    def accuracy(self, x: np.ndarray, y: np.ndarray, batch: int = 256,
                 progress: Callable[[int], Any] | None = None) -> float:
        """Top-1 accuracy in [0, 1] of the hardware on images ``x`` with labels ``y``.

        ``progress(n)`` is called after each batch with its size (e.g. ``tqdm.update``).
        Raises FunctionalError when ``x`` and ``y`` differ in length.
        """
        if len(x) != len(y):
            raise FunctionalError(f"{len(x)} inputs but {len(y)} labels")
        correct = 0
        for i in range(0, len(x), batch):
            correct += int((self.forward(x[i:i + batch]).argmax(axis=1) == y[i:i + batch]).sum())
            if progress is not None:
                progress(len(x[i:i + batch]))
        return correct / len(x) if len(x) else 0.0

    # ----------------------------------------------------------------------- introspection

    @property
    def adc_stats(self) -> dict[str, AdcStats]:
        """Weight layer name -> ADC conversions and clipped samples since the model was built."""
        return {name: xbar.stats for name, xbar in self._crossbars.items()}

    @property
    def faulty_cells(self) -> int:
        """Stuck-at cells among the cells the mappings read, over every layer of this chip."""
        return sum(xbar.faulty_cells for xbar in self._crossbars.values())

    @property
    def cells_used(self) -> int:
        """Cells read by some OU, over every layer (where faults can land)."""
        return sum(xbar.cells_used for xbar in self._crossbars.values())

    def crossbar_layer(self, name: str) -> CrossbarLayer:
        """The programmed crossbars of one weight layer (quantised weights, OU classes)."""
        return self._crossbars[name]

    def _weight_layers(self) -> list[WeightLayer]:
        return [layer for layer in self._layers if isinstance(layer, WeightLayer)]

    def _feeds(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
        net = self.network
        if not isinstance(inputs, Mapping):
            if len(net.inputs) != 1:
                raise FunctionalError(f"{net.name}: has inputs {list(net.inputs)}; pass a dict "
                                      "name -> array")
            inputs = {next(iter(net.inputs)): inputs}
        if set(inputs) != set(net.inputs):
            raise FunctionalError(f"{net.name}: inputs must be exactly {sorted(net.inputs)}, "
                                  f"got {sorted(inputs)}")
        feeds = {}
        for name, shape in net.inputs.items():
            arr = np.asarray(inputs[name], np.float64)
            if arr.shape[1:] != tuple(shape) or arr.ndim != len(shape) + 1:
                raise FunctionalError(f"{net.name}: input {name!r} must be (N, "
                                      f"{', '.join(map(str, shape))}), got {arr.shape}")
            feeds[name] = arr
        return feeds


@contextlib.contextmanager
def _blas_limit(threads: int | None) -> Iterator[None]:
    """Cap BLAS threads inside the block when asked and threadpoolctl is installed."""
    if threads is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def _check_network_mapping(network: Network, mapping: NetworkMapping, config: Config) -> None:
    names = [layer.name for layer in network.weight_layers()]
    missing = [name for name in names if name not in mapping.layers]
    if missing:
        raise FunctionalError(f"the mapping has no entry for weight layer(s) {', '.join(missing)}")
    for what in ("slices", "polarities"):
        if getattr(mapping.config, what) != getattr(config, what):
            raise FunctionalError(
                f"the mapping was made with {getattr(mapping.config, what)} {what} per weight but "
                f"the config has {getattr(config, what)}; map with the same precision settings")
