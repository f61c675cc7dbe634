"""`reramsim simulate` end to end on ImageNet-sized files from other exporters' styles.

The files are built independently of the zoo (tests/onnx_builders.py): a BVLC AlexNet at
opset 9 with LRN and grouped convs, a ResNet-style net with unfolded BatchNorm and residual
Adds, a SqueezeNet-style net with Concat, and weights made by constant subgraphs.
"""
import json

import pytest

from onnx_builders import alexnet_bvlc, const_subgraph_net, resnet18_style, save, squeezenet_style
from reramsim.cli import main

BUILDERS = {
    "alexnet_bvlc_opset9": alexnet_bvlc,
    "resnet18_style": resnet18_style,
    "squeezenet_style_opset9": squeezenet_style,
    "const_subgraph": const_subgraph_net,
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_simulate_real_world_files(name, tmp_path, capsys):
    """Both engines run each file; JSON totals are positive and layers cover every weight layer."""
    path = save(BUILDERS[name](), tmp_path / f"{name}.onnx")
    for engine in ("analytical", "cycle"):
        out = tmp_path / f"{engine}.json"
        rc = main(["simulate", str(path), "--hw", "isaac", "--engine", engine,
                   "--set", "organization.tiles=0", "--json", str(out)])
        assert rc == 0, capsys.readouterr().err
        report = json.loads(out.read_text())
        totals = report["totals"]
        assert report["engine"] == engine
        assert min(totals["latency_ns"], totals["energy_pj"], totals["area_um2"]) > 0
        weight_layers = [row for row in report["layers"] if row["crossbars"] > 0]
        assert totals["crossbars"] == sum(row["crossbars"] for row in weight_layers)
    assert "total" in capsys.readouterr().out
