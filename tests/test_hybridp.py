"""Tests for Hybrid-P (a reconstruction): the projection (reramsim.prune.hybridp), the mapper
(reramsim.mapping.hybridp), its metadata and lossless execution."""
from __future__ import annotations

import json

import numpy as np
import pytest
from _baseline_helpers import CFG, check_lossless, conv3x3, fc_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from reramsim.mapping import get_mapper
from reramsim.mapping.compact import index_list_bits
from reramsim.prune import LayerTarget, PruningError, get_pruner
from reramsim.prune.hybridp import decode_hybridp, hybrid_project


def test_worked_example():
    """The module doc's example: 2 rows x 2 columns beat one column or one row."""
    layout = hybrid_project(np.array([[5, 5, 0], [5, 5, 0], [1, 1, 9]], float), 4)
    assert layout.rows.tolist() == [True, True, False]
    assert layout.cols.tolist() == [True, True, False]


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 60), cols=st.integers(1, 40), density=st.floats(0.0, 1.0),
       seed=st.integers(0, 2**16))
def test_projection_keeps_whole_rows_and_columns_within_budget(rows, cols, density, seed):
    """The mask is kept rows x kept columns (an outer product) and keeps <= the budget."""
    scores = np.random.default_rng(seed).random((rows, cols)) ** 2
    keep = int(density * rows * cols)
    layout = hybrid_project(scores, keep)
    mask = layout.mask()
    assert mask.sum() == layout.rows.sum() * layout.cols.sum() <= keep
    if keep >= max(rows, cols):  # one full row or column always fits: something is kept
        assert mask.sum() > 0


def test_planted_submatrix_is_found():
    """Large weights on 12 rows x 5 columns and noise elsewhere: exactly those are kept."""
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 0.01, (40, 20))
    rows, cols = rng.choice(40, 12, replace=False), rng.choice(20, 5, replace=False)
    scores[np.ix_(rows, cols)] += 1.0
    layout = hybrid_project(scores, 60)
    assert set(np.flatnonzero(layout.rows)) == set(rows)
    assert set(np.flatnonzero(layout.cols)) == set(cols)


def test_mapping_by_hand():
    """576x64 keeping 288 rows x 32 columns: one block, 3 x 2 crossbars, row and column lists."""
    rng = np.random.default_rng(2)
    weight = rng.normal(size=(64, 64, 3, 3))
    weight[::2] = 0.0  # 32 filters kept
    weight[:, ::2] = 0.0  # 32 of 64 channels kept: 288 rows
    layer = conv3x3(weight)
    m = get_mapper("hybridp")(layer, CFG, {})
    m.validate(layer, CFG)
    assert m.n_crossbars == 6 and get_mapper("dense")(layer, CFG, {}).n_crossbars == 20
    assert m.info["index_bits"] == {"row_indices": index_list_bits(288, 576),
                                    "column_indices": index_list_bits(32, 64),
                                    "total": 576 + 64}
    assert np.all(m.ou_index_reads == 2)  # row-index word and filter-index word per OU
    assert np.all(m.ou_gather_inputs == m.ou_n_rows)


def test_labelled_reconstruction_and_bad_parameters():
    """Hybrid-P says "reconstruction"; bad parameters are one clear error."""
    pruner = get_pruner("hybridp", CFG)
    assert pruner.reconstruction and "[reconstruction]" in pruner.describe()
    with pytest.raises(PruningError, match="search_points must be an integer >= 1"):
        get_pruner("hybridp", CFG, search_points=0)


def test_tables_roundtrip():
    """encode_tables / decode give back kept rows and columns; the mapper accepts them."""
    rng = np.random.default_rng(3)
    pruner = get_pruner("hybridp", CFG)
    projection = pruner.project(rng.random((1, 30, 20)), LayerTarget("l", 1, 30, 20, keep=150))
    tables = json.loads(json.dumps(pruner.encode_tables(projection)))
    layer = fc_layer(rng.normal(size=(20, 30)) * projection.mask[0].T)
    options = decode_hybridp(tables, layer)
    assert np.array_equal(options["layouts"][0].mask(), projection.mask[0])
    get_mapper("hybridp")(layer, CFG, options).validate(layer, CFG)


# --------------------------------------------------------------------------- lossless, end to end

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg16", "plain20", "resnet20"])
def test_functional_model_on_hybridp_mapping_equals_onnxruntime(name, tmp_path):
    """Pruned by projection, exported: the functional model (ideal ADC) on the Hybrid-P mapping
    equals onnxruntime; the metadata says "reconstruction"; the zeros give the same mapping."""
    facts = check_lossless(name, "hybridp", tmp_path, full=name != "vgg16",
                           ratio=16.0 if name == "vgg16" else 4.0)
    assert facts["metadata"]["reconstruction"] is True
    assert "reconstruction" in facts["metadata"]["note"]
