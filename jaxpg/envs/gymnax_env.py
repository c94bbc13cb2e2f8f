"""gymnax environments behind the jaxpg interface."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.envs.core import Box, Discrete, clip_action


def _flat(x) -> jax.Array:
    return jnp.reshape(jnp.asarray(x, jnp.float32), (-1,))


def _float(x) -> jax.Array:
    return jnp.asarray(x, jnp.float32)


PLOTTING_ONLY_IMPORTS = ("seaborn", "matplotlib.pyplot")
"""Modules gymnax imports at import time for its renderers only (Pong, the mazes and
Catch draw with them), loaded on their first use instead (:func:`import_gymnax`)."""


class _LoadedOnFirstUse(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet: the first attribute read
    imports the real module (which then takes its place in ``sys.modules``), and every
    read is answered by the real module."""

    def __getattr__(self, attr: str):
        real = sys.modules.get(self.__name__)
        if real is None or real is self:
            sys.modules.pop(self.__name__, None)
            real = importlib.import_module(self.__name__)
        return getattr(real, attr)


def import_gymnax():
    """``import gymnax``, with :data:`PLOTTING_ONLY_IMPORTS` loaded on their first use.

    Why: ``import gymnax`` imports every environment module, and its Pong imports
    seaborn (and so scipy.stats) and matplotlib's pyplot to render: about 2.2 s on a
    2-core CPU, paid by every run on any gymnax env before its first step. A module not
    yet imported is given a stand-in that imports it on its first attribute read, so
    rendering (gymnax's, or anyone's) still gets the real module.
    """
    for name in PLOTTING_ONLY_IMPORTS:
        if name not in sys.modules and importlib.util.find_spec(name.split(".")[0]) is not None:
            sys.modules[name] = _LoadedOnFirstUse(name)
    import gymnax

    return gymnax


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
            env, params = import_gymnax().make(name)
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
