"""Bring your own model: common CNN families, exported by both PyTorch exporters.

Small ResNet-18-, MobileNetV2-, EfficientNet-, DenseNet- and Inception-like nets are
exported with ``torch.onnx.export`` (``dynamo=True``, the default, and ``dynamo=False``),
imported, simulated (analytical and cycle engines) and run on the functional model with full
precision and an ideal ADC, which must equal onnxruntime on the same file. Each net is
exported once per (exporter, opset) per session.

The dynamo exporter builds its graph at opset 18 and converts it to a requested older
opset with onnx's version converter (asked for 17 it may keep 18). A case whose export
fails inside torch is skipped with torch's message.
"""
from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")
import onnxruntime as ort  # noqa: E402
from torch import nn  # noqa: E402

from reramsim.config import load_config  # noqa: E402
from reramsim.functional import FunctionalModel, full_precision  # noqa: E402
from reramsim.onnx_import import load_onnx  # noqa: E402
from reramsim.simulator import simulate  # noqa: E402

NEWEST = 23  # the newest opset torch 2.13's exporters write
OPSETS = (13, 17, 18, NEWEST)


def conv_bn(cin: int, cout: int, k: int = 3, s: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout))


class ResNetLike(nn.Module):
    """Two basic blocks (one with a strided 1x1 projection), ReLU, AdaptiveAvgPool, fc."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn(3, 8)
        self.a1, self.a2 = conv_bn(8, 8), conv_bn(8, 8)
        self.b1, self.b2, self.proj = conv_bn(8, 16, s=2), conv_bn(16, 16), conv_bn(8, 16, 1, 2)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = torch.relu(x + self.a2(torch.relu(self.a1(x))))
        x = torch.relu(self.proj(x) + self.b2(torch.relu(self.b1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


class InvertedResidual(nn.Module):
    def __init__(self, c: int, expand: int, act: type[nn.Module], se: bool = False) -> None:
        super().__init__()
        h = c * expand
        self.expand, self.dw, self.project = conv_bn(c, h, 1), conv_bn(h, h, groups=h), conv_bn(
            h, c, 1)
        self.act = act()
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(h, 4, 1), nn.SiLU(),
                                nn.Conv2d(4, h, 1), nn.Sigmoid()) if se else None

    def forward(self, x):
        y = self.act(self.dw(self.act(self.expand(x))))
        if self.se is not None:
            y = y * self.se(y)
        return x + self.project(y)


class MobileNetV2Like(nn.Module):
    """Depthwise inverted residuals with ReLU6, a mean over H and W, fc."""

    def __init__(self, act: type[nn.Module] = nn.ReLU6, se: bool = False) -> None:
        super().__init__()
        self.stem, self.act = conv_bn(3, 8, s=2), act()
        self.blocks = nn.Sequential(InvertedResidual(8, 3, act, se),
                                    InvertedResidual(8, 2, act, se))
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.blocks(self.act(self.stem(x)))
        return self.fc(x.mean((2, 3)))


class EfficientNetLike(MobileNetV2Like):
    """SiLU activations and squeeze-excite (a sigmoid gate multiplied into the features)."""

    def __init__(self) -> None:
        super().__init__(act=nn.SiLU, se=True)


class DenseNetLike(nn.Module):
    """Dense blocks (BN-ReLU-Conv, features concatenated), a transition with avgpool."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layers = nn.ModuleList(
            nn.Sequential(nn.BatchNorm2d(8 + 4 * i), nn.ReLU(), nn.Conv2d(8 + 4 * i, 4, 3,
                                                                         padding=1))
            for i in range(3))
        self.trans = nn.Sequential(nn.BatchNorm2d(20), nn.ReLU(), nn.Conv2d(20, 8, 1),
                                   nn.AvgPool2d(2))
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.stem(x)
        for layer in self.layers:
            x = torch.cat([x, layer(x)], 1)
        x = self.trans(x)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class InceptionLike(nn.Module):
    """Parallel 1x1 / 3x3 / 5x5 / pool branches concatenated, upsampled skip, softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn(3, 8)
        self.b1, self.b3 = conv_bn(8, 4, 1), nn.Sequential(conv_bn(8, 4, 1), conv_bn(4, 6))
        self.b5 = nn.Sequential(conv_bn(8, 2, 1), conv_bn(2, 4, 5))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn(8, 2, 1))
        self.down = nn.MaxPool2d(2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        y = torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)
        y = torch.relu(y) + nn.functional.interpolate(self.down(y), scale_factor=2.0,
                                                      mode="nearest")
        return torch.softmax(self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1)),
                             1)


NETS = {"resnet18": ResNetLike, "mobilenetv2": MobileNetV2Like, "efficientnet": EfficientNetLike,
        "densenet": DenseNetLike, "inception": InceptionLike}
SHAPE = (1, 3, 16, 16)


def _export(name: str, dynamo: bool, opset: int) -> onnx.ModelProto | str:
    torch.manual_seed(0)
    module = NETS[name]().eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (torch.randn(*SHAPE),), buf, dynamo=dynamo,
                              opset_version=opset, input_names=["x"], output_names=["y"],
                              **({"verbose": False} if dynamo else {}))
    except Exception as e:  # the exporter itself failed: nothing of ours to test
        return f"torch.onnx.export(dynamo={dynamo}, opset {opset}) failed: " + (
            str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    return onnx.load_from_string(buf.getvalue())


@pytest.fixture(scope="session")
def exported():
    """(net, dynamo, opset) -> the exported model, or the exporter's error (export once)."""
    cache: dict[tuple[str, bool, int], onnx.ModelProto | str] = {}

    def get(name: str, dynamo: bool, opset: int) -> onnx.ModelProto | str:
        key = (name, dynamo, opset)
        if key not in cache:
            cache[key] = _export(*key)
        return cache[key]
    return get


CASES = [(n, d, o) for n in NETS for d in (False, True) for o in OPSETS]


@pytest.mark.parametrize("name,dynamo,opset", CASES,
                         ids=[f"{n}-{'dynamo' if d else 'torchscript'}-{o}" for n, d, o in CASES])
def test_net_imports_simulates_and_runs(exported, name, dynamo, opset, tmp_path):
    """The exported net imports, simulates, and the functional model (ideal ADC) equals ORT."""
    model = exported(name, dynamo, opset)
    if isinstance(model, str):
        pytest.skip(model)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    net = load_onnx(path)
    assert net.batch == 1 and net.n_weights > 0
    config = full_precision(load_config(None, []))
    for engine in ("analytical", "cycle"):
        assert simulate(net, config, engine=engine).result.total_cycles > 0
    x = np.random.default_rng(0).standard_normal((2, *SHAPE[1:])).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = np.concatenate([session.run(None, {session.get_inputs()[0].name: x[i:i + 1]})[0]
                           for i in range(len(x))])
    fm = FunctionalModel(net, config, ideal_adc=True, calibration=x)
    got = fm.forward(x)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * max(1.0, np.abs(want).max()))


def test_dynamo_and_torchscript_give_the_same_timing(exported):
    """AdaptiveAvgPool2d exported as ReduceMean (dynamo) or GlobalAveragePool: same cycles."""
    config = load_config(None, [])
    cycles = [simulate(load_onnx(exported("resnet18", d, 18)), config,
                       engine="analytical").result.total_cycles for d in (False, True)]
    assert cycles[0] == cycles[1]


# --------------------------------------------------------------------------- the zoo


def _export_zoo(name: str, dynamo: bool, opset: int) -> onnx.ModelProto | str:
    from reramsim import zoo

    torch.manual_seed(0)
    module = zoo.build(name).eval()
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (torch.zeros(1, *zoo.INPUT_SHAPES[name]),), buf,
                              dynamo=dynamo, opset_version=opset, input_names=["x"],
                              output_names=["y"])
    except Exception as e:
        return f"torch.onnx.export(dynamo={dynamo}, opset {opset}) failed: " + (
            str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    return onnx.load_from_string(buf.getvalue())


ZOO = ("lenet", "alexnet", "vgg16", "plain20", "resnet20")
ZOO_CASES = [(n, d, o) for n in ZOO for d in (False, True) for o in OPSETS]


@pytest.mark.parametrize("name,dynamo,opset", ZOO_CASES,
                         ids=[f"{n}-{'dynamo' if d else 'torchscript'}-{o}"
                              for n, d, o in ZOO_CASES])
def test_zoo_model_imports_from_both_exporters(name, dynamo, opset):
    """Every zoo model, exported either way, imports and its float reference equals ORT."""
    from reramsim import zoo
    from reramsim.ops import run_float

    model = _export_zoo(name, dynamo, opset)
    if isinstance(model, str):
        pytest.skip(model)
    net = load_onnx(model, source=f"{name}.onnx")
    assert len(net.weight_layers()) == len(zoo.weight_layers(zoo.build(name)))
    x = np.random.default_rng(1).random((1, *zoo.INPUT_SHAPES[name])).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = session.run(None, {session.get_inputs()[0].name: x})[0]
    got = run_float(net, x)[net.outputs[0]]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))
