"""Sweep throughput per backend: points per second on ResNet-20, the speedup of 2 local
workers over 1, and Ray's overhead per point.

    python benchmarks/bench_sweep.py            # 100 points: 5 OU rows x 5 OU cols x 4 ADC bits
    python benchmarks/bench_sweep.py --quick    # 12 points

Each configuration runs the same points into a fresh folder through
:func:`reramsim.sweeps.run_sweep`; the check that all of them wrote the same
results.csv is part of the run. Ray's overhead per point = (Ray wall time - local
wall time, both with 2 workers) / points: the wall time a point costs beyond the
same pool of local processes (Ray start-up, task submission, scheduling, result
transfer). CPU s/point = the CPU time of the points' simulations (each record's
``cpu_seconds``), summed over workers, per point: the work, which a pool should not
grow. On a machine other jobs load, the wall-clock speedup measures the CPU share
the workers get as much as the pool; the load average is printed with the table.
Ray runs on a local instance bound to 127.0.0.1 with usage statistics off.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from reramsim.sweeps import RESULTS_CSV, SweepSpec, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def spec(quick: bool) -> SweepSpec:
    """100 ResNet-20 points (12 with ``quick``), all valid on the ISAAC config."""
    grid = {"ou.rows": [8, 16, 32, 64, 128], "ou.cols": [8, 16, 32, 64, 128],
            "adc.bits": [4, 5, 6, 8]}
    if quick:
        grid = {"ou.rows": [16, 32, 64], "ou.cols": [32, 64], "adc.bits": [4, 8]}
    return SweepSpec(models=[str(ROOT / "models" / "resnet20.onnx")], hw="isaac", grid=grid,
                     engine="cycle")


def timed(sweep: SweepSpec, backend: str, jobs: int, folder: Path) -> tuple[float, float]:
    """Wall seconds of the sweep and the CPU seconds its points took (summed over workers)."""
    start = time.perf_counter()
    records = run_sweep(sweep, folder, backend=backend, jobs=jobs, progress=False)
    seconds = time.perf_counter() - start
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        raise SystemExit(f"{backend} x{jobs}: {len(failed)} points failed: {failed[0]['error']}")
    return seconds, sum(r["cpu_seconds"] for r in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 points instead of 100")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    sweep = spec(args.quick)
    n = len(sweep.tasks())
    runs = [("local", 1), ("local", 2), ("ray", 2)]
    rows = {}
    load_before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        for backend, jobs in runs:
            folder = Path(tmp) / f"{backend}{jobs}"
            rows[(backend, jobs)] = timed(sweep, backend, jobs, folder)
        csvs = {(Path(tmp) / f"{b}{j}" / RESULTS_CSV).read_text() for b, j in runs}
    serial = rows[("local", 1)][0]
    print(f"ResNet-20, {n} points, cycle engine; identical results.csv on every backend: "
          f"{len(csvs) == 1}; load average before: {load_before}")
    print(f"{'backend':<8} {'workers':>7} {'wall [s]':>9} {'points/s':>9} {'speedup':>8} "
          f"{'CPU s/point':>12}")
    for (backend, jobs), (seconds, cpu) in rows.items():
        print(f"{backend:<8} {jobs:>7} {seconds:>9.1f} {n / seconds:>9.2f} "
              f"{serial / seconds:>7.2f}x {cpu / n:>12.3f}")
    print(f"load average after: {_load()}")
    ray_overhead = (rows[("ray", 2)][0] - rows[("local", 2)][0]) / n
    print(f"Ray overhead per point over 2 local processes (start-up included): "
          f"{ray_overhead:.3f} s (serial time per point {serial / n:.3f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "points": n, "identical": len(csvs) == 1,
            "runs": [{"backend": b, "workers": j, "seconds": s, "points_per_s": n / s,
                      "cpu_s": c} for (b, j), (s, c) in rows.items()],
            "speedup_2_over_1": serial / rows[("local", 2)][0],
            "ray_overhead_s_per_point": ray_overhead}, indent=2) + "\n")


def _load() -> str:
    """The 1-minute load average: other work on the machine skews the speedup."""
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


if __name__ == "__main__":
    main()
