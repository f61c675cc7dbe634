"""The ``reramsim`` command: a thin layer over the library.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
Known errors (:class:`reramsim.ReramsimError`) become one line on stderr (control
characters escaped) and exit status 2; a result that cannot be right
(:class:`reramsim.io_checks.InternalError`) exits with 70; ``--verbose`` shows the
traceback instead. Ctrl-C exits with 130,
a closed pipe (``| head``) quietly with 141.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from reramsim import ReramsimError, __version__

#: Subcommand modules, in the order ``--help`` lists them.
SUBCOMMANDS = ("simulate", "run", "accuracy", "prune", "compare", "sweep", "plot", "config")

EPILOG = """examples:
  reramsim simulate models/lenet.onnx --hw hw_configs/isaac.yaml
  reramsim simulate models/plain20.onnx --hw isaac --set adc.bits=6 --json out.json
  reramsim accuracy models/lenet.onnx --hw isaac --data digits
  reramsim prune lenet --scheme segprune --target-ratio 8 --data digits -o lenet_seg.onnx
  reramsim sweep models/lenet.onnx --hw isaac --grid ou.rows=16,32 --grid adc.bits=4,6 --out s
  reramsim config show isaac
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reramsim",
        description="Cycle-level simulator of ReRAM crossbar DNN accelerators, with "
                    "crossbar-aware pruning.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reramsim {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the full traceback on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"reramsim.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    from reramsim.io_checks import InternalError, printable

    try:
        return int(args.func(args) or 0)
    except ReramsimError as err:
        if args.verbose:
            raise
        print(f"reramsim {args.command}: error: {printable(err)}", file=sys.stderr)
        return 2
    except InternalError as err:
        if args.verbose:
            raise
        print(f"reramsim {args.command}: internal error: {printable(err)}", file=sys.stderr)
        return 70
    except KeyboardInterrupt:
        print(f"reramsim {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): silence the flush at exit, as the docs advise.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
