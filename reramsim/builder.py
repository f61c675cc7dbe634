"""Build an IR network layer by layer, without an ONNX file.

For networks that exist only as shapes (timing studies, benchmarks, tests): weights
are random (a seeded normal draw), every tensor's shape is tracked, and each layer is
named after its op and its position (``conv0``, ``relu1``, ``fc2``...)::

    nb = NetworkBuilder((1, 28, 28), name="tiny")
    x = nb.maxpool(nb.relu(nb.conv("x", 8, 3, pad=1)), 2, 2)
    net = nb.network(nb.fc(nb.flatten(x), 10))

The graph input is called ``"x"``. Shapes are (C, H, W) for feature maps and (N,)
for vectors, without the batch dimension.
"""
from __future__ import annotations

import numpy as np

from reramsim.ir import Layer, Network, WeightLayer

__all__ = ["NetworkBuilder"]

Shape = tuple[int, ...]


class NetworkBuilder:
    """Appends layers to a network, tracking tensor shapes and unique names."""

    def __init__(self, input_shape: Shape, name: str = "net", seed: int = 0) -> None:
        self.name = name
        self.input_shape = tuple(input_shape)
        self.layers: list[Layer] = []
        self.shapes: dict[str, Shape] = {"x": self.input_shape}
        self.rng = np.random.default_rng(seed)

    def _name(self, op: str) -> str:
        return f"{op}{len(self.layers)}"

    def conv(self, x: str, cout: int, k: int, stride: int = 1, pad: int = 0,
             bias: bool = False) -> str:
        """A k x k convolution with ``cout`` filters (zero bias when ``bias``)."""
        cin, h, w = self.shapes[x]
        ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        name = self._name("conv")
        weight = self.rng.standard_normal((cout, cin, k, k)).astype(np.float32)
        self.layers.append(WeightLayer(
            name, "conv", (x,), name, ((cin, h, w),), (cout, ho, wo), weight=weight,
            bias=np.zeros(cout, np.float32) if bias else None, kernel=(k, k),
            stride=(stride, stride), pads=(pad, pad, pad, pad)))
        self.shapes[name] = (cout, ho, wo)
        return name

    def fc(self, x: str, cout: int, bias: bool = False) -> str:
        """A fully connected layer with ``cout`` outputs (zero bias when ``bias``)."""
        (cin,) = self.shapes[x]
        name = self._name("fc")
        weight = self.rng.standard_normal((cout, cin)).astype(np.float32)
        self.layers.append(WeightLayer(name, "fc", (x,), name, ((cin,),), (cout,), weight=weight,
                                       bias=np.zeros(cout, np.float32) if bias else None))
        self.shapes[name] = (cout,)
        return name

    def op(self, op: str, inputs: tuple[str, ...], out_shape: Shape, **attrs) -> str:
        """Any digital op, given its output shape and attributes."""
        name = self._name(op)
        self.layers.append(Layer(name, op, inputs, name, tuple(self.shapes[i] for i in inputs),
                                 tuple(out_shape), attrs=attrs))
        self.shapes[name] = tuple(out_shape)
        return name

    def relu(self, x: str) -> str:
        return self.op("relu", (x,), self.shapes[x])

    def maxpool(self, x: str, k: int, stride: int, pad: int = 0) -> str:
        c, h, w = self.shapes[x]
        ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        return self.op("maxpool", (x,), (c, ho, wo), kernel=(k, k), stride=(stride, stride),
                       pads=(pad, pad, pad, pad))

    def flatten(self, x: str) -> str:
        return self.op("flatten", (x,), (int(np.prod(self.shapes[x])),))

    def add(self, a: str, b: str) -> str:
        return self.op("add", (a, b), self.shapes[a])

    def global_avgpool(self, x: str) -> str:
        return self.op("global_avgpool", (x,), (self.shapes[x][0], 1, 1))

    def network(self, *outputs: str) -> Network:
        """The network built so far, with ``outputs`` as its graph outputs."""
        return Network(self.name, {"x": self.input_shape}, list(outputs), list(self.layers))
