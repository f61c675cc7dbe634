"""The AUTO-PRUNE workflow around the search: validation split, fine-tuning, summary.

A run (what ``reramsim prune --scheme autoprune`` does): :func:`split_train` (a held-out,
seeded validation split of the training images) -> :class:`.environment.PruningEnv` ->
:func:`.search.run_search` -> :func:`finetune_policy` (the best policy through the shared
driver) -> :func:`summarize` (exports the ONNX with its metadata, maps it densely and with
the AUTO-PRUNE mapper, measures float and ReRAM accuracy on the test split) ->
:func:`format_summary`. Needs torch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reramsim.prune.base import PruningError

#: Training images that calibrate the input scales of the search's accuracy model.
CALIBRATION_IMAGES = 64


def split_train(x: np.ndarray, y: np.ndarray, val_size: int, seed: int
                ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(train, val)``: ``val_size`` images drawn (seeded) from the training split.

    Raises:
        PruningError: ``val_size < 1`` (an empty validation split) or no image left to train.
    """
    if val_size < 1:
        raise PruningError(f"--val-size {val_size}: the validation split would be empty; "
                           "give at least 1 image")
    if val_size >= len(x):
        raise PruningError(f"--val-size {val_size}: the training split has only {len(x)} "
                           "images; leave some to fine-tune on")
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:val_size], np.sort(order[val_size:])
    return (x[train], y[train]), (x[val], y[val])


def finetune_policy(env: Any, model: Any, rates: list[float], train: tuple, test: tuple,
                    settings: Any, progress: bool = True) -> Any:
    """Fine-tune the policy's masks with the shared driver; its :class:`PruneResult`.

    ``train`` and ``test`` are numpy ``(images, labels)``; ``settings`` a
    :class:`~reramsim.prune.finetune.FinetuneSettings`. The driver ramps every layer's rate
    up to the policy's on its usual schedule and ends with exactly the policy's masks.
    """
    import torch

    from reramsim.prune.autoprune.projection import AutoPrunePruner
    from reramsim.prune.autoprune.search import policy_ratio
    from reramsim.prune.finetune import prune_model

    ratio = policy_ratio(env, rates)
    pruner = AutoPrunePruner(env.config, granularity=env.granularity, target_ratio=ratio,
                             rates={t.name: r for t, r in zip(env.table, rates)})
    tensors = [tuple(torch.from_numpy(a) for a in split) for split in (train, test)]
    return prune_model(model, pruner, ratio, tensors[0], settings, test_data=tensors[1],
                       progress=progress)


def summarize(env: Any, search: Any, result: Any, arch: str, source: str, out: Path,
              test: tuple, dense_acc: float, data_spec: str, reram_limit: int
              ) -> dict[str, Any]:
    """Export the fine-tuned policy to ``out`` and collect the summary.

    ``search`` is the :class:`.search.SearchResult`, ``result`` the fine-tuning's
    :class:`PruneResult`, ``test`` numpy ``(images, labels)`` of dataset ``data_spec``; the
    ReRAM accuracy (functional model) uses the first ``reram_limit`` test images (0 skips
    it). Keys: see ``docs/autoprune.md`` ("Command line").
    """
    import torch

    from reramsim.mapping import map_network
    from reramsim.prune.export import export_pruned
    from reramsim.prune.metadata import scheme_from_metadata
    from reramsim.prune.workflow import float_accuracy, reram_accuracy
    from reramsim.zoo import INPUT_SHAPES

    config = env.config
    best = search.best
    acc_float = float_accuracy(result.model, tuple(torch.from_numpy(a) for a in test))
    facts = {"config": config.name, "granularity": env.granularity, "alpha": env.alpha,
             "max_drop": env.max_drop, "episodes": search.episodes,
             "best_episode": best.episode, "val_images": len(env.val[0]),
             "rates": {t.name: r for t, r in zip(env.table, best.rates)}}
    path, network = export_pruned(result, out, INPUT_SHAPES[arch],
                                  extra={"model": arch, "data": data_spec, "autoprune": facts,
                                         "float_accuracy_dense": dense_acc,
                                         "float_accuracy_pruned": acc_float})
    scheme, options = scheme_from_metadata(network)
    dense_map = map_network(network, config, "dense")
    pruned_map = map_network(network, config, scheme, options)
    calib = env.model.calibration.numpy()
    n_reram = min(reram_limit, len(test[0]))
    acc_reram = reram_accuracy(network, config, pruned_map, test, calib, reram_limit)
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
