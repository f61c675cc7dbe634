"""Shared fixtures: paths to the repository's shipped files."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def hw_dir() -> Path:
    return ROOT / "hw_configs"


@pytest.fixture(scope="session")
def zoo_onnx(tmp_path_factory) -> dict[str, Path]:
    """Random-init ONNX exports of every zoo model (BN folded), built once per session."""
    torch = pytest.importorskip("torch")
    from reramsim import training as train
    from reramsim import zoo

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("zoo")
    paths = {}
    for name in zoo.NAMES:
        torch.manual_seed(0)
        paths[name] = train.export_onnx(zoo.build(name), root / f"{name}.onnx",
                                        zoo.INPUT_SHAPES[name])
    return paths
