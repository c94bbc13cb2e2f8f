"""Run ``A`` agents of one static config: ``jit(vmap(train))`` in memory-sized chunks,
each chunk's agent axis sharded over the devices."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.algos.state import make_context
from jaxpg.config import HParams, TrainConfig
from jaxpg.errors import ConfigError
from jaxpg.metrics import UpdateMetrics
from jaxpg.runner.trainer import make_train
from jaxpg.sharding import (
    AGENTS,
    local_to_each_device,
    make_mesh,
    pad_to_multiple,
    shard_leading,
    to_host,
)
from jaxpg.validation import validate


def device_memory_budget(fraction: float = 0.6) -> int:
    """Bytes we allow one compiled chunk: ``fraction`` of the first device's memory.

    Accelerators report ``bytes_limit``; on CPU we use the host's physical memory.
    """
    stats = None
    try:
        stats = jax.local_devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - CPU backends may not implement it
        stats = None
    if stats and stats.get("bytes_limit"):
        total = int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    else:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    return int(total * fraction)


def estimate_agent_bytes(config: TrainConfig, train) -> int:
    """Rough peak bytes of one agent: train state + metrics + a few copies of a rollout.

    The rollout buffer ``[T, B]`` of (obs, next obs, normalized obs, action, 8
    scalars) is what grows with ``num_envs * num_steps``; PPO holds it, its flat
    shuffled copy and per-minibatch activations, hence the factor 4.
    """
    shapes = jax.eval_shape(train, jax.random.PRNGKey(0), HParams().as_arrays())
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(shapes))
    ctx = make_context(config)
    act = ctx.env.action_space
    act_size = 1 if act.is_discrete else act.size
    per_step = 4 * (4 * ctx.env.obs_size + act_size + 8)
    return int(3 * state_bytes + 4 * config.batch_size * per_step)


def compiled_bytes(compiled) -> int | None:
    """Peak bytes XLA reports for a compiled program (None when it cannot say)."""
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001
        return None
    if m is None:
        return None
    return int(
        m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
        - getattr(m, "alias_size_in_bytes", 0)
    )


@dataclass
class BatchResult:
    """Per-agent metrics ``[A, num_updates]`` (numpy) and how they were computed."""

    metrics: UpdateMetrics
    compile_time_s: float
    run_time_s: float
    chunk_size: int
    num_chunks: int
    compiled_bytes: int | None
    devices: int
    program: Any = None
    """The compiled chunk program (its HLO: ``program.as_text()``)."""


def run_agents(
    config: TrainConfig,
    keys: jax.Array,
    hparams: HParams,
    max_batch: int | None = None,
    devices: list | None = None,
    log=None,
) -> BatchResult:
    """Train ``A`` agents (``keys[A]``, ``hparams[A]``) of one static config.

    Agents run in chunks of at most ``max_batch`` (None: from the memory
    estimate), each chunk sharded over ``devices`` (default all). Only the
    per-update metrics come back; final states are dropped to save memory.
    """
    log = log or (lambda msg: None)
    validate(config, hparams)  # every agent's values, before they are compiled in
    train = make_train(config)
    num_agents = int(keys.shape[0])
    mesh = make_mesh(AGENTS, devices)
    ndev = mesh.size
    budget = device_memory_budget()
    if max_batch is None:
        per_agent = estimate_agent_bytes(config, train)
        max_batch = max(1, budget // max(per_agent, 1))
        auto = True
    else:
        if max_batch < 1:
            raise ConfigError("max_batch", max_batch, "must be >= 1")
        auto = False
    # A chunk holds a multiple of the device count so every device gets equal work.
    chunk = pad_to_multiple(min(num_agents, max_batch), ndev)

    # Each device trains its own agents: nothing crosses devices until the results are
    # gathered, once per chunk (see local_to_each_device: an evaluation loop would
    # otherwise all-reduce its condition on every step).
    fn = jax.jit(local_to_each_device(jax.vmap(lambda k, h: train(k, h)[1]), mesh))
    hp = jax.tree.map(np.asarray, hparams)
    keys = np.asarray(jax.random.key_data(keys)) if jnp.issubdtype(keys.dtype, jax.dtypes.prng_key) else np.asarray(keys)

    def take(idx):
        return keys[idx], jax.tree.map(lambda x: x[idx], hp)

    t0 = time.perf_counter()
    while True:
        k0, h0 = take(np.zeros(chunk, int))
        compiled = fn.lower(shard_leading(k0, mesh), shard_leading(h0, mesh)).compile()
        used = compiled_bytes(compiled)
        if not auto or used is None or used <= budget or chunk <= ndev:
            break
        log(f"chunk of {chunk} agents needs {used / 2**30:.2f} GiB > {budget / 2**30:.2f} GiB; halving")
        chunk = pad_to_multiple(max(chunk // 2, 1), ndev)
    compile_time = time.perf_counter() - t0

    n_chunks = -(-num_agents // chunk)
    outs = []
    t0 = time.perf_counter()
    for i in range(n_chunks):
        # Pad the last chunk with copies of the final agent so it reuses the program.
        idx = np.minimum(np.arange(i * chunk, (i + 1) * chunk), num_agents - 1)
        k, h = take(idx)
        tc = time.perf_counter()
        out = to_host(compiled(shard_leading(k, mesh), shard_leading(h, mesh)))
        n_real = min(chunk, num_agents - i * chunk)
        outs.append(jax.tree.map(lambda x: np.asarray(x)[:n_real], out))
        if n_chunks > 1:
            log(f"chunk {i + 1}/{n_chunks}: {n_real} agents in {time.perf_counter() - tc:.1f} s")
    run_time = time.perf_counter() - t0
    metrics = jax.tree.map(lambda *xs: np.concatenate(xs), *outs)
    return BatchResult(metrics, compile_time, run_time, chunk, n_chunks, used, ndev, compiled)
