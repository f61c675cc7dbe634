"""``reramsim run``: the outputs a model gives on the simulated ReRAM hardware, for given inputs."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from reramsim.cli._args import add_config_args, add_scheme_arg
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


def add_hardware_args(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``run`` and ``accuracy``: config, overrides, scheme, ADC, batch."""
    add_config_args(parser)
    add_scheme_arg(parser)
    parser.add_argument("--ideal-adc", action="store_true",
                        help="an ADC with unlimited resolution and range (adc.ideal=true)")
    parser.add_argument("--full-precision", action="store_true",
                        help="32-bit weights and inputs and an ideal ADC: the float model's "
                             "output through the same OU lists")
    parser.add_argument("--batch", type=int, default=64, metavar="N",
                        help="samples per forward pass (default 64)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the chips the device models program (variations, faults, "
                             "read noise; default 0); no effect while they are off")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="BLAS threads while the model runs (default 1: its many mid-sized "
                             "matmuls gain little from more and slow down badly on shared "
                             "cores; 0 = the BLAS default)")


def build_model(args: argparse.Namespace, calibration=None):
    """Load the config and the model and program the crossbars; return (network, model).

    Raises ReramsimError subclasses from the config loader, the importer or the mapper.
    """
    from reramsim.config import load_config
    from reramsim.devices import chip_seed
    from reramsim.functional import FunctionalModel, full_precision
    from reramsim.onnx_import import load_onnx
    from reramsim.prune.metadata import resolve_scheme

    if args.batch < 1:
        raise FunctionalError(f"--batch must be >= 1, got {args.batch}")
    if args.threads < 0:
        raise FunctionalError(f"--threads must be >= 0, got {args.threads}")
    config = load_config(args.hw, args.overrides)
    if args.full_precision:
        config = full_precision(config)
    network = load_onnx(args.model)
    scheme, options = resolve_scheme(network, args.scheme)
    model = FunctionalModel(network, config, scheme=scheme, options=options,
                            ideal_adc=args.ideal_adc, calibration=calibration,
                            blas_threads=args.threads or None,
                            seed=chip_seed(args.seed, 0))
    return network, model


def describe_hardware(model) -> str:
    """One line: the number formats, ADC and OU the model runs with, and the mapping scheme."""
    cfg = model.config
    prec = cfg.precision
    adc = "ideal ADC" if cfg.adc.ideal else f"{cfg.adc.bits}-bit ADC ({cfg.adc.lsb_mode})"
    return (f"{cfg.name}: {prec.weight_bits}-bit weights ({prec.signed_weights}, "
            f"{prec.weight_scale}), {prec.input_bits}-bit inputs, {cfg.crossbar.cell_bits}-bit "
            f"cells, {cfg.dac.bits}-bit DAC, {adc}, {cfg.crossbar.rows}x{cfg.crossbar.cols} "
            f"crossbars, {cfg.ou.rows}x{cfg.ou.cols} OU; mapping {model.mapping.scheme}")


def describe_adc(model) -> str:
    """One line: ADC samples and the share that clipped, over every layer."""
    samples = sum(s.samples for s in model.adc_stats.values())
    clipped = sum(s.clipped for s in model.adc_stats.values())
    rate = clipped / samples if samples else 0.0
    return f"ADC samples {samples:,}, clipped {clipped:,} ({rate:.4%})"


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


def read_inputs(path: str | Path, network) -> dict[str, np.ndarray]:
    """Graph input name -> batched array from a .npy or .npz file.

    A .npy array without the batch dimension is one sample. Raises FunctionalError for a
    missing or unreadable file, or a .npy file for a model with several inputs.
    """
    path = Path(path)
    if not path.is_file():
        raise FunctionalError(f"{path}: no such input file")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise FunctionalError(f"{path}: not a .npy/.npz file ({err})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            arrays = {name: data[name] for name in data.files}
    else:
        if len(network.inputs) != 1:
            raise FunctionalError(f"{path}: {network.name} has inputs {list(network.inputs)}; "
                                  "give an .npz file with one array per input")
        arrays = {next(iter(network.inputs)): data}
    for name, shape in network.inputs.items():
        if name in arrays and arrays[name].shape == tuple(shape):
            arrays[name] = arrays[name][None]  # one sample
    return arrays


def run(args: argparse.Namespace) -> int:
    """Load, calibrate, run in batches, write the outputs."""
    out = Path(args.output)
    if out.suffix not in (".npy", ".npz"):
        raise FunctionalError(f"--output {out}: use a .npy or .npz file name")
    network, model = build_model(args)
    inputs = read_inputs(args.input, network)
    model.calibrate(read_inputs(args.calib, network) if args.calib else inputs)
    n = len(next(iter(inputs.values())))
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in network.outputs}
    for i in range(0, n, args.batch):
        for name, value in model.run({k: v[i:i + args.batch] for k, v in inputs.items()}).items():
            outputs[name].append(value.astype(np.float32))
    results = {name: np.concatenate(parts) for name, parts in outputs.items()}
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


__all__ = ["add_hardware_args", "build_model", "describe_adc", "describe_hardware", "read_inputs",
           "register", "run"]
