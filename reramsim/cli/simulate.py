"""``reramsim simulate``: run one model on one hardware config and report latency, energy, area."""
from __future__ import annotations

import argparse

from reramsim.ir import Network

DESCRIPTION = """\
Simulate an ONNX model on a ReRAM crossbar accelerator described by a hardware YAML
config: map its weight layers onto crossbars with a mapping scheme, place them on
tiles, run the engine, and print latency, energy and area per layer and per
component. --json and --csv write the full report (every figure with the event
counts and config entries that produced it)."""

EXAMPLES = """\
examples:
  reramsim simulate models/lenet.onnx --hw hw_configs/isaac.yaml
  reramsim simulate models/plain20.onnx --hw isaac --set ou.rows=32 --set ou.cols=32 --json p.json
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
                        help="hardware config: a YAML file or a shipped name (isaac, ou_16x16)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE",
                        help="override a config value, e.g. --set adc.bits=6 (repeatable)")
    parser.add_argument("--scheme", default=None,
                        help="mapping scheme (default: the one a pruned model's metadata names, "
                             "else dense); an unknown name lists the others")
    parser.add_argument("--engine", choices=("cycle", "analytical", "pyref"), default=None,
                        help="'cycle': the event-driven engine; 'analytical': the closed form; "
                             "'pyref': the slow pure-Python reference of the cycle engine "
                             "(default: cycle when available, else analytical)")
    parser.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--csv", metavar="FILE", help="write one CSV row per layer")
    parser.add_argument("--trace", metavar="FILE",
                        help="cycle engine: write its events as a Chrome trace (JSON; open in "
                             "Perfetto or chrome://tracing)")
    parser.set_defaults(func=run)


def default_engine() -> str:
    """'cycle' when the simulator has the cycle-level engine, else 'analytical'."""
    from reramsim import simulator

    return "cycle" if "cycle" in simulator.registered_engines() else "analytical"


def resolve_scheme(network: Network, requested: str | None = None
                   ) -> tuple[str, dict[str, dict] | None]:
    """The mapping scheme and per-layer mapper options to simulate ``network`` with.

    A pruned ONNX file names its scheme and carries its tables (shape tables, ...) in
    its metadata (:mod:`reramsim.prune.metadata`). ``requested=None`` takes that
    scheme (``"dense"`` for a file without metadata); the metadata's options go
    with it whenever the scheme is the one the metadata names.

    Raises:
        reramsim.prune.PruningMetadataError: malformed metadata.
    """
    from reramsim.prune.metadata import scheme_from_metadata

    meta_scheme, meta_options = scheme_from_metadata(network)
    scheme = requested or meta_scheme
    return scheme, (meta_options if scheme == meta_scheme else None)


def run(args: argparse.Namespace) -> int:
    """Load the config and the model, simulate, print the table, write the requested files."""
    from reramsim.config import load_config
    from reramsim.onnx_import import load_onnx
    from reramsim.report import build_report, format_table, write_csv, write_json

    config = load_config(args.hw, args.overrides)
    network = load_onnx(args.model)
    from reramsim.simulator import simulate

    scheme, options = resolve_scheme(network, args.scheme)
    engine = args.engine or default_engine()
    sim = simulate(network, config, scheme=scheme, engine=engine, options=options,
                   trace=args.trace)
    report = build_report(sim)
    written = []
    for path, write in ((args.json, write_json), (args.csv, write_csv)):
        if path:
            write(report, path)
            written.append(path)
    print(format_table(report))
    for path in written:
        print(f"wrote {path}")
    return 0
