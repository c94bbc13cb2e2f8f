"""``jaxpg train``: one agent, a run directory; ``--resume DIR`` continues one.

The defaults shown by ``--help`` and used by a run are the preset for the chosen
``--algo`` and ``--env`` (see :mod:`jaxpg.presets`); any flag given overrides them.
"""

from __future__ import annotations

import argparse
import json
import importlib.util
import math
import os
import signal
import sys
from dataclasses import dataclass
from typing import Annotated

import jax
import tyro

from jaxpg.cli.common import check_out, parse_flags, preparse_algo_env, timestamped_dir
from jaxpg.config import HParams, TrainConfig, check_seed
from jaxpg.envs import check_env_name
from jaxpg.errors import JaxpgError
from jaxpg.hparam_schedule import schedule_from_list
from jaxpg.presets import no_preset_note, preset
from jaxpg.runner.loop import run
from jaxpg.runner.options import RunOptions
from jaxpg.runner.rundir import load_run_config, read_config_json
from jaxpg.runner.signals import startup_hint
from jaxpg.sharding import agree_on, initialize_distributed, is_primary
from jaxpg.validation import validate


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
    schedule: str | None = None
    """Replay a hyperparameter schedule: a best.json written by jaxpg pbt (its config and
    hparams become the defaults; the listed fields change at the listed updates)."""


def preparse_resume(argv: list[str]) -> str | None:
    if argv and argv[-1] == "--resume" or any(
        a == "--resume" and b.startswith("-") for a, b in zip(argv, argv[1:])
    ):
        raise JaxpgError("--resume needs the run directory: jaxpg train --resume DIR")
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--resume", default=None)
    known, _ = p.parse_known_args(argv)
    return known.resume


RESUME_FLAGS = ("--resume", "--quiet")


def resume(argv: list[str], run_dir: str) -> int:
    others = [a.split("=")[0] for a in argv if a.startswith("--") and a.split("=")[0] not in RESUME_FLAGS]
    if others:
        raise JaxpgError(
            f"--resume continues {run_dir} with its saved config; drop {', '.join(others)} "
            "(or start a new run with --out to change settings)"
        )
    saved = load_run_config(run_dir)
    segments = read_config_json(run_dir).get("schedule")
    schedule = schedule_from_list(saved.hparams, segments) if segments else None
    startup_hint(f"nothing new to save; continue with: jaxpg train --resume {run_dir}")
    say(f"jaxpg train: resuming {run_dir} ({saved.config.algo} on {saved.config.env})")
    options = RunOptions(
        seed=saved.seed, out_dir=run_dir, progress="--quiet" not in argv, resume=True,
        checkpoint_every=saved.options.get("checkpoint_every"),
        keep_checkpoints=saved.options.get("keep_checkpoints", 3),
    )  # fmt: skip
    result = run_with_peers(run_dir, saved.config, saved.hparams, options, schedule=schedule)
    return report(result.summary, run_dir)


def report(s: dict, out: str) -> int:
    """Print the run's last line; the exit status says how it ended (0, 1, 128 + signal)."""
    if s["status"] == "interrupted":
        signum = int(getattr(signal, s["signal"]))
        print(
            f"jaxpg train: {s['stop_reason']} at update {s['updates']}/{s['updates_planned']}; "
            f"checkpoint saved; resume with: jaxpg train --resume {out}",
            file=sys.stderr,
        )
        return 128 + signum
    if s["status"] == "write_failed":
        cont = (f"free space, then resume with: jaxpg train --resume {out}" if s["checkpoint"]
                else "free space and run the command again")  # fmt: skip
        kept = f"last checkpoint {s['checkpoint']} intact" if s["checkpoint"] else "no checkpoint yet"
        print(f"jaxpg train: stopped: {s['stop_reason']}; {kept}; {cont}", file=sys.stderr)
        return 1
    if s["status"] == "nonfinite":
        kept = f"last good checkpoint {s['checkpoint']}" if s["checkpoint"] else "no checkpoint yet"
        print(
            f"jaxpg train: stopped: {s['stop_reason']} (the first quantity to go non-finite); "
            f"{kept}, the bad state was not saved; lower --lr/--critic-lr or check the env's "
            "rewards and observations",
            file=sys.stderr,
        )
        return 1
    say(
        f"done: {_final_return_text(s)} after {s['env_steps']:,} steps in "
        f"{s['wall_time_s']:.1f} s (compile {s['compile_time_s']:.1f} s, "
        f"{s['sps']:,.0f} steps/s) on {s['device']}"
    )
    return 0



def _final_return_text(s: dict) -> str:
    """The done line's return: the last logged training return, or, where no training
    episode has finished yet (long episodes, a short run), says so with the in-program
    evaluation's return instead of printing nan."""
    ret = s.get("episode_return")
    if ret is not None and math.isfinite(ret):
        return f"return {ret:.1f}"
    ev = s.get("eval_return")
    shown = f" (eval return {ev:.2f})" if ev is not None and math.isfinite(ev) else ""
    return f"no training episode finished yet{shown}"


def run_with_peers(out: str, *args, **kwargs):
    """:func:`run`; with several processes, a collective that fails (a peer died: its
    socket is closed) ends this process with one line and exit 1 at once. Otherwise a
    Python traceback follows, then jax's shutdown waits for the dead peer's heartbeat
    and aborts (exit 134, ~60 lines of C++ stack, 80 s later in our try)."""
    try:
        result = run(*args, **kwargs)
    except Exception as e:  # gloo and XLA raise ValueError, XlaRuntimeError, ...
        if jax.process_count() == 1 or isinstance(e, JaxpgError):
            raise
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        os.write(2, (f"jaxpg train: stopped: process {jax.process_index()} lost its peers ({first}); "
                     f"continue from the last checkpoint with: jaxpg train --resume {out} "
                     "(on every process)\n").encode())  # fmt: skip
        os._exit(1)  # not jax's shutdown: it waits at a barrier for the dead process
    if result.summary.get("stopped_alone"):
        # This process's part of a collective checkpoint write failed; its peers may be
        # waiting inside that write. Its line, then out at once: their collective fails
        # when it is gone and each stops with one line (jax's shutdown would wait for them).
        code = report(result.summary, out)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return result


def say(text: str) -> None:
    """A status line: stdout on process 0, stderr on the others of a multi-process run."""
    print(text, file=sys.stdout if is_primary() else sys.stderr)


def main(argv: list[str]) -> int:
    # With JAXPG_COORDINATOR/JAXPG_NUM_PROCESSES/JAXPG_PROCESS_ID (or JAXPG_DISTRIBUTED=1)
    # one run spans every process: its envs split over all their devices, parameters
    # replicated, process 0 writing the files. Joined before any jax work.
    initialize_distributed()
    run_dir = preparse_resume(argv)
    if run_dir is not None:
        return resume(argv, run_dir)
    schedule_file = preparse_schedule(argv)
    if schedule_file:
        config, hparams, segments, file_seed = read_schedule_file(schedule_file, argv)
    else:
        algo, env = preparse_algo_env(argv)
        check_env_name(env)
        config, hparams = preset(algo, env)
    args = parse_flags(TrainArgs, argv, "jaxpg train", TrainArgs(config=config, hparams=hparams))
    check_out(args.out)
    check_seed(args.seed)
    schedule = schedule_from_list(args.hparams, segments) if schedule_file else None
    if schedule_file and not any(a.split("=")[0] == "--seed" for a in argv):
        args.seed = file_seed  # the seed of the member the schedule's policy descends from
    # Process 0's name on every process (a timestamp and a random suffix differ).
    out = agree_on(args.out or timestamped_dir(f"{args.config.algo}-{args.config.env}-s{args.seed}"))
    options = RunOptions(
        seed=args.seed, out_dir=out, progress=not args.quiet, overwrite=args.overwrite,
        checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints,
        wandb_project=args.wandb,
    )  # fmt: skip
    validate(args.config, args.hparams, options=options)  # before anything is written
    if args.wandb and importlib.util.find_spec("wandb") is None:
        raise JaxpgError("--wandb needs the wandb package: pip install wandb (or pip install -e '.[wandb]')")
    startup_hint("nothing was trained yet; run the same command again")
    say(f"jaxpg train: {args.config.algo} on {args.config.env}, writing {out}"
        + (f" ({jax.process_count()} processes, {jax.device_count()} devices)" if jax.process_count() > 1 else ""))
    note = no_preset_note(args.config.algo, args.config.env)
    if note:
        say(f"jaxpg train: {note}")
    result = run_with_peers(out, args.config, args.hparams, options, schedule=schedule)
    return report(result.summary, out)


def preparse_schedule(argv: list[str]) -> str | None:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--schedule", default=None)
    known, _ = p.parse_known_args(argv)
    return known.schedule


def read_schedule_file(path: str, argv: list[str]):
    """``(config, hparams, segments)`` of a ``best.json`` written by ``jaxpg pbt``."""
    try:
        with open(path) as f:
            saved = json.load(f)
        cfg = dict(saved["config"])
        for name in ("hidden_sizes", "critic_hidden_sizes"):
            if isinstance(cfg.get(name), list):
                cfg[name] = tuple(cfg[name])
        config, hparams, segments = TrainConfig(**cfg), HParams(**saved["hparams"]), saved["schedule"]
        seed = int(saved.get("seed", 0))
    except FileNotFoundError:
        raise JaxpgError(f"--schedule {path}: file not found (pass the best.json of a jaxpg pbt run)") from None
    except (ValueError, KeyError, TypeError) as e:
        raise JaxpgError(f"--schedule {path} is not a jaxpg pbt best.json ({type(e).__name__}: {e})") from None
    if any(a.split("=")[0] in ("--algo", "--env") for a in argv):
        raise JaxpgError("--schedule replays the algo and env of its file; drop --algo/--env")
    return config, hparams, segments, seed
