"""``jaxpg plot DIR...``: learning curves of runs, a band over seeds per group."""

from __future__ import annotations

import os
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
    out: str | None = None
    """PNG file to write (default: curves.png in the run directory; for several runs, in
    the directory that holds them all)."""
    metric: str = "episode_return"
    """Metric of metrics.jsonl on the y axis: episode_return (training episodes) or
    eval_return (in-program evaluation of the deterministic policy), or any other."""
    x: str = "env_steps"
    """Metric on the x axis."""


def default_dir(run_dirs: list[str]) -> str:
    """Where a plot goes without ``--out``: the run directory, or the folder holding all runs."""
    dirs = [os.path.abspath(d) for d in run_dirs]
    return dirs[0] if len(dirs) == 1 else os.path.commonpath(dirs)


def main(argv: list[str]) -> int:
    a = parse_flags(PlotArgs, argv, "jaxpg plot", None)
    check_out(a.out)
    if a.out is None:
        a.out = os.path.join(default_dir(a.run_dirs), "curves.png")
    groups = plot_runs(a.run_dirs, a.out, a.metric, a.x)
    print(f"jaxpg plot: wrote {a.out} ({len(groups)} group(s): "
          + ", ".join(f"{k} n={v}" for k, v in groups.items()) + ")")
    return 0
