"""Tests for the pruning framework: registry, allocation, fine-tuning driver, export."""
from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from reramsim.config import load_config
from reramsim.prune import (
    LayerTarget,
    Projection,
    Pruner,
    PruningError,
    allocate,
    get_pruner,
    register_pruner,
    registered_pruners,
)
from reramsim.prune.base import from_matrix_view, matrix_view

torch = pytest.importorskip("torch")

from reramsim import zoo  # noqa: E402
from reramsim.prune import finetune  # noqa: E402
from reramsim.prune.finetune import FinetuneSettings, prune_model  # noqa: E402

torch.set_num_threads(2)
CFG = load_config("ou_16x16")


@register_pruner("test_unstructured")
class _Unstructured(Pruner):
    """The simplest projection: keep the top-``keep`` scores. Shows the shared interface."""

    defaults = {}

    def project(self, scores, target):
        flat = scores.ravel()
        mask = np.zeros(flat.size, bool)
        mask[np.argsort(-flat, kind="stable")[:target.keep]] = True
        return Projection(mask.reshape(scores.shape))


@functools.lru_cache(maxsize=None)
def small_data(name: str = "lenet", n: int = 96):
    """A few digits images shaped for ``name`` (cached; callers must not modify them)."""
    from reramsim.training import digits

    x, y = digits(name, "train")
    return x[:n], y[:n]


# --------------------------------------------------------------------------- registry, allocation


def test_registry_lists_schemes_and_refuses_duplicates():
    """Unknown schemes list the registered ones; registering a name twice fails."""
    assert {"segprune", "test_unstructured"} <= set(registered_pruners())
    with pytest.raises(PruningError, match="registered: .*segprune"):
        get_pruner("nope")
    with pytest.raises(ValueError, match="registered twice"):
        register_pruner("segprune")(_Unstructured)


def test_unknown_and_bad_parameters_are_refused():
    """A typo in a scheme parameter lists the allowed ones; ranges are checked."""
    with pytest.raises(PruningError, match="allowed: max_iters, max_shapes"):
        get_pruner("segprune", CFG, max_shape=4)
    with pytest.raises(PruningError, match="max_shapes must be an integer >= 1"):
        get_pruner("segprune", CFG, max_shapes=0)


def test_segment_height_defaults_to_the_ou_rows():
    """SegPrune's segment height is the config's OU rows unless given."""
    assert get_pruner("segprune", CFG).params["segment_height"] == CFG.ou.rows == 16
    assert get_pruner("segprune", load_config("isaac")).params["segment_height"] == 128
    assert get_pruner("segprune", CFG, segment_height=8).params["segment_height"] == 8
    assert "[reconstruction]" in get_pruner("segprune", CFG).describe()


def test_allocate_meets_the_ratio():
    """Both allocations keep at most total/ratio weights; uniform keeps the same fraction."""
    rng = np.random.default_rng(0)
    scores = [rng.random(100) ** 2, rng.random(900) ** 2 * 10, rng.random(5000) ** 2]
    sizes = [s.size for s in scores]
    assert allocate(scores, sizes, 4, "uniform") == [25, 225, 1250]
    keep = allocate(scores, sizes, 8, "lamp")
    assert sum(keep) <= sum(sizes) / 8 and sum(keep) >= sum(sizes) / 8 - 1
    assert all(k >= 1 for k in keep)
    with pytest.raises(PruningError, match=">= 1"):
        allocate(scores, sizes, 0.5)


def test_matrix_view_matches_the_ir():
    """matrix_view gives WeightLayer.matrix's rows (c, ky, kx) and columns; it inverts."""
    from reramsim.ir import WeightLayer

    w = np.arange(4 * 3 * 2 * 2, dtype=np.float32).reshape(4, 3, 2, 2)
    layer = WeightLayer(name="c", op="conv", inputs=("x",), output="y", in_shapes=((6, 4, 4),),
                        out_shape=(4, 3, 3), weight=w, groups=2, kernel=(2, 2))
    view = matrix_view(w, 2)
    assert all(np.array_equal(view[g], layer.matrix(g)) for g in range(2))
    assert np.array_equal(from_matrix_view(view, w.shape), w)


# --------------------------------------------------------------------------- the driver


def masked_weights_are_zero(result) -> bool:
    modules = dict(finetune.prunable_layers(result.model))
    for name, projection in result.projections.items():
        mask = from_matrix_view(projection.mask, tuple(modules[name].weight.shape))
        if torch.any(modules[name].weight.detach()[torch.from_numpy(~mask)] != 0):
            return False
    return True


@pytest.mark.parametrize("method", ["gradual", "admm"])
def test_prune_model_meets_the_target_and_keeps_zeros(method):
    """Both methods reach the ratio; pruned weights are exactly 0 after fine-tuning."""
    torch.manual_seed(0)
    model = zoo.build("lenet")
    result = prune_model(model, get_pruner("segprune", CFG), 8.0, small_data(),
                         FinetuneSettings(epochs=2, method=method, projections=3),
                         progress=False)
    assert result.ratio >= 8.0
    assert masked_weights_are_zero(result)
    assert len(result.history) == 2 and not result.model.training


def test_masks_stay_fixed_between_projections():
    """After the last projection, training steps never revive a pruned weight."""
    torch.manual_seed(0)
    model = zoo.build("lenet")
    settings = FinetuneSettings(epochs=3, projections=2, ramp_fraction=0.3)
    result = prune_model(model, get_pruner("test_unstructured"), 4.0, small_data(), settings,
                         progress=False)
    assert masked_weights_are_zero(result)
    assert result.history[-1]["density"] == pytest.approx(1 / result.ratio)


def test_one_shot_projection_with_zero_epochs():
    """epochs=0 projects once at the target and trains nothing."""
    torch.manual_seed(0)
    result = prune_model(zoo.build("lenet"), get_pruner("segprune", CFG), 10.0, small_data(),
                         FinetuneSettings(epochs=0), progress=False)
    assert result.ratio >= 10.0 and result.history == []


def test_importance_uses_bn_folded_weights():
    """A filter scaled down by its BatchNorm scores lower: importance = (w * gamma/sigma)^2."""
    torch.manual_seed(0)
    model = zoo.build("lenet").eval()
    bn = model[0][1]
    bn.weight.data[:] = 1.0
    bn.weight.data[2] = 0.1
    scores = finetune.importance(model)["0.0"]  # (1, 25, 6)
    w = model[0][0].weight.detach().double().numpy().reshape(6, 25).T
    sigma = np.sqrt(bn.running_var.double().numpy() + bn.eps)
    assert np.allclose(scores[0], (w * bn.weight.detach().double().numpy() / sigma) ** 2)


def test_checkpoint_resume_gives_the_same_model(tmp_path, monkeypatch):
    """Interrupted after one epoch then rerun: same weights as an uninterrupted run."""
    settings = FinetuneSettings(epochs=3, projections=3)
    data = small_data()

    def run(ckpt):
        torch.manual_seed(0)
        return prune_model(zoo.build("lenet"), get_pruner("segprune", CFG), 8.0, data, settings,
                           checkpoint=ckpt, progress=False)

    straight = run(None)
    real_epoch = finetune._train_epoch
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    ckpt = tmp_path / "run.ckpt"
    monkeypatch.setattr(finetune, "_train_epoch", flaky)
    with pytest.raises(KeyboardInterrupt):
        run(ckpt)
    monkeypatch.setattr(finetune, "_train_epoch", real_epoch)
    assert ckpt.is_file()
    resumed = run(ckpt)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    for (name, a), (_, b) in zip(straight.model.state_dict().items(),
                                 resumed.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_checkpoint_with_other_settings_is_refused(tmp_path):
    """A checkpoint made for another target is not silently reused."""
    ckpt = tmp_path / "c.ckpt"
    data = small_data(n=32)
    prune_model(zoo.build("lenet"), get_pruner("segprune", CFG), 8.0, data,
                FinetuneSettings(epochs=1), checkpoint=ckpt, progress=False)
    with pytest.raises(PruningError, match="differs in: target_ratio"):
        prune_model(zoo.build("lenet"), get_pruner("segprune", CFG), 4.0, data,
                    FinetuneSettings(epochs=1), checkpoint=ckpt, progress=False)


def test_bad_settings_are_refused():
    """Unknown method or ranges fail before any work."""
    with pytest.raises(PruningError, match="unknown fine-tuning method"):
        prune_model(zoo.build("lenet"), get_pruner("segprune", CFG), 8.0, small_data(n=8),
                    FinetuneSettings(method="sgd"), progress=False)


# --------------------------------------------------------------------------- export


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """LeNet with trained-like BN statistics, pruned one-shot, exported."""
    from reramsim.prune.export import export_pruned

    torch.manual_seed(0)
    model = zoo.build("lenet")
    model.train()
    with torch.no_grad():  # a few forward passes give BN non-trivial running statistics
        for _ in range(3):
            model(small_data()[0])
    result = prune_model(model, get_pruner("segprune", CFG), 8.0, small_data(n=8),
                         FinetuneSettings(epochs=0), progress=False)
    path, network = export_pruned(result, tmp_path_factory.mktemp("e") / "lenet.onnx",
                                  zoo.INPUT_SHAPES["lenet"], extra={"model": "lenet"})
    return result, path, network


def test_zeros_survive_bn_folding(exported):
    """Every pruned weight is exactly 0 in the ONNX file and every kept one is not."""
    result, _, network = exported
    for layer, (name, projection) in zip(network.weight_layers(), result.projections.items()):
        matrix = np.stack(list(layer.matrices()))
        assert np.array_equal(matrix != 0, projection.mask), name
    assert network.n_weights / network.n_nonzero_weights >= 8.0


def test_metadata_names_scheme_params_and_layers(exported):
    """The JSON entry: scheme, parameters, reconstruction flag, one entry per IR weight layer."""
    import onnx

    from reramsim.onnx_import import load_onnx
    from reramsim.prune.metadata import METADATA_KEY, scheme_from_metadata

    _, path, network = exported
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    meta = json.loads(props[METADATA_KEY])
    assert meta["scheme"] == "segprune" and meta["reconstruction"] is True
    assert meta["params"]["segment_height"] == 16 and meta["params"]["max_shapes"] == 8
    assert meta["model"] == "lenet" and meta["pruning_ratio"] >= 8.0
    ir = load_onnx(path).weight_layers()
    assert [e["layer"] for e in meta["layers"]] == [layer.name for layer in ir]
    assert [(e["rows"], e["cols"]) for e in meta["layers"]] == [(w.rows, w.cols) for w in ir]
    scheme, options = scheme_from_metadata(load_onnx(path))
    assert scheme == "segprune" and set(options) == {layer.name for layer in ir}


def test_metadata_mapping_agrees_with_zero_recovery(exported):
    """Mapping from the metadata and from the zeros alone give the same crossbars and OUs."""
    from reramsim.mapping import map_network
    from reramsim.prune.metadata import scheme_from_metadata

    _, _, network = exported
    scheme, options = scheme_from_metadata(network)
    from_meta = map_network(network, CFG, scheme, options)
    from_zeros = map_network(network, CFG, "segprune")
    assert from_meta.n_crossbars == from_zeros.n_crossbars
    assert sum(m.n_ous for m in from_meta.layers.values()) == sum(
        m.n_ous for m in from_zeros.layers.values())


def test_layer_target_and_projection_interface():
    """The projection contract: mask shape (groups, rows, cols), kept <= keep."""
    pruner = get_pruner("segprune", CFG)
    scores = np.random.default_rng(0).random((2, 40, 8))
    projection = pruner.project(scores, LayerTarget("x", 2, 40, 8, keep=100))
    assert projection.mask.shape == (2, 40, 8) and projection.n_kept <= 100
    encoded = pruner.encode_tables(projection)
    assert encoded["segment_height"] == 16 and len(encoded["groups"]) == 2
