"""``reramsim prune --scheme autoprune``: search per-layer rates with DDPG, fine-tune, export.

The flags and the run; the library work is in :mod:`reramsim.prune.autoprune.workflow`.
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

from reramsim import ReramsimError

DEFAULT_EPISODES = 400
DEFAULT_WARMUP = 100
DEFAULT_VAL_SIZE = 200
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


def run_autoprune(args: argparse.Namespace) -> int:
    """The whole command (module doc)."""
    import torch

    from reramsim.config import load_config
    from reramsim.datasets import load_dataset
    from reramsim.prune.autoprune.environment import PruningEnv
    from reramsim.prune.autoprune.search import run_search
    from reramsim.prune.autoprune.workflow import (
        CALIBRATION_IMAGES,
        finetune_policy,
        format_summary,
        split_train,
        summarize,
    )
    from reramsim.prune.finetune import FinetuneSettings
    from reramsim.prune.workflow import float_accuracy, load_torch_model
    from reramsim.zoo import INPUT_SHAPES

    config = load_config(args.hw, args.overrides)
    episodes = DEFAULT_EPISODES if args.episodes is None else args.episodes
    warmup = DEFAULT_WARMUP if args.warmup is None else args.warmup
    if warmup < 0 or episodes < 1:
        raise ReramsimError(f"--episodes must be >= 1 and --warmup >= 0, got {episodes} and "
                            f"{warmup}")
    arch, model, source = load_torch_model(args.model, args.arch)
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
    dense_acc = float_accuracy(model, tuple(torch.from_numpy(a) for a in test))
    settings = FinetuneSettings(method=args.method, seed=args.seed)
    if args.epochs is not None:
        settings.epochs = args.epochs
    pruned = finetune_policy(env, model, result.best.rates, train, test, settings,
                             progress=not args.quiet)
    summary = summarize(env, result, pruned, arch, source, out, test, dense_acc, args.data,
                        args.reram_limit)
    print(format_summary(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    if not args.checkpoint and ckpt.exists() and not result.interrupted:
        ckpt.unlink()
    return 0


