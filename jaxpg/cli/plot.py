"""``jaxpg plot DIR...``: learning curves of runs, a band over seeds per group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import tyro

from jaxpg.analysis.plotting import plot_runs
from jaxpg.cli.common import check_out, parse_flags


@dataclass
class PlotArgs:
    """Overlay learning curves of runs; runs differing only in seed are one band."""

    run_dirs: Annotated[tyro.conf.Positional[list[str]], tyro.conf.arg(metavar="RUN_DIR...")]
    """Run directories written by jaxpg train."""
    out: str = "curves.png"
    """PNG file to write."""
    metric: str = "episode_return"
    """Metric of metrics.jsonl on the y axis: episode_return (training episodes) or
    eval_return (in-program evaluation of the deterministic policy), or any other."""
    x: str = "env_steps"
    """Metric on the x axis."""


def main(argv: list[str]) -> int:
    a = parse_flags(PlotArgs, argv, "jaxpg plot", None)
    check_out(a.out)
    groups = plot_runs(a.run_dirs, a.out, a.metric, a.x)
    print(f"jaxpg plot: wrote {a.out} ({len(groups)} group(s): "
          + ", ".join(f"{k} n={v}" for k, v in groups.items()) + ")")
    return 0
