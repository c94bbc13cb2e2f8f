"""Typed per-update metrics: small records of scalars whose fields declare their role.

Each algorithm's update returns an :class:`UpdateMetrics`: its own record (losses,
gradient norms, schedule values, its diagnostics), the diagnostics every algorithm
logs (:class:`PolicyDiagnostics`), the finished episodes' sums (:class:`EpisodeSums`)
and the raw data's finite flags (:class:`FiniteFlags`); the trainer adds the
non-finite code and, on evaluation updates, :class:`EvalMetrics`.

What a metric *means* is its field's :class:`Role`, never parsed from its name:

* the non-finite guard (:mod:`jaxpg.guard`) puts each field in a link of its causal
  chain by role (:func:`guard_link`);
* the chunk summary (:func:`summarize_chunk`) keeps the last value of most fields,
  adds up ``COUNT`` fields, turns each ``SUM`` into the mean over its count, and
  reports the largest ``CODE``;
* the sweep reads the episode sums by role (:func:`sum_and_count`).

The names users see in ``metrics.jsonl``/TensorBoard are the field names. A record
is also a read-only mapping from those names to values (``m["episode_count"]``,
``dict(m)``), so code that reads metrics by name keeps working; records are
pytrees (``flax.struct``), so ``lax.scan`` stacks them and ``vmap`` batches them.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Iterator

import numpy as np
from flax import struct


class Role(enum.Enum):
    LOSS = "loss"  # a loss or objective value
    GRADIENT = "gradient"  # a gradient norm
    DIAGNOSTIC = "diagnostic"  # anything else the update computes (KL, schedules, ...)
    FINITE = "finite"  # 1.0 when the raw data it names was finite, else 0.0
    SUM = "sum"  # summed over the chunk, reported as the mean over its COUNT field
    COUNT = "count"  # summed over the chunk
    EVAL = "eval"  # evaluation episodes (summarized by jaxpg.evaluation)
    CODE = "code"  # an integer code; the chunk reports its largest value


# The non-finite guard's causal chain (see jaxpg.guard), earliest first.
OBSERVATIONS, ADVANTAGES, LOSS, GRADIENT, PARAMETERS = 1, 2, 3, 4, 5


def metric(role: Role, *, link: int | None = None, mean: str | None = None, count: str | None = None):
    """A metric field: its ``role``; for ``FINITE`` the guard ``link`` it vouches for;
    for ``SUM`` the name of the ``mean`` it is reported as and its ``count`` field.
    Absent (``None``, the default) fields are not metrics of this update."""
    meta = {"role": role, "link": link, "mean": mean, "count": count}
    return struct.field(default=None, metadata=meta)


def guard_link(meta) -> int | None:
    """The guard link of a field (None: not guarded)."""
    role = meta["role"]
    if role is Role.FINITE:
        return meta["link"]
    if role is Role.GRADIENT:
        return GRADIENT
    if role in (Role.SUM, Role.COUNT):
        return ADVANTAGES  # episode sums come from the rewards
    if role in (Role.LOSS, Role.DIAGNOSTIC):
        return LOSS
    return None


class Record:
    """Base of the metric records: walk the fields, read them as a mapping by name."""

    def fields(self) -> Iterator[tuple[str, dict, Any]]:
        """``(name, metadata, value)`` of every present metric, nested records flattened."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, Record):
                yield from value.fields()
            else:
                yield f.name, f.metadata, value

    def keys(self) -> list[str]:
        return [name for name, _, _ in self.fields()]

    def items(self) -> list[tuple[str, Any]]:
        return [(name, value) for name, _, value in self.fields()]

    def values(self) -> list[Any]:
        return [value for _, _, value in self.fields()]

    def __getitem__(self, name: str):
        for n, _, value in self.fields():
            if n == name:
                return value
        raise KeyError(name)

    def get(self, name: str, default=None):
        return next((v for n, _, v in self.fields() if n == name), default)

    def __contains__(self, name) -> bool:
        return any(n == name for n, _, _ in self.fields())

    def __iter__(self):
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def to_dict(self) -> dict[str, Any]:
        return dict(self.items())

    def with_metrics(self, **values) -> "Record":
        """A copy with the metrics of those names (in any nested record) replaced."""
        changes, left = {}, dict(values)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Record):
                mine = {k: left.pop(k) for k in list(left) if k in value}
                if mine:
                    changes[f.name] = value.with_metrics(**mine)
            elif f.name in left and value is not None:
                changes[f.name] = left.pop(f.name)
        if left:
            raise KeyError(f"no metric {sorted(left)[0]!r} in this record")
        return self.replace(**changes)


@struct.dataclass
class PolicyDiagnostics(Record):
    """What every algorithm logs about the policy after its update, on its batch."""

    kl: Any = metric(Role.DIAGNOSTIC)  # mean KL(old || new)
    explained_variance: Any = metric(Role.DIAGNOSTIC)  # of the pre-update critic/baseline
    entropy: Any = metric(Role.DIAGNOSTIC)
    log_std_mean: Any = metric(Role.DIAGNOSTIC)  # Gaussian policies only
    log_std_min: Any = metric(Role.DIAGNOSTIC)


@struct.dataclass
class EpisodeSums(Record):
    """Sums and count of the episodes that finished in the update (averaged per chunk)."""

    episode_return_sum: Any = metric(Role.SUM, mean="episode_return", count="episode_count")
    episode_length_sum: Any = metric(Role.SUM, mean="episode_length", count="episode_count")
    episode_count: Any = metric(Role.COUNT)


@struct.dataclass
class FiniteFlags(Record):
    """1.0/0.0: the raw observations and rewards were finite (computed where they live, so
    a NaN observation is reported as such and not as the loss it poisons)."""

    obs_finite: Any = metric(Role.FINITE, link=OBSERVATIONS)
    reward_finite: Any = metric(Role.FINITE, link=ADVANTAGES)


@struct.dataclass
class EvalMetrics(Record):
    """Evaluation episodes of an update (zeros and ``eval_done`` 0 where none ran)."""

    eval_return: Any = metric(Role.EVAL)
    eval_return_low: Any = metric(Role.EVAL)
    eval_return_high: Any = metric(Role.EVAL)
    eval_length: Any = metric(Role.EVAL)
    eval_return_stochastic: Any = metric(Role.EVAL)
    eval_return_stochastic_low: Any = metric(Role.EVAL)
    eval_return_stochastic_high: Any = metric(Role.EVAL)
    eval_env_steps: Any = metric(Role.EVAL)
    eval_done: Any = metric(Role.EVAL)


EVAL_COLUMNS = frozenset(f.name for f in dataclasses.fields(EvalMetrics) if f.metadata.get("role") is Role.EVAL)
"""The log columns of evaluation episodes (measured at ``eval_env_steps``, not at the row's
``env_steps``): read by plots, from the role, never from an ``eval_`` prefix."""


@struct.dataclass
class UpdateMetrics(Record):
    """The record of one update: the algorithm's own, the shared parts, the guard's code."""

    algo: Any = None  # the algorithm's record (e.g. jaxpg.algos.ppo.PPOMetrics)
    policy: PolicyDiagnostics | None = None
    episodes: EpisodeSums | None = None
    finite: FiniteFlags | None = None
    nonfinite: Any = metric(Role.CODE)  # jaxpg.guard's code, 0: all finite
    eval: EvalMetrics | None = None


def sum_and_count(record: Record, mean: str) -> tuple[Any, Any]:
    """The ``SUM`` field reported as ``mean`` and its ``COUNT`` field."""
    for _, meta, value in record.fields():
        if meta["role"] is Role.SUM and meta["mean"] == mean:
            return value, record[meta["count"]]
    raise KeyError(mean)


def summarize_chunk(metrics: Record) -> dict[str, float]:
    """Reduce a chunk's stacked ``[n]`` metrics to one log row, by role.

    ``SUM`` fields become the mean over their count of the chunk (NaN when the count
    is 0: e.g. ``episode_return``, the mean return of the episodes finished in the
    chunk); ``COUNT`` fields are summed; ``CODE`` fields give their largest value;
    ``EVAL`` fields are left to :func:`jaxpg.evaluation.summarize`; every other
    metric is that of the chunk's last update.
    """
    row: dict[str, Any] = {}
    means = {}
    for name, meta, value in metrics.fields():
        role, value = meta["role"], np.asarray(value)
        if role is Role.SUM:
            means[meta["mean"]] = (float(np.sum(value)), meta["count"])
        elif role is Role.COUNT:
            row[name] = float(np.sum(value))
        elif role is Role.CODE:
            row[name] = int(np.max(value))
        elif role is not Role.EVAL:
            row[name] = float(value.reshape(-1)[-1])
    for mean, (total, count) in means.items():
        row[mean] = total / row[count] if row[count] > 0 else float("nan")
    return row
