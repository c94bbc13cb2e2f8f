"""What the suite adapters (Craftax, Jumanji, XLand-MiniGrid, Navix, Kinetix) share.

Each suite steps one episode without resetting (``step_without_reset``); this base
adds the time limit (as *truncation*, counted here so it never mixes with the
suite's own terminations; a suite that reports its own time limit apart, as
XLand-MiniGrid and Navix do, passes it on), auto-reset with ``info["final_obs"]``, and flat float32
observations; a suite's ``action_mask`` that fits a ``Discrete(n)`` action space
(bool ``[n]``) travels beside them, ``{"obs": flat, "action_mask": mask}``, for the
masked policy (:mod:`jaxpg.distributions`). A subclass implements ``_reset(key) -> (obs_tree, inner)`` and
``_step(key, inner, action) -> (obs_tree, inner, reward, terminated, truncated)``, its
``truncated`` the suite's own time-out (False where the adapter applies the limit).
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

# A time limit the suite itself never reaches: ours (counted in SuiteState) applies.
NO_LIMIT = 2**30


@struct.dataclass
class SuiteState:
    inner: object
    t: jax.Array  # steps taken in the running episode


def flat_obs(tree, skip: tuple[str, ...] = ("action_mask",)) -> jax.Array:
    """The leaves of an observation pytree (but those named in ``skip``) as one flat
    float32 vector, in pytree order."""
    pairs = jax.tree_util.tree_flatten_with_path(tree)[0]
    leaves = [
        jnp.ravel(jnp.asarray(x, jnp.float32))
        for path, x in pairs
        if not any(getattr(p, "name", getattr(p, "key", None)) in skip for p in path)
    ]
    return jnp.concatenate(leaves) if len(leaves) > 1 else leaves[0]


def action_mask_of(tree, action_space) -> jax.Array | None:
    """The observation's top-level ``action_mask`` (a field or dict key) as bool, where
    it has one entry per action of a ``Discrete(n)`` space; else None (not passed on)."""
    mask = tree.get("action_mask") if isinstance(tree, dict) else getattr(tree, "action_mask", None)
    n = getattr(action_space, "n", None)
    if mask is None or not getattr(action_space, "is_discrete", False) or hasattr(action_space, "nvec"):
        return None
    return jnp.asarray(mask, bool) if tuple(jnp.shape(mask)) == (n,) else None


def has_api(env, attrs: tuple[str, ...], method: str, params: tuple[str, ...]) -> bool:
    """Whether ``env`` has ``attrs`` and its ``method``'s first parameters are named
    ``params``: how a suite's env instance is recognised (by API, not module name)."""
    if not all(hasattr(env, a) for a in attrs):
        return False
    try:
        names = list(inspect.signature(getattr(env, method)).parameters)
    except (AttributeError, TypeError, ValueError):
        return False
    return tuple(names[: len(params)]) == params


class SuiteEnv:
    """Base of the suite adapters (see the module docstring)."""

    name: str
    action_space: object
    max_episode_steps: int | None = None
    reset_ratio: int = 1  # see jaxpg.envs.batched

    def _set_obs_size(self) -> None:
        obs, _ = jax.eval_shape(self.reset, jax.random.PRNGKey(0))
        self.obs_size = int(np.prod((obs["obs"] if isinstance(obs, dict) else obs).shape))

    def _observe(self, tree):
        """The flat observation, with the suite's action mask beside it where it fits."""
        mask = action_mask_of(tree, self.action_space)
        return flat_obs(tree) if mask is None else {"obs": flat_obs(tree), "action_mask": mask}

    def reset(self, key):
        obs, inner = self._reset(key)
        return self._observe(obs), SuiteState(inner, jnp.zeros((), jnp.int32))

    def step_without_reset(self, key, state: SuiteState, action):
        obs, inner, reward, terminated, own_cut = self._step(key, state.inner, action)
        t = state.t + 1
        terminated = jnp.reshape(jnp.asarray(terminated, bool), ())
        cut = jnp.reshape(jnp.asarray(own_cut, bool), ())
        if self.max_episode_steps:
            cut = jnp.logical_or(cut, t >= self.max_episode_steps)
        truncated = jnp.logical_and(cut, jnp.logical_not(terminated))
        obs = self._observe(obs)
        reward = jnp.reshape(jnp.asarray(reward, jnp.float32), ())
        return obs, SuiteState(inner, t), reward, terminated, truncated, {"final_obs": obs}

    def step(self, key, state: SuiteState, action):
        k_step, k_reset = jax.random.split(key)
        obs, stepped, reward, terminated, truncated, info = self.step_without_reset(
            k_step, state, action
        )
        fresh_obs, fresh = self.reset(k_reset)
        done = jnp.logical_or(terminated, truncated)
        pick = lambda a, b: jnp.where(done, a, b)
        return (jax.tree.map(pick, fresh_obs, obs), jax.tree.map(pick, fresh, stepped), reward, terminated,
                truncated, info)  # fmt: skip
