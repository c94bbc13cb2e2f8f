"""``jaxpg render DIR``: one episode of a run's policy as a GIF (gymnax) or HTML (Brax)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import tyro

from jaxpg.analysis.render import render_run
from jaxpg.cli.common import check_episode_options, check_out, parse_flags


@dataclass
class RenderArgs:
    """Play one episode of a run's final policy and write a GIF (gymnax) or HTML (Brax)."""

    run_dir: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="RUN_DIR")]
    """Run directory written by jaxpg train."""
    out: str | None = None
    """Output file; default DIR/episode.gif or DIR/episode.html."""
    seed: int = 0
    """Episode seed."""
    stochastic: bool = False
    """Sample actions instead of taking the mode."""
    max_steps: int | None = None
    """Frames at most; default the env's time limit (capped at 1000)."""
    env_factory: str | None = None
    """module:callable returning the env, for a run trained on a user env object."""


def main(argv: list[str]) -> int:
    a = parse_flags(RenderArgs, argv, "jaxpg render", None)
    check_episode_options(a.seed, a.max_steps)
    check_out(a.out)
    out = render_run(a.run_dir, a.out, a.seed, not a.stochastic, a.max_steps, a.env_factory)
    print(f"jaxpg render: wrote {out}")
    return 0
