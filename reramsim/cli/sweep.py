"""``reramsim sweep``: simulate every point of a grid of configs, locally or on Ray."""
from __future__ import annotations

import argparse

from reramsim.cli._args import add_config_args

DESCRIPTION = """\
Simulate each model at every point of a grid of config values (the product of the
--grid lists, the models and the --scheme list; --random N draws N distinct points
of it). Each point is one simulation (and an accuracy run with --data); its record
(swept values, resolved config hash, the report's totals, or the error of a failed
point) is appended to DIR/results.jsonl as soon as it finishes, and DIR/results.csv
holds the table. Running the same sweep into the same DIR skips the points already
done and retries the failed ones. --backend local runs --jobs worker processes;
--backend ray runs Ray tasks on --ray-address or on a local Ray started for the run
(pip install 'reramsim[ray]')."""

EXAMPLES = """\
examples:
  reramsim sweep models/lenet.onnx --hw isaac --grid ou.rows=16,32,64 --grid adc.bits=4,6,8 \\
      --out sweeps/lenet --jobs 2 --plot
  reramsim sweep models/resnet20.onnx models/plain20.onnx --hw isaac --scheme dense \\
      --grid adc.shared_by_crossbars=1,2,4 --random 4 --seed 1 --out sweeps/r
  reramsim sweep models/lenet.onnx --hw isaac --grid adc.bits=4,6 --data digits --out s
  reramsim sweep models/lenet.onnx --hw isaac --grid ou.rows=16,32 --out s --backend ray \\
      --ray-address 127.0.0.1:6379
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand."""
    parser = subparsers.add_parser(
        "sweep", help="simulate a grid of design points (local processes or Ray), with plots",
        description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="MODEL.onnx", help="ONNX models to sweep")
    add_config_args(parser)
    parser.add_argument("--grid", action="append", default=[], metavar="KEY.PATH=V1,V2,...",
                        help="a config key and its values (repeatable; the sweep is the product)")
    parser.add_argument("--random", type=int, metavar="N",
                        help="simulate N distinct points drawn at random from the grid")
    parser.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    parser.add_argument("--scheme", default=None, metavar="NAME[,NAME...]",
                        help="mapping schemes to sweep, comma-separated (default: a pruned "
                             "model's own scheme, else dense)")
    parser.add_argument("--engine", choices=("cycle", "analytical", "pyref"), default=None,
                        help="the engine of every point (default: cycle when available)")
    parser.add_argument("--data", metavar="SPEC",
                        help="also measure top-1 accuracy at each point (digits, mnist:DIR, "
                             "cifar10:DIR)")
    parser.add_argument("--data-limit", type=int, metavar="N",
                        help="with --data: only the first N test images")
    parser.add_argument("--out", required=True, metavar="DIR", help="the results folder")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="where points run: local processes or Ray tasks (default local)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="local worker processes, or CPUs of a local Ray (default 1)")
    parser.add_argument("--ray-address", metavar="HOST:PORT",
                        help="join this Ray cluster (default: start a local Ray for the run)")
    parser.add_argument("--plot", action="store_true",
                        help="draw DIR/pareto.png and DIR/effects.png when done")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the sweep, print a summary line; exit 1 when a point failed."""
    from reramsim.sweeps import SweepError, SweepSpec, parse_grid, run_sweep

    if args.data_limit is not None and args.data_limit < 1:
        raise SweepError(f"--data-limit must be >= 1, got {args.data_limit}")
    schemes = [s.strip() for s in args.scheme.split(",")] if args.scheme else [None]
    if args.scheme is not None and not all(schemes):
        raise SweepError(f"--scheme {args.scheme}: an empty scheme name")
    spec = SweepSpec(models=args.models, hw=args.hw, grid=parse_grid(args.grid),
                     overrides=args.overrides, schemes=schemes, engine=args.engine,
                     random=args.random, seed=args.seed, data=args.data,
                     data_limit=args.data_limit)
    records = run_sweep(spec, args.out, backend=args.backend, jobs=args.jobs,
                        ray_address=args.ray_address, progress=not args.no_progress)
    failed = [r for r in records if r["status"] != "ok"]
    print(f"{len(records)} points: {len(records) - len(failed)} done, {len(failed)} failed; "
          f"results in {args.out}/results.jsonl and {args.out}/results.csv")
    for record in failed[:5]:
        print(f"  failed {record['values']}: {record['error']}")
    if len(failed) > 5:
        print(f"  ... and {len(failed) - 5} more (see results.csv)")
    if args.plot:
        from reramsim.plots import plot_sweep

        for path in plot_sweep(records, args.out):
            print(f"wrote {path}")
    return 1 if failed else 0
