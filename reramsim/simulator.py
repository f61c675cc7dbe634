"""The one call the CLI and the reports use: map, place and run an engine.

>>> from reramsim.config import load_config
>>> sim = simulate(network, load_config("isaac"), scheme="dense", engine="cycle")  # doctest: +SKIP
>>> sim.result.total_cycles  # doctest: +SKIP

Engines live in a registry (``analytical``, ``cycle``, ``pyref``); each is
``fn(network, mapping, placement, trace, trace_limit) -> (SimResult, ComponentStats | None)``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reramsim import ReramsimError
from reramsim.analytical import run_analytical
from reramsim.config import Config
from reramsim.engine import (
    DEFAULT_TRACE_EVENTS,
    ComponentStats,
    engine_available,
    run_cycle_detailed,
)
from reramsim.ir import Network
from reramsim.mapping import NetworkMapping, map_network
from reramsim.placement import Placement, place
from reramsim.pyref import run_pyref
from reramsim.registry import Registry
from reramsim.stats import SimResult

__all__ = ["Simulation", "SimulationError", "register_engine", "registered_engines", "simulate"]


class SimulationError(ReramsimError):
    """A simulation that cannot be set up (unknown engine, mismatched mapping...)."""


@dataclass
class Simulation:
    """Everything one run produced, for reports and energy/area models.

    Attributes:
        network: the IR that was simulated.
        config: the hardware.
        mapping: every weight layer's crossbars and OUs.
        placement: tiles, PEs and ADC groups.
        result: the engine's timing and event counts.
        components: per-resource and per-crossbar statistics (cycle engine only).
    """

    network: Network
    config: Config
    mapping: NetworkMapping
    placement: Placement
    result: SimResult
    components: ComponentStats | None = None


EngineFn = Callable[[Network, NetworkMapping, Placement, "str | Path | None", int],
                    "tuple[SimResult, ComponentStats | None]"]
#: The engines available in this build, by name.
ENGINES: Registry[EngineFn] = Registry("engine", SimulationError)
register_engine = ENGINES.register
registered_engines = ENGINES.names


@register_engine("analytical")
def _analytical(network, mapping, placement, trace, trace_limit):
    if trace is not None:
        raise SimulationError("the analytical engine has no events to trace; use engine='cycle'")
    return run_analytical(network, mapping, placement), None


@register_engine("pyref")
def _pyref(network, mapping, placement, trace, trace_limit):
    if trace is not None:
        raise SimulationError("the pyref engine writes no trace; use engine='cycle'")
    return run_pyref(network, mapping, placement), None


if engine_available():
    register_engine("cycle")(lambda network, mapping, placement, trace, trace_limit:
                             run_cycle_detailed(network, mapping, placement, trace, trace_limit))


def simulate(network: Network, config: Config, scheme: str = "dense", engine: str = "cycle",
             mapping: NetworkMapping | None = None, options: dict[str, dict] | None = None,
             trace: str | Path | None = None,
             trace_limit: int = DEFAULT_TRACE_EVENTS) -> Simulation:
    """Map ``network`` with ``scheme``, place it and run ``engine``.

    Args:
        network: the IR (e.g. from :func:`reramsim.onnx_import.load_onnx`).
        config: the hardware.
        scheme: mapping scheme (:func:`reramsim.mapping.registered_mappers`); ignored
            when ``mapping`` is given.
        engine: ``"cycle"`` (event-driven), ``"analytical"`` (closed form, no
            contention) or ``"pyref"`` (pure-Python reference of the cycle engine).
        mapping: a mapping already built (its config must be ``config``).
        options: per-layer mapper options (see :func:`reramsim.mapping.map_network`).
        trace: a path for the cycle engine's Chrome trace.
        trace_limit: the most trace records kept; past it the trace file says it was
            truncated (``otherData.truncated``).

    Raises:
        SimulationError: an unknown engine, a mapping built for another config, or
            ``trace_limit`` < 1.
        reramsim.mapping.MappingError: the mapping or placement failed.
        reramsim.plan.TimingError, reramsim.engine.EngineError: the run failed.
    """
    run_engine = ENGINES.get(engine)
    if trace_limit < 1:
        raise SimulationError(f"--trace-limit must be >= 1, got {trace_limit}")
    if mapping is None:
        mapping = map_network(network, config, scheme, options)
    elif dataclasses.replace(mapping.config, source=config.source) != config:
        raise SimulationError(f"the mapping was built for config '{mapping.config.name}', "
                              f"not '{config.name}'")
    placement = place(network, mapping)
    result, components = run_engine(network, mapping, placement, trace, trace_limit)
    return Simulation(network, config, mapping, placement, result, components)
