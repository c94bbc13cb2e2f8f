"""What every subcommand's parser shares: one-line flag errors, the preset pre-parse."""

from __future__ import annotations

import argparse
import os
import time

from jaxpg.flags import parse_flags  # noqa: F401 - one-line flag errors, integers as 1e6


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
