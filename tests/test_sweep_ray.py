"""``reramsim sweep --backend ray``: a local Ray started for the run and a ``ray start --head``
cluster joined by address give the same results.csv as the local backend.

Everything stays on 127.0.0.1 (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` stops Ray from
swapping a loopback address for the machine's outward IP), token authentication on with a
token of the test's own, usage statistics off; each step has a time limit.
The cluster is started with ``--block`` and stopped by ending that process, which stops the
processes it started (and no other Ray on the machine).
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

GRID = ["--grid", "ou.rows=16,32,64", "--grid", "ou.cols=32,64", "--grid", "adc.bits=4,8"]


TOKEN = secrets.token_hex(32)  # the test cluster's own token, given to the head and the driver


def _env(repo_root: Path) -> dict[str, str]:
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_DISABLE_DOCKER_CPU_WARNING="1",
               RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN,
               # else Ray swaps 127.0.0.1 for the machine's outward IP
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    env["PYTHONPATH"] = os.pathsep.join([str(repo_root), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)
    return env


def _sweep(repo_root: Path, out: Path, *extra: str, timeout: float = 240) -> str:
    """``reramsim sweep`` of 12 LeNet points in a subprocess, bounded in time."""
    cmd = [sys.executable, "-m", "reramsim", "sweep", str(repo_root / "models" / "lenet.onnx"),
           "--hw", "isaac", *GRID, "--out", str(out), "--no-progress", *extra]
    done = subprocess.run(cmd, cwd=repo_root, env=_env(repo_root), capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def local_csv(repo_root, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("local")
    assert "12 points: 12 done, 0 failed" in _sweep(repo_root, out, "--jobs", "2")
    return (out / "results.csv").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_ray_equals_local_backend(repo_root, tmp_path, local_csv):
    """12 LeNet points as Ray tasks on a local Ray started for the run: the same results.csv."""
    out = _sweep(repo_root, tmp_path, "--backend", "ray", "--jobs", "2")
    assert "12 points: 12 done, 0 failed" in out
    assert (tmp_path / "results.csv").read_text() == local_csv


def test_ray_cluster_by_address_equals_local_backend(repo_root, tmp_path, local_csv):
    """The same points on a `ray start --head` cluster joined with --ray-address."""
    ray_bin = Path(sys.executable).with_name("ray")
    port = _free_port()
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
         "--disable-usage-stats"],
        env=_env(repo_root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:  # wait for the GCS to listen
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert head.poll() is None, "ray start --head exited"
                assert time.monotonic() < deadline, "ray start --head did not come up in 90 s"
                time.sleep(1)
        out = _sweep(repo_root, tmp_path / "res", "--backend", "ray",
                     "--ray-address", f"127.0.0.1:{port}")
        assert "12 points: 12 done, 0 failed" in out
        assert (tmp_path / "res" / "results.csv").read_text() == local_csv
    finally:
        head.send_signal(signal.SIGTERM)  # --block: stops the processes this head started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=30)
