"""What a PBT run reports: lineage (who copied whom at which update), each member's
hyperparameters over time and return curve, the best member's schedule (traced back
through the members it copied), ``pbt.json``, ``lineage.csv``, ``hparams.csv``,
``curves.csv``, ``best.json`` and ``pbt.png``."""

from __future__ import annotations

import csv
import math
import os

import numpy as np
from matplotlib.figure import Figure

from jaxpg.analysis.stats import summarize
from jaxpg.pbt.driver import PBTResult, Record
from jaxpg.runner.logging import write_json
from jaxpg.sweep.report import agent_curves, final_returns


def lineage(record: Record) -> list[dict]:
    """One row per copy: after ``update`` updates ``member`` copied ``source``."""
    rows = []
    for r in range(record.src.shape[0]):
        for i, j in enumerate(record.src[r]):
            if j != i:
                rows.append({"update": int(record.update[r]), "member": i, "source": int(j),
                             "member_score": float(record.score[r, i]), "source_score": float(record.score[r, j])})  # fmt: skip
    return rows


def ancestry(record: Record, member: int) -> np.ndarray:
    """``a[r]``: whose learned state ``member`` carries during round ``r`` (``a[-1] == member``)."""
    rounds = record.src.shape[0]
    a = np.empty(rounds, int)
    a[-1] = member
    for r in range(rounds - 2, -1, -1):
        a[r] = record.src[r, a[r + 1]]
    return a


def member_schedule(record: Record, member: int, fields) -> list[dict]:
    """The hyperparameters ``member``'s learned state was trained with, per round along
    its ancestry; consecutive equal rounds merged: ``[{"update": start, field: value}]``."""
    a = ancestry(record, member)
    starts = np.concatenate([[0], record.update[:-1]])
    out = []
    for r, u in enumerate(starts):
        seg = {n: float(record.hparams[n][r, a[r]]) for n in fields}
        if not out or any(out[-1][n] != seg[n] for n in fields):
            out.append({"update": int(u), **seg})
    return out


def summarize_population(res: PBTResult) -> dict:
    """Final returns per member (last 10% of updates), best member, its schedule."""
    finals = final_returns(res.record.metrics)
    fields = sorted(res.meta["space"])
    score = np.where(np.isfinite(finals), finals, -np.inf)
    best = int(np.argmax(score))
    return {
        "final_returns": [float(v) for v in finals],
        "final_return_stats": summarize(finals),
        "best_member": best,
        "best_final_return": float(finals[best]),
        "median_final_return": float(np.nanmedian(finals)) if np.isfinite(finals).any() else math.nan,
        "best_ancestry": [int(x) for x in ancestry(res.record, best)],
        "best_schedule": member_schedule(res.record, best, fields),
        "copies": len(lineage(res.record)),
    }


def write_outputs(res: PBTResult, out_dir: str, plot: bool = True) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    rec, meta = res.record, res.meta
    pop = summarize_population(res)
    fields = sorted(meta["space"])
    write_json(os.path.join(out_dir, "pbt.json"), {**meta, "summary": res.summary, "population": pop,
                                                    "score": "mean return of the episodes finished in the interval"})  # fmt: skip
    _csv(os.path.join(out_dir, "lineage.csv"), ["update", "member", "source", "member_score", "source_score"],
         [list(r.values()) for r in lineage(rec)])  # fmt: skip
    starts = np.concatenate([[0], rec.update[:-1]])
    _csv(os.path.join(out_dir, "hparams.csv"), ["update", "member", "score_after", *fields],
         [[int(starts[r]), i, float(rec.score[r, i]), *(float(rec.hparams[n][r, i]) for n in fields)]
          for r in range(len(starts)) for i in range(rec.src.shape[1])])  # fmt: skip
    curves = agent_curves(rec.metrics)
    batch = meta["config"]["num_envs"] * meta["config"]["num_steps"]
    _csv(os.path.join(out_dir, "curves.csv"), ["env_steps", *(f"member_{i}" for i in range(curves.shape[0]))],
         [[(u + 1) * batch, *curves[:, u]] for u in range(curves.shape[1])])  # fmt: skip
    best = pop["best_member"]
    a0 = pop["best_ancestry"][0] if pop["best_ancestry"] else best
    first = {n: pop["best_schedule"][0][n] for n in fields} if pop["best_schedule"] else {}
    write_json(os.path.join(out_dir, "best.json"), {
        "member": best, "final_return": pop["best_final_return"], "config": meta["config"],
        "hparams": {**meta["hparams"], **first}, "schedule": pop["best_schedule"],
        "seed": meta["seed"] + a0,
        "note": "replay: jaxpg train --schedule best.json (seed: the seed of the member it descends from)",
    })  # fmt: skip
    if plot:
        plot_population(os.path.join(out_dir, "pbt.png"), curves, batch, pop, meta)
    return pop


def _csv(path: str, header: list, rows) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def plot_population(path: str, curves: np.ndarray, batch: int, pop: dict, meta: dict) -> None:
    """Left: every member's return curve (the best one bold). Right: the best member's schedule."""
    fig = Figure(figsize=(11, 4.2))
    ax, ax2 = fig.subplots(1, 2)
    x = (np.arange(curves.shape[1]) + 1) * batch
    for i, c in enumerate(curves):
        best = i == pop["best_member"]
        ax.plot(x, c, lw=2.2 if best else 0.8, alpha=1.0 if best else 0.6, label="best" if best else None)
    ax.set(xlabel="env steps (per member)", ylabel="episode return", title=f"population of {len(curves)} on {meta['config']['env']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    sched = pop["best_schedule"]
    for n, spec in sorted(meta["space"].items()):
        xs = [s["update"] * batch for s in sched] + [len(x) * batch]
        ys = [s[n] for s in sched] + [sched[-1][n]]
        ax2.step(xs, ys, where="post", label=n)
        if spec["dist"] == "loguniform":
            ax2.set_yscale("log")
    ax2.set(xlabel="env steps", title="best member's hyperparameter schedule")
    ax2.grid(alpha=0.3)
    if meta["space"]:
        ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
