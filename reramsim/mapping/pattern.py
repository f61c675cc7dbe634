"""The Pattern-Prune mapping: filters grouped by pattern, rows saved where a block is all zero.

Pattern-Prune (PatDNN family, 2020) keeps, in every 3x3 kernel, the positions of one
of a few *patterns* and removes whole kernels (connectivity pruning). On a crossbar a
pattern-pruned kernel still occupies its 9 rows in its filter's column: a row can only
be dropped when it is zero in *every* column the crossbar holds. So the mapper
(reconstruction, ``docs/pattern.md``):

1. **Groups filters by pattern**: columns are cut into blocks of ``block_cols`` (default
   ``xbar_cols // s``, one crossbar of bit-lines), built greedily: a block starts with
   the free column with the most kept rows and adds, one at a time, the free column
   that adds the fewest rows to the block's union of kept rows (ties: lowest index).
   Filters with the same patterns on the same channels end up together. All-zero
   columns are left out.
2. **Saves rows** zero across a whole block: each block keeps the union of its
   columns' kept rows, compacted by :func:`reramsim.mapping.compact.map_blocks`; the
   input gather, the row list per block and the filter index of every column (the
   columns are re-ordered) are its data path. The pattern ids themselves are not
   needed once the row lists are stored.

The keep mask comes from the ONNX metadata (patterns and kernels, decoded by
:mod:`reramsim.prune.pattern`) or from the zeros; each kernel's pattern is then its
own non-zero positions.

Example: 16 filters of a 3x3 conv 8->16, all with pattern ``{1, 3, 4, 5}`` on every
channel, form one block of 32 rows (4 of every 9): 1 crossbar, as the dense mapping
needs for its 72 rows; 64 such filters at 16 per block need 4 crossbars of 32 rows
instead of 4 of 72: crossbars are only saved when a block's rows fall under a
multiple of ``xbar_rows``.
"""
from __future__ import annotations

import numpy as np

from reramsim.config import Config
from reramsim.ir import WeightLayer
from reramsim.mapping.base import LayerMapping, MappingError, check_options, register_mapper
from reramsim.mapping.compact import Block, map_blocks
from reramsim.mapping.pimprune import default_block_cols

MAPPER_OPTIONS = ("block_cols", "masks", "source")


def group_filters(mask: np.ndarray, block_cols: int) -> list[np.ndarray]:
    """Blocks of at most ``block_cols`` columns of ``mask`` grouped by kept rows (module doc).

    Args:
        mask: ``(rows, cols)`` bool keep mask.
        block_cols: columns per block (>= 1).

    Returns:
        each block's columns, ascending; the non-empty columns appear once each.
    """
    counts = mask.sum(axis=0)
    remaining = np.flatnonzero(counts > 0)
    blocks = []
    while len(remaining):
        seed = int(remaining[np.argmax(counts[remaining])])
        remaining = remaining[remaining != seed]
        union = mask[:, seed].copy()
        members = [seed]
        overlap = np.count_nonzero(mask[np.ix_(np.flatnonzero(union), remaining)], axis=0)
        while len(members) < block_cols and len(remaining):
            pick = int(np.argmin(counts[remaining] - overlap))
            j = int(remaining[pick])
            remaining, overlap = np.delete(remaining, pick), np.delete(overlap, pick)
            added = np.flatnonzero(mask[:, j] & ~union)
            union[added] = True
            members.append(j)
            if len(added) and len(remaining):
                overlap += np.count_nonzero(mask[np.ix_(added, remaining)], axis=0)
        blocks.append(np.array(sorted(members), np.int32))
    return blocks


def kernel_patterns(mask: np.ndarray, kernel: tuple[int, int]) -> int:
    """Distinct non-empty kernel patterns of a ``(cin*kh*kw, cols)`` keep mask."""
    size = kernel[0] * kernel[1]
    kernels = mask.T.reshape(-1, size)
    packed = np.ascontiguousarray(np.packbits(kernels[kernels.any(axis=1)], axis=1))
    return len(np.unique(packed.view(f"V{packed.shape[1]}")))


@register_mapper("pattern")
def map_pattern(layer: WeightLayer, config: Config, options: dict | None = None
                ) -> LayerMapping:
    """Map a (pattern-)pruned layer: filters grouped, all-zero block rows removed (module doc).

    Args:
        options: ``{}`` (keep mask from the zeros, ``block_cols`` from the config), or
            ``block_cols`` and/or ``masks`` (one ``(rows, cols)`` keep mask per conv group,
            from the metadata).

    Raises:
        MappingError: unknown options, masks of the wrong size, or a non-zero weight that
            the metadata's mask prunes.
    """
    options = options or {}
    where = f"layer {layer.name} (pattern)"
    check_options(where, options, MAPPER_OPTIONS)
    width = int(options.get("block_cols") or default_block_cols(config))
    masks = options.get("masks")
    if masks is None:
        masks = [m != 0 for m in layer.matrices()]
    if len(masks) != layer.groups or any(m.shape != (layer.rows, layer.cols) for m in masks):
        raise MappingError(f"{where}: the keep masks do not match {layer.groups} group(s) of "
                           f"{layer.rows}x{layer.cols}")
    blocks = []
    for g, mask in enumerate(masks):
        for cols in group_filters(mask, width):
            blocks.append(Block(g, np.flatnonzero(mask[:, cols].any(axis=1)), cols))
    kernel = layer.kernel if layer.op == "conv" else (1, 1)
    return map_blocks(layer, config, "pattern", blocks, {
        "block_cols": width,
        "source": options.get("source", "metadata" if "masks" in options else "zeros"),
        "kernel": list(kernel),
        "patterns": sum(kernel_patterns(m, kernel) for m in masks),
        "mean_kept_rows": float(np.mean([len(b.rows) for b in blocks])) if blocks else 0.0,
        "reconstruction": True,
    })
