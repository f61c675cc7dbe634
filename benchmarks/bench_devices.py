"""Accuracy on the mapped hardware as the ReRAM devices get worse: variation, faults, IR drop.

Part 1, on SegPrune's evaluation config (``ou_16x16``: ISAAC with 16x16 OUs and a 6-bit
ADC): acc_reram of LeNet and Plain20, dense and SegPrune 8x (the pruned ONNX of
``benchmarks/bench_segprune.py``, built and cached in ``models/build`` on first use), as

* the programming variation ``device.sigma`` grows (lognormal), and
* the stuck-at rates grow (``device.sa0_rate = device.sa1_rate = rate``),

each point the mean (and standard deviation) over ``--trials`` programmed chips (Plain20:
``--trials-plain20`` chips on ``--limit-plain20`` images: its bit-serial runs are slow), next
to MNSIM-2.0's default device (SimConfig.ini: R_off/R_on = 1.5e5/3e4 ohm, 5% normal
variation, 9% stuck at HRS, 1% stuck at LRS).

Part 2, IR drop against crossbar size: LeNet dense on ISAAC with 64x64, 128x128 and
256x256 crossbars (the OU is the whole array, as in ISAAC), ``device.wire_resistance_ohm``
= each of ``--wires`` ohm per cell pitch (R_on 30 kOhm, R_off infinite), one chip; also the
attenuation of the programmed conductances (sum of effective / sum of ideal).

Prints the tables, writes a PNG plot (matplotlib, Agg) and JSON::

    python benchmarks/bench_devices.py [--models lenet plain20] [--limit 360]
        [--limit-plain20 40] [--trials 3] [--trials-plain20 1] [--seed 0]
        [--sigmas 0.02 0.05 0.1 0.2] [--rates 0.001 0.003 0.01 0.03] [--sizes 64 128 256]
        [--wires 0.1 0.5 2.5]
        [--png out/bench_devices.png] [--json out/bench_devices.json]

Timing depends on the machine; the accuracies depend only on the seeds.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reramsim.config import load_config  # noqa: E402
from reramsim.datasets import load_dataset  # noqa: E402
from reramsim.devices import chip_seed  # noqa: E402
from reramsim.functional import FunctionalModel  # noqa: E402
from reramsim.onnx_import import load_onnx  # noqa: E402
from reramsim.prune import scheme_from_metadata  # noqa: E402

CALIB_IMAGES = 64
#: MNSIM-2.0's SimConfig.ini device: Device_Resistance = 1.5e5,3e4; Device_Variation = 5 (%,
#: normal); Device_SAF = 9,1 (% stuck at HRS, % stuck at LRS).
MNSIM_DEVICE = ["device.r_on_ohm=30000", "device.r_off_ohm=150000", "device.sigma=0.05",
                "device.distribution=normal", "device.sa0_rate=0.09", "device.sa1_rate=0.01"]


def networks(name: str, hw: str) -> dict[str, Path]:
    """scheme -> ONNX path: the trained dense model and its SegPrune 8x version."""
    from bench_segprune import pruned_model

    from reramsim.training import ensure

    pruned, _ = pruned_model(name, load_config(hw), 8.0, 30, force=False)
    return {"dense": ensure(name), "segprune8x": pruned}


def measure(path: Path, hw: str, overrides: list[str], limit: int, trials: int, seed: int
            ) -> dict:
    """acc_reram over ``trials`` chips of one model, config and device setting."""
    net = load_onnx(path)
    shape = tuple(next(iter(net.inputs.values())))
    x, y = load_dataset("digits", "test", shape, limit)
    calib = load_dataset("digits", "train", shape, CALIB_IMAGES)[0]
    scheme, options = scheme_from_metadata(net)
    start = time.perf_counter()
    model = FunctionalModel(net, load_config(hw, overrides), scheme=scheme, options=options,
                            calibration=calib, blas_threads=1, seed=chip_seed(seed, 0))
    accs, faulty = [], []
    for trial in range(trials if model.device.active else 1):
        if trial:
            model.program(chip_seed(seed, trial))
        accs.append(model.accuracy(x, y, batch=128))
        faulty.append(model.faulty_cells)
    return {"acc_mean": float(np.mean(accs)), "acc_std": float(np.std(accs)), "accs": accs,
            "faulty_cells": faulty, "cells_used": model.cells_used, "images": len(x),
            "seconds": time.perf_counter() - start, "model_obj": model}


def sweeps(args) -> list[dict]:
    """Part 1: one row per (model, scheme, setting)."""
    rows = []
    settings = [("ideal", 0.0, [])]
    settings += [(f"sigma={s:g}", s, [f"device.sigma={s:g}"]) for s in args.sigmas]
    settings += [(f"saf={r:g}", r, [f"device.sa0_rate={r:g}", f"device.sa1_rate={r:g}"])
                 for r in args.rates]
    settings += [("mnsim-2.0", 0.0, MNSIM_DEVICE)]
    for name in args.models:
        limit = args.limit_plain20 if name == "plain20" else args.limit
        trials = args.trials_plain20 if name == "plain20" else args.trials
        for scheme, path in networks(name, args.hw).items():
            for label, value, overrides in settings:
                r = measure(path, args.hw, overrides, limit, trials, args.seed)
                r.pop("model_obj")
                rows.append({"model": name, "scheme": scheme, "setting": label, "value": value,
                             **r})
                print_sweep_row(rows[-1])
    return rows


def ir_rows(args) -> list[dict]:
    """Part 2: LeNet dense on ISAAC, IR drop against crossbar size."""
    from reramsim.training import ensure

    rows = []
    for size in args.sizes:
        geometry = [f"crossbar.rows={size}", f"crossbar.cols={size}", f"ou.rows={size}",
                    f"ou.cols={size}"]
        for wire in (0.0, *args.wires):
            wiring = f"device.wire_resistance_ohm={wire:g}"
            r = measure(ensure("lenet"), "isaac", [*geometry, wiring], args.limit, 1, args.seed)
            model = r.pop("model_obj")
            ideal = real = 0.0
            for name in model.adc_stats:  # every weight layer
                for cls in model.crossbar_layer(name).classes:
                    if cls.levels is not None:
                        ideal += float(cls.levels.sum(dtype=np.float64))
                        real += float(cls.weights.sum(dtype=np.float64))
            rows.append({"size": size, "wire_ohm": wire, "attenuation": real / ideal if ideal
                         else 1.0, **r})
            print_ir_row(rows[-1])
    return rows


def print_sweep_row(r: dict) -> None:
    print(f"{r['model']:<8} {r['scheme']:<11} {r['setting']:<11} {r['images']:>6} "
          f"{r['acc_mean']:>8.2%} {r['acc_std']:>7.2%} "
          f"{np.mean(r['faulty_cells']) / r['cells_used']:>8.3%} {r['seconds']:>8.1f}", flush=True)


def print_ir_row(r: dict) -> None:
    print(f"{r['size']:>4}x{r['size']:<4} {r['wire_ohm']:>6g} {r['images']:>6} "
          f"{r['attenuation']:>11.4f} {r['acc_mean']:>9.2%} {r['seconds']:>8.1f}", flush=True)


def plot(sweep: list[dict], ir: list[dict], path: Path) -> None:
    """Three panels: accuracy vs sigma, vs stuck-at rate (MNSIM-2.0 as a marker), vs size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for (model, scheme) in sorted({(r["model"], r["scheme"]) for r in sweep}):
        mine = [r for r in sweep if (r["model"], r["scheme"]) == (model, scheme)]
        ideal = next(r for r in mine if r["setting"] == "ideal")
        for ax, prefix in ((axes[0], "sigma="), (axes[1], "saf=")):
            pts = [ideal] + [r for r in mine if r["setting"].startswith(prefix)]
            xs = [r["value"] for r in pts]
            line = ax.errorbar(xs, [r["acc_mean"] for r in pts], [r["acc_std"] for r in pts],
                               marker="o", capsize=3, label=f"{model} {scheme}")
            mnsim = next(r for r in mine if r["setting"] == "mnsim-2.0")
            if prefix == "saf=":
                ax.scatter([0.05], [mnsim["acc_mean"]], marker="*", s=150,
                           color=line[0].get_color())
    axes[0].set(xlabel="device.sigma (lognormal)", ylabel="acc_reram", title="variation")
    axes[1].set(xlabel="device.sa0_rate = device.sa1_rate", ylabel="acc_reram",
                title="stuck-at faults (star: MNSIM-2.0 default device)")
    values = [r["value"] for r in sweep if r["value"]]
    for ax in axes[:2]:
        if values:
            ax.set_xscale("symlog", linthresh=min(values) / 2)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        if sweep:
            ax.legend(fontsize=8)
    sizes = sorted({r["size"] for r in ir})
    for wire in sorted({r["wire_ohm"] for r in ir}):
        pts = [next(r for r in ir if r["size"] == s and r["wire_ohm"] == wire) for s in sizes]
        axes[2].plot(sizes, [r["acc_mean"] for r in pts], marker="o",
                     label=f"acc_reram, {wire:g} ohm/cell")
        if wire:
            axes[2].plot(sizes, [r["attenuation"] for r in pts], marker="s", linestyle="--",
                         label=f"conductance kept, {wire:g} ohm/cell")
    axes[2].set(xlabel="crossbar rows = cols (OU = crossbar)", title="IR drop, LeNet on ISAAC",
                ylim=(0, 1.02))
    axes[2].set_xscale("log", base=2)
    axes[2].grid(alpha=0.3)
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=["lenet", "plain20"],
                        help="models of part 1 (none: part 2 only)")
    parser.add_argument("--hw", default="ou_16x16", help="config of part 1")
    parser.add_argument("--limit", type=int, default=360, help="digits test images (LeNet)")
    parser.add_argument("--limit-plain20", type=int, default=40,
                        help="digits test images for Plain20 (its bit-serial runs are slow)")
    parser.add_argument("--trials", type=int, default=3, help="chips per device setting")
    parser.add_argument("--trials-plain20", type=int, default=1, help="the same for Plain20")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sigmas", type=float, nargs="*", default=[0.02, 0.05, 0.1, 0.2])
    parser.add_argument("--rates", type=float, nargs="*", default=[0.001, 0.003, 0.01, 0.03])
    parser.add_argument("--sizes", type=int, nargs="*", default=[64, 128, 256])
    parser.add_argument("--wires", type=float, nargs="*", default=[0.1, 0.5, 2.5],
                        help="ohm per cell pitch (part 2)")
    parser.add_argument("--png", default="out/bench_devices.png")
    parser.add_argument("--json", default="out/bench_devices.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    print(f"part 1: {args.hw}, mean (std) over {args.trials} chips, seed {args.seed}")
    print(f"{'model':<8} {'scheme':<11} {'setting':<11} {'images':>6} {'acc_reram':>8} "
          f"{'std':>7} {'faulty':>8} {'seconds':>8}")
    sweep = sweeps(args)
    print("\npart 2: LeNet dense on isaac, IR drop (wire: ohm per cell pitch)")
    print(f"{'crossbar':<9} {'wire':>6} {'images':>6} {'G kept':>11} {'acc_reram':>9} "
          f"{'seconds':>8}")
    ir = ir_rows(args)
    plot(sweep, ir, Path(args.png))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"args": vars(args), "sweep": sweep, "ir_drop": ir},
                                          indent=1))
    print(f"wrote {args.png} and {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
