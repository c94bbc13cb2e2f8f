"""Policy and value losses on plain arrays (no networks, no config).

Each takes per-sample arrays with the same leading shape (``_t`` marks them) and
returns a scalar. The policy terms are surrogates of the policy gradient: at
``ratio_t = 1`` (parameters equal to the collecting ones) their gradient is the
score-function estimate ``mean[grad log pi(a_t|s_t) A_t]``.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def importance_weighted_objective(log_prob_t, log_prob_old_t, adv_t) -> jax.Array:
    """``mean[pi(a|s) / pi_old(a|s) * A]`` to *maximise* (Schulman et al. 2015, eq. 14)."""
    chex.assert_equal_shape([log_prob_t, log_prob_old_t, adv_t])
    return jnp.mean(jnp.exp(log_prob_t - log_prob_old_t) * adv_t)


def clipped_surrogate_loss(ratio_t, adv_t, epsilon) -> jax.Array:
    """PPO's ``-mean[min(r A, clip(r, 1 - eps, 1 + eps) A)]`` (Schulman et al. 2017, eq. 7)."""
    chex.assert_equal_shape([ratio_t, adv_t])
    clipped = jnp.clip(ratio_t, 1.0 - epsilon, 1.0 + epsilon) * adv_t
    return -jnp.minimum(ratio_t * adv_t, clipped).mean()


def kl_penalty_surrogate_loss(ratio_t, adv_t, kl_t, beta) -> jax.Array:
    """PPO's ``-mean[r A - beta KL(pi_old || pi)]`` (Schulman et al. 2017, sec. 4)."""
    chex.assert_equal_shape([ratio_t, adv_t, kl_t])
    return -(ratio_t * adv_t - beta * kl_t).mean()


def value_loss(v_t, target_t, v_old_t=None, clip_eps=None, mask_t=None) -> jax.Array:
    """``0.5 mean[(V - target)^2]``.

    With ``v_old_t`` and ``clip_eps``: PPO's pessimistic clipped form, the larger of
    the errors of ``V`` and of ``V_old + clip(V - V_old, -eps, eps)``. With
    ``mask_t``: the mean over the samples where the mask is 1.
    """
    chex.assert_equal_shape([v_t, target_t])
    err = (v_t - target_t) ** 2
    if v_old_t is not None:
        clipped = v_old_t + jnp.clip(v_t - v_old_t, -clip_eps, clip_eps)
        err = jnp.maximum(err, (clipped - target_t) ** 2)
    if mask_t is None:
        return 0.5 * err.mean()
    return 0.5 * jnp.sum(mask_t * err) / jnp.maximum(mask_t.sum(), 1.0)


def approx_kl(log_ratio_t) -> jax.Array:
    """k3 estimate of ``KL(pi_old || pi)`` from ``log(pi / pi_old)`` on pi_old's samples:
    ``mean[r - 1 - log r]``, unbiased and never negative (Schulman, "Approximating KL")."""
    return jnp.mean(jnp.exp(log_ratio_t) - 1.0 - log_ratio_t)


def clip_fraction(ratio_t, epsilon) -> jax.Array:
    """Fraction of samples whose ratio lies outside ``[1 - eps, 1 + eps]``."""
    return jnp.mean((jnp.abs(ratio_t - 1.0) > epsilon).astype(jnp.float32))
