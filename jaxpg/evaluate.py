"""Evaluation episodes of a policy, compiled.

:func:`evaluate` plays ``episodes`` episodes in parallel (one vmapped env each) and
returns each one's undiscounted return, either acting with the distribution's mode
(deterministic) or sampling from it (stochastic).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def make_policy_fn(ctx, params, obs_stats, deterministic: bool):
    """``act(key, obs) -> action`` for one (unbatched) observation."""
    normalize = obs_stats.normalize if ctx.config.normalize_obs else (lambda o: o)

    def act(key, obs):
        dist = ctx.nets.policy(params, normalize(obs))
        return dist.mode() if deterministic else dist.sample(key)

    return act


def default_max_steps(env) -> int:
    return int(getattr(env, "max_episode_steps", None) or 1000)


def evaluate(
    ctx,
    params,
    obs_stats,
    key: jax.Array,
    episodes: int = 10,
    deterministic: bool = True,
    max_steps: int | None = None,
) -> np.ndarray:
    """Returns ``[episodes]`` of the first episode each of ``episodes`` parallel envs plays.

    Each env runs for ``max_steps`` steps (default: the env's time limit); an episode
    that has not ended by then counts with its partial return.
    """
    env = ctx.env
    max_steps = max_steps or default_max_steps(env)
    act = make_policy_fn(ctx, params, obs_stats, deterministic)

    def one_episode(k):
        k_reset, k_run = jax.random.split(k)
        obs, state = env.reset(k_reset)

        def step(carry, k_t):
            obs, state, ret, done = carry
            k_act, k_env = jax.random.split(k_t)
            action = act(k_act, obs)
            obs, state, reward, term, trunc, _ = env.step(k_env, state, action)
            ret = ret + jnp.where(done, 0.0, reward)
            done = jnp.logical_or(done, jnp.logical_or(term, trunc))
            return (obs, state, ret, done), None

        init = (obs, state, jnp.zeros((), jnp.float32), jnp.zeros((), bool))
        (_, _, ret, _), _ = jax.lax.scan(step, init, jax.random.split(k_run, max_steps))
        return ret

    returns = jax.jit(jax.vmap(one_episode))(jax.random.split(key, episodes))
    return np.asarray(returns)
