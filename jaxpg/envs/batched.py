"""Stepping a batch of envs, with optimistic resets for envs whose reset is expensive.

Every env steps one (unbatched) episode and auto-resets itself; ``jax.vmap`` makes a
batch. Under ``vmap`` the reset inside ``step`` is computed for *every* env at *every*
step (a ``where`` keeps it only where an episode ended), so an env whose reset is
costly (Craftax generates a whole world) pays that cost ``num_envs`` times per step.

An env may therefore also offer ``step_without_reset(key, state, action)`` (the same
six outputs as ``step``, but the returned obs/state are the post-step ones, not a new
episode's) and a ``reset_ratio`` ``R > 1``. :func:`step_batch` then steps every env
without resetting, generates only ``ceil(B / R)`` fresh initial states per step, and
hands them to the envs whose episode ended (the ``k``-th ended env takes fresh state
``k mod ceil(B / R)``). When more than ``ceil(B / R)`` episodes end in the same step,
some envs start from the same initial state; they diverge from the next step on, as
their step keys differ. This trades a little diversity of initial states for
``R`` times fewer resets (Craftax's own PPO calls the same remedy "optimistic
resets").
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def reset_ratio(env) -> int:
    """The env's ``reset_ratio`` (1 when it has none or cannot step without resetting)."""
    if not hasattr(env, "step_without_reset"):
        return 1
    return max(int(getattr(env, "reset_ratio", 1)), 1)


def step_batch(env, keys: jax.Array, state, action: jax.Array):
    """``jax.vmap(env.step)(keys, state, action)``, with optimistic resets where the env
    offers them (see the module docstring). Same outputs, batched over envs."""
    ratio = reset_ratio(env)
    if ratio == 1:
        return jax.vmap(env.step)(keys, state, action)
    obs, state, reward, terminated, truncated, info = jax.vmap(env.step_without_reset)(
        keys, state, action
    )
    num_envs = reward.shape[0]
    num_fresh = math.ceil(num_envs / ratio)
    reset_keys = jax.random.split(jax.random.fold_in(keys[0], 0x5E7), num_fresh)
    fresh_obs, fresh_state = jax.vmap(env.reset)(reset_keys)
    done = jnp.logical_or(terminated, truncated)
    which = jnp.mod(jnp.cumsum(done.astype(jnp.int32)) - 1, num_fresh)

    def take(fresh, stepped):
        pick = fresh[which]
        mask = jnp.reshape(done, (num_envs,) + (1,) * (stepped.ndim - 1))
        return jnp.where(mask, pick, stepped)

    info = dict(info)
    info["final_obs"] = obs
    new_obs = jax.tree.map(take, fresh_obs, obs)  # observations may be pytrees
    new_state = jax.tree.map(take, fresh_state, state)
    return new_obs, new_state, reward, terminated, truncated, info
