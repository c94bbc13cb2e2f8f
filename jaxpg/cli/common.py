"""What every subcommand's parser shares: one-line flag errors, integers as people
type them, the preset pre-parse, default output directories."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time

import tyro

from jaxpg.config import parse_int
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
    """The first message of tyro's error box.

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
    elif first.startswith("Error parsing"):  # a value error wrapped over several box lines
        for more in lines[1:]:
            if more.startswith(("Argument helptext", "For full helptext")):
                break
            first = f"{first} {more}"
    return first
