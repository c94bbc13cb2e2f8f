"""Collection: one rollout of ``num_steps`` with the current policy (the acting path of
:mod:`jaxpg.rollout`, normalizing observations where the config does)."""

from __future__ import annotations

import jax

from jaxpg.algos.state import Context, TrainState
from jaxpg.rollout import Trajectory, rollout


def collect(ctx: Context, state: TrainState, key: jax.Array) -> tuple[Trajectory, TrainState]:
    """One rollout of ``num_steps`` with the current policy; advances env state and counters."""
    params = state.params

    def act(k, obs):
        dist = ctx.nets.policy(params, obs)
        action = dist.sample(k)
        return action, dist.log_prob(action)

    normalize = state.obs_stats.normalize if ctx.config.normalize_obs else (lambda o: o)
    traj, env_state, obs = rollout(
        ctx.env, act, normalize, state.env_state, state.obs, key, ctx.config.num_steps
    )
    obs_stats = state.obs_stats.update(traj.raw_obs) if ctx.config.normalize_obs else state.obs_stats
    state = state.replace(
        env_state=env_state,
        obs=obs,
        obs_stats=obs_stats,
        env_steps=state.env_steps + ctx.config.batch_size,
    )
    return traj, state
