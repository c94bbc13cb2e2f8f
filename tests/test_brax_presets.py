"""Every Brax preset builds and runs a couple of PPO updates (small num_envs on CPU).

Slow: each Brax env compiles for 10-60 s on a CPU. Run with ``pytest -m slow``.
"""

import numpy as np
import pytest

from jaxpg.presets import preset
from jaxpg import RunOptions, run

BRAX_PRESETS = ["halfcheetah", "ant", "hopper", "humanoid", "walker2d"]


@pytest.mark.slow
@pytest.mark.parametrize("name", BRAX_PRESETS)
def test_brax_preset_runs_two_updates(name):
    config, hparams = preset("ppo", f"brax/{name}")
    # The preset's networks, normalization and hparams; only the batch is shrunk.
    assert config.batch_size % config.num_minibatches == 0 and config.normalize_obs
    small = config.replace(num_envs=8, num_steps=16, num_minibatches=4, total_timesteps=2 * 128,
                           updates_per_chunk=2)  # fmt: skip
    result = run(small, hparams, RunOptions(seed=0, progress=False))
    assert int(result.state.env_steps) == 256 and int(result.state.update) == 2
    row = result.history[-1]
    for k in ("policy_loss", "value_loss", "entropy", "approx_kl", "kl"):
        assert np.isfinite(row[k]), (k, row[k])
    assert np.all(np.isfinite(np.asarray(result.state.obs_stats.var)))
