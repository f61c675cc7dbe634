"""Top-1 accuracy of a classifier twice on the same images: in float with onnxruntime
(``acc_float``) and through the functional model of the ReRAM hardware (``acc_reram``).

:func:`measure_accuracy` runs both batch by batch and returns a :class:`Tally`;
Ctrl-C stops it early and the tally holds the images done so far
(``tally.interrupted``). :func:`accuracy_record` is the JSON form the CLI writes.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from reramsim.quantize import FunctionalError

__all__ = ["Tally", "accuracy_record", "float_runner", "measure_accuracy"]


@dataclass
class Tally:
    """Running counts of one accuracy measurement."""

    images: int = 0
    correct_float: int = 0
    correct_reram: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"float": 0.0, "reram": 0.0})
    interrupted: bool = False

    @property
    def acc_float(self) -> float:
        return self.correct_float / self.images if self.images else float("nan")

    @property
    def acc_reram(self) -> float:
        return self.correct_reram / self.images if self.images else float("nan")


def float_runner(path: str | os.PathLike[str]) -> Callable[[np.ndarray], np.ndarray]:
    """``logits(x)`` of the ONNX file by onnxruntime, in pieces when the file fixes the
    batch size."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    out_name = session.get_outputs()[0].name
    fixed = first.shape[0] if first.shape and isinstance(first.shape[0], int) else None

    def logits(x: np.ndarray) -> np.ndarray:
        step = fixed or len(x)
        return np.concatenate([session.run([out_name], {first.name: x[i:i + step]})[0]
                               for i in range(0, len(x), step)])

    return logits


def measure_accuracy(path: str | os.PathLike[str], model: Any, x: np.ndarray, y: np.ndarray,
                     batch: int = 64, progress: bool = True) -> Tally:
    """Both accuracies of the classifier in ONNX file ``path`` on images ``x``, labels ``y``.

    Args:
        path: the ONNX file (run in float by onnxruntime).
        model: its functional model (e.g. from :func:`reramsim.pipeline.functional_model`),
            input scales already calibrated.
        batch: images per forward pass.
        progress: show a progress bar with the running accuracies.

    Returns:
        the tally; ``interrupted`` when Ctrl-C stopped it (the counts cover the images done).

    Raises:
        FunctionalError: ``batch`` < 1.
    """
    from tqdm import tqdm

    if batch < 1:
        raise FunctionalError(f"--batch must be >= 1, got {batch}")
    float_logits = float_runner(path)
    tally = Tally()
    bar = tqdm(total=len(x), unit="img", desc="accuracy", disable=not progress)
    try:
        for i in range(0, len(x), batch):
            xb, yb = x[i:i + batch], y[i:i + batch]
            start = time.perf_counter()
            logits = float_logits(xb)
            mid = time.perf_counter()
            reram = model.forward(xb)
            tally.seconds["float"] += mid - start
            tally.seconds["reram"] += time.perf_counter() - mid
            tally.correct_float += int((logits.argmax(axis=1) == yb).sum())
            tally.correct_reram += int((reram.argmax(axis=1) == yb).sum())
            tally.images += len(xb)
            bar.update(len(xb))
            bar.set_postfix(acc_float=f"{tally.acc_float:.2%}", acc_reram=f"{tally.acc_reram:.2%}")
    except KeyboardInterrupt:
        tally.interrupted = True
    finally:
        bar.close()
    return tally


def accuracy_record(path: str | os.PathLike[str], model: Any, tally: Tally, total: int,
                    data: str, split: str) -> dict[str, Any]:
    """The measurement as a JSON-ready dict: figures, timings, ADC statistics and the
    number formats and ADC they were measured with."""
    return {
        "model": str(path), "config": model.config.name, "scheme": model.mapping.scheme,
        "data": data, "split": split, "images": tally.images, "total": total,
        "interrupted": tally.interrupted, "acc_float": tally.acc_float,
        "acc_reram": tally.acc_reram, "seconds": tally.seconds,
        "adc": {name: asdict(stats) for name, stats in model.adc_stats.items()},
        "precision": asdict(model.config.precision), "adc_config": asdict(model.config.adc),
    }
