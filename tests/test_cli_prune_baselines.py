"""``reramsim prune`` and ``reramsim simulate`` with the baselines PIM-Prune, Pattern-Prune and
Hybrid-P: summaries, metadata, the scheme picked from the file, one-line errors."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from reramsim.cli import main  # noqa: E402

FAST = ["--epochs", "1", "--limit", "64", "--reram-limit", "8", "--quiet"]


@pytest.fixture(scope="module")
def lenet_pth(tmp_path_factory):
    """A LeNet state dict (random init, seeded): no dependence on trained artefacts."""
    from reramsim import zoo

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "lenet.pth"
    torch.save(zoo.build("lenet").state_dict(), path)
    return path


@pytest.mark.parametrize("scheme, says", [
    ("pimprune", "[reconstruction, see docs/pimprune.md]"),
    ("pattern", "5x5 kernels (2 layers): whole kernels removed by L2 norm"),
    ("hybridp", "[reconstruction, see docs/hybridp.md]")])
def test_prune_summary_and_simulate_from_metadata(lenet_pth, tmp_path, capsys, scheme, says):
    """Ratio, crossbars, accuracies and data-path overhead are printed and in the JSON; the
    simulator takes the scheme from the file's metadata."""
    out, summary = tmp_path / f"{scheme}.onnx", tmp_path / "s.json"
    assert main(["prune", str(lenet_pth), "--scheme", scheme, "--target-ratio", "4",
                 "-o", str(out), "--json", str(summary), *FAST]) == 0
    text = capsys.readouterr().out
    for line in ("pruning ratio", "crossbars", "float accuracy", "ReRAM accuracy",
                 "data path", says):
        assert line in text
    data = json.loads(summary.read_text())
    assert data["scheme"] == scheme and data["pruning_ratio"] >= 4.0
    assert data["reconstruction"] is True
    assert data["crossbars_pruned"] < data["crossbars_dense"]
    assert data["datapath"]["index_kib"] > 0 and 0 < data["datapath"]["area_pct"] < 100
    assert main(["simulate", str(out), "--hw", "ou_16x16"]) == 0
    assert f"scheme {scheme}" in capsys.readouterr().out


def test_unreachable_ratio_is_one_line(lenet_pth, tmp_path, capsys):
    """Pattern-Prune leaving LeNet's non-3x3 layers dense cannot reach 4x: exit 2, one line."""
    rc = main(["prune", str(lenet_pth), "--scheme", "pattern", "--param", "other_kernels=dense",
               "--target-ratio", "4", "-o", str(tmp_path / "x.onnx"), *FAST])
    err = capsys.readouterr().err
    assert rc == 2 and "pattern: ratio 4 is unreachable" in err and len(err.splitlines()) == 1
