"""The one functional environment interface every algorithm sees.

``reset(key) -> (obs, state)`` and
``step(key, state, action) -> (obs, state, reward, terminated, truncated, info)``
for a single (unbatched) environment; ``jax.vmap`` makes it a batch.

* ``terminated``: the episode really ended (bootstrap from 0).
* ``truncated``: a time limit cut it (bootstrap from ``V(info["final_obs"])``).
* Auto-reset: when either flag is set, the returned ``obs``/``state`` already
  belong to a fresh episode and ``info["final_obs"]`` is the observation that the
  transition actually reached (before the reset). When neither is set,
  ``info["final_obs"]`` equals ``obs``.
* Episode bookkeeping (``EpisodeStats``) adds ``info["episode_return"]``,
  ``info["episode_length"]`` (values of the episode that just ended, valid where
  ``info["episode_done"]``).
* Observations are flat float32 vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import jax
import jax.numpy as jnp
from flax import struct


@dataclass(frozen=True)
class Discrete:
    """``n`` actions, integers ``0 .. n-1``."""

    n: int

    @property
    def is_discrete(self) -> bool:
        return True


@dataclass(frozen=True)
class Box:
    """A continuous action vector of ``shape`` within ``[low, high]`` (per component)."""

    shape: tuple[int, ...]
    low: float | tuple[float, ...]
    high: float | tuple[float, ...]

    @property
    def is_discrete(self) -> bool:
        return False

    @property
    def size(self) -> int:
        out = 1
        for s in self.shape:
            out *= s
        return out


@dataclass(frozen=True)
class MultiDiscrete:
    """A vector of independent discrete actions: component ``k`` is ``0 .. nvec[k]-1``.

    An action mask for it (``action_mask`` in the observation or ``info``) is
    ``[len(nvec), max(nvec)]`` booleans; entries past ``nvec[k]`` are ignored."""

    nvec: tuple[int, ...]

    @property
    def is_discrete(self) -> bool:
        return True

    @property
    def n(self) -> int:
        """The largest component's number of actions (the width of the logits)."""
        return max(self.nvec)


ActionSpace = Discrete | MultiDiscrete | Box


class Env(Protocol):
    name: str
    obs_size: int
    action_space: ActionSpace

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]: ...

    def step(
        self, key: jax.Array, state: Any, action: jax.Array
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, dict]: ...


def clip_action(action: jax.Array, space: ActionSpace) -> jax.Array:
    """Clip a continuous action into the box (discrete actions pass through).

    The Gaussian policy is unbounded; clipping happens here, in the environment, so
    the policy's log-probabilities stay those of the unclipped sample.
    """
    if space.is_discrete:
        return action
    low = jnp.asarray(space.low, jnp.float32)
    high = jnp.asarray(space.high, jnp.float32)
    return jnp.clip(action, low, high)


def inherit_interface(wrapper, env, step_without_reset) -> None:
    """Give ``wrapper`` what it keeps of ``env``'s interface: the env itself, its name,
    observation size, action space and time limit; and, when ``env`` steps without
    resetting (see :mod:`jaxpg.envs.batched`), ``step_without_reset`` (the wrapper's
    version, given) with the env's ``reset_ratio``."""
    wrapper.env = env
    wrapper.name = env.name
    wrapper.obs_size = env.obs_size
    wrapper.action_space = env.action_space
    wrapper.max_episode_steps = getattr(env, "max_episode_steps", None)
    if hasattr(env, "step_without_reset"):
        wrapper.reset_ratio = getattr(env, "reset_ratio", 1)
        wrapper.step_without_reset = step_without_reset


@struct.dataclass
class EpisodeStatsState:
    inner: Any
    episode_return: jax.Array
    episode_length: jax.Array


class EpisodeStats:
    """Tracks the undiscounted return and length of the running episode."""

    def __init__(self, env: Env):
        inherit_interface(self, env, self._step_without_reset)

    def reset(self, key):
        obs, inner = self.env.reset(key)
        return obs, EpisodeStatsState(inner, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))

    def step(self, key, state: EpisodeStatsState, action):
        return self._track(state, self.env.step(key, state.inner, action))

    def _step_without_reset(self, key, state: EpisodeStatsState, action):
        return self._track(state, self.env.step_without_reset(key, state.inner, action))

    @staticmethod
    def _track(state: EpisodeStatsState, out):
        obs, inner, reward, terminated, truncated, info = out
        ret = state.episode_return + reward
        length = state.episode_length + 1
        done = jnp.logical_or(terminated, truncated)
        info = dict(info)
        info["episode_done"] = done
        info["episode_return"] = ret
        info["episode_length"] = length
        new_state = EpisodeStatsState(
            inner,
            jnp.where(done, 0.0, ret),
            jnp.where(done, 0, length),
        )
        return obs, new_state, reward, terminated, truncated, info


def squash_action(u: jax.Array, space: Box) -> jax.Array:
    """``tanh(u)`` mapped affinely from ``(-1, 1)`` onto the box ``[low, high]``."""
    low = jnp.asarray(space.low, jnp.float32)
    high = jnp.asarray(space.high, jnp.float32)
    return low + 0.5 * (jnp.tanh(u) + 1.0) * (high - low)


class SquashActions:
    """Env wrapper for the tanh-Gaussian policy: takes pre-tanh actions ``u``.

    The inner env receives ``squash_action(u)`` (within its bounds), so the policy's
    samples, stored actions and log-probabilities all live in the unbounded
    pre-tanh space (see :class:`jaxpg.distributions.TanhGaussian`). The wrapper's
    action space is the inner box's shape, unbounded.
    """

    def __init__(self, env: Env):
        if env.action_space.is_discrete:
            raise ValueError("SquashActions needs a continuous (Box) action space")
        inherit_interface(self, env, self._step_without_reset)
        self.bounds = env.action_space
        self.action_space = Box(env.action_space.shape, float("-inf"), float("inf"))

    def __getattr__(self, name):  # backend handles (gymnax_env, brax_env, ...) for render
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    def reset(self, key):
        return self.env.reset(key)

    def step(self, key, state, action):
        return self.env.step(key, state, squash_action(action, self.bounds))

    def _step_without_reset(self, key, state, action):
        return self.env.step_without_reset(key, state, squash_action(action, self.bounds))
