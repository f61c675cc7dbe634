"""SegPrune on the digits zoo: pruning ratio, accuracy, crossbars, latency, energy, area vs dense.

For each model (default LeNet, AlexNet, Plain20) the trained weights
(:func:`reramsim.training.load_trained`) are pruned with SegPrune to the target ratio and
fine-tuned (cached as ``models/build/<model>_segprune_r<ratio>.onnx`` plus a ``.json``
sidecar with the accuracies by ``benchmarks/pruned_cache.py``; ``--force`` redoes it). The
dense ONNX and the pruned ONNX are then simulated on the same hardware config and engine,
and the table compares:

* pruning ratio (dense weights / non-zero weights) and float top-1 on the digits test
  split, dense vs pruned (the drop must be <= 1 point);
* ReRAM top-1 (functional model, the config's ADC) on ``--reram-limit`` test images;
* crossbars (CR on crossbars), latency (speedup), energy (reduction), area;
* the pruned data path's area (index buffer + input gather) as % of the accelerator,
  and the index buffer alone; the index data by kind, beside an estimate of the
  information the layouts hold (:func:`layout_information_bits`, what any lossless
  index must store).

SegPrune's shape voting, mapping and data path are reconstructions (docs/segprune.md).
Fixed seeds; prints the table and writes JSON (default models/build/bench_segprune.json).

    python benchmarks/bench_segprune.py [--models lenet alexnet plain20] [--hw ou_16x16]
                                        [--ratio 8] [--epochs 30] [--engine cycle]
                                        [--ou-cap none dense] [--columns per_piece shared]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pruned_cache as cache  # noqa: E402

from reramsim import training as train  # noqa: E402
from reramsim.area import compute_area  # noqa: E402
from reramsim.config import load_config  # noqa: E402
from reramsim.datasets import load_dataset  # noqa: E402
from reramsim.pipeline import load_model  # noqa: E402
from reramsim.prune import scheme_from_metadata, workflow  # noqa: E402
from reramsim.zoo import INPUT_SHAPES  # noqa: E402

BUILD = cache.BUILD
FULL_CHIP_TILES = 168  # ISAAC's chip, for the overhead relative to a whole accelerator


def pruned_model(name: str, config, ratio: float, epochs: int, force: bool,
                 allocation: str = "lamp") -> tuple[Path, dict]:
    """SegPrune's cached model of ``name`` (:func:`pruned_cache.pruned_model`), named
    ``models/build/<name>_segprune_r<ratio>[_<allocation>].onnx`` (no suffix for LAMP)."""
    suffix = "" if allocation == "lamp" else f"_{allocation}"
    return cache.pruned_model(name, "segprune", config, ratio, epochs,
                              stem=f"{name}_segprune_r{ratio:g}{suffix}", force=force,
                              allocation=allocation)


def reram_accuracy(network, config, mapping, name: str, limit: int) -> float | None:
    """Functional-model top-1 on the first ``limit`` test images (calibrated on train images)."""
    if limit <= 0:
        return None
    x, y = load_dataset("digits", "test", INPUT_SHAPES[name], limit)
    calib = load_dataset("digits", "train", INPUT_SHAPES[name], 64)[0]
    return workflow.reram_accuracy(network, config, mapping, (x, y), calib, limit)


def bench_model(name: str, args, config) -> list[dict]:
    """Dense vs SegPrune rows for one model, one row per OU cap of the mapper."""
    from reramsim.report import build_report
    from reramsim.simulator import simulate

    pruned_path, facts = pruned_model(name, config, args.ratio, args.epochs, args.force)
    dense_net = load_model(train.ensure(name))
    pruned_net = load_model(pruned_path)
    scheme, options = scheme_from_metadata(pruned_net)
    dense_sim = simulate(dense_net, config, "dense", args.engine)
    dense_report = build_report(dense_sim)
    reram_dense = reram_accuracy(dense_net, config, dense_sim.mapping, name, args.reram_limit)
    info_kib = layout_information_bits(pruned_net, options, config) / 8192
    rows = []
    for cap in args.ou_cap:
        cap_value = None if cap == "none" else (cap if cap == "dense" else int(cap))
        for columns in args.columns:
            layer_options = {k: {**v, "max_ous_per_crossbar": cap_value, "columns": columns}
                             for k, v in options.items()}
            sim = simulate(pruned_net, config, scheme, args.engine, options=layer_options)
            report = build_report(sim)
            reram = (reram_accuracy(pruned_net, config, sim.mapping, name, args.reram_limit)
                     if not rows else rows[0]["reram_accuracy_pruned"])  # same weights
            rows.append({**_row(name, cap, facts, dense_report, report, sim, reram_dense, reram,
                                args, config, pruned_path),
                         "columns": columns, "layout_information_kib": info_kib})
    return rows


def layout_information_bits(network, options: dict, config) -> float:
    """An estimate of the information in a model's SegPrune layouts, in bits.

    What any lossless index of the layouts must hold, with the per-block counts taken
    as known (so a lower estimate): per row-block of ``C`` columns, which columns take
    which shape, ``log2(C! / prod_s c_s!)`` (``c_s`` columns of shape ``s``, ``c_0`` the
    empty ones) less ``log2(n_b!)`` (shape ids are only names); per shape of ``k`` of
    the block's ``h_b`` rows, its mask, ``log2 binom(h_b, k)``.
    """
    from math import lgamma, log

    from reramsim.mapping.segprune import layer_layouts

    def log2_factorial(n: int) -> float:
        return lgamma(n + 1) / log(2)

    bits = 0.0
    for layer in network.weight_layers():
        for layout in layer_layouts(layer, config, options.get(layer.name, {})):
            for table, assign in zip(layout.shapes, layout.assign):
                counts = np.bincount(assign, minlength=len(table) + 1)
                bits += (log2_factorial(len(assign)) - sum(map(log2_factorial, counts))
                         - log2_factorial(len(table)))
                h = table.shape[1]
                bits += sum(log2_factorial(h) - log2_factorial(k) - log2_factorial(h - k)
                            for k in table.sum(axis=1))
    return bits


def _row(name, cap, facts, dense_report, report, sim, reram_dense, reram, args, config,
         pruned_path) -> dict:
    from reramsim.report import compare_rows

    dense, seg = compare_rows([dense_report, report])
    area = report["area_breakdown"]
    total_area = report["totals"]["area_um2"]
    index_um2 = area.get("index_buffer", {}).get("area_um2", 0.0)
    gather_um2 = area.get("input_gather", {}).get("area_um2", 0.0)
    chip = compute_area(_full_chip(config), sim.placement, sim.mapping)
    return {
        "model": name, "ou_cap": cap,
        "pruning_ratio": seg["pruning_ratio"],
        "float_accuracy_dense": facts["float_accuracy_dense"],
        "float_accuracy_pruned": facts["float_accuracy_pruned"],
        "accuracy_drop_points": 100 * (facts["float_accuracy_dense"]
                                       - facts["float_accuracy_pruned"]),
        "reram_accuracy_dense": reram_dense,
        "reram_accuracy_pruned": reram,
        "crossbars_dense": dense["crossbars"], "crossbars_pruned": seg["crossbars"],
        "cr_xbs": seg["cr_xbs"],
        "latency_ns_dense": dense["latency_ns"], "latency_ns_pruned": seg["latency_ns"],
        "speedup": seg["speedup"],
        "energy_pj_dense": dense["energy_pj"], "energy_pj_pruned": seg["energy_pj"],
        "energy_reduction": seg["energy_reduction"],
        "area_um2_dense": dense["area_um2"], "area_um2_pruned": seg["area_um2"],
        "datapath_overhead_pct": seg["datapath_overhead_pct"],
        "index_overhead_pct": 100 * index_um2 / total_area,
        "datapath_overhead_pct_full_chip": chip.pruned_datapath_pct,
        "index_overhead_pct_full_chip": 100 * index_um2 / chip.total_um2,
        "gather_overhead_pct": 100 * gather_um2 / total_area,
        "index_kib": sum(m.index_storage_bits for m in sim.mapping.layers.values()) / 8192,
        "index_bits": _index_bits_by_kind(sim.mapping),
        "engine": args.engine, "config": config.name, "pruned_onnx": str(pruned_path),
        "reconstruction": True,
    }


def _index_bits_by_kind(mapping) -> dict[str, int]:
    """The index data of all layers, summed per kind (``info["index_bits"]`` of each layer)."""
    out: dict[str, int] = {}
    for lm in mapping.layers.values():
        for kind, bits in lm.info["index_bits"].items():
            out[kind] = out.get(kind, 0) + int(bits)
    return out


def _full_chip(config):
    """``config`` with ISAAC's whole chip (168 tiles) instead of the tiles the model needs."""
    org = dataclasses.replace(config.organization, tiles=FULL_CHIP_TILES)
    return dataclasses.replace(config, organization=org)


def format_table(rows: list[dict]) -> str:
    head = (f"{'model':<8} {'OU cap':>6} {'org':>9} {'ratio':>6} {'acc dense':>9} "
            f"{'acc pruned':>10} {'drop':>5} "
            f"{'ReRAM d/p':>11} {'xbars d/p':>11} {'CR':>5} {'speedup':>7} {'energy':>6} "
            f"{'area d/p mm2':>13} {'idx+gather':>10} {'idx only':>8} {'chip: i+g':>9} "
            f"{'idx':>5}")
    lines = [head, "-" * len(head)]
    for r in rows:
        reram = ("-" if r["reram_accuracy_pruned"] is None else
                 f"{r['reram_accuracy_dense']:.0%}/{r['reram_accuracy_pruned']:.0%}")
        lines.append(
            f"{r['model']:<8} {r['ou_cap']:>6} {r['columns']:>9} {r['pruning_ratio']:>5.2f}x "
            f"{r['float_accuracy_dense']:>9.2%} "
            f"{r['float_accuracy_pruned']:>10.2%} {r['accuracy_drop_points']:>5.2f} {reram:>11} "
            f"{r['crossbars_dense']:>5}/{r['crossbars_pruned']:<5} {r['cr_xbs']:>4.1f}x "
            f"{r['speedup']:>6.2f}x {r['energy_reduction']:>5.2f}x "
            f"{r['area_um2_dense'] / 1e6:>6.3f}/{r['area_um2_pruned'] / 1e6:<6.3f} "
            f"{r['datapath_overhead_pct']:>9.2f}% {r['index_overhead_pct']:>7.2f}% "
            f"{r['datapath_overhead_pct_full_chip']:>8.2f}% "
            f"{r['index_overhead_pct_full_chip']:>4.2f}%")
    lines.append("SegPrune shape voting, mapping and data path: reconstructions "
                 "(docs/segprune.md). drop in points of float top-1; ReRAM = functional model, "
                 "config ADC. OU cap = mapper max_ous_per_crossbar (none: fewest crossbars).\n"
                 "idx+gather, idx only: % of the accelerator the model occupies (tiles: 0); "
                 f"chip: % of a {FULL_CHIP_TILES}-tile (ISAAC-sized) chip. org = mapper "
                 "option columns (data-path organisation).")
    return "\n".join(lines)


def format_index_table(rows: list[dict]) -> str:
    """Index data per row by kind (bits), its KiB, and the layouts' information estimate."""
    lines = ["model    OU cap       org  index data [bits by kind]  ->  KiB  (layout "
             "information estimate, KiB)"]
    for r in rows:
        kinds = ", ".join(f"{k} {v:,}" for k, v in r["index_bits"].items() if k != "total")
        lines.append(f"{r['model']:<8} {r['ou_cap']:>6} {r['columns']:>9}  {kinds}  ->  "
                     f"{r['index_kib']:.2f}  ({r['layout_information_kib']:.2f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["lenet", "alexnet", "plain20"])
    parser.add_argument("--hw", default="ou_16x16")
    parser.add_argument("--ratio", type=float, default=8.0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--engine", default="cycle", help="cycle, analytical or pyref")
    parser.add_argument("--reram-limit", type=int, default=100)
    parser.add_argument("--ou-cap", nargs="+", default=["none", "dense"],
                        help="mapper max_ous_per_crossbar per row: none, dense or an int")
    parser.add_argument("--columns", nargs="+", default=["per_piece"],
                        help="mapper data-path organisations per row: per_piece, shared")
    parser.add_argument("--force", action="store_true", help="prune again even if cached")
    parser.add_argument("--json", default=str(BUILD / "bench_segprune.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    np.random.seed(0)
    config = load_config(args.hw)
    BUILD.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.models:
        new = bench_model(name, args, config)
        rows += new
        print("\n".join(format_table(new).splitlines()[2:2 + len(new)]), flush=True)
    print()
    print(f"SegPrune vs dense on {config.name}, engine {args.engine}, target {args.ratio:g}x, "
          f"{args.epochs} fine-tuning epochs, digits")
    print(format_table(rows))
    print(format_index_table(rows))
    Path(args.json).write_text(json.dumps({"rows": rows, "args": vars(args)}, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
