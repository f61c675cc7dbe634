"""SegPrune's *shared-column* organisation: one filter per physical column of a crossbar.

The per-piece organisation (:mod:`reramsim.mapping.segprune`, ``columns: "per_piece"``)
packs every (row-block, shape) group into its own rectangle, so any bit-line may hold any
filter in any row-block and the data path stores a filter index per kept segment. This
organisation (``columns: "shared"``, a **reconstruction**, ``docs/segprune.md``) fixes
one column order per crossbar instead:

* Filters are sorted by their shape ids (row-block 0 first), so filters pruned alike
  are neighbours, and cut into *column sets* of ``W = xbar_cols // s`` filters; a filter
  whose segments are all empty takes no column. Filter ``j`` of a set always sits on
  weight column ``p(j)`` (bit-lines ``p*s .. p*s + s-1``) of the set's crossbars, so the
  accumulation needs **one filter index per physical weight column**, a static table per
  crossbar, instead of one per kept segment.
* Per row-block ``b`` a set takes a *band* of ``k_b = max |shape|`` word-lines over its
  filters. The shapes of the block use the same word-lines at disjoint columns: an OU
  reads one shape's ``k`` gathered inputs on the band's first ``k`` word-lines and only
  the bit-lines of that shape's filters (a word-line carries other inputs in other
  OUs, as the input gather allows). Cells below a filter's own shape size stay empty.
* Bands of one set are stacked into that set's crossbars, first fit by decreasing
  height (with ``max_ous`` as an extra limit, as in the per-piece packing).

Data path per OU step: 1 index-buffer read (the OU's entry: shape-table select for the
gather). Storage: the shape tables; per (band, shape) entry its row-block id, shape id
and a ``W``-bit mask of the columns that hold it; per crossbar ``W`` filter indices of
``ceil(log2 C)`` bits.
"""
from __future__ import annotations

import math

import numpy as np

from reramsim.config import Config
from reramsim.mapping.base import MappingError

#: Index-buffer reads per OU step: the (band, shape) entry.
INDEX_READS_PER_OU = 1


def _bits(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


def shared_column_ous(layout, rows: int, cols: int, config: Config, parts: dict[str, list],
                      xbar_base: int, n_pol: int, max_ous: int | None) -> tuple[int, dict]:
    """Append the OUs of one conv group's layout to ``parts``; return (crossbars, facts).

    ``parts`` lists per OU: ``xbar`` (``(xbar_base + crossbar) * n_pol + polarity``),
    ``rows``, ``wl``, ``cols``, ``slices``, ``bl``. ``facts`` holds ``entries`` (band,
    shape) and ``filter_index_bits`` (the crossbars' static filter tables) for the storage.

    Raises:
        MappingError: a crossbar narrower than one weight's slices, or a row-block taller
            than the crossbar.
    """
    from reramsim.mapping.segprune import block_bounds

    s, xr, xc = config.slices, config.crossbar.rows, config.crossbar.cols
    our, ouc = config.ou.rows, config.ou.cols
    width = xc // s
    bounds = block_bounds(rows, layout.segment_height)
    if width < 1 or any(stop - start > xr for start, stop in bounds):
        raise MappingError(f"columns 'shared' needs a weight's {s} slices and a row-block of "
                           f"{layout.segment_height} rows within one {xr}x{xc} crossbar")
    sizes = [np.concatenate([[0], t.sum(axis=1)]) for t in layout.shapes]
    k = np.stack([sizes[b][layout.assign[b]] for b in range(len(bounds))])  # (blocks, cols)
    used = np.flatnonzero(k.sum(axis=0) > 0)
    order = used[np.lexsort(layout.assign[::-1][:, used])]
    n_xbar = entries = index_bits = 0
    for c0 in range(0, len(order), width):
        members = order[c0:c0 + width]
        heights = k[:, members].max(axis=1)
        bands = [b for b in np.argsort(-heights, kind="stable") if heights[b] > 0]
        free: list[int] = []
        ous: list[int] = []
        placed = {}
        for b in bands:
            n_ou = sum(-(-int(size) // our) * -(-int(np.sum(layout.assign[b, members] == sid)
                                                   * s) // ouc)
                       for sid, size in enumerate(sizes[b]) if sid and size
                       and np.any(layout.assign[b, members] == sid))
            cap = np.iinfo(np.int64).max if max_ous is None else max_ous
            fit = next((x for x in range(len(free)) if free[x] >= heights[b]
                        and ous[x] + n_ou <= cap), None)
            if fit is None:
                fit = len(free)
                free.append(xr)
                ous.append(0)
            placed[b] = (fit, xr - free[fit])
            free[fit] -= int(heights[b])
            ous[fit] += n_ou
        for b in sorted(placed):
            x, wl0 = placed[b]
            start = bounds[b][0]
            for sid in np.unique(layout.assign[b, members]):
                if sid == 0:
                    continue
                pos = np.flatnonzero(layout.assign[b, members] == sid)
                shape_rows = (start + np.flatnonzero(layout.shapes[b][sid - 1])).astype(np.int32)
                bl = (pos[:, None] * s + np.arange(s)).ravel().astype(np.int32)
                bl_cols = np.repeat(members[pos], s).astype(np.int32)
                bl_slices = np.tile(np.arange(s, dtype=np.int16), len(pos))
                entries += 1
                for r0 in range(0, len(shape_rows), our):
                    r = shape_rows[r0:r0 + our]
                    wl = np.arange(wl0 + r0, wl0 + r0 + len(r), dtype=np.int32)
                    for q0 in range(0, len(bl), ouc):
                        for pol in range(n_pol):
                            parts["xbar"].append((xbar_base + n_xbar + x) * n_pol + pol)
                            parts["rows"].append(r)
                            parts["wl"].append(wl)
                            parts["cols"].append(bl_cols[q0:q0 + ouc])
                            parts["slices"].append(bl_slices[q0:q0 + ouc])
                            parts["bl"].append(bl[q0:q0 + ouc])
        index_bits += len(free) * len(members) * _bits(cols)
        n_xbar += len(free)
    return n_xbar, {"entries": entries, "filter_index_bits": index_bits, "width": width}
