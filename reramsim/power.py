"""Power at full activity and at idle, per component, from the same config entries as energy.

A simulation's energy is events x pJ per event plus leakage x time
(:mod:`reramsim.energy`). This module asks the other question a component table
answers (ISAAC's is one): what does each component draw when it works flat out, and
what when it does nothing? Every figure is a config entry times a rate:

* **dynamic**: ``pJ per event x events per ns at full activity`` (1 pJ/ns = 1 mW), for
  the event kinds and prices of :data:`reramsim.energy.EVENT_ENERGY`;
* **static**: ``instances x mW`` (:func:`reramsim.energy.tile_leakage` and the digital
  units' ``leakage_mw``); the idle power is the static power alone.

Full activity, per the timing model (``docs/metrics.md``, "Power"):

* **PE side**: every crossbar runs one OU step per step period
  ``T = max(t_read, shared_by_crossbars x t_adc)`` cycles (the read overlaps the
  previous step's conversion, ``docs/timing.md``), each step driving ``ou.rows``
  word-lines (DAC conversions, input-register reads) and converting ``ou.cols``
  bit-lines (S+H samples, ADC conversions, shift-adds, output-register updates);
  every crossbar takes a new input vector of its own ``crossbar.rows`` values every
  ``input_steps x OUs per crossbar`` steps (input-register writes; the bus carries
  them, ``input_bits`` each);
* **tile side**: each port or unit busy every cycle: the input and output buffer one
  access per ``access_ns``, each digital unit ``lanes x per_tile`` elements per
  ``latency_ns``, the tile's router ``link_width_bits`` per ``hop_latency_ns`` (each of
  these durations in whole cycles, at least one).

A chip's figures are ``tiles x`` a tile's (``organization.tiles``, or the tiles a
model occupies). Peak throughput counts two operations per multiply-accumulate: a
crossbar holds ``rows x cols / (slices x polarities)`` weights and applies them to one
input vector per ``input_steps x OUs per crossbar`` step periods.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from reramsim.config import Config
from reramsim.energy import DIGITAL_UNITS, EVENT_ENERGY, config_value, tile_leakage

__all__ = ["PowerTerm", "full_activity_power", "idle_power_mw", "peak_ops_per_ns",
           "step_period_ns"]


@dataclass(frozen=True)
class PowerTerm:
    """One traceable contribution to a tile's power.

    Attributes:
        component: an energy component (:data:`reramsim.energy.COMPONENTS`, ``leakage``
            excepted) or, for static power, the leaking resource's component.
        source: the event kind, or ``"leak:<resource>"``.
        config_key: the entry giving ``per_unit``.
        per_unit: pJ per event, or mW per instance (static).
        rate_per_ns: events per ns on one tile at full activity (0 for static terms).
        instances: leaking instances per tile (0 for dynamic terms).
    """

    component: str
    source: str
    config_key: str
    per_unit: float
    rate_per_ns: float = 0.0
    instances: float = 0.0

    @property
    def static(self) -> bool:
        return self.source.startswith("leak:")

    @property
    def mw(self) -> float:
        """mW on one tile: pJ x events/ns (dynamic) or mW x instances (static)."""
        return self.per_unit * (self.instances if self.static else self.rate_per_ns)


def step_period_ns(config: Config) -> float:
    """One crossbar's OU step period at full activity, ns (module doc)."""
    t_read = config.cycles(config.crossbar.read_latency_ns)
    ou_cols = min(config.ou.cols, config.crossbar.cols)
    t_adc = config.cycles(math.ceil(ou_cols / config.adc.count) / config.adc.sample_rate_gsps)
    return max(t_read, config.adc.shared_by_crossbars * t_adc) * config.cycle_ns


def _ous_per_crossbar(config: Config) -> int:
    xb, ou = config.crossbar, config.ou
    return math.ceil(xb.rows / min(ou.rows, xb.rows)) * math.ceil(xb.cols / min(ou.cols, xb.cols))


def peak_ops_per_ns(config: Config, tiles: int | None = None) -> float:
    """Operations (2 per multiply-accumulate) per ns with every crossbar busy (module doc)."""
    org, xb = config.organization, config.crossbar
    n_tiles = org.tiles if tiles is None else tiles
    crossbars = n_tiles * org.pes_per_tile * org.crossbars_per_pe
    weights = xb.rows * xb.cols / (config.slices * config.polarities)
    vector_ns = config.input_steps * _ous_per_crossbar(config) * step_period_ns(config)
    return 2.0 * crossbars * weights / vector_ns


def _tile_rates(config: Config) -> dict[str, float]:
    """Events per ns on one tile at full activity, per event kind (module doc)."""
    org, xb = config.organization, config.crossbar
    ou_rows, ou_cols = min(config.ou.rows, xb.rows), min(config.ou.cols, xb.cols)
    steps = org.pes_per_tile * org.crossbars_per_pe / step_period_ns(config)
    loads = (org.pes_per_tile * org.crossbars_per_pe * xb.rows
             / (config.input_steps * _ous_per_crossbar(config) * step_period_ns(config)))
    cycle = config.cycle_ns

    def per_access(t_ns: float) -> float:
        return 1.0 / (max(1, config.cycles(t_ns)) * cycle)

    rates = {
        "cell_read": steps * ou_rows * ou_cols, "dac_conversion": steps * ou_rows,
        "sample_hold": steps * ou_cols, "adc_conversion": steps * ou_cols,
        "shift_add": steps * ou_cols, "input_register_read": steps * ou_rows,
        "output_register_update": steps * ou_cols, "input_register_write": loads,
        "bus_bit": loads * config.precision.input_bits,
        "input_buffer_read": per_access(config.buffers.input.access_ns),
        "output_buffer_write": per_access(config.buffers.output.access_ns),
        "noc_bit_hop": config.noc.link_width_bits * per_access(config.noc.hop_latency_ns),
    }
    for unit in DIGITAL_UNITS:
        cfg = getattr(config.digital, unit)
        kind = "accumulate" if unit == "accumulator" else f"{unit}_op"
        rates[kind] = cfg.lanes * cfg.per_tile * per_access(cfg.latency_ns)
    return rates


def full_activity_power(config: Config) -> list[PowerTerm]:
    """One tile's power terms at full activity: dynamic per event kind, then static.

    The tile's digital units are counted as shared (``per_tile`` of each kind), whatever
    ``digital.shared_per_tile`` says: private units exist per layer, not per tile.

    Event kinds without a full-activity rate (index reads, gathers, zero checks: a pruned
    or zero-skipping data path; the second access kind of a buffer, which shares the
    port's rate) are left out.
    """
    terms = [PowerTerm(EVENT_ENERGY[kind][0], kind, EVENT_ENERGY[kind][1],
                       config_value(config, EVENT_ENERGY[kind][1]), rate_per_ns=rate)
             for kind, rate in _tile_rates(config).items() if rate]
    static = [(resource, key, per_tile) for resource, (key, per_tile)
              in tile_leakage(config).items()]
    static += [(unit, f"digital.{unit}.leakage_mw", getattr(config.digital, unit).per_tile)
               for unit in DIGITAL_UNITS]
    terms += [PowerTerm(_LEAK_COMPONENT.get(resource, resource), f"leak:{resource}", key,
                        config_value(config, key), instances=per_tile)
              for resource, key, per_tile in static]
    return terms


#: Leaking resources whose energy component has another name.
_LEAK_COMPONENT = {"input_buffer": "buffers", "output_buffer": "buffers", "router": "noc",
                   "activation": "digital", "pooling": "digital", "eltwise": "digital",
                   "other": "digital"}


def idle_power_mw(config: Config, tiles: int | None = None) -> float:
    """Static power of ``tiles`` tiles (default ``organization.tiles``), mW."""
    n_tiles = config.organization.tiles if tiles is None else tiles
    return n_tiles * sum(t.mw for t in full_activity_power(config) if t.static)
