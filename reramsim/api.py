"""The Python API: ``import reramsim as rs``; thin wrappers over :mod:`reramsim.pipeline`.

>>> net = rs.load_model("models/lenet.onnx")                        # doctest: +SKIP
>>> hw = rs.load_config("isaac", set={"adc.bits": 6})               # doctest: +SKIP
>>> res = rs.simulate(net, hw, engine="analytical")                 # doctest: +SKIP
>>> res.totals["latency_ns"], res.layers[0]["name"]                 # doctest: +SKIP
>>> table = rs.sweep("models/lenet.onnx", "isaac", grid={"adc.bits": [4, 6]})  # doctest: +SKIP

The CLI and the sweep workers call the same library functions; overrides may be
given as a dict ``{"adc.bits": 6}`` or as ``["adc.bits=6"]`` strings.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reramsim import pipeline
from reramsim.config import Config
from reramsim.ir import Network

__all__ = ["Result", "load_config", "load_model", "simulate", "sweep"]

Overrides = Mapping[str, Any] | Sequence[str] | None

load_model = pipeline.load_model


def _overrides(values: Overrides) -> list[str]:
    """``{"adc.bits": 6}`` or ``["adc.bits=6"]`` -> ``["adc.bits=6"]``."""
    if values is None:
        return []
    if isinstance(values, Mapping):
        from reramsim.sweeps import override

        return [override(key, value) for key, value in values.items()]
    if isinstance(values, str):
        return [values]
    return list(values)


def load_config(name_or_path: str | os.PathLike[str], set: Overrides = None) -> Config:  # noqa: A002
    """A shipped config by name (``"isaac"``) or a YAML file, with ``set`` overrides on top.

    Raises:
        reramsim.config.ConfigError: one line naming the file or override and what was expected.
    """
    return pipeline.load_config(name_or_path, tuple(_overrides(set)))


class Result:
    """One simulation: the report's figures plus the objects that produced them.

    Attributes:
        report: the JSON-ready report (:func:`reramsim.report.build_report`).
        simulation: the :class:`reramsim.simulator.Simulation` (network, config, mapping,
            placement, engine result).
    """

    def __init__(self, simulation: Any):
        from reramsim.report import build_report

        self.simulation = simulation
        self.report = build_report(simulation)

    @property
    def totals(self) -> dict[str, Any]:
        """Whole-run figures: ``latency_ns``, ``energy_pj``, ``area_um2``, crossbars, ..."""
        return self.report["totals"]

    @property
    def layers(self) -> list[dict[str, Any]]:
        """One dict per layer: timing, energy per component, event counts, utilisation."""
        return self.report["layers"]

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The full report as JSON text (also written to ``path`` when given)."""
        text = json.dumps(self.report, indent=2) + "\n"
        if path is not None:
            from reramsim.report import write_json

            write_json(self.report, path)
        return text

    def to_dataframe(self):
        """The per-layer table as a pandas DataFrame (columns as in the CSV report).

        Raises:
            ImportError: pandas is not installed.
        """
        import io

        import pandas as pd

        from reramsim.report import report_csv

        return pd.read_csv(io.StringIO(report_csv(self.report)))

    def save(self, folder: str | os.PathLike[str], plots: bool = True) -> list[Path]:
        """Write the results folder of ``reramsim simulate --out`` (see :mod:`reramsim.outputs`)."""
        from reramsim.outputs import write_outputs

        return write_outputs(self.report, folder, plots)

    def __repr__(self) -> str:
        t = self.totals
        return (f"<Result {self.report['model']} on {self.report['config']}: "
                f"{t['latency_ns'] / 1e3:.4g} us, {t['energy_pj'] / 1e6:.4g} uJ, "
                f"{t['area_um2'] / 1e6:.4g} mm^2>")


def simulate(model: str | os.PathLike[str] | Network, hw: str | os.PathLike[str] | Config,
             set: Overrides = None, scheme: str | None = None,  # noqa: A002
             engine: str | None = None, trace: str | os.PathLike[str] | None = None) -> Result:
    """Simulate ``model`` on ``hw`` (see :func:`reramsim.pipeline.simulate`); a :class:`Result`."""
    return Result(pipeline.simulate(model, hw, _overrides(set), scheme=scheme, engine=engine,
                                    trace=trace))


def sweep(models: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
          hw: str | os.PathLike[str], grid: Mapping[str, Sequence[Any]] | None = None, *,
          set: Overrides = None, schemes: Sequence[str | None] = (None,),  # noqa: A002
          engine: str | None = None, random: int | None = None, seed: int = 0,
          data: str | None = None, out: str | os.PathLike[str] | None = None,
          backend: str = "local", jobs: int = 1, ray_address: str | None = None,
          progress: bool = False) -> list[dict[str, Any]]:
    """Run a sweep (see :mod:`reramsim.sweeps`); the results table, one flat dict per point.

    Each row holds ``index``, ``point``, ``status``, the swept values (``model``,
    ``scheme`` and each grid key), ``config_hash``, every total of the report,
    accuracies with ``data``, and ``error`` for a failed point. With ``out`` the
    results folder is written and a later call resumes it.
    """
    from reramsim.sweeps import SweepSpec, run_sweep, table_rows

    if isinstance(models, (str, os.PathLike)):
        models = [models]
    spec = SweepSpec(models=[str(m) for m in models], hw=str(hw),
                     grid={k: list(v) for k, v in (grid or {}).items()},
                     overrides=_overrides(set), schemes=list(schemes), engine=engine,
                     random=random, seed=seed, data=data)
    records = run_sweep(spec, out, backend=backend, jobs=jobs, ray_address=ray_address,
                        progress=progress)
    return table_rows(records)
