"""``reramsim prune``: prune a model for a crossbar scheme, fine-tune it, export the ONNX.

MODEL is one of:

* a zoo name (``lenet``, ``alexnet``, ``plain20``...): its trained weights
  (:func:`models.train.load_trained`; trained on first use);
* a ``.pth`` state dict of a zoo model (``--arch NAME``, or a file named after it);
* an ``.onnx`` file of a zoo architecture (``--arch NAME``, or a file named after it):
  its (BN-folded) conv/fc weights and biases are loaded into the zoo model with its
  BatchNorms folded away, matched layer by layer in order and checked by shape. Any
  other ONNX graph is refused: pruning needs the PyTorch model to fine-tune.

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
                   help="dataset: digits, mnist:DIR or cifar10:DIR (default digits)")
    p.add_argument("--arch", metavar="NAME", help="zoo architecture of a .pth or .onnx MODEL")
    add_config_args(p, default=DEFAULT_HW)
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help="fine-tuning epochs (default 30)")
    p.add_argument("--method", choices=("gradual", "admm"), default="gradual",
                   help="gradual sparsity with fixed masks (default) or ADMM")
    p.add_argument("--allocation", choices=("lamp", "uniform"), default="lamp",
                   help="per-layer budgets (default lamp)")
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
    import torch

    from reramsim.config import load_config
    from reramsim.prune import get_pruner
    from reramsim.prune.finetune import FinetuneSettings, prune_model

    torch.set_num_threads(2)
    # --- AUTO-PRUNE searches its own per-layer rates (reramsim/cli/prune_autoprune.py) ---
    from reramsim.cli.prune_autoprune import check_autoprune_args, run_autoprune

    if args.scheme == "autoprune":
        return run_autoprune(args)
    check_autoprune_args(args)
    config = load_config(args.hw, args.overrides)
    params = _params(args)
    pruner = get_pruner(args.scheme, config, **params)
    arch, model, source = load_model(args.model, args.arch)
    data = _data(args.data, arch, args.limit)
    settings = FinetuneSettings(method=args.method, allocation=args.allocation, seed=args.seed)
    if args.epochs is not None:
        settings.epochs = args.epochs
    out = Path(args.output)
    ckpt = Path(args.checkpoint) if args.checkpoint else out.with_name(out.name + ".ckpt")
    dense_acc = _float_accuracy(model, data["test"])
    print(f"pruning {source} ({arch}) with {pruner.describe()} to {args.target_ratio:g}x, "
          f"{settings.epochs} epochs ({settings.method}); checkpoint {ckpt}")
    try:
        result = prune_model(model, pruner, args.target_ratio, data["train"], settings,
                             test_data=data["test"], checkpoint=ckpt, progress=not args.quiet,
                             signature={"arch": arch, "source": source, "data": args.data})
    except KeyboardInterrupt:
        print(f"interrupted; progress is in {ckpt}: rerun the same command to continue")
        raise
    summary = summarize(result, arch, out, config, data, dense_acc, args)
    print(format_summary(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    if not args.checkpoint and ckpt.exists():
        ckpt.unlink()
    return 0


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


# --------------------------------------------------------------------------- model input


def load_model(spec: str, arch: str | None) -> tuple[str, Any, str]:
    """``(arch, model, source)`` for a zoo name, a ``.pth`` or an ``.onnx`` MODEL.

    Raises:
        ReramsimError: unknown name or architecture, unreadable file, or weights that
            do not fit the architecture.
    """
    import torch

    from models import zoo

    path = Path(spec)
    if path.suffix not in (".pth", ".pt", ".onnx"):
        if spec not in zoo.NAMES:
            raise ReramsimError(f"MODEL {spec!r} is neither a zoo name ({', '.join(zoo.NAMES)}) "
                                "nor a .pth or .onnx file")
        from models.train import artifact_path, load_trained

        if not artifact_path(spec, ".pth").is_file():
            print(f"no trained weights for {spec} yet: training it first")
        return spec, load_trained(spec), f"zoo:{spec}"
    if not path.is_file():
        raise ReramsimError(f"{path}: no such file")
    arch = arch or path.stem
    if arch not in zoo.NAMES:
        raise ReramsimError(f"{path}: cannot tell its architecture; pass --arch "
                            f"({', '.join(zoo.NAMES)})")
    model = zoo.build(arch)
    if path.suffix == ".onnx":
        return arch, _load_onnx_weights(path, arch, model), str(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as err:
        raise ReramsimError(f"{path}: not a state dict of zoo model {arch!r} "
                            f"({str(err).splitlines()[0]})") from None
    return arch, model.eval(), str(path)


def _load_onnx_weights(path: Path, arch: str, model: Any) -> Any:
    """The zoo model with BN folded away and the ONNX file's conv/fc weights loaded."""
    import torch

    from models import zoo
    from reramsim.onnx_import import load_onnx

    network = load_onnx(path)
    zoo.fold_batchnorm(model)
    modules = zoo.weight_layers(model)
    layers = network.weight_layers()
    if len(layers) != len(modules):
        raise ReramsimError(f"{path}: {len(layers)} conv/fc layers, zoo model {arch!r} has "
                            f"{len(modules)}; an .onnx MODEL must be a zoo architecture "
                            "(pass --arch) exported from PyTorch")
    for i, (layer, module) in enumerate(zip(layers, modules)):
        if tuple(layer.weight.shape) != tuple(module.weight.shape):
            raise ReramsimError(f"{path}: layer {i} ({layer.name}) has weights "
                                f"{tuple(layer.weight.shape)}, zoo model {arch!r} expects "
                                f"{tuple(module.weight.shape)}; pass the right --arch")
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(layer.weight))
            if module.bias is None and layer.bias is not None:
                module.bias = torch.nn.Parameter(torch.zeros(module.weight.shape[0]))
            if module.bias is not None:
                module.bias.copy_(torch.from_numpy(layer.bias) if layer.bias is not None
                                  else torch.zeros_like(module.bias))
    return model.eval()


def _data(spec: str, arch: str, limit: int | None = None) -> dict[str, Any]:
    """Train and test splits as torch tensors, plus numpy copies for the functional model."""
    import torch

    from models.zoo import INPUT_SHAPES
    from reramsim.datasets import load_dataset

    out: dict[str, Any] = {}
    for split in ("train", "test"):
        x, y = load_dataset(spec, split, INPUT_SHAPES[arch], limit if split == "train" else None)
        out[split] = (torch.from_numpy(x), torch.from_numpy(y))
        out[f"numpy_{split}"] = (x, y)
    return out


def _float_accuracy(model: Any, test: tuple[Any, Any]) -> float:
    from models.train import evaluate

    return evaluate(model, *test)


# --------------------------------------------------------------------------- the summary


def summarize(result: Any, arch: str, out: Path, config: Any, data: dict[str, Any],
              dense_acc: float, args: argparse.Namespace) -> dict[str, Any]:
    """Export the pruned model and collect the numbers the summary prints."""
    from models.zoo import INPUT_SHAPES
    from reramsim.mapping import map_network
    from reramsim.prune.export import export_pruned
    from reramsim.prune.metadata import scheme_from_metadata

    pruned_acc = _float_accuracy(result.model, data["test"])
    path, network = export_pruned(result, out, INPUT_SHAPES[arch],
                                  extra={"model": arch, "data": args.data,
                                         "float_accuracy_dense": dense_acc,
                                         "float_accuracy_pruned": pruned_acc})
    scheme, options = scheme_from_metadata(network)
    dense_map = map_network(network, config, "dense")
    pruned_map = map_network(network, config, scheme, options)
    layers = []
    for layer in network.weight_layers():
        lm = pruned_map.layers[layer.name]
        layers.append({"layer": layer.name, "rows": layer.rows, "cols": layer.cols,
                       "weights": layer.n_weights,
                       "kept": int((layer.weight != 0).sum()),
                       "crossbars_dense": dense_map.layers[layer.name].n_crossbars,
                       "crossbars_pruned": lm.n_crossbars,
                       "index_kib": lm.index_storage_bits / 8192,
                       "shapes_per_block": lm.info.get("shapes", 0)
                       / max(lm.info.get("row_blocks", 1), 1)})
    reram = reram_accuracy(network, config, pruned_map, data["numpy_test"],
                           data["numpy_train"][0][:64], args.reram_limit)
    return {
        "model": arch, "scheme": result.pruner.scheme, "params": result.pruner.params,
        "reconstruction": result.pruner.reconstruction, "config": config.name,
        "output": str(path), "target_ratio": result.target_ratio,
        "pruning_ratio": network.n_weights / max(network.n_nonzero_weights, 1),
        "dense_weights": network.n_weights, "kept_weights": network.n_nonzero_weights,
        "crossbars_dense": dense_map.n_crossbars, "crossbars_pruned": pruned_map.n_crossbars,
        "float_accuracy_dense": dense_acc, "float_accuracy_pruned": pruned_acc,
        "reram_accuracy_pruned": reram, "layers": layers,
    }


def reram_accuracy(network: Any, config: Any, mapping: Any, test: tuple[Any, Any],
                   calibration: Any, limit: int) -> float | str:
    """Top-1 accuracy through the functional model on ``limit`` test images, or why not.

    Input scales are calibrated on ``calibration`` (training images), not on the test set.
    """
    if limit <= 0:
        return "skipped"
    try:
        from reramsim.functional import FunctionalModel
    except ImportError:
        return "n/a (functional model not available)"
    x, y = test
    model = FunctionalModel(network, config, mapping=mapping, calibration=calibration)
    return float(model.accuracy(x[:limit], y[:limit]))


def format_summary(s: dict[str, Any]) -> str:
    """The summary as printed by ``reramsim prune``."""
    note = f" [reconstruction, see docs/{s['scheme']}.md]" if s["reconstruction"] else ""
    reram = s["reram_accuracy_pruned"]
    reram_text = f"{reram:.2%}" if isinstance(reram, float) else str(reram)
    lines = [
        f"{s['model']} pruned with {s['scheme']}{note} on {s['config']} -> {s['output']}",
        f"{'layer':<16} {'R x C':>11} {'kept':>9} {'ratio':>7} {'shapes/blk':>10} "
        f"{'xbars dense':>11} {'xbars pruned':>12} {'index KiB':>9}",
    ]
    for row in s["layers"]:
        lines.append(f"{row['layer'][-16:]:<16} {row['rows']:>5}x{row['cols']:<5} "
                     f"{row['kept']:>9,} {row['weights'] / max(row['kept'], 1):>6.1f}x "
                     f"{row['shapes_per_block']:>10.2f} {row['crossbars_dense']:>11} "
                     f"{row['crossbars_pruned']:>12} {row['index_kib']:>9.2f}")
    lines += [
        f"pruning ratio      {s['pruning_ratio']:.2f}x  ({s['dense_weights']:,} -> "
        f"{s['kept_weights']:,} weights; target {s['target_ratio']:g}x)",
        f"crossbars          {s['crossbars_dense']} dense -> {s['crossbars_pruned']} pruned "
        f"({s['crossbars_dense'] / max(s['crossbars_pruned'], 1):.2f}x fewer)",
        f"float accuracy     {s['float_accuracy_dense']:.2%} dense -> "
        f"{s['float_accuracy_pruned']:.2%} pruned",
        f"ReRAM accuracy     {reram_text} pruned (functional model)",
    ]
    return "\n".join(lines)
