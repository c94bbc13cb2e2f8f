"""Probe environments that isolate one piece of an agent at a time.

Each is tiny and has a known answer (gamma = discount of the learner):

* ``Probe-Constant-v0``: one action, obs 0, reward +1, one-step episodes.
  Tests value learning alone: ``V = 1``.
* ``Probe-ObsReward-v0``: obs is +-1 at random, reward = obs, one step.
  Tests that the critic reads the observation: ``V(+1) = 1, V(-1) = -1``.
* ``Probe-Delayed-v0``: two steps, obs 0 then 1, reward +1 only at the end.
  Tests discounting/credit through time: ``V(obs 0) = gamma, V(obs 1) = 1``.
* ``Probe-TwoActions-v0``: obs 0, action 1 gives +1, action 0 gives -1, one step.
  Tests policy learning: the policy should pick action 1.
* ``Probe-ObsAction-v0``: obs is +-1, reward +1 if the action matches the sign
  (action 1 for +1, action 0 for -1), else -1. Tests obs-conditioned policy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg.envs.core import Discrete


@struct.dataclass
class ProbeState:
    t: jax.Array
    sign: jax.Array


class ProbeEnv:
    def __init__(self, name: str, kind: str, n_actions: int, episode_steps: int):
        self.name = name
        self.kind = kind
        self.obs_size = 1
        self.action_space = Discrete(n_actions)
        self.episode_steps = episode_steps
        self.max_episode_steps = None

    def _sign(self, key):
        if self.kind in ("obs_reward", "obs_action"):
            return jnp.where(jax.random.bernoulli(key), 1.0, -1.0)
        return jnp.zeros(())

    def _obs(self, state: ProbeState):
        if self.kind == "delayed":
            return jnp.reshape(state.t.astype(jnp.float32), (1,))
        return jnp.reshape(state.sign, (1,))

    def reset(self, key):
        state = ProbeState(jnp.zeros((), jnp.int32), self._sign(key))
        return self._obs(state), state

    def _reward(self, state: ProbeState, action):
        a = jnp.asarray(action)
        if self.kind == "constant":
            return jnp.ones(())
        if self.kind == "obs_reward":
            return state.sign
        if self.kind == "delayed":
            return jnp.where(state.t == self.episode_steps - 1, 1.0, 0.0)
        if self.kind == "two_actions":
            return jnp.where(a == 1, 1.0, -1.0)
        # obs_action
        match = jnp.where(state.sign > 0, a == 1, a == 0)
        return jnp.where(match, 1.0, -1.0)

    def step(self, key, state: ProbeState, action):
        reward = self._reward(state, action).astype(jnp.float32)
        nxt = ProbeState(state.t + 1, state.sign)
        terminated = nxt.t >= self.episode_steps
        final_obs = self._obs(nxt)
        obs0, state0 = self.reset(key)
        new_state = jax.tree.map(lambda a, b: jnp.where(terminated, a, b), state0, nxt)
        obs = jnp.where(terminated, obs0, final_obs)
        return obs, new_state, reward, terminated, jnp.zeros((), bool), {"final_obs": final_obs}


PROBES = {
    "Probe-Constant-v0": ("constant", 1, 1),
    "Probe-ObsReward-v0": ("obs_reward", 1, 1),
    "Probe-Delayed-v0": ("delayed", 1, 2),
    "Probe-TwoActions-v0": ("two_actions", 2, 1),
    "Probe-ObsAction-v0": ("obs_action", 2, 1),
}


def make_probe(name: str) -> ProbeEnv:
    kind, n_actions, steps = PROBES[name]
    return ProbeEnv(name, kind, n_actions, steps)
