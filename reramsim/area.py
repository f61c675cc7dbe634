"""Area of the accelerator, per component, traceable to config entries.

The accelerator is ``T`` tiles: ``C`` chips (``placement.n_chips``: those the model
needs, or ``organization.chips``) of ``organization.tiles`` each, or the tiles the
model occupies (``placement.n_tiles``) when ``tiles: 0``. Every tile is complete
whether or not the model fills it. With ``P = T x pes_per_tile`` PEs and
``X = P x crossbars_per_pe`` crossbars, each component is ``count x um^2 each``:

* crossbar: ``X`` x ``crossbar.area_um2``;
* dac: ``X x crossbar.rows`` (one per word-line) x ``dac.area_um2``;
* sample_hold: ``X x crossbar.cols`` (one per bit-line) x ``sample_hold.area_um2``;
* adc: ``P x ceil(crossbars_per_pe / adc.shared_by_crossbars) x adc.count`` x ``adc.area_um2``;
* shift_add: ``P x shift_add.per_pe`` x ``shift_add.area_um2``;
* input_register, output_register: ``P`` of each x ``pe.input_register.area_um2``,
  ``pe.output_register.area_um2``;
* bus: ``T`` x ``bus.area_um2`` (the eDRAM-to-PE bus of each tile);
* buffers: ``T`` x ``buffers.input.area_um2`` + ``T`` x ``buffers.output.area_um2``;
* accumulator and digital (activation, pooling, eltwise, other): ``T x per_tile`` of
  each (``digital.shared_per_tile``), or one per layer that runs on that kind of unit
  when private (:func:`reramsim.energy.digital_unit_of`), x ``digital.<unit>.area_um2``;
* noc: ``T / noc.tiles_per_router`` routers (each tile carries its share of a router
  shared by ``tiles_per_router`` tiles) x ``noc.router_area_um2``;
* chip_link: ``C x chip_link.links_per_chip`` links x ``chip_link.area_um2`` (none when
  ``tiles: 0``: the model's own tiles, not a chip);
* index_buffer: ``sum(index_storage_bits) / 8192`` KiB x ``index_buffer.area_um2_per_kb``;
* zero_detect: ``X`` x ``ou.zero_detect_area_um2`` when ``ou.skip_zero_inputs``;
* input_gather: ``sum over crossbars of ou.rows x xbar_gather_fanin`` mux
  inputs x ``input_gather.area_um2_per_input``: one OU of a crossbar is active
  per step, so the gather needs one mux per OU row, in front of the word-line
  drivers of the active OU (a reconstruction; see ``docs/metrics.md``).

The last two exist only for pruned data paths (a dense mapping has neither) and
are sized from the mapping; their sum as a percentage of the total is the
scheme's *data-path overhead*. See ``docs/metrics.md``.

Example: ISAAC (168 tiles x 12 PEs x 8 crossbars) has ``X = 16,128`` crossbars and,
with one ADC per crossbar, 16,128 ADCs of 1,200 um^2: 19.35 mm^2 of ADCs; its
42 routers (one per 4 tiles) of 0.151 mm^2 add 6.34 mm^2. ``benchmarks/bench_isaac.py``
sets every row beside ISAAC's table.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reramsim.config import Config
from reramsim.energy import DIGITAL_UNITS, SimulationLike, config_value, digital_unit_of
from reramsim.mapping import NetworkMapping
from reramsim.placement import Placement

#: Area components, in the order reports list them (the energy names where they match).
AREA_COMPONENTS: tuple[str, ...] = (
    "crossbar", "dac", "sample_hold", "adc", "shift_add", "input_register", "output_register",
    "index_buffer", "input_gather", "zero_detect", "accumulator", "bus", "buffers", "noc",
    "chip_link", "digital",
)

#: Components that exist only for a pruned scheme's data path.
PRUNED_DATAPATH: tuple[str, ...] = ("index_buffer", "input_gather")


@dataclass(frozen=True)
class AreaTerm:
    """One traceable contribution: ``count x per_unit_um2``.

    Attributes:
        component: one of :data:`AREA_COMPONENTS`.
        what: what ``count`` counts (e.g. ``"ADCs"``, ``"KiB of index data"``).
        config_key: the config entry giving the area of one.
        count: how many (KiB for the index buffer).
        per_unit_um2: um^2 of one.
    """

    component: str
    what: str
    config_key: str
    count: float
    per_unit_um2: float

    @property
    def area_um2(self) -> float:
        return self.count * self.per_unit_um2


@dataclass
class AreaBreakdown:
    """The accelerator's area terms and what it is made of."""

    n_tiles: int  # tiles of the accelerator
    tiles_occupied: int  # tiles the model uses
    n_crossbars: int  # crossbars of the accelerator
    n_chips: int = 1  # chips of the accelerator
    terms: list[AreaTerm] = field(default_factory=list)

    def components(self) -> dict[str, float]:
        """um^2 per component (every component present, zeros included)."""
        out = dict.fromkeys(AREA_COMPONENTS, 0.0)
        for t in self.terms:
            out[t.component] += t.area_um2
        return out

    @property
    def total_um2(self) -> float:
        return sum(t.area_um2 for t in self.terms)

    @property
    def pruned_datapath_um2(self) -> float:
        """Area of the index buffers and input gathers."""
        return sum(t.area_um2 for t in self.terms if t.component in PRUNED_DATAPATH)

    @property
    def pruned_datapath_pct(self) -> float:
        """The pruned data path's area as a percentage of the accelerator."""
        total = self.total_um2
        return 100.0 * self.pruned_datapath_um2 / total if total else 0.0


def area_breakdown(sim: SimulationLike) -> AreaBreakdown:
    """Area of the accelerator a simulation ran on (``reramsim.simulator.Simulation``)."""
    ops = {layer.name: layer.op for layer in sim.network.layers}
    return compute_area(sim.config, sim.placement, sim.mapping, ops)


def compute_area(config: Config, placement: Placement, mapping: NetworkMapping | None = None,
                 layer_ops: dict[str, str] | None = None) -> AreaBreakdown:
    """Area of the accelerator per component, um^2 (formulas in the module doc).

    Args:
        config: organisation and per-component areas.
        placement: the tiles the model occupies and the home tile of each layer.
        mapping: index storage and gather fan-ins of the scheme (none: dense data path).
        layer_ops: layer name -> IR op, needed only for private digital units.
    """
    org = config.organization
    n_chips = placement.n_chips if org.tiles else 1
    n_tiles = org.tiles * n_chips or placement.n_tiles
    n_pes = n_tiles * org.pes_per_tile
    n_xbar = n_pes * org.crossbars_per_pe
    adc_groups = n_pes * -(-org.crossbars_per_pe // config.adc.shared_by_crossbars)
    area = AreaBreakdown(n_tiles, placement.n_tiles, n_xbar, n_chips)

    def add(component: str, what: str, key: str, count: float) -> None:
        area.terms.append(AreaTerm(component, what, key, count, config_value(config, key)))

    add("crossbar", "crossbars", "crossbar.area_um2", n_xbar)
    add("dac", "DACs (one per word-line)", "dac.area_um2", n_xbar * config.crossbar.rows)
    add("sample_hold", "S+H (one per bit-line)", "sample_hold.area_um2",
        n_xbar * config.crossbar.cols)
    add("adc", "ADCs", "adc.area_um2", adc_groups * config.adc.count)
    add("shift_add", "shift-add units", "shift_add.area_um2", n_pes * config.shift_add.per_pe)
    add("input_register", "PE input registers", "pe.input_register.area_um2", n_pes)
    add("output_register", "PE output registers", "pe.output_register.area_um2", n_pes)
    index_kb, gather_inputs = _pruned_datapath(config, mapping, placement)
    add("index_buffer", "KiB of index data", "index_buffer.area_um2_per_kb", index_kb)
    add("input_gather", "gather mux inputs", "input_gather.area_um2_per_input", gather_inputs)
    add("zero_detect", "crossbars' zero detectors", "ou.zero_detect_area_um2",
        n_xbar if config.ou.skip_zero_inputs else 0)
    units = _digital_units(config, n_tiles, layer_ops or {})
    add("accumulator", "accumulators", "digital.accumulator.area_um2", units["accumulator"])
    add("bus", "eDRAM-to-PE buses", "bus.area_um2", n_tiles)
    add("buffers", "input buffers", "buffers.input.area_um2", n_tiles)
    add("buffers", "output buffers", "buffers.output.area_um2", n_tiles)
    add("noc", "routers", "noc.router_area_um2", n_tiles / config.noc.tiles_per_router)
    add("chip_link", "chip links", "chip_link.area_um2",
        n_chips * config.chip_link.links_per_chip if org.tiles else 0)
    for unit in DIGITAL_UNITS[1:]:
        add("digital", f"{unit} units", f"digital.{unit}.area_um2", units[unit])
    return area


def _pruned_datapath(config: Config, mapping: NetworkMapping | None,
                     placement: Placement) -> tuple[float, int]:
    """(KiB of index data, gather mux inputs) of a mapping; each copy of a layer has its own."""
    if mapping is None:
        return 0.0, 0
    bits = sum(m.index_storage_bits * placement.replicas(name)
               for name, m in mapping.layers.items())
    fanin = sum(int(np.asarray(m.xbar_gather_fanin, np.int64).sum()) * placement.replicas(name)
                for name, m in mapping.layers.items())
    return bits / 8192.0, config.ou.rows * fanin


def _digital_units(config: Config, n_tiles: int, layer_ops: dict[str, str]) -> dict[str, int]:
    """Digital units of each kind on the chip (``per_tile`` per tile each, or one per using
    layer)."""
    if config.digital.shared_per_tile:
        return {unit: n_tiles * getattr(config.digital, unit).per_tile for unit in DIGITAL_UNITS}
    units = dict.fromkeys(DIGITAL_UNITS, 0)
    for op in layer_ops.values():
        units[digital_unit_of(op)] += 1
    return units
