"""The cycle-level engine, Python side: validate, flatten, call the Cython loop, build stats.

:func:`run_cycle` builds the timing plan (:func:`reramsim.plan.build_plan`),
flattens it into C-contiguous numpy arrays (struct of arrays, the fields declared in
:mod:`reramsim._core.contract`), runs :func:`reramsim._core._engine.run` once
without the GIL and turns its arrays into a :class:`~reramsim.stats.SimResult`.
The semantics are in ``docs/timing.md``; :mod:`reramsim.pyref` runs the same
handlers in plain Python and must agree cycle for cycle.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reramsim import ReramsimError
from reramsim._core.contract import ALL_EVENTS, ARRAYS, SIZES, EventKind
from reramsim.ir import Network
from reramsim.mapping import NetworkMapping
from reramsim.placement import Placement
from reramsim.plan import RESOURCE_KINDS, TimingPlan, build_plan
from reramsim.stats import EVENT_KINDS, LayerStats, SimResult

try:
    from reramsim._core import _engine  # type: ignore[attr-defined]
except ImportError as _err:  # pragma: no cover - exercised only without a build
    _engine = None
    _IMPORT_ERROR = _err

    class EngineError(ReramsimError):  # type: ignore[no-redef]
        """The engine was given inconsistent input or reached an impossible state."""
else:
    EngineError = _engine.EngineError  # type: ignore[misc]
    if tuple(_engine.COUNT_KIND_NAMES) != tuple(EVENT_KINDS):
        raise ImportError("reramsim._core._engine count columns differ from stats.EVENT_KINDS; "
                          "rebuild the extension")
    if tuple(_engine.RESOURCE_KIND_NAMES) != tuple(RESOURCE_KINDS):
        raise ImportError("reramsim._core._engine resource columns differ from RESOURCE_KINDS; "
                          "rebuild the extension")

__all__ = [
    "DEFAULT_TRACE_EVENTS",
    "ComponentStats",
    "EngineError",
    "engine_available",
    "flatten_plan",
    "run_cycle",
    "run_cycle_detailed",
]

#: Trace records kept before the trace stops recording (and says so in the file).
DEFAULT_TRACE_EVENTS = 100_000


def engine_available() -> bool:
    """True when the compiled extension is importable."""
    return _engine is not None


@dataclass
class ComponentStats:
    """Per-component statistics of one cycle-level run.

    Attributes:
        resource_kind, resource_label: (n_res,) kind (``RESOURCE_KINDS``) and name of
            each shared-or-private resource (ADC groups, buffer ports, units, links).
        resource_busy, resource_stall: (n_res,) cycles busy and cycles requests waited.
        resource_uses: (n_res,) reservations.
        crossbar_layer, crossbar_index: (n_xbar,) layer name and index within its
            layer's mapping of each active crossbar.
        crossbar_read_cycles: (n_xbar,) cycles its array spent reading.
        crossbar_steps: (n_xbar,) OU bit-steps it performed (reads = conversions).
        crossbar_adc_stall: (n_xbar,) cycles its samples waited for its ADC group.
    """

    resource_kind: list[str]
    resource_label: list[str]
    resource_busy: np.ndarray
    resource_stall: np.ndarray
    resource_uses: np.ndarray
    crossbar_layer: list[str]
    crossbar_index: np.ndarray
    crossbar_read_cycles: np.ndarray
    crossbar_steps: np.ndarray
    crossbar_adc_stall: np.ndarray


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, np.int64)
    np.cumsum([len(x) for x in lists], out=ptr[1:])
    flat = np.fromiter((v for x in lists for v in x), np.int32, count=int(ptr[-1]))
    return ptr, flat


def flatten_plan(plan: TimingPlan) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The plan as the engine's arrays and sizes (``contract.ARRAYS``, ``contract.SIZES``).

    Each array is C-contiguous in the dtype its declaration gives.
    """
    layers, flows, edges = plan.layers, plan.flows, plan.edges
    pixels = np.array([lp.n_pixels for lp in layers], np.int64)
    pix_off = np.zeros(len(layers), np.int64)
    if len(layers):
        pix_off[1:] = np.cumsum(pixels)[:-1]
    rk = {k: i for i, k in enumerate(RESOURCE_KINDS)}
    ck = {k: i for i, k in enumerate(EVENT_KINDS)}
    l_edge_ptr, l_edges = _csr([lp.edges for lp in layers])
    l_flow_ptr, l_flows = _csr([lp.flows for lp in layers])
    f_link_ptr, f_links = _csr([f.links for f in flows])
    groups = plan.groups
    g_pixels = np.array([layers[g.layer].n_pixels for g in groups], np.int64)
    g_pix_off = np.zeros(len(groups), np.int64)
    if groups:
        g_pix_off[1:] = np.cumsum(g_pixels)[:-1]
    x_group = np.repeat(np.arange(len(groups)), [g.hi - g.lo for g in groups])
    f_edge_ptr, f_edges = _csr([f.edges for f in flows])
    need = [e.need for e in edges]
    act_off, act_cols, act_col, act_rows = _activity(plan)
    e_need_off = np.zeros(len(edges), np.int64)
    if edges:
        e_need_off[1:] = np.cumsum([len(n) for n in need])[:-1]

    values = {
        "l_pixels": pixels, "l_pix_off": pix_off,
        "l_t_fetch": [lp.t_fetch for lp in layers], "l_t_unit": [lp.t_unit for lp in layers],
        "l_t_out": [lp.t_out for lp in layers],
        "l_res_fetch": [lp.res_fetch for lp in layers],
        "l_res_unit": [lp.res_unit for lp in layers], "l_res_out": [lp.res_out for lp in layers],
        "l_unit_rkind": [rk[lp.unit] for lp in layers],
        "l_unit_ckind": [ck[lp.unit_count_kind] for lp in layers],
        "l_fetch_acc": [lp.fetch_accesses for lp in layers],
        "l_ir_writes": [lp.ir_writes for lp in layers],
        "l_bus_bits": [lp.bus_bits for lp in layers],
        "l_unit_ops": [lp.unit_ops for lp in layers],
        "l_out_writes": [lp.out_writes for lp in layers],
        "l_out_reads": [lp.out_reads * len(lp.flows) for lp in layers],
        "l_xb_lo": [lp.xbar_lo for lp in layers], "l_xb_hi": [lp.xbar_hi for lp in layers],
        "l_edge_ptr": l_edge_ptr, "l_edges": l_edges,
        "l_flow_ptr": l_flow_ptr, "l_flows": l_flows,
        "l_n_groups": [len(lp.groups) for lp in layers],
        "x_layer": plan.xbar_layer, "x_adc": plan.xbar_adc, "x_group": x_group,
        "x_ou_lo": plan.xbar_ou_lo, "x_ou_hi": plan.xbar_ou_hi,
        "o_t_first": plan.ou_t_first, "o_t_rest": plan.ou_t_rest, "o_t_adc": plan.ou_t_adc,
        "o_rows": plan.ou_n_rows, "o_cols": plan.ou_n_conv,
        "o_cells": np.asarray(plan.ou_n_rows) * np.asarray(plan.ou_n_cols),
        "o_index": plan.ou_index_reads, "o_gather": plan.ou_gather,
        "l_act_off": act_off, "l_act_cols": act_cols, "o_act_col": act_col, "act": act_rows,
        "e_consumer": [e.consumer for e in edges], "e_flow": [e.flow for e in edges],
        "e_need_off": e_need_off, "need": np.concatenate(need) if need else np.zeros(0),
        "f_src": [f.src for f in flows], "f_link_ptr": f_link_ptr, "f_links": f_links,
        "f_link_ser": [t for f in flows for t in f.link_serial],
        "f_link_lat": [t for f in flows for t in f.link_latency],
        "f_link_ck": [ck["chip_link_bit" if chip else "noc_bit_hop"]
                      for f in flows for chip in f.link_chip],
        "f_group": [f.psum_group for f in flows], "f_t_inwrite": [f.t_inwrite for f in flows],
        "f_res_inwrite": [f.res_inwrite for f in flows], "f_bits": [f.bits for f in flows],
        "f_inwrites": [f.inwrites for f in flows],
        "f_edge_ptr": f_edge_ptr, "f_edges": f_edges,
        "g_layer": [g.layer for g in groups], "g_n_xbars": [g.hi - g.lo for g in groups],
        "g_pix_off": g_pix_off, "g_flow": [g.flow for g in groups],
        "r_kind": [rk[k] for k in plan.res_kind],
    }
    sizes = {
        "n_layers": len(layers), "n_xbars": len(plan.xbar_layer), "n_ous": len(plan.ou_t_adc),
        "n_flows": len(flows), "n_out_flows": len(l_flows), "n_edges": len(edges),
        "n_res": plan.n_resources, "n_groups": len(groups),
        "n_group_slots": int(g_pixels.sum()),
        "n_pixel_slots": int(pixels.sum()), "n_need": len(values["need"]),
        "n_links": len(f_links), "input_steps": plan.input_steps,
        "t_shift_add": plan.t_shift_add, "n_act": len(act_rows),
    }
    return ({f.name: np.ascontiguousarray(values[f.name], f.dtype) for f in ARRAYS},
            {f.name: int(sizes[f.name]) for f in SIZES})


def _activity(plan: TimingPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Zero-skipping data as engine arrays: per layer its offset in ``act`` (-1: none) and
    row length, per OU its column, and the concatenated ``(pixels, OUs)`` rows."""
    n_layers, n_ous = len(plan.layers), len(plan.ou_t_adc)
    off, cols = np.full(n_layers, -1, np.int64), np.zeros(n_layers, np.int64)
    col = np.zeros(n_ous, np.int64)
    rows, total = [], 0
    for lp, active in zip(plan.layers, plan.ou_active or [None] * n_layers):
        if active is None or not lp.n_active_crossbars:
            continue
        base = plan.ou_base(lp)
        hi = int(plan.xbar_ou_hi[lp.xbar_hi - 1])
        col[base:hi] = np.arange(hi - base)
        off[lp.index], cols[lp.index] = total, active.shape[1]
        rows.append(active.ravel())
        total += active.size
    return off, cols, col, np.concatenate(rows) if rows else np.zeros(0, np.int32)


def run_cycle(network: Network, mapping: NetworkMapping, placement: Placement,
              trace: str | Path | None = None) -> SimResult:
    """Simulate cycle by cycle (event-driven, Cython); engine name ``"cycle"``.

    Args:
        network, mapping, placement: the run (``mapping.config`` is the hardware).
        trace: a path: write a Chrome trace (``chrome://tracing``, Perfetto) of at
            most :data:`DEFAULT_TRACE_EVENTS` records; past that the file says it
            was truncated. Timestamps are cycles.

    Raises:
        reramsim.plan.TimingError: a network the timing model cannot run.
        EngineError: inconsistent input arrays or an impossible engine state.
    """
    return run_cycle_detailed(network, mapping, placement, trace)[0]


def run_cycle_detailed(network: Network, mapping: NetworkMapping, placement: Placement,
                       trace: str | Path | None = None,
                       trace_events: int = DEFAULT_TRACE_EVENTS
                       ) -> tuple[SimResult, ComponentStats]:
    """:func:`run_cycle` plus the per-component statistics; the trace keeps at most
    ``trace_events`` records."""
    plan = build_plan(network, mapping, placement)
    return run_plan(plan, trace, trace_events)


def run_plan(plan: TimingPlan, trace: str | Path | None = None,
             trace_events: int = DEFAULT_TRACE_EVENTS) -> tuple[SimResult, ComponentStats]:
    """Run the Cython engine on a plan (see :func:`run_cycle`)."""
    if _engine is None:
        raise EngineError(f"the Cython engine is not built ({_IMPORT_ERROR}); run "
                          f"'python setup.py build_ext --inplace'")
    arrays, sizes = flatten_plan(plan)
    names = {"layer": [f"layer {lp.name}" for lp in plan.layers],
             "crossbar": [f"crossbar {int(i)} of layer {plan.layers[int(owner)].name}"
                          for i, owner in zip(plan.xbar_local, plan.xbar_layer)],
             "flow": [f"{'partial sums of' if f.psum_group >= 0 else 'flow'} "
                      f"{plan.layers[f.src].name} -> tile {f.dest_tile}" for f in plan.flows]}
    out = _engine.run(arrays, sizes, trace_events if trace is not None else 0, names)
    stats = []
    for i, lp in enumerate(plan.layers):
        kinds = plan.layer_resource_kinds(lp)
        rcol = [RESOURCE_KINDS.index(k) for k in kinds]
        stats.append(LayerStats(
            name=lp.name, op=lp.op, start_cycle=int(out["start"][i]), end_cycle=int(out["end"][i]),
            counts={k: int(v) for k, v in zip(EVENT_KINDS, out["counts"][i])},
            busy_cycles={k: int(out["busy"][i, c]) for k, c in zip(kinds, rcol)},
            stall_cycles={k: int(out["stall"][i, c]) for k, c in zip(kinds, rcol)},
            instances=plan.layer_instances(lp)))
    total = max((s.end_cycle for s in stats), default=0)
    result = SimResult(engine="cycle", total_cycles=total, layers=stats,
                       events_processed=int(out["events"]))
    layer_names = [lp.name for lp in plan.layers]
    components = ComponentStats(
        resource_kind=list(plan.res_kind), resource_label=list(plan.res_label),
        resource_busy=out["res_busy"], resource_stall=out["res_stall"],
        resource_uses=out["res_uses"],
        crossbar_layer=[layer_names[i] for i in plan.xbar_layer.tolist()],
        crossbar_index=plan.xbar_local.copy(), crossbar_read_cycles=out["xbar_read_cycles"],
        crossbar_steps=out["xbar_steps"], crossbar_adc_stall=out["xbar_adc_stall"])
    if trace is not None:
        write_chrome_trace(trace, plan, out, trace_events)
    return result, components


def write_chrome_trace(path: str | Path, plan: TimingPlan, out: dict, cap: int) -> None:
    """Write the engine's trace records as Chrome trace JSON (one track per component).

    Timestamps (``ts``, ``dur``) are cycles, labelled microseconds by the format.
    When records were dropped, ``otherData.truncated`` is true and an instant event
    named ``trace truncated`` marks the cycle where recording stopped.
    """
    records = out["trace"]
    layer_names = [lp.name for lp in plan.layers]
    events: list[dict] = []
    tracks: dict[tuple[int, int], str] = {}
    stage_names = [e.trace_name for e in ALL_EVENTS]
    for stage, layer, pixel, comp, start, dur in records.tolist():
        if stage == EventKind.READ:
            pid, label = 1, f"crossbar{comp} ({layer_names[layer]})"
        else:
            pid, label = 0, plan.res_label[comp]
        tracks.setdefault((pid, comp), label)
        events.append({"name": f"{layer_names[layer]} p{pixel} {stage_names[stage]}",
                       "ph": "X", "ts": start, "dur": dur, "pid": pid, "tid": comp,
                       "args": {"layer": layer_names[layer], "pixel": pixel}})
    meta = [{"name": "process_name", "ph": "M", "pid": 0, "args": {"name": "resources"}},
            {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "crossbars"}}]
    meta += [{"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": label}}
             for (pid, tid), label in tracks.items()]
    dropped = out["trace_dropped"]
    if dropped:
        events.append({"name": "trace truncated", "ph": "i", "s": "g", "pid": 0, "tid": 0,
                       "ts": out["trace_full_at"],
                       "args": {"recorded": len(records), "dropped": dropped}})
    doc = {"traceEvents": meta + events, "displayTimeUnit": "ns",
           "otherData": {"time_unit": "cycles", "clock_mhz": plan.config.clock_mhz,
                         "recorded": len(records), "cap": cap, "truncated": bool(dropped),
                         "dropped": dropped,
                         "note": (f"recording stopped after {cap} records; the run itself "
                                  f"was complete") if dropped else "complete"}}
    Path(path).write_text(json.dumps(doc))
