"""Longer learning runs with the presets `jaxpg train` uses (run with `pytest -m slow`)."""

import numpy as np
import pytest

from jaxpg.presets import preset
from jaxpg import RunOptions, run


def _final(result) -> float:
    finished = [r["episode_return"] for r in result.history if np.isfinite(r["episode_return"])]
    return float(np.mean(finished[-3:]))


@pytest.mark.slow
def test_ppo_cartpole_preset_reaches_450():
    config, hparams = preset("ppo", "CartPole-v1")
    assert _final(run(config, hparams, RunOptions(seed=0, progress=False))) >= 450


@pytest.mark.slow
def test_ppo_pendulum_preset_reaches_minus_250():
    config, hparams = preset("ppo", "Pendulum-v1")
    assert _final(run(config, hparams, RunOptions(seed=0, progress=False))) >= -250


@pytest.mark.slow
def test_ppo_brax_inverted_pendulum_learns():
    config, hparams = preset("ppo", "brax/inverted_pendulum")
    result = run(config, hparams, RunOptions(seed=0, progress=False))
    assert _final(result) >= 500  # random policy: about 20
