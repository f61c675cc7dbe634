"""The steps every front end shares: load a model and a config, simulate, run on the hardware.

The CLI, the demo and the benchmarks call these functions and only parse arguments
and print around them::

    network = load_model("models/lenet.onnx")
    config = load_config("isaac", ["adc.bits=6"])
    report = build_report(simulate(network, config))      # reramsim.report

``simulate`` resolves the mapping scheme from a pruned model's metadata and picks
the cycle engine when it is built; ``functional_model`` programs the functional
(bit-level) model of the same hardware for ``reramsim run`` and ``reramsim accuracy``.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reramsim.config import Config, ConfigError, load_config
from reramsim.ir import Network
from reramsim.onnx_import import load_onnx
from reramsim.prune.metadata import resolve_scheme
from reramsim.quantize import FunctionalError

__all__ = ["default_engine", "describe_adc", "describe_hardware", "functional_model",
           "load_config", "load_model", "read_inputs", "run_batches", "simulate",
           "trace_truncation"]

ModelLike = str | os.PathLike[str] | Network
ConfigLike = str | os.PathLike[str] | Config


def load_model(path: str | os.PathLike[str]) -> Network:
    """The IR of an ONNX file (dense or pruned; a pruned file keeps its pruning metadata).

    Raises:
        reramsim.onnx_import.OnnxImportError: unreadable file or unsupported graph.
    """
    return load_onnx(path)


def _network(model: ModelLike) -> Network:
    return model if isinstance(model, Network) else load_model(model)


def _config(hw: ConfigLike, overrides: Sequence[str]) -> Config:
    """A loaded config as it is, or a name/path loaded with ``overrides`` on top."""
    if isinstance(hw, Config):
        if overrides:
            raise ConfigError(f"overrides {list(overrides)} need a config name or path, not "
                              f"the loaded config '{hw.name}'")
        return hw
    return load_config(hw, tuple(overrides))


def default_engine() -> str:
    """'cycle' when the cycle-level engine is built, else 'analytical'."""
    from reramsim import simulator

    return "cycle" if "cycle" in simulator.registered_engines() else "analytical"


def simulate(model: ModelLike, hw: ConfigLike, overrides: Sequence[str] = (),
             scheme: str | None = None, engine: str | None = None,
             trace: str | os.PathLike[str] | None = None, trace_limit: int | None = None):
    """Map, place and run one model on one hardware config; return the
    :class:`reramsim.simulator.Simulation` that :func:`reramsim.report.build_report` renders.

    Args:
        model: an ONNX path or a network from :func:`load_model`.
        hw: a YAML path, a shipped config's name (``"isaac"``) or a loaded config.
        overrides: ``"a.b=value"`` config overrides applied on top of ``hw``.
        scheme: the mapping scheme; ``None`` takes the one a pruned model's metadata
            names (with its per-layer tables), else ``"dense"``.
        engine: ``"cycle"``, ``"analytical"`` or ``"pyref"``; ``None``: :func:`default_engine`.
        trace: a path for the cycle engine's Chrome trace.
        trace_limit: the most records the trace keeps (None: the engine's default);
            :func:`trace_truncation` says whether a trace file hit it.

    Raises:
        ReramsimError subclasses from the importer, the config loader, the metadata
        reader, the mapper or the engine.
    """
    from reramsim.simulator import simulate as run_simulation

    network = _network(model)
    config = _config(hw, overrides)
    scheme, options = resolve_scheme(network, scheme)
    limit = {} if trace_limit is None else {"trace_limit": trace_limit}
    return run_simulation(network, config, scheme=scheme, engine=engine or default_engine(),
                          options=options, trace=trace, **limit)


def trace_truncation(path: str | os.PathLike[str]) -> str | None:
    """None when the Chrome trace at ``path`` holds every record, else a line saying how
    many it kept and dropped (the run itself was complete; a higher trace limit keeps more)."""
    import json

    with open(path) as f:
        info = json.load(f).get("otherData", {})
    if not info.get("truncated"):
        return None
    return (f"{path}: trace truncated: kept the first {info.get('recorded', 0):,} records, "
            f"dropped {info.get('dropped', 0):,} (the simulation itself was complete)")


def functional_model(model: ModelLike, hw: ConfigLike, overrides: Sequence[str] = (),
                     scheme: str | None = None, *, ideal_adc: bool = False,
                     full_precision: bool = False, calibration: np.ndarray | None = None,
                     threads: int = 1):
    """Program the functional (bit-level) model of the hardware; return ``(network, model)``.

    Args:
        model, hw, overrides, scheme: as for :func:`simulate`.
        ideal_adc: an ADC with unlimited resolution and range.
        full_precision: 32-bit weights and inputs and an ideal ADC.
        calibration: a batch that calibrates the input scales now (else call
            ``model.calibrate`` before running).
        threads: BLAS threads while the model runs (0: the BLAS default).

    Raises:
        FunctionalError: ``threads`` < 0; ReramsimError subclasses from the loaders
        and the mapper.
    """
    from reramsim.functional import FunctionalModel
    from reramsim.functional import full_precision as to_full_precision

    if threads < 0:
        raise FunctionalError(f"--threads must be >= 0, got {threads}")
    config = _config(hw, overrides)
    if full_precision:
        config = to_full_precision(config)
    network = _network(model)
    scheme, options = resolve_scheme(network, scheme)
    hardware = FunctionalModel(network, config, scheme=scheme, options=options,
                               ideal_adc=ideal_adc, calibration=calibration,
                               blas_threads=threads or None)
    return network, hardware


def read_inputs(path: str | os.PathLike[str], network: Network) -> dict[str, np.ndarray]:
    """Graph input name -> batched array from a .npy or .npz file.

    A .npy array without the batch dimension is one sample. Raises FunctionalError for a
    missing or unreadable file, or a .npy file for a model with several inputs.
    """
    path = Path(path)
    if not path.is_file():
        raise FunctionalError(f"{path}: no such input file")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise FunctionalError(f"{path}: not a .npy/.npz file ({err})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            arrays = {name: data[name] for name in data.files}
    else:
        if len(network.inputs) != 1:
            raise FunctionalError(f"{path}: {network.name} has inputs {list(network.inputs)}; "
                                  "give an .npz file with one array per input")
        arrays = {next(iter(network.inputs)): data}
    for name, shape in network.inputs.items():
        if name in arrays and arrays[name].shape == tuple(shape):
            arrays[name] = arrays[name][None]  # one sample
    return arrays


def run_batches(model, inputs: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    """Every graph output (float32) of the functional ``model`` on ``inputs``, ``batch``
    samples per forward pass.

    Raises:
        FunctionalError: ``batch`` < 1, or inputs the model does not accept.
    """
    if batch < 1:
        raise FunctionalError(f"--batch must be >= 1, got {batch}")
    n = len(next(iter(inputs.values())))
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in model.network.outputs}
    for i in range(0, n, batch):
        for name, value in model.run({k: v[i:i + batch] for k, v in inputs.items()}).items():
            outputs[name].append(value.astype(np.float32))
    return {name: np.concatenate(parts) for name, parts in outputs.items()}


def describe_hardware(model) -> str:
    """One line: the number formats, ADC and OU the functional model runs with, and the
    mapping scheme."""
    cfg = model.config
    prec = cfg.precision
    adc = "ideal ADC" if cfg.adc.ideal else f"{cfg.adc.bits}-bit ADC ({cfg.adc.lsb_mode})"
    return (f"{cfg.name}: {prec.weight_bits}-bit weights ({prec.signed_weights}, "
            f"{prec.weight_scale}), {prec.input_bits}-bit inputs, {cfg.crossbar.cell_bits}-bit "
            f"cells, {cfg.dac.bits}-bit DAC, {adc}, {cfg.crossbar.rows}x{cfg.crossbar.cols} "
            f"crossbars, {cfg.ou.rows}x{cfg.ou.cols} OU; mapping {model.mapping.scheme}")


def describe_adc(model) -> str:
    """One line: ADC samples and the share that clipped, over every layer."""
    samples = sum(s.samples for s in model.adc_stats.values())
    clipped = sum(s.clipped for s in model.adc_stats.values())
    rate = clipped / samples if samples else 0.0
    return f"ADC samples {samples:,}, clipped {clipped:,} ({rate:.4%})"
