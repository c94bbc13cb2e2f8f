"""``make_train(config) -> train(key, hparams)`` and the chunked host-side driver.

The compiled program is ``init`` followed by a ``lax.scan`` of updates; it is pure,
so ``jax.jit(jax.vmap(train))(keys, hparams_batch)`` trains a batch of agents.
The driver :func:`run` compiles one chunk of ``config.chunk`` updates and, between
chunks on the host, logs, shows progress and writes the run directory.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import envs, evaluation, guard
from jaxpg.algos import ALGORITHMS
from jaxpg.algos.common import Context, TrainState
from jaxpg.config import HParams, TrainConfig
from jaxpg.errors import ConfigError, JaxpgError
from jaxpg.networks import make_networks
from jaxpg.sharding import shard_env_axis
from jaxpg.watchdog import ChunkWatchdog


def make_context(config: TrainConfig, env: Any = None) -> Context:
    """Env, networks and config of a run; ``env`` is a user env object (see
    :func:`jaxpg.envs.adapters.adapt`), else ``config.env`` is built by name."""
    squash = config.policy == "tanh-gaussian"
    if env is None:
        env = envs.make(config.env, config.backend, config.episode_length, squash_actions=squash)
    else:
        env = envs.wrap_user_env(env, squash_actions=squash)
    check_action_space(config, env.action_space)
    nets = make_networks(
        env.action_space,
        config.hidden_sizes,
        config.activation,
        config.log_std_init,
        critic_hidden=config.critic_hidden_sizes,
        policy=config.policy,
        state_dependent_std=config.state_dependent_std,
        min_std=config.min_std,
        actor_out_scale=config.actor_out_scale,
    )
    return Context(config, env, nets)


def check_action_space(config: TrainConfig, space) -> None:
    """Raise a one-line :class:`ConfigError` if the algorithm or policy cannot act in ``space``.

    An algorithm module may declare ``ACTION_SPACES`` (a subset of
    ``("discrete", "continuous")``); the policies handle ``Discrete(n >= 2)`` with a
    softmax and a flat ``Box`` with a diagonal Gaussian.
    """
    kind = "discrete" if space.is_discrete else "continuous"
    allowed = getattr(ALGORITHMS[config.algo], "ACTION_SPACES", ("discrete", "continuous"))
    if kind not in allowed:
        raise ConfigError(
            "env", config.env,
            f"{config.algo} needs {' or '.join(allowed)} actions but this env's are {kind}; "
            "pick another env or algo",
        )  # fmt: skip
    if space.is_discrete and space.n < 1:
        raise ConfigError("env", config.env, f"has {space.n} actions; a policy needs at least 1")
    if not space.is_discrete and len(space.shape) != 1:
        raise ConfigError(
            "env", config.env,
            f"action shape {space.shape} is not a flat vector; the Gaussian policy needs one",
        )  # fmt: skip


@dataclass(frozen=True)
class Trainer:
    """The pure pieces of a run: ``init``, one ``update``, and a chunk of updates."""

    ctx: Context

    @property
    def algo(self):
        return ALGORITHMS[self.ctx.config.algo]

    def init(self, key: jax.Array, hparams: HParams) -> TrainState:
        return self.algo.init(self.ctx, key, hparams)

    def update(self, state: TrainState, hparams: HParams, updates_done=None):
        """The algorithm's update, in-program evaluation every ``eval_interval`` updates
        (:mod:`jaxpg.evaluation`; ``updates_done``: the count after this update, default
        ``state.update``) and ``metrics["nonfinite"]`` (see :mod:`jaxpg.guard`)."""
        state, metrics = self.algo.update(self.ctx, state, hparams)
        metrics = dict(metrics)
        metrics[guard.METRIC] = guard.nonfinite_code(metrics, state)
        done = state.update if updates_done is None else updates_done
        metrics.update(evaluation.maybe_evaluate(self.ctx, state, done))
        return state, metrics

    def run_updates(self, state: TrainState, hparams: HParams, n: int, first_update=None):
        """``n`` updates in one ``lax.scan``; metrics stacked ``[n]``.

        ``first_update``: the (unbatched) update count at the start, when known while
        tracing (``make_train``: 0); it keeps the evaluation branch a real branch
        under ``vmap``.
        """
        if first_update is None:
            return jax.lax.scan(lambda s, _: self.update(s, hparams), state, None, length=n)
        body = lambda s, i: self.update(s, hparams, first_update + i + 1)
        return jax.lax.scan(body, state, jnp.arange(n))


def make_trainer(config: TrainConfig, env: Any = None) -> Trainer:
    return Trainer(make_context(config.validate(check_env=env is None), env))


def make_train(
    config: TrainConfig, env: Any = None
) -> Callable[[jax.Array, HParams], tuple[TrainState, dict]]:
    """Return the pure ``train(key, hparams) -> (final_state, metrics[num_updates])``.

    ``env``: train on this env object instead of ``config.env`` (then only a label):
    anything with jaxpg's env interface, a gymnax ``(env, params)`` pair, a Brax
    ``Env`` or a MuJoCo Playground env (see :mod:`jaxpg.envs.adapters`).
    """
    trainer = make_trainer(config, env)

    def train(key: jax.Array, hparams: HParams):
        state = trainer.init(key, hparams)
        return trainer.run_updates(state, hparams, config.num_updates, first_update=0)

    return train


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
    row.update(evaluation.summarize(metrics))
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
        return f"cpu ({platform.processor() or platform.machine()}, {jax.local_device_count()} device(s), {_cores()} cores)"
    return f"{d.platform}: {kind} x{jax.local_device_count()}"


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@dataclass
class RunResult:
    state: TrainState
    summary: dict
    history: list[dict]  # the last HISTORY_ROWS logged rows (all of them in metrics.jsonl)


# Rows kept in memory: enough for any plot, bounded so that a run with tiny chunks
# left overnight does not grow the host's memory (metrics.jsonl has every row).
HISTORY_ROWS = 10_000


class _Returns:
    """Running last and best finite ``episode_return`` over a run's rows."""

    def __init__(self):
        self.last, self.best = float("nan"), float("nan")

    def add(self, row: dict) -> None:
        value = row.get("episode_return")
        if value is not None and np.isfinite(value):
            self.last = float(value)
            self.best = self.last if not self.best >= self.last else self.best


RUN_FILES = ("config.json", "metrics.jsonl", "summary.json", "params.msgpack", "eval.json",
             "episode.gif", "episode.html")


def _holds_run(out_dir: str) -> bool:
    from jaxpg.checkpoint import CHECKPOINT_SUBDIR

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
    from jaxpg.checkpoint import CHECKPOINT_SUBDIR

    if resume and overwrite:
        raise JaxpgError("--resume and --overwrite contradict each other: give one of them")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise JaxpgError(f"run directory {out_dir} is a file: choose another --out")
    if resume:
        if not os.path.isdir(out_dir):
            raise JaxpgError(f"no run directory {out_dir}: --resume needs an existing run directory")
        return
    if os.path.isdir(out_dir) and _holds_run(out_dir):
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


def load_run_config(out_dir: str) -> tuple[TrainConfig, HParams, int, dict]:
    """``(config, hparams, seed, run_options)`` saved in ``out_dir/config.json``."""
    import json

    path = os.path.join(out_dir, "config.json")
    if not os.path.isdir(out_dir):
        raise JaxpgError(f"no run directory {out_dir}: --resume needs an existing run directory")
    if not os.path.isfile(path):
        raise JaxpgError(f"{path} is missing: {out_dir} is not a jaxpg run directory")
    try:
        with open(path) as f:
            saved = json.load(f)
        cfg = dict(saved["config"])
        fields = {f.name: f for f in __import__("dataclasses").fields(TrainConfig)}
        unknown = sorted(set(cfg) - set(fields))
        if unknown:
            raise JaxpgError(f"{path} has unknown config fields {unknown}: written by another jaxpg version?")
        for name in ("hidden_sizes", "critic_hidden_sizes"):
            if isinstance(cfg.get(name), list):
                cfg[name] = tuple(cfg[name])
        config = TrainConfig(**cfg)
        hparams = HParams(**saved["hparams"])
        seed = int(saved.get("seed", 0))
        options = dict(saved.get("run", {}))
    except JaxpgError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise JaxpgError(f"{path} is unreadable ({type(e).__name__}: {e}); it is not a valid run config") from None
    return config, hparams, seed, options


def _truncate_metrics(out_dir: str, last_update: int) -> list[dict]:
    """Keep the metrics rows up to ``last_update`` (the checkpoint) and return them.

    Rows logged after the last checkpoint (a crash between checkpoints) would be
    logged again by the resumed run, so they are dropped; the file is rewritten
    atomically.
    """
    import json

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


class _StopRequest:
    """Signal handler that asks the driver to stop at the next chunk boundary.

    The first SIGINT/SIGTERM only sets ``signum``; a second one raises
    KeyboardInterrupt so an impatient user can still abort at once.
    """

    def __init__(self):
        self.signum: int | None = None

    def __call__(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum


@contextmanager
def _stop_on_signals(enabled: bool):
    request = _StopRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {s: signal.signal(s, request) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _check_run_options(checkpoint_every: int | None, keep_checkpoints: int) -> None:
    if checkpoint_every is not None and (
        isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1
    ):
        raise ConfigError("checkpoint_every", checkpoint_every, "must be a positive number of updates or None")
    if isinstance(keep_checkpoints, bool) or not isinstance(keep_checkpoints, int) or keep_checkpoints < 1:
        raise ConfigError("keep_checkpoints", keep_checkpoints, "must be a positive integer")


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
) -> RunResult:
    """Train with the chunked driver, writing (and checkpointing) ``out_dir`` if given.

    Between compiled chunks of ``config.chunk`` updates the host logs a row,
    checkpoints every ``checkpoint_every`` updates (default: about every tenth of
    the run; rounded up to a chunk boundary) and at the end, keeping the last
    ``keep_checkpoints``. ``resume`` continues ``out_dir``'s latest checkpoint: the
    state carries the RNG key and counters and chunks stay aligned to multiples of
    ``config.chunk``, so the continued run logs exactly what an uninterrupted one
    would. SIGINT/SIGTERM stop the run at the next chunk boundary with a
    checkpoint; a non-finite update stops it without saving the bad state.
    ``summary["status"]`` is ``completed``, ``interrupted`` or ``nonfinite``.
    A chunk that runs far longer than the ones before it gets one line on stderr
    (``watchdog``, default :class:`jaxpg.watchdog.ChunkWatchdog`: 10x the median, at
    least 60 s; 600 s for the first chunk).
    """
    from jaxpg.checkpoint import Checkpointer, check_compatible
    from jaxpg.diagnostics import HealthMonitor
    from jaxpg.logging import RunLogger
    from jaxpg.progress import Progress

    config = config.validate(check_env=env is None)
    hparams = hparams.validate()
    _check_run_options(checkpoint_every, keep_checkpoints)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError("seed", seed, "must be a non-negative integer")
    if resume and not out_dir:
        raise JaxpgError("resume needs the run directory (out_dir)")
    trainer = make_trainer(config, env)
    chunk = config.chunk
    num_updates = config.num_updates
    every = checkpoint_every or max(chunk, num_updates // 10)
    hp = hparams.as_arrays()
    meta = {"config": config.to_dict(), "hparams": hparams.to_dict(), "seed": seed}
    t_start = time.perf_counter()

    ckpt, history, state = None, deque(maxlen=HISTORY_ROWS), None
    returns, evals = _Returns(), evaluation.EvalTracker()
    if out_dir:
        prepare_run_dir(out_dir, resume, overwrite)
        ckpt = Checkpointer(out_dir, keep=keep_checkpoints, create=not resume)
    if resume:
        step = ckpt.latest()
        if step is None:
            raise JaxpgError(f"no complete checkpoint in {ckpt.directory}: nothing to resume; start a new run")
        where = os.path.join(ckpt.directory, str(step))
        check_compatible(ckpt.read_meta(step).get("config", {}), config.to_dict(), where)
        abstract = jax.eval_shape(trainer.init, jax.random.PRNGKey(seed), hp)
        state, _ = ckpt.restore(abstract, step)
        for row in _truncate_metrics(out_dir, int(state.update)):
            history.append(row)
            returns.add(row)
            evals.add(row)

    logger = RunLogger(out_dir, append=resume, wandb_project=wandb_project) if out_dir else None
    if logger and not resume:
        options = {"checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints}
        logger.write_config({**meta, "run": options})

    init = jax.jit(trainer.init)
    run_chunk = jax.jit(trainer.run_updates, static_argnums=2, donate_argnums=0)
    if state is None:
        state = init(jax.random.PRNGKey(seed), hp)
    # Split the envs over all local devices (a no-op on one device); params replicated.
    state = shard_env_axis(state, config.num_envs)
    compiled: dict[int, Any] = {}
    compile_time = 0.0

    def executable(n: int):
        nonlocal compile_time
        if n not in compiled:
            c0 = time.perf_counter()
            compiled[n] = run_chunk.lower(state, hp, n).compile()
            compile_time += time.perf_counter() - c0
        return compiled[n]

    done = int(state.update)
    good = {"update": done, "env_steps": int(state.env_steps)}
    start = dict(good)
    last_saved = done if resume else None
    status, reason, nonfinite, signum = "completed", "completed", None, None

    def save() -> None:
        nonlocal last_saved
        if ckpt and last_saved != good["update"]:
            ckpt.save(state, {**meta, **good})
            last_saved = good["update"]

    bar = Progress(config.total_timesteps, enabled=progress, title=f"{config.algo} on {config.env}")
    train_time = 0.0
    monitor = HealthMonitor()
    watchdog = watchdog or ChunkWatchdog()
    with _stop_on_signals(handle_signals) as stop:
        try:
            while done < num_updates and stop.signum is None:
                # Chunks end at multiples of ``chunk`` so a resumed run realigns.
                n = min(chunk - done % chunk, num_updates - done)
                fn = executable(n)
                t0 = time.perf_counter()
                label = f"chunk of updates {done + 1}-{done + n} (of {num_updates})"
                with watchdog.watch(label):  # one line on stderr if this chunk is far late
                    state, metrics = fn(state, hp)
                    metrics = jax.device_get(metrics)
                dt = time.perf_counter() - t0
                train_time += dt
                bad = guard.first_nonfinite(metrics[guard.METRIC])
                row = chunk_row(metrics, state, n * config.batch_size / dt, time.perf_counter() - t_start)
                if logger:
                    logger.log(row, row["env_steps"])
                if bad is not None:
                    at = done + bad[0] + 1
                    nonfinite = {"quantity": bad[1], "update": at}
                    status, reason = "nonfinite", f"non-finite {bad[1]} at update {at}"
                    break  # the bad state is never saved
                health_stop = monitor.check(row)  # warns once per kind
                if health_stop:
                    nonfinite = {"quantity": "metrics", "update": row["update"]}
                    status, reason = "nonfinite", health_stop
                    break  # the bad state is never saved
                history.append(row)
                returns.add(row)
                evals.add(row)
                done = good["update"] = row["update"]
                good["env_steps"] = row["env_steps"]
                if on_row:
                    on_row(row)
                bar.update(row)
                if ckpt and done < num_updates and (last_saved or 0) // every < done // every:
                    save()
        finally:
            bar.close()
        if stop.signum is not None and status == "completed" and done < num_updates:
            signum = stop.signum
            status, reason = "interrupted", f"interrupted by {signal.Signals(signum).name}"
        if status != "nonfinite":
            save()

    summary = {
        "algo": config.algo,
        "env": config.env,
        "seed": seed,
        "status": status,
        "stop_reason": reason,
        "nonfinite": nonfinite,
        "signal": signal.Signals(signum).name if signum else None,
        "checkpoint": os.path.join(ckpt.directory, str(last_saved)) if ckpt and last_saved is not None else None,
        "episode_return": returns.last,
        "best_episode_return": returns.best,
        **evals.summary(),
        "env_steps": good["env_steps"],
        "updates": good["update"],
        "updates_planned": num_updates,
        "wall_time_s": time.perf_counter() - t_start,
        "compile_time_s": compile_time,
        "train_time_s": train_time,
        "sps": (good["env_steps"] - start["env_steps"]) / max(train_time, 1e-9),
        "jax_version": jax.__version__,
        "device": device_description(),
        "health_warnings": [kind for kind, _, _ in monitor.warnings],
    }
    if resume:
        summary["resumed_from_update"] = start["update"]
    if logger:
        logger.write_summary(summary)
        logger.close()
        if status != "nonfinite":
            from jaxpg.evaluate import save_params  # final policy for jaxpg eval/render

            save_params(out_dir, state)
    if ckpt:
        ckpt.close()
    return RunResult(state, summary, list(history))
