"""Jumanji (``jumanji/<Name>``): ``reset(key) -> (state, timestep)``,
``step(state, action) -> (state, timestep)``.

Jumanji reports most time limits as terminations (discount 0). Where the env takes a
``time_limit`` argument the adapter sets it out of reach and applies the same limit
itself as truncation; otherwise a last step with a non-zero discount is a truncation.
Observations are flattened to one float32 vector; an ``action_mask`` with one entry
per discrete action (Snake, for example) comes beside it as
``{"obs": vector, "action_mask": bool [n]}``, so the policy never picks a masked action.
"""

from __future__ import annotations

import inspect

import jax.numpy as jnp
import numpy as np

from jaxpg.envs.core import Box, Discrete
from jaxpg.envs.suite_base import NO_LIMIT, SuiteEnv, has_api
from jaxpg.errors import JaxpgError


def _action_space(spec) -> Discrete | Box:
    spec = spec() if callable(spec) else spec
    if hasattr(spec, "num_values") and np.ndim(spec.num_values) == 0:
        return Discrete(int(spec.num_values))
    if hasattr(spec, "num_values"):
        raise JaxpgError(
            f"this jumanji env's actions are multi-discrete ({np.asarray(spec.num_values).tolist()}): "
            "jaxpg's policies take one Discrete or a Box; pick a task with one discrete action"
        )
    low = np.broadcast_to(np.asarray(spec.minimum, np.float32), spec.shape)
    high = np.broadcast_to(np.asarray(spec.maximum, np.float32), spec.shape)
    return Box(tuple(spec.shape), tuple(low.tolist()), tuple(high.tolist()))


class JumanjiEnv(SuiteEnv):
    """A Jumanji ``Environment`` instance behind jaxpg's interface."""

    def __init__(self, env, name: str | None = None, max_episode_steps: int | None = None):
        self.name = name or type(env).__name__
        self._env = env
        self.max_episode_steps = max_episode_steps
        self.action_space = _action_space(env.action_spec)
        self._set_obs_size()

    @property
    def jumanji_env(self):
        return self._env

    def _reset(self, key):
        state, ts = self._env.reset(key)
        return ts.observation, state

    def _step(self, key, inner, action):
        state, ts = self._env.step(inner, action)
        last = ts.step_type == 2  # jumanji.types.StepType.LAST
        own_limit = self.max_episode_steps is not None
        # Without our own limit a last step that keeps its discount is a time-out.
        terminated = last if own_limit else jnp.logical_and(last, ts.discount == 0)
        return ts.observation, state, ts.reward, terminated, jnp.logical_and(last, ~terminated)


def make_jumanji(name: str, episode_length: int | None = None) -> JumanjiEnv:
    """``jumanji/<name>``, its time limit applied by jaxpg as truncation where possible."""
    import jumanji

    entry = jumanji.registration._REGISTRY[name]  # the registered constructor and kwargs
    ctor = jumanji.registration.load(entry.entry_point)
    if "time_limit" in inspect.signature(ctor).parameters:
        limit = episode_length or getattr(jumanji.make(name), "time_limit")
        env = jumanji.make(name, time_limit=NO_LIMIT)
        return JumanjiEnv(env, name=f"jumanji/{name}", max_episode_steps=limit)
    return JumanjiEnv(jumanji.make(name), name=f"jumanji/{name}", max_episode_steps=episode_length)


def is_jumanji(env) -> bool:
    """Jumanji's API: ``observation_spec``, ``action_spec`` and ``step(state, action)``."""
    return has_api(env, ("observation_spec", "action_spec"), "step", ("state", "action"))


def jumanji_names() -> list[str]:
    import jumanji

    return list(jumanji.registered_environments())

