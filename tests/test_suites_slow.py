"""Learning checks of the env-suite adapters at CPU scale (``pytest -m slow``).

The settings are ``experiments/suite_checks.py``'s (which writes the figures the
docs quote); each check compares the mean training return over the last 20% of
updates of every seed with a uniform random policy's return on the same adapter.
"""

import importlib.util

import numpy as np
import pytest

from experiments.suite_checks import TASKS, random_return
from experiments.common import final_return, train_many
from jaxpg.config import HParams, TrainConfig


@pytest.mark.slow
@pytest.mark.parametrize("task, margin", [
    ("xminigrid", 0.5),  # Empty-8x8: random 0.09, measured 0.96 on both seeds (3e5 steps)
    ("jumanji", 1.0),    # Snake-v1: random ~0.1 fruit
    ("craftax", 0.5),    # Craftax-Classic-Symbolic: random ~1.4 achievements' reward
])  # fmt: skip
def test_suite_task_learns_above_random(task, margin):
    module, env, cfg_kw, hp_kw = TASKS[task]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not installed")
    cfg = TrainConfig(algo="ppo", env=env, eval_every=0, **cfg_kw)
    _, metrics, _ = train_many(cfg, [HParams(**hp_kw)], [0, 1])
    final = final_return(metrics)[0]
    assert np.all(final >= random_return(env) + margin), final
