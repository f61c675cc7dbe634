"""ONNX's own backend node tests, through the importer and the functional model.

The onnx package ships the generators of its backend node tests
(``onnx.backend.test.case.node``: a one-node model, its inputs and the expected
outputs computed by ONNX). Every case of an op reramsim converts runs here: its
float inputs are graph inputs (dim 0 is the batch), its integer inputs (axes, pads,
shapes...) become initializers, as exporters write them; secondary statistics outputs
(:data:`STATISTICS_OUTPUTS`) are dropped. The functional model runs
with full precision and an ideal ADC, and must give ONNX's expected outputs.

A case is skipped, with its reason, when it uses something documented as unsupported
in docs/onnx_import.md (an attribute value, an op acting across the batch axis, a
non-float activation); the reason is the importer's own one-line error, so a new
refusal shows up here as a skip with its message.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from onnx.backend.test.case import node as node_cases

from reramsim.config import load_config
from reramsim.functional import FunctionalModel, full_precision
from reramsim.onnx_import import OnnxImportError, load_onnx
from reramsim.ops import supported_ops

#: Refusals documented in docs/onnx_import.md ("Unsupported"): a case refused with one of
#: these phrases is skipped with that reason; any other import error fails the test.
DOCUMENTED_REFUSALS = (
    "batch axis", "across the batch", "along the batch", "moves the batch", "pad the batch",
    "is not supported", "only nearest and linear", "only float types", "more dims than",
    "varies along the batch", "is not a float tensor", "different ranks", "must be a constant",
    "is a constant", "only axis=1", "expected per-sample matrices", "expected a 2-D",
    "expected a 4-D", "is used, but only output 0", "only a single axis", "has no shape",
    "expected an (N, C", "no output", "may be dynamic", "not computed", "is empty",
    "the batch dim must stay first", "disagree on the batch size", "non-empty parts",
)

#: Ops whose secondary outputs are training statistics or masks (LayerNormalization's
#: Mean/InvStdDev, MaxPool's Indices...): the cases list them as graph outputs; here only
#: output 0 is kept and compared (reramsim refuses a model that reads the others).
STATISTICS_OUTPUTS = {"LayerNormalization", "BatchNormalization", "MaxPool", "Dropout"}

#: Ops whose float inputs after the first are activations (else weights / parameters).
MULTI_ACTIVATION = {"Add", "Sub", "Mul", "Div", "Pow", "Sum", "MatMul", "Concat"}


def _cases() -> list:
    supported = set(supported_ops())
    supported |= {"Constant", "Shape", "ConstantOfShape"}  # folded
    cases = [c for c in node_cases.collect_testcases(None)
             if c.model is not None and c.model.graph.node
             and all(n.op_type in supported for n in c.model.graph.node)]
    return sorted(cases, key=lambda c: c.name)


CASES = _cases()


def _as_graph(case) -> tuple[onnx.ModelProto, dict[str, np.ndarray], list[np.ndarray]]:
    """The case's model with its integer inputs as initializers; float feeds; expected outputs."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, outputs = case.data_sets[0]
    graph = model.graph
    feeds, kept = {}, []
    op = graph.node[-1].op_type
    first = None
    for i, (value, data) in enumerate(zip(list(graph.input), inputs)):
        if data is None:
            continue
        arr = np.asarray(data)
        if first is None and np.issubdtype(arr.dtype, np.floating):
            first = arr
        activation = i == 0 or (op in MULTI_ACTIVATION and first is not None
                                and arr.ndim == first.ndim
                                and arr.shape[0] == first.shape[0])
        if np.issubdtype(arr.dtype, np.floating) and arr.ndim >= 1 and activation:
            feeds[value.name] = arr
            kept.append(value)
        else:
            graph.initializer.append(numpy_helper.from_array(arr, value.name))
    del graph.input[:]
    graph.input.extend(kept)
    expected = [np.asarray(o) for o in outputs]
    if op in STATISTICS_OUTPUTS and len(graph.output) > 1:
        del graph.output[1:]  # a model would not read the statistics; compare output 0
        expected = expected[:1]
    return model, feeds, expected


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_backend_node_case(case):
    """The functional model (ideal ADC) reproduces ONNX's expected outputs of the node test."""
    try:
        model, feeds, expected = _as_graph(case)
    except NotImplementedError:
        pytest.skip("an input of an element type numpy cannot hold (float8, int4...)")
    if not feeds:
        pytest.skip("no float input: the whole node is a constant")
    if any(v.size == 0 for v in [*feeds.values(), *expected]):
        pytest.skip("an empty tensor")
    try:
        net = load_onnx(model, source=case.name)
    except OnnxImportError as e:
        reason = str(e)
        if any(p in reason for p in DOCUMENTED_REFUSALS):
            pytest.skip(reason.split(": ", 1)[-1])
        raise
    if len(net.outputs) != len(expected):
        pytest.skip("a secondary output is used")
    config = full_precision(load_config(None, []))
    fm = FunctionalModel(net, config, ideal_adc=True, calibration=None)
    got = fm.run({k: v.astype(np.float32) for k, v in feeds.items()})
    rtol = max(case.rtol, 1e-4)
    for name, want in zip(net.outputs, expected):
        np.testing.assert_allclose(got[name], want.astype(np.float64), rtol=rtol,
                                   atol=max(case.atol, 1e-5) * max(1.0, np.abs(want).max()),
                                   err_msg=name)


def test_node_cases_are_collected():
    """The generator yields cases for the CNN ops this importer claims (no silent empty run)."""
    ops = {c.model.graph.node[-1].op_type for c in CASES}
    assert {"Conv", "ConvTranspose", "Mul", "ReduceMean", "Resize", "Pad", "Slice", "Split",
            "LayerNormalization", "Gelu", "HardSwish", "MatMul"} <= ops
