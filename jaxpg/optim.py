"""Optimizers and schedules, declared once with optax.

Every network is trained by ``chain(clip_by_global_norm, adam)``. Adam's state
(moments and step count) does not depend on the learning rate, so the rate of an
update -- annealed, and a traced (vmappable) hyperparameter -- is given by building
the transformation with it (:func:`actor_critic`); the state carries over, and
nothing edits it by hand.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from jaxpg.config import HParams


def adam(learning_rate, max_grad_norm) -> optax.GradientTransformation:
    """``chain(clip_by_global_norm(max_grad_norm), adam(learning_rate, eps=1e-5))``."""
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate, eps=1e-5))


def actor_critic(hparams: HParams, lr_factor=1.0) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
    """The actor's and the critic's optimizers at ``lr_factor`` times their learning rates."""
    return (
        adam(hparams.lr * lr_factor, hparams.max_grad_norm),
        adam(hparams.critic_lr * lr_factor, hparams.max_grad_norm),
    )


def step(opt: optax.GradientTransformation, opt_state, params, grads):
    """One optimizer step (gradient descent on ``grads``); returns ``(params, opt_state)``."""
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def linear_decay(progress, enabled: bool):
    """Learning-rate factor: ``1 - progress`` (to 0 at the end of training) when ``enabled``, else 1."""
    return 1.0 - progress if enabled else 1.0


def entropy_coef(hparams: HParams, schedule: str, progress):
    """Entropy coefficient at ``progress`` in [0, 1] (fraction of updates done)."""
    start, end = hparams.ent_coef, hparams.ent_coef_final
    if schedule == "linear":
        return start + (end - start) * progress
    if schedule == "cosine":
        return end + 0.5 * (start - end) * (1.0 + jnp.cos(jnp.pi * progress))
    return start + 0.0 * progress

