"""The SegPrune mapping: segments of one shape packed into crossbars by bit-line exchange.

SegPrune (Yang et al., TCAD 2022) prunes a layer's matrix ``M`` (``R`` rows, ``C``
columns, see :mod:`reramsim.ir`) segment by segment. What the paper states: a
*segment* is a sub-column of a filter (one column over a run of rows); segments of
the same *shape* (the same kept positions) are assembled into the same crossbar,
which stays dense because bit-lines are exchangeable; a low-overhead data path
feeds them. How rows are cut, how groups are packed and what the data path holds
are not public; this module's rules are **reconstructions** (docs/sources.md
[choice], documented in ``docs/segprune.md``):

* Rows are cut into *row-blocks* of ``h = segment_height`` rows (default: the
  config's OU rows); segment ``(b, j) = M[b*h:(b+1)*h, j]`` (the last block may be
  shorter). A *shape* is a mask of the block's rows; shape id 0 is the empty shape.
* A *layout* gives, per row-block, a shape table (``n_b`` masks) and the shape id of
  every column. It comes from the pruner (ONNX metadata, see
  :mod:`reramsim.prune.metadata`) or is recovered from the zeros of the weights
  (:func:`layout_from_matrix`): each segment's non-zero mask is its shape.
* A *group* = the segments of one non-empty shape in one row-block. It needs
  ``k = |shape|`` word-lines (the gathered inputs) and ``m * s`` bit-lines (``m``
  segments, ``s`` bit-slices per weight, column-major like the dense mapping).
* Packing (two-stage first-fit decreasing height): a group's bit-lines are cut into
  pieces of at most ``xbar_cols`` (a weight's slices may straddle two pieces, as in
  the dense mapping); full-width pieces are shelves of their own, narrower pieces
  share shelves side by side (same word-lines, disjoint bit-lines); shelves are
  stacked into crossbars by first-fit on word-lines. Crossbars never mix conv groups.
  A differential config duplicates every crossbar for the negative weights.
* Stacking many short groups in one crossbar saves crossbars but serialises their OUs
  (a crossbar runs one OU at a time). Option ``max_ous_per_crossbar`` (default None:
  fewest crossbars) caps the OUs a crossbar may hold: an int, or ``"dense"`` = what a
  full crossbar of the dense mapping runs, so no crossbar is slower than in the dense
  mapping (apart from the gather and index-lookup latencies).
* Packer objective (``mapping.packing`` in the config, default ``balance``): first fit
  gives the fewest crossbars but may stack most OUs on one of them; ``balance`` keeps
  that crossbar count and deals the shelves out again, most OUs first, to the
  least-loaded crossbar with room, so the busiest crossbar (which sets the layer's
  time per pixel) runs as few OUs as the shelves allow. ``crossbars`` keeps first fit.
  Option ``min_crossbars`` (``balance`` only) deals the shelves over at least that many
  crossbars (one shelf each at most): copies of layers use spare crossbars this way when
  a layer has too few pixels to copy (:mod:`reramsim.replication`).
* OUs never mix groups: an OU = up to ``ou.rows`` of the piece's ``k`` gathered rows
  x up to ``ou.cols`` of the piece's bit-lines. Word-lines of other pieces in the
  same rows are idle in that step (their bit-lines are not sensed).

Data path charged per OU step (see ``docs/segprune.md``): 2 index-buffer lookups
(the piece's shape, which sets the input gather, and the word of filter indices of
the OU's columns), ``k`` gathered inputs. A crossbar runs its pieces grouped by
row-block. Index storage per layer (:func:`index_storage_bits`): each piece's shape
(the cheaper of shape tables plus a shape id per piece, or the piece's own ``h``-bit
mask), its row-block (one block id per run of pieces of one row-block in a crossbar
plus a 1-bit run flag per piece) and the filters of its columns (the least of
``ceil(log2 C)``-bit indices, a ``C``-bit bitmap, or gaps between consecutive filters).
Gather mux fan-in per word-line: ``h``.

Example: a 3x3 conv 16->16 (``R = 144``, ``C = 16``) with ``h = 16`` has 9
row-blocks; if block 0 keeps shape ``{0, 3, 5, 9}`` for 12 filters, that group is a
4 x 96 rectangle (16-bit weights on 2-bit cells, ``s = 8``) inside one 128x128
crossbar, read as 6 OUs of 4 x 16.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reramsim.config import Config
from reramsim.ir import WeightLayer
from reramsim.mapping.base import (
    LayerMapping,
    MappingError,
    check_options,
    concat_ous,
    concat_ous3,
    index_bits,
    register_mapper,
)
from reramsim.mapping.segprune_columns import INDEX_READS_PER_OU as SHARED_INDEX_READS_PER_OU
from reramsim.mapping.segprune_columns import shared_column_ous

#: Reconstruction defaults (docs/sources.md [choice]); ``None`` height = the config's OU rows.
DEFAULT_MAX_SHAPES = 8
#: Index-buffer lookups per OU step: the piece's shape (table entry or inline mask) and the
#: filter-index word.
INDEX_READS_PER_OU = 2
#: Per-layer options the mapper accepts (``layouts`` etc. come from the ONNX metadata).
MAPPER_OPTIONS = ("layouts", "max_ous_per_crossbar", "max_shapes", "min_crossbars",
                  "segment_height", "source", "columns")
#: Data-path organisations (option ``columns``): a filter index per kept segment, or one
#: column order per crossbar (:mod:`reramsim.mapping.segprune_columns`).
COLUMN_ORGANISATIONS = ("per_piece", "shared")
DEFAULT_COLUMNS = "per_piece"


@dataclass
class SegmentLayout:
    """The segment structure of one conv group's matrix.

    Attributes:
        segment_height: ``h``, rows per row-block.
        shapes: per row-block ``b``, a ``(n_b, h_b)`` bool table; row ``i`` is shape id ``i + 1``.
        assign: ``(n_blocks, cols)`` int32 shape id of every segment, 0 = empty.
    """

    segment_height: int
    shapes: list[np.ndarray]
    assign: np.ndarray

    @property
    def n_blocks(self) -> int:
        return len(self.shapes)

    def mask(self, rows: int) -> np.ndarray:
        """The ``(rows, cols)`` keep mask the layout implies."""
        cols = self.assign.shape[1]
        out = np.zeros((rows, cols), bool)
        for b, table in enumerate(self.shapes):
            start, stop = block_bounds(rows, self.segment_height)[b]
            padded = np.vstack([np.zeros((1, stop - start), bool), table])
            out[start:stop] = padded[self.assign[b]].T
        return out

    def n_kept(self) -> int:
        """Weights the layout keeps."""
        return int(sum(np.concatenate([[0], t.sum(axis=1)])[a].sum()
                       for t, a in zip(self.shapes, self.assign)))


def block_bounds(rows: int, segment_height: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the row-blocks of a matrix with ``rows`` rows."""
    if segment_height < 1:
        raise MappingError(f"segment_height must be >= 1, got {segment_height}")
    return [(s, min(s + segment_height, rows)) for s in range(0, rows, segment_height)]


def layout_from_mask(mask: np.ndarray, segment_height: int) -> SegmentLayout:
    """Recover shapes and assignments from a ``(rows, cols)`` keep mask.

    Every segment's own mask is its shape; each row-block's table lists its distinct
    non-empty masks, most frequent first (ties: larger mask value first), so the
    table can be longer than SegPrune's ``max_shapes`` for arbitrary zero patterns.
    """
    rows, cols = mask.shape
    shapes, assign = [], np.zeros((len(block_bounds(rows, segment_height)), cols), np.int32)
    for b, (start, stop) in enumerate(block_bounds(rows, segment_height)):
        segs = mask[start:stop].T  # (cols, h_b)
        uniq, inverse, counts = np.unique(segs, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
        nonempty = uniq.any(axis=1)
        order = [i for i in np.lexsort((-_mask_values(uniq), -counts)) if nonempty[i]]
        new_id = np.zeros(len(uniq), np.int32)
        new_id[order] = np.arange(1, len(order) + 1)
        shapes.append(uniq[order].astype(bool).reshape(len(order), stop - start))
        assign[b] = new_id[inverse]
    return SegmentLayout(segment_height, shapes, assign)


def layout_from_matrix(matrix: np.ndarray, segment_height: int) -> SegmentLayout:
    """Recover the layout of a pruned matrix from its zeros (see :func:`layout_from_mask`)."""
    return layout_from_mask(matrix != 0, segment_height)


def _mask_values(masks: np.ndarray) -> np.ndarray:
    """A sortable value per mask row (bit ``i`` = position ``i``), float for any height."""
    if masks.shape[1] == 0:
        return np.zeros(len(masks))
    return (masks.astype(np.float64) * 2.0 ** np.arange(masks.shape[1])).sum(axis=1)


def check_layout(layout: SegmentLayout, matrix: np.ndarray, where: str) -> None:
    """Raise MappingError unless the layout fits ``matrix`` and keeps all its non-zeros."""
    rows, cols = matrix.shape
    bounds = block_bounds(rows, layout.segment_height)
    if layout.assign.shape != (len(bounds), cols) or len(layout.shapes) != len(bounds):
        raise MappingError(f"{where}: shape table for {layout.assign.shape[0]} row-blocks x "
                           f"{layout.assign.shape[1]} columns does not fit the {rows}x{cols} "
                           f"matrix with segment height {layout.segment_height}")
    for b, (table, (start, stop)) in enumerate(zip(layout.shapes, bounds)):
        if table.ndim != 2 or table.shape[1] != stop - start:
            raise MappingError(f"{where}: row-block {b} shapes have {table.shape[-1]} bits, "
                               f"expected {stop - start}")
        if layout.assign[b].min(initial=0) < 0 or layout.assign[b].max(initial=0) > len(table):
            raise MappingError(f"{where}: row-block {b} refers to a shape id outside "
                               f"[0, {len(table)}]")
    outside = (matrix != 0) & ~layout.mask(rows)
    if outside.any():
        r, c = (int(v[0]) for v in np.nonzero(outside))
        raise MappingError(f"{where}: non-zero weight (row {r}, col {c}) lies outside its "
                           f"segment's shape; the pruning metadata does not match the weights")


# --------------------------------------------------------------------------- packing


@dataclass
class _Piece:
    """Up to ``xbar_cols`` consecutive bit-lines of one group (and up to ``xbar_rows`` rows)."""

    rows: np.ndarray  # matrix rows (the gathered inputs), length k
    bl_cols: np.ndarray  # matrix column of each bit-line
    bl_slices: np.ndarray  # bit-slice of each bit-line
    block: int
    shape_id: int
    xbar: int = -1
    wl0: int = 0
    bl0: int = 0

    @property
    def height(self) -> int:
        return len(self.rows)

    @property
    def width(self) -> int:
        return len(self.bl_cols)


def _pieces(layout: SegmentLayout, rows: int, config: Config) -> list[_Piece]:
    """Cut every group of the layout into pieces that fit one crossbar."""
    xr, xc, s = config.crossbar.rows, config.crossbar.cols, config.slices
    pieces = []
    for b, (start, stop) in enumerate(block_bounds(rows, layout.segment_height)):
        for sid, shape in enumerate(layout.shapes[b], start=1):
            members = np.flatnonzero(layout.assign[b] == sid).astype(np.int32)
            if not len(members):
                continue
            group_rows = (start + np.flatnonzero(shape)).astype(np.int32)
            bl_cols = np.repeat(members, s)
            bl_slices = np.tile(np.arange(s, dtype=np.int16), len(members))
            for r0 in range(0, len(group_rows), xr):
                for c0 in range(0, len(bl_cols), xc):
                    pieces.append(_Piece(group_rows[r0:r0 + xr], bl_cols[c0:c0 + xc],
                                         bl_slices[c0:c0 + xc], b, sid))
    return pieces


def _pack(pieces: list[_Piece], config: Config, max_ous: int | None = None,
          objective: str = "crossbars", min_xbars: int = 0) -> int:
    """Place pieces (sets ``xbar``, ``wl0``, ``bl0``); return the number of crossbars.

    Stage 1 puts pieces onto shelves, tallest first; a piece joins the first shelf with
    enough free bit-lines (full-width pieces always open a shelf). Stage 2 stacks the
    shelves into crossbars, tallest first, first fit on free word-lines and, when
    ``max_ous`` is given, on the OUs a crossbar may hold (a shelf is never split, so a
    shelf with more OUs than that gets a crossbar of its own). With ``objective =
    "balance"`` (``mapping.packing``), the shelves are then dealt again onto that many
    crossbars, most OUs first, each to the least-loaded crossbar it fits
    (:func:`_balance`); that packing is kept when its busiest crossbar has no more OUs
    than first fit's. ``min_xbars`` (balance only) deals them onto at least that many
    crossbars (at most one per shelf): the same OUs, spread over spare crossbars.
    """
    xr, xc = config.crossbar.rows, config.crossbar.cols
    our, ouc = config.ou.rows, config.ou.cols
    order = sorted(range(len(pieces)), key=lambda i: (-pieces[i].height, -pieces[i].width, i))
    shelf_height: list[int] = []
    shelf_free = np.zeros(0, np.int64)
    shelf_of = np.zeros(len(pieces), np.int64)
    for i in order:
        piece = pieces[i]
        fits = np.flatnonzero(shelf_free >= piece.width) if piece.width < xc else []
        if len(fits):
            shelf = int(fits[0])
        else:
            shelf = len(shelf_height)
            shelf_height.append(piece.height)
            shelf_free = np.append(shelf_free, xc)
        piece.bl0 = int(xc - shelf_free[shelf])
        shelf_free[shelf] -= piece.width
        shelf_of[i] = shelf
    shelf_ous = np.zeros(len(shelf_height), np.int64)
    for i, piece in enumerate(pieces):
        shelf_ous[shelf_of[i]] += -(-piece.height // our) * -(-piece.width // ouc)
    cap = np.iinfo(np.int64).max if max_ous is None else max_ous
    heights = np.asarray(shelf_height, np.int64)
    shelf_xbar, shelf_wl0, n_xbar = _first_fit(heights, shelf_ous, xr, cap)
    target = max(n_xbar, min(min_xbars, len(heights)))
    if objective == "balance" and target > 1:
        balanced = _balance(heights, shelf_ous, target, xr, cap)
        if balanced is not None and (np.bincount(balanced[0], shelf_ous).max()
                                     <= np.bincount(shelf_xbar, shelf_ous).max()):
            (shelf_xbar, shelf_wl0), n_xbar = balanced, target
    for i, piece in enumerate(pieces):
        piece.xbar, piece.wl0 = int(shelf_xbar[shelf_of[i]]), int(shelf_wl0[shelf_of[i]])
    return n_xbar


def _first_fit(heights: np.ndarray, ous: np.ndarray, xr: int, cap: int
               ) -> tuple[np.ndarray, np.ndarray, int]:
    """Shelves onto crossbars, tallest first, first fit on word-lines and the OU cap.

    Returns (crossbar of each shelf, its first word-line, crossbars used).
    """
    xbar_free = np.zeros(0, np.int64)
    xbar_ous = np.zeros(0, np.int64)
    shelf_xbar = np.zeros(len(heights), np.int64)
    shelf_wl0 = np.zeros(len(heights), np.int64)
    for shelf in sorted(range(len(heights)), key=lambda k: (-heights[k], k)):
        fits = np.flatnonzero((xbar_free >= heights[shelf]) & (xbar_ous + ous[shelf] <= cap))
        if len(fits):
            xbar = int(fits[0])
        else:
            xbar = len(xbar_free)
            xbar_free = np.append(xbar_free, xr)
            xbar_ous = np.append(xbar_ous, 0)
        shelf_xbar[shelf], shelf_wl0[shelf] = xbar, xr - xbar_free[xbar]
        xbar_free[xbar] -= heights[shelf]
        xbar_ous[xbar] += ous[shelf]
    return shelf_xbar, shelf_wl0, len(xbar_free)


def _balance(heights: np.ndarray, ous: np.ndarray, n_xbar: int, xr: int, cap: int
             ) -> tuple[np.ndarray, np.ndarray] | None:
    """Shelves onto ``n_xbar`` crossbars, most OUs first, each to the least loaded that fits.

    Longest-processing-time-first list scheduling: the busiest crossbar's OUs come
    within 4/3 of the optimum when word-lines do not bind. None when some shelf fits
    no crossbar (word-lines or OU cap): the caller keeps the first-fit packing.
    """
    load = np.zeros(n_xbar, np.int64)
    free = np.full(n_xbar, xr, np.int64)
    shelf_xbar = np.zeros(len(heights), np.int64)
    shelf_wl0 = np.zeros(len(heights), np.int64)
    for shelf in sorted(range(len(heights)), key=lambda k: (-ous[k], -heights[k], k)):
        fits = np.flatnonzero((free >= heights[shelf]) & (load + ous[shelf] <= cap))
        if not len(fits):
            return None
        xbar = int(fits[np.argmin(load[fits])])
        shelf_xbar[shelf], shelf_wl0[shelf] = xbar, xr - free[xbar]
        free[xbar] -= heights[shelf]
        load[xbar] += ous[shelf]
    return shelf_xbar, shelf_wl0


# --------------------------------------------------------------------------- the mapper


def layer_layouts(layer: WeightLayer, config: Config, options: dict) -> list[SegmentLayout]:
    """The layout of every conv group: from ``options`` (metadata) or from the zeros.

    ``options`` may hold ``segment_height`` and ``layouts`` (one :class:`SegmentLayout`
    per conv group, as :func:`reramsim.prune.metadata.scheme_from_metadata` decodes them).
    """
    check_options(f"layer {layer.name} (segprune)", options, MAPPER_OPTIONS)
    height = int(options.get("segment_height") or config.ou.rows)
    layouts = options.get("layouts")
    where = f"layer {layer.name} (segprune)"
    if layouts is None:
        return [layout_from_matrix(m, height) for m in layer.matrices()]
    if len(layouts) != layer.groups:
        raise MappingError(f"{where}: {len(layouts)} shape tables for {layer.groups} conv groups")
    for layout, matrix in zip(layouts, layer.matrices()):
        check_layout(layout, matrix, where)
    return list(layouts)


@register_mapper("segprune")
def map_segprune(layer: WeightLayer, config: Config, options: dict | None = None) -> LayerMapping:
    """Map a (pruned) layer with SegPrune's grouping, packing and data path (module doc).

    Args:
        layer: the weight layer; its zeros are the pruned weights.
        config: the hardware (crossbar and OU size, bit slicing, polarities).
        options: ``{}`` (recover shapes from the zeros with ``h`` = OU rows), or
            ``segment_height`` and/or ``layouts`` from the ONNX metadata.

    Raises:
        MappingError: bad options, or a layout that does not cover the non-zero weights.
    """
    options = options or {}
    layouts = layer_layouts(layer, config, options)
    height = layouts[0].segment_height if layouts else config.ou.rows
    max_ous = ous_cap(options.get("max_ous_per_crossbar"), layer, config)
    per_group = max(1, len(layouts) * config.polarities)
    spread = -(-int(options.get("min_crossbars") or 0) // per_group)
    columns = options.get("columns", DEFAULT_COLUMNS)
    if columns not in COLUMN_ORGANISATIONS:
        raise MappingError(f"layer {layer.name} (segprune): columns must be one of "
                           f"{', '.join(COLUMN_ORGANISATIONS)}, got {columns!r}")
    our, ouc = config.ou.rows, config.ou.cols
    n_pol = config.polarities
    parts: dict[str, list] = {k: [] for k in ("xbar", "rows", "wl", "nr", "cols", "slices", "bl",
                                              "nc")}
    xbar_group: list[int] = []
    n_shapes = n_groups = n_pieces = 0
    piece_facts: list[tuple[int, int, int]] = []  # (crossbar, row-block, filter-index bits)
    base = 0
    shared = {"entries": 0, "filter_index_bits": 0}
    for g, layout in enumerate(layouts):
        n_shapes += sum(len(t) for t in layout.shapes)
        n_groups += sum(len(np.unique(a[a > 0])) for a in layout.assign)
        if columns == "shared":
            n_xbar, facts = shared_column_ous(layout, layer.rows, layer.cols, config, parts, base,
                                              n_pol, max_ous)
            shared["entries"] += facts["entries"]
            shared["filter_index_bits"] += facts["filter_index_bits"]
            xbar_group += [g] * (n_xbar * n_pol)
            base += n_xbar
            continue
        pieces = _pieces(layout, layer.rows, config)
        n_xbar = _pack(pieces, config, max_ous, config.mapping.packing, spread)
        n_pieces += len(pieces)
        pieces.sort(key=lambda p: (p.xbar, p.block, p.wl0, p.bl0))  # a crossbar's runs of blocks
        piece_facts += [(base + p.xbar, p.block, filter_index_bits(np.unique(p.bl_cols),
                                                                   layer.cols))
                        for p in pieces]
        for piece in pieces:
            for pol in range(n_pol):
                _emit_ous(parts, piece, (base + piece.xbar) * n_pol + pol, our, ouc)
        xbar_group += [g] * (n_xbar * n_pol)
        base += n_xbar
    n_ou = len(parts["xbar"])
    ou_xbar = np.asarray(parts["xbar"], np.int32)
    order = np.argsort(ou_xbar, kind="stable")  # polarity copies interleave; keep crossbar order
    row_ptr, ou_rows, ou_wl = concat_ous(parts["rows"], parts["wl"], order)
    col_ptr, ou_cols, ou_bl, ou_slices = concat_ous3(parts["cols"], parts["bl"], parts["slices"],
                                                     order)
    ou_n_rows = np.diff(row_ptr).astype(np.int32)
    n_xbar_total = len(xbar_group)
    max_shapes = max([len(t) for lay in layouts for t in lay.shapes] + [1])
    if columns == "shared":
        storage = shared_storage_bits(layouts, layer.rows, shared["entries"],
                                      shared["filter_index_bits"], max_shapes,
                                      config.crossbar.cols // config.slices)
    else:
        storage = index_storage_bits(layouts, layer.rows,
                                     np.array(piece_facts, np.int64).reshape(-1, 3))
    mapping = LayerMapping(
        layer=layer.name,
        scheme="segprune",
        xbar_group=np.asarray(xbar_group, np.int32),
        xbar_polarity=np.tile(np.array([1, -1][:n_pol], np.int8), base),
        ou_xbar=ou_xbar[order],
        ou_row_ptr=row_ptr,
        ou_rows=ou_rows,
        ou_wl=ou_wl,
        ou_col_ptr=col_ptr,
        ou_cols=ou_cols,
        ou_slices=ou_slices,
        ou_bl=ou_bl,
        ou_index_reads=np.full(n_ou, INDEX_READS_PER_OU if columns == "per_piece"
                               else SHARED_INDEX_READS_PER_OU, np.int32),
        ou_gather_inputs=ou_n_rows,
        index_storage_bits=storage["total"],
        xbar_gather_fanin=np.full(n_xbar_total, height, np.int32),
        info={
            "segment_height": height,
            "source": options.get("source", "metadata" if "layouts" in options else "zeros"),
            "row_blocks": sum(lay.n_blocks for lay in layouts),
            "shapes": n_shapes,
            "max_shapes_per_block": max_shapes,
            "groups": n_groups,
            "pieces": n_pieces,
            "kept_weights": sum(lay.n_kept() for lay in layouts),
            "max_ous_per_crossbar": max_ous,
            "columns": columns,
            "index_bits": storage,
            "shape_encoding": ("shared" if columns == "shared" else
                               "table" if storage["shape_tables"] else "inline"),
            "reconstruction": True,
        },
    )
    return mapping


def ous_cap(value: int | str | None, layer: WeightLayer, config: Config) -> int | None:
    """The OU budget per crossbar: None (no limit), an int, or ``"dense"``.

    ``"dense"`` is what a full crossbar of the layer's dense mapping executes:
    ``ceil(min(xbar_rows, R) / ou_rows) * ceil(min(xbar_cols, C*s) / ou_cols)``, so no
    crossbar does more work per input vector than in the dense mapping.
    """
    if value is None:
        return None
    if value == "dense":
        xr, xc = config.crossbar.rows, config.crossbar.cols
        return (-(-min(xr, layer.rows) // config.ou.rows)
                * -(-min(xc, layer.cols * config.slices) // config.ou.cols))
    if isinstance(value, (int, np.integer)) and value >= 1:
        return int(value)
    raise MappingError(f"layer {layer.name} (segprune): max_ous_per_crossbar must be an "
                       f"integer >= 1 or 'dense', got {value!r}")


def _emit_ous(parts: dict[str, list], piece: _Piece, xbar: int, our: int, ouc: int) -> None:
    """Append the OUs of one piece: ``ou.rows`` x ``ou.cols`` tiles of its rectangle."""
    for r0 in range(0, piece.height, our):
        rows = piece.rows[r0:r0 + our]
        wl = np.arange(piece.wl0 + r0, piece.wl0 + r0 + len(rows), dtype=np.int32)
        for c0 in range(0, piece.width, ouc):
            cols = piece.bl_cols[c0:c0 + ouc]
            parts["xbar"].append(xbar)
            parts["rows"].append(rows)
            parts["wl"].append(wl)
            parts["cols"].append(cols)
            parts["slices"].append(piece.bl_slices[c0:c0 + ouc])
            parts["bl"].append(np.arange(piece.bl0 + c0, piece.bl0 + c0 + len(cols),
                                         dtype=np.int32))


def filter_index_bits(filters: np.ndarray, cols: int) -> int:
    """Bits that tell a piece's accumulators its filters (ascending, of ``cols``), the least of:

    * a list of ``ceil(log2 cols)``-bit indices;
    * a ``cols``-bit membership bitmap (the piece holds its filters in ascending order,
      so the bitmap routes them too);
    * deltas: a ``ceil(log2(ceil(log2 cols) + 1))``-bit width ``w``, the first index in
      full, then each next filter as its gap to the previous one less 1, in ``w`` bits
      (``w`` = bits for the largest gap). The OUs of a piece run its columns in order,
      so one adder per column recovers the index.

    One index per weight column, not per bit-line: shift-and-add has merged the slices
    before the accumulator is chosen.

    Example: filters 3, 4, 5, 9 of 64: a list takes 4 x 6 = 24 bits, the bitmap 64, the
    deltas 3 + 6 + 3 x 2 = 15 (gaps 0, 0, 3 fit 2 bits).
    """
    width = index_bits(cols)
    if len(filters) == 0:
        return 0
    gap_bits = index_bits(int(np.diff(filters).max()) if len(filters) > 1 else 1)
    deltas = index_bits(width + 1) + width + (len(filters) - 1) * gap_bits
    return min(len(filters) * width, cols, deltas)


def index_storage_bits(layouts: list[SegmentLayout], rows: int, pieces: np.ndarray
                       ) -> dict[str, int]:
    """Bits of index data one layer keeps in the index buffer, by kind.

    ``pieces`` has one row ``(crossbar, row-block, filter-index bits)`` per piece, in the
    order a crossbar executes them: crossbar by crossbar, each crossbar's pieces grouped
    by row-block (the mapper sorts them so; the order of pieces within a crossbar does
    not change the work per input vector).

    * ``shape_tables`` + ``piece_shapes``: each piece's shape, the cheaper for the layer
      of (``table``) every row-block's shape table (``sum_b n_b * h_b`` bits) plus a shape
      id per piece (``ceil(log2(max_shapes + 1))`` bits), and (``inline``) the piece's
      own ``h_b``-bit mask, no table. Inline wins when most shapes serve one piece, as the
      projection's small groups do; a table wins when a group is cut into many pieces.
    * ``block_runs``: the row-block of each piece: per crossbar one ``ceil(log2
      n_blocks)``-bit block id per run of pieces of one row-block, and 1 bit per piece
      that says "the next run starts here" (nothing for a one-block layer).
    * ``filter_indices``: per piece, its filters (:func:`filter_index_bits`).

    A differential config's negative arrays share the positive arrays' index data.

    Example: one row-block, 2 pieces of one 3-row shape (16-row blocks): shapes by table
    ``16 + 2 x 1`` bits (inline: ``2 x 16``), no block ids, plus the filter bits.
    """
    xbar, block, filters = (np.asarray(pieces, np.int64).reshape(-1, 3)[:, k] for k in range(3))
    max_shapes = max([len(t) for lay in layouts for t in lay.shapes] + [1])
    bounds = block_bounds(rows, layouts[0].segment_height) if layouts else [(0, rows)]
    block_height = np.array([stop - start for start, stop in bounds], np.int64)
    tables = sum(int(t.size) for lay in layouts for t in lay.shapes)
    by_table = tables + len(block) * index_bits(max_shapes + 1)
    by_inline = int(block_height[block].sum())
    runs = len(np.unique(xbar * len(bounds) + block))
    block_bits = 0 if len(bounds) <= 1 else index_bits(len(bounds))
    out = {"shape_tables": tables if by_table <= by_inline else 0,
           "piece_shapes": by_table - tables if by_table <= by_inline else by_inline,
           "block_runs": runs * block_bits + (len(block) if block_bits else 0),
           "filter_indices": int(filters.sum())}
    out["total"] = sum(out.values())
    return out


def shared_storage_bits(layouts: list[SegmentLayout], rows: int, entries: int,
                        filter_index_bits: int, max_shapes: int, width: int) -> dict[str, int]:
    """Index bits of the ``columns: "shared"`` organisation (see :mod:`.segprune_columns`).

    * ``shape_tables``: as :func:`index_storage_bits`;
    * ``group_entries``: per (band, shape) entry its row-block id, shape id and a
      ``width``-bit mask of the crossbar columns that hold the shape;
    * ``filter_indices``: ``width`` filter indices per crossbar (``filter_index_bits``).
    """
    tables = sum(int(t.size) for lay in layouts for t in lay.shapes)
    n_blocks = len(block_bounds(rows, layouts[0].segment_height)) if layouts else 1
    block_bits = 0 if n_blocks <= 1 else index_bits(n_blocks)
    per_entry = block_bits + index_bits(max_shapes + 1) + width
    return {"shape_tables": tables, "group_entries": entries * per_entry,
            "filter_indices": filter_index_bits,
            "total": tables + entries * per_entry + filter_index_bits}
