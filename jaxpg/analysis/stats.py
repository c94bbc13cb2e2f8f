"""Statistics over seeds, one implementation for the sweep, ``jaxpg plot``, the
experiments and the report.

* :func:`mean_ci` / :func:`band`: the mean and its two-sided Student t interval
  (``mean +- t_{n-1} sd / sqrt(n)``), the right interval for a handful of seeds
  (a normal ``1.96`` band is too narrow below ~30).
* :func:`iqm`: the interquartile mean (Agarwal et al. 2021), robust to an outlier seed.
* :func:`bootstrap_ci` / :func:`bootstrap_ratio_ci`: percentile-bootstrap intervals
  of a mean and of a ratio of two statistics.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats


def t_critical(df: int, level: float = 0.95) -> float:
    """Two-sided Student t quantile."""
    return float(stats.t.ppf(0.5 + level / 2.0, max(df, 1)))


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its t confidence interval over seeds.

    With one finite value the interval is that value (no spread can be measured).
    """
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if v.size == 1:
        return m, m, m
    half = t_critical(v.size - 1, level) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return m, m - half, m + half


def band(curves: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and t band over axis 0 of ``curves[seeds, points]`` (NaNs ignored per point;
    a point with fewer than two finite values gets a zero-width band)."""
    curves = np.asarray(curves, np.float64)
    n = np.sum(np.isfinite(curves), axis=0)
    # all-NaN points (outside a run's range) are expected: no "Mean of empty slice" noise
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(curves, axis=0) if curves.shape[0] else np.full(curves.shape[1:], np.nan)
        sd = np.nanstd(curves, axis=0, ddof=1) if curves.shape[0] > 1 else np.zeros_like(mean)
        tq = np.array([t_critical(int(k) - 1, level) if k > 1 else 0.0 for k in np.ravel(n)])
        half = tq.reshape(mean.shape) * np.nan_to_num(sd) / np.sqrt(np.maximum(n, 1))
    return mean, mean - half, mean + half


def iqm(x: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% (Agarwal et al. 2021, rliable)."""
    x = np.sort(np.asarray(x, np.float64)[np.isfinite(x)])
    if x.size == 0:
        return float("nan")
    k = int(np.floor(0.25 * x.size))
    return float(x[k : x.size - k].mean())


def bootstrap_ci(
    x: np.ndarray, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap CI of the mean (NaN for fewer than 2 values)."""
    x = np.asarray(x, np.float64)[np.isfinite(x)]
    if x.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, (resamples, x.size))].mean(1)
    a = (1 - level) / 2
    lo, hi = np.quantile(means, [a, 1 - a])
    return float(lo), float(hi)


def bootstrap_ratio_ci(
    a, b, stat=np.mean, level: float = 0.95, n: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """``stat(a) / stat(b)`` and its percentile-bootstrap interval (a, b resampled apart)."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, a.size, (n, a.size))
    ib = rng.integers(0, b.size, (n, b.size))
    ratios = np.array([stat(a[i]) / stat(b[j]) for i, j in zip(ia, ib)])
    lo, hi = np.nanpercentile(ratios, [50 * (1 - level), 50 * (1 + level)])
    return float(stat(a) / stat(b)), float(lo), float(hi)


def summarize(values: np.ndarray) -> dict:
    """Mean, 95% bootstrap CI, IQM and the per-seed values of one number per seed."""
    lo, hi = bootstrap_ci(values)
    finite = values[np.isfinite(values)]
    return {
        "mean": float(finite.mean()) if finite.size else float("nan"),
        "ci95": [lo, hi],
        "iqm": iqm(values),
        "per_seed": [float(v) for v in values],
    }
