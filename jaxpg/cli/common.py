"""What every subcommand's parser shares: one-line flag errors, integers as people
type them, the preset pre-parse, default output directories."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import secrets
import time

import tyro

from jaxpg.config import check_seed, parse_int
from jaxpg.errors import ConfigError, JaxpgError


def preparse_algo_env(argv: list[str]) -> tuple[str, str]:
    """``--algo`` and ``--env`` ahead of the full parse: they pick the preset whose
    values are the other flags' defaults."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--algo", default="ppo")
    p.add_argument("--env", default="CartPole-v1")
    known, _ = p.parse_known_args(argv)
    return known.algo, known.env


def timestamped_dir(name: str, suffix: str | None = None) -> str:
    """``runs/<name>-<YYYYmmdd-HHMMSS>-<suffix>``: the default output directory.

    The suffix (default: 6 random hex digits) keeps two runs started in the same
    second, on one host or on several sharing a disk, out of each other's way.
    """
    suffix = suffix or secrets.token_hex(3)
    return os.path.join("runs", f"{name.replace('/', '-')}-{time.strftime('%Y%m%d-%H%M%S')}-{suffix}")


# Integer flags accept 1e6, 5e7 and 1_000_000 (jaxpg.config.parse_int); 1.5 is refused.
INT_REGISTRY = tyro.constructors.ConstructorRegistry()


@INT_REGISTRY.primitive_rule
def _int_rule(type_info: tyro.constructors.PrimitiveTypeInfo):
    if type_info.type is not int:
        return None
    return tyro.constructors.PrimitiveConstructorSpec(
        nargs=1,
        metavar="INT",
        instance_from_str=lambda args: parse_int(args[0]),
        is_instance=lambda x: isinstance(x, int) and not isinstance(x, bool),
        str_from_instance=lambda x: [str(x)],
    )


def parse_flags(cls, argv: list[str], prog: str, default):
    """``tyro.cli`` whose parse errors become one-line :class:`JaxpgError`s (not a box)."""
    if any(a in ("-h", "--help") for a in argv):
        return tyro.cli(cls, args=argv, prog=prog, default=default, registry=INT_REGISTRY)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf):
            return tyro.cli(cls, args=argv, prog=prog, default=default, registry=INT_REGISTRY)
    except SystemExit as e:
        if not e.code:
            raise
        raise JaxpgError(f"{_first_message(buf.getvalue())} (see {prog} --help)") from None


def _first_message(text: str) -> str:
    """tyro's error box as one line: the first section of the box, joined.

    tyro draws a box: a title line, then "│ message │" lines wrapped at the
    terminal width (ASCII "+-", "|" when the stream cannot encode the box
    characters), then a rule and the help text. Without a box (no terminal) the
    title is a line of its own: drop it. The message is everything before the
    first rule (a wrapped list of choices stays whole).
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if lines and not lines[0].startswith(("╭", "+")):
        lines = lines[1:]
    lines = [ln.strip("│|").strip() for ln in lines if not ln.startswith(("╭", "╰", "+"))]
    message = []
    for ln in lines:
        if not ln or set(ln) <= set("─-") or ln.startswith(("Argument helptext", "For full helptext")):
            if message:
                break
            continue
        message.append(ln)
    return " ".join(" ".join(message).split()) or "could not parse the flags"


def check_out(out: str | None, flag: str = "--out") -> None:
    """An empty ``--out ''`` is a mistake (a shell variable that was not set), not "the default"."""
    if out is not None and not out.strip():
        raise JaxpgError(f"{flag} is empty: give a directory, or leave {flag} out for the default")


# Episodes of jaxpg eval are played in parallel (one env each): bounded so a typo
# (1e9) is an error, not an out-of-memory crash.
MAX_EVAL_EPISODES = 100_000


def check_episode_options(seed: int, max_steps: int | None, episodes: int | None = None) -> None:
    """One-line errors for eval/render's numbers, before any file is read or written."""
    check_seed(seed)
    if max_steps is not None and not 1 <= max_steps <= 10**7:
        raise ConfigError("max_steps", max_steps, "must be between 1 and 10,000,000 steps (or left out)")
    if episodes is not None and not 1 <= episodes <= MAX_EVAL_EPISODES:
        raise ConfigError("episodes", episodes, f"must be between 1 and {MAX_EVAL_EPISODES:,}")
