"""Env suites behind a name prefix, each an optional extra: ``craftax/<Name>``,
``jumanji/<Name>``, ``xminigrid/<Name>`` (and the ones that cannot run here yet,
said so in one line: ``navix/``, ``kinetix/``)."""

from __future__ import annotations

import difflib
import importlib.util
import sys

from jaxpg.envs.craftax_env import CRAFTAX_ENVS, make_craftax
from jaxpg.envs.jumanji_env import jumanji_names, make_jumanji
from jaxpg.envs.xminigrid_env import make_xminigrid, xminigrid_names
from jaxpg.errors import JaxpgError

# prefix -> (python module, pip extra, names(), make(name, episode_length))
SUITES = {
    "craftax": ("craftax", "craftax", lambda: list(CRAFTAX_ENVS), make_craftax),
    "jumanji": ("jumanji", "jumanji", jumanji_names, make_jumanji),
    "xminigrid": ("xminigrid", "xminigrid", xminigrid_names, make_xminigrid),
}
# Suites jaxpg knows of but cannot run in this setting: why, in one line.
UNAVAILABLE = {
    "navix": "navix needs Python >= 3.12 (this is {python}); its adapter is not written yet",
    "kinetix": "kinetix-env pins jax<=0.9.0, older than the jax jaxpg needs; not supported yet",
}


def suite_of(name: str) -> str | None:
    """The suite prefix of ``name`` (``craftax/...`` -> ``craftax``), if it has one we know."""
    prefix = name.split("/", 1)[0] if "/" in name else ""
    return prefix if prefix in SUITES or prefix in UNAVAILABLE else None


def check_suite_name(name: str) -> None:
    """One-line :class:`JaxpgError` when a suite env cannot be made here, and why."""
    prefix, task = name.split("/", 1)
    if prefix in UNAVAILABLE:
        python = ".".join(map(str, sys.version_info[:2]))
        raise JaxpgError(f"env {name!r}: " + UNAVAILABLE[prefix].format(python=python))
    module, extra, names, _ = SUITES[prefix]
    if importlib.util.find_spec(module) is None:
        raise JaxpgError(f"env {name!r} needs {module}: pip install -e '.[{extra}]'")
    valid = names()
    if task not in valid:
        close = difflib.get_close_matches(task, valid, n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(f'{prefix}/{c}' for c in close)}?" if close else ""
        raise JaxpgError(f"unknown {prefix} env {task!r}.{hint} Valid: {', '.join(valid)}")


def make_suite_env(name: str, episode_length: int | None = None):
    """The adapter of suite env ``name`` (checked with :func:`check_suite_name` first)."""
    check_suite_name(name)
    prefix, task = name.split("/", 1)
    return SUITES[prefix][3](task, episode_length)
