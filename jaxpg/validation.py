"""The one validation entry point: every path into training calls :func:`validate`.

``jaxpg train``, ``jaxpg sweep`` and ``jaxpg pbt`` (before anything is written), the
chunked driver :func:`jaxpg.runner.loop.run`, the sweep's agents, the PBT driver
:func:`jaxpg.pbt.driver.run_pbt` and :func:`jaxpg.runner.trainer.make_train` all go through it, so a rule such as ``cg_damping >= 0.01`` cannot be bypassed by
calling a lower-level function. The rules themselves live with the values they
check: the field checks of :meth:`TrainConfig.validate` and :meth:`HParams.validate`,
the policy-vs-env rules here (:func:`check_action_space`, :func:`check_observation`),
and the driver's options in :meth:`jaxpg.runner.options.RunOptions.validate`. Each raises a one-line
:class:`ConfigError` (the CLI prints it and exits 2).

Traced hyperparameters: ``HParams`` may be batched or traced (``jit``/``vmap`` of
``train``). Their values are checked wherever they are concrete: by :func:`validate`
in ``run`` and the sweep before they are compiled in, and at the Python entry of
``make_train``'s ``train`` when it is called with concrete values. Inside a traced
call (``jax.jit(train)(key, hp)``) there is nothing concrete to check, so whoever
jits ``train`` should call ``validate(config, hparams)`` first (``run`` and the
sweep do).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxpg.config import HParams, TrainConfig
from jaxpg.envs.core import MultiDiscrete
from jaxpg.errors import ConfigError
from jaxpg.nn.encoders import split_action_mask


def is_concrete(tree) -> bool:
    """Whether no leaf of ``tree`` is a tracer (so its values can be checked on the host)."""
    return not any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(tree))


def validate(
    config: TrainConfig,
    hparams: HParams | None = None,
    env_spaces: Any = None,
    options: Any = None,
) -> tuple[TrainConfig, HParams | None]:
    """Check a run's inputs before anything is compiled or written; return them.

    ``config``: the static choices (field types, ranges, relations).
    ``hparams``: the float hyperparameters, one set or a batch (every element is
    checked); skipped when traced (see the module docstring).
    ``env_spaces``: anything with the env's ``action_space`` (an env), to check the
    policy can act in it, and, where it can ``reset``, read its observations. ``options``: a :class:`jaxpg.runner.options.RunOptions`.
    """
    config = config.validate()
    if hparams is not None and is_concrete(hparams):
        hparams.validate()
    if env_spaces is not None:
        check_action_space(config, env_spaces.action_space)
        if hasattr(env_spaces, "reset"):
            check_observation(config, env_spaces)
    if options is not None:
        options.validate()
    return config, hparams


def check_action_space(config: TrainConfig, space) -> None:
    """Raise a one-line :class:`ConfigError` if the policy cannot act in ``space``:
    it handles ``Discrete(n >= 1)`` with a softmax and a flat ``Box`` with a diagonal Gaussian."""
    if space.is_discrete and space.n < 1:
        raise ConfigError("env", config.env, f"has {space.n} actions; a policy needs at least 1")
    # "gaussian" is the default, so only a head the user chose is refused on discrete actions.
    if space.is_discrete and (config.policy != "gaussian" or config.state_dependent_std):
        field, value = (("policy", config.policy) if config.policy != "gaussian"
                        else ("state_dependent_std", True))  # fmt: skip
        raise ConfigError(
            field, value, f"a continuous-action head, but {config.env} has {space.n} discrete "
            f"actions (they get a softmax policy): drop --{field.replace('_', '-')}",
        )  # fmt: skip
    if not space.is_discrete and len(space.shape) != 1:
        raise ConfigError(
            "env", config.env,
            f"action shape {space.shape} is not a flat vector; the Gaussian policy needs one",
        )  # fmt: skip


def check_observation(config: TrainConfig, env) -> None:
    """One-line :class:`ConfigError` where the policy cannot read ``env``'s observations
    (one abstract ``reset``, no env step runs): ``--encoder cnn`` without an ``[H, W, C]``
    leaf, an ``action_mask`` of the wrong shape or dtype for the action space."""
    obs, mask = split_action_mask(jax.eval_shape(env.reset, jax.random.PRNGKey(0))[0])
    shapes = [tuple(x.shape) for x in jax.tree.leaves(obs)]
    if config.encoder == "cnn" and not any(len(s) == 3 for s in shapes):
        raise ConfigError("encoder", "cnn", f"needs an [H, W, C] observation; {config.env} "
                          f"observes shape {shapes[0] if len(shapes) == 1 else shapes}: use --encoder mlp")
    space = env.action_space
    if mask is None:
        return
    if not space.is_discrete:
        raise ConfigError("env", config.env, "returns an action_mask but has continuous actions")
    want = (len(space.nvec), space.n) if isinstance(space, MultiDiscrete) else (space.n,)
    if tuple(mask.shape) != want or mask.dtype != jnp.bool_:
        raise ConfigError("env", config.env, f"returns an action_mask of shape {tuple(mask.shape)} "
                          f"{mask.dtype}; its action space needs bool {want}")
