"""Bring your own environment: ``make_train(config, env=my_env)``.

:func:`adapt` accepts

* an object with jaxpg's env interface (:class:`jaxpg.envs.core.Env`: ``name``,
  ``obs_size``, ``action_space``, ``reset(key)``, ``step(key, state, action) ->
  (obs, state, reward, terminated, truncated, info)`` with auto-reset and
  ``info["final_obs"]``) -- used as is;
* a gymnax environment instance, or a ``(gymnax_env, env_params)`` pair (gymnax 1.0
  API: ``step`` returns terminated and truncated apart);
* a Brax ``Env`` instance (time limit ours: a cut is truncation);
* a MuJoCo Playground env instance (``MjxEnv``).

The explicit constructors :func:`from_gymnax`, :func:`from_brax` and
:func:`from_playground` take the options (names, time limits).
"""

from __future__ import annotations

import sys

from jaxpg.envs.brax_env import BraxEnv
from jaxpg.envs.core import Box, Discrete
from jaxpg.envs.gymnax_env import GymnaxEnv
from jaxpg.envs.playground_env import PlaygroundEnv
from jaxpg.errors import JaxpgError

INTERFACE = ("obs_size", "action_space", "reset", "step")


def from_gymnax(env, params=None, name: str | None = None, max_episode_steps: int | None = None):
    """A gymnax env instance with its params (default params when None)."""
    return GymnaxEnv(name or type(env).__name__, max_episode_steps, env=env, params=params)


def from_brax(env, episode_length: int = 1000, name: str | None = None):
    """A Brax ``Env`` instance; ``episode_length`` steps make a truncation."""
    return BraxEnv(name or type(env).__name__, episode_length=episode_length, env=env)


def from_playground(env, episode_length: int | None = None, name: str | None = None):
    """A MuJoCo Playground env instance; time limit ``episode_length`` (default: its config's)."""
    return PlaygroundEnv(name or type(env).__name__, episode_length=episode_length, env=env)


def _is_gymnax(env) -> bool:
    return hasattr(env, "default_params") and hasattr(env, "step_env")


def _is_playground(env) -> bool:
    module = sys.modules.get("mujoco_playground._src.mjx_env")
    return module is not None and isinstance(env, module.MjxEnv)


def _is_brax(env) -> bool:
    module = sys.modules.get("brax.envs.base")
    return module is not None and isinstance(env, module.Env)


def check_interface(env) -> None:
    """One-line error if ``env`` lacks part of jaxpg's env interface."""
    missing = [a for a in INTERFACE if not hasattr(env, a)]
    if missing:
        raise JaxpgError(
            f"env object {type(env).__name__} lacks {', '.join(missing)}: give an object with "
            "jaxpg's env interface (obs_size, action_space, reset(key), step(key, state, action)), "
            "a gymnax env or (env, params) pair, a Brax Env or a MuJoCo Playground env"
        )
    if not isinstance(env.action_space, (Discrete, Box)):
        raise JaxpgError(
            f"env {type(env).__name__}'s action_space is {env.action_space!r}: use "
            "jaxpg.envs.Discrete(n) or jaxpg.envs.Box(shape, low, high)"
        )


def adapt(env):
    """``env`` behind jaxpg's interface (see the module docstring for what is accepted)."""
    if isinstance(env, tuple) and len(env) == 2 and _is_gymnax(env[0]):
        return from_gymnax(*env)
    if _is_gymnax(env):
        return from_gymnax(env)
    if _is_playground(env):
        return from_playground(env)
    if _is_brax(env):
        return from_brax(env)
    check_interface(env)
    if not hasattr(env, "name"):
        env.name = type(env).__name__
    return env
