"""``reramsim run`` and ``reramsim accuracy``: files in and out, both accuracies, Ctrl-C, errors."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from onnx_builders import make_model, run_onnxruntime, save
from reramsim.cli import main
from reramsim.functional import FunctionalModel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """Conv 3x3 1->4 (pad 1), ReLU, Flatten, Gemm 256->10 on the digits' native 1x8x8 input."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c"], name="conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], name="fc", transB=1),
    ]
    model = make_model(nodes, {"x": ["N", 1, 8, 8]}, ["y"], {
        "w1": rng.standard_normal((4, 1, 3, 3)).astype(np.float32),
        "b1": rng.standard_normal(4).astype(np.float32),
        "w2": rng.standard_normal((10, 256)).astype(np.float32) * 0.1,
        "b2": np.zeros(10, np.float32)}, name="tiny")
    return save(model, tmp_path_factory.mktemp("models") / "tiny.onnx")


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(got - ref).max() / np.abs(ref).max())


def test_run_full_precision_matches_onnxruntime(tiny, tmp_path, capsys):
    """run --full-precision writes outputs equal to onnxruntime's (< 1e-5) as float32 .npy."""
    x = np.random.default_rng(1).standard_normal((5, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    rc = main(["run", str(tiny), "--hw", "isaac", "--input", str(tmp_path / "x.npy"),
               "--output", str(tmp_path / "y.npy"), "--full-precision", "--batch", "2"])
    assert rc == 0
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.float32 and y.shape == (5, 10)
    assert rel_err(y, run_onnxruntime(tiny, {"x": x})["y"]) < 1e-5
    out = capsys.readouterr().out
    assert "32-bit weights" in out and "ideal ADC" in out and "wrote" in out


def test_run_quantised_with_overrides(tiny, tmp_path, capsys):
    """run applies --set overrides; a 3-bit ADC moves the outputs and reports its clipping."""
    x = np.random.default_rng(2).random((4, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    ref = run_onnxruntime(tiny, {"x": x})["y"]
    for adc_bits, name in ((16, "y16.npy"), (3, "y3.npy")):
        assert main(["run", str(tiny), "--hw", "isaac", "--input", str(tmp_path / "x.npy"),
                     "--output", str(tmp_path / name), "--set", f"adc.bits={adc_bits}"]) == 0
    assert rel_err(np.load(tmp_path / "y16.npy"), ref) < 1e-3
    assert rel_err(np.load(tmp_path / "y3.npy"), ref) > 1e-2
    out = capsys.readouterr().out
    assert "3-bit ADC (unit)" in out and "clipped" in out


def test_run_single_sample_and_npz(tiny, tmp_path):
    """A .npy sample without batch dim is one sample; .npz output keeps every graph output."""
    x = np.random.default_rng(3).random((1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(tiny), "--hw", "isaac", "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npz"), "--ideal-adc"]) == 0
    with np.load(tmp_path / "y.npz") as data:
        assert data.files == ["y"] and data["y"].shape == (1, 10)


def test_run_calibration_file(tiny, tmp_path):
    """--calib calibrates on another batch: a wider range gives coarser input levels."""
    x = np.random.default_rng(4).random((3, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "calib.npy", 100 * x)
    common = ["run", str(tiny), "--hw", "isaac", "--input", str(tmp_path / "x.npy"),
              "--set", "precision.input_bits=4"]
    assert main(common + ["--output", str(tmp_path / "a.npy")]) == 0
    assert main(common + ["--output", str(tmp_path / "b.npy"), "--calib",
                          str(tmp_path / "calib.npy")]) == 0
    assert not np.allclose(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


@pytest.mark.parametrize("args, message", [
    (["--input", "missing.npy", "--output", "y.npy"], "missing.npy: no such input file"),
    (["--input", "x.npy", "--output", "y.txt"], "use a .npy or .npz file name"),
    (["--input", "x.npy", "--output", "y.npy", "--batch", "0"], "--batch must be >= 1"),
    (["--input", "bad.npy", "--output", "y.npy"], r"must be \(N, 1, 8, 8\), got \(2, 3\)"),
])
def test_run_errors_are_one_line(tiny, tmp_path, monkeypatch, capsys, args, message):
    """Bad files and options give one line on stderr and exit status 2."""
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
    np.save(tmp_path / "bad.npy", np.zeros((2, 3), np.float32))
    assert main(["run", str(tiny), "--hw", "isaac", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reramsim run: error:") and len(err.strip().splitlines()) == 1
    assert re.search(message, err)


def test_accuracy_prints_float_and_reram(tiny, capsys):
    """accuracy prints acc_float (onnxruntime) and acc_reram over the images measured."""
    rc = main(["accuracy", str(tiny), "--hw", "isaac", "--data", "digits", "--limit", "30",
               "--batch", "8", "--no-progress", "--ideal-adc", "--set",
               "precision.input_bits=24", "--set", "precision.weight_bits=24"])
    out = capsys.readouterr().out
    assert rc == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "digits test, 30 images" in lines["data"]
    acc_float = float(lines["acc_float"].split()[1].rstrip("%"))
    acc_reram = float(lines["acc_reram"].split()[1].rstrip("%"))
    assert acc_float == acc_reram  # 24-bit, ideal ADC: the same predictions


def test_accuracy_lenet_isaac(capsys):
    """The zoo's trained LeNet keeps its float accuracy on ISAAC crossbars (40 digits)."""
    lenet = ROOT / "models" / "lenet.onnx"
    if not lenet.is_file():
        pytest.skip("models/lenet.onnx not built")
    assert main(["accuracy", str(lenet), "--hw", "isaac", "--data", "digits", "--limit", "40",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    acc = {line.split()[0]: float(line.split()[1].rstrip("%")) for line in out.splitlines()
           if line.startswith("acc_")}
    assert acc["acc_float"] >= 90 and abs(acc["acc_reram"] - acc["acc_float"]) <= 2.5


def test_accuracy_ctrl_c_prints_partial(tiny, monkeypatch, capsys):
    """Ctrl-C during the loop prints the accuracies over the images done and exits 130."""
    calls = {"n": 0}
    forward = FunctionalModel.forward

    def interrupted(self, x):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return forward(self, x)

    monkeypatch.setattr(FunctionalModel, "forward", interrupted)
    rc = main(["accuracy", str(tiny), "--hw", "isaac", "--data", "digits", "--limit", "40",
               "--batch", "8", "--calib", "0"])
    out = capsys.readouterr().out
    assert rc == 130
    assert "interrupted after 16 of 40 images" in out
    assert "acc_float" in out and "acc_reram" in out and "16 images" in out


def test_accuracy_json(tiny, tmp_path, capsys):
    """--json writes the figures, the ADC counters and the precision used."""
    path = tmp_path / "acc.json"
    assert main(["accuracy", str(tiny), "--hw", "isaac", "--data", "digits", "--limit", "10",
                 "--no-progress", "--json", str(path)]) == 0
    record = json.loads(path.read_text())
    assert record["images"] == 10 and not record["interrupted"]
    assert 0 <= record["acc_reram"] <= 1 and record["precision"]["weight_bits"] == 16
    assert set(record["adc"]) == {"conv", "fc"}
    assert record["adc"]["conv"]["samples"] > 0


@pytest.mark.parametrize("args, message", [
    (["--data", "nope"], "bad dataset spec 'nope'"),
    (["--data", "digits", "--limit", "0"], "--limit must be >= 1"),
    (["--data", "digits", "--set", "precision.weight_bits=1", "--set", "crossbar.cell_bits=1"],
     "at least 2 bits"),
])
def test_accuracy_errors_are_one_line(tiny, capsys, args, message):
    """Bad data specs and options give one line on stderr and exit status 2."""
    assert main(["accuracy", str(tiny), "--hw", "isaac", "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reramsim accuracy: error:") and message in err


@pytest.mark.parametrize("command", ["run", "accuracy"])
def test_help_has_examples(command, capsys):
    """Each subcommand's --help shows its description and examples."""
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"reramsim {command} models/" in capsys.readouterr().out
