"""The pure trainer: ``make_train(config) -> train(key, hparams) -> (state, metrics)``.

The compiled program is ``init`` followed by a ``lax.scan`` of updates; it is pure,
so ``jax.jit(jax.vmap(train))(keys, hparams_batch)`` trains a batch of agents.
:class:`Trainer` exposes the pieces (``init``, one ``update``, a chunk of updates)
that the chunked driver (:mod:`jaxpg.runner.loop`) compiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxpg import evaluation, guard
from jaxpg.algos import ALGORITHMS
from jaxpg.algos.state import Context, TrainState, make_context
from jaxpg.config import HParams, TrainConfig
from jaxpg.hparam_schedule import resolve
from jaxpg.metrics import UpdateMetrics
from jaxpg.validation import validate


@dataclass(frozen=True)
class Trainer:
    """The pure pieces of a run: ``init``, one ``update``, and a chunk of updates."""

    ctx: Context

    @property
    def algo(self):
        return ALGORITHMS[self.ctx.config.algo]

    def init(self, key: jax.Array, hparams: HParams) -> TrainState:
        return self.algo.init(self.ctx, key, resolve(hparams, 0))

    def update(self, state: TrainState, hparams: HParams, updates_done=None):
        """The algorithm's update, in-program evaluation every ``eval_interval`` updates
        (:mod:`jaxpg.evaluation`; ``updates_done``: the count after this update, default
        ``state.update``) and the non-finite code (see :mod:`jaxpg.guard`); returns
        ``(state, UpdateMetrics)``."""
        # An HParamSchedule: this update's values (jaxpg.hparam_schedule).
        state, metrics = self.algo.update(self.ctx, state, resolve(hparams, state.update))
        metrics = metrics.replace(nonfinite=guard.nonfinite_code(metrics, state))
        done = state.update if updates_done is None else updates_done
        return state, metrics.replace(eval=evaluation.maybe_evaluate(self.ctx, state, done))

    def run_updates(self, state: TrainState, hparams: HParams, n: int, first_update=None):
        """``n`` updates in one ``lax.scan``; metrics stacked ``[n]``.

        ``first_update``: the (unbatched) update count at the start, when known while
        tracing (``make_train``: 0); it keeps the evaluation branch a real branch
        under ``vmap``.
        """
        if first_update is None:
            return jax.lax.scan(lambda s, _: self.update(s, hparams), state, None, length=n)
        body = lambda s, i: self.update(s, hparams, first_update + i + 1)
        return jax.lax.scan(body, state, jnp.arange(n))

    def run_masked(self, state: TrainState, hparams: HParams, n: jax.Array, length: int):
        """The first ``n`` (traced, ``<= length``) of ``length`` scanned updates; the
        rest are skipped by a ``lax.cond``. So every chunk of a run, the last shorter
        one too, is one compiled program. Metrics stacked ``[length]``, zeros from ``n``.
        """
        update = jax.jit(self.update)  # traced once: eval_shape's trace is reused by cond
        shapes = update.eval_shape(state, hparams)[1]
        skip = lambda s, h: (s, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes))
        body = lambda s, i: jax.lax.cond(i < n, update, skip, s, hparams)
        return jax.lax.scan(body, state, jnp.arange(length))


def make_trainer(config: TrainConfig, env: Any = None, encoder: Any = None) -> Trainer:
    """The :class:`Trainer` of ``config`` (validated, with its env: :func:`make_context`)."""
    return Trainer(make_context(config, env, encoder))


def make_train(
    config: TrainConfig, env: Any = None, encoder: Any = None
) -> Callable[[jax.Array, HParams], tuple[TrainState, UpdateMetrics]]:
    """Return the pure ``train(key, hparams) -> (final_state, metrics[num_updates])``
    (:class:`jaxpg.metrics.UpdateMetrics`, read by name: ``metrics["episode_count"]``).

    ``env``: train on this env object instead of ``config.env`` (then only a label):
    anything with jaxpg's env interface, a gymnax ``(env, params)`` pair, a Brax
    ``Env`` or a MuJoCo Playground env (see :mod:`jaxpg.envs.adapters`).
    ``encoder``: a flax module mapping the env's observation pytree (one batch axis,
    ``action_mask`` removed) to ``[N, F]`` features, used by actor and critic in place
    of ``config.encoder`` (:mod:`jaxpg.nn.encoders`).

    ``config`` is validated here and ``hparams`` at each call of ``train`` with
    concrete values (:func:`jaxpg.validation.validate`); a caller that traces
    ``train`` (``jit``/``vmap``) validates its ``hparams`` first, as ``run`` and the
    sweep do.
    """
    trainer = make_trainer(config, env, encoder)

    def train(key: jax.Array, hparams: HParams):
        validate(config, hparams)  # the values, where concrete (see jaxpg.validation)
        state = trainer.init(key, hparams)
        return trainer.run_updates(state, hparams, config.num_updates, first_update=0)

    return train
