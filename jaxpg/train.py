"""``make_train(config) -> train(key, hparams)`` and the chunked host-side driver.

The compiled program is ``init`` followed by a ``lax.scan`` of updates; it is pure,
so ``jax.jit(jax.vmap(train))(keys, hparams_batch)`` trains a batch of agents.
The driver :func:`run` compiles one chunk of ``config.chunk`` updates and, between
chunks on the host, logs, shows progress and writes the run directory.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import envs
from jaxpg.algos import ALGORITHMS
from jaxpg.algos.common import Context, TrainState
from jaxpg.config import HParams, TrainConfig
from jaxpg.networks import make_networks


def make_context(config: TrainConfig) -> Context:
    env = envs.make(config.env, backend=config.backend, episode_length=config.episode_length)
    nets = make_networks(
        env.action_space,
        config.hidden_sizes,
        config.activation,
        config.log_std_init,
        critic_hidden=config.critic_hidden_sizes,
    )
    return Context(config, env, nets)


@dataclass(frozen=True)
class Trainer:
    """The pure pieces of a run: ``init``, one ``update``, and a chunk of updates."""

    ctx: Context

    @property
    def algo(self):
        return ALGORITHMS[self.ctx.config.algo]

    def init(self, key: jax.Array, hparams: HParams) -> TrainState:
        return self.algo.init(self.ctx, key, hparams)

    def update(self, state: TrainState, hparams: HParams):
        return self.algo.update(self.ctx, state, hparams)

    def run_updates(self, state: TrainState, hparams: HParams, n: int):
        """``n`` updates in one ``lax.scan``; metrics stacked ``[n]``."""
        return jax.lax.scan(lambda s, _: self.update(s, hparams), state, None, length=n)


def make_trainer(config: TrainConfig) -> Trainer:
    return Trainer(make_context(config.validate()))


def make_train(config: TrainConfig) -> Callable[[jax.Array, HParams], tuple[TrainState, dict]]:
    """Return the pure ``train(key, hparams) -> (final_state, metrics[num_updates])``."""
    trainer = make_trainer(config)

    def train(key: jax.Array, hparams: HParams):
        state = trainer.init(key, hparams)
        return trainer.run_updates(state, hparams, config.num_updates)

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
    history: list[dict]


def run(
    config: TrainConfig,
    hparams: HParams,
    seed: int = 0,
    out_dir: str | None = None,
    progress: bool = True,
    on_row: Callable[[dict], Any] | None = None,
) -> RunResult:
    """Train with the chunked driver, writing ``out_dir`` if given."""
    from jaxpg.logging import RunLogger
    from jaxpg.progress import Progress

    config = config.validate()
    hparams = hparams.validate()
    trainer = make_trainer(config)
    chunk = config.chunk
    n_chunks = -(-config.num_updates // chunk)
    hp = hparams.as_arrays()

    logger = RunLogger(out_dir) if out_dir else None
    if logger:
        logger.write_config({"config": config.to_dict(), "hparams": hparams.to_dict(), "seed": seed})

    t_start = time.perf_counter()
    init = jax.jit(trainer.init)
    run_chunk = jax.jit(trainer.run_updates, static_argnums=2, donate_argnums=0)
    state = init(jax.random.PRNGKey(seed), hp)
    compile_t0 = time.perf_counter()
    compiled = run_chunk.lower(state, hp, chunk).compile()
    last = config.num_updates - chunk * (n_chunks - 1)
    compiled_last = compiled if last == chunk else None
    compile_time = time.perf_counter() - compile_t0

    history: list[dict] = []
    bar = Progress(config.total_timesteps, enabled=progress, title=f"{config.algo} on {config.env}")
    train_time = 0.0
    try:
        for i in range(n_chunks):
            n = chunk if i < n_chunks - 1 else last
            t0 = time.perf_counter()
            if n == chunk:
                state, metrics = compiled(state, hp)
            else:
                if compiled_last is None:
                    c0 = time.perf_counter()
                    compiled_last = run_chunk.lower(state, hp, n).compile()
                    compile_time += time.perf_counter() - c0
                    t0 = time.perf_counter()
                state, metrics = compiled_last(state, hp)
            metrics = jax.device_get(metrics)
            dt = time.perf_counter() - t0
            train_time += dt
            row = summarize_chunk(metrics)
            row["env_steps"] = int(state.env_steps)
            row["update"] = int(state.update)
            row["sps"] = n * config.batch_size / dt
            row["wall_time_s"] = time.perf_counter() - t_start
            history.append(row)
            if logger:
                logger.log(row, row["env_steps"])
            if on_row:
                on_row(row)
            bar.update(row)
    finally:
        bar.close()

    finished = [r["episode_return"] for r in history if np.isfinite(r["episode_return"])]
    summary = {
        "algo": config.algo,
        "env": config.env,
        "seed": seed,
        "episode_return": finished[-1] if finished else float("nan"),
        "best_episode_return": max(finished) if finished else float("nan"),
        "env_steps": int(state.env_steps),
        "updates": int(state.update),
        "wall_time_s": time.perf_counter() - t_start,
        "compile_time_s": compile_time,
        "train_time_s": train_time,
        "sps": int(state.env_steps) / max(train_time, 1e-9),
        "jax_version": jax.__version__,
        "device": device_description(),
    }
    if logger:
        logger.write_summary(summary)
        logger.close()
        from jaxpg.evaluate import save_params  # final policy for jaxpg eval/render

        save_params(out_dir, state)
    return RunResult(state, summary, history)
