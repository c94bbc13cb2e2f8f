"""Shared helpers of the claim scripts: seeds in one vmapped program, curves, results.

Every claim script trains or measures *many seeds in one compiled program*
(``jax.jit(jax.vmap(make_train(cfg)))(keys, hparams)``), states the measured value
with a 95% confidence interval, and writes ``experiments/results/<claim>.json``
(read by ``make_report.py``) and its figure under ``experiments/figures/``.

``--scale`` runs the same script at GPU size (more seeds, longer budgets).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxpg.config import HParams, TrainConfig  # noqa: E402
from jaxpg.analysis.plotting import plot_bands  # noqa: E402
from jaxpg.analysis.stats import band, bootstrap_ratio_ci, mean_ci  # noqa: E402,F401
from jaxpg.config import stack_hparams  # noqa: E402,F401

RESULTS = os.path.join(HERE, "results")
FIGURES = os.path.join(HERE, "figures")


def parse_args(description: str, extra=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--scale", action="store_true", help="GPU-sized run: more seeds, longer budgets")
    p.add_argument("--seeds", type=int, default=None, help="override the number of seeds")
    p.add_argument("--results", default=RESULTS, help="directory for <claim>.json")
    p.add_argument("--figures", default=FIGURES, help="directory for figures")
    if extra:
        extra(p)
    return p.parse_args()


def pick(args, cpu, gpu):
    """CPU-sized value, or the GPU-sized one under ``--scale``."""
    return gpu if args.scale else cpu


def hardware() -> dict:
    from jaxpg.runner.loop import device_description

    return {
        "device": device_description(),
        "jax_version": jax.__version__,
        "note": "2-core CPU shared with other jobs: timings are noisy"
        if jax.devices()[0].platform == "cpu"
        else "",
    }


def train_many(cfg: TrainConfig, hps: Sequence[HParams], seeds: Sequence[int]):
    """Train ``len(hps) x len(seeds)`` agents in one vmapped program.

    Returns ``(final_state, metrics, seconds)``; leaves of ``metrics`` are numpy
    ``[G, S, num_updates]`` (G hparam settings, S seeds), ``final_state`` leaves
    ``[G * S, ...]``. ``seconds`` includes compilation.
    """
    from jaxpg import make_train

    cfg = cfg.validate()
    for hp in hps:
        hp.validate()
    G, S = len(hps), len(seeds)
    hp_b = jax.tree.map(lambda x: jnp.repeat(x, S, axis=0), stack_hparams(hps))
    keys = jnp.tile(jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds)), (G, 1))
    t0 = time.perf_counter()
    state, metrics = jax.jit(jax.vmap(make_train(cfg)))(keys, hp_b)
    metrics = jax.device_get(metrics)
    seconds = time.perf_counter() - t0
    metrics = {k: np.asarray(v).reshape(G, S, -1) for k, v in metrics.items()}
    return state, metrics, seconds


def return_curves(metrics: dict, cfg: TrainConfig, points: int = 25):
    """``(env_steps[P], returns[..., P])``: finished-episode mean return per window of updates."""
    s = metrics["episode_return_sum"]
    c = metrics["episode_count"]
    U = s.shape[-1]
    edges = np.linspace(0, U, min(points, U) + 1).astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        cnt = c[..., a:b].sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(cnt > 0, s[..., a:b].sum(-1) / np.maximum(cnt, 1), np.nan))
    x = edges[1:] * cfg.batch_size
    return x, np.stack(out, -1)


def final_return(metrics: dict, frac: float = 0.2) -> np.ndarray:
    """Mean return of the episodes that finished in the last ``frac`` of updates ``[...]``."""
    U = metrics["episode_count"].shape[-1]
    a = int(U * (1 - frac))
    cnt = metrics["episode_count"][..., a:].sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, metrics["episode_return_sum"][..., a:].sum(-1) / np.maximum(cnt, 1), np.nan)


def write_record(path: str, record: dict) -> str:
    """The one results writer of claims and benchmarks: ``record`` plus the hardware it
    ran on (unless it names another run's machine) and the time it was written, as JSON."""
    from jaxpg.runner.logging import write_json

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    record = dict(record)
    record.setdefault("hardware", hardware())
    record["written"] = time.strftime("%Y-%m-%d %H:%M:%S")
    write_json(path, record)
    print(f"wrote {path}")
    return path


def write_result(args, name: str, result: dict, spec=None) -> str:
    """Write ``results/<name>.json`` for a claim: the spec (``claims.Spec``: claim, source,
    unit, claimed range, rule), the measurement and its verdict (one of
    ``claims.VERDICTS``, or "pending" where there is nothing measured to judge)."""
    import claims

    result = dict(result, **(spec.record() if spec is not None else {}))  # the spec is authoritative
    if result.get("verdict") != "pending":
        claims.check(result.get("verdict"))
    result.setdefault("claim_id", name)
    result.setdefault("scale", "gpu" if args.scale else "cpu")
    print(f"{name}: {result.get('verdict')} -- {result.get('measured_text', '')}")
    return write_record(os.path.join(args.results, f"{name}.json"), result)


def figure_path(args, name: str) -> str:
    os.makedirs(args.figures, exist_ok=True)
    return os.path.join(args.figures, f"{name}.png")


def rel_figure(path: str) -> str:
    """Figure path relative to ``experiments/`` (as REPORT.md links it)."""
    return os.path.relpath(path, HERE)


def plot_curves(path: str, x, groups: dict, title: str, ylabel: str = "episode return", xlabel="env steps"):
    """Mean curve and 95% t band over seeds for each ``{label: curves[S, P]}``."""
    series = [(f"{label} (n={np.asarray(c).shape[0]})", x, *band(np.asarray(c))) for label, c in groups.items()]
    plot_bands(path, series, title, xlabel, ylabel)


def bar_chart(path: str, labels, means, lows, highs, title: str, ylabel: str, log: bool = False):
    """Bars with 95% CI whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means, lows, highs = map(np.asarray, (means, lows, highs))
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(labels) + 2), 4))
    if log:  # a t interval can reach below 0; on a log axis draw it down to a tenth of the mean
        lows = np.maximum(lows, means / 10)
    err = np.stack([means - lows, highs - means])
    ax.bar(range(len(labels)), means, yerr=np.nan_to_num(err), capsize=4, color="tab:blue", alpha=0.8)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def compiled_train(cfg: TrainConfig, hp: HParams, seeds: Sequence[int]):
    """``(run, compile_s)``: ``run()`` executes one setting's vmapped training program over
    ``seeds`` (compiled here, once) and returns its metrics on the host."""
    from jaxpg import make_train

    cfg = cfg.validate()
    S = len(seeds)
    hp_b = jax.tree.map(lambda x: jnp.repeat(x, S, axis=0), stack_hparams([hp]))
    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))
    t0 = time.perf_counter()
    compiled = jax.jit(jax.vmap(make_train(cfg))).lower(keys, hp_b).compile()
    compile_s = time.perf_counter() - t0
    return (lambda: jax.device_get(compiled(keys, hp_b)[1])), compile_s


def timed_train(cfg: TrainConfig, hp: HParams, seeds: Sequence[int], repeats: int = 1):
    """Like :func:`train_many` for one setting, with compile time and run time apart.

    Returns ``(metrics [S, U], compile_s, run_s)``; ``run_s`` is the best of
    ``repeats`` executions of the compiled program (less noise on a shared machine).
    """
    run, compile_s = compiled_train(cfg, hp, seeds)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        metrics = run()
        best = min(best, time.perf_counter() - t0)
    return {k: np.asarray(v) for k, v in metrics.items()}, compile_s, best


def steps_to_threshold(metrics: dict, cfg: TrainConfig, threshold: float, window: int = 5) -> np.ndarray:
    """Env steps until the moving mean return over ``window`` updates first reaches ``threshold``
    (``[...]``; NaN where never)."""
    s, c = metrics["episode_return_sum"], metrics["episode_count"]
    k = np.ones(window)
    ss = np.apply_along_axis(lambda v: np.convolve(v, k, "full")[: v.size], -1, s)
    cc = np.apply_along_axis(lambda v: np.convolve(v, k, "full")[: v.size], -1, c)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(cc > 0, ss / np.maximum(cc, 1), -np.inf)
    hit = r >= threshold
    first = np.argmax(hit, axis=-1).astype(float)
    first[~hit.any(-1)] = np.nan
    return (first + 1) * cfg.batch_size
