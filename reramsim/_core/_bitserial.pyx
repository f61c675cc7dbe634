"""Saturating-ADC samples of the functional model, counted bit by bit (popcounts).

:func:`clip_correction` is the bit-serial half of ``CrossbarLayer._run_clipping`` in
:mod:`reramsim.functional`: for every (unit, pixel, input step) whose DAC levels could
drive a bit-line past the ADC's top code, it computes each bit-line's sum exactly,
``a = sum_r d_r * c_r``, as popcounts of word-line bit planes AND cell bit planes
(``d = sum_k 2^k d_k``, ``c = sum_m 2^m c_m``: ``a = sum_{k,m} 2^(k+m) popcount(d_k & c_m)``,
the negative cells of a signed channel subtracted the same way), and subtracts the part
the ADC cuts off, ``2^(s*dac_bits) * (a - T)`` above ``T`` (and ``2^(s*dac_bits) * (a + T)``
below ``-T`` for a signed ADC), from the linear result. A bit-line's cut-off parts are
summed over the pixel's steps first (int64, in registers on AVX-512), so each bit-line
touches the outputs once per pixel. The numbers are integers, exact; the tests compare
them with the step-by-step numpy path.
"""
cimport cython
from libc.stdint cimport int64_t, uint64_t

import numpy as np

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__GNUC__) || defined(__clang__)
    static inline int popcount64(unsigned long long x) { return __builtin_popcountll(x); }
    #else
    static inline int popcount64(unsigned long long x) {
        x = x - ((x >> 1) & 0x5555555555555555ULL);
        x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
        x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
        return (int)((x * 0x0101010101010101ULL) >> 56);
    }
    #endif

    /* a[l] += (or -=) 2^shift * sum_w popcount(bits[w] & cells[w * lines + l]), l < 8:
       one input bit plane against one cell bit plane, for 8 bit-lines. */
    static inline void add_plane(int64_t *a, const uint64_t *bits, const uint64_t *cells,
                                 int words, int lines, int shift, int negative) {
        int64_t part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int w = 0; w < words; w++) {
            uint64_t b = bits[w];
            if (!b) continue;
            const uint64_t *cw = cells + (int64_t)w * lines;
            for (int l = 0; l < 8; l++)
                part[l] += popcount64(b & cw[l]);
        }
        for (int l = 0; l < 8; l++)
            a[l] += negative ? -(part[l] << shift) : part[l] << shift;
    }

    /* One pixel: for its input steps ``active[0..n_active)`` (step s reads the word-line
       bit planes x + s * dac_bits * words), each bit-line's sum a_j = sum_{k,m} 2^(k+m)
       popcount(x_k & c_mj) over the cell planes ``c`` laid out [plane][word][bit-line]
       (``lines`` a multiple of 8; padding bit-lines hold zero cells), minus the same over
       ``n`` (negative cells; ``nplanes`` may be 0). The parts beyond the top code,
       ``a - top`` (above) or ``a + top`` (below -top, signed), are summed per bit-line as
       ``sum_s 2^(s*dac_bits) * part`` in int64 and subtracted once, times ``weight[j]``,
       from ``out[target[j]]``. Returns the number of clipped samples. Blocks of 8
       bit-lines, as in the vector kernel below, keep the loop overheads off each line. */
    static int64_t pixel_clip_scalar(const uint64_t *x, const int *active, int n_active,
                                     const uint64_t *c, int cplanes, const uint64_t *n,
                                     int nplanes, int dac_bits, int words, int lines,
                                     int64_t top, int sign, const int64_t *target,
                                     const double *weight, double *out) {
        int64_t clipped = 0;
        for (int j = 0; j < lines; j += 8) {
            int64_t cut[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int t = 0; t < n_active; t++) {
                int s = active[t];
                const uint64_t *xs = x + (int64_t)s * dac_bits * words;
                int64_t a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                for (int k = 0; k < dac_bits; k++) {
                    for (int m = 0; m < cplanes; m++)
                        add_plane(a, xs + k * words, c + (int64_t)m * words * lines + j, words,
                                  lines, k + m, 0);
                    for (int m = 0; m < nplanes; m++)
                        add_plane(a, xs + k * words, n + (int64_t)m * words * lines + j, words,
                                  lines, k + m, 1);
                }
                int64_t step = (int64_t)1 << (s * dac_bits);
                for (int l = 0; l < 8; l++) {  /* branch-free: clipping is data-dependent */
                    int64_t above = a[l] - top, below = a[l] + top;
                    int64_t part = (above > 0 ? above : 0) + (sign && below < 0 ? below : 0);
                    clipped += part != 0;
                    cut[l] += part * step;
                }
            }
            for (int l = 0; l < 8; l++)
                if (cut[l]) out[target[j + l]] -= weight[j + l] * (double)cut[l];
        }
        return clipped;
    }

    /* The 8x8 bit matrix in ``m`` (byte i, bit j) transposed (byte j, bit i). */
    static inline uint64_t transpose8(uint64_t m) {
        m = (m & 0xAA55AA55AA55AA55ULL) | ((m & 0x00AA00AA00AA00AAULL) << 7)
            | ((m >> 7) & 0x00AA00AA00AA00AAULL);
        m = (m & 0xCCCC3333CCCC3333ULL) | ((m & 0x0000CCCC0000CCCCULL) << 14)
            | ((m >> 14) & 0x0000CCCC0000CCCCULL);
        return (m & 0xF0F0F0F00F0F0F0FULL) | ((m & 0x00000000F0F0F0F0ULL) << 28)
            | ((m >> 28) & 0x00000000F0F0F0F0ULL);
    }

    /* Bit planes of ``count`` pixels' word-line levels (pixel i at lv + i * pstride, row r
       at + r * rstride; exact non-negative integers held in doubles): bit r % 64 of
       x[(i * planes + b) * words + r / 64] is bit b of pixel i's level on row r, for the
       ``planes`` lowest bits (x zeroed first). Eight rows at a time: byte c of their eight
       levels is an 8x8 bit matrix whose transpose holds planes 8c..8c+7 of those rows. */
    static void pack_pixels(const double *lv, int64_t rstride, int64_t pstride, int count,
                            int rows, int planes, int words, uint64_t *x) {
        memset(x, 0, sizeof(uint64_t) * count * planes * words);
        uint64_t keep = planes >= 64 ? ~0ULL : (1ULL << planes) - 1;
        for (int r0 = 0; r0 < rows; r0 += 8) {
            int n = rows - r0 < 8 ? rows - r0 : 8, shift = r0 & 63;
            for (int i = 0; i < count; i++) {
                uint64_t v[8] = {0, 0, 0, 0, 0, 0, 0, 0}, any = 0;
                for (int k = 0; k < n; k++) {
                    v[k] = (uint64_t)(int64_t)lv[(int64_t)(r0 + k) * rstride + i * pstride] & keep;
                    any |= v[k];
                }
                uint64_t *xi = x + (int64_t)i * planes * words + (r0 >> 6);
                for (int c = 0; c < 8 && any >> (8 * c); c++) {
                    uint64_t m = 0;
                    for (int k = 0; k < 8; k++)
                        m |= ((v[k] >> (8 * c)) & 0xFF) << (8 * k);
                    m = transpose8(m);
                    for (int j = 0; j < 8 && m; j++, m >>= 8)
                        xi[(8 * c + j) * words] |= (m & 0xFF) << shift;
                }
            }
        }
    }

    #if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    #include <immintrin.h>
    #define AVX512_POPCNT __attribute__((target("avx512f,avx512vpopcntdq")))
    /* add_plane for 8 bit-lines in one register (AVX-512 VPOPCNTQ). */
    AVX512_POPCNT static inline __m512i add_plane_avx512(
            __m512i a, const uint64_t *bits, const uint64_t *cells, int words, int lines,
            int shift, int negative) {
        __m512i part = _mm512_setzero_si512();
        for (int w = 0; w < words; w++)
            part = _mm512_add_epi64(part, _mm512_popcnt_epi64(_mm512_and_si512(
                _mm512_loadu_si512((const void *)(cells + (int64_t)w * lines)),
                _mm512_set1_epi64((long long)bits[w]))));
        part = _mm512_slli_epi64(part, shift);
        return negative ? _mm512_sub_epi64(a, part) : _mm512_add_epi64(a, part);
    }

    /* pixel_clip_scalar with 8 bit-lines per instruction, chosen at run time. */
    AVX512_POPCNT static int64_t pixel_clip_avx512(
            const uint64_t *x, const int *active, int n_active, const uint64_t *c,
            int cplanes, const uint64_t *n, int nplanes, int dac_bits, int words, int lines,
            int64_t top, int sign, const int64_t *target, const double *weight, double *out) {
        int64_t clipped = 0;
        int64_t cuts[8];
        const __m512i hi = _mm512_set1_epi64(top), lo = _mm512_set1_epi64(-top);
        for (int j = 0; j < lines; j += 8) {
            __m512i cut = _mm512_setzero_si512();
            for (int t = 0; t < n_active; t++) {
                int s = active[t];
                const uint64_t *xs = x + (int64_t)s * dac_bits * words;
                __m512i a = _mm512_setzero_si512();
                for (int k = 0; k < dac_bits; k++) {
                    for (int m = 0; m < cplanes; m++)
                        a = add_plane_avx512(a, xs + k * words, c + (int64_t)m * words * lines + j,
                                             words, lines, k + m, 0);
                    for (int m = 0; m < nplanes; m++)
                        a = add_plane_avx512(a, xs + k * words, n + (int64_t)m * words * lines + j,
                                             words, lines, k + m, 1);
                }
                __mmask8 over = _mm512_cmpgt_epi64_mask(a, hi);
                __m512i part = _mm512_maskz_sub_epi64(over, a, hi);
                if (sign) {
                    __mmask8 under = _mm512_cmplt_epi64_mask(a, lo);
                    part = _mm512_mask_add_epi64(part, under, a, hi);
                    over |= under;
                }
                clipped += __builtin_popcount((unsigned)over);
                cut = _mm512_add_epi64(cut, _mm512_slli_epi64(part, s * dac_bits));
            }
            if (!_mm512_test_epi64_mask(cut, cut)) continue;
            _mm512_storeu_si512((void *)cuts, cut);
            for (int l = 0; l < 8; l++)
                if (cuts[l]) out[target[j + l]] -= weight[j + l] * (double)cuts[l];
        }
        return clipped;
    }
    static int has_avx512_popcnt(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
    }
    #else
    static int64_t pixel_clip_avx512(const uint64_t *x, const int *active, int n_active,
                                     const uint64_t *c, int cplanes, const uint64_t *n,
                                     int nplanes, int dac_bits, int words, int lines,
                                     int64_t top, int sign, const int64_t *target,
                                     const double *weight, double *out) {
        return pixel_clip_scalar(x, active, n_active, c, cplanes, n, nplanes, dac_bits, words,
                                 lines, top, sign, target, weight, out);
    }
    static int has_avx512_popcnt(void) { return 0; }
    #endif
    """
    int popcount64(unsigned long long x) nogil
    void pack_pixels(const double *lv, int64_t rstride, int64_t pstride, int count, int rows,
                     int planes, int words, uint64_t *x) nogil
    int64_t pixel_clip_scalar(const uint64_t *x, const int *active, int n_active,
                              const uint64_t *c, int cplanes, const uint64_t *n, int nplanes,
                              int dac_bits, int words, int lines, int64_t top, int sign,
                              const int64_t *target, const double *weight, double *out) nogil
    int64_t pixel_clip_avx512(const uint64_t *x, const int *active, int n_active,
                              const uint64_t *c, int cplanes, const uint64_t *n, int nplanes,
                              int dac_bits, int words, int lines, int64_t top, int sign,
                              const int64_t *target, const double *weight, double *out) nogil
    int has_avx512_popcnt()

#: Pixels whose word-line bit planes are packed together.
DEF PIXEL_BLOCK = 32

#: True when this CPU runs the AVX-512 VPOPCNTQ kernel (8 bit-lines per instruction).
SIMD = bool(has_avx512_popcnt())


def pack_cells(cells):
    """Bit planes of non-negative integer cells ``(units, lines, rows)``: ``(units, bits,
    words, lines8)`` uint64, bit ``r % 64`` of word ``r // 64`` of plane ``m`` for bit-line
    ``j`` = bit ``m`` of cell ``(j, r)``; ``bits`` covers the largest cell, ``lines8`` is
    ``lines`` rounded up to a multiple of 8 (zero cells)."""
    levels = np.asarray(cells).astype(np.uint64)
    units, lines, rows = levels.shape
    words = max(1, -(-rows // 64))
    bits = max(1, int(levels.max(initial=0)).bit_length())
    lines8 = -(-lines // 8) * 8
    padded = np.zeros((units, lines8, words * 64), np.uint64)
    padded[:, :lines, :rows] = levels
    shifts = np.arange(64, dtype=np.uint64)
    planes = np.empty((units, bits, words, lines8), np.uint64)
    for m in range(bits):
        bit = (padded >> np.uint64(m)) & np.uint64(1)
        packed = (bit.reshape(units, lines8, words, 64) << shifts).sum(axis=3, dtype=np.uint64)
        planes[:, m] = packed.transpose(0, 2, 1)
    return planes


@cython.boundscheck(False)
@cython.wraparound(False)
def clip_correction(const double[:, :, :] levels, const uint64_t[:, :, :, ::1] plus,
                    const uint64_t[:, :, :, ::1] minus, const double[::1] cell_max,
                    int64_t top, int steps, int dac_bits, bint signed,
                    const int64_t[:, ::1] target, const double[:, ::1] weight,
                    double[:, ::1] y, Py_ssize_t first=0, Py_ssize_t last=-1,
                    bint simd=True):
    """Subtract every clipped sample's cut-off part from the outputs ``y``; return the
    clip count.

    Args:
        levels: ``(units, rows, pixels)`` streamed input levels ``x_u`` of each unit's rows:
            non-negative integers in float64, any strides (the model's gathered word-line
            inputs as they are, no copy).
        plus: ``(units, bits, words, lines8)`` bit planes of the cells (:func:`pack_cells`),
            the positive part of a signed channel's cells.
        minus: the same for the negative part (signed channels), or ``(units, 0, words,
            lines8)`` when no cell is negative.
        cell_max: ``(units,)`` largest cell magnitude per unit (the screen: a step whose
            DAC levels sum to ``D`` cannot clip when ``D * cell_max <= top``).
        top: the ADC's top code ``T``; ``signed``: codes ``-T..T``, else ``0..T``.
        steps, dac_bits: input steps and DAC bits per step. A bit-line's cut-off parts
            are summed over a pixel's steps in int64: ValueError when ``rows * cell_max *
            2^(steps*dac_bits)`` could reach 2^62.
        target, weight: ``(units, lines8)`` the output each bit-line adds into and its
            digital weight (``+-2^(slice*cell_bits)``; 0 for padding bit-lines).
        y: ``(pixels, outputs)`` float64 integer outputs, corrected in place by
            ``-2^(s*dac_bits) * weight * (cut-off part)`` per clipped sample.
        first, last: compute the pixels ``[first, last)`` only (``last`` -1: to the end),
            so that threads share one ``levels`` and ``y``, each on its own pixels.
        simd: use the AVX-512 kernel when the CPU has it (:data:`SIMD`); the scalar
            popcounts give the same integers.
    """
    cdef Py_ssize_t units = levels.shape[0], rows = levels.shape[1], pixels = levels.shape[2]
    cdef Py_ssize_t row_stride = levels.strides[1] // sizeof(double)
    cdef Py_ssize_t pixel_stride = levels.strides[2] // sizeof(double)
    cdef Py_ssize_t lines8 = plus.shape[3], words = plus.shape[2]
    cdef int pbits = plus.shape[1], nbits = minus.shape[1]
    cdef Py_ssize_t planes_n = steps * dac_bits
    if y.shape[0] != pixels or plus.shape[0] != units or lines8 % 8 \
            or minus.shape[0] != units or minus.shape[2] != words or minus.shape[3] != lines8 \
            or target.shape[0] != units or target.shape[1] != lines8 \
            or weight.shape[0] != units or weight.shape[1] != lines8 \
            or cell_max.shape[0] != units or words * 64 < rows or planes_n > 64:
        raise ValueError("clip_correction: inconsistent array shapes")
    if last < 0:
        last = pixels
    if not 0 <= first <= last <= pixels:
        raise ValueError("clip_correction: pixel range outside levels")
    if target.shape[1] and (np.min(target) < 0 or np.max(target) >= y.shape[1]):
        raise ValueError("clip_correction: a target output outside y")
    if rows * max(1.0, np.max(cell_max, initial=0)) * 2.0 ** planes_n >= 2.0 ** 62:
        raise ValueError("clip_correction: cut-off sums beyond int64")
    bits_buffer = np.zeros((PIXEL_BLOCK, planes_n, words), np.uint64)
    cdef uint64_t[:, :, ::1] x = bits_buffer
    active_buffer = np.zeros(steps, np.intc)
    cdef int[::1] active = active_buffer
    cdef bint vector = simd and SIMD
    cdef Py_ssize_t u, p, p0, count, s, k, w
    cdef int n_active
    cdef int64_t level_sum, clipped = 0
    cdef const uint64_t* neg
    cdef const uint64_t* xp
    with nogil:
        for u in range(units):
            neg = &minus[u, 0, 0, 0] if nbits else NULL
            for p0 in range(first, last, PIXEL_BLOCK):
                count = min(PIXEL_BLOCK, last - p0)  # word-line bit planes of these pixels
                pack_pixels(&levels[u, 0, p0], row_stride, pixel_stride, count, rows,
                            planes_n, words, &x[0, 0, 0])
                for p in range(p0, p0 + count):
                    xp = &x[p - p0, 0, 0]
                    n_active = 0  # the steps that could pass the top code
                    for s in range(steps):
                        level_sum = 0
                        for k in range(dac_bits):
                            for w in range(words):
                                level_sum += (<int64_t> popcount64(
                                    xp[(s * dac_bits + k) * words + w])) << k
                        if level_sum * cell_max[u] > top:
                            active[n_active] = s
                            n_active += 1
                    if n_active == 0:
                        continue  # no bit-line of the unit can pass the top code
                    if vector:
                        clipped += pixel_clip_avx512(xp, &active[0], n_active, &plus[u, 0, 0, 0],
                                                     pbits, neg, nbits, dac_bits, words, lines8,
                                                     top, signed, &target[u, 0], &weight[u, 0],
                                                     &y[p, 0])
                    else:
                        clipped += pixel_clip_scalar(xp, &active[0], n_active, &plus[u, 0, 0, 0],
                                                     pbits, neg, nbits, dac_bits, words, lines8,
                                                     top, signed, &target[u, 0], &weight[u, 0],
                                                     &y[p, 0])
    return clipped
