"""The run directory: creating it safely, and reading back what a run wrote.

A run directory holds ``config.json`` (config, hparams, seed, run options),
``metrics.jsonl``, ``summary.json``, TensorBoard events, ``checkpoints/`` and, at
the end, ``params.msgpack`` (the final policy, for ``jaxpg eval``/``render``).
This module is the one reader of ``config.json``: resume, eval, render and plot
all go through :func:`read_config_json` / :func:`load_run_config`, so they agree
on what a valid file is (unknown fields are an error, not silently dropped).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from jaxpg.config import HParams, TrainConfig
from jaxpg.errors import JaxpgError
from jaxpg.networks import ActorCritic
from jaxpg.normalization import RunningStats
from jaxpg.runner.checkpoint import CHECKPOINT_SUBDIR

CONFIG_FILE = "config.json"
PARAMS_FILE = "params.msgpack"
RUN_FILES = (CONFIG_FILE, "metrics.jsonl", "summary.json", PARAMS_FILE, "eval.json",
             "episode.gif", "episode.html")  # fmt: skip


def holds_run(out_dir: str) -> bool:
    """Whether ``out_dir`` has any file a run writes."""
    names = set(os.listdir(out_dir))
    return bool(names & {*RUN_FILES, CHECKPOINT_SUBDIR}) or any(
        n.startswith("events.out.tfevents") for n in names
    )


def prepare_run_dir(out_dir: str, resume: bool, overwrite: bool) -> None:
    """Refuse to clobber an existing run unless told to; create the directory.

    ``resume``: ``out_dir`` must hold a run. ``overwrite``: the previous run's files
    (config, metrics, summary, TensorBoard events, checkpoints) are removed first,
    so an old checkpoint can never be mistaken for this run's latest.
    """
    if resume and overwrite:
        raise JaxpgError("--resume and --overwrite contradict each other: give one of them")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise JaxpgError(f"run directory {out_dir} is a file: choose another --out")
    if resume:
        if not os.path.isdir(out_dir):
            raise JaxpgError(f"no run directory {out_dir}: --resume needs an existing run directory")
        return
    if os.path.isdir(out_dir) and holds_run(out_dir):
        if not overwrite:
            raise JaxpgError(
                f"{out_dir} already holds a run: continue it with --resume {out_dir}, "
                "replace it with --overwrite, or choose another --out"
            )
        for name in os.listdir(out_dir):
            path = os.path.join(out_dir, name)
            if name == CHECKPOINT_SUBDIR:
                shutil.rmtree(path)
            elif name in RUN_FILES or name.startswith("events.out.tfevents"):
                os.remove(path)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise JaxpgError(f"cannot create run directory {out_dir}: {e.strerror}") from None


def read_config_json(run_dir: str) -> dict:
    """The parsed ``config.json`` of ``run_dir``; one-line errors when it is missing or broken."""
    if not os.path.isdir(run_dir):
        raise JaxpgError(f"no run directory {run_dir} (not found): pass a directory written by jaxpg train")
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise JaxpgError(f"{path} not found: {run_dir} is not a jaxpg run directory")
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError as e:
        raise JaxpgError(f"{path} is unreadable ({type(e).__name__}: {e}); it is not a valid run config") from None


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
        for name in ("hidden_sizes", "critic_hidden_sizes"):
            if isinstance(cfg.get(name), list):
                cfg[name] = tuple(cfg[name])
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
    with open(tmp, "wb") as f:
        f.write(serialization.msgpack_serialize(payload))
    os.replace(tmp, path)
    return path


def load_params(run_dir: str) -> tuple[ActorCritic, RunningStats]:
    """``(params, obs_stats)`` written by :func:`save_params`; one-line error if missing."""
    path = os.path.join(run_dir, PARAMS_FILE)
    if not os.path.isfile(path):
        raise JaxpgError(
            f"{path} not found: the run has no saved parameters (did it finish? "
            "runs write them at the end)"
        )
    with open(path, "rb") as f:
        payload = serialization.msgpack_restore(f.read())
    s = payload["obs_stats"]
    as_jnp = lambda tree: jax.tree.map(jnp.asarray, tree)  # pytree observations: dicts
    stats = RunningStats(as_jnp(s["mean"]), as_jnp(s["var"]), jnp.asarray(s["count"]))
    return ActorCritic(**jax.tree.map(jnp.asarray, payload["params"])), stats


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
