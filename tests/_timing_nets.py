"""Tiny configs and checks for the timing tests (analytical, cycle engine, pyref); networks
come from :class:`reramsim.builder.NetworkBuilder` (``Net`` here)."""
from __future__ import annotations

from reramsim.builder import NetworkBuilder as Net  # noqa: F401  (the tests' builder)
from reramsim.config import load_config
from reramsim.ir import Network
from reramsim.mapping import map_network
from reramsim.placement import place
from reramsim.stats import SimResult

#: A small hardware whose numbers are easy to work by hand: B = 4 bit-steps, t_read = 10,
#: t_adc = 2 cycles per bit-line (0.5 GS/s, one ADC), t_sa = 1, input buffer 8 bits per
#: 2-cycle access, output buffer 8 bits per 1-cycle access, accumulator 4 lanes x 3 cycles,
#: other units 4 lanes x 1 cycle, link 8 bits, 1 cycle per hop; nothing shared.
TINY = {
    "clock_mhz": 1000,
    "precision.weight_bits": 2, "precision.input_bits": 4, "precision.signed_weights": "offset",
    "crossbar.rows": 8, "crossbar.cols": 8, "crossbar.cell_bits": 2,
    "crossbar.read_latency_ns": 10, "ou.rows": 8, "ou.cols": 8, "dac.bits": 1,
    "adc.count": 1, "adc.sample_rate_gsps": 0.5, "adc.shared_by_crossbars": 1,
    "shift_add.latency_ns": 1,
    "buffers.input.width_bits": 8, "buffers.input.access_ns": 2,
    "buffers.output.width_bits": 8, "buffers.output.access_ns": 1,
    "digital.accumulator.lanes": 4, "digital.accumulator.latency_ns": 3,
    "digital.activation.lanes": 4, "digital.activation.latency_ns": 1,
    "digital.pooling.lanes": 4, "digital.pooling.latency_ns": 1,
    "digital.eltwise.lanes": 4, "digital.eltwise.latency_ns": 1,
    "digital.other.lanes": 4, "digital.other.latency_ns": 1,
    "noc.link_width_bits": 8, "noc.hop_latency_ns": 1,
    "index_buffer.access_ns": 1, "input_gather.latency_ns": 1,
    "organization.crossbars_per_pe": 2, "organization.pes_per_tile": 1, "organization.tiles": 0,
    "buffers.shared_per_tile": False, "digital.shared_per_tile": False, "noc.shared_links": False,
    "pipeline.mode": "pixel",
}


def config(base: str | None = None, **overrides):
    """TINY (or a shipped config with ``base``) with dotted overrides given as ``a__b=v``."""
    values = dict(TINY) if base is None else {}
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    text = [f"{k}={'true' if v is True else 'false' if v is False else v}"
            for k, v in values.items()]
    return load_config(base, text)


def mapped(net: Network, cfg):
    """(mapping, placement) with the dense mapper."""
    mapping = map_network(net, cfg)
    return mapping, place(net, mapping)


def layer_tuple(layer) -> tuple:
    return (layer.name, layer.start_cycle, layer.end_cycle, layer.counts, layer.busy_cycles,
            layer.stall_cycles, layer.instances)


def assert_same_timing(a: SimResult, b: SimResult) -> None:
    """Every layer's start, end, counts, busy and stall cycles agree, and the total."""
    assert a.total_cycles == b.total_cycles
    for x, y in zip(a.layers, b.layers, strict=True):
        assert layer_tuple(x) == layer_tuple(y), x.name


def assert_same_counts(a: SimResult, b: SimResult) -> None:
    for x, y in zip(a.layers, b.layers, strict=True):
        assert x.counts == y.counts, x.name
