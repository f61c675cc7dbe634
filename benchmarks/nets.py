"""Benchmark networks built directly as IR (random weights, fixed seed).

Shapes follow the model zoo (docs/sources.md, "Model zoo"): LeNet-5 (1x32x32), AlexNet and
VGG16 in their CIFAR-10 forms (3x32x32), and ResNet-50 at 224x224 (standard bottleneck
stages [3, 4, 6, 3] with projection shortcuts and residual adds). BatchNorm is taken
as folded into the conv/fc weights, as the ONNX importer does.
"""
from __future__ import annotations

from reramsim.builder import NetworkBuilder
from reramsim.ir import Network


def lenet() -> Network:
    """LeNet-5 for 1x32x32: conv5x5 6, pool, conv5x5 16, pool, fc 400-120-84-10."""
    nb = NetworkBuilder((1, 32, 32), "lenet")
    x = nb.maxpool(nb.relu(nb.conv("x", 6, 5, bias=True)), 2, 2)
    x = nb.maxpool(nb.relu(nb.conv(x, 16, 5, bias=True)), 2, 2)
    x = nb.flatten(x)
    x = nb.relu(nb.fc(x, 120, bias=True))
    x = nb.relu(nb.fc(x, 84, bias=True))
    return nb.network(nb.fc(x, 10, bias=True))


def alexnet() -> Network:
    """AlexNet, CIFAR-10 form (MNSIM-2.0 shapes), 2.78 M weights."""
    nb = NetworkBuilder((3, 32, 32), "alexnet")
    x = nb.maxpool(nb.relu(nb.conv("x", 64, 3, stride=2, pad=1, bias=True)), 2, 2)
    x = nb.maxpool(nb.relu(nb.conv(x, 192, 3, pad=1, bias=True)), 2, 2)
    x = nb.relu(nb.conv(x, 384, 3, pad=1, bias=True))
    x = nb.relu(nb.conv(x, 256, 3, pad=1, bias=True))
    x = nb.maxpool(nb.relu(nb.conv(x, 256, 3, pad=1, bias=True)), 2, 2)
    x = nb.relu(nb.fc(nb.flatten(x), 512, bias=True))
    return nb.network(nb.fc(x, 10, bias=True))


VGG16_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def vgg16() -> Network:
    """VGG16, MNSIM-2.0 CIFAR variant: 13 conv3x3, four pools, fc 2048->10 (14.73 M weights)."""
    nb = NetworkBuilder((3, 32, 32), "vgg16")
    x = "x"
    for item in VGG16_PLAN:
        if item == "M":
            x = nb.maxpool(x, 2, 2)
        else:
            x = nb.relu(nb.conv(x, int(item), 3, pad=1, bias=True))
    return nb.network(nb.fc(nb.flatten(x), 10, bias=True))


def resnet50() -> Network:
    """ResNet-50 at 3x224x224: bottleneck stages [3, 4, 6, 3], stride on the 3x3 conv."""
    nb = NetworkBuilder((3, 224, 224), "resnet50")
    x = nb.maxpool(nb.relu(nb.conv("x", 64, 7, stride=2, pad=3, bias=True)), 3, 2, pad=1)
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            s = stride if i == 0 else 1
            y = nb.relu(nb.conv(x, width, 1, bias=True))
            y = nb.relu(nb.conv(y, width, 3, stride=s, pad=1, bias=True))
            y = nb.conv(y, 4 * width, 1, bias=True)
            short = nb.conv(x, 4 * width, 1, stride=s, bias=True) if i == 0 else x
            x = nb.relu(nb.add(y, short))
    x = nb.flatten(nb.global_avgpool(x))
    return nb.network(nb.fc(x, 1000, bias=True))


NETS = {"lenet": lenet, "alexnet": alexnet, "vgg16": vgg16, "resnet50": resnet50}
