"""``reramsim accuracy``: top-1 accuracy in float (onnxruntime) next to accuracy on the hardware."""
from __future__ import annotations

import argparse
import json

from reramsim.cli._args import add_hardware_args, build_model
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


def run(args: argparse.Namespace) -> int:
    """Load everything, then tally both accuracies batch by batch (Ctrl-C prints the partial)."""
    from reramsim.accuracy import accuracy_record, measure_accuracy
    from reramsim.datasets import load_dataset
    from reramsim.pipeline import load_model

    if args.limit is not None and args.limit < 1:
        raise FunctionalError(f"--limit must be >= 1, got {args.limit}")
    if args.calib < 0:
        raise FunctionalError(f"--calib must be >= 0, got {args.calib}")
    network = load_model(args.model)
    if len(network.inputs) != 1:
        raise FunctionalError(f"{args.model}: accuracy needs a single-input classifier, this "
                              f"model has inputs {list(network.inputs)}")
    shape = tuple(next(iter(network.inputs.values())))
    x, y = load_dataset(args.data, args.split, shape, args.limit)
    calib = load_dataset(args.data, "train", shape, args.calib)[0] if args.calib else None
    _, model = build_model(args, calibration=calib, network=network)
    tally = measure_accuracy(args.model, model, x, y, args.batch, progress=not args.no_progress)
    _print_report(args, network, model, tally, len(x), calib)
    if args.json:
        record = accuracy_record(args.model, model, tally, len(x), args.data, args.split)
        with open(args.json, "w") as f:
            json.dump(record, f, indent=2, default=float)
        print(f"wrote      {args.json}")
    return 130 if tally.interrupted else 0


def _print_report(args, network, model, tally, total: int, calib) -> None:
    from reramsim.pipeline import describe_adc, describe_hardware

    calib_text = f"{len(calib)} {args.data} train images" if calib is not None else \
        "the first evaluation batch"
    if tally.interrupted:
        print(f"interrupted after {tally.images} of {total} images; figures so far:")
    print(f"model      {network.name} ({args.model})")
    print(f"hardware   {describe_hardware(model)}")
    print(f"data       {args.data} {args.split}, {tally.images} images "
          f"(input scales calibrated on {calib_text})")
    print(f"acc_float  {tally.acc_float:.2%}  (onnxruntime, {tally.seconds['float']:.2f} s)")
    print(f"acc_reram  {tally.acc_reram:.2%}  (functional model, {tally.seconds['reram']:.2f} s)")
    print(f"           {describe_adc(model)}")


__all__ = ["register", "run"]
