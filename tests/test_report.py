"""Report: JSON keys and totals, the terminal table, CSV, and scheme comparisons."""
import copy
import csv
import io
import json
from dataclasses import dataclass

import numpy as np
import pytest

from reramsim.config import Config, load_config
from reramsim.energy import COMPONENTS
from reramsim.ir import Layer, Network, WeightLayer
from reramsim.mapping import NetworkMapping, map_network
from reramsim.placement import Placement, place
from reramsim.report import (
    ReportError,
    build_report,
    compare,
    compare_rows,
    format_table,
    report_csv,
    write_csv,
    write_json,
)
from reramsim.stats import LayerStats, SimResult


@dataclass
class FakeSimulation:
    """The shape of ``reramsim.simulator.Simulation``, filled by hand."""

    network: Network
    config: Config
    mapping: NetworkMapping
    placement: Placement
    result: SimResult


def lenet_like() -> Network:
    """conv 5x5 1->6, relu, maxpool, flatten, fc 96->10: two weight and three digital layers."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((6, 1, 5, 5)).astype(np.float32)
    w2 = rng.standard_normal((10, 96)).astype(np.float32)
    w2[:, :48] = 0.0  # half the fc weights pruned
    return Network("lenet_like", {"x": (1, 12, 12)}, ["y"], [
        WeightLayer("conv", "conv", ("x",), "c", ((1, 12, 12),), (6, 8, 8),
                    weight=w1, kernel=(5, 5)),
        Layer("relu", "relu", ("c",), "r", ((6, 8, 8),), (6, 8, 8)),
        Layer("pool", "maxpool", ("r",), "p", ((6, 8, 8),), (6, 4, 4)),
        Layer("flat", "flatten", ("p",), "f", ((6, 4, 4),), (96,)),
        WeightLayer("fc", "fc", ("f",), "y", ((96,),), (10,), weight=w2),
    ])


def fake_simulation(config: str = "isaac", overrides=(), cycles: int = 5000) -> FakeSimulation:
    """A dense mapping and placement of :func:`lenet_like` with hand-made engine results."""
    cfg = load_config(config, list(overrides))
    net = lenet_like()
    mapping = map_network(net, cfg)
    result = SimResult("analytical", cycles, [
        LayerStats("conv", "conv", 0, 4000, counts={"ou_step": 1024, "adc_conversion": 9000,
                                                    "dac_conversion": 2000, "cell_read": 99},
                   busy_cycles={"crossbar": 3000, "adc": 1000}, stall_cycles={"adc": 12},
                   instances={"crossbar": 1, "adc": 1}),
        LayerStats("relu", "relu", 10, 4010, counts={"activation_op": 384}),
        LayerStats("pool", "maxpool", 20, 4020, counts={"pooling_op": 384}),
        LayerStats("flat", "flatten", 4020, 4020),
        LayerStats("fc", "fc", 4020, cycles, counts={"adc_conversion": 160, "accumulate": 10}),
    ])
    return FakeSimulation(net, cfg, mapping, place(net, mapping), result)


def test_json_has_the_promised_keys():
    """The report carries model, config, scheme, engine, totals, layers and both breakdowns."""
    report = build_report(fake_simulation())
    for key in ("model", "config", "scheme", "engine", "totals", "layers", "energy_breakdown",
                "area_breakdown", "accelerator"):
        assert key in report
    assert (report["model"], report["config"], report["scheme"], report["engine"]) == \
        ("lenet_like", "isaac", "dense", "analytical")
    assert set(report["totals"]) >= {"latency_ns", "energy_pj", "area_um2", "crossbars", "cycles"}
    for layer in report["layers"]:
        assert set(layer) >= {"name", "op", "rows", "cols", "crossbars", "ous", "latency_ns",
                              "energy_pj", "counts", "busy_cycles", "stall_cycles", "utilisation"}
    assert set(report["energy_breakdown"]) == set(COMPONENTS)
    json.loads(json.dumps(report))  # plain JSON, no numpy values


def test_totals_equal_the_sum_of_layers():
    """Energy, crossbars and OUs of the totals are the sums over layers; latency is end to end."""
    report = build_report(fake_simulation(overrides=["buffers.input.leakage_mw=1"]))
    layers, totals = report["layers"], report["totals"]
    assert totals["energy_pj"] == pytest.approx(sum(x["energy_pj"] for x in layers))
    assert totals["crossbars"] == sum(x["crossbars"] for x in layers)
    assert totals["ous"] == sum(x["ous"] for x in layers)
    assert totals["cycles"] == 5000 and totals["latency_ns"] == pytest.approx(5000.0)
    breakdown = report["energy_breakdown"]
    assert totals["energy_pj"] == pytest.approx(sum(c["energy_pj"] for c in breakdown.values()))
    assert breakdown["leakage"]["energy_pj"] == pytest.approx(1 * 5000.0)  # 1 tile, 1 mW, 5000 ns
    area = report["area_breakdown"]
    assert totals["area_um2"] == pytest.approx(sum(c["area_um2"] for c in area.values()))


def test_breakdown_terms_trace_to_config_entries():
    """Each energy term is count x per-event energy, naming the config entry it came from."""
    report = build_report(fake_simulation())
    adc = report["energy_breakdown"]["adc"]
    assert adc["terms"] == [{"source": "adc_conversion", "config_key": "adc.energy_pj",
                             "count": 9160, "per_unit": 1.5625, "unit": "pJ/event",
                             "time_ns": None, "energy_pj": pytest.approx(9160 * 1.5625)}]
    assert adc["energy_pj"] == pytest.approx(9160 * 1.5625)
    xbars = report["area_breakdown"]["crossbar"]["terms"][0]
    assert (xbars["count"], xbars["um2_each"], xbars["config_key"]) == \
        (168 * 12 * 8, 25.0, "crossbar.area_um2")


def test_layer_entries():
    """Weight layers carry their matrix and crossbars; digital layers have rows/cols/XBs = 0."""
    layers = {x["name"]: x for x in build_report(fake_simulation())["layers"]}
    conv = layers["conv"]
    assert (conv["rows"], conv["cols"], conv["crossbars"]) == (25, 6, 1)
    assert layers["fc"]["nonzero_weights"] == 480 and layers["fc"]["weights"] == 960
    for name in ("relu", "pool", "flat"):
        assert (layers[name]["rows"], layers[name]["cols"], layers[name]["crossbars"]) == (0, 0, 0)
    assert layers["conv"]["utilisation"] == {"crossbar": 0.75, "adc": 0.25}
    assert layers["conv"]["stall_cycles"] == {"adc": 12}


def test_table_is_self_explanatory():
    """The table names its units, has a totals line, both breakdowns and a legend."""
    text = format_table(build_report(fake_simulation()))
    for needle in ("latency [", "energy [", "XBs", "OUs", "total", "energy by component",
                   "area by component", "legend:", "adc.energy_pj", "crossbar.area_um2"):
        assert needle in text, needle
    assert text.count("\n") < 60


def test_csv_parses_one_row_per_layer(tmp_path):
    """The CSV has a header and one row per layer whose energies match the JSON."""
    report = build_report(fake_simulation())
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert [r["name"] for r in rows] == [x["name"] for x in report["layers"]]
    assert float(rows[0]["energy_pj"]) == pytest.approx(report["layers"][0]["energy_pj"])
    assert int(rows[0]["count_adc_conversion"]) == 9000 and rows[0]["stall_adc"] == "12"
    write_csv(report, tmp_path / "r.csv")
    write_json(report, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["totals"] == report["totals"]


def test_write_to_a_bad_path_names_the_file(tmp_path):
    """Writing a report where it cannot go raises ReportError naming the path."""
    with pytest.raises(ReportError, match="nowhere/r.json"):
        write_json({}, tmp_path / "nowhere" / "r.json")


def pruned_variant(dense: dict, crossbars: int, cycles_div: float, energy_div: float,
                   nonzero: int) -> dict:
    report = copy.deepcopy(dense)
    report["scheme"] = "segprune"
    t = report["totals"]
    t["crossbars"], t["nonzero_weights"] = crossbars, nonzero
    t["latency_ns"] /= cycles_div
    t["energy_pj"] /= energy_div
    report["accelerator"]["pruned_datapath_overhead_pct"] = 0.25
    return report


def test_compare_against_dense():
    """compare: CR on XBs, speedup, energy reduction and pruning ratio are dense / scheme."""
    dense = build_report(fake_simulation())
    weights = dense["totals"]["weights"]
    seg = pruned_variant(dense, crossbars=1, cycles_div=4.0, energy_div=2.5, nonzero=weights // 8)
    rows = compare_rows([seg, dense])
    assert rows[1]["scheme"] == "dense" and rows[1]["speedup"] == 1.0
    assert rows[0]["cr_xbs"] == pytest.approx(dense["totals"]["crossbars"] / 1)
    assert rows[0]["speedup"] == pytest.approx(4.0)
    assert rows[0]["energy_reduction"] == pytest.approx(2.5)
    assert rows[0]["pruning_ratio"] == pytest.approx(weights / (weights // 8))
    text = compare([dense, seg])
    assert "CR on XBs" in text and "segprune" in text and "4.00x" in text


def test_compare_needs_same_hardware_and_a_baseline():
    """Reports from different hardware or without a dense one are refused."""
    dense = build_report(fake_simulation())
    other = build_report(fake_simulation(overrides=["adc.bits=6"]))
    with pytest.raises(ReportError, match="same config"):
        compare_rows([dense, other])
    with pytest.raises(ReportError, match="no dense report"):
        compare_rows([pruned_variant(dense, 1, 1, 1, 1)])


@pytest.mark.parametrize("engine", ["analytical", "cycle"])
def test_report_of_a_real_simulation(engine, repo_root):
    """On LeNet-5, each layer's energy is its counts x config prices plus its share of the
    eDRAM's static power, and totals add up."""
    from reramsim.energy import EVENT_ENERGY, config_value
    from reramsim.onnx_import import load_onnx
    from reramsim.simulator import registered_engines, simulate

    if engine not in registered_engines():
        pytest.skip(f"engine {engine!r} not built")
    cfg = load_config("ou_16x16")
    sim = simulate(load_onnx(repo_root / "models" / "lenet.onnx"), cfg, engine=engine)
    report = build_report(sim)
    static = 0.0
    for layer in report["layers"]:
        by_hand = sum(n * config_value(cfg, EVENT_ENERGY[k][1]) for k, n in layer["counts"].items()
                      if EVENT_ENERGY[k][1] is not None)
        assert layer["energy_pj"] >= by_hand - 1e-6, layer["name"]
        static += layer["energy_pj"] - by_hand
    assert static == pytest.approx(sim.placement.n_tiles * 0.25 * report["totals"]["latency_ns"])
    layers_pj = sum(x["energy_pj"] for x in report["layers"])
    assert report["totals"]["energy_pj"] == pytest.approx(layers_pj)
    assert report["totals"]["crossbars"] == 42
    assert bool(report["resources"]) == (engine == "cycle")
    json.loads(json.dumps(report))
