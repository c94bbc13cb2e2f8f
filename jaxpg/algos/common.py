"""What every algorithm shares: the train state, the context, optimizers, acting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxpg import envs, losses, optim
from jaxpg.advantages import explained_variance, masked_mean
from jaxpg.batch import Batch, flatten_time_batch, make_batch, shuffle_and_split, step_advantages
from jaxpg.config import HParams, TrainConfig
from jaxpg.errors import ConfigError
from jaxpg.networks import ActorCritic, Networks, networks_for, observation_example
from jaxpg.normalization import RunningStats
from jaxpg.rollout import PolicyCarry, Trajectory, episode_metrics, rollout


@struct.dataclass
class TrainState:
    """Everything a run carries between updates (checkpointed whole)."""

    params: ActorCritic  # flax variables of each network
    opt_state: Any  # the algorithm's optimizer states (see its init)
    obs_stats: RunningStats
    env_state: Any  # batched over envs
    obs: jax.Array  # [num_envs, obs_size], raw
    key: jax.Array
    update: jax.Array  # updates done
    env_steps: jax.Array  # environment steps done
    algo_state: Any  # algorithm-specific extras (e.g. an adaptive KL coefficient)
    policy: PolicyCarry | None = None  # a recurrent policy's carry (actor and critic), batched


@dataclass(frozen=True)
class Context:
    """Static things an update closes over."""

    config: TrainConfig
    env: Any
    nets: Networks

    @property
    def progress_denominator(self) -> int:
        return max(self.config.num_updates, 1)


def make_context(config: TrainConfig, env: Any = None, encoder: Any = None) -> Context:
    """The env and networks ``config`` names (one-line :class:`ConfigError` if they cannot act).

    ``env``: a user env object (see :func:`jaxpg.envs.adapters.adapt`) instead of the
    env named ``config.env``. A tanh-Gaussian policy gets an env that squashes its
    pre-tanh actions (:class:`jaxpg.envs.SquashActions`). ``encoder``: a user's flax
    module for the env's (pytree) observations, in place of ``config.encoder``.
    """
    squash = config.policy == "tanh-gaussian"
    if env is None:
        env = envs.make(config.env, config.backend, config.episode_length, squash_actions=squash,
                        keep_obs_shape=config.encoder == "cnn")  # fmt: skip
    else:
        env = envs.wrap_user_env(env, squash_actions=squash)
    check_action_space(config, env.action_space)
    return Context(config, env, networks_for(config, env, encoder))


def check_action_space(config: TrainConfig, space) -> None:
    """Raise a one-line :class:`ConfigError` if the policy cannot act in ``space``:
    it handles ``Discrete(n >= 1)`` with a softmax and a flat ``Box`` with a diagonal Gaussian."""
    if space.is_discrete and space.n < 1:
        raise ConfigError("env", config.env, f"has {space.n} actions; a policy needs at least 1")
    # "gaussian" is the default, so only a head the user chose is refused on discrete actions.
    if space.is_discrete and (config.policy != "gaussian" or config.state_dependent_std):
        field, value = (("policy", config.policy) if config.policy != "gaussian"
                        else ("state_dependent_std", True))  # fmt: skip
        raise ConfigError(
            field, value, f"a continuous-action head, but {config.env} has {space.n} discrete "
            f"actions (they get a softmax policy): drop --{field.replace('_', '-')}",
        )  # fmt: skip
    if not space.is_discrete and len(space.shape) != 1:
        raise ConfigError(
            "env", config.env,
            f"action shape {space.shape} is not a flat vector; the Gaussian policy needs one",
        )  # fmt: skip


def progress(ctx: Context, state: TrainState):
    """Fraction of the planned updates done, in [0, 1): what the schedules follow."""
    return state.update.astype(jnp.float32) / ctx.progress_denominator


def lr_factor(ctx: Context, state: TrainState):
    """Linear decay to 0 over training when ``anneal_lr``, else 1 (:func:`jaxpg.optim.lr_factor`)."""
    return optim.lr_factor(ctx.config.anneal_lr, ctx.config.num_updates, state.update)


def entropy_coef(ctx: Context, state: TrainState, hparams: HParams):
    """The entropy coefficient of this update (``config.ent_schedule``)."""
    return optim.entropy_coef(hparams, ctx.config.ent_schedule, progress(ctx, state))


def collect(ctx: Context, state: TrainState, key: jax.Array) -> tuple[Trajectory, TrainState]:
    """One rollout of ``num_steps`` with the current policy; advances env state and counters."""
    params, nets = state.params, ctx.nets

    def act(k, obs):
        dist = nets.policy(params, obs)
        action = dist.sample(k)
        return action, dist.log_prob(action)

    def act_recurrent(k, obs, carry, first):
        c_actor, dist = nets.policy_step(params.actor, carry.actor, obs, first)
        c_critic, _ = nets.value_step(params.critic, carry.critic, obs, first)
        action = dist.sample(k)
        return action, dist.log_prob(action), ActorCritic(c_actor, c_critic)

    normalize = state.obs_stats.normalize if ctx.config.normalize_obs else (lambda o: o)
    traj, env_state, obs, policy = rollout(
        ctx.env, act_recurrent if nets.recurrent else act, normalize, state.env_state, state.obs,
        key, ctx.config.num_steps, state.policy,
    )  # fmt: skip
    obs_stats = state.obs_stats.update(traj.raw_obs) if ctx.config.normalize_obs else state.obs_stats
    state = state.replace(
        env_state=env_state,
        obs=obs,
        policy=policy,
        obs_stats=obs_stats,
        env_steps=state.env_steps + ctx.config.batch_size,
    )
    return traj, state


def global_norm(tree) -> jax.Array:
    return optax.tree.norm(tree)


def policy_stats(ctx: Context, params, obs: jax.Array, mask=None, dist=None) -> dict[str, jax.Array]:
    """Entropy and (Gaussian) log-std summaries of the policy on ``obs [N, ...]`` (the
    rows where ``mask [N]`` is 1, when given; ``dist``: the policy there, if known)."""
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


def init_state(ctx: Context, key: jax.Array, opt_state_fn, algo_state=None) -> TrainState:
    """Initial state: networks, optimizers (``opt_state_fn(params)``), envs reset."""
    k_net, k_env, k_run = jax.random.split(key, 3)
    example = observation_example(ctx.env)
    params = ctx.nets.init(k_net, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), example))
    obs, env_state = jax.vmap(ctx.env.reset)(jax.random.split(k_env, ctx.config.num_envs))
    return TrainState(
        params=params,
        opt_state=opt_state_fn(params),
        obs_stats=RunningStats.create(example),
        env_state=env_state,
        obs=obs,
        key=k_run,
        update=jnp.zeros((), jnp.int32),
        env_steps=jnp.zeros((), jnp.int32),
        algo_state={} if algo_state is None else algo_state,
        policy=initial_policy(ctx),
    )


def initial_policy(ctx: Context) -> PolicyCarry | None:
    """Zero recurrent state for every env, each at an episode start (None if feed-forward)."""
    if not ctx.nets.recurrent:
        return None
    n = ctx.config.num_envs
    return PolicyCarry(ctx.nets.initial_carry((n,)), jnp.ones((n,), bool))


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


def fit_value(
    ctx: Context,
    critic,
    opt: optax.GradientTransformation,
    opt_state,
    obs: jax.Array,
    target: jax.Array,
    key: jax.Array,
    mask: jax.Array | None = None,
):
    """Fit the critic (its variables ``critic``) to ``target`` by ``update_epochs`` x
    ``num_minibatches`` steps of ``opt`` (the critic's optimizer at this update's rate).

    ``obs [N, obs]``, ``target [N]``, optional ``mask [N]`` (1 = use the sample).
    Returns ``(critic, opt_state, metrics)`` with the first step's gradient norm (the
    gradient at the data-collecting parameters) and the mean loss.
    """
    cfg = ctx.config
    n = jax.tree.leaves(obs)[0].shape[0]  # obs may be a pytree
    mask = jnp.ones((n,), jnp.float32) if mask is None else mask.astype(jnp.float32)

    def loss_fn(critic, o, t, m):
        return losses.value_loss(ctx.nets.value_critic(critic, o), t, mask_t=m)

    def step(carry, data):
        critic, st = carry
        loss, g = jax.value_and_grad(loss_fn)(critic, *data)
        critic, st = optim.step(opt, st, critic, g)
        return (critic, st), (loss, global_norm(g))

    def epoch(carry, k):
        return jax.lax.scan(step, carry, shuffle_and_split(k, (obs, target, mask), cfg.num_minibatches))

    (critic, opt_state), (loss_values, norms) = jax.lax.scan(
        epoch, (critic, opt_state), jax.random.split(key, cfg.update_epochs)
    )
    return critic, opt_state, {"value_loss": loss_values.mean(), "critic_grad_norm": norms[0, 0]}


def pg_objective(ctx: Context, actor_params, obs, action, log_prob_old, advantage, ent_coef=0.0):
    """Importance-weighted policy-gradient surrogate (to maximise) plus the entropy bonus.

    ``L(theta) = mean[ pi_theta(a|s) / pi_old(a|s) * A ] + ent_coef * mean[H(pi_theta(.|s))]``;
    see :func:`jaxpg.losses.importance_weighted_objective`. Inputs are flat ``[N, ...]``.
    Returns ``(objective, entropy)``.
    """
    dist = ctx.nets.policy_actor(actor_params, obs)
    entropy = dist.entropy().mean()
    objective = losses.importance_weighted_objective(dist.log_prob(action), log_prob_old, advantage)
    return objective + ent_coef * entropy, entropy


def gae_policy_gradient(ctx: Context, state: TrainState, hparams: HParams, key: jax.Array):
    """The GAE policy-gradient estimate ``mean[grad log pi(a|s) A^GAE(lambda)]`` on one
    fresh batch collected from ``state`` (actor-parameter pytree), no entropy term.

    The estimator shared by a2c, npg, trpo and ppo (their first step's gradient);
    used by :func:`jaxpg.diagnostics.gradient_variance`.
    """
    traj, _ = collect(ctx, state, key)
    batch = flatten_time_batch(make_batch(ctx.nets, state.params, traj, hparams))
    adv = step_advantages(batch.advantage, ctx.config.normalize_advantages)
    return jax.grad(
        lambda a: pg_objective(ctx, a, batch.obs, batch.action, batch.log_prob, adv)[0]
    )(state.params.actor)


def common_diagnostics(ctx: Context, params_old, params, obs, value, target, mask=None,
                       old=None, new=None) -> dict:  # fmt: skip
    """Per-update diagnostics every algorithm logs: KL(old || new) on the batch,
    explained variance of the (pre-update) critic or baseline, entropy and log-std
    stats; over the rows where ``mask`` is 1 when given. ``old``: the policy of
    ``params_old`` on ``obs`` where the caller has it (saves a pass over the batch);
    ``new``: likewise for ``params`` (a recurrent policy's, replayed over its sequences)."""
    old = ctx.nets.policy(params_old, obs) if old is None else old
    new = ctx.nets.policy(params, obs) if new is None else new
    out = {"kl": masked_mean(old.kl(new), mask), "explained_variance": explained_variance(value, target, mask)}
    out.update(policy_stats(ctx, params, obs, mask, dist=new))
    return out


class UpdateStart(NamedTuple):
    """What every actor-critic update (a2c, npg, trpo, ppo) starts from."""

    state: TrainState  # after the rollout: key, env states and step counter advanced
    params_old: Any  # the parameters that collected the batch
    traj: Trajectory
    batch: Batch  # flat [N, ...]
    keys: list  # the update's own keys, beyond the rollout's
    lr_factor: Any
    ent_coef: Any
    opt: ActorCritic  # each network's optimizer at this update's learning rate


def start_update(ctx: Context, state: TrainState, hparams: HParams, num_keys: int = 0) -> UpdateStart:
    """Split keys, collect a rollout, make the flat batch, evaluate this update's schedules."""
    key, k_roll, *keys = jax.random.split(state.key, 2 + num_keys)
    params_old = state.params
    carry0 = None if state.policy is None else state.policy.carry
    traj, state = collect(ctx, state.replace(key=key), k_roll)
    batch = make_batch(ctx.nets, params_old, traj, hparams, carry0)
    if not ctx.nets.recurrent:  # a recurrent batch stays [T, B]: updates replay sequences
        batch = flatten_time_batch(batch)
    frac = lr_factor(ctx, state)
    opt = optim.actor_critic(hparams, frac)
    ent_coef = entropy_coef(ctx, state, hparams)
    return UpdateStart(state, params_old, traj, batch, keys, frac, ent_coef, opt)


def finish_update(ctx: Context, start: UpdateStart, params, opt_state, metrics: dict, algo_state=None):
    """The new state (update counter advanced) and the metrics plus the diagnostics every
    algorithm logs (:func:`common_diagnostics`) and the finished episodes' sums."""
    b = start.batch
    new = batch_policy(ctx, params.actor, b) if ctx.nets.recurrent else None
    diagnostics = common_diagnostics(ctx, start.params_old, params, b.obs, b.value, b.target,
                                     old=b.old_dist, new=new)  # fmt: skip
    metrics = {**metrics, **diagnostics}
    metrics.update(episode_metrics(start.traj))
    algo_state = start.state.algo_state if algo_state is None else algo_state
    state = start.state.replace(
        params=params, opt_state=opt_state, update=start.state.update + 1, algo_state=algo_state
    )
    return state, metrics


def init_actor_critic(ctx: Context, key: jax.Array, hparams: HParams, algo_state=None) -> TrainState:
    """Initial state whose ``opt_state`` is the :func:`jaxpg.optim.joint` state of an
    Adam for the actor and one for the critic (the algorithms that step both at once)."""
    return init_state(ctx, key, optim.joint(optim.actor_critic(hparams)).init, algo_state=algo_state)
