# The cycle-level engine's contract: the model it reads, the state it writes, and the
# cdef functions of its event loop. Python (reramsim/engine.py) builds the model as
# C-contiguous numpy arrays (struct of arrays); _engine.run() checks them once and
# runs simulate() without the GIL. Semantics: docs/timing.md.
#
# Every function below runs without the GIL and never raises: it returns an ErrorCode
# (0 = success) and, on failure, the caller fills a Failure that the entry point
# turns into reramsim.engine.EngineError once the GIL is back.

from libc.stdint cimport int32_t, int64_t, uint8_t

from reramsim._core._queue cimport Event, EventQueue
from reramsim._core._types cimport idx_t, time_t


cdef enum:  # EventKind
    # Event kinds; the value is also the priority within one cycle (lower first).
    EV_ARRIVE = 0      # a: flow, b: pixel: the pixel is in the destination's input buffer
    EV_INWRITE = 1     # a: flow, b: pixel: request the destination input-buffer port
    EV_HOP = 2         # a: flow, b: pixel, c: hop: request the hop's mesh link
    EV_OUT = 3         # a: layer, b: pixel: request the output-buffer port
    EV_UNIT = 4        # a: layer, b: pixel: request the digital unit / accumulator
    EV_XSTEP = 5       # a: crossbar, b: pixel: a read is done, request the ADC group
    EV_FETCHED = 6     # a: layer, b: pixel: the input vector is in the DAC registers
    EV_FETCH = 7       # a: layer, b: pixel: ready; request the input-buffer port
    TRACE_READ = 8     # trace records only: a crossbar read (component = crossbar)


cdef enum:  # ResourceKind
    # Columns of the per-layer busy/stall tables (reramsim.analytical.RESOURCE_KINDS order).
    RK_CROSSBAR = 0
    RK_ADC = 1
    RK_INPUT_BUFFER = 2
    RK_OUTPUT_BUFFER = 3
    RK_NOC = 4
    N_RES_KINDS = 10   # then accumulator, activation, pooling, eltwise, other


cdef enum:  # CountKind
    # Columns of the per-layer count table (reramsim.stats.EVENT_KINDS order).
    CK_OU_STEP = 0
    CK_CELL_READ = 1
    CK_DAC_CONVERSION = 2
    CK_SAMPLE_HOLD = 3
    CK_ADC_CONVERSION = 4
    CK_SHIFT_ADD = 5
    CK_INDEX_READ = 6
    CK_GATHER_INPUT = 7
    CK_ACCUMULATE = 8
    CK_INPUT_BUFFER_READ = 9
    CK_INPUT_BUFFER_WRITE = 10
    CK_OUTPUT_BUFFER_WRITE = 11
    CK_OUTPUT_BUFFER_READ = 12
    CK_NOC_BIT_HOP = 13
    CK_ZERO_CHECK = 18
    N_COUNT_KINDS = 19  # activation_op, pooling_op, eltwise_op, other_op are 14-17


cdef struct Model:
    # Read-only inputs. Pointers into numpy arrays owned by the caller.
    # sizes
    idx_t n_layers
    idx_t n_xbars              # active crossbars (those with at least one OU)
    int64_t n_ous
    idx_t n_flows
    idx_t n_edges
    idx_t n_res                # resources: ADC groups, buffer ports, digital units, links
    int64_t n_pixel_slots      # sum of the layers' output pixels
    int64_t n_need             # entries of need
    int64_t n_links            # entries of f_links
    int32_t input_steps        # B: DAC bit-steps per input vector
    time_t t_shift_add         # cycles from a conversion's end to its shift-and-add result
    time_t t_hop               # cycles per mesh hop (router + link)
    # layers (n_layers each; *_ptr have n_layers + 1)
    const int64_t* l_pixels    # output pixels P (raster order)
    const int64_t* l_pix_off   # index of the layer's pixel 0 in per-pixel state
    const time_t* l_t_fetch    # cycles per pixel on the input-buffer port
    const time_t* l_t_unit     # cycles per pixel on the digital unit (accumulator)
    const time_t* l_t_out      # cycles per pixel on the output-buffer port
    const idx_t* l_res_fetch   # resource id: input-buffer (read) port
    const idx_t* l_res_unit    # resource id: digital unit
    const idx_t* l_res_out     # resource id: output-buffer port
    const int32_t* l_unit_rkind  # ResourceKind column of the unit
    const int32_t* l_unit_ckind  # CountKind column its unit work is counted in
    const int64_t* l_fetch_acc   # input-buffer reads per pixel (accesses)
    const int64_t* l_unit_ops    # element ops (accumulate additions) per pixel
    const int64_t* l_out_writes  # output-buffer writes per pixel (accesses)
    const int64_t* l_out_reads   # output-buffer reads per pixel, all flows (accesses)
    const idx_t* l_xb_lo       # active crossbars of the layer: [lo, hi)
    const idx_t* l_xb_hi
    const idx_t* l_edge_ptr    # CSR into l_edges: the layer's input edges
    const idx_t* l_edges
    const idx_t* l_flow_ptr    # CSR into l_flows: the layer's output flows
    const idx_t* l_flows
    # crossbars (n_xbars)
    const idx_t* x_layer       # layer index
    const idx_t* x_adc         # resource id of its ADC group
    const int64_t* x_ou_lo     # its OUs: [lo, hi) of the o_* arrays, in execution order
    const int64_t* x_ou_hi
    # OUs (n_ous)
    const time_t* o_t_first    # cycles: read of the OU's first bit-step (index lookup included)
    const time_t* o_t_rest     # cycles: read of its other bit-steps
    const time_t* o_t_adc      # cycles: converting its bit-lines on the ADC group
    const int64_t* o_rows      # active word-lines (DAC conversions per step)
    const int64_t* o_cols      # active bit-lines (samples, conversions, shift-adds per step)
    const int64_t* o_cells     # rows * cols (cell reads per step)
    const int64_t* o_index     # index-buffer lookups per pixel
    const int64_t* o_gather    # gathered inputs per pixel
    # edges (n_edges)
    const idx_t* e_consumer    # layer that waits
    const idx_t* e_flow        # flow that brings the producer's pixels
    const int64_t* e_need_off  # index of the edge's need[0] in need
    const int64_t* need        # producer pixels (prefix length) each consumer pixel waits for
    # flows (n_flows; *_ptr have n_flows + 1)
    const idx_t* f_src         # producer layer
    const int64_t* f_link_ptr  # CSR into f_links; hops = ptr[f+1] - ptr[f]
    const idx_t* f_links       # resource ids of the route's links, in order
    const time_t* f_t_serial   # cycles each link is held per pixel
    const time_t* f_t_inwrite  # cycles per pixel on the destination input-buffer port
    const idx_t* f_res_inwrite # resource id of that port
    const int64_t* f_bits      # bits per pixel
    const int64_t* f_inwrites  # input-buffer writes per pixel (accesses)
    const idx_t* f_edge_ptr    # CSR into f_edges: edges fed by the flow
    const idx_t* f_edges
    # resources (n_res)
    const int32_t* r_kind      # ResourceKind column


cdef struct TraceRecord:
    int64_t stage              # EventKind of the reservation, or TRACE_READ
    int64_t layer              # layer index
    int64_t pixel              # output pixel
    int64_t component          # resource id (crossbar index for TRACE_READ)
    time_t start               # cycle the work started
    time_t duration            # cycles


cdef struct ResourceState:
    # One resource (array of structs: a reservation touches one cache line).
    time_t free                # cycle it is next free
    time_t busy                # cycles busy
    time_t stall               # cycles requests waited for it
    int64_t uses               # reservations


cdef struct CrossbarState:
    # One active crossbar's chain.
    int64_t pix                # pixel in progress, or the next one
    int64_t ou                 # OU in progress (index into the OU table)
    int64_t ou_lo              # its OUs: [ou_lo, ou_hi) (copied from the model)
    int64_t ou_hi
    time_t free                # when its array may start the next read (while idle)
    time_t read                # cycles spent reading
    time_t adc_busy            # cycles its conversions held the ADC group
    time_t adc_stall           # cycles its conversions waited for the ADC group
    int64_t steps              # OU steps done (conversions requested)
    idx_t layer                # its layer (copied from the model)
    idx_t adc                  # resource id of its ADC group (copied from the model)
    int32_t step               # bit-step in progress
    uint8_t busy               # 1 while reads of its pixel remain


cdef struct OuInfo:
    # One OU's constants, packed from the model's o_* arrays for locality.
    time_t t_first             # cycles: read of the first bit-step
    time_t t_rest              # cycles: read of the other bit-steps
    time_t t_adc               # cycles: conversion on the ADC group
    int64_t rows               # DAC conversions per step
    int64_t cols               # samples, conversions, shift-adds per step
    int64_t cells              # cell reads per step
    int64_t index              # index-buffer lookups per pixel
    int64_t gather             # gathered inputs per pixel


cdef struct State:
    # Mutable state and statistics; memory owned by the entry point.
    ResourceState* res         # (n_res)
    CrossbarState* xb          # (n_xbars)
    const OuInfo* ou           # (n_ous) packed OU constants
    int64_t* ou_steps          # (n_ous) bit-steps each OU has done; the per-step event
                               # counts (cells, DACs, ...) are these tallies x the OU's sizes
    int64_t* l_next_ready      # (n_layers) next pixel to check for readiness
    int64_t* l_fetched         # (n_layers) pixels whose input vector is in the registers
    int64_t* l_completed       # (n_layers) pixels written to the output buffer
    time_t* l_start            # (n_layers) cycle its first fetch started
    time_t* l_end              # (n_layers) cycle its last output was delivered
    int64_t* l_counts          # (n_layers * N_COUNT_KINDS) events
    time_t* l_busy             # (n_layers * N_RES_KINDS) cycles
    time_t* l_stall            # (n_layers * N_RES_KINDS) cycles
    int32_t* p_xdone           # (n_pixel_slots) crossbars done with the pixel
    time_t* p_xmax             # (n_pixel_slots) latest crossbar result of the pixel
    int64_t* f_arrived         # (n_flows) pixels delivered
    TraceRecord* trace         # (trace_cap) records, or NULL
    int64_t trace_cap
    int64_t trace_n            # records written
    int64_t trace_dropped      # records past trace_cap, not written
    time_t trace_full_at       # cycle of the first dropped record, -1 if none
    int64_t events             # events processed


cdef struct Failure:
    int code                   # ErrorCode
    int32_t kind               # event kind being handled, -1 before the loop
    int64_t component          # its layer / crossbar / flow, or the offending array entry
    time_t time                # simulated cycle
    int64_t detail             # pixel, or which input array (check_model)


cdef int check_model(const Model* m, Failure* fail) noexcept nogil
# After a successful run: per-crossbar and per-OU tallies into layer and resource stats;
# returns 0, or 1 + an OU's step tally that is not a multiple of input_steps.
cdef int64_t fold_tallies(const Model* m, State* s) noexcept nogil
cdef int simulate(const Model* m, State* s, EventQueue* q, Failure* fail) noexcept nogil
cdef int try_issue(const Model* m, State* s, EventQueue* q, idx_t layer, time_t now) noexcept nogil
cdef int on_fetch(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil
cdef int on_fetched(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil
cdef int on_xstep(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil
cdef int on_unit(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil
cdef int on_out(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil
cdef int on_hop(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil
cdef int on_inwrite(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil
cdef int on_arrive(const Model* m, State* s, EventQueue* q, const Event* ev) noexcept nogil
