"""ISAAC's components: PE register loads, bus and register events, full-activity and idle power."""
import pytest

from reramsim.builder import NetworkBuilder
from reramsim.config import load_config
from reramsim.energy import compute_energy
from reramsim.mapping import map_network
from reramsim.placement import place
from reramsim.plan import build_plan
from reramsim.power import full_activity_power, idle_power_mw, peak_ops_per_ns, step_period_ns
from reramsim.simulator import registered_engines, simulate
from reramsim.stats import LayerStats, SimResult

#: 16x16 crossbars, one OU each, 4-bit weights on 2-bit cells (2 slices), 8-bit inputs,
#: a 64-bit input-buffer port and a 48-bit bus.
SMALL = ["crossbar.rows=16", "crossbar.cols=16", "ou.rows=16", "ou.cols=16",
         "precision.weight_bits=4", "crossbar.cell_bits=2", "precision.input_bits=8",
         "organization.pes_per_tile=6", "organization.tiles=0", "buffers.input.width_bits=64",
         "bus.width_bits=48", "pe.input_register.write_energy_pj=0.5",
         "pe.input_register.read_energy_pj=0.25", "pe.output_register.energy_pj=0.125",
         "bus.energy_pj_per_bit=0.0625"]


def fc40(overrides):
    """fc 40 -> 16: row blocks of 16, 16 and 8 rows x 2 column blocks = 6 crossbars, placed
    row block by row block (crossbars 0,1: rows 0-15; 2,3: rows 16-31; 4,5: rows 32-39)."""
    cfg = load_config(None, SMALL + overrides)
    nb = NetworkBuilder((40,))
    net = nb.network(nb.fc("x", 16))
    mapping = map_network(net, cfg)
    return cfg, net, mapping, place(net, mapping)


@pytest.mark.parametrize("per_pe, loads", [(2, [16, 16, 8]), (1, [16, 16, 16, 16, 8, 8])])
def test_each_pe_loads_its_rows_once(per_pe, loads):
    """2 crossbars per PE: each PE holds one row block, loaded once for both of its
    crossbars; 1 per PE: the two column blocks of a row block load the same rows twice."""
    cfg, net, mapping, placement = fc40([f"organization.crossbars_per_pe={per_pe}"])
    lp = build_plan(net, mapping, placement).layers[0]
    assert lp.ir_writes == sum(loads)
    assert lp.bus_bits == 8 * sum(loads)
    # each load reads ceil(values x 8 bits / 64) accesses: 16 values -> 2, 8 values -> 1
    accesses = sum(-(-v * 8 // 64) for v in loads)
    assert lp.fetch_accesses == accesses
    # the fetch takes the longer of the port (1 cycle per access) and the 48-bit bus
    assert lp.t_fetch == max(accesses, -(-8 * sum(loads) // 48))
    assert lp.t_fetch == (7 if per_pe == 2 else 14)  # the bus bounds both


@pytest.mark.parametrize("engine", ["analytical", "cycle", "pyref"])
def test_register_and_bus_events_cost_count_times_price(engine):
    """Every engine counts, per pixel, 40 register loads (320 bus bits) and per OU step one
    register read per word-line and one output-register update per bit-line; their energy
    is count x config price."""
    if engine not in registered_engines():
        pytest.skip(f"engine {engine!r} not built")
    cfg, net, mapping, _ = fc40(["organization.crossbars_per_pe=2"])
    sim = simulate(net, cfg, engine=engine)
    counts = sim.result.layers[0].counts
    steps = 8  # 8-bit inputs through 1-bit DACs
    rows = 2 * (16 + 16 + 8)  # active word-lines of the 6 crossbars
    cols = 3 * 32  # 3 row blocks x 32 bit-lines
    assert (counts["input_register_write"], counts["bus_bit"]) == (40, 320)
    assert counts["input_register_read"] == steps * rows == counts["dac_conversion"]
    assert counts["output_register_update"] == steps * cols == counts["shift_add"]
    parts = compute_energy(sim.result, cfg).layer_components("fc0")
    assert parts["input_register"] == pytest.approx(40 * 0.5 + steps * rows * 0.25)
    assert parts["output_register"] == pytest.approx(steps * cols * 0.125)
    assert parts["bus"] == pytest.approx(320 * 0.0625)


#: A tile of 2 PEs x 2 crossbars of 16x16 (one OU each), 8 input steps, prices and powers
#: round enough to work by hand.
TILE = ["crossbar.rows=16", "crossbar.cols=16", "ou.rows=16", "ou.cols=16",
        "precision.weight_bits=4", "crossbar.cell_bits=2", "precision.input_bits=8",
        "organization.crossbars_per_pe=2", "organization.pes_per_tile=2",
        "organization.tiles=3", "crossbar.read_latency_ns=10", "adc.sample_rate_gsps=1.6",
        "adc.count=1", "adc.shared_by_crossbars=1", "crossbar.cell_read_energy_pj=0.001",
        "dac.energy_pj=0.5", "sample_hold.energy_pj=0.01", "adc.energy_pj=2",
        "shift_add.energy_pj=0.05", "shift_add.per_pe=1", "pe.input_register.read_energy_pj=0.1",
        "pe.input_register.write_energy_pj=0.8", "pe.output_register.energy_pj=0.02",
        "bus.energy_pj_per_bit=0.05", "buffers.input.energy_pj=20", "buffers.input.access_ns=2",
        "buffers.output.energy_pj=2", "buffers.output.access_ns=1",
        "noc.energy_pj_per_bit_hop=0.04", "noc.link_width_bits=64", "noc.hop_latency_ns=1",
        "digital.accumulator.energy_pj=0.05", "digital.accumulator.lanes=4",
        "digital.activation.energy_pj=0.1", "digital.activation.lanes=2",
        "digital.activation.per_tile=2", "digital.pooling.energy_pj=0.1",
        "digital.pooling.lanes=1", "digital.eltwise.energy_pj=0", "digital.other.energy_pj=0",
        "adc.leakage_mw=0.1", "pe.input_register.leakage_mw=0.05",
        "buffers.input.leakage_mw=0.25", "noc.router_leakage_mw=1",
        "digital.activation.leakage_mw=0.02"]


def test_full_activity_and_idle_power_of_a_hand_worked_tile():
    """Step period 10 ns (read 10 ns = 16 conversions at 1.6 GS/s); 4 crossbars -> 0.4 OU
    steps per ns; each crossbar loads 16 values per 8 steps (80 ns): 0.8 values per ns."""
    cfg = load_config(None, TILE)
    assert step_period_ns(cfg) == 10.0
    mw = {}
    for term in full_activity_power(cfg):
        mw[term.source] = mw.get(term.source, 0.0) + term.mw
    by_hand = {
        "cell_read": 0.4 * 256 * 0.001, "dac_conversion": 0.4 * 16 * 0.5,
        "sample_hold": 0.4 * 16 * 0.01, "adc_conversion": 0.4 * 16 * 2,
        "shift_add": 0.4 * 16 * 0.05, "input_register_read": 0.4 * 16 * 0.1,
        "output_register_update": 0.4 * 16 * 0.02, "input_register_write": 0.8 * 0.8,
        "bus_bit": 0.8 * 8 * 0.05, "input_buffer_read": 0.5 * 20,
        "output_buffer_write": 1 * 2, "noc_bit_hop": 64 * 0.04,
        "accumulate": 4 * 0.05, "activation_op": 2 * 2 * 0.1, "pooling_op": 1 * 0.1,
        # static: 2 PEs x 2 ADCs x 0.1; 2 input registers x 0.05; the eDRAM; a quarter of a
        # router (noc.tiles_per_router: 4); 2 sigmoid units x 0.02
        "leak:adc": 0.4, "leak:input_register": 0.1, "leak:input_buffer": 0.25,
        "leak:router": 0.25, "leak:activation": 0.04,
    }
    for source, value in by_hand.items():
        assert mw[source] == pytest.approx(value), source
    assert sum(mw.values()) == pytest.approx(sum(by_hand.values()))
    idle = 0.4 + 0.1 + 0.25 + 0.25 + 0.04
    assert idle_power_mw(cfg) == pytest.approx(3 * idle)  # organization.tiles = 3
    assert idle_power_mw(cfg, tiles=1) == pytest.approx(idle)
    # 4 crossbars x 16 x 16 / 2 slices = 512 weights, one vector per 80 ns, 2 ops per MAC
    assert peak_ops_per_ns(cfg, tiles=1) == pytest.approx(2 * 512 / 80)


def test_idle_power_is_the_energy_models_leakage_rate():
    """A run on one tile leaks idle_power_mw(tiles=1) x its time, whatever it computes."""
    cfg = load_config(None, TILE + ["organization.tiles=1"])
    nb = NetworkBuilder((16,))
    net = nb.network(nb.relu(nb.fc("x", 8)))
    mapping = map_network(net, cfg)
    result = SimResult("analytical", 1000, [LayerStats("fc0", "fc", 0, 900),
                                            LayerStats("relu1", "relu", 0, 1000)])
    energy = compute_energy(result, cfg, place(net, mapping), mapping)
    assert energy.components()["leakage"] == pytest.approx(idle_power_mw(cfg, tiles=1) * 1000)


def test_isaac_matches_its_component_table():
    """isaac.yaml at full activity: ISAAC's IMA (24.09 mW) and tile (330 mW, plus reramsim's
    element-wise and other units, 2 x 0.8 mW), its 41.3 TOPS."""
    cfg = load_config("isaac")
    terms = full_activity_power(cfg)
    pe_keys = ("adc.", "dac.", "sample_hold.", "crossbar.", "shift_add.", "pe.")
    ima = sum(t.mw for t in terms if t.config_key.startswith(pe_keys)) / 12
    assert ima == pytest.approx(24.09, rel=0.01)
    assert sum(t.mw for t in terms) == pytest.approx(330.0 + 1.6, rel=0.01)
    assert peak_ops_per_ns(cfg) / 1e3 == pytest.approx(41.3, rel=0.01)
