"""``jaxpg eval DIR``: evaluate a finished run's final policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import tyro

from jaxpg.analysis.evaluate import evaluate_run
from jaxpg.cli.common import check_episode_options, parse_flags


@dataclass
class EvalArgs:
    """Evaluate the final policy of a run directory (writes DIR/eval.json)."""

    run_dir: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="RUN_DIR")]
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
    a = parse_flags(EvalArgs, argv, "jaxpg eval", None)
    check_episode_options(a.seed, a.max_steps, a.episodes)  # before eval.json is touched
    r = evaluate_run(a.run_dir, a.episodes, a.seed, a.max_steps, a.env_factory)
    print(f"jaxpg eval: {r['algo']} on {r['env']}, {a.episodes} episodes per mode")
    for mode in ("deterministic", "stochastic"):
        print(f"  {mode:<13} return {r[mode]['mean']:10.2f} +- {r[mode]['std']:.2f} (std)")
    return 0
