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
    return functional_model(network or args.model, args.hw, args.overrides, args.scheme,
                            ideal_adc=args.ideal_adc, full_precision=args.full_precision,
                            calibration=calibration, threads=args.threads)
