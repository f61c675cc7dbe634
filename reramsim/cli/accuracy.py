"""``reramsim accuracy``: top-1 accuracy in float (onnxruntime) next to accuracy on the hardware."""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from reramsim.cli.run import add_hardware_args, build_model, describe_adc, describe_hardware
from reramsim.devices import chip_seed
from reramsim.quantize import FunctionalError

DESCRIPTION = """\
Measure a classifier's top-1 accuracy twice on the same images: in float with
onnxruntime (acc_float) and through the functional model of the ReRAM hardware
(acc_reram: quantised, bit-sliced weights, bit-serial inputs, ADC-quantised OU
partial sums, executed through the mapping's OU lists). Input scales are
calibrated on the first --calib images of the training split. With device models
on (the config's device section: variation, stuck-at faults, read noise...),
--trials N measures N programmed chips (seeded by --seed) and reports the mean,
standard deviation and range of acc_reram. Ctrl-C stops early and prints the
accuracies over the images done so far."""

EXAMPLES = """\
examples:
  reramsim accuracy models/lenet.onnx --hw hw_configs/isaac.yaml --data digits
  reramsim accuracy models/plain20.onnx --hw isaac --data digits --set adc.bits=6
  reramsim accuracy models/lenet.onnx --hw isaac --data mnist:~/data/mnist --limit 1000
  reramsim accuracy lenet_seg.onnx --hw isaac --data digits --ideal-adc --json acc.json
  reramsim accuracy models/lenet.onnx --hw isaac --data digits --trials 5 --seed 1 \
      --set device.sigma=0.05 --set device.sa0_rate=0.01 --set device.sa1_rate=0.01
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``accuracy`` subcommand."""
    parser = subparsers.add_parser(
        "accuracy", help="top-1 accuracy in float (onnxruntime) and on the hardware (acc_reram)",
        description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL.onnx", help="an image classifier (dense or pruned)")
    parser.add_argument("--data", required=True, metavar="SPEC",
                        help="digits, mnist:DIR or cifar10:DIR")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="the split to measure on (default test)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N images")
    parser.add_argument("--calib", type=int, default=64, metavar="N",
                        help="training images that calibrate the input scales (default 64; "
                             "0 = the first evaluation batch)")
    parser.add_argument("--trials", type=int, default=1, metavar="N",
                        help="programmed chips to measure (Monte Carlo over the device "
                             "models; default 1)")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_hardware_args(parser)
    parser.set_defaults(func=run)


@dataclass
class Tally:
    """Running counts of one accuracy measurement (float once, the hardware per chip)."""

    images: int = 0  # of the chip being measured
    correct_reram: int = 0  # of the chip being measured
    float_images: int = 0
    correct_float: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"float": 0.0, "reram": 0.0})
    chips: list[float] = field(default_factory=list)  # acc_reram of every chip measured
    faulty: list[int] = field(default_factory=list)  # stuck-at cells of every chip measured

    @property
    def acc_float(self) -> float:
        return self.correct_float / self.float_images if self.float_images else float("nan")

    @property
    def acc_reram(self) -> float:
        """Mean over the chips measured (the chip in progress when none is finished)."""
        if self.chips:
            return float(np.mean(self.chips))
        return self.correct_reram / self.images if self.images else float("nan")


def _float_runner(path: str):
    """``logits(x)`` by onnxruntime, in pieces when the file fixes the batch size."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    out_name = session.get_outputs()[0].name
    fixed = first.shape[0] if first.shape and isinstance(first.shape[0], int) else None

    def logits(x: np.ndarray) -> np.ndarray:
        step = fixed or len(x)
        return np.concatenate([session.run([out_name], {first.name: x[i:i + step]})[0]
                               for i in range(0, len(x), step)])

    return logits


def run(args: argparse.Namespace) -> int:
    """Load everything, then tally both accuracies batch by batch (Ctrl-C prints the partial)."""
    from tqdm import tqdm

    from reramsim.datasets import load_dataset
    from reramsim.onnx_import import load_onnx

    if args.limit is not None and args.limit < 1:
        raise FunctionalError(f"--limit must be >= 1, got {args.limit}")
    if args.calib < 0:
        raise FunctionalError(f"--calib must be >= 0, got {args.calib}")
    if args.trials < 1:
        raise FunctionalError(f"--trials must be >= 1, got {args.trials}")
    network = load_onnx(args.model)
    if len(network.inputs) != 1:
        raise FunctionalError(f"{args.model}: accuracy needs a single-input classifier, this "
                              f"model has inputs {list(network.inputs)}")
    shape = tuple(next(iter(network.inputs.values())))
    x, y = load_dataset(args.data, args.split, shape, args.limit)
    calib = load_dataset(args.data, "train", shape, args.calib)[0] if args.calib else None
    _, model = build_model(args, calibration=calib)
    float_logits = _float_runner(args.model)
    tally = Tally()
    bar = tqdm(total=len(x) * args.trials, unit="img", desc="accuracy",
               disable=args.no_progress)
    interrupted = False
    try:
        for trial in range(args.trials):
            if trial:  # chip 0 was programmed when the model was built
                model.program(chip_seed(args.seed, trial))
            tally.images = tally.correct_reram = 0
            for i in range(0, len(x), args.batch):
                xb, yb = x[i:i + args.batch], y[i:i + args.batch]
                start = time.perf_counter()
                if trial == 0:
                    logits = float_logits(xb)
                    tally.correct_float += int((logits.argmax(axis=1) == yb).sum())
                    tally.float_images += len(xb)
                mid = time.perf_counter()
                reram = model.forward(xb)
                tally.seconds["float"] += mid - start
                tally.seconds["reram"] += time.perf_counter() - mid
                tally.correct_reram += int((reram.argmax(axis=1) == yb).sum())
                tally.images += len(xb)
                bar.update(len(xb))
                bar.set_postfix(acc_float=f"{tally.acc_float:.2%}",
                                acc_reram=f"{tally.correct_reram / tally.images:.2%}")
            tally.chips.append(tally.correct_reram / tally.images)
            tally.faulty.append(model.faulty_cells)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    _print_report(args, network, model, tally, len(x), calib, interrupted)
    if args.json:
        _write_json(args, model, tally, len(x), interrupted)
    return 130 if interrupted else 0


def _print_report(args, network, model, tally: Tally, total: int, calib, interrupted: bool) -> None:
    calib_text = f"{len(calib)} {args.data} train images" if calib is not None else \
        "the first evaluation batch"
    if interrupted:
        print(f"interrupted after {tally.images} of {total} images; figures so far:")
    print(f"model      {network.name} ({args.model})")
    print(f"hardware   {describe_hardware(model)}")
    print(f"data       {args.data} {args.split}, {tally.images} images "
          f"(input scales calibrated on {calib_text})")
    print(f"acc_float  {tally.acc_float:.2%}  (onnxruntime, {tally.seconds['float']:.2f} s)")
    if len(tally.chips) > 1:
        print(f"acc_reram  {tally.acc_reram:.2%}  (mean over {len(tally.chips)} chips, seed "
              f"{args.seed}: std {np.std(tally.chips):.2%}, min {min(tally.chips):.2%}, max "
              f"{max(tally.chips):.2%}; functional model, {tally.seconds['reram']:.2f} s)")
    else:
        print(f"acc_reram  {tally.acc_reram:.2%}  (functional model, "
              f"{tally.seconds['reram']:.2f} s)")
    print(f"           {describe_adc(model)}")
    print(f"devices    {describe_devices(model, tally.faulty)}")


def describe_devices(model, faulty: list[int]) -> str:
    """One line: the device models on, and the stuck-at cells among the cells read."""
    dev = model.config.device
    if not model.device.active:
        return "ideal cells (every device model off)"
    parts = []
    if model.device.leak:
        parts.append(f"on/off {dev.r_off_ohm / dev.r_on_ohm:g}")
    if dev.sigma:
        parts.append(f"{dev.distribution} sigma {dev.sigma:g}")
    if dev.sa0_rate or dev.sa1_rate:
        parts.append(f"SA0 {dev.sa0_rate:g}, SA1 {dev.sa1_rate:g}")
    if dev.read_noise_sigma:
        parts.append(f"read noise {dev.read_noise_sigma:g}")
    if dev.wire_resistance_ohm:
        parts.append(f"wire {dev.wire_resistance_ohm:g} ohm/cell")
    text = "; ".join(parts)
    if faulty and (dev.sa0_rate or dev.sa1_rate):
        mean = float(np.mean(faulty))
        text += (f"; faulty cells {mean:,.0f} of {model.cells_used:,} read "
                 f"({mean / model.cells_used:.3%}){' per chip (mean)' if len(faulty) > 1 else ''}")
    return text


def _write_json(args, model, tally: Tally, total: int, interrupted: bool) -> None:
    chips = tally.chips or [tally.acc_reram]
    record = {
        "model": args.model, "config": model.config.name, "scheme": model.mapping.scheme,
        "data": args.data, "split": args.split, "images": tally.images, "total": total,
        "interrupted": interrupted, "acc_float": tally.acc_float, "acc_reram": tally.acc_reram,
        "trials": len(tally.chips), "seed": args.seed,
        "acc_reram_mean": float(np.mean(chips)), "acc_reram_std": float(np.std(chips)),
        "acc_reram_min": float(min(chips)), "acc_reram_max": float(max(chips)),
        "acc_reram_chips": tally.chips, "faulty_cells": tally.faulty,
        "cells_used": model.cells_used,
        "device": {k: "inf" if v == float("inf") else v
                   for k, v in asdict(model.config.device).items()},
        "seconds": tally.seconds,
        "adc": {name: asdict(stats) for name, stats in model.adc_stats.items()},
        "precision": asdict(model.config.precision), "adc_config": asdict(model.config.adc),
    }
    with open(args.json, "w") as f:
        json.dump(record, f, indent=2, default=float)
    print(f"wrote      {args.json}")


__all__ = ["Tally", "register", "run"]
