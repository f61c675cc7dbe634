"""Tests for FORMS: the polarising projection (reramsim.prune.forms), the mapper with sign
bits (reramsim.mapping.forms), signs through fine-tuning, and lossless execution."""
from __future__ import annotations

import numpy as np
import pytest
from _segprune_helpers import functional_vs_ort, randomize_bn

from reramsim.config import load_config
from reramsim.ir import WeightLayer
from reramsim.mapping import MappingError, get_mapper, map_network
from reramsim.mapping.forms import INDEX_READS_PER_OU, fragment_signs
from reramsim.prune import LayerTarget, PruningError, get_pruner
from reramsim.prune.forms import polarised_fragments
from reramsim.prune.metadata import scheme_from_metadata

FORMS = load_config("forms")
OU16 = load_config("ou_16x16")


def fc_layer(weight: np.ndarray, name: str = "fc") -> WeightLayer:
    return WeightLayer(name=name, op="fc", inputs=("x",), output=name + "_out",
                       in_shapes=((weight.shape[1],),), out_shape=(weight.shape[0],),
                       weight=weight.astype(np.float32))


def project(w: np.ndarray, keep: int, f: int = 8):
    """FORMS's projection of one ``(rows, cols)`` matrix of signed weights."""
    target = LayerTarget("x", 1, *w.shape, keep, signs=np.sign(w)[None].astype(np.int8))
    return get_pruner("forms", fragment_rows=f).project((w ** 2)[None], target)


def polarised(rng: np.random.Generator, rows: int, cols: int, f: int = 8, p_zero: float = 0.5
              ) -> np.ndarray:
    """A random matrix whose fragments are polarised and pruned at random."""
    return project(rng.normal(size=(rows, cols)), int(rows * cols * (1 - p_zero)), f).mask[0] \
        * np.abs(rng.normal(size=(rows, cols))) * np.repeat(
            rng.choice([-1, 1], size=(-(-rows // f), cols)), f, axis=0)[:rows]


# --------------------------------------------------------------------------- the projection


def test_worked_example():
    """The module doc's example: fragment 0 keeps +3, fragment 1 keeps one -2."""
    projection = project(np.array([[3.0], [-1.0], [-2.0], [-2.0]]), keep=2, f=2)
    assert projection.mask[0, :, 0].tolist() == [True, False, True, False]
    assert projection.signs[0, :, 0].tolist() == [1, 0, -1, 0]


@pytest.mark.parametrize("rows, cols, f, ratio, seed", [
    (150, 16, 8, 4, 0), (64, 33, 4, 2, 1), (400, 120, 8, 10, 2), (7, 5, 8, 1.5, 3)])
def test_one_sign_per_fragment_and_exact_budget(rows, cols, f, ratio, seed):
    """Every fragment keeps weights of one sign; exactly min(keep, polarised) weights are kept."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(rows, cols))
    keep = int(rows * cols / ratio)
    projection = project(w, keep, f)
    kept = w * projection.mask[0]
    assert not (fragment_signs(kept, f) == 2).any()
    polarised_count = sum(max((w[b:b + f, j] > 0).sum(), (w[b:b + f, j] < 0).sum())
                          for b in range(0, rows, f) for j in range(cols))
    assert projection.n_kept <= min(keep, polarised_count)
    assert projection.n_kept >= min(keep, polarised_count) - f  # ties in E+/E- aside
    assert np.array_equal(np.sign(kept[None]), projection.signs * projection.mask)


def test_budget_is_exact_when_reachable():
    """Below the polarised count, the projection keeps exactly ``keep`` weights."""
    rng = np.random.default_rng(7)
    w = rng.normal(size=(96, 20))
    for keep in (1, 17, 200, 480):
        assert project(w, keep).n_kept == keep


def test_whole_fragments_are_pruned_first():
    """Fragments are kept whole in order of score per weight; at most one is partial."""
    rng = np.random.default_rng(8)
    w = np.abs(rng.normal(size=(64, 12)))
    w[:, :3] *= 10  # three strong columns
    mask = project(w, 3 * 64 + 5).mask[0]
    assert mask[:, :3].all()
    per_fragment = mask.reshape(8, 8, 12).sum(axis=1)
    assert ((per_fragment != 0) & (per_fragment != 8)).sum() == 1


def test_forms_needs_signs_and_fitting_fragments():
    """Missing signs and fragments taller than the OU are clear errors."""
    pruner = get_pruner("forms")
    with pytest.raises(PruningError, match="sign of every weight"):
        pruner.project(np.ones((1, 8, 2)), LayerTarget("x", 1, 8, 2, 4))
    with pytest.raises(PruningError, match="fragment_rows 32 exceeds the 16 OU rows"):
        get_pruner("forms", OU16, fragment_rows=32)
    with pytest.raises(PruningError, match="fragment_rows must be an integer"):
        get_pruner("forms", fragment_rows=0)


def test_polarised_fragments_never_keeps_exact_zeros():
    """Exact zeros are no fragment's members, so the budget goes to real weights."""
    w = np.array([[0.0, 1.0], [0.0, -1.0], [2.0, 0.0]])
    mask, _ = polarised_fragments(w ** 2, np.sign(w), 10, 8)
    assert mask.tolist() == [[False, True], [False, False], [True, False]]


# --------------------------------------------------------------------------- the mapper


@pytest.mark.parametrize("config", [FORMS, OU16], ids=["sign_bit", "offset"])
def test_mapper_stores_every_kept_weight_once(config):
    """The mapping validates (every non-zero weight slice in one cell); OUs are fragments."""
    rng = np.random.default_rng(3)
    layer = fc_layer(polarised(rng, 300, 70).T)
    mapping = get_mapper("forms")(layer, config, {})
    mapping.validate(layer, config)
    assert np.all(mapping.ou_n_rows <= 8)
    blocks = mapping.ou_rows // 8
    for k in range(mapping.n_ous):  # one OU = rows of one fragment row-block
        assert len(set(blocks[mapping.ou_row_ptr[k]:mapping.ou_row_ptr[k + 1]])) == 1
    assert np.all(mapping.ou_index_reads == INDEX_READS_PER_OU)
    assert not mapping.xbar_gather_fanin.any()
    assert mapping.n_crossbars < get_mapper("dense")(layer, config, {}).n_crossbars


def test_sign_bits_are_the_fragment_signs():
    """Each OU bit-line's sign is the sign of the weights its fragment column holds."""
    rng = np.random.default_rng(4)
    matrix = polarised(rng, 100, 30)
    mapping = get_mapper("forms")(fc_layer(matrix.T), FORMS, {})
    ou_of = np.repeat(np.arange(mapping.n_ous), mapping.ou_n_cols)
    rows = mapping.ou_rows[mapping.ou_row_ptr[ou_of]]
    signs = fragment_signs(matrix, 8)[rows // 8, mapping.ou_cols]
    assert np.array_equal(mapping.ou_bl_sign, signs)
    assert mapping.info["index_bits"]["sign_bits"] == int((fragment_signs(matrix, 8) != 0).sum())


def test_mixed_fragment_is_refused_on_a_sign_bit_config():
    """A fragment holding both signs cannot be stored with one sign bit: one-line error."""
    w = np.ones((16, 4))
    w[3, 2] = -1
    with pytest.raises(MappingError, match=r"fragment \(rows 0-7, column 2\).*both signs"):
        get_mapper("forms")(fc_layer(w.T), FORMS, {})
    get_mapper("forms")(fc_layer(w.T), OU16, {}).validate(fc_layer(w.T), OU16)  # offset: fine


def test_fragment_taller_than_ou_and_unknown_option_are_refused():
    """Mapper options are checked where they enter."""
    layer = fc_layer(np.ones((4, 16)))
    with pytest.raises(MappingError, match="fragment_rows 16 exceeds the OU's 8 rows"):
        get_mapper("forms")(layer, FORMS, {"fragment_rows": 16})
    with pytest.raises(MappingError, match="unknown options"):
        get_mapper("forms")(layer, FORMS, {"segment_height": 4})


def test_dense_mapping_on_a_sign_bit_config_is_refused_by_the_functional_model():
    """sign_bit needs per-bit-line signs; a mapping without them is a clear error."""
    from reramsim.functional import CrossbarLayer, FunctionalError

    layer = fc_layer(np.ones((4, 16)))
    with pytest.raises(FunctionalError, match="sign_bit.*scheme forms"):
        CrossbarLayer(layer, get_mapper("dense")(layer, FORMS, {}), FORMS)


# --------------------------------------------------------------------------- end to end

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")


def forms_pruned(name: str, ratio: float, seed: int = 0):
    """Zoo model ``name``, random init, one FORMS projection: a PruneResult ready to export."""
    from reramsim import zoo
    from reramsim.prune.finetune import PruneResult, project_all

    torch.manual_seed(seed)
    model = zoo.build(name).eval()
    randomize_bn(model, np.random.default_rng(seed), flip_signs=True)
    pruner = get_pruner("forms", FORMS)
    projections = project_all(model, pruner, ratio, "uniform")
    return PruneResult(model, pruner, ratio, list(projections), projections)


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg16", "plain20", "resnet20"])
def test_functional_model_on_forms_mapping_equals_onnxruntime(name, tmp_path):
    """Ideal ADC, sign bits computed: the FORMS mapping reproduces onnxruntime (< 1e-5)."""
    from reramsim.functional import full_precision
    from reramsim.prune.export import export_pruned
    from reramsim.zoo import INPUT_SHAPES

    ratio = 40.0 if name in ("alexnet", "vgg16") else 4.0  # keep the big mappings quick
    path, network = export_pruned(forms_pruned(name, ratio), tmp_path / f"{name}.onnx",
                                  INPUT_SHAPES[name])
    scheme, options = scheme_from_metadata(network)
    assert scheme == "forms" and all(o["source"] == "metadata" for o in options.values())
    config = full_precision(FORMS)
    mapping = map_network(network, config, scheme, options)
    for layer in network.weight_layers():
        assert not (fragment_signs(layer.matrix(0), 8) == 2).any()  # polarised after folding
        if name != "vgg16":
            mapping.layers[layer.name].validate(layer, config)
    assert any(m.ou_bl_sign.min() < 0 for m in mapping.layers.values())
    assert functional_vs_ort(path, network, mapping, config, INPUT_SHAPES[name]) < 1e-5


def test_wrong_sign_bits_are_not_lossless(tmp_path):
    """The check can fail: flipping the sign bits of one filter changes the output."""
    from reramsim.functional import full_precision
    from reramsim.prune.export import export_pruned
    from reramsim.zoo import INPUT_SHAPES

    path, network = export_pruned(forms_pruned("lenet", 4.0), tmp_path / "l.onnx",
                                  INPUT_SHAPES["lenet"])
    config = full_precision(FORMS)
    mapping = map_network(network, config, *scheme_from_metadata(network))
    first = next(iter(mapping.layers.values()))
    first.ou_bl_sign[first.ou_cols == first.ou_cols[0]] *= -1
    assert functional_vs_ort(path, network, mapping, config, INPUT_SHAPES["lenet"]) > 1e-3


@pytest.mark.parametrize("method", ["gradual", "admm"])
def test_fragment_signs_hold_after_fine_tuning(method, tmp_path):
    """After a short fine-tuning every fragment of the exported file is polarised, with the
    signs the projection chose (up to BN folding's per-filter sign), and the file maps."""
    from reramsim import zoo
    from reramsim.prune.base import matrix_view
    from reramsim.prune.export import export_pruned
    from reramsim.prune.finetune import FinetuneSettings, prunable_layers, prune_model
    from reramsim.training import digits
    from reramsim.zoo import INPUT_SHAPES

    torch.manual_seed(0)
    x, y = digits("lenet", "train")
    result = prune_model(zoo.build("lenet"), get_pruner("forms", FORMS), 3.0,
                         (x[:96], y[:96]),
                         FinetuneSettings(epochs=2, method=method, projections=2, lr=0.05),
                         progress=False)
    for name, module in prunable_layers(result.model):
        w = matrix_view(module.weight.detach().numpy(), 1)[0]
        signs = result.projections[name].signs[0]
        assert np.all(np.sign(w)[w != 0] == signs[w != 0])
        assert not (fragment_signs(w, 8) == 2).any()
    _, network = export_pruned(result, tmp_path / "f.onnx", INPUT_SHAPES["lenet"])
    map_network(network, FORMS, *scheme_from_metadata(network))


def test_cli_prunes_with_forms_and_prints_the_data_path(tmp_path, capsys):
    """``reramsim prune lenet --scheme forms`` writes a polarised file and a summary with the
    ratio, crossbars, accuracies and the data-path share; a too-small OU is one line."""
    from reramsim.cli import main
    from reramsim.onnx_import import load_onnx

    out = tmp_path / "lf.onnx"
    assert main(["prune", "lenet", "--scheme", "forms", "--target-ratio", "4", "--data", "digits",
                 "-o", str(out), "--hw", "forms", "--epochs", "1", "--limit", "64",
                 "--reram-limit", "10", "--quiet"]) == 0
    text = capsys.readouterr().out
    for what in ("forms [reconstruction", "pruning ratio", "crossbars", "float accuracy",
                 "ReRAM accuracy", "data path", "% of the accelerator's area"):
        assert what in text
    network = load_onnx(out)
    assert scheme_from_metadata(network)[0] == "forms"
    assert all(not (fragment_signs(m.matrix(0), 8) == 2).any() for m in network.weight_layers())
    assert main(["prune", "lenet", "--scheme", "forms", "-o", str(out), "--hw", "ou_16x16",
                 "--set", "ou.rows=4", "--epochs", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fragment_rows 8 exceeds the 4 OU rows" in err
