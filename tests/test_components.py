"""Per-unit costs that follow a component's size (reramsim.config.costs) and the
input-buffer live-window check (reramsim.buffer_fit), against the published table and
hand-worked cases."""
from __future__ import annotations

import json

import numpy as np
import pytest

from reramsim.builder import NetworkBuilder
from reramsim.buffer_fit import input_buffer_fit
from reramsim.cli import main
from reramsim.config import ConfigError, load_config
from reramsim.config.costs import resolve_cost
from reramsim.energy import config_value
from reramsim.report import build_report, format_table
from reramsim.simulator import simulate

#: ISAAC's ADC by bits as hwcomponents-library's isaac.py prints it (pJ, um^2), typed here
#: from the source, not imported.
PUBLISHED_ADC = {4: (0.79, 361.04), 5: (0.99, 476.91), 6: (1.20, 626.91), 7: (1.42, 845.18),
                 8: (1.667, 1200.0), 9: (1.969078145, 1827.911647),
                 10: (2.379022742, 3002.008032)}


@pytest.mark.parametrize("bits", sorted(PUBLISHED_ADC))
def test_adc_cost_at_each_table_entry(bits):
    """A config that leaves the ADC's energy and area out gets the table's row for adc.bits."""
    cfg = load_config(None, [f"adc.bits={bits}"])
    energy, area = PUBLISHED_ADC[bits]
    assert config_value(cfg, "adc.energy_pj") == pytest.approx(energy, rel=1e-12)
    assert config_value(cfg, "adc.area_um2") == pytest.approx(area, rel=1e-12)
    assert resolve_cost(cfg, "adc.energy_pj").origin == f"ISAAC ADC table at {bits} bits"


@pytest.mark.parametrize("bits, steps, end, inner", [(12, 2, 10, 9), (3, 1, 4, 5), (1, 3, 4, 5)])
def test_adc_cost_outside_the_table_continues_geometrically(bits, steps, end, inner):
    """Outside 4-10 bits: the end entry times the end pair's ratio per bit, labelled."""
    cfg = load_config(None, [f"adc.bits={bits}"])
    (e_end, a_end), (e_in, a_in) = PUBLISHED_ADC[end], PUBLISHED_ADC[inner]
    assert config_value(cfg, "adc.energy_pj") == pytest.approx(e_end * (e_end / e_in) ** steps)
    assert config_value(cfg, "adc.area_um2") == pytest.approx(a_end * (a_end / a_in) ** steps)
    assert "extrapolated" in resolve_cost(cfg, "adc.area_um2").origin
    assert "reconstruction" in resolve_cost(cfg, "adc.area_um2").origin


@pytest.mark.parametrize("bits", [4, 6, 8, 10])
def test_isaac_paper_figures_follow_bits_by_the_table(bits):
    """isaac.yaml gives ISAAC's paper figures for 8 bits (1.5625 pJ = 2 mW / 1.28 GS/s,
    1200 um^2; adc.cost_bits: 8): another resolution scales them by the table's ratio."""
    cfg = load_config("isaac", [f"adc.bits={bits}"])
    energy, area = PUBLISHED_ADC[bits]
    assert config_value(cfg, "adc.energy_pj") == pytest.approx(1.5625 * energy / 1.667)
    assert config_value(cfg, "adc.area_um2") == pytest.approx(1200.0 * area / 1200.0)
    origin = resolve_cost(cfg, "adc.energy_pj").origin
    assert origin == ("config value" if bits == 8 else
                      f"config value 1.5625 at 8 bits x ISAAC ADC table {bits}-bit / 8-bit "
                      f"ratio {energy / 1.667:.4g}")


def test_explicit_adc_values_win():
    """FORMS's own 4-bit ADC (0.226 pJ, 284 um^2) wins over the table at 4 bits, follows the
    table's ratio at 6 (cost_bits: 4), and applies at every resolution with cost_bits null;
    null energy restores the table."""
    forms = load_config("forms")
    assert (config_value(forms, "adc.energy_pj"), config_value(forms, "adc.area_um2")) == \
        (0.226, 284.0)
    assert resolve_cost(forms, "adc.energy_pj").origin == "config value"
    six = load_config("forms", ["adc.bits=6"])
    assert config_value(six, "adc.energy_pj") == pytest.approx(0.226 * 1.20 / 0.79)
    assert config_value(six, "adc.area_um2") == pytest.approx(284 * 626.91 / 361.04)
    fixed = load_config("forms", ["adc.bits=6", "adc.cost_bits=null"])
    assert config_value(fixed, "adc.energy_pj") == 0.226
    table = load_config("forms", ["adc.energy_pj=null"])
    assert config_value(table, "adc.energy_pj") == 0.79
    assert config_value(table, "adc.area_um2") == 284.0  # still the config's
    mixed = load_config(None, ["adc.bits=6", "adc.area_um2=500"])
    assert (config_value(mixed, "adc.energy_pj"), config_value(mixed, "adc.area_um2")) == \
        (1.20, 500.0)


@pytest.mark.parametrize("sets, energy, area", [
    # 64 KiB, 256 bits: ISAAC's eDRAM itself
    ([], 20.45, 83000.0),
    # 16 KiB, 256 bits: depth 512 of 2048; area x 1/4; energy x (1/4)^0.78 = 0.339151
    (["buffers.input.size_kb=16"], 20.45 * 0.3391513, 20750.0),
    # 64 KiB, 128 bits: depth 4096; energy x 1/2 x 2^0.78 = 0.858565; area unchanged
    (["buffers.input.width_bits=128"], 20.45 * 0.8585654, 83000.0),
])
def test_buffer_cost_from_size(sets, energy, area):
    """The input buffer's energy and area scale from ISAAC's 64 KiB eDRAM (hand-worked)."""
    cfg = load_config("isaac", sets)
    assert config_value(cfg, "buffers.input.energy_pj") == pytest.approx(energy, rel=1e-6)
    assert config_value(cfg, "buffers.input.area_um2") == pytest.approx(area, rel=1e-12)
    explicit = load_config("isaac", [*sets, "buffers.input.energy_pj=5"])
    assert config_value(explicit, "buffers.input.energy_pj") == 5.0


def test_adc_bits_changes_the_report_and_says_why(repo_root, tmp_path, capsys):
    """simulate --set adc.bits=6 on isaac: ADC energy and area at 1.5625 x 1.20 / 1.667 pJ
    and 626.91 um^2, with the table's ratio named in the JSON and the text."""
    out = tmp_path / "r.json"
    assert main(["simulate", str(repo_root / "models" / "lenet.onnx"), "--hw", "isaac",
                 "--engine", "analytical", "--set", "adc.bits=6", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    report = json.loads(out.read_text())
    energy = 1.5625 * 1.20 / 1.667
    cost = report["component_costs"]["adc.energy_pj"]
    assert cost["value"] == pytest.approx(energy) and cost["derived"]
    assert cost["origin"] == "config value 1.5625 at 8 bits x ISAAC ADC table 6-bit / 8-bit " \
                             "ratio 0.7199"
    (term,) = report["energy_breakdown"]["adc"]["terms"]
    assert term["per_unit"] == pytest.approx(energy)
    assert report["energy_breakdown"]["adc"]["energy_pj"] == pytest.approx(term["count"] * energy)
    (adcs,) = report["area_breakdown"]["adc"]["terms"]
    assert adcs["um2_each"] == pytest.approx(626.91)
    assert "adc.energy_pj = 1.125 pJ: config value 1.5625 at 8 bits x ISAAC ADC table" in text
    assert "buffers.output.area_um2 = 3,200 um^2: config value" in text
    eight = build_report(simulate(_lenet(repo_root), load_config("isaac"), engine="analytical"))
    assert eight["area_breakdown"]["adc"]["area_um2"] == pytest.approx(
        report["area_breakdown"]["adc"]["area_um2"] * 1200.0 / 626.91)


def _lenet(repo_root):
    from reramsim.pipeline import load_model

    return load_model(repo_root / "models" / "lenet.onnx")


def _small_net():
    """conv 3x3 (4 -> 8) on 4x10x10, relu, maxpool 2/2, flatten, fc 128 -> 10."""
    nb = NetworkBuilder((4, 10, 10), name="small")
    x = nb.maxpool(nb.relu(nb.conv("x", 8, 3)), 2, 2)
    return nb.network(nb.fc(nb.flatten(x), 10))


def test_live_inputs_by_hand():
    """16-bit inputs: conv 3x3 on width 10 holds (3-1) x 10 + 3 = 23 pixels x 4 channels
    x 2 B = 184 B; relu one pixel of 8 channels (16 B); maxpool 2x2 on width 8 holds
    1 x 8 + 2 = 10 pixels x 8 x 2 = 160 B; flatten and fc the whole 128 values (256 B).
    Layer pipelining holds every input whole."""
    net = _small_net()
    cfg = load_config("isaac", ["organization.tiles=0"])
    sim = simulate(net, cfg, engine="analytical")
    fits = {f.layer: f.live_bytes for f in input_buffer_fit(net, cfg, sim.placement)}
    assert fits == {"conv0": 184, "relu1": 16, "maxpool2": 160, "flatten3": 256, "fc4": 256}
    layer = load_config("isaac", ["organization.tiles=0", "pipeline.mode=layer"])
    whole = {f.layer: f.live_bytes for f in input_buffer_fit(net, layer, sim.placement)}
    assert whole["conv0"] == 100 * 4 * 2 and whole["relu1"] == 64 * 8 * 2


def _brute_live_pixels(h, w, k, s, pad, dil):
    """Live pixels of a k x k conv by enumeration: at each output pixel, the inputs that
    have arrived (everything up to the largest index any output so far needed) from the
    smallest index that this or any later output still needs."""
    ho = (h + 2 * pad - dil * (k - 1) - 1) // s + 1
    wo = (w + 2 * pad - dil * (k - 1) - 1) // s + 1
    fields = []
    for oy in range(ho):
        for ox in range(wo):
            idx = [y * w + x for i in range(k) for j in range(k)
                   for y, x in [(oy * s - pad + i * dil, ox * s - pad + j * dil)]
                   if 0 <= y < h and 0 <= x < w]
            fields.append(idx)
    best, arrived = 0, 0
    for p, idx in enumerate(fields):
        arrived = max(arrived, max(idx) + 1)
        oldest = min(min(f) for f in fields[p:])
        best = max(best, arrived - oldest)
    return best, (ho, wo)


@pytest.mark.parametrize("h, w, k, s, pad, dil", [(10, 10, 3, 1, 0, 1), (9, 11, 3, 2, 1, 1),
                                                  (12, 12, 5, 1, 2, 1), (10, 10, 2, 3, 0, 1),
                                                  (11, 9, 3, 1, 2, 2)])
def test_live_window_matches_enumeration(h, w, k, s, pad, dil):
    """live_input_pixels == the brute-force count over strides, padding and dilation."""
    from reramsim.ir import WeightLayer
    from reramsim.plan import live_input_pixels

    expected, (ho, wo) = _brute_live_pixels(h, w, k, s, pad, dil)
    layer = WeightLayer("c", "conv", ("x",), "c", ((1, h, w),), (1, ho, wo),
                        weight=np.ones((1, 1, k, k), np.float32), kernel=(k, k),
                        stride=(s, s), pads=(pad, pad, pad, pad), dilation=(dil, dil))
    assert live_input_pixels(layer, (1, h, w), "pixel") == expected


def test_buffer_overflow_is_reported(tmp_path):
    """A 128-byte input buffer: the report names each layer that does not fit, with the
    bytes needed and available, in the JSON and in the text."""
    net = _small_net()
    cfg = load_config("isaac", ["organization.tiles=0", "buffers.input.size_kb=0.125"])
    report = build_report(simulate(net, cfg, engine="analytical"))
    entry = report["input_buffer"]
    assert entry["available_bytes"] == 128
    assert [(o["layer"], o["live_bytes"], o["available_bytes"]) for o in entry["overflows"]] \
        == [("conv0", 184, 128), ("maxpool2", 160, 128), ("flatten3", 256, 128),
            ("fc4", 256, 128)]
    text = format_table(report)
    assert "input buffer of 128 B: live inputs that do not fit" in text
    assert "conv0 (tile 0): needs 184 B alone" in text
    roomy = build_report(simulate(net, load_config("isaac", ["organization.tiles=0"]),
                                  engine="analytical"))
    assert roomy["input_buffer"]["overflows"] == roomy["input_buffer"]["tile_overflows"] == []
    assert "every tile's layers' live inputs fit its 65,536 B" in format_table(roomy)


def test_layers_sharing_a_tile_are_added_up():
    """A 512-byte buffer holds each layer alone (at most 256 B) but not the five layers of
    tile 0 together: 184 + 16 + 160 + 256 + 256 = 872 B."""
    net = _small_net()
    cfg = load_config("isaac", ["organization.tiles=0", "buffers.input.size_kb=0.5"])
    sim = simulate(net, cfg, engine="analytical")
    assert set(sim.placement.layer_tile.values()) == {0}
    report = build_report(sim)
    assert report["input_buffer"]["overflows"] == []
    assert report["input_buffer"]["tile_overflows"] == [{
        "tile": 0, "layers": ["conv0", "relu1", "maxpool2", "flatten3", "fc4"],
        "live_bytes": 872, "available_bytes": 512}]
    assert "tile 0: its 5 layers need 872 B together" in format_table(report)


@pytest.mark.parametrize("sets, match", [
    (["buffers.input.size_kb=0"],
     r"^--set buffers.input.size_kb=0: buffers.input.size_kb: 0 \(unbounded\) gives no size "
     r"to derive buffers.input.energy_pj and buffers.input.area_um2 from"),
    (["adc.energy_pj=-1"], r"^--set adc.energy_pj=-1: adc.energy_pj: expected a number in "
                           r"\[0, 1e\+12\], or null, got -1"),
    (["buffers.output.area_um2=big"],
     r"buffers.output.area_um2: expected a number in \[0, 1e\+12\], or null, got 'big'"),
])
def test_bad_cost_input_is_one_line(sets, match):
    """An unbounded buffer without explicit costs, or a bad cost: one line naming the key."""
    with pytest.raises(ConfigError, match=match) as err:
        load_config("isaac", sets)
    assert "\n" not in str(err.value)


def test_unbounded_buffer_with_explicit_costs_is_unchecked():
    """size_kb: 0 with both costs given loads; the live-input check is off."""
    net = _small_net()
    cfg = load_config("isaac", ["organization.tiles=0", "buffers.input.size_kb=0",
                                "buffers.input.energy_pj=20", "buffers.input.area_um2=1000"])
    report = build_report(simulate(net, cfg, engine="analytical"))
    assert report["input_buffer"]["available_bytes"] is None
    assert report["input_buffer"]["overflows"] == []
    assert "input buffer: unbounded" in format_table(report)


def test_tiny_derived_values_print_readably():
    """A 1e-9 KiB buffer's derived energy prints in e-notation, not 30 zeros."""
    net = _small_net()
    cfg = load_config("isaac", ["organization.tiles=0", "buffers.input.size_kb=1e-9"])
    text = format_table(build_report(simulate(net, cfg, engine="analytical")))
    energy = 20.45 * (1e-9 / 64) ** 0.78
    assert f"buffers.input.energy_pj = {energy:.4g} pJ: ISAAC eDRAM scaled to 1e-09 KiB" in text
