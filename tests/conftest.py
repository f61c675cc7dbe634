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
