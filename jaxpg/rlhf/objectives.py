"""The RLHF algorithms as pure functions on ``[B, R]`` response arrays: KL estimators,
per-token rewards, advantages of each algorithm, and the masked, clipped surrogate.

Notation: ``B`` responses of at most ``R`` tokens; ``mask[b, t]`` is 1 on the
response's own tokens (up to and including EOS) and 0 on padding; ``score[b]`` the
reward model's standardized score; ``beta`` the KL coefficient. Every algorithm
here uses the same clipped surrogate and differs in its advantage and in how
token losses are averaged:

=============  ===========================================  =================  ==========
algo           advantage of every token of response i       KL                 averaging
=============  ===========================================  =================  ==========
ppo            GAE on r_t = -beta kl_t + [t = last] score,  token reward       tokens
               critic V, whitened over the batch
grpo           (R_i - mean_g R) / std_g R                   in R_i (k1)        per response,
               (Shao et al. 2024)                                              then responses
dr-grpo        R_i - mean_g R  (Liu et al. 2025: no std,    in R_i (k1)        sum / (B R)
               no per-response length normalization)
rloo           R_i - mean_{j != i} R_j                      in R_i (k1)        tokens
               (Ahmadian et al. 2024)
reinforce++    sum_{s >= t} gamma^(s-t) r_s with r_t as     token reward       tokens
               for ppo, whitened over the batch (Hu 2025)
=============  ===========================================  =================  ==========

with ``R_i = score_i - beta sum_t kl_it`` and ``g`` the ``k`` responses of i's prompt.

KL estimators, from ``rho = ref(a_t|s_t) / pi(a_t|s_t)`` at the sampled token:
``k1 = -log rho`` (unbiased, can be negative) or ``k3 = (rho - 1) - log rho`` (unbiased
and >= 0; Schulman 2020). k1 is a *reward*: its score-function gradient
``E[grad log pi * k1]`` is exactly ``grad KL(pi || ref)``. k3 as a reward is not:
``E[grad log pi * k3] = grad KL(pi||ref) - grad KL(ref||pi)``, which pays the policy for
moving probability off tokens the reference likes (with an adaptive beta we saw beta
grow 35x while the KL kept rising). So k3 enters the *loss*, ``+ beta * mean_t k3_t``
differentiated through ``pi`` (as in GRPO), whose expected gradient under ``a ~ pi`` is
``grad KL(ref || pi)``; the reward then carries only the score.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxpg import advantages
from jaxpg.rlhf import task

AVERAGING = {"ppo": "token", "grpo": "sequence", "dr-grpo": "constant", "rloo": "token",
             "reinforce++": "token"}


def masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of ``x`` over the positions where ``mask`` is 1."""
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def kl_penalty(logp: jax.Array, ref_logp: jax.Array, estimator: str = "k1") -> jax.Array:
    """Per-token estimate of ``KL(pi || ref)`` from ``a ~ pi``: k1 or k3 (module doc)."""
    log_rho = ref_logp - logp
    if estimator == "k1":
        return -log_rho
    if estimator == "k3":
        return jnp.expm1(log_rho) - log_rho
    raise ValueError(f"unknown KL estimator {estimator!r}; use 'k1' or 'k3'")


def adaptive_kl_update(beta, kl, target, n_steps, horizon):
    """Ziegler et al.'s proportional controller: ``beta * (1 + clip(kl/target - 1, ±0.2) n/H)``."""
    err = jnp.clip(kl / target - 1.0, -0.2, 0.2)
    return beta * (1.0 + err * n_steps / horizon)


def token_rewards(score: jax.Array, kl: jax.Array, beta, mask: jax.Array | None = None):
    """``r_t = -beta kl_t`` on own tokens, plus the score at the last one: ``[B, R]``."""
    mask = jnp.ones_like(kl) if mask is None else mask
    return (-beta * kl + score[:, None] * task.last_token(mask)) * mask


def gae_advantages(rewards, values, mask, gamma, gae_lambda):
    """GAE over batch-major ``[B, R]`` response rewards; each response ends (terminally)
    at its last own token, and padding gets advantage 0."""
    r, v = rewards.T, (values * mask).T  # time-major [R, B]
    next_v = jnp.concatenate([v[1:], jnp.zeros_like(v[:1])], axis=0)
    terminated = task.last_token(mask).T
    adv = advantages.gae(r, v, next_v, terminated, jnp.zeros_like(r), gamma, gae_lambda)
    return adv.T * mask


def ppo_advantages(score, kl_reward, mask, values, beta, gamma, gae_lambda):
    """PPO: GAE on the per-token rewards, whitened over own tokens; also the critic's
    targets ``A + V`` (from the unwhitened GAE). Returns ``(advantages, returns)``."""
    raw = gae_advantages(token_rewards(score, kl_reward, beta, mask), values, mask, gamma,
                         gae_lambda)
    return advantages.normalize(raw, mask), (raw + values) * mask


def reward_to_go(rewards: jax.Array, mask: jax.Array, gamma) -> jax.Array:
    """``G_t = sum_{s >= t} gamma^(s - t) r_s`` within each response: ``[B, R]``."""
    zeros = jnp.zeros_like(rewards.T)
    g = advantages.gae(rewards.T, zeros, zeros, task.last_token(mask).T, zeros, gamma, 1.0)
    return g.T * mask


def reinforce_pp_advantages(rewards: jax.Array, mask: jax.Array, gamma) -> jax.Array:
    """REINFORCE++: reward-to-go of the per-token rewards, whitened over every own token
    of the batch (a global baseline and scale, no critic, no per-prompt group)."""
    return advantages.normalize(reward_to_go(rewards, mask, gamma), mask)


def group_advantages(seq_return: jax.Array, group_size: int, scale_by_std: bool = True,
                     eps: float = 1e-6) -> jax.Array:
    """GRPO: ``(R_i - mean_g R) / (std_g R + eps)``; Dr. GRPO (``scale_by_std=False``):
    ``R_i - mean_g R``. Groups are consecutive rows: ``[B]``."""
    g = seq_return.reshape(-1, group_size)
    adv = g - g.mean(-1, keepdims=True)
    if scale_by_std:
        adv = adv / (g.std(-1, keepdims=True) + eps)
    return adv.reshape(-1)


def rloo_advantages(seq_return: jax.Array, group_size: int) -> jax.Array:
    """RLOO: ``R_i - (sum_g R - R_i) / (k - 1)``, the mean of the *other* ``k - 1`` responses
    to the same prompt as baseline (independent of ``R_i``, so unbiased): ``[B]``."""
    g = seq_return.reshape(-1, group_size)
    loo = (g.sum(-1, keepdims=True) - g) / (group_size - 1)
    return (g - loo).reshape(-1)


def clipped_surrogate(ratio: jax.Array, adv: jax.Array, eps) -> jax.Array:
    """Per-token PPO loss ``max(-A rho, -A clip(rho, 1 - eps, 1 + eps))``."""
    return jnp.maximum(-adv * ratio, -adv * jnp.clip(ratio, 1.0 - eps, 1.0 + eps))


def aggregate(token_loss: jax.Array, mask: jax.Array, how: str) -> jax.Array:
    """Average ``[B, R]`` token losses over own tokens.

    ``token``: over every own token of the batch (long responses weigh more);
    ``sequence``: per response, then over responses (GRPO's ``1/|o_i|``, which
    favours long wrong answers and short right ones, Liu et al. 2025);
    ``constant``: the token sum divided by ``B * R``, a constant (Dr. GRPO).
    """
    if how == "token":
        return masked_mean(token_loss, mask)
    if how == "sequence":
        per = jnp.sum(token_loss * mask, -1) / jnp.maximum(mask.sum(-1), 1.0)
        return per.mean()
    if how == "constant":
        return jnp.sum(token_loss * mask) / mask.size
    raise ValueError(f"unknown averaging {how!r}")


def sequence_return(score: jax.Array, kl: jax.Array, beta, mask: jax.Array) -> jax.Array:
    """``R_i = score_i - beta * sum_t kl_it`` over own tokens: ``[B]``."""
    return score - beta * jnp.sum(kl * mask, -1)


def advantages_for(algo: str, score, kl_reward, mask, values, beta, gamma, gae_lambda,
                   group_size: int) -> jax.Array:
    """Every token's advantage for ``algo`` (table in the module docstring): ``[B, R]``.

    ``kl_reward`` is the per-token KL that enters the reward (zeros when k3 sits in
    the loss); ``values`` the critic's ``V(s_t)`` (used by ppo only).
    """
    if algo == "ppo":
        return ppo_advantages(score, kl_reward, mask, values, beta, gamma, gae_lambda)[0]
    if algo == "reinforce++":
        return reinforce_pp_advantages(token_rewards(score, kl_reward, beta, mask), mask, gamma)
    seq = sequence_return(score, kl_reward, beta, mask)
    if algo == "rloo":
        adv = rloo_advantages(seq, group_size)
    elif algo in ("grpo", "dr-grpo"):
        adv = group_advantages(seq, group_size, scale_by_std=algo == "grpo")
    else:
        raise ValueError(f"unknown algo {algo!r}")
    return adv[:, None] * mask
