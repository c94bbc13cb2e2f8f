"""Brax environments behind the jaxpg interface (``brax/<name>``).

The time limit (``episode_length``) is ours, so a time-limit cut is reported as
truncation, never as termination. Auto-reset returns each env slot to the first
state it was reset to (Brax's own training convention), which keeps a reset
out of every step's cost; the key given to ``reset`` decides that state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg.envs.core import Box, clip_action

BRAX_ENVS = (
    "ant",
    "fast",
    "halfcheetah",
    "hopper",
    "humanoid",
    "humanoidstandup",
    "inverted_pendulum",
    "inverted_double_pendulum",
    "pusher",
    "reacher",
    "swimmer",
    "walker2d",
)


@struct.dataclass
class BraxState:
    inner: object  # brax.envs.base.State
    first: object  # the state this slot resets to
    time: jax.Array


class BraxEnv:
    def __init__(self, name: str, backend: str = "positional", episode_length: int = 1000, env=None):
        """Brax's ``name`` env, or the given Brax ``Env`` instance (``name`` a label)."""
        self.name = f"brax/{name}"
        if env is None:
            from brax import envs as brax_envs

            env = brax_envs.get_environment(name, backend=backend)
        self._env = env
        self.backend = backend
        self.max_episode_steps = int(episode_length)
        self.obs_size = int(self._env.observation_size)
        n = int(self._env.action_size)
        self.action_space = Box((n,), (-1.0,) * n, (1.0,) * n)

    @property
    def brax_env(self):
        return self._env

    def reset(self, key):
        s = self._env.reset(key)
        return s.obs, BraxState(s, s, jnp.zeros((), jnp.int32))

    def step(self, key, state: BraxState, action):
        del key  # Brax dynamics are deterministic
        action = clip_action(action, self.action_space)
        inner = state.inner.replace(done=jnp.zeros_like(state.inner.done))
        nxt = self._env.step(inner, action)
        time = state.time + 1
        terminated = jnp.asarray(nxt.done) > 0.5
        truncated = jnp.logical_and(time >= self.max_episode_steps, jnp.logical_not(terminated))
        done = jnp.logical_or(terminated, truncated)
        final_obs = nxt.obs
        new_inner = jax.tree.map(lambda a, b: jnp.where(done, a, b), state.first, nxt)
        new_state = BraxState(new_inner, state.first, jnp.where(done, 0, time))
        return (
            new_inner.obs,
            new_state,
            jnp.asarray(nxt.reward, jnp.float32),
            terminated,
            truncated,
            {"final_obs": final_obs},
        )
