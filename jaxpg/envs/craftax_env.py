"""Craftax (``craftax/<Name>``) and any env with gymnax's older five-value API.

Craftax keeps gymnax's pre-1.0 ``step(key, state, action, params) -> (obs, state,
reward, done, info)``, whose single ``done`` mixes death with the time limit and
whose auto-reset loses the pre-reset observation. This adapter calls the env's
``step_env``/``reset_env`` (no reset inside), sets the env's own step limit out of
reach and applies the same limit itself as truncation, so a death is a termination
and a time-out a truncation, exactly. World generation makes Craftax's reset costly:
the adapter steps without resetting and resets optimistically (``reset_ratio``; see
:mod:`jaxpg.envs.batched`).
"""

from __future__ import annotations

import jax
import numpy as np

from jaxpg.envs.core import Box, Discrete
from jaxpg.envs.suite_base import NO_LIMIT, SuiteEnv

CRAFTAX_ENVS = (
    "Craftax-Classic-Symbolic-v1", "Craftax-Classic-Pixels-v1", "Craftax-Symbolic-v1",
    "Craftax-Pixels-v1",
)  # fmt: skip
# Fresh worlds generated per step: one for every 16 envs (Craftax's own PPO default).
DEFAULT_RESET_RATIO = 16
# Gymnax-style param names of a step limit: the adapter takes it over.
_LIMIT_FIELDS = ("max_timesteps", "max_steps_in_episode")


def _limit_field(params) -> str | None:
    return next((f for f in _LIMIT_FIELDS if hasattr(params, f)), None)


def action_space_of(space) -> Discrete | Box:
    """A gymnax-style space object as jaxpg's :class:`Discrete` or :class:`Box`."""
    if hasattr(space, "n"):
        return Discrete(int(space.n))
    low = np.broadcast_to(np.asarray(space.low, np.float32), space.shape)
    high = np.broadcast_to(np.asarray(space.high, np.float32), space.shape)
    return Box(tuple(space.shape), tuple(low.tolist()), tuple(high.tolist()))


class LegacyGymnaxEnv(SuiteEnv):
    """An env with ``step_env``/``reset_env``/``default_params`` whose ``step_env``
    returns five values (gymnax's older API, which Craftax keeps)."""

    def __init__(self, env, params=None, name: str | None = None,
                 max_episode_steps: int | None = None, reset_ratio: int = 1):  # fmt: skip
        self.name = name or type(env).__name__
        self._env = env
        params = env.default_params if params is None else params
        field = _limit_field(params)
        if field is not None:
            limit = int(getattr(params, field))
            params = params.replace(**{field: NO_LIMIT})
            max_episode_steps = max_episode_steps or limit
        self._params = params
        self.max_episode_steps = max_episode_steps
        self.reset_ratio = int(reset_ratio)
        self.action_space = self._declare_action_space(env.action_space(params))
        self._set_obs_size()

    def _declare_action_space(self, space):
        return action_space_of(space)

    @property
    def raw_env(self):  # not ``gymnax_env``: gymnax's renderer cannot draw these
        return self._env

    def _reset(self, key):
        return self._env.reset_env(key, self._params)

    def _step(self, key, inner, action):
        obs, inner, reward, done, _ = self._env.step_env(key, inner, action, self._params)
        return obs, inner, reward, done, False


def make_craftax(name: str, episode_length: int | None = None,
                 reset_ratio: int = DEFAULT_RESET_RATIO) -> LegacyGymnaxEnv:  # fmt: skip
    """``craftax/<name>`` (a name of :data:`CRAFTAX_ENVS`)."""
    from craftax.craftax_env import make_craftax_env_from_name

    env = make_craftax_env_from_name(name, auto_reset=False)
    return LegacyGymnaxEnv(env, name=f"craftax/{name}", max_episode_steps=episode_length,
                           reset_ratio=reset_ratio)  # fmt: skip


def returns_five(env) -> bool:
    """Whether a gymnax-like env's ``step`` returns five values (gymnax's older API;
    gymnax 1.0 returns six, with termination and truncation apart)."""
    params = env.default_params
    key = jax.random.PRNGKey(0)
    _, state = jax.eval_shape(env.reset, key, params)
    space = env.action_space(params)
    if hasattr(space, "n"):
        action = jax.ShapeDtypeStruct((), np.int32)
    else:
        action = jax.ShapeDtypeStruct(tuple(space.shape), np.float32)
    return len(jax.eval_shape(env.step, key, state, action, params)) == 5
