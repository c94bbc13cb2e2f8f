"""Running observation statistics (``jaxpg.normalization``) against numpy."""

import jax.numpy as jnp
import numpy as np

from jaxpg.normalization import RunningStats


def test_running_statistics_match_numpy_over_batches_and_skip_integer_leaves():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(64, 3)).astype(np.float32) for _ in range(5)]
    example = {"x": jnp.zeros(3), "mask": jnp.ones(4, bool)}
    stats = RunningStats.create(example)
    for b in batches:
        stats = stats.update({"x": jnp.asarray(b), "mask": jnp.ones((64, 4), bool)})
    rows = np.concatenate(batches)
    # the prior (mean 0, var 1) weighs 1e-4 rows against 320: invisible at this tolerance
    np.testing.assert_allclose(np.asarray(stats.mean["x"]), rows.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(stats.var["x"]), rows.var(0), rtol=1e-3)
    out = stats.normalize({"x": jnp.asarray(rows[:2]), "mask": jnp.asarray([[True, False, True, False]] * 2)})
    np.testing.assert_allclose(np.asarray(out["x"]), (rows[:2] - rows.mean(0)) / rows.std(0), rtol=2e-3, atol=2e-3)
    assert out["mask"].dtype == jnp.bool_ and bool(out["mask"][0, 0]) and not bool(out["mask"][0, 1])


def test_a_dimension_without_variance_normalizes_to_zero_not_nan():
    """A dimension that has been constant for a whole (long) run has a variance that
    reaches 0 in float32 (restored statistics can hold an exact 0): its normalized value
    is 0, never 0/0, and a tiny rounding difference is not blown up to the clip value."""
    stats = RunningStats(mean=jnp.asarray([5.0, 0.0]), var=jnp.asarray([0.0, 1.0]), count=jnp.asarray(1e8))
    out = np.asarray(stats.normalize(jnp.asarray([[5.0, 1.0], [5.0 + 4.8e-7, -1.0]])))
    assert np.all(np.isfinite(out)), out
    np.testing.assert_allclose(out[:, 0], 0.0, atol=1e-2)
    np.testing.assert_allclose(out[:, 1], [1.0, -1.0], rtol=1e-6)
