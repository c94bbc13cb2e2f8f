"""The host driver of a PBT run: compile chunks of rounds, run them, record, checkpoint.

As ``jaxpg train``'s driver: nothing host-side inside a chunk; between chunks the
host appends what the chunk returned to the :class:`Record`, prints a line,
checkpoints the whole :class:`~jaxpg.pbt.ready.Population` (orbax, through
:class:`~jaxpg.runner.checkpoint.Checkpointer`) and checks for a stop signal; the
watchdog warns about a chunk that runs far late. The population carries its RNG
keys and counters, so a resumed run computes exactly what an uninterrupted one does.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import numpy as np

from jaxpg.config import HParams, TrainConfig, check_seed
from jaxpg.errors import JaxpgError
from jaxpg.pbt.population import (
    ChunkPrograms, PopulationProgram, flatten_chunk, make_program, member_keys, ready_key, round_plan,
    shard_population,
)  # fmt: skip
from jaxpg.pbt.ready import Population
from jaxpg.pbt.space import PBTConfig, bounds, check_space, initial_population
from jaxpg.runner.checkpoint import Checkpointer, check_compatible
from jaxpg.runner.logging import write_json
from jaxpg.runner.options import RunOptions
from jaxpg.runner.rundir import CONFIG_FILE, prepare_run_dir
from jaxpg.runner.signals import done_starting, signal_name, stop_on_signals
from jaxpg.runner.watchdog import ChunkWatchdog
from jaxpg.sharding import to_host
from jaxpg.validation import validate

RECORD_FILE = "record.npz"


@dataclass
class Record:
    """Everything a PBT run reports, on the host: per-member metrics ``[P, U]`` and,
    per round, the hyperparameters used ``{field: [R, P]}``, scores ``[R, P]``,
    sources ``[R, P]`` (member ``i`` copied ``src[r, i]`` after round ``r``) and the
    update count at each round's end ``[R]``."""

    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    hparams: dict[str, np.ndarray] = field(default_factory=dict)
    score: np.ndarray | None = None
    src: np.ndarray | None = None
    update: np.ndarray | None = None

    def append(self, metrics: dict, rec: dict) -> None:
        cat = lambda a, b, axis: b if a is None else np.concatenate([a, b], axis)
        self.metrics = {k: cat(self.metrics.get(k), v, 1) for k, v in metrics.items()}
        self.hparams = {k: cat(self.hparams.get(k), v, 0) for k, v in rec["hparams"].items()}
        self.score, self.src = cat(self.score, rec["score"], 0), cat(self.src, rec["src"], 0)
        self.update = cat(self.update, rec["update"], 0)

    def save(self, path: str) -> None:
        arrays = {f"metrics/{k}": v for k, v in self.metrics.items()}
        arrays.update({f"hparams/{k}": v for k, v in self.hparams.items()})
        arrays.update(score=self.score, src=self.src, update=self.update)
        with open(path + ".tmp", "wb") as f:
            np.savez(f, **arrays)
        os.replace(path + ".tmp", path)

    @classmethod
    def load(cls, path: str, last_update: int) -> "Record":
        """The record saved at ``path``, cut back to ``last_update`` updates."""
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
        keep = int(np.sum(data["update"] <= last_update))
        rec = cls()
        rec.metrics = {k.split("/", 1)[1]: v[:, :last_update] for k, v in data.items() if k.startswith("metrics/")}
        rec.hparams = {k.split("/", 1)[1]: v[:keep] for k, v in data.items() if k.startswith("hparams/")}
        rec.score, rec.src, rec.update = data["score"][:keep], data["src"][:keep], data["update"][:keep]
        return rec


@dataclass
class PBTResult:
    population: Population  # the final population (device arrays)
    record: Record
    summary: dict
    meta: dict


def run_pbt(
    config: TrainConfig,
    hparams: HParams,
    space: dict,
    pbt: PBTConfig = PBTConfig(),
    options: RunOptions | None = None,
    *,
    env: Any = None,
    devices: list | None = None,
    on_chunk: Callable[[dict], Any] | None = None,
    log: Callable[[str], Any] = print,
) -> PBTResult:
    """Train a population of ``pbt.population`` members of ``config`` with PBT, driven
    as ``options`` say (:class:`RunOptions`, as for :func:`jaxpg.runner.loop.run`).

    ``hparams``: the base hyperparameters; the fields in ``space`` (``{field:
    Sampler}``, see :func:`jaxpg.pbt.space.parse_explore`) are drawn per member
    from it (numpy, seed ``options.seed``). Member ``i`` trains from
    ``PRNGKey(seed + i)``. With ``options.out_dir`` the run writes ``config.json``,
    checkpoints every ``options.checkpoint_every`` updates (default: about a tenth of
    the run, at chunk ends) and ``record.npz``; ``options.resume`` continues its latest
    checkpoint. With ``options.handle_signals``, SIGINT/SIGTERM stop at the next chunk
    end with a checkpoint. One line per chunk goes to ``log`` (none when
    ``options.progress`` is off). ``env``: a user env object.
    The population must fit in device memory in one program (it is sharded over
    ``devices``, not chunked over members: exploit needs every member).
    """
    options = RunOptions() if options is None else options
    config, hparams = validate(config, hparams, options=options)
    pbt, seed, out_dir = pbt.validate(), options.seed, options.out_dir
    check_seed(seed, pbt.population)  # member i trains from seed + i
    if options.wandb_project:
        raise JaxpgError("run_pbt does not log to Weights & Biases: leave wandb_project None")
    check_space(hparams, space)
    log = log if options.progress else (lambda line: None)
    program = make_program(config, pbt, bounds(space), env)
    meta = {
        "config": config.to_dict(), "hparams": hparams.to_dict(), "seed": seed,
        "space": {k: {"dist": s.dist, "low": s.low, "high": s.high} for k, s in space.items()},
        "pbt": {**pbt.__dict__, "interval": program.interval, "replaced": pbt.num_replaced()},
        "run": options.saved(),
    }  # fmt: skip
    every = options.checkpoint_every or max(program.interval, config.num_updates // 10)
    ckpt, record = None, Record()
    if out_dir:
        prepare_run_dir(out_dir, options.resume, options.overwrite)
        ckpt = Checkpointer(out_dir, keep=options.keep_checkpoints, create=not options.resume)
    hp0 = initial_population(hparams, space, pbt.population, seed)
    keys = member_keys(seed, pbt.population)
    init = lambda: program.init(keys, jax.tree.map(jax.numpy.asarray, hp0), ready_key(seed))
    if options.resume:
        pop, record = restore(program, ckpt, out_dir, meta, init)
    else:
        pop = jax.jit(init)()
        if out_dir:
            write_json(os.path.join(out_dir, CONFIG_FILE), {**meta, "kind": "pbt"})
    pop = shard_population(pop, devices)
    start_update, t_start = int(pop.update), time.perf_counter()
    pop, stop, times, programs = run_chunks(
        program, pop, record, ckpt, out_dir, meta, every, options.handle_signals,
        options.watchdog or ChunkWatchdog(), on_chunk, log,
    )  # fmt: skip
    if ckpt:
        ckpt.close()
    steps = (int(pop.update) - start_update) * config.batch_size * pbt.population
    summary = {
        "status": stop["status"], "stop_reason": stop["reason"], "signal": signal_name(stop.get("signum")),
        "updates": int(pop.update), "updates_planned": config.num_updates,
        "env_steps_per_member": int(pop.update) * config.batch_size,
        "wall_time_s": time.perf_counter() - t_start, "compile_time_s": programs.compile_time,
        "train_time_s": times["train"], "sps": steps / max(times["train"], 1e-9),
        "ready_steps": int(np.sum(record.update < config.num_updates)) if pbt.exploit and record.update is not None else 0,
    }  # fmt: skip
    if options.resume:
        summary["resumed_from_update"] = start_update
    return PBTResult(pop, record, summary, meta)


def restore(program: PopulationProgram, ckpt: Checkpointer, out_dir: str, meta: dict, init):
    step = ckpt.latest()
    if step is None:
        raise JaxpgError(f"no complete checkpoint in {ckpt.directory}: nothing to resume; start a new run")
    where = os.path.join(ckpt.directory, str(step))
    check_compatible(ckpt.read_meta(step).get("config", {}), meta["config"], where)
    pop, _ = ckpt.restore(jax.eval_shape(init), step)
    path = os.path.join(out_dir, RECORD_FILE)
    if not os.path.isfile(path):
        raise JaxpgError(f"{path} missing: the run's record was not written; start a new run")
    return pop, Record.load(path, int(pop.update))


def run_chunks(program, pop, record, ckpt, out_dir, meta, every, handle_signals, watchdog, on_chunk, log):
    """Chunks until done or stopped by a signal; checkpoints as it goes and at the end."""
    config, interval = program.config, program.interval
    per_chunk = max(1, config.chunk // interval)
    programs, train_time = ChunkPrograms(program), 0.0
    stop = {"status": "completed", "reason": "completed"}
    last_saved = int(pop.update) if ckpt and int(pop.update) in ckpt.steps() else None

    def save(pop):
        nonlocal last_saved
        if ckpt and last_saved != int(pop.update):
            record.save(os.path.join(out_dir, RECORD_FILE))  # first: the record may run ahead, never behind
            ckpt.save(pop, meta)
            last_saved = int(pop.update)

    with stop_on_signals(handle_signals) as request:
        done = int(pop.update)
        while done < config.num_updates and request.signum is None:
            n_rounds, length = round_plan(done, config.num_updates, interval, per_chunk)
            fn = programs.get(pop, n_rounds, length)
            t0 = time.perf_counter()
            with watchdog.watch(f"PBT chunk of updates {done + 1}-{done + n_rounds * length}"):
                pop, (metrics, rec) = fn(pop)
                metrics, rec = to_host((metrics, rec))
            done_starting()  # work worth saving exists: a signal now stops at this boundary, saved
            dt = time.perf_counter() - t0
            train_time += dt
            m, r = flatten_chunk(metrics, rec)
            record.append(m, r)
            done = int(pop.update)
            row = chunk_line(done, config.num_updates, r, dt)
            log(row["line"])
            if on_chunk:
                on_chunk(row)
            if ckpt and done < config.num_updates and (last_saved or 0) // every < done // every:
                save(pop)
        request.check()
        if request.signum is not None and done < config.num_updates:
            stop = {"status": "interrupted", "reason": f"interrupted by {signal_name(request.signum)}",
                    "signum": request.signum}  # fmt: skip
        save(pop)
    return pop, stop, {"train": train_time}, programs


def chunk_line(done: int, planned: int, rec: dict, dt: float) -> dict:
    score = rec["score"][-1]
    finite = score[np.isfinite(score)]
    best = float(finite.max()) if finite.size else float("nan")
    median = float(np.median(finite)) if finite.size else float("nan")
    copies = int(np.sum(rec["src"] != np.arange(rec["src"].shape[1])))
    line = (f"update {done}/{planned}: best {best:.1f}, median {median:.1f}, "
            f"{copies} cop{'y' if copies == 1 else 'ies'} in {rec['src'].shape[0]} ready step(s), {dt:.1f} s")  # fmt: skip
    return {"update": done, "best": best, "median": median, "copies": copies, "seconds": dt, "line": line}
