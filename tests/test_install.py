"""A package that installs: the wheel carries the engine, the configs and the small models.

The working tree (tracked and untracked-but-not-ignored files) is copied to a temporary
folder, built into a wheel without network (``--no-build-isolation``: the build uses this
environment's setuptools, Cython and numpy), and installed with ``--no-index --no-deps``
into a fresh virtual environment that sees this environment's dependencies through a
``.pth`` line (so nothing is downloaded). From another folder that environment's
``reramsim`` must find the shipped config and model by name, run the cycle engine, and
have no top-level ``models`` package.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The environment of the fresh venv's processes: no PYTHONPATH to this checkout.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def _working_tree_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: cannot list the working tree")
    return [line for line in out.stdout.splitlines() if (ROOT / line).is_file()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The python of a fresh venv with the built wheel installed."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    for rel in _working_tree_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(wheels), str(src)], check=True, timeout=900,
                   capture_output=True)
    wheel = next(wheels.glob("reramsim-*.whl"))
    env = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig."
                                "get_paths()['purelib'])"], capture_output=True, text=True,
                               check=True, env=CLEAN_ENV).stdout.strip())
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-index", "--no-deps", str(wheel)], check=True, timeout=300,
                   capture_output=True)
    return python


def test_wheel_simulates_a_shipped_model_by_name(installed, tmp_path):
    """From another folder: `reramsim simulate lenet --hw isaac` (cycle engine) works."""
    run = subprocess.run([str(installed), "-m", "reramsim", "simulate", "lenet", "--hw", "isaac",
                          "--engine", "cycle"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env=CLEAN_ENV)
    assert run.returncode == 0, run.stderr
    assert "lenet" in run.stdout and "latency" in run.stdout.lower()


def test_wheel_has_package_data_and_no_models_package(installed, tmp_path):
    """The installed reramsim lives in the venv, lists its shipped files, and `models` is absent."""
    code = ("import importlib.util, reramsim, reramsim._core._engine as e; "
            "from reramsim.resources import shipped_names; "
            "print(reramsim.__file__); print(shipped_names('hw_configs')); "
            "print(shipped_names('models')); print(importlib.util.find_spec('models'))")
    run = subprocess.run([str(installed), "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env=CLEAN_ENV)
    assert run.returncode == 0, run.stderr
    where, configs, models, spec = run.stdout.splitlines()
    assert str(installed.parents[1]) in where
    assert "isaac" in configs and "lenet" in models and "resnet20" in models
    assert spec == "None"
