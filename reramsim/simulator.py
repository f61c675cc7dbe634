"""The one call the CLI and the reports use: map, place and run an engine.

>>> from reramsim.config import load_config
>>> sim = simulate(network, load_config("isaac"), scheme="dense", engine="cycle")  # doctest: +SKIP
>>> sim.result.total_cycles  # doctest: +SKIP

Engines live in a registry (``analytical``, ``cycle``, ``pyref``); each is
``fn(plan, trace, trace_limit) -> (SimResult, ComponentStats | None)`` on the timing plan
(:func:`reramsim.plan.build_plan`).

A run spends a crossbar budget (:mod:`reramsim.replication`): with
``mapping.replication: balance`` the crossbars the mapping leaves free hold
copies of the layers that bound the pipeline. ``images > 1`` also streams that
many inputs through the pipeline (``Simulation.stream``); the single-image run
(``Simulation.result``) gives the latency, the plan's busiest resource the
steady-state throughput (:mod:`reramsim.throughput`).

With ``ou.skip_zero_inputs`` and ``inputs`` (images), the functional model finds
each OU step's input bits (:mod:`reramsim.activity`) and the event engines skip the
all-zero steps; the steady state is then measured on the stream,
``(T_images - T_1) / (images - 1)``, since each image's steps differ.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reramsim import ReramsimError
from reramsim.activity import ou_activity
from reramsim.analytical import analytical_from_plan
from reramsim.config import Config
from reramsim.engine import DEFAULT_TRACE_EVENTS, ComponentStats, engine_available, run_plan
from reramsim.ir import Network
from reramsim.mapping import NetworkMapping, map_network
from reramsim.placement import Placement, place
from reramsim.plan import TimingPlan, build_plan
from reramsim.programming import Programming, weight_programming
from reramsim.pyref import PyRefEngine
from reramsim.registry import Registry
from reramsim.reload import (
    GroupRun,
    chip_pes,
    group_cells,
    merged_placement,
    needs_reload,
    run_groups,
)
from reramsim.reload import shifted as shifted_groups
from reramsim.replication import choose_replicas, crossbar_budget, merge_instances
from reramsim.stats import SimResult
from reramsim.throughput import Busiest, Throughput, busiest_instances, initiation_interval

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
        result: the engine's timing and event counts for one image (copies of a
            replicated layer merged into one entry).
        components: per-resource and per-crossbar statistics (cycle engine only).
        plan: the one-image timing plan the engine ran.
        budget: the crossbars the run could use.
        images: inputs streamed; ``stream`` is the engine's run of all of them
            (None for one image).
        throughput: the steady state (initiation interval and its bottleneck).
        busiest: per layer, the resource instance its work keeps busiest (None with
            zero-skipping: the plan's fixed busy cycles do not hold then).
        zero_skip: whether the run skipped all-zero OU steps, and if not, why.
        programming: the load of the model's weights (:mod:`reramsim.programming`): once
            per model load, outside the run's time and energy, unless the run reloads.
        groups: with ``mapping.reload`` on a chip too small for the model, each group of
            layers programmed and run in turn (:mod:`reramsim.reload`); its programming is
            part of the run's time and energy. None: the model ran in one piece.
    """

    network: Network
    config: Config
    mapping: NetworkMapping
    placement: Placement
    result: SimResult
    components: ComponentStats | None = None
    plan: TimingPlan | None = None
    budget: int = 0
    images: int = 1
    stream: SimResult | None = None
    throughput: Throughput | None = None
    busiest: dict[str, Busiest] | None = None
    zero_skip: str = "off"
    programming: Programming | None = None
    groups: list[GroupRun] | None = None

    @property
    def reprogrammed(self) -> dict[str, int] | None:
        """Cells written per weight layer during the run (a reloaded run), else None."""
        return group_cells(self.groups) if self.groups else None


EngineFn = Callable[[TimingPlan, "str | Path | None", int],
                    "tuple[SimResult, ComponentStats | None]"]
#: The engines available in this build, by name.
ENGINES: Registry[EngineFn] = Registry("engine", SimulationError)
register_engine = ENGINES.register
registered_engines = ENGINES.names


@register_engine("analytical")
def _analytical(plan, trace, trace_limit):
    if trace is not None:
        raise SimulationError("the analytical engine has no events to trace; use engine='cycle'")
    return analytical_from_plan(plan), None


@register_engine("pyref")
def _pyref(plan, trace, trace_limit):
    if trace is not None:
        raise SimulationError("the pyref engine writes no trace; use engine='cycle'")
    return PyRefEngine(plan).run(), None


if engine_available():
    register_engine("cycle")(run_plan)


def simulate(network: Network, config: Config, scheme: str = "dense", engine: str = "cycle",
             mapping: NetworkMapping | None = None, options: dict[str, dict] | None = None,
             trace: str | Path | None = None, budget: str | int | None = None,
             images: int = 1, inputs: np.ndarray | None = None,
             trace_limit: int = DEFAULT_TRACE_EVENTS) -> Simulation:
    """Map ``network`` with ``scheme``, place it (with copies of layers) and run ``engine``.

    Args:
        network: the IR (e.g. from :func:`reramsim.onnx_import.load_onnx`).
        config: the hardware.
        scheme: mapping scheme (:func:`reramsim.mapping.registered_mappers`); ignored
            when ``mapping`` is given.
        engine: ``"cycle"`` (event-driven), ``"analytical"`` (closed form, no
            contention) or ``"pyref"`` (pure-Python reference of the cycle engine).
        mapping: a mapping already built (its config must be ``config``).
        options: per-layer mapper options (see :func:`reramsim.mapping.map_network`).
        trace: a path for the cycle engine's Chrome trace (of the one-image run).
        budget: crossbars the run may use: ``"dense"``, ``"chip"``, a count, or None
            (:func:`reramsim.replication.crossbar_budget`).
        images: inputs to stream through the pipeline (>= 1).
        inputs: ``(>= images, *input shape)`` float images for zero-skipping (used when
            ``ou.skip_zero_inputs``; the first ``images`` are streamed).
        trace_limit: the most trace records kept; past it the trace file says it was
            truncated (``otherData.truncated``).

    Raises:
        SimulationError: an unknown engine, a mapping built for another config, or
            ``images < 1``, or ``trace_limit < 1``.
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
    if int(images) < 1:
        raise SimulationError(f"images must be >= 1, got {images}")
    if needs_reload(network, mapping):
        if budget is not None:
            raise SimulationError(f"--budget {budget}: a reloaded run (mapping.reload) uses "
                                  "the chip as it is; budgets size copies of layers, which "
                                  "reloading does not make")
        return _simulate_reloaded(network, mapping, run_engine, trace, trace_limit,
                                  int(images), inputs)
    limit = crossbar_budget(network, mapping, budget)
    replicas = None
    if config.mapping.replication == "balance":
        replicas, mapping = choose_replicas(network, mapping, limit, options)
    placement = place(network, mapping, replicas)
    activity, zero_skip = _activity(network, mapping, config, inputs, int(images))
    plan = build_plan(network, mapping, placement, activity=activity)
    result, components = run_engine(plan, trace, trace_limit)
    stream = None
    if images > 1:
        stream_plan = build_plan(network, mapping, placement, images=int(images),
                                 activity=activity)
        stream = merge_instances(stream_plan, run_engine(stream_plan, None, trace_limit)[0])
    throughput = initiation_interval(plan)
    if plan.skip_zero:  # each image's steps differ: measure the steady state on the stream
        if stream is not None:
            ii = -(-(stream.total_cycles - result.total_cycles) // (int(images) - 1))
            throughput = Throughput(ii, "the stream (zero-skipping: measured)", "-")
        else:
            throughput.bottleneck += " (every step; zero-skipping needs images > 1 to measure)"
    return Simulation(network, config, mapping, placement, merge_instances(plan, result),
                      components, plan=plan, budget=limit, images=int(images), stream=stream,
                      throughput=throughput,
                      busiest=None if plan.skip_zero else busiest_instances(plan),
                      zero_skip=zero_skip,
                      programming=weight_programming(
                          mapping, copies={n: placement.replicas(n) for n in mapping.layers}))


def _simulate_reloaded(network: Network, mapping: NetworkMapping, run_engine: EngineFn,
                       trace: str | Path | None, trace_limit: int, images: int,
                       inputs: np.ndarray | None) -> Simulation:
    """A model larger than the chip, in groups of layers reprogrammed in turn
    (:mod:`reramsim.reload`); the steady state is the stream's time per image."""
    config = mapping.config
    activity, zero_skip = _activity(network, mapping, config, inputs, images)
    runs = run_groups(network, mapping, run_engine, images, activity, trace, trace_limit)
    result = shifted_groups(runs, stream=False)
    stream = shifted_groups(runs, stream=True) if images > 1 else None
    total = stream.total_cycles if stream is not None else result.total_cycles
    throughput = Throughput(-(-total // images), f"reload: {len(runs)} groups of layers "
                            "programmed and run in turn", "-")
    chip = chip_pes(config) * config.organization.crossbars_per_pe
    return Simulation(network, config, mapping, merged_placement(runs), result, None,
                      plan=None, budget=chip, images=images, stream=stream,
                      throughput=throughput, busiest=None, zero_skip=zero_skip,
                      programming=weight_programming(mapping), groups=runs)


def _activity(network: Network, mapping: NetworkMapping, config: Config,
              inputs: np.ndarray | None, images: int) -> tuple[dict | None, str]:
    """The active OU steps of ``images`` inputs (or None), and a line saying what was done."""
    if not config.ou.skip_zero_inputs:
        return None, "off"
    if inputs is None:
        return None, "off: ou.skip_zero_inputs needs input data (--inputs or --data)"
    if len(inputs) < images:
        raise SimulationError(f"zero-skipping: {len(inputs)} input images for a stream of "
                              f"{images}")
    return ou_activity(network, mapping, np.asarray(inputs[:images], np.float32)), (
        f"on: {images} image{'s' if images != 1 else ''}")
