"""Acting in batched envs: :func:`rollout` collects a time-major batch of transitions
(``lax.scan`` over time, ``vmap`` over envs); :func:`first_episodes` plays each env's
first episode to its end (REINFORCE's batches, evaluation episodes).

Both carry an optional policy state (a recurrent policy's hidden state): pass a
:class:`PolicyCarry` (rollout) or an initial carry (first_episodes) and an ``act``
that takes and returns it. Observations may be pytrees (every leaf ``[B, ...]``)."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg.envs.batched import step_batch
from jaxpg.metrics import EpisodeSums, FiniteFlags


@struct.dataclass
class Trajectory:
    """Transitions, every field ``[T, B, ...]``.

    ``obs``/``next_obs`` are what the policy saw (normalized where normalization is
    on); ``next_obs`` is the pre-reset observation ``s_{t+1}`` used to bootstrap.
    ``raw_obs`` feeds the observation statistics.
    """

    obs: jax.Array
    raw_obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    next_obs: jax.Array
    episode_done: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array
    first: jax.Array | None = None  # [T, B] bool: obs_t starts an episode (recurrent runs)

    @property
    def done(self) -> jax.Array:
        return jnp.logical_or(self.terminated, self.truncated)


# act(key, obs[B, ...]) -> (action[B, ...], log_prob[B]); with a policy carry
# act(key, obs, carry, first[B]) -> (action, log_prob, carry)
ActFn = Callable[..., tuple]


@struct.dataclass
class PolicyCarry:
    """A recurrent policy's state between env steps: its carry (e.g. one per network)
    and ``first [B]``, True where the current observation starts an episode (the
    policy resets its carry there)."""

    carry: Any
    first: jax.Array


def num_envs_of(obs) -> int:
    return jax.tree.leaves(obs)[0].shape[0]


def rollout(
    env,
    act: ActFn,
    normalize_obs: Callable[[Any], Any],
    env_state: Any,
    obs: Any,
    key: jax.Array,
    num_steps: int,
    policy: PolicyCarry | None = None,
) -> tuple[Trajectory, Any, Any, PolicyCarry | None]:
    """Run ``num_steps`` steps of ``B`` envs; return the trajectory, where the envs
    stand, and the policy state after the last step (None without one).

    ``env_state``/``obs`` are batched over the leading env axis; ``obs`` raw. With a
    ``policy`` state the trajectory records ``first``; the caller keeps ``policy`` as
    it was before the call to replay the segment.
    """
    def step(carry, key_t):
        env_state, raw, pol = carry
        k_act, k_env = jax.random.split(key_t)
        seen = normalize_obs(raw)
        first = None
        if pol is None:
            action, log_prob = act(k_act, seen)
        else:
            first = pol.first
            action, log_prob, new = act(k_act, seen, pol.carry, pol.first)
        env_keys = jax.random.split(k_env, num_envs_of(raw))
        next_raw, env_state, reward, term, trunc, info = step_batch(env, env_keys, env_state, action)
        tr = Trajectory(
            obs=seen,
            raw_obs=raw,
            action=action,
            log_prob=log_prob,
            reward=reward,
            terminated=term,
            truncated=trunc,
            next_obs=normalize_obs(info["final_obs"]),
            episode_done=info["episode_done"],
            episode_return=info["episode_return"],
            episode_length=info["episode_length"],
            first=first,
        )
        if pol is not None:
            pol = PolicyCarry(new, jnp.logical_or(term, trunc))
        return (env_state, next_raw, pol), tr

    keys = jax.random.split(key, num_steps)
    (env_state, obs, policy), traj = jax.lax.scan(step, (env_state, obs, policy), keys)
    return traj, env_state, obs, policy


@struct.dataclass
class EpisodeSteps:
    """What :func:`first_episodes` records, time-major ``[H, B, ...]``."""

    aux: Any  # what act returned beside the action, per step
    reward: jax.Array
    valid: jax.Array  # float32, 1 up to and including the step that ends the episode


def first_episodes(env, act, key: jax.Array, num_envs: int, max_steps: int, record: bool = False,
                   carry: Any = None):  # fmt: skip
    """Reset ``num_envs`` envs and step them until each has ended its first episode
    (termination or truncation) or ``max_steps`` steps have passed; a ``while_loop``
    that stops as soon as all are done. Steps after an env's episode ended do not count.

    ``act(key, raw_obs[B, obs]) -> (action[B, ...], aux)``. Returns ``(returns[B],
    lengths[B], steps)``: undiscounted returns and lengths of those episodes, and with
    ``record`` an :class:`EpisodeSteps` of every step (else ``None``). Used by REINFORCE
    (one complete episode per env) and by the evaluation episodes.
    """
    k_reset, k_run = jax.random.split(key)
    obs, state = jax.vmap(env.reset)(jax.random.split(k_reset, num_envs))
    # Steps after an env's episode ended are discarded, so an env that can step without
    # resetting (see jaxpg.envs.batched) is spared the cost of a reset per step.
    step_env = jax.vmap(getattr(env, "step_without_reset", env.step))
    buf = None
    step_act = act if carry is not None else (lambda k, o, c, first: (*act(k, o), None))
    if record:
        aux = jax.eval_shape(step_act, k_run, obs, carry, jnp.ones((num_envs,), bool))[1]
        zeros = lambda shape, dtype: jnp.zeros((max_steps,) + tuple(shape), dtype)
        buf = EpisodeSteps(jax.tree.map(lambda x: zeros(x.shape, x.dtype), aux),
                           zeros((num_envs,), jnp.float32), zeros((num_envs,), jnp.float32))  # fmt: skip

    def cond(loop):
        t, done = loop[0], loop[5]
        return jnp.logical_and(t < max_steps, jnp.logical_not(jnp.all(done)))

    def body(loop):
        t, obs, state, ret, length, done, buf, k, pc = loop
        k, k_act, k_env = jax.random.split(k, 3)
        action, aux, pc = step_act(k_act, obs, pc, jnp.broadcast_to(t == 0, (num_envs,)))
        obs, state, reward, term, trunc, _ = step_env(jax.random.split(k_env, num_envs), state, action)
        live = jnp.logical_not(done)
        if buf is not None:
            put = lambda b, x: b.at[t].set(x)
            buf = EpisodeSteps(jax.tree.map(put, buf.aux, aux), put(buf.reward, reward),
                               put(buf.valid, live.astype(jnp.float32)))  # fmt: skip
        ret = ret + jnp.where(live, reward, 0.0)
        length = length + live.astype(jnp.int32)
        done = jnp.logical_or(done, jnp.logical_or(term, trunc))
        return t + 1, obs, state, ret, length, done, buf, k, pc

    init = (jnp.zeros((), jnp.int32), obs, state, jnp.zeros((num_envs,), jnp.float32),
            jnp.zeros((num_envs,), jnp.int32), jnp.zeros((num_envs,), bool), buf, k_run,
            carry)  # fmt: skip
    _, _, _, returns, lengths, _, buf, _, _ = jax.lax.while_loop(cond, body, init)
    return returns, lengths, buf


def episode_metrics(traj: Trajectory) -> EpisodeSums:
    """Sums and counts of the episodes that finished in ``traj`` (driver averages them)."""
    done = traj.episode_done.astype(jnp.float32)
    return EpisodeSums(
        episode_return_sum=jnp.sum(traj.episode_return * done),
        episode_length_sum=jnp.sum(traj.episode_length * done),
        episode_count=jnp.sum(done),
    )


def finite_flags(raw_obs: jax.Array, reward: jax.Array) -> FiniteFlags:
    """1.0/0.0 flags read by the non-finite guard (:mod:`jaxpg.guard`), computed where
    the raw data lives, so a NaN observation is reported as such and not as the loss
    it poisons. Every algorithm's metrics carry them."""
    floats = [x for x in jax.tree.leaves(raw_obs) if jnp.issubdtype(x.dtype, jnp.floating)]
    obs_ok = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in floats])) if floats else True
    return FiniteFlags(
        obs_finite=jnp.asarray(obs_ok).astype(jnp.float32),
        reward_finite=jnp.all(jnp.isfinite(reward)).astype(jnp.float32),
    )
