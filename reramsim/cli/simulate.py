"""``reramsim simulate``: run one model on one hardware config and report latency, energy, area."""
from __future__ import annotations

import argparse

from reramsim.cli._args import (
    add_budget_arg,
    add_config_args,
    add_input_shape_arg,
    add_scheme_arg,
)

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
  reramsim simulate pruned.onnx --hw ou_16x16 --budget dense --set mapping.replication=balance
  reramsim simulate models/lenet.onnx --hw isaac --images 100
  reramsim simulate models/lenet.onnx --hw isaac --set ou.skip_zero_inputs=true --data digits \
      --images 20 --engine pyref
  reramsim simulate models/lenet.onnx --hw isaac --out results/lenet   # files, trace and PNGs
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser(
        "simulate", help="simulate a model on a hardware config: latency, energy, area",
        description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL.onnx", help="the ONNX model (dense or pruned)")
    add_config_args(parser)
    add_scheme_arg(parser)
    add_input_shape_arg(parser)
    parser.add_argument("--engine", choices=("cycle", "analytical", "pyref"), default=None,
                        help="'cycle': the event-driven engine; 'analytical': the closed form; "
                             "'pyref': the slow pure-Python reference of the cycle engine "
                             "(default: cycle when available, else analytical)")
    add_budget_arg(parser)
    parser.add_argument("--images", metavar="N", type=int, default=None,
                        help="stream N images through the pipeline (default: the number of "
                             "--inputs, else the ONNX batch size, else 1); the report adds the "
                             "stream's time and energy per image")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--inputs", metavar="X.npy",
                      help="input images (N, *input shape) for zero-skipping "
                           "(--set ou.skip_zero_inputs=true)")
    data.add_argument("--data", metavar="SPEC",
                      help="take the --images inputs from a dataset's test split instead "
                           "(digits, mnist:DIR, cifar10:DIR)")
    parser.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--csv", metavar="FILE", help="write one CSV row per layer")
    parser.add_argument("--trace", metavar="FILE",
                        help="cycle engine: write its events as a Chrome trace (JSON; open in "
                             "Perfetto or chrome://tracing)")
    # --- results folder and trace cap (reramsim.outputs) ---
    parser.add_argument("--out", metavar="DIR",
                        help="write a results folder: report.txt/.json, layers.csv, the resolved "
                             "config.yaml, PNGs of the energy and area breakdowns and the layer "
                             "timeline, and (cycle engine) trace.json")
    parser.add_argument("--trace-limit", type=int, default=None, metavar="N",
                        help="keep up to N trace records (default 100,000); a trace that hits "
                             "the cap says so")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Simulate, print the table, write the requested files."""
    from pathlib import Path

    from reramsim.io_checks import check_output_file
    from reramsim.pipeline import default_engine, load_model, simulate, trace_truncation
    from reramsim.report import build_report, format_table, write_csv, write_json

    for flag, path in (("--json", args.json), ("--csv", args.csv), ("--trace", args.trace)):
        if path is not None:
            check_output_file(path, flag)
    trace = args.trace
    if args.out and not trace and (args.engine or default_engine()) == "cycle":
        Path(args.out).mkdir(parents=True, exist_ok=True)
        trace = str(Path(args.out) / "trace.json")
    network = load_model(args.model, args.input_shape)
    sim = simulate(network, args.hw, args.overrides, scheme=args.scheme, engine=args.engine,
                   trace=trace, budget=args.budget, images=args.images,
                   inputs=args.inputs, data=args.data, trace_limit=args.trace_limit)
    report = build_report(sim)
    written = []
    if args.out:
        from reramsim.outputs import write_outputs

        written += [str(p) for p in write_outputs(report, args.out)]
    if trace:
        written.append(trace)
    for path, write in ((args.json, write_json), (args.csv, write_csv)):
        if path:
            write(report, path)
            written.append(path)
    print(format_table(report))
    for path in written:
        print(f"wrote {path}")
    if trace and (note := trace_truncation(trace)):
        print(f"{note}; raise --trace-limit to keep more")
    return 0
