"""``reramsim plot``: the Pareto front and each swept key's effect, from a sweep's results."""
from __future__ import annotations

import argparse

DESCRIPTION = """\
Read DIR/results.jsonl of a sweep and draw DIR/pareto.png (latency vs energy of every
successful point, area as colour, the Pareto front highlighted) and DIR/effects.png
(latency, energy and area against each swept key's values)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plot`` subcommand."""
    parser = subparsers.add_parser(
        "plot", help="plot a sweep's results: Pareto front, effect of each swept key",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", metavar="DIR", help="a sweep's results folder")
    parser.add_argument("--out", metavar="DIR", help="where the PNGs go (default: DIR itself)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Draw the PNGs and name them."""
    from pathlib import Path

    from reramsim.plots import plot_sweep
    from reramsim.sweeps import RESULTS_JSONL, SweepError, load_records

    if not (Path(args.folder) / RESULTS_JSONL).is_file():
        raise SweepError(f"{args.folder}: no {RESULTS_JSONL} here (run 'reramsim sweep ... "
                         f"--out {args.folder}' first)")
    for path in plot_sweep(load_records(args.folder), args.out or args.folder):
        print(f"wrote {path}")
    return 0
