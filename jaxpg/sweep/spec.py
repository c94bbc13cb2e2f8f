"""Sweep specifications: ``--grid``, ``--sample`` and ``--static`` flags -> validated settings."""

from __future__ import annotations

import dataclasses
import itertools
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from jaxpg.config import HParams, TrainConfig, parse_int
from jaxpg.errors import ConfigError
from jaxpg.validation import validate

HPARAM_FIELDS = tuple(f.name for f in dataclasses.fields(HParams))
DISTRIBUTIONS = ("uniform", "loguniform")


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
        if not grid[name]:
            raise ConfigError("grid", item, f"no values for {name}: write e.g. --grid {name}=1e-4,3e-4")
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
            return tuple(parse_int(w) for w in text.split("x"))
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
        if not any(v.strip() for v in values.split(",")):
            raise ConfigError("static", item, f"no values for {name}: write e.g. --static {name}=A,B")
        out[name] = tuple(_static_value(name, v.strip(), item) for v in values.split(",") if v.strip())
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


def fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, tuple):
        return "x".join(map(str, v))
    return str(v)


def setting_name(static: dict, swept: dict) -> str:
    parts = [f"{k}={fmt_value(v)}" for k, v in static.items()] + [
        f"{k}={fmt_value(v)}" for k, v in swept.items()
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
        cfg, _ = validate(config.replace(**st))
        for p in points:
            _, hp = validate(cfg, hparams.replace(**p))
            out.append(Setting(st, p, cfg, hp, setting_name(st, p)))
    return out


@dataclass
class SweepResult:
    settings: list[Setting]
    best: Setting
    timings: list[dict]
    seeds: int
    meta: dict = field(default_factory=dict)
    """What ``results.json`` records besides the results (base config, swept values, device)."""
