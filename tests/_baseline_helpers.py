"""Helpers shared by the baseline tests (PIM-Prune, Pattern-Prune, Hybrid-P): zoo models
pruned by one projection (no training), exported and checked against onnxruntime."""
from __future__ import annotations

import numpy as np

from reramsim.config import load_config
from reramsim.ir import WeightLayer

CFG = load_config("ou_16x16")


def fc_layer(weight: np.ndarray, name: str = "fc") -> WeightLayer:
    """An fc WeightLayer with ``weight`` ``(Cout, Cin)``."""
    return WeightLayer(name=name, op="fc", inputs=("x",), output=name + "_out",
                       in_shapes=((weight.shape[1],),), out_shape=(weight.shape[0],),
                       weight=weight.astype(np.float32))


def conv3x3(weight: np.ndarray, name: str = "conv") -> WeightLayer:
    """A 3x3 conv WeightLayer (padding 1, 8x8 input) with ``weight`` ``(Cout, Cin, 3, 3)``."""
    cout, cin = weight.shape[:2]
    return WeightLayer(name=name, op="conv", inputs=("x",), output=name + "_out",
                       in_shapes=((cin, 8, 8),), out_shape=(cout, 8, 8),
                       weight=weight.astype(np.float32), kernel=(3, 3), pads=(1, 1, 1, 1))


def projected(name: str, scheme: str, ratio: float = 4.0, seed: int = 0, **params):
    """Zoo model ``name`` (random init, random BatchNorm statistics) pruned to ``ratio`` by one
    projection of ``scheme``: a PruneResult ready to export."""
    import torch
    from _segprune_helpers import randomize_bn

    from reramsim import zoo
    from reramsim.prune import get_pruner
    from reramsim.prune.finetune import PruneResult, apply_masks, mask_tensor, project_all

    torch.manual_seed(seed)
    model = zoo.build(name).eval()
    randomize_bn(model, np.random.default_rng(seed))
    pruner = get_pruner(scheme, CFG, **params)
    projections = project_all(model, pruner, ratio, "uniform")  # LAMP sorts every weight
    modules = dict(model.named_modules())
    apply_masks(model, {n: mask_tensor(p, modules[n]) for n, p in projections.items()})
    return PruneResult(model, pruner, ratio, list(projections), projections)


def check_lossless(name: str, scheme: str, tmp_path, full: bool = True, ratio: float = 4.0
                   ) -> dict:
    """Export ``name`` pruned by ``scheme``; map it from the metadata and from the zeros alone.

    Asserts: the metadata names the scheme and describes every layer; every layer's mapping
    is valid (each kept weight stored exactly once); the functional model with an ideal ADC
    equals onnxruntime (relative error < 1e-5); the zeros alone give the same crossbars and
    index data. ``full=False`` (for VGG16's size) skips validation and the zeros; VGG16 is
    pruned at a higher ``ratio`` to keep the functional model quick.
    Returns facts for further checks.
    """
    from _segprune_helpers import functional_vs_ort

    from reramsim.functional import full_precision
    from reramsim.mapping import map_network
    from reramsim.prune.export import export_pruned
    from reramsim.prune.metadata import read_metadata, scheme_from_metadata
    from reramsim.zoo import INPUT_SHAPES

    result = projected(name, scheme, ratio)
    path, network = export_pruned(result, tmp_path / f"{name}_{scheme}.onnx", INPUT_SHAPES[name])
    facts = {"result": result, "network": network, "metadata": read_metadata(network)}
    got_scheme, options = scheme_from_metadata(network)
    assert got_scheme == scheme and len(options) == len(network.weight_layers())
    config = full_precision(CFG)
    mapping = map_network(network, config, scheme, options)
    assert all(m.info["source"] == "metadata" for m in mapping.layers.values())
    assert functional_vs_ort(path, network, mapping, config, INPUT_SHAPES[name]) < 1e-5
    facts["mapping"] = mapping
    if not full:
        return facts
    on_cfg = map_network(network, CFG, scheme, options)  # block widths as the pruner's config
    network.metadata = {}
    zeros = map_network(network, CFG, scheme)
    for layer in network.weight_layers():
        a, b = on_cfg.layers[layer.name], zeros.layers[layer.name]
        a.validate(layer, CFG)
        assert b.info["source"] == "zeros"
        assert (a.n_crossbars, a.index_storage_bits) == (b.n_crossbars, b.index_storage_bits)
    return facts
