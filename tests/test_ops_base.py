"""reramsim.ops.base: the op descriptor, the registries' checks, and a new op added in one place."""
from __future__ import annotations

import numpy as np
import pytest
from onnx_builders import one_node

from reramsim.config import load_config
from reramsim.energy import digital_unit_of
from reramsim.functional import FunctionalModel
from reramsim.ir import WEIGHT_KINDS
from reramsim.onnx_import import OnnxImportError, load_onnx
from reramsim.ops import ONNX_OPS, OPS, check_registry, define_op, register_op, run_float
from reramsim.ops.base import READINESS, SAME_PIXEL, UNITS, pointwise_work, unary
from reramsim.simulator import simulate

TOY_ONNX = "ReramsimToyScale"  # a custom op type no ONNX opset defines


@pytest.fixture
def toy_op():
    """The op ``toy_scale`` (y = alpha * x, ONNX ``ReramsimToyScale``), defined only here."""

    @define_op("toy_scale", attrs=("alpha",), unit="eltwise", ready=SAME_PIXEL,
               work=pointwise_work)
    def _toy_scale(layer, xs):
        return xs[0] * xs[0].dtype.type(layer.attrs["alpha"])

    register_op(TOY_ONNX, emits=("toy_scale",))(unary("toy_scale", alpha=1.0))
    try:
        yield
    finally:
        OPS.unregister("toy_scale")
        ONNX_OPS.unregister(TOY_ONNX)


def test_a_new_op_needs_only_its_descriptor(toy_op):
    """A toy op registered in one place imports, runs in float and on the hardware model, times."""
    check_registry()
    x = np.random.default_rng(3).standard_normal((2, 4, 5, 6)).astype(np.float32)
    net = load_onnx(one_node(TOY_ONNX, {"x": ("N", 4, 5, 6)}, alpha=2.5), source="toy.onnx")
    (layer,) = net.layers
    assert (layer.op, layer.attrs, layer.out_shape) == ("toy_scale", {"alpha": 2.5}, (4, 5, 6))
    np.testing.assert_allclose(run_float(net, x)["y"], 2.5 * x, rtol=1e-6)
    model = FunctionalModel(net, load_config("isaac"), ideal_adc=True, calibration=x)
    np.testing.assert_allclose(model.forward(x), 2.5 * x, rtol=1e-6)
    cfg = load_config("isaac")
    cycle = simulate(net, cfg, engine="cycle").result
    closed = simulate(net, cfg, engine="analytical").result
    assert cycle.total_cycles == closed.total_cycles > 0
    # pointwise work on the eltwise unit: one op per output element, 4 channels x 30 pixels
    assert cycle.layers[0].counts["eltwise_op"] == closed.layers[0].counts["eltwise_op"] == 120
    assert digital_unit_of("toy_scale") == "eltwise"


def test_toy_op_is_gone_after_the_test():
    """The fixture's clean-up unregisters the toy op: the importer refuses it again."""
    assert "toy_scale" not in OPS and TOY_ONNX not in ONNX_OPS
    with pytest.raises(OnnxImportError, match=rf"unsupported op '{TOY_ONNX}'; supported: Add"):
        load_onnx(one_node(TOY_ONNX, {"x": ("N", 4)}), source="toy.onnx")


def test_every_descriptor_is_complete():
    """Every registered digital op has a unit, a readiness rule, a work formula and a kernel."""
    for name in OPS.names():
        op = OPS.get(name)
        assert op.name == name and name not in WEIGHT_KINDS
        assert op.unit in UNITS and (callable(op.ready) or op.ready in READINESS)
        assert callable(op.work) and callable(op.kernel)


@pytest.mark.parametrize("kwargs, message", [
    ({"unit": "crossbar", "ready": SAME_PIXEL}, "unit 'crossbar' is not one of"),
    ({"unit": "other", "ready": "soon"}, "readiness 'soon' is not one of"),
    ({"unit": "other", "ready": SAME_PIXEL, "work": None}, "must be functions"),
    ({"unit": "other", "ready": SAME_PIXEL, "attrs": ["a"]}, "attrs must be a tuple"),
])
def test_incomplete_descriptor_is_refused(kwargs, message):
    """A descriptor with a missing or unknown piece is an error where it is defined."""
    kwargs = {"work": pointwise_work, **kwargs}
    with pytest.raises(ValueError, match=rf"digital op 'bad': .*{message}"):
        define_op("bad", **kwargs)(lambda layer, xs: xs[0])
    assert "bad" not in OPS


def test_registry_check_refuses_orphans_and_unknown_emits():
    """An op no converter emits, and a converter emitting an undefined op, fail the check."""
    define_op("orphan", unit="other", ready=SAME_PIXEL, work=pointwise_work)(lambda la, xs: xs[0])
    try:
        with pytest.raises(ValueError, match=r"\['orphan'\] have no ONNX converter"):
            check_registry()
    finally:
        OPS.unregister("orphan")
    register_op("ReramsimGhost", emits=("ghost",))(lambda imp, node: None)
    try:
        with pytest.raises(ValueError, match=r"ReramsimGhost .*undefined IR op\(s\) \['ghost'\]"):
            check_registry()
    finally:
        ONNX_OPS.unregister("ReramsimGhost")
    check_registry()


def test_converter_lookup_by_opset():
    """The converter with the largest since not above the opset serves; older opsets are named."""
    assert ONNX_OPS.get("Softmax", 12).since == 1 and ONNX_OPS.get("Softmax", 13).since == 13
    register_op("ReramsimLate", since=9)(lambda imp, node: None)
    try:
        with pytest.raises(OnnxImportError, match=r"op 'ReramsimLate' is supported from opset 9"):
            load_onnx(one_node("ReramsimLate", {"x": ("N", 4)}, opset=8), source="m.onnx")
    finally:
        ONNX_OPS.unregister("ReramsimLate")
