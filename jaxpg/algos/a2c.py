"""Synchronous advantage actor-critic, A2C (Mnih et al. 2016, synchronous variant).

Many parallel envs roll out ``num_steps`` each; advantages are GAE(lambda)
(lambda = 1 gives the n-step bootstrapped returns of A3C, with the time-limit
truncation bootstrapped from ``V(final_obs)``); then exactly one gradient step on
the actor, ``-mean[log pi(a_t|s_t) A_t] - c_H H``, and one on the critic,
``0.5 mean[(V(s_t) - (A_t + V_old(s_t)))^2]``, each with its own Adam optimizer
and learning rate (critic's default about 3x the actor's, see presets).

A recurrent policy (``--recurrent gru|lstm``) keeps the batch ``[T, B]``: both steps
replay every env's segment from the carry stored at its start (truncated
back-propagation through time over ``num_steps``), as PPO's minibatches do.
"""

from __future__ import annotations

import jax

from jaxpg import losses, optim
from jaxpg.algos.critic import global_norm
from jaxpg.algos.state import Context, TrainState
from jaxpg.algos.update import (
    PGMetrics,
    batch_objective,
    batch_value,
    finish_update,
    gae_policy_gradient,
    init_actor_critic,
    start_update,
)
from jaxpg.batch import step_advantages
from jaxpg.config import HParams
from jaxpg.networks import ActorCritic

policy_gradient = gae_policy_gradient


def init(ctx: Context, key: jax.Array, hparams: HParams) -> TrainState:
    return init_actor_critic(ctx, key, hparams)


def update(ctx: Context, state: TrainState, hparams: HParams):
    """One A2C iteration: rollout, GAE, one actor step and one critic step."""
    start = start_update(ctx, state, hparams)
    batch, params_old, ent_coef = start.batch, start.params_old, start.ent_coef
    adv = step_advantages(batch.advantage, ctx.config.normalize_advantages)

    def actor_loss(a):
        obj, ent = batch_objective(ctx, a, batch, adv, ent_coef)
        return -obj, ent

    (loss_a, entropy), g_actor = jax.value_and_grad(actor_loss, has_aux=True)(params_old.actor)

    def critic_loss(c):
        return losses.value_loss(batch_value(ctx, c, batch), batch.target)

    loss_c, g_critic = jax.value_and_grad(critic_loss)(params_old.critic)
    grads = ActorCritic(g_actor, g_critic)
    params, opt_state = optim.step_each(start.opt, state.opt_state, params_old, grads)
    metrics = PGMetrics(
        policy_loss=loss_a,
        value_loss=loss_c,
        actor_grad_norm=global_norm(g_actor),
        critic_grad_norm=global_norm(g_critic),
        ent_coef=ent_coef,
        lr=hparams.lr * start.lr_factor,
    )
    return finish_update(ctx, start, params, opt_state, metrics)
