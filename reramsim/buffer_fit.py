"""Whether each layer's live inputs fit its tile's input buffer (``buffers.input.size_kb``).

A layer fetches its input vectors from the input buffer of its tile; in pixel
pipelining it needs only a window of each input feature map at once
(:func:`reramsim.plan.live_input_pixels`), in layer pipelining the whole map. Its
*live bytes* are that window's elements at ``precision.input_bits`` each, summed over
its inputs::

    live_bytes = sum over inputs of ceil(live_pixels x elements_per_pixel x input_bits / 8)

A layer whose live bytes exceed ``size_kb x 1024`` is an overflow, which the report
names (layer, tile, bytes needed and available). Layers on one tile share its buffer,
and a pixel pipeline runs them all at once (on successive pixels and images), so a
tile whose layers' live bytes together exceed it is reported too (every copy of a
replicated layer holds its own window on its own tile). The timing model does not
charge the spill (it keeps no buffer occupancy); the check says where a real design
would need a larger buffer, a different placement or off-tile traffic. ``size_kb: 0``
is unbounded (no check). See ``docs/components.md``.
"""
from __future__ import annotations

from dataclasses import dataclass

from reramsim.config import Config
from reramsim.ir import Network
from reramsim.ops.base import per_pixel
from reramsim.placement import Placement
from reramsim.plan import live_input_pixels


@dataclass(frozen=True)
class BufferFit:
    """One layer's live inputs against its tile's input buffer.

    Attributes:
        layer: the IR layer.
        tile: its home tile (every copy of a replicated layer needs the same on its tile).
        live_bytes: bytes of input it must hold at once.
        available_bytes: the input buffer's capacity; ``None``: unbounded (``size_kb: 0``).
    """

    layer: str
    tile: int
    live_bytes: int
    available_bytes: int | None
    tiles: tuple[int, ...] = ()  # the tiles of all its copies (home tile first)

    @property
    def fits(self) -> bool:
        return self.available_bytes is None or self.live_bytes <= self.available_bytes


def input_buffer_fit(network: Network, config: Config, placement: Placement) -> list[BufferFit]:
    """Every layer's :class:`BufferFit`, in the network's order (formula in the module doc)."""
    size_kb = config.buffers.input.size_kb
    available = round(size_kb * 1024) if size_kb > 0 else None
    bits = config.precision.input_bits
    out = []
    for layer in network.layers:
        live_bits = 0
        for shape in dict(zip(layer.inputs, layer.in_shapes)).values():
            pixels = live_input_pixels(layer, shape, config.pipeline.mode)
            live_bits += -(-pixels * per_pixel(shape) * bits // 8) * 8
        home = int(placement.layer_tile[layer.name])
        tiles = tuple(int(t) for t in placement.replica_tile.get(layer.name) or [home])
        out.append(BufferFit(layer.name, home, live_bits // 8, available, tiles))
    return out


@dataclass(frozen=True)
class TileFit:
    """The live inputs of every layer (copy) on one tile against the tile's input buffer."""

    tile: int
    layers: tuple[str, ...]
    live_bytes: int
    available_bytes: int | None

    @property
    def fits(self) -> bool:
        return self.available_bytes is None or self.live_bytes <= self.available_bytes


def tile_fit(fits: list[BufferFit]) -> list[TileFit]:
    """Per tile, in tile order: the sum of the live bytes of the layer copies it holds."""
    layers: dict[int, list[BufferFit]] = {}
    for fit in fits:
        for tile in fit.tiles or (fit.tile,):
            layers.setdefault(tile, []).append(fit)
    available = fits[0].available_bytes if fits else None
    return [TileFit(tile, tuple(f.layer for f in on), sum(f.live_bytes for f in on), available)
            for tile, on in sorted(layers.items())]
