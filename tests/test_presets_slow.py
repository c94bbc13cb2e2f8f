"""Learning checks of the presets added for the envs people try first (``pytest -m slow``).

Thresholds sit well above a random policy and below what the preset reached on a
2-core CPU (the README gives the measured curves).
"""

import numpy as np
import pytest

from jaxpg.presets import preset
from jaxpg.train import run


def _train_return(result, last: int = 3) -> float:
    finished = [r["episode_return"] for r in result.history if np.isfinite(r["episode_return"])]
    return float(np.mean(finished[-last:]))


@pytest.mark.slow
def test_breakout_minatar_preset_learns():
    config, hparams = preset("ppo", "Breakout-MinAtar")  # 1e7 steps: ~15 min on 2 CPU cores
    result = run(config, hparams, seed=0, progress=False)
    assert _train_return(result) >= 30  # default settings: 5.6; measured with the preset: 45.6


@pytest.mark.slow
def test_acrobot_preset_learns():
    config, hparams = preset("ppo", "Acrobot-v1")
    result = run(config, hparams, seed=0, progress=False)
    assert result.summary["eval_return"] >= -150  # random policy: -500 (never swings up)


@pytest.mark.slow
def test_mountaincar_continuous_preset_reaches_the_flag():
    config, hparams = preset("ppo", "MountainCarContinuous-v0")
    result = run(config, hparams, seed=0, progress=False)
    # training episodes (stochastic policy); standing still: 0; the flag: +100; measured 86.7
    assert _train_return(result) >= 50


@pytest.mark.slow
def test_playground_cartpole_balance_learns():
    pytest.importorskip("mujoco_playground")
    config, hparams = preset("ppo", "playground/CartpoleBalance")
    config = config.replace(num_envs=64, num_steps=30, num_minibatches=4, update_epochs=8,
                            total_timesteps=300_000, num_eval_envs=16, eval_every=15)  # fmt: skip
    result = run(config, hparams, seed=0, progress=False)
    assert result.summary["best_eval_return"] >= 900  # of 1000; measured: 999.7 at 144k steps
