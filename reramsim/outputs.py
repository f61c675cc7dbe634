"""A simulation's results folder: ``reramsim simulate ... --out DIR`` and ``Result.save(DIR)``.

The folder holds ``report.txt`` (the terminal table), ``report.json`` (the full
report), ``layers.csv`` (one row per layer), ``config.yaml`` (the resolved config:
every value the run used; ``reramsim simulate --hw DIR/config.yaml`` runs the same
hardware), the PNGs of :func:`reramsim.plots.plot_report`, and ``trace.json`` when
the cycle engine wrote a Chrome trace there.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from reramsim.report import ReportError, format_table, write_csv, write_json

__all__ = ["config_yaml", "write_outputs"]


def config_yaml(report: dict[str, Any]) -> str:
    """The resolved config of a report as YAML that :func:`reramsim.config.load_config` reads."""
    values = {k: v for k, v in report["config_values"].items() if k != "source"}
    return (f"# resolved config of {report['model']} on {report['config']} "
            f"(from {report['config_source']})\n"
            + yaml.safe_dump(values, sort_keys=False))


def write_outputs(report: dict[str, Any], folder: str | os.PathLike[str],
                  plots: bool = True) -> list[Path]:
    """Write the report's files (and PNGs unless ``plots`` is False) into ``folder``.

    Returns the paths written. Raises ReportError (or PlotError) naming the path on failure.
    """
    from reramsim.plots import plot_report

    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ReportError(f"{out}: cannot create the output folder: {err.strerror}") from None
    files = [out / "report.txt", out / "report.json", out / "layers.csv", out / "config.yaml"]
    for path, text in ((files[0], format_table(report) + "\n"), (files[3], config_yaml(report))):
        try:
            path.write_text(text)
        except OSError as err:
            raise ReportError(f"{path}: cannot write: {err.strerror}") from None
    write_json(report, files[1])
    write_csv(report, files[2])
    if plots:
        files += plot_report(report, out)
    return files
