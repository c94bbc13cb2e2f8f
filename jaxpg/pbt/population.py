"""The population program: ``P`` members of one config trained as one vmapped,
sharded program whose rounds of ``interval`` updates end in a ready step.

A *round* is ``vmap(run_updates)`` over the members for ``interval`` updates (the
same update the sweep vmaps) followed, unless it is the run's last round, by
:func:`jaxpg.pbt.ready.ready`. A compiled *chunk* is a ``lax.scan`` over rounds;
the host driver (:mod:`jaxpg.pbt.driver`) runs chunks and records what they return.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import guard
from jaxpg.config import HParams, TrainConfig
from jaxpg.metrics import sum_and_count
from jaxpg.pbt.ready import Population, interval_score, ready
from jaxpg.pbt.space import PBTConfig
from jaxpg.runner.trainer import Trainer, make_trainer
from jaxpg.sharding import AGENTS, make_mesh, shard_leading

# Per-update metrics a chunk returns for every member (the rest stay on device).
KEPT_METRICS = ("episode_return_sum", "episode_count", guard.METRIC)


def ready_key(seed: int) -> jax.Array:
    """The ready steps' root key: folded from the seed's key, so it is independent of
    member 0's training key ``PRNGKey(seed)``."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), 0x50425421)


def member_keys(seed: int, population: int) -> jax.Array:
    """Member ``i`` trains from ``PRNGKey(seed + i)``: the keys ``jaxpg sweep --seed
    seed --seeds P`` gives its agents, so a population without exploit is that sweep."""
    return jnp.stack([jax.random.PRNGKey(seed + i) for i in range(population)])


@dataclass(frozen=True)
class PopulationProgram:
    """The pure pieces of a PBT run: ``init`` and a chunk of rounds."""

    trainer: Trainer
    pbt: PBTConfig
    space: dict  # {field: (low, high, log)}, static
    compiled: dict = field(default_factory=dict, compare=False, hash=False)  # chunk programs

    @property
    def config(self) -> TrainConfig:
        return self.trainer.ctx.config

    @property
    def interval(self) -> int:
        return self.pbt.interval_for(self.config.num_updates)

    def init(self, keys: jax.Array, hparams: HParams, key: jax.Array) -> Population:
        members = jax.vmap(self.trainer.init)(keys, hparams)
        size = keys.shape[0]
        return Population(members, hparams, jnp.full((size,), jnp.nan, jnp.float32), key,
                          jnp.zeros((), jnp.int32))  # fmt: skip

    def round(self, pop: Population, length: int):
        """``length`` updates of every member, then the ready step (not after the last update)."""
        run = jax.vmap(lambda s, h, f: self.trainer.run_updates(s, h, length, f), in_axes=(0, 0, None))
        members, metrics = run(pop.members, pop.hparams, pop.update)
        total, count = sum_and_count(metrics, "episode_return")  # by role, not by name
        score = interval_score(total, count, metrics.nonfinite, pop.score)
        used = pop.hparams
        pop = pop.replace(members=members, score=score, update=pop.update + length)
        size = score.shape[0]
        same = jnp.arange(size, dtype=jnp.int32)
        if self.pbt.exploit:
            pop, src = ready(pop, pop.score, self.pbt.num_replaced(), self.space, self.pbt.resample_prob,
                             self.pbt.perturb, active=pop.update < self.config.num_updates)  # fmt: skip
        else:
            src = same
        record = {"hparams": used, "score": score, "src": src, "update": pop.update}
        return pop, ({k: metrics[k] for k in KEPT_METRICS}, record)

    def run_rounds(self, pop: Population, n_rounds: int, length: int):
        """``n_rounds`` rounds of ``length`` updates in one ``lax.scan``."""
        return jax.lax.scan(lambda p, _: self.round(p, length), pop, None, length=n_rounds)


def make_program(config: TrainConfig, pbt: PBTConfig, space: dict, env: Any = None) -> PopulationProgram:
    """The program of ``config`` x ``pbt`` x ``space``; for a named env the same object
    (and so its compiled chunks) for equal arguments, as a jitted function would be."""
    if env is None:
        return _named_env_program(config, pbt.validate(), tuple(sorted(space.items())))
    return PopulationProgram(make_trainer(config, env), pbt.validate(), dict(space))


@functools.lru_cache(maxsize=8)
def _named_env_program(config: TrainConfig, pbt: PBTConfig, space: tuple) -> PopulationProgram:
    return PopulationProgram(make_trainer(config), pbt, dict(space))


def shard_population(pop: Population, devices=None) -> Population:
    """Split the members (and their hparams and scores) over the devices when ``P``
    divides by their number; the ready key and counter stay replicated."""
    mesh = make_mesh(AGENTS, devices)
    if mesh.size == 1 or pop.score.shape[0] % mesh.size:
        return pop
    return pop.replace(
        members=shard_leading(pop.members, mesh), hparams=shard_leading(pop.hparams, mesh),
        score=shard_leading(pop.score, mesh),
    )  # fmt: skip


def round_plan(done: int, num_updates: int, interval: int, rounds_per_chunk: int) -> tuple[int, int]:
    """``(n_rounds, length)`` of the next chunk after ``done`` updates: full rounds up
    to the next multiple of ``rounds_per_chunk`` rounds, or the final short round."""
    left = num_updates - done
    if left < interval:
        return 1, left
    r = done // interval
    return min(rounds_per_chunk - r % rounds_per_chunk, left // interval), interval


class ChunkPrograms:
    """Compiled chunk programs by ``(n_rounds, length)`` and input placement (a few at
    most), kept on the program so a later run of the same program reuses them."""

    def __init__(self, program: PopulationProgram):
        self._jitted = jax.jit(program.run_rounds, static_argnums=(1, 2), donate_argnums=0)
        self._compiled = program.compiled
        self.compile_time = 0.0

    def get(self, pop: Population, n_rounds: int, length: int):
        key = (n_rounds, length, tuple(getattr(x, "sharding", None) for x in jax.tree.leaves(pop)))
        if key not in self._compiled:
            c0 = time.perf_counter()
            self._compiled[key] = self._jitted.lower(pop, n_rounds, length).compile()
            self.compile_time += time.perf_counter() - c0
        return self._compiled[key]


def flatten_chunk(metrics: dict, record: dict) -> tuple[dict, dict]:
    """Host arrays of one chunk: metrics ``[R, P, T] -> [P, R*T]``; records with
    hparams as ``{field: [R, P]}``."""
    m = {k: np.moveaxis(np.asarray(v), 1, 0).reshape(np.shape(v)[1], -1) for k, v in metrics.items()}
    rec = {
        "hparams": {k: np.asarray(v) for k, v in record["hparams"].to_dict().items()},
        "score": np.asarray(record["score"]),
        "src": np.asarray(record["src"]),
        "update": np.asarray(record["update"]),
    }
    return m, rec
