"""The batch stage every actor-critic algorithm shares: trajectory -> flat batch -> minibatches.

:func:`make_batch` turns a time-major :class:`~jaxpg.rollout.Trajectory` into GAE
advantages and value targets under the data-collecting parameters;
:func:`flatten_time_batch` makes it ``[T * B, ...]``; :func:`shuffle_and_split`
deals it into minibatches for one epoch.

**Advantage whitening has one scope**: the samples of one policy-gradient step
(:func:`step_advantages`). PPO takes a step per minibatch, so it whitens each
minibatch; A2C, NPG and TRPO take one step on the whole batch, so they whiten the
batch; REINFORCE whitens its valid (unmasked) steps. ``TrainConfig.normalize_advantages``
switches it for all of them.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg import advantages as adv_lib
from jaxpg.config import HParams
from jaxpg.networks import Networks
from jaxpg.rollout import Trajectory

_PACKED_INDEX_BITS = 16
"""Largest index width :func:`permutation` packs beside its random key (``n <= 65536``)."""


@struct.dataclass
class Batch:
    """What the actor-critic losses need, ``[T, B, ...]`` or flat ``[N, ...]``."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array  # log pi_old(a|s), the collecting policy
    advantage: jax.Array  # GAE(lambda), not whitened
    target: jax.Array  # value target: advantage + value
    value: jax.Array  # V_old(s)
    old_dist: Any = None  # pi_old on obs (for the exact KL penalty)
    first: Any = None  # [T, B] episode starts (recurrent policies; time-major only)
    carry0: Any = None  # ActorCritic of carries [B, ...] at the segment's start (recurrent)


def make_batch(nets: Networks, params, traj: Trajectory, hparams: HParams, carry0=None) -> Batch:
    """GAE advantages and TD(lambda) targets of ``traj`` under ``params`` (rewards scaled).

    A recurrent policy replays the segment from ``carry0`` (its state before step 0,
    :func:`jaxpg.networks.Networks.initial_carry` form) with the recorded resets:
    ``V(s_t)`` from the critic's state before step t, ``V(next_obs_t)`` from its
    state after step t (the same episode: no reset, also for a truncated one).
    """
    if nets.recurrent:
        values, next_values = _recurrent_values(nets, params.critic, carry0.critic, traj)
        old_dist = nets.policy_seq(params.actor, carry0.actor, traj.obs, traj.first)[1]
    else:
        values = nets.value(params, traj.obs)
        next_values = nets.value(params, traj.next_obs)
        old_dist = nets.policy(params, traj.obs)
    advantage = adv_lib.gae(
        traj.reward * hparams.reward_scale,
        values,
        next_values,
        traj.terminated,
        traj.truncated,
        hparams.gamma,
        hparams.gae_lambda,
    )
    return Batch(
        obs=traj.obs,
        action=traj.action,
        log_prob=traj.log_prob,
        advantage=advantage,
        target=advantage + values,
        value=values,
        old_dist=old_dist,
        first=traj.first,
        carry0=carry0,
    )


def _recurrent_values(nets: Networks, critic, carry0, traj: Trajectory):
    carries, values = nets.value_seq(critic, carry0, traj.obs, traj.first)
    t, b = values.shape
    fold = lambda x: x.reshape((t * b,) + x.shape[2:])
    no_reset = jnp.zeros((t * b,), bool)
    _, nxt = nets.value_step(critic, jax.tree.map(fold, carries), jax.tree.map(fold, traj.next_obs), no_reset)
    return values, nxt.reshape((t, b))


def split_envs(key: jax.Array, batch: Batch, num_minibatches: int) -> Batch:
    """One epoch's minibatches of whole env sequences (recurrent policies): time-major
    leaves ``[T, B, ...] -> [M, T, B // M, ...]``, ``carry0`` leaves ``[B, ...] ->
    [M, B // M, ...]``; the envs permuted, the same permutation for every leaf."""
    fields = ("obs", "action", "log_prob", "advantage", "target", "value", "old_dist", "first")
    time_major, carry0 = split_env_axis(
        key, {f: getattr(batch, f) for f in fields}, batch.carry0, num_minibatches
    )
    return batch.replace(**time_major, carry0=carry0)


def split_env_axis(key: jax.Array, time_major, per_env, num_minibatches: int):
    """Minibatches of whole envs: every leaf of ``time_major`` ``[T, B, ...] -> [M, T, B // M,
    ...]`` and of ``per_env`` ``[B, ...] -> [M, B // M, ...]``, the envs permuted alike
    (the ``B % M`` left-over envs are dropped). Returns ``(time_major, per_env)``."""
    b = jax.tree.leaves(time_major)[0].shape[1]
    size = b // num_minibatches
    perm = permutation(key, b)[: size * num_minibatches]

    def split_time_major(x):
        x = x[:, perm].reshape((x.shape[0], num_minibatches, size) + x.shape[2:])
        return jnp.moveaxis(x, 1, 0)

    split_per_env = lambda x: x[perm].reshape((num_minibatches, size) + x.shape[1:])
    return jax.tree.map(split_time_major, time_major), jax.tree.map(split_per_env, per_env)


def flatten_time_batch(tree):
    """``[T, B, ...] -> [T * B, ...]`` for every leaf."""
    return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tree)


def shuffle_and_split(key: jax.Array, tree, num_minibatches: int):
    """One epoch's minibatches: every leaf ``[N, ...] -> [M, N // M, ...]``, rows permuted.

    The same permutation for every leaf; the ``N % M`` left-over rows are dropped.
    """
    n = jax.tree.leaves(tree)[0].shape[0]
    size = n // num_minibatches
    perm = permutation(key, n)[: size * num_minibatches]
    return jax.tree.map(lambda x: x[perm].reshape((num_minibatches, size) + x.shape[1:]), tree)


def permutation(key: jax.Array, n: int) -> jax.Array:
    """A uniformly random permutation of ``range(n)`` (``int32 [n]``): the sort-based
    shuffle of ``jax.random.permutation``, with each round's random key and the
    index packed into one ``uint32``.

    Why: XLA's CPU backend sorts a lone ``uint32`` array about 5x faster than the
    (key, index) pair ``jax.random.permutation`` sorts, and PPO shuffles every epoch
    (about a sixth of an update at 8 epochs of 2048 samples). The index takes the low
    ``b = bits(n - 1)`` bits and the random key the other ``32 - b``; equal keys are
    ordered by index, as a stable sort orders them. Rounds follow jax's rule for
    making such ties negligible, ``(2 ** key_bits) ** rounds >= n ** 3``. A different
    stream of permutations than ``jax.random.permutation`` from the same key. Batches
    of more than ``2 ** 16`` rows (too few key bits left) use ``jax.random.permutation``.
    """
    index_bits = max((n - 1).bit_length(), 1)
    if index_bits > _PACKED_INDEX_BITS:
        return jax.random.permutation(key, n)
    key_bits = 32 - index_bits
    rounds = math.ceil(3 * math.log(max(n, 2)) / (key_bits * math.log(2)))
    low = jnp.uint32((1 << index_bits) - 1)
    perm = jnp.arange(n, dtype=jnp.uint32)
    for k in jax.random.split(key, rounds):
        perm = jax.lax.sort((jax.random.bits(k, (n,), jnp.uint32) & ~low) | perm) & low
    return perm.astype(jnp.int32)


def step_advantages(advantage: jax.Array, normalize: bool, mask: jax.Array | None = None) -> jax.Array:
    """The advantages one policy-gradient step uses: whitened over its own samples
    (``mask``: only those) when ``normalize``, else unchanged. See the module docstring."""
    return adv_lib.normalize(advantage, mask) if normalize else advantage
