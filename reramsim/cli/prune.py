"""``reramsim prune``: prune a model for a crossbar scheme, fine-tune it, export the ONNX.

MODEL is one of:

* a zoo name (``lenet``, ``alexnet``, ``plain20``...): its trained weights
  (:func:`reramsim.training.load_trained`; trained on first use);
* a ``.pth`` state dict of a zoo model (``--arch NAME``, or a file named after it);
* an ``.onnx`` file of a zoo architecture (``--arch NAME``, or a file named after it):
  its (BN-folded) conv/fc weights and biases are loaded into the zoo model with its
  BatchNorms folded away, matched layer by layer in order and checked by shape;
* any other ``.onnx`` file of a supported architecture: its imported network runs as a
  PyTorch module (reramsim.prune.ir_torch) for fine-tuning, and the pruned weights are
  written back into the original graph, which keeps its nodes and names
  (reramsim.prune.writeback). Its output must be (N, classes) with as many classes as
  the data; images are resized to its input (the summary says so).

Output: the pruned ONNX (exact zeros, ``metadata_props["reramsim.pruning"]``) and a
summary: pruning ratio, crossbars dense vs pruned (from the mappers), float accuracy
dense vs pruned, and the accuracy on the simulated ReRAM hardware (functional model).
The checkpoint (default ``OUT.ckpt``) is written after every epoch: interrupt with
Ctrl-C and rerun the same command to continue.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from reramsim import ReramsimError
from reramsim.cli._args import add_config_args

DEFAULT_HW = "ou_16x16"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "prune", help="prune a model (SegPrune...), fine-tune it and export the pruned ONNX",
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  reramsim prune lenet --scheme segprune --target-ratio 8 --data digits "
               "-o lenet_seg.onnx\n\nSegPrune's shape voting, mapping and data path are "
               "reconstructions (docs/segprune.md).")
    p.add_argument("model", metavar="MODEL", help="zoo name, .pth state dict or .onnx file")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx", help="pruned ONNX to write")
    p.add_argument("--scheme", default="segprune", help="pruning scheme (default: segprune)")
    p.add_argument("--target-ratio", type=float, default=8.0, metavar="R",
                   help="dense weights / kept weights (default 8)")
    p.add_argument("--data", default="digits", metavar="SPEC",
                   help="dataset: digits, mnist:DIR, cifar10:DIR or npz:FILE (arrays x "
                        "(N, C, H, W) and y (N,); default digits)")
    p.add_argument("--arch", metavar="NAME", help="zoo architecture of a .pth or .onnx MODEL")
    add_config_args(p, default=DEFAULT_HW)
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help="fine-tuning epochs (default 30)")
    p.add_argument("--method", choices=("gradual", "admm"), default="gradual",
                   help="gradual sparsity with fixed masks (default) or ADMM")
    p.add_argument("--allocation", choices=("lamp", "uniform", "latency"), default="lamp",
                   help="per-layer budgets: lamp (default), uniform, or latency (LAMP per "
                        "cycle: the many-pixel layers that bound the pipeline are pruned "
                        "harder)")
    p.add_argument("--segment-height", type=int, metavar="H",
                   help="segprune: rows per segment (default: the config's OU rows)")
    p.add_argument("--max-shapes", type=int, metavar="N",
                   help="segprune: shapes per row-block besides the empty one (default 8)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="any other scheme parameter (repeatable)")
    p.add_argument("--checkpoint", metavar="F", help="resumable checkpoint (default OUT.ckpt, "
                                                     "removed after success)")
    p.add_argument("--limit", type=int, metavar="N",
                   help="fine-tune on the first N training images only (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reram-limit", type=int, default=100, metavar="N",
                   help="test images for the ReRAM (functional model) accuracy; 0 skips it")
    p.add_argument("--json", metavar="F", help="also write the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    # --- AUTO-PRUNE (--scheme autoprune; reramsim/cli/prune_autoprune.py) ---
    from reramsim.cli.prune_autoprune import add_autoprune_args

    add_autoprune_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    import torch

    from reramsim.config import load_config
    from reramsim.prune import get_pruner
    from reramsim.prune.finetune import FinetuneSettings, prune_model
    from reramsim.prune.workflow import (
        check_classes,
        float_accuracy,
        format_summary,
        input_shape_of,
        load_data,
        load_torch_model,
        summarize,
    )

    torch.set_num_threads(2)
    # --- AUTO-PRUNE searches its own per-layer rates (reramsim/cli/prune_autoprune.py) ---
    from reramsim.cli.prune_autoprune import check_autoprune_args, run_autoprune

    if args.scheme == "autoprune":
        return run_autoprune(args)
    check_autoprune_args(args)
    config = load_config(args.hw, args.overrides)
    params = _params(args)
    pruner = get_pruner(args.scheme, config, **params)
    arch, model, source = load_torch_model(args.model, args.arch)
    data = load_data(args.data, arch, args.limit, input_shape_of(arch, model))
    check_classes(model, arch, data, args.data)
    settings = FinetuneSettings(method=args.method, allocation=args.allocation, seed=args.seed)
    if args.epochs is not None:
        settings.epochs = args.epochs
    out = Path(args.output)
    ckpt = Path(args.checkpoint) if args.checkpoint else out.with_name(out.name + ".ckpt")
    dense_acc = float_accuracy(model, data["test"])
    print(f"pruning {source} ({arch}) with {pruner.describe()} to {args.target_ratio:g}x, "
          f"{settings.epochs} epochs ({settings.method}); checkpoint {ckpt}")
    try:
        result = prune_model(model, pruner, args.target_ratio, data["train"], settings,
                             test_data=data["test"], checkpoint=ckpt, progress=not args.quiet,
                             signature={"arch": arch, "source": source, "data": args.data})
    except KeyboardInterrupt:
        print(f"interrupted; progress is in {ckpt}: rerun the same command to continue")
        raise
    summary = summarize(result, arch, out, config, data, dense_acc, args.data,
                        args.reram_limit)
    print(format_summary(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    if not args.checkpoint and ckpt.exists():
        ckpt.unlink()
    return 0


def _check_args(args: argparse.Namespace) -> None:
    """Refuse numeric flags out of range and outputs that cannot be written, before the long
    fine-tuning starts."""
    import math

    from reramsim.io_checks import check_output_file

    if not math.isfinite(args.target_ratio) or args.target_ratio < 1:
        raise ReramsimError(f"--target-ratio {args.target_ratio:g}: expected a finite ratio "
                            ">= 1 (dense weights / kept weights)")
    for flag, value, low in (("--limit", args.limit, 1), ("--epochs", args.epochs, 0),
                             ("--reram-limit", args.reram_limit, 0),
                             ("--segment-height", args.segment_height, 1),
                             ("--max-shapes", args.max_shapes, 1)):
        if value is not None and value < low:
            raise ReramsimError(f"{flag} {value}: expected an integer >= {low}")
    out = check_output_file(args.output, "-o/--output")
    check_output_file(args.checkpoint or out.with_name(out.name + ".ckpt"), "--checkpoint")
    if args.json is not None:
        check_output_file(args.json, "--json")


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for text in args.param:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise ReramsimError(f"--param {text!r}: expected KEY=VALUE")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    if args.scheme == "segprune":
        params.setdefault("segment_height", args.segment_height)
        params.setdefault("max_shapes", args.max_shapes)
    elif args.segment_height is not None or args.max_shapes is not None:
        raise ReramsimError("--segment-height and --max-shapes apply to --scheme segprune only")
    return {k: v for k, v in params.items() if v is not None}
