"""AUTO-PRUNE (Yang et al., ICS 2021): a DDPG agent picks a column-vector pruning rate per layer.

* :mod:`.projection`: column-vector pruning, registered as scheme ``"autoprune"`` (numpy).
* :mod:`.quantized`: the fast, exact integer model that scores a policy's ``acc_reram`` (torch).
* :mod:`.environment`: the layer table, the state features and the reward (numpy + the model).
* :mod:`.agent`: DDPG with AMC's defaults (torch).
* :mod:`.search`: episodes, checkpoints, the best policy (torch).
* :mod:`.workflow`: validation split, fine-tuning of the best policy, export, summary (torch).

The mapping (OU formation, the OU list, the weight index buffer) is
:mod:`reramsim.mapping.autoprune`. Importing this package imports only the projection.
See ``docs/autoprune.md`` for what the paper states and what is reconstructed.
"""
from reramsim.prune.autoprune.projection import (  # noqa: F401  (registers "autoprune")
    AutoPrunePruner,
    check_rate,
    prune_rate,
    vector_mask,
)

__all__ = ["AutoPrunePruner", "check_rate", "prune_rate", "vector_mask"]
