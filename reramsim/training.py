"""Training of the zoo models on scikit-learn's digits, ONNX export, trained weights by name.

The digits (8x8, resized to each model's input) stand in for MNIST/CIFAR-10 so
that trained weights, and the accuracy checks built on them, need no download
and train in minutes on 2 CPU cores. Small models (lenet, plain20, resnet20)
have their ONNX and state dict committed under the repository's ``models/``;
large ones (alexnet, vgg16) are cached in ``models/build/`` (gitignored) on
first use. The command line that (re)trains them is ``python -m models.train``.
Needs torch (the ``prune`` extra).
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from reramsim.datasets import load_dataset
from reramsim.zoo import INPUT_SHAPES, NAMES, build, fold_batchnorm, weight_layers

#: The repository's ``models/`` folder: shipped weights and ONNX files.
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
BUILD_DIR = MODELS_DIR / "build"
COMMITTED = ("lenet", "plain20", "resnet20")  # small enough (< 2 MB) to live in git

# Epochs per model: each reaches >= 97% digits test accuracy (see models/README.md).
EPOCHS: dict[str, int] = {"lenet": 30, "alexnet": 20, "vgg16": 15, "plain20": 20, "resnet20": 20}
BATCH_SIZE = 64
# SGD peak learning rate per model, cosine-annealed to 0; VGG16 (13 convs, no shortcut, up to
# 512 wide) does not learn in its first epochs at 0.05.
PEAK_LR: dict[str, float] = {
    "lenet": 0.05, "alexnet": 0.05, "vgg16": 0.01, "plain20": 0.05, "resnet20": 0.05,
}
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
MAX_SHIFT_PX = 2  # augmentation: random translation of up to this many pixels each way
N_THREADS = 2

Dataset = tuple[torch.Tensor, torch.Tensor]  # images (N, C, H, W) float32, labels (N,) int64


def digits(name: str, split: str) -> Dataset:
    """The digits ``split`` shaped for model ``name``, as torch tensors."""
    x, y = load_dataset("digits", split, INPUT_SHAPES[name])
    return torch.from_numpy(x), torch.from_numpy(y)


def train(name: str, epochs: int | None = None, seed: int = 0) -> tuple[nn.Module, float]:
    """Train zoo model ``name`` on the digits train split (1,437 images).

    SGD with momentum, cosine learning-rate decay, random-shift augmentation,
    seeded so that the same ``seed`` gives the same weights on the same machine.

    Args:
        name: a zoo model name (see :data:`reramsim.zoo.NAMES`).
        epochs: passes over the training set; ``None`` uses :data:`EPOCHS`.
        seed: seeds weight initialisation, shuffling, augmentation and dropout.

    Returns:
        ``(model, accuracy)``: the trained model in eval mode (BatchNorm not folded) and
        its float top-1 accuracy on the 360-image digits test split, in [0, 1].

    Raises:
        KeyError: unknown model name.
    """
    torch.set_num_threads(N_THREADS)
    torch.manual_seed(seed)
    model = build(name)
    n_epochs = EPOCHS[name] if epochs is None else epochs
    x_train, y_train = digits(name, "train")
    optimizer = torch.optim.SGD(model.parameters(), lr=PEAK_LR[name], momentum=MOMENTUM,
                                weight_decay=WEIGHT_DECAY, nesterov=True)
    n_steps = n_epochs * -(-len(x_train) // BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(n_steps, 1))
    generator = torch.Generator().manual_seed(seed)
    progress = tqdm(range(n_epochs), desc=f"train {name}", unit="epoch")
    for _ in progress:
        loss = _train_epoch(model, x_train, y_train, optimizer, schedule, generator)
        progress.set_postfix(loss=f"{loss:.4f}")
    model.eval()
    return model, evaluate(model, *digits(name, "test"))


def _train_epoch(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 optimizer: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LRScheduler,
                 generator: torch.Generator) -> float:
    """One pass over (x, y) in shuffled mini-batches; returns the mean cross-entropy loss."""
    model.train()
    order = torch.randperm(len(x), generator=generator)
    total_loss = 0.0
    for batch in order.split(BATCH_SIZE):
        images = random_shift(x[batch], MAX_SHIFT_PX, generator)
        loss = nn.functional.cross_entropy(model(images), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        total_loss += loss.item() * len(batch)
    return total_loss / len(x)


def random_shift(images: torch.Tensor, max_px: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image (N, C, H, W) by up to ``max_px`` pixels per axis, filling with 0."""
    height, width = images.shape[2:]
    padded = nn.functional.pad(images, (max_px,) * 4)
    offsets = torch.randint(0, 2 * max_px + 1, (len(images), 2), generator=generator).tolist()
    return torch.stack([img[:, dy:dy + height, dx:dx + width]
                        for img, (dy, dx) in zip(padded, offsets)])


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` (in eval mode) on images ``x`` (N, C, H, W), labels ``y``."""
    model.eval()
    correct = sum(int((model(xb).argmax(dim=1) == yb).sum())
                  for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    return correct / len(x)


def export_onnx(model: nn.Module, path: Path | str, input_shape: tuple[int, int, int],
                opset: int = 13) -> Path:
    """Write ``model`` to ONNX with BatchNorm folded into the conv/fc weights.

    A copy of the model is folded (see :func:`reramsim.zoo.fold_batchnorm`) so the
    graph holds only Conv/Gemm/Relu/pooling/Add nodes; ``model`` itself is left
    untouched except for being put in eval mode. Input "input" (N, C, H, W) float32,
    output "logits" (N, classes); the batch dimension N is dynamic. The file is
    written to a temporary name and renamed, so a reader never sees half a file.

    Returns:
        ``path`` as a :class:`Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    folded = fold_batchnorm(copy.deepcopy(model))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but still exact
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            folded, (torch.zeros(1, *input_shape),), str(tmp), dynamo=False,
            opset_version=opset, do_constant_folding=True,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    os.replace(tmp, path)
    return path


def artifact_path(name: str, suffix: str) -> Path:
    """Where ``name``'s ``.onnx``/``.pth`` lives: ``models/`` if committed, else ``build/``."""
    if name not in NAMES:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(NAMES)}")
    return (MODELS_DIR if name in COMMITTED else BUILD_DIR) / f"{name}{suffix}"


def train_and_save(name: str, epochs: int | None = None, seed: int = 0) -> tuple[nn.Module, float]:
    """Train ``name``, save its state dict (.pth) and its ONNX; return (model, test accuracy)."""
    model, accuracy = train(name, epochs, seed)
    pth = artifact_path(name, ".pth")
    pth.parent.mkdir(parents=True, exist_ok=True)
    tmp = pth.with_name(f".{pth.name}.{os.getpid()}.tmp")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, pth)
    export_onnx(model, artifact_path(name, ".onnx"), INPUT_SHAPES[name])
    return model, accuracy


def load_trained(name: str) -> nn.Module:
    """Zoo model ``name`` with trained weights, in eval mode (BN not folded); trains if needed."""
    pth = artifact_path(name, ".pth")
    if not pth.is_file():
        return train_and_save(name)[0]
    model = build(name)
    model.load_state_dict(torch.load(pth, weights_only=True))
    return model.eval()


def ensure(name: str) -> Path:
    """Path of the trained model's ONNX; trains (or exports a saved state dict) on first use."""
    onnx_path = artifact_path(name, ".onnx")
    if onnx_path.is_file():
        return onnx_path
    if artifact_path(name, ".pth").is_file():
        export_onnx(load_trained(name), onnx_path, INPUT_SHAPES[name])
    else:
        train_and_save(name)
    return onnx_path


def n_weights(model: nn.Module) -> int:
    """Number of conv/fc weights (no BatchNorm, no bias): what the crossbars store."""
    return sum(layer.weight.numel() for layer in weight_layers(model))
