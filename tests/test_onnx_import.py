"""Tests for reramsim.onnx_import: every supported op against onnxruntime, real-world-style
files, matrix views, and the one-line errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnx_builders import (
    WEIGHT_LAYER_MODELS,
    alexnet_bvlc,
    const_subgraph_net,
    export_torch,
    make_model,
    one_node,
    rand,
    random_feeds,
    resnet18_style,
    run_onnxruntime,
    save,
    squeezenet_style,
    torch_bn_net,
    without_legacy_attrs,
)

from reramsim import ReramsimError
from reramsim.ir import WeightLayer
from reramsim.onnx_import import OnnxImportError, load_onnx, register_op, supported_ops
from reramsim.ops import run_float

X4 = ("N", 4, 7, 8)  # a small NCHW input with odd/even spatial sizes


def check_against_ort(model: onnx.ModelProto, tmp_path: Path, *, batch: int = 2,
                      rtol: float = 1e-5, atol: float = 1e-5, relative_atol: bool = False,
                      ort_model: onnx.ModelProto | None = None, expect=None):
    """Save, load_onnx the file, run_float, and compare every output with onnxruntime."""
    path = save(model, tmp_path / "model.onnx")
    net = load_onnx(path)
    feeds = random_feeds(model, batch=batch, seed=1)
    ref = expect(feeds) if expect else run_onnxruntime(ort_model or model, feeds)
    got = run_float(net, feeds)
    assert list(got) == list(ref)
    for name, value in ref.items():
        tol = atol * max(1.0, float(np.abs(value).max())) if relative_atol else atol
        np.testing.assert_allclose(got[name], value, rtol=rtol, atol=tol, err_msg=name)
    return net


def w(*shape: int, seed: int = 0) -> np.ndarray:
    return rand(shape, seed, scale=0.5)


# --------------------------------------------------------------------------- one-node cases

ONE_NODE = {
    **WEIGHT_LAYER_MODELS,
    "relu": lambda: one_node("Relu", {"x": X4}),
    "leaky_relu": lambda: one_node("LeakyRelu", {"x": X4}, alpha=0.2),
    "sigmoid": lambda: one_node("Sigmoid", {"x": X4}),
    "clip_opset6_attrs": lambda: one_node("Clip", {"x": X4}, opset=6, min=-0.5, max=0.7),
    "clip_opset6_min_only": lambda: one_node("Clip", {"x": X4}, opset=6, min=0.0),
    "clip_opset11_inputs": lambda: one_node("Clip", {"x": X4, "lo": np.array(-0.5, np.float32),
                                                     "hi": np.array(0.7, np.float32)}, opset=11),
    "clip_opset13_max_only": lambda: one_node("Clip", {"x": X4, "hi": np.array(6, np.float32)},
                                              order=["x", "", "hi"], opset=13),
    "clip_unbounded": lambda: one_node("Clip", {"x": X4}, opset=13),
    "maxpool": lambda: one_node("MaxPool", {"x": X4}, kernel_shape=[2, 2], strides=[2, 2]),
    "maxpool_pads": lambda: one_node("MaxPool", {"x": X4}, kernel_shape=[3, 3], strides=[2, 2],
                                     pads=[1, 0, 1, 2]),
    "maxpool_ceil": lambda: one_node("MaxPool", {"x": X4}, kernel_shape=[3, 3], strides=[2, 2],
                                     ceil_mode=1, pads=[1, 1, 1, 1]),
    "maxpool_dilation": lambda: one_node("MaxPool", {"x": X4}, kernel_shape=[2, 2],
                                         dilations=[2, 2]),
    "maxpool_same_upper": lambda: one_node("MaxPool", {"x": X4}, kernel_shape=[3, 3],
                                           strides=[2, 2], auto_pad="SAME_UPPER"),
    "maxpool_opset9": lambda: one_node("MaxPool", {"x": X4}, kernel_shape=[2, 2], opset=9),
    "avgpool_exclude_pad": lambda: one_node("AveragePool", {"x": X4}, kernel_shape=[3, 3],
                                            pads=[1, 1, 1, 1], count_include_pad=0),
    "avgpool_include_pad": lambda: one_node("AveragePool", {"x": X4}, kernel_shape=[3, 3],
                                            pads=[1, 2, 0, 1], count_include_pad=1),
    "avgpool_ceil": lambda: one_node("AveragePool", {"x": X4}, kernel_shape=[3, 3],
                                     strides=[2, 2], ceil_mode=1),
    "avgpool_ceil_include_pad": lambda: one_node(
        "AveragePool", {"x": X4}, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
        ceil_mode=1, count_include_pad=1),
    "avgpool_same_lower": lambda: one_node("AveragePool", {"x": X4}, kernel_shape=[2, 2],
                                           strides=[2, 2], auto_pad="SAME_LOWER"),
    "global_avgpool": lambda: one_node("GlobalAveragePool", {"x": X4}),
    "add": lambda: one_node("Add", {"x": X4, "z": X4}),
    "sum3": lambda: one_node("Sum", {"x": X4, "z": X4, "u": X4}),
    "concat_channels": lambda: one_node("Concat", {"x": X4, "z": ("N", 2, 7, 8)}, axis=1),
    "concat_last_axis": lambda: one_node("Concat", {"x": X4, "z": ("N", 4, 7, 3)}, axis=-1),
    "flatten": lambda: one_node("Flatten", {"x": X4}, axis=1),
    "flatten_default_axis": lambda: one_node("Flatten", {"x": X4}, opset=9),
    "reshape_0_minus1": lambda: one_node("Reshape", {"x": X4, "s": np.array([0, 0, -1])}),
    "reshape_split": lambda: one_node("Reshape", {"x": X4, "s": np.array([0, 2, -1, 8])}),
    "reshape_opset5": lambda: one_node("Reshape", {"x": X4, "s": np.array([0, -1])}, opset=5),
    "transpose": lambda: one_node("Transpose", {"x": X4}, perm=[0, 2, 3, 1]),
    "dropout_opset7": lambda: one_node("Dropout", {"x": X4}, opset=7, ratio=0.3),
    "dropout_opset13": lambda: one_node("Dropout", {"x": X4, "r": np.array(0.3, np.float32)},
                                        opset=13),
    "identity": lambda: one_node("Identity", {"x": X4}),
    "lrn": lambda: one_node("LRN", {"x": ("N", 7, 5, 5)}, size=5, alpha=1e-3, beta=0.75,
                            bias=2.0),
    "softmax_opset11_2d": lambda: one_node("Softmax", {"x": ("N", 10)}, opset=11),
    "softmax_opset11_last_axis": lambda: one_node("Softmax", {"x": X4}, opset=11, axis=3),
    "softmax_opset13_channels": lambda: one_node("Softmax", {"x": X4}, opset=13, axis=1),
    "softmax_opset13_default": lambda: one_node("Softmax", {"x": X4}, opset=13),
}


@pytest.mark.parametrize("case", sorted(ONE_NODE))
def test_one_node_matches_onnxruntime(case, tmp_path):
    """Every supported op and variant: run_float(load_onnx(file)) equals onnxruntime."""
    check_against_ort(ONE_NODE[case](), tmp_path)


def test_dropout_opset6_is_test_is_identity(tmp_path):
    """Dropout of opset 6 (ratio/is_test attributes) is dropped: the output equals the input."""
    model = one_node("Dropout", {"x": X4}, opset=6, ratio=0.5, is_test=1)
    net = check_against_ort(model, tmp_path, expect=lambda feeds: {"y": feeds["x"]})
    assert [layer.op for layer in net.layers] == ["reshape"]  # the output's explicit copy


def test_lrn_even_size_matches_onnx_definition(tmp_path):
    """LRN with an even size (onnxruntime refuses it) follows the ONNX spec's channel window."""
    model = one_node("LRN", {"x": ("N", 7, 5, 5)}, size=4, alpha=1e-2, beta=0.6, bias=0.5)

    def spec(feeds):  # channels c - floor((size-1)/2) .. c + ceil((size-1)/2)
        x = feeds["x"].astype(np.float64)
        sq = np.zeros_like(x)
        for c in range(x.shape[1]):
            sq[:, c] = (x[:, max(0, c - 1):min(x.shape[1], c + 3)] ** 2).sum(axis=1)
        return {"y": (x / (0.5 + 1e-2 / 4 * sq) ** 0.6).astype(np.float32)}

    check_against_ort(model, tmp_path, expect=spec)


def test_batchnorm_after_conv_is_folded(tmp_path):
    """A BatchNormalization whose input is a conv output read only by it folds into the conv."""
    c = 8
    bn = [rand((c,), 2, 0.2) + 1, rand((c,), 3), rand((c,), 4), rand((c,), 5, 0.2) ** 2 + 0.5]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["y"],
                              epsilon=1e-3)]
    inits = {"w": w(c, 3, 3, 3), "b": w(c), "s": bn[0], "bb": bn[1], "m": bn[2], "v": bn[3]}
    net = check_against_ort(make_model(nodes, {"x": ("N", 3, 6, 6)}, ["y"], inits), tmp_path)
    assert [layer.op for layer in net.layers] == ["conv"]
    assert net.layers[0].output == "y"


def test_batchnorm_after_gemm_is_folded(tmp_path):
    """A BatchNormalization after a Gemm (BN1d after Linear) folds into the fc layer."""
    nodes = [helper.make_node("Gemm", ["x", "w"], ["f"], transB=1),
             helper.make_node("BatchNormalization", ["f", "s", "b", "m", "v"], ["y"])]
    inits = {"w": w(6, 10), "s": rand((6,), 1), "b": rand((6,), 2), "m": rand((6,), 3),
             "v": rand((6,), 4) ** 2 + 0.1}
    net = check_against_ort(make_model(nodes, {"x": ("N", 10)}, ["y"], inits), tmp_path)
    assert [layer.op for layer in net.layers] == ["fc"]


def test_batchnorm_not_after_conv_is_affine(tmp_path):
    """A BatchNormalization on a graph input, or on a conv output read twice, stays `affine`."""
    c = 4
    params = {"s": rand((c,), 1), "b": rand((c,), 2), "m": rand((c,), 3),
              "v": rand((c,), 4) ** 2 + 0.1}
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["n"]),
             helper.make_node("Conv", ["n", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["d"]),
             helper.make_node("Add", ["c", "d"], ["y"])]
    model = make_model(nodes, {"x": X4}, ["y"], {**params, "w": w(c, c, 3, 3)})
    net = check_against_ort(model, tmp_path)
    assert [layer.op for layer in net.layers] == ["affine", "conv", "affine", "add"]


def test_constant_add_after_matmul_is_folded_into_bias(tmp_path):
    """An Add of a per-channel constant right after a MatMul or Conv becomes the layer's bias."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Add", ["bias", "m"], ["y"]),
             helper.make_node("Conv", ["img", "k"], ["c"]),
             helper.make_node("Add", ["c", "cb"], ["z"])]
    inits = {"w": w(16, 5), "bias": w(5), "k": w(3, 2, 1, 1), "cb": w(1, 3, 1, 1)}
    model = make_model(nodes, {"x": ("N", 16), "img": ("N", 2, 4, 4)}, ["y", "z"], inits)
    net = check_against_ort(model, tmp_path)
    assert [layer.op for layer in net.layers] == ["fc", "conv"]
    assert [layer.output for layer in net.layers] == ["y", "z"]


def test_legacy_broadcast_add_folds_bias(tmp_path):
    """Opset 6 Add(conv, bias, broadcast=1, axis=1) folds the (C,) bias into the conv."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Add", ["c", "b"], ["y"], broadcast=1, axis=1)]
    model = make_model(nodes, {"x": (1, 3, 5, 5)}, ["y"], {"w": w(4, 3, 3, 3), "b": w(4)},
                       opset=6)
    net = load_onnx(save(model, tmp_path / "m.onnx"))
    x = rand((1, 3, 5, 5), 7)
    ref = run_onnxruntime(make_model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"])], {"x": (1, 3, 5, 5)}, ["y"],
        {"w": w(4, 3, 3, 3), "b": w(4)}, opset=7), {"x": x})["y"]
    np.testing.assert_allclose(run_float(net, x)["y"], ref, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- matrix views


@pytest.mark.parametrize("case, kind, groups, rows, cols", [
    ("conv", "conv", 1, 27, 8),
    ("conv_depthwise", "conv", 8, 9, 1),
    ("conv_groups", "conv", 2, 18, 3),
    ("gemm_transB", "fc", 1, 16, 10),
    ("matmul", "fc", 1, 16, 5),
])
def test_matrix_view(case, kind, groups, rows, cols):
    """Weight layers expose rows = Cin/groups*kh*kw and cols = Cout/groups per group."""
    (layer,) = load_onnx(ONE_NODE[case](), source="m.onnx").weight_layers()
    assert (layer.op, layer.groups, layer.rows, layer.cols) == (kind, groups, rows, cols)
    assert layer.matrix(groups - 1).shape == (rows, cols)


def test_conv_layer_attributes():
    """Conv attributes are (y, x) pairs and pads (top, left, bottom, right); auto_pad resolved."""
    net = load_onnx(ONE_NODE["conv_same_lower"](), source="m.onnx")
    layer = net.layers[0]
    assert isinstance(layer, WeightLayer)
    # 9x10 input, stride 2: outputs 5x5, total pads 2 and 1 -> SAME_LOWER puts the odd one first
    assert layer.pads == (1, 1, 1, 0)
    assert layer.stride == (2, 2) and layer.kernel == (3, 3) and layer.dilation == (1, 1)
    assert layer.in_shapes == ((3, 9, 10),) and layer.out_shape == (8, 5, 5)


def test_gemm_alpha_beta_folded():
    """Gemm alpha scales the fc weight (Cout, Cin) and beta*C becomes the bias."""
    model = ONE_NODE["gemm_alpha_beta"]()
    (layer,) = load_onnx(model, source="m.onnx").weight_layers()
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    np.testing.assert_allclose(layer.weight, 0.5 * inits["w"].T, rtol=1e-6)
    np.testing.assert_allclose(layer.bias, 2.0 * inits["c"][0], rtol=1e-6)


def test_digital_op_attributes_are_per_sample():
    """Axis, perm and shape attributes drop the batch dim; pool attrs are (y, x) tuples."""
    def layer(case):
        return load_onnx(ONE_NODE[case](), source="m.onnx").layers[0]

    assert layer("concat_last_axis").attrs == {"axis": 2}
    assert layer("transpose").attrs == {"perm": (1, 2, 0)}
    assert layer("reshape_split").attrs == {"shape": (2, 14, 8)}
    assert layer("softmax_opset11_2d").attrs == {"axis": 0}
    pool = layer("maxpool_ceil")
    assert pool.attrs == {"kernel": (3, 3), "stride": (2, 2), "pads": (1, 1, 1, 1),
                          "dilation": (1, 1), "ceil_mode": True}
    assert pool.out_shape == (4, 4, 5)  # 7x8 input: ceil(6/2)+1 = 4, ceil(7/2)+1 = 5


# --------------------------------------------------------------------------- real-world style


def test_alexnet_bvlc_opset9(tmp_path):
    """Caffe-style AlexNet (LRN, grouped convs, legacy Dropout, Constant reshape) matches."""
    model = alexnet_bvlc()
    net = check_against_ort(model, tmp_path, batch=1, rtol=1e-4, atol=1e-5, relative_atol=True,
                            ort_model=without_legacy_attrs(model))
    convs = [layer for layer in net.weight_layers() if layer.op == "conv"]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert convs[0].out_shape == (24, 54, 54) and convs[1].rows == 12 * 25
    assert [layer.op for layer in net.layers].count("lrn") == 2
    assert "reshape" in [layer.op for layer in net.layers]


def test_resnet18_style_opset13(tmp_path):
    """ResNet-18 topology at 224x224: BN folded into every conv, residual Adds kept."""
    net = check_against_ort(resnet18_style(), tmp_path, rtol=1e-4, atol=1e-5,
                            relative_atol=True)
    ops = [layer.op for layer in net.layers]
    assert "affine" not in ops
    assert ops.count("conv") == 20 and ops.count("add") == 8 and ops.count("fc") == 1
    assert net.inputs == {"input": (3, 224, 224)}


def test_squeezenet_style_opset9(tmp_path):
    """SqueezeNet 1.1 with Fire/Concat at opset 9 matches onnxruntime."""
    net = check_against_ort(squeezenet_style(), tmp_path, rtol=1e-4, atol=1e-5,
                            relative_atol=True)
    assert [layer.op for layer in net.layers].count("concat") == 8


def test_constant_subgraph_weights_and_sum(tmp_path):
    """Weights from Constant/ConstantOfShape/Cast/Reshape/Transpose subgraphs are folded."""
    net = check_against_ort(const_subgraph_net(), tmp_path, rtol=1e-4, atol=1e-5,
                            relative_atol=True)
    assert [layer.op for layer in net.layers] == ["conv", "relu", "conv", "conv", "add"]
    assert len(net.layers[-1].inputs) == 3
    np.testing.assert_allclose(net.layers[2].bias, 0.25)


@pytest.mark.parametrize("kind, ops", [
    ("conv_bn", ["conv", "relu", "maxpool", "conv", "relu", "maxpool", "reshape", "fc",
                 "softmax"]),
    ("unfoldable_bn", ["affine", "conv", "relu", "flatten", "fc", "relu", "fc"]),
])
def test_torch_export_opset9(kind, ops, tmp_path):
    """Torch (dynamo=False, opset 9) exports with BN, folded by torch or not, match."""
    pytest.importorskip("torch")
    model = export_torch(torch_bn_net(kind), (1, 3, 16, 16), opset=9)
    net = check_against_ort(model, tmp_path, batch=3, rtol=1e-4, atol=1e-6)
    assert [layer.op for layer in net.layers] == ops


# --------------------------------------------------------------------------- graph handling


def test_unsorted_graph_is_sorted(tmp_path):
    """Nodes listed out of order are imported in a topological order."""
    nodes = [helper.make_node("Relu", ["a"], ["y"]),
             helper.make_node("Conv", ["x", "w"], ["a"])]
    net = check_against_ort(make_model(nodes, {"x": X4}, ["y"], {"w": w(2, 4, 1, 1)}), tmp_path)
    assert [layer.op for layer in net.layers] == ["conv", "relu"]


def test_layer_names_are_unique():
    """Empty or duplicate node names become <OpType>_<index>."""
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="act"),
             helper.make_node("Relu", ["a"], ["b"], name="act"),
             helper.make_node("Sigmoid", ["b"], ["y"])]
    net = load_onnx(make_model(nodes, {"x": X4}, ["y"]), source="m.onnx")
    assert [layer.name for layer in net.layers] == ["act", "Relu_1", "Sigmoid_2"]


def test_network_name_metadata_and_shapes(tmp_path):
    """Network.name is the file stem, metadata the metadata_props, shapes drop the batch."""
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": (5, 4, 7, 8)}, ["y"],
                       metadata={"reramsim.prune": '{"scheme": "segprune"}'})
    net = load_onnx(save(model, tmp_path / "tiny_net.onnx"))
    assert net.name == "tiny_net" and net.source == str(tmp_path / "tiny_net.onnx")
    assert net.metadata == {"reramsim.prune": '{"scheme": "segprune"}'}
    assert net.inputs == {"x": (4, 7, 8)} and net.outputs == ["y"]
    assert net.layers[0].out_shape == (4, 7, 8)


def test_aliased_output_renames_its_producer(tmp_path):
    """A graph output written through Dropout/Identity names the layer that computes it."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Dropout", ["c"], ["d"], ratio=0.1),
             helper.make_node("Identity", ["d"], ["y"])]
    model = make_model(nodes, {"x": X4}, ["y"], {"w": w(2, 4, 1, 1)}, opset=9)
    net = check_against_ort(model, tmp_path)
    assert [(layer.op, layer.output) for layer in net.layers] == [("conv", "y")]


def test_reshape_shape_attribute_before_opset5():
    """Before opset 5 Reshape takes its target from the `shape` attribute (0 and -1 resolved)."""
    model = one_node("Reshape", {"x": X4}, opset=4, shape=[0, -1, 8])
    (layer,) = load_onnx(model, source="m.onnx").layers
    assert layer.attrs == {"shape": (28, 8)} and layer.out_shape == (28, 8)


def test_unused_branch_is_dropped():
    """Layers no graph output depends on are not part of the network."""
    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Sigmoid", ["x"], ["z"])]
    net = load_onnx(make_model(nodes, {"x": X4}, ["y"]), source="m.onnx")
    assert [layer.op for layer in net.layers] == ["relu"]


def test_registry_refuses_duplicates_and_lists_ops():
    """register_op refuses an (op, since) pair registered twice; supported_ops is sorted."""
    with pytest.raises(ValueError, match="'Conv' since opset 1 is already registered"):
        register_op("Conv", since=1)(lambda imp, node: None)
    ops = supported_ops()
    assert ops == sorted(ops) and {"Conv", "Gemm", "MatMul", "LRN", "Softmax"} <= set(ops)


# --------------------------------------------------------------------------- errors


def test_unsupported_op_error(tmp_path):
    """One error names the file, opset and every unsupported op with one node of each."""
    nodes = [helper.make_node("Einsum", ["x", "x"], ["a"], name="e1", equation="ij,ij->ij"),
             helper.make_node("Relu", ["a"], ["b"], name="r"),
             helper.make_node("Einsum", ["b", "b"], ["c"], name="e2", equation="ij,ij->ij"),
             helper.make_node("Hardmax", ["c"], ["y"], name="h")]
    path = save(make_model(nodes, {"x": (2, 4)}, {"y": (2, 4)}), tmp_path / "m.onnx")
    with pytest.raises(OnnxImportError, match=r"m\.onnx: unsupported ops at opset 13: "
                                              r"'Einsum' \(node 'e1'\), 'Hardmax' \(node 'h'\); "
                                              r"supported: Abs, Add, AveragePool, .*Transpose"
                                              r".*\(default domain\)$"):
        load_onnx(path)


def test_error_is_one_line_reramsim_error(tmp_path):
    """Import errors are ReramsimErrors with a single-line message."""
    with pytest.raises(ReramsimError) as info:
        load_onnx(one_node("Hardmax", {"x": X4}), source="m.onnx")
    assert "\n" not in str(info.value)


def test_garbage_file_error(tmp_path):
    """Bytes that are not an ONNX model give one line naming the file."""
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01 not a model \x00\x9a")
    with pytest.raises(OnnxImportError, match=r"junk\.onnx: not a readable ONNX model"):
        load_onnx(path)


def test_text_file_error(tmp_path):
    """A text file parses as nothing useful and is refused naming the file."""
    path = tmp_path / "notes.onnx"
    path.write_text("hello, I am not a protobuf")
    with pytest.raises(OnnxImportError, match=r"notes\.onnx: not"):
        load_onnx(path)


def test_missing_file_error(tmp_path):
    """A path that does not exist gives one line naming the file."""
    with pytest.raises(OnnxImportError, match=r"nowhere\.onnx: no such file"):
        load_onnx(tmp_path / "nowhere.onnx")


def test_not_a_model_error():
    """Something that is neither a path nor a ModelProto is refused."""
    with pytest.raises(OnnxImportError, match="expected a path or an onnx.ModelProto"):
        load_onnx(onnx.GraphProto())  # type: ignore[arg-type]


def test_gemm_nonconstant_weight_error():
    """A Gemm whose weight B is a graph input (computed at run time) is refused."""
    model = one_node("Gemm", {"x": ("N", 4), "b": (4, 3)}, name="fc")
    with pytest.raises(OnnxImportError, match=r"m\.onnx: node 'fc' \(Gemm, opset 13\): weight B "
                                              r"\(input 1, 'b'\) must be a constant"):
        load_onnx(model, source="m.onnx")


def test_gemm_constant_activation_error():
    """A Gemm whose A is the constant and B the activation is refused."""
    model = one_node("Gemm", {"a": w(3, 4), "x": ("N", 4)}, transB=1)
    with pytest.raises(OnnxImportError, match="the activation must be input A"):
        load_onnx(model, source="m.onnx")


def test_gemm_transA_error():
    """Gemm transA=1 would move the batch axis and is refused."""
    model = one_node("Gemm", {"x": (4, 2), "w": w(4, 3)}, transA=1)
    with pytest.raises(OnnxImportError, match="transA=1 would transpose the batch axis"):
        load_onnx(model, source="m.onnx")


def test_gemm_per_sample_bias_error():
    """A Gemm C that does not broadcast to (Cout,) (one row per sample) is refused."""
    model = one_node("Gemm", {"x": (2, 4), "w": w(4, 3), "c": w(2, 3)})
    with pytest.raises(OnnxImportError, match=r"bias C of shape \(2, 3\) does not broadcast"):
        load_onnx(model, source="m.onnx")


def test_transpose_batch_axis_error():
    """A Transpose whose perm[0] is not 0 moves the batch axis and is refused."""
    model = one_node("Transpose", {"x": X4}, perm=[1, 0, 2, 3], name="tr")
    with pytest.raises(OnnxImportError, match=r"node 'tr' \(Transpose, opset 13\): "
                                              r"perm=\[1, 0, 2, 3\] moves the batch axis"):
        load_onnx(model, source="m.onnx")


def test_flatten_other_axis_error():
    """Flatten with axis != 1 is refused."""
    with pytest.raises(OnnxImportError, match="only axis=1"):
        load_onnx(one_node("Flatten", {"x": X4}, axis=2), source="m.onnx")


def test_reshape_batch_error():
    """A Reshape that folds the batch into another dim is refused."""
    model = one_node("Reshape", {"x": (2, 4, 7, 8), "s": np.array([-1, 56])})
    with pytest.raises(OnnxImportError, match="the batch dim must stay first"):
        load_onnx(model, source="m.onnx")


def test_concat_batch_axis_error():
    """Concat along axis 0 (the batch) is refused."""
    with pytest.raises(OnnxImportError, match="axis=0 concatenates along the batch"):
        load_onnx(one_node("Concat", {"x": X4, "z": X4}, axis=0), source="m.onnx")


def test_softmax_coerced_multi_axis_error():
    """Opset < 13 Softmax over several non-unit axes is not a single-axis softmax: refused."""
    with pytest.raises(OnnxImportError, match=r"\(Softmax, opset 11\): axis=1 .* several"):
        load_onnx(one_node("Softmax", {"x": X4}, opset=11, axis=1), source="m.onnx")


def test_constant_add_not_after_weight_layer_is_an_add_layer(tmp_path):
    """A constant Add that does not follow a conv/fc becomes an add layer holding the constant."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Add", ["r", "c"], ["y"], name="shift")]
    net = check_against_ort(make_model(nodes, {"x": X4}, ["y"], {"c": w(4, 1, 1)}), tmp_path)
    assert net.layers[-1].op == "add" and net.layers[-1].attrs["const"].shape == (4, 1, 1)


def test_constant_add_not_per_channel_is_an_add_layer(tmp_path):
    """A constant Add after a conv that varies over pixels is not folded: an add layer."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Add", ["c", "k"], ["y"])]
    model = make_model(nodes, {"x": X4}, ["y"], {"w": w(2, 4, 1, 1), "k": w(2, 7, 8)})
    net = check_against_ort(model, tmp_path)
    assert [layer.op for layer in net.layers] == ["conv", "add"]
    assert net.layers[0].bias is None


def test_missing_initializer_error():
    """A node input that nothing produces (a missing initializer) is named."""
    model = make_model([helper.make_node("Conv", ["x", "w"], ["y"], name="c1")], {"x": X4}, ["y"])
    with pytest.raises(OnnxImportError, match=r"node 'c1' \(Conv, opset 13\): input 'w' is not "
                                              r"an initializer"):
        load_onnx(model, source="m.onnx")


def test_no_graph_input_error():
    """A graph whose only inputs are initializers has nothing to simulate: refused."""
    model = make_model([helper.make_node("Relu", ["c"], ["y"])], {}, ["y"], {"c": w(3)})
    with pytest.raises(OnnxImportError, match=r"^m\.onnx: the graph has no input"):
        load_onnx(model, source="m.onnx")


def test_symbolic_spatial_dim_error():
    """Only the batch dim of a graph input may be symbolic."""
    with pytest.raises(OnnxImportError, match="only the batch dim"):
        load_onnx(one_node("Relu", {"x": ("N", 3, "H", "W")}), source="m.onnx")


def test_used_second_output_error():
    """Using MaxPool's Indices output is refused."""
    node = helper.make_node("MaxPool", ["x"], ["y", "idx"], kernel_shape=[2, 2])
    cast = helper.make_node("Cast", ["idx"], ["z"], to=onnx.TensorProto.FLOAT)
    model = make_model([node, cast], {"x": X4}, ["y", "z"])
    with pytest.raises(OnnxImportError, match="output 'idx' is used"):
        load_onnx(model, source="m.onnx")


def test_non_default_domain_error():
    """An op of another domain is unsupported, with its domain named."""
    node = helper.make_node("FusedConv", ["x"], ["y"], domain="com.microsoft")
    model = make_model([node], {"x": X4}, ["y"])
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    with pytest.raises(OnnxImportError, match="unsupported op 'com.microsoft.FusedConv'"):
        load_onnx(model, source="m.onnx")


# --------------------------------------------------------------------------- --input-shape


def test_input_shape_fixes_dynamic_dims_and_batch(tmp_path):
    """--input-shape fixes symbolic H, W and the batch; the batch is Network.batch."""
    from reramsim.onnx_import import parse_input_shapes

    model = one_node("Relu", {"x": ("N", 3, "H", "W")})
    net = load_onnx(model, source="m.onnx", input_shapes=parse_input_shapes(["4x3x5x6"]))
    assert net.inputs == {"x": (3, 5, 6)} and net.batch == 4
    named = load_onnx(model, source="m.onnx", input_shapes=parse_input_shapes(["x=1x3x2x2"]))
    assert named.inputs == {"x": (3, 2, 2)} and named.batch == 1


def test_input_shape_errors():
    """A malformed spec, a clash with a static dim or an unknown input name: one line each."""
    from reramsim.onnx_import import parse_input_shapes

    with pytest.raises(OnnxImportError, match=r"--input-shape '1x3xH': expected \[NAME=\]"):
        parse_input_shapes(["1x3xH"])
    model = one_node("Relu", {"x": ("N", 3, "H", "W")})
    with pytest.raises(OnnxImportError, match="disagrees with the declared static shape"):
        load_onnx(model, source="m.onnx", input_shapes={"x": (1, 4, 5, 5)})
    with pytest.raises(OnnxImportError, match=r"names \['y'\], which are not graph inputs"):
        load_onnx(model, source="m.onnx", input_shapes={"y": (1, 3, 5, 5)})


def test_cli_simulate_with_input_shape(tmp_path, capsys):
    """reramsim simulate --input-shape runs a model whose H and W are dynamic."""
    from reramsim.cli import main

    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    path = save(make_model(nodes, {"x": ("N", 3, "H", "W")}, ["y"], {"w": w(4, 3, 3, 3)}),
                tmp_path / "dyn.onnx")
    assert main(["simulate", str(path), "--hw", "isaac", "--engine", "analytical"]) == 2
    assert "--input-shape" in capsys.readouterr().err
    assert main(["simulate", str(path), "--hw", "isaac", "--engine", "analytical",
                 "--input-shape", "1x3x8x8"]) == 0
