"""Helpers shared by the pruning tests: random SegPrune layouts and pruned zoo models."""
from __future__ import annotations

import numpy as np

from reramsim.mapping.segprune import SegmentLayout, block_bounds


def random_layout(rows: int, cols: int, height: int, rng: np.random.Generator,
                  max_shapes: int = 8, p_empty: float = 0.3) -> SegmentLayout:
    """A random layout: per row-block up to ``max_shapes`` random non-empty shapes, random ids."""
    shapes, assign = [], np.zeros((len(block_bounds(rows, height)), cols), np.int32)
    for b, (start, stop) in enumerate(block_bounds(rows, height)):
        n = int(rng.integers(1, max_shapes + 1))
        table = rng.random((n, stop - start)) < rng.uniform(0.2, 0.8)
        table[np.arange(n), rng.integers(0, stop - start, n)] = True  # never empty
        _, first = np.unique(table, axis=0, return_index=True)
        table = table[np.sort(first)]
        ids = rng.integers(1, len(table) + 1, cols)
        ids[rng.random(cols) < p_empty] = 0
        used = np.unique(ids[ids > 0])
        remap = np.zeros(len(table) + 1, np.int32)
        remap[used] = np.arange(1, len(used) + 1)
        shapes.append(table[used - 1])
        assign[b] = remap[ids]
    return SegmentLayout(height, shapes, assign)
