"""A sweep's output directory: made (and locked) before any training, the flags it
was started with, and each finished group of settings written as it finishes, so an
interrupted sweep keeps its work and ``jaxpg sweep --resume DIR`` continues it."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence

from jaxpg.errors import JaxpgError
from jaxpg.runner.rundir import RunLock

ARGV_FILE = "sweep.json"
GROUPS_DIR = "groups"
OUTPUT_FILES = ("results.json", "results.md", "best.json", "curves.json", "curves.csv", "curves.png")


def holds_sweep(out: str) -> bool:
    names = set(os.listdir(out))
    return bool(names & {ARGV_FILE, GROUPS_DIR, *OUTPUT_FILES})


def prepare(out: str, argv: Sequence[str] | None, resume: bool, overwrite: bool) -> RunLock:
    """Create ``out`` for this process alone before training; refuse to clobber a sweep.

    Fresh: ``out`` must not hold a sweep (``overwrite`` removes its files first); the
    flags are saved for ``--resume`` (None for a sweep started from Python). Returns the
    directory's lock.
    """
    if os.path.exists(out) and not os.path.isdir(out):
        raise JaxpgError(f"sweep directory {out} is a file: choose another --out")
    if resume and not os.path.isfile(os.path.join(out, ARGV_FILE)):
        raise JaxpgError(f"{out} holds no sweep to resume ({ARGV_FILE} missing)")
    try:
        os.makedirs(out, exist_ok=True)
        lock = RunLock(out)
    except OSError as e:
        raise JaxpgError(f"cannot create sweep directory {out}: {e.strerror}") from None
    if resume:
        return lock
    if holds_sweep(out):
        if not overwrite:
            lock.release()
            raise JaxpgError(
                f"{out} already holds a sweep: continue it with jaxpg sweep --resume {out}, "
                "replace it with --overwrite, or choose another --out"
            )
        for name in (ARGV_FILE, GROUPS_DIR, *OUTPUT_FILES):
            path = os.path.join(out, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    _write_json(os.path.join(out, ARGV_FILE), {"argv": None if argv is None else list(argv)})
    return lock


def load_argv(out: str) -> list[str]:
    path = os.path.join(out, ARGV_FILE)
    if not os.path.isfile(path):
        raise JaxpgError(f"{out} holds no sweep to resume ({path} not found)")
    try:
        with open(path) as f:
            argv = json.load(f)["argv"]
        if argv is None:
            raise JaxpgError(f"{out} holds a sweep started from Python (no flags saved): continue it with "
                             f"run_sweep(spec, RunOptions(out_dir={out!r}, resume=True))")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise TypeError("argv is not a list of strings")
    except (ValueError, KeyError, TypeError) as e:
        raise JaxpgError(f"{path} is unreadable ({type(e).__name__}: {e})") from None
    return argv


def write_group(out: str, index: int, record: dict) -> None:
    os.makedirs(os.path.join(out, GROUPS_DIR), exist_ok=True)
    _write_json(os.path.join(out, GROUPS_DIR, f"{index}.json"), record)


def finished_groups(out: str) -> dict[int, dict]:
    """The groups written by :func:`write_group` (a torn file is ignored: trained again)."""
    folder = os.path.join(out, GROUPS_DIR)
    done = {}
    for name in os.listdir(folder) if os.path.isdir(folder) else ():
        stem = name.removesuffix(".json")
        if stem.isdigit() and name.endswith(".json"):
            try:
                with open(os.path.join(folder, name)) as f:
                    done[int(stem)] = json.load(f)
            except ValueError:
                continue
    return done


def _write_json(path: str, obj) -> None:
    """Atomic (a process killed mid-write leaves the previous file or none); NaN kept."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, default=lambda x: x.tolist() if hasattr(x, "tolist") else str(x))
    os.replace(tmp, path)
