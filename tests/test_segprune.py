"""Tests for SegPrune: shape voting (reramsim.prune.segprune), the mapper
(reramsim.mapping.segprune), its metadata, and lossless execution of the mapping."""
from __future__ import annotations

import json

import numpy as np
import pytest
from _segprune_helpers import functional_vs_ort, random_layout, randomize_bn, reconstruct
from hypothesis import given, settings
from hypothesis import strategies as st

from reramsim.config import load_config
from reramsim.ir import Network, WeightLayer
from reramsim.mapping import MappingError, get_mapper, map_network
from reramsim.mapping.segprune import (
    INDEX_READS_PER_OU,
    SegmentLayout,
    block_bounds,
    filter_index_bits,
    index_storage_bits,
    layout_from_matrix,
)
from reramsim.prune.metadata import (
    METADATA_KEY,
    PruningMetadataError,
    decode_layout,
    encode_layout,
    scheme_from_metadata,
)
from reramsim.prune.segprune import shape_vote

CFG = load_config("ou_16x16")


def conv_layer(weight: np.ndarray, groups: int = 1, name: str = "conv") -> WeightLayer:
    """A conv WeightLayer (3x3 or the weight's kernel) on an 8x8 input, padding 1 for 3x3."""
    cout, cin_g, kh, kw = weight.shape
    pad = kh // 2
    return WeightLayer(name=name, op="conv", inputs=("x",), output=name + "_out",
                       in_shapes=((cin_g * groups, 8, 8),), out_shape=(cout, 8, 8),
                       weight=weight.astype(np.float32), groups=groups, kernel=(kh, kw),
                       pads=(pad, pad, pad, pad))


def fc_layer(weight: np.ndarray, name: str = "fc") -> WeightLayer:
    return WeightLayer(name=name, op="fc", inputs=("x",), output=name + "_out",
                       in_shapes=((weight.shape[1],),), out_shape=(weight.shape[0],),
                       weight=weight.astype(np.float32))


def pruned_by_layout(rows: int, cols: int, rng: np.random.Generator, height: int = 16
                     ) -> tuple[np.ndarray, SegmentLayout]:
    """A random matrix pruned by a random layout, and the layout."""
    layout = random_layout(rows, cols, height, rng)
    matrix = rng.normal(size=(rows, cols)) * layout.mask(rows)
    return matrix, layout


# --------------------------------------------------------------------------- shape voting


def planted(rng: np.random.Generator, n_blocks: int = 6, h: int = 16, cols: int = 120,
            noise: float = 0.01):
    """A matrix built from 3 planted shapes (plus empty segments) and small noise."""
    shapes = np.zeros((3, h), bool)
    for i, k in enumerate((3, 6, 9)):
        shapes[i, rng.choice(h, k, replace=False)] = True
    scores = rng.normal(scale=noise, size=(n_blocks * h, cols))
    truth = np.zeros_like(scores, bool)
    kind = rng.integers(0, 4, size=(n_blocks, cols))  # 3 = empty (noise only)
    for b in range(n_blocks):
        for j in range(cols):
            if kind[b, j] < 3:
                rows = b * h + np.flatnonzero(shapes[kind[b, j]])
                scores[rows, j] = rng.uniform(0.5, 2.0, len(rows)) * rng.choice([-1, 1], len(rows))
                truth[rows, j] = True
    return scores ** 2, truth, shapes, kind


def test_shape_vote_recovers_planted_shapes():
    """Voting on 3 planted shapes plus noise finds exactly those shapes and assignments."""
    scores, truth, shapes, kind = planted(np.random.default_rng(1))
    layout, _ = shape_vote(scores, int(truth.sum()), 16, max_shapes=8)
    assert np.array_equal(layout.mask(scores.shape[0]), truth)
    assert layout.n_kept() == truth.sum()
    for b, table in enumerate(layout.shapes):
        assert {t.tobytes() for t in table} == {s.tobytes() for s in shapes}
        assert np.array_equal(layout.assign[b] == 0, kind[b] == 3)  # noise-only -> empty shape


def test_shape_vote_uses_empty_shape_for_low_norm_segments():
    """Segments whose norm is below the threshold get the empty shape; strong ones keep theirs."""
    rng = np.random.default_rng(2)
    scores = rng.uniform(0, 0.01, size=(32, 40))
    scores[:, :10] += 5.0  # 10 strong columns: 320 weights
    layout, _ = shape_vote(scores, 320, 16, max_shapes=4)
    assert np.all(layout.assign[:, 10:] == 0)
    assert np.all(layout.assign[:, :10] > 0)
    assert layout.n_kept() == 320


def test_shape_vote_worked_example():
    """The docstring's worked example: one shape {0, 1} for two segments, the third empty."""
    scores = np.array([[9, 8, 0], [8, 7, 0], [0, 0, 1], [0, 0, 0]], float)
    layout, _ = shape_vote(scores, 4, 4)
    assert [list(np.flatnonzero(s)) for s in layout.shapes[0]] == [[0, 1]]
    assert layout.assign.tolist() == [[1, 1, 0]]


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 70), cols=st.integers(1, 40), height=st.sampled_from([1, 4, 8, 16]),
       density=st.floats(0.0, 1.0), max_shapes=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_shape_vote_meets_budget(rows, cols, height, density, max_shapes, seed):
    """Any matrix and budget: kept <= budget, <= max_shapes shapes per block, layout consistent."""
    scores = np.random.default_rng(seed).random((rows, cols)) ** 3
    keep = int(density * rows * cols)
    layout, _ = shape_vote(scores, keep, height, max_shapes)
    mask = layout.mask(rows)
    assert layout.n_kept() == mask.sum() <= keep
    assert all(len(t) <= max_shapes for t in layout.shapes)
    assert [t.shape[1] for t in layout.shapes] == [b - a for a, b in block_bounds(rows, height)]
    assert np.array_equal(layout_from_matrix(mask.astype(float), height).mask(rows), mask)


def test_shape_vote_keeps_most_of_the_energy_on_structured_scores():
    """On planted structure the kept energy equals the unstructured optimum's."""
    scores, truth, _, _ = planted(np.random.default_rng(3), noise=0.001)
    layout, _ = shape_vote(scores, int(truth.sum()), 16)
    best = np.sort(scores.ravel())[::-1][:truth.sum()].sum()
    assert scores[layout.mask(scores.shape[0])].sum() == pytest.approx(best)


# --------------------------------------------------------------------------- the mapper


@pytest.mark.parametrize("kind, groups, differential", [
    ("conv", 1, False), ("conv", 2, False), ("fc", 1, False), ("conv", 1, True)])
def test_mapping_is_valid_and_lossless(kind, groups, differential):
    """Random layouts map validly; the matrix rebuilt from the OU arrays equals the layer."""
    rng = np.random.default_rng(4)
    config = load_config("ou_16x16", ["precision.signed_weights=differential"] if differential
                         else [])
    if kind == "fc":
        layer = fc_layer(pruned_by_layout(200, 70, rng)[0].T)
    else:
        mats = [pruned_by_layout(9 * 24, 40, rng)[0] for _ in range(groups)]
        weight = np.concatenate([m.T.reshape(40, 24, 3, 3) for m in mats])
        layer = conv_layer(weight, groups)
    mapping = get_mapper("segprune")(layer, config, {})
    mapping.validate(layer, config)
    assert np.allclose(reconstruct(mapping, layer), np.stack(list(layer.matrices())))
    assert set(np.unique(mapping.xbar_polarity)) == ({1, -1} if differential else {1})


def test_ous_never_mix_groups():
    """Every OU reads the rows of one shape in one row-block, and only columns of that shape."""
    rng = np.random.default_rng(5)
    matrix, layout = pruned_by_layout(100, 50, rng)
    layer = fc_layer(matrix.T)
    m = get_mapper("segprune")(layer, CFG, {})
    for k in range(m.n_ous):
        rows = m.ou_rows[m.ou_row_ptr[k]:m.ou_row_ptr[k + 1]]
        cols = np.unique(m.ou_cols[m.ou_col_ptr[k]:m.ou_col_ptr[k + 1]])
        block = rows[0] // 16
        assert np.all(rows // 16 == block)
        ids = layout.assign[block, cols]
        assert len(set(ids)) == 1 and ids[0] > 0
        shape_rows = block * 16 + np.flatnonzero(layout.shapes[block][ids[0] - 1])
        assert set(rows) <= set(shape_rows)
    assert np.all(m.ou_gather_inputs == m.ou_n_rows)
    assert np.all(m.ou_index_reads == INDEX_READS_PER_OU)
    assert np.all(m.xbar_gather_fanin == 16)


def test_unpruned_matrix_needs_the_dense_crossbars():
    """A dense matrix is one full shape per block: same crossbar count as the dense mapping."""
    layer = fc_layer(np.random.default_rng(6).normal(size=(64, 256)))
    seg = get_mapper("segprune")(layer, CFG, {})
    dense = get_mapper("dense")(layer, CFG, {})
    seg.validate(layer, CFG)
    assert seg.n_crossbars == dense.n_crossbars == 2 * 4


def test_groups_share_crossbars_vertically():
    """Groups of few rows stack into one crossbar: 8 blocks of a 2-row shape fill 16 rows."""
    matrix = np.zeros((128, 16))
    matrix[np.arange(0, 128, 16)] = 1.0  # row 0 of every block: one 1-row shape per block
    matrix[np.arange(1, 128, 16)] = 2.0
    layer = fc_layer(matrix.T)
    m = get_mapper("segprune")(layer, CFG, {})
    m.validate(layer, CFG)
    assert m.n_crossbars == 1 and m.n_ous == 8 * 8  # 8 groups x (2 rows, 128 bit-lines / 16)
    assert m.info["groups"] == 8


def test_index_storage_bits_by_hand():
    """Small groups: each piece carries its own mask (cheaper than tables plus shape ids)."""
    matrix = np.zeros((32, 4))
    matrix[[0, 1], 0] = matrix[[0, 1], 1] = 1  # block 0: shape {0,1} for cols 0, 1
    matrix[[16 + 3], 2] = 1  # block 1: shape {3} for col 2
    layer = fc_layer(matrix.T)
    m = get_mapper("segprune")(layer, CFG, {})
    bits = m.info["index_bits"]
    # Shapes: tables 2 x 16 bits + 2 pieces x 1-bit shape id = 34 > inline 2 x 16 = 32.
    # Blocks: both pieces on crossbar 0, runs of block 0 and block 1: 2 x 1-bit block id
    # + 2 run flags = 4. Filters: min(2 x ceil(log2 4), 4) + min(1 x 2, 4) = 6 bits.
    assert bits == {"shape_tables": 0, "piece_shapes": 32, "block_runs": 4,
                    "filter_indices": 6, "total": 42}
    assert m.info["shape_encoding"] == "inline" and m.index_storage_bits == 42


def test_filter_index_bits_take_the_cheapest_of_list_bitmap_and_deltas():
    """Of 64 filters: a list of 6-bit indices, a 64-bit bitmap, or 3-bit width + first + gaps."""
    assert filter_index_bits(np.array([3, 4, 5, 9]), 64) == 3 + 6 + 3 * 2  # gaps 0, 0, 3
    assert filter_index_bits(np.array([0, 63]), 64) == 2 * 6  # one gap of 62: 6 bits
    spread = np.r_[np.arange(20), np.arange(40, 60)]  # 40 filters, a gap of 20: 5-bit gaps
    assert filter_index_bits(spread, 64) == 64
    assert filter_index_bits(np.array([7]), 64) == 6


def test_index_storage_keeps_a_shape_table_for_a_group_cut_into_pieces():
    """One 3-row shape on 40 columns = 320 bit-lines, 3 pieces: one table entry + 3 ids."""
    matrix = np.zeros((16, 40))
    matrix[[2, 5, 7]] = 1.0
    layer = fc_layer(matrix.T)
    m = get_mapper("segprune")(layer, CFG, {})
    m.validate(layer, CFG)
    # Table 16 + 3 x 1 = 19 < inline 3 x 16; one row-block: no block ids; the pieces hold
    # filters 0-15, 16-31 and 32-39 of 40: deltas of 1 bit after a 3-bit width and a
    # 6-bit first index, 3 + 6 + 15 = 24, 24 and 3 + 6 + 7 = 16 bits (bitmaps: 40 each).
    assert m.info["index_bits"] == {"shape_tables": 16, "piece_shapes": 3, "block_runs": 0,
                                    "filter_indices": 64, "total": 83}
    assert m.info["shape_encoding"] == "table"


def test_block_ids_are_stored_once_per_run_of_a_crossbar():
    """Pieces (crossbar, block): runs (0,0) (0,1) (1,1) (1,0): 4 block ids + 5 run flags."""
    layouts = [layout_from_matrix(np.ones((32, 4)), 16)]
    pieces = np.array([[0, 0, 1], [0, 0, 1], [0, 1, 1], [1, 1, 1], [1, 0, 1]])
    assert index_storage_bits(layouts, 32, pieces)["block_runs"] == 4 * 1 + 5


def test_a_crossbar_runs_its_pieces_grouped_by_row_block():
    """The OUs of every crossbar come in runs of one row-block (what block_runs counts)."""
    rng = np.random.default_rng(11)
    layer = fc_layer(pruned_by_layout(300, 60, rng)[0].T)
    m = get_mapper("segprune")(layer, CFG, {})
    blocks = m.ou_rows[m.ou_row_ptr[:-1]] // 16
    for x in range(m.n_crossbars):
        seq = blocks[m.ou_xbar == x]
        assert np.all(np.diff(seq) >= 0)
    runs = len(np.unique(m.ou_xbar.astype(np.int64) * 100 + blocks))
    assert m.info["index_bits"]["block_runs"] == runs * 5 + m.info["pieces"]


def test_short_last_block_and_tall_segments():
    """Rows not a multiple of h, and h larger than the OU (OUs split the group's rows)."""
    rng = np.random.default_rng(7)
    for height in (16, 40):
        matrix, layout = pruned_by_layout(75, 30, rng, height)
        layer = fc_layer(matrix.T)
        m = get_mapper("segprune")(layer, CFG, {"segment_height": height,
                                                 "layouts": [layout]})
        m.validate(layer, CFG)
        assert m.ou_n_rows.max() <= CFG.ou.rows


def test_layout_that_misses_a_weight_is_refused():
    """Metadata whose shapes do not cover a non-zero weight raises a MappingError naming it."""
    rng = np.random.default_rng(8)
    matrix, layout = pruned_by_layout(32, 8, rng)
    matrix[~layout.mask(32)] = 0.0
    free = np.argwhere(~layout.mask(32))[0]
    matrix[tuple(free)] = 1.0
    with pytest.raises(MappingError, match="outside its segment's shape"):
        get_mapper("segprune")(fc_layer(matrix.T), CFG, {"layouts": [layout]})


def test_unknown_option_is_refused():
    """A typo in the mapper options lists the allowed ones."""
    with pytest.raises(MappingError, match="allowed: layouts"):
        get_mapper("segprune")(fc_layer(np.ones((4, 4))), CFG, {"segment_hieght": 8})


# --------------------------------------------------------------------------- metadata


def test_layout_json_roundtrip():
    """encode_layout / decode_layout give back the same tables and ids."""
    rng = np.random.default_rng(9)
    layout = random_layout(50, 33, 16, rng)
    data = json.loads(json.dumps(encode_layout(layout)))
    back = decode_layout(data, 50, 33, 16)
    assert np.array_equal(back.assign, layout.assign)
    assert all(np.array_equal(a, b) for a, b in zip(back.shapes, layout.shapes))


def net_with(layers: list[WeightLayer], meta: dict | None) -> Network:
    return Network("n", {"x": layers[0].in_shapes[0]}, [layers[-1].output], layers,
                   metadata={METADATA_KEY: json.dumps(meta)} if meta is not None else {})


def test_scheme_from_metadata_matches_layers_by_name_and_checks_shapes():
    """Metadata options map each IR layer; a size mismatch is an error; no metadata is dense."""
    rng = np.random.default_rng(10)
    matrix, layout = pruned_by_layout(40, 12, rng)
    layer = fc_layer(matrix.T, name="fc1")
    entry = {"index": 0, "layer": "fc1", "rows": 40, "cols": 12, "groups": 1,
             "tables": {"segment_height": 16, "groups": [encode_layout(layout)]}}
    meta = {"scheme": "segprune", "layers": [entry]}
    scheme, options = scheme_from_metadata(net_with([layer], meta))
    assert scheme == "segprune" and set(options) == {"fc1"}
    mapping = map_network(net_with([layer], meta), CFG, scheme, options)
    assert mapping.layers["fc1"].info["source"] == "metadata"
    assert scheme_from_metadata(net_with([layer], None)) == ("dense", {})
    bad = dict(entry, layer="other", rows=41)
    with pytest.raises(PruningMetadataError, match="41x12"):
        scheme_from_metadata(net_with([layer], {"scheme": "segprune", "layers": [bad]}))


def test_malformed_metadata_is_a_clear_error():
    """Non-JSON metadata names the key."""
    net = net_with([fc_layer(np.ones((4, 4)))], None)
    net.metadata[METADATA_KEY] = "{not json"
    with pytest.raises(PruningMetadataError, match="reramsim.pruning"):
        scheme_from_metadata(net)


# --------------------------------------------------------------------------- lossless, end to end

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")


def randomly_pruned(name: str, seed: int = 0):
    """Zoo model ``name``, random init, random SegPrune layouts: a PruneResult ready to export."""
    from reramsim import zoo
    from reramsim.prune import Projection, get_pruner
    from reramsim.prune.base import matrix_view
    from reramsim.prune.finetune import PruneResult, prunable_layers

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = zoo.build(name).eval()
    randomize_bn(model, rng)
    projections = {}
    for n, mod in prunable_layers(model):
        mats = matrix_view(mod.weight.detach().numpy(), 1)
        sparse = mats.size > 100_000  # keep the big layers' mapping and check quick
        layout = random_layout(mats.shape[1], mats.shape[2], 16, rng,
                               p_empty=0.95 if sparse else 0.3)
        projections[n] = Projection(layout.mask(mats.shape[1])[None], [layout])
    return PruneResult(model, get_pruner("segprune", CFG), 8.0, list(projections), projections)


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg16", "plain20", "resnet20"])
def test_functional_model_on_segprune_mapping_equals_onnxruntime(name, tmp_path):
    """Ideal ADC: the functional model on the SegPrune mapping reproduces onnxruntime (< 1e-5)."""
    from reramsim.functional import full_precision
    from reramsim.prune.export import export_pruned
    from reramsim.zoo import INPUT_SHAPES

    path, network = export_pruned(randomly_pruned(name), tmp_path / f"{name}.onnx",
                                  INPUT_SHAPES[name])
    scheme, options = scheme_from_metadata(network)
    assert scheme == "segprune" and len(options) == len(network.weight_layers())
    config = full_precision(CFG)
    mapping = map_network(network, config, scheme, options)
    for layer in network.weight_layers():
        if name != "vgg16":  # 5 s for vgg16; the same mapper is validated on the others
            mapping.layers[layer.name].validate(layer, config)
        assert mapping.layers[layer.name].info["source"] == "metadata"
    assert functional_vs_ort(path, network, mapping, config, INPUT_SHAPES[name]) < 1e-5


@pytest.mark.parametrize("name", ["lenet", "plain20", "resnet20"])
def test_hand_pruned_onnx_without_metadata_is_lossless(name, tmp_path):
    """An ONNX file with random zeros and no metadata: shapes recovered from zeros, still exact."""
    import onnx
    from onnx import numpy_helper

    from reramsim.functional import full_precision
    from reramsim.onnx_import import load_onnx
    from reramsim.training import export_onnx
    from reramsim.zoo import INPUT_SHAPES, build

    torch.manual_seed(0)
    rng = np.random.default_rng(11)
    path = export_onnx(build(name).eval(), tmp_path / f"{name}.onnx", INPUT_SHAPES[name])
    proto = onnx.load(str(path))
    for init in proto.graph.initializer:
        w = numpy_helper.to_array(init)
        if w.ndim in (2, 4) and w.size > 64:  # conv and fc weights
            w = w * (rng.random(w.shape) < 0.3)
            init.CopyFrom(numpy_helper.from_array(w.astype(np.float32), init.name))
    onnx.save(proto, str(path))
    network = load_onnx(path)
    assert scheme_from_metadata(network) == ("dense", {})
    config = full_precision(CFG)
    mapping = map_network(network, config, "segprune")
    for layer in network.weight_layers():
        mapping.layers[layer.name].validate(layer, config)
        assert mapping.layers[layer.name].info["source"] == "zeros"
    assert functional_vs_ort(path, network, mapping, config, INPUT_SHAPES[name]) < 1e-5


def test_ou_budget_per_crossbar_trades_crossbars_for_parallelism():
    """max_ous_per_crossbar caps every crossbar's OUs ("dense": as in the dense mapping)."""
    rng = np.random.default_rng(12)
    matrix, _ = pruned_by_layout(9 * 64, 64, rng)
    layer = fc_layer(matrix.T)
    packed = get_mapper("segprune")(layer, CFG, {})
    capped = get_mapper("segprune")(layer, CFG, {"max_ous_per_crossbar": "dense"})
    dense = get_mapper("dense")(layer, CFG, {})
    capped.validate(layer, CFG)
    assert capped.ous_per_crossbar.max() <= dense.ous_per_crossbar.max() == 64
    assert packed.ous_per_crossbar.max() > 64
    assert capped.n_crossbars > packed.n_crossbars and capped.n_ous == packed.n_ous
    with pytest.raises(MappingError, match="max_ous_per_crossbar"):
        get_mapper("segprune")(layer, CFG, {"max_ous_per_crossbar": 0})


@pytest.mark.parametrize("seed", range(6))
def test_balanced_packing_never_worse_on_the_busiest_crossbar(seed):
    """mapping.packing: balance keeps first fit's crossbar count and never puts more OUs
    on the busiest crossbar; both mappings are valid and lossless."""
    rng = np.random.default_rng(seed)
    layer = fc_layer(pruned_by_layout(int(rng.integers(100, 600)), int(rng.integers(20, 90)),
                                      rng)[0].T)
    first = load_config("ou_16x16", ["mapping.packing=crossbars"])
    ff = get_mapper("segprune")(layer, first, {})
    bal = get_mapper("segprune")(layer, CFG, {})
    for m in (ff, bal):
        m.validate(layer, CFG)
    assert bal.n_crossbars == ff.n_crossbars
    assert bal.ous_per_crossbar.max() <= ff.ous_per_crossbar.max()


def test_balanced_packing_spreads_a_stacked_crossbar():
    """Nine full 16-row groups, block b keeping 16 - b columns ((16 - b) x 8 bit-lines: no
    two share a shelf): 9 shelves of 8, 8, 7, 7, 6, 6, 5, 5, 4 OUs. First fit stacks 8
    shelves (128 rows) on crossbar 0: 52 OUs, 4 on crossbar 1. Balance deals them most
    OUs first to the less loaded crossbar: 8+7+6+5+4 = 30 and 8+7+6+5 = 26."""
    rows, h = 16 * 9, 16
    matrix = np.zeros((rows, 16 * 9))
    for b in range(9):
        matrix[b * h:(b + 1) * h, b * 16:(b + 1) * 16 - b] = 1.0  # block b: 16 - b columns
    layer = fc_layer(matrix.T)
    ff = get_mapper("segprune")(layer, load_config("ou_16x16", ["mapping.packing=crossbars"]),
                                {})
    bal = get_mapper("segprune")(layer, CFG, {})
    assert ff.n_crossbars == bal.n_crossbars == 2
    assert ff.ous_per_crossbar.tolist() == [52, 4]
    assert sorted(bal.ous_per_crossbar.tolist()) == [26, 30]


def test_segprune_tables_decode_through_the_registry():
    """SegPrune's table decoder is registered like any scheme's, and only once."""
    from reramsim.prune import segprune
    from reramsim.prune.metadata import TABLE_DECODERS, register_table_decoder

    assert TABLE_DECODERS["segprune"] is segprune.decode_tables
    with pytest.raises(ValueError, match="registered twice"):
        register_table_decoder("segprune")(segprune.decode_tables)
