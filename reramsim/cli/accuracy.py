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


def run(args: argparse.Namespace) -> int:
    """Load everything, then tally both accuracies batch by batch (Ctrl-C prints the partial)."""
    from reramsim.accuracy import accuracy_record, measure_accuracy
    from reramsim.datasets import load_dataset
    from reramsim.io_checks import check_output_file
    from reramsim.pipeline import load_model

    if args.json is not None:
        check_output_file(args.json, "--json")
    if args.limit is not None and args.limit < 1:
        raise FunctionalError(f"--limit must be >= 1, got {args.limit}")
    if args.calib < 0:
        raise FunctionalError(f"--calib must be >= 0, got {args.calib}")
    if args.trials < 1:
        raise FunctionalError(f"--trials must be >= 1, got {args.trials}")
    network = load_model(args.model, args.input_shape)
    if len(network.inputs) != 1:
        raise FunctionalError(f"{args.model}: accuracy needs a single-input classifier, this "
                              f"model has inputs {list(network.inputs)}")
    shape = tuple(next(iter(network.inputs.values())))
    x, y = load_dataset(args.data, args.split, shape, args.limit)
    calib = load_dataset(args.data, "train", shape, args.calib)[0] if args.calib else None
    _, model = build_model(args, calibration=calib, network=network)
    tally = measure_accuracy(args.model, model, x, y, args.batch, progress=not args.no_progress,
                             trials=args.trials, seed=args.seed)
    _print_report(args, network, model, tally, len(x), calib)
    if args.json:
        record = accuracy_record(args.model, model, tally, len(x), args.data, args.split)
        record["seed"] = args.seed
        with open(args.json, "w") as f:
            json.dump(record, f, indent=2, default=float)
        print(f"wrote      {args.json}")
    return 130 if tally.interrupted else 0


def _print_report(args, network, model, tally, total: int, calib) -> None:
    import numpy as np

    from reramsim.pipeline import describe_adc, describe_devices, describe_hardware

    calib_text = f"{len(calib)} {args.data} train images" if calib is not None else \
        "the first evaluation batch"
    if tally.interrupted:
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


__all__ = ["register", "run"]
