"""Navix (``navix/<Name>``): ``reset(key) -> timestep``, ``step(timestep, action) ->
timestep``.

Navix already keeps the two apart: its ``step_type`` is 1 for a time-out at the env's
``max_steps`` (a truncation) and 2 for a genuine end (goal, lava: a termination). The
adapter turns Navix's own auto-reset off (under ``vmap`` it would compute a reset at
every step) and resets itself, so ``info["final_obs"]`` is the pre-reset observation.
Observations (a symbolic grid by default) are flattened to float32.

navix 4.0.0 declares Python >= 3.12: on an older Python it cannot be installed from
the ``navix`` extra and ``navix/<Name>`` says so in one line.
"""

from __future__ import annotations

from jaxpg.envs.core import Discrete
from jaxpg.envs.suite_base import SuiteEnv, has_api

TRUNCATION, TERMINATION = 1, 2  # navix's StepType values


class NavixEnv(SuiteEnv):
    """A Navix ``Environment`` instance behind jaxpg's interface."""

    def __init__(self, env, name: str | None = None):
        self.name = name or type(env).__name__
        self._env = env.replace(disable_autoreset=True)
        self.max_episode_steps = None  # the env's own max_steps arrives as truncation
        self.action_space = Discrete(int(env.action_space.n))
        self._set_obs_size()

    @property
    def navix_env(self):
        return self._env

    def _reset(self, key):
        ts = self._env.reset(key)
        return ts.observation, ts

    def _step(self, key, inner, action):
        ts = self._env.step(inner, action)
        kind = ts.step_type
        return ts.observation, ts, ts.reward, kind == TERMINATION, kind == TRUNCATION


def make_navix(name: str, episode_length: int | None = None) -> NavixEnv:
    """``navix/<name>`` (a name of ``navix.registry()``); ``episode_length`` sets its
    ``max_steps``."""
    import navix

    kwargs = {"max_steps": int(episode_length)} if episode_length else {}
    return NavixEnv(navix.make(name, **kwargs), name=f"navix/{name}")


def is_navix(env) -> bool:
    """Navix's API: ``action_set``, ``observation_fn`` and ``step(timestep, action)``."""
    return has_api(env, ("action_set", "observation_fn"), "step", ("timestep", "action"))


def navix_names() -> list[str]:
    import navix

    return sorted(navix.registry())
