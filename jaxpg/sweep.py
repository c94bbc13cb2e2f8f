"""Sweeps: seeds x hyperparameter settings trained in one compiled program.

A sweep is ``jax.jit(jax.vmap(train))(keys[A], hparams[A])`` over a flat axis of
``A = settings x seeds`` agents, where ``train = make_train(config)``: ``HParams``
are floats, so any of them can differ per agent at no extra compile. Choices in
``TrainConfig`` (``num_envs``, network sizes, ...) change the program, so each
``--static`` value gets its own compile (and is marked ``[static]`` in the table).

* The agent axis is split over all devices (:mod:`jaxpg.sharding`).
* When ``A`` agents would not fit in device memory they run in chunks of at most
  ``max_batch`` agents (a host loop over one compiled chunk program; the last
  chunk is padded so it reuses that program). ``max_batch`` comes from a
  per-agent byte estimate against the device's memory, checked against XLA's own
  ``memory_analysis`` of the compiled chunk and halved until it fits.
* Every setting runs the same seeds (common random numbers), so differences
  between settings are not seed luck.

Outputs (``out_dir``): ``curves.json`` / ``curves.csv`` (mean return per update over
seeds, with a 95% band), ``results.json`` / ``results.md`` (final return: mean,
95% bootstrap CI, IQM, per-seed values), ``best.json`` (the best setting's full
config and hparams, by IQM) and ``curves.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import math
import os
import time
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import tyro

from jaxpg.config import HParams, TrainConfig, parse_int
from jaxpg.flags import parse_flags
from jaxpg.errors import ConfigError, JaxpgError
from jaxpg.sharding import (
    AGENTS,
    initialize_distributed,
    make_mesh,
    pad_to_multiple,
    shard_leading,
    to_host,
)

HPARAM_FIELDS = tuple(f.name for f in dataclasses.fields(HParams))
DISTRIBUTIONS = ("uniform", "loguniform")


# --------------------------------------------------------------------------- specs


def _field_name(raw: str, known: Sequence[str], flag: str) -> str:
    name = raw.strip().replace("-", "_")
    if name not in known:
        raise ConfigError(flag, raw, f"unknown field; use one of {', '.join(known)}")
    return name


def _split_spec(item: str, flag: str) -> tuple[str, str]:
    if "=" not in item or not item.split("=", 1)[1].strip():
        raise ConfigError(flag, item, "write FIELD=VALUE[,VALUE...], e.g. lr=1e-4,3e-4")
    name, values = item.split("=", 1)
    return name, values


def _float(text: str, flag: str, item: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(flag, item, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(flag, item, f"{text!r} is not a finite number")
    return value


def parse_grid(items: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """``["lr=1e-4,3e-4", "clip_eps=0.1,0.2"] -> {"lr": (1e-4, 3e-4), "clip_eps": (0.1, 0.2)}``."""
    grid: dict[str, tuple[float, ...]] = {}
    for item in items:
        name, values = _split_spec(item, "grid")
        name = _field_name(name, HPARAM_FIELDS, "grid")
        if name in grid:
            raise ConfigError("grid", item, f"{name} is given twice; list all its values once")
        grid[name] = tuple(_float(v, "grid", item) for v in values.split(",") if v.strip())
    return grid


@dataclass(frozen=True)
class Sampler:
    """``uniform`` on ``[low, high]`` or ``loguniform`` (uniform in ``log``)."""

    dist: str
    low: float
    high: float

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.dist == "loguniform":
            return np.exp(rng.uniform(np.log(self.low), np.log(self.high), n))
        return rng.uniform(self.low, self.high, n)


def parse_sample(items: Sequence[str]) -> dict[str, Sampler]:
    """``["lr=loguniform:1e-5:1e-2"] -> {"lr": Sampler("loguniform", 1e-5, 1e-2)}``."""
    out: dict[str, Sampler] = {}
    fix = "write FIELD=DIST:LOW:HIGH with DIST uniform or loguniform, e.g. lr=loguniform:1e-5:1e-2"
    for item in items:
        name, spec = _split_spec(item, "sample")
        name = _field_name(name, HPARAM_FIELDS, "sample")
        parts = spec.split(":")
        if len(parts) != 3 or parts[0] not in DISTRIBUTIONS:
            raise ConfigError("sample", item, fix)
        low, high = (_float(p, "sample", item) for p in parts[1:])
        if not low < high or (parts[0] == "loguniform" and low <= 0):
            raise ConfigError("sample", item, "need LOW < HIGH (and LOW > 0 for loguniform)")
        if name in out:
            raise ConfigError("sample", item, f"{name} is given twice")
        out[name] = Sampler(parts[0], low, high)
    return out


def _static_value(name: str, text: str, item: str):
    """Parse ``text`` as the type of ``TrainConfig.<name>`` (tuples of ints as ``64x64``)."""
    hint = typing.get_type_hints(TrainConfig)[name]
    base = hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None
        if text.lower() == "none":
            return None
        base = next(a for a in typing.get_args(hint) if a is not type(None))
    try:
        if typing.get_origin(base) is tuple or base is tuple:
            return tuple(int(w) for w in text.split("x"))
        if base is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError
            return text.lower() == "true"
        if base is int:
            return parse_int(text)
        if base is float:
            return float(text)
        return text
    except ValueError:
        raise ConfigError("static", item, f"{text!r} is not a valid {name}") from None


def parse_static(items: Sequence[str]) -> dict[str, tuple]:
    """``["num_envs=4,16", "hidden_sizes=32x32,64x64"]`` -> values per TrainConfig field."""
    known = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("algo", "env"))
    out: dict[str, tuple] = {}
    for item in items:
        name, values = _split_spec(item, "static")
        name = _field_name(name, known, "static")
        if name in out:
            raise ConfigError("static", item, f"{name} is given twice")
        out[name] = tuple(_static_value(name, v.strip(), item) for v in values.split(","))
    return out


def hparam_settings(
    grid: dict[str, tuple[float, ...]],
    samples: dict[str, Sampler],
    num_samples: int,
    sample_seed: int = 0,
) -> list[dict[str, float]]:
    """The swept hparam values of every setting: grid product x random samples."""
    names = list(grid)
    points = [dict(zip(names, values)) for values in itertools.product(*grid.values())]
    if not samples:
        return points
    if num_samples < 1:
        raise ConfigError("num_samples", num_samples, "must be >= 1 when --sample is given")
    rng = np.random.default_rng(sample_seed)
    drawn = {name: s.draw(rng, num_samples) for name, s in samples.items()}
    sampled = [{n: float(v[i]) for n, v in drawn.items()} for i in range(num_samples)]
    return [{**p, **s} for p in points for s in sampled]


def static_settings(static: dict[str, tuple]) -> list[dict]:
    names = list(static)
    return [dict(zip(names, values)) for values in itertools.product(*static.values())]


def stack_hparams(hparams: Sequence[HParams]) -> HParams:
    """``[HParams] * A -> HParams`` of float32 ``[A]`` arrays (a vmappable batch)."""
    return jax.tree.map(lambda *xs: np.asarray(xs, np.float32), *hparams)


# -------------------------------------------------------------------------- memory


def device_memory_budget(fraction: float = 0.6) -> int:
    """Bytes we allow one compiled chunk: ``fraction`` of the first device's memory.

    Accelerators report ``bytes_limit``; on CPU we use the host's physical memory.
    """
    stats = None
    try:
        stats = jax.local_devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - CPU backends may not implement it
        stats = None
    if stats and stats.get("bytes_limit"):
        total = int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    else:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    return int(total * fraction)


def estimate_agent_bytes(config: TrainConfig, train) -> int:
    """Rough peak bytes of one agent: train state + metrics + a few copies of a rollout.

    The rollout buffer ``[T, B]`` of (obs, next obs, normalized obs, action, 8
    scalars) is what grows with ``num_envs * num_steps``; PPO holds it, its flat
    shuffled copy and per-minibatch activations, hence the factor 4.
    """
    shapes = jax.eval_shape(train, jax.random.PRNGKey(0), HParams().as_arrays())
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(shapes))
    from jaxpg.train import make_context

    ctx = make_context(config)
    act = ctx.env.action_space
    act_size = 1 if act.is_discrete else act.size
    per_step = 4 * (4 * ctx.env.obs_size + act_size + 8)
    return int(3 * state_bytes + 4 * config.batch_size * per_step)


def compiled_bytes(compiled) -> int | None:
    """Peak bytes XLA reports for a compiled program (None when it cannot say)."""
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001
        return None
    if m is None:
        return None
    return int(
        m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
        - getattr(m, "alias_size_in_bytes", 0)
    )


# --------------------------------------------------------------------------- running


@dataclass
class BatchResult:
    """Per-agent metrics ``[A, num_updates]`` (numpy) and how they were computed."""

    metrics: dict[str, np.ndarray]
    compile_time_s: float
    run_time_s: float
    chunk_size: int
    num_chunks: int
    compiled_bytes: int | None
    devices: int


def run_agents(
    config: TrainConfig,
    keys: jax.Array,
    hparams: HParams,
    max_batch: int | None = None,
    devices: list | None = None,
    log=None,
) -> BatchResult:
    """Train ``A`` agents (``keys[A]``, ``hparams[A]``) of one static config.

    Agents run in chunks of at most ``max_batch`` (None: from the memory
    estimate), each chunk sharded over ``devices`` (default all). Only the
    per-update metrics come back; final states are dropped to save memory.
    """
    from jaxpg.train import make_train

    log = log or (lambda msg: None)
    train = make_train(config)
    num_agents = int(keys.shape[0])
    mesh = make_mesh(AGENTS, devices)
    ndev = mesh.size
    budget = device_memory_budget()
    if max_batch is None:
        per_agent = estimate_agent_bytes(config, train)
        max_batch = max(1, budget // max(per_agent, 1))
        auto = True
    else:
        if max_batch < 1:
            raise ConfigError("max_batch", max_batch, "must be >= 1")
        auto = False
    # A chunk holds a multiple of the device count so every device gets equal work.
    chunk = pad_to_multiple(min(num_agents, max_batch), ndev)

    fn = jax.jit(jax.vmap(lambda k, h: train(k, h)[1]))
    hp = jax.tree.map(np.asarray, hparams)
    keys = np.asarray(jax.random.key_data(keys)) if jnp.issubdtype(keys.dtype, jax.dtypes.prng_key) else np.asarray(keys)

    def take(idx):
        return keys[idx], jax.tree.map(lambda x: x[idx], hp)

    t0 = time.perf_counter()
    while True:
        k0, h0 = take(np.zeros(chunk, int))
        compiled = fn.lower(shard_leading(k0, mesh), shard_leading(h0, mesh)).compile()
        used = compiled_bytes(compiled)
        if not auto or used is None or used <= budget or chunk <= ndev:
            break
        log(f"chunk of {chunk} agents needs {used / 2**30:.2f} GiB > {budget / 2**30:.2f} GiB; halving")
        chunk = pad_to_multiple(max(chunk // 2, 1), ndev)
    compile_time = time.perf_counter() - t0

    n_chunks = -(-num_agents // chunk)
    outs = []
    t0 = time.perf_counter()
    for i in range(n_chunks):
        # Pad the last chunk with copies of the final agent so it reuses the program.
        idx = np.minimum(np.arange(i * chunk, (i + 1) * chunk), num_agents - 1)
        k, h = take(idx)
        tc = time.perf_counter()
        out = to_host(compiled(shard_leading(k, mesh), shard_leading(h, mesh)))
        n_real = min(chunk, num_agents - i * chunk)
        outs.append(jax.tree.map(lambda x: np.asarray(x)[:n_real], out))
        if n_chunks > 1:
            log(f"chunk {i + 1}/{n_chunks}: {n_real} agents in {time.perf_counter() - tc:.1f} s")
    run_time = time.perf_counter() - t0
    metrics = {name: np.concatenate([o[name] for o in outs]) for name in outs[0]}
    return BatchResult(metrics, compile_time, run_time, chunk, n_chunks, used, ndev)


# ------------------------------------------------------------------------ statistics


def agent_curves(metrics: dict[str, np.ndarray]) -> np.ndarray:
    """Per-agent mean return of the episodes finished in each update ``[A, U]``.

    NaN until an agent's first episode ends; an update in which none ended keeps
    the previous value (forward fill), so a curve is defined once it starts.
    """
    total = np.asarray(metrics["episode_return_sum"], np.float64)
    count = np.asarray(metrics["episode_count"], np.float64)
    ret = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    out = np.empty_like(ret)
    last = np.full(ret.shape[0], np.nan)
    for u in range(ret.shape[1]):
        last = np.where(np.isnan(ret[:, u]), last, ret[:, u])
        out[:, u] = last
    return out


def final_returns(metrics: dict[str, np.ndarray], window: float = 0.1) -> np.ndarray:
    """Per-agent mean return of episodes finished in the last ``window`` of updates ``[A]``."""
    total = np.asarray(metrics["episode_return_sum"], np.float64)
    count = np.asarray(metrics["episode_count"], np.float64)
    k = max(1, int(round(window * total.shape[1])))
    t, c = total[:, -k:].sum(1), count[:, -k:].sum(1)
    return np.where(c > 0, t / np.maximum(c, 1), np.nan)


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


def summarize(finals: np.ndarray) -> dict:
    lo, hi = bootstrap_ci(finals)
    finite = finals[np.isfinite(finals)]
    return {
        "mean": float(finite.mean()) if finite.size else float("nan"),
        "ci95": [lo, hi],
        "iqm": iqm(finals),
        "per_seed": [float(v) for v in finals],
    }


# --------------------------------------------------------------------------- sweep


@dataclass
class Setting:
    """One row of the results table: a static choice and a point in hparam space."""

    static: dict
    swept: dict[str, float]
    config: TrainConfig
    hparams: HParams
    name: str = ""
    final: dict = field(default_factory=dict)
    curve: dict = field(default_factory=dict)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, tuple):
        return "x".join(map(str, v))
    return str(v)


def setting_name(static: dict, swept: dict) -> str:
    parts = [f"{k}={_fmt(v)}" for k, v in static.items()] + [
        f"{k}={_fmt(v)}" for k, v in swept.items()
    ]
    return " ".join(parts) or "base"


def build_settings(
    config: TrainConfig,
    hparams: HParams,
    grid: dict,
    samples: dict,
    num_samples: int,
    static: dict,
    sample_seed: int = 0,
) -> list[Setting]:
    """Every (static, hparams) setting, each validated before anything compiles."""
    points = hparam_settings(grid, samples, num_samples, sample_seed)
    out = []
    for st in static_settings(static):
        cfg = config.replace(**st).validate()
        for p in points:
            hp = hparams.replace(**p).validate()
            out.append(Setting(st, p, cfg, hp, setting_name(st, p)))
    return out


@dataclass
class SweepResult:
    settings: list[Setting]
    best: Setting
    timings: list[dict]
    seeds: int


def run_sweep(
    settings: list[Setting],
    seeds: int,
    first_seed: int = 0,
    max_batch: int | None = None,
    devices: list | None = None,
    log=print,
) -> SweepResult:
    """Train every setting on seeds ``first_seed .. first_seed + seeds - 1``.

    Settings that share a static config run as one batch of agents (one compile).
    """
    if seeds < 1:
        raise ConfigError("seeds", seeds, "must be >= 1")
    groups: dict[TrainConfig, list[Setting]] = {}
    for s in settings:
        groups.setdefault(s.config, []).append(s)
    seed_keys = jnp.stack([jax.random.PRNGKey(first_seed + i) for i in range(seeds)])
    timings = []
    for config, group in groups.items():
        hp = stack_hparams([s.hparams for s in group for _ in range(seeds)])
        keys = jnp.tile(seed_keys, (len(group), 1))
        label = ", ".join(f"{k}={_fmt(v)}" for k, v in group[0].static.items()) or "base config"
        log(
            f"{label}: {len(group)} setting(s) x {seeds} seed(s) = {len(group) * seeds} agents, "
            f"{config.num_updates} updates of {config.batch_size} steps"
        )
        res = run_agents(config, keys, hp, max_batch, devices, log)
        steps = len(group) * seeds * config.num_updates * config.batch_size
        timing = {
            "static": group[0].static,
            "agents": len(group) * seeds,
            "compile_time_s": res.compile_time_s,
            "run_time_s": res.run_time_s,
            "steps_per_s": steps / max(res.run_time_s, 1e-9),
            "chunk_size": res.chunk_size,
            "num_chunks": res.num_chunks,
            "compiled_bytes": res.compiled_bytes,
            "devices": res.devices,
        }
        timings.append(timing)
        log(
            f"  compile {res.compile_time_s:.1f} s, run {res.run_time_s:.1f} s "
            f"({timing['steps_per_s']:,.0f} env steps/s over {res.devices} device(s), "
            f"{res.num_chunks} chunk(s) of {res.chunk_size})"
        )
        curves = agent_curves(res.metrics)
        finals = final_returns(res.metrics)
        env_steps = (np.arange(config.num_updates) + 1) * config.batch_size
        for i, s in enumerate(group):
            c = curves[i * seeds : (i + 1) * seeds]
            s.final = summarize(finals[i * seeds : (i + 1) * seeds])
            s.curve = curve_stats(env_steps, c)
    best = max(settings, key=lambda s: _nan_low(s.final["iqm"]))
    return SweepResult(settings, best, timings, seeds)


def _nan_low(x: float) -> float:
    return -math.inf if not math.isfinite(x) else x


def curve_stats(env_steps: np.ndarray, curves: np.ndarray) -> dict:
    """Mean over seeds per update with a normal 95% band (``1.96`` standard errors)."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            n = np.sum(np.isfinite(curves), 0)
            mean = np.nanmean(curves, 0)
            sd = np.nanstd(curves, 0, ddof=1) if curves.shape[0] > 1 else np.zeros_like(mean)
    half = np.where(n > 1, 1.96 * sd / np.sqrt(np.maximum(n, 1)), 0.0)
    return {
        "env_steps": env_steps.tolist(),
        "mean": mean.tolist(),
        "low": (mean - half).tolist(),
        "high": (mean + half).tolist(),
    }


# -------------------------------------------------------------------------- outputs


def results_table_rows(result: SweepResult) -> list[list[str]]:
    rows = []
    for s in result.settings:
        f = s.final
        lo, hi = f["ci95"]
        static = " ".join(f"{k}={_fmt(v)}" for k, v in s.static.items())
        rows.append(
            [
                (static + " [static]") if static else "-",
                " ".join(f"{k}={_fmt(v)}" for k, v in s.swept.items()) or "-",
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
    from jaxpg.logging import write_json

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
        st = " ".join(f"{k}={_fmt(v)}" for k, v in t["static"].items()) or "-"
        lines.append(
            f"| {st} | {t['agents']} | {t['compile_time_s']:.1f} | {t['run_time_s']:.1f} "
            f"| {t['steps_per_s']:,.0f} | {t['num_chunks']} x {t['chunk_size']} |"
        )
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if plot:
        plot_curves(result, os.path.join(out_dir, "curves.png"), meta.get("env", ""))


def plot_curves(result: SweepResult, path: str, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in result.settings:
        c = s.curve
        x = np.asarray(c["env_steps"])
        lw = 2.5 if s is result.best else 1.2
        (line,) = ax.plot(x, np.asarray(c["mean"], float), lw=lw, label=s.name)
        ax.fill_between(x, np.asarray(c["low"], float), np.asarray(c["high"], float),
                        color=line.get_color(), alpha=0.2)  # fmt: skip
    ax.set_xlabel("env steps (per agent)")
    ax.set_ylabel(f"episode return (mean over {result.seeds} seeds, 95% band)")
    ax.set_title(title)
    if len(result.settings) <= 12:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------------ CLI


@dataclass
class SweepArgs:
    """Train seeds x hyperparameter settings in one compiled program per static choice."""

    config: Annotated[TrainConfig, tyro.conf.OmitArgPrefixes]
    hparams: Annotated[HParams, tyro.conf.OmitArgPrefixes]
    seeds: int = 8
    """Seeds per setting (the same seeds for every setting)."""
    seed: int = 0
    """First seed; seeds are seed .. seed + seeds - 1."""
    grid: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """Grid over an HParams field, repeatable: --grid lr=1e-4,3e-4 --grid clip_eps=0.1,0.2."""
    sample: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """Random values of an HParams field, repeatable: --sample lr=loguniform:1e-5:1e-2 (or uniform)."""
    num_samples: int = 8
    """How many random draws when --sample is given (crossed with --grid)."""
    sample_seed: int = 0
    """Seed of the --sample draws."""
    static: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """A TrainConfig field swept by separate compiles, repeatable: --static num_envs=4,16."""
    max_batch: int | None = None
    """Most agents per compiled chunk; None: from device memory."""
    out: str | None = None
    """Output directory; default runs/sweep-<algo>-<env>-<time>."""
    no_plot: bool = False
    """Skip curves.png."""


def cli_main(argv: list[str]) -> int:
    """``jaxpg sweep``: parse flags, build and validate every setting, run, write outputs."""
    from jaxpg.cli import _preparse
    from jaxpg.envs import check_env_name
    from jaxpg.presets import preset
    from jaxpg.train import device_description

    initialize_distributed()  # multi-host when JAXPG_COORDINATOR etc. are set; else nothing
    algo, env = _preparse(argv)
    check_env_name(env)
    config, hparams = preset(algo, env)
    default = SweepArgs(config=config, hparams=hparams)
    args = parse_flags(SweepArgs, argv, "jaxpg sweep", default)
    grid = parse_grid(args.grid)
    samples = parse_sample(args.sample)
    both = set(grid) & set(samples)
    if both:
        raise ConfigError("sample", sorted(both)[0], "a field is either --grid or --sample, not both")
    static = parse_static(args.static)
    if args.max_batch is not None and args.max_batch < 1:
        raise ConfigError("max_batch", args.max_batch, "must be >= 1")
    settings = build_settings(
        args.config.validate(), args.hparams.validate(), grid, samples, args.num_samples, static,
        args.sample_seed,
    )  # fmt: skip
    out = args.out or os.path.join(
        "runs", f"sweep-{args.config.algo}-{args.config.env.replace('/', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    print(
        f"jaxpg sweep: {args.config.algo} on {args.config.env}, {len(settings)} setting(s) x "
        f"{args.seeds} seed(s) on {jax.device_count()} device(s), writing {out}"
    )
    result = run_sweep(settings, args.seeds, args.seed, args.max_batch)
    meta = {
        "algo": args.config.algo,
        "env": args.config.env,
        "base_config": args.config.to_dict(),
        "base_hparams": args.hparams.to_dict(),
        "grid": grid,
        "sample": {k: dataclasses.asdict(v) for k, v in samples.items()},
        "num_samples": args.num_samples if samples else 0,
        "static": static,
        "device": device_description(),
        "jax_version": jax.__version__,
    }
    write_outputs(result, out, meta, plot=not args.no_plot)
    print_table(result)
    print(f"best (by IQM): {result.best.name}; wrote {out}/results.md")
    return 0


__all__ = [
    "JaxpgError",
    "parse_grid",
    "parse_sample",
    "parse_static",
    "run_agents",
    "run_sweep",
    "build_settings",
]
