"""Synchronous advantage actor-critic, A2C (Mnih et al. 2016, synchronous variant).

Many parallel envs roll out ``num_steps`` each; advantages are GAE(lambda)
(lambda = 1 gives the n-step bootstrapped returns of A3C, with the time-limit
truncation bootstrapped from ``V(final_obs)``); then exactly one gradient step on
the actor, ``-mean[log pi(a_t|s_t) A_t] - c_H H``, and one on the critic,
``0.5 mean[(V(s_t) - (A_t + V_old(s_t)))^2]``, each with its own Adam optimizer
and learning rate (critic's default about 3x the actor's, see presets).
"""

from __future__ import annotations

import jax

from jaxpg import losses
from jaxpg.algos.common import (
    Context,
    TrainState,
    adam_step,
    collect,
    common_diagnostics,
    gae_policy_gradient,
    global_norm,
    hparams_opt,
    init_actor_critic,
    lr_factor,
    pg_objective,
    progress,
    set_learning_rate,
)
from jaxpg.batch import flatten_time_batch, make_batch, step_advantages
from jaxpg.config import HParams, entropy_coef
from jaxpg.rollout import episode_metrics

policy_gradient = gae_policy_gradient


def init(ctx: Context, key: jax.Array, hparams: HParams) -> TrainState:
    return init_actor_critic(ctx, key, hparams)


def update(ctx: Context, state: TrainState, hparams: HParams):
    """One A2C iteration: rollout, GAE, one actor step and one critic step."""
    key, k_roll = jax.random.split(state.key)
    state = state.replace(key=key)
    params_old = state.params
    traj, state = collect(ctx, state, k_roll)
    batch = flatten_time_batch(make_batch(ctx.nets, params_old, traj, hparams))
    adv = step_advantages(batch.advantage, ctx.config.normalize_advantages)

    frac = lr_factor(ctx, state)
    ent_coef = entropy_coef(hparams, ctx.config.ent_schedule, progress(ctx, state))
    opt_actor, opt_critic = hparams_opt(hparams)
    st_actor = set_learning_rate(state.opt_state["actor"], hparams.lr * frac)
    st_critic = set_learning_rate(state.opt_state["critic"], hparams.critic_lr * frac)

    def actor_loss(a):
        obj, ent = pg_objective(ctx, a, batch.obs, batch.action, batch.log_prob, adv, ent_coef)
        return -obj, ent

    (loss_a, entropy), g_actor = jax.value_and_grad(actor_loss, has_aux=True)(params_old["actor"])

    def critic_loss(c):
        return losses.value_loss(ctx.nets.value({"critic": c}, batch.obs), batch.target)

    loss_c, g_critic = jax.value_and_grad(critic_loss)(params_old["critic"])
    actor, st_actor = adam_step(opt_actor, st_actor, params_old["actor"], g_actor)
    critic, st_critic = adam_step(opt_critic, st_critic, params_old["critic"], g_critic)
    params = {"actor": actor, "critic": critic}

    metrics = {
        "policy_loss": loss_a,
        "value_loss": loss_c,
        "actor_grad_norm": global_norm(g_actor),
        "critic_grad_norm": global_norm(g_critic),
        "ent_coef": ent_coef,
        "lr": hparams.lr * frac,
    }
    metrics.update(common_diagnostics(ctx, params_old, params, batch.obs, batch.value, batch.target))
    metrics.update(episode_metrics(traj))
    state = state.replace(
        params=params, opt_state={"actor": st_actor, "critic": st_critic}, update=state.update + 1
    )
    return state, metrics
