"""The pruning workflow around the fine-tuning driver: the PyTorch model to start from,
its data, and the summary of a finished run.

A run (what ``reramsim prune`` does): :func:`load_torch_model` (a zoo name, a ``.pth``
state dict or an ``.onnx`` export of a zoo architecture) -> :func:`load_data` ->
:func:`reramsim.prune.finetune.prune_model` -> :func:`summarize` (exports the pruned ONNX,
maps it densely and with its scheme, measures float and ReRAM accuracy) ->
:func:`format_summary`. Needs torch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from reramsim import ReramsimError


def load_torch_model(spec: str, arch: str | None = None) -> tuple[str, Any, str]:
    """``(arch, model, source)``: the PyTorch zoo model a pruning run starts from.

    ``spec`` is a zoo name (its trained weights; trained on first use), a ``.pth`` state
    dict or an ``.onnx`` export of a zoo architecture; ``arch`` names the architecture
    of a file not named after it.

    Raises:
        ReramsimError: unknown name or architecture, unreadable file, or weights that
            do not fit the architecture.
    """
    import torch

    from reramsim import zoo

    path = Path(spec)
    if path.suffix not in (".pth", ".pt", ".onnx"):
        if spec not in zoo.NAMES:
            raise ReramsimError(f"MODEL {spec!r} is neither a zoo name ({', '.join(zoo.NAMES)}) "
                                "nor a .pth or .onnx file")
        from reramsim.training import artifact_path, load_trained

        if not artifact_path(spec, ".pth").is_file():
            print(f"no trained weights for {spec} yet: training it first")
        return spec, load_trained(spec), f"zoo:{spec}"
    if not path.is_file():
        raise ReramsimError(f"{path}: no such file")
    arch = arch or path.stem
    if arch not in zoo.NAMES:
        raise ReramsimError(f"{path}: cannot tell its architecture; pass --arch "
                            f"({', '.join(zoo.NAMES)})")
    model = zoo.build(arch)
    if path.suffix == ".onnx":
        return arch, load_onnx_weights(path, arch, model), str(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as err:
        raise ReramsimError(f"{path}: not a state dict of zoo model {arch!r} "
                            f"({str(err).splitlines()[0]})") from None
    return arch, model.eval(), str(path)


def load_onnx_weights(path: Path, arch: str, model: Any) -> Any:
    """``model`` (zoo architecture ``arch``) with BN folded away and the ONNX file's conv/fc
    weights and biases loaded, matched layer by layer in order and checked by shape.

    Raises:
        ReramsimError: the file's conv/fc layers do not match the architecture's.
    """
    import torch

    from reramsim import zoo
    from reramsim.onnx_import import load_onnx

    network = load_onnx(path)
    zoo.fold_batchnorm(model)
    modules = zoo.weight_layers(model)
    layers = network.weight_layers()
    if len(layers) != len(modules):
        raise ReramsimError(f"{path}: {len(layers)} conv/fc layers, zoo model {arch!r} has "
                            f"{len(modules)}; an .onnx MODEL must be a zoo architecture "
                            "(pass --arch) exported from PyTorch")
    for i, (layer, module) in enumerate(zip(layers, modules)):
        if tuple(layer.weight.shape) != tuple(module.weight.shape):
            raise ReramsimError(f"{path}: layer {i} ({layer.name}) has weights "
                                f"{tuple(layer.weight.shape)}, zoo model {arch!r} expects "
                                f"{tuple(module.weight.shape)}; pass the right --arch")
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(layer.weight))
            if module.bias is None and layer.bias is not None:
                module.bias = torch.nn.Parameter(torch.zeros(module.weight.shape[0]))
            if module.bias is not None:
                module.bias.copy_(torch.from_numpy(layer.bias) if layer.bias is not None
                                  else torch.zeros_like(module.bias))
    return model.eval()


def load_data(spec: str, arch: str, limit: int | None = None) -> dict[str, Any]:
    """Train and test splits of dataset ``spec`` shaped for ``arch``, as torch tensors
    (``train``, ``test``), plus numpy copies for the functional model (``numpy_train``,
    ``numpy_test``); ``limit`` keeps the first training images only.
    """
    import torch

    from reramsim.datasets import load_dataset
    from reramsim.zoo import INPUT_SHAPES

    out: dict[str, Any] = {}
    for split in ("train", "test"):
        x, y = load_dataset(spec, split, INPUT_SHAPES[arch], limit if split == "train" else None)
        out[split] = (torch.from_numpy(x), torch.from_numpy(y))
        out[f"numpy_{split}"] = (x, y)
    return out


def float_accuracy(model: Any, test: tuple[Any, Any]) -> float:
    """Top-1 accuracy of the PyTorch ``model`` on ``test = (images, labels)``."""
    from reramsim.training import evaluate

    return evaluate(model, *test)


# --------------------------------------------------------------------------- the summary


def summarize(result: Any, arch: str, out: Path, config: Any, data: dict[str, Any],
              dense_acc: float, data_spec: str, reram_limit: int) -> dict[str, Any]:
    """Export the pruned model to ``out`` and collect the numbers :func:`format_summary` prints.

    ``data`` is what :func:`load_data` returned for dataset ``data_spec``; the ReRAM
    accuracy is measured on its first ``reram_limit`` test images (0 skips it).
    """
    from reramsim.mapping import map_network
    from reramsim.prune.export import export_pruned
    from reramsim.prune.metadata import scheme_from_metadata
    from reramsim.zoo import INPUT_SHAPES

    pruned_acc = float_accuracy(result.model, data["test"])
    path, network = export_pruned(result, out, INPUT_SHAPES[arch],
                                  extra={"model": arch, "data": data_spec,
                                         "float_accuracy_dense": dense_acc,
                                         "float_accuracy_pruned": pruned_acc})
    scheme, options = scheme_from_metadata(network)
    dense_map = map_network(network, config, "dense")
    pruned_map = map_network(network, config, scheme, options)
    layers = []
    for layer in network.weight_layers():
        lm = pruned_map.layers[layer.name]
        layers.append({"layer": layer.name, "rows": layer.rows, "cols": layer.cols,
                       "weights": layer.n_weights,
                       "kept": int((layer.weight != 0).sum()),
                       "crossbars_dense": dense_map.layers[layer.name].n_crossbars,
                       "crossbars_pruned": lm.n_crossbars,
                       "index_kib": lm.index_storage_bits / 8192,
                       "shapes_per_block": lm.info.get("shapes", 0)
                       / max(lm.info.get("row_blocks", 1), 1)})
    reram = reram_accuracy(network, config, pruned_map, data["numpy_test"],
                           data["numpy_train"][0][:64], reram_limit)
    return {
        "model": arch, "scheme": result.pruner.scheme, "params": result.pruner.params,
        "reconstruction": result.pruner.reconstruction, "config": config.name,
        "output": str(path), "target_ratio": result.target_ratio,
        "pruning_ratio": network.n_weights / max(network.n_nonzero_weights, 1),
        "dense_weights": network.n_weights, "kept_weights": network.n_nonzero_weights,
        "crossbars_dense": dense_map.n_crossbars, "crossbars_pruned": pruned_map.n_crossbars,
        "float_accuracy_dense": dense_acc, "float_accuracy_pruned": pruned_acc,
        "reram_accuracy_pruned": reram, "layers": layers,
    }


def reram_accuracy(network: Any, config: Any, mapping: Any, test: tuple[Any, Any],
                   calibration: Any, limit: int) -> float | str:
    """Top-1 accuracy through the functional model on ``limit`` test images, or why not.

    Input scales are calibrated on ``calibration`` (training images), not on the test set.
    """
    if limit <= 0:
        return "skipped"
    try:
        from reramsim.functional import FunctionalModel
    except ImportError:
        return "n/a (functional model not available)"
    x, y = test
    model = FunctionalModel(network, config, mapping=mapping, calibration=calibration)
    return float(model.accuracy(x[:limit], y[:limit]))


def format_summary(s: dict[str, Any]) -> str:
    """The summary as printed by ``reramsim prune``."""
    note = f" [reconstruction, see docs/{s['scheme']}.md]" if s["reconstruction"] else ""
    reram = s["reram_accuracy_pruned"]
    reram_text = f"{reram:.2%}" if isinstance(reram, float) else str(reram)
    lines = [
        f"{s['model']} pruned with {s['scheme']}{note} on {s['config']} -> {s['output']}",
        f"{'layer':<16} {'R x C':>11} {'kept':>9} {'ratio':>7} {'shapes/blk':>10} "
        f"{'xbars dense':>11} {'xbars pruned':>12} {'index KiB':>9}",
    ]
    for row in s["layers"]:
        lines.append(f"{row['layer'][-16:]:<16} {row['rows']:>5}x{row['cols']:<5} "
                     f"{row['kept']:>9,} {row['weights'] / max(row['kept'], 1):>6.1f}x "
                     f"{row['shapes_per_block']:>10.2f} {row['crossbars_dense']:>11} "
                     f"{row['crossbars_pruned']:>12} {row['index_kib']:>9.2f}")
    lines += [
        f"pruning ratio      {s['pruning_ratio']:.2f}x  ({s['dense_weights']:,} -> "
        f"{s['kept_weights']:,} weights; target {s['target_ratio']:g}x)",
        f"crossbars          {s['crossbars_dense']} dense -> {s['crossbars_pruned']} pruned "
        f"({s['crossbars_dense'] / max(s['crossbars_pruned'], 1):.2f}x fewer)",
        f"float accuracy     {s['float_accuracy_dense']:.2%} dense -> "
        f"{s['float_accuracy_pruned']:.2%} pruned",
        f"ReRAM accuracy     {reram_text} pruned (functional model)",
    ]
    return "\n".join(lines)


__all__ = ["float_accuracy", "format_summary", "load_data", "load_onnx_weights",
           "load_torch_model", "reram_accuracy", "summarize"]
