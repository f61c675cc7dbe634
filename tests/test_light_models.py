"""The real-world graphs shipped with the onnx package (``backend/test/data/light``) import.

Each ``light_*.onnx`` imports and simulates on ``isaac`` (those larger than one chip on
several chips); light_densenet121 and light_inception_v2 (BN written as Mul + Add between
activations and constants, refused before reramsim had those ops) also run in float and equal
onnxruntime on a random image.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from reramsim.config import load_config
from reramsim.mapping import MappingError
from reramsim.onnx_import import load_onnx
from reramsim.ops import run_float
from reramsim.report import build_report
from reramsim.simulator import simulate

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
FILES = sorted(p.stem for p in LIGHT.glob("light_*.onnx"))


@pytest.mark.parametrize("name", FILES)
def test_light_file_imports(name):
    """The file imports into a network with weight layers and 1000 output values."""
    net = load_onnx(LIGHT / f"{name}.onnx")
    assert net.weight_layers() and net.producer()[net.outputs[0]].out_elements == 1000


@pytest.mark.parametrize("name", ["light_densenet121", "light_inception_v2"])
def test_light_file_float_equals_onnxruntime(name):
    """run_float equals onnxruntime on one random image."""
    path = LIGHT / f"{name}.onnx"
    net = load_onnx(path)
    x = np.random.default_rng(0).random((1, *next(iter(net.inputs.values())))).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = session.run(None, {session.get_inputs()[0].name: x})[0]
    got = run_float(net, x)[net.outputs[0]]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("name", FILES)
def test_light_file_simulates_on_isaac(name):
    """The closed form runs every file on isaac with chips: auto: at least the chips its
    crossbars need (16,128 per chip), a finite positive latency and energy, and chip-link
    traffic exactly when the model spans several chips."""
    sim = simulate(load_onnx(LIGHT / f"{name}.onnx"), load_config("isaac"), engine="analytical")
    report = build_report(sim)
    acc, totals = report["accelerator"], report["totals"]
    assert acc["chips"] == acc["chips_occupied"] >= -(-acc["crossbars_occupied"] // 16128)
    assert acc["tiles"] == 168 * acc["chips"]
    assert 0 < totals["latency_ns"] < float("inf") and 0 < totals["energy_pj"] < float("inf")
    chip_bits = sim.result.totals()["chip_link_bit"]
    assert (chip_bits > 0) == (acc["chips"] > 1)


def test_light_vgg19_needs_five_chips():
    """light_vgg19 (70,168 crossbars) takes 5 ISAAC chips; a node of 4 is refused in one line."""
    net = load_onnx(LIGHT / "light_vgg19.onnx")
    with pytest.raises(MappingError, match=r"needs 5 chips of 168 tiles .* set "
                                           r"organization.chips: auto"):
        simulate(net, load_config("isaac", ["organization.chips=4"]), engine="analytical")
