"""Tests for reramsim.plots, reramsim.outputs and ``simulate --out`` / ``--trace-limit`` /
``reramsim plot``: the Pareto front, PNGs that open, the results folder, the trace cap."""
from __future__ import annotations

import json

import pytest

from reramsim.cli import main
from reramsim.config import load_config
from reramsim.plots import PlotError, pareto_front, plot_sweep

PIL = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")


def _png_size(path) -> tuple[int, int]:
    with PIL.open(path) as image:
        image.verify()
    with PIL.open(path) as image:
        return image.size


def test_pareto_front_by_hand():
    """A point is on the front when no other is at least as good in both and better in one."""
    points = [(1, 5), (2, 2), (3, 3), (5, 1), (2, 2), (6, 6)]
    assert pareto_front(points) == [True, True, False, True, True, False]


def test_simulate_out_writes_the_results_folder(repo_root, tmp_path, capsys):
    """simulate --out: table, JSON, CSV, a resolved config that loads back, trace, three PNGs."""
    out = tmp_path / "res"
    rc = main(["simulate", str(repo_root / "models" / "lenet.onnx"), "--hw", "isaac",
               "--set", "adc.bits=6", "--out", str(out)])
    stdout = capsys.readouterr().out
    assert rc == 0
    names = {"report.txt", "report.json", "layers.csv", "config.yaml", "trace.json",
             "energy_breakdown.png", "area_breakdown.png", "timeline.png"}
    assert names <= {p.name for p in out.iterdir()}
    for name in names:
        assert f"wrote {out / name}" in stdout
    report = json.loads((out / "report.json").read_text())
    assert (out / "report.txt").read_text().startswith("lenet on isaac")
    resolved = load_config(out / "config.yaml")
    assert resolved.adc.bits == 6 and resolved.name == "isaac"
    assert len((out / "layers.csv").read_text().splitlines()) == len(report["layers"]) + 1
    for png in ("energy_breakdown.png", "area_breakdown.png", "timeline.png"):
        width, height = _png_size(out / png)
        assert width > 300 and height > 150
    assert "trace truncated" not in stdout


def test_a_truncated_trace_says_so_and_the_limit_raises_the_cap(repo_root, tmp_path, capsys):
    """A trace that hits --trace-limit is announced on stdout and in the file; a higher cap
    keeps more records."""
    model = str(repo_root / "models" / "lenet.onnx")
    small, big = tmp_path / "s.json", tmp_path / "b.json"
    assert main(["simulate", model, "--hw", "isaac", "--trace", str(small),
                 "--trace-limit", "100"]) == 0
    out = capsys.readouterr().out
    assert "trace truncated: kept the first 100 records" in out and "--trace-limit" in out
    info = json.loads(small.read_text())["otherData"]
    assert info["truncated"] and info["recorded"] == 100
    assert main(["simulate", model, "--hw", "isaac", "--trace", str(big),
                 "--trace-limit", "1000"]) == 0
    assert json.loads(big.read_text())["otherData"]["recorded"] == 1000
    assert main(["simulate", model, "--hw", "isaac", "--trace", str(big),
                 "--trace-limit", "0"]) == 2
    assert "--trace-limit must be >= 1, got 0" in capsys.readouterr().err


def test_sweep_plot_and_plot_command_draw_pngs(repo_root, tmp_path, capsys):
    """sweep --plot and `reramsim plot DIR` draw pareto.png and effects.png that open."""
    rc = main(["sweep", str(repo_root / "models" / "lenet.onnx"), "--hw", "isaac",
               "--engine", "analytical", "--grid", "ou.rows=16,32,64", "--grid",
               "ou.cols=16,64", "--out", str(tmp_path), "--plot", "--no-progress"])
    assert rc == 0
    for name in ("pareto.png", "effects.png"):
        assert _png_size(tmp_path / name)[0] > 300
        (tmp_path / name).unlink()
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "p")]) == 0
    assert {"pareto.png", "effects.png"} <= {p.name for p in (tmp_path / "p").iterdir()}


def test_plot_needs_a_results_folder_with_a_success(tmp_path, capsys):
    """plot on a folder without results, or with only failed points, is a one-line error."""
    assert main(["plot", str(tmp_path)]) == 2
    assert f"{tmp_path}: no results.jsonl here" in capsys.readouterr().err
    with pytest.raises(PlotError, match="no successful sweep point"):
        plot_sweep([{"point": "a", "status": "failed"}], tmp_path)
