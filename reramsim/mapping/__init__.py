"""Mappers: one per pruning scheme, in a registry (see :mod:`.base` for the data layout)."""
from reramsim.mapping import (
    autoprune,  # noqa: F401  (registers "autoprune")
    dense,  # noqa: F401  (registers "dense")
    segprune,  # noqa: F401
)
from reramsim.mapping.base import (
    LayerMapping,
    MappingError,
    NetworkMapping,
    get_mapper,
    map_network,
    register_mapper,
    registered_mappers,
)
from reramsim.mapping.dense import dense_crossbar_count

__all__ = ["LayerMapping", "MappingError", "NetworkMapping", "dense_crossbar_count", "get_mapper",
           "map_network", "register_mapper", "registered_mappers"]
