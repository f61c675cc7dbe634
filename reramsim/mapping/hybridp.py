"""The Hybrid-P mapping (reconstruction): whole rows and columns removed, the rest compacted.

SegPrune compares against "Hybrid-P", a paper we could not identify. reramsim's
**reconstruction** (``docs/hybridp.md``): structured pruning of whole rows (one input
channel slice ``(c, ky, kx)``) and whole columns (filters) over the whole matrix of
each conv group; the kept sub-matrix ``M[rows, cols]`` is compacted into dense
crossbars (:func:`reramsim.mapping.compact.map_blocks`, one block per conv group),
with an input row list (gather in front of the DACs) and an output column list
(filter index of each compacted column) as its data path.

The structure comes from the ONNX metadata (:class:`HybridLayout` per group) or from
the zeros: the rows and columns that hold a non-zero weight.

Example: a 576x64 conv matrix keeping 288 rows and 32 columns is one 288x32 block:
``ceil(288/128) * ceil(32*8/128) = 3 * 2 = 6`` crossbars instead of the dense 20.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reramsim.config import Config
from reramsim.ir import WeightLayer
from reramsim.mapping.base import LayerMapping, MappingError, check_options, register_mapper
from reramsim.mapping.compact import Block, map_blocks

MAPPER_OPTIONS = ("layouts", "source")


@dataclass
class HybridLayout:
    """Hybrid-P's structure of one conv group's matrix: kept rows and kept columns."""

    rows: np.ndarray  # (R,) bool
    cols: np.ndarray  # (C,) bool

    def mask(self) -> np.ndarray:
        """The ``(R, C)`` keep mask: the cross product of kept rows and columns."""
        return np.outer(self.rows, self.cols)


def hybrid_layout_from_matrix(matrix: np.ndarray) -> HybridLayout:
    """The rows and columns of ``matrix`` that hold a non-zero weight."""
    nonzero = matrix != 0
    return HybridLayout(nonzero.any(axis=1), nonzero.any(axis=0))


@register_mapper("hybridp")
def map_hybridp(layer: WeightLayer, config: Config, options: dict | None = None
                ) -> LayerMapping:
    """Map a (pruned) layer as one compacted block per conv group (module doc).

    Args:
        options: ``{}`` (recover kept rows and columns from the zeros) or ``layouts``
            (one :class:`HybridLayout` per conv group, from the metadata).

    Raises:
        MappingError: unknown options, or a layout that does not fit or cover the weights.
    """
    options = options or {}
    where = f"layer {layer.name} (hybridp)"
    check_options(where, options, MAPPER_OPTIONS)
    layouts = options.get("layouts")
    if layouts is None:
        layouts = [hybrid_layout_from_matrix(m) for m in layer.matrices()]
    if len(layouts) != layer.groups:
        raise MappingError(f"{where}: {len(layouts)} layouts for {layer.groups} conv groups")
    for lay in layouts:
        if lay.rows.shape != (layer.rows,) or lay.cols.shape != (layer.cols,):
            raise MappingError(f"{where}: layout of {lay.rows.shape[0]} rows x "
                               f"{lay.cols.shape[0]} columns for a {layer.rows}x{layer.cols} "
                               "matrix")
    blocks = [Block(g, np.flatnonzero(lay.rows), np.flatnonzero(lay.cols))
              for g, lay in enumerate(layouts)]
    return map_blocks(layer, config, "hybridp", blocks, {
        "source": options.get("source", "metadata" if "layouts" in options else "zeros"),
        "kept_rows": int(sum(lay.rows.sum() for lay in layouts)),
        "kept_columns": int(sum(lay.cols.sum() for lay in layouts)),
        "reconstruction": True,
    })
