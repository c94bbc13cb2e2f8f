"""Optimizers and schedules, declared once with optax.

Every network is trained by ``chain(clip_by_global_norm, adam)`` at its own
learning rate (:func:`actor_critic`), clipping its own gradient norm. The one
optimizer-state type of every algorithm is an :class:`ActorCritic` of per-network
optax states (:func:`init`): where actor and critic step together on one loss
(A2C, PPO) :func:`step_each` steps both; REINFORCE steps the actor once and fits
the critic over several epochs; NPG/TRPO move the actor by a natural step, so its
entry is ``optax.EmptyState()`` and only the critic's Adam runs. PPO steps
:func:`flatten`-ed parameters (one vector per network), so its states hold flat
vectors; the layout is the same.

Learning-rate annealing is an optax schedule of the *update* counter
(:func:`lr_factor`), not of the optimizer's step count: PPO's target-KL stop skips
steps, and REINFORCE/NPG take a different number of critic than actor steps, so a
count-based schedule would anneal each network and each run differently, while
"decay to 0 over the planned updates" is what ``anneal_lr`` documents (and what
CleanRL/SB3 do). Adam's state (moments, count) does not depend on the learning
rate, so each update builds the transformation at its rate -- a traced,
vmappable hyperparameter times the schedule -- and the state carries over.
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxpg.config import HParams
from jaxpg.networks import ActorCritic


def adam(learning_rate, max_grad_norm) -> optax.GradientTransformation:
    """``chain(clip_by_global_norm(max_grad_norm), adam(learning_rate, eps=1e-5))``."""
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate, eps=1e-5))


def actor_critic(hparams: HParams, lr_factor=1.0) -> ActorCritic:
    """The actor's and the critic's optimizers at ``lr_factor`` times their learning rates."""
    return ActorCritic(
        adam(hparams.lr * lr_factor, hparams.max_grad_norm),
        adam(hparams.critic_lr * lr_factor, hparams.max_grad_norm),
    )


def init(opts: ActorCritic, params: ActorCritic) -> ActorCritic:
    """The optimizer state: one optax state per network (``optax.EmptyState()`` where
    ``opts`` has None: a network not moved by an optimizer, NPG/TRPO's actor)."""
    return ActorCritic(*(optax.EmptyState() if o is None else o.init(p) for o, p in zip(opts, params)))


def step_each(opts: ActorCritic, opt_state: ActorCritic, params: ActorCritic, grads: ActorCritic):
    """One step of each network's own optimizer; returns ``(params, opt_state)``."""
    actor, st_actor = step(opts.actor, opt_state.actor, params.actor, grads.actor)
    critic, st_critic = step(opts.critic, opt_state.critic, params.critic, grads.critic)
    return ActorCritic(actor, critic), ActorCritic(st_actor, st_critic)


def flatten(params: ActorCritic) -> tuple[ActorCritic, Callable[[ActorCritic], ActorCritic]]:
    """Each network's parameters as one flat vector, and the map back to the trees.

    Why: a step on the trees runs the clipping and Adam leaf by leaf,
    a dozen small kernels per network, which on XLA's CPU backend cost more than the
    arithmetic (PPO takes 128 such steps an update at 8 epochs x 16 minibatches). On
    one vector per network it is a handful. Adam is elementwise, so the same numbers;
    the gradient's global norm sums the squares in another order (last-bit rounding).
    """
    actor, unravel_actor = ravel_pytree(params.actor)
    critic, unravel_critic = ravel_pytree(params.critic)
    unravel = lambda flat: ActorCritic(unravel_actor(flat.actor), unravel_critic(flat.critic))
    return ActorCritic(actor, critic), unravel


def step(opt: optax.GradientTransformation, opt_state, params, grads):
    """One optimizer step (gradient descent on ``grads``); returns ``(params, opt_state)``."""
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def lr_factor(anneal: bool, num_updates: int, update):
    """Learning-rate factor after ``update`` updates: linear to 0 at ``num_updates`` when
    ``anneal``, else 1."""
    return optax.linear_schedule(1.0, 0.0, max(num_updates, 1))(update) if anneal else 1.0


def entropy_coef(hparams: HParams, schedule: str, progress):
    """Entropy coefficient at ``progress`` in [0, 1] (fraction of updates done).

    Hand-written rather than ``optax.cosine_decay_schedule``, which scales by the
    ratio ``end / start`` and so fails for a start of 0 (a sweep may well start there).
    """
    start, end = hparams.ent_coef, hparams.ent_coef_final
    if schedule == "linear":
        return start + (end - start) * progress
    if schedule == "cosine":
        return end + 0.5 * (start - end) * (1.0 + jnp.cos(jnp.pi * progress))
    return start + 0.0 * progress
