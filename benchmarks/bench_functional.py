"""Throughput and accuracy of the functional (bit-level) model on the zoo's trained models.

For each model and setting: the time to program the crossbars (build), the time to run
the digits test images through the bit-level model (forward: wall-clock, and the CPU
time of the process, all threads, which is steadier on a shared machine), images per
second, top-1 in float (onnxruntime) and on the hardware, and the share of ADC samples
that clipped.
The goals (``GOALS``, 360 images): LeNet on ``isaac.yaml`` (16-bit weights and inputs,
2-bit cells, 1-bit DAC: 16 input steps x 8 slices) < 10 s; Plain20 with a 6-bit ADC
(``--adc-sweep 6``: samples clip) < 10 s; LeNet with every device model on < 5 s.

Settings:
    isaac            the shipped config, with the exact linear shortcut for OUs whose ADC
                     cannot clip (the default of the library);
    isaac-serial     the same, every OU forced through one ADC sample per input step
                     (the worst case: what a config whose ADC can clip everywhere costs);
    full-precision   32-bit weights and inputs, ideal ADC (the reference);
    devices          isaac with every device model on (DEVICES_ON: leak, variation, stuck-at
                     faults, read noise, IR drop): every sample bit-serial and real-valued;
    adc=N            ``--adc-sweep``: isaac with an N-bit ADC (``unit`` LSB, saturating);
    adc=N-fr         ``--full-range``: the same with ``adc.lsb_mode=full_range`` (rounding,
                     no clipping).

Usage::

    python benchmarks/bench_functional.py [--models lenet plain20] [--limit 360]
        [--threads N] [--settings isaac full-precision devices] [--adc-sweep 6 5 4]
        [--full-range] [--scalar-kernel]
        [--json out/bench_functional.json]

``--scalar-kernel`` runs the clipping kernel's scalar POPCNT code even where the CPU has
AVX-512 VPOPCNTQ, to measure what a CPU without it gets (the JSON's ``kernel`` says which
ran).

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

from reramsim._core import _bitserial  # noqa: E402
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


BASE_SETTINGS = ("isaac", "isaac-serial", "full-precision", "devices")
#: Every device model on, at small values (docs/devices.md): the cost of the device path is
#: the same whatever the values; these keep LeNet's accuracy readable (ISAAC's offset
#: encoding makes larger ones ruinous, see bench_devices.py): on/off ratio 1000, 2%
#: lognormal variation, 0.01% stuck-at each way, read noise 0.2 level, 0.02 ohm of wire.
DEVICES_ON = ["device.r_off_ohm=3e7", "device.sigma=0.02", "device.sa0_rate=0.0001",
              "device.sa1_rate=0.0001", "device.read_noise_sigma=0.2",
              "device.wire_resistance_ohm=0.02"]
#: (model, setting, seconds): the forward-time goals of the functional model (360 digits).
GOALS = [("lenet", "isaac", 10.0), ("plain20", "adc=6", 10.0), ("lenet", "devices", 5.0)]


def settings(base: list[str], adc_sweep: list[int], full_range: bool
             ) -> list[tuple[str, object, bool]]:
    """(label, config, shortcut) of every setting measured."""
    isaac = load_config("isaac")
    known = {"isaac": (isaac, True), "isaac-serial": (isaac, False),
             "full-precision": (full_precision(isaac), True),
             "devices": (load_config("isaac", DEVICES_ON), True)}
    rows = [(label, *known[label]) for label in base]
    for bits in adc_sweep:
        rows.append((f"adc={bits}", load_config("isaac", [f"adc.bits={bits}"]), True))
        if full_range:
            rows.append((f"adc={bits}-fr", load_config("isaac", [f"adc.bits={bits}",
                                                                 "adc.lsb_mode=full_range"]),
                         True))
    return rows


def bench_model(name: str, limit: int, threads: int | None, base: list[str],
                adc_sweep: list[int], full_range: bool = False) -> list[dict]:
    """Measure one zoo model under every setting; one dict per setting (printed as it ends)."""
    from reramsim.training import ensure

    path = ensure(name)
    network = load_onnx(path)
    shape = tuple(next(iter(network.inputs.values())))
    x, y = load_dataset("digits", "test", shape, limit)
    calib = load_dataset("digits", "train", shape, CALIB_IMAGES)[0]
    acc_float = float_accuracy(path, x, y)
    rows = []
    for label, config, shortcut in settings(base, adc_sweep, full_range):
        start = time.perf_counter()
        model = FunctionalModel(network, config, calibration=calib, shortcut=shortcut,
                                blas_threads=threads)
        built, cpu = time.perf_counter(), time.process_time()
        acc = model.accuracy(x, y, batch=128)
        done, cpu = time.perf_counter(), time.process_time() - cpu
        samples = sum(s.samples for s in model.adc_stats.values())
        clipped = sum(s.clipped for s in model.adc_stats.values())
        rows.append({
            "model": name, "setting": label, "images": len(x),
            "build_s": built - start, "forward_s": done - built, "forward_cpu_s": cpu,
            "images_per_s": len(x) / (done - built), "acc_float": acc_float, "acc_reram": acc,
            "adc_samples": samples, "adc_clip_rate": clipped / samples if samples else 0.0,
        })
        print_row(rows[-1])
    return rows


HEADER = (f"{'model':<9} {'setting':<15} {'images':>6} {'build s':>8} {'forward s':>10} "
          f"{'cpu s':>7} {'img/s':>7} {'acc_float':>9} {'acc_reram':>9} {'ADC clip':>9}")


def print_row(r: dict) -> None:
    """One line of the table."""
    print(f"{r['model']:<9} {r['setting']:<15} {r['images']:>6} {r['build_s']:>8.2f} "
          f"{r['forward_s']:>10.2f} {r['forward_cpu_s']:>7.2f} {r['images_per_s']:>7.1f} "
          f"{r['acc_float']:>9.2%} "
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
    parser.add_argument("--full-range", action="store_true",
                        help="with --adc-sweep, also each resolution as a full-range ADC")
    parser.add_argument("--scalar-kernel", action="store_true",
                        help="use the clipping kernel's scalar code even on AVX-512 CPUs")
    parser.add_argument("--json", default="out/bench_functional.json")
    args = parser.parse_args(argv)
    if args.scalar_kernel:
        _bitserial.SIMD = False  # read by clip_correction at each call
    kernel = "avx512-vpopcntq" if _bitserial.SIMD else "scalar-popcnt"
    print(f"clipping kernel: {kernel}")
    print(HEADER)
    rows = [row for name in args.models
            for row in bench_model(name, args.limit, args.threads, args.settings, args.adc_sweep,
                                   args.full_range)]
    record = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform()},
              "threads": args.threads, "kernel": kernel, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=2))
    print(f"wrote {args.json}")
    for model, setting, target in GOALS:
        for r in rows:
            if (r["model"], r["setting"]) == (model, setting):
                verdict = "OK" if r["forward_s"] < target else "TOO SLOW"
                print(f"{model} {setting}, {r['images']} digits: {r['forward_s']:.2f} s "
                      f"(CPU {r['forward_cpu_s']:.2f} s; goal < {target:g} s for 360: "
                      f"{verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
