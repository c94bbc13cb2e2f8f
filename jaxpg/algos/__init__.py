"""One module per algorithm, each with ``init(ctx, key, hparams) -> TrainState`` and
``update(ctx, state, hparams) -> (TrainState, metrics)``."""

from jaxpg.algos import ppo

ALGORITHMS = {"ppo": ppo}
