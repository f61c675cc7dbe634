"""``reramsim simulate``: table on stdout, JSON and CSV files, one-line errors with exit 2."""
import csv
import json

import numpy as np
import pytest
from onnx import helper

from onnx_builders import make_model, save
from reramsim.cli import main


@pytest.fixture(scope="module")
def conv_relu_gemm(tmp_path_factory):
    """A conv 3x3 1->4, ReLU, Flatten, Gemm 144->10 model on a 1x8x8 input, saved to a file."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c"], name="conv", kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], name="fc", transB=1),
    ]
    model = make_model(nodes, {"x": [1, 1, 8, 8]}, ["y"], {
        "w1": rng.standard_normal((4, 1, 3, 3)).astype(np.float32),
        "w2": rng.standard_normal((10, 144)).astype(np.float32),
        "b2": np.zeros(10, np.float32)}, name="tiny")
    return save(model, tmp_path_factory.mktemp("models") / "tiny.onnx")


def test_simulate_prints_the_table_and_writes_json_and_csv(conv_relu_gemm, tmp_path, capsys):
    """simulate prints the per-layer table and writes a JSON report and a CSV row per layer."""
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    rc = main(["simulate", str(conv_relu_gemm), "--hw", "isaac", "--engine", "analytical",
               "--set", "organization.tiles=0", "--json", str(out_json), "--csv", str(out_csv)])
    stdout = capsys.readouterr().out
    assert rc == 0
    assert "latency [" in stdout and "energy by component" in stdout and "legend:" in stdout
    report = json.loads(out_json.read_text())
    assert (report["model"], report["config"], report["engine"]) == ("tiny", "isaac", "analytical")
    assert [x["op"] for x in report["layers"]] == ["conv", "relu", "flatten", "fc"]
    assert report["totals"]["crossbars"] == 1 + 2  # 9x4 -> 1 XB; 144x10 at 8 slices -> 2 x 1
    assert report["accelerator"]["tiles"] == 1
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["name"] for r in rows] == [x["name"] for x in report["layers"]]


def test_default_engine_runs(conv_relu_gemm, capsys):
    """Without --engine, simulate picks the best engine available and succeeds."""
    assert main(["simulate", str(conv_relu_gemm), "--hw", "ou_16x16"]) == 0
    assert "total" in capsys.readouterr().out


def test_pruned_model_metadata_picks_the_scheme(tmp_path, capsys):
    """A model whose pruning metadata names segprune maps with it unless --scheme says otherwise."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((16, 32)).astype(np.float32)
    w[:, 8:] = 0.0  # rows 8.. pruned in every column: one shape per row-block
    meta = json.dumps({"format": 1, "scheme": "segprune", "layers": []})
    model = make_model([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)],
                       {"x": [1, 32]}, ["y"], {"w": w}, metadata={"reramsim.pruning": meta})
    path = save(model, tmp_path / "pruned.onnx")
    reports = {}
    for scheme in (None, "dense"):
        out = tmp_path / f"{scheme}.json"
        argv = ["simulate", str(path), "--hw", "ou_16x16", "--engine", "analytical",
                "--json", str(out)] + (["--scheme", scheme] if scheme else [])
        assert main(argv) == 0, capsys.readouterr().err
        reports[scheme] = json.loads(out.read_text())
    assert reports[None]["scheme"] == "segprune" and reports["dense"]["scheme"] == "dense"
    assert reports[None]["accelerator"]["pruned_datapath_area_um2"] > 0
    assert reports["dense"]["accelerator"]["pruned_datapath_area_um2"] == 0


def test_demo_runs(capsys):
    """python -m reramsim.demo prints the tables, the summary, the scheme comparison and accuracies."""
    from reramsim import demo

    assert demo.main(["--engine", "analytical"]) == 0
    out = capsys.readouterr().out
    assert out.count("legend:") == 2 and "plain20" in out and "schemes compared" in out
    assert "segprune (lenet_segprune)" in out
    accuracy = out.split("top-1 accuracy on 360 held-out digits", 1)[1]
    assert "lenet_segprune  segprune" in accuracy and "acc_reram" in accuracy


def test_bad_config_key_is_one_line_with_file_and_line(conv_relu_gemm, tmp_path, capsys):
    """An unknown config key exits 2 with 'file:line: key.path' on one stderr line."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("base: isaac\nadc:\n  bitz: 6\n")
    rc = main(["simulate", str(conv_relu_gemm), "--hw", str(cfg)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{cfg}:3: adc.bitz: unknown key" in err and "did you mean 'bits'" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unsupported_onnx_op_is_one_line(tmp_path, capsys):
    """An ONNX op the importer does not support exits 2 with one line naming it, no traceback."""
    model = make_model([helper.make_node("Einsum", ["x", "x"], ["y"], name="odd",
                                         equation="ij,ij->ij")], {"x": [2, 2]}, ["y"])
    path = save(model, tmp_path / "odd.onnx")
    rc = main(["simulate", str(path), "--hw", "isaac"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Einsum" in err and "odd.onnx" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_model_file_is_one_line(tmp_path, capsys):
    """A model path that does not exist exits 2 with one line naming it."""
    rc = main(["simulate", str(tmp_path / "nope.onnx"), "--hw", "isaac"])
    err = capsys.readouterr().err
    assert rc == 2 and "nope.onnx" in err and err.count("\n") == 1


def test_help_explains_with_an_example(capsys):
    """simulate --help says what it does and shows an example."""
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = capsys.readouterr().out
    assert "Simulate an ONNX model" in out and "reramsim simulate models/lenet.onnx" in out


def test_simulate_path_never_imports_torch(repo_root):
    """`reramsim simulate` on a pruned model runs without importing torch."""
    import subprocess
    import sys

    code = ("import sys; from reramsim.cli import main; "
            "rc = main(['simulate', 'models/lenet_segprune.onnx', '--hw', 'ou_16x16']); "
            "assert rc == 0 and 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")
    done = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_simulate_budget_images_and_zero_skipping(conv_relu_gemm, tmp_path, capsys):
    """--budget, --images and --inputs reach the run: copies fill the budget, the stream
    is reported, zero-skipping says it is on; a bad budget or image count is one line."""
    out = tmp_path / "r.json"
    x = np.zeros((3, 1, 8, 8), np.float32)
    x[0, 0, 2:5, 2:5] = 1.0
    np.save(tmp_path / "x.npy", x)
    rc = main(["simulate", str(conv_relu_gemm), "--hw", "ou_16x16", "--engine", "pyref",
               "--budget", "6", "--set", "mapping.replication=balance",
               "--set", "ou.skip_zero_inputs=true", "--inputs", str(tmp_path / "x.npy"),
               "--json", str(out)])
    assert rc == 0
    totals = json.loads(out.read_text())["totals"]
    assert (totals["images"], totals["budget_crossbars"], totals["zero_skip"]) == (
        3, 6, "on: 3 images")
    assert totals["crossbars_placed"] > 2 and totals["stream_cycles"] > totals["cycles"]
    assert "stream of 3 images" in capsys.readouterr().out
    for args, message in ((["--budget", "lots"], "--budget: expected 'dense', 'chip'"),
                          (["--images", "0"], "--images: expected an integer >= 1")):
        assert main(["simulate", str(conv_relu_gemm), "--hw", "isaac", *args]) == 2
        assert message in capsys.readouterr().err
