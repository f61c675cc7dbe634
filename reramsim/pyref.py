"""The cycle-level semantics in small, readable pure Python (a ``heapq`` event loop).

This is the reference the Cython engine (:mod:`reramsim._core._engine`) must match
cycle for cycle and count for count: same plan (:func:`reramsim.plan.build_plan`),
same events, same handlers, same order of pushes. Tests run both on tiny networks;
the throughput benchmark uses it as the baseline. It makes no attempt at speed:
every event is a tuple on a heap and every handler is plain Python.

Events are ``(time, kind, seq, a, b, c)``: ``kind`` doubles as the priority, so
ties at one cycle go by kind, then by push order (``seq``). The kinds, their order and
what ``a``/``b``/``c`` mean are those of the engine: :class:`reramsim._core.contract.EventKind`
and ``contract.EVENTS``.

Every resource is a FIFO server: a request at ``now`` starts at
``max(now, free)``; the difference is a stall. See ``docs/timing.md``.

Zero-skipping (``plan.ou_active``): a crossbar runs, for each OU in order, only its
first ``n`` active input steps of the pixel (``n = ou_active[pixel, ou]``; 0 skips
the OU, no index lookup or gather either); the first step it runs pays the OU's
first-read time. A crossbar with no step to run for a pixel delivers its (zero)
result at the time it would have started, and is free again at once. A crossbar
hands its results on in pixel order: a result is never earlier than the
crossbar's previous one (without skipping they are in order anyway).
"""
from __future__ import annotations

import heapq

import numpy as np

from reramsim._core.contract import EVENTS, EventKind
from reramsim.ir import Network
from reramsim.mapping import NetworkMapping
from reramsim.placement import Placement
from reramsim.plan import RESOURCE_KINDS, TimingPlan, build_plan
from reramsim.stats import EVENT_KINDS, LayerStats, SimResult

ARRIVE, INWRITE, HOP, OUT, UNIT, XSTEP, FETCHED, FETCH = (
    EventKind.ARRIVE, EventKind.INWRITE, EventKind.HOP, EventKind.OUT, EventKind.UNIT,
    EventKind.XSTEP, EventKind.FETCHED, EventKind.FETCH)


class PyRefEngine:
    """One run of a plan. ``run()`` returns the :class:`SimResult` (engine ``"pyref"``)."""

    def __init__(self, plan: TimingPlan) -> None:
        self.plan = plan
        n_res = plan.n_resources
        self.queue: list[tuple[int, int, int, int, int, int]] = []
        self.seq = 0
        self.events = 0
        self.res_free = [0] * n_res
        self.res_busy = [0] * n_res
        self.res_stall = [0] * n_res
        self.res_uses = [0] * n_res
        layers = plan.layers
        self.next_ready = [0] * len(layers)
        self.fetched = [0] * len(layers)
        self.completed = [0] * len(layers)
        self.start = [-1] * len(layers)
        self.end = [0] * len(layers)
        self.counts = [dict.fromkeys(EVENT_KINDS, 0) for _ in layers]
        self.busy = [dict.fromkeys(RESOURCE_KINDS, 0) for _ in layers]
        self.stall = [dict.fromkeys(RESOURCE_KINDS, 0) for _ in layers]
        self.x_done = [[0] * lp.n_pixels for lp in layers]  # groups done with (layer, pixel)
        self.x_max = [[0] * lp.n_pixels for lp in layers]  # their latest result time
        self.g_done = [[0] * layers[g.layer].n_pixels for g in plan.groups]  # crossbars done
        self.g_max = [[0] * layers[g.layer].n_pixels for g in plan.groups]  # latest result
        self.x_group = [g.index for g in plan.groups for _ in range(g.lo, g.hi)]
        n_x = len(plan.xbar_layer)
        self.x_pix = [0] * n_x
        self.x_ou = [0] * n_x
        self.x_step = [0] * n_x
        self.x_busy = [False] * n_x
        self.x_free = [0] * n_x  # when the array may start its next read
        self.x_read_cycles = [0] * n_x
        self.x_steps = [0] * n_x
        self.x_adc_stall = [0] * n_x
        self.x_result = [0] * n_x  # its latest result time (results go on in pixel order)
        self.arrived = [0] * len(plan.flows)
        self.active = [a.tolist() if a is not None else None for a in plan.ou_active]
        self.ou_base = [plan.ou_base(lp) for lp in layers]

    # --------------------------------------------------------------- kernel
    def push(self, time: int, kind: int, a: int, b: int, c: int = 0) -> None:
        heapq.heappush(self.queue, (time, kind, self.seq, a, b, c))
        self.seq += 1

    def reserve(self, rid: int, now: int, dur: int, layer: int, kind: str) -> int:
        """Occupy resource ``rid`` for ``dur`` cycles from ``max(now, free)``; return the start."""
        start = max(now, self.res_free[rid])
        self.res_free[rid] = start + dur
        self.res_busy[rid] += dur
        self.res_stall[rid] += start - now
        self.res_uses[rid] += 1
        self.busy[layer][kind] += dur
        self.stall[layer][kind] += start - now
        return start

    def run(self) -> SimResult:
        by_kind = {ARRIVE: self.on_arrive, INWRITE: self.on_inwrite, HOP: self.on_hop,
                   OUT: self.on_out, UNIT: self.on_unit, XSTEP: self.on_xstep,
                   FETCHED: self.on_fetched, FETCH: self.on_fetch}
        handlers = [by_kind[EventKind[e.name]] for e in EVENTS]  # indexed by kind
        for layer in range(len(self.plan.layers)):
            self.try_issue(layer, 0)
        while self.queue:
            time, kind, _, a, b, c = heapq.heappop(self.queue)
            self.events += 1
            handlers[kind](time, a, b, c)
        return self.result()

    # --------------------------------------------------------------- readiness
    def try_issue(self, layer: int, now: int) -> None:
        """Issue FETCH for every next pixel whose needed producer pixels have all arrived."""
        lp = self.plan.layers[layer]
        while self.next_ready[layer] < lp.n_pixels:
            p = self.next_ready[layer]
            for e in lp.edges:
                edge = self.plan.edges[e]
                if self.arrived[edge.flow] < edge.need[p]:
                    return
            self.push(now, FETCH, layer, p)
            self.next_ready[layer] = p + 1

    # --------------------------------------------------------------- handlers
    def on_fetch(self, now: int, layer: int, p: int, _: int) -> None:
        lp = self.plan.layers[layer]
        start = self.reserve(lp.res_fetch, now, lp.t_fetch, layer, "input_buffer")
        if p == 0:
            self.start[layer] = start
        self.counts[layer]["input_buffer_read"] += lp.fetch_accesses
        self.counts[layer]["input_register_write"] += lp.ir_writes
        self.counts[layer]["bus_bit"] += lp.bus_bits
        if lp.n_active_crossbars:
            self.push(start + lp.t_fetch, FETCHED, layer, p)
        else:
            self.push(start + lp.t_fetch, UNIT, layer, p)

    def on_fetched(self, now: int, layer: int, p: int, _: int) -> None:
        lp = self.plan.layers[layer]
        self.fetched[layer] = p + 1
        for x in range(lp.xbar_lo, lp.xbar_hi):
            if not self.x_busy[x]:
                if self.x_pix[x] != p:
                    raise RuntimeError(f"pyref: crossbar {x} idle on pixel {self.x_pix[x]}, "
                                       f"not {p}")
                self.start_pixel(x, max(now, self.x_free[x]))

    def steps(self, layer: int, k: int, p: int) -> int:
        """Input steps OU ``k`` runs for pixel ``p`` of ``layer`` (all unless zero-skipping)."""
        active = self.active[layer]
        if active is None:
            return self.plan.input_steps
        return active[p][k - self.ou_base[layer]]

    def next_ou(self, x: int, k: int, p: int) -> int:
        """The first OU of crossbar ``x`` from ``k`` on with a step to run (``hi``: none)."""
        layer, hi = int(self.plan.xbar_layer[x]), int(self.plan.xbar_ou_hi[x])
        while k < hi and self.steps(layer, k, p) == 0:
            k += 1
        return k

    def start_pixel(self, x: int, read_start: int) -> None:
        """Crossbar ``x`` starts the first read of its next pixel at ``read_start``."""
        plan = self.plan
        while True:
            p, layer = self.x_pix[x], int(plan.xbar_layer[x])
            lo, hi = int(plan.xbar_ou_lo[x]), int(plan.xbar_ou_hi[x])
            if self.active[layer] is not None:
                self.counts[layer]["zero_check"] += plan.input_steps * (hi - lo)
            k = self.next_ou(x, lo, p)
            if k < hi:
                break
            # Nothing to read: the (zero) result is there at once; go on to the next pixel.
            self.crossbar_done(x, layer, p, read_start)
            self.x_pix[x] = p + 1
            if not (p + 1 < plan.layers[layer].n_pixels and self.fetched[layer] > p + 1):
                self.x_busy[x] = False
                self.x_free[x] = read_start
                return
        self.x_busy[x] = True
        self.x_ou[x] = k
        self.x_step[x] = 0
        self.push(read_start + int(plan.ou_t_first[k]), XSTEP, x, p)

    def on_xstep(self, now: int, x: int, p: int, _: int) -> None:
        plan = self.plan
        k, b = self.x_ou[x], self.x_step[x]
        layer = int(plan.xbar_layer[x])
        t_adc = int(plan.ou_t_adc[k])
        conv = self.reserve(int(plan.xbar_adc[x]), now, t_adc, layer, "adc")
        self.x_steps[x] += 1
        self.x_adc_stall[x] += conv - now
        t_read = int(plan.ou_t_first[k] if b == 0 else plan.ou_t_rest[k])
        self.x_read_cycles[x] += t_read
        self.busy[layer]["crossbar"] += t_read
        rows, cols, conv_cols = (int(plan.ou_n_rows[k]), int(plan.ou_n_cols[k]),
                                 int(plan.ou_n_conv[k]))
        counts = self.counts[layer]
        counts["ou_step"] += 1
        counts["cell_read"] += rows * cols
        counts["dac_conversion"] += rows
        counts["sample_hold"] += conv_cols
        counts["adc_conversion"] += conv_cols
        counts["shift_add"] += conv_cols
        counts["input_register_read"] += rows
        counts["output_register_update"] += conv_cols
        if b == 0:
            counts["index_read"] += int(plan.ou_index_reads[k])
            counts["gather_input"] += int(plan.ou_gather[k])
        # The next read starts when this conversion starts (one sample-and-hold stage).
        nxt = self.next_ou(x, k + 1, p) if b + 1 >= self.steps(layer, k, p) else k
        if nxt == k:
            self.x_step[x] = b + 1
            self.push(conv + int(plan.ou_t_rest[k]), XSTEP, x, p)
        elif nxt < plan.xbar_ou_hi[x]:
            self.x_ou[x], self.x_step[x] = nxt, 0
            self.push(conv + int(plan.ou_t_first[nxt]), XSTEP, x, p)
        else:
            self.crossbar_done(x, layer, p, conv + t_adc + plan.t_shift_add)
            self.x_pix[x] = p + 1
            if p + 1 < plan.layers[layer].n_pixels and self.fetched[layer] > p + 1:
                self.start_pixel(x, conv)
            else:
                self.x_busy[x] = False
                self.x_free[x] = conv

    def crossbar_done(self, x: int, layer: int, p: int, result_time: int) -> None:
        """Crossbar ``x`` has its result for pixel ``p`` (not before its previous result); the
        last crossbar of its group to do so hands the group's results on: at once on the
        home tile, else over the group's partial-sum flow."""
        result_time = max(result_time, self.x_result[x])
        self.x_result[x] = result_time
        g = self.x_group[x]
        self.g_done[g][p] += 1
        self.g_max[g][p] = max(self.g_max[g][p], result_time)
        group = self.plan.groups[g]
        if self.g_done[g][p] < group.hi - group.lo:
            return
        if group.flow >= 0:
            self.push(self.g_max[g][p], HOP, group.flow, p, 0)
        else:
            self.group_done(layer, p, self.g_max[g][p])

    def group_done(self, layer: int, p: int, done: int) -> None:
        """A group's partial sums of pixel ``p`` are at the home accumulator at ``done``; the
        last group of the layer to get there requests the accumulator."""
        self.x_done[layer][p] += 1
        self.x_max[layer][p] = max(self.x_max[layer][p], done)
        if self.x_done[layer][p] == len(self.plan.layers[layer].groups):
            self.push(self.x_max[layer][p], UNIT, layer, p)

    def on_unit(self, now: int, layer: int, p: int, _: int) -> None:
        lp = self.plan.layers[layer]
        start = self.reserve(lp.res_unit, now, lp.t_unit, layer, lp.unit)
        self.counts[layer][lp.unit_count_kind] += lp.unit_ops
        self.push(start + lp.t_unit, OUT, layer, p)

    def on_out(self, now: int, layer: int, p: int, _: int) -> None:
        lp = self.plan.layers[layer]
        start = self.reserve(lp.res_out, now, lp.t_out, layer, "output_buffer")
        end = start + lp.t_out
        self.counts[layer]["output_buffer_write"] += lp.out_writes
        self.counts[layer]["output_buffer_read"] += lp.out_reads * len(lp.flows)
        self.end[layer] = max(self.end[layer], end)
        self.completed[layer] += 1
        for f in lp.flows:
            if self.plan.flows[f].links:
                self.push(end, HOP, f, p, 0)
            else:
                self.push(end, INWRITE, f, p)

    def on_hop(self, now: int, f: int, p: int, hop: int) -> None:
        flow = self.plan.flows[f]
        link, ser = flow.links[hop], flow.link_serial[hop]
        start = self.reserve(link, now, ser, flow.src, self.plan.res_kind[link])
        chip = flow.link_chip[hop]
        self.counts[flow.src]["chip_link_bit" if chip else "noc_bit_hop"] += flow.bits
        if hop + 1 < len(flow.links):
            self.push(start + flow.link_latency[hop], HOP, f, p, hop + 1)
        else:
            self.push(start + flow.link_latency[hop] + ser, INWRITE, f, p)

    def on_inwrite(self, now: int, f: int, p: int, _: int) -> None:
        flow = self.plan.flows[f]
        if flow.psum_group >= 0:  # partial sums: their tail is at the home accumulator
            self.group_done(flow.src, p, now)
            return
        start = self.reserve(flow.res_inwrite, now, flow.t_inwrite, flow.src, "input_buffer")
        self.counts[flow.src]["input_buffer_write"] += flow.inwrites
        self.push(start + flow.t_inwrite, ARRIVE, f, p)

    def on_arrive(self, now: int, f: int, p: int, _: int) -> None:
        flow = self.plan.flows[f]
        if self.arrived[f] != p:
            raise RuntimeError(f"pyref: flow {f} delivered pixel {p} after {self.arrived[f]}")
        self.arrived[f] = p + 1
        self.end[flow.src] = max(self.end[flow.src], now)
        for e in flow.edges:
            self.try_issue(self.plan.edges[e].consumer, now)

    # --------------------------------------------------------------- result
    def result(self) -> SimResult:
        plan = self.plan
        stats = []
        for i, lp in enumerate(plan.layers):
            if self.completed[i] != lp.n_pixels:
                raise RuntimeError(f"pyref: layer {lp.name} finished {self.completed[i]} of "
                                   f"{lp.n_pixels} pixels (deadlock)")
            kinds = plan.layer_resource_kinds(lp)
            stats.append(LayerStats(
                name=lp.name, op=lp.op, start_cycle=self.start[i], end_cycle=self.end[i],
                counts=dict(self.counts[i]),
                busy_cycles={k: self.busy[i][k] for k in kinds},
                stall_cycles={k: self.stall[i][k] for k in kinds},
                instances=plan.layer_instances(lp)))
        total = max((s.end_cycle for s in stats), default=0)
        return SimResult(engine="pyref", total_cycles=total, layers=stats,
                         events_processed=self.events)

    def components(self) -> dict[str, np.ndarray]:
        """Per resource and per crossbar: busy, stall cycles and uses (after :meth:`run`)."""
        return {"res_busy": np.array(self.res_busy, np.int64),
                "res_stall": np.array(self.res_stall, np.int64),
                "res_uses": np.array(self.res_uses, np.int64),
                "xbar_read_cycles": np.array(self.x_read_cycles, np.int64),
                "xbar_steps": np.array(self.x_steps, np.int64),
                "xbar_adc_stall": np.array(self.x_adc_stall, np.int64)}


def run_pyref(network: Network, mapping: NetworkMapping, placement: Placement) -> SimResult:
    """Simulate with the pure-Python reference engine (engine name ``"pyref"``).

    Raises:
        reramsim.plan.TimingError: see :func:`reramsim.plan.build_plan`.
    """
    return PyRefEngine(build_plan(network, mapping, placement)).run()
