"""Tests for the popcount kernel of the saturating ADC (reramsim._core._bitserial) against a
direct numpy computation of every sample, for its scalar and its SIMD code."""
from __future__ import annotations

import numpy as np
import pytest

from reramsim._core._bitserial import clip_correction, pack_cells

RNG = np.random.default_rng(3)


def reference(levels: np.ndarray, cells: np.ndarray, top: int, steps: int, dac_bits: int,
              signed: bool) -> tuple[np.ndarray, int]:
    """``-sum_s 2^(s*dac_bits) * (ADC cut-off of a_s)`` per (unit, bit-line, pixel), and the
    number of samples beyond the top code, sample by sample."""
    mask = (1 << dac_bits) - 1
    d = np.stack([(levels >> (s * dac_bits)) & mask for s in range(steps)], axis=-1)
    a = np.einsum("ujr,uprs->ujps", cells.astype(np.float64), d.astype(np.float64))
    above = np.where(a > top, a - top, 0.0)
    below = np.where(a < -top, a + top, 0.0) if signed else np.zeros_like(a)
    shift = np.exp2(np.arange(steps) * dac_bits)
    return -((above + below) * shift).sum(axis=-1), int(np.count_nonzero(above + below))


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("rows, dac_bits, steps",  # (40, 2, 16): 32-bit levels
                         [(70, 1, 9), (128, 2, 4), (13, 3, 3), (40, 2, 16)])
@pytest.mark.parametrize("simd", [False, True])
def test_clip_correction_equals_every_sample(signed, rows, dac_bits, steps, simd):
    """Scalar and SIMD kernels: the cut-off parts and clip count of a direct computation."""
    units, lines, pixels = 2, 21, 37
    levels = RNG.integers(0, 1 << (steps * dac_bits), (units, pixels, rows)).astype(np.uint32)
    levels[RNG.random(levels.shape) < 0.4] = 0
    streamed = levels.transpose(0, 2, 1).astype(np.float64)  # (units, rows, pixels), strided
    cells = RNG.integers(-3 if signed else 0, 4, (units, lines, rows))
    top = 12
    plus = pack_cells(np.maximum(cells, 0))
    minus = pack_cells(np.maximum(-cells, 0)) if signed else plus[:, :0].copy()
    lines8 = plus.shape[3]
    # bit-line j of unit u adds into output (u*lines + j) // 2 with weight +-2^k
    target = np.zeros((units, lines8), np.int64)
    weight = np.zeros((units, lines8))
    target[:, :lines] = (np.arange(units)[:, None] * lines + np.arange(lines)) // 2
    weight[:, :lines] = RNG.choice([-4.0, -1.0, 1.0, 2.0, 16.0], (units, lines))
    y = np.zeros((pixels, units * lines // 2 + 1))
    cell_max = np.abs(cells).max(axis=(1, 2)).astype(np.float64)
    clipped = clip_correction(streamed, plus, minus, cell_max, top, steps, dac_bits, signed,
                              target, weight, y, simd=simd)
    expected, count = reference(levels, cells, top, steps, dac_bits, signed)
    want = np.zeros_like(y)
    for u in range(units):
        np.add.at(want.T, target[u, :lines], weight[u, :lines, None] * expected[u])
    np.testing.assert_array_equal(y, want)
    assert clipped == count > 0
    # pixel ranges: parts computed separately into one y give the same numbers and count
    parts = np.zeros_like(y)
    split = sum(clip_correction(streamed, plus, minus, cell_max, top, steps, dac_bits, signed,
                                target, weight, parts, first, last, simd=simd)
                for first, last in [(0, 5), (5, 5), (5, 30), (30, pixels)])
    np.testing.assert_array_equal(parts, want)
    assert split == count


def test_pack_cells_layout():
    """Plane m, word w, bit-line j holds bit m of cells r = 64 w + bit, bit-lines padded to 8."""
    cells = np.zeros((1, 3, 70), np.int64)
    cells[0, 1, 65] = 2
    cells[0, 2, 0] = 3
    planes = pack_cells(cells)
    assert planes.shape == (1, 2, 2, 8)
    assert planes[0, 1, 1, 1] == 1 << 1 and planes[0, 0, 1, 1] == 0
    assert planes[0, 0, 0, 2] == 1 and planes[0, 1, 0, 2] == 1
    assert np.count_nonzero(planes) == 3


def test_inconsistent_shapes_and_targets_error():
    levels = np.zeros((1, 10, 4))
    plus = pack_cells(np.ones((1, 3, 10)))
    target, weight = np.zeros((1, 8), np.int64), np.ones((1, 8))
    with pytest.raises(ValueError, match="inconsistent array shapes"):
        clip_correction(levels, plus, plus[:, :0].copy(), np.ones(1), 3, 2, 1, False,
                        target, weight, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="outside y"):
        clip_correction(levels, plus, plus[:, :0].copy(), np.ones(1), 3, 2, 1, False,
                        target + 3, weight, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="pixel range"):
        clip_correction(levels, plus, plus[:, :0].copy(), np.ones(1), 3, 2, 1, False,
                        target, weight, np.zeros((4, 3)), 2, 5)
    with pytest.raises(ValueError, match="beyond int64"):  # 60 one-bit steps of 10 rows
        clip_correction(levels, plus, plus[:, :0].copy(), np.ones(1), 3, 60, 1, False,
                        target, weight, np.zeros((4, 3)))


def test_worker_pool_restarts_in_a_forked_child():
    """A forked child gets its own worker threads (the parent's do not exist there)."""
    import os

    from reramsim import workers

    assert workers.pool().submit(int, "7").result() == 7
    pid = os.fork()
    if pid == 0:  # child: a task must run, not hang on the inherited pool
        code = 1
        try:
            code = 0 if workers.pool().submit(int, "8").result(timeout=20) == 8 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
