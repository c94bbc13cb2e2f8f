"""Stand-in for ``jaxpg.logging.RunLogger`` until the lead's module lands on this branch.

Same interface: ``write_config``, ``log`` (a ``metrics.jsonl`` line + TensorBoard
scalars), ``write_summary`` (``summary.json``), ``close``. The pipeline imports the
real one when it exists, so this file can be deleted at merge time.
"""

from __future__ import annotations

import json
import math
import os

from tensorboardX import SummaryWriter


def _jsonable(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


class RunLogger:
    def __init__(self, out_dir: str):
        os.makedirs(out_dir, exist_ok=True)
        self.out_dir = out_dir
        self._jsonl = open(os.path.join(out_dir, "metrics.jsonl"), "a")
        self._tb = SummaryWriter(out_dir)

    def write_config(self, config: dict) -> None:
        with open(os.path.join(self.out_dir, "config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)

    def log(self, metrics: dict[str, float], step: int) -> None:
        row = {"step": int(step), **{k: _jsonable(float(v)) for k, v in metrics.items()}}
        self._jsonl.write(json.dumps(row) + "\n")
        self._jsonl.flush()
        for k, v in metrics.items():
            self._tb.add_scalar(k, float(v), int(step))

    def write_summary(self, summary: dict) -> None:
        with open(os.path.join(self.out_dir, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2, sort_keys=True, default=float)

    def close(self) -> None:
        self._jsonl.close()
        self._tb.close()
