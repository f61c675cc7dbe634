"""Tests for reramsim.pipeline: the steps the CLI, the demo and the benchmarks share."""
import pytest

from reramsim.config import ConfigError, load_config
from reramsim.pipeline import load_model, simulate
from reramsim.report import build_report
from reramsim.simulator import simulate as simulate_network


def test_simulate_takes_paths_or_loaded_objects(repo_root):
    """A path and a config name give the same totals as the loaded network and config."""
    path = repo_root / "models" / "lenet.onnx"
    by_name = build_report(simulate(path, "isaac", ["adc.bits=6"], engine="analytical"))
    network, config = load_model(path), load_config("isaac", ["adc.bits=6"])
    loaded = build_report(simulate(network, config, engine="analytical"))
    direct = build_report(simulate_network(network, config, "dense", "analytical"))
    assert by_name["totals"] == loaded["totals"] == direct["totals"]


def test_simulate_takes_the_scheme_from_pruning_metadata(repo_root):
    """A pruned file maps with the scheme its metadata names unless another is asked for."""
    path = repo_root / "models" / "lenet_segprune.onnx"
    assert simulate(path, "ou_16x16", engine="analytical").mapping.scheme == "segprune"
    assert simulate(path, "ou_16x16", scheme="dense",
                    engine="analytical").mapping.scheme == "dense"


def test_overrides_need_a_config_name(repo_root):
    """Overrides on an already loaded config are refused, naming them."""
    with pytest.raises(ConfigError, match="adc.bits=6"):
        simulate(repo_root / "models" / "lenet.onnx", load_config("isaac"), ["adc.bits=6"])
