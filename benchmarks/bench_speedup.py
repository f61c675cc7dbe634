"""Sparsity as speed: SegPrune's latency and throughput speedup over dense at equal hardware.

For each model (default LeNet, AlexNet, Plain20) the dense ONNX and its SegPrune
model (pruned 8x on ``ou_16x16`` and cached by ``benchmarks/bench_segprune.py``
under ``models/build/``; pruned and fine-tuned on first use) run on the same
config with the same crossbar budget:

* ``dense``: the crossbars the dense mapping needs; ``2x``: twice that; ``chip``:
  an ISAAC-sized chip (168 tiles x 12 PEs x 8 crossbars = 16,128 crossbars);
* replication ``none`` (each layer once: the budget is irrelevant) or ``balance``
  (``mapping.replication``: copies of the layer that bounds the pipeline while the
  budget lasts);
* zero-skipping off, or on (``ou.skip_zero_inputs``) over ``--images`` digits test
  images (both models skip; the throughput is then measured on the stream).

``--allocation latency`` prunes with the latency-aware per-layer budgets instead of
LAMP (cached under its own name); the rows then show its accuracy next to LAMP's.

Latency is one image end to end; throughput the steady state (one image per
initiation interval, ``reramsim.throughput``). Speedup = dense / SegPrune time.
Prints the table and writes JSON (default models/build/bench_speedup.json).

    python benchmarks/bench_speedup.py [--models lenet alexnet plain20] [--engine cycle]
                                       [--images 100] [--no-skip]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_segprune import BUILD, pruned_model  # noqa: E402

from reramsim import training as train  # noqa: E402
from reramsim.config import load_config  # noqa: E402
from reramsim.datasets import load_dataset  # noqa: E402
from reramsim.onnx_import import load_onnx  # noqa: E402
from reramsim.prune import scheme_from_metadata  # noqa: E402
from reramsim.report import build_report  # noqa: E402
from reramsim.simulator import simulate  # noqa: E402
from reramsim.zoo import INPUT_SHAPES  # noqa: E402

CHIP_CROSSBARS = 168 * 12 * 8  # ISAAC: 168 tiles, 12 IMAs per tile, 8 crossbars per IMA
#: (budget, replication, zero-skipping) of each row.
SETTINGS = [("dense", "none", False), ("dense", "balance", False), ("2x", "balance", False),
            ("chip", "balance", False), ("dense", "balance", True)]
#: The goal at the dense budget with replication (issue: sparsity becomes speed).
GOAL_THROUGHPUT, GOAL_LATENCY = 6.0, 4.0


def run(net, config, scheme, options, engine, budget, images, inputs) -> dict:
    """Latency, throughput and crossbars of one simulation."""
    sim = simulate(net, config, scheme, engine, options=options, budget=budget, images=images,
                   inputs=inputs)
    totals = build_report(sim)["totals"]
    return {"latency_ns": totals["latency_ns"], "throughput_ips": totals["throughput_ips"],
            "crossbars": totals["crossbars_placed"], "ou_steps": totals["ou_steps"],
            "energy_per_image_pj": totals["energy_per_image_pj"],
            "bottleneck": totals["bottleneck"], "zero_skip": totals["zero_skip"]}


def bench_model(name: str, args) -> list[dict]:
    """One row per setting: dense and SegPrune at the same budget and options."""
    base = load_config(args.hw)
    pruned_path, facts = pruned_model(name, base, args.ratio, args.epochs, False,
                                      args.allocation)
    dense_net = load_onnx(train.ensure(name))
    pruned_net = load_onnx(pruned_path)
    scheme, options = scheme_from_metadata(pruned_net)
    inputs = load_dataset("digits", "test", INPUT_SHAPES[name], args.images)[0]
    dense_xbars = None
    rows = []
    for budget, replication, skip in SETTINGS:
        if skip and args.no_skip:
            continue
        start = time.perf_counter()
        config = load_config(args.hw, [f"mapping.replication={replication}",
                                       f"ou.skip_zero_inputs={str(skip).lower()}"])
        engine = args.engine
        images = args.images if skip else 1
        dense = run(dense_net, config, "dense", None, engine, "dense" if budget == "dense"
                    else _budget(budget, dense_xbars), images, inputs if skip else None)
        dense_xbars = dense_xbars or dense["crossbars"]
        seg = run(pruned_net, config, scheme, options, engine, _budget(budget, dense_xbars),
                  images, inputs if skip else None)
        rows.append({
            "model": name, "allocation": args.allocation, "budget": budget,
            "replication": replication, "zero_skip": skip,
            "images": images, "engine": engine,
            "dense": dense, "segprune": seg,
            "latency_speedup": dense["latency_ns"] / seg["latency_ns"],
            "throughput_speedup": seg["throughput_ips"] / dense["throughput_ips"],
            "pruning_ratio": pruned_net.n_weights / pruned_net.n_nonzero_weights,
            "float_accuracy_dense": facts["float_accuracy_dense"],
            "float_accuracy_pruned": facts["float_accuracy_pruned"],
            "seconds": time.perf_counter() - start,
        })
        print(_line(rows[-1]), flush=True)
    return rows


def _budget(budget: str, dense_xbars: int | None) -> str | int:
    if budget == "dense":
        return "dense"
    if budget == "2x":
        return 2 * dense_xbars
    return CHIP_CROSSBARS


HEAD = (f"{'model':<8} {'budget':>6} {'repl':>7} {'skip':>4} {'xbars d/p':>13} "
        f"{'latency d/p [us]':>19} {'lat x':>6} {'thr d/p [img/s]':>21} {'thr x':>6}  "
        "SegPrune bottleneck")


def _line(r: dict) -> str:
    d, s = r["dense"], r["segprune"]
    return (f"{r['model']:<8} {r['budget']:>6} {r['replication']:>7} "
            f"{'on' if r['zero_skip'] else 'off':>4} {d['crossbars']:>6}/{s['crossbars']:<6} "
            f"{d['latency_ns'] / 1e3:>9.1f}/{s['latency_ns'] / 1e3:<9.1f} "
            f"{r['latency_speedup']:>5.2f}x {d['throughput_ips']:>10.0f}/"
            f"{s['throughput_ips']:<10.0f} {r['throughput_speedup']:>5.2f}x  {s['bottleneck']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["lenet", "alexnet", "plain20"])
    parser.add_argument("--hw", default="ou_16x16")
    parser.add_argument("--ratio", type=float, default=8.0)
    parser.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs if pruning")
    parser.add_argument("--engine", default="cycle", help="cycle, analytical or pyref")
    parser.add_argument("--images", type=int, default=100,
                        help="digits test images for the zero-skipping rows")
    parser.add_argument("--no-skip", action="store_true", help="leave out the zero-skipping rows")
    parser.add_argument("--allocation", default="lamp", choices=("lamp", "latency"),
                        help="per-layer pruning budgets of the SegPrune model (default lamp)")
    parser.add_argument("--json", default=str(BUILD / "bench_speedup.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    np.random.seed(0)
    print(HEAD)
    print("-" * len(HEAD))
    rows = [row for name in args.models for row in bench_model(name, args)]
    for name in args.models:
        r = next(r for r in rows if r["model"] == name)
        print(f"{name}: float top-1 dense {r['float_accuracy_dense']:.2%}, SegPrune "
              f"({args.allocation}, {r['pruning_ratio']:.2f}x) {r['float_accuracy_pruned']:.2%}")
    misses = [r for r in rows if r["budget"] == "dense" and r["replication"] == "balance"
              and not r["zero_skip"] and (r["throughput_speedup"] < GOAL_THROUGHPUT
                                          or r["latency_speedup"] < GOAL_LATENCY)]
    print(f"goal at the dense budget with replication: throughput >= {GOAL_THROUGHPUT:g}x, "
          f"latency >= {GOAL_LATENCY:g}x; rows missing it: "
          + (", ".join(r["model"] for r in misses) or "none"))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
