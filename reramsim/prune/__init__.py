"""Pruning passes: one projection interface, one fine-tuning driver, one ONNX exporter.

* :mod:`.base`: the :class:`Pruner` interface (a *projection*: importance scores and a
  budget -> keep mask obeying the scheme's structure), the registry and layer-budget
  allocation. numpy only.
* :mod:`.segprune`: SegPrune's projection-based shape voting (registered ``"segprune"``).
* :mod:`.pimprune`, :mod:`.pattern`, :mod:`.hybridp`: the baselines PIM-Prune,
  Pattern-Prune and Hybrid-P (a reconstruction), registered under those module names.
* :mod:`.forms`: FORMS's polarised fragments (registered ``"forms"``).
* :mod:`.autoprune`: AUTO-PRUNE's column-vector projection (registered ``"autoprune"``), its
  DDPG agent, environment and search (the search modules need torch).
* :mod:`.metadata`: the JSON entry a pruned ONNX file carries, and
  :func:`scheme_from_metadata` for the simulator. numpy only.
* :mod:`.finetune`: gradual pruning with fixed masks between projections, or ADMM
  (needs torch).
* :mod:`.export`: the pruned model to ONNX with exact zeros and the metadata (needs torch).

Importing this package does not import torch.
"""
from reramsim.prune import (  # noqa: F401  (register the pruners)
    autoprune,
    forms,
    hybridp,
    pattern,
    pimprune,
    segprune,
)
from reramsim.prune.base import (
    LayerTarget,
    Projection,
    Pruner,
    PruningError,
    allocate,
    get_pruner,
    register_pruner,
    registered_pruners,
)
from reramsim.prune.metadata import METADATA_KEY, PruningMetadataError, scheme_from_metadata

__all__ = ["METADATA_KEY", "LayerTarget", "Projection", "Pruner", "PruningError",
           "PruningMetadataError", "allocate", "get_pruner", "register_pruner",
           "registered_pruners", "scheme_from_metadata"]
