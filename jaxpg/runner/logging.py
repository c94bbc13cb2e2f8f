"""Run-directory writers (host side only, never inside a compiled function).

A run directory holds ``config.json``, ``metrics.jsonl`` (one JSON object per
logged update), TensorBoard event files and ``summary.json``.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
from typing import Any

import numpy as np

from jaxpg.errors import JaxpgError, WriteFailed
from jaxpg.sharding import is_primary


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and np.ndim(value) == 0:
        value = value.item()
    elif hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else (1e308 if value > 0 else -1e308)
    return value


def write_json(path: str, obj: Any) -> None:
    """Write ``obj`` as JSON atomically (a half-written file never replaces a good one)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(_jsonable(obj), f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def read_jsonl(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def start_wandb(out_dir: str, project: str, resume: bool = False):
    """An optional Weights & Biases run beside TensorBoard (``pip install wandb``).

    Offline by default (files under ``out_dir/wandb``, upload later with
    ``wandb sync``); set ``WANDB_MODE=online`` to stream instead.
    """
    try:
        import wandb
    except ImportError:
        raise JaxpgError(
            "--wandb needs the wandb package: pip install wandb (or pip install -e '.[wandb]')"
        ) from None
    mode = os.environ.get("WANDB_MODE", "offline")
    name = os.path.basename(os.path.normpath(out_dir))
    return wandb.init(project=project, dir=out_dir, name=name, mode=mode,
                      resume="allow" if resume else None, id=name if resume else None)  # fmt: skip


class RunLogger:
    """Writes one run directory: config, JSONL metrics, TensorBoard scalars, summary.

    ``wandb_project``: also log to Weights & Biases (see :func:`start_wandb`).
    """

    def __init__(
        self,
        out_dir: str,
        tensorboard: bool = True,
        append: bool = False,
        wandb_project: str | None = None,
    ):
        self.out_dir = out_dir
        os.makedirs(out_dir, exist_ok=True)
        self._wandb = start_wandb(out_dir, wandb_project, append) if wandb_project else None
        self._jsonl = open(os.path.join(out_dir, "metrics.jsonl"), "a" if append else "w")
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(logdir=out_dir, flush_secs=10)

    def write_config(self, config: dict) -> None:
        write_json(os.path.join(self.out_dir, "config.json"), config)
        if self._wandb is not None:
            self._wandb.config.update(_jsonable(config), allow_val_change=True)

    def log(self, metrics: dict[str, Any], step: int) -> None:
        """Append ``{"step": step, **metrics}`` to metrics.jsonl and to TensorBoard."""
        row = _jsonable({"step": step, **metrics})
        try:
            injected_write_fault("metrics", row.get("update"), self._jsonl.name)
            self._jsonl.write(json.dumps(row) + "\n")
            self._jsonl.flush()
        except OSError as e:
            raise write_failed(self._jsonl.name, e) from None
        if self._tb is not None:
            for name, value in row.items():
                if name != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tb.add_scalar(name, value, step)
        if self._wandb is not None:
            self._wandb.log({k: v for k, v in row.items() if k != "step"}, step=int(step))

    def write_summary(self, summary: dict) -> None:
        path = os.path.join(self.out_dir, "summary.json")
        try:
            write_json(path, summary)
        except OSError as e:
            raise write_failed(path, e) from None

    def close(self) -> None:
        try:
            self._jsonl.close()
        except OSError:
            pass  # a failed flush of the last row: already reported by log()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None


def free_space(path: str) -> str:
    """Free bytes on the disk holding ``path`` (its nearest existing ancestor), e.g. "12.0 kB"."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    try:
        free = float(shutil.disk_usage(probe).free)
    except OSError:
        return "unknown space"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if free < 1000 or unit == "TB":
            return f"{free:.0f} {unit}" if unit == "B" else f"{free:.1f} {unit}"
        free /= 1000
    return "unknown space"


WRITE_FAULT_ENV = "JAXPG_TEST_WRITE_FAULT"
"""``metrics:<update>`` or ``checkpoint:<update>``: that write fails on process 0 as on a
full disk. For fault tests: a real full disk cannot be aimed at one process of several,
nor a read-only directory at a process running as root."""


def injected_write_fault(kind: str, update: int, path: str) -> None:
    """Raise the ``OSError`` of a full disk if :data:`WRITE_FAULT_ENV` names this write."""
    if os.environ.get(WRITE_FAULT_ENV) == f"{kind}:{update}" and is_primary():
        raise OSError(errno.ENOSPC, f"No space left on device ({WRITE_FAULT_ENV})", path)


def write_failed(path: str, e: BaseException) -> WriteFailed:
    """The one-line error for a failed write of ``path``, with the free space there."""
    return WriteFailed(path, e, free_space(path))
