"""Kinetix (``kinetix/<size>/<level>``, e.g. ``kinetix/s/h4_thrust_aim``): one of the
hand-made levels Kinetix ships (sizes ``s``, ``m``, ``l``), always reset to that level.

Kinetix keeps gymnax's older five-value ``step_env`` (:mod:`jaxpg.envs.craftax_env`),
its ``done`` mixing the goal, a hazard and the ``max_timesteps`` limit. The adapter
sets that limit out of reach and applies it itself, as truncation. Its three action
types are declared exactly: ``multi_discrete`` (Kinetix's default: 3 choices per
motor, 2 per thruster) as :class:`MultiDiscrete`, ``discrete`` as :class:`Discrete`,
``continuous`` as a :class:`Box` in [-1, 1]. Observations (``symbolic_flat`` by
default; ``pixels`` and ``symbolic_entity`` too) are flattened to float32.

kinetix-env 3.0.2 pins ``jax<=0.9.0``: it cannot be installed beside the jax jaxpg
runs on here, so ``kinetix/...`` says so in one line when it is not importable.
"""

from __future__ import annotations

import os

import numpy as np

from jaxpg.envs.core import Box, Discrete, MultiDiscrete
from jaxpg.envs.craftax_env import LegacyGymnaxEnv, action_space_of
from jaxpg.envs.suite_base import has_api
from jaxpg.errors import JaxpgError

ACTION_TYPES = ("multi_discrete", "discrete", "continuous")
OBSERVATION_TYPES = ("symbolic_flat", "symbolic_entity", "pixels")


def kinetix_action_space(space) -> Discrete | MultiDiscrete | Box:
    """Kinetix's ``MultiDiscrete`` (choices per component in
    ``number_of_dims_per_distribution``) or a gymnax ``Discrete``/``Box``, as jaxpg's."""
    per_component = getattr(space, "number_of_dims_per_distribution", None)
    if per_component is not None:
        return MultiDiscrete(tuple(int(n) for n in np.asarray(per_component)))
    return action_space_of(space)


class KinetixEnv(LegacyGymnaxEnv):
    """A Kinetix env (its params: the level's) behind jaxpg's interface."""

    def __init__(self, env, params=None, name: str | None = None,
                 max_episode_steps: int | None = None):  # fmt: skip
        super().__init__(env, params, name=name, max_episode_steps=max_episode_steps)

    def _declare_action_space(self, space):
        return kinetix_action_space(space)

    def _reset(self, key):
        return self._env.reset_env(key, self._params, None)  # None: the env's own reset_function


def is_kinetix(env) -> bool:
    """Kinetix's API: a physics engine, static params and ``reset_env(rng, env_params,
    override_reset_state)``."""
    return has_api(env, ("physics_engine", "static_env_params", "step_env"), "reset_env",
                   ("rng", "env_params", "override_reset_state"))  # fmt: skip


def _levels_dir() -> str:
    import kinetix

    return os.path.join(os.path.dirname(kinetix.__file__), "levels")


def kinetix_names() -> list[str]:
    """``<size>/<level>`` of every level Kinetix ships."""
    root = _levels_dir()
    return sorted(f"{size}/{f[:-5]}" for size in ("s", "m", "l")
                  if os.path.isdir(os.path.join(root, size))
                  for f in os.listdir(os.path.join(root, size)) if f.endswith(".json"))  # fmt: skip


def make_kinetix(name: str, episode_length: int | None = None,
                 action_type: str = "multi_discrete",
                 observation_type: str = "symbolic_flat") -> KinetixEnv:  # fmt: skip
    """``kinetix/<name>``, ``name`` one of :func:`kinetix_names`, reset to that level."""
    from kinetix.environment import ActionType, ObservationType, make_kinetix_env
    from kinetix.util.saving import load_from_json_file

    if action_type not in ACTION_TYPES or observation_type not in OBSERVATION_TYPES:
        raise JaxpgError(f"kinetix: action_type one of {', '.join(ACTION_TYPES)}, observation_type "
                         f"one of {', '.join(OBSERVATION_TYPES)} (got {action_type}, {observation_type})")  # fmt: skip
    level, static_params, params = load_from_json_file(os.path.join(_levels_dir(), name + ".json"))
    env = make_kinetix_env(ActionType.from_string(action_type),
                           ObservationType.from_string(observation_type), lambda _: level,
                           params, static_params, auto_reset=False)  # fmt: skip
    return KinetixEnv(env, params, name=f"kinetix/{name}", max_episode_steps=episode_length)
