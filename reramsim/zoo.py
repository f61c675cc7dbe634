"""The model zoo: the networks the pruning papers evaluate, in plain PyTorch.

Shapes follow MNSIM-2.0 and the CIFAR literature (see ``docs/sources.md``,
"Model zoo"): every conv and fc is followed by BatchNorm except the last
classifier fc. Each conv/fc and its BatchNorm sit next to each other in one
``nn.Sequential`` so that :func:`fold_batchnorm` can merge them before ONNX
export; the simulator then sees only Conv/Gemm weights.

Weights of the conv/fc layers (no BN, no bias): LeNet-5 61,470, AlexNet
2,779,840, VGG16 14,730,944, Plain20 268,336, ResNet-20 270,896 (Plain20 plus
two 1x1 projection shortcuts).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

NAMES: tuple[str, ...] = ("lenet", "alexnet", "vgg16", "plain20", "resnet20")

# Input shape (C, H, W) each model expects, without the batch dimension.
INPUT_SHAPES: dict[str, tuple[int, int, int]] = {
    "lenet": (1, 32, 32),
    "alexnet": (3, 32, 32),
    "vgg16": (3, 32, 32),
    "plain20": (3, 32, 32),
    "resnet20": (3, 32, 32),
}

# VGG16 (MNSIM variant): output channels of the 13 conv3x3 layers, "M" = maxpool 2.
_VGG16_PLAN: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
)

# Plain20 / ResNet-20 stages: (output channels, stride of the first conv); 6 convs per stage.
_CIFAR_RESNET_STAGES: tuple[tuple[int, int], ...] = ((16, 1), (32, 2), (64, 2))
_CONVS_PER_STAGE = 6


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0) -> nn.Sequential:
    """Conv2d (no bias) followed by its BatchNorm2d, ready for :func:`fold_batchnorm`."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(c_out),
    )


def fc_bn(n_in: int, n_out: int) -> nn.Sequential:
    """Linear (no bias) followed by its BatchNorm1d, ready for :func:`fold_batchnorm`."""
    return nn.Sequential(nn.Linear(n_in, n_out, bias=False), nn.BatchNorm1d(n_out))


def lenet(num_classes: int = 10) -> nn.Module:
    """LeNet-5 for 1x32x32 input: two conv5x5 + maxpool stages, fc 400->120->84->classes."""
    return nn.Sequential(
        conv_bn(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        conv_bn(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        fc_bn(400, 120), nn.ReLU(),
        fc_bn(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes),
    )


def alexnet(num_classes: int = 10) -> nn.Module:
    """AlexNet, CIFAR shape (3x32x32 input, 5 conv3x3 + 2 fc, 2.78 M weights)."""
    return nn.Sequential(
        conv_bn(3, 64, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        conv_bn(64, 192, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        conv_bn(192, 384, 3, padding=1), nn.ReLU(),
        conv_bn(384, 256, 3, padding=1), nn.ReLU(),
        conv_bn(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        fc_bn(1024, 512), nn.Dropout(0.5), nn.ReLU(),
        nn.Linear(512, num_classes),
    )


def vgg16(num_classes: int = 10) -> nn.Module:
    """VGG16, MNSIM variant: 13 conv3x3 (no fifth pool), flatten 512x2x2, one fc (14.73 M)."""
    layers: list[nn.Module] = []
    c_in = 3
    for step in _VGG16_PLAN:
        if step == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            assert isinstance(step, int)
            layers += [conv_bn(c_in, step, 3, padding=1), nn.ReLU()]
            c_in = step
    layers += [nn.Flatten(), nn.Linear(512 * 2 * 2, num_classes)]
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two conv3x3+BN with an identity shortcut (1x1 conv + BN where the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = conv_bn(c_in, c_out, 3, stride=stride, padding=1)
        self.conv2 = conv_bn(c_out, c_out, 3, padding=1)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = conv_bn(c_in, c_out, 1, stride=stride)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))."""
        out = self.conv2(self.relu(self.conv1(x)))
        return self.relu(out + self.shortcut(x))


def _cifar_resnet(block: Callable[[int, int, int], list[nn.Module]], num_classes: int) -> nn.Module:
    """Stem conv 3->16, 3 stages of 6 conv3x3 (built by ``block``), global pool, fc 64->classes."""
    layers: list[nn.Module] = [conv_bn(3, 16, 3, padding=1), nn.ReLU()]
    c_in = 16
    for c_out, stride in _CIFAR_RESNET_STAGES:
        for pair in range(_CONVS_PER_STAGE // 2):
            layers += block(c_in, c_out, stride if pair == 0 else 1)
            c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes)]
    return nn.Sequential(*layers)


def _plain_pair(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    """Two conv3x3+BN+ReLU without a shortcut (one Plain20 'block')."""
    return [
        conv_bn(c_in, c_out, 3, stride=stride, padding=1), nn.ReLU(),
        conv_bn(c_out, c_out, 3, padding=1), nn.ReLU(),
    ]


def _residual_pair(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    """Two conv3x3+BN with a shortcut around them (one ResNet-20 block)."""
    return [BasicBlock(c_in, c_out, stride)]


def plain20(num_classes: int = 10) -> nn.Module:
    """Plain20: ResNet-20 without shortcuts, 19 conv3x3 + fc (268,336 weights)."""
    return _cifar_resnet(_plain_pair, num_classes)


def resnet20(num_classes: int = 10) -> nn.Module:
    """ResNet-20: Plain20 + identity shortcuts every two convs, 1x1 projection at stride changes."""
    return _cifar_resnet(_residual_pair, num_classes)


_BUILDERS: dict[str, Callable[[int], nn.Module]] = {
    "lenet": lenet,
    "alexnet": alexnet,
    "vgg16": vgg16,
    "plain20": plain20,
    "resnet20": resnet20,
}


def build(name: str, num_classes: int = 10) -> nn.Module:
    """Build zoo model ``name`` with random initial weights, in training mode.

    Raises:
        KeyError: ``name`` is not in :data:`NAMES`; the message lists the known names.
    """
    if name not in _BUILDERS:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(NAMES)}")
    return _BUILDERS[name](num_classes)


def weight_layers(model: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    """The conv and fc layers of ``model`` in definition order (the layers put on crossbars)."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def matrix_shape(layer: nn.Conv2d | nn.Linear) -> tuple[int, int]:
    """(R, C) of the layer's crossbar matrix: R = Cin/groups*kh*kw word-lines, C = Cout."""
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features
    kh, kw = layer.kernel_size
    return layer.in_channels // layer.groups * kh * kw, layer.out_channels


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Merge every BatchNorm into the conv/fc just before it, in place; return ``model``.

    Works on any ``nn.Sequential`` in the module tree whose conv/fc is directly
    followed by its BatchNorm (as :func:`conv_bn` and :func:`fc_bn` build them):
    the BN's scale and shift go into the weight and bias using the running
    statistics, and the BN is replaced by ``nn.Identity``. The model is put in
    eval mode, since folding is only valid with running statistics.
    """
    model.eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            layer, norm = seq[i], seq[i + 1]
            if isinstance(layer, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                seq[i] = fuse_conv_bn_eval(layer, norm)
            elif isinstance(layer, nn.Linear) and isinstance(norm, nn.BatchNorm1d):
                seq[i] = fuse_linear_bn_eval(layer, norm)
            else:
                continue
            seq[i + 1] = nn.Identity()
    return model
