"""Tests for AUTO-PRUNE's column-vector projection (reramsim.prune.autoprune.projection), its
mapper (reramsim.mapping.autoprune), its metadata, lossless execution, and the exact integer
model that scores policies (reramsim.prune.autoprune.quantized)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from _segprune_helpers import reconstruct
from hypothesis import given, settings
from hypothesis import strategies as st

from reramsim.config import load_config
from reramsim.ir import Network, WeightLayer
from reramsim.mapping import MappingError, get_mapper, map_network
from reramsim.mapping.autoprune import (
    best_formation,
    crossbar_count,
    expand_vector_mask,
    order_columns,
    ou_count,
    vector_mask_from_matrix,
)
from reramsim.prune import LayerTarget, PruningError, get_pruner
from reramsim.prune.autoprune import prune_rate, vector_mask
from reramsim.prune.autoprune.projection import decode_vector_mask, encode_vector_mask
from reramsim.prune.metadata import METADATA_KEY, PruningMetadataError, scheme_from_metadata

CFG = load_config("autoprune_128x128_ou32")


def fc_layer(weight: np.ndarray, name: str = "fc") -> WeightLayer:
    return WeightLayer(name=name, op="fc", inputs=("x",), output=name + "_out",
                       in_shapes=((weight.shape[1],),), out_shape=(weight.shape[0],),
                       weight=weight.astype(np.float32))


def conv_layer(weight: np.ndarray, groups: int = 1, name: str = "conv") -> WeightLayer:
    cout, cin_g, kh, kw = weight.shape
    return WeightLayer(name=name, op="conv", inputs=("x",), output=name + "_out",
                       in_shapes=((cin_g * groups, 8, 8),), out_shape=(cout, 8, 8),
                       weight=weight.astype(np.float32), groups=groups, kernel=(kh, kw),
                       pads=(kh // 2,) * 4)


def vector_pruned(rows: int, cols: int, g: int, rate: float, rng: np.random.Generator
                  ) -> np.ndarray:
    """A random ``(rows, cols)`` matrix with ``rate`` of its column vectors pruned."""
    m = rng.normal(size=(rows, cols))
    return m * prune_rate((m ** 2)[None], g, rate)[0]


# --------------------------------------------------------------------------- projection


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 90), cols=st.integers(1, 30), groups=st.integers(1, 3),
       g=st.sampled_from([1, 4, 8, 16, 32]), rate=st.floats(0.0, 1.0), seed=st.integers(0, 999))
def test_projection_keeps_exactly_the_asked_fraction(rows, cols, groups, g, rate, seed):
    """round(rate * N) vectors pruned, each no stronger than any kept one; mask = whole vectors."""
    scores = np.random.default_rng(seed).random((groups, rows, cols))
    vm = vector_mask(scores, g, rate)
    n = vm.size
    assert vm.shape == (groups, -(-rows // g), cols)
    assert n - vm.sum() == round(rate * n)
    pad = np.zeros((groups, vm.shape[1] * g, cols))
    pad[:, :rows] = scores
    norms = pad.reshape(groups, -1, g, cols).sum(axis=2)
    if 0 < vm.sum() < n:
        assert norms[~vm].max() <= norms[vm].min()
    mask = prune_rate(scores, g, rate)
    for k in range(groups):
        assert np.array_equal(vector_mask_from_matrix(mask[k].astype(float), g), vm[k])


def test_projection_hand_example():
    """Rows 4, g 2, one column each of norms [5, 1] and [2, 9]: rate 0.5 prunes the 1 and the 2."""
    scores = np.array([[[4.0, 1.0], [1.0, 1.0], [1.0, 4.0], [0.0, 5.0]]])  # vectors: 5,2 / 1,9
    assert vector_mask(scores, 2, 0.5)[0].tolist() == [[True, False], [False, True]]


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan")])
def test_rate_out_of_range_is_refused(rate):
    """A rate outside [0, 1] is a clear error, in the function and in the pruner's policy."""
    with pytest.raises(PruningError, match=r"rate must be .*\[0, 1\]"):
        vector_mask(np.ones((1, 4, 4)), 2, rate)
    with pytest.raises(PruningError, match="layer 'a'"):
        get_pruner("autoprune", CFG, rates={"a": rate}, target_ratio=2.0)


def test_granularity_larger_than_the_crossbar_is_refused():
    """g above the crossbar's rows: the pruner and the mapper name the limit."""
    with pytest.raises(PruningError, match="larger than the crossbar's 128 rows"):
        get_pruner("autoprune", CFG, granularity=256)
    with pytest.raises(MappingError, match="larger than the crossbar's 128 rows"):
        get_mapper("autoprune")(fc_layer(np.ones((4, 300))), CFG, {"granularity": 200})


def test_budget_projection_and_policy_budgets():
    """The driver's form: budgets from the policy reproduce the rate masks; prefix fits budget."""
    rng = np.random.default_rng(1)
    scores = [rng.random((1, 50, 12)), rng.random((2, 27, 5))]
    rates = {"a": 0.3, "b": 0.75}
    pruner = get_pruner("autoprune", CFG, granularity=8, rates=rates, target_ratio=3.0)
    budgets = pruner.layer_budgets(["a", "b"], scores, 3.0)
    for name, s, keep in zip("ab", scores, budgets):
        target = LayerTarget(name, s.shape[0], s.shape[1], s.shape[2], keep)
        proj = pruner.project(s, target)
        assert np.array_equal(proj.mask, prune_rate(s, 8, rates[name]))
        assert proj.n_kept == keep
    half = pruner.layer_budgets(["a", "b"], scores, 1.0)  # start of the schedule: dense
    assert half == [s.size for s in scores]
    assert get_pruner("autoprune", CFG).layer_budgets(["a"], scores[:1], 2.0) is None


# --------------------------------------------------------------------------- the mapper


@pytest.mark.parametrize("formation", ["columns", "blocks", None])
@pytest.mark.parametrize("g, rate, differential, groups, slices_over", [
    (16, 0.8, False, 1, False), (4, 0.5, False, 1, False), (32, 0.9, True, 1, False),
    (64, 0.6, False, 1, False), (16, 0.7, False, 2, False), (8, 0.5, False, 1, True)])
def test_ou_list_covers_every_kept_weight_once(g, rate, differential, groups, slices_over,
                                               formation):
    """validate() (every non-zero bit-slice in exactly one cell) and rebuilt matrix == layer."""
    rng = np.random.default_rng(2)
    over = ["precision.signed_weights=differential"] if differential else []
    if slices_over:  # 16 slices, OU 8 bit-lines wide: a column spans two OUs
        over += ["precision.weight_bits=16", "ou.cols=8"]
    config = load_config("autoprune_128x128_ou32", over)
    if groups == 1:
        layer = fc_layer(vector_pruned(200, 45, g, rate, rng).T)
    else:
        mats = [vector_pruned(9 * 12, 20, g, rate, rng) for _ in range(groups)]
        layer = conv_layer(np.concatenate([m.T.reshape(20, 12, 3, 3) for m in mats]), groups)
    m = get_mapper("autoprune")(layer, config, {"granularity": g, "ou_formation": formation})
    m.validate(layer, config)
    assert np.allclose(reconstruct(m, layer), np.stack(list(layer.matrices())))
    vms = [vector_mask_from_matrix(mat, g) for mat in layer.matrices()]
    counts = [ou_count(vm, layer.rows, g, config, formation or best_formation(
        vm, layer.rows, g, config)[0]) for vm in vms]
    assert m.n_ous == sum(counts) * config.polarities
    if formation is None:  # the best formation per group: the agent's crossbar count
        assert m.n_crossbars == crossbar_count(vms, layer.rows, g, config)
    assert np.all(m.ou_n_rows <= config.ou.rows) and np.all(m.ou_n_cols <= config.ou.cols)
    for k in range(m.n_ous):  # an OU reads whole blocks (or one piece of a block taller than it)
        rows = m.ou_rows[m.ou_row_ptr[k]:m.ou_row_ptr[k + 1]]
        blocks = np.unique(rows // g)
        full = np.concatenate([np.arange(b * g, min(b * g + g, layer.rows)) for b in blocks])
        assert set(rows) <= set(full)
        if g <= config.ou.rows:
            assert np.array_equal(np.sort(rows), full)


def test_docstring_example_forms_two_ous():
    """Chunk of 4 columns with blocks {0,3}, {3}, {0,5}, {}: union {0,3,5} -> 2 OUs, 1 crossbar."""
    matrix = np.zeros((96, 4))
    for col, blocks in enumerate([(0, 3), (3,), (0, 5), ()]):
        for b in blocks:
            matrix[b * 16:(b + 1) * 16, col] = col + 1.0
    layer = fc_layer(matrix.T)
    m = get_mapper("autoprune")(layer, CFG, {})
    m.validate(layer, CFG)
    assert m.n_ous == 2 and m.n_crossbars == 1
    assert m.ou_n_rows.tolist() == [32, 16] and m.ou_n_cols.tolist() == [24, 24]
    assert sorted(set(m.ou_cols.tolist())) == [0, 1, 2]
    # index: 2 OUs x 3 block ids x... blocks: 6 -> 3 bits each (2 + 1 ids); 3 columns x 2 bits
    assert m.info["index_bits"] == {"block_ids": 9, "chunk_ids": 0, "filter_indices": 6,
                                    "total": 15}
    assert m.info["ou_formation"] == ["columns"]  # "blocks" also needs 2 OUs: a tie
    assert m.ou_index_reads.tolist() == [2, 2] and m.ou_gather_inputs.tolist() == [32, 16]


def test_crossbar_count_from_slots():
    """Unpruned 576x64: 16 chunks x 18 OUs of 32 rows = 288 OUs / 16 slots = 18 (dense 20)."""
    layer = fc_layer(np.random.default_rng(3).normal(size=(64, 576)))
    m = get_mapper("autoprune")(layer, CFG, {})
    assert m.n_ous == 16 * 18 and m.n_crossbars == 18
    assert get_mapper("dense")(layer, CFG, {}).n_crossbars == 5 * 4


def test_similar_columns_share_chunks():
    """Greedy grouping puts columns with the same surviving blocks in one chunk."""
    vm = np.zeros((8, 8), bool)
    vm[:4, [0, 2, 4, 6]] = True
    vm[4:, [1, 3, 5, 7]] = True
    chunks = order_columns(vm, 4)
    assert sorted(map(sorted, (c.tolist() for c in chunks))) == [[0, 2, 4, 6], [1, 3, 5, 7]]


def test_formation_counts_by_hand():
    """Block 0 kept by all 8 columns, block b (1..7) by column b only; OU = 2 blocks x 4 cols.

    columns: chunk {1, 0, 2, 3} has blocks {0..3} (2 OUs), chunk {4..7} blocks {0, 4..7} (3).
    blocks: {0, 1} x 8 columns (2 OUs), then {2, 3}, {4, 5}, {6, 7} x 2 columns (1 each).
    """
    vm = np.zeros((8, 8), bool)
    vm[0] = True
    vm[np.arange(1, 8), np.arange(1, 8)] = True
    assert [c.tolist() for c in order_columns(vm, 4)] == [[1, 0, 2, 3], [4, 5, 6, 7]]
    assert ou_count(vm, 128, 16, CFG, "columns") == 5
    assert ou_count(vm, 128, 16, CFG, "blocks") == 5
    assert best_formation(vm, 128, 16, CFG) == ("columns", 5)  # a tie goes to "columns"
    vm[0, 4:] = False  # now chunk {4..7} has blocks {4..7} only: still 2 OUs; blocks: 1+1+1+1
    assert ou_count(vm, 128, 16, CFG, "columns") == 4
    assert ou_count(vm, 128, 16, CFG, "blocks") == 4


def test_gather_fanin_counts_distinct_inputs_per_word_line():
    """Two OUs in one crossbar from blocks 0 and 2 on the same word-lines: fan-in 2."""
    matrix = np.zeros((64, 8))
    matrix[0:16, :4] = 1.0
    matrix[32:48, 4:] = 1.0
    layer = fc_layer(matrix.T)
    m = get_mapper("autoprune")(layer, CFG, {})
    assert m.n_crossbars == 1 and m.xbar_gather_fanin.tolist() == [2]


def test_mask_that_misses_a_weight_is_refused():
    """Metadata vector masks that leave a non-zero weight out raise a MappingError naming it."""
    matrix = np.ones((32, 4))
    vm = np.ones((2, 4), bool)
    vm[1, 2] = False
    with pytest.raises(MappingError, match="column 2 has non-zero weights in pruned vector 1"):
        get_mapper("autoprune")(fc_layer(matrix.T), CFG, {"vector_masks": [vm]})


# --------------------------------------------------------------------------- metadata


def test_vector_mask_roundtrip_and_errors():
    """encode/decode give back the mask; a wrong length or a non-hex string is an error."""
    vm = np.random.default_rng(4).random((7, 13)) < 0.4
    assert np.array_equal(decode_vector_mask(encode_vector_mask(vm), (7, 13)), vm)
    with pytest.raises(PruningMetadataError, match="expected 98"):
        decode_vector_mask(encode_vector_mask(vm), (7, 14))
    with pytest.raises(PruningMetadataError, match="not a hex"):
        decode_vector_mask("zz", (1, 1))


def test_scheme_from_metadata_gives_the_vector_masks():
    """The metadata's masks reach the mapper (source 'metadata')."""
    rng = np.random.default_rng(5)
    matrix = vector_pruned(40, 12, 16, 0.5, rng)
    layer = fc_layer(matrix.T, "fc1")
    vm = vector_mask_from_matrix(matrix, 16)
    entry = {"index": 0, "layer": "fc1", "rows": 40, "cols": 12, "groups": 1,
             "tables": {"granularity": 16, "rate": 0.5, "groups": [encode_vector_mask(vm)]}}
    net = Network("n", {"x": (12,)}, ["fc1_out"], [layer],
                  metadata={METADATA_KEY: json.dumps({"scheme": "autoprune", "layers": [entry]})})
    scheme, options = scheme_from_metadata(net)
    assert scheme == "autoprune" and np.array_equal(options["fc1"]["vector_masks"][0], vm)
    assert map_network(net, CFG, scheme, options).layers["fc1"].info["source"] == "metadata"


# --------------------------------------------------------------------------- lossless, end to end

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")


def randomly_pruned(name: str, seed: int = 0, g: int = 16):
    """Zoo model ``name``, random init and BN, random per-layer rates: a PruneResult."""
    from reramsim import zoo
    from reramsim.prune.finetune import PruneResult, importance, layer_target, prunable_layers

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = zoo.build(name).eval()
    for mod in model.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = mod.num_features
            mod.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, n)))
            mod.weight.data.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, n)))
            mod.bias.data.copy_(torch.from_numpy(rng.normal(0, 0.1, n)))
    scores = importance(model)
    layers = prunable_layers(model)
    rates = {n: (0.97 if scores[n].size > 100_000 else float(rng.uniform(0.2, 0.8)))
             for n, _ in layers}
    pruner = get_pruner("autoprune", CFG, granularity=g, rates=rates, target_ratio=2.0)
    budgets = pruner.layer_budgets([n for n, _ in layers], [scores[n] for n, _ in layers], 2.0)
    projections = {n: pruner.project(scores[n], layer_target(n, m, k))
                   for (n, m), k in zip(layers, budgets)}
    return PruneResult(model, pruner, 2.0, list(projections), projections)


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg16", "plain20", "resnet20"])
def test_functional_model_on_autoprune_mapping_equals_onnxruntime(name, tmp_path):
    """Ideal ADC, full precision: the functional model on the AUTO-PRUNE mapping == onnxruntime."""
    from reramsim.functional import FunctionalModel, full_precision
    from reramsim.prune.export import export_pruned
    from reramsim.zoo import INPUT_SHAPES

    path, network = export_pruned(randomly_pruned(name), tmp_path / f"{name}.onnx",
                                  INPUT_SHAPES[name])
    scheme, options = scheme_from_metadata(network)
    assert scheme == "autoprune" and len(options) == len(network.weight_layers())
    config = full_precision(CFG)
    mapping = map_network(network, config, scheme, options)
    for layer in network.weight_layers():
        if name != "vgg16":  # the same mapper is validated on the others
            mapping.layers[layer.name].validate(layer, config)
        assert mapping.layers[layer.name].info["source"] == "metadata"
    x = np.random.default_rng(1).random((2, *INPUT_SHAPES[name])).astype(np.float32)
    got = FunctionalModel(network, config, mapping=mapping, ideal_adc=True).forward(x)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input": x})[0]
    assert float(np.abs(got - want).max() / np.abs(want).max()) < 1e-5


def test_finetune_driver_applies_the_policy(tmp_path):
    """One-shot run of the shared driver with a policy: masks are the policy's rate masks."""
    from reramsim import zoo
    from reramsim.prune.finetune import FinetuneSettings, importance, prune_model

    torch.manual_seed(0)
    model = zoo.build("lenet").eval()
    scores = importance(model)
    rates = {n: r for n, r in zip(scores, (0.1, 0.5, 0.9, 0.6, 0.2))}
    pruner = get_pruner("autoprune", CFG, rates=rates, target_ratio=3.0)
    x = torch.zeros(4, 1, 32, 32)
    result = prune_model(model, pruner, 3.0, (x, torch.zeros(4, dtype=torch.long)),
                         FinetuneSettings(epochs=0), progress=False)
    for name, proj in result.projections.items():
        assert np.array_equal(proj.mask, prune_rate(scores[name], 16, rates[name]))


def pruned_integer_model(name: str, mode: str, config=CFG):
    """An IntegerModel of a randomly pruned zoo model, its masks set; and random images."""
    from reramsim.prune.autoprune.quantized import IntegerModel
    from reramsim.prune.finetune import mask_tensor
    from reramsim.zoo import INPUT_SHAPES

    result = randomly_pruned(name, seed=3)
    rng = np.random.default_rng(2)
    calib = rng.random((8, *INPUT_SHAPES[name])).astype(np.float32)
    x = rng.random((6, *INPUT_SHAPES[name])).astype(np.float32)
    modules = dict(result.model.named_modules())
    im = IntegerModel(result.model, config, calib, bn_recalibration=mode)
    masks = {n: mask_tensor(p, modules[n]) for n, p in result.projections.items()}
    im.set_masks(masks)
    return im, masks, calib, x


@pytest.mark.parametrize("name, mode", [("lenet", "off"), ("lenet", "folded"),
                                        ("resnet20", "folded")])
def test_integer_model_equals_functional_model(name, mode, tmp_path):
    """The search's fast acc_reram model gives the functional model's logits (6-bit ADC config)
    on the ONNX of the pruned network it holds (BatchNorm re-estimated and folded, or not)."""
    from reramsim.functional import FunctionalModel
    from reramsim.onnx_import import load_onnx
    from reramsim.training import export_onnx
    from reramsim.zoo import INPUT_SHAPES

    im, masks, calib, x = pruned_integer_model(name, mode)
    path = export_onnx(im.folded, tmp_path / f"{name}.onnx", INPUT_SHAPES[name])
    network = load_onnx(path)
    fm = FunctionalModel(network, CFG, scheme="autoprune")
    ir_names = [layer.name for layer in network.weight_layers()]
    fm.input_quant = dict(zip(ir_names, (im.input_quant[n] for n in im.names)))
    want = fm.forward(x)
    assert np.abs(im.logits(x) - want).max() <= 1e-9 * np.abs(want).max()
    fm.calibrate(calib)  # its own float64 calibration: the same scales up to float32 rounding
    for n, ir in zip(im.names, ir_names):
        assert fm.input_quant[ir].scale == pytest.approx(im.input_quant[n].scale, rel=1e-5)
    for n, w in masks.items():  # the pruned weights stay exactly zero after re-estimation
        assert not dict(im.folded.named_modules())[n].weight[w == 0].any()


def test_digital_bn_equals_folded_with_per_channel_scales():
    """With one weight scale per output channel, dividing a channel by its BatchNorm gain
    before quantising and multiplying the gain back digitally changes nothing."""
    config = load_config("autoprune_128x128_ou32", ["precision.weight_scale=per_channel"])
    digital, _, _, x = pruned_integer_model("lenet", "digital", config)
    folded, _, _, _ = pruned_integer_model("lenet", "folded", config)
    want = folded.logits(x)
    assert np.abs(digital.logits(x) - want).max() <= 1e-9 * np.abs(want).max()


def test_digital_bn_quantises_the_dense_scaled_weights():
    """Per-layer scales: the crossbars hold the pruned weights times the *dense* BatchNorm
    scale gamma / sqrt(var_dense + eps), quantised with one scale; the gain
    sqrt(var_dense + eps) / sqrt(var + eps) of the re-estimated statistics is digital."""
    import torch

    from reramsim.prune.finetune import prunable_layers
    from reramsim.quantize import quantize_weights

    im, masks, _, _ = pruned_integer_model("lenet", "digital")
    dense_state = im.bn_state
    for name, module in prunable_layers(im.base):
        seq = im.base.get_submodule(name.rpartition(".")[0])
        norm = seq[list(seq).index(module) + 1] if name.rpartition(".")[0] else None
        st = im.layers[name].state
        if not isinstance(norm, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            continue  # the classifier: no BatchNorm, plain per-layer quantisation
        prefix = name.rpartition(".")[0] + f".{list(seq).index(module) + 1}."
        var_dense = dense_state[prefix + "running_var"].double()
        gain = torch.sqrt((var_dense + norm.eps) / (norm.running_var.double() + norm.eps))
        held = (dense_state[name + ".weight"].double() * masks[name].double()
                * (norm.weight.detach().double() / torch.sqrt(var_dense + norm.eps)).reshape(
                    -1, *([1] * (module.weight.dim() - 1))))
        q, scale = quantize_weights(held.reshape(held.shape[0], -1).T.numpy()[None], 8, False)
        assert np.array_equal(st.q64.reshape(st.q64.shape[0], -1).T.numpy(), q[0])
        assert np.allclose(st.scale_w.numpy(), scale * gain.numpy(), rtol=1e-6)  # float32 BN
        assert not np.allclose(gain.numpy(), 1.0)  # the re-estimation did change something


def test_unknown_bn_mode_is_refused():
    from reramsim import zoo
    from reramsim.prune.autoprune.quantized import IntegerModel

    with pytest.raises(PruningError, match="bn_recalibration must be one of"):
        IntegerModel(zoo.build("lenet").eval(), CFG, np.zeros((1, 1, 32, 32), np.float32),
                     bn_recalibration="yes")


def test_bn_recalibration_matches_batch_statistics():
    """After re-estimation, each BatchNorm's running mean/var are its batch statistics."""
    from reramsim.prune.autoprune.quantized import _recalibrate_bn

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3)).eval()
    x = torch.randn(16, 1, 6, 6)
    _recalibrate_bn(model, x)
    y = model[0](x)
    assert torch.allclose(model[1].running_mean, y.mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(model[1].running_var, y.var(dim=(0, 2, 3), unbiased=True), atol=1e-5)
    assert not model.training and model[1].momentum == 0.1


def test_integer_model_refuses_a_clipping_adc():
    """A config whose ADC can clip OU sums cannot be scored by the fast model: clear error."""
    from reramsim import zoo
    from reramsim.prune.autoprune.quantized import IntegerModel

    config = load_config("autoprune_128x128_ou32", ["adc.bits=4"])
    with pytest.raises(PruningError, match="can clip 32-row OU sums"):
        IntegerModel(zoo.build("lenet").eval(), config, np.zeros((1, 1, 32, 32), np.float32))


def test_expand_vector_mask_shape():
    """expand_vector_mask repeats each block over its rows and trims the short last block."""
    vm = np.array([[True, False], [False, True]])
    assert expand_vector_mask(vm, 3, 2).tolist() == [[True, False], [True, False],
                                                      [False, True]]


@pytest.mark.parametrize("engine", ["analytical", "cycle"])
def test_engines_cost_the_autoprune_data_path(engine, tmp_path):
    """Both engines run the AUTO-PRUNE mapping and charge index reads and gathered inputs."""
    from reramsim.prune.export import export_pruned
    from reramsim.report import build_report
    from reramsim.simulator import simulate
    from reramsim.zoo import INPUT_SHAPES

    _, network = export_pruned(randomly_pruned("lenet"), tmp_path / "l.onnx",
                               INPUT_SHAPES["lenet"])
    scheme, options = scheme_from_metadata(network)
    sim = simulate(network, CFG, scheme, engine, options=options)
    report = build_report(sim)
    assert report["totals"]["crossbars"] == sim.mapping.n_crossbars
    energy = report["energy_breakdown"]
    assert energy["index_buffer"]["energy_pj"] > 0 and energy["input_gather"]["energy_pj"] > 0
    assert report["area_breakdown"]["index_buffer"]["area_um2"] > 0
