"""Returns and advantage estimators: pure functions on time-major ``[T, B]`` arrays.

Time indexing used everywhere in this module: at step ``t`` the agent is in state
``s_t``, takes ``a_t``, receives ``rewards[t]`` and lands in ``s_{t+1}``.

* ``terminated[t]``: ``s_{t+1}`` is terminal -- the episode really ended, the value
  of ``s_{t+1}`` is 0 and nothing is bootstrapped.
* ``truncated[t]``: the episode was cut by a time limit (or the end of the data);
  ``s_{t+1}`` is *not* terminal, so the tail is bootstrapped from
  ``next_values[t] = V(s_{t+1})``, the value of the pre-reset final observation.
* ``next_values[t]``: ``V(s_{t+1})`` where ``s_{t+1}`` is the true next state (the
  final observation before any auto-reset).

Either flag ends the episode, so a recursion never carries information across the
boundary; only ``terminated`` zeroes the bootstrap. Treating truncation as
termination (as many trainers do) biases value targets of time-limited tasks.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def _check_time_major(*arrays) -> None:
    """Every per-step input has the same ``[T]`` or ``[T, B]`` shape (checked at trace time)."""
    chex.assert_rank(arrays[0], {1, 2})
    chex.assert_equal_shape(arrays)


def _reverse_scan(step, init, xs):
    _, ys = jax.lax.scan(step, init, xs, reverse=True)
    return ys


def td_errors(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    gamma: float | jax.Array,
) -> jax.Array:
    """One-step TD errors ``delta_t = r_t + gamma (1 - term_t) V(s_{t+1}) - V(s_t)``.

    All arguments are ``[T, B]`` (or ``[T]``); returns the same shape.
    """
    _check_time_major(rewards, values, next_values, terminated)
    not_term = 1.0 - terminated.astype(rewards.dtype)
    return rewards + gamma * not_term * next_values - values


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float | jax.Array,
    lam: float | jax.Array,
) -> jax.Array:
    """Generalized advantage estimation (Schulman et al. 2016, eq. 16).

    ``A_t = delta_t + gamma * lam * (1 - done_t) * A_{t+1}``, with
    ``delta_t = r_t + gamma (1 - term_t) V(s_{t+1}) - V(s_t)`` and
    ``done_t = term_t or trunc_t``; ``A_T = 0`` beyond the last step, so the last
    step of a segment bootstraps through ``next_values`` alone.

    lam = 0 gives one-step TD errors; lam = 1 gives bootstrapped Monte Carlo
    (n-step up to the segment end) advantages. Shapes ``[T, B]`` (or ``[T]``).
    """
    _check_time_major(rewards, values, next_values, terminated, truncated)
    deltas = td_errors(rewards, values, next_values, terminated, gamma)
    done = jnp.logical_or(terminated, truncated).astype(rewards.dtype)
    decay = gamma * lam * (1.0 - done)

    def step(next_adv, x):
        delta, d = x
        adv = delta + d * next_adv
        return adv, adv

    return _reverse_scan(step, jnp.zeros_like(deltas[0]), (deltas, decay))


def td_lambda_returns(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float | jax.Array,
    lam: float | jax.Array,
) -> jax.Array:
    """TD(lambda) value targets ``G^lambda_t = A^GAE_t + V(s_t)``.

    lam = 1 gives the n-step bootstrapped return up to the segment end (A2C's
    target); lam = 0 gives the one-step TD target.
    """
    return gae(rewards, values, next_values, terminated, truncated, gamma, lam) + values


def nstep_returns(
    rewards: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float | jax.Array,
) -> jax.Array:
    """Bootstrapped returns up to the segment end (A3C/A2C targets).

    ``G_t = r_t + gamma (1 - term_t) [ trunc_t V(s_{t+1}) + (1 - trunc_t) G_{t+1} ]``
    with ``G_T = V(s_T)`` supplied by ``next_values[T-1]``.
    """
    rewards = jnp.asarray(rewards)
    _check_time_major(rewards, next_values, terminated, truncated)
    not_term = 1.0 - jnp.asarray(terminated).astype(rewards.dtype)
    trunc = jnp.asarray(truncated).astype(rewards.dtype)
    # The final step of the segment bootstraps from V(s_T): treat it as a cut.
    cut = trunc.at[-1].set(1.0)

    def step(next_ret, x):
        r, nt, c, nv = x
        ret = r + gamma * nt * (c * nv + (1.0 - c) * next_ret)
        return ret, ret

    return _reverse_scan(step, jnp.zeros_like(rewards[0]), (rewards, not_term, cut, next_values))


def reward_to_go(
    rewards: jax.Array,
    dones: jax.Array,
    gamma: float | jax.Array,
) -> jax.Array:
    """Monte Carlo discounted reward-to-go ``G_t = r_t + gamma (1 - done_t) G_{t+1}``.

    No bootstrapping: ``G_T = 0`` past the last step. Unbiased only where the
    episode containing ``t`` ends inside the segment; REINFORCE masks the rest.
    """
    _check_time_major(rewards, dones)
    keep = 1.0 - dones.astype(rewards.dtype)

    def step(next_ret, x):
        r, k = x
        ret = r + gamma * k * next_ret
        return ret, ret

    return _reverse_scan(step, jnp.zeros_like(rewards[0]), (rewards, keep))


def masked_mean(x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Mean of ``x`` over the entries where ``mask`` is 1 (all where ``mask`` is None)."""
    if mask is None:
        return x.mean()
    return (x * mask).sum() / jnp.maximum(mask.sum(), 1.0)


def masked_moments(x: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(mean, variance)`` of ``x`` over the entries where ``mask`` is 1."""
    n = jnp.maximum(mask.sum(), 1.0)
    mean = (x * mask).sum() / n
    return mean, (((x - mean) ** 2) * mask).sum() / n


def normalize(x: jax.Array, mask: jax.Array | None = None, eps: float = 1e-8) -> jax.Array:
    """Whiten ``x`` to zero mean and unit variance (over ``mask`` where given)."""
    if mask is None:
        return (x - x.mean()) / (x.std() + eps)
    mask = mask.astype(x.dtype)
    mean, var = masked_moments(x, mask)
    return (x - mean) / (jnp.sqrt(var) + eps) * mask


def explained_variance(predictions: jax.Array, targets: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """``1 - Var[targets - predictions] / Var[targets]`` (1 is perfect, <= 0 is useless),
    over the entries where ``mask`` is 1 when given."""
    var = jnp.var if mask is None else (lambda x: masked_moments(x, mask)[1])
    var_t = var(targets)
    return jnp.where(var_t > 0, 1.0 - var(targets - predictions) / var_t, 0.0)
