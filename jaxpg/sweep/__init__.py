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

One call: ``run_sweep(SweepSpec(config, hparams, grid=..., seeds=...), RunOptions(out_dir=...))``
(:mod:`jaxpg.sweep.job`); the options are the :class:`~jaxpg.runner.options.RunOptions`
of ``run`` and ``run_pbt`` (seed: the first seed; out_dir, resume, overwrite, plot,
progress, handle_signals).

Outputs (``options.out_dir``): ``curves.json`` / ``curves.csv`` (mean return per update over
seeds, with a 95% band), ``results.json`` / ``results.md`` (final return: mean,
95% bootstrap CI, IQM, per-seed values), ``best.json`` (the best setting's full
config and hparams, by IQM) and ``curves.png``.
"""

from __future__ import annotations

from jaxpg.analysis.stats import bootstrap_ci, iqm, summarize
from jaxpg.config import stack_hparams
from jaxpg.sweep.agents import BatchResult, compiled_bytes, estimate_agent_bytes, run_agents
from jaxpg.sweep.job import SweepSpec, check_job, group_record, restore_group, run_sweep
from jaxpg.sweep.report import agent_curves, curve_stats, final_returns
from jaxpg.sweep.spec import (
    Sampler,
    Setting,
    SweepResult,
    build_settings,
    hparam_settings,
    parse_grid,
    parse_sample,
    parse_static,
)

__all__ = [
    "BatchResult", "Sampler", "Setting", "SweepResult", "SweepSpec", "agent_curves", "bootstrap_ci",
    "build_settings", "check_job", "compiled_bytes", "curve_stats", "estimate_agent_bytes",
    "final_returns", "group_record", "restore_group",
    "hparam_settings", "iqm", "parse_grid", "parse_sample", "parse_static", "run_agents",
    "run_sweep", "stack_hparams", "summarize",
]  # fmt: skip
