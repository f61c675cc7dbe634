"""Throughput of the cycle-level engine, against the pure-Python reference.

For each network (LeNet-5, AlexNet and VGG16 in CIFAR form, ResNet-50 at 224x224) on
``hw_configs/isaac.yaml``, in a fresh subprocess per network (so peak memory is that
network's):

* ``import``: model import: ``models/<net>.onnx`` through ``reramsim.onnx_import.load_onnx``
  when both exist, else the IR built directly (``benchmarks/nets.py``, random weights);
* ``map``: dense mapping and placement;
* ``sim``: the cycle engine end to end (plan, flatten, Cython run, statistics);
* ``engine``: the Cython event loop alone (best of ``--repeat``), wall and CPU seconds, and
  events per second of each;
* ``pyref``: the pure-Python reference's event loop on the same plan (same events), and the
  speedup ``pyref / engine`` in CPU seconds (robust on a shared machine; the wall-clock
  ratio is in the JSON), measured in the same run on the nets named by ``--pyref``;
* ``e2e``: import + map + sim; ``peak MiB``: the subprocess's peak RSS (getrusage).

Usage::

    python benchmarks/bench_engine.py                      # table
    python benchmarks/bench_engine.py --json out/bench.json
    python benchmarks/bench_engine.py --nets lenet vgg16 --pyref lenet
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

DEFAULT_NETS = ("lenet", "alexnet", "vgg16", "resnet50")
DEFAULT_PYREF = ("lenet", "alexnet", "vgg16")


def load_network(name: str):
    """(network, source): the zoo ONNX file when the importer and the file exist, else IR."""
    onnx_path = ROOT / "models" / f"{name}.onnx"
    if onnx_path.is_file():
        try:
            from reramsim.onnx_import import load_onnx
        except ImportError:
            load_onnx = None
        if load_onnx is not None:
            return load_onnx(str(onnx_path)), f"models/{name}.onnx"
    import nets

    return nets.NETS[name](), "benchmarks/nets.py (IR, random weights)"


def measure(name: str, config_name: str, with_pyref: bool, repeat: int) -> dict:
    """Run one network in this process and return its figures."""
    t0 = time.perf_counter()
    from reramsim._core import _engine
    from reramsim.config import load_config
    from reramsim.engine import flatten_plan, run_plan
    from reramsim.mapping import map_network
    from reramsim.placement import place
    from reramsim.plan import build_plan
    from reramsim.pyref import PyRefEngine

    t_modules = time.perf_counter() - t0
    config = load_config(config_name)
    t0 = time.perf_counter()
    network, source = load_network(name)
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    mapping = map_network(network, config)
    placement = place(network, mapping)
    t_map = time.perf_counter() - t0
    t0 = time.perf_counter()
    result, _ = run_plan(build_plan(network, mapping, placement))
    t_sim = time.perf_counter() - t0

    plan = build_plan(network, mapping, placement)
    arrays, sizes = flatten_plan(plan)
    t_engine = cpu_engine = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = _engine.run(arrays, sizes)
        t_engine = min(t_engine, time.perf_counter() - t0)
        cpu_engine = min(cpu_engine, time.process_time() - c0)
    events = int(out["events"])
    row = {
        "net": name, "source": source, "config": config_name,
        "crossbars": mapping.n_crossbars, "tiles": placement.n_tiles,
        "cycles": int(result.total_cycles), "events": events,
        "modules_s": t_modules, "import_s": t_import, "map_s": t_map, "sim_s": t_sim,
        "engine_s": t_engine, "events_per_s": events / t_engine,
        "engine_cpu_s": cpu_engine, "events_per_cpu_s": events / cpu_engine,
        "e2e_s": t_import + t_map + t_sim,
    }
    if with_pyref:
        ref = PyRefEngine(plan)
        t0, c0 = time.perf_counter(), time.process_time()
        ref_result = ref.run()
        row["pyref_s"] = time.perf_counter() - t0
        row["pyref_cpu_s"] = time.process_time() - c0
        row["pyref_events_per_s"] = ref_result.events_processed / row["pyref_s"]
        row["speedup"] = row["pyref_cpu_s"] / cpu_engine
        row["speedup_wall"] = row["pyref_s"] / t_engine
        if (ref_result.total_cycles, ref_result.events_processed) != (result.total_cycles, events):
            raise RuntimeError(f"{name}: pyref and cycle engine disagree")
    row["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def format_table(rows: list[dict]) -> str:
    """Wall seconds unless marked cpu; Mev/s = million events per second of the Cython loop."""
    head = (f"{'net':9} {'XBs':>6} {'events':>11} {'cycles':>11} {'engine s':>9} {'Mev/s':>6} "
            f"{'cpu s':>7} {'Mev/cpu-s':>9} {'pyref s':>8} {'speedup':>8} {'import s':>8} "
            f"{'map s':>6} {'sim s':>6} {'e2e s':>6} {'peak MiB':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        pyref = (f"{r['pyref_s']:8.2f} {r['speedup']:7.0f}x" if "pyref_s" in r
                 else f"{'-':>8} {'-':>8}")
        lines.append(
            f"{r['net']:9} {r['crossbars']:6d} {r['events']:11,d} {r['cycles']:11,d} "
            f"{r['engine_s']:9.3f} {r['events_per_s'] / 1e6:6.1f} {r['engine_cpu_s']:7.3f} "
            f"{r['events_per_cpu_s'] / 1e6:9.1f} {pyref} {r['import_s']:8.3f} {r['map_s']:6.3f} "
            f"{r['sim_s']:6.3f} {r['e2e_s']:6.2f} {r['peak_mib']:8.0f}")
    lines.append("speedup = pyref cpu s / engine cpu s on the same plan and events; "
                 "e2e = import + map + sim (wall)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", nargs="+", default=list(DEFAULT_NETS), choices=DEFAULT_NETS)
    parser.add_argument("--pyref", nargs="*", default=list(DEFAULT_PYREF),
                        help="nets to also run on the pure-Python reference (speedup)")
    parser.add_argument("--config", default="isaac", help="hardware config (default: isaac)")
    parser.add_argument("--repeat", type=int, default=3, help="engine runs; the best counts")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child process: one net, JSON out
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.config, args.one in args.pyref, args.repeat)))
        return 0
    rows = []
    for name in args.nets:
        cmd = [sys.executable, __file__, "--one", name, "--config", args.config,
               "--repeat", str(args.repeat), "--pyref", *args.pyref]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.stderr.write(done.stderr)
            return done.returncode
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {name}: done", file=sys.stderr)
    print(f"reramsim engine benchmark, config {args.config}, one core, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(format_table(rows))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({
            "config": args.config, "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "rows": rows}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
