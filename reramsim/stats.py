"""What an engine returns: per-layer event counts, busy and stall cycles, and timing.

Both engines (the analytical model and the cycle-level engine) fill the same
:class:`SimResult`, so one energy model, one area model and one report serve
both. Every energy figure is ``count x per-event energy`` from the config plus
leakage x time, so the event kinds below are the vocabulary that ties a report
line to a config entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: Event kinds counted by the engines, with the config entry that prices one event.
EVENT_KINDS: dict[str, str] = {
    "ou_step": "(timing only) one OU read step: one input bit-step on one OU",
    "cell_read": "crossbar.cell_read_energy_pj: one active cell in one OU step",
    "dac_conversion": "dac.energy_pj: one active word-line in one OU step",
    "sample_hold": "sample_hold.energy_pj: one active bit-line in one OU step",
    "adc_conversion": "adc.energy_pj: one bit-line sample converted",
    "shift_add": "shift_add.energy_pj: one converted sample shifted and added",
    "index_read": "index_buffer.energy_pj: one index-buffer lookup",
    "gather_input": "input_gather.energy_pj: one input routed by the gather muxes",
    "accumulate": "digital.accumulator.energy_pj: one partial-sum addition across crossbars",
    "input_buffer_read": "buffers.input.energy_pj: one access of width_bits",
    "input_buffer_write": "buffers.input.energy_pj: one access of width_bits",
    "output_buffer_write": "buffers.output.energy_pj: one access of width_bits",
    "output_buffer_read": "buffers.output.energy_pj: one access of width_bits",
    "noc_bit_hop": "noc.energy_pj_per_bit_hop: one bit over one mesh hop",
    "activation_op": "digital.activation.energy_pj: one element",
    "pooling_op": "digital.pooling.energy_pj: one element",
    "eltwise_op": "digital.eltwise.energy_pj: one element",
    "other_op": "digital.other.energy_pj: one element",
    "zero_check": "ou.zero_detect_energy_pj: one OU input bit-step checked for zeros "
                  "(every step of every OU of every pixel, with ou.skip_zero_inputs)",
    "input_register_write": "pe.input_register.write_energy_pj: one input value loaded into "
                            "a PE's input register",
    "bus_bit": "bus.energy_pj_per_bit: one bit from the input buffer to a PE over the bus",
    "input_register_read": "pe.input_register.read_energy_pj: one word-line's DAC input read "
                           "in one OU step",
    "output_register_update": "pe.output_register.energy_pj: one shift-add result written "
                              "into a PE's output register",
    "chip_link_bit": "chip_link.energy_pj_per_bit: one bit over one link between chips",
}


@dataclass
class LayerStats:
    """One layer's share of a simulation.

    Attributes:
        name, op: the IR layer.
        start_cycle: when its first unit of work began.
        end_cycle: when its last output was delivered to its consumers.
        counts: event kind (:data:`EVENT_KINDS`) -> number of events.
        busy_cycles: resource kind (e.g. ``"crossbar"``, ``"adc"``, ``"noc"``) -> cycles busy,
            summed over the layer's instances of that resource.
        stall_cycles: resource kind -> cycles work waited because that resource was busy.
        instances: resource kind -> how many instances the layer uses (for utilisation).
    """

    name: str
    op: str
    start_cycle: int = 0
    end_cycle: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    busy_cycles: dict[str, int] = field(default_factory=dict)
    stall_cycles: dict[str, int] = field(default_factory=dict)
    instances: dict[str, int] = field(default_factory=dict)

    @property
    def latency_cycles(self) -> int:
        return self.end_cycle - self.start_cycle


@dataclass
class SimResult:
    """A whole simulation: total cycles and the per-layer statistics, in layer order."""

    engine: str  # "analytical" or "cycle"
    total_cycles: int
    layers: list[LayerStats]
    events_processed: int = 0  # engine events handled (the cycle engine's work measure)

    def totals(self) -> dict[str, int]:
        """Event counts summed over layers."""
        out: dict[str, int] = {}
        for layer in self.layers:
            for kind, n in layer.counts.items():
                out[kind] = out.get(kind, 0) + n
        return out
