"""The update skeleton every algorithm shares: start (keys, collection, schedules,
optimizers at this update's rate) and finish (new state, typed metrics with the
diagnostics every algorithm logs), and the policy-gradient pieces between them."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg import losses, optim
from jaxpg.advantages import explained_variance, masked_mean
from jaxpg.algos.collect import collect
from jaxpg.algos.state import Context, TrainState, entropy_coef, init_state, lr_factor
from jaxpg.batch import Batch, flatten_time_batch, make_batch, step_advantages
from jaxpg.config import HParams
from jaxpg.metrics import PolicyDiagnostics, Record, Role, UpdateMetrics, metric
from jaxpg.networks import ActorCritic
from jaxpg.rollout import Trajectory, episode_metrics, finite_flags


@struct.dataclass
class PGMetrics(Record):
    """What a policy-gradient update reports about its own steps (a2c, reinforce; ppo
    adds to it)."""

    policy_loss: Any = metric(Role.LOSS)
    value_loss: Any = metric(Role.LOSS)  # absent: REINFORCE without a value baseline
    actor_grad_norm: Any = metric(Role.GRADIENT)
    critic_grad_norm: Any = metric(Role.GRADIENT)
    ent_coef: Any = metric(Role.DIAGNOSTIC)
    lr: Any = metric(Role.DIAGNOSTIC)


def policy_stats(ctx: Context, params, obs: jax.Array, mask=None, dist=None) -> dict[str, jax.Array]:
    """Entropy and (Gaussian) log-std summaries of the policy on ``obs [N, ...]`` (the
    rows where ``mask [N]`` is 1, when given; ``dist``: the policy there, if known):
    fields of :class:`PolicyDiagnostics`."""
    dist = ctx.nets.policy(params, obs) if dist is None else dist
    out = {"entropy": masked_mean(dist.entropy(), mask)}
    if not ctx.env.action_space.is_discrete:
        # over the batch too: the std may depend on the state
        if mask is None:
            out["log_std_mean"], out["log_std_min"] = dist.log_std.mean(), dist.log_std.min()
        else:
            out["log_std_mean"] = masked_mean(dist.log_std.mean(-1), mask)
            out["log_std_min"] = jnp.min(jnp.where(mask > 0, dist.log_std.min(-1), jnp.inf))
    return out


def common_diagnostics(ctx: Context, params_old, params, obs, value, target, mask=None,
                       old=None, new=None) -> PolicyDiagnostics:  # fmt: skip
    """Per-update diagnostics every algorithm logs: KL(old || new) on the batch,
    explained variance of the (pre-update) critic or baseline, entropy and log-std
    stats; over the rows where ``mask`` is 1 when given. ``old``: the policy of
    ``params_old`` on ``obs`` where the caller has it (saves a pass over the batch);
    ``new``: likewise for ``params`` (a recurrent policy's, replayed over its sequences)."""
    old = ctx.nets.policy(params_old, obs) if old is None else old
    new = ctx.nets.policy(params, obs) if new is None else new
    kl, ev = masked_mean(old.kl(new), mask), explained_variance(value, target, mask)
    stats = policy_stats(ctx, params, obs, mask, dist=new)
    return PolicyDiagnostics(kl=kl, explained_variance=ev, **stats)


def batch_policy(ctx: Context, actor_params, batch: Batch):
    """``pi(.|s)`` on a batch's observations: flat, or replayed over its env sequences
    (``[T, B]``, from ``batch.carry0``) for a recurrent policy."""
    if ctx.nets.recurrent:
        return ctx.nets.policy_seq(actor_params, batch.carry0.actor, batch.obs, batch.first)[1]
    return ctx.nets.policy_actor(actor_params, batch.obs)


def batch_value(ctx: Context, critic_params, batch: Batch):
    """``V(s)`` on a batch's observations, as :func:`batch_policy`."""
    if ctx.nets.recurrent:
        return ctx.nets.value_seq(critic_params, batch.carry0.critic, batch.obs, batch.first)[1]
    return ctx.nets.value_critic(critic_params, batch.obs)


def pg_objective(ctx: Context, actor_params, obs, action, log_prob_old, advantage, ent_coef=0.0):
    """Importance-weighted policy-gradient surrogate (to maximise) plus the entropy bonus.

    ``L(theta) = mean[ pi_theta(a|s) / pi_old(a|s) * A ] + ent_coef * mean[H(pi_theta(.|s))]``;
    see :func:`jaxpg.losses.importance_weighted_objective`. Inputs are flat ``[N, ...]``.
    Returns ``(objective, entropy)``.
    """
    return pg_surrogate(ctx.nets.policy_actor(actor_params, obs), action, log_prob_old, advantage, ent_coef)


def batch_objective(ctx: Context, actor_params, batch: Batch, advantage, ent_coef=0.0):
    """:func:`pg_objective` on a batch: flat, or a recurrent policy's ``[T, B]`` batch
    replayed over its env sequences (:func:`batch_policy`)."""
    dist = batch_policy(ctx, actor_params, batch)
    return pg_surrogate(dist, batch.action, batch.log_prob, advantage, ent_coef)


def pg_surrogate(dist, action, log_prob_old, advantage, ent_coef=0.0):
    """The surrogate of :func:`pg_objective` given the policy ``dist`` on the batch."""
    entropy = dist.entropy().mean()
    objective = losses.importance_weighted_objective(dist.log_prob(action), log_prob_old, advantage)
    return objective + ent_coef * entropy, entropy


def gae_policy_gradient(ctx: Context, state: TrainState, hparams: HParams, key: jax.Array):
    """The GAE policy-gradient estimate ``mean[grad log pi(a|s) A^GAE(lambda)]`` on one
    fresh batch collected from ``state`` (actor-parameter pytree), no entropy term.

    The estimator shared by a2c, npg, trpo and ppo (their first step's gradient);
    used by :func:`jaxpg.diagnostics.gradient_variance`.
    """
    carry0 = None if state.policy is None else state.policy.carry
    traj, _ = collect(ctx, state, key)
    batch = make_batch(ctx.nets, state.params, traj, hparams, carry0)
    if not ctx.nets.recurrent:
        batch = flatten_time_batch(batch)
    adv = step_advantages(batch.advantage, ctx.config.normalize_advantages)
    return jax.grad(lambda a: batch_objective(ctx, a, batch, adv)[0])(state.params.actor)


class UpdateStart(NamedTuple):
    """What every update starts from (:func:`begin_update`; the actor-critic updates'
    rollout and flat batch: :func:`start_update`)."""

    state: TrainState  # key advanced (after start_update: env states and counters too)
    params_old: Any  # the parameters that collect the batch
    traj: Trajectory | None  # start_update's rollout
    batch: Batch | None  # start_update's batch: flat [N, ...], or [T, B, ...] when recurrent
    keys: list  # the update's own keys, beyond the collection's
    lr_factor: Any
    ent_coef: Any
    opt: ActorCritic  # each network's optimizer at this update's learning rate
    collect_key: jax.Array | None = None  # for the algorithm's own collection


def begin_update(ctx: Context, state: TrainState, hparams: HParams, num_keys: int = 0) -> UpdateStart:
    """Split keys and evaluate this update's schedules and optimizers; the caller collects
    its data with ``collect_key`` (REINFORCE's complete episodes)."""
    key, k_collect, *keys = jax.random.split(state.key, 2 + num_keys)
    frac = lr_factor(ctx, state)
    opt = optim.actor_critic(hparams, frac)
    ent_coef = entropy_coef(ctx, state, hparams)
    return UpdateStart(state.replace(key=key), state.params, None, None, keys, frac, ent_coef, opt, k_collect)


def start_update(ctx: Context, state: TrainState, hparams: HParams, num_keys: int = 0) -> UpdateStart:
    """:func:`begin_update`, then collect a rollout and make the flat batch (a2c, npg, trpo,
    ppo). A recurrent policy's batch stays ``[T, B]`` (updates replay its sequences from
    the carry the rollout started with)."""
    start = begin_update(ctx, state, hparams, num_keys)
    carry0 = None if state.policy is None else state.policy.carry
    traj, state = collect(ctx, start.state, start.collect_key)
    batch = make_batch(ctx.nets, start.params_old, traj, hparams, carry0)
    if not ctx.nets.recurrent:
        batch = flatten_time_batch(batch)
    return start._replace(state=state, traj=traj, batch=batch, collect_key=None)


def finish_update(ctx: Context, start: UpdateStart, params, opt_state, metrics: Record, algo_state=None,
                  shared: tuple | None = None):  # fmt: skip
    """The new state (update counter advanced) and the :class:`UpdateMetrics`: the
    algorithm's ``metrics`` and what every algorithm logs, ``shared = (diagnostics,
    episode sums, finite flags)``; by default :func:`common_diagnostics` on
    ``start.batch`` and the episodes and flags of ``start.traj``."""
    if shared is None:
        b, t = start.batch, start.traj
        new = batch_policy(ctx, params.actor, b) if ctx.nets.recurrent else None
        diagnostics = common_diagnostics(ctx, start.params_old, params, b.obs, b.value, b.target,
                                         old=b.old_dist, new=new)  # fmt: skip
        shared = (diagnostics, episode_metrics(t), finite_flags(t.raw_obs, t.reward))
    metrics = UpdateMetrics(metrics, *shared)
    algo_state = start.state.algo_state if algo_state is None else algo_state
    state = start.state.replace(
        params=params, opt_state=opt_state, update=start.state.update + 1, algo_state=algo_state
    )
    return state, metrics


def init_actor_critic(ctx: Context, key: jax.Array, hparams: HParams, algo_state=None) -> TrainState:
    """Initial state whose ``opt_state`` holds an Adam state for the actor and one for
    the critic (:func:`jaxpg.optim.init`)."""
    return init_state(ctx, key, lambda p: optim.init(optim.actor_critic(hparams), p), algo_state=algo_state)
