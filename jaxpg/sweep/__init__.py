"""Sweeps: seeds x hyperparameter settings trained in one compiled program.

A sweep is ``jax.jit(jax.vmap(train))(keys[A], hparams[A])`` over a flat axis of
``A = settings x seeds`` agents, where ``train = make_train(config)``: ``HParams``
are floats, so any of them can differ per agent at no extra compile. Choices in
``TrainConfig`` (``num_envs``, network sizes, ...) change the program, so each
``--static`` value gets its own compile (and is marked ``[static]`` in the table).

* The agent axis is split over all devices (:mod:`jaxpg.sharding`).
* When ``A`` agents would not fit in device memory they run in chunks of at most
  ``max_batch`` agents (a host loop over one compiled chunk program; the last
  chunk is padded so it reuses that program). ``max_batch`` comes from a
  per-agent byte estimate against the device's memory, checked against XLA's own
  ``memory_analysis`` of the compiled chunk and halved until it fits.
* Every setting runs the same seeds (common random numbers), so differences
  between settings are not seed luck.

Outputs (``out_dir``): ``curves.json`` / ``curves.csv`` (mean return per update over
seeds, with a 95% band), ``results.json`` / ``results.md`` (final return: mean,
95% bootstrap CI, IQM, per-seed values), ``best.json`` (the best setting's full
config and hparams, by IQM) and ``curves.png``.
"""

from __future__ import annotations

import math
import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.analysis.stats import bootstrap_ci, iqm, summarize
from jaxpg.config import TrainConfig, stack_hparams
from jaxpg.errors import ConfigError
from jaxpg.sweep.agents import BatchResult, compiled_bytes, estimate_agent_bytes, run_agents
from jaxpg.sweep.report import agent_curves, curve_stats, final_returns
from jaxpg.sweep.spec import (
    Sampler,
    Setting,
    SweepResult,
    build_settings,
    fmt_value,
    hparam_settings,
    parse_grid,
    parse_sample,
    parse_static,
)


def run_sweep(
    settings: list[Setting],
    seeds: int,
    first_seed: int = 0,
    max_batch: int | None = None,
    devices: list | None = None,
    log=print,
    done: dict[int, dict] | None = None,
    on_group=None,
) -> SweepResult:
    """Train every setting on seeds ``first_seed .. first_seed + seeds - 1``.

    Settings that share a static config run as one batch of agents (one compile).
    ``done``: results of groups finished earlier (by group index, as passed to
    ``on_group``), not trained again; ``on_group(index, record)`` is called as each
    group finishes, so a caller can keep its work on disk.
    """
    if seeds < 1:
        raise ConfigError("seeds", seeds, "must be >= 1")
    groups: dict[TrainConfig, list[Setting]] = {}
    for s in settings:
        groups.setdefault(s.config, []).append(s)
    seed_keys = jnp.stack([jax.random.PRNGKey(first_seed + i) for i in range(seeds)])
    timings = []
    for index, (config, group) in enumerate(groups.items()):
        if done and index in done:
            timings.append(restore_group(group, done[index]))
            continue
        hp = stack_hparams([s.hparams for s in group for _ in range(seeds)])
        keys = jnp.tile(seed_keys, (len(group), 1))
        label = ", ".join(f"{k}={fmt_value(v)}" for k, v in group[0].static.items()) or "base config"
        log(
            f"{label}: {len(group)} setting(s) x {seeds} seed(s) = {len(group) * seeds} agents, "
            f"{config.num_updates} updates of {config.batch_size} steps"
        )
        res = run_agents(config, keys, hp, max_batch, devices, log)
        steps = len(group) * seeds * config.num_updates * config.batch_size
        timing = {
            "static": group[0].static,
            "agents": len(group) * seeds,
            "compile_time_s": res.compile_time_s,
            "run_time_s": res.run_time_s,
            "steps_per_s": steps / max(res.run_time_s, 1e-9),
            "chunk_size": res.chunk_size,
            "num_chunks": res.num_chunks,
            "compiled_bytes": res.compiled_bytes,
            "devices": res.devices,
        }
        timings.append(timing)
        log(
            f"  compile {res.compile_time_s:.1f} s, run {res.run_time_s:.1f} s "
            f"({timing['steps_per_s']:,.0f} env steps/s over {res.devices} device(s), "
            f"{res.num_chunks} chunk(s) of {res.chunk_size})"
        )
        curves = agent_curves(res.metrics)
        finals = final_returns(res.metrics)
        env_steps = (np.arange(config.num_updates) + 1) * config.batch_size
        for i, s in enumerate(group):
            c = curves[i * seeds : (i + 1) * seeds]
            s.final = summarize(finals[i * seeds : (i + 1) * seeds])
            s.curve = curve_stats(env_steps, c)
        if on_group:
            on_group(index, group_record(group, timing))
    best = max(settings, key=lambda s: _nan_low(s.final["iqm"]))
    return SweepResult(settings, best, timings, seeds)


def group_record(group: list[Setting], timing: dict) -> dict:
    """What a finished group leaves on disk: its settings' results and its timing."""
    return {"settings": [{"name": s.name, "final": s.final, "curve": s.curve} for s in group],
            "timing": timing}  # fmt: skip


def restore_group(group: list[Setting], record: dict) -> dict:
    """Put a finished group's saved results back on its settings; returns its timing."""
    saved = {r["name"]: r for r in record["settings"]}  # NaN round-trips (json allow_nan)
    if set(saved) != {s.name for s in group}:
        raise ConfigError("resume", sorted(saved)[:3], "the saved group's settings differ from this sweep's")
    for s in group:
        s.final, s.curve = saved[s.name]["final"], saved[s.name]["curve"]
    return record["timing"]


def _nan_low(x: float) -> float:
    return -math.inf if not math.isfinite(x) else x


__all__ = [
    "BatchResult", "Sampler", "Setting", "SweepResult", "agent_curves", "bootstrap_ci",
    "build_settings", "compiled_bytes", "curve_stats", "estimate_agent_bytes", "final_returns",
    "group_record", "restore_group",
    "hparam_settings", "iqm", "parse_grid", "parse_sample", "parse_static", "run_agents",
    "run_sweep", "stack_hparams", "summarize",
]  # fmt: skip
