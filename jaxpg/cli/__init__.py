"""The ``jaxpg`` command: ``jaxpg train``, and the other subcommands.

Each subcommand is a module here with ``main(argv) -> exit status``, imported by
name only when it runs (so ``jaxpg train`` never loads the RLHF stack). User errors (a bad value, an unknown env, a missing file) print one
line and exit with status 2; no traceback.
"""

from __future__ import annotations

import importlib
import sys

from jaxpg.errors import JaxpgError

# name -> (module under jaxpg.cli, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "train one agent (default: PPO on CartPole-v1)"),
    "sweep": ("sweep", "train seeds x hyperparameter settings in one compiled program"),
    "pbt": ("pbt", "population-based training: exploit/explore inside one compiled program"),
    "rlhf": ("rlhf", "the RLHF pipeline: language, SFT, reward model, KL-constrained PPO"),
    "eval": ("eval", "evaluate a run's final policy (deterministic and stochastic)"),
    "render": ("render", "render an episode of a run's policy (GIF or Brax HTML)"),
    "plot": ("plot", "plot learning curves of runs, bands over seeds (PNG)"),
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
        command = importlib.import_module(f"jaxpg.cli.{COMMANDS[name][0]}")
        return command.main(rest)
    except JaxpgError as e:
        print(f"jaxpg {name}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jaxpg {name}: interrupted", file=sys.stderr)
        return 130
