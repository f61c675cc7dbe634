"""The AUTO-PRUNE search: episodes of the agent in the environment, the best policy, resuming.

One episode = one pass over the layers: the agent picks a rate per layer from its
state (:mod:`.environment`), the mapper counts the crossbars, and at the end the
policy is scored (``CR_xb``, ``acc_reram``, reward). The best feasible policy (highest
reward; with ``max_drop``, only policies within the accuracy constraint) is kept.

A checkpoint (agent with its replay buffer, baseline and RNG states; the episode
count; the best policy; the history; the elapsed time) is written atomically after
every episode, so a search interrupted at any point and resumed with the same
settings makes exactly the episodes an uninterrupted one would. Ctrl-C stops the
search after the current step and keeps the best policy so far.

:func:`policy_ratio` gives the network pruning ratio of a policy, which
:func:`.workflow.finetune_policy` hands to the shared driver
(:func:`reramsim.prune.finetune.prune_model`) with an :class:`~.projection.AutoPrunePruner`
that carries the rates.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from reramsim.prune.autoprune.agent import DDPG, DDPGSettings
from reramsim.prune.autoprune.environment import N_STATE, PruningEnv
from reramsim.prune.base import PruningError

CHECKPOINT_FORMAT = 1


@dataclass
class Policy:
    """A scored policy: a rate and the mapper's crossbar count per layer."""

    episode: int
    rates: list[float]
    crossbars: list[int]
    cr: float
    acc_reram: float
    reward: float


@dataclass
class SearchResult:
    """What :func:`run_search` returns."""

    best: Policy | None
    episodes: int  # episodes completed (all runs of a resumed search together)
    seconds: float  # search time (all runs together)
    interrupted: bool
    history: list[dict[str, float]] = field(default_factory=list)


def run_episode(env: PruningEnv, agent: DDPG, episode: int, explore: bool = True
                ) -> tuple[Policy, bool, list]:
    """One pass over the layers; returns the scored policy, its feasibility, its transitions."""
    saved, prev = 0.0, 0.0
    rates, crossbars, transitions = [], [], []
    n = env.n_layers
    for k in range(n):
        s = env.state(k, saved, prev)
        u = agent.act(s, episode, explore)
        rate = env.rate(k, u)
        xb = env.crossbars(k, rate)
        saved += env.table[k].xb_dense - xb
        s2 = env.state(k + 1, saved, rate) if k + 1 < n else s
        transitions.append((s, u, s2, k + 1 == n))
        rates.append(rate)
        crossbars.append(xb)
        prev = rate
    cr, acc, reward, feasible = env.evaluate(rates, crossbars)
    return Policy(episode, rates, crossbars, cr, acc, reward), feasible, transitions


def run_search(env: PruningEnv, episodes: int, warmup: int = 100, *, seed: int = 0,
               settings: DDPGSettings | None = None,
               checkpoint: str | os.PathLike[str] | None = None,
               signature: dict[str, Any] | None = None, progress: bool = True,
               stop_after: int | None = None, threads: int | None = 1,
               on_episode: Callable[[Policy], None] | None = None) -> SearchResult:
    """Search ``episodes`` episodes (resuming from ``checkpoint`` when it exists).

    Args:
        env: the environment; episodes: total episodes (>= 1); warmup: random episodes.
        seed: seeds the agent (networks, noise, replay sampling).
        checkpoint: file to resume from and write after every episode (None: none).
        signature: facts a checkpoint must match (model, config, data, settings).
        progress: show a progress bar (episode, reward, best CR and its accuracy).
        stop_after: stop (as if interrupted) after this many episodes of this run (tests).
        threads: torch threads during the search (None: unchanged). One by default: an
            episode is many mid-sized operations, which extra threads slow down badly as
            soon as the cores are shared (measured: 6x slower with 2 threads on 2 busy cores).
        on_episode: called with every scored policy.

    Raises:
        PruningError: bad episode counts, or a checkpoint made with other settings.
    """
    if episodes < 1:
        raise PruningError(f"--episodes must be >= 1, got {episodes}")
    settings = settings or DDPGSettings()
    agent = DDPG(N_STATE, env.n_layers, warmup, settings, seed)
    sig = {"format": CHECKPOINT_FORMAT, "seed": seed, "warmup": warmup,
           "ddpg": asdict(settings), "granularity": env.granularity, "alpha": env.alpha,
           "max_drop": env.max_drop, "n_val": len(env.val[0]),
           "max_rates": env.max_rates.tolist(), "config": env.config.name,
           "bn_recalibration": env.model.bn_recalibration, **(signature or {})}
    ckpt = Path(checkpoint) if checkpoint else None
    start, best, history, seconds = 0, None, [], 0.0
    if ckpt is not None and ckpt.is_file():
        start, best, history, seconds = _load(ckpt, sig, agent)
    bar = tqdm(total=episodes, initial=min(start, episodes), desc="autoprune search",
               unit="ep", disable=not progress)
    interrupted, done = False, start
    t0 = time.perf_counter()
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        for episode in range(start, episodes):
            if stop_after is not None and episode - start >= stop_after:
                interrupted = True
                break
            policy, feasible, transitions = run_episode(env, agent, episode)
            agent.observe_episode(transitions, policy.reward, episode)
            if feasible and (best is None or policy.reward > best.reward):
                best = policy
            history.append({"episode": episode, "reward": policy.reward, "cr": policy.cr,
                            "acc_reram": policy.acc_reram})
            done = episode + 1
            if ckpt is not None:
                _save(ckpt, sig, agent, done, best, history,
                      seconds + time.perf_counter() - t0)
            if on_episode is not None:
                on_episode(policy)
            bar.update(1)
            bar.set_postfix_str(f"reward {policy.reward:.3f} best CR "
                                + (f"{best.cr:.2f} acc {best.acc_reram:.2%}" if best else "-"))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        torch.set_num_threads(saved_threads)
    return SearchResult(best, done, seconds + time.perf_counter() - t0, interrupted, history)


def _save(path: Path, sig: dict, agent: DDPG, episode: int, best: Policy | None,
          history: list, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"signature": sig, "agent": agent.state_dict(), "episode": episode,
                "best": asdict(best) if best else None, "history": history,
                "seconds": seconds}, tmp)
    os.replace(tmp, path)


def _load(path: Path, sig: dict, agent: DDPG) -> tuple[int, Policy | None, list, float]:
    try:
        data = torch.load(path, weights_only=False)
    except Exception as err:
        raise PruningError(f"{path}: not a readable AUTO-PRUNE checkpoint "
                           f"({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict) or data.get("signature") != sig:
        theirs = data.get("signature", {}) if isinstance(data, dict) else {}
        diff = sorted(k for k in set(sig) | set(theirs) if sig.get(k) != theirs.get(k))
        raise PruningError(f"{path}: checkpoint of another search (differs in {diff}); "
                           "remove it or pass another --checkpoint")
    agent.load_state_dict(data["agent"])
    best = Policy(**data["best"]) if data["best"] else None
    return int(data["episode"]), best, list(data["history"]), float(data["seconds"])


# --------------------------------------------------------------------------- the best policy


def policy_ratio(env: PruningEnv, rates: list[float]) -> float:
    """Network pruning ratio (dense weights / kept weights) of a policy on the dense scores."""
    dense = kept = 0
    for k, (t, r) in enumerate(zip(env.table, rates)):
        vm = env.vector_masks(k, r)
        heights = np.full(vm.shape[1], env.granularity)
        heights[-1] = t.rows - (vm.shape[1] - 1) * env.granularity
        kept += int((vm * heights[None, :, None]).sum())
        dense += t.groups * t.rows * t.cols
    return dense / max(kept, 1)
