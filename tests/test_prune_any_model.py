"""Prune any model: the IR as a torch module, the write-back into the original graph, the CLI."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

torch = pytest.importorskip("torch")

from onnx_builders import make_model, run_onnxruntime, save  # noqa: E402

from reramsim.cli import main  # noqa: E402
from reramsim.onnx_import import load_onnx  # noqa: E402
from reramsim.ops import run_float  # noqa: E402
from reramsim.prune.ir_torch import IRModule  # noqa: E402
from reramsim.prune.writeback import write_back  # noqa: E402

RNG = np.random.default_rng(3)


def _w(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * 0.5).astype(np.float32)


def folded_graph() -> onnx.ModelProto:
    """Conv + BN + bias Add, ConvTranspose, Mul by a per-channel constant, Gemm with alpha,
    MatMul + bias Add: every fold and every weight layout the write-back must invert."""
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "b", "m", "v"], ["n1"], name="bn1"),
        helper.make_node("Add", ["n1", "k1"], ["a1"], name="shift1"),
        helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        helper.make_node("ConvTranspose", ["r1", "wt"], ["t1"], name="up", strides=[2, 2],
                         pads=[1, 1, 0, 0], group=2),
        helper.make_node("Mul", ["t1", "s1"], ["m1"], name="scale1"),
        helper.make_node("GlobalAveragePool", ["m1"], ["p"], name="gap"),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "wg"], ["g1"], name="fc1", alpha=0.5, transB=1),
        helper.make_node("Relu", ["g1"], ["r2"], name="relu2"),
        helper.make_node("MatMul", ["r2", "wm"], ["mm"], name="fc2"),
        helper.make_node("Add", ["mm", "k2"], ["y"], name="bias2"),
    ]
    inits = {"w1": _w(4, 2, 3, 3), "g": _w(4) + 1.5, "b": _w(4), "m": _w(4),
             "v": np.abs(_w(4)) + 0.5, "k1": _w(1, 4, 1, 1), "wt": _w(4, 3, 3, 3),
             "s1": _w(6, 1, 1) + 1.0, "wg": _w(5, 6), "wm": _w(5, 3), "k2": _w(3)}
    return make_model(nodes, {"x": ("N", 2, 5, 5)}, ["y"], inits)


def test_ir_module_equals_the_float_reference():
    """IRModule.forward equals run_float on the same network."""
    net = load_onnx(folded_graph(), source="m.onnx")
    x = RNG.standard_normal((3, 2, 5, 5)).astype(np.float32)
    with torch.no_grad():
        got = IRModule(net)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, run_float(net, x)["y"], rtol=1e-5, atol=1e-5)


def test_write_back_keeps_the_graph_and_computes_the_new_weights(tmp_path):
    """Changed weights written back: same nodes and names, and onnxruntime equals the module."""
    model = folded_graph()
    net = load_onnx(model, source="m.onnx")
    module = IRModule(net, original=model)
    with torch.no_grad():
        for sub in module.weights.values():
            sub.weight.mul_((torch.rand(sub.weight.shape) > 0.5).float())
            if sub.bias is not None:
                sub.bias.add_(0.25)
    out = write_back(model, net, module.pruned_weights())
    assert [(n.name, n.op_type, list(n.output)) for n in out.graph.node] == [
        (n.name, n.op_type, list(n.output)) for n in model.graph.node]
    x = RNG.standard_normal((2, 2, 5, 5)).astype(np.float32)
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    got = run_onnxruntime(save(out, tmp_path / "w.onnx"), {"x": x})["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    inits = {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}
    assert np.all(inits["g"] == 1) and np.all(inits["m"] == 0)  # bn1 is now the identity
    assert np.all(inits["s1"] == 1)  # the folded Mul too


def _classifier(classes: int) -> onnx.ModelProto:
    """A small CNN that is not in the zoo: conv-relu-maxpool-conv-relu-gap-fc, 1x8x8 input."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="user_conv_a", pads=[1] * 4),
        helper.make_node("Relu", ["c1"], ["r1"], name="user_relu_a"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="user_pool", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="user_conv_b", pads=[1] * 4),
        helper.make_node("HardSwish", ["c2"], ["r2"], name="user_act_b"),
        helper.make_node("ReduceMean", ["r2", "axes"], ["g"], name="user_mean", keepdims=0),
        helper.make_node("Gemm", ["g", "wf", "bf"], ["logits"], name="user_head", transB=1),
    ]
    inits = {"w1": _w(8, 1, 3, 3), "b1": _w(8), "w2": _w(16, 8, 3, 3),
             "axes": np.array([2, 3], np.int64), "wf": _w(classes, 16), "bf": _w(classes)}
    return make_model(nodes, {"x": ("N", 1, 8, 8)}, ["logits"], inits, opset=18)


def test_cli_prunes_an_onnx_file_outside_the_zoo(tmp_path, capsys):
    """`reramsim prune MODEL.onnx --data npz:FILE` keeps the node names and prunes."""
    path = save(_classifier(4), tmp_path / "mynet.onnx")
    rng = np.random.default_rng(0)
    data = tmp_path / "data.npz"
    np.savez(data, x=rng.random((40, 1, 6, 6)).astype(np.float32),
             y=rng.integers(0, 4, 40))
    out = tmp_path / "mynet_pruned.onnx"
    rc = main(["prune", str(path), "--scheme", "segprune", "--target-ratio", "2", "--epochs", "1",
               "--data", f"npz:{data}", "--reram-limit", "4", "--quiet", "-o", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "images resized from 1x6x6 to 1x8x8" in text
    original, pruned = onnx.load(str(path)), onnx.load(str(out))
    assert [n.name for n in pruned.graph.node] == [n.name for n in original.graph.node]
    net = load_onnx(out)
    assert net.n_weights / net.n_nonzero_weights >= 1.9
    assert "reramsim.pruning" in net.metadata


def test_cli_prune_class_count_mismatch_is_an_error(tmp_path, capsys):
    """A 4-class model with the 10-class digits data is refused, naming both counts."""
    path = save(_classifier(4), tmp_path / "mynet.onnx")
    rc = main(["prune", str(path), "--epochs", "1", "--quiet", "-o", str(tmp_path / "o.onnx")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "has 4 outputs but --data digits has 10 classes" in err
    assert err.count("\n") == 1
