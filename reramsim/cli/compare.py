"""``reramsim compare``: dense and pruned variants of one model side by side."""
from __future__ import annotations

import argparse
from pathlib import Path

from reramsim.cli._args import add_budget_arg, add_config_args

DESCRIPTION = """\
Simulate several ONNX files of one model (dense, and pruned by any scheme: the
mapping scheme comes from each file's pruning metadata) and print one row per file:
weights, pruning ratio, crossbars, CR on crossbars, latency, speedup, energy, energy
reduction, area and the data-path area share, and with --data the float and ReRAM
accuracy. Ratios are against the first file (or --baseline). FILE@CONFIG runs a file
on its own hardware (e.g. a FORMS model on forms.yaml); --hw is the default. --budget dense
with --set mapping.replication=balance compares at equal hardware: every file gets the dense
mapping's crossbars and fills the ones it frees with copies of its bounding layers."""

EXAMPLES = """\
examples:
  reramsim compare models/lenet.onnx lenet_seg.onnx lenet_forms.onnx@forms --hw ou_16x16
  reramsim compare models/lenet.onnx lenet_seg.onnx --hw ou_16x16 --data digits --plot cmp.png
  reramsim compare a.onnx b.onnx --hw isaac --set adc.bits=6 --json cmp.json --csv cmp.csv
  reramsim compare models/lenet.onnx lenet_seg.onnx --hw ou_16x16 --budget dense \
      --set mapping.replication=balance
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    parser = subparsers.add_parser(
        "compare", help="dense and pruned variants of a model side by side",
        description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="FILE.onnx[@CONFIG]",
                        help="the files; the first is the baseline unless --baseline is given")
    add_config_args(parser)
    add_budget_arg(parser)
    parser.add_argument("--baseline", metavar="FILE[@CONFIG]",
                        help="the reference of the ratios (default: the first file)")
    parser.add_argument("--data", metavar="SPEC",
                        help="also measure float and ReRAM accuracy: digits, mnist:DIR, "
                             "cifar10:DIR")
    parser.add_argument("--limit", type=int, metavar="N", help="--data: first N test images")
    parser.add_argument("--engine", choices=("cycle", "analytical", "pyref"), default=None,
                        help="timing engine (default: cycle when built, else analytical)")
    parser.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    parser.add_argument("--csv", metavar="FILE", help="write the rows as CSV")
    parser.add_argument("--plot", metavar="FILE.png", help="write grouped bars as a PNG")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compare, print the table, write the requested files."""
    from reramsim.compare import CompareError, compare_files, format_table, plot, to_csv, to_json

    if args.limit is not None and args.limit < 1:
        raise CompareError(f"--limit must be >= 1, got {args.limit}")
    if args.plot and Path(args.plot).suffix.lower() != ".png":
        raise CompareError(f"--plot {args.plot}: use a .png file name")
    rows, base = compare_files(args.models, args.hw, args.overrides, data=args.data,
                               baseline=args.baseline, engine=args.engine,
                               limit=args.limit, budget=args.budget)
    print(format_table(rows, rows[base], args.budget))
    for path, text in ((args.json, lambda: to_json(rows, rows[base], args.budget)),
                       (args.csv, lambda: to_csv(rows))):
        if path:
            Path(path).write_text(text())
            print(f"wrote {path}")
    if args.plot:
        plot(rows, args.plot)
        print(f"wrote {args.plot}")
    return 0
