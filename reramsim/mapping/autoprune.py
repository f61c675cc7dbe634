"""The AUTO-PRUNE mapping: OU formation from surviving column vectors, the OU list, the index.

AUTO-PRUNE (Yang et al., ICS 2021) prunes *column vectors* and forms OUs from what
survives; a weight index buffer tells the input fetch which inputs each OU needs,
which solves the "dislocation problem" (after compaction, cells of one physical
word-line belong to different inputs in different OUs). The slides give the ideas,
not the rules; the rules below are **reconstructions** (``docs/autoprune.md``):

* A *column vector* is ``g`` consecutive rows of one column (``g = granularity``,
  default 16): vector ``(b, j) = M[b*g:(b+1)*g, j]`` (the last block may be shorter).
  A layer's *vector mask* is ``(n_blocks, cols)`` bool: True = the vector survives.
* **OU formation**, two ways; per conv group the one with fewer OUs is used (ties:
  columns), or the one option ``ou_formation`` names. An OU holds ``vpo = max(1,
  ou.rows // g)`` blocks (a block taller than the OU is cut into pieces of ``ou.rows``
  rows, one piece per OU) of ``cpc = max(1, ou.cols // slices)`` columns; an OU is
  (column set, list of block ids), and a block it holds for a column that pruned it is
  stored as zero cells.

  - ``"columns"``: columns with no surviving vector are dropped; the others are ordered
    greedily so that neighbours share surviving blocks (start from the column with the
    most survivors, then repeatedly append the remaining column that adds the fewest new
    blocks to the current chunk's union; ties: most blocks in common, then lowest index);
    every ``cpc`` columns form a *chunk*, whose union of surviving blocks is packed in
    ascending order, ``vpo`` blocks per OU.
  - ``"blocks"``: the transpose: blocks are grouped ``vpo`` at a time by the same greedy
    rule on the columns that keep them; the columns that keep any block of a group, in
    ascending order, are cut into chunks of ``cpc``, one OU per chunk.

  A chunk whose bit-lines (``cols x slices``) exceed ``ou.cols`` takes several OUs side
  by side.
* **The OU list and placement.** A crossbar is a grid of OU slots, ``xbar_rows //
  ou.rows`` by ``xbar_cols // ou.cols``; OUs fill the slots in OU-list order (slot-row
  major), so a layer needs ``ceil(n_OUs / slots)`` crossbars per conv group (times 2 for
  differential pairs). One physical word-line therefore carries different inputs in
  different OU slots: the word-line's input is chosen per OU step from the index.
* **Weight index buffer** (charged by both engines, energy and area): per OU, the ids of
  its blocks (``ceil(log2 n_blocks)`` bits each, plus ``ceil(log2 pieces)`` when blocks are
  cut) and, when the group has several chunks, its chunk id (``ceil(log2 chunks)``); per
  distinct chunk, the filter index of each column (``ceil(log2 cols)`` bits) so partial
  sums reach the right accumulator. Per OU step: 2 index reads (block ids, filter word)
  and ``rows`` gathered inputs. A crossbar's gather fan-in is the largest number of
  distinct inputs any of its word-lines is fed.

Example: 8-bit weights on 1-bit cells (8 slices), OU 32x32, ``g = 16``: a chunk holds
4 columns; if their surviving blocks are {0, 3}, {3}, {0, 5}, {} the ``"columns"`` union
is {0, 3, 5}, packed as 2 OUs (blocks [0, 3] and [5]), each 32 (or 16) word-lines x 24
bit-lines; ``"blocks"`` also needs 2 OUs (blocks {0, 5} x columns {0, 2}, block {3} x
columns {0, 1}), so the tie goes to ``"columns"``; 16 slots per 128x128 crossbar.
"""
from __future__ import annotations

import numpy as np

from reramsim.config import Config
from reramsim.ir import WeightLayer
from reramsim.mapping.base import (
    LayerMapping,
    MappingError,
    check_options,
    concat_ous,
    index_bits,
    register_mapper,
)

#: Column-vector height, a reconstruction default (docs/autoprune.md; 4/8/16/32 studied).
DEFAULT_GRANULARITY = 16
#: Index-buffer lookups per OU step: the OU's block ids and its chunk's filter-index word.
INDEX_READS_PER_OU = 2
#: Per-layer options the mapper accepts (``vector_masks`` come from the ONNX metadata).
MAPPER_OPTIONS = ("granularity", "vector_masks", "source", "ou_formation")


def n_blocks(rows: int, granularity: int) -> int:
    """Column vectors per column: ``ceil(rows / g)``."""
    return -(-rows // granularity)


def check_granularity(granularity: int, config: Config | None, where: str) -> int:
    """``granularity`` as an int in ``[1, crossbar rows]``; raises MappingError otherwise."""
    if not isinstance(granularity, (int, np.integer)) or isinstance(granularity, bool) \
            or granularity < 1:
        raise MappingError(f"{where}: granularity must be an integer >= 1, got {granularity!r}")
    if config is not None and granularity > config.crossbar.rows:
        raise MappingError(f"{where}: granularity {granularity} is larger than the crossbar's "
                           f"{config.crossbar.rows} rows")
    return int(granularity)


def vector_mask_from_matrix(matrix: np.ndarray, granularity: int) -> np.ndarray:
    """``(n_blocks, cols)`` bool: the vectors of ``matrix`` holding any non-zero weight."""
    rows, cols = matrix.shape
    nb = n_blocks(rows, granularity)
    padded = np.zeros((nb * granularity, cols), bool)
    padded[:rows] = matrix != 0
    return padded.reshape(nb, granularity, cols).any(axis=1)


def expand_vector_mask(vmask: np.ndarray, rows: int, granularity: int) -> np.ndarray:
    """The ``(rows, cols)`` weight keep mask of a vector mask."""
    return np.repeat(vmask, granularity, axis=0)[:rows]


# --------------------------------------------------------------------------- OU formation


def order_columns(vmask: np.ndarray, chunk: int) -> list[np.ndarray]:
    """Greedy similarity grouping of the non-empty columns into chunks of ``chunk`` columns.

    Returns the column ids of every chunk (module doc: start from the column with the
    most surviving vectors; add the column that grows the chunk's union least).
    """
    counts = vmask.sum(axis=0)
    free = np.flatnonzero(counts > 0)
    if chunk == 1:
        return [np.array([c]) for c in free]
    masks = vmask.T  # (cols, blocks)
    remaining = np.ones(len(free), bool)
    chunks: list[np.ndarray] = []
    while remaining.any():
        idx = np.flatnonzero(remaining)
        first = idx[np.argmax(counts[free[idx]])]  # first max: lowest index among ties
        members = [first]
        remaining[first] = False
        union = masks[free[first]].copy()
        while len(members) < chunk and remaining.any():
            idx = np.flatnonzero(remaining)
            cand = masks[free[idx]]
            new = (cand & ~union).sum(axis=1)
            common = (cand & union).sum(axis=1)
            best = idx[np.lexsort((-common, new))[0]]  # fewest new, then most common
            members.append(best)
            remaining[best] = False
            union |= masks[free[best]]
        chunks.append(free[np.array(members)])
    return chunks


def _row_units(blocks: np.ndarray, rows: int, g: int, ou_rows: int) -> list[list[tuple[int, int]]]:
    """The OUs' row sets of one chunk: lists of ``(start row, n rows)``, one list per OU."""
    spans = []
    for b in blocks:
        start, stop = int(b) * g, min(int(b) * g + g, rows)
        spans += [(r, min(ou_rows, stop - r)) for r in range(start, stop, ou_rows)]
    if g <= ou_rows:
        per = max(1, ou_rows // g)
        return [spans[i:i + per] for i in range(0, len(spans), per)]
    return [[s] for s in spans]


#: OU formations: chunks of similar columns ("columns") or groups of similar blocks ("blocks").
FORMATIONS = ("columns", "blocks")


def form_tiles(vmask: np.ndarray, rows: int, granularity: int, config: Config,
               formation: str) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
    """The OU tiles of one conv group: ``(row spans [(start, n)], columns)`` per tile.

    A tile is what one OU holds before its bit-lines are cut into ``ou.cols`` pieces
    (module doc): ``"columns"``: a chunk of similar columns x the union of their blocks;
    ``"blocks"``: a group of ``ou.rows // g`` similar blocks x a chunk of the columns
    that keep any of them.
    """
    g, our = granularity, config.ou.rows
    cpc = max(1, config.ou.cols // config.slices)
    tiles = []
    if formation == "columns":
        for cols in order_columns(vmask, cpc):
            blocks = np.flatnonzero(vmask[:, cols].any(axis=1))
            tiles += [(units, cols) for units in _row_units(blocks, rows, g, our)]
    else:
        vpo = max(1, our // g) if g <= our else 1
        for blocks in order_columns(vmask.T, vpo):
            cols = np.flatnonzero(vmask[np.sort(blocks)].any(axis=0))
            for units in _row_units(np.sort(blocks), rows, g, our):
                tiles += [(units, cols[c:c + cpc]) for c in range(0, len(cols), cpc)]
    return tiles


def ou_count(vmask: np.ndarray, rows: int, granularity: int, config: Config,
             formation: str = "columns") -> int:
    """OUs one conv group's vector mask needs with ``formation`` (no OU arrays built)."""
    s, ouc = config.slices, config.ou.cols
    g, our = granularity, config.ou.rows
    cpc = max(1, ouc // s)
    per_chunk = -(-cpc * s // ouc)  # OUs side by side for a full chunk's bit-lines
    nb = vmask.shape[0]
    last_rows = rows - (nb - 1) * g
    pieces = np.full(nb, -(-g // our) if g > our else 1)
    pieces[-1] = -(-last_rows // our) if g > our else 1
    total = 0
    if formation == "columns":
        per = max(1, our // g) if g <= our else 1
        for cols in order_columns(vmask, cpc):
            union = vmask[:, cols].any(axis=1)
            units = int(pieces[union].sum())
            total += -(-units // per) * -(-len(cols) * s // ouc)
        return total
    vpo = max(1, our // g) if g <= our else 1
    for blocks in order_columns(vmask.T, vpo):
        n_cols = int(vmask[blocks].any(axis=0).sum())
        units = 1 if g <= our else int(pieces[blocks].sum())
        full, rest = divmod(n_cols, cpc)
        total += units * (full * per_chunk + -(-rest * s // ouc))
    return total


def best_formation(vmask: np.ndarray, rows: int, granularity: int, config: Config
                   ) -> tuple[str, int]:
    """``(formation, OUs)`` with the fewest OUs (ties: ``"columns"``)."""
    counts = [(ou_count(vmask, rows, granularity, config, f), i) for i, f in
              enumerate(FORMATIONS)]
    n, i = min(counts)
    return FORMATIONS[i], n


def slots_per_crossbar(config: Config) -> int:
    """OU slots of one crossbar: ``(xbar_rows // ou.rows) * (xbar_cols // ou.cols)``."""
    return max(1, config.crossbar.rows // config.ou.rows) * max(1, config.crossbar.cols
                                                                // config.ou.cols)


def crossbar_count(vmasks: list[np.ndarray] | np.ndarray, rows: int, granularity: int,
                   config: Config) -> int:
    """Crossbars of a layer (all conv groups and polarities) from its vector masks.

    The same count :func:`map_autoprune` produces, without building the OU arrays:
    cheap enough for every step of the agent.
    """
    slots = slots_per_crossbar(config)
    return sum(-(-best_formation(vm, rows, granularity, config)[1] // slots)
               for vm in vmasks) * config.polarities


# --------------------------------------------------------------------------- the mapper


def layer_vector_masks(layer: WeightLayer, config: Config, options: dict
                       ) -> tuple[int, list[np.ndarray]]:
    """``(granularity, vector mask per conv group)`` from ``options`` or from the zeros."""
    where = f"layer {layer.name} (autoprune)"
    check_options(where, options, MAPPER_OPTIONS)
    g = check_granularity(options.get("granularity", DEFAULT_GRANULARITY), config, where)
    masks = options.get("vector_masks")
    from_zeros = [vector_mask_from_matrix(m, g) for m in layer.matrices()]
    if masks is None:
        return g, from_zeros
    if len(masks) != layer.groups:
        raise MappingError(f"{where}: {len(masks)} vector masks for {layer.groups} conv groups")
    out = []
    for k, (mask, needed) in enumerate(zip(masks, from_zeros)):
        mask = np.asarray(mask, bool)
        if mask.shape != needed.shape:
            raise MappingError(f"{where}: vector mask {mask.shape} does not fit the "
                               f"{layer.rows}x{layer.cols} matrix with granularity {g}")
        missing = needed & ~mask
        if missing.any():
            b, c = (int(v[0]) for v in np.nonzero(missing))
            raise MappingError(f"{where}: group {k}: column {c} has non-zero weights in "
                               f"pruned vector {b}; the pruning metadata does not match "
                               "the weights")
        out.append(mask)
    return g, out


@register_mapper("autoprune")
def map_autoprune(layer: WeightLayer, config: Config, options: dict | None = None
                  ) -> LayerMapping:
    """Map a column-vector-pruned layer: OU list, slot placement, weight index (module doc).

    Args:
        layer: the weight layer; its zeros are the pruned weights.
        config: the hardware (crossbar and OU size, bit slicing, polarities).
        options: ``{}`` (vectors recovered from the zeros, ``g`` = 16), or ``granularity``
            and ``vector_masks`` (one ``(n_blocks, cols)`` mask per group) from the metadata.

    Raises:
        MappingError: bad options, a granularity larger than the crossbar, or masks that
            do not cover the non-zero weights.
    """
    options = options or {}
    g, vmasks = layer_vector_masks(layer, config, options)
    s, n_pol = config.slices, config.polarities
    our, ouc = config.ou.rows, config.ou.cols
    lanes = max(1, config.crossbar.cols // ouc)
    slots = slots_per_crossbar(config)
    cpc = max(1, ouc // s)
    nb = n_blocks(layer.rows, g)
    pieces_per_block = -(-g // our) if g > our else 1
    block_bits = index_bits(nb) if nb > 1 else 0
    piece_bits = index_bits(pieces_per_block) if pieces_per_block > 1 else 0
    rows_l, wl_l, cols_l, bl_l, sl_l, xbar_l = [], [], [], [], [], []
    xbar_group: list[int] = []
    storage = {"block_ids": 0, "chunk_ids": 0, "filter_indices": 0}
    base = n_chunks = 0
    formations = []
    for grp, vmask in enumerate(vmasks):
        formation = options.get("ou_formation") or best_formation(vmask, layer.rows, g,
                                                                 config)[0]
        if formation not in FORMATIONS:
            raise MappingError(f"layer {layer.name} (autoprune): ou_formation must be one of "
                               f"{', '.join(FORMATIONS)}, got {formation!r}")
        formations.append(formation)
        k = 0  # OU index within the group
        chunks: set[tuple[int, ...]] = set()
        for units, cols in form_tiles(vmask, layer.rows, g, config, formation):
            chunks.add(tuple(int(c) for c in cols))
            ou_rows = np.concatenate([np.arange(a, a + n, dtype=np.int32) for a, n in units])
            bl_cols = np.repeat(cols, s).astype(np.int32)
            bl_slices = np.tile(np.arange(s, dtype=np.int16), len(cols))
            for c0 in range(0, len(bl_cols), ouc):
                xbar, slot = divmod(k, slots)
                wl0, bl0 = (slot // lanes) * our, (slot % lanes) * ouc
                n_bl = min(ouc, len(bl_cols) - c0)
                for pol in range(n_pol):
                    xbar_l.append((base + xbar) * n_pol + pol)
                    rows_l.append(ou_rows)
                    wl_l.append(np.arange(wl0, wl0 + len(ou_rows), dtype=np.int32))
                    cols_l.append(bl_cols[c0:c0 + n_bl])
                    sl_l.append(bl_slices[c0:c0 + n_bl])
                    bl_l.append(np.arange(bl0, bl0 + n_bl, dtype=np.int32))
                storage["block_ids"] += len(units) * (block_bits + piece_bits)
                k += 1
        n_chunks += len(chunks)
        storage["filter_indices"] += sum(len(c) for c in chunks) * index_bits(layer.cols)
        if len(chunks) > 1:
            storage["chunk_ids"] += k * index_bits(len(chunks))
        n_xbar = -(-k // slots)
        xbar_group += [grp] * (n_xbar * n_pol)
        base += n_xbar
    ou_xbar = np.asarray(xbar_l, np.int32)
    order = np.argsort(ou_xbar, kind="stable")
    row_ptr, ou_rows_arr, ou_wl = concat_ous(rows_l, wl_l, order)
    col_ptr, ou_cols_arr, ou_bl = concat_ous(cols_l, bl_l, order)
    ou_slices = (np.concatenate([sl_l[i] for i in order]) if len(order)
                 else np.zeros(0)).astype(np.int16)
    n_ou = len(order)
    ou_xbar = ou_xbar[order]
    storage["total"] = sum(storage.values())
    kept_vectors = int(sum(int(v.sum()) for v in vmasks))
    return LayerMapping(
        layer=layer.name,
        scheme="autoprune",
        xbar_group=np.asarray(xbar_group, np.int32),
        xbar_polarity=np.tile(np.array([1, -1][:n_pol], np.int8), base),
        ou_xbar=ou_xbar,
        ou_row_ptr=row_ptr,
        ou_rows=ou_rows_arr,
        ou_wl=ou_wl,
        ou_col_ptr=col_ptr,
        ou_cols=ou_cols_arr,
        ou_slices=ou_slices,
        ou_bl=ou_bl,
        ou_index_reads=np.full(n_ou, INDEX_READS_PER_OU, np.int32),
        ou_gather_inputs=np.diff(row_ptr).astype(np.int32),
        index_storage_bits=storage["total"],
        xbar_gather_fanin=_gather_fanin(ou_xbar, row_ptr, ou_rows_arr, ou_wl, base * n_pol),
        info={
            "granularity": g,
            "source": options.get("source", "metadata" if "vector_masks" in options
                                  else "zeros"),
            "vectors": nb * layer.cols * layer.groups,
            "kept_vectors": kept_vectors,
            "chunks": n_chunks,
            "ou_formation": formations,
            "cols_per_ou": cpc,
            "index_bits": storage,
            "reconstruction": True,
        },
    )


def _gather_fanin(ou_xbar: np.ndarray, row_ptr: np.ndarray, rows: np.ndarray, wl: np.ndarray,
                  n_xbar: int) -> np.ndarray:
    """Per crossbar, the most distinct inputs (matrix rows) any one word-line is fed."""
    out = np.zeros(n_xbar, np.int32)
    if not len(rows):
        return out
    xbar = np.repeat(ou_xbar.astype(np.int64), np.diff(row_ptr))
    triples = np.unique(np.stack([xbar, wl.astype(np.int64), rows.astype(np.int64)]), axis=1)
    pairs, counts = np.unique(triples[:2], axis=1, return_counts=True)
    np.maximum.at(out, pairs[0], counts.astype(np.int32))
    return out
