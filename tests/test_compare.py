"""``reramsim compare`` (reramsim.compare): rows, ratios, table, JSON, CSV, PNG, errors."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from reramsim.cli import main
from reramsim.compare import COLUMNS, CompareError, compare_files, split_spec
from reramsim.config import load_config
from reramsim.mapping import map_network
from reramsim.onnx_import import load_onnx
from reramsim.prune.metadata import resolve_scheme

torch = pytest.importorskip("torch")

KEYS = ["file", "scheme", "config", "weights", "nonzero_weights", "pruning_ratio", "crossbars",
        "cr_crossbars", "latency_ns", "speedup", "throughput_ips", "throughput_speedup",
        "energy_pj", "energy_reduction", "area_um2", "datapath_area_pct", "ou_steps",
        "macs_per_ou_step", "cell_utilisation"]


@pytest.fixture(scope="module")
def lenet_files(repo_root, tmp_path_factory):
    """LeNet dense, SegPrune (shipped) and FORMS (one projection of the trained weights)."""
    from reramsim.prune import get_pruner
    from reramsim.prune.export import export_pruned
    from reramsim.prune.finetune import PruneResult, project_all
    from reramsim.training import load_trained
    from reramsim.zoo import INPUT_SHAPES

    model = load_trained("lenet")
    pruner = get_pruner("forms", load_config("forms"))
    projections = project_all(model, pruner, 3.0, "lamp")
    path = tmp_path_factory.mktemp("cmp") / "lenet_forms.onnx"
    export_pruned(PruneResult(model, pruner, 3.0, list(projections), projections), path,
                  INPUT_SHAPES["lenet"])
    return [repo_root / "models" / "lenet.onnx", repo_root / "models" / "lenet_segprune.onnx",
            path]


def crossbars(path, hw: str) -> int:
    network = load_onnx(path)
    return map_network(network, load_config(hw), *resolve_scheme(network)).n_crossbars


def test_rows_have_the_issue_keys_and_ratios_against_the_first_file(lenet_files):
    """One row per file with exactly the listed keys; ratios recomputed from the mappings."""
    dense, seg, forms = lenet_files
    rows, base = compare_files([str(dense), str(seg), f"{forms}@forms"], "ou_16x16",
                               engine="analytical")
    assert base == 0 and [list(r) for r in rows] == [KEYS] * 3
    assert [(r["scheme"], r["config"]) for r in rows] == [
        ("dense", "ou_16x16"), ("segprune", "ou_16x16"), ("forms", "forms")]
    assert rows[0]["cr_crossbars"] == rows[0]["speedup"] == rows[0]["energy_reduction"] == 1.0
    assert rows[0]["datapath_area_pct"] == 0.0
    net = load_onnx(seg)
    assert rows[1]["pruning_ratio"] == pytest.approx(net.n_weights / net.n_nonzero_weights)
    assert rows[1]["cr_crossbars"] == pytest.approx(crossbars(dense, "ou_16x16")
                                                    / crossbars(seg, "ou_16x16"))
    assert rows[2]["crossbars"] == crossbars(forms, "forms")
    assert rows[2]["speedup"] == pytest.approx(rows[0]["latency_ns"] / rows[2]["latency_ns"])
    assert 0 < rows[1]["datapath_area_pct"] < 100 and 0 < rows[2]["datapath_area_pct"] < 100


def test_ou_steps_and_macs_per_ou_step_from_the_mappings(lenet_files):
    """A file's OU steps are its OUs x output pixels x input steps (no zero-skipping), and
    MACs per OU step its non-zero weights x output pixels over those."""
    dense, seg, _ = lenet_files
    rows, _ = compare_files([str(dense), str(seg)], "ou_16x16", engine="cycle")
    config = load_config("ou_16x16")
    for row, path in zip(rows, (dense, seg)):
        network = load_onnx(path)
        mapping = map_network(network, config, *resolve_scheme(network))
        layers = network.weight_layers()
        steps = sum(mapping.layers[layer.name].n_ous * layer.out_pixels for layer in layers)
        assert row["ou_steps"] == steps * config.input_steps
        macs = sum(int(np.count_nonzero(layer.weight)) * layer.out_pixels for layer in layers)
        assert row["macs_per_ou_step"] == pytest.approx(macs / row["ou_steps"])
        assert 0 < row["cell_utilisation"] <= 1
    assert rows[0]["macs_per_ou_step"] > rows[1]["macs_per_ou_step"]  # SegPrune's sparse OUs


def test_throughput_speedup_is_file_over_baseline_images_per_second(lenet_files):
    """throughput_ips = 1 / (II x cycle) of each file's one-image plan; the speedup is the
    file's over the baseline's (a different ratio from the latency speedup)."""
    from reramsim.simulator import simulate

    dense, seg, forms = lenet_files
    rows, _ = compare_files([str(dense), str(seg), f"{forms}@forms"], "ou_16x16",
                            engine="analytical")
    for row, (path, hw) in zip(rows, [(dense, "ou_16x16"), (seg, "ou_16x16"), (forms, "forms")]):
        network, config = load_onnx(path), load_config(hw)
        scheme, options = resolve_scheme(network)
        ii = simulate(network, config, scheme, "analytical", options=options).throughput.ii_cycles
        assert row["throughput_ips"] == pytest.approx(1e9 / (ii * config.cycle_ns))
        assert row["throughput_speedup"] == pytest.approx(row["throughput_ips"]
                                                          / rows[0]["throughput_ips"])
    assert rows[0]["throughput_speedup"] == 1.0


def test_baseline_option_sets_the_reference(lenet_files):
    """--baseline FILE: that row has ratios 1, the others are relative to it."""
    dense, seg, _ = lenet_files
    rows, base = compare_files([str(dense), str(seg)], "ou_16x16", baseline=str(seg),
                               engine="analytical")
    assert base == 1 and rows[1]["cr_crossbars"] == 1.0
    assert rows[0]["cr_crossbars"] == pytest.approx(rows[1]["crossbars"] / rows[0]["crossbars"])


def test_cli_writes_table_json_csv_and_png(lenet_files, tmp_path, capsys):
    """The CLI prints the table and writes JSON (rows with accuracies), CSV and a PNG."""
    dense, seg, forms = lenet_files
    out = {k: tmp_path / f"c.{k}" for k in ("json", "csv", "png")}
    rc = main(["compare", str(dense), str(seg), f"{forms}@forms", "--hw", "ou_16x16",
               "--data", "digits", "--limit", "30", "--engine", "analytical",
               "--json", str(out["json"]), "--csv", str(out["csv"]), "--plot", str(out["png"])])
    stdout = capsys.readouterr().out
    assert rc == 0
    assert "CR on XBs" in stdout and "data-path area %" in stdout and "acc ReRAM" in stdout
    data = json.loads(out["json"].read_text())
    assert data["baseline"] == str(dense)
    assert [list(r) for r in data["rows"]] == [KEYS + ["acc_float", "acc_reram"]] * 3
    assert all(0 <= r[k] <= 1 for r in data["rows"] for k in ("acc_float", "acc_reram"))
    with out["csv"].open() as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == [c.key for c in COLUMNS] and len(table) == 3
    assert table[2]["scheme"] == "forms" and table[2]["config"] == "forms"
    import matplotlib.image

    image = matplotlib.image.imread(out["png"])
    assert image.shape[0] >= 400 and image.shape[1] >= 1000
    assert np.std(image[..., :3]) > 0.05  # bars were drawn, not a blank canvas


def test_different_architectures_are_one_line_error(lenet_files, repo_root, capsys):
    """Files of two models: exit 2, one line naming both files."""
    plain = repo_root / "models" / "plain20.onnx"
    rc = main(["compare", str(lenet_files[0]), str(plain), "--hw", "ou_16x16",
               "--engine", "analytical"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "plain20.onnx" in err and "lenet.onnx" in err and "different architectures" in err


@pytest.mark.parametrize("spec, match", [
    ("missing.onnx", "missing.onnx: no such model file"),
    ("{dense}@", "expected FILE.onnx or FILE.onnx@CONFIG"),
])
def test_bad_specs_are_clear_errors(lenet_files, spec, match):
    """A missing file or an empty @CONFIG is refused where it enters."""
    with pytest.raises(CompareError, match=match):
        split_spec(spec.format(dense=lenet_files[0]), "ou_16x16")


def test_unknown_config_and_bad_options_exit_2(lenet_files, tmp_path, capsys):
    """An unknown FILE@CONFIG, a bad --plot name and --limit 0 end with exit 2 and one line."""
    dense = str(lenet_files[0])
    for argv in ([dense, f"{dense}@nosuchconfig"], [dense, "--plot", str(tmp_path / "x.jpg")],
                 [dense, "--data", "digits", "--limit", "0"]):
        assert main(["compare", *argv, "--hw", "ou_16x16", "--engine", "analytical"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("reramsim compare: error:")


def test_budget_gives_every_file_the_same_crossbars(lenet_files, tmp_path):
    """--budget dense with copies: each row is what ``simulate --budget dense`` gives that
    file; the pruned model fills the freed crossbars and gets faster than without copies."""
    from reramsim.pipeline import simulate

    dense, seg, _ = lenet_files
    sets = ["mapping.replication=balance"]
    rows, _ = compare_files([str(dense), str(seg)], "ou_16x16", sets, engine="analytical",
                            budget="dense")
    plain, _ = compare_files([str(dense), str(seg)], "ou_16x16", engine="analytical")
    for row, path in zip(rows, (dense, seg)):
        sim = simulate(path, "ou_16x16", sets, engine="analytical", budget="dense")
        assert row["latency_ns"] == pytest.approx(sim.result.total_cycles * sim.config.cycle_ns)
    assert rows[1]["speedup"] > plain[1]["speedup"]
    out = tmp_path / "b.json"
    assert main(["compare", str(dense), str(seg), "--hw", "ou_16x16", "--budget", "dense",
                 "--set", "mapping.replication=balance", "--engine", "analytical",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["budget"] == "dense"


def test_bad_budget_is_one_line_error(lenet_files, capsys):
    dense, seg, _ = lenet_files
    assert main(["compare", str(dense), str(seg), "--hw", "ou_16x16", "--budget", "lots"]) != 0
    err = capsys.readouterr().err.strip()
    assert "--budget" in err and "lots" in err and "\n" not in err


def test_every_mapper_accepts_min_crossbars(lenet_files):
    """Replication may ask any scheme's mapper to spread a layer (``min_crossbars``, e.g.
    AlexNet's last fc under PIM-Prune); a mapper that cannot spread maps it as before."""
    from reramsim.mapping import get_mapper
    from reramsim.mapping.base import MIN_CROSSBARS, check_options

    check_options("layer x (pimprune)", {MIN_CROSSBARS: 4}, ("block_cols",))  # not refused
    for path, hw in ((lenet_files[1], "ou_16x16"), (lenet_files[2], "forms")):
        network, config = load_onnx(path), load_config(hw)
        scheme, options = resolve_scheme(network)
        fc = network.weight_layers()[-1]
        opts = dict((options or {}).get(fc.name, {}))
        base = get_mapper(scheme)(fc, config, opts)
        spread = get_mapper(scheme)(fc, config, {**opts, MIN_CROSSBARS: 2 * base.n_crossbars})
        assert spread.n_crossbars >= base.n_crossbars
