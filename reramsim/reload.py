"""Running a model on a chip too small for it: groups of layers, reprogrammed in turn.

With ``mapping.reload: true`` a model whose weight layers need more PEs than the chip
has (``organization.tiles x pes_per_tile``; each layer starts on a fresh PE, as
:mod:`reramsim.placement` places them) runs on that one chip (reload reuses the given
chip; it never adds chips):

1. the layers, in topological order, are cut into **groups** of consecutive layers whose
   weight layers fit the chip together (a digital layer joins the group of the layers
   before it; a weight layer that alone needs more than the chip is an error);
2. each group is a network of its own: the tensors it reads from earlier groups are its
   graph inputs (ready at its first cycle: they wait in the chip's buffers, and moving
   them there is not costed), the tensors later groups read are its graph outputs;
3. for each group in turn the chip is programmed with the group's weights
   (:mod:`reramsim.programming`), then the group runs its plan on the engine, streaming
   all ``images`` through before the next group is programmed.

Total cycles = sum over groups of (programming cycles + the group's run); the group's
layers' start and end cycles are shifted by everything before them. Every group is
programmed on every run (the chip holds the last group when a run ends), so the
programming energy of every weight layer is part of the run's energy.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reramsim.config import Config
from reramsim.ir import Layer, Network, WeightLayer
from reramsim.mapping import MappingError, NetworkMapping
from reramsim.placement import Placement, place
from reramsim.plan import build_plan
from reramsim.programming import Programming, weight_programming
from reramsim.stats import LayerStats, SimResult

__all__ = ["GroupRun", "chip_pes", "group_cells", "layer_groups",
           "merged_placement", "needs_reload", "run_groups", "shifted", "subnetwork"]


def chip_pes(config: Config) -> int:
    """PEs on the config's chip (0: no fixed chip, ``organization.tiles: 0``)."""
    return config.organization.tiles * config.organization.pes_per_tile


def _layer_pes(mapping: NetworkMapping, name: str) -> int:
    """PEs a weight layer occupies: its crossbars on fresh PEs (at least one)."""
    return max(1, -(-mapping.layers[name].n_crossbars // mapping.config.organization
                    .crossbars_per_pe))


def needs_reload(network: Network, mapping: NetworkMapping) -> bool:
    """True when ``mapping.reload`` is on and the weight layers need more PEs than the chip."""
    cfg = mapping.config
    if not cfg.mapping.reload or not chip_pes(cfg):
        return False
    return sum(_layer_pes(mapping, layer.name) for layer in network.weight_layers()) > chip_pes(cfg)


def layer_groups(network: Network, mapping: NetworkMapping) -> list[list[Layer]]:
    """Consecutive layers whose weight layers fit the chip's PEs together (module doc).

    Raises:
        MappingError: a weight layer that alone needs more PEs than the chip has.
    """
    cfg = mapping.config
    capacity = chip_pes(cfg)
    groups: list[list[Layer]] = [[]]
    used = 0
    for layer in network.layers:
        if isinstance(layer, WeightLayer):
            pes = _layer_pes(mapping, layer.name)
            if pes > capacity:
                raise MappingError(
                    f"{network.name}: layer {layer.name} needs {pes} PEs "
                    f"({mapping.layers[layer.name].n_crossbars} crossbars) but the chip of "
                    f"'{cfg.name}' has {capacity} (organization.tiles x pes_per_tile); "
                    "mapping.reload runs whole layers")
            if used + pes > capacity:
                groups.append([])
                used = 0
            used += pes
        groups[-1].append(layer)
    return groups


def subnetwork(network: Network, layers: list[Layer], index: int) -> Network:
    """Group ``index`` as a network: inputs from outside the group, outputs read outside it."""
    inside = {layer.output for layer in layers}
    known = set(network.producer()) | set(network.inputs)
    inputs: dict[str, tuple[int, ...]] = {}
    for layer in layers:
        for tensor, shape in zip(layer.inputs, layer.in_shapes):
            if tensor not in inside and tensor in known:
                inputs.setdefault(tensor, tuple(shape))
    names = {layer.name for layer in layers}
    read_outside = {t for layer in network.layers if layer.name not in names
                    for t in layer.inputs}
    outputs = [layer.output for layer in layers
               if layer.output in read_outside or layer.output in network.outputs]
    return Network(name=f"{network.name}[group {index}]", inputs=inputs, outputs=outputs,
                   layers=list(layers), metadata=network.metadata, source=network.source,
                   batch=network.batch)


@dataclass
class GroupRun:
    """One group of a reloaded run: its layers, its load and its run."""

    index: int
    layers: list[str]
    crossbars: int
    programming: Programming
    result: SimResult  # one image
    stream: SimResult | None  # all images (None for one image)
    placement: Placement


EngineFn = Callable[..., tuple[SimResult, object]]


def run_groups(network: Network, mapping: NetworkMapping, run_engine: EngineFn, images: int,
               activity: dict | None, trace: str | os.PathLike[str] | None, trace_limit: int
               ) -> list[GroupRun]:
    """Program and run every group in turn (module doc); a trace holds every group's run,
    each group shifted to its start and shown as processes of its own."""
    runs = []
    traces = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, layers in enumerate(layer_groups(network, mapping)):
            sub = subnetwork(network, layers, i)
            names = [layer.name for layer in layers if isinstance(layer, WeightLayer)]
            submap = NetworkMapping(mapping.scheme, mapping.config,
                                    {name: mapping.layers[name] for name in names})
            placement = place(sub, submap)
            group_trace = None if trace is None else Path(tmp) / f"group{i}.json"
            plan = build_plan(sub, submap, placement, activity=activity)
            result = run_engine(plan, group_trace, trace_limit)[0]
            stream = None
            if images > 1:
                stream_plan = build_plan(sub, submap, placement, images=images,
                                         activity=activity)
                stream = run_engine(stream_plan, None, trace_limit)[0]
            runs.append(GroupRun(i, [layer.name for layer in layers], submap.n_crossbars,
                                 weight_programming(submap, names), result, stream, placement))
            if group_trace is not None:
                traces.append(json.loads(group_trace.read_text()))
    if trace is not None:
        _merge_traces(trace, traces, runs)
    return runs


def shifted(runs: list[GroupRun], stream: bool) -> SimResult:
    """The groups' results (or streams) as one run: programming, then the group, in turn."""
    layers: list[LayerStats] = []
    offset, events = 0, 0
    for run in runs:
        result = run.stream if stream and run.stream is not None else run.result
        offset += run.programming.cycles
        for s in result.layers:
            layers.append(LayerStats(
                name=s.name, op=s.op, start_cycle=s.start_cycle + offset,
                end_cycle=s.end_cycle + offset, counts=dict(s.counts),
                busy_cycles=dict(s.busy_cycles), stall_cycles=dict(s.stall_cycles),
                instances=dict(s.instances)))
        offset += result.total_cycles
        events += result.events_processed
    return SimResult(engine=runs[0].result.engine, total_cycles=offset, layers=layers,
                     events_processed=events)


def merged_placement(runs: list[GroupRun]) -> Placement:
    """Every group's placement on the one chip: tiles, PEs and ADC groups are reused."""
    first = runs[0].placement
    out = Placement({}, {}, {}, {}, 0, 0, 0, first.mesh_cols, {})
    for run in runs:
        p = run.placement
        for mine, theirs in ((out.xbar_pe, p.xbar_pe), (out.xbar_tile, p.xbar_tile),
                             (out.xbar_adc_group, p.xbar_adc_group),
                             (out.layer_tile, p.layer_tile), (out.replica_tile, p.replica_tile)):
            mine.update(theirs)
        out.n_pes = max(out.n_pes, p.n_pes)
        out.n_tiles = max(out.n_tiles, p.n_tiles)
        out.n_adc_groups = max(out.n_adc_groups, p.n_adc_groups)
    return out


def _merge_traces(path: str | os.PathLike[str], traces: list[dict], runs: list[GroupRun]
                  ) -> None:
    """One Chrome trace: group ``g``'s processes renumbered ``2g, 2g + 1``, its times shifted."""
    events, recorded, dropped = [], 0, 0
    offset = 0
    for g, (doc, run) in enumerate(zip(traces, runs)):
        offset += run.programming.cycles
        for ev in doc["traceEvents"]:
            ev = dict(ev, pid=2 * g + int(ev.get("pid", 0)))
            if ev.get("ph") == "M" and ev["name"] == "process_name":
                ev["args"] = {"name": f"group {g}: {ev['args']['name']}"}
            if "ts" in ev:
                ev["ts"] = int(ev["ts"]) + offset
            events.append(ev)
        info = doc.get("otherData", {})
        recorded += int(info.get("recorded", 0))
        dropped += int(info.get("dropped", 0))
        offset += run.result.total_cycles
    first = traces[0].get("otherData", {}) if traces else {}
    doc = {"traceEvents": events, "displayTimeUnit": "ns",
           "otherData": dict(first, recorded=recorded, dropped=dropped,
                             truncated=bool(dropped), groups=len(runs),
                             note="complete" if not dropped else
                             "some groups' recordings stopped at the cap; the run was complete")}
    Path(path).write_text(json.dumps(doc))


def group_cells(runs: list[GroupRun]) -> dict[str, int]:
    """Cells written per weight layer over all groups (every group is programmed per run)."""
    return {name: cells for run in runs for name, cells in run.programming.layer_cells.items()}
