"""``jaxpg eval DIR``: evaluate a finished run's final policy."""

from __future__ import annotations

from dataclasses import dataclass

import tyro

from jaxpg.analysis.evaluate import evaluate_run


@dataclass
class EvalArgs:
    """Evaluate the final policy of a run directory (writes DIR/eval.json)."""

    run_dir: tyro.conf.Positional[str]
    """Run directory written by jaxpg train."""
    episodes: int = 20
    """Episodes per mode (played in parallel)."""
    seed: int = 0
    """Evaluation seed."""
    max_steps: int | None = None
    """Steps per episode at most; default the env's time limit."""
    env_factory: str | None = None
    """module:callable returning the env, for a run trained on a user env object."""


def main(argv: list[str]) -> int:
    a = tyro.cli(EvalArgs, args=argv, prog="jaxpg eval")
    r = evaluate_run(a.run_dir, a.episodes, a.seed, a.max_steps, a.env_factory)
    print(f"jaxpg eval: {r['algo']} on {r['env']}, {a.episodes} episodes per mode")
    for mode in ("deterministic", "stochastic"):
        print(f"  {mode:<13} return {r[mode]['mean']:10.2f} +- {r[mode]['std']:.2f} (std)")
    return 0
