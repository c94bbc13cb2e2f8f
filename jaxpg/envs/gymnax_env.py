"""gymnax environments behind the jaxpg interface."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.envs.core import Box, Discrete, clip_action


def _flat(x) -> jax.Array:
    return jnp.reshape(jnp.asarray(x, jnp.float32), (-1,))


def _float(x) -> jax.Array:
    return jnp.asarray(x, jnp.float32)


class GymnaxEnv:
    """Wraps ``gymnax.make(name)``: float observations, flattened unless ``keep_obs_shape``
    (images such as MinAtar's ``[10, 10, C]`` for a CNN), clipped continuous actions."""

    def __init__(self, name: str, max_episode_steps: int | None = None, env=None, params=None,
                 keep_obs_shape: bool = False):  # fmt: skip
        """``gymnax.make(name)``, or the given gymnax ``env`` instance with its ``params``
        (its default params when None); ``name`` is then a label."""
        self.name = name
        self._shape = _float if keep_obs_shape else _flat
        if env is None:
            import gymnax

            env, params = gymnax.make(name)
        self._env = env
        params = env.default_params if params is None else params
        if max_episode_steps is not None:
            params = params.replace(max_steps_in_episode=int(max_episode_steps))
        self._params = params
        self.max_episode_steps = int(getattr(params, "max_steps_in_episode", 0)) or None
        space = self._env.action_space(params)
        if hasattr(space, "n"):
            self.action_space = Discrete(int(space.n))
        else:
            low = np.broadcast_to(np.asarray(space.low, np.float32), space.shape)
            high = np.broadcast_to(np.asarray(space.high, np.float32), space.shape)
            self.action_space = Box(tuple(space.shape), tuple(low.tolist()), tuple(high.tolist()))
        obs_shape = self._env.observation_space(params).shape
        self.obs_size = int(np.prod(obs_shape))

    @property
    def gymnax_env(self):
        return self._env

    @property
    def gymnax_params(self):
        return self._params

    def reset(self, key):
        obs, state = self._env.reset(key, self._params)
        return self._shape(obs), state

    def step(self, key, state, action):
        action = clip_action(action, self.action_space)
        obs, state, reward, terminated, truncated, info = self._env.step(
            key, state, action, self._params
        )
        out_info = {"final_obs": self._shape(info["final_observation"])}
        return (
            self._shape(obs),
            state,
            jnp.reshape(jnp.asarray(reward, jnp.float32), ()),
            jnp.reshape(jnp.asarray(terminated, bool), ()),
            jnp.reshape(jnp.asarray(truncated, bool), ()),
            out_info,
        )
