"""The ``jaxpg`` command: ``jaxpg train``, and the other subcommands.

Each subcommand is a module here with ``main(argv) -> exit status``, imported by
name only when it runs (so ``jaxpg train`` never loads the RLHF stack). User errors (a bad value, an unknown env, a missing file) print one
line and exit with status 2; no traceback.
"""

from __future__ import annotations

import importlib
import sys

from jaxpg.errors import JaxpgError
from jaxpg.runner.signals import exit_while_starting
from jaxpg.runner import compile_cache

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


# Subcommands that compile programs: they take the compilation-cache flags.
COMPILING = ("train", "sweep", "rlhf", "eval", "render")
CACHE_HELP = (
    "compilation cache (train, sweep, rlhf, eval, render): on by default in "
    "$XDG_CACHE_HOME/jaxpg/compile;\n  --compile-cache DIR   use DIR instead "
    f"(or {compile_cache.ENV_VAR}=DIR)\n  --no-compile-cache    compile everything afresh "
    f"(or {compile_cache.ENV_VAR}=off)"
)


def _usage() -> str:
    lines = ["usage: jaxpg COMMAND [FLAGS]   (jaxpg COMMAND --help for its flags)", "", "commands:"]
    lines += [f"  {name:<8} {doc}" for name, (_, doc) in COMMANDS.items()]
    return "\n".join(lines + ["", CACHE_HELP])


def split_cache_flags(argv: list[str]) -> tuple[list[str], str | None, bool]:
    """Take ``--compile-cache DIR`` (or ``=DIR``) and ``--no-compile-cache`` out of
    ``argv``: ``(the other flags, DIR or None, disabled)``."""
    rest, directory, disabled = [], None, False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--no-compile-cache":
            disabled = True
        elif a == "--compile-cache":
            if i + 1 == len(argv) or argv[i + 1].startswith("-"):
                raise JaxpgError("--compile-cache needs a directory: --compile-cache DIR (or --no-compile-cache)")
            directory, i = argv[i + 1], i + 1
        elif a.startswith("--compile-cache="):
            directory = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    if disabled and directory:
        raise JaxpgError("give --compile-cache DIR or --no-compile-cache, not both")
    return rest, directory, disabled


def setup_compile_cache(argv: list[str]) -> list[str]:
    """Turn the persistent compilation cache on (unless asked not to); the other flags."""
    rest, directory, disabled = split_cache_flags(argv)
    if any(a in ("-h", "--help") for a in rest):
        print(CACHE_HELP + "\n")
        return rest
    directory = compile_cache.resolve_directory(directory, disabled)
    if directory is not None:
        compile_cache.enable_compile_cache(directory)
    return rest


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
        # Before jax is imported: a signal while starting exits with one line (see StartupExit).
        with exit_while_starting(f"jaxpg {name}"):
            if name in COMPILING:  # before the first compilation, or JAX never looks in it
                rest = setup_compile_cache(rest)
            command = importlib.import_module(f"jaxpg.cli.{COMMANDS[name][0]}")
            return command.main(rest)
    except JaxpgError as e:
        print(f"jaxpg {name}: error: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print(f"jaxpg {name}: interrupted", file=sys.stderr)
        return 130
