"""Tests for reramsim.quantize and reramsim.functional: number formats, hand-worked OU and ADC
cases, mapping execution, and full-precision agreement with onnxruntime."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from onnx_builders import WEIGHT_LAYER_MODELS, random_feeds, run_onnxruntime, save
from reramsim.config import load_config
from reramsim.config.schema import Adc
from reramsim.functional import FunctionalError, FunctionalModel, full_precision, word_line_inputs
from reramsim.ir import Layer, Network, WeightLayer
from reramsim.mapping import LayerMapping, NetworkMapping, map_network
from reramsim.onnx_import import load_onnx
from reramsim.ops import im2col_groups, run_float
from reramsim.quantize import (
    adc_convert,
    calibrate_input,
    cell_slice,
    quantize_weights,
)

RNG = np.random.default_rng(7)


# --------------------------------------------------------------------------- helpers


def config(*overrides: str):
    """The default (ISAAC-like) config with ``key=value`` overrides."""
    return load_config(None, list(overrides))


def exact(*overrides: str):
    """Full precision (32-bit weights and inputs, ideal ADC) on top of the overrides."""
    return full_precision(config(*overrides))


def fc(weight: np.ndarray, bias: np.ndarray | None = None, name: str = "fc",
       inp: str = "x", out: str = "y") -> WeightLayer:
    """A fully connected layer ``y = x @ weight.T + bias``; weight is (Cout, Cin)."""
    weight = np.asarray(weight, np.float32)
    cout, cin = weight.shape
    return WeightLayer(name, "fc", (inp,), out, ((cin,),), (cout,), weight=weight,
                       bias=None if bias is None else np.asarray(bias, np.float32))


def conv(cin: int, cout: int, hw: int, k: int, *, groups: int = 1, stride: int = 1,
         pad: int = 0, dilation: int = 1, name: str = "conv", inp: str = "x",
         out: str = "y") -> WeightLayer:
    """A square conv layer with random weights and bias."""
    ho = (hw + 2 * pad - dilation * (k - 1) - 1) // stride + 1
    return WeightLayer(name, "conv", (inp,), out, ((cin, hw, hw),), (cout, ho, ho),
                       weight=RNG.standard_normal((cout, cin // groups, k, k)).astype(np.float32),
                       bias=RNG.standard_normal(cout).astype(np.float32), groups=groups,
                       kernel=(k, k), stride=(stride, stride), pads=(pad,) * 4,
                       dilation=(dilation, dilation))


def network(*layers, inputs=None) -> Network:
    """A network of the given layers; the first layer reads graph input ``x``."""
    first = layers[0]
    return Network("test", inputs or {"x": first.in_shapes[0]}, [layers[-1].output], list(layers))


def conv_net() -> Network:
    """Grouped padded conv -> ReLU -> strided dilated conv -> flatten -> fc (signed first input)."""
    c1 = conv(4, 8, 9, 3, groups=2, pad=1, name="c1", out="a")
    relu = Layer("relu", "relu", ("a",), "b", ((8, 9, 9),), (8, 9, 9))
    c2 = conv(8, 6, 9, 3, stride=2, pad=2, dilation=2, name="c2", inp="b", out="c")
    flat = Layer("flat", "flatten", ("c",), "d", ((6, 5, 5),), (150,))
    f = fc(RNG.standard_normal((5, 150)), RNG.standard_normal(5), name="f", inp="d", out="y")
    return network(c1, relu, c2, flat, f)


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    """max |got - ref| / max |ref|."""
    return float(np.abs(got - ref).max() / np.abs(ref).max())


def drop_ous(m: LayerMapping, drop: list[int]) -> LayerMapping:
    """A copy of the mapping without the OUs in ``drop``."""
    keep = np.setdiff1d(np.arange(m.n_ous), drop)
    rows = [m.ou_rows[m.ou_row_ptr[k]:m.ou_row_ptr[k + 1]] for k in keep]
    wls = [m.ou_wl[m.ou_row_ptr[k]:m.ou_row_ptr[k + 1]] for k in keep]
    cols = [m.ou_cols[m.ou_col_ptr[k]:m.ou_col_ptr[k + 1]] for k in keep]
    slices = [m.ou_slices[m.ou_col_ptr[k]:m.ou_col_ptr[k + 1]] for k in keep]
    bls = [m.ou_bl[m.ou_col_ptr[k]:m.ou_col_ptr[k + 1]] for k in keep]

    def ptr(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)

    return dataclasses.replace(
        m, ou_xbar=m.ou_xbar[keep], ou_row_ptr=ptr(rows), ou_rows=np.concatenate(rows),
        ou_wl=np.concatenate(wls), ou_col_ptr=ptr(cols), ou_cols=np.concatenate(cols),
        ou_slices=np.concatenate(slices), ou_bl=np.concatenate(bls), ou_index_reads=None,
        ou_gather_inputs=None)


# --------------------------------------------------------------------------- number formats


def test_quantize_weights_per_layer_example():
    """Symmetric per-layer quantisation: scale max|w|/L, round half to even, clip to +-L."""
    q, scale = quantize_weights(np.array([[[0.5], [-1.0], [0.26]]]), 3, per_channel=False)
    assert q.ravel().tolist() == [2, -3, 1]
    assert scale.tolist() == pytest.approx([1 / 3])


def test_quantize_weights_per_channel():
    """Per-channel quantisation gives every output column its own scale; zero columns get 1."""
    w = np.array([[[1.0, 0.1, 0.0], [-0.5, 0.025, 0.0]]])  # (1 group, 2 rows, 3 cols)
    q, scale = quantize_weights(w, 8, per_channel=True)
    assert scale.tolist() == pytest.approx([1 / 127, 0.1 / 127, 1.0])
    assert q[0, :, 0].tolist() == [127, -64] and q[0, :, 1].tolist() == [127, 32]
    assert q[0, :, 2].tolist() == [0, 0]


def test_weight_bits_below_two_error():
    """A 1-bit symmetric signed weight cannot exist."""
    with pytest.raises(FunctionalError, match="at least 2 bits"):
        quantize_weights(np.ones((1, 2, 2)), 1, per_channel=False)


def test_cell_slice_example():
    """Slices are cell_bits-wide bit fields, least significant first: 45 -> [1, 3, 2]."""
    assert cell_slice(np.array([45, 45, 45]), np.array([0, 1, 2]), 2).tolist() == [1, 3, 2]


def test_calibrate_input_unsigned_and_signed():
    """Non-negative ranges are unsigned over 2^B-1 levels; others signed with offset 2^(B-1)."""
    unsigned = calibrate_input(0.0, 6.0, 4)
    assert (unsigned.signed, unsigned.scale, unsigned.offset, unsigned.hi) == (False, 0.4, 0, 15)
    signed = calibrate_input(-3.5, 2.0, 4)
    assert (signed.signed, signed.scale, signed.offset) == (True, 0.5, 8)
    assert (signed.lo, signed.hi) == (-7, 7)
    assert signed.to_int(np.array([-9.0, 0.74, 1.0])).tolist() == [-7, 1, 2]
    assert signed.streamed(np.array([-9.0, 0.0])).tolist() == [1.0, 8.0]


def test_signed_one_bit_input_error():
    """Signed inputs need a sign and a magnitude bit."""
    with pytest.raises(FunctionalError, match="signed inputs .* at least 2 bits"):
        calibrate_input(-1.0, 1.0, 1)


def test_adc_unit_mode_clips_and_counts():
    """A 3-bit unit ADC saturates at 7 and reports how many samples it clipped."""
    a = np.array([5.0, 9.0, 7.0])
    assert adc_convert(a, 30, Adc(bits=3)) == 1
    assert a.tolist() == [5, 7, 7]


def test_adc_full_range_rounds_to_lsb():
    """A full-range ADC steps by max_sum/(2^bits-1) and rounds half to even."""
    a = np.array([0.0, 4.0, 5.0, 7.5, 21.0])
    assert adc_convert(a, 21, Adc(bits=3, lsb_mode="full_range")) == 0  # lsb = 3
    assert a.tolist() == [0, 3, 6, 6, 21]


def test_adc_full_range_never_finer_than_one_level():
    """With more codes than levels a full-range ADC resolves every integer sum exactly."""
    a = np.array([0.0, 1.0, 5.0])
    adc_convert(a, 5, Adc(bits=8, lsb_mode="full_range"))
    assert a.tolist() == [0, 1, 5]


def test_ideal_adc_passes_everything():
    """An ideal ADC neither clips nor rounds."""
    a = np.array([1e9, 3.0])
    assert adc_convert(a, 1, Adc(bits=1, ideal=True)) == 0
    assert a.tolist() == [1e9, 3.0]


# --------------------------------------------------------------------------- hand-worked OU cases

# fc 3 -> 1, w = [7, 5, 6]/7 (q = [7, 5, 6], s_w = 1/7), x = [3, 2, 1] (s_x = 1): one OU of
# 3 word-lines, 4-bit weights in two 2-bit slices, 2-bit inputs through a 1-bit DAC (2 steps),
# a 2-bit ADC (codes 0..3). Ideal result 7*3 + 5*2 + 6*1 = 37, i.e. y = 37/7.
HAND_W = np.array([[7.0, 5.0, 6.0]]) / 7
HAND_X = np.array([[3.0, 2.0, 1.0]])
HAND = ("precision.weight_bits=4", "precision.input_bits=2", "crossbar.cell_bits=2",
        "dac.bits=1", "adc.bits=2", "crossbar.rows=4", "crossbar.cols=4", "ou.rows=4",
        "ou.cols=4")


def hand_model(*overrides: str) -> FunctionalModel:
    """The hand-worked fc layer on the HAND config plus overrides, calibrated on HAND_X."""
    return FunctionalModel(network(fc(HAND_W)), config(*HAND, *overrides), calibration=HAND_X)


def test_hand_ou_differential_adc_clipping():
    """Differential, unit ADC: two clipped samples lose 2*1 + 1*2 levels, y = 33/7 not 37/7."""
    # Positive array: slice0 = q & 3 = [3, 1, 2], slice1 = q >> 2 = [1, 1, 1]; negative array 0.
    # Input bits: step0 = [1, 0, 1], step1 = [1, 1, 0].
    # slice0: step0 3+0+2 = 5 -> 3 (loses 2), step1 3+1+0 = 4 -> 3 (loses 1, weight 2)
    # slice1: step0 1+0+1 = 2, step1 1+1+0 = 2 (no clipping)
    # shift-add: (3 + 2*3) + 4*(2 + 2*2) = 9 + 24 = 33.
    model = hand_model("precision.signed_weights=differential")
    assert model.forward(HAND_X)[0, 0] == pytest.approx(33 / 7, abs=1e-12)
    stats = model.adc_stats["fc"]
    assert (stats.samples, stats.clipped) == (8, 2)  # 2 arrays x 2 bit-lines x 2 steps
    ideal = hand_model("precision.signed_weights=differential", "adc.ideal=true")
    assert ideal.forward(HAND_X)[0, 0] == pytest.approx(37 / 7, abs=1e-12)


def test_hand_ou_offset_adc_clipping():
    """Offset weights load the ADC: all four samples clip and y = (45 - 8*6)/7 = -3/7."""
    # u = q + 8 = [15, 13, 14]: slice0 = [3, 1, 2], slice1 = [3, 3, 3].
    # slice0: 5 -> 3, 4 -> 3; slice1: step0 3+0+3 = 6 -> 3, step1 3+3+0 = 6 -> 3.
    # shift-add: (3 + 2*3) + 4*(3 + 2*3) = 45; offset: 2^3 * (3+2+1) = 48; 45 - 48 = -3.
    model = hand_model("precision.signed_weights=offset")
    assert model.forward(HAND_X)[0, 0] == pytest.approx(-3 / 7, abs=1e-12)
    assert (model.adc_stats["fc"].samples, model.adc_stats["fc"].clipped) == (4, 4)
    assert hand_model("adc.ideal=true").forward(HAND_X)[0, 0] == pytest.approx(37 / 7, abs=1e-12)


def test_hand_ou_full_range_adc_rounding():
    """Full-range ADC: lsb = 3 rows*1*3/(2^2-1) = 3; sums 5,4,2,2 read 6,3,3,3 -> y = 48/7."""
    # slice0: 6 + 2*3 = 12; slice1: 3 + 2*3 = 9; 12 + 4*9 = 48 (negative array: zeros stay 0).
    model = hand_model("precision.signed_weights=differential", "adc.lsb_mode=full_range")
    assert model.forward(HAND_X)[0, 0] == pytest.approx(48 / 7, abs=1e-12)


ANALOG = ("precision.signed_weights=differential", "crossbar.subtract=analog")


@pytest.mark.parametrize("sign", [1, -1])
def test_hand_ou_analog_subtraction_clips_the_difference(sign):
    """w = ±[7, -5, 6]/7, 3-bit unit ADC. Digital: each array's sums stay <= 7, y = ±17/7
    exactly, 8 conversions. Analog: one signed conversion per pair, codes -3..3; the slice-0
    difference at step 0 is ±5 and reads ±3, so y = ±15/7, 4 conversions, 1 clipped."""
    # q = [7, -5, 6]: positive array [7, 0, 6] -> slice0 [3, 0, 2], slice1 [1, 0, 1];
    # negative array [0, 5, 0] -> slice0 [0, 1, 0], slice1 [0, 1, 0].
    # Input bits: step0 = [1, 0, 1], step1 = [1, 1, 0].
    # Differences: slice0 step0 5 - 0 = 5 -> 3, step1 3 - 1 = 2; slice1 step0 2 - 0 = 2,
    # step1 1 - 1 = 0. Shift-add (3 + 2*2) + 4*(2 + 2*0) = 15 (ideal 21 - 10 + 6 = 17).
    # Negated weights swap the arrays: every difference and the clip change sign.
    w = sign * np.array([[7.0, -5.0, 6.0]]) / 7

    def run(*overrides):
        model = FunctionalModel(network(fc(w)), config(*HAND, "adc.bits=3", *overrides),
                                calibration=HAND_X)
        return model.forward(HAND_X)[0, 0], model.adc_stats["fc"]

    digital, d_stats = run("precision.signed_weights=differential")
    analog, a_stats = run(*ANALOG)
    assert digital == pytest.approx(sign * 17 / 7, abs=1e-12)
    assert analog == pytest.approx(sign * 15 / 7, abs=1e-12)
    assert (d_stats.samples, d_stats.clipped) == (8, 0)  # 2 arrays x 2 bit-lines x 2 steps
    assert (a_stats.samples, a_stats.clipped) == (4, 1)  # 2 channels x 2 steps
    step_by_step = FunctionalModel(network(fc(w)), config(*HAND, "adc.bits=3", *ANALOG),
                                   calibration=HAND_X, shortcut=False)
    assert step_by_step.forward(HAND_X)[0, 0] == pytest.approx(sign * 15 / 7, abs=1e-12)


def test_ou_split_avoids_clipping():
    """The same weights in 1-row OUs never exceed the 2-bit ADC: the result is exact again."""
    model = hand_model("precision.signed_weights=differential", "ou.rows=1")
    assert model.forward(HAND_X)[0, 0] == pytest.approx(37 / 7, abs=1e-12)
    assert model.adc_stats["fc"].clipped == 0


# --------------------------------------------------------------------------- quantised arithmetic


@pytest.mark.parametrize("overrides", [
    (),
    ("precision.signed_weights=differential",),
    ("precision.weight_scale=per_channel", "precision.weight_bits=6", "precision.input_bits=5"),
    ("precision.weight_bits=7", "crossbar.cell_bits=3", "dac.bits=2", "precision.input_bits=9"),
    ("crossbar.rows=16", "crossbar.cols=20", "ou.rows=7", "ou.cols=5"),
])
def test_ideal_adc_equals_integer_arithmetic(overrides):
    """With an ideal ADC the hardware computes exactly s_x * s_w * (x_int @ q) + bias."""
    net = conv_net()
    x = RNG.standard_normal((2, 4, 9, 9))
    model = FunctionalModel(net, config(*overrides), ideal_adc=True, calibration=x)
    values = run_float(net, x, keep_all=True, dtype=np.float64)
    for layer in net.weight_layers():  # each layer on its own float input
        quant = model.input_quant[layer.name]
        xl = model.crossbar_layer(layer.name)
        got = xl(values[layer.inputs[0]], quant)
        cols = im2col_groups(quant.to_int(values[layer.inputs[0]]).astype(np.float64), layer)
        y = np.einsum("npgr,grc->npgc", cols, xl.q.astype(np.float64)).reshape(*cols.shape[:2], -1)
        y = y * quant.scale * xl.weight_scale + layer.bias
        ref = y.reshape(got.shape[0], -1, layer.cout).transpose(0, 2, 1).reshape(got.shape)
        assert rel_err(got, ref) < 1e-12, layer.name


def test_first_layer_signed_later_unsigned():
    """A raw (signed) input is streamed with an offset; post-ReLU inputs are unsigned."""
    net = conv_net()
    model = FunctionalModel(net, config(), calibration=RNG.standard_normal((2, 4, 9, 9)))
    assert model.input_quant["c1"].signed and not model.input_quant["c2"].signed


@pytest.mark.parametrize("overrides", [
    ("adc.ideal=true",),
    ("adc.bits=16",),  # never clips: the linear shortcut applies
    ("adc.bits=4",),
    ("adc.bits=5", "adc.lsb_mode=full_range", "precision.signed_weights=differential"),
    ("adc.bits=16", *ANALOG),
    ("adc.bits=5", "adc.lsb_mode=full_range", *ANALOG),
    ("precision.weight_bits=7", "crossbar.cell_bits=3", "dac.bits=2", "precision.input_bits=9",
     "adc.bits=5", "crossbar.rows=16", "crossbar.cols=20", "ou.rows=7", "ou.cols=5"),
])
def test_linear_shortcut_equals_bit_serial(overrides):
    """The exact shortcut for ADC-transparent OUs gives the same numbers as one sample per step."""
    net = conv_net()
    x = RNG.standard_normal((2, 4, 9, 9))
    fast = FunctionalModel(net, config(*overrides), calibration=x)
    slow = FunctionalModel(net, config(*overrides), calibration=x, shortcut=False)
    np.testing.assert_array_equal(fast.forward(x), slow.forward(x))
    assert {k: (v.samples, v.clipped) for k, v in fast.adc_stats.items()} == \
        {k: (v.samples, v.clipped) for k, v in slow.adc_stats.items()}


@pytest.mark.parametrize("overrides", [
    ("adc.bits=5",),
    ("adc.bits=6", "dac.bits=2", "precision.signed_weights=differential", "ou.rows=24"),
    ("adc.bits=5", "dac.bits=4", "precision.input_bits=16"),  # 2^(s*dac_bits) sums need float64
    ("adc.bits=5", "ou.rows=24", *ANALOG),
    ("adc.bits=4", "dac.bits=2", *ANALOG),
])
def test_clip_correction_equals_bit_serial(overrides):
    """Correcting only the samples that can clip gives the bit-serial integers and clip count."""
    net = conv_net()
    x = RNG.standard_normal((2, 4, 9, 9))
    fast = FunctionalModel(net, config(*overrides), calibration=x)
    slow = FunctionalModel(net, config(*overrides), calibration=x, shortcut=False)
    np.testing.assert_array_equal(fast.forward(x), slow.forward(x))
    clipped = {k: v.clipped for k, v in slow.adc_stats.items()}
    assert {k: v.clipped for k, v in fast.adc_stats.items()} == clipped
    assert sum(clipped.values()) > 0


def test_isaac_error_is_small_and_clipping_counted():
    """16-bit ISAAC settings stay within 1e-3 of float; a 4-bit ADC clips and shows it."""
    net = conv_net()
    x = RNG.standard_normal((3, 4, 9, 9))
    ref = run_float(net, x, dtype=np.float64)["y"]
    isaac = FunctionalModel(net, load_config("isaac"), calibration=x)
    assert rel_err(isaac.forward(x), ref) < 1e-3
    coarse = FunctionalModel(net, load_config("isaac", ["adc.bits=4"]), calibration=x)
    assert rel_err(coarse.forward(x), ref) > 1e-2
    assert sum(s.clipped for s in coarse.adc_stats.values()) > 0


# --------------------------------------------------------------------------- executing the mapping


@pytest.mark.parametrize("overrides", [
    (), ("precision.signed_weights=differential",), ("precision.weight_scale=per_channel",),
    ("crossbar.rows=16", "crossbar.cols=20", "ou.rows=7", "ou.cols=5", "crossbar.cell_bits=3"),
    ANALOG,
])
def test_full_precision_matches_float(overrides):
    """32-bit weights and inputs with an ideal ADC reproduce the float network (< 1e-8)."""
    net = conv_net()
    x = RNG.standard_normal((2, 4, 9, 9))
    got = FunctionalModel(net, exact(*overrides)).forward(x)
    assert rel_err(got, run_float(net, x, dtype=np.float64)["y"]) < 1e-8


@pytest.mark.parametrize("shortcut", [True, False])
def test_corrupted_ou_rows_change_the_output(shortcut):
    """Pointing one word-line of one OU at another matrix row gives a different answer."""
    layer = fc(RNG.standard_normal((6, 40)), name="fc")
    cfg = config("crossbar.rows=16", "crossbar.cols=16", "ou.rows=8", "ou.cols=8",
                 "adc.bits=12")
    x = RNG.random((4, 40))
    good = map_network(network(layer), cfg)
    model = FunctionalModel(network(layer), cfg, good, calibration=x, shortcut=shortcut)
    before = model.forward(x)
    bad_layer = dataclasses.replace(good.layers["fc"], ou_rows=good.layers["fc"].ou_rows.copy())
    k = 3
    first = bad_layer.ou_row_ptr[k]
    bad_layer.ou_rows[first] = (bad_layer.ou_rows[first] + 1) % 40
    model.set_layer("fc", mapping=bad_layer)
    after = model.forward(x)
    assert np.abs(after - before).max() > 1e-3 * np.abs(before).max()


def test_corrupted_slice_changes_the_output():
    """Reading the wrong bit-slice of a weight on one bit-line gives a different answer."""
    layer = fc(RNG.standard_normal((6, 40)), name="fc")
    cfg = exact("crossbar.rows=16", "crossbar.cols=16", "ou.rows=8", "ou.cols=8")
    x = RNG.random((4, 40))
    good = map_network(network(layer), cfg)
    ref = FunctionalModel(network(layer), cfg, good).forward(x)
    bad = dataclasses.replace(good.layers["fc"], ou_slices=good.layers["fc"].ou_slices.copy())
    top = np.flatnonzero(bad.ou_slices == cfg.slices - 1)[0]
    bad.ou_slices[top] = 0  # the most significant slice read as the least significant
    got = FunctionalModel(network(layer), cfg, NetworkMapping("dense", cfg, {"fc": bad})).forward(x)
    assert np.abs(got - ref).max() > 1e-3 * np.abs(ref).max()


def test_missing_ou_drops_exactly_its_weights():
    """Leaving an OU out of the mapping equals zeroing the weights it held (full precision)."""
    w = RNG.standard_normal((6, 40)).astype(np.float32)
    cfg = exact("crossbar.cell_bits=8", "crossbar.rows=16", "crossbar.cols=16", "ou.rows=8",
                "ou.cols=8")  # 4 slices: an 8-bit-line OU holds 2 whole weights per row
    x = RNG.random((4, 40))
    m = map_network(network(fc(w)), cfg).layers["fc"]
    k = 5
    rows = m.ou_rows[m.ou_row_ptr[k]:m.ou_row_ptr[k + 1]]
    cols = np.unique(m.ou_cols[m.ou_col_ptr[k]:m.ou_col_ptr[k + 1]])
    assert len(cols) == 2
    dropped = NetworkMapping("dense", cfg, {"fc": drop_ous(m, [k])})
    got = FunctionalModel(network(fc(w)), cfg, dropped, calibration=x).forward(x)
    w_zeroed = w.copy()
    w_zeroed[np.ix_(cols, rows)] = 0
    assert rel_err(got, x @ w_zeroed.T) < 1e-8


@pytest.mark.parametrize("signed", ["offset", "differential"])
def test_input_gather_mapping(signed):
    """A pruned-style OU whose word-lines gather non-contiguous rows computes the pruned layer."""
    w = RNG.standard_normal((2, 6)).astype(np.float32)
    w[:, [1, 4]] = 0  # matrix rows 1 and 4 (inputs 1 and 4) are pruned
    cfg = exact(f"precision.signed_weights={signed}", "crossbar.cell_bits=8", "crossbar.rows=4",
                "crossbar.cols=8", "ou.rows=4", "ou.cols=8")
    s, pols = cfg.slices, cfg.polarities
    n_bl = 2 * s  # two columns x s slices
    mapping = LayerMapping(
        layer="fc", scheme="hand", xbar_group=np.zeros(pols, np.int32),
        xbar_polarity=np.array([1, -1][:pols], np.int8), ou_xbar=np.arange(pols, dtype=np.int32),
        ou_row_ptr=np.arange(pols + 1, dtype=np.int64) * 4,
        ou_rows=np.tile([0, 2, 3, 5], pols).astype(np.int32),
        ou_wl=np.tile(np.arange(4), pols).astype(np.int32),
        ou_col_ptr=np.arange(pols + 1, dtype=np.int64) * n_bl,
        ou_cols=np.tile(np.repeat([0, 1], s), pols).astype(np.int32),
        ou_slices=np.tile(np.tile(np.arange(s), 2), pols).astype(np.int16),
        ou_bl=np.tile(np.arange(n_bl), pols).astype(np.int32),
    )
    layer = fc(w)
    mapping.validate(layer, cfg)
    x = RNG.standard_normal((3, 6))
    got = FunctionalModel(network(layer), cfg, NetworkMapping("hand", cfg, {"fc": mapping}),
                          calibration=x).forward(x)
    assert rel_err(got, x @ w.T) < 1e-8


def test_offset_config_with_negative_crossbars_error():
    """A differential mapping cannot run on a config that stores weights with an offset."""
    layer = fc(RNG.standard_normal((3, 5)))
    diff = map_network(network(layer), config("precision.signed_weights=differential"))
    with pytest.raises(FunctionalError, match="polarities"):
        FunctionalModel(network(layer), config(), diff)
    lm = diff.layers["fc"]
    model = FunctionalModel(network(layer), config())
    with pytest.raises(FunctionalError, match="negative-polarity"):
        model.set_layer("fc", mapping=lm)


def test_mapping_with_other_slicing_error():
    """A mapping made for 16-bit weights does not fit a config with 8-bit weights."""
    layer = fc(RNG.standard_normal((3, 5)))
    mapping = map_network(network(layer), config("precision.weight_bits=16"))
    with pytest.raises(FunctionalError, match="slices"):
        FunctionalModel(network(layer), config("precision.weight_bits=8"), mapping)
    model = FunctionalModel(network(layer), config("precision.weight_bits=8"))
    with pytest.raises(FunctionalError, match=r"ou_slices .* outside \[0, 4\)"):
        model.set_layer("fc", mapping=mapping.layers["fc"])


def test_mapping_missing_layer_error():
    """Every weight layer needs a mapping entry."""
    layer = fc(RNG.standard_normal((3, 5)))
    with pytest.raises(FunctionalError, match="no entry for weight layer"):
        FunctionalModel(network(layer), config(), NetworkMapping("dense", config(), {}))


# --------------------------------------------------------------------------- the Python API


def test_set_layer_equals_a_fresh_model():
    """Swapping one layer's weights gives what a model built with those weights gives."""
    net = conv_net()
    x = RNG.standard_normal((2, 4, 9, 9))
    model = FunctionalModel(net, load_config("isaac"), calibration=x)
    c2 = net.layer("c2")
    new_w = c2.weight * (RNG.random(c2.weight.shape) > 0.5)
    model.set_layer("c2", weight=new_w)
    fresh_net = dataclasses.replace(net, layers=[dataclasses.replace(c2, weight=new_w.astype(
        np.float32)) if layer.name == "c2" else layer for layer in net.layers])
    fresh = FunctionalModel(fresh_net, load_config("isaac"))
    fresh.input_quant = dict(model.input_quant)
    np.testing.assert_array_equal(model.forward(x), fresh.forward(x))
    assert net.layer("c2").weight is c2.weight  # the caller's network is untouched


def test_set_layer_errors():
    """set_layer refuses unknown layers and weights of another shape."""
    model = FunctionalModel(conv_net(), config())
    with pytest.raises(KeyError, match="no weight layer named 'relu'"):
        model.set_layer("relu", weight=np.zeros(1))
    with pytest.raises(FunctionalError, match=r"weight shape \(2, 2\)"):
        model.set_layer("f", weight=np.zeros((2, 2)))


def test_first_batch_calibrates_and_scales_persist():
    """Without calibration the first batch sets the scales; later batches reuse them."""
    net = conv_net()
    model = FunctionalModel(net, config())
    x = RNG.standard_normal((2, 4, 9, 9))
    model.forward(x)
    scales = dict(model.input_quant)
    model.forward(3 * x)
    assert model.input_quant == scales


def test_accuracy_and_predict():
    """accuracy() is the fraction of argmax hits; predict() the argmax, over batches."""
    net = conv_net()
    x = RNG.standard_normal((7, 4, 9, 9))
    model = FunctionalModel(net, exact(), calibration=x)
    labels = run_float(net, x)["y"].argmax(axis=1)
    seen = []
    assert model.accuracy(x, labels, batch=3, progress=seen.append) == 1.0
    assert seen == [3, 3, 1]
    assert model.predict(x, batch=2).tolist() == labels.tolist()
    assert model.accuracy(x, (labels + 1) % 5, batch=4) == 0.0


def test_bad_input_errors():
    """Inputs of the wrong shape or name are refused with the expected shape."""
    model = FunctionalModel(conv_net(), config())
    with pytest.raises(FunctionalError, match=r"must be \(N, 4, 9, 9\), got \(2, 4, 9\)"):
        model.forward(np.zeros((2, 4, 9)))
    with pytest.raises(FunctionalError, match="inputs must be exactly"):
        model.run({"z": np.zeros((1, 4, 9, 9))})
    with pytest.raises(FunctionalError, match="labels"):
        model.accuracy(np.zeros((2, 4, 9, 9)), np.zeros(3))


@pytest.mark.parametrize("kwargs", [
    dict(groups=2, pad=1), dict(stride=2, pad=2, dilation=2), dict(groups=8, stride=2, pad=1),
])
def test_word_line_inputs_is_im2col_transposed(kwargs):
    """The word-line layout is ops.im2col_groups transposed to (groups*rows, pixels)."""
    layer = conv(8, 8, 7, 3, **kwargs)
    x = RNG.standard_normal((2, 8, 7, 7))
    cols = im2col_groups(x, layer)
    np.testing.assert_array_equal(word_line_inputs(x, layer),
                                  cols.reshape(cols.shape[0] * cols.shape[1], -1).T)


# --------------------------------------------------------------------------- against onnxruntime

SMALL_XBAR = ("crossbar.rows=16", "crossbar.cols=24", "ou.rows=8", "ou.cols=8")


@pytest.mark.parametrize("case", sorted(WEIGHT_LAYER_MODELS))
@pytest.mark.parametrize("signed", ["offset", "differential"])
def test_weight_layer_variants_match_onnxruntime(case, signed, tmp_path):
    """Every weight-layer variant, run through small crossbars at full precision, equals ORT."""
    proto = WEIGHT_LAYER_MODELS[case]()
    net = load_onnx(save(proto, tmp_path / "m.onnx"))
    feeds = random_feeds(proto, batch=3, seed=1)
    ref = run_onnxruntime(proto, feeds)["y"]
    got = FunctionalModel(net, exact(*SMALL_XBAR, f"precision.signed_weights={signed}")
                          ).forward(feeds)
    assert rel_err(got, ref) < 1e-5


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg16", "plain20", "resnet20"])
def test_zoo_models_match_onnxruntime(zoo_onnx, name):
    """Every zoo model on ISAAC crossbars at full precision equals onnxruntime (< 1e-5)."""
    path = zoo_onnx[name]
    net = load_onnx(path)
    x = RNG.standard_normal((2, *net.inputs["input"])).astype(np.float32)
    ref = run_onnxruntime(path, {"input": x})["logits"]
    model = FunctionalModel(net, full_precision(load_config("isaac", ["crossbar.cell_bits=8"])))
    assert rel_err(model.forward(x), ref) < 1e-5


@pytest.mark.parametrize("name", ["lenet", "resnet20"])
def test_zoo_analog_subtraction_equals_digital_and_onnxruntime(zoo_onnx, name):
    """With an ideal ADC, subtracting the pair's currents before the ADC gives the digital
    subtraction's outputs exactly (and onnxruntime's, < 1e-5) in half the conversions."""
    path = zoo_onnx[name]
    net = load_onnx(path)
    x = RNG.standard_normal((2, *net.inputs["input"])).astype(np.float32)
    ref = run_onnxruntime(path, {"input": x})["logits"]
    pair = ["crossbar.cell_bits=8", "precision.signed_weights=differential"]
    digital = FunctionalModel(net, full_precision(load_config("isaac", pair)))
    analog = FunctionalModel(net, full_precision(load_config("isaac", [
        *pair, "crossbar.subtract=analog"])))
    got = analog.forward(x)
    np.testing.assert_array_equal(got, digital.forward(x))
    assert rel_err(got, ref) < 1e-5
    for name_, stats in digital.adc_stats.items():
        assert analog.adc_stats[name_].samples * 2 == stats.samples


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg16", "plain20", "resnet20"])
def test_zoo_fast_path_equals_step_by_step_with_clipping(zoo_onnx, name):
    """With a clipping 4-bit ADC the fast path gives every zoo model's step-by-step outputs
    and clip counts exactly (4-bit weights and inputs keep the step-by-step run short)."""
    net = load_onnx(zoo_onnx[name])
    x = RNG.standard_normal((1, *net.inputs["input"]))
    cfg = load_config("isaac", ["adc.bits=4", "precision.weight_bits=4",
                                "precision.input_bits=4"])
    fast = FunctionalModel(net, cfg, calibration=x)
    slow = FunctionalModel(net, cfg, calibration=x, shortcut=False)
    np.testing.assert_array_equal(fast.forward(x), slow.forward(x))
    clipped = {k: v.clipped for k, v in slow.adc_stats.items()}
    assert {k: v.clipped for k, v in fast.adc_stats.items()} == clipped
    assert sum(clipped.values()) > 0
