"""What a sweep reports: per-agent curves and final returns, their statistics over
seeds (:mod:`jaxpg.analysis.stats`), the results table, files and figure."""

from __future__ import annotations

import csv
import os
import numpy as np

from jaxpg.analysis.plotting import plot_bands
from jaxpg.analysis.stats import band
from jaxpg.metrics import Record, sum_and_count
from jaxpg.runner.logging import write_json
from jaxpg.sweep.spec import SweepResult, fmt_value


def episode_sums(metrics: Record) -> tuple[np.ndarray, np.ndarray]:
    """The per-agent episode-return sums and counts ``[A, U]``, found by their roles
    (or by their names in a plain dict of host arrays, as a PBT record keeps them)."""
    if isinstance(metrics, dict):
        total, count = metrics["episode_return_sum"], metrics["episode_count"]
    else:
        total, count = sum_and_count(metrics, "episode_return")
    return np.asarray(total, np.float64), np.asarray(count, np.float64)


def agent_curves(metrics: Record) -> np.ndarray:
    """Per-agent mean return of the episodes finished in each update ``[A, U]``.

    NaN until an agent's first episode ends; an update in which none ended keeps
    the previous value (forward fill), so a curve is defined once it starts.
    """
    total, count = episode_sums(metrics)
    ret = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    out = np.empty_like(ret)
    last = np.full(ret.shape[0], np.nan)
    for u in range(ret.shape[1]):
        last = np.where(np.isnan(ret[:, u]), last, ret[:, u])
        out[:, u] = last
    return out


def final_returns(metrics: Record, window: float = 0.1) -> np.ndarray:
    """Per-agent mean return of episodes finished in the last ``window`` of updates ``[A]``."""
    total, count = episode_sums(metrics)
    k = max(1, int(round(window * total.shape[1])))
    t, c = total[:, -k:].sum(1), count[:, -k:].sum(1)
    return np.where(c > 0, t / np.maximum(c, 1), np.nan)


def curve_stats(env_steps: np.ndarray, curves: np.ndarray) -> dict:
    """Mean over seeds per update with its 95% Student t band (:func:`jaxpg.analysis.stats.band`)."""
    mean, low, high = band(curves)
    return {"env_steps": env_steps.tolist(), "mean": mean.tolist(), "low": low.tolist(), "high": high.tolist()}


def results_table_rows(result: SweepResult) -> list[list[str]]:
    rows = []
    for s in result.settings:
        f = s.final
        lo, hi = f["ci95"]
        static = " ".join(f"{k}={fmt_value(v)}" for k, v in s.static.items())
        rows.append(
            [
                (static + " [static]") if static else "-",
                " ".join(f"{k}={fmt_value(v)}" for k, v in s.swept.items()) or "-",
                f"{f['mean']:.1f}",
                f"[{lo:.1f}, {hi:.1f}]",
                f"{f['iqm']:.1f}",
                "*" if s is result.best else "",
            ]
        )
    return rows


HEADER = ["static", "hparams", "mean", "95% CI", "IQM", "best"]


def print_table(result: SweepResult) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"final return over {result.seeds} seed(s) (last 10% of updates)")
    for h in HEADER:
        t.add_column(h, justify="right" if h in ("mean", "95% CI", "IQM") else "left")
    for row in results_table_rows(result):
        t.add_row(*row)
    Console().print(t)


def write_outputs(result: SweepResult, out_dir: str, meta: dict, plot: bool = True) -> None:
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for s in result.settings:
        rows.append(
            {
                "name": s.name,
                "static": s.static,
                "hparams": s.swept,
                "final_return": s.final,
                "best": s is result.best,
            }
        )
    write_json(
        os.path.join(out_dir, "results.json"),
        {"settings": rows, "best": result.best.name, "seeds": result.seeds,
         "timings": result.timings, **meta},
    )  # fmt: skip
    write_json(
        os.path.join(out_dir, "best.json"),
        {"name": result.best.name, "config": result.best.config.to_dict(),
         "hparams": result.best.hparams.to_dict(), "final_return": result.best.final},
    )  # fmt: skip
    write_json(os.path.join(out_dir, "curves.json"), {s.name: s.curve for s in result.settings})
    with open(os.path.join(out_dir, "curves.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["setting", "env_steps", "mean_return", "low", "high"])
        for s in result.settings:
            c = s.curve
            for row in zip(c["env_steps"], c["mean"], c["low"], c["high"]):
                w.writerow([s.name, *row])
    lines = [
        f"# Sweep: {meta.get('algo', '')} on {meta.get('env', '')}",
        "",
        f"Final return = mean return of episodes finished in the last 10% of updates, "
        f"over {result.seeds} seed(s); 95% CI: percentile bootstrap of the mean; "
        f"IQM: mean of the middle 50% of seeds. Best (by IQM): `{result.best.name}`.",
        f"Device: {meta.get('device', '')}.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in results_table_rows(result)]
    lines += ["", "| static | agents | compile s | run s | env steps/s | chunks |", "|---|---|---|---|---|---|"]
    for t in result.timings:
        st = " ".join(f"{k}={fmt_value(v)}" for k, v in t["static"].items()) or "-"
        lines.append(
            f"| {st} | {t['agents']} | {t['compile_time_s']:.1f} | {t['run_time_s']:.1f} "
            f"| {t['steps_per_s']:,.0f} | {t['num_chunks']} x {t['chunk_size']} |"
        )
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if plot:
        plot_curves(result, os.path.join(out_dir, "curves.png"), meta.get("env", ""))


def plot_curves(result: SweepResult, path: str, title: str = "") -> None:
    series = [
        (s.name, np.asarray(s.curve["env_steps"]), s.curve["mean"], s.curve["low"], s.curve["high"],
         2.5 if s is result.best else 1.2)
        for s in result.settings
    ]  # fmt: skip
    ylabel = f"episode return (mean over {result.seeds} seeds, 95% band)"
    plot_bands(path, series, title, "env steps (per agent)", ylabel, legend=len(result.settings) <= 12)
