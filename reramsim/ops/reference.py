"""The float reference: :func:`run_float` executes a whole network layer by layer.

Every kernel works on batched arrays: a tensor whose IR (per-sample) shape is
``(C, H, W)`` is an ``(N, C, H, W)`` array here. Results are float32 (the
dtype of the inputs) and agree with onnxruntime to float32 rounding. Weight
layers go through :func:`reramsim.ops.weights.weight_layer_float`, digital ops
through their descriptor's kernel (:func:`reramsim.ops.base.digital_op`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from reramsim import ReramsimError
from reramsim.ir import Network, WeightLayer
from reramsim.ops.base import digital_op
from reramsim.ops.weights import weight_layer_float


def _check_inputs(network: Network, inputs: Mapping[str, np.ndarray] | np.ndarray,
                  dtype: np.dtype) -> dict[str, np.ndarray]:
    if isinstance(inputs, np.ndarray):
        if len(network.inputs) != 1:
            raise ReramsimError(f"{network.name}: has inputs {list(network.inputs)}; "
                                "pass a dict name -> array")
        inputs = {next(iter(network.inputs)): inputs}
    unknown = set(inputs) - set(network.inputs)
    missing = set(network.inputs) - set(inputs)
    if unknown or missing:
        raise ReramsimError(f"{network.name}: inputs must be exactly {sorted(network.inputs)}; "
                            f"missing {sorted(missing)}, unknown {sorted(unknown)}")
    feeds: dict[str, np.ndarray] = {}
    batch = None
    for name, shape in network.inputs.items():
        arr = np.asarray(inputs[name])
        if arr.shape[1:] != tuple(shape) or arr.ndim != len(shape) + 1:
            raise ReramsimError(f"{network.name}: input {name!r} must be (N, *{tuple(shape)}), "
                                f"got {arr.shape}")
        if batch is not None and arr.shape[0] != batch:
            raise ReramsimError(f"{network.name}: inputs have different batch sizes")
        batch = arr.shape[0]
        feeds[name] = np.ascontiguousarray(arr, dtype=dtype)
    return feeds


def run_float(network: Network, inputs: Mapping[str, np.ndarray] | np.ndarray, *,
              keep_all: bool = False, dtype: Any = np.float32) -> dict[str, np.ndarray]:
    """Execute the network in float, layer by layer in its topological order.

    Args:
        network: the IR network.
        inputs: graph input name -> ``(N, *per_sample_shape)`` array, or one array when the
            network has a single input.
        keep_all: also return every intermediate tensor (and the inputs), not just outputs.
        dtype: compute dtype (float32 by default, float64 for a tighter reference).

    Returns:
        tensor name -> ``(N, *shape)`` array: the graph outputs in order, or every tensor.

    Raises:
        ReramsimError: inputs missing, unknown, or of the wrong shape.
    """
    values = _check_inputs(network, inputs, np.dtype(dtype))
    last_use: dict[str, int] = {}
    for i, layer in enumerate(network.layers):
        for name in layer.inputs:
            last_use[name] = i
    keep = set(network.outputs)
    for i, layer in enumerate(network.layers):
        xs = [values[name] for name in layer.inputs]
        if isinstance(layer, WeightLayer):
            values[layer.output] = weight_layer_float(xs[0], layer)
        else:
            values[layer.output] = digital_op(layer, xs)
        if not keep_all:
            for name in set(layer.inputs):
                if last_use[name] == i and name not in keep:
                    del values[name]
    if keep_all:
        return values
    return {name: values[name] for name in network.outputs}
