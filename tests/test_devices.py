"""Tests for reramsim.devices and the device models in the functional model: hand-worked
crossbars for each effect, IR drop against a circuit solve, per-cell fault placement, seeds."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import reramsim.devices as devices
from reramsim.config import load_config
from reramsim.config.loader import ConfigError
from reramsim.devices import CellSites, DeviceModel, ReadNoise, adc_read, chip_seed, ir_drop
from reramsim.functional import FunctionalModel
from reramsim.ir import Network, WeightLayer
from reramsim.mapping import map_network

RNG = np.random.default_rng(11)

# The hand-worked fc 3 -> 1 of docs/functional.md: q = [7, 5, 6] (4-bit, s_w = 1/7), x = [3, 2, 1]
# (2-bit unsigned, s_x = 1), 2-bit cells (slices 0 and 1), a 1-bit DAC, one OU of 3 word-lines.
# Ideal: 7*3 + 5*2 + 6*1 = 37, y = 37/7.
HAND_W = np.array([[7.0, 5.0, 6.0]]) / 7
HAND_X = np.array([[3.0, 2.0, 1.0]])
HAND = ("precision.weight_bits=4", "precision.input_bits=2", "crossbar.cell_bits=2",
        "dac.bits=1", "adc.bits=8", "crossbar.rows=4", "crossbar.cols=4", "ou.rows=4",
        "ou.cols=4")


def fc_net(weight: np.ndarray) -> Network:
    """A one-layer network ``y = x @ weight.T``."""
    weight = np.asarray(weight, np.float32)
    cout, cin = weight.shape
    layer = WeightLayer("fc", "fc", ("x",), "y", ((cin,),), (cout,), weight=weight, bias=None)
    return Network("hand", {"x": (cin,)}, ["y"], [layer])


def hand_model(*overrides: str, seed: int = 0) -> FunctionalModel:
    return FunctionalModel(fc_net(HAND_W), load_config(None, [*HAND, *overrides]),
                           calibration=HAND_X, seed=seed)


def cell_id(model: FunctionalModel, row: int, col: int, slice_: int, polarity: int = 1) -> int:
    """The physical cell id (xbar, wl, bl) holding one weight slice in the model's mapping."""
    m = model.mapping.layers["fc"]
    cfg = model.config
    for k in range(m.n_ous):
        if m.xbar_polarity[m.ou_xbar[k]] != polarity:
            continue
        rows = m.ou_rows[m.ou_row_ptr[k]:m.ou_row_ptr[k + 1]]
        for j in range(m.ou_col_ptr[k], m.ou_col_ptr[k + 1]):
            if m.ou_cols[j] == col and m.ou_slices[j] == slice_ and row in rows:
                wl = m.ou_wl[m.ou_row_ptr[k] + int(np.flatnonzero(rows == row)[0])]
                return int((m.ou_xbar[k] * cfg.crossbar.rows + wl) * cfg.crossbar.cols + m.ou_bl[j])
    raise AssertionError("weight slice not mapped")


def one_faulty_cell(monkeypatch, target: int, u: float) -> None:
    """Make every cell draw 0.5 for its fault, except cell ``target``, which draws ``u``."""

    def draws(key: int, site: np.ndarray) -> np.ndarray:
        out = np.full(site.shape, 0.5)
        out[site == target] = u
        return out

    monkeypatch.setattr(devices, "_cell_uniforms", draws)


# --------------------------------------------------------------------------- config


def test_device_section_defaults_are_ideal():
    """The shipped ISAAC config and the defaults switch every device model off."""
    for cfg in (load_config("isaac"), load_config(None)):
        assert not DeviceModel(cfg).active and DeviceModel(cfg).leak == 0.0


@pytest.mark.parametrize("override, message", [
    ("device.r_off_ohm=1000", r"device.r_off_ohm: must be > device.r_on_ohm \(30000\)"),
    ("device.sa0_rate=1.5", r"device.sa0_rate: expected a number in \[0, 1\]"),
    ("device.distribution=uniform", "expected one of 'lognormal', 'normal'"),
    ("device.sigma=-0.1", r"device.sigma: expected a number in \[0, 10\]"),
])
def test_device_config_errors(override, message):
    """Impossible device parameters are one-line config errors naming the key."""
    with pytest.raises(ConfigError, match=message):
        load_config("isaac", [override])


def test_stuck_rates_must_sum_to_at_most_one():
    """A cell cannot be stuck at both states: sa0_rate + sa1_rate <= 1."""
    with pytest.raises(ConfigError, match=r"sa1_rate: must be <= 1 - device.sa0_rate \(0.4\)"):
        load_config("isaac", ["device.sa0_rate=0.6", "device.sa1_rate=0.5"])


# --------------------------------------------------------------------------- hand-worked cells


def test_all_off_is_todays_model():
    """Every device model off: no class is analog and outputs do not depend on the seed."""
    a, b = hand_model(seed=1), hand_model(seed=2)
    assert a.forward(HAND_X)[0, 0] == pytest.approx(37 / 7, abs=1e-12)
    np.testing.assert_array_equal(a.forward(HAND_X), b.forward(HAND_X))
    assert not any(cls.analog for cls in a.crossbar_layer("fc").classes)
    assert a.faulty_cells == 0


@pytest.mark.parametrize("polarity_scheme", ["offset", "differential"])
def test_one_stuck_at_0_cell(monkeypatch, polarity_scheme):
    """Slice 1 of weight 0 stuck at level 0 loses 2^2 * (its level) * x0 from the sum."""
    probe = hand_model(f"precision.signed_weights={polarity_scheme}")
    one_faulty_cell(monkeypatch, cell_id(probe, row=0, col=0, slice_=1), u=0.0)
    model = hand_model(f"precision.signed_weights={polarity_scheme}", "device.sa0_rate=0.01")
    # offset: u0 = 7 + 8 = 15, slice 1 = 3; differential: q0 = 7, slice 1 = 1.
    level = 3 if polarity_scheme == "offset" else 1
    assert model.faulty_cells == 1
    assert model.forward(HAND_X)[0, 0] == pytest.approx((37 - 4 * level * 3) / 7, abs=1e-9)


def test_one_stuck_at_1_cell(monkeypatch):
    """Slice 0 of weight 1 (level 1) stuck at level 3 adds (3 - 1) * x1 = 4: y = 41/7."""
    probe = hand_model("precision.signed_weights=differential")
    one_faulty_cell(monkeypatch, cell_id(probe, row=1, col=0, slice_=0), u=1.0 - 1e-9)
    model = hand_model("precision.signed_weights=differential", "device.sa1_rate=0.001")
    assert model.faulty_cells == 1
    assert model.forward(HAND_X)[0, 0] == pytest.approx(41 / 7, abs=1e-9)


def test_stuck_on_negative_array_cell(monkeypatch):
    """A stuck-on cell of the negative array subtracts: slice 0 of weight 2 at 3, -3*x2 = -3."""
    probe = hand_model("precision.signed_weights=differential")
    one_faulty_cell(monkeypatch, cell_id(probe, row=2, col=0, slice_=0, polarity=-1),
                    u=1.0 - 1e-9)
    model = hand_model("precision.signed_weights=differential", "device.sa1_rate=0.001")
    assert model.forward(HAND_X)[0, 0] == pytest.approx(34 / 7, abs=1e-9)


def test_stuck_negative_cell_with_analog_subtraction(monkeypatch):
    """Analog subtraction programs each array's cells on their own sites: the stuck-on
    negative cell (level 3 under slice 0 of weight 2) enters the pair's difference,
    -3 * x2 = -3 as with digital subtraction (a 4-bit signed ADC, codes -7..7, never clips:
    slice 0 reads [3, 1, 2] - [0, 0, 3] -> 2 and 4, slice 1 reads 2 and 2)."""
    analog = ("precision.signed_weights=differential", "crossbar.subtract=analog",
              "adc.bits=4")
    probe = hand_model(*analog)
    one_faulty_cell(monkeypatch, cell_id(probe, row=2, col=0, slice_=0, polarity=-1),
                    u=1.0 - 1e-9)
    model = hand_model(*analog, "device.sa1_rate=0.001")
    assert model.faulty_cells == 1
    assert model.forward(HAND_X)[0, 0] == pytest.approx(34 / 7, abs=1e-9)
    assert model.adc_stats["fc"].samples == 4  # 2 channels x 2 steps
    assert model.adc_stats["fc"].clipped == 0


def test_analog_subtraction_cancels_the_leak():
    """Both arrays of a pair leak the same off-state current, so their difference does not:
    with a finite r_off analog subtraction reads the ideal 37/7 (4-bit signed ADC)."""
    model = hand_model("precision.signed_weights=differential", "crossbar.subtract=analog",
                       "adc.bits=4", "device.r_on_ohm=10000", "device.r_off_ohm=100000")
    assert model.forward(HAND_X)[0, 0] == pytest.approx(37 / 7, abs=1e-9)


def test_off_cell_leak_offset_adds_known_current():
    """r_off = 4 r_on, 2-bit cells: every cell leaks 3/(4-1) = 1 level: +(1 + 4) * (3+2+1)."""
    model = hand_model("device.r_on_ohm=10000", "device.r_off_ohm=40000")
    assert model.device.leak == pytest.approx(1.0)
    assert model.forward(HAND_X)[0, 0] == pytest.approx((37 + 5 * 6) / 7, abs=1e-9)


def test_off_cell_leak_cancels_in_differential_pairs():
    """Both arrays of a pair read the same leak on the same inputs: it cancels digitally."""
    model = hand_model("precision.signed_weights=differential", "device.r_on_ohm=10000",
                       "device.r_off_ohm=40000")
    assert model.forward(HAND_X)[0, 0] == pytest.approx(37 / 7, abs=1e-9)


def test_leak_rounds_at_the_adc():
    """A leak of 1/3 level per cell: the unit ADC rounds each step's sum to the nearest code."""
    # offset, r_off = 10 r_on: leak = 3/9. Slice 0 = [3, 1, 2], slice 1 = [3, 3, 3];
    # step 0 drives rows 0, 2 (+2/3), step 1 rows 0, 1 (+2/3): every sum gains 0.67 -> +1.
    model = hand_model("device.r_on_ohm=10000", "device.r_off_ohm=100000")
    # each of the 4 samples reads one more: (1 + 2) * (1 + 4) = 15 more than 37.
    assert model.forward(HAND_X)[0, 0] == pytest.approx((37 + 15) / 7, abs=1e-9)


def test_read_noise_variance_matches_shift_and_add():
    """Per-conversion noise sigma adds variance sigma^2 * sum_s 4^s * sum_t 16^t (one column)."""
    x = np.tile(HAND_X, (20000, 1))
    model = FunctionalModel(fc_net(HAND_W), load_config(None, [
        *HAND, "adc.ideal=true", "precision.signed_weights=offset",
        "device.read_noise_sigma=0.5"]), calibration=HAND_X)
    y = model.forward(x)[:, 0] * 7  # back to integer units (s_x = 1, s_w = 1/7)
    expected_std = 0.5 * np.sqrt((1 + 4) * (1 + 16))
    assert y.mean() == pytest.approx(37, abs=0.1)
    assert y.std() == pytest.approx(expected_std, rel=0.03)


def test_read_noise_blocks_are_fixed_whatever_the_request_sizes(monkeypatch):
    """Each request takes whole fresh blocks, block b from SeedSequence(entropy, (b,)): the
    values are those of one generator per block drawn one after the other."""
    import reramsim.devices as devices

    monkeypatch.setattr(devices, "NOISE_BLOCK", 1000)
    stream = ReadNoise(0.5, [11, 22])
    first = stream.start((2, 1500), np.float32).result()  # 3000 values: blocks 0-2
    second = stream.start((10,), np.float32).result()  # block 3 (a fresh one)

    def block(b: int, n: int) -> np.ndarray:
        gen = np.random.Generator(np.random.SFC64(np.random.SeedSequence([11, 22],
                                                                         spawn_key=(b,))))
        return gen.standard_normal(n, dtype=np.float32) * np.float32(0.5)

    np.testing.assert_array_equal(first.reshape(-1), np.concatenate([block(b, 1000)
                                                                     for b in range(3)]))
    np.testing.assert_array_equal(second, block(3, 10))


def test_variation_statistics_and_distribution_choice():
    """Lognormal: ln(G/G0) ~ N(0, sigma); normal: G/G0 ~ N(1, sigma), per cell, seeded."""
    sites = CellSites(xbar=np.arange(200, dtype=np.int32) // 128,
                      bl=np.arange(200, dtype=np.int32) % 128,
                      ou=np.arange(200) // 128, wl=np.tile(np.arange(128), (2, 1)))
    levels = np.full((200, 128), 2)
    for dist, stat in (("lognormal", lambda c: np.log(c / 2)), ("normal", lambda c: c / 2 - 1)):
        cfg = load_config(None, ["device.sigma=0.1", f"device.distribution={dist}"])
        cells, faulty = DeviceModel(cfg, seed=3).program(levels, sites, "layer")
        assert faulty == 0
        assert abs(stat(cells).mean()) < 0.002 and stat(cells).std() == pytest.approx(0.1, rel=0.02)
        again, _ = DeviceModel(cfg, seed=3).program(levels, sites, "layer")
        other, _ = DeviceModel(cfg, seed=4).program(levels, sites, "layer")
        np.testing.assert_array_equal(cells, again)
        assert not np.array_equal(cells, other)


def test_draws_depend_only_on_the_physical_cell():
    """A subset of cells (a pruned mapping) gets the same variation and faults at each site."""
    cfg = load_config(None, ["device.sigma=0.2", "device.sa0_rate=0.1", "device.sa1_rate=0.05"])
    dev = DeviceModel(cfg, seed=9)
    sites = CellSites(xbar=np.array([0, 0, 1, 1], np.int32), bl=np.array([3, 4, 3, 4], np.int32),
                      ou=np.array([0, 0, 1, 1]), wl=np.array([[0, 1, 2], [0, 1, 2]], np.int32))
    full, _ = dev.program(np.full((4, 3), 2), sites, "conv")
    part = CellSites(xbar=sites.xbar[2:], bl=sites.bl[2:], ou=np.array([0, 0]), wl=sites.wl[1:])
    sub, _ = dev.program(np.full((2, 3), 2), part, "conv")
    np.testing.assert_array_equal(sub, full[2:])


def test_fault_rates_and_levels():
    """About sa0_rate of the cells read level 0 (+leak) and sa1_rate the top level."""
    cfg = load_config(None, ["device.sa0_rate=0.09", "device.sa1_rate=0.01"])
    n = 400
    sites = CellSites(xbar=np.repeat(np.arange(n), 128).astype(np.int32),
                      bl=np.tile(np.arange(128), n).astype(np.int32), ou=np.arange(n * 128),
                      wl=np.zeros((n * 128, 1), np.int32))
    cells, faulty = DeviceModel(cfg, seed=1).program(np.ones((n * 128, 1)), sites, "x")
    assert faulty == np.count_nonzero(cells != 1)
    assert np.mean(cells == 0) == pytest.approx(0.09, rel=0.03)
    assert np.mean(cells == 3) == pytest.approx(0.01, rel=0.1)


# --------------------------------------------------------------------------- IR drop


def solve_crossbar(g: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    """Bit-line currents of a resistive crossbar by nodal analysis (numpy solve).

    ``g`` is ``(rows, cols)`` siemens; word-line ``i`` is driven at ``v[i]`` through one
    wire segment before column 0; bit-line ``j`` reaches a virtual ground through one
    segment after the last row; every segment is ``r`` ohm. Unknowns: the word-line and
    bit-line node voltages at every cell.
    """
    rows, cols = g.shape
    n = rows * cols
    wl = lambda i, j: i * cols + j  # noqa: E731
    bl = lambda i, j: n + i * cols + j  # noqa: E731
    a = np.zeros((2 * n, 2 * n))
    b = np.zeros(2 * n)
    gw = 1.0 / r

    def link(p, q, cond):
        a[p, p] += cond
        a[q, q] += cond
        a[p, q] -= cond
        a[q, p] -= cond

    for i in range(rows):
        a[wl(i, 0), wl(i, 0)] += gw  # driver segment
        b[wl(i, 0)] += gw * v[i]
        for j in range(cols):
            link(wl(i, j), bl(i, j), g[i, j])
            if j + 1 < cols:
                link(wl(i, j), wl(i, j + 1), gw)
            if i + 1 < rows:
                link(bl(i, j), bl(i + 1, j), gw)
    for j in range(cols):
        a[bl(rows - 1, j), bl(rows - 1, j)] += gw  # sense segment to virtual ground
    volts = np.linalg.solve(a, b)
    return np.array([volts[bl(rows - 1, j)] * gw for j in range(cols)])


def effective(g: np.ndarray, r: float) -> np.ndarray:
    """ir_drop on a whole (rows, cols) crossbar taken as one OU, as (rows, cols)."""
    rows, cols = g.shape
    sites = CellSites(xbar=np.zeros(cols, np.int32), bl=np.arange(cols, dtype=np.int32),
                      ou=np.zeros(cols, np.int64), wl=np.arange(rows, dtype=np.int32)[None])
    return ir_drop(g.T.copy(), sites, r, rows).T


def test_ir_drop_lone_cell_is_exact():
    """One cell: its current is v / (1/g + r * (segments to the driver + to the sense amp))."""
    g = np.zeros((4, 4))
    g[2, 1] = 1e-4
    r = 50.0
    got = effective(g, r)[2, 1]
    assert got == pytest.approx(1 / (1 / 1e-4 + r * ((1 + 1) + (4 - 2))), rel=1e-12)
    assert solve_crossbar(g, np.array([0, 0, 1.0, 0]), r)[1] == pytest.approx(got, rel=1e-9)


@pytest.mark.parametrize("n, r, share", [(8, 2.0, 0.01), (16, 10.0, 0.01), (16, 50.0, 0.02),
                                          (32, 50.0, 0.05)])
def test_ir_drop_first_order_against_circuit_solve(n, r, share):
    """R_on = 30 kOhm, R_off = 150 kOhm, random levels and inputs: the model's error is a small
    share of the IR drop (<= 1% of it for drops up to ~5%, <= 5% for a ~50% drop)."""
    rng = np.random.default_rng(0)
    g = rng.integers(0, 4, (n, n)) * (1 / 3e4 / 3) + 1 / 1.5e5
    v = rng.integers(0, 2, n).astype(float)
    exact = solve_crossbar(g, v, r)
    ideal = v @ g
    model = v @ effective(g, r)
    drop = np.abs(ideal - exact).max()
    assert drop > 1e-3 * ideal.max()  # the drop is measurable
    assert np.abs(model - exact).max() <= share * drop


def test_ir_drop_grows_with_distance():
    """The same cell reads less the further it sits from the driver and from the sense amp."""
    g = np.full((16, 16), 1e-5)
    eff = effective(g, 5.0)
    assert eff[15, 0] > eff[15, 15] > eff[0, 15]


# --------------------------------------------------------------------------- ADC on analog sums


def test_adc_read_rounds_clips_and_counts():
    """Unit ADC: nearest code in [0, 2^bits - 1]; saturations counted on real bit-lines only."""
    from reramsim.config.schema import Adc

    a = np.array([[-0.7, 2.49, 2.51, 9.0], [8.0, 1.0, 1.0, 1.0]])
    real = np.array([[True], [False]])
    assert adc_read(a, 30, Adc(bits=3), real) == 1
    assert a.tolist() == [[0, 2, 3, 7], [7, 1, 1, 1]]
    b = np.array([10.0, 31.0])
    adc_read(b, 21, Adc(bits=3, lsb_mode="full_range"))  # lsb 3: codes 3, 7 (clipped)
    assert b.tolist() == [9.0, 21.0]


# --------------------------------------------------------------------------- whole models


def lenet_like(seed: int = 0) -> Network:
    """conv 1->4 3x3 -> relu -> flatten -> fc 144->5 on 1x8x8 inputs (random weights)."""
    from reramsim.ir import Layer

    rng = np.random.default_rng(seed)
    conv = WeightLayer("conv", "conv", ("x",), "c", ((1, 8, 8),), (4, 6, 6),
                       weight=rng.standard_normal((4, 1, 3, 3)).astype(np.float32),
                       bias=None, kernel=(3, 3), stride=(1, 1), pads=(0, 0, 0, 0))
    relu = Layer("relu", "relu", ("c",), "r", ((4, 6, 6),), (4, 6, 6))
    flat = Layer("flat", "flatten", ("r",), "f", ((4, 6, 6),), (144,))
    fc = WeightLayer("fc", "fc", ("f",), "y", ((144,),), (5,),
                     weight=rng.standard_normal((5, 144)).astype(np.float32), bias=None)
    return Network("small", {"x": (1, 8, 8)}, ["y"], [conv, relu, flat, fc])


SMALL = ("crossbar.rows=32", "crossbar.cols=32", "ou.rows=16", "ou.cols=16",
         "precision.weight_bits=8", "precision.input_bits=8", "adc.bits=4")


def test_negligible_leak_equals_the_integer_model():
    """An analog path with a 1e-7 level leak reads exactly the integers the exact path does."""
    net, x = lenet_like(), RNG.random((3, 1, 8, 8))
    exact = FunctionalModel(net, load_config(None, list(SMALL)), calibration=x)
    analog = FunctionalModel(net, load_config(None, [*SMALL, "device.r_off_ohm=1.0e12"]),
                             calibration=x)
    assert all(cls.analog for cls in analog.crossbar_layer("fc").classes)
    np.testing.assert_array_equal(analog.forward(x), exact.forward(x))
    assert {k: (v.samples, v.clipped) for k, v in analog.adc_stats.items()} == \
        {k: (v.samples, v.clipped) for k, v in exact.adc_stats.items()}
    assert sum(v.clipped for v in exact.adc_stats.values()) > 0


def test_pruned_mapping_sees_fewer_faults():
    """Faults land on the cells the mapping reads: dropping OUs removes exactly their faults."""
    from test_functional import drop_ous

    net = lenet_like()
    cfg = load_config(None, [*SMALL, "device.sa0_rate=0.05", "device.sa1_rate=0.05"])
    mapping = map_network(net, cfg)
    dense = FunctionalModel(net, cfg, mapping, seed=5)
    fc = mapping.layers["fc"]
    dropped = drop_ous(fc, list(range(0, fc.n_ous, 2)))
    pruned = FunctionalModel(net, cfg, mapping, seed=5)
    pruned.set_layer("fc", mapping=dropped)
    assert pruned.cells_used < dense.cells_used
    expected = dense.crossbar_layer("fc").faulty_cells - sum(
        DeviceModel(cfg, 5).program(
            np.zeros((fc.ou_n_cols[k], fc.ou_n_rows[k])),
            CellSites(xbar=np.full(fc.ou_n_cols[k], fc.ou_xbar[k]),
                      bl=fc.ou_bl[fc.ou_col_ptr[k]:fc.ou_col_ptr[k + 1]],
                      ou=np.zeros(fc.ou_n_cols[k], np.int64),
                      wl=fc.ou_wl[fc.ou_row_ptr[k]:fc.ou_row_ptr[k + 1]][None]), "fc")[1]
        for k in range(0, fc.n_ous, 2))
    assert pruned.crossbar_layer("fc").faulty_cells == expected
    total = dense.faulty_cells
    assert 0.07 * dense.cells_used < total < 0.13 * dense.cells_used


def test_seeded_chips_reproduce():
    """Same seed, same chip and noise: identical outputs; another seed differs."""
    net, x = lenet_like(), RNG.random((4, 1, 8, 8))
    cfg = load_config(None, [*SMALL, "device.sigma=0.1", "device.sa0_rate=0.02",
                             "device.read_noise_sigma=0.3", "device.r_off_ohm=1e6",
                             "device.wire_resistance_ohm=1"])
    model = FunctionalModel(net, cfg, calibration=x, seed=chip_seed(7, 0))
    first = model.forward(x)
    faulty = model.faulty_cells
    model.program(chip_seed(7, 1))
    other = model.forward(x)
    model.program(chip_seed(7, 0))
    np.testing.assert_array_equal(model.forward(x), first)
    assert model.faulty_cells == faulty
    assert not np.array_equal(first, other)
    assert chip_seed(7, 1) != chip_seed(8, 0)


# --------------------------------------------------------------------------- command line

LENET = Path(__file__).resolve().parents[1] / "models" / "lenet.onnx"
DEVICE_SET = ["--set", "device.sigma=0.1", "--set", "device.sa0_rate=0.01", "--set",
              "device.sa1_rate=0.01", "--set", "device.read_noise_sigma=0.5"]


def accuracy_json(tmp_path: Path, name: str, *args: str) -> dict:
    from reramsim.cli import main

    path = tmp_path / name
    assert main(["accuracy", str(LENET), "--hw", "isaac", "--data", "digits", "--limit", "24",
                 "--batch", "12", "--no-progress", "--json", str(path), *args]) == 0
    return json.loads(path.read_text())


def test_accuracy_trials_are_seeded(tmp_path, capsys):
    """--trials N --seed S: N chips, mean/std/range and faulty cells; the same seed repeats."""
    a = accuracy_json(tmp_path, "a.json", "--trials", "3", "--seed", "5", *DEVICE_SET)
    b = accuracy_json(tmp_path, "b.json", "--trials", "3", "--seed", "5", *DEVICE_SET)
    c = accuracy_json(tmp_path, "c.json", "--trials", "3", "--seed", "6", *DEVICE_SET)
    assert a["trials"] == 3 and len(a["acc_reram_chips"]) == 3 and len(a["faulty_cells"]) == 3
    chips = np.array(a["acc_reram_chips"])
    assert a["acc_reram_mean"] == pytest.approx(chips.mean())
    assert a["acc_reram_std"] == pytest.approx(chips.std())
    assert (a["acc_reram_min"], a["acc_reram_max"]) == (chips.min(), chips.max())
    assert 0.015 * a["cells_used"] < np.mean(a["faulty_cells"]) < 0.025 * a["cells_used"]
    for key in ("acc_reram_chips", "faulty_cells"):
        assert a[key] == b[key]
    assert a["faulty_cells"] != c["faulty_cells"]
    out = capsys.readouterr().out
    assert "mean over 3 chips, seed 5" in out and "faulty cells" in out


def test_accuracy_devices_off_is_one_ideal_chip(tmp_path):
    """Without device models the trials agree and no cell is faulty."""
    record = accuracy_json(tmp_path, "a.json", "--trials", "2")
    assert record["faulty_cells"] == [0, 0] and record["acc_reram_std"] == 0.0
    assert record["device"]["r_off_ohm"] == "inf"


def test_accuracy_trials_error(capsys):
    """--trials below 1 is a one-line error."""
    from reramsim.cli import main

    assert main(["accuracy", str(LENET), "--hw", "isaac", "--data", "digits", "--trials",
                 "0"]) == 2
    assert "--trials must be >= 1, got 0" in capsys.readouterr().err
