"""The train state every algorithm carries and the static context an update closes over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg import envs, optim
from jaxpg.config import HParams, TrainConfig
from jaxpg.networks import ActorCritic, Networks, make_networks
from jaxpg.normalization import RunningStats
from jaxpg.validate import validate


@struct.dataclass
class TrainState:
    """Everything a run carries between updates (checkpointed whole)."""

    params: ActorCritic  # flax variables of each network
    opt_state: ActorCritic  # one optax state per network (jaxpg.optim.init)
    obs_stats: RunningStats
    env_state: Any  # batched over envs
    obs: jax.Array  # [num_envs, obs_size], raw
    key: jax.Array
    update: jax.Array  # updates done
    env_steps: jax.Array  # environment steps done
    algo_state: Any  # algorithm-specific extras (e.g. an adaptive KL coefficient)


@dataclass(frozen=True)
class Context:
    """Static things an update closes over."""

    config: TrainConfig
    env: Any
    nets: Networks

    @property
    def progress_denominator(self) -> int:
        return max(self.config.num_updates, 1)


def make_context(config: TrainConfig, env: Any = None) -> Context:
    """The env and networks ``config`` names, checked by :func:`jaxpg.validate.validate`
    (one-line :class:`ConfigError` if the config is bad or the policy cannot act in the env).

    ``env``: a user env object (see :func:`jaxpg.envs.adapters.adapt`) instead of the
    env named ``config.env``. A tanh-Gaussian policy gets an env that squashes its
    pre-tanh actions (:class:`jaxpg.envs.SquashActions`).
    """
    config, _ = validate(config)
    squash = config.policy == "tanh-gaussian"
    if env is None:
        env = envs.make(config.env, config.backend, config.episode_length, squash_actions=squash)
    else:
        env = envs.wrap_user_env(env, squash_actions=squash)
    validate(config, env_spaces=env)
    nets = make_networks(
        env.action_space,
        config.hidden_sizes,
        config.activation,
        config.log_std_init,
        critic_hidden=config.critic_hidden_sizes,
        policy=config.policy,
        state_dependent_std=config.state_dependent_std,
        min_std=config.min_std,
        actor_out_scale=config.actor_out_scale,
    )
    return Context(config, env, nets)


def init_state(ctx: Context, key: jax.Array, opt_state_fn, algo_state=None) -> TrainState:
    """Initial state: networks, optimizers (``opt_state_fn(params)``), envs reset."""
    k_net, k_env, k_run = jax.random.split(key, 3)
    params = ctx.nets.init(k_net, ctx.env.obs_size)
    obs, env_state = jax.vmap(ctx.env.reset)(jax.random.split(k_env, ctx.config.num_envs))
    return TrainState(
        params=params,
        opt_state=opt_state_fn(params),
        obs_stats=RunningStats.create(ctx.env.obs_size),
        env_state=env_state,
        obs=obs,
        key=k_run,
        update=jnp.zeros((), jnp.int32),
        env_steps=jnp.zeros((), jnp.int32),
        algo_state={} if algo_state is None else algo_state,
    )


def progress(ctx: Context, state: TrainState):
    """Fraction of the planned updates done, in [0, 1): what the schedules follow."""
    return state.update.astype(jnp.float32) / ctx.progress_denominator


def lr_factor(ctx: Context, state: TrainState):
    """Linear decay to 0 over training when ``anneal_lr``, else 1 (:func:`jaxpg.optim.lr_factor`)."""
    return optim.lr_factor(ctx.config.anneal_lr, ctx.config.num_updates, state.update)


def entropy_coef(ctx: Context, state: TrainState, hparams: HParams):
    """The entropy coefficient of this update (``config.ent_schedule``)."""
    return optim.entropy_coef(hparams, ctx.config.ent_schedule, progress(ctx, state))


