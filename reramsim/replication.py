"""The chip as a budget: how many crossbars a run may use, and copies of layers that fill it.

Comparing schemes at equal hardware means giving them the same crossbars. The
budget (:func:`crossbar_budget`) is one of

* ``"dense"``: the crossbars the dense mapping of the same model needs;
* an integer ``N``: ``N`` crossbars;
* ``"chip"``: the config's chip, ``tiles x pes_per_tile x crossbars_per_pe``;
* ``None``: the chip when ``organization.tiles > 0``, else the mapping's own crossbars.

With ``mapping.replication: balance`` the crossbars a mapping leaves free hold
copies of layers (ISAAC balances its pipeline this way): repeatedly, the weight
layer that bounds the pipeline, the one with the largest
``ceil(pixels / copies) x cycles per pixel``, gets one more copy while the budget
holds it; the first time the bounding layer does not fit (or has a copy per
pixel), replication stops, since copies of any other layer would not raise the
throughput. A layer's cycles per pixel is its slowest stage: the busiest crossbar's
period (``reramsim.analytical.CrossbarChains.period``), the input fetch, the
accumulator or the output buffer. Each copy takes a share of the output pixels
(:mod:`reramsim.plan`); its inputs are broadcast to its tile and its results sent
on to the consumers, costed as any transfer (NoC bit-hops, input-buffer writes).
"""
from __future__ import annotations

from reramsim.analytical import crossbar_chains
from reramsim.config import Config
from reramsim.ir import Network
from reramsim.mapping import MappingError, NetworkMapping
from reramsim.mapping.dense import dense_crossbar_count
from reramsim.placement import place
from reramsim.plan import TimingPlan, build_plan
from reramsim.stats import LayerStats, SimResult

__all__ = ["BUDGETS", "choose_replicas", "crossbar_budget", "merge_instances", "parse_budget"]

#: The named budgets (an integer crossbar count is the other form).
BUDGETS = ("dense", "chip")


def parse_budget(text: str, where: str = "--budget") -> str | int:
    """``"dense"``, ``"chip"`` or a positive integer from a flag or config value.

    Raises:
        MappingError: anything else, naming ``where``.
    """
    text = str(text).strip()
    if text in BUDGETS:
        return text
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise MappingError(f"{where}: expected 'dense', 'chip' or a crossbar count >= 1, got {text!r}")


def chip_crossbars(config: Config) -> int:
    """Crossbars on the config's chip (0 when ``organization.tiles`` is 0: no fixed chip)."""
    org = config.organization
    return org.tiles * org.pes_per_tile * org.crossbars_per_pe


def crossbar_budget(network: Network, mapping: NetworkMapping, budget: str | int | None) -> int:
    """The crossbars a run of ``mapping`` may use (rules in the module doc).

    Raises:
        MappingError: ``"chip"`` without a fixed chip, a bad budget, or a mapping that
            needs more crossbars than a given budget (without one, placement checks the
            chip's tiles).
    """
    cfg = mapping.config
    if budget is None:
        limit = max(chip_crossbars(cfg), mapping.n_crossbars)
    elif budget == "dense":
        limit = sum(dense_crossbar_count(layer.rows, layer.cols, layer.groups, cfg)
                    for layer in network.weight_layers())
    elif budget == "chip":
        limit = chip_crossbars(cfg)
        if not limit:
            raise MappingError(f"budget 'chip': config '{cfg.name}' has organization.tiles: 0 "
                               f"(no fixed chip); give a crossbar count or 'dense'")
    else:
        limit = parse_budget(str(budget), "budget")
        assert isinstance(limit, int)
    if budget is not None and mapping.n_crossbars > limit:
        raise MappingError(f"{network.name}: the {mapping.scheme} mapping needs "
                           f"{mapping.n_crossbars} crossbars, more than the budget of {limit} "
                           f"({budget or 'chip'})")
    return limit


def layer_cycles_per_pixel(plan: TimingPlan) -> dict[str, int]:
    """Per weight layer (one instance each), the cycles its slowest stage takes per pixel."""
    chains = crossbar_chains(plan)
    out = {}
    for lp in plan.layers:
        if not lp.is_weight:
            continue
        periods = chains.period[lp.xbar_lo:lp.xbar_hi]
        flows = [max(plan.flows[f].t_serial, plan.flows[f].t_inwrite) for f in lp.flows]
        out[lp.layer_name] = max([lp.t_fetch, lp.t_unit, lp.t_out, *flows,
                                  int(periods.max(initial=0))])
    return out


def choose_replicas(network: Network, mapping: NetworkMapping, budget: int) -> dict[str, int]:
    """Copies of each weight layer within ``budget`` crossbars (greedy, module doc).

    Also keeps the copies within the chip's PEs when ``organization.tiles > 0``.
    Returns ``{layer: copies}`` for every weight layer (1 = placed once).
    """
    cfg = mapping.config
    org = cfg.organization
    per_pixel = layer_cycles_per_pixel(build_plan(network, mapping, place(network, mapping)))
    pixels = {layer.name: layer.out_pixels for layer in network.weight_layers()}
    size = {name: m.n_crossbars for name, m in mapping.layers.items()}
    pes = {name: max(1, -(-n // org.crossbars_per_pe)) for name, n in size.items()}
    copies = dict.fromkeys(size, 1)
    used, used_pes = sum(size.values()), sum(pes.values())
    pe_limit = org.tiles * org.pes_per_tile if org.tiles else None
    while copies:
        name = max(copies, key=lambda k: (-(-pixels[k] // copies[k]) * per_pixel[k], k))
        fits = used + size[name] <= budget and (pe_limit is None
                                                or used_pes + pes[name] <= pe_limit)
        if not fits or copies[name] >= pixels[name] or per_pixel[name] == 0:
            break
        copies[name] += 1
        used += size[name]
        used_pes += pes[name]
    return copies


def merge_instances(plan: TimingPlan, result: SimResult) -> SimResult:
    """One :class:`LayerStats` per IR layer: the copies of a replicated layer summed.

    Start is the earliest copy's, end the latest; counts, busy and stall cycles and
    instances are sums. A plan without copies comes back unchanged.
    """
    if all(lp.replicas == 1 for lp in plan.layers):
        return result
    merged: dict[str, LayerStats] = {}
    for lp, stats in zip(plan.layers, result.layers):
        into = merged.get(lp.layer_name)
        if into is None:
            merged[lp.layer_name] = LayerStats(
                name=lp.layer_name, op=stats.op, start_cycle=stats.start_cycle,
                end_cycle=stats.end_cycle, counts=dict(stats.counts),
                busy_cycles=dict(stats.busy_cycles), stall_cycles=dict(stats.stall_cycles),
                instances=dict(stats.instances))
            continue
        into.start_cycle = min(into.start_cycle, stats.start_cycle)
        into.end_cycle = max(into.end_cycle, stats.end_cycle)
        for mine, theirs in ((into.counts, stats.counts), (into.busy_cycles, stats.busy_cycles),
                             (into.stall_cycles, stats.stall_cycles),
                             (into.instances, stats.instances)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
    return SimResult(engine=result.engine, total_cycles=result.total_cycles,
                     layers=list(merged.values()), events_processed=result.events_processed)
