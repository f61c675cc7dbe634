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
holds it. A bounding layer with a copy per pixel already (an fc layer has one pixel)
is instead re-mapped over twice its crossbars (mapper option ``min_crossbars``: the
same OUs, spread), if that fits and shortens its time per pixel. The first time the
bounding layer can neither be copied nor spread, replication stops, since copies of
any other layer would not raise the throughput. A layer's cycles per pixel is its
slowest stage: the busiest crossbar's
period (``reramsim.analytical.CrossbarChains.period``), the input fetch, the
accumulator or the output buffer. Each copy takes a share of the output pixels
(:mod:`reramsim.plan`); its inputs are broadcast to its tile and its results sent
on to the consumers, costed as any transfer (NoC bit-hops, input-buffer writes).
"""
from __future__ import annotations

from reramsim.analytical import crossbar_chains
from reramsim.config import Config
from reramsim.ir import Network
from reramsim.mapping import MappingError, NetworkMapping, get_mapper
from reramsim.mapping.base import MIN_CROSSBARS
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
        flows = [max(f.t_serial, f.t_inwrite) for f in plan.layer_transfers(lp)]
        out[lp.layer_name] = max([lp.t_fetch, lp.t_unit, lp.t_out, *flows,
                                  int(periods.max(initial=0))])
    return out


def choose_replicas(network: Network, mapping: NetworkMapping, budget: int,
                    options: dict[str, dict] | None = None
                    ) -> tuple[dict[str, int], NetworkMapping]:
    """Copies of each weight layer within ``budget`` crossbars (greedy, module doc).

    Also keeps the copies within the chip's PEs when ``organization.tiles > 0``.
    ``options`` are the mapper's per-layer options (for re-mapping a layer spread).
    Returns ``({layer: copies}, mapping)``: copies of every weight layer (1 = placed
    once), and the mapping with the spread layers re-mapped (``mapping`` is not changed).
    """
    cfg = mapping.config
    org = cfg.organization
    mapping = NetworkMapping(mapping.scheme, cfg, dict(mapping.layers))
    per_pixel = layer_cycles_per_pixel(build_plan(network, mapping, place(network, mapping)))
    pixels = {layer.name: layer.out_pixels for layer in network.weight_layers()}
    copies = dict.fromkeys(mapping.layers, 1)
    pe_limit = org.tiles * org.pes_per_tile if org.tiles else None

    def cost() -> tuple[int, int]:
        """(crossbars, PEs) the layers and their copies take."""
        xbars = sum(m.n_crossbars * copies[k] for k, m in mapping.layers.items())
        pes = sum(max(1, -(-m.n_crossbars // org.crossbars_per_pe)) * copies[k]
                  for k, m in mapping.layers.items())
        return xbars, pes

    def fits() -> bool:
        xbars, pes = cost()
        return xbars <= budget and (pe_limit is None or pes <= pe_limit)

    while copies:
        name = max(copies, key=lambda k: (-(-pixels[k] // copies[k]) * per_pixel[k], k))
        if per_pixel[name] == 0:
            break
        if copies[name] < pixels[name]:
            copies[name] += 1
            if not fits():
                copies[name] -= 1
                break
            continue
        old = mapping.layers[name]
        opts = {**(options or {}).get(name, {}), MIN_CROSSBARS: 2 * old.n_crossbars}
        mapping.layers[name] = get_mapper(mapping.scheme)(network.layer(name), cfg, opts)
        if mapping.layers[name].n_crossbars <= old.n_crossbars or not fits():
            mapping.layers[name] = old
            break
        before = per_pixel[name]
        per_pixel = layer_cycles_per_pixel(build_plan(network, mapping,
                                                      place(network, mapping)))
        if per_pixel[name] >= before:
            mapping.layers[name] = old
            per_pixel[name] = before
            break
    return copies, mapping


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
