"""The train state every algorithm carries and the static context an update closes over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg import envs, optim, prng
from jaxpg.config import HParams, TrainConfig
from jaxpg.networks import ActorCritic, Networks, networks_for, observation_example
from jaxpg.normalization import RunningStats
from jaxpg.rollout import PolicyCarry
from jaxpg.validation import validate

prng.unroll_threefry_on_cpu()  # every training program is built from a Context: see jaxpg.prng


@struct.dataclass
class TrainState:
    """Everything a run carries between updates (checkpointed whole)."""

    params: ActorCritic  # flax variables of each network
    opt_state: ActorCritic  # one optax state per network (jaxpg.optim.init)
    obs_stats: RunningStats
    env_state: Any  # batched over envs
    obs: Any  # [num_envs, ...] (every leaf of a pytree observation), raw
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
    """The env and networks ``config`` names, checked by :func:`jaxpg.validation.validate`
    (one-line :class:`ConfigError` if the config is bad or the policy cannot act in the env).

    ``env``: a user env object (see :func:`jaxpg.envs.adapters.adapt`) instead of the
    env named ``config.env``. A tanh-Gaussian policy gets an env that squashes its
    pre-tanh actions (:class:`jaxpg.envs.SquashActions`). ``encoder``: a user's flax
    module for the env's (pytree) observations, in place of ``config.encoder``.
    """
    config, _ = validate(config)
    squash = config.policy == "tanh-gaussian"
    if env is None:
        env = envs.make(config.env, config.backend, config.episode_length, squash_actions=squash,
                        keep_obs_shape=config.encoder == "cnn")  # fmt: skip
    else:
        env = envs.wrap_user_env(env, squash_actions=squash)
    validate(config, env_spaces=env)
    return Context(config, env, networks_for(config, env, encoder))


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


def progress(ctx: Context, state: TrainState):
    """Fraction of the planned updates done, in [0, 1): what the schedules follow."""
    return state.update.astype(jnp.float32) / ctx.progress_denominator


def lr_factor(ctx: Context, state: TrainState):
    """Linear decay to 0 over training when ``anneal_lr``, else 1 (:func:`jaxpg.optim.lr_factor`)."""
    return optim.lr_factor(ctx.config.anneal_lr, ctx.config.num_updates, state.update)


def entropy_coef(ctx: Context, state: TrainState, hparams: HParams):
    """The entropy coefficient of this update (``config.ent_schedule``)."""
    return optim.entropy_coef(hparams, ctx.config.ent_schedule, progress(ctx, state))


