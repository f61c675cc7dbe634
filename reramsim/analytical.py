"""The timing semantics in closed form: the plan run without any shared resource.

:func:`run_analytical` evaluates the :class:`~reramsim.plan.TimingPlan` (the one
plan every engine runs, :mod:`reramsim.plan`) when no resource is ever shared.
Each layer is a flow shop over its output pixels ``p = 0..P-1``; a stage of
constant duration ``d`` fed by requests ``req[p]`` ends at::

    end[p] = max(req[p], end[p-1]) + d
           = (p + 1) * d + max_{q <= p} (req[q] - q * d)     # np.maximum.accumulate

Worked example: ``req = [0, 0, 10]``, ``d = 4`` gives ``req - q*d = [0, -4, 2]``,
running max ``[0, 0, 2]``, plus ``(p+1)*d = [4, 8, 12]``: ends ``[4, 8, 14]``.

A stage whose occupancy differs from its latency (a crossbar's read/convert
chain, a NoC link) uses the same form with the occupancy as the period.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reramsim.ir import Network
from reramsim.mapping import NetworkMapping
from reramsim.placement import Placement
from reramsim.plan import FlowPlan, LayerPlan, TimingError, TimingPlan, build_plan
from reramsim.stats import EVENT_KINDS, LayerStats, SimResult

__all__ = ["CrossbarChains", "analytical_from_plan", "crossbar_chains", "run_analytical"]


@dataclass
class CrossbarChains:
    """Per active crossbar, the constants of its read/convert chain for one pixel.

    With ``S`` steps ``j`` (OU by OU, ``B`` bit-steps each), read times ``r_j`` and
    conversion times ``a_j`` (see ``docs/timing.md``, "Crossbar compute"):

    * ``first`` = ``r_0``: from the crossbar's start to its first conversion request;
    * ``w`` = ``sum_{j<S-1} max(r_{j+1}, a_j)``: first to last conversion start;
    * ``period`` = ``w + max(r_0, a_{S-1})``: first-conversion spacing of back-to-back pixels;
    * ``tail`` = ``w + a_{S-1} + t_shift_add``: first conversion start to the pixel's result;
    * ``stall`` = ``sum_{j<S-1} max(0, a_j - r_{j+1})``: ADC waits inside one pixel;
    * ``last_adc`` = ``a_{S-1}``; ``read_busy`` = ``sum r_j``; ``adc_busy`` = ``sum a_j``.
    """

    first: np.ndarray
    w: np.ndarray
    period: np.ndarray
    tail: np.ndarray
    stall: np.ndarray
    last_adc: np.ndarray
    read_busy: np.ndarray
    adc_busy: np.ndarray


def crossbar_chains(plan: TimingPlan) -> CrossbarChains:
    """Closed-form chain constants of every active crossbar (vectorised over OUs)."""
    b = plan.input_steps
    lo, hi = plan.xbar_ou_lo, plan.xbar_ou_hi
    rf, rr, ta = plan.ou_t_first, plan.ou_t_rest, plan.ou_t_adc
    n_ou = len(ta)
    if len(lo) == 0:
        z = np.zeros(0, np.int64)
        return CrossbarChains(z, z, z, z, z, z, z, z)
    # Inside an OU: B-1 pairs (rest read after a conversion of the same OU).
    inner = (b - 1) * np.maximum(rr, ta)
    inner_stall = (b - 1) * np.maximum(ta - rr, 0)
    # Between consecutive OUs of one crossbar: the next OU's first read after this conversion.
    same_next = np.zeros(n_ou, bool)
    owner = np.repeat(np.arange(len(lo)), hi - lo)
    same_next[:-1] = owner[1:] == owner[:-1]
    nxt = np.append(rf[1:], 0)
    cross = np.where(same_next, np.maximum(nxt, ta), 0)
    cross_stall = np.where(same_next, np.maximum(ta - nxt, 0), 0)

    def seg(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, lo).astype(np.int64)

    w = seg(inner + cross)
    first, last_adc = rf[lo], ta[hi - 1]
    return CrossbarChains(
        first=first, w=w, period=w + np.maximum(first, last_adc),
        tail=w + last_adc + plan.t_shift_add, stall=seg(inner_stall + cross_stall),
        last_adc=last_adc, read_busy=seg(rf + (b - 1) * rr), adc_busy=seg(b * ta),
    )


def _flow_shop(req: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of a stage of duration ``d`` on a private resource, pixels in order."""
    q = np.arange(len(req), dtype=np.int64)
    end = np.maximum.accumulate(req - q * d) + (q + 1) * d
    return end - d, end


def _periodic(req: np.ndarray, period: int) -> np.ndarray:
    """``s[p] = max(req[p], s[p-1] + period)``: starts of a resource held ``period`` per pixel."""
    q = np.arange(len(req), dtype=np.int64)
    return np.maximum.accumulate(req - q * period) + q * period


def run_analytical(network: Network, mapping: NetworkMapping, placement: Placement) -> SimResult:
    """Latency and event counts in closed form, assuming no resource is ever shared.

    Exactly the cycle engine's result (:func:`reramsim.engine.run_cycle`) whenever
    no two pieces of work compete for one resource: private ADC groups
    (``adc.shared_by_crossbars: 1``), ``buffers.shared_per_tile: false``,
    ``digital.shared_per_tile: false`` and ``noc.shared_links: false``, or any
    config where the shared resources happen never to be requested at once.
    With contention the cycle engine is slower; counts always agree.

    Raises:
        TimingError: see :func:`build_plan`.
    """
    return analytical_from_plan(build_plan(network, mapping, placement))


def analytical_from_plan(plan: TimingPlan) -> SimResult:
    """:func:`run_analytical` on a plan already built.

    Raises:
        TimingError: a plan with zero-skipping (its OU steps depend on the data; run the
            cycle or pyref engine).
    """
    if plan.skip_zero:
        raise TimingError("zero-skipping makes each pixel's OU steps depend on its data; the "
                          "closed form assumes fixed steps: use the cycle or pyref engine")
    chains = crossbar_chains(plan)
    arrival: dict[int, np.ndarray] = {}  # flow -> (P_src,) arrival cycle of each pixel
    out: list[LayerStats] = []
    for lp in plan.layers:
        kinds = plan.layer_resource_kinds(lp)
        busy, stall = dict.fromkeys(kinds, 0), dict.fromkeys(kinds, 0)
        p = lp.n_pixels
        # 1. readiness: the latest arrival of the producer pixels each pixel needs.
        ready = np.zeros(p, np.int64)
        for e in lp.edges:
            edge = plan.edges[e]
            if edge.flow not in arrival:
                raise TimingError(f"layer {lp.name}: its input {edge.tensor!r} comes from a later "
                                  f"layer; layers must be in topological order")
            got = arrival[edge.flow][np.maximum(edge.need - 1, 0)]
            ready = np.maximum(ready, np.where(edge.need > 0, got, 0))
        ready = np.maximum.accumulate(ready)
        # 2. fetch from the input buffer.
        f_start, f_end = _stage(ready, lp.t_fetch, "input_buffer", busy, stall)
        # 3. crossbars, 4. accumulation / digital unit, 5. output buffer.
        unit_req = _crossbar_stage(plan, chains, lp, f_end, busy, stall)
        _, u_end = _stage(unit_req, lp.t_unit, lp.unit, busy, stall)
        _, o_end = _stage(u_end, lp.t_out, "output_buffer", busy, stall)
        # 6. transfers.
        end_cycle = int(o_end[-1])
        for f in lp.flows:
            arrival[f] = _transfer(plan.flows[f], o_end, busy, stall)
            end_cycle = max(end_cycle, int(arrival[f][-1]))
        out.append(LayerStats(
            name=lp.name, op=lp.op, start_cycle=int(f_start[0]), end_cycle=end_cycle,
            counts=_layer_counts(plan, lp), busy_cycles=busy, stall_cycles=stall,
            instances=plan.layer_instances(lp)))
    total = max((s.end_cycle for s in out), default=0)
    return SimResult(engine="analytical", total_cycles=total, layers=out, events_processed=0)


def _stage(req: np.ndarray, d: int, kind: str, busy: dict, stall: dict
           ) -> tuple[np.ndarray, np.ndarray]:
    """A flow-shop stage on a private resource; adds its busy and stall cycles."""
    start, end = _flow_shop(req, d)
    stall[kind] += int((start - req).sum())
    busy[kind] += len(req) * d
    return start, end


def _crossbar_stage(plan: TimingPlan, chains: CrossbarChains, lp: LayerPlan, f_end: np.ndarray,
                    busy: dict, stall: dict) -> np.ndarray:
    """Per pixel, when the last crossbar group's results are at the home accumulator
    (``f_end`` when the layer has no crossbars): a group's latest crossbar result, plus the
    partial-sum transfer of a group off the home tile.

    Crossbars with identical chain constants behave identically: one computation each.
    """
    if not lp.n_active_crossbars:
        return f_end
    p = len(f_end)
    unit_req = np.zeros(p, np.int64)
    adc_wait = 0
    for g in lp.groups:
        group = plan.groups[g]
        sl = slice(group.lo, group.hi)
        sig = np.stack([chains.first[sl], chains.w[sl], chains.period[sl], chains.tail[sl]], 1)
        uniq, mult = np.unique(sig, axis=0, return_counts=True)
        x_end = np.zeros(p, np.int64)
        for (first, w, period, tail), n in zip(uniq.tolist(), mult.tolist()):
            conv0 = _periodic(f_end + first, period)  # first conversion start per pixel
            x_end = np.maximum(x_end, conv0 + tail)
            read0 = f_end.copy()
            read0[1:] = np.maximum(f_end[1:], conv0[:-1] + w)  # array free at the last conv
            adc_wait += n * int((conv0 - (read0 + first)).sum())
        if group.flow >= 0:
            x_end = _links(plan.flows[group.flow], x_end, busy, stall)
        unit_req = np.maximum(unit_req, x_end)
    sl = slice(lp.xbar_lo, lp.xbar_hi)
    stall["adc"] += adc_wait + p * int(chains.stall[sl].sum())
    busy["crossbar"] += p * int(chains.read_busy[sl].sum())
    busy["adc"] += p * int(chains.adc_busy[sl].sum())
    return unit_req


def _links(flow: FlowPlan, depart: np.ndarray, busy: dict, stall: dict) -> np.ndarray:
    """When each pixel's tail leaves the flow's last link: link ``i`` is a server held
    ``link_serial[i]`` per pixel, requested when the head arrives (``link_latency[i-1]``
    after the previous link's start), in pixel order."""
    head, tail = depart, depart
    for ser, lat, chip in zip(flow.link_serial, flow.link_latency, flow.link_chip):
        kind = "chip_link" if chip else "noc"
        start = _periodic(head, ser)
        stall[kind] += int((start - head).sum())
        busy[kind] += len(head) * ser
        head, tail = start + lat, start + lat + ser
    return tail


def _transfer(flow: FlowPlan, o_end: np.ndarray, busy: dict,
              stall: dict) -> np.ndarray:
    """Arrival of each pixel at the flow's destination: the route's links, then the
    destination input buffer is written."""
    return _stage(_links(flow, o_end, busy, stall), flow.t_inwrite, "input_buffer", busy,
                  stall)[1]


def _layer_counts(plan: TimingPlan, lp: LayerPlan) -> dict[str, int]:
    """Every EVENT_KINDS count of a layer: per-pixel counts times its pixels."""
    p = lp.n_pixels
    counts = dict.fromkeys(EVENT_KINDS, 0)
    for kind, n in lp.step_counts.items():
        counts[kind] += p * n
    for flow in plan.layer_transfers(lp):
        counts["input_buffer_write"] += p * flow.inwrites
        counts["noc_bit_hop"] += p * flow.bits * flow.hops
        counts["chip_link_bit"] += p * flow.bits * flow.chip_hops
    counts["input_buffer_read"] += p * lp.fetch_accesses
    counts["input_register_write"] += p * lp.ir_writes
    counts["bus_bit"] += p * lp.bus_bits
    counts["output_buffer_write"] += p * lp.out_writes
    counts["output_buffer_read"] += p * lp.out_reads * len(lp.flows)
    counts[lp.unit_count_kind] += p * lp.unit_ops
    return counts


def isolated_pixel_cycles(first: int, w: int, last_adc: int, t_shift_add: int) -> int:
    """A crossbar's time for one pixel started on an idle crossbar: ``r_0 + w + a_{S-1} + t_sa``.

    Example (ISAAC, one full 128x128 OU, 16 input bit-steps): ``r = 100``,
    ``a = cycles(128 / 1.2 ns) = 107``: ``100 + 15 * max(100, 107) + 107 + 1 = 1813``.
    """
    return first + w + last_adc + t_shift_add

