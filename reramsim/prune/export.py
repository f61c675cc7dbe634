"""Export a pruned model to ONNX: exact zeros in the weights plus the pruning metadata.

The model is written by :func:`reramsim.training.export_onnx` (BatchNorm folded into the
conv/fc weights), read back with the simulator's own importer, and each IR weight
layer is matched to the pruned PyTorch layer it came from (in order, checked by
matrix shape and zero pattern; by shape and zeros when the order differs). The
check that matters: every weight the mask pruned is exactly 0 in the file, i.e. the
zeros survived BN folding (folding scales whole filters, so they do). Then the
JSON entry described in :mod:`reramsim.prune.metadata` is added under
``metadata_props["reramsim.pruning"]``, keyed by the IR layer names.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from reramsim.ir import Network, WeightLayer
from reramsim.onnx_import import load_onnx
from reramsim.prune.base import Projection, PruningError
from reramsim.prune.finetune import PruneResult, apply_masks, mask_tensor, prunable_layers
from reramsim.prune.metadata import FORMAT_VERSION, METADATA_KEY

NOTE = ("reconstruction: the sources do not publish the whole algorithm, mapping and data "
        "path; see docs/{scheme}.md")


def export_pruned(result: PruneResult, path: str | os.PathLike[str],
                  input_shape: tuple[int, int, int], *, extra: dict[str, Any] | None = None,
                  opset: int = 13) -> tuple[Path, Network]:
    """Write the pruned model to ``path`` with its metadata; return ``(path, network)``.

    Args:
        result: what :func:`reramsim.prune.finetune.prune_model` returned.
        path: the ``.onnx`` file to write (atomically).
        input_shape: ``(C, H, W)`` of one input sample.
        extra: more JSON facts for the metadata (e.g. the model name, accuracy).

    Returns:
        the path and the network as the simulator will import it (with ``metadata``).

    Raises:
        PruningError: the exported zeros do not match the masks, or the layers cannot be
            matched between PyTorch and ONNX.
    """
    from reramsim.training import export_onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(result.model)
    modules = dict(prunable_layers(model))
    apply_masks(model, {n: mask_tensor(p, modules[n]) for n, p in result.projections.items()})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        export_onnx(model, tmp, input_shape, opset=opset)
        proto = onnx.load(str(tmp))
        network = load_onnx(proto, source=str(path))
        matched = match_layers(network.weight_layers(), result)
        entry = _metadata(result, network, matched, extra or {})
        del proto.metadata_props[:]
        prop = proto.metadata_props.add()
        prop.key, prop.value = METADATA_KEY, json.dumps(entry, separators=(",", ":"))
        onnx.save(proto, str(tmp))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    network.metadata = {METADATA_KEY: prop.value}
    return path, network


def match_layers(ir_layers: list[WeightLayer], result: PruneResult) -> list[str]:
    """For each IR weight layer, the name of the pruned module it came from.

    A pair matches when rows, cols and groups agree and the IR weight is zero wherever
    the mask pruned. Tried in order first, then by search.

    Raises:
        PruningError: a layer without a match (names the layer and why).
    """
    names = list(result.projections)
    if len(ir_layers) != len(names):
        raise PruningError(f"the ONNX file has {len(ir_layers)} weight layers, the pruned model "
                           f"{len(names)}")
    if all(_fits(ir, result.projections[n]) for ir, n in zip(ir_layers, names)):
        return names
    free, out = set(names), []
    for ir in ir_layers:
        same_shape = [n for n in names if n in free
                      and result.projections[n].mask.shape == (ir.groups, ir.rows, ir.cols)]
        fitting = [n for n in same_shape if _fits(ir, result.projections[n])]
        if not fitting:
            why = ("its zeros do not cover the pruned weights (did BN folding move them?)"
                   if same_shape else "no pruned layer has its shape")
            raise PruningError(f"ONNX layer {ir.name!r} ({ir.rows}x{ir.cols}): {why}")
        out.append(fitting[0])
        free.discard(fitting[0])
    return out


def _fits(ir: WeightLayer, projection: Projection) -> bool:
    if projection.mask.shape != (ir.groups, ir.rows, ir.cols):
        return False
    return all(not np.any(m[~keep]) for m, keep in zip(ir.matrices(), projection.mask))


def _metadata(result: PruneResult, network: Network, matched: list[str],
              extra: dict[str, Any]) -> dict[str, Any]:
    layers = []
    for index, (ir, name) in enumerate(zip(network.weight_layers(), matched)):
        projection = result.projections[name]
        layers.append({"index": index, "layer": ir.name, "module": name, "rows": ir.rows,
                       "cols": ir.cols, "groups": ir.groups,
                       "kept": int(np.count_nonzero(ir.weight)),
                       "tables": result.pruner.encode_tables(projection)})
    dense, kept = network.n_weights, network.n_nonzero_weights
    return {"format": FORMAT_VERSION, "scheme": result.pruner.scheme,
            "reconstruction": result.pruner.reconstruction,
            "note": NOTE.format(scheme=result.pruner.scheme),
            "params": result.pruner.params, "finetune": result.settings,
            "target_ratio": result.target_ratio,
            "pruning_ratio": round(dense / max(kept, 1), 4), "dense_weights": dense,
            "kept_weights": kept, **extra, "layers": layers}
