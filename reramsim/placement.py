"""Placement: which PE and tile each crossbar sits on, and where digital ops run.

Rules (ISAAC-like, documented defaults):

* weight layers are placed in topological order; each layer starts on a fresh
  PE, so two layers never share a PE (they may share a tile);
* a layer's crossbars fill ``crossbars_per_pe`` per PE, PEs fill
  ``pes_per_tile`` per tile, tiles are numbered in placement order;
* ADCs are grouped inside a PE: crossbar ``i`` of a PE uses ADC group
  ``i // adc.shared_by_crossbars`` of that PE;
* a digital layer runs on the tile of the layer that produces its first input
  (graph inputs count as tile 0);
* tiles form a mesh ``mesh_cols`` wide; tile ``t`` sits at ``(t % cols, t // cols)``
  and a transfer between tiles takes ``|dx| + |dy|`` hops (XY routing).

* a replicated layer (``replicas[name] = r``, see :mod:`reramsim.replication`) is
  placed ``r`` times in a row, each copy on fresh PEs; copy ``c``'s crossbars are
  entries ``[c*n, (c+1)*n)`` of the layer's arrays and its buffers and accumulator
  are those of its own first tile (``replica_tile``); ``layer_tile`` is copy 0's.

A model that needs more tiles than ``organization.tiles`` raises an error that
says how many it needs; ``tiles: 0`` gives it as many as it needs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from reramsim.ir import Network
from reramsim.mapping import MappingError, NetworkMapping


@dataclass
class Placement:
    """Where everything runs. Global ids count PEs, tiles and ADC groups chip-wide."""

    xbar_pe: dict[str, np.ndarray]  # weight layer -> (n_xbar,) global PE id
    xbar_tile: dict[str, np.ndarray]  # weight layer -> (n_xbar,) tile id
    xbar_adc_group: dict[str, np.ndarray]  # weight layer -> (n_xbar,) global ADC group id
    layer_tile: dict[str, int]  # every layer -> the tile whose buffers and digital units it uses
    n_pes: int
    n_tiles: int
    n_adc_groups: int
    mesh_cols: int
    replica_tile: dict[str, list[int]] = field(default_factory=dict)  # weight layer -> copy tiles

    def replicas(self, name: str) -> int:
        """Copies of a layer (1 for digital layers and layers placed once)."""
        return len(self.replica_tile.get(name, ())) or 1

    def tile_xy(self, tile: int) -> tuple[int, int]:
        return tile % self.mesh_cols, tile // self.mesh_cols

    def hops(self, tile_a: int, tile_b: int) -> int:
        """Mesh hops between two tiles (0 within a tile)."""
        (ax, ay), (bx, by) = self.tile_xy(tile_a), self.tile_xy(tile_b)
        return abs(ax - bx) + abs(ay - by)


def place(network: Network, mapping: NetworkMapping,
          replicas: dict[str, int] | None = None) -> Placement:
    """Place every crossbar of ``mapping`` on PEs and tiles (rules in the module doc).

    ``replicas`` maps a weight layer to its copies (default 1 each).

    Raises:
        MappingError: when the model needs more tiles than the config has.
    """
    org = mapping.config.organization
    per_pe, share = org.crossbars_per_pe, mapping.config.adc.shared_by_crossbars
    groups_per_pe = -(-per_pe // share)
    xbar_pe, xbar_tile, xbar_adc, layer_tile = {}, {}, {}, {}
    replica_tile: dict[str, list[int]] = {}
    replicas = replicas or {}
    next_pe = 0
    for layer in network.layers:
        if layer.name in mapping.layers:
            n = mapping.layers[layer.name].n_crossbars
            local = np.arange(n)
            pes, adcs, tiles = [], [], []
            for _ in range(int(replicas.get(layer.name, 1))):
                pe = next_pe + local // per_pe
                pes.append(pe)
                adcs.append(pe * groups_per_pe + (local % per_pe) // share)
                tiles.append(int(next_pe // org.pes_per_tile))
                next_pe += max(1, -(-n // per_pe))
            pe = np.concatenate(pes)
            xbar_pe[layer.name] = pe.astype(np.int32)
            xbar_tile[layer.name] = (pe // org.pes_per_tile).astype(np.int32)
            xbar_adc[layer.name] = np.concatenate(adcs).astype(np.int32)
            layer_tile[layer.name] = tiles[0]
            replica_tile[layer.name] = tiles
    output_tile = {network.layer(name).output: tile for name, tile in layer_tile.items()}
    for layer in network.layers:
        if layer.name not in layer_tile:
            tile = output_tile.get(layer.inputs[0], 0) if layer.inputs else 0
            layer_tile[layer.name] = tile
            output_tile[layer.output] = tile
    n_tiles = max(1, -(-next_pe // org.pes_per_tile))
    placed = sum(len(pe) for pe in xbar_pe.values())
    if org.tiles and n_tiles > org.tiles:
        raise MappingError(
            f"{network.name}: needs {n_tiles} tiles ({placed} crossbars, "
            f"{org.crossbars_per_pe} per PE, {org.pes_per_tile} PEs per tile) but the config "
            f"'{mapping.config.name}' has {org.tiles}; "
            "set organization.tiles: 0 for as many as needed, or mapping.reload: true to "
            "run it on this chip in groups of layers")
    mesh_cols = org.mesh_cols or math.ceil(math.sqrt(org.tiles or n_tiles))
    return Placement(xbar_pe, xbar_tile, xbar_adc, layer_tile, next_pe, n_tiles,
                     next_pe * groups_per_pe, mesh_cols, replica_tile)
