"""``jaxpg plot DIR...``: learning curves of runs, a band over seeds per group."""

from __future__ import annotations

from dataclasses import dataclass

import tyro

from jaxpg.analysis.plotting import plot_runs


@dataclass
class PlotArgs:
    """Overlay learning curves of runs; runs differing only in seed are one band."""

    run_dirs: tyro.conf.Positional[list[str]]
    """Run directories written by jaxpg train."""
    out: str = "curves.png"
    """PNG file to write."""
    metric: str = "episode_return"
    """Metric of metrics.jsonl on the y axis: episode_return (training episodes) or
    eval_return (in-program evaluation of the deterministic policy), or any other."""
    x: str = "env_steps"
    """Metric on the x axis."""


def main(argv: list[str]) -> int:
    a = tyro.cli(PlotArgs, args=argv, prog="jaxpg plot")
    groups = plot_runs(a.run_dirs, a.out, a.metric, a.x)
    print(f"jaxpg plot: wrote {a.out} ({len(groups)} group(s): "
          + ", ".join(f"{k} n={v}" for k, v in groups.items()) + ")")
    return 0
