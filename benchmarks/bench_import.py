"""Import time and peak memory of the real-world ONNX files shipped with the onnx package.

Every ``light_*.onnx`` of ``onnx/backend/test/data/light`` is loaded with
:func:`reramsim.onnx_import.load_onnx` in a fresh Python process (so that one file's
memory does not hide another's). For each file: its size, the weights of the imported
network, the wall-clock time of ``load_onnx`` alone (after the interpreter and the
libraries are imported), the process's peak resident memory over the whole run
(``ru_maxrss`` of the child: interpreter and libraries included) and the resident
memory before the load (the baseline that peak includes).

The goal for ``light_vgg19`` (143.7 M float32 weights = 575 MB, all made by
``ConstantOfShape`` nodes): under 2 s and under 1 GB peak. ``write s`` is the time a fresh
process takes to fill one new float32 array of that many weights (``np.full``): the
least any import that materialises the weights spends, a yardstick for how loaded the
machine's memory is.

Usage::

    python benchmarks/bench_import.py [--files light_vgg19 ...] [--repeat 3] [--json out.json]

Timings are wall-clock on whatever machine runs it; ``--repeat`` keeps the best time
(and the largest peak) of several fresh processes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import onnx

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"

_WRITE = """
import sys, time
import numpy as np
t = time.perf_counter()
np.full(int(sys.argv[1]), 0.5, np.float32)
print(time.perf_counter() - t)
"""

_CHILD = """
import json, resource, sys, time
from reramsim.onnx_import import load_onnx
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
net = load_onnx(sys.argv[1])
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "weights": net.n_weights, "layers": len(net.layers),
                  "baseline_kb": before}))
"""


def measure(path: Path) -> dict:
    """One fresh process loading ``path``: seconds, weights, layers, peak and baseline memory."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if status != 0:
        return {"error": (err.strip().splitlines() or ["failed"])[-1]}
    record = json.loads(out)
    record["peak_mb"] = usage.ru_maxrss / 1024
    record["baseline_mb"] = record.pop("baseline_kb") / 1024
    write = subprocess.run([sys.executable, "-c", _WRITE, str(record["weights"])],
                           capture_output=True, text=True, check=True)
    record["write_seconds"] = float(write.stdout)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="*", help="stems to run (default: every light_* file)")
    parser.add_argument("--repeat", type=int, default=1, help="fresh processes per file")
    parser.add_argument("--json", help="also write the records as JSON")
    args = parser.parse_args(argv)
    paths = sorted(LIGHT.glob("light_*.onnx"))
    if args.files:
        paths = [p for p in paths if p.stem in set(args.files)]
    print(f"{'file':22s} {'MB':>6s} {'weights':>11s} {'layers':>6s} {'load s':>7s} "
          f"{'peak MB':>8s} {'base MB':>8s} {'write s':>7s}")
    records = {}
    for path in paths:
        runs = [measure(path) for _ in range(max(1, args.repeat))]
        bad = [r for r in runs if "error" in r]
        size = path.stat().st_size / 2**20
        if bad:
            records[path.stem] = bad[0]
            print(f"{path.stem:22s} {size:6.1f} error: {bad[0]['error']}")
            continue
        best = min(runs, key=lambda r: r["seconds"])
        best["peak_mb"] = max(r["peak_mb"] for r in runs)
        records[path.stem] = best
        print(f"{path.stem:22s} {size:6.1f} {best['weights']:11,d} {best['layers']:6d} "
              f"{best['seconds']:7.2f} {best['peak_mb']:8.0f} {best['baseline_mb']:8.0f} "
              f"{best['write_seconds']:7.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
