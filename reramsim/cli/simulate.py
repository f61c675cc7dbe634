"""``reramsim simulate``: run one model on one hardware config and report latency, energy, area."""
from __future__ import annotations

import argparse

DESCRIPTION = """\
Simulate an ONNX model on a ReRAM crossbar accelerator described by a hardware YAML
config: map its weight layers onto crossbars with a mapping scheme, place them on
tiles, run the engine, and print latency, energy and area per layer and per
component. --json and --csv write the full report (every figure with the event
counts and config entries that produced it)."""

EXAMPLES = """\
examples:
  reramsim simulate models/lenet.onnx --hw hw_configs/isaac.yaml
  reramsim simulate models/plain20.onnx --hw ou_16x16 --set adc.bits=6 --json plain20.json
  reramsim simulate models/lenet.onnx --hw isaac --engine analytical --csv lenet.csv
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser(
        "simulate", help="simulate a model on a hardware config: latency, energy, area",
        description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL.onnx", help="the ONNX model (dense or pruned)")
    parser.add_argument("--hw", required=True, metavar="CONFIG.yaml",
                        help="hardware config: a YAML file or a shipped name (isaac, ou_16x16, ...)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE",
                        help="override a config value, e.g. --set adc.bits=6 (repeatable)")
    parser.add_argument("--scheme", default="dense",
                        help="mapping scheme (default: dense; see reramsim.mapping.registered_mappers)")
    parser.add_argument("--engine", choices=("cycle", "analytical"), default=None,
                        help="'cycle': the event-driven engine; 'analytical': the closed-form model "
                             "(default: cycle when available, else analytical)")
    parser.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--csv", metavar="FILE", help="write one CSV row per layer")
    parser.add_argument("--trace", metavar="FILE", help="write the engine's event trace")
    parser.set_defaults(func=run)


def default_engine() -> str:
    """'cycle' when the simulator has the cycle-level engine, else 'analytical'."""
    from reramsim import simulator

    return "cycle" if "cycle" in simulator.registered_engines() else "analytical"


def run(args: argparse.Namespace) -> int:
    """Load the config and the model, simulate, print the table, write the requested files."""
    from reramsim.config import load_config
    from reramsim.onnx_import import load_onnx
    from reramsim.report import build_report, format_table, write_csv, write_json

    config = load_config(args.hw, args.overrides)
    network = load_onnx(args.model)
    from reramsim.simulator import simulate

    engine = args.engine or default_engine()
    sim = simulate(network, config, scheme=args.scheme, engine=engine, trace=args.trace)
    report = build_report(sim)
    print(format_table(report))
    for path, write in ((args.json, write_json), (args.csv, write_csv)):
        if path:
            write(report, path)
            print(f"wrote {path}")
    return 0
