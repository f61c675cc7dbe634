"""Pruned zoo models for the benchmarks: pruned and fine-tuned once, then read from a cache.

:func:`pruned_model` prunes the trained zoo model (:func:`reramsim.training.load_trained`)
with any registered scheme to a target ratio, fine-tunes it on the digits training split
and exports it (:func:`reramsim.prune.export.export_pruned`) as ``<directory>/<stem>.onnx``,
with a ``.json`` sidecar holding the cache key and the float top-1 on the digits test split
before and after. A later call with the same key (ratio, the pruner's parameters, epochs,
config, and the per-layer allocation when it is not LAMP) reads the cache; ``force``
prunes again. A checkpoint is written every epoch (``<stem>.ckpt``, removed on success),
so an interrupted run resumes.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from reramsim import training as train
from reramsim.prune import get_pruner
from reramsim.prune.export import export_pruned
from reramsim.prune.finetune import FinetuneSettings, prune_model
from reramsim.zoo import INPUT_SHAPES

BUILD = Path(__file__).resolve().parent.parent / "models" / "build"


def pruned_model(name: str, scheme: str, config, ratio: float, epochs: int, *, stem: str,
                 directory: Path = BUILD, force: bool = False, allocation: str = "lamp",
                 progress: bool = True, params: dict | None = None) -> tuple[Path, dict]:
    """The cached pruned ONNX of zoo model ``name`` and its facts; prunes when missing.

    Args:
        scheme: a registered pruner; config: the hardware its pruner is built for.
        stem: the file name without suffix (the caller's naming convention).
        allocation: per-layer budgets (``reramsim.prune.base.allocate``).
        params: the pruner's parameters other than its defaults (part of the cache key
            through the pruner's ``params``).

    Returns:
        ``(path, facts)``: ``facts`` has ``key``, ``float_accuracy_dense``,
        ``float_accuracy_pruned``, ``seconds`` (pruning and fine-tuning) and ``history``
        (per epoch: loss, density, test accuracy).
    """
    path, sidecar = directory / f"{stem}.onnx", directory / f"{stem}.json"
    pruner = get_pruner(scheme, config, **(params or {}))
    key = {"ratio": ratio, "params": pruner.params, "epochs": epochs, "config": config.name}
    if allocation != "lamp":
        key["allocation"] = allocation
    if not force and path.is_file() and sidecar.is_file():
        facts = json.loads(sidecar.read_text())
        if facts.get("key") == key:
            return path, facts
    directory.mkdir(parents=True, exist_ok=True)
    model = train.load_trained(name)
    test, train_data = train.digits(name, "test"), train.digits(name, "train")
    dense_acc = train.evaluate(model, *test)
    start = time.perf_counter()
    result = prune_model(model, pruner, ratio, train_data,
                         FinetuneSettings(epochs=epochs, allocation=allocation), test_data=test,
                         checkpoint=directory / f"{stem}.ckpt", progress=progress,
                         signature={"arch": name, "data": "digits"})
    pruned_acc = train.evaluate(result.model, *test)
    facts = {"key": key, "float_accuracy_dense": dense_acc, "float_accuracy_pruned": pruned_acc,
             "seconds": time.perf_counter() - start, "history": result.history}
    export_pruned(result, path, INPUT_SHAPES[name],
                  extra={"model": name, "data": "digits", "float_accuracy_dense": dense_acc,
                         "float_accuracy_pruned": pruned_acc})
    sidecar.write_text(json.dumps(facts, indent=1) + "\n")
    (directory / f"{stem}.ckpt").unlink(missing_ok=True)
    return path, facts
