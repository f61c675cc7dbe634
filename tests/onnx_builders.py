"""Build ONNX test models with ``onnx.helper``, independently of the project's model zoo.

Everything here is deterministic (fixed seeds) and needs only onnx and numpy;
the torch exporters import torch lazily.

Small pieces:
    :func:`make_model`      a model from nodes, input shapes and initializers;
    :func:`one_node`        a one-node model, the unit of the per-op tests;
    :func:`random_feeds`    inputs for a model's graph inputs (symbolic dims -> ``batch``);
    :func:`run_onnxruntime` the reference outputs, dict name -> array;
    :func:`save`            write a model to a file and return its path;
    :func:`without_legacy_attrs` a copy onnxruntime accepts (drops Dropout's ``is_test``).

Real-world-style networks (random weights, ImageNet-sized 3x224x224 input, channel
widths divided by ``width_div`` to keep tests fast, topology kept):
    :func:`alexnet_bvlc`    Caffe/BVLC AlexNet, opset 9: LRN, grouped convs, Dropout with
                            ``is_test``, a Reshape whose shape is a Constant node, Gemm transB=1;
    :func:`resnet18_style`  ResNet-18, opset 13: unfolded BN after every conv, residual Adds,
                            MaxPool, GlobalAveragePool, Flatten, Gemm;
    :func:`squeezenet_style` SqueezeNet 1.1 Fire modules with Concat, opset 9;
    :func:`const_subgraph_net` conv weights from constant subgraphs and a Sum of three tensors;
    :func:`torch_bn_net` / :func:`export_torch` small PyTorch nets exported at opset 9.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ShapeLike = Sequence[int | str]

# --------------------------------------------------------------------------- small pieces


def make_model(nodes: Sequence[onnx.NodeProto], inputs: dict[str, ShapeLike],
               outputs: Sequence[str], initializers: dict[str, np.ndarray] | None = None, *,
               opset: int = 13, name: str = "test", metadata: dict[str, str] | None = None
               ) -> onnx.ModelProto:
    """A float model: ``inputs`` name -> shape (ints or dim names), outputs of unknown shape."""
    graph = helper.make_graph(
        list(nodes), name,
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(s)) for k, s in inputs.items()],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="reramsim-tests")
    min_ir = helper.find_min_ir_version_for(list(model.opset_import), ignore_unknown=True)
    model.ir_version = max(min_ir, 7)  # old enough for onnxruntime, new enough for the checker
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model


def one_node(op_type: str, inputs: dict[str, ShapeLike | np.ndarray], *, opset: int = 13,
             order: Sequence[str] | None = None, n_outputs: int = 1, name: str = "node",
             **attrs: Any) -> onnx.ModelProto:
    """A one-node model computing ``y`` (and ``y1``... when ``n_outputs > 1``).

    ``inputs`` maps a name to a shape (a graph input) or to an array (an initializer).
    ``order`` gives the node's input list when it differs from the dict order; use ``""``
    for a skipped optional input. Example::

        one_node("Conv", {"x": ("N", 3, 8, 8), "w": rand((4, 3, 3, 3))}, pads=[1, 1, 1, 1])
    """
    acts = {k: v for k, v in inputs.items() if not isinstance(v, np.ndarray)}
    inits = {k: v for k, v in inputs.items() if isinstance(v, np.ndarray)}
    outs = ["y"] + [f"y{i}" for i in range(1, n_outputs)]
    node = helper.make_node(op_type, list(order if order is not None else inputs), outs,
                            name=name, **attrs)
    return make_model([node], acts, outs[:1], inits, opset=opset, name=f"{op_type}_test")


def rand(shape: Sequence[int], seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """Standard-normal float32 values times ``scale``."""
    return (np.random.default_rng(seed).standard_normal(tuple(shape)) * scale).astype(np.float32)


def _he(shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """He-initialised weights (fan-in = prod(shape[1:])) so deep nets keep unit scale."""
    fan_in = int(np.prod(shape[1:]))
    return (rng.standard_normal(tuple(shape)) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def random_feeds(model: onnx.ModelProto, batch: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Standard-normal inputs for every graph input that is not an initializer."""
    inits = {i.name for i in model.graph.initializer}
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in model.graph.input:
        if value.name in inits:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else batch
                for d in value.type.tensor_type.shape.dim]
        feeds[value.name] = rng.standard_normal(dims).astype(np.float32)
    return feeds


def run_onnxruntime(model: onnx.ModelProto | str | Path, feeds: dict[str, np.ndarray]
                    ) -> dict[str, np.ndarray]:
    """Every graph output computed by onnxruntime on the CPU, dict name -> array."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def save(model: onnx.ModelProto, path: str | Path) -> Path:
    """Write ``model`` to ``path`` and return the path."""
    path = Path(path)
    onnx.save(model, str(path))
    return path


def without_legacy_attrs(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy without Dropout's ``is_test`` (opset <= 6), which onnxruntime refuses at opset 7+."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for node in copy.graph.node:
        if node.op_type == "Dropout":
            keep = [a for a in node.attribute if a.name != "is_test"]
            del node.attribute[:]
            node.attribute.extend(keep)
    return copy


class _Builder:
    """Accumulates nodes and initializers; each method returns its output tensor name."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}
        self.count = 0

    def _name(self, op: str) -> str:
        self.count += 1
        return f"{op.lower()}{self.count}"

    def node(self, op: str, inputs: Sequence[str], name: str | None = None, **attrs: Any) -> str:
        name = name or self._name(op)
        self.nodes.append(helper.make_node(op, list(inputs), [name + "_out"], name=name, **attrs))
        return name + "_out"

    def init(self, name: str, value: np.ndarray) -> str:
        self.inits[name] = value
        return name

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int = 0,
             group: int = 1, bias: bool = True, name: str | None = None) -> str:
        name = name or self._name("conv")
        w = self.init(name + "_W", _he((cout, cin // group, k, k), self.rng))
        ins = [x, w]
        if bias:
            ins.append(self.init(name + "_B", (self.rng.standard_normal(cout) * 0.1)
                                 .astype(np.float32)))
        return self.node("Conv", ins, name, kernel_shape=[k, k], strides=[stride, stride],
                         pads=[pad] * 4, group=group)

    def bn(self, x: str, c: int) -> str:
        name = self._name("bn")
        r = self.rng
        params = [(r.uniform(0.5, 1.5, c)), r.standard_normal(c) * 0.1,
                  r.standard_normal(c) * 0.1, r.uniform(0.5, 1.5, c)]
        ins = [self.init(f"{name}_{p}", v.astype(np.float32))
               for p, v in zip(("scale", "B", "mean", "var"), params)]
        return self.node("BatchNormalization", [x, *ins], name, epsilon=1e-5)

    def gemm(self, x: str, cin: int, cout: int) -> str:
        name = self._name("fc")
        w = self.init(name + "_W", _he((cout, cin), self.rng))
        b = self.init(name + "_B", (self.rng.standard_normal(cout) * 0.1).astype(np.float32))
        return self.node("Gemm", [x, w, b], name, transB=1)

    def relu(self, x: str) -> str:
        return self.node("Relu", [x])


# --------------------------------------------------------------------------- real-world style


def alexnet_bvlc(width_div: int = 4, seed: int = 0) -> onnx.ModelProto:
    """Caffe/BVLC AlexNet at opset 9 (as in the ONNX model zoo), input (1, 3, 224, 224).

    conv1 11x11/4 -> ReLU -> LRN -> MaxPool 3/2 (end pads 1, Caffe's ceil rounding) ->
    conv2 5x5 group 2 -> ReLU -> LRN -> MaxPool -> conv3 -> conv4 group 2 -> conv5 group 2 ->
    MaxPool -> Reshape (shape from a Constant node) -> fc6 -> ReLU -> Dropout(is_test=1) ->
    fc7 -> ReLU -> Dropout(is_test=1) -> fc8 (1000) -> Softmax. Gemms have transB=1.
    Run it in onnxruntime through :func:`without_legacy_attrs`.
    """
    b = _Builder(seed)
    c1, c2, c3 = 96 // width_div, 256 // width_div, 384 // width_div
    f = 4096 // width_div
    pool = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 0, 1, 1]}
    lrn = {"size": 5, "alpha": 1e-4, "beta": 0.75, "bias": 1.0}
    x = b.relu(b.conv("data_0", 3, c1, 11, stride=4, name="conv1"))        # 54x54
    x = b.node("MaxPool", [b.node("LRN", [x], "norm1", **lrn)], "pool1", **pool)  # 27
    x = b.relu(b.conv(x, c1, c2, 5, pad=2, group=2, name="conv2"))
    x = b.node("MaxPool", [b.node("LRN", [x], "norm2", **lrn)], "pool2", **pool)  # 13
    x = b.relu(b.conv(x, c2, c3, 3, pad=1, name="conv3"))
    x = b.relu(b.conv(x, c3, c3, 3, pad=1, group=2, name="conv4"))
    x = b.relu(b.conv(x, c3, c2, 3, pad=1, group=2, name="conv5"))
    x = b.node("MaxPool", [x], "pool5", **pool)                               # 6x6
    shape = b.node("Constant", [], "shape_const", value=numpy_helper.from_array(
        np.array([1, c2 * 36], np.int64)))
    x = b.node("Reshape", [x, shape], "OC2_DUMMY_0")
    for i, (cin, cout) in enumerate(((c2 * 36, f), (f, f)), start=6):
        x = b.node("Dropout", [b.relu(b.gemm(x, cin, cout))], f"drop{i}", ratio=0.5, is_test=1)
    x = b.node("Softmax", [b.gemm(x, f, 1000)], "prob", axis=1)
    model = make_model(b.nodes, {"data_0": (1, 3, 224, 224)}, [x], b.inits, opset=9,
                       name="bvlc_alexnet")
    return model


def resnet18_style(width_div: int = 4, seed: int = 0, opset: int = 13) -> onnx.ModelProto:
    """ResNet-18 on (N, 3, 224, 224): every conv followed by an unfolded BatchNormalization.

    conv1 7x7/2 + BN + ReLU + MaxPool 3/2 pad 1, four stages of two BasicBlocks (3x3 convs,
    a 1x1/2 conv + BN shortcut where the shape changes, residual Add, ReLU),
    GlobalAveragePool, Flatten, Gemm to 1000 classes. Dynamic batch ``N``.
    """
    b = _Builder(seed)
    widths = [64 // width_div, 128 // width_div, 256 // width_div, 512 // width_div]
    x = b.relu(b.bn(b.conv("input", 3, widths[0], 7, stride=2, pad=3, bias=False), widths[0]))
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = widths[0]
    for stage, cout in enumerate(widths):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            y = b.relu(b.bn(b.conv(x, cin, cout, 3, stride, 1, bias=False), cout))
            y = b.bn(b.conv(y, cout, cout, 3, 1, 1, bias=False), cout)
            short = x
            if stride != 1 or cin != cout:
                short = b.bn(b.conv(x, cin, cout, 1, stride, bias=False), cout)
            x = b.relu(b.node("Add", [y, short]))
            cin = cout
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])], axis=1)
    x = b.gemm(x, cin, 1000)
    return make_model(b.nodes, {"input": ("N", 3, 224, 224)}, [x], b.inits, opset=opset,
                      name="resnet18")


def squeezenet_style(width_div: int = 4, seed: int = 0) -> onnx.ModelProto:
    """SqueezeNet 1.1 at opset 9 on (N, 3, 224, 224): Fire modules joined by Concat.

    conv1 3x3/2 -> MaxPool 3/2 -> fire2,3 -> MaxPool -> fire4,5 -> MaxPool -> fire6..9 ->
    Dropout -> conv10 1x1 (1000) -> ReLU -> AveragePool 13 -> Flatten -> Softmax(axis=1).
    Each Fire: squeeze 1x1 + ReLU, expand 1x1 and expand 3x3 (pad 1) + ReLU, Concat(axis=1).
    """
    b = _Builder(seed)
    pool = {"kernel_shape": [3, 3], "strides": [2, 2]}

    def fire(x: str, cin: int, squeeze: int, expand: int) -> tuple[str, int]:
        s = b.relu(b.conv(x, cin, squeeze, 1))
        e1 = b.relu(b.conv(s, squeeze, expand, 1))
        e3 = b.relu(b.conv(s, squeeze, expand, 3, pad=1))
        return b.node("Concat", [e1, e3], axis=1), 2 * expand

    c = 64 // width_div
    x = b.relu(b.conv("data", 3, c, 3, stride=2))                 # 111
    x = b.node("MaxPool", [x], pads=[0, 0, 1, 1], **pool)          # 55 (Caffe ceil rounding)
    plan = [(16, 64), (16, 64), "pool", (32, 128), (32, 128), "pool",
            (48, 192), (48, 192), (64, 256), (64, 256)]
    for step in plan:
        if step == "pool":
            x = b.node("MaxPool", [x], pads=[0, 0, 1, 1], **pool)  # 27, 13
        else:
            x, c = fire(x, c, step[0] // width_div, step[1] // width_div)
    x = b.node("Dropout", [x], ratio=0.5)
    x = b.relu(b.conv(x, c, 1000, 1))
    x = b.node("AveragePool", [x], kernel_shape=[13, 13])
    x = b.node("Softmax", [b.node("Flatten", [x])], axis=1)
    return make_model(b.nodes, {"data": ("N", 3, 224, 224)}, [x], b.inits, opset=9,
                      name="squeezenet1_1")


def const_subgraph_net(seed: int = 0, opset: int = 13) -> onnx.ModelProto:
    """Conv weights computed by constant subgraphs, and a Sum of three tensors.

    * conv1 weight: Constant (float64, flat) -> Cast(float) -> Reshape(Constant shape);
    * conv2 weight: Constant in HWIO layout -> Transpose(perm 3,2,0,1) to OIHW;
      conv2 bias: ConstantOfShape(Gather(Shape(conv1 output), 1)) (Shape of an activation);
    * conv3 weight: ConstantOfShape(Constant dims) + Constant, a 1x1 conv;
    * output: Sum(relu(conv1), conv2, conv3). Input (N, 3, 32, 32).
    """
    rng = np.random.default_rng(seed)
    b = _Builder(seed)

    def const(value: np.ndarray) -> str:
        return b.node("Constant", [], value=numpy_helper.from_array(value))

    w1 = b.node("Cast", [const(_he((8, 3, 3, 3), rng).astype(np.float64).reshape(-1))],
                to=TensorProto.FLOAT)
    w1 = b.node("Reshape", [w1, const(np.array([8, 3, 3, 3], np.int64))])
    r1 = b.relu(b.node("Conv", ["x", w1], pads=[1, 1, 1, 1]))
    w2 = b.node("Transpose", [const(_he((8, 8, 3, 3), rng).transpose(2, 3, 1, 0).copy())],
                perm=[3, 2, 0, 1])
    channels = b.node("Gather", [b.node("Shape", [r1]), const(np.array([1], np.int64))], axis=0)
    b2 = b.node("ConstantOfShape", [channels],
                value=numpy_helper.from_array(np.array([0.25], np.float32)))
    y2 = b.node("Conv", [r1, w2, b2], pads=[1, 1, 1, 1])
    w3 = b.node("ConstantOfShape", [const(np.array([8, 8, 1, 1], np.int64))],
                value=numpy_helper.from_array(np.array([0.05], np.float32)))
    w3 = b.node("Add", [w3, const(_he((8, 8, 1, 1), rng))])
    y3 = b.node("Conv", [r1, w3])
    out = b.node("Sum", [r1, y2, y3])
    return make_model(b.nodes, {"x": ("N", 3, 32, 32)}, [out], b.inits, opset=opset,
                      name="const_subgraph")


# --------------------------------------------------------------------------- torch exports


def torch_bn_net(kind: str, seed: int = 0) -> Any:
    """A small eval-mode PyTorch net with BatchNorm, random running statistics.

    ``kind``:
      * ``"conv_bn"``: Conv-BN-ReLU-MaxPool twice, ``x.view(x.size(0), -1)``, Linear,
        Softmax on (3, 16, 16); torch folds each BN into its conv at export.
      * ``"unfoldable_bn"``: BN2d directly on the (3, 16, 16) input, Conv-ReLU, Flatten,
        Linear, BN1d, ReLU, Dropout, Linear; torch cannot fold these BNs.
    """
    import torch
    from torch import nn

    torch.manual_seed(seed)
    if kind == "conv_bn":
        class ConvBn(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.features = nn.Sequential(
                    nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                    nn.MaxPool2d(2))
                self.fc = nn.Linear(16 * 4 * 4, 10)

            def forward(self, x: Any) -> Any:
                x = self.features(x)
                return torch.softmax(self.fc(x.view(x.size(0), -1)), dim=1)

        net = ConvBn()
    elif kind == "unfoldable_bn":
        net = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(),
                            nn.Flatten(), nn.Linear(8 * 7 * 7, 32), nn.BatchNorm1d(32), nn.ReLU(),
                            nn.Dropout(0.5), nn.Linear(32, 10))
    else:
        raise ValueError(f"unknown kind {kind!r}; expected 'conv_bn' or 'unfoldable_bn'")
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    return net.eval()


def export_torch(module: Any, input_shape: Sequence[int], opset: int = 9,
                 dynamic_batch: bool = True) -> onnx.ModelProto:
    """Export ``module`` with the TorchScript exporter (``dynamo=False``) at ``opset``.

    The graph input is ``x`` with shape ``input_shape`` (batch ``N`` dynamic when asked),
    the output ``y``.
    """
    import warnings

    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(tuple(input_shape)),), buffer,
                          opset_version=opset, dynamo=False, input_names=["x"],
                          output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}} if dynamic_batch else None)
    return onnx.load_from_string(buffer.getvalue())


def _w(*shape: int, seed: int = 0) -> np.ndarray:
    return rand(shape, seed, scale=0.5)


_CONV = {"x": ("N", 3, 9, 10), "w": _w(8, 3, 3, 3), "b": _w(8, seed=1)}

#: One-node models of every weight-layer variant the importer accepts, by case name.
WEIGHT_LAYER_MODELS: dict[str, Callable[[], onnx.ModelProto]] = {
    "conv": lambda: one_node("Conv", _CONV),
    "conv_stride_asym_pads": lambda: one_node("Conv", _CONV, strides=[2, 1], pads=[0, 1, 2, 1]),
    "conv_same_upper": lambda: one_node("Conv", _CONV, strides=[2, 2], auto_pad="SAME_UPPER"),
    "conv_same_lower": lambda: one_node("Conv", _CONV, strides=[2, 2], auto_pad="SAME_LOWER"),
    "conv_valid": lambda: one_node("Conv", _CONV, strides=[2, 3], auto_pad="VALID"),
    "conv_notset": lambda: one_node("Conv", _CONV, auto_pad="NOTSET", pads=[1, 1, 1, 1]),
    "conv_dilation": lambda: one_node("Conv", _CONV, dilations=[2, 3], pads=[2, 1, 0, 3]),
    "conv_groups": lambda: one_node("Conv", {"x": ("N", 4, 7, 8), "w": _w(6, 2, 3, 3)}, group=2,
                                    pads=[1, 1, 1, 1]),
    "conv_depthwise": lambda: one_node("Conv", {"x": ("N", 8, 6, 6), "w": _w(8, 1, 3, 3)},
                                       group=8, strides=[2, 2], pads=[1, 1, 1, 1]),
    "conv_1x1_no_bias": lambda: one_node("Conv", {"x": ("N", 5, 4, 4), "w": _w(7, 5, 1, 1)}),
    "conv_opset9": lambda: one_node("Conv", _CONV, opset=9, kernel_shape=[3, 3]),
    "gemm_transB": lambda: one_node("Gemm", {"x": ("N", 16), "w": _w(10, 16), "c": _w(10)},
                                    transB=1),
    "gemm_alpha_beta": lambda: one_node("Gemm", {"x": ("N", 16), "w": _w(16, 10),
                                                 "c": _w(1, 10)}, alpha=0.5, beta=2.0),
    "gemm_scalar_c": lambda: one_node("Gemm", {"x": ("N", 16), "w": _w(16, 10),
                                               "c": np.array(0.3, np.float32)}, beta=3.0),
    "gemm_no_c": lambda: one_node("Gemm", {"x": ("N", 16), "w": _w(10, 16)}, transB=1),
    "gemm_opset7": lambda: one_node("Gemm", {"x": (2, 16), "w": _w(10, 16), "c": _w(10)},
                                    opset=7, transB=1),
    "matmul": lambda: one_node("MatMul", {"x": ("N", 16), "w": _w(16, 5)}),
}
