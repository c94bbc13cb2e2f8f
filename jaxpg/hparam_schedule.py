"""Piecewise-constant hyperparameters: ``HParams`` that change at given updates,
looked up inside the compiled update (``jaxpg train --schedule best.json``).

A PBT member's hyperparameters change at its ready steps; replaying them in one
agent needs them as a function of the update counter. :class:`HParamSchedule`
holds ``K`` segments (start updates ``[K]`` and an ``HParams`` of ``[K]`` arrays);
:func:`resolve` picks the segment of the current update with a comparison and a
gather, so the schedule is traced data, not a recompile per segment.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxpg.config import HParams, stack_hparams
from jaxpg.errors import ConfigError


@struct.dataclass
class HParamSchedule:
    """``values[k]`` applies from update ``starts[k]`` (``starts[0] == 0``, increasing)."""

    starts: Any  # int32 [K]
    values: HParams  # each field [K]

    def at(self, update) -> HParams:
        """The hyperparameters of the update that starts after ``update`` updates."""
        k = jnp.sum(jnp.asarray(self.starts) <= update) - 1
        return jax.tree.map(lambda v: jnp.asarray(v)[k], self.values)

    def to_list(self) -> list[dict]:
        values = self.values.to_dict()
        return [{"update": int(u), **{n: float(np.asarray(v)[k]) for n, v in values.items()}}
                for k, u in enumerate(np.asarray(self.starts))]  # fmt: skip


def resolve(hparams, update) -> HParams:
    """``hparams`` itself, or a schedule's values at ``update``."""
    return hparams.at(update) if isinstance(hparams, HParamSchedule) else hparams


def schedule_from_list(base: HParams, segments: list[dict]) -> HParamSchedule:
    """A schedule from ``[{"update": 0, "lr": ...}, {"update": 40, "lr": ...}, ...]``:
    each segment's fields override ``base``; one-line errors for a bad list."""
    if not isinstance(segments, list) or not segments:
        raise ConfigError("schedule", segments, "give a non-empty list of {update, field: value} segments")
    starts, rows = [], []
    known = set(base.to_dict())
    for seg in segments:
        if not isinstance(seg, dict) or not isinstance(seg.get("update"), int) or seg["update"] < 0:
            raise ConfigError("schedule", seg, "each segment needs an integer 'update' >= 0")
        unknown = sorted(set(seg) - known - {"update"})
        if unknown:
            raise ConfigError("schedule", unknown[0], "unknown HParams field")
        starts.append(seg["update"])
        rows.append(base.replace(**{k: v for k, v in seg.items() if k != "update"}).validate())
    if starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:])):
        raise ConfigError("schedule", starts, "segment updates must start at 0 and increase")
    return HParamSchedule(np.asarray(starts, np.int32), stack_hparams(rows))
