"""Command-line flags: tyro parsing with one-line errors, and integers as people type them.

Shared by ``jaxpg train``/``rlhf`` (:mod:`jaxpg.cli`) and ``jaxpg sweep``. Integer
flags accept ``1e6``, ``5e7`` and ``1_000_000`` (:func:`jaxpg.config.parse_int`);
``1.5`` is refused with one line and exit status 2.
"""

from __future__ import annotations

import contextlib
import io

import tyro

from jaxpg.config import parse_int
from jaxpg.errors import JaxpgError

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
        # tyro draws a box: a title line, then "│ message │" lines; keep the first message.
        # (ASCII "+-", "|" when the stream cannot encode the box characters).
        # Without a box (no terminal) the title is a line of its own: drop it.
        lines = [ln.strip() for ln in buf.getvalue().splitlines() if ln.strip()]
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
        raise JaxpgError(f"{first} (see {prog} --help)") from None
