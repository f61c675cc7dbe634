"""Weight programming and reloaded runs: hand-worked on the TINY config of ``_timing_nets``.

TINY: 8x8 crossbars, 2-bit weights on 2-bit cells (one bit-line per weight), offset weights;
a fc 6->4 layer is one crossbar with an OU of 6 word-lines x 4 bit-lines; alone it takes
66 cycles (fetch 6 + crossbar 49 + accumulate 9 + output 2, ``test_analytical``).
"""
from __future__ import annotations

import json

import pytest
from _timing_nets import Net, config

from reramsim.config import ConfigError
from reramsim.mapping import MappingError, map_network
from reramsim.programming import weight_programming
from reramsim.report import build_report, format_table
from reramsim.simulator import simulate

#: one PE of one tile: room for one fc layer at a time; 5 ns write pulses, 0.5 pJ per cell
SMALL_CHIP = {"organization__tiles": 1, "organization__pes_per_tile": 1,
              "crossbar__write_latency_ns": 5, "crossbar__cell_write_energy_pj": 0.5}


def two_fc():
    nb = Net((6,))
    return nb.network(nb.fc(nb.fc("x", 4), 4))


def test_one_load_counts_every_used_cell_and_the_busiest_crossbars_word_lines():
    """fc 6->4 then fc 4->4: 24 + 16 cells; the first crossbar writes 6 word-lines (30 ns)."""
    cfg = config(crossbar__write_latency_ns=5, crossbar__cell_write_energy_pj=0.5)
    load = weight_programming(map_network(two_fc(), cfg))
    assert load.cells == 6 * 4 + 4 * 4 == 40
    assert (load.rows, load.cycles, load.time_ns) == (6, 30, 30.0)
    assert load.energy_pj == 40 * 0.5


def test_simulate_reports_the_load_apart_from_the_run():
    """Without reload the load is reported once and is in neither latency nor energy."""
    cfg = config(crossbar__write_latency_ns=5, crossbar__cell_write_energy_pj=0.5)
    report = build_report(simulate(two_fc(), cfg, engine="analytical"))
    prog = report["programming"]
    assert (prog["in_run"], prog["cells"], prog["time_ns"], prog["energy_pj"]) == (
        False, 40, 30.0, 20.0)
    assert report["energy_breakdown"]["programming"]["energy_pj"] == 0.0
    assert "weight programming, once per model load" in format_table(report)
    json.dumps(report)


@pytest.mark.parametrize("engine", ["analytical", "cycle", "pyref"])
def test_reload_runs_groups_in_turn_with_programming_between(engine):
    """Two fc layers on a one-PE chip: two groups.

    group 0: program fc0 (6 word-lines x 5 ns = 30), run fc0 alone (66);
    group 1: program fc1 (4 x 5 = 20), run fc1 on its input from the buffers:
    fetch 2 accesses x 2 = 4, crossbar 10 + 3*10 + 8 + 1 = 49, accumulate 4 offset + 3
    sum(x) = 7 additions -> 2 steps x 3 = 6, output 2 writes = 2: 61.
    Total 30 + 66 + 20 + 61 = 177; fc1 starts at 30 + 66 + 20 = 116.
    """
    cfg = config(**SMALL_CHIP, mapping__reload=True)
    sim = simulate(two_fc(), cfg, engine=engine)
    assert [g.layers for g in sim.groups] == [["fc0"], ["fc1"]]
    assert [g.programming.cycles for g in sim.groups] == [30, 20]
    assert [g.result.total_cycles for g in sim.groups] == [66, 61]
    assert sim.result.total_cycles == 30 + 66 + 20 + 61 == 177
    fc0, fc1 = sim.result.layers
    assert (fc0.start_cycle, fc0.end_cycle) == (30, 96)
    assert fc1.start_cycle == 116 and fc1.end_cycle == 177
    report = build_report(sim)
    assert report["programming"]["in_run"] and report["programming"]["cells"] == 40
    assert report["energy_breakdown"]["programming"]["energy_pj"] == 40 * 0.5
    assert report["totals"]["latency_ns"] == 177.0
    assert "reloaded: 2 groups" in format_table(report)


def test_reload_energy_is_the_groups_energy_plus_programming():
    """Each layer's dynamic energy is what it costs run alone; writes add 0.5 pJ per cell."""
    cfg = config(**SMALL_CHIP, mapping__reload=True)
    nb = Net((6,))
    alone = build_report(simulate(nb.network(nb.fc("x", 4)), config(**SMALL_CHIP),
                                  engine="analytical"))
    report = build_report(simulate(two_fc(), cfg, engine="analytical"))
    fc0 = report["layers"][0]["energy_pj_by_component"]
    assert fc0["programming"] == 24 * 0.5
    assert fc0["adc"] == alone["layers"][0]["energy_pj_by_component"]["adc"]


def test_stream_programs_each_group_once_per_stream():
    """3 images: each group streams all three before the next group is programmed."""
    cfg = config(**SMALL_CHIP, mapping__reload=True)
    sim = simulate(two_fc(), cfg, engine="analytical", images=3)
    streams = [g.stream.total_cycles for g in sim.groups]
    assert sim.stream.total_cycles == 30 + streams[0] + 20 + streams[1]
    assert sim.throughput.ii_cycles == -(-sim.stream.total_cycles // 3)


def test_without_reload_a_model_too_large_for_one_chip_is_an_error():
    with pytest.raises(MappingError, match="needs 2 chips .* or mapping.reload: true"):
        simulate(two_fc(), config(**SMALL_CHIP, organization__chips=1), engine="analytical")


def test_without_reload_a_model_too_large_for_the_chip_takes_more_chips():
    sim = simulate(two_fc(), config(**SMALL_CHIP), engine="analytical")
    assert sim.groups is None and sim.placement.n_chips == 2


def test_reload_of_a_layer_larger_than_the_chip_is_an_error():
    nb = Net((20,))
    net = nb.network(nb.fc("x", 4))  # 3 row blocks: 3 crossbars, 2 PEs
    with pytest.raises(MappingError, match="needs 2 PEs .* has 1"):
        simulate(net, config(**SMALL_CHIP, mapping__reload=True), engine="analytical")


def test_a_model_that_fits_runs_in_one_piece_with_reload_on():
    cfg = config(**dict(SMALL_CHIP, organization__pes_per_tile=2), mapping__reload=True)
    sim = simulate(two_fc(), cfg, engine="analytical")
    assert sim.groups is None
    assert not build_report(sim)["programming"]["in_run"]


@pytest.mark.parametrize("overrides,match", [
    ({"organization__tiles": 0}, "organization.tiles > 0"),
    ({"organization__tiles": 1, "mapping__replication": "balance"}, "mapping.replication: none"),
])
def test_reload_config_checks(overrides, match):
    with pytest.raises(ConfigError, match=match):
        config(mapping__reload=True, **overrides)


def test_reload_trace_holds_every_group_at_its_time(tmp_path):
    """The cycle engine's trace of a reloaded run: group g's processes are 2g and 2g + 1,
    its records shifted to its start (fc1's from cycle 116 to 177)."""
    path = tmp_path / "trace.json"
    simulate(two_fc(), config(**SMALL_CHIP, mapping__reload=True), engine="cycle", trace=path)
    doc = json.loads(path.read_text())
    work = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    group1 = [e for e in work if e["pid"] >= 2]
    assert group1 and all("fc1" in e["name"] for e in group1)
    assert min(e["ts"] for e in group1) >= 116
    assert max(e["ts"] + e["dur"] for e in work) <= 177
    assert doc["otherData"]["groups"] == 2 and not doc["otherData"]["truncated"]


def test_reload_refuses_a_crossbar_budget():
    from reramsim.simulator import SimulationError

    with pytest.raises(SimulationError, match="--budget 2: a reloaded run"):
        simulate(two_fc(), config(**SMALL_CHIP, mapping__reload=True), engine="analytical",
                 budget=2)
