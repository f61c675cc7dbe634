"""The real-world graphs shipped with the onnx package (``backend/test/data/light``) import.

Each ``light_*.onnx`` imports; light_densenet121 and light_inception_v2 (BN written as
Mul + Add between activations and constants, refused before reramsim had those ops) also run
in float and equal onnxruntime on a random image.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from reramsim.onnx_import import load_onnx
from reramsim.ops import run_float

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
