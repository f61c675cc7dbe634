"""Non-ideal ReRAM cells: what a programmed crossbar really conducts and what its ADC reads.

The functional model (:mod:`reramsim.functional`) computes with cell *levels*: integers in
``[0, Lmax]``, ``Lmax = 2^cell_bits - 1``, one level being one conductance step
``dG = (G_on - G_off) / Lmax`` (``G_on = 1/r_on``, ``G_off = 1/r_off``). A
:class:`DeviceModel` turns the levels a mapping programs into the conductances a chip
holds, still in units of ``dG`` (so an ideal device returns the levels unchanged):

1. finite on/off ratio: a cell at level ``l`` conducts ``G_off + l*dG``, i.e.
   ``l + leak`` with ``leak = G_off/dG = Lmax / (r_off/r_on - 1)``;
2. programming variation, drawn once per chip and cell: ``G * exp(sigma*z)``
   (lognormal) or ``G * max(0, 1 + sigma*z)`` (normal), ``z ~ N(0, 1)``;
3. stuck-at faults, placed per physical cell with probabilities ``sa0_rate`` (stuck at
   the off state: ``leak``) and ``sa1_rate`` (stuck at the on state: ``Lmax + leak``);
4. IR drop along the word-lines and bit-lines, first order (:func:`ir_drop`): each
   OU's cells are scaled by ``1 / (1 + r * S)`` where ``S`` sums the conductances that
   share the cell's wire segments.

Read noise (:attr:`DeviceModel.read_noise_sigma`) is drawn per ADC conversion by the
functional model, and :func:`adc_read` is the ADC on such analog sums.

Random draws are a counter-based hash of (chip seed, layer name, physical cell), so a
cell's variation and fault depend only on the chip and on where the cell is, not on the
order cells are visited or on how many other cells a mapping uses: a pruned mapping that
leaves a crossbar region empty simply reads fewer (possibly faulty) cells, and the same
seed programs the same chip for every mapping. See ``docs/devices.md``.
"""
from __future__ import annotations

import zlib
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from reramsim import workers
from reramsim.config import Config
from reramsim.config.schema import Adc
from reramsim.quantize import adc_lsb, adc_top

__all__ = ["CellSites", "DeviceModel", "PendingNoise", "ReadNoise", "adc_read", "chip_seed",
           "ir_drop"]

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
#: Streams of the per-cell hash: one independent draw per purpose.
_FAULT_STREAM, _VARIATION_STREAM = 1, 2
#: Cells of OUs processed at once by the IR-drop model (bounds its temporaries).
_IR_CHUNK_CELLS = 1 << 22
#: Read-noise values per block: each block has its own generator, so blocks are drawn in
#: parallel and the values do not depend on how many threads draw them.
NOISE_BLOCK = 1 << 20


def _mix_int(z: int) -> int:
    """The splitmix64 finaliser on a Python int (a bijection of 64-bit words)."""
    z &= _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def chip_seed(seed: int, trial: int) -> int:
    """The seed of Monte Carlo chip ``trial`` of a run seeded ``seed`` (distinct per pair)."""
    return _mix_int(_mix_int(seed * _GOLDEN + 1) + trial)


def _cell_uniforms(key: int, site: np.ndarray) -> np.ndarray:
    """Uniforms in (0, 1), one per cell id in ``site``, from the stream ``key``."""
    z = _mix(site.astype(np.uint64) * np.uint64(_GOLDEN) + np.uint64(key))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


@dataclass
class CellSites:
    """Where the cells of some OU bit-lines are: ``(entries, rows)`` cells, row-major.

    Attributes:
        xbar: ``(entries,)`` crossbar of each bit-line (within the layer's mapping).
        bl: ``(entries,)`` physical bit-line.
        ou: ``(entries,)`` OU of each bit-line, non-decreasing (an OU's bit-lines adjacent).
        wl: ``(OUs, rows)`` physical word-lines of each OU (indexed by ``ou``).
    """

    xbar: np.ndarray
    bl: np.ndarray
    ou: np.ndarray
    wl: np.ndarray

    def cell_ids(self, rows: int, cols: int) -> np.ndarray:
        """``(entries, rows)`` id of each cell, unique within a layer: (xbar, wl, bl)."""
        wl = self.wl[self.ou]
        return (self.xbar[:, None].astype(np.int64) * rows + wl) * cols + self.bl[:, None]


class DeviceModel:
    """The ``device`` section of a config for one programmed chip (``seed``).

    Args:
        config: the hardware config (``device``, ``crossbar`` geometry and cell bits).
        seed: the chip; the same seed programs the same variations and faults.
    """

    def __init__(self, config: Config, seed: int = 0) -> None:
        dev = config.device
        self.params = dev
        self.seed = int(seed)
        self.rows, self.cols = config.crossbar.rows, config.crossbar.cols
        self.top = float((1 << config.crossbar.cell_bits) - 1)
        g_on, g_off = 1.0 / dev.r_on_ohm, 1.0 / dev.r_off_ohm
        #: conductance of one level step, siemens
        self.step_siemens = (g_on - g_off) / self.top
        #: conductance of an off cell in level units (0 for an infinite r_off)
        self.leak = g_off / self.step_siemens
        self.read_noise_sigma = dev.read_noise_sigma

    @property
    def static(self) -> bool:
        """True when programmed cells differ from their levels (leak, variation, faults, IR)."""
        dev = self.params
        return bool(self.leak > 0 or dev.sigma > 0 or dev.sa0_rate > 0 or dev.sa1_rate > 0
                    or dev.wire_resistance_ohm > 0)

    @property
    def active(self) -> bool:
        """True when any device model is on (the cells or the readings are not ideal)."""
        return self.static or self.read_noise_sigma > 0

    def _key(self, layer: str, stream: int) -> int:
        return _mix_int(_mix_int(self.seed * _GOLDEN + stream) ^ zlib.crc32(layer.encode()))

    def read_noise(self, layer: str) -> ReadNoise | None:
        """The read-noise stream of one layer on this chip, or None when the noise is off."""
        if self.read_noise_sigma <= 0:
            return None
        return ReadNoise(self.read_noise_sigma,
                         [self.seed & _MASK64, zlib.crc32(layer.encode())])

    def program(self, levels: np.ndarray, sites: CellSites, layer: str
                ) -> tuple[np.ndarray, int]:
        """Conductances, in level units, of cells programmed to ``levels``.

        Args:
            levels: ``(entries, rows)`` the integer levels the mapping programs.
            sites: where those cells are (crossbar, word-line, bit-line, OU).
            layer: the layer's name (part of every cell's random draw).

        Returns:
            ``(cells, faulty)``: float64 ``(entries, rows)`` conductances / ``dG``, and the
            number of stuck-at cells among them.
        """
        dev = self.params
        cells = np.asarray(levels, np.float64) + self.leak
        ids = sites.cell_ids(self.rows, self.cols) if (dev.sigma > 0 or dev.sa0_rate > 0
                                                        or dev.sa1_rate > 0) else None
        if dev.sigma > 0:
            z = ndtri(_cell_uniforms(self._key(layer, _VARIATION_STREAM), ids))
            if dev.distribution == "lognormal":
                cells *= np.exp(dev.sigma * z)
            else:
                cells *= np.maximum(0.0, 1.0 + dev.sigma * z)
        faulty = 0
        if dev.sa0_rate > 0 or dev.sa1_rate > 0:
            u = _cell_uniforms(self._key(layer, _FAULT_STREAM), ids)
            sa0 = u < dev.sa0_rate
            sa1 = u >= 1.0 - dev.sa1_rate
            cells[sa0] = self.leak
            cells[sa1] = self.top + self.leak
            faulty = int(np.count_nonzero(sa0 | sa1))
        if dev.wire_resistance_ohm > 0:
            cells = ir_drop(cells * self.step_siemens, sites, dev.wire_resistance_ohm,
                            self.rows) / self.step_siemens
        return cells, faulty


class ReadNoise:
    """Gaussian read noise, ``sigma * N(0, 1)`` per ADC conversion, for one layer of one chip.

    The stream is cut into blocks of :data:`NOISE_BLOCK` values; block ``b`` comes from its
    own SFC64 generator (the fastest of numpy's bit generators for normal draws) seeded by
    ``SeedSequence(entropy, spawn_key=(b,))``. Each request takes whole fresh blocks, so
    the same sequence of requests gives the same values whatever the thread count.
    :meth:`start` hands the blocks to the worker threads (:mod:`reramsim.workers`) and
    returns at once, so the draws overlap the caller's matrix products.
    """

    def __init__(self, sigma: float, entropy: list[int]) -> None:
        self.sigma = float(sigma)
        self.entropy = entropy
        self.next_block = 0

    def start(self, shape: tuple[int, ...], dtype: type) -> PendingNoise:
        """Begin drawing an array of ``shape`` noise values; ``.result()`` waits for it."""
        out = np.empty(int(np.prod(shape)), dtype)
        blocks = -(-len(out) // NOISE_BLOCK)
        first, self.next_block = self.next_block, self.next_block + blocks
        pool = workers.pool()
        parts = [pool.submit(self._fill, out[i * NOISE_BLOCK:(i + 1) * NOISE_BLOCK], first + i)
                 for i in range(blocks)]
        return PendingNoise(out.reshape(shape), parts)

    def _fill(self, view: np.ndarray, block: int) -> None:
        seq = np.random.SeedSequence(self.entropy, spawn_key=(block,))
        np.random.Generator(np.random.SFC64(seq)).standard_normal(out=view, dtype=view.dtype)
        view *= self.sigma


@dataclass
class PendingNoise:
    """Noise being drawn by the worker threads: ``values`` are final once ``result()`` returns."""

    values: np.ndarray
    parts: list[Future]

    def result(self) -> np.ndarray:
        """The noise array, after every block is drawn (re-raises a worker's error)."""
        for part in self.parts:
            part.result()
        return self.values


def ir_drop(g: np.ndarray, sites: CellSites, r_wire: float, xbar_rows: int) -> np.ndarray:
    """Effective conductances of OU cells under wire resistance, first order in ``r_wire``.

    Geometry (docs/devices.md): each word-line is driven from its bit-line-0 end, each
    bit-line is sensed at virtual ground past its last row (``xbar_rows``), every cell
    pitch of wire is ``r_wire`` ohm, and in one OU step only the OU's cells conduct (the
    other rows' access transistors are off, the other bit-lines float). Cell ``(i, j)`` at
    word-line ``w_i`` and bit-line ``b_j`` then sees its input voltage reduced by::

        dV_wl = r * sum_n I_in * (min(b_n, b_j) + 1)        (its word-line's segments)
        dV_bl = r * sum_k I_kj * (xbar_rows - max(w_k, w_i))  (its bit-line's segments)

    With the ideal currents ``I = g * v`` this is linear in the inputs ``v``, so the
    bit-line currents are those of effective conductances; to first order
    ``g' = g * (1 - r*S)``, written ``g' = g / (1 + r*S)`` (the same to first order, exact
    for a lone cell, never negative) with::

        S_ij = sum_n g_in (min(b_n, b_j) + 1) + sum_k g_kj (xbar_rows - max(w_k, w_i))

    Args:
        g: ``(entries, rows)`` conductances in siemens, OU bit-lines as in ``sites``.
        sites: the bit-lines' OUs and physical positions.
        r_wire: ohm per cell pitch.
        xbar_rows: word-lines of the crossbar (distance of row ``w`` to the sense amp is
            ``xbar_rows - w`` segments).

    Returns:
        ``(entries, rows)`` effective conductances, siemens.
    """
    out = np.empty_like(g)
    ou = sites.ou
    starts = np.flatnonzero(np.r_[True, ou[1:] != ou[:-1]]) if len(ou) else np.zeros(0, int)
    counts = np.diff(np.r_[starts, len(ou)])
    rows = g.shape[1]
    for n_bl in np.unique(counts):
        first = starts[counts == n_bl]
        step = max(1, _IR_CHUNK_CELLS // (n_bl * max(n_bl, rows)))
        for k0 in range(0, len(first), step):
            idx = first[k0:k0 + step, None] + np.arange(n_bl)  # (K, C) entries of K OUs
            cells = g[idx]  # (K, C, R)
            b = sites.bl[idx].astype(np.int64)
            w = sites.wl[ou[first[k0:k0 + step]]].astype(np.int64)  # (K, R)
            share_wl = np.minimum(b[:, :, None], b[:, None, :]) + 1.0  # (K, C, C)
            share_bl = xbar_rows - np.maximum(w[:, :, None], w[:, None, :]).astype(np.float64)
            s = np.matmul(share_wl, cells) + np.matmul(cells, share_bl)  # (K, C, R)
            out[idx] = cells / (1.0 + r_wire * s)
    return out


def adc_read(a: np.ndarray, max_sum: float, adc: Adc, real: np.ndarray | None = None,
             signed: bool = False) -> int:
    """Convert analog sums ``a`` in place to the ADC's readings; return the saturated count.

    ``a`` is in units of one cell level x one DAC level and may be any real (leaks,
    variations and noise move it off the integers and below 0). ``unit``: the nearest
    code in ``[0, T]`` (``[-T, T]`` for a ``signed`` ADC, an analog difference), ``T =
    adc_top``. ``full_range``: ``lsb = adc_lsb(max_sum)``, the nearest code
    ``rint(a / lsb)`` in that range, times ``lsb``. Ideal: unchanged. The count is of
    samples beyond the top code (either sign), among those where ``real`` (broadcast to
    ``a``) is True.
    """
    if adc.ideal:
        return 0
    top = float(adc_top(adc, signed))
    lsb = adc_lsb(max_sum, adc, signed)
    if lsb != 1.0:
        np.divide(a, lsb, out=a)
    np.rint(a, out=a)
    over = (a > top) | (a < -top) if signed else a > top
    saturated = int(np.count_nonzero(over if real is None else over & real))
    np.clip(a, -top if signed else 0.0, top, out=a)
    if lsb != 1.0:
        np.multiply(a, lsb, out=a)
    return saturated
