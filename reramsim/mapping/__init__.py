"""Mappers: one per pruning scheme, in a registry (see :mod:`.base` for the data layout)."""
from reramsim.mapping import (  # noqa: F401  (register the mappers)
    autoprune,
    dense,
    forms,
    hybridp,
    pattern,
    pimprune,
    segprune,
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
