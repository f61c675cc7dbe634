"""Reports of a simulation: a JSON-ready dict, a terminal table, CSV, and scheme comparisons.

:func:`build_report` turns a ``reramsim.simulator.Simulation`` into one plain
dict (the JSON schema is in ``docs/metrics.md``); everything else here reads
that dict, so a report loaded back from JSON prints and compares the same way:

* :func:`format_table`: the per-layer table for the terminal, with totals, the
  energy and area per component and a legend;
* :func:`report_csv` / :func:`write_csv`: one row per layer;
* :func:`compare` / :func:`compare_rows`: schemes side by side against the dense
  mapping, with the metrics defined in ``docs/metrics.md`` ("Comparing schemes").

Units in the dict are those of the key names (``_ns``, ``_pj``, ``_um2``); the
table picks readable units (us, nJ, mm^2) and names them in its headers.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from reramsim import ReramsimError
from reramsim.area import AREA_COMPONENTS, AreaBreakdown, area_breakdown
from reramsim.buffer_fit import input_buffer_fit, tile_fit
from reramsim.config.costs import component_costs
from reramsim.energy import (
    COMPONENTS,
    EnergyBreakdown,
    SimulationLike,
    compute_energy,
    energy_breakdown,
)
from reramsim.io_checks import check_finite_figures
from reramsim.ir import WeightLayer
from reramsim.stats import EVENT_KINDS, LayerStats

#: Version of the report's JSON layout; bump it when a key changes meaning.
SCHEMA_VERSION = 1

LEGEND = ("matrix = word-lines (inputs) x bit-line columns (filters) of the weight matrix; "
          "XBs = crossbars; OUs = operation units read per input bit-step; "
          "latency = first to last cycle of the layer (layers overlap: the total is end to end); "
          "energy includes the layer's share of leakage.")


class ReportError(ReramsimError):
    """Reports that cannot be written or compared."""


# --------------------------------------------------------------------------- building


def build_report(sim: SimulationLike) -> dict[str, Any]:
    """The report of a simulation as a JSON-ready dict (schema in ``docs/metrics.md``).

    Per layer: matrix size, crossbars, OUs, timing, energy per component, the
    engine's event counts, busy/stall cycles and utilisation per resource. Whole
    run: totals, energy and area per component with the counts and config entries
    that produced them.

    Raises:
        InternalError: a non-finite or negative figure (a bug: inputs are validated).
    """
    config, net, mapping, result = sim.config, sim.network, sim.mapping, sim.result
    energy, area = energy_breakdown(sim), area_breakdown(sim)
    by_name = {layer.name: layer for layer in net.layers}
    layers = [_layer_entry(stats, by_name.get(stats.name), sim, energy) for stats in result.layers]
    totals = {
        "latency_ns": result.total_cycles * config.cycle_ns,
        "energy_pj": energy.total_pj,
        "area_um2": area.total_um2,
        "crossbars": mapping.n_crossbars,
        "cycles": int(result.total_cycles),
        "ous": sum(m.n_ous for m in mapping.layers.values()),
        "weights": net.n_weights,
        "nonzero_weights": net.n_nonzero_weights,
        "events_processed": int(result.events_processed),
        **_speed_totals(sim, energy.total_pj, area.total_um2),
    }
    report = {
        "schema_version": SCHEMA_VERSION,
        "model": net.name,
        "model_source": str(net.source),
        "config": config.name,
        "config_source": str(config.source),
        "scheme": mapping.scheme,
        "engine": result.engine,
        "clock_mhz": config.clock_mhz,
        "totals": totals,
        "accelerator": _accelerator_entry(sim, area),
        "layers": layers,
        "energy_breakdown": _energy_entry(energy),
        "area_breakdown": _area_entry(area),
        "resources": _resources_entry(getattr(sim, "components", None), result.total_cycles),
        "component_costs": {key: {"value": cost.value, "origin": cost.origin,
                                  "derived": cost.derived}
                            for key, cost in component_costs(config).items()},
        "input_buffer": _buffer_entry(sim),
        "programming": _programming_entry(sim),
        "config_values": _plain(dataclasses.asdict(config)),
    }
    # The last guard: validated inputs cannot give these; refuse to print one if they do.
    check_finite_figures({k: report[k] for k in ("totals", "accelerator", "layers",
                                                 "energy_breakdown", "area_breakdown",
                                                 "programming")})
    return report


def _speed_totals(sim: SimulationLike, energy_pj: float, area_um2: float) -> dict[str, Any]:
    """Throughput, work and efficiency of the run (``docs/metrics.md``, "Throughput").

    ``macs`` counts every weight of the model as written (zeros included: the
    dense-equivalent work, so a pruned model's speed shows as more TOPS);
    ``energy_per_image_pj`` is the stream's energy over its images (one image: the
    run's); TOPS/W is ``2 macs / energy_per_image_pj`` (ops per pJ).
    """
    config, net, mapping = sim.config, sim.network, sim.mapping
    throughput = getattr(sim, "throughput", None)
    images = int(getattr(sim, "images", 1))
    stream = getattr(sim, "stream", None)
    macs = sum(layer.n_weights * layer.out_pixels for layer in net.weight_layers())
    nonzero_macs = sum(int(np.count_nonzero(layer.weight)) * layer.out_pixels
                       for layer in net.weight_layers())
    per_image_pj = (compute_energy(stream, config, sim.placement, mapping,
                                   getattr(sim, "reprogrammed", None)).total_pj / images
                    if stream is not None else energy_pj)
    ii = throughput.ii_cycles if throughput is not None else sim.result.total_cycles
    ips = 1e9 / (ii * config.cycle_ns) if ii else 0.0
    tops = 2.0 * macs * ips / 1e12
    copies = {name: sim.placement.replicas(name) for name in mapping.layers}
    placed = sum(m.n_crossbars * copies[name] for name, m in mapping.layers.items())
    cells = sum(m.cells_used * copies[name] for name, m in mapping.layers.items())
    out = {
        "images": images,
        "throughput_ips": ips,
        "ii_cycles": int(ii),
        "bottleneck": throughput.bottleneck if throughput is not None else "-",
        "bottleneck_layer": throughput.bottleneck_layer if throughput is not None else "-",
        "energy_per_image_pj": per_image_pj,
        "ou_steps": int(sim.result.totals().get("ou_step", 0)),
        "macs": int(macs),
        "nonzero_macs": int(nonzero_macs),
        "tops": tops,
        "tops_per_w": 2.0 * macs / per_image_pj if per_image_pj else 0.0,
        "tops_per_mm2": tops / (area_um2 / 1e6) if area_um2 else 0.0,
        "budget_crossbars": int(getattr(sim, "budget", 0) or mapping.n_crossbars),
        "crossbars_placed": int(placed),
        "cell_utilisation": cells / (placed * config.crossbar.rows * config.crossbar.cols)
        if placed else 0.0,
        "zero_skip": getattr(sim, "zero_skip", "off"),
    }
    if stream is not None:
        out["stream_cycles"] = int(stream.total_cycles)
        out["stream_ns"] = stream.total_cycles * config.cycle_ns
    return out


def _programming_entry(sim: SimulationLike) -> dict[str, Any]:
    """Writing the weights (``docs/timing.md``, "Weight programming"): one load of the model,
    reported apart from the run, or, for a reloaded run, every group's writes, which the
    run's latency and energy include (``in_run``)."""
    config = sim.config
    groups = getattr(sim, "groups", None)
    load = getattr(sim, "programming", None)
    if groups:
        cells = sum(g.programming.cells for g in groups)
        cycles = sum(g.programming.cycles for g in groups)
        rows = max(g.programming.rows for g in groups)
    elif load is not None:
        cells, cycles, rows = load.cells, load.cycles, load.rows
    else:
        return {}
    return {
        "in_run": bool(groups),
        "cells": int(cells),
        "max_rows_per_crossbar": int(rows),
        "cycles": int(cycles),
        "time_ns": cycles * config.cycle_ns,
        "energy_pj": cells * config.crossbar.cell_write_energy_pj,
        "write_latency_ns": config.crossbar.write_latency_ns,
        "cell_write_energy_pj": config.crossbar.cell_write_energy_pj,
        "groups": [{
            "group": g.index, "layers": g.layers, "crossbars": int(g.crossbars),
            "cells_written": int(g.programming.cells), "program_ns": g.programming.time_ns,
            "program_pj": g.programming.energy_pj,
            "run_ns": g.result.total_cycles * config.cycle_ns,
            "stream_ns": (g.stream.total_cycles * config.cycle_ns
                          if g.stream is not None else None),
        } for g in groups or []],
    }


def _layer_entry(stats: LayerStats, layer: Any, sim: SimulationLike,
                 energy: EnergyBreakdown) -> dict[str, Any]:
    cycle_ns = sim.config.cycle_ns
    lmap = sim.mapping.layers.get(stats.name)
    weight = isinstance(layer, WeightLayer)
    latency = stats.latency_cycles
    util = {res: busy / (stats.instances[res] * latency)
            for res, busy in stats.busy_cycles.items()
            if stats.instances.get(res) and latency > 0}
    entry: dict[str, Any] = {
        "name": stats.name,
        "op": stats.op,
        "rows": layer.rows if weight else 0,
        "cols": layer.cols if weight else 0,
        "groups": layer.groups if weight else 0,
        "crossbars": lmap.n_crossbars if lmap is not None else 0,
        "ous": lmap.n_ous if lmap is not None else 0,
        "weights": layer.n_weights if weight else 0,
        "nonzero_weights": int(np.count_nonzero(layer.weight)) if weight else 0,
        "start_cycle": int(stats.start_cycle),
        "end_cycle": int(stats.end_cycle),
        "latency_ns": latency * cycle_ns,
        "energy_pj": energy.layer_pj(stats.name),
        "energy_pj_by_component": energy.layer_components(stats.name),
        "counts": _plain(stats.counts),
        "busy_cycles": _plain(stats.busy_cycles),
        "stall_cycles": _plain(stats.stall_cycles),
        "instances": _plain(stats.instances),
        "utilisation": util,
        "ou_steps": int(stats.counts.get("ou_step", 0)),
        "replicas": sim.placement.replicas(stats.name),
    }
    top = (getattr(sim, "busiest", None) or {}).get(stats.name)
    if top is not None:
        entry["busiest"] = {"kind": top.kind, "label": top.label,
                            "busy_cycles": top.busy_cycles,
                            "busy_fraction": top.busy_cycles / latency if latency > 0 else 0.0}
    if lmap is not None:
        entry["index_storage_bits"] = int(lmap.index_storage_bits)
        info = {k: _plain(v) for k, v in lmap.info.items()
                if isinstance(v, (str, int, float, bool, np.generic))}
        if info:
            entry["mapping_info"] = info
    return entry


def _accelerator_entry(sim: SimulationLike, area: AreaBreakdown) -> dict[str, Any]:
    place = sim.placement
    return {
        "chips": area.n_chips,
        "chips_occupied": place.chips_occupied,
        "tiles": area.n_tiles,
        "tiles_occupied": place.n_tiles,
        "pes_occupied": place.n_pes,
        "adc_groups_occupied": place.n_adc_groups,
        "crossbars": area.n_crossbars,
        "crossbars_occupied": sim.mapping.n_crossbars,
        "pruned_datapath_area_um2": area.pruned_datapath_um2,
        "pruned_datapath_overhead_pct": area.pruned_datapath_pct,
    }


def _buffer_entry(sim: SimulationLike) -> dict[str, Any]:
    """Each layer's live input bytes against its tile's input buffer
    (:mod:`reramsim.buffer_fit`); ``overflows`` lists the layers that do not fit alone,
    ``tile_overflows`` the tiles whose layers do not fit together."""
    fits = input_buffer_fit(sim.network, sim.config, sim.placement)
    available = fits[0].available_bytes if fits else None
    return {
        "available_bytes": available,
        "live_bytes": {f.layer: f.live_bytes for f in fits},
        "overflows": [{"layer": f.layer, "tile": f.tile, "live_bytes": f.live_bytes,
                       "available_bytes": f.available_bytes} for f in fits if not f.fits],
        "tile_overflows": [{"tile": t.tile, "layers": list(t.layers), "live_bytes": t.live_bytes,
                            "available_bytes": t.available_bytes}
                           for t in tile_fit(fits) if not t.fits],
    }


def _resources_entry(components: Any, total_cycles: int) -> dict[str, Any]:
    """Per resource kind over the whole run (cycle engine's ``ComponentStats``; else empty).

    ``utilisation`` = busy cycles / (instances x total cycles); ``busiest`` names the
    instance with the most busy cycles.
    """
    if components is None or not len(components.resource_kind) or total_cycles <= 0:
        return {}
    kinds = np.asarray(components.resource_kind)
    busy = np.asarray(components.resource_busy, np.int64)
    out: dict[str, Any] = {}
    for kind in dict.fromkeys(components.resource_kind):
        idx = np.flatnonzero(kinds == kind)
        top = int(idx[np.argmax(busy[idx])])
        out[kind] = {
            "instances": len(idx),
            "busy_cycles": int(busy[idx].sum()),
            "stall_cycles": int(np.asarray(components.resource_stall)[idx].sum()),
            "uses": int(np.asarray(components.resource_uses)[idx].sum()),
            "utilisation": float(busy[idx].sum() / (len(idx) * total_cycles)),
            "busiest": components.resource_label[top],
            "busiest_utilisation": float(busy[top] / total_cycles),
        }
    return out


def _energy_entry(energy: EnergyBreakdown) -> dict[str, Any]:
    total = energy.total_pj
    out: dict[str, Any] = {}
    per_component = energy.components()
    terms = energy.terms()
    for component in COMPONENTS:
        pj = per_component[component]
        out[component] = {
            "energy_pj": pj,
            "percent": 100.0 * pj / total if total else 0.0,
            "terms": [{
                "source": t.source,
                "config_key": t.config_key,
                "count": _plain(t.count),
                "per_unit": t.per_unit,
                "unit": "pJ/event" if t.time_ns is None else
                        ("mW/KiB" if t.config_key.endswith("_per_kb") else "mW"),
                "time_ns": t.time_ns,
                "energy_pj": t.energy_pj,
            } for t in terms if t.component == component],
        }
    return out


def _area_entry(area: AreaBreakdown) -> dict[str, Any]:
    total = area.total_um2
    per_component = area.components()
    return {component: {
        "area_um2": per_component[component],
        "percent": 100.0 * per_component[component] / total if total else 0.0,
        "terms": [{"what": t.what, "config_key": t.config_key, "count": _plain(t.count),
                   "um2_each": t.per_unit_um2, "area_um2": t.area_um2}
                  for t in area.terms if t.component == component],
    } for component in AREA_COMPONENTS}


def _plain(value: Any) -> Any:
    """numpy scalars and arrays -> Python numbers and lists, recursively (for JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------- output files


def write_json(report: dict[str, Any], path: str | Path) -> None:
    """Write the report as indented JSON. Raises ReportError naming the file on failure."""
    _write(path, json.dumps(report, indent=2) + "\n")


def report_csv(report: dict[str, Any]) -> str:
    """One CSV row per layer: sizes, timing, energy per component (pJ), counts, busy/stall cycles.

    Columns are stable: every component and every event kind has a column (zeros
    included); busy/stall/utilisation columns follow the resources the engine reported.
    """
    layers = report["layers"]
    resources = sorted({r for layer in layers for r in
                        (*layer.get("busy_cycles", {}), *layer.get("stall_cycles", {}))})
    base = ["name", "op", "rows", "cols", "crossbars", "ous", "weights", "nonzero_weights",
            "start_cycle", "end_cycle", "latency_ns", "energy_pj"]
    header = (base + [f"energy_{c}_pj" for c in COMPONENTS] + [f"count_{k}" for k in EVENT_KINDS]
              + [f"{what}_{r}" for r in resources for what in ("busy", "stall", "util")])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for layer in layers:
        row = [layer.get(k, "") for k in base]
        row += [layer["energy_pj_by_component"].get(c, 0.0) for c in COMPONENTS]
        row += [layer.get("counts", {}).get(k, 0) for k in EVENT_KINDS]
        for r in resources:
            row += [layer.get(what, {}).get(r, "")
                    for what in ("busy_cycles", "stall_cycles", "utilisation")]
        writer.writerow(row)
    return buf.getvalue()


def write_csv(report: dict[str, Any], path: str | Path) -> None:
    """Write :func:`report_csv` to a file. Raises ReportError naming the file on failure."""
    _write(path, report_csv(report))


def _write(path: str | Path, text: str) -> None:
    try:
        Path(path).write_text(text)
    except OSError as err:
        raise ReportError(f"{path}: cannot write: {err.strerror}") from None


# --------------------------------------------------------------------------- the terminal table

_TIME_UNITS = (("ns", 1.0), ("us", 1e3), ("ms", 1e6), ("s", 1e9))
_ENERGY_UNITS = (("pJ", 1.0), ("nJ", 1e3), ("uJ", 1e6), ("mJ", 1e9), ("J", 1e12))
_AREA_UNITS = (("um^2", 1.0), ("mm^2", 1e6))


def _unit(value: float, units: tuple[tuple[str, float], ...]) -> tuple[str, float]:
    """The largest unit in which ``value`` is still >= 1 (the smallest one for 0)."""
    chosen = units[0]
    for name, scale in units:
        if abs(value) >= scale:
            chosen = (name, scale)
    return chosen


def _qty(value: float, units: tuple[tuple[str, float], ...]) -> str:
    name, scale = _unit(value, units)
    return f"{_num(value / scale)} {name}"


def _num(x: float) -> str:
    """4 significant digits below 1000 (in e-notation below 1e-4), whole numbers with
    thousands separators above."""
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 1000 or float(x).is_integer():
        return f"{round(x):,}"
    if abs(x) < 1e-4:
        return f"{x:.4g}"
    decimals = 3 - math.floor(math.log10(abs(x)))
    return f"{x:.{decimals}f}".rstrip("0").rstrip(".")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def grid_lines(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Aligned text columns; ``right`` holds the indices of right-aligned columns."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_table(report: dict[str, Any]) -> str:
    """The report for a terminal: per-layer table, totals, energy and area per component, legend."""
    totals, acc, layers = report["totals"], report["accelerator"], report["layers"]
    t_unit, t_scale = _unit(max((lay["latency_ns"] for lay in layers), default=0.0), _TIME_UNITS)
    e_unit, e_scale = _unit(max((lay["energy_pj"] for lay in layers), default=0.0), _ENERGY_UNITS)
    has_util = any(lay.get("utilisation") for lay in layers)
    header = ["#", "layer", "op", "matrix", "XBs", "OUs", f"start [{t_unit}]",
              f"latency [{t_unit}]", f"energy [{e_unit}]", "energy %"]
    if has_util:
        header.append("busiest resource")
    cycle_ns = 1000.0 / report["clock_mhz"]
    total_e = totals["energy_pj"]
    rows = []
    for i, lay in enumerate(layers, 1):
        row = [str(i), lay["name"], lay["op"],
               f"{lay['rows']}x{lay['cols']}" if lay["rows"] else "-",
               f"{lay['crossbars']:,}" if lay["crossbars"] else "-",
               f"{lay['ous']:,}" if lay["ous"] else "-",
               _num(lay["start_cycle"] * cycle_ns / t_scale),
               _num(lay["latency_ns"] / t_scale),
               _num(lay["energy_pj"] / e_scale),
               f"{100.0 * lay['energy_pj'] / total_e:.1f}" if total_e else "0.0"]
        if has_util:
            row.append(_busiest(lay))
        rows.append(row)
    total_row = ["", "total", "", "", f"{totals['crossbars']:,}", f"{totals['ous']:,}", "",
                 _num(totals["latency_ns"] / t_scale), _num(total_e / e_scale), "100.0"]
    if has_util:
        total_row.append("")
    lines = [f"{report['model']} on {report['config']}: scheme {report['scheme']}, "
             f"engine {report['engine']}",
             f"accelerator: {_count(acc['chips'], 'chip')}, {_count(acc['tiles'], 'tile')}, "
             f"{_count(acc['crossbars'], 'crossbar')}; "
             f"the model occupies {_count(acc['chips_occupied'], 'chip')}, "
             f"{_count(acc['tiles_occupied'], 'tile')}, "
             f"{_count(acc['crossbars_occupied'], 'crossbar')}",
             ""]
    grid = grid_lines(header, rows + [total_row], right=set(range(4, len(header))) | {0})
    lines += grid[:-1] + [grid[1], grid[-1]]
    lines.append(f"end to end: {_qty(totals['latency_ns'], _TIME_UNITS)} "
                 f"({totals['cycles']:,} cycles of {_num(cycle_ns)} ns), "
                 f"energy {_qty(total_e, _ENERGY_UNITS)}, "
                 f"area {_qty(totals['area_um2'], _AREA_UNITS)}")
    if "throughput_ips" in totals:
        lines += _speed_lines(totals)
    if report.get("programming"):
        lines += _programming_lines(report["programming"])
    if report.get("resources"):
        lines += ["", "resources over the whole run (busy = busy cycles / (instances x total "
                      "cycles); stall = cycles requests waited for the resource):"]
        header = ["  resource", "instances used", "busy", "busiest instance", "stall cycles"]
        lines += grid_lines(header, [
            ["  " + kind, f"{r['instances']:,}", f"{100 * r['utilisation']:.1f}%",
             f"{r['busiest']} {100 * r['busiest_utilisation']:.1f}%", f"{r['stall_cycles']:,}"]
            for kind, r in report["resources"].items()], right={1, 2, 4})
    lines += ["", f"energy by component (total {_qty(total_e, _ENERGY_UNITS)}):"]
    lines += _breakdown_lines(report["energy_breakdown"], "energy_pj", _ENERGY_UNITS, _energy_how)
    lines += ["", f"area by component (total {_qty(totals['area_um2'], _AREA_UNITS)}, "
                  f"pruned data path {acc['pruned_datapath_overhead_pct']:.2f}% of it):"]
    lines += _breakdown_lines(report["area_breakdown"], "area_um2", _AREA_UNITS, _area_how)
    if report.get("component_costs"):
        lines += ["", "per-unit values that follow a component's size (docs/components.md):"]
        lines += [f"  {key} = {_num(c['value'])} {'pJ' if key.endswith('_pj') else 'um^2'}: "
                  f"{c['origin']}" for key, c in report["component_costs"].items()]
    if "input_buffer" in report:
        lines += ["", *_buffer_lines(report["input_buffer"])]
    lines += ["", f"legend: {LEGEND}"]
    return "\n".join(lines)


def _speed_lines(totals: dict[str, Any]) -> list[str]:
    """Throughput, work and efficiency lines of the totals."""
    lines = [f"throughput: {_num(totals['throughput_ips'])} images/s in steady state (one image "
             f"every {totals['ii_cycles']:,} cycles, set by {totals.get('bottleneck', '-')}); "
             f"{totals['ou_steps']:,} OU steps, {totals['macs']:,} MACs per image; "
             f"{_num(totals['tops'])} TOPS, {_num(totals['tops_per_w'])} TOPS/W, "
             f"{_num(totals['tops_per_mm2'])} TOPS/mm^2",
             f"crossbars: {totals['crossbars_placed']:,} placed of a budget of "
             f"{totals['budget_crossbars']:,}; cell utilisation "
             f"{100 * totals['cell_utilisation']:.1f}%; energy per image "
             f"{_qty(totals['energy_per_image_pj'], _ENERGY_UNITS)}; zero-skipping "
             f"{totals.get('zero_skip', 'off')}"]
    if "stream_ns" in totals:
        lines.append(f"stream of {totals['images']} images: "
                     f"{_qty(totals['stream_ns'], _TIME_UNITS)} "
                     f"({totals['stream_cycles']:,} cycles)")
    return lines


def _buffer_lines(entry: dict[str, Any]) -> list[str]:
    """The input-buffer check: each overflowing layer, or that every layer fits."""
    live, tiles = entry["live_bytes"], entry.get("tile_overflows", [])
    if entry["available_bytes"] is None:
        return ["input buffer: unbounded (buffers.input.size_kb: 0); no live-input check"]
    if not entry["overflows"] and not tiles:
        top = max(live, key=live.__getitem__) if live else "-"
        return [f"input buffer: every tile's layers' live inputs fit its "
                f"{entry['available_bytes']:,} B (largest layer: {top}, {live.get(top, 0):,} B)"]
    lines = [f"input buffer of {entry['available_bytes']:,} B: live inputs that do not fit "
             "(the timing does not charge the spill):"]
    lines += [f"  {o['layer']} (tile {o['tile']}): needs {o['live_bytes']:,} B alone"
              for o in entry["overflows"]]
    lines += [f"  tile {t['tile']}: its {_count(len(t['layers']), 'layer')} need "
              f"{t['live_bytes']:,} B together" for t in tiles]
    return lines


def _programming_lines(prog: dict[str, Any]) -> list[str]:
    """The weight-programming line, and for a reloaded run its groups."""
    how = (f"{prog['cells']:,} cells written, the busiest crossbar's "
           f"{prog['max_rows_per_crossbar']:,} word-lines x {_num(prog['write_latency_ns'])} ns; "
           f"{_num(prog['cells'])} x {_num(prog['cell_write_energy_pj'])} pJ "
           f"(crossbar.cell_write_energy_pj)")
    if not prog["in_run"]:
        return [f"weight programming, once per model load (not in the figures above): "
                f"{_qty(prog['time_ns'], _TIME_UNITS)}, {_qty(prog['energy_pj'], _ENERGY_UNITS)}"
                f" ({how})"]
    groups = prog["groups"]
    lines = [f"reloaded: {len(groups)} groups of layers programmed and run in turn on the chip; "
             f"programming {_qty(prog['time_ns'], _TIME_UNITS)} and "
             f"{_qty(prog['energy_pj'], _ENERGY_UNITS)} in total, both in the figures above "
             f"({prog['cells']:,} cells written)"]
    rows = [[f"  {g['group']}", f"{g['layers'][0]} .. {g['layers'][-1]}", f"{g['crossbars']:,}",
             f"{g['cells_written']:,}", _qty(g["program_ns"], _TIME_UNITS),
             _qty(g["run_ns"], _TIME_UNITS)] for g in groups]
    return lines + grid_lines(["  group", "layers", "XBs", "cells written", "programming",
                               "run (one image)"], rows, right={0, 2, 3, 4, 5})


def _busiest(lay: dict[str, Any]) -> str:
    """The layer's busiest resource instance and its busy share of the layer's latency,
    e.g. ``"crossbar 100%"`` (older reports: the most utilised kind, averaged over its
    instances); ``-`` when all idle."""
    top = lay.get("busiest")
    if top is not None:
        name, pct = top["kind"], 100 * top["busy_fraction"]
        if pct <= 0:
            return "-"
    else:
        util = lay.get("utilisation") or {}
        if not util or max(util.values()) <= 0:
            return "-"
        name = max(util, key=util.__getitem__)
        pct = 100 * util[name]
    return f"{name} {'<1' if pct < 1 else f'{pct:.0f}'}%"


def _breakdown_lines(breakdown: dict[str, Any], key: str, units: tuple[tuple[str, float], ...],
                     how: Any) -> list[str]:
    rows, zero = [], []
    for component, entry in breakdown.items():
        if entry[key] <= 0:
            zero.append(component)
            continue
        rows.append(["  " + component, _qty(entry[key], units), f"{entry['percent']:.1f}%",
                     how(entry["terms"])])
    lines = grid_lines(["  component", "value", "share", "= count x per-unit value (config entry)"],
                  rows, right={1, 2})
    if zero:
        lines.append("  zero: " + ", ".join(zero))
    return lines


def _energy_how(terms: list[dict[str, Any]]) -> str:
    parts = []
    for t in sorted(terms, key=lambda t: -t["energy_pj"]):
        if t["time_ns"] is None:
            parts.append(f"{_num(t['count'])} {t['source']} x {_num(t['per_unit'])} pJ "
                         f"({t['config_key']})")
        else:
            parts.append(f"{_num(t['count'])} x {_num(t['per_unit'])} {t['unit']} x "
                         f"{_num(t['time_ns'])} ns ({t['config_key']})")
    return parts[0] + (f" + {len(parts) - 1} more" if len(parts) > 1 else "") if parts else ""


def _area_how(terms: list[dict[str, Any]]) -> str:
    parts = [f"{_num(t['count'])} {t['what']} x {_num(t['um2_each'])} um^2 ({t['config_key']})"
             for t in sorted(terms, key=lambda t: -t["area_um2"]) if t["area_um2"] > 0]
    return parts[0] + (f" + {len(parts) - 1} more" if len(parts) > 1 else "") if parts else ""


# --------------------------------------------------------------------------- comparisons


def compare_rows(reports: list[dict[str, Any]], baseline: int | None = None,
                 same_hardware: bool = True) -> list[dict[str, Any]]:
    """Schemes side by side against a dense baseline (metrics of ``docs/metrics.md``).

    Args:
        reports: reports of one network under several schemes (pruned ONNX files of
            the same model count as the same network), same config and engine.
        baseline: index of the reference report; default: the first with scheme "dense".
        same_hardware: refuse reports from different configs (``False``: each scheme on
            its own hardware, as ``reramsim compare FILE@CONFIG`` does).

    Returns:
        per report: ``label``, ``scheme``, ``model``, ``config``, ``weights``, ``crossbars``,
        ``cr_xbs`` (dense
        crossbars / scheme crossbars), ``latency_ns``, ``speedup`` (dense latency /
        scheme latency), ``throughput_ips``, ``throughput_speedup`` (scheme throughput /
        dense throughput), ``energy_pj``, ``energy_reduction`` (dense / scheme),
        ``area_um2``, ``datapath_overhead_pct``, ``nonzero_weights``,
        ``pruning_ratio`` (dense weights / non-zero weights), ``ou_steps``,
        ``macs_per_ou_step`` (non-zero MACs / OU steps: how well the OUs are filled, what
        turns pruning into speed) and ``cell_utilisation``.

    Raises:
        ReportError: no baseline, or reports from different configs or engines.
    """
    if not reports:
        raise ReportError("nothing to compare")
    if baseline is None:
        baseline = next((i for i, r in enumerate(reports) if r["scheme"] == "dense"), None)
        if baseline is None:
            raise ReportError("no dense report to compare against; schemes given: "
                              + ", ".join(r["scheme"] for r in reports))
    ref = reports[baseline]
    for r in reports:
        if r["engine"] != ref["engine"] or (same_hardware and _hardware(r) != _hardware(ref)):
            raise ReportError(f"cannot compare {_what(r)} with {_what(ref)}: "
                              "the metrics need the same config and engine")
    same_model = len({r["model"] for r in reports}) == 1
    rows = []
    for r in reports:
        t, rt = r["totals"], ref["totals"]
        rows.append({
            "label": r["scheme"] if same_model else f"{r['scheme']} ({r['model']})",
            "scheme": r["scheme"],
            "model": r["model"],
            "config": r["config"],
            "weights": t["weights"],
            "crossbars": t["crossbars"],
            "cr_xbs": _ratio(rt["crossbars"], t["crossbars"]),
            "latency_ns": t["latency_ns"],
            "speedup": _ratio(rt["latency_ns"], t["latency_ns"]),
            "throughput_ips": t["throughput_ips"],
            "throughput_speedup": _ratio(t["throughput_ips"], rt["throughput_ips"]),
            "energy_pj": t["energy_pj"],
            "energy_reduction": _ratio(rt["energy_pj"], t["energy_pj"]),
            "area_um2": t["area_um2"],
            "datapath_overhead_pct": r["accelerator"]["pruned_datapath_overhead_pct"],
            "nonzero_weights": t["nonzero_weights"],
            "pruning_ratio": _ratio(rt["weights"], t["nonzero_weights"]),
            "ou_steps": t["ou_steps"],
            "macs_per_ou_step": t["nonzero_macs"] / t["ou_steps"] if t["ou_steps"] else 0.0,
            "cell_utilisation": t["cell_utilisation"],
        })
    return rows


def _what(report: dict[str, Any]) -> str:
    return f"{report['model']} ({report['scheme']}, {report['config']}, {report['engine']})"


def _hardware(report: dict[str, Any]) -> dict[str, Any]:
    """The config values that define the hardware (its name and source file do not)."""
    values = dict(report.get("config_values") or {})
    values.pop("name", None)
    values.pop("source", None)
    return values


def _ratio(dense: float, scheme: float) -> float:
    return dense / scheme if scheme else math.inf


def compare(reports: list[dict[str, Any]], baseline: int | None = None) -> str:
    """:func:`compare_rows` as a text table with a title and a legend line."""
    rows = compare_rows(reports, baseline)
    ref = reports[baseline if baseline is not None else
                  next(i for i, r in enumerate(reports) if r["scheme"] == "dense")]
    t_unit, t_scale = _unit(max(r["latency_ns"] for r in rows), _TIME_UNITS)
    e_unit, e_scale = _unit(max(r["energy_pj"] for r in rows), _ENERGY_UNITS)
    a_unit, a_scale = _unit(max(r["area_um2"] for r in rows), _AREA_UNITS)
    header = ["scheme", "non-zero weights", "pruning ratio", "XBs", "CR on XBs",
              f"latency [{t_unit}]", "speedup", f"energy [{e_unit}]", "energy reduction",
              f"area [{a_unit}]", "data-path area %"]
    body = [[r["label"], f"{r['nonzero_weights']:,}", f"{r['pruning_ratio']:.2f}x",
             f"{r['crossbars']:,}", f"{r['cr_xbs']:.2f}x", _num(r["latency_ns"] / t_scale),
             f"{r['speedup']:.2f}x", _num(r["energy_pj"] / e_scale),
             f"{r['energy_reduction']:.2f}x", _num(r["area_um2"] / a_scale),
             f"{r['datapath_overhead_pct']:.2f}"] for r in rows]
    title = (f"schemes compared on {ref['config']}, engine {ref['engine']}, "
             f"against {ref['scheme']} ({ref['model']}):")
    note = ("pruning ratio = dense weights / non-zero weights; CR on XBs = dense crossbars / "
            "scheme crossbars; speedup and energy reduction = dense / scheme")
    return "\n".join([title, *grid_lines(header, body, right=set(range(1, len(header)))), note])
