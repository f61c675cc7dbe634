"""``reramsim config``: list the shipped hardware configs, show one with every field documented."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``config list`` and ``config show``."""
    parser = subparsers.add_parser(
        "config", help="list the shipped hardware configs or show one, field by field",
        description="Discover hardware configs: 'list' names the shipped ones, 'show' prints "
                    "a resolved config with every field's value, unit, range and doc.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the shipped configs (names for --hw)")
    listing.set_defaults(func=run_list)
    show = actions.add_parser("show", help="every field of a config: value, unit, range, doc")
    show.add_argument("hw", metavar="NAME|FILE", help="a shipped config's name or a YAML file")
    show.add_argument("--set", dest="overrides", action="append", default=[],
                      metavar="KEY.PATH=VALUE", help="override a value first (repeatable)")
    show.set_defaults(func=run_show)


def run_list(args: argparse.Namespace) -> int:
    """Print name, file and first comment line of each shipped config."""
    from reramsim.config.describe import shipped_configs
    from reramsim.report import grid_lines

    rows = [[name, str(path), what] for name, path, what in shipped_configs()]
    print("\n".join(grid_lines(["name", "file", "what"], rows, right=set())))
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print the resolved config, one field a line."""
    from reramsim.config import load_config
    from reramsim.config.describe import format_config

    print(format_config(load_config(args.hw, tuple(args.overrides))))
    return 0
