"""The papers' comparison tables on the digits zoo, for every registered pruning scheme.

Table A (AUTO-PRUNE's, ICS 2021): CR on crossbars and float accuracy drop of every
scheme at one target ratio (``--ratio-a``, default 8) on ``autoprune_128x128_ou32``,
for AlexNet, VGG16 and Plain20, beside the paper's numbers for naive (dense),
PIM-Prune, Pattern-Prune and AUTO-PRUNE.

Table B (SegPrune's, TCAD 2022): for every scheme, the highest pruning ratio in
``--targets`` (2, 4, 8, 16, 32, 64) whose float top-1 on the digits test split stays
within 1 point of the dense model's (searched upwards; the search stops at the first
target that fails), and at that point its CR on crossbars, speedup, energy reduction,
area, data-path area share and float/ReRAM accuracy against dense on ``ou_16x16``
(FORMS also on ``forms.yaml``), through :func:`reramsim.compare.compare_files`; the
speedups twice: each file on its own crossbars, and at equal hardware (every file within
the dense mapping's crossbars, the freed ones filled with copies of its bounding layers:
``--budget dense --set mapping.replication=balance``). Then SegPrune against each other
scheme (ratio of pruning ratios, speedups, energy reductions) beside the abstract's "up
to" claims, and each file's OU steps per image against its non-zero MACs (how well its
OUs are filled: what turns pruning into speed).

Table "shapes" (``--table shapes``): SegPrune's reconstructed parameters against PIM-Prune
at equal pruning targets (``--shape-targets``, default 8 32 64): for each ``--variants``
entry (``default``, or ``key=value[,key=value]`` of SegPrune's pruner parameters; default
``default max_shapes=2 max_shapes=1``), the pruning ratio, float accuracy drop, CR on
crossbars and the speedups on its own crossbars and at equal hardware, beside PIM-Prune at
the same target. Fewer shapes per row-block make wider groups and fuller OUs: what the
reconstruction's defaults cost in speed, and what other choices cost in accuracy.

Pruned models are cached in ``models/build/schemes/`` (ONNX + a JSON sidecar with the
accuracies; ``--force`` redoes them). Schemes are whatever :func:`registered_pruners`
lists (``--schemes`` narrows it); a scheme that cannot prune a model gets its error in
the table. ``--quick``: LeNet only, 3 epochs, targets 2-16, the CI-sized run.

    python benchmarks/bench_schemes.py [--quick] [--table a b shapes] [--models ...]
                                       [--schemes ...] [--epochs 30] [--json F]
                                       [--variants default max_shapes=2 max_shapes=1]
                                       [--shape-targets 8 32 64]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pruned_cache as cache  # noqa: E402

from reramsim import ReramsimError  # noqa: E402
from reramsim import training as train  # noqa: E402
from reramsim.compare import compare_files  # noqa: E402
from reramsim.config import load_config  # noqa: E402
from reramsim.prune import registered_pruners  # noqa: E402

BUILD = ROOT / "models" / "build" / "schemes"

#: AUTO-PRUNE's table (ICS 2021 slides): CR on crossbars per scheme, and AUTO-PRUNE's drop.
PAPER_A = {
    "alexnet": {"dense": 1.0, "pimprune": 4.3, "pattern": 1.1, "autoprune": 14.3,
                "drop_autoprune": 0.26},
    "vgg16": {"dense": 1.0, "pimprune": 6.1, "pattern": 2.6, "autoprune": 11.9,
              "drop_autoprune": 0.67},
    "plain20": {"dense": 1.0, "pimprune": 7.3, "pattern": 1.2, "autoprune": 10.3,
                "drop_autoprune": -0.15},
}
#: SegPrune's abstract (TCAD 2022), "up to": SegPrune / Hybrid-P and SegPrune / FORMAS (FORMS).
PAPER_B = {"hybridp": {"pruning_ratio": 14.6, "speedup": 13.9, "energy_reduction": 12.5},
           "forms": {"pruning_ratio": 3.6, "speedup": 3.4, "energy_reduction": 3.1}}
#: Table B's equal hardware: the dense mapping's crossbars, spare ones hold copies.
EQUAL_BUDGET, EQUAL_SETS = "dense", ["mapping.replication=balance"]
#: Schemes whose own hardware is worth a second row in table B.
OWN_HARDWARE = {"forms": "forms"}


def pruned_model(name: str, scheme: str, hw: str, ratio: float, epochs: int, force: bool,
                 params: dict | None = None) -> tuple[Path, dict]:
    """The cached pruned ONNX of ``name`` by ``scheme`` at ``ratio`` and its facts
    (:func:`pruned_cache.pruned_model`, under ``models/build/schemes/``); ``params``:
    pruner parameters other than the defaults, named in the file (``_max_shapes2``)."""
    config = load_config(hw)
    suffix = "".join(f"_{k}{v:g}" for k, v in sorted((params or {}).items()))
    return cache.pruned_model(name, scheme, config, ratio, epochs,
                              stem=f"{name}_{scheme}_{config.name}_r{ratio:g}_e{epochs}{suffix}",
                              directory=BUILD, force=force, progress=False, params=params)


# --------------------------------------------------------------------------- table A


def table_a(models: list[str], schemes: list[str], args) -> list[dict]:
    """One row per (model, scheme): CR on crossbars and accuracy drop at ``--ratio-a``."""
    hw = "autoprune_128x128_ou32"
    rows = []
    for name in models:
        dense = str(train.ensure(name))
        rows.append({"model": name, "scheme": "dense", "pruning_ratio": 1.0, "cr": 1.0,
                     "drop": 0.0, "paper_cr": PAPER_A.get(name, {}).get("dense")})
        for scheme in schemes:
            row = {"model": name, "scheme": scheme, "paper_cr": PAPER_A.get(name, {}).get(scheme)}
            try:
                path, facts = pruned_model(name, scheme, hw, args.ratio_a, args.epochs,
                                           args.force)
                base, other = compare_files([dense, str(path)], hw, engine=args.engine)[0]
                row.update(pruning_ratio=other["pruning_ratio"], cr=other["cr_crossbars"],
                           drop=100 * (facts["float_accuracy_dense"]
                                       - facts["float_accuracy_pruned"]))
            except ReramsimError as err:
                row["error"] = str(err)
            rows.append(row)
            print(format_a([row]).splitlines()[-1], flush=True)
    return rows


def format_a(rows: list[dict]) -> str:
    lines = ["| model | scheme | pruning ratio | CR on XBs | float acc drop [points] | "
             "paper CR on XBs |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        paper = "" if r["paper_cr"] is None else f"{r['paper_cr']:g}x"
        if "error" in r:
            lines.append(f"| {r['model']} | {r['scheme']} | n/a: {r['error']} | | | {paper} |")
        else:
            lines.append(f"| {r['model']} | {r['scheme']} | {r['pruning_ratio']:.2f}x | "
                         f"{r['cr']:.2f}x | {r['drop']:.2f} | {paper} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- table B


def best_ratio(name: str, scheme: str, args) -> tuple[float, Path, dict] | None:
    """The highest target whose float accuracy is within 1 point of dense (searched upwards)."""
    best = None
    for target in args.targets:
        path, facts = pruned_model(name, scheme, "ou_16x16", target, args.epochs, args.force)
        if facts["float_accuracy_pruned"] < facts["float_accuracy_dense"] - 0.01:
            break
        best = (target, path, facts)
    return best


def table_b(models: list[str], schemes: list[str], args) -> list[dict]:
    """Per model: dense plus every scheme at its best ratio, compared on ou_16x16."""
    rows = []
    for name in models:
        dense = str(train.ensure(name))
        specs, targets, errors = [dense], {}, []
        for scheme in schemes:
            try:
                found = best_ratio(name, scheme, args)
            except ReramsimError as err:
                errors.append({"model": name, "scheme": scheme, "error": str(err)})
                continue
            if found is None:
                errors.append({"model": name, "scheme": scheme,
                               "error": f"no target within 1 point (lowest {args.targets[0]:g}x)"})
                continue
            targets[str(found[1])] = found[0]
            specs.append(str(found[1]))
            if scheme in OWN_HARDWARE:
                specs.append(f"{found[1]}@{OWN_HARDWARE[scheme]}")
        compared, _ = compare_files(specs, "ou_16x16", data="digits", engine=args.engine,
                                    limit=args.reram_limit)
        equal, _ = compare_files(specs, "ou_16x16", EQUAL_SETS, engine=args.engine,
                                 budget=EQUAL_BUDGET)
        for row, eq in zip(compared, equal):  # row: each file on its own crossbars
            rows.append({"model": name, "target": targets.get(row["file"]), **row,
                         "speedup_equal": eq["speedup"],
                         "throughput_speedup_equal": eq["throughput_speedup"],
                         "energy_reduction_equal": eq["energy_reduction"]})
        rows += errors
        print(format_b([r for r in rows if r["model"] == name]), flush=True)
    return rows


def format_b(rows: list[dict]) -> str:
    lines = ["| model | scheme | config | best target | pruning ratio | CR on XBs | speedup | "
             "speedup, equal HW | throughput speedup, equal HW | energy reduction | "
             "area [mm^2] | data-path area % | float acc | ReRAM acc |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['scheme']} | | n/a: {r['error']} |"
                         " | | | | | | | | | |")
            continue
        target = "-" if r["target"] is None else f"{r['target']:g}x"
        lines.append(f"| {r['model']} | {r['scheme']} | {r['config']} | {target} | "
                     f"{r['pruning_ratio']:.2f}x | {r['cr_crossbars']:.2f}x | "
                     f"{r['speedup']:.2f}x | {r['speedup_equal']:.2f}x | "
                     f"{r['throughput_speedup_equal']:.2f}x | "
                     f"{r['energy_reduction']:.2f}x | {r['area_um2'] / 1e6:.3f} | "
                     f"{r['datapath_area_pct']:.3f} | {r['acc_float']:.2%} | "
                     f"{r['acc_reram']:.2%} |")
    return "\n".join(lines)


def ou_efficiency(rows: list[dict]) -> list[dict]:
    """Per table-B file on ``ou_16x16``, each on its own crossbars: OU steps per image,
    non-zero MACs per OU step and the cells used (the compare rows' own columns)."""
    out, seen = [], set()
    for r in rows:
        if "error" in r or r["config"] != "ou_16x16" or r["file"] in seen:
            continue
        seen.add(r["file"])
        out.append({k: r[k] for k in ("model", "scheme", "pruning_ratio", "ou_steps",
                                      "macs_per_ou_step", "cell_utilisation")})
    return out


def format_ou(rows: list[dict]) -> str:
    lines = ["| model | scheme | pruning ratio | non-zero MACs / image | OU steps / image | "
             "MACs per OU step | cell utilisation |", "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['scheme']} | {r['pruning_ratio']:.2f}x | "
              f"{round(r['macs_per_ou_step'] * r['ou_steps']):,} | {r['ou_steps']:,} | "
              f"{r['macs_per_ou_step']:.1f} | {r['cell_utilisation']:.1%} |" for r in rows]
    return "\n".join(lines)


def segprune_vs_others(rows: list[dict]) -> str:
    """SegPrune's pruning ratio, speedup and energy reduction over each scheme's, per model."""
    lines = ["| model | SegPrune over | config | pruning ratio | speedup | speedup, equal HW | "
             "energy reduction | abstract (up to): ratio / speedup / energy |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name and "error" not in r]
        seg = next((r for r in mine if r["scheme"] == "segprune"), None)
        if seg is None:
            continue
        for other in mine:
            if other["scheme"] in ("segprune", "dense"):
                continue
            paper = PAPER_B.get(other["scheme"])
            claim = ("" if paper is None else f"{paper['pruning_ratio']}x / {paper['speedup']}x"
                     f" / {paper['energy_reduction']}x")
            lines.append(
                f"| {name} | {other['scheme']} | {other['config']} | "
                f"{seg['pruning_ratio'] / other['pruning_ratio']:.2f}x | "
                f"{seg['speedup'] / other['speedup']:.2f}x | "
                f"{seg['speedup_equal'] / other['speedup_equal']:.2f}x | "
                f"{seg['energy_reduction'] / other['energy_reduction']:.2f}x | {claim} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- SegPrune's shapes


def table_shapes(models: list[str], args) -> list[dict]:
    """Per model and target: SegPrune with each of ``--variants``' parameters and PIM-Prune,
    on ou_16x16, each file on its own crossbars and at equal hardware."""
    rows = []
    for name in models:
        dense = str(train.ensure(name))
        for target in args.shape_targets:
            variants = [("segprune", params) for params in args.variants] + [("pimprune", {})]
            found = [(scheme, params, *pruned_model(name, scheme, "ou_16x16", target,
                                                    args.epochs, args.force, params))
                     for scheme, params in variants]
            specs = [dense] + [str(path) for _, _, path, _ in found]
            own, _ = compare_files(specs, "ou_16x16", engine=args.engine)
            equal, _ = compare_files(specs, "ou_16x16", EQUAL_SETS, engine=args.engine,
                                     budget=EQUAL_BUDGET)
            for (scheme, params, _, facts), mine, eq in zip(found, own[1:], equal[1:]):
                rows.append({"model": name, "target": target, "scheme": scheme,
                             "params": params, "pruning_ratio": mine["pruning_ratio"],
                             "drop": 100 * (facts["float_accuracy_dense"]
                                            - facts["float_accuracy_pruned"]),
                             "cr_crossbars": mine["cr_crossbars"], "speedup": mine["speedup"],
                             "speedup_equal": eq["speedup"],
                             "energy_reduction": mine["energy_reduction"]})
            print("\n".join(format_shapes(rows[-len(found):]).splitlines()[2:]), flush=True)
    return rows


def format_shapes(rows: list[dict]) -> str:
    lines = ["| model | target | scheme | parameters | pruning ratio | float acc drop [points] | "
             "CR on XBs | speedup | speedup, equal HW | energy reduction |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['target']:g}x | {r['scheme']} | "
              f"{','.join(f'{k}={v}' for k, v in r['params'].items()) or 'default'} | "
              f"{r['pruning_ratio']:.2f}x | {r['drop']:.2f} | {r['cr_crossbars']:.2f}x | "
              f"{r['speedup']:.2f}x | {r['speedup_equal']:.2f}x | {r['energy_reduction']:.2f}x |"
              for r in rows]
    return "\n".join(lines)


def variant(text: str) -> dict:
    """``--variants`` entry: ``default`` (no parameters), or ``key=int[,key=int]``."""
    if text == "default":
        return {}
    try:
        return {k: int(v) for k, v in (item.split("=") for item in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected 'default' or key=integer[,key=integer]") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="CI-sized: LeNet, 3 epochs, targets 2-16, 100 ReRAM test images")
    parser.add_argument("--table", nargs="+", choices=("a", "b", "shapes"),
                        default=["a", "b"])
    parser.add_argument("--models", nargs="+", default=None,
                        help="default: alexnet vgg16 plain20 (A), lenet alexnet plain20 (B)")
    parser.add_argument("--schemes", nargs="+", default=None,
                        help="default: every registered scheme")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--ratio-a", type=float, default=8.0, help="table A's target ratio")
    parser.add_argument("--targets", type=float, nargs="+", default=[2, 4, 8, 16, 32, 64])
    parser.add_argument("--reram-limit", type=int, default=None,
                        help="test images for the ReRAM accuracy (default: all 360)")
    parser.add_argument("--engine", default="cycle", help="cycle, analytical or pyref")
    parser.add_argument("--variants", type=variant, nargs="+",
                        default=[{}, {"max_shapes": 2}, {"max_shapes": 1}],
                        help="table shapes: SegPrune parameters per row, 'default' or k=v[,k=v]")
    parser.add_argument("--shape-targets", type=float, nargs="+", default=[8, 32, 64],
                        help="table shapes: pruning targets")
    parser.add_argument("--force", action="store_true", help="prune again even if cached")
    parser.add_argument("--json", default=str(BUILD / "bench_schemes.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = min(args.epochs, 3)
        args.targets = [t for t in args.targets if t <= 16]
        args.reram_limit = args.reram_limit or 100
    torch.set_num_threads(2)
    torch.manual_seed(0)
    np.random.seed(0)
    BUILD.mkdir(parents=True, exist_ok=True)
    schemes = args.schemes or registered_pruners()
    out: dict = {"args": vars(args), "schemes": schemes}
    if "a" in args.table:
        models = args.models or (["lenet"] if args.quick else ["alexnet", "vgg16", "plain20"])
        out["table_a"] = table_a(models, schemes, args)
        print(f"\nTable A: target {args.ratio_a:g}x, autoprune_128x128_ou32, {args.epochs} "
              f"epochs\n{format_a(out['table_a'])}\n")
    if "b" in args.table:
        models = args.models or (["lenet"] if args.quick else ["lenet", "alexnet", "plain20"])
        out["table_b"] = table_b(models, schemes, args)
        out["ou_efficiency"] = ou_efficiency(out["table_b"])
        print(f"\nTable B: best target within 1 point, ou_16x16, {args.epochs} epochs\n"
              f"{format_b(out['table_b'])}\n\n{segprune_vs_others(out['table_b'])}\n\n"
              f"OU steps per image (own crossbars)\n"
              f"{format_ou(out['ou_efficiency'])}")
    if "shapes" in args.table:
        models = args.models or (["lenet"] if args.quick else ["lenet", "plain20"])
        try:
            out["table_shapes"] = table_shapes(models, args)
        except ReramsimError as err:  # a bad --variants parameter
            parser.error(str(err))
        print(f"\nSegPrune's parameters (reconstructions) against PIM-Prune, ou_16x16, "
              f"{args.epochs} epochs\n{format_shapes(out['table_shapes'])}")
    Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
