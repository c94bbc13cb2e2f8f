"""Env suites behind a name prefix, each an optional extra: ``craftax/<Name>``,
``jumanji/<Name>``, ``xminigrid/<Name>``, ``navix/<Name>``, ``kinetix/<size>/<level>``.
A suite whose package cannot be installed here (navix on Python < 3.12, kinetix-env
beside jax > 0.9) says why in one line when it is not importable."""

from __future__ import annotations

import difflib
import importlib.util
import sys

from jaxpg.envs.craftax_env import CRAFTAX_ENVS, make_craftax
from jaxpg.envs.jumanji_env import jumanji_names, make_jumanji
from jaxpg.envs.kinetix_env import kinetix_names, make_kinetix
from jaxpg.envs.navix_env import make_navix, navix_names
from jaxpg.envs.xminigrid_env import make_xminigrid, xminigrid_names
from jaxpg.errors import JaxpgError

# prefix -> (python module, pip extra, names(), make(name, episode_length))
SUITES = {
    "craftax": ("craftax", "craftax", lambda: list(CRAFTAX_ENVS), make_craftax),
    "jumanji": ("jumanji", "jumanji", jumanji_names, make_jumanji),
    "xminigrid": ("xminigrid", "xminigrid", xminigrid_names, make_xminigrid),
    "navix": ("navix", "navix", navix_names, make_navix),
    "kinetix": ("kinetix", "kinetix", kinetix_names, make_kinetix),
}
# Why a suite's package may be missing although its extra exists: said in one line.
CANNOT_INSTALL = {
    "navix": (lambda: sys.version_info < (3, 12),
              ("navix 4.0.0 needs Python >= 3.12 (this is {python}): use Python 3.12+ and "
               "pip install -e '.[navix]'")),
    "kinetix": (lambda: True,
                ("kinetix-env 3.0.2 pins jax<=0.9.0 (and its jax2d 1.0.1 calls jnp.clip(a_max=...), "
                 "which newer jax removed): it cannot be installed beside jax {jax}")),
}  # fmt: skip


def suite_of(name: str) -> str | None:
    """The suite prefix of ``name`` (``craftax/...`` -> ``craftax``), if it has one we know."""
    prefix = name.split("/", 1)[0] if "/" in name else ""
    return prefix if prefix in SUITES else None


def check_suite_name(name: str) -> None:
    """One-line :class:`JaxpgError` when a suite env cannot be made here, and why."""
    prefix, task = name.split("/", 1)
    module, extra, names, _ = SUITES[prefix]
    if importlib.util.find_spec(module) is None:
        applies, why = CANNOT_INSTALL.get(prefix, (lambda: False, ""))
        if applies():
            from importlib.metadata import version

            python = ".".join(map(str, sys.version_info[:2]))
            raise JaxpgError(f"env {name!r}: " + why.format(python=python, jax=version("jax")))
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
