"""``reramsim run``: the outputs a model gives on the simulated ReRAM hardware, for given inputs."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from reramsim.cli._args import add_hardware_args, build_model
from reramsim.quantize import FunctionalError

DESCRIPTION = """\
Run an ONNX model on the functional model of a ReRAM crossbar accelerator: weights
quantised and bit-sliced into cells, inputs streamed through the DACs, every OU's
partial sums read by the ADC, exactly as the mapping places them. Inputs come from
a .npy file (one array, with or without the batch dimension) or a .npz file (one
array per graph input); the outputs go to a .npy file (the first graph output) or
a .npz file (all of them). Input scales are calibrated on the inputs themselves
unless --calib gives another batch."""

EXAMPLES = """\
examples:
  reramsim run models/lenet.onnx --hw hw_configs/isaac.yaml --input x.npy --output y.npy
  reramsim run models/lenet.onnx --hw isaac --input x.npy --output y.npy --set adc.bits=6
  reramsim run models/plain20.onnx --hw isaac --input x.npy --output y.npz --full-precision
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run", help="run a model on the simulated hardware: inputs .npy -> outputs .npy",
        description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL.onnx", help="the ONNX model (dense or pruned)")
    parser.add_argument("--input", required=True, metavar="X.npy",
                        help="inputs: .npy (single-input models) or .npz (name -> array)")
    parser.add_argument("--output", required=True, metavar="Y.npy",
                        help="outputs: .npy (first graph output) or .npz (every output)")
    parser.add_argument("--calib", metavar="CALIB.npy",
                        help="calibrate input scales on this batch (default: on the inputs)")
    add_hardware_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load, calibrate, run in batches, write the outputs."""
    from reramsim.pipeline import describe_adc, describe_hardware, read_inputs, run_batches

    out = Path(args.output)
    if out.suffix not in (".npy", ".npz"):
        raise FunctionalError(f"--output {out}: use a .npy or .npz file name")
    network, model = build_model(args)
    inputs = read_inputs(args.input, network)
    model.calibrate(read_inputs(args.calib, network) if args.calib else inputs)
    n = len(next(iter(inputs.values())))
    results = run_batches(model, inputs, args.batch)
    if out.suffix == ".npz":
        np.savez(out, **results)
    else:
        if len(results) > 1:
            raise FunctionalError(f"--output {out}: {network.name} has outputs "
                                  f"{list(results)}; use an .npz file to keep them all")
        np.save(out, results[network.outputs[0]])
    print(f"hardware  {describe_hardware(model)}")
    print(f"ran       {n} sample(s) of {network.name}; {describe_adc(model)}")
    shapes = ", ".join(f"{k} {v.shape}" for k, v in results.items())
    print(f"wrote     {out} ({shapes})")
    return 0


__all__ = ["register", "run"]
