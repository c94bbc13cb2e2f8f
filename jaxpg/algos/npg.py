"""Natural policy gradient (Kakade 2001; the batch form of Rajeswaran et al. 2017).

Each update: roll out, GAE advantages, the vanilla gradient ``g`` of the
surrogate ``L(theta) = mean[pi_theta / pi_old * A] (+ c_H H)``, the natural
direction ``x ~ (F + lambda I)^-1 g`` by ``cg_iters`` steps of conjugate gradient
on Fisher-vector products (Hessian-vector products of the mean KL, see
:mod:`jaxpg.natural`), and the step ``s = sqrt(2 delta / x^T F x) x`` that puts the
quadratic KL model ``0.5 s^T F s`` at the radius ``delta = max_kl``. ``F`` there is
the *undamped* Fisher (one more Fisher-vector product): the damping ``lambda`` only
regularises the direction, so the quadratic model meets ``delta`` exactly and the
true mean KL of the step is ``delta`` up to third-order terms (tested). Damping must
be > 0: in float32 ``F`` is singular and undamped CG returns directions whose true KL
is orders of magnitude above ``delta``. The critic is fitted
by ``update_epochs`` x ``num_minibatches`` Adam steps on the GAE targets.

A recurrent policy (``--recurrent gru|lstm``) keeps the batch ``[T, B]``: the
surrogate, the mean KL (so every Fisher-vector product, CG and the line search) and
the critic's minibatches (whole env sequences) replay each env's segment from the
carry stored at its start, with the recorded resets.

TRPO (:mod:`jaxpg.algos.trpo`) is this update plus a KL/improvement line search;
both share :func:`natural_update`. With ``anneal_lr`` the radius ``delta`` and
the critic's learning rate decay linearly to 0.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from jax.flatten_util import ravel_pytree

from jaxpg import natural, optim
from jaxpg.algos.critic import fit_value, fit_value_sequences
from jaxpg.algos.state import Context, TrainState, init_state
from jaxpg.algos.update import (
    UpdateStart,
    batch_objective,
    batch_policy,
    finish_update,
    gae_policy_gradient,
    start_update,
)
from jaxpg.batch import step_advantages
from jaxpg.config import HParams
from jaxpg.metrics import Record, Role, metric
from jaxpg.networks import ActorCritic

policy_gradient = gae_policy_gradient


@struct.dataclass
class NaturalMetrics(Record):
    """NPG's and TRPO's own metrics: the natural step (CG, KL radius, line search) and
    the critic's fit."""

    actor_grad_norm: Any = metric(Role.GRADIENT)  # of the surrogate, before the natural step
    critic_grad_norm: Any = metric(Role.GRADIENT)
    value_loss: Any = metric(Role.LOSS)
    cg_residual: Any = metric(Role.DIAGNOSTIC)
    cg_relative_residual: Any = metric(Role.DIAGNOSTIC)
    step_fraction: Any = metric(Role.DIAGNOSTIC)  # of the full step taken (TRPO: 0 if none)
    expected_improvement: Any = metric(Role.DIAGNOSTIC)
    surrogate_improvement: Any = metric(Role.DIAGNOSTIC)
    max_kl: Any = metric(Role.DIAGNOSTIC)  # this update's radius delta
    ent_coef: Any = metric(Role.DIAGNOSTIC)
    critic_lr: Any = metric(Role.DIAGNOSTIC)


def init(ctx: Context, key: jax.Array, hparams: HParams) -> TrainState:
    """Initial state; ``opt_state`` holds the critic's Adam state (the actor takes natural
    steps: no optimizer state)."""
    opts = optim.actor_critic(hparams)._replace(actor=None)
    return init_state(ctx, key, lambda p: optim.init(opts, p))


def natural_update(ctx: Context, state: TrainState, hparams: HParams, line_search: bool,
                   start: UpdateStart | None = None):  # fmt: skip
    """One NPG (``line_search=False``) or TRPO (``True``) iteration; ``start``: this
    update's :func:`start_update` (``num_keys=1``) if the caller has made it."""
    cfg = ctx.config
    start = start_update(ctx, state, hparams, num_keys=1) if start is None else start
    batch, params_old, ent_coef, frac = start.batch, start.params_old, start.ent_coef, start.lr_factor
    adv = step_advantages(batch.advantage, ctx.config.normalize_advantages)
    delta = hparams.max_kl * frac

    x0, unravel = ravel_pytree(params_old.actor)
    # pi_old on the batch (a recurrent policy's, replayed at acting time's parameters)
    old_dist = batch.old_dist if ctx.nets.recurrent else ctx.nets.policy(params_old, batch.obs)
    old_dist = jax.lax.stop_gradient(old_dist)

    def objective(x):
        return batch_objective(ctx, unravel(x), batch, adv, ent_coef)[0]

    def mean_kl(x):
        return old_dist.kl(batch_policy(ctx, unravel(x), batch)).mean()

    g = jax.grad(objective)(x0)
    damped_fvp = natural.fisher_vector_product(mean_kl, x0, hparams.cg_damping)
    # CG's own (F + lambda I) x gives the residual and x^T F x without another
    # Fisher-vector product (each one a Hessian-vector product over the whole batch).
    direction, damped_fx = natural.conjugate_gradient_with_product(damped_fvp, g, cfg.cg_iters)
    residual = jnp.linalg.norm(g - damped_fx)
    # Scale with the *undamped* Fisher so that 0.5 s^T F s = delta holds as documented.
    x_f_x = jnp.vdot(direction, damped_fx) - hparams.cg_damping * jnp.vdot(direction, direction)
    full_step, expected = natural.step_to_radius(direction, x_f_x, g, delta)
    if line_search:
        x_new, step_fraction, _ = natural.backtracking_line_search(
            objective, mean_kl, x0, full_step, delta, hparams.ls_backtrack, cfg.ls_steps
        )
    else:
        x_new, step_fraction = x0 + full_step, jnp.ones(())

    opt_c, st_c, k_fit = start.opt.critic, state.opt_state.critic, start.keys[0]
    if ctx.nets.recurrent:
        critic, st_critic, vm = fit_value_sequences(ctx, params_old.critic, opt_c, st_c, batch.obs,
                                                    batch.first, batch.carry0.critic, batch.target, k_fit)  # fmt: skip
    else:
        critic, st_critic, vm = fit_value(ctx, params_old.critic, opt_c, st_c, batch.obs, batch.target, k_fit)
    opt_state = state.opt_state._replace(critic=st_critic)

    metrics = NaturalMetrics(
        actor_grad_norm=jnp.linalg.norm(g),
        critic_grad_norm=vm.critic_grad_norm,
        value_loss=vm.value_loss,
        cg_residual=residual,
        cg_relative_residual=residual / jnp.maximum(jnp.linalg.norm(g), 1e-12),
        step_fraction=step_fraction,
        expected_improvement=expected,
        surrogate_improvement=objective(x_new) - objective(x0),
        max_kl=delta,
        ent_coef=ent_coef,
        critic_lr=hparams.critic_lr * frac,  # the actor has no learning rate: max_kl
    )
    return finish_update(ctx, start, ActorCritic(unravel(x_new), critic), opt_state, metrics)


def update(ctx: Context, state: TrainState, hparams: HParams):
    """One natural-policy-gradient iteration (full step to the KL radius)."""
    return natural_update(ctx, state, hparams, line_search=False)
