"""Tests for reramsim.ops: im2col layout, weight layers against a naive conv, digital ops,
output-size rules and run_float."""
from __future__ import annotations

import numpy as np
import pytest

from reramsim import ReramsimError
from reramsim.ir import Layer, Network, WeightLayer
from reramsim.ops import (
    OPS,
    col2im_output,
    conv_output_size,
    digital_op,
    im2col,
    im2col_groups,
    pool_output_size,
    run_float,
    weight_layer_float,
)


def conv_layer(cin=3, cout=4, hw=(5, 6), k=(3, 3), stride=(1, 1), pads=(0, 0, 0, 0),
               dilation=(1, 1), groups=1, seed=0, bias=True) -> WeightLayer:
    rng = np.random.default_rng(seed)
    ho = conv_output_size(hw[0], k[0], stride[0], pads[0], pads[2], dilation[0])
    wo = conv_output_size(hw[1], k[1], stride[1], pads[1], pads[3], dilation[1])
    return WeightLayer(
        name="conv", op="conv", inputs=("x",), output="y", in_shapes=((cin, *hw),),
        out_shape=(cout, ho, wo), weight=rng.standard_normal((cout, cin // groups, *k))
        .astype(np.float32), bias=rng.standard_normal(cout).astype(np.float32) if bias else None,
        groups=groups, kernel=k, stride=stride, pads=pads, dilation=dilation)


def naive_conv(x: np.ndarray, layer: WeightLayer) -> np.ndarray:
    """Direct convolution by loops over every output value (float64)."""
    n, cin, h, w = x.shape
    cout, ho, wo = layer.out_shape
    top, left, bottom, right = layer.pads
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    cg, og = cin // layer.groups, cout // layer.groups
    y = np.zeros((n, cout, ho, wo))
    for o in range(cout):
        g = o // og
        for i in range(ho):
            for j in range(wo):
                for c in range(cg):
                    for ky in range(layer.kernel[0]):
                        for kx in range(layer.kernel[1]):
                            yy = i * layer.stride[0] + ky * layer.dilation[0]
                            xx = j * layer.stride[1] + kx * layer.dilation[1]
                            y[:, o, i, j] += xp[:, g * cg + c, yy, xx] * layer.weight[o, c, ky, kx]
        if layer.bias is not None:
            y[:, o] += layer.bias[o]
    return y


def test_im2col_row_order_worked_example():
    """Row r = (c*kh + ky)*kw + kx of pixel p = i*Wo + j holds x[c, i*s + ky, j*s + kx]."""
    layer = conv_layer(cin=2, cout=1, hw=(3, 3), k=(2, 2))
    x = np.arange(18, dtype=np.float32).reshape(1, 2, 3, 3)
    cols = im2col(x, layer)
    assert cols.shape == (1, 4, 8)  # 2x2 output pixels, rows = 2 channels * 2 * 2
    # pixel (0, 1): channel 0 window [[1, 2], [4, 5]], channel 1 window [[10, 11], [13, 14]]
    np.testing.assert_array_equal(cols[0, 1], [1, 2, 4, 5, 10, 11, 13, 14])


def test_im2col_padding_is_zero():
    """Window positions over padding give zeros."""
    layer = conv_layer(cin=1, cout=1, hw=(2, 2), k=(3, 3), pads=(1, 1, 1, 1))
    x = np.ones((1, 1, 2, 2), np.float32)
    cols = im2col(x, layer)
    assert cols.shape == (1, 4, 9)
    np.testing.assert_array_equal(cols[0, 0], [0, 0, 0, 0, 1, 1, 0, 1, 1])


def test_im2col_group_times_matrix_is_group_output():
    """im2col(x, g) @ matrix(g) gives the output channels of group g, pixels in raster order."""
    layer = conv_layer(cin=4, cout=6, hw=(5, 5), groups=2, pads=(1, 1, 1, 1), bias=False)
    x = np.random.default_rng(1).standard_normal((2, 4, 5, 5)).astype(np.float32)
    y = weight_layer_float(x, layer)
    for g in range(2):
        part = im2col(x, layer, g) @ layer.matrix(g)  # (N, P, cols)
        np.testing.assert_allclose(part.reshape(2, 5, 5, 3).transpose(0, 3, 1, 2),
                                   y[:, 3 * g:3 * g + 3], rtol=1e-5, atol=1e-5)
    assert im2col_groups(x, layer).shape == (2, 25, 2, 18)
    with pytest.raises(IndexError):
        im2col(x, layer, 2)


def test_col2im_output_layout():
    """(N, P, Cout) goes back to (N, Cout, Ho, Wo) with p = i*Wo + j; fc gives (N, Cout)."""
    layer = conv_layer(cout=2, hw=(4, 5))  # output 2x3
    y = np.arange(2 * 6 * 2).reshape(2, 6, 2)
    out = col2im_output(y, layer)
    assert out.shape == (2, 2, 2, 3)
    assert out[1, 1, 1, 2] == y[1, 1 * 3 + 2, 1]
    fc = WeightLayer("fc", "fc", ("x",), "y", ((3,),), (2,), weight=np.zeros((2, 3), np.float32))
    assert col2im_output(np.zeros((4, 1, 2)), fc).shape == (4, 2)


@pytest.mark.parametrize("kw", [
    {},
    {"stride": (2, 1), "pads": (0, 1, 2, 1)},
    {"dilation": (2, 3), "pads": (2, 1, 0, 3)},
    {"cin": 4, "cout": 6, "groups": 2, "pads": (1, 1, 1, 1)},
    {"cin": 4, "cout": 4, "groups": 4, "stride": (2, 2), "pads": (1, 1, 1, 1)},
    {"k": (1, 1), "bias": False},
])
def test_weight_layer_float_matches_naive_conv(kw):
    """weight_layer_float (im2col @ matrix + bias per group) equals a direct convolution."""
    layer = conv_layer(**kw)
    x = np.random.default_rng(2).standard_normal((2, layer.cin, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(weight_layer_float(x, layer), naive_conv(x, layer),
                               rtol=1e-5, atol=1e-5)


def test_fc_layer():
    """An fc layer is x @ weight.T + bias, im2col gives one pixel with rows = Cin."""
    rng = np.random.default_rng(3)
    fc = WeightLayer("fc", "fc", ("x",), "y", ((5,),), (3,),
                     weight=rng.standard_normal((3, 5)).astype(np.float32),
                     bias=rng.standard_normal(3).astype(np.float32))
    x = rng.standard_normal((4, 5)).astype(np.float32)
    assert im2col(x, fc).shape == (4, 1, 5)
    np.testing.assert_allclose(weight_layer_float(x, fc), x @ fc.weight.T + fc.bias, rtol=1e-6)


def test_output_size_rules():
    """Conv/pool sizes use floor; ceil_mode drops a last window starting in the end padding."""
    assert conv_output_size(224, 11, 4, 2, 2) == 55
    assert conv_output_size(7, 3, 1, 0, 0, dilation=2) == 3
    assert pool_output_size(5, 2, 2, 1, 1, ceil_mode=True) == 3
    assert pool_output_size(6, 3, 2, 1, 1, ceil_mode=True) == 4
    assert pool_output_size(112, 3, 2, 0, 0, ceil_mode=True) == 56
    assert pool_output_size(112, 3, 2, 0, 0) == 55


def layer_of(op: str, in_shape: tuple[int, ...], out_shape=None, n_inputs: int = 1,
             **attrs) -> Layer:
    return Layer(op, op, tuple(f"x{i}" for i in range(n_inputs)), "y", (in_shape,) * n_inputs,
                 out_shape or in_shape, attrs)


def test_every_digital_op_has_a_kernel():
    """digital_op dispatches every registered digital op and rejects anything else."""
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 4)).astype(np.float32)
    pool = {"kernel": (2, 2), "stride": (2, 2), "pads": (0, 0, 0, 0), "ceil_mode": False}
    cases = {
        "relu": ({}, np.maximum(x, 0)),
        "clip": ({"min": -0.5, "max": np.inf}, np.maximum(x, -0.5)),
        "leaky_relu": ({"alpha": 0.1}, np.where(x > 0, x, 0.1 * x)),
        "sigmoid": ({}, 1 / (1 + np.exp(-x))),
        "maxpool": ({**pool, "dilation": (1, 1)}, x.reshape(2, 3, 2, 2, 2, 2).max((3, 5))),
        "avgpool": ({**pool, "count_include_pad": False}, x.reshape(2, 3, 2, 2, 2, 2).mean((3, 5))),
        "global_avgpool": ({}, x.mean((2, 3), keepdims=True)),
        "add": ({}, 2 * x),
        "concat": ({"axis": 0}, np.concatenate([x, x], 1)),
        "flatten": ({}, x.reshape(2, 48)),
        "reshape": ({"shape": (12, 4)}, x.reshape(2, 12, 4)),
        "transpose": ({"perm": (1, 2, 0)}, x.transpose(0, 2, 3, 1)),
        "lrn": ({"size": 1, "alpha": 1.0, "beta": 1.0, "bias": 1.0}, x / (1 + x * x)),
        "softmax": ({"axis": 0}, np.exp(x) / np.exp(x).sum(1, keepdims=True)),
        "affine": ({"scale": np.array([1, 2, 3]), "shift": np.array([0, 1, 0])},
                   x * np.array([1, 2, 3]).reshape(1, 3, 1, 1) + np.array([0, 1, 0])
                   .reshape(1, 3, 1, 1)),
    }
    assert set(cases) == set(OPS.names())
    for op, (attrs, expected) in cases.items():
        n_in = 2 if op in ("add", "concat") else 1
        out = digital_op(layer_of(op, (3, 4, 4), expected.shape[1:], n_in, **attrs), [x] * n_in)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6, err_msg=op)
    with pytest.raises(ReramsimError, match="no float kernel for op 'gelu'"):
        digital_op(layer_of("gelu", (3,)), [x])


def test_avgpool_divisor_with_and_without_pads():
    """avgpool divides by input pixels only, or also by explicit pads with count_include_pad."""
    x = np.ones((1, 1, 2, 2), np.float32)
    attrs = {"kernel": (2, 2), "stride": (1, 1), "pads": (1, 1, 0, 0), "ceil_mode": False}
    exclude = digital_op(layer_of("avgpool", (1, 2, 2), (1, 2, 2), count_include_pad=False,
                                  **attrs), [x])
    include = digital_op(layer_of("avgpool", (1, 2, 2), (1, 2, 2), count_include_pad=True,
                                  **attrs), [x])
    np.testing.assert_allclose(exclude, np.ones((1, 1, 2, 2)))
    np.testing.assert_allclose(include, [[[[0.25, 0.5], [0.5, 1.0]]]])


def tiny_network() -> Network:
    conv = conv_layer(cin=2, cout=3, hw=(4, 4), pads=(1, 1, 1, 1))
    relu = Layer("relu", "relu", ("y",), "r", ((3, 4, 4),), (3, 4, 4))
    flat = Layer("flat", "flatten", ("r",), "f", ((3, 4, 4),), (48,))
    return Network("tiny", {"x": (2, 4, 4)}, ["f"], [conv, relu, flat])


def test_run_float_outputs_and_intermediates():
    """run_float returns the graph outputs, or every tensor with keep_all=True."""
    net = tiny_network()
    x = np.random.default_rng(5).standard_normal((3, 2, 4, 4)).astype(np.float32)
    out = run_float(net, x)
    assert list(out) == ["f"] and out["f"].shape == (3, 48) and out["f"].dtype == np.float32
    every = run_float(net, {"x": x}, keep_all=True)
    assert set(every) == {"x", "y", "r", "f"}
    np.testing.assert_allclose(every["f"], np.maximum(naive_conv(x, net.layers[0]), 0)
                               .reshape(3, 48), rtol=1e-5, atol=1e-5)
    assert run_float(net, x, dtype=np.float64)["f"].dtype == np.float64


def test_run_float_input_errors():
    """Inputs of the wrong shape, missing or unknown names raise ReramsimError."""
    net = tiny_network()
    with pytest.raises(ReramsimError, match=r"input 'x' must be \(N, \*\(2, 4, 4\)\)"):
        run_float(net, np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ReramsimError, match=r"missing \['x'\], unknown \['z'\]"):
        run_float(net, {"z": np.zeros((1, 2, 4, 4))})
