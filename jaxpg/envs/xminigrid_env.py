"""XLand-MiniGrid (``xminigrid/<Name>``): ``reset(params, key) -> timestep``,
``step(params, timestep, action) -> timestep``.

XLand-MiniGrid already keeps the two apart: a last step with discount 0 is a
termination (goal reached), a last step with discount 1 the time limit. Observations
(a ``[H, W, 2]`` integer grid of the agent's view) are flattened to float32.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxpg.envs.core import Discrete
from jaxpg.envs.suite_base import SuiteEnv, has_api


class XMiniGridEnv(SuiteEnv):
    """An XLand-MiniGrid env with its params behind jaxpg's interface."""

    def __init__(self, env, params, name: str | None = None):
        self.name = name or type(env).__name__
        self._env = env
        self._params = params
        self.max_episode_steps = None  # the env's own limit arrives as truncation
        self.action_space = Discrete(int(env.num_actions(params)))
        self._set_obs_size()

    def _reset(self, key):
        ts = self._env.reset(self._params, key)
        return ts.observation, ts

    def _step(self, key, inner, action):
        ts = self._env.step(self._params, inner, action)
        last = ts.step_type == 2
        terminated = jnp.logical_and(last, ts.discount == 0)
        return ts.observation, ts, ts.reward, terminated, jnp.logical_and(last, ts.discount > 0)


def make_xminigrid(name: str, episode_length: int | None = None) -> XMiniGridEnv:
    """``xminigrid/<name>`` (a name of ``xminigrid.registered_environments()``)."""
    import xminigrid

    env, params = xminigrid.make(name)
    if episode_length:
        params = params.replace(max_steps=int(episode_length))
    return XMiniGridEnv(env, params, name=f"xminigrid/{name}")


def is_xminigrid(env) -> bool:
    """XLand-MiniGrid's API: ``num_actions(params)``, ``observation_shape(params)`` and
    ``reset(params, key)``."""
    return has_api(env, ("num_actions", "observation_shape"), "reset", ("params", "key"))


def xminigrid_names() -> list[str]:
    import xminigrid

    return list(xminigrid.registered_environments())
