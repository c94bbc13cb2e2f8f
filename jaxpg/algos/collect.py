"""Collection: one rollout of ``num_steps`` with the current policy (the acting path of
:mod:`jaxpg.rollout`, normalizing observations where the config does; a recurrent
policy carries its actor and critic state from step to step and update to update)."""

from __future__ import annotations

import jax

from jaxpg.algos.state import Context, TrainState
from jaxpg.networks import ActorCritic
from jaxpg.rollout import Trajectory, rollout


def collect(ctx: Context, state: TrainState, key: jax.Array) -> tuple[Trajectory, TrainState]:
    """One rollout of ``num_steps`` with the current policy; advances env state, the
    policy's recurrent state (if any) and counters."""
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
