"""Tests for the zoo (reramsim.zoo), its training (reramsim.training) and models.train."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from models import train as train_script  # noqa: E402
from reramsim import training as zoo_train  # noqa: E402
from reramsim import zoo  # noqa: E402
from reramsim.datasets import load_dataset  # noqa: E402

CROSSBAR_SIZE = 128
MAX_COMMITTED_BYTES = 2 * 1024 * 1024

torch.set_num_threads(2)


def naive_crossbars(model) -> list[int]:
    """Dense logical 128x128 crossbars per conv/fc layer: ceil(R/128) * ceil(C/128)."""
    return [math.ceil(r / CROSSBAR_SIZE) * math.ceil(c / CROSSBAR_SIZE)
            for r, c in map(zoo.matrix_shape, zoo.weight_layers(model))]


def onnx_logits(path, x: np.ndarray) -> np.ndarray:
    """Run an ONNX model on images x (N, C, H, W) with onnxruntime; return the logits."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input": x})[0]


@pytest.fixture(scope="module")
def models():
    """One randomly initialised instance of every zoo model, seeded."""
    torch.manual_seed(0)
    return {name: zoo.build(name) for name in zoo.NAMES}


@pytest.mark.parametrize("name, expected", [
    ("lenet", 61_470), ("alexnet", 2_779_840), ("vgg16", 14_730_944),
    ("plain20", 268_336), ("resnet20", 270_896),
])
def test_weight_counts(models, name, expected):
    """Conv/fc weight counts (no BN, no bias) match the Model zoo section of docs/sources.md."""
    assert zoo_train.n_weights(models[name]) == expected


def test_weight_counts_as_published(models):
    """AlexNet has 2.78 M weights and VGG16 14.73 M, as docs/sources.md rounds them."""
    assert round(zoo_train.n_weights(models["alexnet"]) / 1e6, 2) == 2.78
    assert round(zoo_train.n_weights(models["vgg16"]) / 1e6, 2) == 14.73


@pytest.mark.parametrize("name, total, per_layer", [
    ("alexnet", 179, [1, 10, 42, 54, 36, 32, 4]),
    ("vgg16", 918, None),
    ("plain20", 59, [1] + [2] * 6 + [2] + [3] * 5 + [3] + [5] * 5 + [1]),
])
def test_dense_crossbar_counts(models, name, total, per_layer):
    """Naive dense 128x128 crossbar counts: AlexNet 179, VGG16 918, Plain20 59 (docs/sources.md)."""
    counts = naive_crossbars(models[name])
    assert sum(counts) == total
    if per_layer is not None:
        assert counts == per_layer


def test_only_last_fc_lacks_batchnorm(models):
    """Every conv/fc is followed by BatchNorm except the last classifier fc."""
    for name, model in models.items():
        n_layers = len(zoo.weight_layers(model))
        n_norms = sum(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))
                      for m in model.modules())
        assert n_norms == n_layers - 1, name


@pytest.mark.parametrize("name", zoo.NAMES)
def test_forward_shape(models, name):
    """A batch of 2 inputs of the model's INPUT_SHAPES gives logits of shape (2, 10)."""
    model = models[name].eval()
    with torch.no_grad():
        assert model(torch.rand(2, *zoo.INPUT_SHAPES[name])).shape == (2, 10)


def test_num_classes():
    """build(name, num_classes) sets the classifier width."""
    with torch.no_grad():
        assert zoo.build("lenet", num_classes=7).eval()(torch.rand(1, 1, 32, 32)).shape == (1, 7)


def test_unknown_model_lists_names():
    """An unknown model name raises KeyError listing the known names."""
    with pytest.raises(KeyError, match=r"known models: lenet, alexnet, vgg16, plain20, resnet20"):
        zoo.build("resnet50")


def test_fold_batchnorm_keeps_outputs():
    """Folding BatchNorm into conv/fc weights leaves eval-mode outputs unchanged."""
    torch.manual_seed(1)
    model = zoo.build("resnet20")
    model.train()
    with torch.no_grad():
        model(torch.rand(16, 3, 32, 32))  # non-trivial running statistics
    model.eval()
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
        folded = zoo.fold_batchnorm(model)(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    torch.testing.assert_close(folded, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", zoo.NAMES)
def test_onnx_export_matches_torch(models, name, tmp_path):
    """Exported ONNX (BN folded, dynamic batch) equals torch within 1e-4 relative on onnxruntime."""
    model = models[name].eval()
    path = zoo_train.export_onnx(model, tmp_path / f"{name}.onnx", zoo.INPUT_SHAPES[name])
    x = torch.rand(3, *zoo.INPUT_SHAPES[name])
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(onnx_logits(path, x.numpy()), expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())


def test_onnx_has_no_batchnorm(models, tmp_path):
    """Exported graphs hold no BatchNormalization node (folded on export)."""
    import onnx

    path = zoo_train.export_onnx(models["alexnet"], tmp_path / "a.onnx", (3, 32, 32))
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "BatchNormalization" not in ops and {"Conv", "Gemm"} <= ops


@pytest.mark.parametrize("name", zoo_train.COMMITTED)
def test_committed_onnx_accuracy(name):
    """Committed ONNX files are < 2 MB and score >= 95% on the digits test split via onnxruntime."""
    path = zoo_train.artifact_path(name, ".onnx")
    assert path.is_file(), f"{path} missing; run python -m models.train --force {name}"
    assert path.stat().st_size < MAX_COMMITTED_BYTES
    assert zoo_train.artifact_path(name, ".pth").stat().st_size < MAX_COMMITTED_BYTES
    x, y = load_dataset("digits", "test", zoo.INPUT_SHAPES[name])
    accuracy = float((onnx_logits(path, x).argmax(axis=1) == y).mean())
    assert accuracy >= 0.95


@pytest.mark.parametrize("name", zoo_train.COMMITTED)
def test_load_trained_matches_onnx(name):
    """load_trained gives the same predictions as the committed ONNX file."""
    path = zoo_train.artifact_path(name, ".onnx")
    x, _ = load_dataset("digits", "test", zoo.INPUT_SHAPES[name], limit=32)
    with torch.no_grad():
        expected = zoo_train.load_trained(name)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(onnx_logits(path, x), expected, rtol=1e-4, atol=1e-4)


def test_artifact_paths():
    """Small models live in models/, large ones in the gitignored models/build/."""
    assert zoo_train.artifact_path("lenet", ".onnx") == zoo_train.MODELS_DIR / "lenet.onnx"
    assert zoo_train.artifact_path("vgg16", ".pth") == zoo_train.BUILD_DIR / "vgg16.pth"
    with pytest.raises(KeyError, match="known models"):
        zoo_train.artifact_path("nope", ".onnx")


@pytest.fixture
def few_digits(monkeypatch):
    """Train and evaluate on the first 128 digits of each split, to keep training tests fast."""
    full = zoo_train.digits

    def first_digits(name, split):
        x, y = full(name, split)
        return x[:128], y[:128]

    monkeypatch.setattr(zoo_train, "digits", first_digits)


def test_short_training_is_deterministic(few_digits):
    """Training twice with the same seed gives identical weights."""
    first, _ = zoo_train.train("lenet", epochs=1, seed=3)
    second, _ = zoo_train.train("lenet", epochs=1, seed=3)
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_random_shift_moves_content():
    """random_shift keeps the shape and translates each image by at most max_px pixels."""
    x = torch.zeros(8, 1, 10, 10)
    x[:, :, 5, 5] = 1.0
    shifted = zoo_train.random_shift(x, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    for image in shifted:
        (row, col), = (image[0] == 1.0).nonzero().tolist()
        assert abs(row - 5) <= 2 and abs(col - 5) <= 2


@pytest.fixture
def scratch_models(tmp_path, monkeypatch, few_digits):
    """Point models/ and models/build/ at tmp_path and train lenet for 1 epoch only."""
    monkeypatch.setattr(zoo_train, "MODELS_DIR", tmp_path)
    monkeypatch.setattr(zoo_train, "BUILD_DIR", tmp_path / "build")
    monkeypatch.setitem(zoo_train.EPOCHS, "lenet", 1)
    return tmp_path


def test_ensure_trains_once_then_reuses(scratch_models):
    """ensure trains and saves .pth + .onnx on first use, reuses them, re-exports a lost ONNX."""
    onnx_path = zoo_train.ensure("lenet")
    pth = scratch_models / "lenet.pth"
    assert onnx_path == scratch_models / "lenet.onnx" and pth.is_file()
    trained_at = pth.stat().st_mtime_ns
    onnx_path.unlink()
    assert zoo_train.ensure("lenet").is_file()
    assert pth.stat().st_mtime_ns == trained_at


def test_cli_trains_and_reports(scratch_models, capsys):
    """The CLI prints weights, epochs, seconds and accuracy; a second run reports 'cached'."""
    assert train_script.main(["lenet"]) == 0
    assert train_script.main(["lenet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.startswith("lenet")]
    assert rows[0][1:3] == ["61,470", "1"] and rows[1][2:4] == ["-", "cached"]


def test_cli_rejects_unknown_names(capsys):
    """The CLI refuses unknown model names, listing the known ones."""
    with pytest.raises(SystemExit):
        train_script.main(["resnet50"])
    assert "unknown: resnet50" in capsys.readouterr().err
