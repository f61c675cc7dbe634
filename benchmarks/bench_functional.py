"""Throughput and accuracy of the functional (bit-level) model on the zoo's trained models.

For each model and setting: the time to program the crossbars (build), the time to run
the digits test images through the bit-level model (forward), images per second, top-1
in float (onnxruntime) and on the hardware, and the share of ADC samples that clipped.
The headline figure is LeNet on ``isaac.yaml`` (16-bit weights and inputs, 2-bit cells,
1-bit DAC: 16 input steps x 8 slices), which must take < 10 s for the 360 images.

Settings:
    isaac            the shipped config, with the exact linear shortcut for OUs whose ADC
                     cannot clip (the default of the library);
    isaac-serial     the same, every OU forced through one ADC sample per input step
                     (the worst case: what a config whose ADC can clip everywhere costs);
    full-precision   32-bit weights and inputs, ideal ADC (the reference);
    adc=N            ``--adc-sweep``: isaac with an N-bit ADC (``unit`` LSB, saturating);
    adc=N-fr         the same with ``adc.lsb_mode=full_range`` (rounding, no clipping).

Usage::

    python benchmarks/bench_functional.py [--models lenet plain20] [--limit 360]
        [--threads N] [--settings isaac full-precision] [--adc-sweep 6 5 4]
        [--json out/bench_functional.json]

Seeds are fixed (the digits split and the models are deterministic); timings are
wall-clock on whatever machine runs it, so compare runs on the same machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reramsim.config import load_config  # noqa: E402
from reramsim.datasets import load_dataset  # noqa: E402
from reramsim.functional import FunctionalModel, full_precision  # noqa: E402
from reramsim.onnx_import import load_onnx  # noqa: E402

CALIB_IMAGES = 64


def float_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 of the ONNX file by onnxruntime."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return float((session.run(None, {name: x})[0].argmax(axis=1) == y).mean())


BASE_SETTINGS = ("isaac", "isaac-serial", "full-precision")


def settings(base: list[str], adc_sweep: list[int]) -> list[tuple[str, object, bool]]:
    """(label, config, shortcut) of every setting measured."""
    isaac = load_config("isaac")
    known = {"isaac": (isaac, True), "isaac-serial": (isaac, False),
             "full-precision": (full_precision(isaac), True)}
    rows = [(label, *known[label]) for label in base]
    for bits in adc_sweep:
        rows.append((f"adc={bits}", load_config("isaac", [f"adc.bits={bits}"]), True))
        rows.append((f"adc={bits}-fr", load_config("isaac", [f"adc.bits={bits}",
                                                             "adc.lsb_mode=full_range"]), True))
    return rows


def bench_model(name: str, limit: int, threads: int | None, base: list[str],
                adc_sweep: list[int]) -> list[dict]:
    """Measure one zoo model under every setting; one dict per setting (printed as it ends)."""
    from reramsim.training import ensure

    path = ensure(name)
    network = load_onnx(path)
    shape = tuple(next(iter(network.inputs.values())))
    x, y = load_dataset("digits", "test", shape, limit)
    calib = load_dataset("digits", "train", shape, CALIB_IMAGES)[0]
    acc_float = float_accuracy(path, x, y)
    rows = []
    for label, config, shortcut in settings(base, adc_sweep):
        start = time.perf_counter()
        model = FunctionalModel(network, config, calibration=calib, shortcut=shortcut,
                                blas_threads=threads)
        built = time.perf_counter()
        acc = model.accuracy(x, y, batch=128)
        done = time.perf_counter()
        samples = sum(s.samples for s in model.adc_stats.values())
        clipped = sum(s.clipped for s in model.adc_stats.values())
        rows.append({
            "model": name, "setting": label, "images": len(x),
            "build_s": built - start, "forward_s": done - built,
            "images_per_s": len(x) / (done - built), "acc_float": acc_float, "acc_reram": acc,
            "adc_samples": samples, "adc_clip_rate": clipped / samples if samples else 0.0,
        })
        print_row(rows[-1])
    return rows


HEADER = (f"{'model':<9} {'setting':<15} {'images':>6} {'build s':>8} {'forward s':>10} "
          f"{'img/s':>7} {'acc_float':>9} {'acc_reram':>9} {'ADC clip':>9}")


def print_row(r: dict) -> None:
    """One line of the table."""
    print(f"{r['model']:<9} {r['setting']:<15} {r['images']:>6} {r['build_s']:>8.2f} "
          f"{r['forward_s']:>10.2f} {r['images_per_s']:>7.1f} {r['acc_float']:>9.2%} "
          f"{r['acc_reram']:>9.2%} {r['adc_clip_rate']:>9.3%}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Parse options, measure, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["lenet", "plain20"])
    parser.add_argument("--limit", type=int, default=360, help="digits test images (max 360)")
    parser.add_argument("--threads", type=int, default=None, help="cap BLAS threads")
    parser.add_argument("--settings", nargs="*", choices=BASE_SETTINGS,
                        default=list(BASE_SETTINGS), help="base settings to measure")
    parser.add_argument("--adc-sweep", type=int, nargs="*", default=[],
                        help="also measure isaac with these ADC resolutions")
    parser.add_argument("--json", default="out/bench_functional.json")
    args = parser.parse_args(argv)
    print(HEADER)
    rows = [row for name in args.models
            for row in bench_model(name, args.limit, args.threads, args.settings, args.adc_sweep)]
    record = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform()},
              "threads": args.threads, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=2))
    print(f"wrote {args.json}")
    lenet = [r for r in rows if r["model"] == "lenet" and r["setting"] == "isaac"]
    if lenet:
        verdict = "OK" if lenet[0]["forward_s"] < 10 else "TOO SLOW"
        print(f"LeNet, {lenet[0]['images']} digits, bit-level isaac model: "
              f"{lenet[0]['forward_s']:.2f} s (target < 10 s: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
