"""Helpers shared by the pruning tests: random SegPrune layouts and pruned zoo models."""
from __future__ import annotations

import numpy as np

from reramsim.ir import WeightLayer
from reramsim.mapping.segprune import SegmentLayout, block_bounds


def random_layout(rows: int, cols: int, height: int, rng: np.random.Generator,
                  max_shapes: int = 8, p_empty: float = 0.3) -> SegmentLayout:
    """A random layout: per row-block up to ``max_shapes`` random non-empty shapes, random ids."""
    shapes, assign = [], np.zeros((len(block_bounds(rows, height)), cols), np.int32)
    for b, (start, stop) in enumerate(block_bounds(rows, height)):
        n = int(rng.integers(1, max_shapes + 1))
        table = rng.random((n, stop - start)) < rng.uniform(0.2, 0.8)
        table[np.arange(n), rng.integers(0, stop - start, n)] = True  # never empty
        _, first = np.unique(table, axis=0, return_index=True)
        table = table[np.sort(first)]
        ids = rng.integers(1, len(table) + 1, cols)
        ids[rng.random(cols) < p_empty] = 0
        used = np.unique(ids[ids > 0])
        remap = np.zeros(len(table) + 1, np.int32)
        remap[used] = np.arange(1, len(used) + 1)
        shapes.append(table[used - 1])
        assign[b] = remap[ids]
    return SegmentLayout(height, shapes, assign)


def reconstruct(mapping, layer: WeightLayer) -> np.ndarray:
    """Rebuild every group's matrix from the mapping arrays alone (slice 0, positive arrays)."""
    out = np.zeros((layer.groups, layer.rows, layer.cols))
    mats = np.stack(list(layer.matrices()))
    for k in range(mapping.n_ous):
        xbar = mapping.ou_xbar[k]
        if mapping.xbar_polarity[xbar] < 0:
            continue
        rows = mapping.ou_rows[mapping.ou_row_ptr[k]:mapping.ou_row_ptr[k + 1]]
        sl = slice(mapping.ou_col_ptr[k], mapping.ou_col_ptr[k + 1])
        cols = mapping.ou_cols[sl][mapping.ou_slices[sl] == 0]
        g = mapping.xbar_group[xbar]
        out[g][np.ix_(rows, cols)] += mats[g][np.ix_(rows, cols)]
    return out


def randomize_bn(model, rng: np.random.Generator, flip_signs: bool = False) -> None:
    """Give every BatchNorm non-trivial statistics so that folding really scales filters;
    ``flip_signs``: negative gammas too, so folding flips some filters' signs."""
    import torch

    for mod in model.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = mod.num_features
            mod.running_mean.copy_(torch.from_numpy(rng.normal(0, 0.1, n)))
            mod.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, n)))
            gamma = rng.uniform(0.5, 1.5, n)
            if flip_signs:
                gamma *= rng.choice([-1, 1], n)
            mod.weight.data.copy_(torch.from_numpy(gamma))
            mod.bias.data.copy_(torch.from_numpy(rng.normal(0, 0.1, n)))


def functional_vs_ort(path, network, mapping, config, input_shape) -> float:
    """Relative max error of the functional model (ideal ADC) against onnxruntime on 2 inputs."""
    import onnxruntime as ort

    from reramsim.functional import FunctionalModel

    x = np.random.default_rng(1).random((2, *input_shape)).astype(np.float32)
    got = FunctionalModel(network, config, mapping=mapping, ideal_adc=True).forward(x)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input": x})[0]
    return float(np.abs(got - want).max() / np.abs(want).max())
