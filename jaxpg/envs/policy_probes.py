"""Probe environments for the policy layer: memory and action masks.

Each has a known optimum and a known chance level:

* ``Probe-TMaze-v0`` (memory): a T-maze whose corridor the agent walks
  automatically. At step 0 the observation shows a cue ``c = +-1``; along the
  corridor (``corridor`` steps) it shows 0; at the junction a flag is set and the
  agent turns: action 1 (right) pays +1 if ``c = +1``, action 0 (left) pays +1 if
  ``c = -1``, the wrong turn pays -1. Actions in the corridor do nothing. A policy
  that remembers the cue gets +1 per episode; any feed-forward policy sees the
  same junction observation for both cues and gets 0 in expectation.
  Observation ``[cue, at_junction]``.
* ``Probe-MaskedTrap-v0`` (masks): each step one of 3 actions, drawn at random, is
  a trap: taking it pays -10 and ends the episode; the others pay +1. The
  observation is a dict ``{"obs": one-hot of the trap, "action_mask": the other
  two}``. A masked policy never takes the trap (return 10 over the 10-step
  episode), from its first update on; an unmasked one has to learn to avoid it.
* ``Probe-MaskedTrapInfo-v0``: the same task with the mask reported beside the
  observation, as Gymnasium-style envs do: ``reset`` returns ``(obs, state,
  {"action_mask": m})`` and ``step``'s ``info["action_mask"]`` is the mask of the
  observation it returns (:mod:`jaxpg.envs.info_mask` moves it into the observation).
* ``CartPole-NoVelocity-v1``: gymnax's CartPole with the two velocities removed from
  the observation (``[x, theta]``), the standard partially observed check for
  recurrent policies: a feed-forward policy cannot estimate the velocities.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg.envs.core import Discrete
from jaxpg.envs.info_mask import InfoActionMask

TRAP_PENALTY = -10.0


@struct.dataclass
class TMazeState:
    t: jax.Array
    cue: jax.Array  # +-1


class TMaze:
    """The T-maze memory probe (module doc); episodes last ``corridor + 1`` steps."""

    def __init__(self, corridor: int = 4):
        self.name = "Probe-TMaze-v0"
        self.corridor = corridor
        self.obs_size = 2
        self.action_space = Discrete(2)
        self.max_episode_steps = None

    def _obs(self, s: TMazeState) -> jax.Array:
        cue = jnp.where(s.t == 0, s.cue, 0.0)
        return jnp.stack([cue, (s.t == self.corridor).astype(jnp.float32)])

    def reset(self, key):
        cue = jnp.where(jax.random.bernoulli(key), 1.0, -1.0)
        s = TMazeState(jnp.zeros((), jnp.int32), cue)
        return self._obs(s), s

    def step(self, key, state: TMazeState, action):
        at_junction = state.t == self.corridor
        right = jnp.asarray(action) == 1
        correct = jnp.where(state.cue > 0, right, jnp.logical_not(right))
        reward = jnp.where(at_junction, jnp.where(correct, 1.0, -1.0), 0.0).astype(jnp.float32)
        nxt = TMazeState(state.t + 1, state.cue)
        final_obs = self._obs(nxt)
        obs0, s0 = self.reset(key)
        new = jax.tree.map(lambda a, b: jnp.where(at_junction, a, b), s0, nxt)
        obs = jnp.where(at_junction, obs0, final_obs)
        return obs, new, reward, at_junction, jnp.zeros((), bool), {"final_obs": final_obs}


@struct.dataclass
class TrapState:
    t: jax.Array
    trap: jax.Array  # int32 in [0, 3)


class MaskedTrap:
    """The masked-action probe (module doc): 3 actions, 10-step episodes."""

    def __init__(self, episode_steps: int = 10):
        self.name = "Probe-MaskedTrap-v0"
        self.episode_steps = episode_steps
        self.obs_size = 3
        self.action_space = Discrete(3)
        self.max_episode_steps = episode_steps

    @staticmethod
    def _obs(s: TrapState) -> dict:
        onehot = jnp.arange(3) == s.trap
        return {"obs": onehot.astype(jnp.float32), "action_mask": jnp.logical_not(onehot)}

    def _fresh(self, key, t):
        return TrapState(t, jax.random.randint(key, (), 0, 3))

    def reset(self, key):
        s = self._fresh(key, jnp.zeros((), jnp.int32))
        return self._obs(s), s

    def step(self, key, state: TrapState, action):
        k_trap, k_reset = jax.random.split(key)
        trapped = jnp.asarray(action) == state.trap
        reward = jnp.where(trapped, TRAP_PENALTY, 1.0).astype(jnp.float32)
        nxt = self._fresh(k_trap, state.t + 1)
        truncated = jnp.logical_and(jnp.logical_not(trapped), nxt.t >= self.episode_steps)
        done = jnp.logical_or(trapped, truncated)
        final_obs = self._obs(nxt)
        obs0, s0 = self.reset(k_reset)
        new = jax.tree.map(lambda a, b: jnp.where(done, a, b), s0, nxt)
        obs = jax.tree.map(lambda a, b: jnp.where(done, a, b), obs0, final_obs)
        return obs, new, reward, trapped, truncated, {"final_obs": final_obs}


class MaskedTrapInfo:
    """:class:`MaskedTrap` whose mask comes in ``reset``'s and ``step``'s info (module doc)."""

    def __init__(self, episode_steps: int = 10):
        self.trap = MaskedTrap(episode_steps)
        self.name = "Probe-MaskedTrapInfo-v0"
        self.obs_size, self.action_space = self.trap.obs_size, self.trap.action_space
        self.max_episode_steps = episode_steps

    def reset(self, key):
        obs, s = self.trap.reset(key)
        return obs["obs"], s, {"action_mask": obs["action_mask"]}

    def step(self, key, state: TrapState, action):
        obs, s, reward, term, trunc, info = self.trap.step(key, state, action)
        info = {"final_obs": info["final_obs"]["obs"], "action_mask": obs["action_mask"]}
        return obs["obs"], s, reward, term, trunc, info


class DropObs:
    """Keeps the observation components ``keep`` of a flat-observation env (all else as is)."""

    def __init__(self, env, keep: tuple[int, ...], name: str):
        self.env = env
        self.name = name
        self.keep = jnp.asarray(keep)
        self.obs_size = len(keep)
        self.action_space = env.action_space
        self.max_episode_steps = getattr(env, "max_episode_steps", None)

    def __getattr__(self, name):  # backend handles (gymnax_env, ...) for render
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    def reset(self, key):
        obs, state = self.env.reset(key)
        return obs[..., self.keep], state

    def step(self, key, state, action):
        obs, state, reward, term, trunc, info = self.env.step(key, state, action)
        info = {**info, "final_obs": info["final_obs"][..., self.keep]}
        return obs[..., self.keep], state, reward, term, trunc, info


POLICY_PROBES = ("Probe-TMaze-v0", "Probe-MaskedTrap-v0", "Probe-MaskedTrapInfo-v0", "CartPole-NoVelocity-v1")


def make_policy_probe(name: str, make_gymnax):
    """The env ``name`` (one of :data:`POLICY_PROBES`); ``make_gymnax(id)`` builds a gymnax env."""
    if name == "Probe-TMaze-v0":
        return TMaze()
    if name == "Probe-MaskedTrap-v0":
        return MaskedTrap()
    if name == "Probe-MaskedTrapInfo-v0":
        return InfoActionMask(MaskedTrapInfo())
    return DropObs(make_gymnax("CartPole-v1"), (0, 2), name)
