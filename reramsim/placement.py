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
* tiles form a mesh ``mesh_cols`` wide on each chip; tile ``t`` is tile ``l = t % T`` of
  chip ``t // T`` (``T = organization.tiles`` tiles per chip), at ``(l % cols, l // cols)``,
  and a transfer between tiles of one chip takes ``|dx| + |dy|`` hops (XY routing);
* several chips (``organization.chips``): tiles fill chip after chip; a layer copy that fits
  on one chip but not in what is left of the current one starts on the next chip (so a
  layer spans chips only when it is larger than a chip). Chips form a mesh
  ``chip_link.mesh_cols`` wide (default ``ceil(sqrt(chips))``); a transfer between chips
  goes from its tile to its chip's tile 0 (the chip links' port), over ``|dx| + |dy|``
  chip links, then from tile 0 of the destination chip to its tile.

* a replicated layer (``replicas[name] = r``, see :mod:`reramsim.replication`) is
  placed ``r`` times in a row, each copy on fresh PEs; copy ``c``'s crossbars are
  entries ``[c*n, (c+1)*n)`` of the layer's arrays and its buffers and accumulator
  are those of its own first tile (``replica_tile``); ``layer_tile`` is copy 0's.

``organization.chips: auto`` gives the model as many chips as it needs; a number of chips
that is too few raises an error that says how many it needs; ``tiles: 0`` gives one chip
as many tiles as the model needs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from reramsim.config import Config
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
    tiles_per_chip: int = 0  # 0: one chip holding every tile
    n_chips: int = 1  # chips of the node (those occupied or, with a fixed count, that count)
    chip_mesh_cols: int = 1

    def replicas(self, name: str) -> int:
        """Copies of a layer (1 for digital layers and layers placed once)."""
        return len(self.replica_tile.get(name, ())) or 1

    @property
    def chips_occupied(self) -> int:
        """Chips that hold at least one tile of the model."""
        return self.chip_of(self.n_tiles - 1) + 1

    def chip_of(self, tile: int) -> int:
        return tile // self.tiles_per_chip if self.tiles_per_chip else 0

    def tile_xy(self, tile: int) -> tuple[int, int]:
        """The tile's position in its chip's mesh."""
        local = tile % self.tiles_per_chip if self.tiles_per_chip else tile
        return local % self.mesh_cols, local // self.mesh_cols

    def chip_xy(self, chip: int) -> tuple[int, int]:
        """The chip's position in the node's chip mesh."""
        return chip % self.chip_mesh_cols, chip // self.chip_mesh_cols

    def hops(self, tile_a: int, tile_b: int) -> int:
        """Mesh hops between two tiles (0 within a tile); between chips, the hops to the
        source chip's tile 0 and from the destination chip's tile 0."""
        if self.chip_of(tile_a) != self.chip_of(tile_b):
            return (self.hops(tile_a, self.chip_of(tile_a) * self.tiles_per_chip)
                    + self.hops(self.chip_of(tile_b) * self.tiles_per_chip, tile_b))
        (ax, ay), (bx, by) = self.tile_xy(tile_a), self.tile_xy(tile_b)
        return abs(ax - bx) + abs(ay - by)

    def chip_hops(self, tile_a: int, tile_b: int) -> int:
        """Chip links between the chips of two tiles (0 on one chip)."""
        (ax, ay), (bx, by) = (self.chip_xy(self.chip_of(t)) for t in (tile_a, tile_b))
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
    pes_per_chip = org.tiles * org.pes_per_tile
    next_pe = 0
    for layer in network.layers:
        if layer.name in mapping.layers:
            n = mapping.layers[layer.name].n_crossbars
            local = np.arange(n)
            pes, adcs, tiles = [], [], []
            for _ in range(int(replicas.get(layer.name, 1))):
                need = max(1, -(-n // per_pe))
                if pes_per_chip and need <= pes_per_chip < next_pe % pes_per_chip + need:
                    next_pe += pes_per_chip - next_pe % pes_per_chip  # start the next chip
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
    needed = -(-n_tiles // org.tiles) if org.tiles else 1
    if org.chips != "auto" and needed > org.chips:
        raise MappingError(
            f"{network.name}: needs {needed} chips of {org.tiles} tiles ({n_tiles} tiles, "
            f"{placed} crossbars, {org.crossbars_per_pe} per PE, {org.pes_per_tile} PEs per "
            f"tile) but the config '{mapping.config.name}' has organization.chips: "
            f"{org.chips}; set organization.chips: auto for as many as needed, or "
            "mapping.reload: true to run it on one chip in groups of layers")
    n_chips = needed if org.chips == "auto" else int(org.chips)
    mesh_cols = org.mesh_cols or math.ceil(math.sqrt(org.tiles or n_tiles))
    chip_cols = mapping.config.chip_link.mesh_cols or math.ceil(math.sqrt(n_chips))
    _check_chip_links(mapping.config, n_chips, chip_cols)
    return Placement(xbar_pe, xbar_tile, xbar_adc, layer_tile, next_pe, n_tiles,
                     next_pe * groups_per_pe, mesh_cols, replica_tile, org.tiles, n_chips,
                     chip_cols)


def _check_chip_links(config: Config, n_chips: int, cols: int) -> None:
    """Every chip of the chip mesh has a link port per neighbour (``chip_link.links_per_chip``).

    Raises:
        MappingError: a chip with more neighbours than link ports.
    """
    def neighbours(c: int) -> int:
        x, y = c % cols, c // cols
        near = [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
        return sum(0 <= nx < cols and 0 <= ny and ny * cols + nx < n_chips for nx, ny in near)

    degree = max((neighbours(c) for c in range(n_chips)), default=0)
    if degree > config.chip_link.links_per_chip:
        raise MappingError(
            f"config '{config.name}': a mesh of {n_chips} chips {cols} wide gives a chip "
            f"{degree} neighbours but chip_link.links_per_chip is "
            f"{config.chip_link.links_per_chip}")
