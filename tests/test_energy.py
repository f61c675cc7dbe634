"""Energy model: event counts x per-event energies, leakage x time, per layer and component."""
import numpy as np
import pytest

from reramsim.config import load_config
from reramsim.energy import (
    COMPONENTS,
    EVENT_ENERGY,
    compute_energy,
    config_value,
)
from reramsim.ir import Layer, Network, WeightLayer
from reramsim.mapping import map_network
from reramsim.placement import place
from reramsim.stats import EVENT_KINDS, LayerStats, SimResult

#: Round per-event prices so hand computations are exact.
PRICES = [
    "crossbar.cell_read_energy_pj=0.5", "dac.energy_pj=2", "sample_hold.energy_pj=0.25",
    "adc.energy_pj=3", "shift_add.energy_pj=0.125", "index_buffer.energy_pj=4",
    "input_gather.energy_pj=0.75", "digital.accumulator.energy_pj=1.5",
    "buffers.input.energy_pj=10", "buffers.output.energy_pj=5", "noc.energy_pj_per_bit_hop=0.1",
    "digital.activation.energy_pj=0.2", "digital.pooling.energy_pj=0.3",
    "digital.eltwise.energy_pj=0.4", "digital.other.energy_pj=0.6", "organization.tiles=0",
    "ou.zero_detect_energy_pj=0.05", "pe.input_register.write_energy_pj=0.8",
    "pe.input_register.read_energy_pj=0.0625", "pe.output_register.energy_pj=0.02",
    "bus.energy_pj_per_bit=0.05", "chip_link.energy_pj_per_bit=0.7",
]


def conv_relu() -> Network:
    """A 5x5 conv 1->6 (25x6 matrix, one crossbar) followed by a ReLU."""
    w = np.ones((6, 1, 5, 5), np.float32)
    conv = WeightLayer("conv", "conv", ("x",), "c", ((1, 8, 8),), (6, 4, 4),
                       weight=w, kernel=(5, 5))
    relu = Layer("relu", "relu", ("c",), "r", ((6, 4, 4),), (6, 4, 4))
    return Network("tiny", {"x": (1, 8, 8)}, ["r"], [conv, relu])


def every_kind_once_result(total_cycles: int = 1000) -> SimResult:
    """One layer with count 10*(i+1) of the i-th event kind, plus a ReLU with 7 activation ops."""
    counts = {kind: 10 * (i + 1) for i, kind in enumerate(EVENT_KINDS)}
    return SimResult("analytical", total_cycles, [
        LayerStats("conv", "conv", 0, 900, counts=counts),
        LayerStats("relu", "relu", 10, 1000, counts={"activation_op": 7}),
    ])


def test_price_table_covers_every_event_kind():
    """EVENT_ENERGY prices exactly the kinds of EVENT_KINDS, each from an existing config entry."""
    assert set(EVENT_ENERGY) == set(EVENT_KINDS)
    cfg = load_config(None)
    for kind, (component, key) in EVENT_ENERGY.items():
        assert component in COMPONENTS
        if key is not None:
            assert config_value(cfg, key) >= 0
            assert EVENT_KINDS[kind].startswith(key), f"{kind}: stats.py names another entry"


def test_each_component_is_count_times_config_value():
    """Every component's dynamic energy is the hand-computed sum of count x config price."""
    cfg = load_config(None, PRICES)
    result = every_kind_once_result()
    energy = compute_energy(result, cfg)
    n = {kind: 10 * (i + 1) for i, kind in enumerate(EVENT_KINDS)}
    expected = {
        "crossbar": n["cell_read"] * 0.5,  # ou_step is timing only
        "dac": n["dac_conversion"] * 2,
        "sample_hold": n["sample_hold"] * 0.25,
        "adc": n["adc_conversion"] * 3,
        "shift_add": n["shift_add"] * 0.125,
        "input_register": n["input_register_write"] * 0.8 + n["input_register_read"] * 0.0625,
        "output_register": n["output_register_update"] * 0.02,
        "bus": n["bus_bit"] * 0.05,
        "index_buffer": n["index_read"] * 4,
        "input_gather": n["gather_input"] * 0.75,
        "zero_detect": n["zero_check"] * 0.05,
        "accumulator": n["accumulate"] * 1.5,
        "buffers": (n["input_buffer_read"] + n["input_buffer_write"]) * 10
                   + (n["output_buffer_read"] + n["output_buffer_write"]) * 5,
        "noc": n["noc_bit_hop"] * 0.1,
        "chip_link": n["chip_link_bit"] * 0.7,
        "digital": n["activation_op"] * 0.2 + n["pooling_op"] * 0.3 + n["eltwise_op"] * 0.4
                   + n["other_op"] * 0.6,
        "leakage": 0.0,
    }
    conv = energy.layer_components("conv")
    for component, pj in expected.items():
        assert conv[component] == pytest.approx(pj), component
    assert energy.layer_components("relu")["digital"] == pytest.approx(7 * 0.2)
    assert energy.total_pj == pytest.approx(sum(expected.values()) + 7 * 0.2)


def test_terms_carry_counts_and_prices():
    """Merged terms give, per event kind, the summed count, the price and its config entry."""
    cfg = load_config(None, PRICES)
    energy = compute_energy(every_kind_once_result(), cfg)
    act = [t for t in energy.terms() if t.source == "activation_op"]
    assert len(act) == 1
    index = list(EVENT_KINDS).index("activation_op")
    assert act[0].count == 10 * (index + 1) + 7
    assert (act[0].per_unit, act[0].config_key) == (0.2, "digital.activation.energy_pj")
    assert sum(t.energy_pj for t in energy.terms()) == pytest.approx(energy.total_pj)
    assert all(t.source != "ou_step" for t in energy.terms())


def test_unknown_event_kind_is_refused():
    """An event kind without a price is an engine bug: ValueError naming it."""
    result = SimResult("cycle", 10, [LayerStats("conv", "conv", counts={"warp_drive": 3})])
    with pytest.raises(ValueError, match="warp_drive"):
        compute_energy(result, load_config(None))


def test_leakage_is_split_among_the_layers_of_a_tile():
    """Per-tile leakage over the whole run is shared equally by the layers on the tile."""
    cfg = load_config(None, PRICES + ["buffers.input.leakage_mw=0.5", "noc.router_leakage_mw=1",
                                      "digital.pooling.leakage_mw=0.25"])
    net = conv_relu()
    mapping = map_network(net, cfg)
    placement = place(net, mapping)
    result = SimResult("analytical", 1000, [LayerStats("conv", "conv", 0, 900),
                                            LayerStats("relu", "relu", 10, 1000)])
    energy = compute_energy(result, cfg, placement, mapping)
    # 1 tile, 1000 cycles x 1 ns: (0.5 + 1/4 + 0.25) mW x 1000 ns = 1000 pJ, half per layer;
    # the tile carries a quarter of a router shared by noc.tiles_per_router = 4 tiles
    for name in ("conv", "relu"):
        assert energy.layer_components(name)["leakage"] == pytest.approx(500.0)
    assert energy.components()["leakage"] == pytest.approx(1000.0)
    router = [t for t in energy.terms() if t.source == "leak:router"][0]
    assert (router.count, router.per_unit, router.time_ns) == (0.25, 1.0, 1000.0)


def test_private_units_and_index_buffer_leak_for_their_layer_only():
    """Private digital units and a layer's index buffer (mW/KiB x KiB) leak for that layer."""
    cfg = load_config(None, PRICES + ["digital.shared_per_tile=false",
                                      "digital.activation.leakage_mw=2",
                                      "index_buffer.leakage_mw_per_kb=0.5", "clock_mhz=500"])
    net = conv_relu()
    mapping = map_network(net, cfg)
    mapping.layers["conv"].index_storage_bits = 4 * 8192  # 4 KiB
    placement = place(net, mapping)
    result = SimResult("analytical", 100, [LayerStats("conv", "conv", 0, 90),
                                           LayerStats("relu", "relu", 1, 100)])
    energy = compute_energy(result, cfg, placement, mapping)
    # 100 cycles at 500 MHz = 200 ns
    assert energy.layer_components("conv")["leakage"] == pytest.approx(4 * 0.5 * 200)
    assert energy.layer_components("relu")["leakage"] == pytest.approx(2 * 200)


def test_isaac_leaks_only_its_edram():
    """isaac.yaml's one static power is the eDRAM's 0.25 mW (its 20.7 mW less one access per
    cycle); the schema defaults have none."""
    net = conv_relu()
    result = SimResult("analytical", 1000, [LayerStats("conv", "conv", 0, 900),
                                            LayerStats("relu", "relu", 0, 1000)])
    for name, leak_pj in (("isaac", 0.25 * 1000), (None, 0.0)):
        cfg = load_config(name)
        mapping = map_network(net, cfg)
        energy = compute_energy(result, cfg, place(net, mapping), mapping)
        assert energy.components()["leakage"] == pytest.approx(leak_pj)
