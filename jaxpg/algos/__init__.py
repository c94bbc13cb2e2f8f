"""One module per algorithm, each with ``init(ctx, key, hparams) -> TrainState``,
``update(ctx, state, hparams) -> (TrainState, metrics)`` and
``policy_gradient(ctx, state, hparams, key) -> actor-gradient pytree`` (the
algorithm's own policy-gradient estimator on one fresh batch, for
:func:`jaxpg.diagnostics.gradient_variance`)."""

from jaxpg.algos import a2c, npg, ppo, reinforce, trpo

# Keyed by the names in jaxpg.config.ALGOS (tests/test_layout.py checks they agree).
ALGORITHMS = {"ppo": ppo, "a2c": a2c, "reinforce": reinforce, "npg": npg, "trpo": trpo}
