"""Learning-curve plots: ``jaxpg plot DIR...``, and the statistics they share.

Runs whose ``config.json`` agree except for the seed form one group; a group is
drawn as its mean curve with a 95% confidence band over seeds (Student t on the
per-seed curves, interpolated onto a common ``env_steps`` grid).
"""

from __future__ import annotations

import json
import math
import os
from typing import Sequence

import numpy as np

from jaxpg.errors import JaxpgError


def t_critical(df: int, level: float = 0.95) -> float:
    """Two-sided Student t quantile (scipy ships with jax)."""
    from scipy import stats

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


def band(curves: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and t band over axis 0 of ``curves[seeds, points]`` (NaNs ignored)."""
    curves = np.asarray(curves, np.float64)
    n = np.sum(np.isfinite(curves), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(curves, axis=0) if curves.shape[0] else np.full(curves.shape[1:], np.nan)
        sd = np.nanstd(curves, axis=0, ddof=1) if curves.shape[0] > 1 else np.zeros_like(mean)
        tq = np.array([t_critical(int(k) - 1, level) if k > 1 else 0.0 for k in np.ravel(n)])
        half = tq.reshape(mean.shape) * np.nan_to_num(sd) / np.sqrt(np.maximum(n, 1))
    return mean, mean - half, mean + half


def read_run(run_dir: str) -> tuple[dict, list[dict]]:
    """``(config.json contents, metrics rows)`` of a run dir; one-line error if missing."""
    from jaxpg.logging import read_jsonl

    if not os.path.isdir(run_dir):
        raise JaxpgError(f"run directory {run_dir!r} not found")
    cfg_path = os.path.join(run_dir, "config.json")
    met_path = os.path.join(run_dir, "metrics.jsonl")
    for p in (cfg_path, met_path):
        if not os.path.isfile(p):
            raise JaxpgError(f"{p} not found: {run_dir!r} is not a jaxpg run directory")
    with open(cfg_path) as f:
        cfg = json.load(f)
    return cfg, read_jsonl(met_path)


def group_key(cfg: dict) -> str:
    """Runs with equal configs and hparams (any seed) share a key."""
    return json.dumps({"config": cfg.get("config"), "hparams": cfg.get("hparams")}, sort_keys=True)


def _label(cfg: dict, others: list[dict]) -> str:
    """``algo env`` plus the settings that differ from the other groups."""
    c, h = cfg.get("config", {}), cfg.get("hparams", {})
    label = f"{c.get('algo')} {c.get('env')}"
    diffs = []
    for o in others:
        oc, oh = o.get("config", {}), o.get("hparams", {})
        diffs += [f"{k}={v}" for k, v in c.items() if k not in ("algo", "env") and oc.get(k) != v]
        diffs += [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in h.items() if oh.get(k) != v]
    seen = list(dict.fromkeys(diffs))
    return label + (" " + " ".join(seen[:4]) if seen else "")


def plot_runs(
    run_dirs: Sequence[str],
    out: str,
    metric: str = "episode_return",
    x: str = "env_steps",
    title: str | None = None,
) -> dict[str, int]:
    """Overlay the learning curves of ``run_dirs`` (grouped over seeds) into a PNG at ``out``.

    Returns ``{group label: number of seeds}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not run_dirs:
        raise JaxpgError("no run directories given: pass one or more DIRs written by jaxpg train")
    groups: dict[str, list[tuple[dict, list[dict]]]] = {}
    for d in run_dirs:
        cfg, rows = read_run(d)
        if rows and not any(metric in r for r in rows):
            have = sorted(set().union(*rows))
            raise JaxpgError(f"metric {metric!r} not in {d}/metrics.jsonl; have {', '.join(have)}")
        groups.setdefault(group_key(cfg), []).append((cfg, rows))

    cfgs = [runs[0][0] for runs in groups.values()]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    counts = {}
    for i, runs in enumerate(groups.values()):
        label = _label(runs[0][0], [c for j, c in enumerate(cfgs) if j != i])
        # an evaluation's x is the env steps when it ran (eval_env_steps), not the row's
        x_of = lambda r: r.get("eval_env_steps", r[x]) if metric.startswith("eval_") and x == "env_steps" else r[x]
        xs = [np.array([x_of(r) for r in rows], np.float64) for _, rows in runs]
        ys = [np.array([np.nan if r.get(metric) is None else r[metric] for r in rows], np.float64) for _, rows in runs]
        grid = np.unique(np.concatenate(xs))
        curves = np.stack([_interp(grid, xx, yy) for xx, yy in zip(xs, ys)])
        mean, lo, hi = band(curves)
        (line,) = ax.plot(grid, mean, label=f"{label} (n={len(runs)})")
        if len(runs) > 1:
            ax.fill_between(grid, lo, hi, color=line.get_color(), alpha=0.25, linewidth=0)
        counts[label] = len(runs)
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} (mean, 95% CI over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return counts


def _interp(grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y(x)`` on ``grid``, NaN outside the run's range or where the run had no value."""
    ok = np.isfinite(y)
    if ok.sum() == 0:
        return np.full(grid.shape, np.nan)
    out = np.interp(grid, x[ok], y[ok])
    out[(grid < x[ok][0]) | (grid > x[ok][-1])] = np.nan
    return out
