"""Per-unit costs that follow a component's size: ADC energy and area by resolution,
buffer access energy and area by capacity.

A config may give ``adc.energy_pj``, ``adc.area_um2``, ``buffers.<b>.energy_pj`` and
``buffers.<b>.area_um2`` explicitly (a paper's own numbers, e.g. FORMS's 4-bit ADC);
when it leaves one out (or sets it to ``null``), the value follows the component's
size from the rules below. An explicit ADC value given for a stated resolution
(``adc.cost_bits``, e.g. ISAAC's paper figures at 8 bits) follows ``adc.bits`` by the
table's ratio, ``value x table(bits) / table(cost_bits)``. :func:`resolve_cost` is the
one place that decides which, and says so (:class:`Cost`'s ``origin``), so every report
figure still traces to a per-unit value, where that value came from, and an event count
(``docs/components.md``).

* **ADC** (:data:`ADC_TABLE`): ISAAC's ADC (ISCA 2016, 32 nm; Kull et al., ISSCC 2013,
  8 bits, 1.2 GS/s) and its versions at 4-10 bits scaled after Saberi et al. (2011), as
  tabulated in Accelergy's hwcomponents ISAAC library (``IsaacADC``). The table has
  every resolution from 4 to 10 bits; outside it the value continues geometrically
  with the ratio of the two nearest entries (a reconstruction, labelled as such).
  The table gives no sample rate by resolution (only 1.2 GS/s at 8 bits), so
  ``adc.sample_rate_gsps`` stays the config's value.
* **Buffer** (:func:`buffer_cost`): ISAAC's 64 KB eDRAM with a 256-bit port (20.45 pJ
  per access, 83,000 um^2) scaled to ``size_kb`` and ``width_bits`` by the rule of
  Accelergy's hwcomponents ``IsaacEDRAM``: area linear in width and in depth (so
  linear in capacity), access energy linear in width and ``depth ** 0.78`` (an
  exponent hwcomponents fits to CACTI). No published table gives eDRAM cost by size,
  so values away from 64 KB / 256 bits are a reconstruction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: ISAAC's ADC by resolution: bits -> (pJ per conversion, um^2 per ADC). Source:
#: Accelergy hwcomponents-library, ``hwcomponents_library/library/isaac.py``, ``IsaacADC``
#: (ISAAC, ISCA 2016, 32 nm; the 8-bit row is 16 mW / 9.6 GS/s and 9600 um^2 / 8 ADCs,
#: after Kull et al., ISSCC 2013; the other rows scaled after Saberi et al., 2011).
ADC_TABLE: dict[int, tuple[float, float]] = {
    4: (0.79, 361.04),
    5: (0.99, 476.91),
    6: (1.20, 626.91),
    7: (1.42, 845.18),
    8: (1.667, 1200.0),
    9: (1.969078145, 1827.911647),
    10: (2.379022742, 3002.008032),
}

#: ISAAC's eDRAM buffer, the reference point of :func:`buffer_cost`: (KiB, bits per
#: access, pJ per access, um^2). Source: hwcomponents-library ``IsaacEDRAM`` (width 256,
#: depth 2048, 20.45 pJ per read or write, 83,000 um^2; ISAAC, ISCA 2016, 32 nm).
EDRAM_REFERENCE = (64.0, 256, 20.45, 83000.0)

#: Access energy grows as ``depth ** EDRAM_DEPTH_EXPONENT`` (hwcomponents'
#: ``cacti_depth_energy``: 1.56 / 2, fitted to CACTI).
EDRAM_DEPTH_EXPONENT = 1.56 / 2

#: The config entries whose value may come from these rules.
SIZED_KEYS: tuple[str, ...] = (
    "adc.energy_pj", "adc.area_um2",
    "buffers.input.energy_pj", "buffers.input.area_um2",
    "buffers.output.energy_pj", "buffers.output.area_um2",
)


@dataclass(frozen=True)
class Cost:
    """A per-unit value and where it came from (``origin``: a sentence for reports)."""

    value: float
    origin: str
    derived: bool  # True: from a rule of this module; False: the config's explicit value


def adc_cost(bits: int) -> tuple[float, float, str]:
    """ISAAC's ADC at ``bits``: (pJ per conversion, um^2, origin) from :data:`ADC_TABLE`.

    Outside 4-10 bits: ``value(b) = value(end) x (value(end) / value(next to end)) ** d``,
    ``d`` bits beyond the end entry (a geometric continuation; reconstruction).
    """
    lo, hi = min(ADC_TABLE), max(ADC_TABLE)
    if lo <= bits <= hi:
        energy, area = ADC_TABLE[bits]
        return energy, area, f"ISAAC ADC table at {bits} bits"
    end, inner = (lo, lo + 1) if bits < lo else (hi, hi - 1)
    steps = abs(bits - end)
    (e_end, a_end), (e_in, a_in) = ADC_TABLE[end], ADC_TABLE[inner]
    return (e_end * (e_end / e_in) ** steps, a_end * (a_end / a_in) ** steps,
            f"ISAAC ADC table extrapolated from {end} to {bits} bits (reconstruction)")


def buffer_cost(size_kb: float, width_bits: int) -> tuple[float, float, str]:
    """ISAAC's eDRAM scaled to ``size_kb`` KiB and ``width_bits``-bit accesses:
    (pJ per access, um^2, origin). ``size_kb`` must be > 0."""
    ref_kb, ref_width, ref_pj, ref_um2 = EDRAM_REFERENCE
    ref_depth = ref_kb * 8192 / ref_width
    depth = size_kb * 8192 / width_bits
    energy = ref_pj * (width_bits / ref_width) * (depth / ref_depth) ** EDRAM_DEPTH_EXPONENT
    area = ref_um2 * (width_bits / ref_width) * (depth / ref_depth)
    exact = size_kb == ref_kb and width_bits == ref_width
    origin = (f"ISAAC eDRAM ({ref_kb:g} KiB, {ref_width}-bit)" if exact else
              f"ISAAC eDRAM scaled to {size_kb:g} KiB, {width_bits}-bit (reconstruction)")
    return energy, area, origin


def resolve_cost(config: Any, key: str) -> Cost:
    """The per-unit value of a :data:`SIZED_KEYS` entry: the config's, else its rule's.

    ``config`` is a :class:`reramsim.config.Config`; a buffer of ``size_kb: 0``
    (unbounded) has no size to derive from (the loader refuses that config).
    """
    *section_path, name = key.split(".")
    section: Any = config
    for part in section_path:
        section = getattr(section, part)
    explicit = getattr(section, name)
    pick = 0 if name == "energy_pj" else 1
    if section_path == ["adc"]:
        table = adc_cost(section.bits)
        ref_bits = section.cost_bits
        if explicit is None:
            return Cost(table[pick], table[2], derived=True)
        if ref_bits is None or ref_bits == section.bits:
            return Cost(float(explicit), "config value", derived=False)
        ref = adc_cost(ref_bits)
        ratio = table[pick] / ref[pick]
        note = " (reconstruction)" if "reconstruction" in table[2] + ref[2] else ""
        return Cost(float(explicit) * ratio,
                    f"config value {float(explicit):g} at {ref_bits} bits x ISAAC ADC table "
                    f"{section.bits}-bit / {ref_bits}-bit ratio {ratio:.4g}{note}", derived=True)
    if explicit is not None:
        return Cost(float(explicit), "config value", derived=False)
    energy, area, origin = buffer_cost(section.size_kb, section.width_bits)
    return Cost((energy, area)[pick], origin, derived=True)


def component_costs(config: Any) -> dict[str, Cost]:
    """Every :data:`SIZED_KEYS` entry of ``config``, resolved, with its origin."""
    return {key: resolve_cost(config, key) for key in SIZED_KEYS}
