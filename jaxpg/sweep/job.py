"""A sweep as one call: :class:`SweepSpec` says what is trained, a
:class:`~jaxpg.runner.options.RunOptions` (as for ``run``, ``run_pbt`` and
``run_rlhf``) how it is driven and where it goes.

``run_sweep(spec, options)`` validates both, makes (and locks) the output directory,
trains the groups of settings that share a static config (one compile each), keeps
each finished group on disk as it finishes (so an interrupted sweep continues with
``RunOptions(out_dir=DIR, resume=True)`` or ``jaxpg sweep --resume DIR``) and writes
the results. Only process 0 of a multi-process sweep writes files.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.analysis.stats import summarize
from jaxpg.config import HParams, TrainConfig, check_seed, stack_hparams
from jaxpg.errors import ConfigError, JaxpgError
from jaxpg.runner import compile_cache
from jaxpg.runner.loop import device_description
from jaxpg.runner.options import RunOptions
from jaxpg.runner.signals import startup_hint
from jaxpg.sweep.agents import run_agents
from jaxpg.sweep.outdir import finished_groups, prepare, write_group
from jaxpg.sweep.report import agent_curves, curve_stats, final_returns, write_outputs
from jaxpg.sweep.spec import Sampler, Setting, SweepResult, build_settings, fmt_value
from jaxpg.validation import validate


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep trains: every point of ``grid`` x ``sample`` draws, for every
    ``static`` choice, on seeds ``options.seed .. options.seed + seeds - 1``."""

    config: TrainConfig
    """The base static choices (each ``static`` value replaces one field)."""
    hparams: HParams
    """The base hyperparameters (the swept fields replace theirs)."""
    grid: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    """HParams field -> values, crossed (:func:`jaxpg.sweep.spec.parse_grid`)."""
    sample: Mapping[str, Sampler] = field(default_factory=dict)
    """HParams field -> distribution, ``num_samples`` draws (:func:`~jaxpg.sweep.spec.parse_sample`)."""
    num_samples: int = 8
    """How many draws of ``sample`` (crossed with ``grid``)."""
    sample_seed: int = 0
    """Seed of the ``sample`` draws."""
    static: Mapping[str, tuple] = field(default_factory=dict)
    """TrainConfig field -> values, one compile each (:func:`~jaxpg.sweep.spec.parse_static`)."""
    seeds: int = 8
    """Seeds per setting (the same seeds for every setting)."""
    max_batch: int | None = None
    """Most agents per compiled chunk; None: from device memory."""
    argv: tuple[str, ...] | None = None
    """The ``jaxpg sweep`` flags that make this sweep, saved for ``jaxpg sweep --resume``;
    None (a sweep started from Python): it continues from Python, with this spec."""

    def validate(self) -> "SweepSpec":
        """One-line :class:`ConfigError` for bad input; every setting is checked."""
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ConfigError("seeds", self.seeds, "must be >= 1")
        both = set(self.grid) & set(self.sample)
        if both:
            raise ConfigError("sample", sorted(both)[0], "a field is either --grid or --sample, not both")
        if self.max_batch is not None and self.max_batch < 1:
            raise ConfigError("max_batch", self.max_batch, "must be >= 1")
        self.settings()
        return self

    def settings(self) -> list[Setting]:
        """Every (static, hparams) setting, each validated (:func:`jaxpg.validate`)."""
        config, hparams = validate(self.config, self.hparams)
        return build_settings(config, hparams, dict(self.grid), dict(self.sample), self.num_samples,
                              dict(self.static), self.sample_seed)  # fmt: skip

    def meta(self) -> dict:
        """What ``results.json`` records about the sweep besides its results."""
        return {
            "algo": self.config.algo, "env": self.config.env,
            "base_config": self.config.to_dict(), "base_hparams": self.hparams.to_dict(),
            "grid": dict(self.grid), "sample": {k: dataclasses.asdict(v) for k, v in self.sample.items()},
            "num_samples": self.num_samples if self.sample else 0, "static": dict(self.static),
        }  # fmt: skip


def check_job(spec: SweepSpec, options: RunOptions) -> SweepSpec:
    """Validate a sweep's inputs before anything is compiled or written (the CLI calls it
    before the processes agree on a directory; :func:`run_sweep` calls it again)."""
    spec = spec.validate()
    validate(spec.config, spec.hparams, options=options)
    check_seed(options.seed, spec.seeds)  # the last agent trains from seed + seeds - 1
    if options.checkpoint_every is not None:
        raise JaxpgError("a sweep keeps each finished group, not checkpoints: leave checkpoint_every None")
    if options.wandb_project:
        raise JaxpgError("run_sweep does not log to Weights & Biases: leave wandb_project None")
    if options.watchdog is not None:
        raise JaxpgError("run_sweep has no chunk watchdog: leave watchdog None")
    return spec


def run_sweep(spec: SweepSpec, options: RunOptions | None = None, *, devices: list | None = None) -> SweepResult:
    """Train ``spec``'s settings x seeds, driven as ``options`` say.

    ``options.seed``: the first seed; ``out_dir``: where the results go (None: write
    nothing); ``resume``: keep the groups ``out_dir`` finished and train the others;
    ``overwrite``: replace a sweep already there; ``plot``: ``curves.png``;
    ``progress``: a line per group on stdout; ``handle_signals``: keep the line an
    early SIGINT/SIGTERM prints (``jaxpg`` installs that exit) saying how to continue.
    ``devices``: where the agent axis is split (default: all).
    """
    options = RunOptions() if options is None else options
    spec = check_job(spec, options)
    settings, out = spec.settings(), options.out_dir
    primary = jax.process_index() == 0  # only process 0 writes files (the others: stderr only)
    lock = prepare(out, spec.argv, options.resume, options.overwrite) if out and primary else None
    try:
        done = finished_groups(out) if options.resume else {}  # --resume needs a shared disk
        say = print if options.progress else (lambda line: None)
        n_groups = len({s.config for s in settings})
        say(f"jaxpg sweep: {spec.config.algo} on {spec.config.env}, {len(settings)} setting(s) x "
            f"{spec.seeds} seed(s) on {jax.device_count()} device(s), writing {out}"
            + (f" ({len(done)} of {n_groups} group(s) already done)" if options.resume else ""))  # fmt: skip
        kept = dict(done)

        def keep(index: int, record: dict) -> None:
            if out and primary:
                write_group(out, index, record)
            kept[index] = record
            hint(len(kept))

        def hint(n: int) -> None:
            if options.handle_signals and out:
                startup_hint(f"{n} of {n_groups} group(s) kept in {out}; continue with: jaxpg sweep --resume {out}", "")

        hint(len(kept))
        cache_before = compile_cache.counts()
        result = train_groups(settings, spec.seeds, options.seed, spec.max_batch, devices, say, done, keep)
        result.meta = {**spec.meta(), "device": device_description(), "jax_version": jax.__version__,
                       "compile_cache": compile_cache.summary(cache_before)}  # fmt: skip
        if out and primary:
            write_outputs(result, out, result.meta, plot=options.plot)
    finally:
        if lock is not None:
            lock.release()
    return result


def train_groups(
    settings: list[Setting],
    seeds: int,
    first_seed: int,
    max_batch: int | None,
    devices: list | None,
    log: Callable[[str], object],
    done: dict[int, dict],
    on_group: Callable[[int, dict], object],
) -> SweepResult:
    """Train every setting on seeds ``first_seed .. first_seed + seeds - 1``.

    Settings that share a static config run as one batch of agents (one compile).
    ``done``: results of groups finished earlier (by group index), not trained again;
    ``on_group(index, record)`` is called as each group finishes.
    """
    groups: dict[TrainConfig, list[Setting]] = {}
    for s in settings:
        groups.setdefault(s.config, []).append(s)
    seed_keys = jnp.stack([jax.random.PRNGKey(first_seed + i) for i in range(seeds)])
    timings = []
    for index, (config, group) in enumerate(groups.items()):
        if index in done:
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
        curves, finals = agent_curves(res.metrics), final_returns(res.metrics)
        env_steps = (np.arange(config.num_updates) + 1) * config.batch_size
        for i, s in enumerate(group):
            s.final = summarize(finals[i * seeds : (i + 1) * seeds])
            s.curve = curve_stats(env_steps, curves[i * seeds : (i + 1) * seeds])
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
