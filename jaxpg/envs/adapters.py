"""Bring your own environment: ``make_train(config, env=my_env)``.

:func:`adapt` accepts

* an object with jaxpg's env interface (:class:`jaxpg.envs.core.Env`: ``name``,
  ``obs_size``, ``action_space``, ``reset(key)``, ``step(key, state, action) ->
  (obs, state, reward, terminated, truncated, info)`` with auto-reset and
  ``info["final_obs"]``) -- used as is;
* a gymnax environment instance, or a ``(gymnax_env, env_params)`` pair (gymnax 1.0
  API: ``step`` returns terminated and truncated apart);
* a Brax ``Env`` instance (time limit ours: a cut is truncation);
* a MuJoCo Playground env instance (``MjxEnv``);
* an env with gymnax's older API (``step`` returning five values, as Craftax keeps):
  :class:`jaxpg.envs.craftax_env.LegacyGymnaxEnv`;
* a Jumanji env instance, an XLand-MiniGrid ``(env, params)`` pair, a Navix env
  instance, or a Kinetix env (or ``(env, env_params)`` pair).

Suites are recognised by their API, not their module names. Every object is then
checked against the contract (:func:`check_contract`) by tracing one ``reset`` and
one ``step`` abstractly, so a missing ``info["final_obs"]`` or a wrong shape is one
line at make time, not a traceback from inside the training program.

``module:callable`` names a factory that returns any of the above
(:func:`from_factory`); ``jaxpg train --env mypkg.envs:make_env`` records it in the run
directory, so ``jaxpg eval`` and ``render`` rebuild the same env.

The explicit constructors :func:`from_gymnax`, :func:`from_brax` and
:func:`from_playground` take the options (names, time limits).
"""

from __future__ import annotations

import importlib
import math
import os
import re
import sys

import jax
import numpy as np

from jaxpg.envs.brax_env import BraxEnv
from jaxpg.envs.core import Box, Discrete, MultiDiscrete
from jaxpg.envs.craftax_env import LegacyGymnaxEnv, returns_five
from jaxpg.envs.gymnax_env import GymnaxEnv
from jaxpg.envs.info_mask import adapt_info_mask
from jaxpg.envs.jumanji_env import JumanjiEnv, is_jumanji
from jaxpg.envs.kinetix_env import KinetixEnv, is_kinetix
from jaxpg.envs.navix_env import NavixEnv, is_navix
from jaxpg.envs.playground_env import PlaygroundEnv
from jaxpg.envs.xminigrid_env import XMiniGridEnv, is_xminigrid
from jaxpg.errors import JaxpgError

INTERFACE = ("obs_size", "action_space", "reset", "step")


def from_gymnax(env, params=None, name: str | None = None, max_episode_steps: int | None = None):
    """A gymnax env instance with its params (default params when None); one whose
    ``step`` returns five values (gymnax's older API) goes through
    :class:`LegacyGymnaxEnv`."""
    if returns_five(env):
        return LegacyGymnaxEnv(env, params, name=name, max_episode_steps=max_episode_steps)
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
    if not isinstance(env.action_space, (Discrete, MultiDiscrete, Box)):
        raise JaxpgError(
            f"env {type(env).__name__}'s action_space is {env.action_space!r}: use "
            "jaxpg.envs.Discrete(n) or jaxpg.envs.Box(shape, low, high)"
        )


def adapt(env):
    """``env`` behind jaxpg's interface (see the module docstring for what is accepted)."""
    if isinstance(env, tuple) and len(env) == 2 and is_xminigrid(env[0]):
        env = XMiniGridEnv(*env)
    elif isinstance(env, tuple) and len(env) == 2 and is_kinetix(env[0]):
        env = KinetixEnv(*env)
    elif is_kinetix(env):  # before gymnax: its reset_env takes a third argument
        env = KinetixEnv(env)
    elif isinstance(env, tuple) and len(env) == 2 and _is_gymnax(env[0]):
        env = from_gymnax(*env)
    elif is_xminigrid(env):
        env = XMiniGridEnv(env, env.default_params())
    elif _is_gymnax(env):
        env = from_gymnax(env)
    elif _is_playground(env):
        env = from_playground(env)
    elif _is_brax(env):
        env = from_brax(env)
    elif is_jumanji(env):
        env = JumanjiEnv(env)
    elif is_navix(env):
        env = NavixEnv(env)
    else:
        check_interface(env)
        if not hasattr(env, "name"):
            env.name = type(env).__name__
    env = adapt_info_mask(env)
    check_contract(env)
    return env


def _shape_error(env, what: str, got, want: str) -> JaxpgError:
    return JaxpgError(
        f"env {env.name}: {what} is {got}, expected {want} (see jaxpg.envs.core for the contract)"
    )


def _check_obs(env, what: str, o, reset_obs) -> None:
    """An array observation has ``obs_size`` values (``[obs_size]`` or an image); a pytree
    one (e.g. a dict with an ``action_mask``) has reset's structure and shapes."""
    if hasattr(o, "shape") and hasattr(reset_obs, "shape"):
        flat = (env.obs_size,)
        if tuple(o.shape) != flat and (len(o.shape) < 2 or math.prod(o.shape) != env.obs_size):
            raise _shape_error(env, what, o.shape, f"a float vector of shape {flat}")
        if tuple(o.shape) != tuple(reset_obs.shape):
            raise _shape_error(env, what, o.shape, f"reset's shape {tuple(reset_obs.shape)}")
        return
    shapes = lambda t: jax.tree.map(lambda x: tuple(getattr(x, "shape", ())), t)
    if jax.tree.structure(o) != jax.tree.structure(reset_obs) or shapes(o) != shapes(reset_obs):
        raise _shape_error(env, what, shapes(o), f"reset's observation {shapes(reset_obs)}")


def check_contract(env) -> None:
    """One-line error if one abstract ``reset`` + ``step`` of ``env`` breaks the contract:
    an observation of ``obs_size`` values (a flat vector, or an image for a CNN) or a
    pytree of arrays, the same at reset, step and ``info["final_obs"]``; scalar reward
    and flags."""
    key = jax.random.PRNGKey(0)
    try:
        obs, state = jax.eval_shape(env.reset, key)
        if isinstance(env.action_space, MultiDiscrete):
            action = jax.ShapeDtypeStruct((len(env.action_space.nvec),), np.int32)
        elif env.action_space.is_discrete:
            action = jax.ShapeDtypeStruct((), np.int32)
        else:
            action = jax.ShapeDtypeStruct(tuple(env.action_space.shape), np.float32)
        out = jax.eval_shape(env.step, key, state, action)
    except JaxpgError:
        raise
    except Exception as e:  # the user's code failed while being traced
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise JaxpgError(f"env {env.name}: reset/step failed when traced: "
                         f"{type(e).__name__}: {first}") from None  # fmt: skip
    if not isinstance(out, tuple) or len(out) != 6:
        n = len(out) if isinstance(out, tuple) else type(out).__name__
        raise _shape_error(env, "step's output", n, "6 values (obs, state, reward, "
                           "terminated, truncated, info)")  # fmt: skip
    for what, o in (("reset's obs", obs), ("step's obs", out[0])):
        _check_obs(env, what, o, obs)
    for what, o in zip(("reward", "terminated", "truncated"), out[2:5]):
        if getattr(o, "shape", None) != ():
            raise _shape_error(env, f"step's {what}", getattr(o, "shape", type(o)), "a scalar")
    info = out[5]
    if not isinstance(info, dict) or "final_obs" not in info:
        keys = sorted(info) if isinstance(info, dict) else type(info).__name__
        raise _shape_error(env, "step's info", keys, 'a dict with "final_obs" (the observation '
                           "before the auto-reset)")  # fmt: skip
    _check_obs(env, 'info["final_obs"]', info["final_obs"], obs)
    if "action_mask" in info:  # adapt moves it into the observation when reset gives one
        raise JaxpgError(f"env {env.name}: step's info has an action_mask but reset gives none: "
                         "return (obs, state, {'action_mask': mask}) from reset")  # fmt: skip


_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def is_factory_spec(name: str) -> bool:
    """Whether ``name`` reads as ``module:callable`` (a user env factory)."""
    return bool(_FACTORY.match(name))


def from_factory(spec: str):
    """The env that ``module:callable`` returns when called with no arguments, adapted
    (modules are looked up on ``sys.path`` and in the current folder)."""
    module_name, attr = spec.split(":", 1)
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        target = importlib.import_module(module_name)
    except ImportError as e:
        raise JaxpgError(f"env factory {spec!r}: cannot import {module_name}: {e}") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise JaxpgError(f"env factory {spec!r}: {module_name} has no {attr}")
        target = getattr(target, part)
    if not callable(target):
        raise JaxpgError(f"env factory {spec!r}: {attr} is not callable")
    env = adapt(target())
    env.name = spec
    return env
