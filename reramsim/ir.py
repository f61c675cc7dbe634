"""The network IR: weight layers as 2-D matrices plus the digital ops around them.

Shapes are per sample: the batch dimension is dropped everywhere (a conv output
is ``(C, H, W)``, a fully connected output ``(F,)``). Layers are kept in a
topological order and each produces exactly one tensor, named after the ONNX
value it came from.

A weight layer exposes its *matrix view*, the convention every mapper, the
analytical model, the engine and the functional model share: group ``g`` of a
layer is the matrix ``M_g`` with

* ``rows = Cin/groups * kh * kw`` word-lines (inputs), im2col order ``(c, ky, kx)``;
* ``cols = Cout/groups`` bit-lines (outputs, one per filter of the group).

A fully connected layer is a 1x1 "conv" on a ``(Cin,)`` vector with one output
pixel, ``rows = Cin`` and ``cols = Cout``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

#: Kinds of weight layer.
WEIGHT_KINDS = ("conv", "fc")


@dataclass
class Layer:
    """One node of the network: its op, its input tensors and its output tensor.

    Attributes:
        name: unique layer name (the ONNX node name, made unique on import).
        op: ``"conv"`` or ``"fc"`` for weight layers, else a digital op defined in
            :mod:`reramsim.ops` (``reramsim.ops.OPS``: its attributes, kernel, unit...).
        inputs: names of the tensors it reads (activations only; weights live on the layer).
        output: name of the tensor it writes.
        in_shapes: per-sample shape of each input.
        out_shape: per-sample shape of the output.
        attrs: op attributes (``OPS.get(op).attrs`` lists the keys).
    """

    name: str
    op: str
    inputs: tuple[str, ...]
    output: str
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def out_elements(self) -> int:
        """Number of output values per sample."""
        return int(np.prod(self.out_shape))

    @property
    def out_pixels(self) -> int:
        """Output positions a pixel-pipelined engine steps through (H*W, or 1 for vectors)."""
        return int(np.prod(self.out_shape[1:])) if len(self.out_shape) == 3 else 1


@dataclass
class WeightLayer(Layer):
    """A Conv or fully connected layer, the part that runs on crossbars.

    ``weight`` is ``(Cout, Cin/groups, kh, kw)`` for conv and ``(Cout, Cin)`` for fc
    (``y = x @ weight.T + bias``), float32, with BatchNorm and Gemm alpha/beta folded in.
    ``kernel``, ``stride``, ``dilation`` are ``(y, x)`` pairs, ``pads`` is
    ``(top, left, bottom, right)``. For fc these are ``(1, 1)`` / zeros and groups is 1.
    """

    weight: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    bias: np.ndarray | None = None
    groups: int = 1
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)

    @property
    def cin(self) -> int:
        """Input channels (conv) or input features (fc)."""
        return int(self.weight.shape[1]) * self.groups

    @property
    def cout(self) -> int:
        return int(self.weight.shape[0])

    @property
    def rows(self) -> int:
        """Word-lines of one group's matrix: ``Cin/groups * kh * kw``."""
        return int(np.prod(self.weight.shape[1:]))

    @property
    def cols(self) -> int:
        """Bit-lines (filters) of one group's matrix: ``Cout/groups``."""
        return self.cout // self.groups

    @property
    def n_weights(self) -> int:
        return int(self.weight.size)

    def matrix(self, group: int = 0) -> np.ndarray:
        """The ``(rows, cols)`` matrix of one group, rows in im2col order (c, ky, kx).

        Example: a 3x3 conv 2->4 with groups=1 gives an ``(18, 4)`` matrix whose
        column ``j`` is filter ``j`` flattened, and row ``c*9 + ky*3 + kx``.
        """
        if not 0 <= group < self.groups:
            raise IndexError(f"{self.name}: group {group} out of range(0, {self.groups})")
        cols = self.cols
        block = self.weight[group * cols:(group + 1) * cols]
        return block.reshape(cols, -1).T

    def matrices(self) -> Iterator[np.ndarray]:
        """The matrix of every group in order."""
        for g in range(self.groups):
            yield self.matrix(g)


@dataclass
class Network:
    """A whole model: inputs, layers in topological order, outputs.

    Attributes:
        name: model name (the ONNX file stem or graph name).
        inputs: graph input tensor name -> per-sample shape.
        outputs: names of the graph outputs, in order.
        layers: every layer, topologically sorted.
        metadata: the ONNX ``metadata_props`` (pruning schemes store their tables here).
        source: the file it was read from, for messages.
    """

    name: str
    inputs: dict[str, tuple[int, ...]]
    outputs: list[str]
    layers: list[Layer]
    metadata: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def weight_layers(self) -> list[WeightLayer]:
        return [layer for layer in self.layers if isinstance(layer, WeightLayer)]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r} in {self.name}")

    def producer(self) -> dict[str, Layer]:
        """Tensor name -> the layer that writes it (graph inputs are absent)."""
        return {layer.output: layer for layer in self.layers}

    def consumers(self) -> dict[str, list[Layer]]:
        """Tensor name -> the layers that read it, in topological order."""
        readers: dict[str, list[Layer]] = {}
        for layer in self.layers:
            for name in layer.inputs:
                readers.setdefault(name, []).append(layer)
        return readers

    @property
    def n_weights(self) -> int:
        return sum(layer.n_weights for layer in self.weight_layers())

    @property
    def n_nonzero_weights(self) -> int:
        return sum(int(np.count_nonzero(layer.weight)) for layer in self.weight_layers())
