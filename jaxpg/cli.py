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
from jaxpg.flags import parse_flags
from jaxpg.rlhf.pipeline import RLHFConfig


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
    resume: str | None = None
    """Continue the run in this directory from its latest checkpoint, with its saved config."""
    overwrite: bool = False
    """Replace a run already in --out (its metrics and checkpoints are deleted)."""
    checkpoint_every: int | None = None
    """Checkpoint every this many updates (at chunk boundaries); None: about every tenth of the run."""
    keep_checkpoints: int = 3
    """How many of the latest checkpoints to keep."""
    wandb: str | None = None
    """Also log to Weights & Biases under this project (offline unless WANDB_MODE=online; needs wandb)."""


@dataclass
class RLHFArgs:
    """RLHF end to end: language -> SFT -> preferences -> reward model -> PPO -> report."""

    cfg: Annotated[RLHFConfig, tyro.conf.OmitArgPrefixes]
    out: str | None = None
    """Run directory; default runs/rlhf-s<seed>-<time>."""
    overwrite: bool = False
    """Replace a run already in --out."""


def _preparse(argv: list[str]) -> tuple[str, str]:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--algo", default="ppo")
    p.add_argument("--env", default="CartPole-v1")
    known, _ = p.parse_known_args(argv)
    return known.algo, known.env


def _preparse_resume(argv: list[str]) -> str | None:
    if argv and argv[-1] == "--resume" or any(
        a == "--resume" and b.startswith("-") for a, b in zip(argv, argv[1:])
    ):
        raise JaxpgError("--resume needs the run directory: jaxpg train --resume DIR")
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--resume", default=None)
    known, _ = p.parse_known_args(argv)
    return known.resume


def default_out_dir(config: TrainConfig, seed: int) -> str:
    env = config.env.replace("/", "-")
    return os.path.join("runs", f"{config.algo}-{env}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}")


RESUME_FLAGS = ("--resume", "--quiet")


def _resume(argv: list[str], run_dir: str) -> int:
    from jaxpg.train import load_run_config, run

    others = [a.split("=")[0] for a in argv if a.startswith("--") and a.split("=")[0] not in RESUME_FLAGS]
    if others:
        raise JaxpgError(
            f"--resume continues {run_dir} with its saved config; drop {', '.join(others)} "
            "(or start a new run with --out to change settings)"
        )
    config, hparams, seed, options = load_run_config(run_dir)
    print(f"jaxpg train: resuming {run_dir} ({config.algo} on {config.env})")
    result = run(
        config, hparams, seed=seed, out_dir=run_dir, progress="--quiet" not in argv,
        resume=True, checkpoint_every=options.get("checkpoint_every"),
        keep_checkpoints=options.get("keep_checkpoints", 3),
    )  # fmt: skip
    return _report(result.summary, run_dir)


def _report(s: dict, out: str) -> int:
    """Print the run's last line; the exit status says how it ended (0, 1, 128 + signal)."""
    import signal

    if s["status"] == "interrupted":
        signum = int(getattr(signal, s["signal"]))
        print(
            f"jaxpg train: {s['stop_reason']} at update {s['updates']}/{s['updates_planned']}; "
            f"checkpoint saved; resume with: jaxpg train --resume {out}",
            file=sys.stderr,
        )
        return 128 + signum
    if s["status"] == "nonfinite":
        kept = f"last good checkpoint {s['checkpoint']}" if s["checkpoint"] else "no checkpoint yet"
        print(
            f"jaxpg train: stopped: {s['stop_reason']} (the first quantity to go non-finite); "
            f"{kept}, the bad state was not saved; lower --lr/--critic-lr or check the env's "
            "rewards and observations",
            file=sys.stderr,
        )
        return 1
    print(
        f"done: return {s['episode_return']:.1f} after {s['env_steps']:,} steps in "
        f"{s['wall_time_s']:.1f} s (compile {s['compile_time_s']:.1f} s, "
        f"{s['sps']:,.0f} steps/s) on {s['device']}"
    )
    return 0


def cmd_sweep(argv: list[str]) -> int:
    from jaxpg.sweep import cli_main

    return cli_main(argv)


def cmd_rlhf(argv: list[str]) -> int:
    from jaxpg.rlhf.pipeline import run_rlhf, validate
    from jaxpg.train import prepare_run_dir

    args = parse_flags(RLHFArgs, argv, "jaxpg rlhf", RLHFArgs(cfg=RLHFConfig()))
    out = args.out or os.path.join("runs", f"rlhf-s{args.cfg.seed}-{time.strftime('%Y%m%d-%H%M%S')}")
    validate(args.cfg)  # before the run directory is made
    prepare_run_dir(out, resume=False, overwrite=args.overwrite)
    print(f"jaxpg rlhf: writing {out}")
    summary = run_rlhf(args.cfg, out)
    print(f"done in {summary['wall_s']['total_s']:.0f} s: {out}/summary.json")
    return 0


def cmd_train(argv: list[str]) -> int:
    from jaxpg.presets import no_preset_note, preset

    resume = _preparse_resume(argv)
    if resume is not None:
        return _resume(argv, resume)
    algo, env = _preparse(argv)
    from jaxpg.envs import check_env_name

    check_env_name(env)
    config, hparams = preset(algo, env)
    args = parse_flags(TrainArgs, argv, "jaxpg train", TrainArgs(config=config, hparams=hparams))
    from jaxpg.train import run

    out = args.out or default_out_dir(args.config, args.seed)
    args.config.validate()
    args.hparams.validate()
    if args.wandb:
        import importlib.util

        if importlib.util.find_spec("wandb") is None:
            raise JaxpgError("--wandb needs the wandb package: pip install wandb (or pip install -e '.[wandb]')")
    print(f"jaxpg train: {args.config.algo} on {args.config.env}, writing {out}")
    note = no_preset_note(args.config.algo, args.config.env)
    if note:
        print(f"jaxpg train: {note}")
    result = run(
        args.config, args.hparams, seed=args.seed, out_dir=out, progress=not args.quiet,
        overwrite=args.overwrite, checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints, wandb_project=args.wandb,
    )  # fmt: skip
    return _report(result.summary, out)


from jaxpg.cli_tools import cmd_eval, cmd_plot, cmd_render  # noqa: E402

COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "train": (cmd_train, "train one agent (default: PPO on CartPole-v1)"),
    "sweep": (cmd_sweep, "train seeds x hyperparameter settings in one compiled program"),
    "rlhf": (cmd_rlhf, "the RLHF pipeline: language, SFT, reward model, KL-constrained PPO"),
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
