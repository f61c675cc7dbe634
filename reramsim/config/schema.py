"""The hardware description: one frozen dataclass per YAML section.

Every field carries its unit in its name (``_ns``, ``_pj``, ``_um2``, ``_bits``,
``_kb``, ``_mw``, ``_mhz``), a range, a default and a one-line doc; the loader
(:mod:`reramsim.config.loader`) validates YAML against these declarations, so
adding a field here is all it takes to make it configurable.

Defaults are ISAAC's (Shafiee et al., ISCA 2016, 32 nm) where ISAAC gives a
number, as tabulated in ``docs/sources.md``. Defaults marked
*reconstruction* are not published; they are our choice, documented as such.

Power-to-energy conversions: a leakage of ``1 mW`` over ``1 ns`` is ``1 pJ``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal


def spec(default, doc: str, *, lo: float | None = None, hi: float | None = None,
         inf_ok: bool = False):
    """Declare a config field: its default, its one-line doc and its closed range.

    ``inf_ok``: ``.inf`` is also accepted, as a documented limit case (an ideal device);
    every other number must be finite and within the range.
    """
    return field(default=default, metadata={"doc": doc, "lo": lo, "hi": hi, "inf_ok": inf_ok})


@dataclass(frozen=True)
class Precision:
    """Number formats of weights and activations."""

    weight_bits: int = spec(16, "bits of a quantised weight (ISAAC: 16)", lo=1, hi=32)
    input_bits: int = spec(16, "bits of an input/activation value (ISAAC: 16)", lo=1, hi=32)
    signed_weights: Literal["offset", "differential", "sign_bit"] = spec(
        "offset",
        "signed weights: 'offset' stores w + 2^(b-1) and subtracts digitally (ISAAC); "
        "'differential' uses a positive and a negative crossbar (doubles crossbars); "
        "'sign_bit' stores |w| and applies a per-fragment-column sign digitally (FORMS; "
        "needs a mapping that gives every bit-line's sign, scheme forms)",
    )
    weight_scale: Literal["per_layer", "per_channel"] = spec(
        "per_layer", "symmetric quantisation scale of weights: one per layer or per output channel"
    )
    partial_sum_bits: int = spec(
        0, "bits of one crossbar's partial sum of one output (what a tile sends to a layer's "
        "home tile to accumulate); 0 = the exact width input_bits + weight_bits + "
        "ceil(log2(crossbar.rows)) (reconstruction: no rounding before accumulation)",
        lo=0, hi=128)


@dataclass(frozen=True)
class Crossbar:
    """One ReRAM crossbar array."""

    rows: int = spec(128, "word-lines (ISAAC: 128)", lo=1, hi=4096)
    cols: int = spec(128, "bit-lines (ISAAC: 128)", lo=1, hi=4096)
    cell_bits: int = spec(2, "bits stored per ReRAM cell (ISAAC: 2)", lo=1, hi=8)
    read_latency_ns: float = spec(
        100.0, "one OU read step, DAC drive to S+H (ISAAC: 100 ns)", lo=0.001)
    cell_read_energy_pj: float = spec(
        0.00183,
        "energy per active cell per read step (ISAAC: 0.3 mW per 128x128 array over 100 ns "
        "= 30 pJ / 16384 cells)",
        lo=0.0,
    )
    area_um2: float = spec(25.0, "area of one array (ISAAC: 8 arrays in 0.0002 mm^2)", lo=0.0)
    write_latency_ns: float = spec(
        10.0, "programming: one write pulse, writing one word-line's cells of an array at once "
        "(MNSIM-2.0 SimConfig.ini Write_Latency = 10 ns; row-parallel writes as MNSIM-2.0's "
        "crossbar model)", lo=0.0)
    cell_write_energy_pj: float = spec(
        0.225, "programming: energy per cell written (MNSIM-2.0's device model: "
        "((0 + 3 V) / 2)^2 / sqrt(1e6 x 1e4 ohm) x 10 ns, its SimConfig.ini write voltages, "
        "resistances and write latency)", lo=0.0)
    subtract: Literal["digital", "analog"] = spec(
        "digital",
        "differential pairs (precision.signed_weights: differential): 'digital' converts the "
        "positive and the negative crossbar apart and subtracts the digital results; 'analog' "
        "subtracts their bit-line currents before one ADC conversion (MNSIM-2.0 Sub_Position)",
    )


@dataclass(frozen=True)
class OperationUnit:
    """The operation unit (OU): the part of a crossbar activated in one read step."""

    rows: int = spec(128, "word-lines active per step (ISAAC activates the whole array)", lo=1)
    cols: int = spec(128, "bit-lines read per step", lo=1)
    skip_zero_inputs: bool = spec(
        False, "skip an OU's input bit-step when all its word-line inputs are zero (SRE-style; "
               "needs input data: simulate --inputs/--data)")
    zero_detect_energy_pj: float = spec(
        0.01, "zero detection, per OU bit-step checked: an OR over the OU's input bits "
              "(reconstruction)", lo=0.0)
    zero_detect_area_um2: float = spec(
        20.0, "zero-detection logic per crossbar, when skip_zero_inputs (reconstruction)", lo=0.0)


@dataclass(frozen=True)
class Dac:
    """The word-line drivers: one DAC per crossbar row."""

    bits: int = spec(1, "input bits streamed per step (ISAAC: 1-bit DACs)", lo=1, hi=16)
    energy_pj: float = spec(0.417, "per conversion (one row, one step) (ISAAC, 1-bit DAC)", lo=0.0)
    area_um2: float = spec(0.166, "per DAC (ISAAC, 1-bit DAC)", lo=0.0)


@dataclass(frozen=True)
class SampleHold:
    """Sample-and-hold: one per bit-line."""

    energy_pj: float = spec(
        0.001, "per sample (reconstruction from ISAAC: 10 uW for 1024 S+H per 100 ns)", lo=0.0
    )
    area_um2: float = spec(0.039, "per S+H (ISAAC: 0.00004 mm^2 for 1024)", lo=0.0)


@dataclass(frozen=True)
class Adc:
    """The analog-to-digital converters that read bit-line partial sums."""

    bits: int = spec(8, "resolution (ISAAC: 8)", lo=1, hi=16)
    energy_pj: float | None = spec(
        None, "per conversion; null = ISAAC's table at `bits` (4-10 bits; 8: 1.667 pJ; "
        "docs/components.md)", lo=0.0)
    area_um2: float | None = spec(
        None, "per ADC; null = ISAAC's table at `bits` (8: 1200 um^2; docs/components.md)",
        lo=0.0)
    cost_bits: int | None = spec(
        None, "the resolution that explicit energy_pj and area_um2 are given at: at another "
        "`bits` they scale by ISAAC's table, x table(bits) / table(cost_bits); null = they "
        "apply at every resolution", lo=1, hi=16)
    sample_rate_gsps: float = spec(
        1.2, "conversions per ns (ISAAC's 8-bit ADC: 1.2 GS/s; the table gives no rate by "
        "resolution)", lo=1e-6)
    count: int = spec(1, "ADCs per ADC group (ISAAC: 8 ADCs per 8-crossbar IMA)", lo=1)
    shared_by_crossbars: int = spec(
        1, "crossbars that share one ADC group; 1 = private, >1 = contention", lo=1
    )
    lsb_mode: Literal["unit", "full_range"] = spec(
        "unit",
        "ADC step: 'unit' = one cell-level x DAC-level product, saturating at 2^bits-1 "
        "(ISAAC); 'full_range' = the OU's largest possible sum / (2^bits-1), rounding",
    )
    ideal: bool = spec(False, "unlimited resolution and range (functional model only)")
    leakage_mw: float = spec(0.0, "static power per ADC (ISAAC publishes none)", lo=0.0)


@dataclass(frozen=True)
class Device:
    """Non-ideal ReRAM cells, read by the functional model only (docs/devices.md).

    The defaults are an ideal device: every model off, the functional model's integer
    arithmetic unchanged. Literature values to switch them on are in docs/devices.md
    (MNSIM-2.0's SimConfig.ini defaults: R = 1.5e5 / 3e4 ohm, 5% variation, 9% / 1%
    stuck-at faults).
    """

    r_on_ohm: float = spec(
        3.0e4, "resistance of a cell at its highest level (LRS) (MNSIM-2.0 SimConfig.ini: "
        "3e4 ohm); sets the conductance scale of IR drop", lo=1.0)
    r_off_ohm: float = spec(
        math.inf, "resistance of a cell at level 0 (HRS); inf = an off cell conducts nothing "
        "(ideal); finite = it leaks (MNSIM-2.0: 1.5e5 ohm)", lo=1.0, inf_ok=True)
    sigma: float = spec(
        0.0, "programming variation of each cell's conductance, drawn once per chip: std of "
        "ln(G) (lognormal) or of G/G_target (normal) (MNSIM-2.0: 0.05, normal); 0 = off",
        lo=0.0, hi=10.0)
    distribution: Literal["lognormal", "normal"] = spec(
        "lognormal", "distribution of the programming variation: 'lognormal' "
        "(G = G_target * exp(sigma * z)) or 'normal' (G = G_target * max(0, 1 + sigma * z))")
    sa0_rate: float = spec(
        0.0, "share of cells stuck at the off state (HRS, level 0) whatever was programmed "
        "(MNSIM-2.0: 0.09); 0 = off", lo=0.0, hi=1.0)
    sa1_rate: float = spec(
        0.0, "share of cells stuck at the on state (LRS, top level) (MNSIM-2.0: 0.01); 0 = off",
        lo=0.0, hi=1.0)
    read_noise_sigma: float = spec(
        0.0, "Gaussian noise added to every ADC conversion's bit-line sum, drawn per "
        "conversion, std in units of one cell level x one DAC level (reconstruction); 0 = off",
        lo=0.0)
    wire_resistance_ohm: float = spec(
        0.0, "word-line and bit-line wire resistance per cell pitch, for the first-order IR "
        "drop model (reconstruction: ~2-4 ohm for copper at a 1.2 um pitch); 0 = off",
        lo=0.0, hi=1.0e6)


@dataclass(frozen=True)
class ShiftAdd:
    """Shift-and-add units that merge bit-slices and input bit-steps."""

    energy_pj: float = spec(0.021, "per shift-add operation (ISAAC)", lo=0.0)
    area_um2: float = spec(60.0, "per unit (ISAAC)", lo=0.0)
    latency_ns: float = spec(1.0, "pipeline latency (reconstruction)", lo=0.0)
    per_pe: int = spec(4, "units per PE, merging its ADCs' outputs (ISAAC: 4 per IMA)", lo=1)
    leakage_mw: float = spec(0.0, "static power per unit (ISAAC publishes none)", lo=0.0)


@dataclass(frozen=True)
class InputRegister:
    """A PE's input register (ISAAC's IR, 2 KB: one 16-bit value per word-line of its 8
    crossbars): loaded over the bus, read by the DACs. Its cost is per access and per
    register; its capacity is not a parameter (the model loads what the PE's crossbars use)."""

    write_energy_pj: float = spec(
        0.969, "per input value loaded (precision.input_bits bits) (ISAAC IR: 1.24 mW at "
        "full activity split equally per bit over its reads and writes, docs/metrics.md)",
        lo=0.0)
    read_energy_pj: float = spec(
        0.0605, "per word-line per step: one DAC input (dac.bits bits) read (ISAAC IR, as "
        "write_energy_pj)", lo=0.0)
    area_um2: float = spec(2100.0, "per register (ISAAC IR: 0.0021 mm^2)", lo=0.0)
    leakage_mw: float = spec(0.0, "static power per register (ISAAC publishes none)", lo=0.0)


@dataclass(frozen=True)
class OutputRegister:
    """A PE's output register (ISAAC's OR, 256 B): the shift-and-add units accumulate into
    it. Its cost is per update and per register; its capacity is not a parameter."""

    energy_pj: float = spec(
        0.0225, "per shift-add update (ISAAC OR: 0.23 mW over 1024 updates per 100 ns)",
        lo=0.0)
    area_um2: float = spec(770.0, "per register (ISAAC OR: 0.00077 mm^2)", lo=0.0)
    leakage_mw: float = spec(0.0, "static power per register (ISAAC publishes none)", lo=0.0)


@dataclass(frozen=True)
class Pe:
    """The registers of a PE (ISAAC's IMA) between the tile's bus and its crossbars."""

    input_register: InputRegister = field(default_factory=InputRegister)
    output_register: OutputRegister = field(default_factory=OutputRegister)


@dataclass(frozen=True)
class Bus:
    """The tile's bus from its input buffer (eDRAM) to the PEs' input registers."""

    width_bits: int = spec(384, "bits per cycle (ISAAC: 384 wires)", lo=1)
    energy_pj_per_bit: float = spec(
        0.057, "per bit moved (ISAAC: 7 mW at full activity, 122.9 bits/ns per tile; "
        "docs/metrics.md)", lo=0.0)
    area_um2: float = spec(90000.0, "per tile (ISAAC: 0.090 mm^2)", lo=0.0)
    leakage_mw: float = spec(0.0, "static power per tile's bus (ISAAC publishes none)", lo=0.0)


@dataclass(frozen=True)
class Buffer:
    """An on-chip buffer (eDRAM or SRAM) with one port of ``width_bits``."""

    size_kb: float = spec(
        64.0, "capacity in KiB (ISAAC eDRAM: 64 KB); sets energy_pj and area_um2 when they "
        "are null; the input buffer's is checked against each layer's live inputs; "
        "0 = unbounded (needs both explicit)", lo=0.0)
    width_bits: int = spec(256, "bits per access (ISAAC: 256-bit bus)", lo=1)
    access_ns: float = spec(1.0, "time of one access (reconstruction)", lo=0.0)
    energy_pj: float | None = spec(
        None, "per access; null = ISAAC's eDRAM (20.45 pJ at 64 KiB, 256 bits) scaled to "
        "size_kb and width_bits (docs/components.md)", lo=0.0)
    area_um2: float | None = spec(
        None, "per buffer; null = ISAAC's eDRAM (83,000 um^2 at 64 KiB) scaled to size_kb",
        lo=0.0)
    leakage_mw: float = spec(0.0, "static power per buffer", lo=0.0)


@dataclass(frozen=True)
class Buffers:
    """Input buffer (receives feature maps, feeds the DACs) and output buffer, one each per tile."""

    input: Buffer = field(default_factory=Buffer)
    output: Buffer = field(default_factory=Buffer)
    shared_per_tile: bool = spec(
        True,
        "layers and transfers on one tile share its input-buffer port and its output-buffer "
        "port (False = a private port for each use: no buffer contention)",
    )


@dataclass(frozen=True)
class IndexBuffer:
    """The SRAM holding a pruned mapping's index data (shape ids, row indices)."""

    energy_pj: float = spec(0.5, "per lookup (reconstruction: small SRAM read)", lo=0.0)
    access_ns: float = spec(1.0, "per lookup (reconstruction)", lo=0.0)
    area_um2_per_kb: float = spec(1500.0, "area per KiB of index storage (reconstruction)", lo=0.0)
    leakage_mw_per_kb: float = spec(0.0, "static power per KiB", lo=0.0)


@dataclass(frozen=True)
class InputGather:
    """The multiplexers in front of the DACs that route gathered inputs to word-lines."""

    energy_pj: float = spec(0.01, "per routed input (reconstruction)", lo=0.0)
    latency_ns: float = spec(1.0, "added before the DACs (reconstruction)", lo=0.0)
    area_um2_per_input: float = spec(
        0.05, "mux area per selectable input: one 32 nm transmission gate and its wiring "
        "share (reconstruction)", lo=0.0)


@dataclass(frozen=True)
class DigitalUnit:
    """A digital unit of a tile: ``lanes`` elements per ``latency_ns`` step."""

    energy_pj: float = spec(0.05, "per element operation (16-bit add, Horowitz 2014)", lo=0.0)
    latency_ns: float = spec(1.0, "per step of `lanes` elements", lo=0.0)
    lanes: int = spec(16, "elements per step", lo=1)
    area_um2: float = spec(600.0, "per unit", lo=0.0)
    leakage_mw: float = spec(0.0, "static power per unit", lo=0.0)
    per_tile: int = spec(
        1, "units of this kind per tile (shared units): they work as one unit of "
        "per_tile x lanes lanes (ISAAC: 2 sigmoid units)", lo=1)


@dataclass(frozen=True)
class Digital:
    """Digital units per tile: partial-sum accumulation, activations, pooling, the rest."""

    accumulator: DigitalUnit = field(default_factory=DigitalUnit)
    activation: DigitalUnit = field(default_factory=DigitalUnit)
    pooling: DigitalUnit = field(default_factory=lambda: DigitalUnit(area_um2=240.0))
    eltwise: DigitalUnit = field(default_factory=DigitalUnit)
    other: DigitalUnit = field(default_factory=DigitalUnit)
    shared_per_tile: bool = spec(True, "layers on one tile share its units (False = private)")


@dataclass(frozen=True)
class Noc:
    """The on-chip mesh between tiles."""

    link_width_bits: int = spec(256, "bits per flit and per link cycle", lo=1)
    hop_latency_ns: float = spec(1.0, "router + link traversal per hop (reconstruction)", lo=0.0)
    energy_pj_per_bit_hop: float = spec(
        0.081, "per bit per hop (ISAAC router: 20.74 pJ per 256 bits)", lo=0.0
    )
    router_area_um2: float = spec(151000.0, "per router (ISAAC: 0.151 mm^2)", lo=0.0)
    router_leakage_mw: float = spec(0.0, "static power per router", lo=0.0)
    tiles_per_router: int = spec(
        4, "tiles that share one router, for area and static power; timing keeps one mesh "
        "node per tile (ISAAC: 4)", lo=1)
    shared_links: bool = spec(True, "flows contend for mesh links (False = private links)")


@dataclass(frozen=True)
class Organization:
    """How crossbars group into PEs and tiles, and tiles into the chip."""

    crossbars_per_pe: int = spec(8, "ISAAC: 8 crossbars per IMA", lo=1)
    pes_per_tile: int = spec(12, "ISAAC: 12 IMAs per tile", lo=1)
    tiles: int = spec(
        168, "tiles per chip (ISAAC: 168); 0 = one chip of as many tiles as the model needs",
        lo=0)
    mesh_cols: int = spec(0, "a chip's mesh width in tiles; 0 = ceil(sqrt(tiles))", lo=0)
    chips: int | Literal["auto"] = spec(
        "auto", "chips of the node, joined by chip links (ISAAC evaluates large models on "
        "several chips); 'auto' = as many as the model needs; a number refuses a model that "
        "needs more", lo=1, hi=4096)


@dataclass(frozen=True)
class ChipLink:
    """The links between chips of a node (ISAAC: 4 HyperTransport links per chip).

    Chips form a mesh ``mesh_cols`` wide with XY routing, one link per direction between
    neighbours; every chip's links attach at the router of its tile 0 (its I/O port, a
    reconstruction). A transfer between chips crosses its source chip's mesh to tile 0,
    the chip links, then the destination chip's mesh from tile 0.
    """

    latency_ns: float = spec(
        50.0, "head latency of one chip-link traversal, SerDes and wire (reconstruction: "
        "HyperTransport's documented latency is tens of ns)", lo=0.0)
    bandwidth_gb_per_s: float = spec(
        6.4, "bytes per ns one link carries in each direction (ISAAC's table: 6.4 GB/s per "
        "HyperTransport link at 1.6 GHz)", lo=1e-6)
    energy_pj_per_bit: float = spec(
        0.203125, "per bit per link traversal (Accelergy's ISAAC library: 26 pJ per 128 bits, "
        "65 nm)", lo=0.0)
    links_per_chip: int = spec(
        4, "link ports per chip, one per mesh direction used (ISAAC: 4 HyperTransport "
        "links); counted for area and static power", lo=1, hi=64)
    area_um2: float = spec(
        5.72e6, "per link (ISAAC: 22.88 mm^2 for its 4 HyperTransport links)", lo=0.0)
    leakage_mw: float = spec(
        2600.0, "static power per link while the node spans several chips (ISAAC: 10.4 W for "
        "4 links); a one-chip run's links are power-gated", lo=0.0)
    mesh_cols: int = spec(0, "the chip mesh's width in chips; 0 = ceil(sqrt(chips))", lo=0)


@dataclass(frozen=True)
class Pipeline:
    """How layers overlap in time."""

    mode: Literal["pixel", "layer"] = spec(
        "pixel",
        "'pixel': a layer starts an output pixel once its inputs exist (ISAAC); "
        "'layer': a layer starts when the previous one has finished",
    )


@dataclass(frozen=True)
class MappingPolicy:
    """How mappers spend crossbars: OU packing within a layer, copies of layers on the chip."""

    packing: Literal["balance", "crossbars"] = spec(
        "balance",
        "OU packer objective (mappers that pack, e.g. segprune): 'balance' = on the fewest "
        "crossbars, minimise the busiest crossbar's OUs; 'crossbars' = first fit, fewest "
        "crossbars only (reconstruction)",
    )
    replication: Literal["none", "balance"] = spec(
        "none",
        "'balance': copies of the layer that bounds the pipeline while the crossbar budget "
        "lasts, each copy taking a share of the output pixels (ISAAC); 'none': one copy",
    )
    reload: bool = spec(
        False,
        "a model that needs more tiles than organization.tiles runs on the given chip in "
        "groups of consecutive layers that fit it, reprogramming the crossbars between groups "
        "(time and energy of the writes included); false: such a model is an error",
    )


@dataclass(frozen=True)
class Config:
    """A validated hardware description. Load it with :func:`reramsim.config.load_config`."""

    name: str = spec("unnamed", "a short name for reports")
    clock_mhz: float = spec(
        1000.0, "the global clock; all latencies are rounded up to its cycles", lo=1e-3)
    precision: Precision = field(default_factory=Precision)
    crossbar: Crossbar = field(default_factory=Crossbar)
    ou: OperationUnit = field(default_factory=OperationUnit)
    dac: Dac = field(default_factory=Dac)
    sample_hold: SampleHold = field(default_factory=SampleHold)
    adc: Adc = field(default_factory=Adc)
    device: Device = field(default_factory=Device)
    shift_add: ShiftAdd = field(default_factory=ShiftAdd)
    pe: Pe = field(default_factory=Pe)
    bus: Bus = field(default_factory=Bus)
    buffers: Buffers = field(default_factory=Buffers)
    index_buffer: IndexBuffer = field(default_factory=IndexBuffer)
    input_gather: InputGather = field(default_factory=InputGather)
    digital: Digital = field(default_factory=Digital)
    noc: Noc = field(default_factory=Noc)
    organization: Organization = field(default_factory=Organization)
    chip_link: ChipLink = field(default_factory=ChipLink)
    pipeline: Pipeline = field(default_factory=Pipeline)
    mapping: MappingPolicy = field(default_factory=MappingPolicy)
    source: str = field(default="<defaults>", metadata={"internal": True})

    # --- derived quantities every model uses; one definition each -------------------------

    @property
    def cycle_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    def cycles(self, t_ns: float) -> int:
        """Whole clock cycles covering ``t_ns`` (rounded up; 0 stays 0)."""
        return max(0, math.ceil(t_ns * self.clock_mhz / 1000.0 - 1e-9))

    @property
    def slices(self) -> int:
        """Bit-lines per weight: ``ceil(weight_bits / cell_bits)``."""
        return -(-self.precision.weight_bits // self.crossbar.cell_bits)

    @property
    def polarities(self) -> int:
        """Crossbar copies per weight block: 2 for differential pairs, else 1."""
        return 2 if self.precision.signed_weights == "differential" else 1

    @property
    def psum_bits(self) -> int:
        """Bits of one partial sum sent between tiles (``precision.partial_sum_bits``, or
        ``input_bits + weight_bits + ceil(log2(crossbar.rows))`` when it is 0)."""
        if self.precision.partial_sum_bits:
            return self.precision.partial_sum_bits
        return (self.precision.input_bits + self.precision.weight_bits
                + math.ceil(math.log2(self.crossbar.rows)))

    @property
    def input_steps(self) -> int:
        """DAC steps per input vector: ``ceil(input_bits / dac_bits)``."""
        return -(-self.precision.input_bits // self.dac.bits)
