"""Environments: every gymnax id, Brax as ``brax/<name>``, MuJoCo Playground as
``playground/<Name>``, the suites of :mod:`.suites` (``craftax/<Name>``,
``jumanji/<Name>``, ``xminigrid/<Name>``, ``navix/<Name>``, ``kinetix/<size>/<level>``),
our probe envs, user env objects (:mod:`.adapters`) and user env factories named
``module:callable``.

``make(name, backend=..., episode_length=...)`` returns an env wrapped with
episode-return tracking; see :mod:`jaxpg.envs.core` for the interface.
"""

from __future__ import annotations

import difflib

from jaxpg.config import BRAX_BACKENDS
from jaxpg.envs.adapters import adapt, from_factory, is_factory_spec
from jaxpg.envs.brax_env import BRAX_ENVS, BraxEnv
from jaxpg.envs.core import Box, Discrete, EpisodeStats, MultiDiscrete, SquashActions, clip_action
from jaxpg.envs.gymnax_env import GymnaxEnv
from jaxpg.envs.playground_env import PLAYGROUND_PREFIX, PlaygroundEnv, playground_names
from jaxpg.envs.policy_probes import POLICY_PROBES, make_policy_probe
from jaxpg.envs.probes import PROBES, make_probe
from jaxpg.envs.suites import check_suite_name, make_suite_env, suite_of
from jaxpg.errors import JaxpgError

GYMNAX_ENVS = (
    "CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0",
    "Asterix-MinAtar", "Breakout-MinAtar", "Freeway-MinAtar", "Seaquest-MinAtar",
    "SpaceInvaders-MinAtar", "Catch-bsuite", "DeepSea-bsuite", "MemoryChain-bsuite",
    "UmbrellaChain-bsuite", "DiscountingChain-bsuite", "MNISTBandit-bsuite",
    "SimpleBandit-bsuite", "FourRooms-misc", "MetaMaze-misc", "PointRobot-misc",
    "BernoulliBandit-misc", "GaussianBandit-misc", "Reacher-misc", "Swimmer-misc",
    "Pong-misc", "FrozenLake-misc",
)  # fmt: skip


def all_env_names() -> list[str]:
    """Every name :func:`make` accepts (Playground names only when it is installed)."""
    return [*GYMNAX_ENVS, *(f"brax/{n}" for n in BRAX_ENVS), *PROBES, *POLICY_PROBES,
            *playground_names()]


def check_env_name(name: str) -> None:
    """Raise a one-line :class:`JaxpgError` with the closest valid names if unknown."""
    if name in GYMNAX_ENVS or name in PROBES or name in POLICY_PROBES:
        return
    if name.removeprefix("brax/") in BRAX_ENVS:
        return
    if suite_of(name):
        return check_suite_name(name)
    if is_factory_spec(name):
        return
    if name.startswith(PLAYGROUND_PREFIX) and not playground_names():
        raise JaxpgError(
            f"env {name!r} needs MuJoCo Playground: pip install -e '.[playground]' "
            "(the PyPI package playground==0.2.0)"
        )
    names = all_env_names()
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise JaxpgError(
        f"unknown env {name!r}.{hint} Valid: gymnax ids (e.g. CartPole-v1), "
        f"brax/<name> (e.g. brax/halfcheetah), craftax/, jumanji/, xminigrid/ or navix/<Name>, "
        f"kinetix/<size>/<level>, "
        f"probes (e.g. Probe-Constant-v0), or your own env factory as module:callable."
    )


def make(
    name: str,
    backend: str = "positional",
    episode_length: int | None = None,
    squash_actions: bool = False,
    keep_obs_shape: bool = False,
):
    """Build an environment by name, wrapped with :class:`EpisodeStats`.

    ``backend`` applies to Brax only; ``episode_length`` overrides the time limit
    (Brax and Playground default 1000; gymnax defaults to each env's own limit).
    ``squash_actions``: the env takes pre-tanh actions (:class:`SquashActions`).
    ``keep_obs_shape``: gymnax observations keep their shape (an image for a CNN)
    instead of being flattened.
    """
    check_env_name(name)
    if suite_of(name):
        env = make_suite_env(name, episode_length)
    elif is_factory_spec(name):
        env = from_factory(name)
    elif name.startswith(PLAYGROUND_PREFIX):
        env = PlaygroundEnv(name[len(PLAYGROUND_PREFIX):], episode_length=episode_length)
    elif name.startswith("brax/"):
        if backend not in BRAX_BACKENDS:
            raise JaxpgError(
                f"unknown brax backend {backend!r}: use one of {', '.join(BRAX_BACKENDS)}"
            )
        env = BraxEnv(name.split("/", 1)[1], backend=backend, episode_length=episode_length or 1000)
    elif name in PROBES:
        env = make_probe(name)
    elif name in POLICY_PROBES:
        env = make_policy_probe(name, lambda gid: GymnaxEnv(gid, max_episode_steps=episode_length))
    else:
        env = GymnaxEnv(name, max_episode_steps=episode_length, keep_obs_shape=keep_obs_shape)
    return wrap(env, squash_actions)


def wrap(env, squash_actions: bool = False):
    """``EpisodeStats`` around ``env`` (squashing actions first for tanh-Gaussian policies)."""
    if squash_actions and not env.action_space.is_discrete:
        env = SquashActions(env)
    return EpisodeStats(env)


def wrap_user_env(env, squash_actions: bool = False):
    """A user's env object (see :func:`jaxpg.envs.adapters.adapt`) ready for training."""
    return wrap(adapt(env), squash_actions)


__all__ = ["Box", "Discrete", "MultiDiscrete", "EpisodeStats", "SquashActions", "clip_action",
           "make", "wrap", "POLICY_PROBES",
           "wrap_user_env", "adapt", "check_env_name", "all_env_names", "GYMNAX_ENVS",
           "BRAX_ENVS", "PROBES"]
