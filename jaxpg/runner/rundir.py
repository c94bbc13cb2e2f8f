"""The run directory: creating it safely, and reading back what a run wrote.

A run directory holds ``config.json`` (config, hparams, seed, run options),
``metrics.jsonl``, ``summary.json``, TensorBoard events, ``checkpoints/`` and, at
the end, ``params.msgpack`` (the final policy, for ``jaxpg eval``/``render``).
This module is the one reader of ``config.json``: resume, eval, render and plot
all go through :func:`read_config_json` / :func:`load_run_config`, so they agree
on what a valid file is (unknown fields are an error, not silently dropped).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from jaxpg import envs
from jaxpg.config import HParams, TrainConfig
from jaxpg.errors import JaxpgError
from jaxpg.networks import ActorCritic
from jaxpg.normalization import RunningStats
from jaxpg.runner.checkpoint import CHECKPOINT_SUBDIR
from jaxpg.runner.logging import write_failed

CONFIG_FILE = "config.json"
PARAMS_FILE = "params.msgpack"
RUN_FILES = (CONFIG_FILE, "metrics.jsonl", "summary.json", PARAMS_FILE, "eval.json",
             "episode.gif", "episode.html")  # fmt: skip


LOCK_FILE = ".lock"
KEPT_FILES = ("summary.json", PARAMS_FILE, "eval.json", "episode.gif", "episode.html")
"""Files whose presence means a run got somewhere (besides a complete checkpoint)."""


def complete_checkpoints(out_dir: str) -> list[int]:
    """Steps under ``checkpoints/`` that orbax finished (it renames a step into place
    only once written, so an unfinished one has a temporary, non-numeric name)."""
    path = os.path.join(out_dir, CHECKPOINT_SUBDIR)
    if not os.path.isdir(path):
        return []
    return sorted(int(n) for n in os.listdir(path) if n.isdigit() and os.path.isdir(os.path.join(path, n)))


def holds_run(out_dir: str) -> bool:
    """Whether ``out_dir`` holds a run worth keeping: a complete checkpoint, a
    summary or final parameters. A start that died before its first checkpoint
    (Ctrl-C while compiling, a compile error, a bad env) leaves only its config,
    TensorBoard events and a few metrics rows: nothing a resume could continue from,
    so it does not block the same command from starting again."""
    names = set(os.listdir(out_dir))
    return bool(names & set(KEPT_FILES)) or bool(complete_checkpoints(out_dir))


def leftover_files(out_dir: str) -> list[str]:
    """The files a run writes that are in ``out_dir`` (what ``--overwrite`` removes)."""
    return [
        n for n in os.listdir(out_dir)
        if n in RUN_FILES or n == CHECKPOINT_SUBDIR or n.startswith("events.out.tfevents")
    ]  # fmt: skip


def _remove(out_dir: str, names: list[str]) -> None:
    for name in names:
        path = os.path.join(out_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


class RunLock:
    """An exclusive lock on a run directory for the life of the process that holds it.

    ``flock`` on ``DIR/.lock``: taken atomically, so of two processes started on one
    directory exactly one gets it; released by the kernel when the holder exits,
    however it dies (a SIGKILL leaves no stale lock to clean up by hand).
    """

    def __init__(self, out_dir: str):
        self.path = os.path.join(out_dir, LOCK_FILE)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            self._fd = None
            raise JaxpgError(
                f"{out_dir} is in use by another jaxpg process (pid {holder}): wait for it to end, "
                "or choose another --out"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None

    __del__ = release


def prepare_run_dir(out_dir: str, resume: bool, overwrite: bool, can_resume: bool = True) -> RunLock:
    """Create (or reuse) ``out_dir`` for one process alone; refuse to clobber a run.

    Returns the directory's :class:`RunLock` (release it when the run ends; it is
    released anyway when the process exits). ``resume``: ``out_dir`` must hold a
    run. ``overwrite``: the previous run's files (config, metrics, summary,
    TensorBoard events, checkpoints) are removed first, so an old checkpoint can
    never be mistaken for this run's latest. Files of a start that never reached a
    checkpoint are removed without asking (see :func:`holds_run`).
    """
    if resume and overwrite:
        raise JaxpgError("--resume and --overwrite contradict each other: give one of them")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise JaxpgError(f"run directory {out_dir} is a file: choose another --out")
    if resume and not os.path.isdir(out_dir):
        raise JaxpgError(f"no run directory {out_dir}: --resume needs an existing run directory")
    try:
        os.makedirs(out_dir, exist_ok=True)
        lock = RunLock(out_dir)
    except OSError as e:
        raise JaxpgError(f"cannot create run directory {out_dir}: {e.strerror}") from None
    try:
        if not resume:
            _clear_for_new_run(out_dir, overwrite, can_resume)
    except BaseException:
        lock.release()
        raise
    return lock


def _clear_for_new_run(out_dir: str, overwrite: bool, can_resume: bool) -> None:
    if holds_run(out_dir) and not overwrite:
        cont = f"continue it with --resume {out_dir}, " if can_resume else ""
        raise JaxpgError(
            f"{out_dir} already holds a run: {cont}replace it with --overwrite, or choose another --out"
        )
    _remove(out_dir, leftover_files(out_dir))


def read_config_json(run_dir: str) -> dict:
    """The parsed ``config.json`` of ``run_dir``; one-line errors when it is missing or broken."""
    if not os.path.isdir(run_dir):
        raise JaxpgError(f"no run directory {run_dir} (not found): pass a directory written by jaxpg train")
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise JaxpgError(f"{path} not found: {run_dir} is not a jaxpg run directory")
    try:
        with open(path) as f:
            saved = json.load(f)
    except (ValueError, OSError) as e:
        raise JaxpgError(f"{path} is unreadable ({type(e).__name__}: {e}); it is not a valid run config") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        raise JaxpgError(f"{path} holds no run config (a JSON object with a 'config' object expected)")
    return saved


class SavedRun(NamedTuple):
    """What ``config.json`` holds: the run's config, hparams, seed and run options."""

    config: TrainConfig
    hparams: HParams
    seed: int
    options: dict


def load_run_config(run_dir: str) -> SavedRun:
    """The typed contents of ``run_dir/config.json`` (unknown fields: a one-line error)."""
    saved = read_config_json(run_dir)
    path = os.path.join(run_dir, CONFIG_FILE)
    try:
        cfg = dict(saved["config"])
        unknown = sorted(set(cfg) - {f.name for f in dataclasses.fields(TrainConfig)})
        unknown += sorted(set(saved.get("hparams", {})) - {f.name for f in dataclasses.fields(HParams)})
        if unknown:
            raise JaxpgError(f"{path} has unknown config fields {unknown}: written by another jaxpg version?")
        # JSON has no tuples: every sequence field (hidden_sizes, cnn_channels, ...) is one.
        cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}
        return SavedRun(
            TrainConfig(**cfg), HParams(**saved["hparams"]), int(saved.get("seed", 0)),
            dict(saved.get("run", {})),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as e:
        raise JaxpgError(f"{path} is unreadable ({type(e).__name__}: {e}); it is not a valid run config") from None


def truncate_metrics(out_dir: str, last_update: int) -> list[dict]:
    """Keep the metrics rows up to ``last_update`` (the checkpoint) and return them.

    Rows logged after the last checkpoint (a crash between checkpoints) would be
    logged again by the resumed run, so they are dropped; the file is rewritten
    atomically.
    """
    path = os.path.join(out_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    rows, lines = [], []
    with open(path) as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                break  # a torn last line from a hard kill
            if row.get("update", 0) > last_update:
                break
            rows.append(row)
            lines.append(line if line.endswith("\n") else line + "\n")
    with open(path + ".tmp", "w") as f:
        f.writelines(lines)
    os.replace(path + ".tmp", path)
    return rows


def save_params(out_dir: str, state) -> str:
    """Write ``state.params`` and the observation statistics to ``out_dir/params.msgpack``.

    Written at the end of a run: enough to act with the final policy, without the
    optimizer and env states a checkpoint carries.
    """
    stats = state.obs_stats
    payload = {
        "params": jax.device_get(state.params._asdict()),
        "obs_stats": {
            "mean": jax.tree.map(np.asarray, stats.mean),
            "var": jax.tree.map(np.asarray, stats.var),
            "count": np.asarray(stats.count),
        },
    }
    path = os.path.join(out_dir, PARAMS_FILE)
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(serialization.msgpack_serialize(payload))
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise write_failed(path, e) from None
    return path


def load_params(run_dir: str) -> tuple[ActorCritic, RunningStats]:
    """``(params, obs_stats)`` written by :func:`save_params`; one-line error if missing."""
    path = os.path.join(run_dir, PARAMS_FILE)
    if not os.path.isfile(path):
        raise JaxpgError(
            f"{path} not found: the run has no saved parameters (did it finish? "
            "runs write them at the end)"
        )
    try:
        with open(path, "rb") as f:
            payload = serialization.msgpack_restore(f.read())
        s = payload["obs_stats"]
        as_jnp = lambda tree: jax.tree.map(jnp.asarray, tree)  # pytree observations: dicts
        stats = RunningStats(as_jnp(s["mean"]), as_jnp(s["var"]), jnp.asarray(s["count"]))
        return ActorCritic(**jax.tree.map(jnp.asarray, payload["params"])), stats
    except Exception as e:  # noqa: BLE001 - msgpack raises many types on a torn file
        first = (str(e).strip().splitlines() or [""])[0][:120]
        raise JaxpgError(
            f"{path} is unreadable ({type(e).__name__}: {first}): truncated or not written by "
            "jaxpg train; rerun the run or resume it to write it again"
        ) from None


@dataclass
class LoadedRun:
    """What acting with a saved run needs."""

    run_dir: str
    config: TrainConfig
    hparams: HParams
    params: Any
    obs_stats: Any  # RunningStats
    seed: int


def load_run(run_dir: str) -> LoadedRun:
    """Read a run directory's config and final parameters (one-line errors if missing)."""
    saved = load_run_config(run_dir)
    params, stats = load_params(run_dir)
    return LoadedRun(run_dir, saved.config, saved.hparams, params, stats, saved.seed)


def describe_env_object(env: Any) -> str:
    """``module.Class`` of a user env object (recorded in ``config.json``)."""
    env = env[0] if isinstance(env, tuple) else env
    return f"{type(env).__module__}.{type(env).__qualname__}"


def run_env(run_dir: str, env: Any = None):
    """The env to rebuild ``run_dir``'s policy in: ``env`` (an object, or a
    ``module:callable`` factory of one) when given; else None (the config names it),
    or a one-line error when the run trained on a user env object that was not given."""
    if isinstance(env, str):
        if not envs.is_factory_spec(env):
            raise JaxpgError(f"--env-factory {env!r} is not module:callable (e.g. mypkg.envs:make_env)")
        return envs.from_factory(env)
    if env is not None:
        return env
    trained_on = read_config_json(run_dir).get("env_object")
    if trained_on:
        raise JaxpgError(
            f"{run_dir} was trained on a user env object ({trained_on}): pass "
            "--env-factory module:callable (a function returning that env), or env= in Python"
        )
    return None

