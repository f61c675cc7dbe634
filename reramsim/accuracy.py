"""Top-1 accuracy of a classifier twice on the same images: in float with onnxruntime
(``acc_float``) and through the functional model of the ReRAM hardware (``acc_reram``).

:func:`measure_accuracy` runs both batch by batch and returns a :class:`Tally`;
Ctrl-C stops it early and the tally holds the images done so far
(``tally.interrupted``). With ``trials`` > 1 it measures that many programmed chips
(Monte Carlo over the device models, docs/devices.md): float once, the hardware per chip.
:func:`accuracy_record` is the JSON form the CLI writes.
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
    """Running counts of one accuracy measurement (float once, the hardware per chip)."""

    images: int = 0  # of the chip being measured
    correct_reram: int = 0  # of the chip being measured
    float_images: int = 0
    correct_float: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"float": 0.0, "reram": 0.0})
    interrupted: bool = False
    chips: list[float] = field(default_factory=list)  # acc_reram of every chip finished
    faulty: list[int] = field(default_factory=list)  # stuck-at cells of every chip finished

    @property
    def acc_float(self) -> float:
        return self.correct_float / self.float_images if self.float_images else float("nan")

    @property
    def acc_reram(self) -> float:
        """Mean over the chips finished (the chip in progress when none is)."""
        if self.chips:
            return float(np.mean(self.chips))
        return self.correct_reram / self.images if self.images else float("nan")


def float_runner(path: str | os.PathLike[str]) -> Callable[[np.ndarray], np.ndarray]:
    """``logits(x)`` of the ONNX file by onnxruntime, in pieces when the file fixes the
    batch size."""
    import onnxruntime as ort

    from reramsim.pipeline import model_path

    path = model_path(path)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    refused = (ort_errors.Fail, ort_errors.InvalidGraph, ort_errors.InvalidArgument,
               ort_errors.InvalidProtobuf, ort_errors.NotImplemented, ort_errors.RuntimeException)
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except refused as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FunctionalError(f"{path}: onnxruntime refuses the model ({reason})") from None
    first = session.get_inputs()[0]
    out_name = session.get_outputs()[0].name
    fixed = first.shape[0] if first.shape and isinstance(first.shape[0], int) else None

    def logits(x: np.ndarray) -> np.ndarray:
        step = fixed or len(x)
        try:
            parts = [session.run([out_name], {first.name: x[i:i + step]})[0]
                     for i in range(0, len(x), step)]
        except refused as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise FunctionalError(f"{path}: onnxruntime cannot run the model ({reason})"
                                  ) from None
        return np.concatenate(parts)

    return logits


def measure_accuracy(path: str | os.PathLike[str], model: Any, x: np.ndarray, y: np.ndarray,
                     batch: int = 64, progress: bool = True, trials: int = 1,
                     seed: int = 0) -> Tally:
    """Both accuracies of the classifier in ONNX file ``path`` on images ``x``, labels ``y``.

    Args:
        path: the ONNX file (run in float by onnxruntime).
        model: its functional model (e.g. from :func:`reramsim.pipeline.functional_model`),
            input scales already calibrated.
        batch: images per forward pass.
        progress: show a progress bar with the running accuracies.
        trials: programmed chips to measure: chip ``chip_seed(seed, t)`` for trial ``t``
            (trial 0 is the chip the model holds when it was built with that seed).
        seed: the seed of the chips.

    Returns:
        the tally; ``interrupted`` when Ctrl-C stopped it (the counts cover the images done).

    Raises:
        FunctionalError: ``batch`` or ``trials`` < 1.
    """
    from tqdm import tqdm

    from reramsim.devices import chip_seed

    if batch < 1:
        raise FunctionalError(f"--batch must be >= 1, got {batch}")
    if len(x) == 0:
        raise FunctionalError(f"{path}: no images to measure accuracy on")
    if trials < 1:
        raise FunctionalError(f"--trials must be >= 1, got {trials}")
    float_logits = float_runner(path)
    tally = Tally()
    bar = tqdm(total=len(x) * trials, unit="img", desc="accuracy", disable=not progress)
    try:
        for trial in range(trials):
            if trial:  # chip 0 was programmed when the model was built
                model.program(chip_seed(seed, trial))
            tally.images = tally.correct_reram = 0
            for i in range(0, len(x), batch):
                xb, yb = x[i:i + batch], y[i:i + batch]
                start = time.perf_counter()
                if trial == 0:
                    logits = float_logits(xb)
                    _check_logits(path, logits, len(xb), "onnxruntime")
                    tally.correct_float += int((logits.argmax(axis=1) == yb).sum())
                    tally.float_images += len(xb)
                mid = time.perf_counter()
                reram = model.forward(xb)
                _check_logits(path, reram, len(xb), "functional model")
                tally.seconds["float"] += mid - start
                tally.seconds["reram"] += time.perf_counter() - mid
                tally.correct_reram += int((reram.argmax(axis=1) == yb).sum())
                tally.images += len(xb)
                bar.update(len(xb))
                bar.set_postfix(acc_float=f"{tally.acc_float:.2%}",
                                acc_reram=f"{tally.correct_reram / tally.images:.2%}")
            tally.chips.append(tally.correct_reram / tally.images)
            tally.faulty.append(model.faulty_cells)
    except KeyboardInterrupt:
        tally.interrupted = True
    finally:
        bar.close()
    return tally


def _check_logits(path: str | os.PathLike[str], out: np.ndarray, n: int, what: str) -> None:
    """Refuse an output that is not (N, classes) scores: a model that is no classifier."""
    if out.ndim != 2 or out.shape[0] != n or out.shape[1] < 2:
        raise FunctionalError(f"{path}: output of shape {out.shape} ({what}); a classifier "
                              f"must output ({n}, classes) with classes >= 2")


def accuracy_record(path: str | os.PathLike[str], model: Any, tally: Tally, total: int,
                    data: str, split: str) -> dict[str, Any]:
    """The measurement as a JSON-ready dict: figures, timings, ADC statistics and the
    number formats, ADC and devices they were measured with; over the chips measured,
    acc_reram's mean, std, min and max and the stuck-at cells of each."""
    chips = tally.chips or [tally.acc_reram]
    return {
        "model": str(path), "config": model.config.name, "scheme": model.mapping.scheme,
        "data": data, "split": split, "images": tally.images, "total": total,
        "interrupted": tally.interrupted, "acc_float": tally.acc_float,
        "acc_reram": tally.acc_reram, "trials": len(tally.chips),
        "acc_reram_mean": float(np.mean(chips)), "acc_reram_std": float(np.std(chips)),
        "acc_reram_min": float(min(chips)), "acc_reram_max": float(max(chips)),
        "acc_reram_chips": tally.chips, "faulty_cells": tally.faulty,
        "cells_used": model.cells_used,
        "device": {k: "inf" if v == float("inf") else v
                   for k, v in asdict(model.config.device).items()},
        "seconds": tally.seconds,
        "adc": {name: asdict(stats) for name, stats in model.adc_stats.items()},
        "precision": asdict(model.config.precision), "adc_config": asdict(model.config.adc),
    }
