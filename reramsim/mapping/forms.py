"""The FORMS mapping: polarised fragments, one crossbar per weight block, a sign bit each.

FORMS (Yuan et al., "FORMS: Fine-grained Polarized ReRAM-based In-situ Computation
for Mixed-signal DNN Accelerator", ISCA 2021) makes every crossbar column *fragment*
(the cells of one bit-line over ``fragment_rows`` word-lines) hold weights of one
sign, so one crossbar stores magnitudes and a sign bit per fragment column replaces
the differential pair or the offset. What the paper states: fragments of a few rows,
polarisation enforced by ADMM, input zero-skipping per fragment. How pruned fragments
are packed and indexed is not public; this module's rules are **reconstructions**
(``docs/forms.md``):

* Rows are cut into row-blocks of ``f = fragment_rows`` rows (default 8, must be
  ``<= ou.rows``); fragment ``(b, j) = M[b*f:(b+1)*f, j]``. A fragment is *kept* when it
  holds a non-zero weight. Its sign is the sign of its non-zero weights; with
  ``precision.signed_weights: sign_bit`` the mapper refuses a fragment that mixes signs
  (the hardware cannot store it), with other configs the config's own signed format
  stores the weights and the sign bit is unused.
* The kept fragments of a row-block form a *fragment row*: ``h_b <= f`` word-lines (the
  block's own inputs, no gather) by ``(kept fragments) x s`` bit-lines. Fragment rows are
  cut into crossbar-wide pieces and packed like SegPrune's groups (two-stage first fit,
  :mod:`reramsim.mapping.segprune`); a filter whose fragments are all pruned takes no
  bit-line.
* Every OU is one fragment row's ``h_b`` word-lines x up to ``ou.cols`` of its
  bit-lines, so an engine that skips OU steps whose input bits are all zero skips per
  fragment, as FORMS's input zero-skipping does.
* On a ``sign_bit`` config cells hold ``|q|`` and ``ou_bl_sign`` gives each bit-line the
  sign of its fragment column; the functional model applies it after the ADC.

Data path charged per OU step: 1 index-buffer read (the word with the filter indices and
sign bits of the OU's columns). Index storage per layer: per piece its row-block id and
the filters of its columns (``ceil(log2 C)`` bits each, or a ``C``-bit bitmap when
smaller), plus one sign bit per kept fragment column on a ``sign_bit`` config. No input
gather: a fragment row's word-lines are driven by its own block's inputs.

Example: a 5x5 conv 6->16 (``R = 150``, ``C = 16``) with ``f = 8`` has 19 row-blocks; a
block keeping 10 of the 16 fragments is an 8 x 80 rectangle (16-bit weights, 2-bit
cells, ``s = 8``), read as 5 OUs of 8 x 16.
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
    concat_ous3,
    index_bits,
    register_mapper,
)
from reramsim.mapping.segprune import (
    SegmentLayout,
    _emit_ous,
    _pack,
    _pieces,
    block_bounds,
)

#: Reconstruction default (docs/sources.md [choice]): rows per fragment.
DEFAULT_FRAGMENT_ROWS = 8
#: Index-buffer reads per OU step: the word of filter indices and sign bits of its columns.
INDEX_READS_PER_OU = 1
#: Per-layer options the mapper accepts (``fragment_rows`` comes from the ONNX metadata).
MAPPER_OPTIONS = ("fragment_rows", "source")


def fragment_rows_option(options: dict, config: Config, where: str) -> int:
    """``fragment_rows`` from ``options`` (default 8), checked against the OU height."""
    value = options.get("fragment_rows", DEFAULT_FRAGMENT_ROWS)
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise MappingError(f"{where}: fragment_rows must be an integer >= 1, got {value!r}")
    if value > config.ou.rows:
        raise MappingError(f"{where}: fragment_rows {value} exceeds the OU's {config.ou.rows} "
                           f"rows (config '{config.name}'); an OU reads one fragment")
    return int(value)


def fragment_signs(matrix: np.ndarray, fragment_rows: int) -> np.ndarray:
    """``(n_blocks, cols)`` int8 sign of every fragment: +1, -1, 0 (all zero), 2 (mixed)."""
    rows, cols = matrix.shape
    out = np.zeros((len(block_bounds(rows, fragment_rows)), cols), np.int8)
    for b, (start, stop) in enumerate(block_bounds(rows, fragment_rows)):
        pos = (matrix[start:stop] > 0).any(axis=0)
        neg = (matrix[start:stop] < 0).any(axis=0)
        out[b] = np.where(pos & neg, 2, np.where(pos, 1, np.where(neg, -1, 0)))
    return out


@register_mapper("forms")
def map_forms(layer: WeightLayer, config: Config, options: dict | None = None) -> LayerMapping:
    """Map a (pruned, polarised) layer with FORMS's fragments and sign bits (module doc).

    Args:
        layer: the weight layer; its zeros are the pruned weights.
        config: the hardware; ``signed_weights: sign_bit`` uses the sign bits.
        options: ``{}`` (fragments of 8 rows) or ``fragment_rows`` from the metadata.

    Raises:
        MappingError: bad options, fragments taller than the OU, or (``sign_bit``) a
            fragment that holds weights of both signs.
    """
    options = options or {}
    where = f"layer {layer.name} (forms)"
    check_options(where, options, MAPPER_OPTIONS)
    f = fragment_rows_option(options, config, where)
    sign_bit = config.precision.signed_weights == "sign_bit"
    n_pol = config.polarities
    parts: dict[str, list] = {k: [] for k in ("xbar", "rows", "wl", "cols", "slices", "bl")}
    xbar_group: list[int] = []
    signs, piece_cols = [], []
    n_blocks = len(block_bounds(layer.rows, f))
    base = kept_fragments = n_pieces = 0
    for g, matrix in enumerate(layer.matrices()):
        sign = fragment_signs(matrix, f)
        if sign_bit and (sign == 2).any():
            b, j = (int(v[0]) for v in np.nonzero(sign == 2))
            raise MappingError(f"{where}: fragment (rows {b * f}-{min((b + 1) * f, layer.rows) - 1}"
                               f", column {j}) of group {g} holds weights of both signs; a "
                               "sign_bit config needs polarised weights (prune with --scheme "
                               "forms)")
        signs.append(sign)
        kept = sign != 0
        layout = SegmentLayout(f, [np.ones((1, stop - start), bool)
                                   for start, stop in block_bounds(layer.rows, f)],
                               kept.astype(np.int32))
        pieces = _pieces(layout, layer.rows, config)
        n_xbar = _pack(pieces, config)
        kept_fragments += int(kept.sum())
        n_pieces += len(pieces)
        piece_cols += [len(np.unique(p.bl_cols)) for p in pieces]
        pieces.sort(key=lambda p: (p.xbar, p.wl0, p.bl0))
        for piece in pieces:
            for pol in range(n_pol):
                _emit_ous(parts, piece, (base + piece.xbar) * n_pol + pol, config.ou.rows,
                          config.ou.cols)
        xbar_group += [g] * (n_xbar * n_pol)
        base += n_xbar
    ou_xbar = np.asarray(parts["xbar"], np.int32)
    order = np.argsort(ou_xbar, kind="stable")
    row_ptr, ou_rows, ou_wl = concat_ous(parts["rows"], parts["wl"], order)
    col_ptr, ou_cols, ou_bl, ou_slices = concat_ous3(parts["cols"], parts["bl"], parts["slices"],
                                                     order)
    group_of = np.asarray(xbar_group, np.int64)
    ou_block = ou_rows[row_ptr[:-1]].astype(np.int64) // f if len(order) else np.zeros(0, np.int64)
    n_cols = np.diff(col_ptr)
    bl_sign = (np.stack(signs)[np.repeat(group_of[ou_xbar[order]], n_cols),
                               np.repeat(ou_block, n_cols), ou_cols].astype(np.int8)
               if len(order) else np.zeros(0, np.int8))
    block_bits = 0 if n_blocks <= 1 else index_bits(n_blocks)
    storage = {
        "group_entries": n_pieces * block_bits,
        "filter_indices": int(np.minimum(np.asarray(piece_cols, np.int64) * index_bits(layer.cols),
                                         layer.cols).sum()),
        "sign_bits": kept_fragments if sign_bit else 0,
    }
    storage["total"] = sum(storage.values())
    return LayerMapping(
        layer=layer.name,
        scheme="forms",
        xbar_group=group_of.astype(np.int32),
        xbar_polarity=np.tile(np.array([1, -1][:n_pol], np.int8), base),
        ou_xbar=ou_xbar[order],
        ou_row_ptr=row_ptr,
        ou_rows=ou_rows,
        ou_wl=ou_wl,
        ou_col_ptr=col_ptr,
        ou_cols=ou_cols,
        ou_slices=ou_slices,
        ou_bl=ou_bl,
        ou_index_reads=np.full(len(order), INDEX_READS_PER_OU, np.int32),
        index_storage_bits=storage["total"],
        ou_bl_sign=bl_sign if sign_bit else None,
        info={
            "fragment_rows": f,
            "source": options.get("source", "metadata" if "fragment_rows" in options
                                  else "zeros"),
            "row_blocks": n_blocks * layer.groups,
            "fragments": n_blocks * layer.groups * layer.cols,
            "kept_fragments": kept_fragments,
            "pieces": n_pieces,
            "sign_bits": sign_bit,
            "index_bits": storage,
            "reconstruction": True,
        },
    )
