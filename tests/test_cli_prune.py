"""Tests for ``reramsim prune`` (reramsim.cli.prune)."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reramsim.cli import main  # noqa: E402

FAST = ["--epochs", "1", "--limit", "128", "--reram-limit", "16", "--quiet"]


@pytest.fixture(scope="module")
def lenet_pth(tmp_path_factory):
    """A LeNet state dict (random init, seeded): no dependence on trained artefacts."""
    from reramsim import zoo

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "lenet.pth"
    torch.save(zoo.build("lenet").state_dict(), path)
    return path


def test_prune_pth_writes_onnx_summary_and_json(lenet_pth, tmp_path, capsys):
    """A .pth of a zoo model: pruned ONNX, printed summary, JSON with the headline numbers."""
    out, summary = tmp_path / "seg.onnx", tmp_path / "s.json"
    rc = main(["prune", str(lenet_pth), "--scheme", "segprune", "--target-ratio", "8",
               "--data", "digits", "-o", str(out), "--json", str(summary), *FAST])
    assert rc == 0 and out.is_file()
    text = capsys.readouterr().out
    for line in ("pruning ratio", "crossbars", "float accuracy", "ReRAM accuracy",
                 "reconstruction"):
        assert line in text
    data = json.loads(summary.read_text())
    assert data["pruning_ratio"] >= 8.0
    assert data["crossbars_pruned"] < data["crossbars_dense"]
    assert isinstance(data["reram_accuracy_pruned"], (float, str))
    assert not (tmp_path / "seg.onnx.ckpt").exists()  # default checkpoint removed on success


def test_prune_onnx_of_a_zoo_architecture(lenet_pth, tmp_path):
    """An .onnx of a zoo model is loaded into the architecture (BN folded) and pruned."""
    from reramsim.training import export_onnx
    from reramsim.zoo import build
    from reramsim.onnx_import import load_onnx
    from reramsim.prune.metadata import scheme_from_metadata

    model = build("lenet")
    model.load_state_dict(torch.load(lenet_pth))
    src = export_onnx(model, tmp_path / "lenet.onnx", (1, 32, 32))
    out = tmp_path / "p.onnx"
    assert main(["prune", str(src), "-o", str(out), "--target-ratio", "4", *FAST]) == 0
    network = load_onnx(out)
    assert scheme_from_metadata(network)[0] == "segprune"
    assert network.n_weights / network.n_nonzero_weights >= 4.0


def test_checkpoint_is_kept_when_given(lenet_pth, tmp_path):
    """An explicit --checkpoint survives; rerunning with it resumes (nothing left to train)."""
    ckpt = tmp_path / "run.ckpt"
    args = ["prune", str(lenet_pth), "-o", str(tmp_path / "a.onnx"), "--checkpoint", str(ckpt),
            "--max-shapes", "4", "--segment-height", "8", *FAST]
    assert main(args) == 0 and ckpt.is_file()
    assert main(args) == 0


def test_errors_are_one_line(lenet_pth, tmp_path, capsys):
    """Unknown scheme, unknown architecture, foreign ONNX: exit 2 with a clear message."""
    out = str(tmp_path / "x.onnx")
    assert main(["prune", str(lenet_pth), "--scheme", "nope", "-o", out, *FAST]) == 2
    err = capsys.readouterr().err
    assert "registered: " in err and "segprune" in err.split("registered: ")[1]
    odd = tmp_path / "mystery.pth"
    odd.write_bytes(b"")
    assert main(["prune", str(odd), "-o", out, *FAST]) == 2
    assert "pass --arch" in capsys.readouterr().err
    assert main(["prune", str(lenet_pth), "--arch", "plain20", "-o", out, *FAST]) == 2
    assert "not a state dict of zoo model 'plain20'" in capsys.readouterr().err


def test_foreign_onnx_is_refused(tmp_path, capsys):
    """An ONNX graph that is not the named zoo architecture is refused, saying what is supported."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 16), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Gemm", ["input", "w"], ["logits"], transB=1)],
                              "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                  [1, 16])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4])],
                              [w])
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    rc = main(["prune", str(path), "--arch", "lenet", "-o", str(tmp_path / "o.onnx"), *FAST])
    assert rc == 2
    assert "must be a zoo architecture" in capsys.readouterr().err
