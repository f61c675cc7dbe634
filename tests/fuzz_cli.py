"""Fuzz campaign: run the CLI on many hostile inputs and count the outcomes.

Each case (one of :data:`tests.hostile.FAMILIES`, drawn in turn, seeded) runs
``reramsim.cli.main(argv)`` in a forked child (the libraries are imported once, in the
parent), with a per-case time limit. Outcomes:

* ``clean error``: exit status 2 (or argparse's 2) and no traceback on stderr;
* ``ok``: exit status 0 and every written figure finite and >= 0 (the JSON report's
  numbers, the ``run`` outputs);
* ``bad figure``: exit status 0 with a NaN, Inf or negative figure written;
* ``traceback``: a Python traceback, or any other exit status (crash, internal error);
* ``hang``: still running after ``--timeout`` seconds (killed).

Usage::

    PYTHONPATH=. python tests/fuzz_cli.py --cases 1000 --seed 0 [--timeout 20] [--family yaml]

Prints the counts by outcome (and per family), and the command line of every case that
was not a clean error or ok, so that it can be replayed.
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hostile  # noqa: E402

OUTCOMES = ("clean error", "ok", "bad figure", "traceback", "hang")


def _bad_numbers(value) -> bool:
    if isinstance(value, dict):
        return any(_bad_numbers(v) for k, v in value.items() if k != "config_values")
    if isinstance(value, list):
        return any(_bad_numbers(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return not math.isfinite(value) or value < 0
    return False


def _child(argv: list[str], err_path: Path) -> None:
    """Run the CLI with stdout discarded and stderr to a file; exit with its status."""
    from reramsim.cli import main

    fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(fd, 2)
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 2
    except BaseException:  # noqa: BLE001 - the campaign records it as a traceback
        import traceback

        traceback.print_exc()
        code = 99
    sys.stderr.flush()
    os._exit(code)


def classify(argv: list[str], tmp: Path, timeout: float) -> tuple[str, str]:
    """(outcome, first stderr line) of one case."""
    err_path = tmp / "stderr.txt"
    pid = os.fork()
    if pid == 0:
        _child(argv, err_path)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "hang", ""
        time.sleep(0.005)
    code = os.waitstatus_to_exitcode(status)
    err = err_path.read_text(errors="replace") if err_path.exists() else ""
    first = err.strip().splitlines()[-1] if err.strip() else ""
    if "Traceback" in err or code not in (0, 2):
        return "traceback", first or f"exit status {code}"
    if code == 2:
        return "clean error", first
    for name in ("r.json",):
        path = tmp / name
        if path.exists() and _bad_numbers(json.loads(path.read_text())):
            return "bad figure", f"{name} has a non-finite or negative figure"
    out = tmp / "y.npy"
    if out.exists() and not np.isfinite(np.load(out)).all():
        return "bad figure", "y.npy has non-finite outputs"
    return "ok", ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds in all")
    parser.add_argument("--family", action="append", choices=sorted(hostile.FAMILIES),
                        help="only these families (repeatable; default all)")
    parser.add_argument("--show", action="store_true", help="print every case's last line")
    args = parser.parse_args()
    import onnxruntime  # noqa: F401  - imported once, before forking
    import torch  # noqa: F401

    import reramsim.cli  # noqa: F401
    from reramsim.cli import SUBCOMMANDS

    for name in SUBCOMMANDS:
        __import__(f"reramsim.cli.{name}")
    families = args.family or list(hostile.FAMILIES)
    rng = np.random.default_rng(args.seed)
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures = []
    start = time.monotonic()
    n = 0
    with tempfile.TemporaryDirectory() as root:
        for n in range(args.cases):
            if time.monotonic() - start > args.budget:
                break
            family = families[n % len(families)]
            tmp = Path(root) / str(n)
            tmp.mkdir()
            argv = hostile.FAMILIES[family](rng, tmp)
            outcome, line = classify(argv, tmp, args.timeout)
            counts[family][outcome] += 1
            if args.show:
                shown = " ".join(a if len(a) < 80 else a[:40] + "..." for a in argv)
                print(f"{family}: {outcome}: {shown!r}: {line[:200]}", flush=True)
            if outcome not in ("clean error", "ok"):
                failures.append((family, outcome, argv, line))
        n += 1
    total = sum((c for c in counts.values()), collections.Counter())
    print(f"{n} cases, seed {args.seed}, {time.monotonic() - start:.0f} s")
    print(f"{'family':14s} " + " ".join(f"{o:>12s}" for o in OUTCOMES))
    for family in families:
        print(f"{family:14s} " + " ".join(f"{counts[family][o]:12d}" for o in OUTCOMES))
    print(f"{'total':14s} " + " ".join(f"{total[o]:12d}" for o in OUTCOMES))
    for family, outcome, argv, line in failures:
        shown = [a if len(a) < 120 else a[:60] + "..." for a in argv]
        print(f"{outcome}: {family}: {' '.join(shown)!r}: {line[:300]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
