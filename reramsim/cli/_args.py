"""Options that several subcommands share, declared once, and the model they describe."""
from __future__ import annotations

import argparse


def add_config_args(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--hw CONFIG`` (required unless ``default`` is given) and repeatable ``--set K=V``."""
    where = f" (default {default})" if default else ""
    parser.add_argument("--hw", required=default is None, default=default, metavar="CONFIG.yaml",
                        help="hardware config: a YAML file or a shipped name (isaac, ou_16x16)"
                             + where)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE",
                        help="override a config value, e.g. --set adc.bits=6 (repeatable)")


def add_scheme_arg(parser: argparse.ArgumentParser) -> None:
    """``--scheme``: the mapping scheme, by default the one a pruned model's metadata names."""
    parser.add_argument("--scheme", default=None,
                        help="mapping scheme (default: the one a pruned model's metadata names, "
                             "else dense); an unknown name lists the others")


def add_budget_arg(parser: argparse.ArgumentParser) -> None:
    """``--budget dense|chip|N``: the crossbars a run may use (equal hardware for schemes)."""
    parser.add_argument("--budget", metavar="dense|chip|N", default=None,
                        help="crossbars the run may use: 'dense' (the dense mapping's count), "
                             "'chip' (the config's tiles), or a number; copies of layers fill "
                             "it with --set mapping.replication=balance (default: the chip, or "
                             "the mapping's own crossbars when organization.tiles is 0)")


def add_input_shape_arg(parser: argparse.ArgumentParser) -> None:
    """``--input-shape [NAME=]D0xD1x...`` (repeatable): fixes a model's dynamic input dims."""
    parser.add_argument("--input-shape", action="append", default=[], metavar="[NAME=]1x3x224x224",
                        help="full shape of a graph input, batch first, fixing its dynamic dims "
                             "(NAME= needed when the model has several inputs; repeatable); "
                             "the batch dim is the number of images per run")


def add_hardware_args(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``run`` and ``accuracy``: config, overrides, scheme, ADC, batch."""
    add_config_args(parser)
    add_scheme_arg(parser)
    add_input_shape_arg(parser)
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


def build_model(args: argparse.Namespace, calibration=None, network=None):
    """The functional model the :func:`add_hardware_args` options describe, for ``args.model``
    (or its already loaded ``network``); ``(network, model)``.

    Raises ReramsimError subclasses from the config loader, the importer or the mapper.
    """
    from reramsim.pipeline import functional_model
    from reramsim.quantize import FunctionalError

    if args.batch < 1:
        raise FunctionalError(f"--batch must be >= 1, got {args.batch}")
    from reramsim.pipeline import load_model

    network = network or load_model(args.model, args.input_shape)
    return functional_model(network, args.hw, args.overrides, args.scheme,
                            ideal_adc=args.ideal_adc, full_precision=args.full_precision,
                            calibration=calibration, threads=args.threads, seed=args.seed)
