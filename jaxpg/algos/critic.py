"""Critic fitting: several Adam epochs of the value loss on one batch (npg, trpo and
REINFORCE's value baseline): on shuffled samples, or, for a recurrent critic, on
minibatches of whole env sequences replayed from the carry at their start."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxpg import losses, optim
from jaxpg.algos.state import Context
from jaxpg.batch import shuffle_and_split, split_env_axis


def global_norm(tree) -> jax.Array:
    return optax.tree.norm(tree)


class ValueFit(NamedTuple):
    """What :func:`fit_value` reports: the mean loss and the first step's gradient norm."""

    value_loss: jax.Array
    critic_grad_norm: jax.Array


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

    ``obs [N, ...]`` (every leaf of a pytree), ``target [N]``, optional ``mask [N]`` (1 = use the sample).
    Returns ``(critic, opt_state, ValueFit)`` with the mean loss and the first step's
    gradient norm (the gradient at the data-collecting parameters).
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
    return critic, opt_state, ValueFit(loss_values.mean(), norms[0, 0])


def fit_value_sequences(
    ctx: Context,
    critic,
    opt: optax.GradientTransformation,
    opt_state,
    obs,
    first: jax.Array,
    carry0,
    target: jax.Array,
    key: jax.Array,
    mask: jax.Array | None = None,
):
    """:func:`fit_value` for a recurrent critic: each minibatch is ``B / num_minibatches``
    whole env sequences (``obs [T, B, ...]``, ``first [T, B]``, ``target [T, B]``, optional
    ``mask [T, B]``), the critic replayed over them from ``carry0`` (its state before step
    0, leaves ``[B, ...]``) with the recorded resets: truncated back-propagation over ``T``."""
    cfg = ctx.config
    mask = jnp.ones_like(target) if mask is None else mask.astype(jnp.float32)

    def loss_fn(critic, data, c0):
        values = ctx.nets.value_seq(critic, c0, data["obs"], data["first"])[1]
        return losses.value_loss(values, data["target"], mask_t=data["mask"])

    def step(carry, minibatch):
        critic, st = carry
        loss, g = jax.value_and_grad(loss_fn)(critic, *minibatch)
        critic, st = optim.step(opt, st, critic, g)
        return (critic, st), (loss, global_norm(g))

    data = {"obs": obs, "first": first, "target": target, "mask": mask}

    def epoch(carry, k):
        return jax.lax.scan(step, carry, split_env_axis(k, data, carry0, cfg.num_minibatches))

    (critic, opt_state), (loss_values, norms) = jax.lax.scan(
        epoch, (critic, opt_state), jax.random.split(key, cfg.update_epochs)
    )
    return critic, opt_state, ValueFit(loss_values.mean(), norms[0, 0])
