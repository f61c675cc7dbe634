"""PNG figures of a sweep and of one simulation (matplotlib, drawn off-screen with Agg).

* :func:`plot_sweep`: ``pareto.png`` (latency vs energy of every point, area as colour,
  the Pareto front highlighted) and ``effects.png`` (each swept key's effect on
  latency, energy and area);
* :func:`plot_report`: ``energy_breakdown.png``, ``area_breakdown.png`` (per component)
  and ``timeline.png`` (a Gantt of each layer's start and end).

Every function reads plain dicts (sweep records, a report), so results loaded back
from disk plot the same way. Units: latency in us, energy in uJ, area in mm^2.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reramsim import ReramsimError

__all__ = ["PlotError", "pareto_front", "plot_report", "plot_sweep"]

_US, _UJ, _MM2 = 1e3, 1e6, 1e6  # ns, pJ, um^2 per plotted unit
_METRICS = (("latency_ns", "latency [us]", _US), ("energy_pj", "energy [uJ]", _UJ),
            ("area_um2", "area [mm$^2$]", _MM2))


class PlotError(ReramsimError):
    """Plots that cannot be drawn: matplotlib missing, nothing to plot, unwritable folder."""


def _figure(width: float, height: float):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotError("plots need matplotlib: pip install 'reramsim[plot]'") from None
    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path: Path) -> Path:
    try:
        fig.savefig(path, dpi=110)
    except OSError as err:
        raise PlotError(f"{path}: cannot write: {err.strerror}") from None
    return path


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """Which points no other point beats: lower or equal in both coordinates, lower in one."""
    return [not any(ox <= x and oy <= y and (ox < x or oy < y) for ox, oy in points)
            for x, y in points]


# --------------------------------------------------------------------------- sweeps


def swept_keys(records: Sequence[dict[str, Any]]) -> list[str]:
    """The swept keys whose value differs between points (model and scheme included)."""
    keys = list(dict.fromkeys(k for r in records for k in r.get("values", {})))
    return [k for k in keys if len({repr(_value(r, k)) for r in records}) > 1]


def _value(record: dict[str, Any], key: str) -> Any:
    value = record.get("values", {}).get(key)
    return record.get(key) if value is None else value


def plot_sweep(records: Sequence[dict[str, Any]], out: str | os.PathLike[str]) -> list[Path]:
    """Draw ``pareto.png`` and ``effects.png`` of the successful points into ``out``.

    Raises:
        PlotError: no successful point, or matplotlib missing.
    """
    ok = [r for r in records if r.get("status") == "ok" and r.get("totals")]
    if not ok:
        raise PlotError(f"{out}: no successful sweep point to plot")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return [_pareto(ok, folder / "pareto.png"), _effects(ok, folder / "effects.png")]


def _pareto(records: Sequence[dict[str, Any]], path: Path) -> Path:
    lat = [r["totals"]["latency_ns"] / _US for r in records]
    energy = [r["totals"]["energy_pj"] / _UJ for r in records]
    area = [r["totals"]["area_um2"] / _MM2 for r in records]
    front = pareto_front(list(zip(lat, energy)))
    fig = _figure(7, 5)
    ax = fig.add_subplot()
    dots = ax.scatter(lat, energy, c=area, cmap="viridis", s=36, zorder=2)
    fig.colorbar(dots, ax=ax, label="area [mm$^2$]")
    on_front = sorted((x, y) for x, y, f in zip(lat, energy, front) if f)
    ax.plot(*zip(*on_front), color="tab:red", lw=1.2, zorder=1, label="Pareto front")
    ax.scatter(*zip(*on_front), facecolors="none", edgecolors="tab:red", s=110, lw=1.5, zorder=3)
    keys = swept_keys(records)
    for x, y, r, f in zip(lat, energy, records, front):
        if f and keys:
            ax.annotate(", ".join(f"{k}={_value(r, k)}" for k in keys), (x, y), fontsize=6,
                        xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("latency [us]")
    ax.set_ylabel("energy [uJ]")
    ax.set_title(f"{len(records)} design points: latency vs energy "
                 f"({sum(front)} on the Pareto front)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return _save(fig, path)


def _effects(records: Sequence[dict[str, Any]], path: Path) -> Path:
    """One column per swept key, one row per metric: every point, and the mean per value."""
    keys = swept_keys(records) or ["model"]
    fig = _figure(max(4.0, 3.2 * len(keys)), 8)
    axes = fig.subplots(len(_METRICS), len(keys), squeeze=False)
    for col, key in enumerate(keys):
        values = list(dict.fromkeys(_value(r, key) for r in records))
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            values.sort()
        pos = {repr(v): i for i, v in enumerate(values)}
        for row, (metric, label, scale) in enumerate(_METRICS):
            ax = axes[row][col]
            xs = [pos[repr(_value(r, key))] for r in records]
            ys = [r["totals"][metric] / scale for r in records]
            ax.scatter(xs, ys, s=12, alpha=0.5, color="tab:blue", label="points")
            means = [sum(y for x, y in zip(xs, ys) if x == i) / max(1, xs.count(i))
                     for i in range(len(values))]
            ax.plot(range(len(values)), means, "o-", color="tab:orange", label="mean")
            ax.set_xticks(range(len(values)), [_short(v) for v in values], fontsize=7)
            ax.set_xlabel(key)
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("effect of each swept key (mean over the other keys)")
    return _save(fig, path)


def _short(value: Any) -> str:
    text = Path(value).stem if isinstance(value, str) and value.endswith(".onnx") else str(value)
    return text if len(text) <= 14 else text[:13] + "~"


# --------------------------------------------------------------------------- one simulation


def plot_report(report: dict[str, Any], out: str | os.PathLike[str]) -> list[Path]:
    """Draw ``energy_breakdown.png``, ``area_breakdown.png`` and ``timeline.png`` into ``out``.

    Raises:
        PlotError: matplotlib missing or an unwritable folder.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    title = f"{report['model']} on {report['config']} ({report['scheme']}, {report['engine']})"
    return [
        _breakdown(report["energy_breakdown"], "energy_pj", _UJ, "energy [uJ]",
                   f"energy by component: {title}", folder / "energy_breakdown.png"),
        _breakdown(report["area_breakdown"], "area_um2", _MM2, "area [mm$^2$]",
                   f"area by component: {title}", folder / "area_breakdown.png"),
        _timeline(report, title, folder / "timeline.png"),
    ]


def _breakdown(entries: dict[str, Any], key: str, scale: float, label: str, title: str,
               path: Path) -> Path:
    items = sorted(((name, e[key] / scale, e["percent"]) for name, e in entries.items()),
                   key=lambda item: item[1])
    fig = _figure(8, 0.35 * len(items) + 1.5)
    ax = fig.add_subplot()
    bars = ax.barh([name for name, _, _ in items], [v for _, v, _ in items], color="tab:blue")
    ax.bar_label(bars, [f"{pct:.1f}%" for _, _, pct in items], fontsize=7, padding=2)
    ax.set_xlabel(label)
    ax.set_ylabel("component")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def _timeline(report: dict[str, Any], title: str, path: Path) -> Path:
    cycle_us = 1.0 / report["clock_mhz"]
    layers = report["layers"]
    fig = _figure(8, 0.28 * len(layers) + 1.5)
    ax = fig.add_subplot()
    starts = [lay["start_cycle"] * cycle_us for lay in layers]
    visible = 0.003 * max((lay["end_cycle"] for lay in layers), default=0) * cycle_us
    spans = [max((lay["end_cycle"] - lay["start_cycle"]) * cycle_us, visible) for lay in layers]
    colours = ["tab:blue" if lay.get("crossbars") else "tab:gray" for lay in layers]
    ax.barh(range(len(layers)), spans, left=starts, color=colours)
    ax.set_yticks(range(len(layers)), [f"{lay['name']} ({lay['op']})" for lay in layers],
                  fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time [us]")
    ax.set_ylabel("layer")
    ax.set_title(f"layer timeline, start to end (blue: on crossbars, grey: digital): {title}",
                 fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)
