"""The ``jaxpg`` command: ``jaxpg train``, and the other subcommands.

Each subcommand parses its own flags with tyro. For ``train``, the defaults shown
by ``--help`` and used by a run are the preset for the chosen ``--algo`` and
``--env`` (see :mod:`jaxpg.presets`); any flag given overrides them.

User errors (a bad value, an unknown env, a missing file) print one line and exit
with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from typing import Annotated, Callable

import tyro

from jaxpg.config import HParams, TrainConfig
from jaxpg.errors import JaxpgError


@dataclass
class TrainArgs:
    """Train one agent and write a run directory."""

    config: Annotated[TrainConfig, tyro.conf.OmitArgPrefixes]
    hparams: Annotated[HParams, tyro.conf.OmitArgPrefixes]
    seed: int = 0
    """Random seed (the root PRNG key)."""
    out: str | None = None
    """Run directory; default runs/<algo>-<env>-s<seed>-<time>."""
    quiet: bool = False
    """No live progress display."""


def _preparse(argv: list[str]) -> tuple[str, str]:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--algo", default="ppo")
    p.add_argument("--env", default="CartPole-v1")
    known, _ = p.parse_known_args(argv)
    return known.algo, known.env


def default_out_dir(config: TrainConfig, seed: int) -> str:
    env = config.env.replace("/", "-")
    return os.path.join("runs", f"{config.algo}-{env}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}")


def cmd_train(argv: list[str]) -> int:
    from jaxpg.presets import preset

    algo, env = _preparse(argv)
    from jaxpg.envs import check_env_name

    check_env_name(env)
    config, hparams = preset(algo, env)
    args = tyro.cli(
        TrainArgs,
        args=argv,
        prog="jaxpg train",
        default=TrainArgs(config=config, hparams=hparams),
    )
    from jaxpg.train import run

    out = args.out or default_out_dir(args.config, args.seed)
    args.config.validate()
    args.hparams.validate()
    print(f"jaxpg train: {args.config.algo} on {args.config.env}, writing {out}")
    result = run(args.config, args.hparams, seed=args.seed, out_dir=out, progress=not args.quiet)
    s = result.summary
    print(
        f"done: return {s['episode_return']:.1f} after {s['env_steps']:,} steps in "
        f"{s['wall_time_s']:.1f} s (compile {s['compile_time_s']:.1f} s, "
        f"{s['sps']:,.0f} steps/s) on {s['device']}"
    )
    return 0


from jaxpg.cli_tools import cmd_eval, cmd_plot, cmd_render  # noqa: E402

COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "train": (cmd_train, "train one agent (default: PPO on CartPole-v1)"),
    "eval": (cmd_eval, "evaluate a run's final policy (deterministic and stochastic)"),
    "render": (cmd_render, "render an episode of a run's policy (GIF or Brax HTML)"),
    "plot": (cmd_plot, "plot learning curves of runs, bands over seeds (PNG)"),
}


def _usage() -> str:
    lines = ["usage: jaxpg COMMAND [FLAGS]   (jaxpg COMMAND --help for its flags)", "", "commands:"]
    lines += [f"  {name:<8} {doc}" for name, (_, doc) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"jaxpg: unknown command {name!r}; use one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[name][0](rest)
    except JaxpgError as e:
        print(f"jaxpg {name}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jaxpg {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
