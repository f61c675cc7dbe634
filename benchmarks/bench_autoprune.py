"""AUTO-PRUNE on the digits zoo: search speed, CR on crossbars, accuracy, efficiency, granularity.

Six parts (``--parts``, all by default):

* ``speed``: one episode on Plain20 with ``--val-size`` (200) validation images on one
  core (torch and BLAS at 1 thread): seconds per warm-up episode and per learning
  episode (with the agent's updates), split into crossbar counting (the mapper's
  count), the accuracy model (quantise + calibrate, then the validation images) and the
  agent; beside it, the functional model doing the same accuracy (build + run).
* ``ceiling``: what bounds the CR on crossbars, per ``--ceiling-models`` (default
  ``--models``), without the agent: the dense crossbars and the least any policy can reach
  (one crossbar per layer and conv group, as the mapper places them); every layer at
  the same rate (:data:`UNIFORM_RATES`, first and last layer capped at the agent's 0.5):
  crossbars, CR, the search's accuracy (not fine-tuned) and reward, optionally the test
  accuracy after ``--ceiling-epochs`` of fine-tuning, the mapper's OUs against full OUs,
  and the CR if OU slots were shared by all layers; optionally a coordinate search of
  the same reward (``--coordinate-passes``), a reference for what the agent finds.
* ``eval``: ``reramsim prune MODEL --scheme autoprune`` on each ``--models`` (default
  AlexNet, VGG16, Plain20; ``--quick``: Plain20 with few episodes and epochs) on
  ``autoprune_128x128_ou32``; then dense and pruned simulated (``--engine``, default
  analytical): CR on crossbars, float accuracy dense / pruned (drop in points), ReRAM
  accuracy (functional model), energy efficiency (dense energy / pruned energy per
  inference), area efficiency (throughput per area, pruned / dense), index overhead
  (weight index buffer bits / kept weight bits), search seconds. The paper's rows are
  printed beside ours.
* ``baselines`` (with ``eval``): PIM-Prune and Pattern-Prune at the network pruning ratio
  AUTO-PRUNE reached on the same model (``bench_schemes.pruned_model``, ``--epochs``), the
  same columns.
* ``granularity``: the same for ``g`` in ``--granularities`` on ``--granularity-model``
  (AlexNet; ``--quick``: LeNet).
* ``alpha``: the same for the reward exponent ``alpha`` in ``--alphas`` (1, 2, 4, 8) on each
  ``--models``: a larger ``alpha`` weighs the crossbars saved more against the accuracy of
  the pruned, not yet fine-tuned network (the slides do not give their ``alpha``).

Pruned models are cached as ``models/build/<model>_autoprune_g<g>_e<episodes>_f<epochs>.onnx``
(``..._a<alpha>.onnx`` for ``alpha`` other than 1)
with the CLI's JSON beside them (``--force`` redoes them). Writes
``models/build/bench_autoprune.json``.

    python benchmarks/bench_autoprune.py --quick
    python benchmarks/bench_autoprune.py --parts eval --models alexnet vgg16 plain20
    python benchmarks/bench_autoprune.py --parts ceiling --models lenet plain20 --ceiling-epochs 5
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reramsim import training as train  # noqa: E402
from reramsim.config import load_config  # noqa: E402
from reramsim.datasets import load_dataset  # noqa: E402
from reramsim.zoo import INPUT_SHAPES  # noqa: E402

BUILD = ROOT / "models" / "build"
HW = "autoprune_128x128_ou32"
#: Test images of the baselines' ReRAM accuracy (as ``reramsim prune --reram-limit``).
RERAM_IMAGES = 100
#: The slides' "Compression rate" table (CR on crossbars; accuracy drop, points).
PAPER = {"alexnet": {"autoprune": (14.3, 0.26), "pimprune": (4.3, 0.55), "pattern": (1.1, 2.88)},
         "vgg16": {"autoprune": (11.9, 0.67), "pimprune": (6.1, 0.67), "pattern": (2.6, 0.86)},
         "plain20": {"autoprune": (10.3, -0.15), "pimprune": (7.3, -0.05),
                     "pattern": (1.2, -0.10)}}


# --------------------------------------------------------------------------- speed


def bench_speed(val_size: int, episodes: int) -> dict:
    """Per-episode seconds on Plain20, one core (module doc)."""
    from threadpoolctl import threadpool_limits

    from reramsim.functional import FunctionalModel
    from reramsim.onnx_import import load_onnx
    from reramsim.prune.autoprune.agent import DDPG
    from reramsim.prune.autoprune.environment import N_STATE, PruningEnv
    from reramsim.prune.autoprune.search import run_episode

    torch.set_num_threads(1)
    config = load_config(HW)
    x, y = load_dataset("digits", "train", INPUT_SHAPES["plain20"])
    model = train.load_trained("plain20")
    with threadpool_limits(1):
        t0 = time.perf_counter()
        env = PruningEnv(model, config, INPUT_SHAPES["plain20"], x[:64],
                         (x[-val_size:], y[-val_size:]))
        setup = time.perf_counter() - t0
        warmup = 4  # 4 x 20 transitions fill a 64-transition batch: updates from episode 4 on
        agent = DDPG(N_STATE, env.n_layers, warmup=warmup, seed=0)
        timing = _Timing(env)
        rows = []
        for ep in range(warmup + episodes):
            timing.reset()
            t0, c0 = time.perf_counter(), time.process_time()
            policy, _, transitions = run_episode(env, agent, ep)
            t1 = time.perf_counter()
            agent.observe_episode(transitions, policy.reward, ep)
            t2 = time.perf_counter()
            rows.append({"episode": ep, "learning": ep >= warmup, "seconds": t2 - t0,
                         "cpu_seconds": time.process_time() - c0, "agent_update": t2 - t1,
                         **timing.parts})
        timing.restore()
        net = load_onnx(train.ensure("plain20"))
        t0 = time.perf_counter()
        fm = FunctionalModel(net, config, scheme="autoprune", calibration=x[:64])
        t1 = time.perf_counter()
        fm.accuracy(x[-val_size:], y[-val_size:])
        t2 = time.perf_counter()
    learn = [r for r in rows if r["learning"]]
    warm = [r for r in rows if not r["learning"]][1:]  # the first pays one-time imports
    mean = {k: float(np.mean([r[k] for r in learn])) for k in learn[0] if k not in
            ("episode", "learning")}
    return {"val_size": val_size, "setup_s": setup, "warmup_episode_s":
            float(np.mean([r["seconds"] for r in warm])),
            "warmup_episode_cpu_s": float(np.mean([r["cpu_seconds"] for r in warm])),
            "learning": mean,
            "functional_build_s": t1 - t0, "functional_accuracy_s": t2 - t1, "episodes": rows}


class _Timing:
    """Wraps the environment's crossbar count and evaluation to time them per episode."""

    def __init__(self, env) -> None:
        self.env, self.parts = env, {}
        self._crossbars, self._set, self._acc = env.crossbars, env.model.set_masks, \
            env.model.accuracy
        env.crossbars = self._wrap(self._crossbars, "crossbar_count")
        env.model.set_masks = self._wrap(self._set, "quantise_calibrate")
        env.model.accuracy = self._wrap(self._acc, "accuracy")

    def _wrap(self, fn, key):
        def timed(*a, **k):
            t0 = time.perf_counter()
            out = fn(*a, **k)
            self.parts[key] = self.parts.get(key, 0.0) + time.perf_counter() - t0
            return out
        return timed

    def reset(self) -> None:
        self.parts = {"crossbar_count": 0.0, "quantise_calibrate": 0.0, "accuracy": 0.0}

    def restore(self) -> None:
        self.env.crossbars, self.env.model.set_masks = self._crossbars, self._set
        self.env.model.accuracy = self._acc


# --------------------------------------------------------------------------- ceiling


#: Uniform rates of the ceiling part (the first and last layer capped at the agent's 0.5).
UNIFORM_RATES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)


def search_env(name: str, g: int, val_size: int):
    """The environment ``reramsim prune --scheme autoprune`` searches in (same split, seed 0)."""
    from reramsim.prune.autoprune.environment import PruningEnv
    from reramsim.prune.autoprune.workflow import CALIBRATION_IMAGES, split_train

    x, y = load_dataset("digits", "train", INPUT_SHAPES[name])
    train_split, val = split_train(x, y, val_size, seed=0)
    env = PruningEnv(train.load_trained(name), load_config(HW), INPUT_SHAPES[name],
                     train_split[0][:CALIBRATION_IMAGES], val, granularity=g)
    return env, train_split


def policy_facts(env, rates: list[float]) -> dict:
    """CR on crossbars, the search's accuracy and reward of ``rates``, and two packing bounds.

    ``ous``: the mapper's OUs; ``ous_full``: OUs if every OU were full (kept cells / OU
    cells, the bound on the OU formation's waste); ``cr_shared``: the CR if OU slots were
    shared by all layers (``ceil(ous / slots)`` crossbars per polarity, instead of at
    least one crossbar per layer and conv group).
    """
    from reramsim.mapping.autoprune import best_formation, slots_per_crossbar

    config = env.config
    slots, pol = slots_per_crossbar(config), config.polarities
    xbs, ous, cells = [], 0, 0
    for k, r in enumerate(rates):
        t, vms = env.table[k], env.vector_masks(k, r)
        xbs.append(env.crossbars(k, r))
        ous += sum(best_formation(vm, t.rows, env.granularity, config)[1] for vm in vms)
        heights = np.full(vms.shape[1], env.granularity)
        heights[-1] = t.rows - (vms.shape[1] - 1) * env.granularity
        cells += int((vms * heights[None, :, None]).sum()) * config.slices
    cr, acc, reward, _ = env.evaluate(rates, xbs)
    shared = -(-ous // slots) * pol
    return {"crossbars": sum(xbs), "cr": cr, "acc": acc, "reward": reward, "ous": ous,
            "ous_full": -(-cells // (config.ou.rows * config.ou.cols)),
            "cr_shared": env.total_dense / max(shared, 1)}


def finetuned_accuracy(env, name: str, rates: list[float], train_split: tuple,
                       epochs: int) -> float:
    """Test accuracy of ``rates`` after ``epochs`` of the workflow's fine-tuning."""
    from reramsim.prune.autoprune.workflow import finetune_policy
    from reramsim.prune.finetune import FinetuneSettings

    test = load_dataset("digits", "test", INPUT_SHAPES[name])
    result = finetune_policy(env, train.load_trained(name), rates, train_split, test,
                             FinetuneSettings(epochs=epochs), progress=False)
    return train.evaluate(result.model, *(torch.from_numpy(a) for a in test))


def coordinate_search(env, passes: int, step: float) -> dict:
    """A non-learning reference optimiser of the same reward: per layer (largest dense
    crossbar count first) try the actions ``0, step, 2*step, ...`` < 1 with the other
    layers fixed and keep the best; ``passes`` sweeps. Returns its best policy."""
    rates = [0.0] * env.n_layers
    best = policy_facts(env, rates)
    evals = 1
    order = np.argsort([-t.xb_dense for t in env.table], kind="stable")
    for _ in range(passes):
        for k in order:
            for u in np.arange(0.0, 1.0, step):
                trial = list(rates)
                trial[k] = env.rate(int(k), float(u))
                facts = policy_facts(env, trial)
                evals += 1
                if facts["reward"] > best["reward"]:
                    best, rates = facts, trial
    return {**best, "rates": rates, "evaluations": evals}


def bench_ceiling(name: str, g: int, args) -> dict:
    """What bounds the CR on crossbars of ``name`` (module doc, ``ceiling``)."""
    env, train_split = search_env(name, g, args.val_size)
    floor = sum(t.groups for t in env.table) * env.config.polarities
    rows = []
    for r in UNIFORM_RATES:
        rates = [float(min(r, m)) for m in env.max_rates]
        facts = {"rate": r, **policy_facts(env, rates)}
        if args.ceiling_epochs and r in args.ceiling_finetune:
            facts["acc_finetuned"] = finetuned_accuracy(env, name, rates, train_split,
                                                        args.ceiling_epochs)
        rows.append(facts)
        print(f"  {name} uniform {r:.2f}: " + ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in facts.items()
            if k != "rate"), flush=True)
    out = {"model": name, "g": g, "layers": env.n_layers, "xb_dense": int(env.total_dense),
           "xb_floor": floor, "cr_max": env.total_dense / floor, "acc_dense": env.acc_dense,
           "uniform": rows}
    if args.coordinate_passes:
        t0 = time.perf_counter()
        out["coordinate"] = coordinate_search(env, args.coordinate_passes, args.coordinate_step)
        out["coordinate"]["seconds"] = time.perf_counter() - t0
    return out


def format_ceiling(c: dict) -> str:
    lines = [f"{c['model']} (g={c['g']}): {c['layers']} layers, {c['xb_dense']} crossbars dense, "
             f"at least {c['xb_floor']} pruned (one per layer and conv group) -> CR <= "
             f"{c['cr_max']:.2f}; search accuracy dense {c['acc_dense']:.1%}",
             "| uniform rate | crossbars | CR | search acc (not fine-tuned) | reward | "
             "fine-tuned test acc | OUs | OUs if full | CR, slots shared by layers |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in c["uniform"]:
        ft = f"{r['acc_finetuned']:.2%}" if "acc_finetuned" in r else ""
        lines.append(f"| {r['rate']:.2f} | {r['crossbars']} | {r['cr']:.2f} | {r['acc']:.1%} | "
                     f"{r['reward']:.3f} | {ft} | {r['ous']} | {r['ous_full']} | "
                     f"{r['cr_shared']:.2f} |")
    if "coordinate" in c:
        co = c["coordinate"]
        lines.append(f"coordinate search ({co['evaluations']} policies, {co['seconds']:.0f} s): "
                     f"CR {co['cr']:.2f}, search acc {co['acc']:.1%}, reward {co['reward']:.3f}, "
                     f"rates {[round(r, 2) for r in co['rates']]}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- eval


def pruned(name: str, g: int, episodes: int, warmup: int, epochs: int, force: bool,
           alpha: float = 1.0) -> dict:
    """Run (or load the cached) ``reramsim prune --scheme autoprune``; its JSON summary."""
    from reramsim.cli import main

    suffix = "" if alpha == 1 else f"_a{alpha:g}"
    out = BUILD / f"{name}_autoprune_g{g}_e{episodes}_f{epochs}{suffix}.onnx"
    js = out.with_suffix(".json")
    if force or not (out.is_file() and js.is_file()):
        train.ensure(name)
        rc = main(["prune", name, "--scheme", "autoprune", "--hw", HW, "--data", "digits",
                   "--episodes", str(episodes), "--warmup", str(warmup), "--granularity",
                   str(g), "--epochs", str(epochs), "--alpha", f"{alpha:g}", "-o", str(out),
                   "--json", str(js)])
        if rc != 0:
            raise SystemExit(f"reramsim prune {name} failed ({rc})")
    return json.loads(js.read_text())


def efficiency(name: str, summary: dict, engine: str) -> dict:
    """Energy and area efficiency of the pruned model against dense (simulated)."""
    from reramsim.onnx_import import load_onnx
    from reramsim.prune import scheme_from_metadata
    from reramsim.report import build_report, compare_rows
    from reramsim.simulator import simulate

    config = load_config(HW)
    dense_net, pruned_net = load_onnx(train.ensure(name)), load_onnx(summary["output"])
    scheme, options = scheme_from_metadata(pruned_net)
    reports = [build_report(simulate(dense_net, config, "dense", engine)),
               build_report(simulate(pruned_net, config, scheme, engine, options=options))]
    dense, ours = compare_rows(reports)
    return {"energy_eff": dense["energy_pj"] / ours["energy_pj"],
            "area_eff": (dense["latency_ns"] * dense["area_um2"])
            / (ours["latency_ns"] * ours["area_um2"]),
            "speedup": ours["speedup"], "area_mm2_dense": dense["area_um2"] / 1e6,
            "area_mm2": ours["area_um2"] / 1e6}


def eval_row(name: str, g: int, args, alpha: float = 1.0) -> dict:
    s = pruned(name, g, args.episodes, args.warmup, args.epochs, args.force, alpha)
    row = {"model": name, "scheme": "autoprune", "g": g, "alpha": alpha,
           "episodes": s["episodes"],
           "search_s": s["search_seconds"], "pruning_ratio": s["pruning_ratio"],
           "xb_dense": s["crossbars_dense"], "xb": s["crossbars"], "cr": s["cr_crossbars"],
           "acc_dense": s["acc_float_dense"], "acc": s["acc_float"],
           "drop": 100 * (s["acc_float_dense"] - s["acc_float"]), "acc_reram": s["acc_reram"],
           "index_overhead": s["index_overhead"], "search_cr": s["search"]["cr_crossbars"],
           "search_acc": s["search"]["acc_reram"], "search_acc_dense":
           s["search"]["acc_reram_dense"]}
    row.update(efficiency(name, s, args.engine))
    return row


# --------------------------------------------------------------------------- baselines


def index_overhead(path: str) -> float:
    """Index-buffer bits of ``path``'s own mapping / (kept weights x weight bits)."""
    from reramsim.mapping import map_network
    from reramsim.onnx_import import load_onnx
    from reramsim.prune import scheme_from_metadata

    config = load_config(HW)
    network = load_onnx(path)
    scheme, options = scheme_from_metadata(network)
    mapping = map_network(network, config, scheme, options)
    bits = sum(m.index_storage_bits for m in mapping.layers.values())
    return bits / max(network.n_nonzero_weights * config.precision.weight_bits, 1)


def baseline_row(name: str, scheme: str, ratio: float, args) -> dict:
    """``scheme`` at network pruning ratio ``ratio`` (AUTO-PRUNE's) on ``HW``, same columns."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_schemes import pruned_model

    from reramsim.mapping import map_network
    from reramsim.onnx_import import load_onnx
    from reramsim.prune import scheme_from_metadata
    from reramsim.prune.workflow import reram_accuracy

    t0 = time.perf_counter()
    path, facts = pruned_model(name, scheme, HW, ratio, args.epochs, args.force)
    config = load_config(HW)
    network = load_onnx(path)
    sch, options = scheme_from_metadata(network)
    xb_dense = map_network(load_onnx(train.ensure(name)), config, "dense").n_crossbars
    mapping = map_network(network, config, sch, options)
    xb = mapping.n_crossbars
    dense, acc = facts["float_accuracy_dense"], facts["float_accuracy_pruned"]
    # ReRAM accuracy as the prune CLI measures it: 100 test images, calibrated on training ones
    test = load_dataset("digits", "test", INPUT_SHAPES[name], RERAM_IMAGES)
    calibration = load_dataset("digits", "train", INPUT_SHAPES[name], 64)[0]
    acc_reram = reram_accuracy(network, config, mapping, test, calibration, RERAM_IMAGES)
    row = {"model": name, "scheme": scheme, "g": "-", "episodes": 0,
           "search_s": time.perf_counter() - t0, "xb_dense": xb_dense, "xb": xb,
           "cr": xb_dense / max(xb, 1), "acc_dense": dense, "acc": acc,
           "drop": 100 * (dense - acc), "acc_reram": acc_reram,
           "pruning_ratio": network.n_weights / max(network.n_nonzero_weights, 1),
           "index_overhead": index_overhead(str(path))}
    row.update(efficiency(name, {"output": str(path)}, args.engine))
    return row


def format_rows(rows: list[dict]) -> str:
    """A markdown table; the paper's CR of the row's scheme and model at the end."""
    lines = ["| model | scheme | g | alpha | episodes | seconds | pruning ratio | "
             "crossbars dense -> "
             "pruned | CR on crossbars | float acc dense -> pruned (drop, points) | ReRAM acc | "
             "energy eff | area eff | index | paper CR |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        paper = PAPER.get(r["model"], {}).get(r["scheme"])
        reram = f"{r['acc_reram']:.1%}" if isinstance(r["acc_reram"], float) else "-"
        lines.append(
            f"| {r['model']} | {r['scheme']} | {r['g']} | {r.get('alpha', '-')} | "
            f"{r['episodes']} | {r['search_s']:.0f} | "
            f"{r['pruning_ratio']:.2f}x | {r['xb_dense']} -> {r['xb']} | {r['cr']:.2f} | "
            f"{r['acc_dense']:.2%} -> {r['acc']:.2%} ({r['drop']:.2f}) | {reram} | "
            f"{r['energy_eff']:.2f}x | {r['area_eff']:.2f}x | {r['index_overhead']:.2%} | "
            f"{paper[0] if paper else '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="Plain20 only, 40 episodes (10 warm-up), 3 fine-tuning epochs; "
                             "granularity on LeNet")
    parser.add_argument("--parts", nargs="+",
                        default=["speed", "ceiling", "eval", "baselines", "granularity", "alpha"])
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--episodes", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--granularities", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--granularity-model", default=None)
    parser.add_argument("--alphas", type=float, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--val-size", type=int, default=200)
    parser.add_argument("--speed-episodes", type=int, default=5)
    parser.add_argument("--engine", default="analytical")
    parser.add_argument("--ceiling-models", nargs="+", default=None,
                        help="ceiling part's models (default: --models)")
    parser.add_argument("--ceiling-epochs", type=int, default=0,
                        help="fine-tune the uniform policies of --ceiling-finetune this many "
                             "epochs (0: skip)")
    parser.add_argument("--ceiling-finetune", type=float, nargs="+", default=[0.5, 0.7, 0.9])
    parser.add_argument("--coordinate-passes", type=int, default=0,
                        help="sweeps of the coordinate-search reference (0: skip)")
    parser.add_argument("--coordinate-step", type=float, default=0.1)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--json", default=str(BUILD / "bench_autoprune.json"))
    args = parser.parse_args(argv)
    quick = args.quick
    args.models = args.models or (["plain20"] if quick else ["alexnet", "vgg16", "plain20"])
    args.episodes = args.episodes or (40 if quick else 400)
    args.warmup = args.warmup if args.warmup is not None else (10 if quick else 100)
    args.epochs = args.epochs if args.epochs is not None else (3 if quick else 30)
    args.granularity_model = args.granularity_model or ("lenet" if quick else "alexnet")
    BUILD.mkdir(parents=True, exist_ok=True)
    out: dict = {"args": vars(args)}
    if "speed" in args.parts:
        sp = bench_speed(args.val_size, args.speed_episodes)
        out["speed"] = sp
        ln = sp["learning"]
        print(f"speed, Plain20, {sp['val_size']} validation images, 1 core: warm-up episode "
              f"{sp['warmup_episode_s']:.3f} s (CPU {sp['warmup_episode_cpu_s']:.3f} s); "
              f"learning episode {ln['seconds']:.3f} s (CPU {ln['cpu_seconds']:.3f} s) = "
              f"crossbar count {ln['crossbar_count']:.3f} + quantise/calibrate "
              f"{ln['quantise_calibrate']:.3f} + accuracy {ln['accuracy']:.3f} + agent updates "
              f"{ln['agent_update']:.3f} (+ rest); functional model instead: build "
              f"{sp['functional_build_s']:.2f} s + accuracy {sp['functional_accuracy_s']:.2f} s",
              flush=True)
    torch.set_num_threads(2)
    if "ceiling" in args.parts:
        out["ceiling"] = []
        for name in args.ceiling_models or args.models:
            c = bench_ceiling(name, 16, args)
            out["ceiling"].append(c)
            print(format_ceiling(c), flush=True)
    if "eval" in args.parts:
        rows = []
        for name in args.models:
            rows.append(eval_row(name, 16, args))
            if "baselines" in args.parts:  # at AUTO-PRUNE's pruning ratio
                ratio = round(rows[-1]["pruning_ratio"], 2)
                rows += [baseline_row(name, scheme, ratio, args)
                         for scheme in ("pimprune", "pattern")]
        out["eval"] = rows
        print(f"\nAUTO-PRUNE on {HW}, digits, {args.episodes} episodes ({args.warmup} warm-up), "
              f"{args.epochs} fine-tuning epochs, engine {args.engine}")
        print(format_rows(rows), flush=True)
    if "granularity" in args.parts:
        rows = [eval_row(args.granularity_model, g, args) for g in args.granularities]
        out["granularity"] = rows
        print(f"\nGranularity on {args.granularity_model}")
        print(format_rows(rows), flush=True)
    if "alpha" in args.parts:
        rows = [eval_row(name, 16, args, alpha) for name in args.models for alpha in args.alphas]
        out["alpha"] = rows
        print("\nReward exponent alpha")
        print(format_rows(rows), flush=True)
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
