"""``jaxpg eval DIR``: evaluate a finished run's final policy, deterministic and stochastic."""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np

from jaxpg.algos.state import make_context
from jaxpg.errors import JaxpgError
from jaxpg.evaluation import eval_carry, max_eval_steps, policy_act, run_episodes
from jaxpg.runner.logging import write_json
from jaxpg.runner.rundir import load_run, run_env


def evaluate_run(run_dir: str, episodes: int = 10, seed: int = 0, max_steps: int | None = None,
                 env: Any = None) -> dict:  # fmt: skip
    """Deterministic and stochastic evaluation of a saved run; also written to ``eval.json``.

    ``env``: the env object a run trained with ``make_train(config, env=...)`` used (or a
    ``module:callable`` factory of it); runs of named envs rebuild theirs from the config.
    """
    if episodes < 1:
        raise JaxpgError(f"invalid episodes={episodes}: must be >= 1")
    run = load_run(run_dir)
    ctx = make_context(run.config, run_env(run_dir, env))
    out: dict = {"episodes": episodes, "seed": seed, "env": run.config.env, "algo": run.config.algo}
    key = jax.random.PRNGKey(seed)
    max_steps = max_steps or max_eval_steps(ctx.env)
    for mode, det in (("deterministic", True), ("stochastic", False)):
        key, k = jax.random.split(key)
        act = policy_act(ctx, run.params, run.obs_stats, det)
        carry = eval_carry(ctx, episodes)
        run_k = lambda k: run_episodes(ctx.env, act, k, episodes, max_steps, carry)[0]
        r = np.asarray(jax.jit(run_k)(k))
        out[mode] = {"mean": float(r.mean()), "std": float(r.std()), "returns": r.tolist()}
    write_json(os.path.join(run_dir, "eval.json"), out)
    return out
