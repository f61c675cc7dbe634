"""Tests for the Python API (``import reramsim as rs``, reramsim.api) and the README quickstart."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import reramsim as rs
from reramsim.config import ConfigError
from reramsim.pipeline import simulate
from reramsim.report import build_report


def test_readme_quickstart_runs_verbatim(repo_root, tmp_path):
    """The README's Python quickstart runs as written and writes what it says."""
    text = (repo_root / "README.md").read_text()
    code = re.search(r"Quickstart in Python.*?```python\n(.*?)```", text, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12
    (tmp_path / "models").symlink_to(repo_root / "models")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300,
                          env={"PYTHONPATH": str(repo_root), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2
    assert (tmp_path / "out/lenet/report.json").is_file()
    assert len((tmp_path / "out/sweep/results.csv").read_text().splitlines()) == 5


def test_simulate_equals_the_pipeline(repo_root):
    """rs.simulate with a dict of overrides equals pipeline.simulate with --set strings."""
    model = repo_root / "models" / "lenet.onnx"
    res = rs.simulate(str(model), "isaac", set={"adc.bits": 6, "ou.rows": 32},
                      engine="analytical")
    report = build_report(simulate(model, "isaac", ["adc.bits=6", "ou.rows=32"],
                                   engine="analytical"))
    assert res.totals == report["totals"]
    assert [x["name"] for x in res.layers] == [x["name"] for x in report["layers"]]
    assert json.loads(res.to_json())["totals"] == report["totals"]
    assert "lenet on isaac" in repr(res)


def test_load_config_takes_a_dict_or_strings():
    """rs.load_config: set= as a dict or as --set strings; a bad value names the override."""
    assert rs.load_config("isaac", set={"adc.bits": 5}) == rs.load_config("isaac",
                                                                         set=["adc.bits=5"])
    with pytest.raises(ConfigError, match="adc.bits=99"):
        rs.load_config("isaac", set={"adc.bits": 99})


def test_to_dataframe_has_a_row_per_layer(repo_root):
    """to_dataframe: one row per layer, the CSV report's columns (needs pandas)."""
    pytest.importorskip("pandas")
    res = rs.simulate(str(repo_root / "models" / "lenet.onnx"), "isaac", engine="analytical")
    frame = res.to_dataframe()
    assert list(frame["name"]) == [x["name"] for x in res.layers]


def test_sweep_returns_the_results_table(repo_root):
    """rs.sweep without a folder returns one row per point, with every total as a column."""
    rows = rs.sweep(str(repo_root / "models" / "lenet.onnx"), "isaac",
                    grid={"adc.shared_by_crossbars": [1, 2]}, engine="analytical")
    assert [r["adc.shared_by_crossbars"] for r in rows] == [1, 2]
    assert all(r["status"] == "ok" and r["latency_ns"] > 0 for r in rows)
