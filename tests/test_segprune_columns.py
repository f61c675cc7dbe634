"""SegPrune's shared-column organisation (reramsim.mapping.segprune_columns): validity,
one filter per physical column of a crossbar, its data path, and lossless execution."""
from __future__ import annotations

import numpy as np
import pytest
from _segprune_helpers import random_layout

from reramsim.config import load_config
from reramsim.ir import WeightLayer
from reramsim.mapping import MappingError, get_mapper
from reramsim.mapping.segprune_columns import INDEX_READS_PER_OU

CFG = load_config("ou_16x16")


def fc_layer(weight: np.ndarray) -> WeightLayer:
    return WeightLayer(name="fc", op="fc", inputs=("x",), output="y",
                       in_shapes=((weight.shape[1],),), out_shape=(weight.shape[0],),
                       weight=weight.astype(np.float32))


def pruned_fc(seed: int, rows: int = 200, cols: int = 70) -> WeightLayer:
    rng = np.random.default_rng(seed)
    layout = random_layout(rows, cols, 16, rng)
    return fc_layer((rng.normal(size=(rows, cols)) * layout.mask(rows)).T)


@pytest.mark.parametrize("seed, differential", [(0, False), (1, False), (2, True)])
def test_shared_columns_map_every_weight_once_with_one_filter_per_column(seed, differential):
    """Valid mapping; on every crossbar a weight column (s bit-lines) holds one filter only."""
    config = load_config("ou_16x16", ["precision.signed_weights=differential"] if differential
                         else [])
    layer = pruned_fc(seed)
    m = get_mapper("segprune")(layer, config, {"columns": "shared"})
    m.validate(layer, config)
    xbar = np.repeat(m.ou_xbar, m.ou_n_cols).astype(np.int64)
    column = m.ou_bl.astype(np.int64) // config.slices
    pairs = np.unique(np.stack([xbar, column, m.ou_cols]), axis=1)
    assert len(np.unique(pairs[:2], axis=1)[0]) == pairs.shape[1]  # (xbar, column) -> 1 filter
    assert np.all(m.ou_index_reads == INDEX_READS_PER_OU)
    assert m.info["columns"] == "shared"
    bits = m.info["index_bits"]
    assert bits["total"] == bits["shape_tables"] + bits["group_entries"] + bits["filter_indices"]
    assert bits["filter_indices"] <= m.n_crossbars * (128 // config.slices) * 7


def test_shared_columns_compute_what_per_piece_computes():
    """The functional model gives the same outputs on both organisations (ideal ADC)."""
    from reramsim.functional import CrossbarLayer, full_precision
    from reramsim.quantize import InputQuant

    config = full_precision(CFG)
    layer = pruned_fc(3)
    x = np.random.default_rng(4).random((5, layer.rows))
    quant = InputQuant(scale=1 / 255, signed=False, bits=32)
    out = [CrossbarLayer(layer, get_mapper("segprune")(layer, config, {"columns": c}), config)(
        np.rint(x * 255) / 255, quant) for c in ("per_piece", "shared")]
    assert np.allclose(out[0], out[1], rtol=1e-9)
    assert np.allclose(out[0], (np.rint(x * 255) / 255) @ layer.matrix(0), rtol=1e-6)


def test_unknown_organisation_is_refused():
    """The columns option names the allowed organisations."""
    with pytest.raises(MappingError, match="columns must be one of per_piece, shared"):
        get_mapper("segprune")(pruned_fc(0), CFG, {"columns": "diagonal"})
