"""How a run is driven and what it writes: :class:`RunOptions`, shared by ``jaxpg train``,
the chunked driver :func:`jaxpg.runner.loop.run`, the sweep (:func:`jaxpg.sweep.run_sweep`),
PBT (:func:`jaxpg.pbt.run_pbt`) and the RLHF pipeline.

What is trained is :class:`jaxpg.config.TrainConfig` / :class:`jaxpg.config.HParams`;
everything about *where it goes and how it is watched* is here, documented once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from jaxpg.config import check_seed
from jaxpg.errors import ConfigError, JaxpgError


@dataclass(frozen=True)
class RunOptions:
    """Seed, output directory, resume/overwrite, checkpointing, progress, logging,
    signals, watchdog."""

    seed: int = 0
    """Random seed (the root PRNG key of the run)."""
    out_dir: str | None = None
    """Run directory (config.json, metrics.jsonl, TensorBoard events, checkpoints,
    summary.json, params); None: write nothing."""
    resume: bool = False
    """Continue ``out_dir``'s latest checkpoint (the state carries the RNG key and
    counters, so the continued run logs exactly what an uninterrupted one would)."""
    overwrite: bool = False
    """Replace a run already in ``out_dir`` (its metrics and checkpoints are deleted)."""
    checkpoint_every: int | None = None
    """Checkpoint every this many updates, rounded up to a chunk boundary, and at the
    end; None: about every tenth of the run."""
    keep_checkpoints: int = 3
    """How many of the latest checkpoints to keep."""
    progress: bool = True
    """Show the live progress display (a sweep or PBT run: a line per group or chunk)."""
    plot: bool = True
    """Draw the figures a sweep (``curves.png``) or a PBT run (``pbt.png``) writes."""
    wandb_project: str | None = None
    """Also log to Weights & Biases under this project (offline unless WANDB_MODE=online)."""
    handle_signals: bool = True
    """SIGINT/SIGTERM stop the run at the next chunk boundary with a checkpoint (a
    second one raises KeyboardInterrupt there, without it)."""
    watchdog: Any = None
    """A :class:`jaxpg.runner.watchdog.ChunkWatchdog` (one line on stderr when a chunk
    runs far longer than the ones before it); None: the default one."""

    def replace(self, **changes) -> "RunOptions":
        return replace(self, **changes)

    def saved(self) -> dict:
        """What ``config.json`` records under ``"run"`` (what a resume reuses)."""
        return {"checkpoint_every": self.checkpoint_every, "keep_checkpoints": self.keep_checkpoints}

    def validate(self) -> "RunOptions":
        """One-line :class:`ConfigError`/:class:`JaxpgError` for bad options."""
        check_seed(self.seed)
        every = self.checkpoint_every
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ConfigError("checkpoint_every", every, "must be a positive number of updates or None")
        keep = self.keep_checkpoints
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ConfigError("keep_checkpoints", keep, "must be a positive integer")
        if self.resume and not self.out_dir:
            raise JaxpgError("resume needs the run directory (out_dir)")
        return self

