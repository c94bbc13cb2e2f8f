"""What every subcommand's parser shares: one-line flag errors, the preset pre-parse."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time

import tyro

from jaxpg.errors import JaxpgError


def preparse_algo_env(argv: list[str]) -> tuple[str, str]:
    """``--algo`` and ``--env`` ahead of the full parse: they pick the preset whose
    values are the other flags' defaults."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--algo", default="ppo")
    p.add_argument("--env", default="CartPole-v1")
    known, _ = p.parse_known_args(argv)
    return known.algo, known.env


def timestamped_dir(name: str) -> str:
    """``runs/<name>-<YYYYmmdd-HHMMSS>``: the default output directory."""
    return os.path.join("runs", f"{name.replace('/', '-')}-{time.strftime('%Y%m%d-%H%M%S')}")


def parse_flags(cls, argv: list[str], prog: str, default):
    """``tyro.cli`` whose parse errors become one-line :class:`JaxpgError`s (not a box)."""
    if any(a in ("-h", "--help") for a in argv):
        return tyro.cli(cls, args=argv, prog=prog, default=default)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf):
            return tyro.cli(cls, args=argv, prog=prog, default=default)
    except SystemExit as e:
        if not e.code:
            raise
        raise JaxpgError(f"{_first_message(buf.getvalue())} (see {prog} --help)") from None


def _first_message(text: str) -> str:
    """The first message line of tyro's error box.

    tyro draws a box: a title line, then "│ message │" lines (ASCII "+-", "|" when
    the stream cannot encode the box characters). Without a box (no terminal) the
    title is a line of its own: drop it.
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if lines and not lines[0].startswith(("╭", "+")):
        lines = lines[1:]
    lines = [ln.strip("│|").strip() for ln in lines if not ln.startswith(("╭", "╰", "+"))]
    lines = [ln for ln in lines if ln and not ln.startswith(("─", "-"))]
    first = lines[0] if lines else "could not parse the flags"
    if first.endswith((" of", ":")) and len(lines) > 1:
        first = f"{first} {lines[1]}"  # "Expected one of" + the choices line
    return first
