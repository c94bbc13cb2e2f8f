"""The pure trainer: ``make_train(config) -> train(key, hparams) -> (state, metrics)``.

The compiled program is ``init`` followed by a ``lax.scan`` of updates; it is pure,
so ``jax.jit(jax.vmap(train))(keys, hparams_batch)`` trains a batch of agents.
:class:`Trainer` exposes the pieces (``init``, one ``update``, a chunk of updates)
that the chunked driver (:mod:`jaxpg.runner.loop`) compiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax

from jaxpg import guard
from jaxpg.algos import ALGORITHMS
from jaxpg.algos.common import Context, TrainState, make_context
from jaxpg.config import HParams, TrainConfig


@dataclass(frozen=True)
class Trainer:
    """The pure pieces of a run: ``init``, one ``update``, and a chunk of updates."""

    ctx: Context

    @property
    def algo(self):
        return ALGORITHMS[self.ctx.config.algo]

    def init(self, key: jax.Array, hparams: HParams) -> TrainState:
        return self.algo.init(self.ctx, key, hparams)

    def update(self, state: TrainState, hparams: HParams):
        """The algorithm's update plus ``metrics["nonfinite"]`` (see :mod:`jaxpg.guard`)."""
        state, metrics = self.algo.update(self.ctx, state, hparams)
        metrics = dict(metrics)
        metrics[guard.METRIC] = guard.nonfinite_code(metrics, state)
        return state, metrics

    def run_updates(self, state: TrainState, hparams: HParams, n: int):
        """``n`` updates in one ``lax.scan``; metrics stacked ``[n]``."""
        return jax.lax.scan(lambda s, _: self.update(s, hparams), state, None, length=n)


def make_trainer(config: TrainConfig) -> Trainer:
    return Trainer(make_context(config.validate()))


def make_train(config: TrainConfig) -> Callable[[jax.Array, HParams], tuple[TrainState, dict]]:
    """Return the pure ``train(key, hparams) -> (final_state, metrics[num_updates])``."""
    trainer = make_trainer(config)

    def train(key: jax.Array, hparams: HParams):
        state = trainer.init(key, hparams)
        return trainer.run_updates(state, hparams, config.num_updates)

    return train
