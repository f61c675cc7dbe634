"""Schemes side by side: one row per model file, ratios against a baseline file.

:func:`compare_files` simulates every file (dense or pruned ONNX; the mapping scheme
comes from its pruning metadata) on its hardware, builds the reports of
:mod:`reramsim.report` and turns them into rows with :func:`reramsim.report.compare_rows`
(the one place the ratios are defined), plus, with a dataset, the float and ReRAM
accuracy. A file may carry its own hardware as ``FILE@CONFIG`` (FORMS on
``forms.yaml``); the others run on the default config. All files must be the same
architecture (same weight layers and inputs): pruned variants of one model.

Every column is declared once in :data:`COLUMNS` (JSON key, table header, format);
the table, the CSV and the JSON follow it, so a new metric is one more entry.
See ``docs/compare.md``.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from reramsim import ReramsimError


class CompareError(ReramsimError):
    """Files that cannot be compared (missing, different architectures, bad baseline)."""


@dataclass(frozen=True)
class Column:
    """One column of the comparison: JSON/CSV key, table header and cell format."""

    key: str
    header: str
    fmt: Callable[[Any], str]


def _ratio(x: float) -> str:
    return f"{x:.2f}x" if math.isfinite(x) else "inf"


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


#: The row's columns, in order (``acc_float``/``acc_reram`` only with a dataset).
COLUMNS: tuple[Column, ...] = (
    Column("file", "file", lambda v: Path(v).name),
    Column("scheme", "scheme", str),
    Column("config", "config", str),
    Column("weights", "weights", lambda v: f"{v:,}"),
    Column("nonzero_weights", "non-zero", lambda v: f"{v:,}"),
    Column("pruning_ratio", "pruning ratio", _ratio),
    Column("crossbars", "XBs", lambda v: f"{v:,}"),
    Column("cr_crossbars", "CR on XBs", _ratio),
    Column("latency_ns", "latency [us]", lambda v: f"{v / 1e3:.3f}"),
    Column("speedup", "speedup", _ratio),
    Column("throughput_ips", "throughput [img/s]", lambda v: f"{v:,.0f}"),
    Column("throughput_speedup", "throughput speedup", _ratio),
    Column("energy_pj", "energy [uJ]", lambda v: f"{v / 1e6:.4f}"),
    Column("energy_reduction", "energy reduction", _ratio),
    Column("area_um2", "area [mm^2]", lambda v: f"{v / 1e6:.3f}"),
    Column("datapath_area_pct", "data-path area %", lambda v: f"{v:.3f}"),
    Column("ou_steps", "OU steps", lambda v: f"{v:,}"),
    Column("macs_per_ou_step", "MACs per OU step", lambda v: f"{v:.2f}"),
    Column("cell_utilisation", "cells used", _pct),
    Column("acc_float", "acc float", _pct),
    Column("acc_reram", "acc ReRAM", _pct),
)
ACCURACY_KEYS = ("acc_float", "acc_reram")


def split_spec(spec: str, default_hw: str) -> tuple[Path, str]:
    """``FILE@CONFIG`` -> ``(FILE, CONFIG)``; a plain ``FILE`` gets ``default_hw``.

    Raises:
        CompareError: an empty file or config part, or a file that does not exist.
    """
    path, sep, hw = spec.rpartition("@") if "@" in spec else (spec, "", default_hw)
    if not path or (sep and not hw):
        raise CompareError(f"{spec!r}: expected FILE.onnx or FILE.onnx@CONFIG")
    if not Path(path).is_file():
        raise CompareError(f"{path}: no such model file")
    return Path(path), hw


def architecture(network: Any) -> tuple:
    """What makes two files the same model: inputs, and every weight layer's op and shape."""
    return (tuple(sorted((k, tuple(v)) for k, v in network.inputs.items())),
            tuple((layer.op, tuple(layer.weight.shape), layer.groups)
                  for layer in network.weight_layers()))


def compare_files(specs: list[str], hw: str, overrides: list[str] | None = None, *,
                  data: str | None = None, baseline: str | None = None, engine: str | None = None,
                  limit: int | None = None, calib: int = 64, budget: str | int | None = None
                  ) -> tuple[list[dict[str, Any]], int]:
    """One row per file (keys: :data:`COLUMNS`), ratios against the baseline file.

    Args:
        specs: ``FILE`` or ``FILE@CONFIG`` each; the first is the baseline unless
            ``baseline`` names another (a spec of the list, or an extra file that is
            simulated too and listed first).
        hw: the config for files without ``@CONFIG``; overrides: ``--set`` values for all.
        data: a dataset spec (``digits``...): adds ``acc_float`` (onnxruntime) and
            ``acc_reram`` (functional model on the file's mapping and hardware).
        engine: the timing engine (None: cycle when built); limit: test images (None:
            all); calib: training images that calibrate the functional model's input scales.
        budget: crossbars every file may use (``"dense"``, ``"chip"`` or a count, as
            ``reramsim simulate --budget``); with ``mapping.replication: balance`` a file
            the budget leaves spare crossbars fills them with copies (equal hardware).

    Returns:
        ``(rows, baseline index)``.

    Raises:
        CompareError: missing files, different architectures (names both files), or no files.
        ReramsimError: from the config loader, importer, mapper or engine, naming the file.
    """
    from reramsim.pipeline import load_config, load_model, simulate
    from reramsim.replication import parse_budget
    from reramsim.report import build_report, compare_rows

    if not specs:
        raise CompareError("no model files to compare")
    if budget is not None:
        budget = parse_budget(str(budget))
    entries = [split_spec(s, hw) for s in specs]
    base_index = 0
    if baseline is not None:
        base = split_spec(baseline, hw)
        same = [i for i, e in enumerate(entries) if _same_entry(e, base)]
        if same:
            base_index = same[0]
        else:
            entries.insert(0, base)
    configs: dict[str, Any] = {}
    runs, reference = [], None
    for path, cfg_name in entries:
        config = configs.get(cfg_name) or load_config(cfg_name, overrides or [])
        configs[cfg_name] = config
        network = load_model(path)
        arch = architecture(network)
        if reference is None:
            reference = (path, arch)
        elif arch != reference[1]:
            raise CompareError(f"{path} and {reference[0]} are different architectures "
                               "(weight layers or inputs differ); compare variants of one model")
        sim = simulate(network, config, engine=engine, budget=budget)
        runs.append((path, sim, build_report(sim)))
    rows = compare_rows([r for _, _, r in runs], base_index, same_hardware=False)
    out = []
    for (path, sim, _), row in zip(runs, rows):
        entry = {"file": str(path), "scheme": row["scheme"], "config": row["config"],
                 "weights": int(row["weights"]), "nonzero_weights": int(row["nonzero_weights"]),
                 "pruning_ratio": row["pruning_ratio"], "crossbars": int(row["crossbars"]),
                 "cr_crossbars": row["cr_xbs"], "latency_ns": row["latency_ns"],
                 "speedup": row["speedup"], "throughput_ips": row["throughput_ips"],
                 "throughput_speedup": row["throughput_speedup"], "energy_pj": row["energy_pj"],
                 "energy_reduction": row["energy_reduction"], "area_um2": row["area_um2"],
                 "datapath_area_pct": row["datapath_overhead_pct"],
                 "ou_steps": int(row["ou_steps"]), "macs_per_ou_step": row["macs_per_ou_step"],
                 "cell_utilisation": row["cell_utilisation"]}
        if data is not None:
            entry.update(accuracies(path, sim, data, limit, calib))
        out.append(entry)
    return out, base_index


def _same_entry(a: tuple[Path, str], b: tuple[Path, str]) -> bool:
    return a[0].resolve() == b[0].resolve() and a[1] == b[1]


def accuracies(path: Path, sim: Any, data: str, limit: int | None, calib: int
               ) -> dict[str, float]:
    """``acc_float`` (onnxruntime on the file) and ``acc_reram`` (functional model), in [0, 1]."""
    from reramsim.accuracy import measure_accuracy
    from reramsim.datasets import load_dataset
    from reramsim.functional import FunctionalModel

    network = sim.network
    shape = tuple(next(iter(network.inputs.values())))
    x, y = load_dataset(data, "test", shape, limit)
    calibration = load_dataset(data, "train", shape, calib)[0]
    model = FunctionalModel(network, sim.config, mapping=sim.mapping, calibration=calibration)
    tally = measure_accuracy(path, model, x, y, progress=False)
    if tally.interrupted:
        raise KeyboardInterrupt
    return {"acc_float": tally.acc_float, "acc_reram": tally.acc_reram}


# --------------------------------------------------------------------------- output


def columns_of(rows: list[dict[str, Any]]) -> list[Column]:
    """The columns the rows have (accuracy only when measured)."""
    return [c for c in COLUMNS if rows and c.key in rows[0]]


def format_table(rows: list[dict[str, Any]], baseline: dict[str, Any],
                 budget: str | int | None = None) -> str:
    """The rows as a text table, with a title and the definitions of the ratios."""
    from reramsim.report import grid_lines

    cols = columns_of(rows)
    body = [[c.fmt(r[c.key]) for c in cols] for r in rows]
    within = "" if budget is None else f", every file within the crossbar budget '{budget}'"
    title = (f"schemes compared against {Path(baseline['file']).name} ({baseline['scheme']} on "
             f"{baseline['config']}){within}:")
    note = ("pruning ratio = weights / non-zero weights; CR on XBs, speedup, energy reduction = "
            "baseline / file; throughput speedup = file / baseline images per second; data-path "
            "area % = index buffers and input gathers as a share of the accelerator's area")
    return "\n".join([title, *grid_lines([c.header for c in cols], body,
                                         right=set(range(3, len(cols)))), note])


def to_json(rows: list[dict[str, Any]], baseline: dict[str, Any],
            budget: str | int | None = None) -> str:
    """``{"baseline": FILE, "budget": ..., "rows": [...]}``; an infinite ratio is written
    as null; ``budget`` null = each file on the chip (or its own crossbars)."""
    clean = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
              for k, v in r.items()} for r in rows]
    return json.dumps({"baseline": baseline["file"], "baseline_config": baseline["config"],
                       "budget": budget, "rows": clean}, indent=2) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    """One CSV line per row, the keys of :data:`COLUMNS` as the header."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, [c.key for c in columns_of(rows)], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


#: The grouped bars of the plot: (row key, group label).
PLOT_METRICS = (("cr_crossbars", "CR on crossbars"), ("speedup", "speedup"),
                ("energy_reduction", "energy reduction"))


def plot(rows: list[dict[str, Any]], path: str | Path, title: str = "") -> None:
    """Grouped bars per scheme: CR on crossbars, speedup, energy reduction (x, left axis)
    and, when measured, ReRAM and float accuracy (%, right panel). Writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['scheme']} on {r['config']} ({Path(r['file']).name})" for r in rows]
    has_acc = "acc_reram" in rows[0]
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=(13 if has_acc else 9, 6),
                             gridspec_kw={"width_ratios": [3, 2]} if has_acc else None,
                             squeeze=False)
    width = 0.8 / len(rows)
    colors = plt.get_cmap("tab10").colors
    ax = axes[0][0]
    for i, (row, label) in enumerate(zip(rows, labels)):
        values = [row[k] if math.isfinite(row[k]) else 0.0 for k, _ in PLOT_METRICS]
        bars = ax.bar(np.arange(len(PLOT_METRICS)) + (i - (len(rows) - 1) / 2) * width, values,
                      width, label=label, color=colors[i % 10])
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    ax.set_xticks(np.arange(len(PLOT_METRICS)), [t for _, t in PLOT_METRICS])
    ax.set_ylabel("x baseline (higher is better)")
    ax.set_ylim(0, 1.15 * max([1.0] + [r[k] for r in rows for k, _ in PLOT_METRICS
                                       if math.isfinite(r[k])]))
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)
    ax.set_title("against " + Path(rows[0]["file"]).name if not title else title)
    if has_acc:
        acc = axes[0][1]
        for i, row in enumerate(rows):
            bars = acc.bar(np.arange(2) + (i - (len(rows) - 1) / 2) * width,
                           [100 * row["acc_float"], 100 * row["acc_reram"]], width,
                           color=colors[i % 10])
            acc.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
        acc.set_xticks(np.arange(2), ["float accuracy", "ReRAM accuracy"])
        acc.set_ylabel("top-1 accuracy [%]")
        acc.set_ylim(0, 105)
        acc.set_title("accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
