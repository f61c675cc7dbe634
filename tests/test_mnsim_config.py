"""hw_configs/mnsim.yaml: MNSIM-2.0's default hardware, and a zoo model simulated on it."""
from __future__ import annotations

import math

import pytest

from reramsim.config import load_config
from reramsim.pipeline import load_model, simulate
from reramsim.report import build_report


def test_values_follow_mnsim_simconfig_and_its_component_models():
    """The SimConfig.ini numbers, and the derived ones recomputed from MNSIM-2.0's formulas."""
    cfg = load_config("mnsim")
    assert (cfg.crossbar.rows, cfg.crossbar.cols, cfg.crossbar.cell_bits) == (256, 256, 1)
    assert (cfg.precision.weight_bits, cfg.precision.input_bits) == (9, 9)
    assert (cfg.precision.signed_weights, cfg.crossbar.subtract) == ("differential", "analog")
    assert (cfg.dac.bits, cfg.adc.bits, cfg.adc.count, cfg.adc.shared_by_crossbars) == (
        1, 8, 128, 2)
    assert (cfg.organization.crossbars_per_pe, cfg.organization.pes_per_tile,
            cfg.organization.tiles) == (2, 4, 64 * 64)
    assert (cfg.buffers.input.width_bits, cfg.buffers.input.access_ns) == (64, 20)
    assert cfg.clock_mhz == 500 and cfg.crossbar.read_latency_ns == 3.16
    r_mid = math.sqrt(1e6 * 1e4)  # Device_Resistance 1e6, 1e4: MNSIM's default resistance
    read_pj = (0.0 ** 2 + 0.15 ** 2) / 2 / r_mid * 3.16e-9 * 1e12
    write_pj = ((0 + 3) / 2) ** 2 / r_mid * 10e-9 * 1e12
    assert cfg.crossbar.cell_read_energy_pj == pytest.approx(read_pj, rel=1e-3)
    assert cfg.crossbar.cell_write_energy_pj == pytest.approx(write_pj)
    assert cfg.adc.energy_pj == pytest.approx((8 + 2) / 1.0 * 2e-3 * 1e3)  # 10 ns x 2 mW
    assert 1 / cfg.adc.sample_rate_gsps == pytest.approx(8 + 2)
    assert cfg.crossbar.area_um2 == pytest.approx(1.44 * 256 * 256, abs=1)


def test_lenet_on_mnsim_converts_each_differential_pair_once():
    """LeNet on mnsim: conversions per pixel = row blocks x Cout x 9 slices x 9 input steps,
    one per pair (analog subtraction); digital subtraction converts twice as many."""
    network = load_model("lenet")
    analog = build_report(simulate(network, "mnsim", engine="analytical"))
    digital = build_report(simulate(network, "mnsim", ["crossbar.subtract=digital"],
                                    engine="analytical"))
    expected = sum(layer.out_pixels * layer.groups * -(-layer.rows // 256) * layer.cols * 9 * 9
                   for layer in network.weight_layers())
    conversions = [sum(lay["counts"]["adc_conversion"] for lay in r["layers"])
                   for r in (analog, digital)]
    assert conversions == [expected, 2 * expected]
    assert analog["totals"]["energy_pj"] < digital["totals"]["energy_pj"]
    assert analog["programming"]["cells"] > 0 and not analog["programming"]["in_run"]
