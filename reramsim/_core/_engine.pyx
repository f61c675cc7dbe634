"""The cycle-level event engine (see ``_engine.pxd`` for the contract, ``docs/timing.md``
for the semantics and ``reramsim/pyref.py`` for the same handlers in plain Python).

One entry point, :func:`run`, takes the model as a dict of C-contiguous numpy arrays
(built by :mod:`reramsim.engine`), checks every index once, runs the event loop
without the GIL and returns the statistics as numpy arrays. Failures inside the
loop come back as error codes and are raised here as :class:`EngineError` naming
the event kind, the component and the cycle.
"""
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t

from reramsim._core._queue cimport (Event, EventQueue, queue_free, queue_init, queue_next_is,
                                    queue_pop, queue_push, queue_take_direct)
from reramsim._core._types cimport (ERR_BAD_INDEX, ERR_DEADLOCK, ERR_KIND, ERR_NOMEM, ERR_NONE,
                                    ERR_ORDER, ERR_PAST, ERR_STATE, idx_t, time_t)

import numpy as np

from reramsim import ReramsimError

cnp.import_array()


class EngineError(ReramsimError):
    """The engine was given inconsistent input or reached an impossible state."""


#: Names of the event kinds, by value (``EventKind`` in ``_engine.pxd``).
EVENT_KIND_NAMES = ("ARRIVE", "INWRITE", "HOP", "OUT", "UNIT", "XSTEP", "FETCHED", "FETCH", "READ")
#: Column order of the per-layer count table (must equal reramsim.stats.EVENT_KINDS).
COUNT_KIND_NAMES = (
    "ou_step", "cell_read", "dac_conversion", "sample_hold", "adc_conversion", "shift_add",
    "index_read", "gather_input", "accumulate", "input_buffer_read", "input_buffer_write",
    "output_buffer_write", "output_buffer_read", "noc_bit_hop", "activation_op", "pooling_op",
    "eltwise_op", "other_op", "zero_check",
)
#: Column order of the busy/stall tables (must equal reramsim.analytical.RESOURCE_KINDS).
RESOURCE_KIND_NAMES = ("crossbar", "adc", "input_buffer", "output_buffer", "noc",
                       "accumulator", "activation", "pooling", "eltwise", "other")
_ERROR_TEXT = {
    ERR_NOMEM: "out of memory",
    ERR_BAD_INDEX: "input index out of range",
    ERR_PAST: "an event was scheduled before the current cycle",
    ERR_STATE: "impossible component state",
    ERR_ORDER: "pixels delivered out of order",
    ERR_DEADLOCK: "deadlock: no events left but pixels remain",
    ERR_KIND: "unknown event kind",
}

# (input array, what its entries must index) checked by check_model; detail = position here.
CHECKED_FIELDS = (
    "l_res_fetch", "l_res_unit", "l_res_out", "l_unit_rkind", "l_unit_ckind", "l_xb_lo/l_xb_hi",
    "l_edge_ptr", "l_edges", "l_flow_ptr", "l_flows", "l_pixels/l_pix_off", "x_layer", "x_adc",
    "x_ou_lo/x_ou_hi", "e_consumer", "e_flow", "e_need_off", "need", "f_src", "f_link_ptr",
    "f_links", "f_res_inwrite", "f_edge_ptr", "f_edges", "r_kind", "durations",
)


# --------------------------------------------------------------------------- checks


cdef inline int _bad(Failure* fail, int field, int64_t entry) noexcept nogil:
    fail.code = ERR_BAD_INDEX
    fail.kind = -1
    fail.component = entry
    fail.time = 0
    fail.detail = field
    return ERR_BAD_INDEX


cdef inline bint _csr_ok(const idx_t* ptr, int64_t n, int64_t n_items) noexcept nogil:
    cdef int64_t i
    if ptr[0] != 0 or ptr[n] > n_items:
        return False
    for i in range(n):
        if ptr[i + 1] < ptr[i]:
            return False
    return True


cdef int check_model(const Model* m, Failure* fail) noexcept nogil:
    """Every index an input decides is in range, every duration non-negative."""
    cdef int64_t i, j, lo, hi, need_end, p_src
    cdef idx_t layer
    for i in range(m.n_layers):
        if not 0 <= m.l_res_fetch[i] < m.n_res:
            return _bad(fail, 0, i)
        if not 0 <= m.l_res_unit[i] < m.n_res:
            return _bad(fail, 1, i)
        if not 0 <= m.l_res_out[i] < m.n_res:
            return _bad(fail, 2, i)
        if not 0 <= m.l_unit_rkind[i] < N_RES_KINDS:
            return _bad(fail, 3, i)
        if not 0 <= m.l_unit_ckind[i] < N_COUNT_KINDS:
            return _bad(fail, 4, i)
        if not 0 <= m.l_xb_lo[i] <= m.l_xb_hi[i] <= m.n_xbars:
            return _bad(fail, 5, i)
        if (m.l_pixels[i] < 1 or m.l_pix_off[i] < 0
                or m.l_pix_off[i] + m.l_pixels[i] > m.n_pixel_slots):
            return _bad(fail, 10, i)
        if m.l_t_fetch[i] < 0 or m.l_t_unit[i] < 0 or m.l_t_out[i] < 0:
            return _bad(fail, 25, i)
    if not _csr_ok(m.l_edge_ptr, m.n_layers, m.n_edges):
        return _bad(fail, 6, 0)
    if not _csr_ok(m.l_flow_ptr, m.n_layers, m.n_flows):
        return _bad(fail, 8, 0)
    for i in range(m.l_edge_ptr[m.n_layers]):
        if not 0 <= m.l_edges[i] < m.n_edges:
            return _bad(fail, 7, i)
    for i in range(m.l_flow_ptr[m.n_layers]):
        if not 0 <= m.l_flows[i] < m.n_flows:
            return _bad(fail, 9, i)
    for i in range(m.n_xbars):
        layer = m.x_layer[i]
        if not 0 <= layer < m.n_layers or not m.l_xb_lo[layer] <= i < m.l_xb_hi[layer]:
            return _bad(fail, 11, i)
        if not 0 <= m.x_adc[i] < m.n_res:
            return _bad(fail, 12, i)
        if not 0 <= m.x_ou_lo[i] < m.x_ou_hi[i] <= m.n_ous:
            return _bad(fail, 13, i)
    for i in range(m.n_ous):
        if m.o_t_first[i] < 0 or m.o_t_rest[i] < 0 or m.o_t_adc[i] < 0:
            return _bad(fail, 25, i)
    for i in range(m.n_flows):
        if not 0 <= m.f_src[i] < m.n_layers:
            return _bad(fail, 18, i)
        if not 0 <= m.f_res_inwrite[i] < m.n_res:
            return _bad(fail, 21, i)
        if m.f_t_serial[i] < 0 or m.f_t_inwrite[i] < 0:
            return _bad(fail, 25, i)
    if m.f_link_ptr[0] != 0 or m.f_link_ptr[m.n_flows] > m.n_links:
        return _bad(fail, 19, 0)
    for i in range(m.n_flows):
        if m.f_link_ptr[i + 1] < m.f_link_ptr[i]:
            return _bad(fail, 19, i)
    for i in range(m.f_link_ptr[m.n_flows]):
        if not 0 <= m.f_links[i] < m.n_res:
            return _bad(fail, 20, i)
    if not _csr_ok(m.f_edge_ptr, m.n_flows, m.n_edges):
        return _bad(fail, 22, 0)
    for i in range(m.f_edge_ptr[m.n_flows]):
        if not 0 <= m.f_edges[i] < m.n_edges:
            return _bad(fail, 23, i)
    for i in range(m.n_edges):
        if not 0 <= m.e_consumer[i] < m.n_layers:
            return _bad(fail, 14, i)
        if not 0 <= m.e_flow[i] < m.n_flows:
            return _bad(fail, 15, i)
        need_end = m.e_need_off[i] + m.l_pixels[m.e_consumer[i]]
        if m.e_need_off[i] < 0 or need_end > m.n_need:
            return _bad(fail, 16, i)
        p_src = m.l_pixels[m.f_src[m.e_flow[i]]]
        for j in range(m.e_need_off[i], need_end):
            if not 0 <= m.need[j] <= p_src:
                return _bad(fail, 17, j)
    for i in range(m.n_res):
        if not 0 <= m.r_kind[i] < N_RES_KINDS:
            return _bad(fail, 24, i)
    if m.input_steps < 1 or m.t_shift_add < 0 or m.t_hop < 0:
        return _bad(fail, 25, -1)
    return ERR_NONE


# --------------------------------------------------------------------------- the loop


cdef inline void _trace(State* s, int64_t stage, int64_t layer, int64_t pixel, int64_t component,
                        time_t start, time_t duration) noexcept nogil:
    cdef TraceRecord* r
    if s.trace_n < s.trace_cap:
        r = &s.trace[s.trace_n]
        r.stage = stage
        r.layer = layer
        r.pixel = pixel
        r.component = component
        r.start = start
        r.duration = duration
        s.trace_n += 1
    else:
        if s.trace_dropped == 0:
            s.trace_full_at = start
        s.trace_dropped += 1


cdef inline time_t _reserve(const Model* m, State* s, idx_t rid, time_t now, time_t duration,
                            idx_t layer, int32_t rkind) noexcept nogil:
    """Occupy resource ``rid`` for ``duration`` from max(now, free); return the start."""
    cdef ResourceState* r = &s.res[rid]
    cdef time_t start = r.free
    if start < now:
        start = now
    r.free = start + duration
    r.busy += duration
    r.stall += start - now
    r.uses += 1
    s.l_busy[layer * N_RES_KINDS + rkind] += duration
    s.l_stall[layer * N_RES_KINDS + rkind] += start - now
    return start


cdef int try_issue(const Model* m, State* s, EventQueue* q, idx_t layer, time_t now) noexcept nogil:
    """Issue FETCH for every next pixel whose needed producer pixels have all arrived."""
    cdef int64_t p, i
    cdef idx_t e
    cdef int rc
    while s.l_next_ready[layer] < m.l_pixels[layer]:
        p = s.l_next_ready[layer]
        for i in range(m.l_edge_ptr[layer], m.l_edge_ptr[layer + 1]):
            e = m.l_edges[i]
            if s.f_arrived[m.e_flow[e]] < m.need[m.e_need_off[e] + p]:
                return ERR_NONE
        rc = queue_push(q, now, EV_FETCH, layer, <idx_t> p, 0)
        if rc:
            return rc
        s.l_next_ready[layer] = p + 1
    return ERR_NONE


cdef int on_fetch(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil:
    cdef idx_t layer = ev.a
    cdef time_t dur = m.l_t_fetch[layer]
    cdef time_t start = _reserve(m, s, m.l_res_fetch[layer], ev.time, dur, layer, RK_INPUT_BUFFER)
    if ev.b == 0:
        s.l_start[layer] = start
    s.l_counts[layer * N_COUNT_KINDS + CK_INPUT_BUFFER_READ] += m.l_fetch_acc[layer]
    if s.trace_cap:
        _trace(s, EV_FETCH, layer, ev.b, m.l_res_fetch[layer], start, dur)
    if m.l_xb_hi[layer] > m.l_xb_lo[layer]:
        return queue_push(q, start + dur, EV_FETCHED, layer, ev.b, 0)
    return queue_push(q, start + dur, EV_UNIT, layer, ev.b, 0)


cdef inline int _start_pixel(State* s, EventQueue* q, idx_t x, time_t read_start) noexcept nogil:
    """Crossbar ``x`` starts the first read of its next pixel at ``read_start``."""
    cdef CrossbarState* xb = &s.xb[x]
    xb.busy = 1
    xb.ou = xb.ou_lo
    xb.step = 0
    return queue_push(q, read_start + s.ou[xb.ou_lo].t_first, EV_XSTEP, x, <idx_t> xb.pix, 0)


cdef int on_fetched(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil:
    cdef idx_t layer = ev.a, x
    cdef time_t start
    cdef CrossbarState* xb
    cdef int rc
    s.l_fetched[layer] = ev.b + 1
    for x in range(m.l_xb_lo[layer], m.l_xb_hi[layer]):
        xb = &s.xb[x]
        if not xb.busy:
            if xb.pix != ev.b:
                return ERR_STATE
            start = xb.free
            if start < ev.time:
                start = ev.time
            rc = _start_pixel(s, q, x, start)
            if rc:
                return rc
    return ERR_NONE


cdef int on_xstep(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil:
    cdef idx_t x = ev.a
    cdef CrossbarState* xb = &s.xb[x]
    cdef idx_t layer = xb.layer
    cdef int64_t k, slot
    cdef const OuInfo* ou
    cdef int32_t b
    cdef time_t t_read, conv, done, now = ev.time, t_next
    cdef ResourceState* adc = &s.res[xb.adc]
    cdef int rc
    if ev.b != xb.pix or not xb.busy:
        return ERR_STATE
    while True:
        k = xb.ou
        ou = &s.ou[k]
        b = xb.step
        # Reserve the ADC group. Its busy/stall/uses, and the layer's, are summed from the
        # crossbars' tallies after the run (each crossbar belongs to one layer).
        conv = adc.free
        if conv < now:
            conv = now
        adc.free = conv + ou.t_adc
        xb.adc_busy += ou.t_adc
        xb.adc_stall += conv - now
        xb.steps += 1
        t_read = ou.t_first if b == 0 else ou.t_rest
        xb.read += t_read
        s.ou_steps[k] += 1
        if s.trace_cap:
            _trace(s, TRACE_READ, layer, ev.b, x, now - t_read, t_read)
            _trace(s, EV_XSTEP, layer, ev.b, xb.adc, conv, ou.t_adc)
        # The next read starts when this conversion starts (one sample-and-hold stage).
        if b + 1 < m.input_steps:
            xb.step = b + 1
            t_next = conv + ou.t_rest
        elif k + 1 < xb.ou_hi:
            xb.ou = k + 1
            xb.step = 0
            t_next = conv + s.ou[k + 1].t_first
        else:
            break
        # Fast path: when the next step's XSTEP would be the very next event popped,
        # handle it here instead of pushing and popping it (same order, seq and count).
        if not queue_next_is(q, t_next, EV_XSTEP):
            return queue_push(q, t_next, EV_XSTEP, x, ev.b, 0)
        rc = queue_take_direct(q, t_next)
        if rc:
            return rc
        s.events += 1
        now = t_next
    # Last step of the pixel on this crossbar.
    slot = m.l_pix_off[layer] + ev.b
    done = conv + ou.t_adc + m.t_shift_add
    s.p_xdone[slot] += 1
    if done > s.p_xmax[slot]:
        s.p_xmax[slot] = done
    if s.p_xdone[slot] == m.l_xb_hi[layer] - m.l_xb_lo[layer]:
        rc = queue_push(q, s.p_xmax[slot], EV_UNIT, layer, ev.b, 0)
        if rc:
            return rc
    xb.pix = ev.b + 1
    if ev.b + 1 < m.l_pixels[layer] and s.l_fetched[layer] > ev.b + 1:
        return _start_pixel(s, q, x, conv)
    xb.busy = 0
    xb.free = conv
    return ERR_NONE


cdef int on_unit(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil:
    cdef idx_t layer = ev.a
    cdef time_t dur = m.l_t_unit[layer]
    cdef time_t start = _reserve(m, s, m.l_res_unit[layer], ev.time, dur, layer,
                                 m.l_unit_rkind[layer])
    s.l_counts[layer * N_COUNT_KINDS + m.l_unit_ckind[layer]] += m.l_unit_ops[layer]
    if s.trace_cap:
        _trace(s, EV_UNIT, layer, ev.b, m.l_res_unit[layer], start, dur)
    return queue_push(q, start + dur, EV_OUT, layer, ev.b, 0)


cdef int on_out(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil:
    cdef idx_t layer = ev.a, f
    cdef time_t dur = m.l_t_out[layer]
    cdef time_t start = _reserve(m, s, m.l_res_out[layer], ev.time, dur, layer, RK_OUTPUT_BUFFER)
    cdef time_t end = start + dur
    cdef int64_t i
    cdef int rc
    s.l_counts[layer * N_COUNT_KINDS + CK_OUTPUT_BUFFER_WRITE] += m.l_out_writes[layer]
    s.l_counts[layer * N_COUNT_KINDS + CK_OUTPUT_BUFFER_READ] += m.l_out_reads[layer]
    if s.trace_cap:
        _trace(s, EV_OUT, layer, ev.b, m.l_res_out[layer], start, dur)
    if end > s.l_end[layer]:
        s.l_end[layer] = end
    s.l_completed[layer] += 1
    for i in range(m.l_flow_ptr[layer], m.l_flow_ptr[layer + 1]):
        f = m.l_flows[i]
        if m.f_link_ptr[f + 1] > m.f_link_ptr[f]:
            rc = queue_push(q, end, EV_HOP, f, ev.b, 0)
        else:
            rc = queue_push(q, end, EV_INWRITE, f, ev.b, 0)
        if rc:
            return rc
    return ERR_NONE


cdef int on_hop(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil:
    cdef idx_t f = ev.a
    cdef int64_t i = m.f_link_ptr[f] + ev.c
    cdef idx_t src = m.f_src[f]
    cdef time_t ser = m.f_t_serial[f], start
    if ev.c < 0 or i >= m.f_link_ptr[f + 1]:
        return ERR_STATE
    start = _reserve(m, s, m.f_links[i], ev.time, ser, src, RK_NOC)
    s.l_counts[src * N_COUNT_KINDS + CK_NOC_BIT_HOP] += m.f_bits[f]
    if s.trace_cap:
        _trace(s, EV_HOP, src, ev.b, m.f_links[i], start, ser)
    if i + 1 < m.f_link_ptr[f + 1]:
        return queue_push(q, start + m.t_hop, EV_HOP, f, ev.b, ev.c + 1)
    return queue_push(q, start + m.t_hop + ser, EV_INWRITE, f, ev.b, 0)


cdef int on_inwrite(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil:
    cdef idx_t f = ev.a
    cdef idx_t src = m.f_src[f]
    cdef time_t dur = m.f_t_inwrite[f]
    cdef time_t start = _reserve(m, s, m.f_res_inwrite[f], ev.time, dur, src, RK_INPUT_BUFFER)
    s.l_counts[src * N_COUNT_KINDS + CK_INPUT_BUFFER_WRITE] += m.f_inwrites[f]
    if s.trace_cap:
        _trace(s, EV_INWRITE, src, ev.b, m.f_res_inwrite[f], start, dur)
    return queue_push(q, start + dur, EV_ARRIVE, f, ev.b, 0)


cdef int on_arrive(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil:
    cdef idx_t f = ev.a
    cdef idx_t src = m.f_src[f]
    cdef int64_t i
    cdef int rc
    if s.f_arrived[f] != ev.b:
        return ERR_ORDER
    s.f_arrived[f] = ev.b + 1
    if ev.time > s.l_end[src]:
        s.l_end[src] = ev.time
    for i in range(m.f_edge_ptr[f], m.f_edge_ptr[f + 1]):
        rc = try_issue(m, s, q, m.e_consumer[m.f_edges[i]], ev.time)
        if rc:
            return rc
    return ERR_NONE


cdef inline void _fail(Failure* fail, int code, int32_t kind, int64_t component, time_t time,
                       int64_t detail) noexcept nogil:
    fail.code = code
    fail.kind = kind
    fail.component = component
    fail.time = time
    fail.detail = detail


cdef int simulate(const Model* m, State* s, EventQueue* q, Failure* fail) noexcept nogil:
    """Run the event loop to the end; on failure fill ``fail`` and return its code."""
    cdef Event ev
    cdef int rc = ERR_NONE, got
    cdef idx_t layer
    for layer in range(m.n_layers):
        rc = try_issue(m, s, q, layer, 0)
        if rc:
            _fail(fail, rc, -1, layer, 0, 0)
            return rc
    while True:
        got = queue_pop(q, &ev)
        if got <= 0:
            if got < 0:
                _fail(fail, -got, -1, -1, q.now, 0)
                return -got
            break
        s.events += 1
        if ev.kind == EV_XSTEP:
            rc = on_xstep(m, s, q, &ev)
        elif ev.kind == EV_FETCHED:
            rc = on_fetched(m, s, q, &ev)
        elif ev.kind == EV_FETCH:
            rc = on_fetch(m, s, q, &ev)
        elif ev.kind == EV_UNIT:
            rc = on_unit(m, s, q, &ev)
        elif ev.kind == EV_OUT:
            rc = on_out(m, s, q, &ev)
        elif ev.kind == EV_HOP:
            rc = on_hop(m, s, q, &ev)
        elif ev.kind == EV_INWRITE:
            rc = on_inwrite(m, s, q, &ev)
        elif ev.kind == EV_ARRIVE:
            rc = on_arrive(m, s, q, &ev)
        else:
            rc = ERR_KIND
        if rc:
            _fail(fail, rc, ev.kind, ev.a, ev.time, ev.b)
            return rc
    for layer in range(m.n_layers):
        if s.l_completed[layer] != m.l_pixels[layer]:
            _fail(fail, ERR_DEADLOCK, -1, layer, q.now, s.l_completed[layer])
            return ERR_DEADLOCK
    return ERR_NONE


# --------------------------------------------------------------------------- entry point


cdef object _I64 = np.int64
cdef object _I32 = np.int32


cdef const void* _data(dict arrays, str name, object dtype, Py_ssize_t n) except? NULL:
    """Pointer to ``arrays[name]`` after checking its dtype, layout and length."""
    cdef cnp.ndarray a
    cdef int want
    arr = arrays.get(name)
    # Fast path, C-level checks only: exactly the native int64/int32 dtype, 1-D, C-contiguous,
    # length n. Anything else (including equivalent dtypes) takes the general checks below.
    if type(arr) is cnp.ndarray:
        a = <cnp.ndarray> arr
        want = cnp.NPY_INT64 if dtype is _I64 else (cnp.NPY_INT32 if dtype is _I32 else -1)
        if (cnp.PyArray_TYPE(a) == want and cnp.PyArray_ISNOTSWAPPED(a)
                and cnp.PyArray_NDIM(a) == 1 and cnp.PyArray_IS_C_CONTIGUOUS(a)
                and cnp.PyArray_DIMS(a)[0] == n):
            return cnp.PyArray_DATA(a)
    if not isinstance(arr, np.ndarray):
        raise EngineError(f"engine input {name!r}: missing or not a numpy array")
    if arr.dtype != dtype or arr.ndim != 1 or not arr.flags.c_contiguous:
        raise EngineError(f"engine input {name!r}: expected a C-contiguous 1-D {np.dtype(dtype)} "
                          f"array, got {arr.dtype} with shape {arr.shape}")
    if arr.shape[0] != n:
        raise EngineError(f"engine input {name!r}: length {arr.shape[0]}, expected {n}")
    return cnp.PyArray_DATA(<cnp.ndarray> arr)


cdef int64_t fold_tallies(const Model* m, State* s) noexcept nogil:
    """Fold per-crossbar and per-OU tallies into per-layer and per-resource statistics.

    Returns 0, or 1 + the offending step tally if an OU stopped inside a pixel.
    """
    cdef int64_t x, k, n, first
    cdef idx_t layer
    cdef int64_t* counts
    cdef ResourceState* r
    cdef const OuInfo* ou
    for x in range(m.n_xbars):
        layer = m.x_layer[x]
        r = &s.res[m.x_adc[x]]
        r.busy += s.xb[x].adc_busy
        r.stall += s.xb[x].adc_stall
        r.uses += s.xb[x].steps
        s.l_busy[layer * N_RES_KINDS + RK_ADC] += s.xb[x].adc_busy
        s.l_stall[layer * N_RES_KINDS + RK_ADC] += s.xb[x].adc_stall
        s.l_busy[layer * N_RES_KINDS + RK_CROSSBAR] += s.xb[x].read
        counts = &s.l_counts[layer * N_COUNT_KINDS]
        for k in range(m.x_ou_lo[x], m.x_ou_hi[x]):
            n = s.ou_steps[k]
            if n % m.input_steps:
                return 1 + n
            first = n // m.input_steps
            ou = &s.ou[k]
            counts[CK_OU_STEP] += n
            counts[CK_CELL_READ] += n * ou.cells
            counts[CK_DAC_CONVERSION] += n * ou.rows
            counts[CK_SAMPLE_HOLD] += n * ou.cols
            counts[CK_ADC_CONVERSION] += n * ou.cols
            counts[CK_SHIFT_ADD] += n * ou.cols
            counts[CK_INDEX_READ] += first * ou.index
            counts[CK_GATHER_INPUT] += first * ou.gather
    return 0


cdef const OuInfo* _pack_ous(const Model* m, OuInfo* ou) noexcept:
    """Pack the model's o_* arrays into one struct per OU."""
    cdef int64_t k
    for k in range(m.n_ous):
        ou[k].t_first = m.o_t_first[k]
        ou[k].t_rest = m.o_t_rest[k]
        ou[k].t_adc = m.o_t_adc[k]
        ou[k].rows = m.o_rows[k]
        ou[k].cols = m.o_cols[k]
        ou[k].cells = m.o_cells[k]
        ou[k].index = m.o_index[k]
        ou[k].gather = m.o_gather[k]
    return ou


cdef void* _state(dict keep, str name, object dtype, Py_ssize_t n) except NULL:
    """A zeroed state array kept alive in ``keep``; its data pointer."""
    arr = np.zeros(max(n, 1), dtype)
    keep[name] = arr
    return cnp.PyArray_DATA(<cnp.ndarray> arr)


def run(dict arrays, dict sizes, Py_ssize_t trace_cap=0, dict names=None):
    """Run the engine on a flattened model; return its statistics as numpy arrays.

    Args:
        arrays: every ``Model`` pointer field of ``_engine.pxd`` by name, as a
            C-contiguous 1-D numpy array (int64 for ``time_t``/``int64_t`` fields,
            int32 for ``idx_t``/``int32_t`` fields).
        sizes: ``n_layers, n_xbars, n_ous, n_flows, n_edges, n_res, n_pixel_slots,
            n_need, n_links, input_steps, t_shift_add, t_hop``.
        trace_cap: how many trace records to keep (0 = no trace).
        names: optional ``{"layer": [...], "crossbar": [...], "flow": [...]}`` labels,
            used only in error messages.

    Returns:
        dict with ``events``, per-layer ``start``, ``end``, ``counts`` (n_layers x 18),
        ``busy``/``stall`` (n_layers x 10), per-resource ``res_busy``, ``res_stall``,
        ``res_uses``, per-crossbar ``xbar_read_cycles``, ``xbar_steps``, ``xbar_adc_stall``,
        and ``trace`` (records x 6),
        ``trace_dropped``, ``trace_full_at``.

    Raises:
        EngineError: a malformed input (naming the array and entry) or a failure in the
            loop (naming the event kind, the component and the cycle).
    """
    cdef Model m
    cdef State s
    cdef EventQueue q
    cdef Failure fail
    cdef int rc
    cdef int64_t bad_tally
    cdef Py_ssize_t i
    cdef int64_t *rb, *rs, *ru, *xr, *xs, *xa
    cdef cnp.ndarray res_busy, res_stall, res_uses, xb_read, xb_steps, xb_stall
    i64, i32 = _I64, _I32
    try:
        m.n_layers = sizes["n_layers"]
        m.n_xbars = sizes["n_xbars"]
        m.n_ous = sizes["n_ous"]
        m.n_flows = sizes["n_flows"]
        m.n_edges = sizes["n_edges"]
        m.n_res = sizes["n_res"]
        m.n_pixel_slots = sizes["n_pixel_slots"]
        m.n_need = sizes["n_need"]
        m.n_links = sizes["n_links"]
        m.input_steps = sizes["input_steps"]
        m.t_shift_add = sizes["t_shift_add"]
        m.t_hop = sizes["t_hop"]
    except KeyError as err:
        raise EngineError(f"engine sizes: missing {err}") from None
    if min(m.n_layers, m.n_xbars, m.n_ous, m.n_flows, m.n_edges, m.n_res, m.n_pixel_slots,
           m.n_need, m.n_links) < 0:
        raise EngineError(f"engine sizes: negative size in {sizes}")
    nl, nx, no, nf, ne = m.n_layers, m.n_xbars, m.n_ous, m.n_flows, m.n_edges
    m.l_pixels = <const int64_t*> _data(arrays, "l_pixels", i64, nl)
    m.l_pix_off = <const int64_t*> _data(arrays, "l_pix_off", i64, nl)
    m.l_t_fetch = <const time_t*> _data(arrays, "l_t_fetch", i64, nl)
    m.l_t_unit = <const time_t*> _data(arrays, "l_t_unit", i64, nl)
    m.l_t_out = <const time_t*> _data(arrays, "l_t_out", i64, nl)
    m.l_res_fetch = <const idx_t*> _data(arrays, "l_res_fetch", i32, nl)
    m.l_res_unit = <const idx_t*> _data(arrays, "l_res_unit", i32, nl)
    m.l_res_out = <const idx_t*> _data(arrays, "l_res_out", i32, nl)
    m.l_unit_rkind = <const int32_t*> _data(arrays, "l_unit_rkind", i32, nl)
    m.l_unit_ckind = <const int32_t*> _data(arrays, "l_unit_ckind", i32, nl)
    m.l_fetch_acc = <const int64_t*> _data(arrays, "l_fetch_acc", i64, nl)
    m.l_unit_ops = <const int64_t*> _data(arrays, "l_unit_ops", i64, nl)
    m.l_out_writes = <const int64_t*> _data(arrays, "l_out_writes", i64, nl)
    m.l_out_reads = <const int64_t*> _data(arrays, "l_out_reads", i64, nl)
    m.l_xb_lo = <const idx_t*> _data(arrays, "l_xb_lo", i32, nl)
    m.l_xb_hi = <const idx_t*> _data(arrays, "l_xb_hi", i32, nl)
    m.l_edge_ptr = <const idx_t*> _data(arrays, "l_edge_ptr", i32, nl + 1)
    m.l_edges = <const idx_t*> _data(arrays, "l_edges", i32, len(arrays.get("l_edges", ())))
    m.l_flow_ptr = <const idx_t*> _data(arrays, "l_flow_ptr", i32, nl + 1)
    m.l_flows = <const idx_t*> _data(arrays, "l_flows", i32, len(arrays.get("l_flows", ())))
    m.x_layer = <const idx_t*> _data(arrays, "x_layer", i32, nx)
    m.x_adc = <const idx_t*> _data(arrays, "x_adc", i32, nx)
    m.x_ou_lo = <const int64_t*> _data(arrays, "x_ou_lo", i64, nx)
    m.x_ou_hi = <const int64_t*> _data(arrays, "x_ou_hi", i64, nx)
    m.o_t_first = <const time_t*> _data(arrays, "o_t_first", i64, no)
    m.o_t_rest = <const time_t*> _data(arrays, "o_t_rest", i64, no)
    m.o_t_adc = <const time_t*> _data(arrays, "o_t_adc", i64, no)
    m.o_rows = <const int64_t*> _data(arrays, "o_rows", i64, no)
    m.o_cols = <const int64_t*> _data(arrays, "o_cols", i64, no)
    m.o_cells = <const int64_t*> _data(arrays, "o_cells", i64, no)
    m.o_index = <const int64_t*> _data(arrays, "o_index", i64, no)
    m.o_gather = <const int64_t*> _data(arrays, "o_gather", i64, no)
    m.e_consumer = <const idx_t*> _data(arrays, "e_consumer", i32, ne)
    m.e_flow = <const idx_t*> _data(arrays, "e_flow", i32, ne)
    m.e_need_off = <const int64_t*> _data(arrays, "e_need_off", i64, ne)
    m.need = <const int64_t*> _data(arrays, "need", i64, m.n_need)
    m.f_src = <const idx_t*> _data(arrays, "f_src", i32, nf)
    m.f_link_ptr = <const int64_t*> _data(arrays, "f_link_ptr", i64, nf + 1)
    m.f_links = <const idx_t*> _data(arrays, "f_links", i32, m.n_links)
    m.f_t_serial = <const time_t*> _data(arrays, "f_t_serial", i64, nf)
    m.f_t_inwrite = <const time_t*> _data(arrays, "f_t_inwrite", i64, nf)
    m.f_res_inwrite = <const idx_t*> _data(arrays, "f_res_inwrite", i32, nf)
    m.f_bits = <const int64_t*> _data(arrays, "f_bits", i64, nf)
    m.f_inwrites = <const int64_t*> _data(arrays, "f_inwrites", i64, nf)
    m.f_edge_ptr = <const idx_t*> _data(arrays, "f_edge_ptr", i32, nf + 1)
    m.f_edges = <const idx_t*> _data(arrays, "f_edges", i32, len(arrays.get("f_edges", ())))
    m.r_kind = <const int32_t*> _data(arrays, "r_kind", i32, m.n_res)

    with nogil:
        rc = check_model(&m, &fail)
    if rc:
        field = CHECKED_FIELDS[fail.detail] if 0 <= fail.detail < len(CHECKED_FIELDS) else "?"
        raise EngineError(f"engine input {field}: entry {fail.component} is out of range "
                          f"or inconsistent")

    keep: dict = {}
    s.res = <ResourceState*> _state(keep, "res", np.uint8, m.n_res * sizeof(ResourceState))
    s.xb = <CrossbarState*> _state(keep, "xb", np.uint8, nx * sizeof(CrossbarState))
    s.ou = _pack_ous(&m, <OuInfo*> _state(keep, "ou", np.uint8, no * sizeof(OuInfo)))
    s.ou_steps = <int64_t*> _state(keep, "ou_steps", i64, no)
    for i in range(nx):
        s.xb[i].ou_lo = m.x_ou_lo[i]
        s.xb[i].ou_hi = m.x_ou_hi[i]
        s.xb[i].layer = m.x_layer[i]
        s.xb[i].adc = m.x_adc[i]
    s.l_next_ready = <int64_t*> _state(keep, "next_ready", i64, nl)
    s.l_fetched = <int64_t*> _state(keep, "fetched", i64, nl)
    s.l_completed = <int64_t*> _state(keep, "completed", i64, nl)
    s.l_start = <time_t*> _state(keep, "start", i64, nl)
    s.l_end = <time_t*> _state(keep, "end", i64, nl)
    s.l_counts = <int64_t*> _state(keep, "counts", i64, nl * N_COUNT_KINDS)
    s.l_busy = <time_t*> _state(keep, "busy", i64, nl * N_RES_KINDS)
    s.l_stall = <time_t*> _state(keep, "stall", i64, nl * N_RES_KINDS)
    s.p_xdone = <int32_t*> _state(keep, "p_xdone", i32, m.n_pixel_slots)
    s.p_xmax = <time_t*> _state(keep, "p_xmax", i64, m.n_pixel_slots)
    s.f_arrived = <int64_t*> _state(keep, "f_arrived", i64, nf)
    s.trace_cap = max(trace_cap, 0)
    s.trace = <TraceRecord*> _state(keep, "trace", i64, 6 * s.trace_cap) if s.trace_cap else NULL
    s.trace_n = 0
    s.trace_dropped = 0
    s.trace_full_at = -1
    s.events = 0

    rc = queue_init(&q)
    try:
        if rc == ERR_NONE:
            with nogil:
                rc = simulate(&m, &s, &q, &fail)
        else:
            _fail(&fail, rc, -1, -1, 0, 0)
    finally:
        queue_free(&q)
    if rc:
        _raise(&fail, names or {})
    bad_tally = fold_tallies(&m, &s)
    if bad_tally:
        raise EngineError(f"engine: an OU did {bad_tally - 1} bit-steps, not a multiple of "
                          f"{m.input_steps}")
    trace = keep["trace"][:6 * s.trace_n].reshape(-1, 6) if s.trace_cap else np.zeros((0, 6), i64)
    res_busy = np.empty(m.n_res, i64)
    res_stall = np.empty(m.n_res, i64)
    res_uses = np.empty(m.n_res, i64)
    xb_read = np.empty(nx, i64)
    xb_steps = np.empty(nx, i64)
    xb_stall = np.empty(nx, i64)
    rb = <int64_t*> cnp.PyArray_DATA(res_busy)
    rs = <int64_t*> cnp.PyArray_DATA(res_stall)
    ru = <int64_t*> cnp.PyArray_DATA(res_uses)
    for i in range(m.n_res):
        rb[i] = s.res[i].busy
        rs[i] = s.res[i].stall
        ru[i] = s.res[i].uses
    xr = <int64_t*> cnp.PyArray_DATA(xb_read)
    xs = <int64_t*> cnp.PyArray_DATA(xb_steps)
    xa = <int64_t*> cnp.PyArray_DATA(xb_stall)
    for i in range(nx):
        xr[i] = s.xb[i].read
        xs[i] = s.xb[i].steps
        xa[i] = s.xb[i].adc_stall
    return {
        "events": int(s.events),
        "start": keep["start"][:nl], "end": keep["end"][:nl],
        "counts": keep["counts"][:nl * N_COUNT_KINDS].reshape(nl, N_COUNT_KINDS),
        "busy": keep["busy"][:nl * N_RES_KINDS].reshape(nl, N_RES_KINDS),
        "stall": keep["stall"][:nl * N_RES_KINDS].reshape(nl, N_RES_KINDS),
        "res_busy": res_busy, "res_stall": res_stall, "res_uses": res_uses,
        "xbar_read_cycles": xb_read, "xbar_steps": xb_steps, "xbar_adc_stall": xb_stall,
        "trace": trace, "trace_dropped": int(s.trace_dropped),
        "trace_full_at": int(s.trace_full_at),
    }


cdef _raise(Failure* fail, dict names):
    """Raise EngineError for a failure of the loop, naming kind, component and cycle."""
    what = _ERROR_TEXT.get(fail.code, f"error {fail.code}")
    kind = EVENT_KIND_NAMES[fail.kind] if 0 <= fail.kind < len(EVENT_KIND_NAMES) else "setup"
    group = {"XSTEP": "crossbar", "HOP": "flow", "INWRITE": "flow", "ARRIVE": "flow"}.get(
        kind, "layer")
    labels = names.get(group, ())
    comp = fail.component
    label = labels[comp] if 0 <= comp < len(labels) else f"{group} {comp}"
    if fail.code == ERR_DEADLOCK:
        raise EngineError(f"engine: {what}: {label} completed {fail.detail} pixels "
                          f"(cycle {fail.time})")
    raise EngineError(f"engine: {what} (event {kind}, {label}, pixel {fail.detail}, "
                      f"cycle {fail.time})")


# --------------------------------------------------------------------------- test hooks


def _py_queue_order(times, kinds):
    """Push events (time, kind) in order, pop them all; return the pop order as indices.

    Pops happen only after all pushes, except that a negative time means "pop one now"
    (its kind is ignored). For tests of the queue against a sorted reference.
    """
    cdef EventQueue q
    cdef Event ev
    cdef int rc
    order = []
    rc = queue_init(&q)
    try:
        if rc:
            raise MemoryError("queue_init")
        for i, (t, k) in enumerate(zip(times, kinds)):
            if t < 0:
                if queue_pop(&q, &ev) == 1:
                    order.append(int(ev.a))
                continue
            rc = queue_push(&q, t, k, i, 0, 0)
            if rc == ERR_PAST:
                raise EngineError(f"push at {t} before now {q.now}")
            if rc:
                raise MemoryError("queue_push")
        while queue_pop(&q, &ev) == 1:
            order.append(int(ev.a))
    finally:
        queue_free(&q)
    return order

