"""Tests for reramsim.sweeps and ``reramsim sweep`` on the local backend: points, records,
resume, failed points, the CSV, and records equal to single simulations."""
from __future__ import annotations

import csv
import json

import pytest

from reramsim.cli import main
from reramsim.pipeline import simulate
from reramsim.report import build_report
from reramsim.sweeps import SweepError, SweepSpec, config_hash, load_records, parse_grid, run_sweep


@pytest.fixture(scope="module")
def lenet(repo_root):
    return str(repo_root / "models" / "lenet.onnx")


def _spec(lenet, **kw) -> SweepSpec:
    grid = {"ou.rows": [16, 32], "adc.bits": [4, 8]}
    return SweepSpec(models=[lenet], hw="isaac", grid=kw.pop("grid", grid), engine="analytical",
                     **kw)


def test_parse_grid_reads_yaml_scalars():
    """--grid values are YAML scalars: integers, floats, booleans and words."""
    assert parse_grid(["adc.bits=4,6", "crossbar.read_latency_ns=50.5",
                       "noc.shared_links=true,false", "pipeline.mode=pixel,layer"]) == {
        "adc.bits": [4, 6], "crossbar.read_latency_ns": [50.5],
        "noc.shared_links": [True, False], "pipeline.mode": ["pixel", "layer"]}


@pytest.mark.parametrize("text, match", [("adc.bits", "expected KEY.PATH=V1"),
                                         ("adc.bits=4,,6", "expected KEY.PATH=V1"),
                                         ("=4", "expected KEY.PATH=V1")])
def test_parse_grid_rejects_malformed(text, match):
    """A --grid without a key, an '=' or a value is a one-line error naming it."""
    with pytest.raises(SweepError, match=match):
        parse_grid([text])


def test_grid_is_the_product_and_random_draws_distinct_points(lenet):
    """The grid is the product of its lists; --random N draws N distinct points, seeded."""
    tasks = _spec(lenet).tasks()
    assert [t["values"]["ou.rows"] for t in tasks] == [16, 16, 32, 32]
    assert [t["set"] for t in tasks][1] == ["ou.rows=16", "adc.bits=8"]
    assert len({t["point"] for t in tasks}) == 4
    drawn = _spec(lenet, random=3, seed=1).tasks()
    assert len({t["point"] for t in drawn}) == 3
    assert {t["point"] for t in drawn} <= {t["point"] for t in tasks}
    assert [t["point"] for t in drawn] == [t["point"] for t in _spec(lenet, random=3,
                                                                       seed=1).tasks()]
    with pytest.raises(SweepError, match="--random 5: the grid has 4 points"):
        _spec(lenet, random=5).tasks()


def test_records_equal_single_simulations(lenet, tmp_path):
    """Each record holds the swept values, the resolved config's hash and the report's totals,
    equal to simulating that point alone."""
    records = run_sweep(_spec(lenet), tmp_path, progress=False)
    assert [r["status"] for r in records] == ["ok"] * 4
    for r in records:
        sets = [f"ou.rows={r['values']['ou.rows']}", f"adc.bits={r['values']['adc.bits']}"]
        report = build_report(simulate(lenet, "isaac", sets, engine="analytical"))
        assert r["totals"] == report["totals"]
        assert r["config_hash"] == config_hash(report["config_values"])
    assert len({r["config_hash"] for r in records}) == 4
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["point"] for x in lines) == sorted(r["point"] for r in records)


def test_csv_has_every_total_and_a_row_per_point(lenet, tmp_path):
    """results.csv: one row per point in grid order, a column per swept key and per total."""
    records = run_sweep(_spec(lenet), tmp_path, progress=False)
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == [0, 1, 2, 3]
    assert set(records[0]["totals"]) | {"ou.rows", "adc.bits", "config_hash"} <= set(rows[0])
    assert float(rows[3]["latency_ns"]) == records[3]["totals"]["latency_ns"]


def test_resume_skips_done_points(lenet, tmp_path, monkeypatch):
    """A sweep run again into the same folder simulates only the points not done yet."""
    run_sweep(_spec(lenet, grid={"ou.rows": [16, 32]}), tmp_path, progress=False)
    import reramsim.sweeps as sweeps

    ran = []
    real = sweeps.run_point
    monkeypatch.setattr(sweeps, "run_point", lambda task: ran.append(task) or real(task))
    records = run_sweep(_spec(lenet, grid={"ou.rows": [16, 32, 64]}), tmp_path, progress=False)
    assert [t["values"]["ou.rows"] for t in ran] == [64]
    assert [r["values"]["ou.rows"] for r in records] == [16, 32, 64]
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 3


def test_a_cut_line_is_ignored_and_its_point_runs_again(lenet, tmp_path):
    """An interrupted write (a cut last line) does not stop the resume; that point reruns."""
    run_sweep(_spec(lenet, grid={"ou.rows": [16, 32]}), tmp_path, progress=False)
    path = tmp_path / "results.jsonl"
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1][:40])
    assert len(load_records(tmp_path)) == 1
    records = run_sweep(_spec(lenet, grid={"ou.rows": [16, 32]}), tmp_path, progress=False)
    assert [r["status"] for r in records] == ["ok", "ok"]


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(lenet, tmp_path, capsys):
    """An invalid point is recorded with its error; the others finish; exit status 1."""
    rc = main(["sweep", lenet, "--hw", "isaac", "--engine", "analytical", "--grid",
               "ou.cols=32,512", "--out", str(tmp_path), "--jobs", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "2 points: 1 done, 1 failed" in out
    records = load_records(tmp_path)
    assert [r["status"] for r in records] == ["ok", "failed"]
    assert "ou.cols: must be <= crossbar.cols (128), got 512" in records[1]["error"]
    assert "totals" not in records[1]


def test_pool_gives_the_same_records_as_one_process(lenet, tmp_path):
    """2 local workers give the same results.csv as 1, on the cycle engine."""
    spec = SweepSpec(models=[lenet], hw="isaac", grid={"ou.rows": [16, 32]}, engine="cycle")
    run_sweep(spec, tmp_path / "one", jobs=1, progress=False)
    run_sweep(spec, tmp_path / "two", jobs=2, progress=False)
    assert (tmp_path / "one/results.csv").read_text() == (tmp_path / "two/results.csv").read_text()


def test_schemes_and_models_are_swept(repo_root, tmp_path):
    """Models and --scheme lists join the product; a pruned model's scheme is resolved."""
    seg = str(repo_root / "models" / "lenet_segprune.onnx")
    records = run_sweep(SweepSpec(models=[seg], hw="ou_16x16", schemes=[None, "dense"],
                                  engine="analytical"), tmp_path, progress=False)
    assert [r["scheme"] for r in records] == ["segprune", "dense"]
    assert records[0]["totals"]["crossbars"] < records[1]["totals"]["crossbars"]


def test_bad_backend_and_jobs_are_one_line_errors(lenet, tmp_path):
    """An unknown backend, jobs < 1 or --ray-address without ray are refused by name."""
    with pytest.raises(SweepError, match="--backend spark: expected one of local, ray"):
        run_sweep(_spec(lenet), tmp_path, backend="spark")
    with pytest.raises(SweepError, match="--jobs must be >= 1, got 0"):
        run_sweep(_spec(lenet), tmp_path, jobs=0)
    with pytest.raises(SweepError, match="--ray-address needs --backend ray"):
        run_sweep(_spec(lenet), tmp_path, ray_address="127.0.0.1:1")


def test_accuracy_at_each_point(lenet, tmp_path):
    """With data, each point also holds top-1 accuracy in float and on the hardware."""
    records = run_sweep(_spec(lenet, grid={"adc.bits": [8]}, data="digits", data_limit=64),
                        tmp_path, progress=False)
    acc = records[0]["accuracy"]
    assert acc["images"] == 64 and 0.5 < acc["acc_float"] <= 1.0
    assert 0.0 <= acc["acc_reram"] <= 1.0
