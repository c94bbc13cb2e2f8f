"""Learning-curve plots: ``jaxpg plot DIR...``, the sweep's and the experiments' figures.

Runs whose ``config.json`` agree except for the seed form one group; a group is
drawn as its mean curve with a 95% confidence band over seeds (Student t on the
per-seed curves, interpolated onto a common ``env_steps`` grid).
"""

from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure  # no pyplot: files only, the caller's backend untouched

from jaxpg.analysis.stats import band
from jaxpg.errors import JaxpgError
from jaxpg.metrics import EVAL_COLUMNS
from jaxpg.runner.rundir import read_config_json


def plot_bands(path: str, series, title: str = "", xlabel: str = "env steps",
               ylabel: str = "episode return", legend: bool = True) -> None:  # fmt: skip
    """Write a PNG of mean curves with shaded bands: the one figure every curve plot draws.

    ``series``: ``(label, x, mean, low, high)`` tuples, optionally with a sixth
    item, the line width. A band is drawn only where ``low``/``high`` are given.
    """
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for label, x, mean, low, high, *width in series:
        (line,) = ax.plot(x, np.asarray(mean, float), lw=width[0] if width else 1.5, label=label)
        if low is not None:
            ax.fill_between(x, np.asarray(low, float), np.asarray(high, float),
                            color=line.get_color(), alpha=0.2, linewidth=0)  # fmt: skip
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)


def read_run(run_dir: str) -> tuple[dict, list[dict]]:
    """``(config.json contents, metrics rows)`` of a run dir; one-line error if missing."""
    cfg = read_config_json(run_dir)
    met_path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.isfile(met_path):
        raise JaxpgError(f"{met_path} not found: {run_dir!r} is not a jaxpg run directory")
    with open(met_path) as f:
        lines = [ln for ln in f.read().split("\n") if ln.strip()]
    rows = []
    for i, line in enumerate(lines):
        try:
            row = json.loads(line)
        except ValueError:
            if i == len(lines) - 1:
                break  # a torn last line: the run is being written, or was killed mid-line
            raise JaxpgError(f"{met_path} line {i + 1} is not JSON: the file is damaged") from None
        if not isinstance(row, dict):
            raise JaxpgError(f"{met_path} line {i + 1} is not a metrics row (a JSON object)")
        rows.append(row)
    if not rows:
        raise JaxpgError(f"{met_path} has no rows yet: nothing to plot (did the run log a chunk?)")
    return cfg, rows


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
    if not run_dirs:
        raise JaxpgError("no run directories given: pass one or more DIRs written by jaxpg train")
    groups: dict[str, list[tuple[dict, list[dict]]]] = {}
    for d in run_dirs:
        cfg, rows = read_run(d)
        for name, flag in ((metric, "--metric"), (x, "--x")):
            if not any(name in r for r in rows):
                have = sorted(set().union(*rows))
                raise JaxpgError(f"{flag} {name!r} is not in {d}/metrics.jsonl; have {', '.join(have)}")
        groups.setdefault(group_key(cfg), []).append((cfg, rows))

    def x_of(r: dict) -> float:
        # an evaluation's x is the env steps when it ran (eval_env_steps), not the row's
        value = r.get(x, np.nan)
        return r.get("eval_env_steps", value) if metric in EVAL_COLUMNS and x == "env_steps" else value

    cfgs = [runs[0][0] for runs in groups.values()]
    series, counts = [], {}
    for i, runs in enumerate(groups.values()):
        label = _label(runs[0][0], [c for j, c in enumerate(cfgs) if j != i])
        xs = [np.array([x_of(r) for r in rows], np.float64) for _, rows in runs]
        ys = [_column(rows, metric) for _, rows in runs]
        grid = np.unique(np.concatenate(xs))
        mean, lo, hi = band(np.stack([_interp(grid, xx, yy) for xx, yy in zip(xs, ys)]))
        shaded = (lo, hi) if len(runs) > 1 else _own_interval(runs[0][1], metric, grid, xs[0])
        series.append((f"{label} (n={len(runs)})", grid, mean, *shaded))
        counts[label] = len(runs)
    default_title = f"{metric} (mean, 95% CI over seeds"
    if all(n == 1 for n in counts.values()) and series[0][3] is not None:
        default_title += "; one seed: over its evaluation episodes"
    try:
        plot_bands(out, series, title or default_title + ")", x, metric)
    except OSError as e:
        raise JaxpgError(f"cannot write {out}: {e.strerror or e}; choose another --out") from None
    return counts


def _own_interval(rows: list[dict], metric: str, grid: np.ndarray, x: np.ndarray):
    """A single run's ``{metric}_low``/``_high`` on ``grid`` (the evaluation's 95% interval
    over its episodes), or ``(None, None)`` if the run logs none."""
    if not any(f"{metric}_low" in r for r in rows):
        return None, None
    return (_interp(grid, x, _column(rows, f"{metric}_low")),
            _interp(grid, x, _column(rows, f"{metric}_high")))


def _column(rows: list[dict], key: str) -> np.ndarray:
    """``rows[i][key]`` as floats, NaN where a row lacks it (or logged null)."""
    return np.array([np.nan if r.get(key) is None else r[key] for r in rows], np.float64)


def _interp(grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y(x)`` on ``grid``, NaN outside the run's range or where the run had no value."""
    ok = np.isfinite(y)
    if ok.sum() == 0:
        return np.full(grid.shape, np.nan)
    out = np.interp(grid, x[ok], y[ok])
    out[(grid < x[ok][0]) | (grid > x[ok][-1])] = np.nan
    return out
