"""The chunked driver: compile ``config.chunk`` updates, run, and between chunks
(on the host) log, show progress, check health, checkpoint; repeat.

:func:`run` wires the pieces; each job lives in its own module: the pure trainer
(:mod:`~jaxpg.runner.trainer`), the run directory (:mod:`~jaxpg.runner.rundir`),
checkpoints, signals, logging and progress.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import numpy as np

from jaxpg import evaluation, guard
from jaxpg import metrics as metrics_lib
from jaxpg.algos.state import TrainState
from jaxpg.config import HParams, TrainConfig
from jaxpg.diagnostics import HealthMonitor
from jaxpg.errors import JaxpgError, WriteFailed
from jaxpg.hparam_schedule import HParamSchedule
from jaxpg.metrics import UpdateMetrics
from jaxpg.runner.checkpoint import Checkpointer, check_compatible, newest_readable
from jaxpg.runner import compile_cache
from jaxpg.runner.compile_cache import compile_timed
from jaxpg.runner.logging import RunLogger
from jaxpg.runner.options import RunOptions
from jaxpg.runner.progress import Progress
from jaxpg.runner.rundir import (RunLock, describe_env_object, holds_run, prepare_run_dir, save_params,
                                 truncate_metrics)
from jaxpg.runner.signals import done_starting, signal_name, stop_on_signals
from jaxpg.runner.trainer import Trainer, make_trainer
from jaxpg.runner.watchdog import ChunkWatchdog
from jaxpg.sharding import (ENVS, agree_on, agree_on_stop, check_envs_divide, env_axis_sharding, is_primary, make_mesh,
                             primary_first, shard_env_axis, to_host)
from jaxpg.validation import validate

# Rows kept in memory: enough for any plot, bounded so that a run with tiny chunks
# left overnight does not grow the host's memory (metrics.jsonl has every row).
HISTORY_ROWS = 10_000


def summarize_chunk(metrics: UpdateMetrics) -> dict[str, float]:
    """Reduce a chunk's stacked per-update metrics to one log row, by the metrics'
    roles (:func:`jaxpg.metrics.summarize_chunk`), plus the chunk's last evaluation.

    ``episode_return`` is the mean return of the episodes that finished in the
    chunk (NaN when none did); other metrics are those of the chunk's last update;
    ``nonfinite`` is the largest code of the chunk (0: every update was finite).
    """
    row = metrics_lib.summarize_chunk(metrics)
    row.update(evaluation.summarize(metrics.eval))  # the chunk's last in-program evaluation
    return row


def chunk_row(metrics: UpdateMetrics, state: TrainState, sps: float, wall: float) -> dict:
    """The log row of one chunk: :func:`summarize_chunk` plus counters and timing."""
    row = summarize_chunk(metrics)
    row["env_steps"] = int(state.env_steps)
    row["update"] = int(state.update)
    row["sps"] = sps
    row["wall_time_s"] = wall
    return row


def device_description() -> str:
    d = jax.devices()[0]
    kind = getattr(d, "device_kind", d.platform)
    if d.platform == "cpu":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        machine = platform.processor() or platform.machine()
        return f"cpu ({machine}, {jax.local_device_count()} device(s), {cores} cores)"
    return f"{d.platform}: {kind} x{jax.local_device_count()}"


@dataclass
class RunResult:
    state: TrainState
    summary: dict
    history: list[dict]  # the last HISTORY_ROWS logged rows (all of them in metrics.jsonl)


@dataclass
class History:
    """The logged rows kept in memory, and the last and best finite ``episode_return``."""

    rows: deque = field(default_factory=lambda: deque(maxlen=HISTORY_ROWS))
    last: float = float("nan")
    best: float = float("nan")
    evals: evaluation.EvalTracker = field(default_factory=evaluation.EvalTracker)

    def add(self, row: dict) -> None:
        self.rows.append(row)
        self.evals.add(row)
        value = row.get("episode_return")
        if value is not None and np.isfinite(value):
            self.last = float(value)
            self.best = self.last if not self.best >= self.last else self.best


class ChunkPrograms:
    """The compiled chunk program: ``config.chunk`` scanned updates, of which the last
    chunk of a run may skip some (:meth:`Trainer.run_masked`), so one program serves
    every chunk. ``timings``: each program's trace/lower/compile seconds, by name."""

    def __init__(self, trainer: Trainer):
        self._jitted = jax.jit(trainer.run_masked, static_argnums=3, donate_argnums=0)
        self._length = trainer.ctx.config.chunk
        self._compiled = None
        self.timings: dict[str, dict] = {}

    @property
    def compile_time(self) -> float:
        """Seconds spent tracing, lowering and compiling programs."""
        return sum(t["trace_s"] + t["lower_s"] + t["compile_s"] for t in self.timings.values())

    def init(self, trainer: Trainer, key: jax.Array, hp: HParams) -> TrainState:
        fn, self.timings["init"] = compile_timed(jax.jit(trainer.init), key, hp)
        return fn(key, hp)

    def get(self, state: TrainState, hp: HParams, n: int):
        """``(state, hp) -> (state, metrics[n])``: ``n`` updates."""
        if self._compiled is None:
            self._compiled, self.timings["chunk"] = compile_timed(self._jitted, state, hp, np.int32(n), self._length)
        compiled = self._compiled

        def run_n(state: TrainState, hp: HParams):
            state, metrics = compiled(state, hp, np.int32(n))
            # Per-update scalars, replicated by the program's reductions: copied from this
            # process's devices (no collective; a sharded output would be gathered once).
            return state, jax.tree.map(lambda x: x[:n], to_host(metrics))

        return run_n


@dataclass
class Outputs:
    """What a run writes (all ``None`` without a run directory): logger and checkpoints.

    ``good`` holds the counters of the last state that passed the health checks;
    only such a state is ever checkpointed.
    """

    logger: RunLogger | None
    ckpt: Checkpointer | None
    meta: dict
    good: dict
    last_saved: int | None = None
    lock: RunLock | None = None

    def save(self, state: TrainState) -> None:
        if self.ckpt and self.last_saved != self.good["update"]:
            self.ckpt.save(state, {**self.meta, **self.good})
            self.last_saved = self.good["update"]

    def open_logger(self, options: RunOptions) -> None:
        if not options.out_dir or not is_primary():  # several processes: process 0 writes
            return
        self.logger = RunLogger(options.out_dir, append=options.resume, wandb_project=options.wandb_project)
        if not options.resume:
            self.logger.write_config({**self.meta, "run": options.saved()})

    def finish(self, out_dir, state: TrainState, summary: dict) -> None:
        """Write the summary and, unless the run went non-finite, the final parameters."""
        try:
            if self.logger:
                self.logger.write_summary(summary)
                if summary["status"] not in ("nonfinite", "write_failed"):
                    save_params(out_dir, state)  # the final policy, for jaxpg eval/render
        except WriteFailed:
            if summary["status"] != "write_failed":  # else already reported: the disk is full
                raise
        finally:
            self.close()

    def close(self) -> None:
        """Close the logger and checkpointer, release the run directory (also after an error)."""
        if self.logger:
            self.logger.close()
            self.logger = None
        if self.ckpt:
            self.ckpt.close()
            self.ckpt = None
        if self.lock:
            self.lock.release()

    @property
    def checkpoint_path(self) -> str | None:
        if self.ckpt is None or self.last_saved is None:
            return None
        return os.path.join(self.ckpt.directory, str(self.last_saved))


def open_outputs(options: RunOptions, meta) -> Outputs:
    """Prepare the run directory (refusing to clobber a run) and its checkpointer.

    The logger is opened later (:meth:`Outputs.open_logger`), after a resume has
    truncated ``metrics.jsonl`` to the checkpoint.
    """
    if not options.out_dir:
        return Outputs(None, None, meta, {})
    # Several processes: process 0 prepares and locks the directory; the others follow
    # (or stop with its one-line error). The checkpointer is shared: orbax writes
    # collectively, each process its own shards.
    lock = primary_first(prepare_run_dir, options.out_dir, options.resume, options.overwrite)
    try:
        # A start that died before its first checkpoint has no checkpoints/ to resume from.
        create = not options.resume or not holds_run(options.out_dir)
        ckpt = Checkpointer(options.out_dir, keep=options.keep_checkpoints, create=create)
        return Outputs(None, ckpt, meta, {}, lock=lock)
    except BaseException:
        if lock:
            lock.release()
        raise


def restore_latest(trainer: Trainer, out: Outputs, out_dir: str, seed: int, hp, history: History):
    """The newest readable checkpoint's state (checked against this config); metrics rows
    past it dropped. ``None`` (start from update 0) when the run died before its first
    checkpoint. A damaged newest checkpoint is named on stderr and the one before it used."""
    listing = json.dumps(out.ckpt.steps())  # process 0's list on every process (any length)
    steps = json.loads(agree_on(listing, size=int(agree_on(str(len(listing))))))
    if not steps:
        if holds_run(out_dir):
            raise JaxpgError(f"no complete checkpoint in {out.ckpt.directory}: nothing to resume; start a new run")
        print(f"jaxpg: {out_dir} stopped before its first checkpoint: starting it from update 0 "
              "with its saved config", file=sys.stderr)  # fmt: skip
        primary_first(truncate_metrics, out_dir, 0)
        return None
    abstract = jax.eval_shape(trainer.init, jax.random.PRNGKey(seed), hp)
    if jax.process_count() > 1:  # each process reads the shards of its own devices
        shardings = env_axis_sharding(abstract, trainer.ctx.config.num_envs, make_mesh(ENVS))
        abstract = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings)

    def read(step: int):
        where = os.path.join(out.ckpt.directory, str(step))
        check_compatible(out.ckpt.read_meta(step).get("config", {}), out.meta["config"], where)
        return out.ckpt.restore(abstract, step)[0]

    # Several processes read and fall back together (each reads its own shards).
    state = newest_readable(steps, read, lambda text: agree_on_stop(0, text)[1], out.ckpt.set_aside,
                            lambda line: print(line, file=sys.stderr))  # fmt: skip
    for row in primary_first(truncate_metrics, out_dir, int(state.update)) or []:
        history.add(row)
    out.last_saved = int(state.update)
    return state


@dataclass
class Stop:
    """How the chunk loop ended."""

    status: str = "completed"
    reason: str = "completed"
    nonfinite: dict | None = None
    signum: int | None = None
    health_warnings: list[str] = field(default_factory=list)
    alone: bool = False
    """Several processes: this one stopped without the others (its part of a collective
    checkpoint write failed, and they may be waiting inside that write)."""


def log_row(out: Outputs, row: dict) -> str:
    """Write ``row`` (process 0); the error's line if that failed ("" if not). One
    process raises it at once; several agree on it first (:func:`agree_on_stop`)."""
    if out.logger:
        try:
            out.logger.log(row, row["env_steps"])
        except WriteFailed as e:
            if jax.process_count() == 1:
                raise
            return f"process {jax.process_index()}: {e}"
    return ""


def alone_after_failed_save() -> bool:
    """A failed checkpoint save: with several processes the others may be inside orbax's
    collective write, where this process cannot join them again. It stops alone, at once
    (see ``jaxpg train``): its peers' next collective then fails within seconds and
    each of them stops with one line, instead of all waiting for one another."""
    return jax.process_count() > 1


def train_chunks(trainer, programs, state, hp, out: Outputs, history, options: RunOptions, on_row,
                 t_start):  # fmt: skip
    """Run chunks until done, stopped by a signal or a health check. Returns
    ``(state, Stop, train_time)``; the state is the last one computed (a bad one
    too: it is never checkpointed, see :class:`Outputs`)."""
    config = trainer.ctx.config
    every = options.checkpoint_every or max(config.chunk, config.num_updates // 10)
    watchdog = options.watchdog or ChunkWatchdog()
    done, chunk, num_updates = int(state.update), config.chunk, config.num_updates
    stop, train_time, monitor = Stop(), 0.0, HealthMonitor()
    bar = Progress(config.total_timesteps, enabled=options.progress and is_primary(),
                   title=f"{config.algo} on {config.env}")  # fmt: skip
    with stop_on_signals(options.handle_signals) as request:
        # Several processes stop together: a signal that reached any of them counts for
        # all, agreed once per chunk (one small collective), so none waits for the others.
        signum = request.signum if jax.process_count() == 1 else None
        try:
            while done < num_updates and signum is None:
                # Chunks end at multiples of ``chunk`` so a resumed run realigns.
                n = min(chunk - done % chunk, num_updates - done)
                fn = programs.get(state, hp, n)
                t0 = time.perf_counter()
                label = f"chunk of updates {done + 1}-{done + n} (of {num_updates})"
                with watchdog.watch(label):  # one line on stderr if this chunk is far late
                    state, metrics = fn(state, hp)
                    metrics = jax.device_get(metrics)
                # A chunk's work exists: from here a signal stops the run at this boundary,
                # saved. (Before anything else runs, so no signal can find it half-said.)
                done_starting()
                dt = time.perf_counter() - t0
                train_time += dt
                row = chunk_row(metrics, state, n * config.batch_size / dt, time.perf_counter() - t_start)
                write_error = log_row(out, row)
                bad = guard.first_nonfinite(metrics.nonfinite)
                if bad is not None:
                    at = done + bad[0] + 1
                    stop = Stop("nonfinite", f"non-finite {bad[1]} at update {at}", {"quantity": bad[1], "update": at})
                    break  # the bad state is never saved
                health_stop = monitor.check(row)  # warns once per kind
                if health_stop:
                    stop = Stop("nonfinite", health_stop, {"quantity": "metrics", "update": row["update"]})
                    break  # the bad state is never saved
                history.add(row)
                done = out.good["update"] = row["update"]
                out.good["env_steps"] = row["env_steps"]
                if on_row:
                    on_row(row)
                bar.update(row)
                # Several processes: a signal to any of them, or a row process 0 could not
                # write, stops all here, before the checkpoint (a collective write).
                signum, write_error = agree_on_stop(request.signum or 0, write_error)
                signum = signum or None
                if write_error:
                    stop = Stop("write_failed", write_error)
                    break
                if signum is None and out.ckpt and done < num_updates and (out.last_saved or 0) // every < done // every:
                    out.save(state)
        except WriteFailed as e:  # disk full, quota, read-only: stop, keep the earlier checkpoints
            stop = Stop("write_failed", str(e), alone=alone_after_failed_save())
        finally:
            bar.close()
        request.check()  # a second signal: abort now, without the final checkpoint
        if signum is not None and stop.status == "completed" and done < num_updates:
            stop = Stop("interrupted", f"interrupted by {signal_name(signum)}", None, signum)
        if stop.status in ("completed", "interrupted"):
            try:
                out.save(state)
            except WriteFailed as e:
                stop = Stop("write_failed", str(e), signum=stop.signum, alone=alone_after_failed_save())
    stop.health_warnings = [kind for kind, _, _ in monitor.warnings]
    return state, stop, train_time


def run(
    config: TrainConfig,
    hparams: HParams,
    options: RunOptions | None = None,
    *,
    on_row: Callable[[dict], Any] | None = None,
    env: Any = None,
    schedule: HParamSchedule | None = None,
) -> RunResult:
    """Train with the chunked driver as ``options`` say (:class:`RunOptions`: seed,
    run directory, resume, checkpoints, progress, logging, signals, watchdog).

    Between compiled chunks of ``config.chunk`` updates the host logs a row (also
    passed to ``on_row``), checkpoints and checks health. A resumed run continues
    the latest checkpoint and logs exactly what an uninterrupted one would; a
    non-finite update stops the run without saving the bad state.
    ``summary["status"]`` is ``completed``, ``interrupted``, ``nonfinite`` or
    ``write_failed`` (a file could not be written: disk full, quota, read-only; the
    earlier checkpoints are intact, ``summary.json`` written if the disk allows).
    ``env``: a user env object (see :func:`jaxpg.runner.trainer.make_train`);
    ``config.env`` is then a label.
    ``schedule``: hyperparameters that change at given updates (a PBT member's,
    :mod:`jaxpg.hparam_schedule`), used instead of ``hparams`` inside the program.
    """
    options = RunOptions() if options is None else options
    config, hparams = validate(config, hparams, options=options)
    trainer = make_trainer(config, env)
    seed = options.seed
    hp = hparams.as_arrays() if schedule is None else schedule
    meta = {"config": config.to_dict(), "hparams": hparams.to_dict(), "seed": seed}
    if env is not None:  # eval/render then need the env back (--env-factory)
        meta["env_object"] = describe_env_object(env)
    if schedule is not None:
        meta["schedule"] = schedule.to_list()
    t_start = time.perf_counter()

    history = History()
    check_envs_divide(config.num_envs)  # several processes: before anything is written
    out = open_outputs(options, meta)
    try:
        return _run_with_outputs(config, trainer, hp, options, out, history, on_row, t_start)
    except BaseException:
        out.close()  # a failed start (compile error, bad env, Ctrl-C) leaves the directory free
        raise


def _run_with_outputs(config, trainer, hp, options: RunOptions, out: Outputs, history: History,
                      on_row, t_start) -> RunResult:  # fmt: skip
    seed, out_dir = options.seed, options.out_dir
    state = None
    if options.resume:
        state = restore_latest(trainer, out, out_dir, seed, hp, history)
    out.open_logger(options)
    programs, cache_before = ChunkPrograms(trainer), compile_cache.counts()
    # Split the envs over all devices, of every process (a no-op on one device); params
    # replicated. (A multi-process restore has already read its shards into place.)
    if state is None:
        state = shard_env_axis(programs.init(trainer, jax.random.PRNGKey(seed), hp), config.num_envs)
    elif jax.process_count() == 1:
        state = shard_env_axis(state, config.num_envs)
    out.good = {"update": int(state.update), "env_steps": int(state.env_steps)}
    start = dict(out.good)
    state, stop, train_time = train_chunks(trainer, programs, state, hp, out, history, options, on_row, t_start)
    timings = {
        "wall_time_s": time.perf_counter() - t_start,
        "compile_time_s": programs.compile_time,
        "train_time_s": train_time,
        "sps": (out.good["env_steps"] - start["env_steps"]) / max(train_time, 1e-9),
        "programs": programs.timings,
        "compile_cache": compile_cache.summary(cache_before),
    }
    summary = run_summary(config, seed, out, history, stop, timings)
    if options.resume:
        summary["resumed_from_update"] = start["update"]
    if stop.alone:
        summary["stopped_alone"] = True
    out.finish(out_dir, state, summary)
    return RunResult(state, summary, list(history.rows))


def run_summary(config: TrainConfig, seed: int, out: Outputs, history: History, stop: Stop,
                timings: dict) -> dict:  # fmt: skip
    """``summary.json``: how the run ended, where it got, how long it took, on what."""
    return {
        "algo": config.algo,
        "env": config.env,
        "seed": seed,
        "status": stop.status,
        "stop_reason": stop.reason,
        "nonfinite": stop.nonfinite,
        "signal": signal_name(stop.signum),
        "checkpoint": out.checkpoint_path,
        "episode_return": history.last,
        "best_episode_return": history.best,
        **history.evals.summary(),
        "env_steps": out.good["env_steps"],
        "updates": out.good["update"],
        "updates_planned": config.num_updates,
        **timings,
        "jax_version": jax.__version__,
        "device": device_description(),
        "health_warnings": stop.health_warnings,
    }
