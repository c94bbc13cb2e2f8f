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

from typing import Any

import jax
from flax import struct

from jaxpg import advantages as adv_lib
from jaxpg.config import HParams
from jaxpg.networks import Networks
from jaxpg.rollout import Trajectory


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


def make_batch(nets: Networks, params, traj: Trajectory, hparams: HParams) -> Batch:
    """GAE advantages and TD(lambda) targets of ``traj`` under ``params`` (rewards scaled)."""
    values = nets.value(params, traj.obs)
    next_values = nets.value(params, traj.next_obs)
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
        old_dist=nets.policy(params, traj.obs),
    )


def flatten_time_batch(tree):
    """``[T, B, ...] -> [T * B, ...]`` for every leaf."""
    return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tree)


def shuffle_and_split(key: jax.Array, tree, num_minibatches: int):
    """One epoch's minibatches: every leaf ``[N, ...] -> [M, N // M, ...]``, rows permuted.

    The same permutation for every leaf; the ``N % M`` left-over rows are dropped.
    """
    n = jax.tree.leaves(tree)[0].shape[0]
    size = n // num_minibatches
    perm = jax.random.permutation(key, n)[: size * num_minibatches]
    return jax.tree.map(lambda x: x[perm].reshape((num_minibatches, size) + x.shape[1:]), tree)


def step_advantages(advantage: jax.Array, normalize: bool, mask: jax.Array | None = None) -> jax.Array:
    """The advantages one policy-gradient step uses: whitened over its own samples
    (``mask``: only those) when ``normalize``, else unchanged. See the module docstring."""
    return adv_lib.normalize(advantage, mask) if normalize else advantage
