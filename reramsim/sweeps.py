"""Design-space sweeps (``reramsim sweep``, ``rs.sweep``): many simulations over a grid.

A sweep is the product of its models, its schemes and one list of values per
``--grid`` key (``adc.bits=4,6,8``); ``random`` picks that many distinct points
of the product instead (seeded). Every point is one call of
:func:`reramsim.pipeline.simulate` (plus an accuracy run when ``data`` is given),
done by :func:`run_point`; a backend only decides where the calls run:

* ``local``: a process pool of ``jobs`` workers (``jobs=1``: in this process);
* ``ray``: Ray tasks on the cluster at ``ray_address``, or on a local Ray instance
  started for the sweep with ``jobs`` CPUs.

Results go to ``DIR/results.jsonl`` as each point finishes (one JSON object per
line: the point's id, its swept values, the resolved config's hash, the report's
totals or the error) and to ``DIR/results.csv`` (one row per point, in grid
order). A point's id hashes everything that defines it, so running a sweep again
into the same folder skips the points already done and retries the failed ones.
Identical points give identical records on every backend (only ``seconds`` and
``cpu_seconds``, the wall and CPU time of the point, differ).
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reramsim import ReramsimError

__all__ = ["BACKENDS", "SweepError", "SweepSpec", "csv_text", "load_records", "override",
           "parse_grid", "run_point", "run_sweep", "table_rows", "write_csv"]

BACKENDS = ("local", "ray")
RESULTS_JSONL = "results.jsonl"
RESULTS_CSV = "results.csv"


class SweepError(ReramsimError):
    """A sweep that cannot be set up: bad grid, bad backend, unreadable results folder."""


# --------------------------------------------------------------------------- the points


def parse_grid(texts: Iterable[str]) -> dict[str, list[Any]]:
    """``["adc.bits=4,6,8", ...]`` -> ``{"adc.bits": [4, 6, 8], ...}``; values read as YAML scalars.

    Raises:
        SweepError: naming the ``--grid`` argument that has no ``=``, no values or a key twice.
    """
    grid: dict[str, list[Any]] = {}
    for text in texts:
        key, sep, raw = text.partition("=")
        key = key.strip()
        values = [v.strip() for v in raw.split(",")]
        if not sep or not key or not all(values):
            raise SweepError(f"--grid {text}: expected KEY.PATH=V1,V2,... e.g. adc.bits=4,6,8")
        if key in grid:
            raise SweepError(f"--grid {text}: key '{key}' is already swept")
        grid[key] = [_scalar(v) for v in values]
    return grid


def _scalar(text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool)) else text


@dataclass
class SweepSpec:
    """What to sweep: models x schemes x the grid (or ``random`` points of it).

    Attributes:
        models: ONNX paths.
        hw: the base hardware config (a shipped name or a YAML path).
        grid: config key -> values (see :func:`parse_grid`).
        overrides: ``"a.b=value"`` applied to every point before its grid values.
        schemes: mapping schemes; ``[None]`` takes a pruned model's own scheme, else dense.
        engine: ``"cycle"``, ``"analytical"`` or ``"pyref"``; None: the default engine.
        random: draw this many distinct points of the product (None: all of them).
        seed: the seed of the random draw.
        data: a dataset spec (``"digits"``) to measure accuracy at every point, or None.
        data_limit: only the first N test images (None: all).
    """

    models: Sequence[str]
    hw: str
    grid: dict[str, list[Any]] = field(default_factory=dict)
    overrides: Sequence[str] = ()
    schemes: Sequence[str | None] = (None,)
    engine: str | None = None
    random: int | None = None
    seed: int = 0
    data: str | None = None
    data_limit: int | None = None

    def tasks(self) -> list[dict[str, Any]]:
        """One JSON-ready task per point, in grid order; each carries its ``point`` id.

        Raises:
            SweepError: no models, or ``random`` outside [1, number of grid points].
        """
        from reramsim.pipeline import default_engine

        if not self.models:
            raise SweepError("a sweep needs at least one model")
        engine = self.engine or default_engine()
        keys = list(self.grid)
        combos = list(itertools.product(self.models, self.schemes,
                                        *(self.grid[k] for k in keys)))
        if self.random is not None:
            if not 1 <= self.random <= len(combos):
                raise SweepError(f"--random {self.random}: the grid has {len(combos)} points; "
                                 f"expected 1..{len(combos)}")
            chosen = sorted(random.Random(self.seed).sample(range(len(combos)), self.random))
            combos = [combos[i] for i in chosen]
        tasks = []
        for index, (model, scheme, *values) in enumerate(combos):
            swept = dict(zip(keys, values, strict=True))
            task = {
                "model": str(model), "hw": str(self.hw), "scheme": scheme, "engine": engine,
                "set": [*self.overrides, *(override(k, v) for k, v in swept.items())],
                "data": self.data, "data_limit": self.data_limit,
            }
            digest = hashlib.sha256(json.dumps(task, sort_keys=True).encode())
            task["point"] = digest.hexdigest()[:16]
            task["index"] = index
            task["values"] = {"model": str(model), "scheme": scheme, **swept}
            tasks.append(task)
        return tasks


def override(key: str, value: Any) -> str:
    """``("adc.bits", 6)`` -> ``"adc.bits=6"``: a ``--set`` string that reads back as ``value``."""
    text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    return f"{key}={text}"


# --------------------------------------------------------------------------- one point

_NETWORKS: dict[tuple[str, float], Any] = {}


def _network(path: str):
    """The IR of ``path``, loaded once per process (a worker simulates many points)."""
    from reramsim.pipeline import load_model

    key = (os.path.abspath(path), os.path.getmtime(path) if os.path.exists(path) else 0.0)
    if key not in _NETWORKS:
        _NETWORKS[key] = load_model(path)
    return _NETWORKS[key]


def run_point(task: dict[str, Any]) -> dict[str, Any]:
    """Simulate one point of a sweep; the record that goes into ``results.jsonl``.

    Never raises for a failed point: any exception becomes ``status: "failed"`` with
    ``error`` = its type and message, so the sweep goes on.
    """
    from reramsim.pipeline import simulate
    from reramsim.report import build_report

    start, cpu = time.perf_counter(), time.process_time()
    record: dict[str, Any] = {"point": task["point"], "index": task["index"], "status": "ok",
                              "values": task["values"], "model": task["model"], "hw": task["hw"],
                              "engine": task["engine"]}
    try:
        network = _network(task["model"])
        report = build_report(simulate(network, task["hw"], task["set"],
                                       scheme=task["scheme"], engine=task["engine"]))
        record.update(scheme=report["scheme"], config=report["config"],
                      config_hash=config_hash(report["config_values"]),
                      totals=report["totals"])
        if task["data"]:
            record["accuracy"] = _accuracy(task, network)
    except Exception as err:  # noqa: BLE001 - a failed point is recorded, the sweep goes on
        record.update(status="failed", error=f"{type(err).__name__}: {err}")
    record["seconds"] = round(time.perf_counter() - start, 3)
    record["cpu_seconds"] = round(time.process_time() - cpu, 3)
    return record


def config_hash(config_values: dict[str, Any]) -> str:
    """A short hash of the values that define the hardware (not its name or source file)."""
    values = {k: v for k, v in config_values.items() if k not in ("name", "source")}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def _accuracy(task: dict[str, Any], network) -> dict[str, float]:
    """Top-1 accuracy in float and on the hardware, as ``reramsim accuracy`` measures it."""
    from reramsim.accuracy import measure_accuracy
    from reramsim.datasets import load_dataset
    from reramsim.pipeline import functional_model

    shape = tuple(next(iter(network.inputs.values())))
    x, y = load_dataset(task["data"], "test", shape, task["data_limit"])
    calib = load_dataset(task["data"], "train", shape, 64)[0]
    _, model = functional_model(network, task["hw"], task["set"], task["scheme"],
                                calibration=calib)
    tally = measure_accuracy(task["model"], model, x, y, progress=False)
    return {"acc_float": tally.acc_float, "acc_reram": tally.acc_reram, "images": tally.images}


# --------------------------------------------------------------------------- backends


def _run_local(tasks: list[dict[str, Any]], jobs: int) -> Iterator[dict[str, Any]]:
    """Records as points finish: in this process for one job, else in a pool of ``jobs``."""
    if jobs == 1:
        yield from map(run_point, tasks)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["reramsim.sweeps", "reramsim.pipeline", "reramsim.report"])
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = {pool.submit(run_point, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as err:  # noqa: BLE001 - a crashed worker fails its point only
                yield _failed(futures[future], err)


def _run_ray(tasks: list[dict[str, Any]], jobs: int,
             address: str | None) -> Iterator[dict[str, Any]]:
    """Records as Ray tasks finish, on the cluster at ``address`` or a local instance."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # report nothing to anyone
    loopback = not address or address.rsplit(":", 1)[0].strip("[]") in _LOOPBACK
    if loopback:
        # Ray would swap a loopback address for this machine's outward IP; keep it loopback.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise SweepError("--backend ray needs Ray: pip install 'reramsim[ray]'") from None
    owned = not ray.is_initialized()
    if owned:
        try:
            if address:
                ray.init(address=address, log_to_driver=False, configure_logging=False,
                         **({"_node_ip_address": "127.0.0.1"} if loopback else {}))
            else:
                ray.init(address="local", num_cpus=jobs, include_dashboard=False,
                         log_to_driver=False, configure_logging=False,
                         _node_ip_address="127.0.0.1")
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = f"--ray-address {address}" if address else "a local Ray instance"
            raise SweepError(f"{where}: cannot start or join Ray: {err}") from None
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_point)
        pending = {remote.remote(task): task for task in tasks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as err:  # noqa: BLE001 - a lost worker fails its point only
                    yield _failed(task, err)
    finally:
        if owned:
            ray.shutdown()


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _failed(task: dict[str, Any], err: BaseException) -> dict[str, Any]:
    return {"point": task["point"], "index": task["index"], "status": "failed",
            "values": task["values"], "model": task["model"], "hw": task["hw"],
            "engine": task["engine"], "error": f"{type(err).__name__}: {err}", "seconds": 0.0}


# --------------------------------------------------------------------------- the sweep


def run_sweep(spec: SweepSpec, out: str | os.PathLike[str] | None = None, backend: str = "local",
              jobs: int = 1, ray_address: str | None = None,
              progress: bool = True) -> list[dict[str, Any]]:
    """Run every point of ``spec`` not done yet; return the records of all its points.

    Args:
        spec: the points.
        out: the results folder (created); None keeps the records in memory only.
        backend: ``"local"`` or ``"ray"``.
        jobs: local worker processes, or the CPUs of a local Ray instance.
        ray_address: a Ray cluster to join (``"127.0.0.1:6379"``); backend ``ray`` only.
        progress: a progress bar on stderr (points done, failed, left, time left).

    Returns:
        one record per point of the sweep, in grid order (see :func:`run_point`).

    Raises:
        SweepError: a bad backend, job count or results folder.
    """
    if backend not in BACKENDS:
        raise SweepError(f"--backend {backend}: expected one of {', '.join(BACKENDS)}")
    if jobs < 1:
        raise SweepError(f"--jobs must be >= 1, got {jobs}")
    if ray_address and backend != "ray":
        raise SweepError("--ray-address needs --backend ray")
    tasks = spec.tasks()
    folder = Path(out) if out is not None else None
    records: dict[str, dict[str, Any]] = {}
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SweepError(f"{folder}: cannot create the results folder: {err.strerror}") \
                from None
        records = {r["point"]: r for r in load_records(folder)}
    wanted = {t["point"] for t in tasks}
    todo = [t for t in tasks if records.get(t["point"], {}).get("status") != "ok"]
    runner = _run_ray(todo, jobs, ray_address) if backend == "ray" else _run_local(todo, jobs)
    with _Progress(len(tasks), len(tasks) - len(todo), progress) as bar:
        for record in runner:
            records[record["point"]] = record
            if folder is not None:
                _append(folder / RESULTS_JSONL, record)
            bar.update(record["status"] == "ok")
    if folder is not None:
        write_csv(list(records.values()), folder / RESULTS_CSV)
    return sorted((r for p, r in records.items() if p in wanted), key=lambda r: r["index"])


class _Progress:
    """A tqdm bar on stderr: points done, failed and left, and the time left."""

    def __init__(self, total: int, skipped: int, enabled: bool):
        from tqdm import tqdm

        self.done, self.failed, self.total = skipped, 0, total
        self.bar = tqdm(total=total, initial=skipped, unit="pt", disable=not enabled,
                        bar_format="{desc} {percentage:3.0f}%|{bar}| "
                                   "[{elapsed} elapsed, {remaining} left]")
        self._postfix()

    def _postfix(self) -> None:
        left = self.total - self.done - self.failed
        self.bar.set_description_str(f"sweep: done {self.done}, failed {self.failed}, "
                                     f"remaining {left}", refresh=False)

    def update(self, ok: bool) -> None:
        if ok:
            self.done += 1
        else:
            self.failed += 1
        self._postfix()
        self.bar.update(1)  # redraws with the new counts

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


def _append(path: Path, record: dict[str, Any]) -> None:
    try:
        with path.open("a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
    except OSError as err:
        raise SweepError(f"{path}: cannot write: {err.strerror}") from None


# --------------------------------------------------------------------------- reading results


def load_records(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of ``folder/results.jsonl``, the latest per point, in grid order.

    A line cut short by an interrupted sweep is ignored (that point runs again).

    Raises:
        SweepError: the folder holds a results file that cannot be read.
    """
    path = Path(folder) / RESULTS_JSONL
    if not path.exists():
        return []
    latest: dict[str, dict[str, Any]] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise SweepError(f"{path}: cannot read: {err.strerror}") from None
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "point" in record:
            latest[record["point"]] = record
    return sorted(latest.values(), key=lambda r: (r.get("index", 0), r["point"]))


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        return {prefix: json.dumps(value)}
    return {prefix: value}


def table_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per record: id, status, swept values, config hash, every total, accuracy,
    error. Columns follow whatever the records hold (the report's totals are not listed here)."""
    rows = []
    for r in sorted(records, key=lambda r: (r.get("index", 0), r["point"])):
        row = {"index": r.get("index"), "point": r["point"], "status": r["status"]}
        row.update({k: r.get(k) if v is None else v for k, v in r.get("values", {}).items()})
        row["engine"] = r.get("engine")
        row["config_hash"] = r.get("config_hash", "")
        row.update(_flatten(r.get("totals", {}), ""))
        row.update(_flatten(r.get("accuracy", {}), ""))
        row["error"] = r.get("error", "")
        rows.append(row)
    return rows


def csv_text(records: Sequence[dict[str, Any]]) -> str:
    """:func:`table_rows` as CSV (the union of every row's columns; blanks where a row has none)."""
    rows = table_rows(records)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return buf.getvalue()


def write_csv(records: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Write :func:`csv_text` to ``path``. Raises SweepError naming the file on failure."""
    try:
        Path(path).write_text(csv_text(records))
    except OSError as err:
        raise SweepError(f"{path}: cannot write: {err.strerror}") from None
