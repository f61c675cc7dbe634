"""``reramsim accuracy``: top-1 accuracy in float (onnxruntime) next to accuracy on the hardware."""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from reramsim.cli.run import add_hardware_args, build_model, describe_adc, describe_hardware
from reramsim.quantize import FunctionalError

DESCRIPTION = """\
Measure a classifier's top-1 accuracy twice on the same images: in float with
onnxruntime (acc_float) and through the functional model of the ReRAM hardware
(acc_reram: quantised, bit-sliced weights, bit-serial inputs, ADC-quantised OU
partial sums, executed through the mapping's OU lists). Input scales are
calibrated on the first --calib images of the training split. Ctrl-C stops early
and prints the accuracies over the images done so far."""

EXAMPLES = """\
examples:
  reramsim accuracy models/lenet.onnx --hw hw_configs/isaac.yaml --data digits
  reramsim accuracy models/plain20.onnx --hw isaac --data digits --set adc.bits=6
  reramsim accuracy models/lenet.onnx --hw isaac --data mnist:~/data/mnist --limit 1000
  reramsim accuracy lenet_seg.onnx --hw isaac --data digits --ideal-adc --json acc.json
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
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_hardware_args(parser)
    parser.set_defaults(func=run)


@dataclass
class Tally:
    """Running counts of one accuracy measurement."""

    images: int = 0
    correct_float: int = 0
    correct_reram: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"float": 0.0, "reram": 0.0})

    @property
    def acc_float(self) -> float:
        return self.correct_float / self.images if self.images else float("nan")

    @property
    def acc_reram(self) -> float:
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
    bar = tqdm(total=len(x), unit="img", desc="accuracy", disable=args.no_progress)
    interrupted = False
    try:
        for i in range(0, len(x), args.batch):
            xb, yb = x[i:i + args.batch], y[i:i + args.batch]
            start = time.perf_counter()
            logits = float_logits(xb)
            mid = time.perf_counter()
            reram = model.forward(xb)
            tally.seconds["float"] += mid - start
            tally.seconds["reram"] += time.perf_counter() - mid
            tally.correct_float += int((logits.argmax(axis=1) == yb).sum())
            tally.correct_reram += int((reram.argmax(axis=1) == yb).sum())
            tally.images += len(xb)
            bar.update(len(xb))
            bar.set_postfix(acc_float=f"{tally.acc_float:.2%}", acc_reram=f"{tally.acc_reram:.2%}")
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
    print(f"acc_reram  {tally.acc_reram:.2%}  (functional model, {tally.seconds['reram']:.2f} s)")
    print(f"           {describe_adc(model)}")


def _write_json(args, model, tally: Tally, total: int, interrupted: bool) -> None:
    record = {
        "model": args.model, "config": model.config.name, "scheme": model.mapping.scheme,
        "data": args.data, "split": args.split, "images": tally.images, "total": total,
        "interrupted": interrupted, "acc_float": tally.acc_float, "acc_reram": tally.acc_reram,
        "seconds": tally.seconds,
        "adc": {name: asdict(stats) for name, stats in model.adc_stats.items()},
        "precision": asdict(model.config.precision), "adc_config": asdict(model.config.adc),
    }
    with open(args.json, "w") as f:
        json.dump(record, f, indent=2, default=float)
    print(f"wrote      {args.json}")


__all__ = ["Tally", "register", "run"]
