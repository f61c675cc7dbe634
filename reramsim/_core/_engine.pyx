"""The cycle-level event engine (see ``_engine.pxd`` for the contract, ``docs/timing.md``
for the semantics and ``reramsim/pyref.py`` for the same handlers in plain Python).

One entry point, :func:`run`, takes the model as a dict of C-contiguous numpy arrays
(built by :mod:`reramsim.engine`), checks each against its declaration in
:mod:`reramsim._core.contract` and every index once, runs the event loop without the
GIL and returns the statistics as numpy arrays. Failures inside the
loop come back as error codes and are raised here as :class:`EngineError` naming
the event kind, the component and the cycle.
"""
cimport numpy as cnp
from libc.stdint cimport INT64_MAX, INT64_MIN, int32_t, int64_t, uint8_t

from reramsim._core._queue cimport (N_KINDS, Event, EventQueue, queue_free, queue_init,
                                    queue_next_is, queue_pop, queue_push, queue_take_direct)
from reramsim._core._types cimport (ERR_BAD_INDEX, ERR_DEADLOCK, ERR_KIND, ERR_NOMEM, ERR_NONE,
                                    ERR_ORDER, ERR_PAST, ERR_STATE, idx_t, time_t)

import numpy as np

from reramsim import ReramsimError
from reramsim._core.contract import ALL_EVENTS, ARRAYS, DTYPES, SIZES, contract_crc

cnp.import_array()

if contract_crc() != CONTRACT_CRC:
    raise ImportError("reramsim._core._engine was built from another contract.py; rebuild "
                      "the extension")
if <int> N_QUEUED_KINDS > <int> N_KINDS:
    raise ImportError(f"the event queue holds {N_KINDS} kinds, the contract {N_QUEUED_KINDS}")


class EngineError(ReramsimError):
    """The engine was given inconsistent input or reached an impossible state."""


#: Column order of the per-layer count table (must equal reramsim.stats.EVENT_KINDS).
COUNT_KIND_NAMES = (
    "ou_step", "cell_read", "dac_conversion", "sample_hold", "adc_conversion", "shift_add",
    "index_read", "gather_input", "accumulate", "input_buffer_read", "input_buffer_write",
    "output_buffer_write", "output_buffer_read", "noc_bit_hop", "activation_op", "pooling_op",
    "eltwise_op", "other_op", "zero_check", "input_register_write", "bus_bit",
    "input_register_read", "output_register_update", "chip_link_bit",
)
#: Column order of the busy/stall tables (must equal reramsim.analytical.RESOURCE_KINDS).
RESOURCE_KIND_NAMES = ("crossbar", "adc", "input_buffer", "output_buffer", "noc",
                       "accumulator", "activation", "pooling", "eltwise", "other", "chip_link")
_ERROR_TEXT = {
    ERR_NOMEM: "out of memory",
    ERR_BAD_INDEX: "input index out of range",
    ERR_PAST: "an event was scheduled before the current cycle",
    ERR_STATE: "impossible component state",
    ERR_ORDER: "pixels delivered out of order",
    ERR_DEADLOCK: "deadlock: no events left but pixels remain",
    ERR_KIND: "unknown event kind",
}

# --------------------------------------------------------------------------- checks


cdef inline int _bad(Failure* fail, int field, int other, int64_t entry) noexcept nogil:
    fail.code = ERR_BAD_INDEX
    fail.kind = -1
    fail.component = entry
    fail.time = 0
    fail.detail = field
    fail.other = other
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
    """What the per-field bounds of the contract cannot say: column kinds, CSR pointers,
    and the consistency of ranges and offsets between tables.

    :func:`run` has already checked every field's dtype, length and declared bounds
    (``lo``, ``below`` in :mod:`reramsim._core.contract`), so indices used here are valid.
    """
    cdef int64_t i, j, need_end, p_src, run
    cdef idx_t layer, g
    for i in range(m.n_layers):
        if m.l_unit_rkind[i] >= N_RES_KINDS:
            return _bad(fail, F_L_UNIT_RKIND, -1, i)
        if m.l_unit_ckind[i] >= N_COUNT_KINDS:
            return _bad(fail, F_L_UNIT_CKIND, -1, i)
        if not m.l_xb_lo[i] <= m.l_xb_hi[i] <= m.n_xbars:
            return _bad(fail, F_L_XB_LO, F_L_XB_HI, i)
        if m.l_pix_off[i] + m.l_pixels[i] > m.n_pixel_slots:
            return _bad(fail, F_L_PIXELS, F_L_PIX_OFF, i)
    if not _csr_ok(m.l_edge_ptr, m.n_layers, m.n_edges):
        return _bad(fail, F_L_EDGE_PTR, -1, 0)
    if not _csr_ok(m.l_flow_ptr, m.n_layers, m.n_out_flows):
        return _bad(fail, F_L_FLOW_PTR, -1, 0)
    for i in range(m.n_xbars):
        layer = m.x_layer[i]
        if not m.l_xb_lo[layer] <= i < m.l_xb_hi[layer]:
            return _bad(fail, F_X_LAYER, -1, i)
        if not m.x_ou_lo[i] < m.x_ou_hi[i] <= m.n_ous:
            return _bad(fail, F_X_OU_LO, F_X_OU_HI, i)
    if m.f_link_ptr[0] != 0 or m.f_link_ptr[m.n_flows] > m.n_links:
        return _bad(fail, F_F_LINK_PTR, -1, 0)
    for i in range(m.n_flows):
        if m.f_link_ptr[i + 1] < m.f_link_ptr[i]:
            return _bad(fail, F_F_LINK_PTR, -1, i)
    if not _csr_ok(m.f_edge_ptr, m.n_flows, m.n_edges):
        return _bad(fail, F_F_EDGE_PTR, -1, 0)
    for i in range(m.n_edges):
        need_end = m.e_need_off[i] + m.l_pixels[m.e_consumer[i]]
        if need_end > m.n_need:
            return _bad(fail, F_E_NEED_OFF, -1, i)
        p_src = m.l_pixels[m.f_src[m.e_flow[i]]]
        for j in range(m.e_need_off[i], need_end):
            if m.need[j] > p_src:
                return _bad(fail, F_NEED, -1, j)
    for i in range(m.n_res):
        if m.r_kind[i] >= N_RES_KINDS:
            return _bad(fail, F_R_KIND, -1, i)
    for i in range(m.n_links):
        if m.f_link_ck[i] >= N_COUNT_KINDS:
            return _bad(fail, F_F_LINK_CK, -1, i)
    # Crossbar groups: runs of crossbars in order, each of one layer, g_n_xbars long; the
    # layer's groups are l_n_groups consecutive ones; partial-sum flows and their groups
    # name each other, have links, and are not among the layers' output flows.
    run = 0
    for i in range(m.n_xbars):
        g = m.x_group[i]
        if m.g_layer[g] != m.x_layer[i]:
            return _bad(fail, F_X_GROUP, F_G_LAYER, i)
        if i == 0 and g != 0:
            return _bad(fail, F_X_GROUP, -1, i)
        if i > 0 and g != m.x_group[i - 1]:
            if g != m.x_group[i - 1] + 1 or run != m.g_n_xbars[m.x_group[i - 1]]:
                return _bad(fail, F_X_GROUP, F_G_N_XBARS, i)
            run = 0
        run += 1
    if (m.n_xbars and (m.x_group[m.n_xbars - 1] != m.n_groups - 1
                       or run != m.g_n_xbars[m.n_groups - 1])) or (not m.n_xbars and m.n_groups):
        return _bad(fail, F_X_GROUP, F_G_N_XBARS, m.n_xbars)
    j = 0
    for i in range(m.n_layers):
        for g in range(<idx_t> j, <idx_t> (j + m.l_n_groups[i])):
            if g >= m.n_groups or m.g_layer[g] != i:
                return _bad(fail, F_L_N_GROUPS, F_G_LAYER, i)
        if (m.l_n_groups[i] > 0) != (m.l_xb_hi[i] > m.l_xb_lo[i]):
            return _bad(fail, F_L_N_GROUPS, F_L_XB_LO, i)
        j += m.l_n_groups[i]
    if j != m.n_groups:
        return _bad(fail, F_L_N_GROUPS, -1, m.n_layers)
    for g in range(m.n_groups):
        if m.g_pix_off[g] + m.l_pixels[m.g_layer[g]] > m.n_group_slots:
            return _bad(fail, F_G_PIX_OFF, -1, g)
        if m.g_flow[g] >= 0 and (m.f_group[m.g_flow[g]] != g
                                 or m.f_src[m.g_flow[g]] != m.g_layer[g]):
            return _bad(fail, F_G_FLOW, F_F_GROUP, g)
    for i in range(m.n_flows):
        if m.f_group[i] >= 0 and (m.g_flow[m.f_group[i]] != i
                                  or m.f_link_ptr[i + 1] == m.f_link_ptr[i]):
            return _bad(fail, F_F_GROUP, F_G_FLOW, i)
    for i in range(m.n_out_flows):
        if m.f_group[m.l_flows[i]] >= 0:
            return _bad(fail, F_L_FLOWS, F_F_GROUP, i)
    for i in range(m.n_layers):  # zero-skipping rows lie inside act
        if m.l_act_off[i] >= 0 and m.l_act_off[i] + m.l_pixels[i] * m.l_act_cols[i] > m.n_act:
            return _bad(fail, F_L_ACT_OFF, F_L_ACT_COLS, i)
    for i in range(m.n_xbars):
        layer = m.x_layer[i]
        if m.l_act_off[layer] >= 0:
            for j in range(m.x_ou_lo[i], m.x_ou_hi[i]):
                if m.o_act_col[j] >= m.l_act_cols[layer]:
                    return _bad(fail, F_O_ACT_COL, -1, j)
    for i in range(m.n_act):
        if m.act[i] > m.input_steps:
            return _bad(fail, F_ACT, -1, i)
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
    s.l_counts[layer * N_COUNT_KINDS + CK_INPUT_REGISTER_WRITE] += m.l_ir_writes[layer]
    s.l_counts[layer * N_COUNT_KINDS + CK_BUS_BIT] += m.l_bus_bits[layer]
    if s.trace_cap:
        _trace(s, EV_FETCH, layer, ev.b, m.l_res_fetch[layer], start, dur)
    if m.l_xb_hi[layer] > m.l_xb_lo[layer]:
        return queue_push(q, start + dur, EV_FETCHED, layer, ev.b, 0)
    return queue_push(q, start + dur, EV_UNIT, layer, ev.b, 0)


cdef inline int64_t _next_ou(const Model* m, const State* s, const CrossbarState* xb,
                            int64_t k, int64_t p) noexcept nogil:
    """The first OU of the crossbar from ``k`` on with a step to run for pixel ``p``
    (``ou_hi``: none); without zero-skipping data, ``k``."""
    cdef const int32_t* row
    if xb.act_off < 0:
        return k
    row = &m.act[xb.act_off + p * xb.act_cols]
    while k < xb.ou_hi and row[s.ou[k].act_col] == 0:
        k += 1
    return k


cdef inline int64_t _steps(const Model* m, const CrossbarState* xb, const OuInfo* ou,
                           int64_t p) noexcept nogil:
    """Input steps the OU runs for pixel ``p``: all, or its zero-skipping count."""
    if xb.act_off < 0:
        return m.input_steps
    return m.act[xb.act_off + p * xb.act_cols + ou.act_col]


cdef int _group_done(const Model* m, State* s, EventQueue* q, idx_t layer, int64_t p,
                     time_t done) noexcept nogil:
    """A crossbar group's partial sums of pixel ``p`` are at the home accumulator at ``done``;
    the last group of the layer to get there requests the accumulator."""
    cdef int64_t slot = m.l_pix_off[layer] + p
    s.p_xdone[slot] += 1
    if done > s.p_xmax[slot]:
        s.p_xmax[slot] = done
    if s.p_xdone[slot] == m.l_n_groups[layer]:
        return queue_push(q, s.p_xmax[slot], EV_UNIT, layer, <idx_t> p, 0)
    return ERR_NONE


cdef int _crossbar_done(const Model* m, State* s, EventQueue* q, idx_t x, int64_t p,
                        time_t done) noexcept nogil:
    """Crossbar ``x`` has its result for pixel ``p`` (not before its previous result); the
    last crossbar of its group to do so hands the group's results on: at once on the home
    tile, else over the group's partial-sum flow."""
    cdef CrossbarState* xb = &s.xb[x]
    cdef idx_t g = m.x_group[x]
    cdef int64_t slot = m.g_pix_off[g] + p
    if done < xb.result:
        done = xb.result
    xb.result = done
    s.gp_done[slot] += 1
    if done > s.gp_max[slot]:
        s.gp_max[slot] = done
    if s.gp_done[slot] < m.g_n_xbars[g]:
        return ERR_NONE
    if m.g_flow[g] >= 0:
        return queue_push(q, s.gp_max[slot], EV_HOP, m.g_flow[g], <idx_t> p, 0)
    return _group_done(m, s, q, xb.layer, p, s.gp_max[slot])


cdef int _start_pixel(const Model* m, State* s, EventQueue* q, idx_t x,
                      time_t read_start) noexcept nogil:
    """Crossbar ``x`` starts the first read of its next pixel at ``read_start``.

    Zero-skipping: an OU without an active step is skipped; a pixel with none at all has
    its (zero) result at ``read_start`` and the crossbar goes on to the next pixel.
    """
    cdef CrossbarState* xb = &s.xb[x]
    cdef int64_t p, k
    cdef int rc
    while True:
        p = xb.pix
        k = xb.ou_lo
        if xb.act_off >= 0:
            s.l_counts[xb.layer * N_COUNT_KINDS + CK_ZERO_CHECK] += (
                m.input_steps * (xb.ou_hi - xb.ou_lo))
            k = _next_ou(m, s, xb, k, p)
        if k < xb.ou_hi:
            break
        rc = _crossbar_done(m, s, q, x, p, read_start)
        if rc:
            return rc
        xb.pix = p + 1
        if not (p + 1 < m.l_pixels[xb.layer] and s.l_fetched[xb.layer] > p + 1):
            xb.busy = 0
            xb.free = read_start
            return ERR_NONE
    xb.busy = 1
    xb.ou = k
    xb.step = 0
    return queue_push(q, read_start + s.ou[k].t_first, EV_XSTEP, x, <idx_t> p, 0)


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
            rc = _start_pixel(m, s, q, x, start)
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
        if b == 0 and xb.act_off >= 0:
            s.ou_firsts[k] += 1
        if s.trace_cap:
            _trace(s, EV_READ, layer, ev.b, x, now - t_read, t_read)
            _trace(s, EV_XSTEP, layer, ev.b, xb.adc, conv, ou.t_adc)
        # The next read starts when this conversion starts (one sample-and-hold stage).
        if b + 1 < _steps(m, xb, ou, ev.b):
            xb.step = b + 1
            t_next = conv + ou.t_rest
        else:
            k = _next_ou(m, s, xb, k + 1, ev.b)
            if k >= xb.ou_hi:
                break
            xb.ou = k
            xb.step = 0
            t_next = conv + s.ou[k].t_first
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
    rc = _crossbar_done(m, s, q, x, ev.b, conv + ou.t_adc + m.t_shift_add)
    if rc:
        return rc
    xb.pix = ev.b + 1
    if ev.b + 1 < m.l_pixels[layer] and s.l_fetched[layer] > ev.b + 1:
        return _start_pixel(m, s, q, x, conv)
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
    cdef idx_t src = m.f_src[f], link
    cdef time_t ser, start
    if ev.c < 0 or i >= m.f_link_ptr[f + 1]:
        return ERR_STATE
    link = m.f_links[i]
    ser = m.f_link_ser[i]
    start = _reserve(m, s, link, ev.time, ser, src, m.r_kind[link])
    s.l_counts[src * N_COUNT_KINDS + m.f_link_ck[i]] += m.f_bits[f]
    if s.trace_cap:
        _trace(s, EV_HOP, src, ev.b, link, start, ser)
    if i + 1 < m.f_link_ptr[f + 1]:
        return queue_push(q, start + m.f_link_lat[i], EV_HOP, f, ev.b, ev.c + 1)
    return queue_push(q, start + m.f_link_lat[i] + ser, EV_INWRITE, f, ev.b, 0)


cdef int on_inwrite(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil:
    cdef idx_t f = ev.a
    cdef idx_t src = m.f_src[f]
    cdef time_t dur, start
    if m.f_group[f] >= 0:  # partial sums: their tail is at the home accumulator
        return _group_done(m, s, q, src, ev.b, ev.time)
    dur = m.f_t_inwrite[f]
    start = _reserve(m, s, m.f_res_inwrite[f], ev.time, dur, src, RK_INPUT_BUFFER)
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
    fail.other = -1


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


# The contract's fields as C tables, filled once at import (run() reads them per call).
cdef list _SIZE_NAMES = [f.name for f in SIZES]
cdef list _ARRAY_NAMES = [f.name for f in ARRAYS]
cdef int64_t _size_lo[N_MODEL_SIZES]      # least value of each size
cdef int64_t _size_hi[N_MODEL_SIZES]      # largest value its C type holds
cdef bint _a_is64[N_MODEL_ARRAYS]         # int64 (else int32) entries
cdef int _a_len[N_MODEL_ARRAYS]           # position in SIZES of the size its length counts
cdef int _a_extra[N_MODEL_ARRAYS]         # entries beyond that size
cdef int64_t _a_lo[N_MODEL_ARRAYS]        # least entry, INT64_MIN if unbounded
cdef int _a_below[N_MODEL_ARRAYS]         # position in SIZES of the bound on entries, or -1


cdef void _load_contract():
    cdef Py_ssize_t k
    size_pos = {name: k for k, name in enumerate(_SIZE_NAMES)}
    for k, f in enumerate(SIZES):
        _size_lo[k] = f.lo
        _size_hi[k] = np.iinfo(DTYPES[f.ctype]).max
    for k, f in enumerate(ARRAYS):
        _a_is64[k] = f.dtype == "int64"
        _a_len[k] = size_pos[f.length_size]
        _a_extra[k] = f.length_extra
        _a_lo[k] = INT64_MIN if f.lo is None else f.lo
        _a_below[k] = -1 if f.below is None else size_pos[f.below]


_load_contract()


cdef const void* _data(dict arrays, str name, bint is64, Py_ssize_t n) except? NULL:
    """Pointer to ``arrays[name]`` after checking its dtype, layout and length."""
    cdef cnp.ndarray a
    arr = arrays.get(name)
    # Fast path, C-level checks only: exactly the native int64/int32 dtype, 1-D, C-contiguous,
    # length n. Anything else (including equivalent dtypes) takes the general checks below.
    if type(arr) is cnp.ndarray:
        a = <cnp.ndarray> arr
        if (cnp.PyArray_TYPE(a) == <int> (cnp.NPY_INT64 if is64 else cnp.NPY_INT32)
                and cnp.PyArray_ISNOTSWAPPED(a) and cnp.PyArray_NDIM(a) == 1
                and cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_DIMS(a)[0] == n):
            return cnp.PyArray_DATA(a)
    dtype = np.dtype(np.int64 if is64 else np.int32)
    if not isinstance(arr, np.ndarray):
        raise EngineError(f"engine input {name!r}: missing or not a numpy array")
    if arr.dtype != dtype or arr.ndim != 1 or not arr.flags.c_contiguous:
        raise EngineError(f"engine input {name!r}: expected a C-contiguous 1-D {dtype} "
                          f"array, got {arr.dtype} with shape {arr.shape}")
    if arr.shape[0] != n:
        raise EngineError(f"engine input {name!r}: length {arr.shape[0]}, expected {n}")
    return cnp.PyArray_DATA(<cnp.ndarray> arr)


cdef int64_t _first_outside(const void* data, bint is64, int64_t n, int64_t lo,
                            int64_t hi) noexcept nogil:
    """Index of the first entry outside [lo, hi], or -1."""
    cdef int64_t i
    cdef const int64_t* d64 = <const int64_t*> data
    cdef const int32_t* d32 = <const int32_t*> data
    if is64:
        for i in range(n):
            if d64[i] < lo or d64[i] > hi:
                return i
    else:
        for i in range(n):
            if d32[i] < lo or d32[i] > hi:
                return i
    return -1


cdef void _bind(Model* m, dict arrays, dict sizes) except *:
    """Check ``sizes`` and ``arrays`` against the contract (type, length, bounds); fill m."""
    cdef int64_t size[N_MODEL_SIZES]
    cdef const void* data[N_MODEL_ARRAYS]
    cdef int64_t n, hi, bad
    cdef int k
    for k in range(N_MODEL_SIZES):
        name = _SIZE_NAMES[k]
        try:
            value = sizes[name]
        except KeyError:
            raise EngineError(f"engine sizes: missing {name!r}") from None
        if (not isinstance(value, (int, np.integer))
                or not _size_lo[k] <= value <= _size_hi[k]):
            raise EngineError(f"engine sizes: {name} = {value}, expected "
                              f"{_size_lo[k]} <= {name} <= {_size_hi[k]}")
        size[k] = value
    for k in range(N_MODEL_ARRAYS):
        n = size[_a_len[k]] + _a_extra[k]
        data[k] = _data(arrays, _ARRAY_NAMES[k], _a_is64[k], n)
        hi = INT64_MAX if _a_below[k] < 0 else size[_a_below[k]] - 1
        if _a_lo[k] == INT64_MIN and hi == INT64_MAX:
            continue
        bad = _first_outside(data[k], _a_is64[k], n, _a_lo[k], hi)
        if bad >= 0:
            f = ARRAYS[k]
            bound = f" < {f.below} = {size[_a_below[k]]}" if f.below is not None else ""
            raise EngineError(f"engine input {f.name}: entry {bad} = {arrays[f.name][bad]}, "
                              f"expected {_a_lo[k]} <= value{bound}")
    model_bind(m, size, data)


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
            if m.l_act_off[layer] >= 0:
                first = s.ou_firsts[k]  # zero-skipping: pixels the OU ran steps of
            elif n % m.input_steps:
                return 1 + n
            else:
                first = n // m.input_steps
            ou = &s.ou[k]
            counts[CK_OU_STEP] += n
            counts[CK_CELL_READ] += n * ou.cells
            counts[CK_DAC_CONVERSION] += n * ou.rows
            counts[CK_SAMPLE_HOLD] += n * ou.cols
            counts[CK_ADC_CONVERSION] += n * ou.cols
            counts[CK_SHIFT_ADD] += n * ou.cols
            counts[CK_INPUT_REGISTER_READ] += n * ou.rows
            counts[CK_OUTPUT_REGISTER_UPDATE] += n * ou.cols
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
        ou[k].act_col = m.o_act_col[k]
    return ou


cdef void* _state(dict keep, str name, object dtype, Py_ssize_t n) except NULL:
    """A zeroed state array kept alive in ``keep``; its data pointer."""
    arr = np.zeros(max(n, 1), dtype)
    keep[name] = arr
    return cnp.PyArray_DATA(<cnp.ndarray> arr)


def run(dict arrays, dict sizes, Py_ssize_t trace_cap=0, dict names=None):
    """Run the engine on a flattened model; return its statistics as numpy arrays.

    Args:
        arrays: every field of ``contract.ARRAYS`` by name, as a C-contiguous 1-D numpy
            array of its dtype (int64 for ``time_t``/``int64_t``, int32 for
            ``idx_t``/``int32_t``), length and bounds.
        sizes: every field of ``contract.SIZES`` by name.
        trace_cap: how many trace records to keep (0 = no trace).
        names: optional ``{"layer": [...], "crossbar": [...], "flow": [...]}`` labels,
            used only in error messages.

    Returns:
        dict with ``events``, per-layer ``start``, ``end``, ``counts`` (n_layers x N_COUNT_KINDS),
        ``busy``/``stall`` (n_layers x N_RES_KINDS), per-resource ``res_busy``, ``res_stall``,
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
    i64, i32 = np.int64, np.int32
    _bind(&m, arrays, sizes)
    nl, nx, no, nf = m.n_layers, m.n_xbars, m.n_ous, m.n_flows
    with nogil:
        rc = check_model(&m, &fail)
    if rc:
        field = _ARRAY_NAMES[fail.detail]
        if fail.other >= 0:
            field += "/" + _ARRAY_NAMES[fail.other]
        raise EngineError(f"engine input {field}: entry {fail.component} is out of range "
                          f"or inconsistent")

    keep: dict = {}
    s.res = <ResourceState*> _state(keep, "res", np.uint8, m.n_res * sizeof(ResourceState))
    s.xb = <CrossbarState*> _state(keep, "xb", np.uint8, nx * sizeof(CrossbarState))
    s.ou = _pack_ous(&m, <OuInfo*> _state(keep, "ou", np.uint8, no * sizeof(OuInfo)))
    s.ou_steps = <int64_t*> _state(keep, "ou_steps", i64, no)
    s.ou_firsts = <int64_t*> _state(keep, "ou_firsts", i64, no)
    for i in range(nx):
        s.xb[i].ou_lo = m.x_ou_lo[i]
        s.xb[i].ou_hi = m.x_ou_hi[i]
        s.xb[i].layer = m.x_layer[i]
        s.xb[i].adc = m.x_adc[i]
        s.xb[i].act_off = m.l_act_off[m.x_layer[i]]
        s.xb[i].act_cols = m.l_act_cols[m.x_layer[i]]
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
    s.gp_done = <int32_t*> _state(keep, "gp_done", i32, m.n_group_slots)
    s.gp_max = <time_t*> _state(keep, "gp_max", i64, m.n_group_slots)
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
        raise EngineError(f"engine: an OU did {bad_tally - 1} bit-steps, not {m.input_steps} "
                          f"per pixel it ran")
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
    if 0 <= fail.kind < len(ALL_EVENTS):
        kind, group = ALL_EVENTS[fail.kind].name, ALL_EVENTS[fail.kind].component
    else:
        kind, group = "setup", "layer"
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

