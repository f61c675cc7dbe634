"""Tests for Pattern-Prune: the projection (reramsim.prune.pattern), the mapper
(reramsim.mapping.pattern), its metadata and lossless execution."""
from __future__ import annotations

import json

import numpy as np
import pytest
from _baseline_helpers import CFG, check_lossless, conv3x3, fc_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from reramsim.mapping import get_mapper
from reramsim.mapping.pattern import group_filters
from reramsim.prune import LayerTarget, PruningError, get_pruner
from reramsim.prune.base import allocate_prunable
from reramsim.prune.metadata import PruningMetadataError
from reramsim.prune.pattern import (
    CENTRE,
    candidate_patterns,
    decode_pattern,
    kernels_of,
    pattern_library,
    round_budgets,
)


def target(cin: int, cout: int, keep: int, kernel=(3, 3)) -> LayerTarget:
    return LayerTarget("l", 1, cin * kernel[0] * kernel[1], cout, keep, kernel)


def test_candidates_and_worked_example():
    """56 candidates of 4 (centre + 3); the doc's kernel votes for {3, 4, 5, 7}."""
    candidates = candidate_patterns(4)
    assert candidates.shape == (56, 9) and candidates[:, CENTRE].all()
    assert np.all(candidates.sum(axis=1) == 4)
    kernel = np.array([[0, 1, 0, 9, 5, 8, 0, 7, 0]], float)
    library = pattern_library(kernel, candidates, 1)
    assert np.flatnonzero(library[0]).tolist() == [3, 4, 5, 7]


def planted_scores(rng: np.random.Generator, cin: int = 16, cout: int = 32):
    """3x3 scores whose kernels follow 3 planted patterns, plus small noise."""
    planted = candidate_patterns(4)[[0, 20, 41]]
    ids = rng.integers(0, 3, (cout, cin))
    kernels = planted[ids].astype(float) * rng.uniform(1, 2, (cout, cin, 9))
    kernels += rng.uniform(0, 0.01, kernels.shape)
    return kernels.reshape(cout, cin * 9).T[None], planted, ids


@settings(max_examples=25, deadline=None)
@given(density=st.floats(0.0, 0.5), seed=st.integers(0, 2**16))
def test_every_kept_kernel_has_a_library_pattern_and_the_budget_is_exact(density, seed):
    """3x3: each kept kernel is one library pattern (4 weights, centre in); kept = 4*(keep//4)."""
    rng = np.random.default_rng(seed)
    scores = rng.random((1, 8 * 9, 12))
    keep = int(density * scores.size)
    projection = get_pruner("pattern", CFG).project(scores, target(8, 12, keep))
    library = projection.tables["library"]
    assert len(library) == 8
    kernels = kernels_of(projection.mask.astype(float), (3, 3)).astype(bool)
    kept = kernels[kernels.any(axis=1)]
    assert projection.n_kept == 4 * min(keep // 4, 8 * 12)
    assert all(any(np.array_equal(k, p) for p in library) for k in kept)


def test_planted_patterns_form_the_library():
    """Kernels built from 3 patterns: those 3 lead the library and every kernel keeps its own."""
    scores, planted, ids = planted_scores(np.random.default_rng(1))
    projection = get_pruner("pattern", CFG).project(scores, target(16, 32, scores.size))
    library = projection.tables["library"]
    assert {p.tobytes() for p in library[:3]} == {p.tobytes() for p in planted}
    kernels = kernels_of(projection.mask.astype(float), (3, 3)).astype(bool)
    assert np.array_equal(kernels, planted[ids.ravel()])


def test_other_kernels_connectivity_and_dense():
    """5x5 and fc: whole kernels (exactly k*(keep//k)) or, with "dense", left unpruned."""
    rng = np.random.default_rng(2)
    scores = rng.random((1, 6 * 25, 16))
    projection = get_pruner("pattern", CFG).project(scores, target(6, 16, 1000, (5, 5)))
    kernels = kernels_of(projection.mask.astype(float), (5, 5))
    assert set(kernels.sum(axis=1)) <= {0, 25} and projection.n_kept == 25 * (1000 // 25)
    dense = get_pruner("pattern", CFG, other_kernels="dense")
    fc = LayerTarget("fc", 1, 40, 10, 400)
    assert dense.project(rng.random((1, 40, 10)), fc).n_kept == 400
    with pytest.raises(PruningError, match="other_kernels=dense leaves unpruned"):
        dense.project(rng.random((1, 40, 10)), LayerTarget("fc", 1, 40, 10, 100))


def test_dense_layers_move_the_budget_or_make_the_ratio_unreachable():
    """other_kernels=dense: the 3x3 layer carries the network ratio; too high a ratio is an
    error naming the dense layer."""
    pruner = get_pruner("pattern", CFG, other_kernels="dense")
    targets = [target(8, 16, 0), LayerTarget("fc", 1, 64, 10, 0)]
    scores = [np.ones((1, 72, 16)), np.ones((1, 64, 10))]
    keep = allocate_prunable(pruner, scores, targets, 2.0, "uniform")
    assert keep[1] == 640 and keep[0] == (72 * 16 + 640) // 2 - 640
    with pytest.raises(PruningError, match="ratio 4 is unreachable: layers fc stay dense"):
        allocate_prunable(pruner, scores, targets, 4.0, "uniform")


def test_budgets_round_to_whole_kernels_within_the_network_budget():
    """Nearest whole kernels per layer; the surplus comes from the finest layers (doc example)."""
    targets = [LayerTarget("c", 1, 25, 6, 140, (5, 5)), LayerTarget("fc", 1, 100, 20, 1000)]
    assert round_budgets(targets, [25, 1]) == [150, 990]
    pruner = get_pruner("pattern", CFG)
    scores = {"c": np.random.default_rng(5).random((1, 25, 6)), "fc": np.ones((1, 100, 20))}
    pruner.prepare(scores, {t.name: t for t in targets})
    assert pruner.project(scores["c"], targets[0]).n_kept == 150
    assert pruner.project(scores["fc"], targets[1]).n_kept == 990


def test_parameters_are_checked():
    """Bad parameters name the parameter and the allowed values."""
    with pytest.raises(PruningError, match="other_kernels must be one of connectivity, dense"):
        get_pruner("pattern", CFG, other_kernels="skip")
    with pytest.raises(PruningError, match="n_patterns must be an integer"):
        get_pruner("pattern", CFG, n_patterns=0)


# --------------------------------------------------------------------------- the mapper


def test_group_filters_puts_equal_patterns_together():
    """Two interleaved kinds of filter: each block holds one kind and keeps only its rows."""
    mask = np.zeros((72, 32), bool)
    mask[0::2, 0::2] = True  # even filters: even rows
    mask[1::2, 1::2] = True  # odd filters: odd rows
    blocks = group_filters(mask, 16)
    assert sorted(map(tuple, blocks)) == [tuple(range(0, 32, 2)), tuple(range(1, 32, 2))]
    assert all(mask[:, b].any(axis=1).sum() == 36 for b in blocks)


def test_mapping_saves_rows_only_where_a_block_is_zero():
    """Filters with one shared pattern per channel: 4 of 9 rows per block, fewer crossbars."""
    rng = np.random.default_rng(3)
    pattern = candidate_patterns(4)[7]
    weight = rng.normal(size=(64, 64, 3, 3)) * pattern.reshape(1, 1, 3, 3)
    layer = conv3x3(weight)
    m = get_mapper("pattern")(layer, CFG, {})
    m.validate(layer, CFG)
    assert m.info["patterns"] == 1 and m.info["mean_kept_rows"] == 64 * 4
    assert m.n_crossbars == 4 * 2 < get_mapper("dense")(layer, CFG, {}).n_crossbars == 20
    shuffled = weight * (rng.random((64, 64, 1, 1)) < 0.99)  # kernels differ: few zero rows
    m2 = get_mapper("pattern")(conv3x3(shuffled), CFG, {})
    assert m2.n_crossbars >= m.n_crossbars


def test_tables_roundtrip_and_bad_tables():
    """encode_tables / decode give back the keep mask; a short id string is a metadata error."""
    rng = np.random.default_rng(4)
    pruner = get_pruner("pattern", CFG)
    projection = pruner.project(rng.random((1, 72, 16)), target(8, 16, 200))
    tables = json.loads(json.dumps(pruner.encode_tables(projection)))
    weight = rng.normal(size=(16, 8, 3, 3)) * projection.mask[0].T.reshape(16, 8, 3, 3)
    layer = conv3x3(weight)
    options = decode_pattern(tables, layer)
    assert np.array_equal(options["masks"][0], projection.mask[0])
    get_mapper("pattern")(layer, CFG, options).validate(layer, CFG)
    tables["ids"] = tables["ids"][:-1]
    with pytest.raises(PruningMetadataError, match="ids for 128 entries"):
        decode_pattern(tables, layer)
    fc = fc_layer(np.ones((4, 4)))
    with pytest.raises(PruningMetadataError, match="unknown pattern mode 'x'"):
        decode_pattern({"kernel": [1, 1], "mode": "x"}, fc)


# --------------------------------------------------------------------------- lossless, end to end

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg16", "plain20", "resnet20"])
def test_functional_model_on_pattern_mapping_equals_onnxruntime(name, tmp_path):
    """Pruned by projection, exported: the functional model (ideal ADC) on the Pattern-Prune
    mapping equals onnxruntime; the zeros alone recover the same mapping."""
    facts = check_lossless(name, "pattern", tmp_path, full=name != "vgg16",
                           ratio=16.0 if name == "vgg16" else 4.0)
    layers = facts["metadata"]["layers"]
    modes = {tuple(e["tables"]["kernel"]): e["tables"]["mode"] for e in layers}
    assert modes.get((3, 3), "pattern") == "pattern"
    assert all(mode == "connectivity" for k, mode in modes.items() if k != (3, 3))
