"""``reramsim prune --scheme autoprune``: search per-layer rates with DDPG, fine-tune, export.

The search (:mod:`reramsim.prune.autoprune.search`) scores each policy on a held-out
validation split of the training images (``--val-size``, seeded), with the
crossbars of the AUTO-PRUNE mapper and the ReRAM accuracy of the pruned, not
fine-tuned network. The best policy is then fine-tuned on the rest of the training
images with the shared driver and exported with its metadata (rates, granularity,
the config searched on). The summary's accuracies are on the test split: float
(PyTorch) dense and pruned, and ReRAM (the functional model on the exported ONNX,
``--reram-limit`` images).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from reramsim import ReramsimError

DEFAULT_EPISODES = 400
DEFAULT_WARMUP = 100
DEFAULT_VAL_SIZE = 200
CALIBRATION_IMAGES = 64
AUTOPRUNE_FLAGS = ("episodes", "warmup", "alpha", "granularity", "max_drop", "val_size")


def add_autoprune_args(p: argparse.ArgumentParser) -> None:
    """The flags of ``--scheme autoprune`` (refused with other schemes)."""
    g = p.add_argument_group("autoprune (--scheme autoprune; docs/autoprune.md)")
    g.add_argument("--episodes", type=int, metavar="N",
                   help=f"search episodes, warm-up included (default {DEFAULT_EPISODES})")
    g.add_argument("--warmup", type=int, metavar="N",
                   help=f"episodes of random actions first (default {DEFAULT_WARMUP})")
    g.add_argument("--alpha", type=float, metavar="A",
                   help="reward (1 - 1/CR_xb)^A * acc_reram (default 1)")
    g.add_argument("--granularity", type=int, metavar="G",
                   help="rows per column vector (default 16)")
    g.add_argument("--max-drop", type=float, metavar="D",
                   help="only policies whose search accuracy (not fine-tuned) is at most D "
                        "points below the dense network's count (default: no constraint)")
    g.add_argument("--val-size", type=int, metavar="N",
                   help=f"held-out training images that score policies (default "
                        f"{DEFAULT_VAL_SIZE})")


def check_autoprune_args(args: argparse.Namespace) -> None:
    """Refuse the autoprune flags with another scheme."""
    given = [f"--{k.replace('_', '-')}" for k in AUTOPRUNE_FLAGS if getattr(args, k) is not None]
    if given:
        raise ReramsimError(f"{', '.join(given)} apply to --scheme autoprune only")


def split_train(x: np.ndarray, y: np.ndarray, val_size: int, seed: int
                ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(train, val)``: ``val_size`` images drawn (seeded) from the training split.

    Raises:
        ReramsimError: ``val_size < 1`` (an empty validation split) or no image left to train.
    """
    if val_size < 1:
        raise ReramsimError(f"--val-size {val_size}: the validation split would be empty; "
                            "give at least 1 image")
    if val_size >= len(x):
        raise ReramsimError(f"--val-size {val_size}: the training split has only {len(x)} "
                            "images; leave some to fine-tune on")
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:val_size], np.sort(order[val_size:])
    return (x[train], y[train]), (x[val], y[val])


def run_autoprune(args: argparse.Namespace) -> int:
    """The whole command (module doc)."""
    import torch

    from models.zoo import INPUT_SHAPES
    from reramsim.cli.prune import _float_accuracy, load_model
    from reramsim.config import load_config
    from reramsim.datasets import load_dataset
    from reramsim.prune.autoprune.environment import PruningEnv
    from reramsim.prune.autoprune.search import run_search

    config = load_config(args.hw, args.overrides)
    episodes = DEFAULT_EPISODES if args.episodes is None else args.episodes
    warmup = DEFAULT_WARMUP if args.warmup is None else args.warmup
    if warmup < 0 or episodes < 1:
        raise ReramsimError(f"--episodes must be >= 1 and --warmup >= 0, got {episodes} and "
                            f"{warmup}")
    arch, model, source = load_model(args.model, args.arch)
    shape = INPUT_SHAPES[arch]
    x, y = load_dataset(args.data, "train", shape, args.limit)
    train, val = split_train(x, y, DEFAULT_VAL_SIZE if args.val_size is None else args.val_size,
                             args.seed)
    test = load_dataset(args.data, "test", shape)
    env = PruningEnv(model, config, shape, train[0][:CALIBRATION_IMAGES], val,
                     granularity=16 if args.granularity is None else args.granularity,
                     alpha=1.0 if args.alpha is None else args.alpha, max_drop=args.max_drop)
    out = Path(args.output)
    ckpt = Path(args.checkpoint) if args.checkpoint else out.with_name(out.name + ".ckpt")
    print(f"AUTO-PRUNE search on {source} ({arch}), {config.name}, g={env.granularity}, "
          f"alpha={env.alpha:g}, {episodes} episodes ({warmup} warm-up), {len(val[0])} "
          f"validation images; checkpoint {ckpt}")
    result = run_search(env, episodes, warmup, seed=args.seed, checkpoint=ckpt,
                        signature={"arch": arch, "source": source, "data": args.data,
                                   "limit": args.limit}, progress=not args.quiet)
    if result.interrupted:
        print(f"search stopped after {result.episodes} episodes; keeping the best policy so far "
              f"(rerun the same command to continue from {ckpt})")
    if result.best is None:
        raise ReramsimError("no policy met --max-drop "
                            f"{args.max_drop:g} points during the search; allow a larger drop "
                            "or more episodes")
    dense_acc = _float_accuracy(model, tuple(torch.from_numpy(a) for a in test))
    pruned = finetune_policy(env, model, result.best.rates, train, test, args)
    summary = summarize(env, result, pruned, arch, source, out, config, test, dense_acc, args)
    print(format_summary(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    if not args.checkpoint and ckpt.exists() and not result.interrupted:
        ckpt.unlink()
    return 0


def finetune_policy(env: Any, model: Any, rates: list[float], train: tuple, test: tuple,
                    args: argparse.Namespace) -> Any:
    """Fine-tune the policy's masks with the shared driver (a :class:`PruneResult`)."""
    import torch

    from reramsim.prune.autoprune.projection import AutoPrunePruner
    from reramsim.prune.autoprune.search import policy_ratio
    from reramsim.prune.finetune import FinetuneSettings, prune_model

    ratio = policy_ratio(env, rates)
    pruner = AutoPrunePruner(env.config, granularity=env.granularity, target_ratio=ratio,
                             rates={t.name: r for t, r in zip(env.table, rates)})
    settings = FinetuneSettings(method=args.method, seed=args.seed)
    if args.epochs is not None:
        settings.epochs = args.epochs
    tensors = [tuple(torch.from_numpy(a) for a in split) for split in (train, test)]
    return prune_model(model, pruner, ratio, tensors[0], settings, test_data=tensors[1],
                       progress=not args.quiet)


def summarize(env: Any, search: Any, result: Any, arch: str, source: str, out: Path,
              config: Any, test: tuple, dense_acc: float, args: argparse.Namespace
              ) -> dict[str, Any]:
    """Export the fine-tuned policy and collect the summary (keys in the module doc)."""
    import torch

    from models.zoo import INPUT_SHAPES
    from reramsim.cli.prune import _float_accuracy, reram_accuracy
    from reramsim.mapping import map_network
    from reramsim.prune.export import export_pruned
    from reramsim.prune.metadata import scheme_from_metadata

    best = search.best
    acc_float = _float_accuracy(result.model, tuple(torch.from_numpy(a) for a in test))
    facts = {"config": config.name, "granularity": env.granularity, "alpha": env.alpha,
             "max_drop": env.max_drop, "episodes": search.episodes,
             "best_episode": best.episode, "val_images": len(env.val[0]),
             "rates": {t.name: r for t, r in zip(env.table, best.rates)}}
    path, network = export_pruned(result, out, INPUT_SHAPES[arch],
                                  extra={"model": arch, "data": args.data, "autoprune": facts,
                                         "float_accuracy_dense": dense_acc,
                                         "float_accuracy_pruned": acc_float})
    scheme, options = scheme_from_metadata(network)
    dense_map = map_network(network, config, "dense")
    pruned_map = map_network(network, config, scheme, options)
    calib = env.model.calibration.numpy()
    n_reram = min(args.reram_limit, len(test[0]))
    acc_reram = reram_accuracy(network, config, pruned_map, test, calib, args.reram_limit)
    layers, index_bits, weight_bits = [], 0, 0
    for layer, rate in zip(network.weight_layers(), best.rates):
        lm = pruned_map.layers[layer.name]
        kept = int(np.count_nonzero(layer.weight))
        index_bits += lm.index_storage_bits
        weight_bits += kept * config.precision.weight_bits
        layers.append({"name": layer.name, "rate": rate, "rows": layer.rows, "cols": layer.cols,
                       "kept": kept, "crossbars_dense": dense_map.layers[layer.name].n_crossbars,
                       "crossbars": lm.n_crossbars, "index_bits": lm.index_storage_bits})
    xb_dense, xb = dense_map.n_crossbars, pruned_map.n_crossbars
    return {
        "model": arch, "source": source, "scheme": "autoprune", "reconstruction": True,
        "config": config.name, "output": str(path), "granularity": env.granularity,
        "alpha": env.alpha, "max_drop": env.max_drop,
        "crossbars_dense": xb_dense, "crossbars": xb, "cr_crossbars": xb_dense / max(xb, 1),
        "pruning_ratio": network.n_weights / max(network.n_nonzero_weights, 1),
        "acc_float_dense": dense_acc, "acc_float": acc_float, "acc_reram": acc_reram,
        "acc_reram_images": n_reram if isinstance(acc_reram, float) else 0,
        "test_images": len(test[0]),
        "search": {"acc_reram_dense": env.acc_dense, "acc_reram": best.acc_reram,
                   "cr_crossbars": best.cr, "reward": best.reward, "val_images": len(env.val[0]),
                   "best_episode": best.episode, "interrupted": search.interrupted},
        "episodes": search.episodes, "search_seconds": search.seconds,
        "index_bits": index_bits, "index_overhead": index_bits / max(weight_bits, 1),
        "layers": layers,
    }


def format_summary(s: dict[str, Any]) -> str:
    """The summary as printed."""
    reram = s["acc_reram"]
    reram_text = (f"{reram:.2%} on {s['acc_reram_images']} test images"
                  if isinstance(reram, float) else str(reram))
    se = s["search"]
    lines = [f"{s['model']} pruned with autoprune [reconstruction, see docs/autoprune.md] on "
             f"{s['config']} (g={s['granularity']}) -> {s['output']}",
             f"{'layer':<16} {'R x C':>11} {'rate':>6} {'kept':>9} {'xbars dense':>11} "
             f"{'xbars':>6} {'index bits':>10}"]
    for r in s["layers"]:
        lines.append(f"{r['name'][-16:]:<16} {r['rows']:>5}x{r['cols']:<5} {r['rate']:>6.3f} "
                     f"{r['kept']:>9,} {r['crossbars_dense']:>11} {r['crossbars']:>6} "
                     f"{r['index_bits']:>10,}")
    lines += [
        f"crossbars          {s['crossbars_dense']} dense -> {s['crossbars']} "
        f"(CR on crossbars {s['cr_crossbars']:.2f}); pruning ratio {s['pruning_ratio']:.2f}x",
        f"float accuracy     {s['acc_float_dense']:.2%} dense -> {s['acc_float']:.2%} pruned "
        f"and fine-tuned ({s['test_images']} test images)",
        f"ReRAM accuracy     {reram_text} (functional model)",
        f"search             {s['episodes']} episodes in {s['search_seconds']:.0f} s; best "
        f"episode {se['best_episode']}: CR {se['cr_crossbars']:.2f}, acc_reram "
        f"{se['acc_reram']:.2%} (dense {se['acc_reram_dense']:.2%}) on {se['val_images']} "
        "validation images, not fine-tuned",
        f"index overhead     {s['index_bits']:,} bits = {s['index_overhead']:.2%} of the weight "
        "bits",
    ]
    return "\n".join(lines)
