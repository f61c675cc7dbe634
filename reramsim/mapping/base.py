"""What a mapper produces: crossbars, their OU lists and the index data of the data path.

A :class:`LayerMapping` stores a layer's OUs as a struct of arrays (CSR style)
so that millions of OUs cost a few numpy arrays, not millions of objects. OU
``k`` belongs to crossbar ``ou_xbar[k]`` and, in one read step, activates

* the word-lines ``ou_wl[ou_row_ptr[k]:ou_row_ptr[k+1]]``, driven by the inputs
  (matrix rows of the crossbar's group) ``ou_rows[...]`` at the same positions;
* the bit-lines ``ou_bl[ou_col_ptr[k]:ou_col_ptr[k+1]]``, holding bit-slice
  ``ou_slices[...]`` of matrix columns ``ou_cols[...]``.

The cells it reads are the cross product of the two: cell ``(wl_i, bl_j)`` holds
slice ``ou_slices[j]`` of weight ``M_g[ou_rows[i], ou_cols[j]]`` (zero cells
included). A crossbar executes its OUs in array order. Word-line and bit-line
sets of one OU are what the mapper chose; nothing assumes they are contiguous,
which is how pruned mappings with input gathers (different inputs on one
physical row for different OUs) fit the same structure.

A ``sign_bit`` config (FORMS) stores weight magnitudes and takes each bit-line's
sign from ``ou_bl_sign``, applied after the ADC in the digital accumulation.

Pruned data paths add, per OU, index-buffer reads (shape ids, row indices,
filter indices) and gathered inputs (inputs routed through the gather muxes in
front of the DACs); a dense mapping has none.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from reramsim import ReramsimError
from reramsim.config import Config
from reramsim.ir import Network, WeightLayer
from reramsim.registry import Registry


class MappingError(ReramsimError):
    """A mapping that cannot be built or that breaks the crossbar's rules."""


@dataclass
class LayerMapping:
    """The crossbars and OU lists of one weight layer (see the module doc for the layout)."""

    layer: str
    scheme: str
    xbar_group: np.ndarray  # (n_xbar,) int32: conv group whose matrix the crossbar holds
    xbar_polarity: np.ndarray  # (n_xbar,) int8: +1, or -1 for the negative array of a pair
    ou_xbar: np.ndarray  # (n_ou,) int32, non-decreasing
    ou_row_ptr: np.ndarray  # (n_ou + 1,) int64
    ou_rows: np.ndarray  # (row_ptr[-1],) int32: matrix row fed to each active word-line
    ou_wl: np.ndarray  # (row_ptr[-1],) int32: physical word-line
    ou_col_ptr: np.ndarray  # (n_ou + 1,) int64
    ou_cols: np.ndarray  # (col_ptr[-1],) int32: matrix column (within the group)
    ou_slices: np.ndarray  # (col_ptr[-1],) int16: weight bit-slice, 0 = least significant
    ou_bl: np.ndarray  # (col_ptr[-1],) int32: physical bit-line
    ou_index_reads: np.ndarray | None = None  # (n_ou,) int32 index-buffer reads per OU step
    ou_gather_inputs: np.ndarray | None = None  # (n_ou,) int32 inputs routed by the gather
    index_storage_bits: int = 0  # index data held in the layer's index buffer
    xbar_gather_fanin: np.ndarray | None = None  # (n_xbar,) int32 input-gather fan-in, 0 = none
    #: (col_ptr[-1],) int8 sign the digital accumulation gives each OU bit-line's partial sum
    #: (FORMS's sign bit per fragment column, ``signed_weights: sign_bit``); None = all +1.
    ou_bl_sign: np.ndarray | None = None
    info: dict = field(default_factory=dict)  # scheme-specific facts for reports

    def __post_init__(self) -> None:
        n_ou = len(self.ou_xbar)
        if self.ou_index_reads is None:
            self.ou_index_reads = np.zeros(n_ou, np.int32)
        if self.ou_gather_inputs is None:
            self.ou_gather_inputs = np.zeros(n_ou, np.int32)
        if self.xbar_gather_fanin is None:
            self.xbar_gather_fanin = np.zeros(self.n_crossbars, np.int32)

    @property
    def n_crossbars(self) -> int:
        return len(self.xbar_group)

    @property
    def n_ous(self) -> int:
        return len(self.ou_xbar)

    @property
    def ou_n_rows(self) -> np.ndarray:
        """Active word-lines of each OU."""
        return np.diff(self.ou_row_ptr)

    @property
    def ou_n_cols(self) -> np.ndarray:
        """Active bit-lines (ADC conversions per step) of each OU."""
        return np.diff(self.ou_col_ptr)

    @property
    def ous_per_crossbar(self) -> np.ndarray:
        return np.bincount(self.ou_xbar, minlength=self.n_crossbars)

    @property
    def cells_used(self) -> int:
        """Cells read by some OU (zero cells inside OUs included)."""
        return int(np.dot(self.ou_n_rows, self.ou_n_cols))

    def validate(self, layer: WeightLayer, config: Config) -> None:
        """Check the crossbar rules and that every non-zero weight is stored exactly once.

        Raises:
            MappingError: naming the layer, the crossbar and the rule broken.
        """
        _validate(self, layer, config)


@dataclass
class NetworkMapping:
    """Every weight layer's mapping under one scheme and config."""

    scheme: str
    config: Config
    layers: dict[str, LayerMapping]

    @property
    def n_crossbars(self) -> int:
        return sum(m.n_crossbars for m in self.layers.values())


#: Mapper option every mapper accepts (:func:`check_options` lets it through): spread the
#: layer's OUs over at least this many crossbars where its structure allows (copies of
#: layers with too few pixels to copy); dense and segprune spread, the others map the
#: layer as without it, and replication then stops spreading.
MIN_CROSSBARS = "min_crossbars"

Mapper = Callable[[WeightLayer, Config, dict], LayerMapping]
#: Mappers ``fn(layer, config, options) -> LayerMapping`` by scheme name.
MAPPERS: Registry[Mapper] = Registry("mapping scheme", MappingError)
register_mapper = MAPPERS.register
get_mapper = MAPPERS.get
registered_mappers = MAPPERS.names


def map_network(network: Network, config: Config, scheme: str = "dense",
                options: dict[str, dict] | None = None) -> NetworkMapping:
    """Map every weight layer of ``network`` with one scheme.

    ``options`` maps a layer name to scheme-specific options (e.g. SegPrune's shape
    tables read from the ONNX metadata); layers without an entry get ``{}``.
    """
    mapper = get_mapper(scheme)
    options = options or {}
    return NetworkMapping(scheme, config, {
        layer.name: mapper(layer, config, options.get(layer.name, {}))
        for layer in network.weight_layers()
    })


def ous_from_tiles(
    xbar: np.ndarray, row_start: np.ndarray, n_rows: np.ndarray,
    bl_start: np.ndarray, n_bls: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CSR word-line and bit-line index arrays for OUs that are contiguous rectangles.

    Each OU ``k`` covers word-lines ``row_start[k] + [0, n_rows[k])`` and bit-lines
    ``bl_start[k] + [0, n_bls[k])`` of crossbar ``xbar[k]``. Returns
    ``(row_ptr, wl, col_ptr, bl)``. Vectorised: no Python loop over OUs.
    """
    row_ptr, wl = _ranges(row_start, n_rows)
    col_ptr, bl = _ranges(bl_start, n_bls)
    return row_ptr, wl, col_ptr, bl


def tile_crossbars(used_rows: np.ndarray, used_bls: np.ndarray, config: Config
                   ) -> tuple[np.ndarray, ...]:
    """OUs that tile each crossbar's used top-left ``used_rows x used_bls`` cells.

    Crossbar ``x`` gets ``ceil(used_rows[x]/ou_rows) * ceil(used_bls[x]/ou_cols)`` OUs, row
    tile by row tile, the last ones of a row or column smaller. Returns ``(ou_xbar, n_wl,
    n_bl, row_ptr, wl, col_ptr, bl)``: each OU's crossbar and size, and the CSR word-line
    and bit-line arrays of :func:`ous_from_tiles`.
    """
    our, ouc = config.ou.rows, config.ou.cols
    ou_r_tiles, ou_c_tiles = -(-used_rows // our), -(-used_bls // ouc)
    per_xbar = ou_r_tiles * ou_c_tiles
    ou_xbar = np.repeat(np.arange(len(used_rows)), per_xbar)
    k = np.arange(per_xbar.sum()) - np.repeat(np.cumsum(per_xbar) - per_xbar, per_xbar)
    tile_r, tile_c = k // ou_c_tiles[ou_xbar], k % ou_c_tiles[ou_xbar]
    wl_start, bl_start = tile_r * our, tile_c * ouc
    n_wl = np.minimum(our, used_rows[ou_xbar] - wl_start)
    n_bl = np.minimum(ouc, used_bls[ou_xbar] - bl_start)
    return (ou_xbar, n_wl, n_bl, *ous_from_tiles(ou_xbar, wl_start, n_wl, bl_start, n_bl))


def _ranges(start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ``arange(start[k], start[k] + count[k])`` for all k, plus the CSR pointer."""
    count = np.asarray(count, np.int64)
    ptr = np.zeros(len(count) + 1, np.int64)
    np.cumsum(count, out=ptr[1:])
    offsets = np.arange(ptr[-1], dtype=np.int64) - np.repeat(ptr[:-1], count)
    return ptr, (np.repeat(np.asarray(start, np.int64), count) + offsets).astype(np.int32)


def _validate(m: LayerMapping, layer: WeightLayer, config: Config) -> None:
    where = f"layer {m.layer} ({m.scheme})"
    xr, xc = config.crossbar.rows, config.crossbar.cols
    n_ou = m.n_ous
    if np.any(np.diff(m.ou_xbar) < 0):
        raise MappingError(f"{where}: OUs must be grouped by crossbar in order")
    if n_ou and (m.ou_xbar.min() < 0 or m.ou_xbar.max() >= m.n_crossbars):
        raise MappingError(f"{where}: OU refers to a crossbar outside [0, {m.n_crossbars})")
    if np.any(m.ou_n_rows > config.ou.rows) or np.any(m.ou_n_cols > config.ou.cols):
        k = int(np.argmax((m.ou_n_rows > config.ou.rows) | (m.ou_n_cols > config.ou.cols)))
        raise MappingError(f"{where}: OU {k} is {m.ou_n_rows[k]}x{m.ou_n_cols[k]}, larger than "
                           f"the {config.ou.rows}x{config.ou.cols} OU")
    if np.any((m.ou_wl < 0) | (m.ou_wl >= xr)) or np.any((m.ou_bl < 0) | (m.ou_bl >= xc)):
        raise MappingError(f"{where}: a word-line or bit-line index is outside the "
                           f"{xr}x{xc} crossbar")
    if np.any(m.ou_slices >= config.slices) or np.any(m.ou_slices < 0):
        raise MappingError(f"{where}: a bit-slice index is outside [0, {config.slices})")
    # Cells: (crossbar, wl, bl) must be unique; (group, polarity, row, col, slice) stored once.
    n_rows, n_cols = m.ou_n_rows, m.ou_n_cols
    per_ou = n_rows * n_cols
    ou_of_cell = np.repeat(np.arange(n_ou), per_ou)
    local = np.arange(per_ou.sum()) - np.repeat(np.cumsum(per_ou) - per_ou, per_ou)
    i = m.ou_row_ptr[ou_of_cell] + local // np.repeat(n_cols, per_ou)
    j = m.ou_col_ptr[ou_of_cell] + local % np.repeat(n_cols, per_ou)
    xbar = m.ou_xbar[ou_of_cell].astype(np.int64)
    cell_pos = (xbar * xr + m.ou_wl[i]) * xc + m.ou_bl[j]
    if np.bincount(cell_pos, minlength=1).max(initial=0) > 1:
        raise MappingError(f"{where}: two OUs use the same physical cell")
    group = m.xbar_group[xbar].astype(np.int64)
    pol = (m.xbar_polarity[xbar] < 0).astype(np.int64)
    n_slices = config.slices
    weight_id = (((group * 2 + pol) * layer.rows + m.ou_rows[i]) * layer.cols
                 + m.ou_cols[j]) * n_slices + m.ou_slices[j]
    stored = np.bincount(weight_id, minlength=layer.groups * 2 * layer.rows * layer.cols * n_slices)
    if stored.max(initial=0) > 1:
        raise MappingError(f"{where}: a weight bit-slice is stored in two cells")
    stored = stored.reshape(layer.groups, 2, layer.rows, layer.cols, n_slices)
    for p in np.unique(m.xbar_polarity):
        for g, matrix in enumerate(layer.matrices()):
            missing = (matrix != 0)[:, :, None] & (stored[g, int(p < 0)] == 0)
            if missing.any():
                r, c, k = (int(v[0]) for v in np.nonzero(missing))
                raise MappingError(f"{where}: non-zero weight (group {g}, row {r}, col {c}) "
                                   f"slice {k} is not mapped")


def concat_ous(a: list[np.ndarray], b: list[np.ndarray], order: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR pointer plus two concatenated per-OU arrays, OUs taken in ``order``."""
    lens = np.array([len(a[i]) for i in order], np.int64)
    ptr = np.zeros(len(order) + 1, np.int64)
    np.cumsum(lens, out=ptr[1:])
    if not len(order):
        return ptr, np.zeros(0, np.int32), np.zeros(0, np.int32)
    return (ptr, np.concatenate([a[i] for i in order]).astype(np.int32),
            np.concatenate([b[i] for i in order]).astype(np.int32))


def concat_ous3(a: list[np.ndarray], b: list[np.ndarray], c: list[np.ndarray], order: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`concat_ous` plus a third per-OU array (bit-slices, int16)."""
    ptr, out_a, out_b = concat_ous(a, b, order)
    out_c = (np.concatenate([c[i] for i in order]) if len(order) else np.zeros(0)).astype(np.int16)
    return ptr, out_a, out_b, out_c


def index_bits(n: int) -> int:
    """Bits to tell ``n`` values apart (at least 1)."""
    return max(1, math.ceil(math.log2(max(n, 2))))


def check_options(where: str, options: dict, allowed: tuple[str, ...]) -> None:
    """Refuse mapper options not in ``allowed`` or :data:`MIN_CROSSBARS` (``where``:
    "layer NAME (scheme)").

    Raises:
        MappingError: naming the unknown options and the allowed ones.
    """
    unknown = set(options) - set(allowed) - {MIN_CROSSBARS}
    if unknown:
        raise MappingError(f"{where}: unknown options {sorted(unknown)}; "
                           f"allowed: {', '.join(allowed)}")
