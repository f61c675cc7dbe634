"""DDPG with the defaults of AMC (He et al., ECCV 2018), which AUTO-PRUNE's agent follows.

AUTO-PRUNE states that a DDPG agent picks each layer's rate [paper]; its settings are
not published, so AMC's are used [reconstruction], every one a field of
:class:`DDPGSettings`:

* actor ``state -> 300 -> 300 -> 1`` (ReLU, sigmoid output: the action in [0, 1]);
  critic ``(state -> 300) + (action -> 300) -> ReLU -> 300 -> 1``;
* Adam, learning rates 1e-4 (actor) and 1e-3 (critic); soft target updates ``tau = 0.01``;
  discount ``gamma = 1``; batch 64; replay buffer ``100 x layers`` transitions;
* ``warmup`` episodes (default 100) of uniform random actions, then the actor's action
  plus truncated-normal noise in [0, 1] with ``sigma = 0.5 * 0.95^(episode - warmup)``;
* every transition of an episode gets the episode's final reward; a batch's rewards are
  centred on a moving average of batch means (``moving_alpha = 0.5``);
* one policy update per transition observed after the warm-up.

All randomness comes from one :class:`numpy.random.Generator` and torch's global
generator, both saved in :meth:`DDPG.state_dict` so a resumed search continues exactly.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy.stats import truncnorm
from torch import nn

from reramsim.prune.base import PruningError


@dataclass
class DDPGSettings:
    """AMC's DDPG defaults (module doc)."""

    hidden: int = 300
    lr_actor: float = 1e-4
    lr_critic: float = 1e-3
    tau: float = 0.01
    gamma: float = 1.0
    batch_size: int = 64
    buffer_per_layer: int = 100
    sigma0: float = 0.5
    sigma_decay: float = 0.95
    moving_alpha: float = 0.5

    def check(self) -> None:
        if self.hidden < 1 or self.batch_size < 1 or self.buffer_per_layer < 1:
            raise PruningError("DDPG: hidden, batch_size and buffer_per_layer must be >= 1")
        if not 0 < self.tau <= 1 or not 0 <= self.gamma <= 1:
            raise PruningError("DDPG: tau must be in (0, 1] and gamma in [0, 1]")


class Actor(nn.Module):
    def __init__(self, n_state: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_state, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, 1), nn.Sigmoid())

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.net(s)


class Critic(nn.Module):
    def __init__(self, n_state: int, hidden: int) -> None:
        super().__init__()
        self.fs, self.fa = nn.Linear(n_state, hidden), nn.Linear(1, hidden)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                  nn.Linear(hidden, 1))

    def forward(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.head(self.fs(s) + self.fa(a))


class ReplayBuffer:
    """A ring buffer of ``(state, action, reward, next state, done)``, float32 arrays."""

    def __init__(self, capacity: int, n_state: int) -> None:
        self.capacity = capacity
        self.s = np.zeros((capacity, n_state), np.float32)
        self.a = np.zeros((capacity, 1), np.float32)
        self.r = np.zeros((capacity, 1), np.float32)
        self.s2 = np.zeros((capacity, n_state), np.float32)
        self.done = np.zeros((capacity, 1), np.float32)
        self.size = 0
        self.head = 0

    def add(self, s, a, r, s2, done) -> None:
        i = self.head
        self.s[i], self.a[i, 0], self.r[i, 0], self.s2[i], self.done[i, 0] = s, a, r, s2, done
        self.head = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int, rng: np.random.Generator) -> list[torch.Tensor]:
        idx = rng.integers(0, self.size, size=n)
        return [torch.from_numpy(arr[idx]) for arr in (self.s, self.a, self.r, self.s2,
                                                       self.done)]

    def state_dict(self) -> dict:
        return {k: getattr(self, k).copy() if isinstance(getattr(self, k), np.ndarray)
                else getattr(self, k) for k in ("s", "a", "r", "s2", "done", "size", "head")}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, v.copy() if isinstance(v, np.ndarray) else v)


class DDPG:
    """The agent: actor, critic, their targets, the replay buffer and the exploration noise.

    Args:
        n_state: state features; n_layers: steps per episode (sizes the buffer).
        warmup: episodes of random actions; settings: :class:`DDPGSettings`; seed: all RNGs.
    """

    def __init__(self, n_state: int, n_layers: int, warmup: int = 100,
                 settings: DDPGSettings | None = None, seed: int = 0) -> None:
        self.settings = settings or DDPGSettings()
        self.settings.check()
        if warmup < 0:
            raise PruningError(f"--warmup must be >= 0, got {warmup}")
        st = self.settings
        self.warmup = warmup
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.actor, self.critic = Actor(n_state, st.hidden), Critic(n_state, st.hidden)
        self.actor_target, self.critic_target = Actor(n_state, st.hidden), Critic(n_state,
                                                                                 st.hidden)
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=st.lr_actor)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=st.lr_critic)
        self.buffer = ReplayBuffer(st.buffer_per_layer * n_layers, n_state)
        self.moving_average: float | None = None

    def sigma(self, episode: int) -> float:
        """Exploration noise of ``episode`` (0-based): ``sigma0 * decay^(episode - warmup)``."""
        return self.settings.sigma0 * self.settings.sigma_decay ** max(0, episode - self.warmup)

    @torch.no_grad()
    def act(self, state: np.ndarray, episode: int, explore: bool = True) -> float:
        """The action in [0, 1]: random in the warm-up, else actor + truncated-normal noise."""
        if explore and episode < self.warmup:
            return float(self.rng.uniform(0.0, 1.0))
        mu = float(self.actor(torch.as_tensor(state, dtype=torch.float32)[None])[0, 0])
        if not explore:
            return mu
        sigma = self.sigma(episode)
        a, b = (0.0 - mu) / sigma, (1.0 - mu) / sigma
        return float(np.clip(truncnorm.rvs(a, b, loc=mu, scale=sigma, random_state=self.rng),
                             0.0, 1.0))

    def observe_episode(self, transitions: list[tuple[np.ndarray, float, np.ndarray, bool]],
                        reward: float, episode: int) -> None:
        """Store an episode's transitions with its final reward; update after the warm-up."""
        for s, a, s2, done in transitions:
            self.buffer.add(s, a, reward, s2, float(done))
            if episode >= self.warmup and self.buffer.size >= self.settings.batch_size:
                self.update()

    def update(self) -> None:
        """One DDPG step on a sampled batch (module doc), on one thread.

        The networks are small (300 wide, batch 64): extra threads only add
        synchronisation, which costs a lot when the cores are busy.
        """
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self._update()
        finally:
            torch.set_num_threads(threads)

    def _update(self) -> None:
        st = self.settings
        s, a, r, s2, done = self.buffer.sample(st.batch_size, self.rng)
        mean = float(r.mean())
        self.moving_average = mean if self.moving_average is None else (
            self.moving_average + st.moving_alpha * (mean - self.moving_average))
        r = r - self.moving_average
        with torch.no_grad():
            target = r + st.gamma * (1 - done) * self.critic_target(s2, self.actor_target(s2))
        critic_loss = nn.functional.mse_loss(self.critic(s, a), target)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        actor_loss = -self.critic(s, self.actor(s)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()
        with torch.no_grad():
            for net, tgt in ((self.actor, self.actor_target), (self.critic, self.critic_target)):
                for p, q in zip(net.parameters(), tgt.parameters()):
                    q.mul_(1 - st.tau).add_(p, alpha=st.tau)

    def state_dict(self) -> dict:
        """Everything a resumed search needs: networks, optimizers, buffer, baseline, RNGs."""
        return {"settings": asdict(self.settings), "warmup": self.warmup,
                "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "actor_target": self.actor_target.state_dict(),
                "critic_target": self.critic_target.state_dict(),
                "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(),
                "buffer": self.buffer.state_dict(), "moving_average": self.moving_average,
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict) -> None:
        for name in ("actor", "critic", "actor_target", "critic_target", "actor_opt",
                     "critic_opt"):
            getattr(self, name).load_state_dict(state[name])
        self.buffer.load_state_dict(state["buffer"])
        self.moving_average = state["moving_average"]
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
