"""Energy of a simulation, per layer and per component, traceable to config entries.

Every figure is a sum of :class:`EnergyTerm` s, and every term is one config
entry times a count:

* **dynamic**: ``events x pJ per event``. The engines count events by kind
  (:data:`reramsim.stats.EVENT_KINDS`); :data:`EVENT_ENERGY` is the one table
  that says which component each kind belongs to and which config entry prices
  it (``ou_step`` is timing only and costs nothing by itself: its energy is in
  the cells, DACs, S+H and ADCs it activates).
* **leakage**: ``instances x mW x ns`` (1 mW over 1 ns = 1 pJ) for the
  components whose config has a static power (:func:`tile_leakage`: ADCs,
  shift-adders, PE registers, bus, buffers, router; ``digital.*.leakage_mw``,
  ``index_buffer.leakage_mw_per_kb``), over the whole simulated time
  ``total_cycles x cycle_ns``.

* **programming** (a reloaded run only, :mod:`reramsim.reload`): ``cells written x
  crossbar.cell_write_energy_pj`` per weight layer; a model loaded once has its load
  reported apart (:mod:`reramsim.programming`).

Leakage attribution (documented in ``docs/metrics.md``):

* a resource leaks for the whole run: in a pipelined accelerator every layer's
  hardware is powered from the first input to the last output;
* only the tiles the model occupies leak; tiles of a larger chip that hold no
  layer are taken as power-gated (the area model still counts them);
* a tile's resources (its PEs' ADCs, shift-adders and registers, its bus, input and
  output buffer, its share of a router, and the digital units when
  ``digital.shared_per_tile``) are split equally among the layers that use the tile
  (a weight layer uses every tile its crossbars sit on, plus its home tile; a
  digital layer its home tile), so per-layer leakage sums to the total;
* a private digital unit (``shared_per_tile: false``) and the layer's own index
  buffer (``index_storage_bits``) belong to that layer alone;
* chip links (``chip_link.leakage_mw`` per link, ``chip_link.links_per_chip`` per chip)
  leak on every occupied chip when the model spans several chips (on one chip they
  carry nothing and are taken as power-gated, like unused tiles); a chip's links are
  split equally among the layers on that chip, as per-tile resources are.

Worked example: a 1-tile run of 1000 ns with ``buffers.input.leakage_mw: 0.5`` and
two layers on the tile charges each layer ``0.5 x 0.5 mW x 1000 ns = 250 pJ`` for
the input buffer, 500 pJ in total.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from reramsim.config import Config
from reramsim.config.costs import SIZED_KEYS, resolve_cost
from reramsim.ir import WEIGHT_KINDS, Network
from reramsim.mapping import NetworkMapping
from reramsim.ops import OPS
from reramsim.placement import Placement
from reramsim.stats import SimResult

#: Energy components, in the order reports list them.
COMPONENTS: tuple[str, ...] = (
    "crossbar", "dac", "sample_hold", "adc", "shift_add", "input_register", "output_register",
    "index_buffer", "input_gather", "zero_detect", "accumulator", "bus", "buffers", "noc",
    "chip_link", "digital", "leakage", "programming",
)

#: The price of one cell written when weights are (re)programmed during a run.
PROGRAMMING_ENERGY: tuple[str, str, str] = ("programming", "cell_write",
                                            "crossbar.cell_write_energy_pj")

#: Event kind -> (component, config entry of the energy of one event in pJ).
#: The single place where an event kind meets its price; ``None``: timing only.
EVENT_ENERGY: dict[str, tuple[str, str | None]] = {
    "ou_step": ("crossbar", None),
    "zero_check": ("zero_detect", "ou.zero_detect_energy_pj"),
    "cell_read": ("crossbar", "crossbar.cell_read_energy_pj"),
    "dac_conversion": ("dac", "dac.energy_pj"),
    "sample_hold": ("sample_hold", "sample_hold.energy_pj"),
    "adc_conversion": ("adc", "adc.energy_pj"),
    "shift_add": ("shift_add", "shift_add.energy_pj"),
    "index_read": ("index_buffer", "index_buffer.energy_pj"),
    "gather_input": ("input_gather", "input_gather.energy_pj"),
    "accumulate": ("accumulator", "digital.accumulator.energy_pj"),
    "input_buffer_read": ("buffers", "buffers.input.energy_pj"),
    "input_buffer_write": ("buffers", "buffers.input.energy_pj"),
    "output_buffer_write": ("buffers", "buffers.output.energy_pj"),
    "output_buffer_read": ("buffers", "buffers.output.energy_pj"),
    "noc_bit_hop": ("noc", "noc.energy_pj_per_bit_hop"),
    "chip_link_bit": ("chip_link", "chip_link.energy_pj_per_bit"),
    "activation_op": ("digital", "digital.activation.energy_pj"),
    "pooling_op": ("digital", "digital.pooling.energy_pj"),
    "eltwise_op": ("digital", "digital.eltwise.energy_pj"),
    "other_op": ("digital", "digital.other.energy_pj"),
    "input_register_write": ("input_register", "pe.input_register.write_energy_pj"),
    "input_register_read": ("input_register", "pe.input_register.read_energy_pj"),
    "output_register_update": ("output_register", "pe.output_register.energy_pj"),
    "bus_bit": ("bus", "bus.energy_pj_per_bit"),
}

def tile_leakage(config: Config) -> dict[str, tuple[str, float]]:
    """A tile's leaking resources: name -> (config entry of the static power of one, in mW;
    instances per tile).

    Per-PE resources count ``pes_per_tile`` instances, ADCs their groups' ADCs, a router
    shared by ``noc.tiles_per_router`` tiles the tile's share of it. The digital units
    (``digital.<unit>.leakage_mw``) are added apart: shared or private (module doc).
    """
    org = config.organization
    adcs = -(-org.crossbars_per_pe // config.adc.shared_by_crossbars) * config.adc.count
    return {
        "adc": ("adc.leakage_mw", org.pes_per_tile * adcs),
        "shift_add": ("shift_add.leakage_mw", org.pes_per_tile * config.shift_add.per_pe),
        "input_register": ("pe.input_register.leakage_mw", org.pes_per_tile),
        "output_register": ("pe.output_register.leakage_mw", org.pes_per_tile),
        "bus": ("bus.leakage_mw", 1.0),
        "input_buffer": ("buffers.input.leakage_mw", 1.0),
        "output_buffer": ("buffers.output.leakage_mw", 1.0),
        "router": ("noc.router_leakage_mw", 1.0 / config.noc.tiles_per_router),
    }

#: The tile's digital units (``digital.<unit>``), in report order.
DIGITAL_UNITS: tuple[str, ...] = ("accumulator", "activation", "pooling", "eltwise", "other")



def digital_unit_of(op: str) -> str:
    """The digital unit an IR op runs on, as the engines model it.

    Weight layers use the tile's accumulator; digital ops the unit of their descriptor
    (:data:`reramsim.ops.OPS`; ops it does not define: ``other``).
    Matters only where units are private to layers (``digital.shared_per_tile: false``).
    """
    if op in WEIGHT_KINDS:
        return "accumulator"
    return OPS.get(op).unit if op in OPS else "other"


def config_value(config: Config, key: str) -> float:
    """The value of a dotted config entry, e.g. ``config_value(cfg, "adc.energy_pj")``;
    an entry that follows its component's size (``adc.energy_pj`` left null...) is
    resolved by :func:`reramsim.config.costs.resolve_cost`."""
    if key in SIZED_KEYS:
        return resolve_cost(config, key).value
    value: object = config
    for part in key.split("."):
        value = getattr(value, part)
    return float(value)  # type: ignore[arg-type]


class SimulationLike(Protocol):
    """What :func:`energy_breakdown` needs of a ``reramsim.simulator.Simulation``."""

    network: Network
    config: Config
    mapping: NetworkMapping
    placement: Placement
    result: SimResult


@dataclass(frozen=True)
class EnergyTerm:
    """One traceable contribution: ``count x per_unit`` (x ``time_ns`` for leakage).

    Attributes:
        component: one of :data:`COMPONENTS`.
        source: the event kind, or ``"leak:<resource>"`` for static power.
        config_key: the dotted config entry that gives ``per_unit``.
        count: events; for leakage, instances (KiB for the index buffer), possibly a
            fractional share of a per-tile resource.
        per_unit: pJ per event; for leakage, mW per instance (or per KiB).
        time_ns: leakage only: how long it leaks; ``None`` for dynamic terms.
    """

    component: str
    source: str
    config_key: str
    count: float
    per_unit: float
    time_ns: float | None = None

    @property
    def energy_pj(self) -> float:
        return self.count * self.per_unit * (1.0 if self.time_ns is None else self.time_ns)


@dataclass
class EnergyBreakdown:
    """Energy terms per layer (layer order kept) and the simulated time they cover."""

    time_ns: float
    layer_terms: dict[str, list[EnergyTerm]] = field(default_factory=dict)

    def layer_components(self, layer: str) -> dict[str, float]:
        """pJ per component of one layer (every component present, zeros included)."""
        out = dict.fromkeys(COMPONENTS, 0.0)
        for term in self.layer_terms[layer]:
            out[term.component] += term.energy_pj
        return out

    def layer_pj(self, layer: str) -> float:
        return sum(t.energy_pj for t in self.layer_terms[layer])

    def terms(self) -> list[EnergyTerm]:
        """Terms summed over layers: one per (component, source, config entry), table order."""
        merged: dict[tuple[str, str, str], EnergyTerm] = {}
        for terms in self.layer_terms.values():
            for t in terms:
                key = (t.component, t.source, t.config_key)
                old = merged.get(key)
                merged[key] = t if old is None else EnergyTerm(
                    t.component, t.source, t.config_key, old.count + t.count, t.per_unit, t.time_ns)
        order = {c: i for i, c in enumerate(COMPONENTS)}
        return sorted(merged.values(), key=lambda t: order[t.component])

    def components(self) -> dict[str, float]:
        """pJ per component over the whole run (every component present)."""
        out = dict.fromkeys(COMPONENTS, 0.0)
        for terms in self.layer_terms.values():
            for t in terms:
                out[t.component] += t.energy_pj
        return out

    @property
    def total_pj(self) -> float:
        return sum(self.layer_pj(name) for name in self.layer_terms)


def energy_breakdown(sim: SimulationLike) -> EnergyBreakdown:
    """Energy of a simulation (``reramsim.simulator.Simulation``), per layer and component, pJ;
    a reloaded run's weight writes included (``sim.reprogrammed``)."""
    return compute_energy(sim.result, sim.config, sim.placement, sim.mapping,
                          getattr(sim, "reprogrammed", None))


def compute_energy(result: SimResult, config: Config, placement: Placement | None = None,
                   mapping: NetworkMapping | None = None,
                   programmed: dict[str, int] | None = None) -> EnergyBreakdown:
    """Energy = event counts x per-event energies + leakage x simulated time (module doc).

    Args:
        result: the engine's counts and total cycles.
        config: prices every event and gives the static powers.
        placement: which tiles each layer uses (no placement: no per-tile leakage).
        mapping: the layers' index storage (no mapping: no index-buffer leakage).
        programmed: cells written per weight layer during the run (a reloaded run:
            ``reramsim.reload``), priced at ``crossbar.cell_write_energy_pj`` each.

    Raises:
        ValueError: an event kind that :data:`EVENT_ENERGY` does not price (an engine bug).
    """
    time_ns = result.total_cycles * config.cycle_ns
    breakdown = EnergyBreakdown(time_ns)
    shares = _tile_shares(result, placement)
    chip_shares = _chip_shares(result, placement)
    for stats in result.layers:
        terms: list[EnergyTerm] = []
        for kind, count in stats.counts.items():
            if kind not in EVENT_ENERGY:
                raise ValueError(f"layer {stats.name}: event kind {kind!r} has no price; "
                                 f"known kinds: {', '.join(EVENT_ENERGY)}")
            component, key = EVENT_ENERGY[kind]
            if key is not None and count:
                terms.append(EnergyTerm(component, kind, key, count, config_value(config, key)))
        copies = placement.replicas(stats.name) if placement is not None else 1
        terms += _leakage_terms(stats.name, stats.op, shares.get(stats.name, 0.0), config,
                                mapping, time_ns, copies)
        if chip_shares.get(stats.name) and config.chip_link.leakage_mw:
            terms.append(EnergyTerm(
                "leakage", "leak:chip_link", "chip_link.leakage_mw",
                config.chip_link.links_per_chip * chip_shares[stats.name],
                config.chip_link.leakage_mw, time_ns))
        cells = (programmed or {}).get(stats.name, 0)
        if cells:
            component, source, key = PROGRAMMING_ENERGY
            terms.append(EnergyTerm(component, source, key, cells, config_value(config, key)))
        breakdown.layer_terms[stats.name] = terms
    return breakdown


def _layer_tiles(result: SimResult, placement: Placement) -> dict[str, set[int]]:
    """Layer -> the tiles it uses: its home tile and every tile its crossbars sit on."""
    uses: dict[str, set[int]] = {}
    for stats in result.layers:
        tiles = {int(placement.layer_tile.get(stats.name, 0))}
        if stats.name in placement.xbar_tile:
            tiles.update(int(t) for t in set(placement.xbar_tile[stats.name].tolist()))
        uses[stats.name] = tiles
    return uses


def _shares(uses: dict[str, set[int]]) -> dict[str, float]:
    """Layer -> its share of the units it uses, each split equally among its users."""
    users: dict[int, int] = {}
    for units in uses.values():
        for unit in units:
            users[unit] = users.get(unit, 0) + 1
    return {name: sum(1.0 / users[u] for u in units) for name, units in uses.items()}


def _tile_shares(result: SimResult, placement: Placement | None) -> dict[str, float]:
    """Layer -> the number of tiles' worth of per-tile resources it is charged for."""
    if placement is None:
        return {}
    return _shares(_layer_tiles(result, placement))


def _chip_shares(result: SimResult, placement: Placement | None) -> dict[str, float]:
    """Layer -> the number of chips' worth of chip links it is charged for (none unless the
    model occupies several chips)."""
    if placement is None or placement.chips_occupied < 2:
        return {}
    return _shares({name: {placement.chip_of(t) for t in tiles}
                    for name, tiles in _layer_tiles(result, placement).items()})


def _leakage_terms(layer: str, op: str, tile_share: float, config: Config,
                   mapping: NetworkMapping | None, time_ns: float,
                   copies: int = 1) -> list[EnergyTerm]:
    """Static-power terms of one layer (attribution rules in the module doc); each of a
    replicated layer's ``copies`` keeps its own index data."""
    terms: list[EnergyTerm] = []

    def add(resource: str, key: str, count: float) -> None:
        power_mw = config_value(config, key)
        if count and power_mw:
            terms.append(EnergyTerm("leakage", f"leak:{resource}", key, count, power_mw, time_ns))

    for resource, (key, per_tile) in tile_leakage(config).items():
        add(resource, key, tile_share * per_tile)
    if config.digital.shared_per_tile:
        for unit in DIGITAL_UNITS:
            add(unit, f"digital.{unit}.leakage_mw",
                tile_share * getattr(config.digital, unit).per_tile)
    else:
        private = digital_unit_of(op)
        add(private, f"digital.{private}.leakage_mw", 1.0)
    if mapping is not None and layer in mapping.layers:
        add("index_buffer", "index_buffer.leakage_mw_per_kb",
            copies * mapping.layers[layer].index_storage_bits / 8192.0)
    return terms
