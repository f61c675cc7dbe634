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
from reramsim.onnx_import import OnnxImportError, load_onnx, parse_input_shapes
from reramsim.prune.metadata import resolve_scheme
from reramsim.quantize import FunctionalError
from reramsim.resources import shipped_file, shipped_names

__all__ = ["default_engine", "describe_adc", "describe_hardware", "functional_model",
           "load_config", "load_model", "read_inputs", "run_batches", "simulate",
           "trace_truncation"]

ModelLike = str | os.PathLike[str] | Network
ConfigLike = str | os.PathLike[str] | Config


def load_model(path: str | os.PathLike[str], input_shape: Sequence[str] | None = None
               ) -> Network:
    """The IR of an ONNX file (dense or pruned; a pruned file keeps its pruning metadata).

    ``path`` may also name a shipped model (``lenet``, ``resnet20``...: ``models/`` of the
    repository, or the installed package's data).

    ``input_shape``: ``--input-shape`` specs (``1x3x224x224`` or ``NAME=1x3x224x224``) that
    fix the inputs' dynamic dims; dim 0 is the batch (``Network.batch``).

    Raises:
        reramsim.onnx_import.OnnxImportError: unreadable file or unsupported graph.
    """
    return load_onnx(model_path(path), input_shapes=parse_input_shapes(list(input_shape or [])))


def model_path(path: str | os.PathLike[str]) -> Path:
    """The ONNX file ``path`` names: itself when it exists, else the shipped model of that
    name (``lenet``...).

    Raises:
        reramsim.onnx_import.OnnxImportError: neither a file nor a shipped model.
    """
    if Path(path).exists():
        return Path(path)
    shipped = shipped_file("models", str(path))
    if shipped is None:
        raise OnnxImportError(f"{path}: no such file (shipped models: "
                              f"{', '.join(shipped_names('models'))})")
    return Path(shipped)


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
             trace: str | os.PathLike[str] | None = None, budget: str | int | None = None,
             images: int | None = None, inputs: str | os.PathLike[str] | None = None,
             data: str | None = None, trace_limit: int | None = None):
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
        budget: crossbars the run may use: ``"dense"``, ``"chip"`` or a count (text or int;
            :mod:`reramsim.replication`).
        images: images streamed through the pipeline; ``None``: as many as ``inputs``
            holds, else the ONNX batch size.
        inputs: a .npy/.npz file of input images (zero-skipping data, see
            ``docs/throughput.md``); ``data``: a dataset spec (``"digits"``) whose test
            split gives the ``images`` inputs instead.
        trace_limit: the most records the trace keeps (None: the engine's default);
            :func:`trace_truncation` says whether a trace file hit it.

    Raises:
        ReramsimError subclasses from the importer, the config loader, the metadata
        reader, the mapper or the engine; SimulationError for ``images < 1``.
    """
    from reramsim.datasets import load_dataset
    from reramsim.replication import parse_budget
    from reramsim.simulator import SimulationError
    from reramsim.simulator import simulate as run_simulation

    network = _network(model)
    config = _config(hw, overrides)
    scheme, options = resolve_scheme(network, scheme)
    if budget is not None:
        budget = parse_budget(str(budget))
    x = None
    if inputs is not None:
        arrays = read_inputs(inputs, network)
        if len(arrays) != 1:
            raise SimulationError(f"{inputs}: zero-skipping data needs a model with one input")
        x = next(iter(arrays.values())).astype(np.float32)
    if images is None:
        images = len(x) if x is not None else network.batch
    if images < 1:
        raise SimulationError(f"--images: expected an integer >= 1, got {images}")
    if data is not None:
        if len(network.inputs) != 1:
            raise SimulationError(f"--data: {network.name} has {len(network.inputs)} graph "
                                  f"inputs; input data needs exactly one")
        x = load_dataset(data, "test", next(iter(network.inputs.values())), images)[0]
    limit = {} if trace_limit is None else {"trace_limit": trace_limit}
    return run_simulation(network, config, scheme=scheme, engine=engine or default_engine(),
                          options=options, trace=trace, budget=budget, images=images, inputs=x,
                          **limit)


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
                     threads: int = 1, seed: int = 0):
    """Program the functional (bit-level) model of the hardware; return ``(network, model)``.

    Args:
        model, hw, overrides, scheme: as for :func:`simulate`.
        ideal_adc: an ADC with unlimited resolution and range.
        full_precision: 32-bit weights and inputs and an ideal ADC.
        calibration: a batch that calibrates the input scales now (else call
            ``model.calibrate`` before running).
        threads: BLAS threads while the model runs (0: the BLAS default).
        seed: the device models program chip ``chip_seed(seed, 0)`` (docs/devices.md).

    Raises:
        FunctionalError: ``threads`` < 0; ReramsimError subclasses from the loaders
        and the mapper.
    """
    from reramsim.devices import chip_seed
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
                               blas_threads=threads or None, seed=chip_seed(seed, 0))
    return network, hardware


def read_inputs(path: str | os.PathLike[str], network: Network, what: str = "--input"
                ) -> dict[str, np.ndarray]:
    """Graph input name -> batched float32 array from a .npy or .npz file.

    A .npy array without the batch dimension is one sample. The file's headers are
    checked before its data is read (:func:`reramsim.io_checks.load_arrays`).

    Args:
        what: the flag the file came from, for messages (``--input``, ``--calib``).

    Raises:
        InputError: a missing, unreadable or corrupt file, a bad dtype, an empty or
            non-finite array; FunctionalError: arrays that do not match the graph inputs.
    """
    from reramsim.io_checks import load_arrays, printable

    loaded = load_arrays(path, what)
    label = f"{what} {printable(path)}"
    if None in loaded:
        if len(network.inputs) != 1:
            raise FunctionalError(f"{label}: {network.name} has inputs {list(network.inputs)}; "
                                  "give an .npz file with one array per input")
        arrays = {next(iter(network.inputs)): loaded[None]}
    else:
        arrays = {str(k): v for k, v in loaded.items()}
        extra = sorted(set(arrays) - set(network.inputs))
        missing = sorted(set(network.inputs) - set(arrays))
        if extra or missing:
            raise FunctionalError(f"{label}: arrays {sorted(arrays)}, expected one per graph "
                                  f"input {list(network.inputs)}")
    n = None
    for name, shape in network.inputs.items():
        if arrays[name].shape == tuple(shape):
            arrays[name] = arrays[name][None]  # one sample
        got = arrays[name].shape
        if got[1:] != tuple(shape):
            raise FunctionalError(f"{label}: array {name!r} must be "
                                  f"(N, {', '.join(map(str, shape))}), got {got}")
        if n is not None and got[0] != n:
            raise FunctionalError(f"{label}: arrays disagree on the number of samples")
        n = got[0]
    return arrays


def run_batches(model, inputs: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    """Every graph output (float32) of the functional ``model`` on ``inputs``, ``batch``
    samples per forward pass.

    Raises:
        FunctionalError: ``batch`` < 1, inputs the model does not accept, or inputs so large
            that an output overflows to Inf/NaN.
    """
    if batch < 1:
        raise FunctionalError(f"--batch must be >= 1, got {batch}")
    n = len(next(iter(inputs.values())))
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in model.network.outputs}
    for i in range(0, n, batch):
        for name, value in model.run({k: v[i:i + batch] for k, v in inputs.items()}).items():
            with np.errstate(over="ignore", invalid="ignore"):  # checked below
                outputs[name].append(value.astype(np.float32))
    results = {name: np.concatenate(parts) for name, parts in outputs.items()}
    for name, value in results.items():
        if not np.isfinite(value).all():
            largest = max(float(np.abs(v).max()) for v in inputs.values())
            raise FunctionalError(f"output {name!r} is not finite (NaN/Inf) for inputs up to "
                                  f"{largest:.3g} in magnitude; scale the inputs down")
    return results


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


def describe_devices(model, faulty: Sequence[int] = ()) -> str:
    """One line: the device models on, and the mean stuck-at cells of chips ``faulty``."""
    dev = model.config.device
    if not model.device.active:
        return "ideal cells (every device model off)"
    parts = []
    if model.device.leak:
        parts.append(f"on/off {dev.r_off_ohm / dev.r_on_ohm:g}")
    if dev.sigma:
        parts.append(f"{dev.distribution} sigma {dev.sigma:g}")
    if dev.sa0_rate or dev.sa1_rate:
        parts.append(f"SA0 {dev.sa0_rate:g}, SA1 {dev.sa1_rate:g}")
    if dev.read_noise_sigma:
        parts.append(f"read noise {dev.read_noise_sigma:g}")
    if dev.wire_resistance_ohm:
        parts.append(f"wire {dev.wire_resistance_ohm:g} ohm/cell")
    text = "; ".join(parts)
    if len(faulty) and (dev.sa0_rate or dev.sa1_rate):
        mean = float(np.mean(faulty))
        text += (f"; faulty cells {mean:,.0f} of {model.cells_used:,} read "
                 f"({mean / model.cells_used:.3%}){' per chip (mean)' if len(faulty) > 1 else ''}")
    return text


def describe_adc(model) -> str:
    """One line: ADC samples and the share that clipped, over every layer."""
    samples = sum(s.samples for s in model.adc_stats.values())
    clipped = sum(s.clipped for s in model.adc_stats.values())
    rate = clipped / samples if samples else 0.0
    return f"ADC samples {samples:,}, clipped {clipped:,} ({rate:.4%})"
