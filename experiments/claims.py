"""The claim framework: a claim is a small spec and a verdict function.

A :class:`Spec` says what is claimed -- the quantity, its unit, the claimed range and
how two settings are compared -- and the rule that decides the verdict, in words. The
rule itself is a pure function of the measured numbers in the claim's script, named
``verdict`` (or ``verdict_<part>``), returning one of :data:`VERDICTS`; every one of
them has a unit test (``tests/test_verdicts.py``) that feeds it synthetic results
producing each of the three. Rules are written before the measurement and not changed
to fit it: a rule that cannot return "disagrees" is not a verdict.

The building blocks here are the rules most claims share:

* :func:`range_verdict`: a measured value against a claimed range. The point estimate
  decides "agrees" (it is the measurement); the interval only decides whether a miss
  is resolvable with this many seeds ("partly" when it still meets the range,
  "disagrees" when it lies wholly outside).
* :func:`paired_difference`: two settings trained on the same seeds are compared by
  the per-seed differences (mean and t interval), not by whether two intervals overlap
  -- with 3 seeds two wide intervals overlap almost always.
* :func:`not_worse`: "setting A is about as good as the best": the paired difference
  to the best setting is not resolvably below ``-tolerance``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from jaxpg.analysis.stats import mean_ci

AGREES, PARTLY, DISAGREES = "agrees", "partly", "disagrees"
VERDICTS = (AGREES, PARTLY, DISAGREES)


@dataclasses.dataclass(frozen=True)
class Spec:
    """What one claim says and how it is judged (written before measuring).

    Attributes:
      name: the results file's stem (``results/<name>.json``).
      claim: the claim as its source states it.
      source: where it is stated.
      quantity: what is measured, in words.
      unit: the claim's unit: the verdict is decided in it.
      claimed: the claimed range ``(low, high)`` in ``unit`` (``None`` where the claim
        is a direction, not a number).
      comparison: how settings are compared (e.g. "paired per seed").
      rule: the verdict rule in words; the script's ``verdict`` function implements it.
    """

    name: str
    claim: str
    source: str
    quantity: str
    unit: str
    claimed: tuple[float, float] | None
    comparison: str
    rule: str

    def record(self) -> dict:
        """The spec's fields for the results file (``verdict_reason`` is the rule)."""
        return {"claim": self.claim, "source": self.source, "verdict_reason": self.rule,
                "spec": {"quantity": self.quantity, "unit": self.unit,
                         "claimed": None if self.claimed is None else list(self.claimed),
                         "comparison": self.comparison}}


def rule_of(verdict_fn) -> str:
    """The rule a verdict function's docstring states, as one line (its ``Args`` aside)."""
    doc = (verdict_fn.__doc__ or "").split("\n\n")[0]
    return " ".join(doc.split())


def range_verdict(point: float, low: float, high: float, claimed: tuple[float, float]) -> str:
    """A measured value (point estimate and 95% interval) against a claimed range.

    agrees: the point estimate is in the claimed range; partly: it is not, but the
    interval meets the range (this many seeds cannot tell); disagrees: the interval
    lies wholly outside the range (or nothing finite was measured).
    """
    a, b = claimed
    if not all(math.isfinite(x) for x in (point, low, high)):
        return DISAGREES
    if a <= point <= b:
        return AGREES
    if high >= a and low <= b:
        return PARTLY
    return DISAGREES


def paired_difference(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """``(mean, low, high)`` of the per-seed differences ``a[s] - b[s]`` (95% t interval).

    ``a`` and ``b`` are two settings' results on the same seeds (same order). Seeds with
    a non-finite result in either setting are left out.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired results need the same seeds: shapes {a.shape} and {b.shape}")
    return tuple(float(x) for x in mean_ci(a - b))


def not_worse(candidate: Sequence[float], best: Sequence[float], tolerance: float = 0.0) -> bool:
    """True when ``candidate`` is not resolvably worse than ``best`` (paired per seed):
    the upper end of the interval of ``candidate - best`` reaches ``-tolerance``."""
    mean, _, high = paired_difference(candidate, best)
    return bool(math.isfinite(mean) and high >= -tolerance)


def resolvably_better(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when the paired interval of ``a - b`` lies above 0."""
    _, low, _ = paired_difference(a, b)
    return bool(math.isfinite(low) and low > 0)


def best_index(per_setting: Sequence[Sequence[float]]) -> int:
    """The setting with the highest mean over seeds (``[G][S]``)."""
    return int(np.nanargmax([np.nanmean(np.asarray(v, np.float64)) for v in per_setting]))


def count_verdict(n_ok: int, n: int, partly_at: int) -> str:
    """agrees when all ``n`` sub-claims hold, partly from ``partly_at`` of them, else disagrees."""
    if n_ok == n:
        return AGREES
    return PARTLY if n_ok >= partly_at else DISAGREES


def check(verdict: str) -> str:
    """Guard: a verdict function returns one of :data:`VERDICTS`."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r} is not one of {VERDICTS}")
    return verdict
