"""``jaxpg eval``, ``jaxpg render`` and ``jaxpg plot``: tools for finished runs."""

from __future__ import annotations

from dataclasses import dataclass

import tyro


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


def cmd_eval(argv: list[str]) -> int:
    from jaxpg.evaluate import evaluate_run

    a = tyro.cli(EvalArgs, args=argv, prog="jaxpg eval")
    r = evaluate_run(a.run_dir, a.episodes, a.seed, a.max_steps)
    print(f"jaxpg eval: {r['algo']} on {r['env']}, {a.episodes} episodes per mode")
    for mode in ("deterministic", "stochastic"):
        print(f"  {mode:<13} return {r[mode]['mean']:10.2f} +- {r[mode]['std']:.2f} (std)")
    return 0


@dataclass
class RenderArgs:
    """Play one episode of a run's final policy and write a GIF (gymnax) or HTML (Brax)."""

    run_dir: tyro.conf.Positional[str]
    """Run directory written by jaxpg train."""
    out: str | None = None
    """Output file; default DIR/episode.gif or DIR/episode.html."""
    seed: int = 0
    """Episode seed."""
    stochastic: bool = False
    """Sample actions instead of taking the mode."""
    max_steps: int | None = None
    """Frames at most; default the env's time limit (capped at 1000)."""


def cmd_render(argv: list[str]) -> int:
    from jaxpg.render import render_run

    a = tyro.cli(RenderArgs, args=argv, prog="jaxpg render")
    out = render_run(a.run_dir, a.out, a.seed, not a.stochastic, a.max_steps)
    print(f"jaxpg render: wrote {out}")
    return 0


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


def cmd_plot(argv: list[str]) -> int:
    from jaxpg.plotting import plot_runs

    a = tyro.cli(PlotArgs, args=argv, prog="jaxpg plot")
    groups = plot_runs(a.run_dirs, a.out, a.metric, a.x)
    print(f"jaxpg plot: wrote {a.out} ({len(groups)} group(s): "
          + ", ".join(f"{k} n={v}" for k, v in groups.items()) + ")")
    return 0
