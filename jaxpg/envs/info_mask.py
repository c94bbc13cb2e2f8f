"""Action masks reported in ``info`` (as Gymnasium-style envs do) instead of in the observation.

Such an env gives the mask of every observation it returns beside it:

* ``reset(key) -> (obs, state, {"action_mask": mask})``: a third value, the reset's
  info, carries the first observation's mask;
* ``step(key, state, action) -> (obs, state, reward, terminated, truncated, info)``
  with ``info["action_mask"]`` the mask of the returned ``obs`` (after an auto-reset:
  of the new episode's first observation).

:class:`InfoActionMask` turns it into jaxpg's one form, the mask as the ``action_mask``
leaf of the observation (``{"obs": obs, "action_mask": mask}``, or added to a dict
observation), so the policy reads it when it acts, the trajectory stores it with the
observation it belongs to for the update, and every acting path (rollouts, REINFORCE's
episodes, evaluation, ``jaxpg eval``/``render``) sees it without knowing where it came
from. ``info["final_obs"]`` (the observation before an auto-reset, only ever valued by
the critic, which ignores masks) gets the same mask so the observation keeps one
structure. :func:`adapt_info_mask` applies the wrapper where an env needs it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxpg.envs.core import inherit_interface
from jaxpg.errors import JaxpgError

MASK = "action_mask"


def with_mask(obs: Any, mask: jax.Array) -> dict:
    """``obs`` with ``mask`` as its ``action_mask`` leaf."""
    return {**obs, MASK: mask} if isinstance(obs, dict) else {"obs": obs, MASK: mask}


class InfoActionMask:
    """An env whose masks come in ``info`` (module doc), with them moved into its observations."""

    def __init__(self, env):
        inherit_interface(self, env, self._step_without_reset)

    def __getattr__(self, name):  # backend handles (gymnax_env, ...) for render
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    def reset(self, key):
        obs, state, info = self.env.reset(key)
        return with_mask(obs, jnp.asarray(info[MASK])), state

    def step(self, key, state, action):
        return self._merge(self.env.step(key, state, action))

    def _step_without_reset(self, key, state, action):
        return self._merge(self.env.step_without_reset(key, state, action))

    @staticmethod
    def _merge(out):
        obs, state, reward, terminated, truncated, info = out
        info = dict(info)
        mask = jnp.asarray(info.pop(MASK))
        info["final_obs"] = with_mask(info["final_obs"], mask)
        return with_mask(obs, mask), state, reward, terminated, truncated, info


def adapt_info_mask(env):
    """``env`` wrapped in :class:`InfoActionMask` if its ``reset`` returns ``(obs, state,
    info)`` with an ``action_mask``; as it is otherwise (one abstract ``reset``, no env
    step runs). A step info mask without a reset one is refused by
    :func:`jaxpg.envs.adapters.check_contract`."""
    try:
        out = jax.eval_shape(env.reset, jax.random.PRNGKey(0))
    except Exception:  # noqa: BLE001  (not ours to judge: the contract check reports it)
        return env
    if not isinstance(out, tuple) or len(out) != 3:
        return env
    if not isinstance(out[2], dict) or MASK not in out[2]:
        raise JaxpgError(f"env {env.name}: reset returned 3 values; the third must be an info "
                         f"dict with the first observation's action_mask")  # fmt: skip
    return InfoActionMask(env)
