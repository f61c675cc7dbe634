# The engine's event queue: a timing wheel with an overflow heap.
#
# Contract: events pop in the order of (time, kind, seq), where ``kind`` is also the
# priority (lower first) and ``seq`` is the push order. This is a total order, so a
# run is deterministic and equals the pure-Python reference's heapq order.
#
# How: events due within WHEEL_SLOTS cycles of ``now`` sit in a circular wheel with
# one FIFO per (cycle slot, kind) (a Slot is one cache line); appending in push order
# keeps each FIFO sorted by seq, so wheel nodes need not store it. Later events wait in
# a binary heap ("far") and move into the wheel, in heap order, when ``now`` advances to
# within WHEEL_SLOTS of them; their slots are empty then, since every direct push was
# earlier in time, so FIFO order stays seq order. Occupancy bitmaps skip empty cycles.
# Push and pop are O(1) except for far events (O(log n)).
#
# The functions are inline (defined here) so the engine's hot loop can inline them.
# They never raise: they return ErrorCode values (0 = success).

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc

from reramsim._core._types cimport ERR_NOMEM, ERR_NONE, ERR_PAST, idx_t, time_t

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    static inline int reramsim_ctz64(unsigned long long x) { return __builtin_ctzll(x); }
    #else
    static inline int reramsim_ctz64(unsigned long long x) {
        int n = 0; while (!(x & 1ULL)) { x >>= 1; ++n; } return n;
    }
    #endif
    """
    int reramsim_ctz64(unsigned long long x) noexcept nogil


cdef enum:
    WHEEL_SLOTS = 1024      # cycles covered by the wheel (a power of two)
    WHEEL_MASK = 1023
    WHEEL_WORDS = 16        # WHEEL_SLOTS / 64 occupancy words
    N_KINDS = 8             # event kinds (= priorities) 0..7; Slot holds 8 FIFOs
    MIN_POOL = 1024         # initial wheel nodes


cdef struct Event:
    time_t time        # cycle at which the event fires
    int32_t kind       # event kind, also its priority: lower fires first within a cycle
    idx_t a            # layer, crossbar or flow index (meaning set by kind)
    idx_t b            # output pixel index
    idx_t c            # hop index (HOP events), else 0
    uint64_t seq       # push order (count of pushes before this one)


cdef struct Node:
    # A wheel entry: an event without its seq (FIFO position stands for it).
    time_t time            # cycle at which the event fires
    int32_t kind           # event kind
    idx_t a                # as in Event
    idx_t b
    idx_t c
    int32_t next           # next node in the same FIFO (or the free list); -1 = none
    int32_t pad


cdef struct Slot:
    # The FIFOs of one wheel cycle, one per kind: a single cache line.
    int32_t head[8]        # first node of each kind's FIFO, -1 = empty
    int32_t tail[8]        # last node of each kind's FIFO


cdef struct EventQueue:
    time_t now             # cycle of the last popped event; pushes may not be earlier
    uint64_t seq           # sequence number of the next push
    int64_t n              # events queued (wheel + far)
    int64_t n_wheel        # events in the wheel
    Node* pool             # wheel nodes
    int32_t free_node      # first free node, -1 = none
    int64_t pool_cap       # nodes allocated
    Slot* slots            # (WHEEL_SLOTS) the wheel
    uint8_t* slot_kinds    # (WHEEL_SLOTS) bit k: the slot's kind-k FIFO is non-empty
    uint64_t* slot_bits    # (WHEEL_WORDS) bit s: slot s holds an event
    Event* far             # binary heap on (time, kind, seq) of events beyond the wheel
    int64_t far_n          # events in the heap
    int64_t far_cap        # heap capacity


cdef inline bint event_before(const Event* x, const Event* y) noexcept nogil:
    """The queue order: (time, kind, seq)."""
    if x.time != y.time:
        return x.time < y.time
    if x.kind != y.kind:
        return x.kind < y.kind
    return x.seq < y.seq


cdef inline int _grow_pool(EventQueue* q, int64_t cap) noexcept nogil:
    cdef int64_t i
    cdef Node* pool
    if cap < MIN_POOL:
        cap = MIN_POOL
    if cap > 2147483647:
        return ERR_NOMEM
    pool = <Node*> realloc(q.pool, cap * sizeof(Node))
    if pool == NULL:
        return ERR_NOMEM
    q.pool = pool
    for i in range(q.pool_cap, cap - 1):
        pool[i].next = <int32_t> (i + 1)
    pool[cap - 1].next = q.free_node
    q.free_node = <int32_t> q.pool_cap
    q.pool_cap = cap
    return ERR_NONE


cdef inline int queue_init(EventQueue* q) noexcept nogil:
    """Empty queue at cycle 0. Returns ERR_NOMEM on allocation failure (call queue_free anyway)."""
    cdef int64_t i
    cdef int k
    q.now = 0
    q.seq = 0
    q.n = 0
    q.n_wheel = 0
    q.pool = NULL
    q.free_node = -1
    q.pool_cap = 0
    q.far_n = 0
    q.far_cap = 0
    q.slots = <Slot*> malloc(WHEEL_SLOTS * sizeof(Slot))
    q.slot_kinds = <uint8_t*> calloc(WHEEL_SLOTS, sizeof(uint8_t))
    q.slot_bits = <uint64_t*> calloc(WHEEL_WORDS, sizeof(uint64_t))
    q.far = <Event*> malloc(MIN_POOL * sizeof(Event))
    if q.slots == NULL or q.slot_kinds == NULL or q.slot_bits == NULL or q.far == NULL:
        return ERR_NOMEM
    q.far_cap = MIN_POOL
    for i in range(WHEEL_SLOTS):
        for k in range(N_KINDS):
            q.slots[i].head[k] = -1
            q.slots[i].tail[k] = -1
    return _grow_pool(q, MIN_POOL)


cdef inline void queue_free(EventQueue* q) noexcept nogil:
    """Release the queue's memory (safe after a failed queue_init)."""
    free(q.pool)
    free(q.slots)
    free(q.slot_kinds)
    free(q.slot_bits)
    free(q.far)
    q.pool = NULL
    q.slots = NULL
    q.slot_kinds = NULL
    q.slot_bits = NULL
    q.far = NULL


cdef inline int _wheel_insert(EventQueue* q, const Event* ev) noexcept nogil:
    cdef int32_t node
    cdef int64_t slot
    cdef Slot* sl
    cdef Node* nd
    cdef int rc
    if q.free_node < 0:
        rc = _grow_pool(q, 2 * q.pool_cap)
        if rc:
            return rc
    node = q.free_node
    nd = &q.pool[node]
    q.free_node = nd.next
    nd.time = ev.time
    nd.kind = ev.kind
    nd.a = ev.a
    nd.b = ev.b
    nd.c = ev.c
    nd.next = -1
    slot = ev.time & WHEEL_MASK
    sl = &q.slots[slot]
    if sl.tail[ev.kind] >= 0:
        q.pool[sl.tail[ev.kind]].next = node
    else:
        sl.head[ev.kind] = node
    sl.tail[ev.kind] = node
    q.slot_kinds[slot] |= <uint8_t> (1 << ev.kind)
    q.slot_bits[slot >> 6] |= (<uint64_t> 1) << (slot & 63)
    q.n_wheel += 1
    return ERR_NONE


cdef inline int _far_push(EventQueue* q, const Event* ev) noexcept nogil:
    cdef int64_t i, parent
    cdef Event* grown
    if q.far_n == q.far_cap:
        grown = <Event*> realloc(q.far, 2 * q.far_cap * sizeof(Event))
        if grown == NULL:
            return ERR_NOMEM
        q.far = grown
        q.far_cap *= 2
    i = q.far_n
    q.far_n += 1
    while i > 0:
        parent = (i - 1) >> 1
        if not event_before(ev, &q.far[parent]):
            break
        q.far[i] = q.far[parent]
        i = parent
    q.far[i] = ev[0]
    return ERR_NONE


cdef inline void _far_pop(EventQueue* q, Event* out) noexcept nogil:
    cdef int64_t i = 0, child, n
    cdef Event last
    out[0] = q.far[0]
    q.far_n -= 1
    n = q.far_n
    if n == 0:
        return
    last = q.far[n]
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and event_before(&q.far[child + 1], &q.far[child]):
            child += 1
        if not event_before(&q.far[child], &last):
            break
        q.far[i] = q.far[child]
        i = child
    q.far[i] = last


cdef inline int _migrate(EventQueue* q) noexcept nogil:
    """Move far events due before now + WHEEL_SLOTS into the wheel, in queue order."""
    cdef Event ev
    cdef int rc
    while q.far_n > 0 and q.far[0].time - q.now < WHEEL_SLOTS:
        _far_pop(q, &ev)
        rc = _wheel_insert(q, &ev)
        if rc:
            return rc
    return ERR_NONE


cdef inline int64_t _next_offset(const EventQueue* q) noexcept nogil:
    """Cycles from now to the first non-empty wheel slot (the wheel must not be empty)."""
    cdef int64_t s0 = q.now & WHEEL_MASK
    cdef int64_t w = s0 >> 6, i, ww, slot
    cdef uint64_t bits = q.slot_bits[w] & ((~(<uint64_t> 0)) << (s0 & 63))
    if bits:
        return ((w << 6) + reramsim_ctz64(bits)) - s0
    for i in range(1, WHEEL_WORDS + 1):
        ww = (w + i) & (WHEEL_WORDS - 1)
        if q.slot_bits[ww]:
            slot = (ww << 6) + reramsim_ctz64(q.slot_bits[ww])
            return (slot - s0) & WHEEL_MASK
    return 0


cdef inline int queue_push(EventQueue* q, time_t time, int32_t kind, idx_t a, idx_t b,
                           idx_t c) noexcept nogil:
    """Schedule an event. Returns ERR_PAST if ``time < now``, ERR_NOMEM, or 0."""
    cdef Event ev
    if time < q.now:
        return ERR_PAST
    ev.time = time
    ev.kind = kind
    ev.a = a
    ev.b = b
    ev.c = c
    ev.seq = q.seq
    q.seq += 1
    q.n += 1
    if time - q.now < WHEEL_SLOTS:
        return _wheel_insert(q, &ev)
    return _far_push(q, &ev)


cdef inline int queue_pop(EventQueue* q, Event* out) noexcept nogil:
    """Take the first event in (time, kind, seq) order: 1 if one was taken, 0 if empty,
    or -ERR_NOMEM if moving far events into the wheel failed. (``out.seq`` is not set.)"""
    cdef int64_t off, slot
    cdef int32_t node
    cdef uint8_t kinds
    cdef int k, rc
    cdef Slot* sl
    cdef Node* nd
    if q.n == 0:
        return 0
    if q.n_wheel == 0:
        q.now = q.far[0].time
        rc = _migrate(q)
        if rc:
            return -rc
    elif q.slot_kinds[q.now & WHEEL_MASK] == 0:
        off = _next_offset(q)
        q.now += off
        rc = _migrate(q)
        if rc:
            return -rc
    slot = q.now & WHEEL_MASK
    kinds = q.slot_kinds[slot]
    k = reramsim_ctz64(kinds)
    sl = &q.slots[slot]
    node = sl.head[k]
    nd = &q.pool[node]
    out.time = nd.time
    out.kind = nd.kind
    out.a = nd.a
    out.b = nd.b
    out.c = nd.c
    out.seq = 0
    sl.head[k] = nd.next
    if nd.next < 0:
        sl.tail[k] = -1
        kinds &= <uint8_t> ~(1 << k)
        q.slot_kinds[slot] = kinds
        if kinds == 0:
            q.slot_bits[slot >> 6] &= ~((<uint64_t> 1) << (slot & 63))
    nd.next = q.free_node
    q.free_node = node
    q.n -= 1
    q.n_wheel -= 1
    return 1


cdef inline bint queue_next_is(EventQueue* q, time_t time, int32_t kind) noexcept nogil:
    """Whether an event pushed now at (time, kind) would be the next one popped.

    That holds when every queued event is strictly later in (time, kind) (the new event's
    seq would be the largest). Needs ``time >= now``; reads the queue, changes nothing.
    """
    cdef time_t t0
    cdef int32_t k0
    if time > q.now and q.slot_kinds[q.now & WHEEL_MASK]:
        return False    # the common dense case: events remain at the current cycle
    if q.n == 0:
        return True
    if q.n_wheel == 0:
        t0 = q.far[0].time
        k0 = q.far[0].kind
    else:
        # Wheel events all precede far ones (far times are >= now + WHEEL_SLOTS).
        t0 = q.now
        if q.slot_kinds[t0 & WHEEL_MASK] == 0:
            t0 += _next_offset(q)
        k0 = reramsim_ctz64(q.slot_kinds[t0 & WHEEL_MASK])
    return time < t0 or (time == t0 and kind < k0)


cdef inline int queue_take_direct(EventQueue* q, time_t time) noexcept nogil:
    """Account for an event that queue_next_is() said would pop next and that the caller
    handles at once instead of pushing it: it takes a seq and ``now`` moves to ``time``
    (far events come into the wheel as in queue_pop). Returns ERR_NOMEM or 0."""
    q.seq += 1
    if time != q.now:
        q.now = time
        return _migrate(q)
    return ERR_NONE
