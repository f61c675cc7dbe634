"""Writing the weights into the crossbars: cells written, time and energy of one load.

The model (``docs/timing.md``, "Weight programming"):

* every cell a mapping uses is written once per load: ``LayerMapping.cells_used``, the
  cells of its OUs, zero cells included (a cell at level 0 is RESET, a write too), once
  per copy of a replicated layer; each costs ``crossbar.cell_write_energy_pj``;
* an array writes one word-line at a time, all of that word-line's cells with one pulse
  of ``crossbar.write_latency_ns`` (MNSIM-2.0's crossbar model: write latency = device
  write latency x rows written);
* every array of the chip writes at the same time (each has its own row and column
  drivers: a reconstruction), so a load takes ``cycles(W x write_latency_ns)`` with
  ``W`` the most word-lines one array writes.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from reramsim.config import Config
from reramsim.mapping import LayerMapping, NetworkMapping

__all__ = ["Programming", "crossbar_rows_written", "weight_programming"]


@dataclass(frozen=True)
class Programming:
    """One load of weights: cells per layer, the busiest array's word-lines, time, energy."""

    config: Config
    layer_cells: dict[str, int]  # weight layer -> cells written (all its copies)
    rows: int  # the most word-lines one crossbar writes
    cycles: int  # cycles(rows x crossbar.write_latency_ns)

    @property
    def cells(self) -> int:
        return sum(self.layer_cells.values())

    @property
    def time_ns(self) -> float:
        return self.cycles * self.config.cycle_ns

    @property
    def energy_pj(self) -> float:
        return self.cells * self.config.crossbar.cell_write_energy_pj


def crossbar_rows_written(lmap: LayerMapping) -> np.ndarray:
    """Word-lines each crossbar of a layer writes: the distinct word-lines of its OUs."""
    xbar_of_row = np.repeat(np.asarray(lmap.ou_xbar, np.int64), lmap.ou_n_rows)
    wl = np.asarray(lmap.ou_wl, np.int64)
    written = np.zeros((lmap.n_crossbars, int(wl.max(initial=0)) + 1), bool)
    written[xbar_of_row, wl] = True
    return written.sum(axis=1)


def weight_programming(mapping: NetworkMapping, layers: Iterable[str] | None = None,
                       copies: dict[str, int] | None = None) -> Programming:
    """The load of ``layers`` (default: every weight layer of ``mapping``).

    Args:
        mapping: the layers' crossbars and OUs (its ``config`` prices the writes).
        layers: the weight layers written together (a group of a reloaded run).
        copies: copies of each layer on the chip (default 1 each).
    """
    cfg = mapping.config
    names = list(mapping.layers if layers is None else layers)
    copies = copies or {}
    layer_cells = {name: mapping.layers[name].cells_used * int(copies.get(name, 1))
                   for name in names}
    rows = max((int(crossbar_rows_written(mapping.layers[name]).max(initial=0))
                for name in names), default=0)
    return Programming(cfg, layer_cells, rows, cfg.cycles(rows * cfg.crossbar.write_latency_ns))
