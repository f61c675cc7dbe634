"""Benchmark networks built directly as IR (random weights, fixed seed).

Shapes follow ``shared/ALGORITHMS.md`` ("Model zoo"): LeNet-5 (1x32x32), AlexNet and
VGG16 in their CIFAR-10 forms (3x32x32), and ResNet-50 at 224x224 (standard bottleneck
stages [3, 4, 6, 3] with projection shortcuts and residual adds). BatchNorm is taken
as folded into the conv/fc weights, as the ONNX importer does.
"""
from __future__ import annotations

import numpy as np

from reramsim.ir import Layer, Network, WeightLayer

Shape = tuple[int, ...]


class NetBuilder:
    """Appends layers to a network, tracking tensor shapes and unique names."""

    def __init__(self, name: str, input_shape: Shape, seed: int = 0) -> None:
        self.name = name
        self.input_shape = input_shape
        self.layers: list[Layer] = []
        self.shapes: dict[str, Shape] = {"x": input_shape}
        self.rng = np.random.default_rng(seed)

    def _out(self, base: str) -> str:
        return f"{base}_{len(self.layers)}"

    def conv(self, x: str, cout: int, k: int, stride: int = 1, pad: int = 0) -> str:
        cin, h, w = self.shapes[x]
        ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        name = self._out("conv")
        weight = self.rng.random((cout, cin, k, k), dtype=np.float32) - 0.5
        self.layers.append(WeightLayer(
            name, "conv", (x,), name, ((cin, h, w),), (cout, ho, wo), weight=weight,
            bias=np.zeros(cout, np.float32), kernel=(k, k), stride=(stride, stride),
            pads=(pad, pad, pad, pad)))
        self.shapes[name] = (cout, ho, wo)
        return name

    def fc(self, x: str, cout: int) -> str:
        (cin,) = self.shapes[x]
        name = self._out("fc")
        weight = self.rng.random((cout, cin), dtype=np.float32) - 0.5
        self.layers.append(WeightLayer(name, "fc", (x,), name, ((cin,),), (cout,), weight=weight,
                                       bias=np.zeros(cout, np.float32)))
        self.shapes[name] = (cout,)
        return name

    def op(self, op: str, inputs: tuple[str, ...], out_shape: Shape, **attrs) -> str:
        name = self._out(op)
        self.layers.append(Layer(name, op, inputs, name, tuple(self.shapes[i] for i in inputs),
                                 out_shape, attrs=attrs))
        self.shapes[name] = out_shape
        return name

    def relu(self, x: str) -> str:
        return self.op("relu", (x,), self.shapes[x])

    def maxpool(self, x: str, k: int, stride: int, pad: int = 0) -> str:
        c, h, w = self.shapes[x]
        ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        return self.op("maxpool", (x,), (c, ho, wo), kernel=(k, k), stride=(stride, stride),
                       pads=(pad, pad, pad, pad), dilation=(1, 1), ceil_mode=0)

    def flatten(self, x: str) -> str:
        return self.op("flatten", (x,), (int(np.prod(self.shapes[x])),))

    def add(self, a: str, b: str) -> str:
        return self.op("add", (a, b), self.shapes[a])

    def global_avgpool(self, x: str) -> str:
        c = self.shapes[x][0]
        return self.op("global_avgpool", (x,), (c, 1, 1))

    def network(self, output: str) -> Network:
        return Network(self.name, {"x": self.input_shape}, [output], self.layers)


def lenet() -> Network:
    """LeNet-5 for 1x32x32: conv5x5 6, pool, conv5x5 16, pool, fc 400-120-84-10."""
    nb = NetBuilder("lenet", (1, 32, 32))
    x = nb.maxpool(nb.relu(nb.conv("x", 6, 5)), 2, 2)
    x = nb.maxpool(nb.relu(nb.conv(x, 16, 5)), 2, 2)
    x = nb.flatten(x)
    x = nb.relu(nb.fc(x, 120))
    x = nb.relu(nb.fc(x, 84))
    return nb.network(nb.fc(x, 10))


def alexnet() -> Network:
    """AlexNet, CIFAR-10 form (MNSIM-2.0 shapes), 2.78 M weights."""
    nb = NetBuilder("alexnet", (3, 32, 32))
    x = nb.maxpool(nb.relu(nb.conv("x", 64, 3, stride=2, pad=1)), 2, 2)
    x = nb.maxpool(nb.relu(nb.conv(x, 192, 3, pad=1)), 2, 2)
    x = nb.relu(nb.conv(x, 384, 3, pad=1))
    x = nb.relu(nb.conv(x, 256, 3, pad=1))
    x = nb.maxpool(nb.relu(nb.conv(x, 256, 3, pad=1)), 2, 2)
    x = nb.relu(nb.fc(nb.flatten(x), 512))
    return nb.network(nb.fc(x, 10))


VGG16_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def vgg16() -> Network:
    """VGG16, MNSIM-2.0 CIFAR variant: 13 conv3x3, four pools, fc 2048->10 (14.73 M weights)."""
    nb = NetBuilder("vgg16", (3, 32, 32))
    x = "x"
    for item in VGG16_PLAN:
        x = nb.maxpool(x, 2, 2) if item == "M" else nb.relu(nb.conv(x, int(item), 3, pad=1))
    return nb.network(nb.fc(nb.flatten(x), 10))


def resnet50() -> Network:
    """ResNet-50 at 3x224x224: bottleneck stages [3, 4, 6, 3], stride on the 3x3 conv."""
    nb = NetBuilder("resnet50", (3, 224, 224))
    x = nb.maxpool(nb.relu(nb.conv("x", 64, 7, stride=2, pad=3)), 3, 2, pad=1)
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            s = stride if i == 0 else 1
            y = nb.relu(nb.conv(x, width, 1))
            y = nb.relu(nb.conv(y, width, 3, stride=s, pad=1))
            y = nb.conv(y, 4 * width, 1)
            short = nb.conv(x, 4 * width, 1, stride=s) if i == 0 else x
            x = nb.relu(nb.add(y, short))
    x = nb.flatten(nb.global_avgpool(x))
    return nb.network(nb.fc(x, 1000))


NETS = {"lenet": lenet, "alexnet": alexnet, "vgg16": vgg16, "resnet50": resnet50}
