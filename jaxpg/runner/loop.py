"""The chunked driver: compile ``config.chunk`` updates, run, and between chunks
(on the host) log, show progress, check health, checkpoint; repeat.

:func:`run` wires the pieces; each job lives in its own module: the pure trainer
(:mod:`~jaxpg.runner.trainer`), the run directory (:mod:`~jaxpg.runner.rundir`),
checkpoints, signals, logging and progress.
"""

from __future__ import annotations

import os
import platform
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import numpy as np

from jaxpg import evaluation, guard
from jaxpg.algos.common import TrainState
from jaxpg.config import HParams, TrainConfig
from jaxpg.diagnostics import HealthMonitor
from jaxpg.errors import ConfigError, JaxpgError
from jaxpg.hparam_schedule import HParamSchedule
from jaxpg.runner.checkpoint import Checkpointer, check_compatible
from jaxpg.runner.logging import RunLogger
from jaxpg.runner.progress import Progress
from jaxpg.runner.rundir import prepare_run_dir, save_params, truncate_metrics
from jaxpg.runner.signals import signal_name, stop_on_signals
from jaxpg.runner.trainer import Trainer, make_trainer
from jaxpg.runner.watchdog import ChunkWatchdog
from jaxpg.sharding import shard_env_axis

# Rows kept in memory: enough for any plot, bounded so that a run with tiny chunks
# left overnight does not grow the host's memory (metrics.jsonl has every row).
HISTORY_ROWS = 10_000


def summarize_chunk(metrics: dict[str, np.ndarray]) -> dict[str, float]:
    """Reduce a chunk's stacked per-update metrics to one log row.

    ``episode_return`` is the mean return of the episodes that finished in the
    chunk (NaN when none did); other metrics are those of the chunk's last update.
    """
    row = {k: float(np.asarray(v)[-1]) for k, v in metrics.items()}
    count = float(np.sum(metrics["episode_count"]))
    row["episode_count"] = count
    for name in ("episode_return", "episode_length"):
        total = float(np.sum(metrics[f"{name}_sum"]))
        row[name] = total / count if count > 0 else float("nan")
        row.pop(f"{name}_sum")
    row = {k: v for k, v in row.items() if not k.startswith(evaluation.EVAL_PREFIX)}
    row.update(evaluation.summarize(metrics))  # the chunk's last in-program evaluation
    return row


def chunk_row(metrics: dict[str, np.ndarray], state: TrainState, sps: float, wall: float) -> dict:
    """The log row of one chunk: :func:`summarize_chunk` plus counters and timing.

    ``nonfinite`` is the largest code of the chunk (0: every update was finite).
    """
    row = summarize_chunk(metrics)
    row[guard.METRIC] = int(np.max(metrics[guard.METRIC]))
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


def check_run_options(seed, checkpoint_every, keep_checkpoints, resume: bool, out_dir) -> None:
    """One-line :class:`ConfigError`/:class:`JaxpgError` for bad driver arguments."""
    if checkpoint_every is not None and (
        isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1
    ):
        raise ConfigError("checkpoint_every", checkpoint_every, "must be a positive number of updates or None")
    if isinstance(keep_checkpoints, bool) or not isinstance(keep_checkpoints, int) or keep_checkpoints < 1:
        raise ConfigError("keep_checkpoints", keep_checkpoints, "must be a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError("seed", seed, "must be a non-negative integer")
    if resume and not out_dir:
        raise JaxpgError("resume needs the run directory (out_dir)")


class ChunkPrograms:
    """Compiled chunk programs by length (at most two: ``chunk`` and the remainder)."""

    def __init__(self, trainer: Trainer):
        self._jitted = jax.jit(trainer.run_updates, static_argnums=2, donate_argnums=0)
        self._compiled: dict[int, Any] = {}
        self.compile_time = 0.0

    def get(self, state: TrainState, hp: HParams, n: int):
        if n not in self._compiled:
            c0 = time.perf_counter()
            self._compiled[n] = self._jitted.lower(state, hp, n).compile()
            self.compile_time += time.perf_counter() - c0
        return self._compiled[n]


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

    def save(self, state: TrainState) -> None:
        if self.ckpt and self.last_saved != self.good["update"]:
            self.ckpt.save(state, {**self.meta, **self.good})
            self.last_saved = self.good["update"]

    def open_logger(self, out_dir, resume: bool, wandb_project, options: dict) -> None:
        if not out_dir:
            return
        self.logger = RunLogger(out_dir, append=resume, wandb_project=wandb_project)
        if not resume:
            self.logger.write_config({**self.meta, "run": options})

    def finish(self, out_dir, state: TrainState, summary: dict) -> None:
        """Write the summary and, unless the run went non-finite, the final parameters."""
        if self.logger:
            self.logger.write_summary(summary)
            self.logger.close()
            if summary["status"] != "nonfinite":
                save_params(out_dir, state)  # the final policy, for jaxpg eval/render
        if self.ckpt:
            self.ckpt.close()

    @property
    def checkpoint_path(self) -> str | None:
        if self.ckpt is None or self.last_saved is None:
            return None
        return os.path.join(self.ckpt.directory, str(self.last_saved))


def open_outputs(out_dir, resume, overwrite, keep_checkpoints, meta) -> Outputs:
    """Prepare the run directory (refusing to clobber a run) and its checkpointer.

    The logger is opened later (:meth:`Outputs.open_logger`), after a resume has
    truncated ``metrics.jsonl`` to the checkpoint.
    """
    if not out_dir:
        return Outputs(None, None, meta, {})
    prepare_run_dir(out_dir, resume, overwrite)
    return Outputs(None, Checkpointer(out_dir, keep=keep_checkpoints, create=not resume), meta, {})


def restore_latest(trainer: Trainer, out: Outputs, out_dir: str, seed: int, hp, history: History):
    """The latest checkpoint's state (checked against this config); metrics rows past it dropped."""
    step = out.ckpt.latest()
    if step is None:
        raise JaxpgError(f"no complete checkpoint in {out.ckpt.directory}: nothing to resume; start a new run")
    where = os.path.join(out.ckpt.directory, str(step))
    check_compatible(out.ckpt.read_meta(step).get("config", {}), out.meta["config"], where)
    abstract = jax.eval_shape(trainer.init, jax.random.PRNGKey(seed), hp)
    state, _ = out.ckpt.restore(abstract, step)
    for row in truncate_metrics(out_dir, int(state.update)):
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


def train_chunks(trainer, programs, state, hp, out: Outputs, history, *, every, progress, on_row,
                 handle_signals, t_start, watchdog: ChunkWatchdog):  # fmt: skip
    """Run chunks until done, stopped by a signal or a health check. Returns
    ``(state, Stop, train_time)``; the state is the last one computed (a bad one
    too: it is never checkpointed, see :class:`Outputs`)."""
    config = trainer.ctx.config
    done, chunk, num_updates = int(state.update), config.chunk, config.num_updates
    stop, train_time, monitor = Stop(), 0.0, HealthMonitor()
    bar = Progress(config.total_timesteps, enabled=progress, title=f"{config.algo} on {config.env}")
    with stop_on_signals(handle_signals) as request:
        try:
            while done < num_updates and request.signum is None:
                # Chunks end at multiples of ``chunk`` so a resumed run realigns.
                n = min(chunk - done % chunk, num_updates - done)
                fn = programs.get(state, hp, n)
                t0 = time.perf_counter()
                label = f"chunk of updates {done + 1}-{done + n} (of {num_updates})"
                with watchdog.watch(label):  # one line on stderr if this chunk is far late
                    state, metrics = fn(state, hp)
                    metrics = jax.device_get(metrics)
                dt = time.perf_counter() - t0
                train_time += dt
                row = chunk_row(metrics, state, n * config.batch_size / dt, time.perf_counter() - t_start)
                if out.logger:
                    out.logger.log(row, row["env_steps"])
                bad = guard.first_nonfinite(metrics[guard.METRIC])
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
                if out.ckpt and done < num_updates and (out.last_saved or 0) // every < done // every:
                    out.save(state)
        finally:
            bar.close()
        request.check()  # a second signal: abort now, without the final checkpoint
        if request.signum is not None and stop.status == "completed" and done < num_updates:
            stop = Stop("interrupted", f"interrupted by {signal_name(request.signum)}", None, request.signum)
        if stop.status != "nonfinite":
            out.save(state)
    stop.health_warnings = [kind for kind, _, _ in monitor.warnings]
    return state, stop, train_time


def run(
    config: TrainConfig,
    hparams: HParams,
    seed: int = 0,
    out_dir: str | None = None,
    progress: bool = True,
    on_row: Callable[[dict], Any] | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int | None = None,
    keep_checkpoints: int = 3,
    handle_signals: bool = True,
    wandb_project: str | None = None,
    watchdog: ChunkWatchdog | None = None,
    env: Any = None,
    schedule: HParamSchedule | None = None,
) -> RunResult:
    """Train with the chunked driver, writing (and checkpointing) ``out_dir`` if given.

    Between compiled chunks of ``config.chunk`` updates the host logs a row,
    checkpoints every ``checkpoint_every`` updates (default: about every tenth of
    the run; rounded up to a chunk boundary) and at the end, keeping the last
    ``keep_checkpoints``. ``resume`` continues ``out_dir``'s latest checkpoint: the
    state carries the RNG key and counters and chunks stay aligned to multiples of
    ``config.chunk``, so the continued run logs exactly what an uninterrupted one
    would. SIGINT/SIGTERM stop the run at the next chunk boundary with a
    checkpoint (a second one raises KeyboardInterrupt there, without it); a
    non-finite update stops it without saving the bad state.
    ``summary["status"]`` is ``completed``, ``interrupted`` or ``nonfinite``.
    A chunk that runs far longer than the ones before it gets one line on stderr
    (``watchdog``, default :class:`jaxpg.runner.watchdog.ChunkWatchdog`: 10x the median,
    at least 60 s; 600 s for the first chunk). ``env``: a user env object (see
    :func:`jaxpg.runner.trainer.make_train`); ``config.env`` is then a label.
    ``schedule``: hyperparameters that change at given updates (a PBT member's,
    :mod:`jaxpg.hparam_schedule`), used instead of ``hparams`` inside the program.
    """
    config, hparams = config.validate(), hparams.validate()
    check_run_options(seed, checkpoint_every, keep_checkpoints, resume, out_dir)
    trainer = make_trainer(config, env)
    every = checkpoint_every or max(config.chunk, config.num_updates // 10)
    hp = hparams.as_arrays() if schedule is None else schedule
    meta = {"config": config.to_dict(), "hparams": hparams.to_dict(), "seed": seed}
    if schedule is not None:
        meta["schedule"] = schedule.to_list()
    t_start = time.perf_counter()

    history, state = History(), None
    out = open_outputs(out_dir, resume, overwrite, keep_checkpoints, meta)
    if resume:
        state = restore_latest(trainer, out, out_dir, seed, hp, history)
    options = {"checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints}
    out.open_logger(out_dir, resume, wandb_project, options)
    if state is None:
        state = jax.jit(trainer.init)(jax.random.PRNGKey(seed), hp)
    # Split the envs over all local devices (a no-op on one device); params replicated.
    state = shard_env_axis(state, config.num_envs)
    out.good = {"update": int(state.update), "env_steps": int(state.env_steps)}
    start = dict(out.good)
    programs = ChunkPrograms(trainer)
    state, stop, train_time = train_chunks(
        trainer, programs, state, hp, out, history, every=every, progress=progress,
        on_row=on_row, handle_signals=handle_signals, t_start=t_start, watchdog=watchdog or ChunkWatchdog(),
    )  # fmt: skip
    timings = {
        "wall_time_s": time.perf_counter() - t_start,
        "compile_time_s": programs.compile_time,
        "train_time_s": train_time,
        "sps": (out.good["env_steps"] - start["env_steps"]) / max(train_time, 1e-9),
    }
    summary = run_summary(config, seed, out, history, stop, timings)
    if resume:
        summary["resumed_from_update"] = start["update"]
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
