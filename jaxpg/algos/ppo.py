"""Proximal policy optimization (Schulman et al. 2017): clipped or KL-penalty surrogate.

``L^CLIP = E[min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t)]``,
``r_t = pi(a_t | s_t) / pi_old(a_t | s_t)``, maximised over ``update_epochs``
passes of shuffled minibatches, with an entropy bonus, an (optionally clipped)
value loss, per-network global-norm clipping and an optional target-KL stop. The
optimizer steps each network's parameters as one flat vector (:func:`jaxpg.optim.flatten`).

``ppo_objective="kl_penalty"`` instead maximises
``L^KLPEN = E[r_t A_t - beta KL(pi_old(.|s_t) || pi(.|s_t))]`` (paper sec. 4) with the
adaptive coefficient: after each update, with ``d`` the batch mean KL and
``d_targ = kl_penalty_target``, ``beta *= 2`` if ``d > 1.5 d_targ`` and
``beta /= 2`` if ``d < d_targ / 1.5``. ``beta`` (start: ``kl_coef``) lives in
``TrainState.algo_state`` (:class:`PenaltyState`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg import losses, optim
from jaxpg.algos.critic import global_norm
from jaxpg.algos.state import Context, TrainState, init_state
from jaxpg.algos.update import (
    PGMetrics,
    batch_policy,
    batch_value,
    finish_update,
    gae_policy_gradient,
    start_update,
)
from jaxpg.batch import Batch, shuffle_and_split, split_envs, step_advantages
from jaxpg.config import HParams
from jaxpg.metrics import Role, metric


@struct.dataclass
class PPOMetrics(PGMetrics):
    """PPO's own metrics: means over the minibatch steps taken (``minibatches_done``)."""

    approx_kl: Any = metric(Role.DIAGNOSTIC)
    clip_fraction: Any = metric(Role.DIAGNOSTIC)
    minibatches_done: Any = metric(Role.DIAGNOSTIC)
    kl_coef: Any = metric(Role.DIAGNOSTIC)


@struct.dataclass
class PenaltyState:
    """PPO's state beyond networks and optimizers: the adaptive KL-penalty coefficient."""

    kl_coef: jax.Array  # beta; adapted only with ppo_objective="kl_penalty"


def init(ctx: Context, key: jax.Array, hparams: HParams) -> TrainState:
    """Initial state; ``opt_state`` holds each network's Adam state over its
    :func:`jaxpg.optim.flatten`-ed parameters (the form :func:`update` steps)."""
    opts = optim.actor_critic(hparams)
    algo_state = PenaltyState(jnp.asarray(hparams.kl_coef, jnp.float32))
    return init_state(ctx, key, lambda p: optim.init(opts, optim.flatten(p)[0]), algo_state=algo_state)


def policy_gradient(ctx: Context, state: TrainState, hparams: HParams, key: jax.Array):
    """PPO's first-minibatch gradient on a full batch: the GAE policy gradient."""
    return gae_policy_gradient(ctx, state, hparams, key)


def adapt_kl_coef(beta, kl, target):
    """PPO paper's rule: double beta if KL > 1.5 target, halve it if KL < target / 1.5."""
    beta = jnp.where(kl > 1.5 * target, beta * 2.0, beta)
    return jnp.where(kl < target / 1.5, beta / 2.0, beta)


def ppo_loss(ctx: Context, params, batch: Batch, hparams: HParams, ent_coef, kl_coef=0.0):
    """PPO's minibatch loss (surrogate, entropy bonus, value loss); returns ``(loss, metrics)``."""
    eps = hparams.clip_eps
    dist = batch_policy(ctx, params.actor, batch)
    log_ratio = dist.log_prob(batch.action) - batch.log_prob
    ratio = jnp.exp(log_ratio)
    advantage = step_advantages(batch.advantage, ctx.config.normalize_advantages)
    if ctx.config.ppo_objective == "kl_penalty":
        kl = batch.old_dist.kl(dist)
        policy_loss = losses.kl_penalty_surrogate_loss(ratio, advantage, kl, kl_coef)
    else:
        policy_loss = losses.clipped_surrogate_loss(ratio, advantage, eps)
    entropy = dist.entropy().mean()
    value = batch_value(ctx, params.critic, batch)
    clip = (batch.value, eps) if ctx.config.clip_value else (None, None)
    value_loss = losses.value_loss(value, batch.target, *clip)

    loss = policy_loss - ent_coef * entropy + hparams.vf_coef * value_loss
    metrics = {
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        "approx_kl": losses.approx_kl(log_ratio),
        "clip_fraction": losses.clip_fraction(ratio, eps),
    }
    return loss, metrics


STEP_METRICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
                "actor_grad_norm", "critic_grad_norm", "active")  # fmt: skip
"""What :func:`minibatch_step` reports per step (``active``: 0 once the target-KL stop hit)."""


def minibatch_step(ctx: Context, hparams: HParams, opts, unravel, ent_coef, kl_coef):
    """One PPO gradient step, ``(carry, minibatch) -> (carry, metrics)`` for ``lax.scan``.

    ``carry = (flat, opt_state, stopped)``: the :func:`jaxpg.optim.flatten`-ed
    parameters (``unravel`` maps them back), ``opts``' states and the target-KL stop;
    ``metrics [len(STEP_METRICS)]`` in the order of :data:`STEP_METRICS`.
    """

    def step(carry, mb: Batch):
        flat, opt_state, stopped = carry
        loss_fn = lambda f: ppo_loss(ctx, unravel(f), mb, hparams, ent_coef, kl_coef)
        grads, m = jax.grad(loss_fn, has_aux=True)(flat)
        new_flat, new_opt = optim.step_each(opts, opt_state, flat, grads)
        # A stopped update keeps its parameters (target-KL early stop).
        keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(stopped, o, n), new, old)
        flat, opt_state = keep(new_flat, flat), keep(new_opt, opt_state)
        m["actor_grad_norm"] = global_norm(grads.actor)
        m["critic_grad_norm"] = global_norm(grads.critic)
        m["active"] = 1.0 - stopped.astype(jnp.float32)
        over = jnp.logical_and(hparams.target_kl > 0, m["approx_kl"] > hparams.target_kl)
        # One vector, not a dict: the scan then writes one output per step, not eight.
        stopped = jnp.logical_or(stopped, over)
        return (flat, opt_state, stopped), jnp.stack([m[k] for k in STEP_METRICS])

    return step


def update(ctx: Context, state: TrainState, hparams: HParams):
    """One PPO iteration: rollout, GAE, epochs x minibatches of clipped updates."""
    cfg = ctx.config
    start = start_update(ctx, state, hparams, num_keys=1)
    batch, ent_coef, kl_coef = start.batch, start.ent_coef, state.algo_state.kl_coef
    flat, unravel = optim.flatten(state.params)
    step = minibatch_step(ctx, hparams, start.opt, unravel, ent_coef, kl_coef)

    # A recurrent policy's minibatches are whole env sequences, replayed from their start.
    split = split_envs if ctx.nets.recurrent else shuffle_and_split

    def epoch(carry, key_e):
        return jax.lax.scan(step, carry, split(key_e, batch, cfg.num_minibatches))

    init = (flat, state.opt_state, jnp.zeros((), bool))
    epoch_keys = jax.random.split(start.keys[0], cfg.update_epochs)
    (flat, opt_state, _), stacked = jax.lax.scan(epoch, init, epoch_keys)
    m = dict(zip(STEP_METRICS, jnp.moveaxis(stacked, -1, 0)))
    active = m.pop("active")
    n_active = jnp.maximum(active.sum(), 1.0)
    means = {k: jnp.sum(v * active) / n_active for k, v in m.items()}
    del means["entropy"]  # the policy's entropy is logged on the whole batch (finish_update)
    metrics = PPOMetrics(**means, minibatches_done=active.sum(), ent_coef=ent_coef,
                         lr=hparams.lr * start.lr_factor, kl_coef=kl_coef)  # fmt: skip
    # The diagnostics (KL, explained variance, entropy) are on the whole batch, after the update.
    state, metrics = finish_update(ctx, start, unravel(flat), opt_state, metrics)
    if cfg.ppo_objective == "kl_penalty":
        beta = adapt_kl_coef(kl_coef, metrics.policy.kl, hparams.kl_penalty_target)
        state = state.replace(algo_state=PenaltyState(beta))
    return state, metrics
