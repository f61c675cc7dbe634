"""Options that several subcommands share, declared once."""
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
