"""Tests for AUTO-PRUNE's agent (reramsim.prune.autoprune.agent), environment and search, and
``reramsim prune --scheme autoprune``."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reramsim.config import load_config  # noqa: E402
from reramsim.prune import PruningError  # noqa: E402
from reramsim.prune.autoprune.agent import DDPG, DDPGSettings  # noqa: E402
from reramsim.prune.autoprune.environment import PruningEnv  # noqa: E402
from reramsim.prune.autoprune.search import run_search  # noqa: E402

CFG = load_config("autoprune_128x128_ou32")


# --------------------------------------------------------------------------- the agent


def test_ddpg_learns_the_optimum_of_an_analytic_reward():
    """3 steps, reward 1 - mean (a_k - t_k)^2: AMC's DDPG ends near t = (0.2, 0.8, 0.5)."""
    torch.set_num_threads(1)
    targets = np.array([0.2, 0.8, 0.5])

    def episode(agent, ep, explore=True):
        acts, trans, prev = [], [], 0.0
        for k in range(3):
            s = np.array([k / 2, prev], np.float32)
            a = agent.act(s, ep, explore)
            trans.append((s, a, np.array([(k + 1) / 2, a], np.float32), k == 2))
            acts.append(a)
            prev = a
        return np.array(acts), 1 - np.mean((np.array(acts) - targets) ** 2), trans

    agent = DDPG(2, 3, warmup=50, seed=0)
    for ep in range(200):
        _, reward, trans = episode(agent, ep)
        agent.observe_episode(trans, reward, ep)
    acts, reward, _ = episode(agent, 10**6, explore=False)
    # random actions score ~0.86 on average, the best constant action (0.5) 0.94
    assert reward > 0.98
    assert np.abs(acts - targets).max() < 0.12
    assert acts[0] < acts[2] < acts[1]


def test_exploration_noise_schedule():
    """Warm-up actions uniform; then sigma = 0.5 * 0.95^(episode - warmup); actions in [0, 1]."""
    agent = DDPG(12, 4, warmup=10, seed=1)
    assert agent.sigma(5) == 0.5 and agent.sigma(12) == pytest.approx(0.5 * 0.95 ** 2)
    state = np.zeros(12, np.float32)
    warm = [agent.act(state, 0) for _ in range(200)]
    assert 0.4 < np.mean(warm) < 0.6 and np.std(warm) > 0.25
    late = [agent.act(state, 400) for _ in range(50)]  # sigma ~ 0: the actor's own action
    assert all(0 <= a <= 1 for a in warm + late)
    assert np.ptp(late) < 1e-3


def test_bad_agent_settings_are_refused():
    """Negative warm-up and nonsense DDPG settings are clear errors."""
    with pytest.raises(PruningError, match="--warmup must be >= 0"):
        DDPG(12, 4, warmup=-1)
    with pytest.raises(PruningError, match="tau must be in"):
        DDPG(12, 4, settings=DDPGSettings(tau=0.0))


# --------------------------------------------------------------------------- the environment


@pytest.fixture(scope="module")
def lenet_env():
    """LeNet (trained), 16 validation images of digits."""
    from reramsim.datasets import load_dataset
    from reramsim.training import load_trained

    torch.set_num_threads(2)
    x, y = load_dataset("digits", "train", (1, 32, 32), 120)
    return PruningEnv(load_trained("lenet"), CFG, (1, 32, 32), x[:32], (x[-16:], y[-16:]))


def test_state_features_match_hand_computed_lenet(lenet_env):
    """LeNet's 12 features per layer, by hand (8 slices: dense crossbars 1, 2, 32, 6, 1)."""
    env = lenet_env
    assert [t.xb_dense for t in env.table] == [1, 2, 32, 6, 1]
    raw = [[0, 1, 1, 6, 25, 32, 32, 1, 1, 0, 41, 0],
           [1, 1, 6, 16, 25, 14, 14, 1, 2, 0, 39, 0],
           [2, 0, 400, 120, 1, 1, 1, 1, 32, 0, 7, 0],
           [3, 0, 120, 84, 1, 1, 1, 1, 6, 0, 1, 0],
           [4, 0, 84, 10, 1, 1, 1, 1, 1, 0, 0, 0]]
    assert env.raw.tolist() == raw
    s = env.state(1, saved=5.0, prev_rate=0.3)
    want = [1 / 4, 1, 5 / 399, 10 / 114, 1, 13 / 31, 13 / 31, 0, 1 / 31, 5 / 42, 39 / 41, 0.3]
    assert s == pytest.approx(want)
    assert env.state(0, 0.0, 0.0)[[0, 1, 4, 5, 10]] == pytest.approx([0, 1, 1, 1, 1])


def test_action_bounds_and_crossbars(lenet_env):
    """Rates are action x bound (edges 0.5, others 0.98); crossbars shrink with the rate."""
    env = lenet_env
    assert env.rate(0, 1.0) == 0.5 and env.rate(2, 1.0) == 0.98 and env.rate(4, 1.0) == 0.5
    assert env.rate(2, 0.5) == pytest.approx(0.49)
    xbs = [env.crossbars(2, r) for r in (0.0, 0.5, 0.9)]
    assert xbs[0] >= xbs[1] >= xbs[2] and xbs[2] < xbs[0]


def test_reward_formula_and_max_drop(lenet_env):
    """reward = (1 - 1/CR)^alpha * acc; over --max-drop the reward is 0 and infeasible."""
    env = lenet_env
    rates = [0.1, 0.5, 0.9, 0.5, 0.1]
    xbs = [env.crossbars(k, r) for k, r in enumerate(rates)]
    cr, acc, reward, feasible = env.evaluate(rates, xbs)
    assert cr == pytest.approx(42 / sum(xbs))
    assert reward == pytest.approx((1 - 1 / cr) * acc) and feasible
    env.alpha, env.max_drop = 2.0, -1e-6 if acc < env.acc_dense else None
    _, _, reward2, feasible2 = env.evaluate(rates, xbs)
    if env.max_drop is None:
        assert reward2 == pytest.approx((1 - 1 / cr) ** 2 * acc)
    else:
        assert reward2 == 0.0 and not feasible2
    env.alpha, env.max_drop = 1.0, None


def test_bad_environment_arguments(lenet_env):
    """Empty validation split, granularity above the crossbar, bad alpha: clear errors."""
    from reramsim import zoo

    model = zoo.build("lenet").eval()
    x = np.zeros((4, 1, 32, 32), np.float32)
    y = np.zeros(4, np.int64)
    with pytest.raises(PruningError, match="validation split is empty"):
        PruningEnv(model, CFG, (1, 32, 32), x, (x[:0], y[:0]))
    with pytest.raises(PruningError, match="--granularity: granularity 129 is larger"):
        PruningEnv(model, CFG, (1, 32, 32), x, (x, y), granularity=129)
    with pytest.raises(PruningError, match="--alpha must be > 0"):
        PruningEnv(model, CFG, (1, 32, 32), x, (x, y), alpha=0)


# --------------------------------------------------------------------------- the search


def test_resumed_search_equals_uninterrupted(lenet_env, tmp_path):
    """Stop after 3 of 7 episodes, resume: same history, best policy and agent as one run."""
    settings = DDPGSettings(batch_size=4)  # updates start within the few episodes
    full = run_search(lenet_env, 7, warmup=2, seed=3, settings=settings, progress=False)
    ckpt = tmp_path / "s.ckpt"
    part = run_search(lenet_env, 7, warmup=2, seed=3, settings=settings, checkpoint=ckpt,
                      progress=False, stop_after=3)
    assert part.interrupted and part.episodes == 3
    rest = run_search(lenet_env, 7, warmup=2, seed=3, settings=settings, checkpoint=ckpt,
                      progress=False)
    assert rest.episodes == 7 and not rest.interrupted
    assert rest.history == full.history
    assert rest.best == full.best
    with pytest.raises(PruningError, match=r"differs in \['seed'\]"):
        run_search(lenet_env, 7, warmup=2, seed=4, settings=settings, checkpoint=ckpt,
                   progress=False)


def test_ctrl_c_keeps_the_best_policy(lenet_env, tmp_path):
    """A KeyboardInterrupt mid-search ends it cleanly: best policy kept, checkpoint written."""
    def interrupt(policy):
        if policy.episode == 2:
            raise KeyboardInterrupt

    ckpt = tmp_path / "c.ckpt"
    result = run_search(lenet_env, 6, warmup=2, checkpoint=ckpt, progress=False,
                        on_episode=interrupt)
    assert result.interrupted and result.episodes == 3 and ckpt.is_file()
    assert result.best is not None and result.best.episode <= 2
    assert result.best.reward == max(h["reward"] for h in result.history)


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def lenet_pth(repo_root):
    """The committed, trained LeNet state dict."""
    return repo_root / "models" / "lenet.pth"


FAST = ["--hw", "autoprune_128x128_ou32", "--data", "digits", "--limit", "300",
        "--val-size", "30", "--episodes", "3", "--warmup", "2", "--epochs", "0",
        "--reram-limit", "20", "--quiet"]


def test_cli_autoprune_end_to_end_is_reproducible(tmp_path, lenet_pth):
    """Two runs with one seed: same policy and file; JSON keys, fractions, metadata, crossbars."""
    import onnx

    from reramsim.cli import main
    from reramsim.mapping import map_network
    from reramsim.onnx_import import load_onnx
    from reramsim.prune.metadata import read_metadata, scheme_from_metadata

    outs = []
    for run in range(2):
        out, js = tmp_path / f"a{run}.onnx", tmp_path / f"a{run}.json"
        assert main(["prune", str(lenet_pth), "--scheme", "autoprune", *FAST, "-o", str(out),
                     "--json", str(js)]) == 0
        outs.append((out, json.loads(js.read_text())))
    (out, s), (out2, s2) = outs
    for key in ("scheme", "crossbars_dense", "crossbars", "cr_crossbars", "acc_float_dense",
                "acc_float", "acc_reram", "episodes", "search_seconds", "layers"):
        assert key in s
    assert s["scheme"] == "autoprune" and s["episodes"] == 3
    for key in ("acc_float_dense", "acc_float", "acc_reram"):
        assert 0.0 <= s[key] <= 1.0
    assert s["cr_crossbars"] == pytest.approx(s["crossbars_dense"] / s["crossbars"])
    assert all({"name", "rate", "crossbars_dense", "crossbars"} <= set(r) for r in s["layers"])
    assert [r["rate"] for r in s["layers"]] == [r["rate"] for r in s2["layers"]]
    assert onnx.load(str(out)).graph == onnx.load(str(out2)).graph
    network = load_onnx(out)
    meta = read_metadata(network)
    assert meta["autoprune"]["config"] == "autoprune_128x128_ou32"
    assert meta["params"]["granularity"] == 16
    assert list(meta["autoprune"]["rates"].values()) == [r["rate"] for r in s["layers"]]
    scheme, options = scheme_from_metadata(network)
    assert map_network(network, CFG, scheme, options).n_crossbars == s["crossbars"]


@pytest.mark.parametrize("extra, message", [
    (["--val-size", "0"], "validation split would be empty"),
    (["--granularity", "256"], "larger than the crossbar's 128 rows"),
    (["--episodes", "0"], "--episodes must be >= 1"),
])
def test_cli_autoprune_bad_arguments(tmp_path, lenet_pth, capsys, extra, message):
    """Bad autoprune flags exit 2 with one clear line."""
    from reramsim.cli import main

    args = [a for a in FAST if a not in ("--val-size", "30", "--episodes", "3")]
    rc = main(["prune", str(lenet_pth), "--scheme", "autoprune", *args, *extra,
               "-o", str(tmp_path / "x.onnx")])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_autoprune_flags_refused_with_other_schemes(tmp_path, lenet_pth, capsys):
    """--episodes with --scheme segprune is an error naming the flag."""
    from reramsim.cli import main

    assert main(["prune", str(lenet_pth), "--scheme", "segprune", "--episodes", "3",
                 "-o", str(tmp_path / "x.onnx")]) == 2
    assert "--episodes apply to --scheme autoprune only" in capsys.readouterr().err
