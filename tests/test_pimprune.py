"""Tests for PIM-Prune: the projection (reramsim.prune.pimprune), the compacted-block mapper
(reramsim.mapping.pimprune, reramsim.mapping.compact), its metadata and lossless execution."""
from __future__ import annotations

import json

import numpy as np
import pytest
from _baseline_helpers import CFG, check_lossless, conv3x3, fc_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from reramsim.config import load_config
from reramsim.mapping import MappingError, get_mapper
from reramsim.mapping.compact import index_list_bits
from reramsim.mapping.pimprune import PimLayout, pim_layout_from_matrix
from reramsim.prune import LayerTarget, PruningError, get_pruner
from reramsim.prune.metadata import PruningMetadataError
from reramsim.prune.pimprune import decode_pimprune, pim_project


def test_worked_example():
    """The module doc's example: segments taken by norm while they fit the budget."""
    scores = np.array([[9, 9, 1, 1], [1, 1, 8, 8], [2, 2, 2, 2]], float)
    layout = pim_project(scores, 6, 2)
    assert layout.row_masks.tolist() == [[True, False, True], [False, True, False]]
    assert layout.mask(3, 4).sum() == 6


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 60), cols=st.integers(1, 50), width=st.integers(1, 20),
       density=st.floats(0.0, 1.0), fraction=st.sampled_from([0.0, 0.25, 0.5]),
       seed=st.integers(0, 2**16))
def test_projection_keeps_whole_row_segments_and_the_budget(rows, cols, width, density,
                                                            fraction, seed):
    """Kept weights are whole rows of column blocks; keep - block_cols < kept <= keep."""
    scores = np.random.default_rng(seed).random((rows, cols)) ** 2
    keep = int(density * rows * cols)
    layout = pim_project(scores, keep, width, fraction)
    mask = layout.mask(rows, cols)
    assert mask.sum() <= keep
    assert mask.sum() > keep - width or mask.sum() == rows * cols
    for keep_rows, block in zip(layout.row_masks, layout.block_columns()):
        assert np.array_equal(mask[:, block], np.repeat(keep_rows[:, None], len(block), 1))
    dropped = np.setdiff1d(np.arange(cols), layout.columns)
    assert not mask[:, dropped].any()


def test_column_pruning_drops_the_weakest_whole_columns():
    """column_fraction removes that share of columns, lowest norm first, before the rows."""
    scores = np.ones((8, 32))
    scores[:, 5] = scores[:, 17] = 0.01
    pruner = get_pruner("pimprune", CFG, column_fraction=1 / 16)
    projection = pruner.project(scores[None], LayerTarget("l", 1, 8, 32, keep=128))
    layout = projection.tables[0]
    assert 5 not in layout.columns and 17 not in layout.columns and len(layout.columns) == 30
    assert projection.n_kept <= 128 and not projection.mask[0][:, [5, 17]].any()


def test_parameters_are_checked():
    """Bad parameters name the scheme, the parameter and what is allowed."""
    with pytest.raises(PruningError, match="block_cols must be an integer >= 1"):
        get_pruner("pimprune", CFG, block_cols=0)
    with pytest.raises(PruningError, match=r"column_fraction must be in \[0, 1\)"):
        get_pruner("pimprune", CFG, column_fraction=1.0)
    assert get_pruner("pimprune", CFG).params["block_cols"] == 128 // 8


# --------------------------------------------------------------------------- the mapper


def pim_matrix(rows: int, cols: int, width: int, rng: np.random.Generator,
               p_row: float = 0.3) -> np.ndarray:
    """A random matrix with PIM-Prune's structure (random kept rows per block)."""
    layout = PimLayout(width, np.arange(cols, dtype=np.int32),
                       rng.random((-(-cols // width), rows)) < p_row)
    return rng.normal(size=(rows, cols)) * layout.mask(rows, cols)


@pytest.mark.parametrize("differential", [False, True])
def test_mapping_is_valid_and_compacts_each_block(differential):
    """Each block's kept rows fill ceil(rows / 128) crossbars; every weight stored once."""
    rng = np.random.default_rng(1)
    config = load_config("ou_16x16", ["precision.signed_weights=differential"] if differential
                         else [])
    matrix = pim_matrix(400, 120, 16, rng)
    layer = fc_layer(matrix.T)
    m = get_mapper("pimprune")(layer, config, {})
    m.validate(layer, config)
    layout = pim_layout_from_matrix(matrix, 16)
    want = sum(-(-int(r.sum()) // 128) * -(-len(c) * 8 // 128)
               for r, c in zip(layout.row_masks, layout.block_columns()))
    assert m.n_crossbars == want * config.polarities
    assert m.n_crossbars < get_mapper("dense")(layer, config, {}).n_crossbars


def test_data_path_by_hand():
    """Row lists, gather fan-in (the crossbar's input span) and index reads of a small case."""
    matrix = np.zeros((40, 32))
    matrix[[0, 3, 9], :16] = 1.0  # block 0: rows 0, 3, 9 (span 10)
    matrix[10:20, 16:] = 2.0  # block 1: rows 10..19, a run: no gather, no index
    layer = fc_layer(matrix.T)
    m = get_mapper("pimprune")(layer, CFG, {})
    m.validate(layer, CFG)
    assert m.n_crossbars == 2 and m.xbar_gather_fanin.tolist() == [10, 0]
    assert m.info["index_bits"] == {"row_indices": index_list_bits(3, 40), "column_indices": 0,
                                    "total": 3 * 6}
    first = m.ou_xbar == 0
    assert np.all(m.ou_index_reads[first] == 1) and np.all(m.ou_index_reads[~first] == 0)
    assert np.all(m.ou_gather_inputs[first] == 3) and np.all(m.ou_gather_inputs[~first] == 0)


def test_unpruned_matrix_needs_the_dense_crossbars_and_no_data_path():
    """A dense matrix: the dense crossbar count, no gather, no index data."""
    layer = conv3x3(np.random.default_rng(2).normal(size=(64, 64, 3, 3)))
    m = get_mapper("pimprune")(layer, CFG, {})
    assert m.n_crossbars == get_mapper("dense")(layer, CFG, {}).n_crossbars == 20
    assert m.index_storage_bits == 0 and not m.ou_index_reads.any()
    assert not m.xbar_gather_fanin.any()


def test_layout_that_misses_a_weight_is_refused():
    """Metadata whose kept rows do not cover a non-zero weight is a MappingError naming it."""
    rng = np.random.default_rng(3)
    matrix = pim_matrix(30, 20, 16, rng)
    layout = pim_layout_from_matrix(matrix, 16)
    matrix[np.flatnonzero(~layout.row_masks[0])[0], 0] = 1.0
    with pytest.raises(MappingError, match="outside the kept rows and columns"):
        get_mapper("pimprune")(fc_layer(matrix.T), CFG, {"layouts": [layout]})
    with pytest.raises(MappingError, match="allowed: block_cols"):
        get_mapper("pimprune")(fc_layer(matrix.T), CFG, {"blocks": 3})


def test_tables_roundtrip_and_bad_tables():
    """encode_tables / decode give back the layout; a wrong row count is a metadata error."""
    rng = np.random.default_rng(4)
    scores = rng.random((1, 50, 40))
    pruner = get_pruner("pimprune", CFG, column_fraction=0.1)
    projection = pruner.project(scores, LayerTarget("l", 1, 50, 40, keep=500))
    tables = json.loads(json.dumps(pruner.encode_tables(projection)))
    layer = fc_layer(rng.normal(size=(40, 50)) * projection.mask[0].T)
    options = decode_pimprune(tables, layer)
    back = options["layouts"][0]
    assert np.array_equal(back.mask(50, 40), projection.mask[0])
    get_mapper("pimprune")(layer, CFG, options).validate(layer, CFG)
    tables["groups"][0]["rows"].pop()
    with pytest.raises(PruningMetadataError, match="row masks"):
        decode_pimprune(tables, layer)


# --------------------------------------------------------------------------- lossless, end to end

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg16", "plain20", "resnet20"])
def test_functional_model_on_pimprune_mapping_equals_onnxruntime(name, tmp_path):
    """Pruned by projection, exported: the functional model (ideal ADC) on the PIM-Prune
    mapping equals onnxruntime, and the zeros alone recover the same structure."""
    facts = check_lossless(name, "pimprune", tmp_path, full=name != "vgg16",
                           ratio=16.0 if name == "vgg16" else 4.0)
    assert facts["network"].n_weights / facts["network"].n_nonzero_weights >= 4.0
