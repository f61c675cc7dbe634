"""Train the zoo models on scikit-learn's digits and export them to ONNX.

The models are defined in :mod:`reramsim.zoo`; training, export and where the
weights are kept in :mod:`reramsim.training`. This script trains (or loads the
saved weights of) the named models and prints weights, epochs, time and test
accuracy.

Command line::

    python -m models.train [--all | NAME ...] [--epochs N] [--force]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from torch import nn

from reramsim import ReramsimError, training
from reramsim.zoo import NAMES


def _report_line(name: str, model: nn.Module, epochs: str, seconds: str, accuracy: float) -> str:
    """One row of the CLI table."""
    return f"{name:<9} {training.n_weights(model):>11,} {epochs:>6} {seconds:>8} {accuracy:>9.2%}"


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: train (or load cached) models and print weights, epochs, seconds and test accuracy."""
    parser = argparse.ArgumentParser(prog="python -m models.train",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"models: {', '.join(NAMES)}")
    parser.add_argument("--all", action="store_true", help="every zoo model")
    parser.add_argument("--epochs", type=int, help="override the per-model epoch count")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="retrain even if saved weights exist")
    args = parser.parse_args(argv)
    names = list(NAMES) if args.all else args.names
    unknown = sorted(set(names) - set(NAMES))
    if not names or unknown:
        parser.error(f"give --all or model names from: {', '.join(NAMES)}"
                     + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    print(f"{'model':<9} {'weights':>11} {'epochs':>6} {'seconds':>8} {'test acc':>9}")
    for name in names:
        try:
            print(_train_or_load(name, args.epochs, args.seed, args.force), flush=True)
        except ReramsimError as err:
            print(f"error: {err}")
            return 1
    return 0


def _train_or_load(name: str, epochs: int | None, seed: int, force: bool) -> str:
    """Train ``name`` unless saved weights exist (and not ``force``); return its report line."""
    if not force and training.artifact_path(name, ".pth").is_file():
        model = training.load_trained(name)
        training.ensure(name)
        accuracy = training.evaluate(model, *training.digits(name, "test"))
        return _report_line(name, model, "-", "cached", accuracy)
    start = time.perf_counter()
    model, accuracy = training.train_and_save(name, epochs, seed)
    seconds = f"{time.perf_counter() - start:.1f}"
    n_epochs = training.EPOCHS[name] if epochs is None else epochs
    return _report_line(name, model, str(n_epochs), seconds, accuracy)


if __name__ == "__main__":
    raise SystemExit(main())
