"""What a PBT run searches and how: the ``--explore`` search space and :class:`PBTConfig`.

The search space uses the grammar of ``jaxpg sweep --sample``
(``FIELD=uniform|loguniform:LOW:HIGH``, any :class:`~jaxpg.config.HParams` field) and
its parser; the initial population is drawn from it, explore resamples from it and
clips to its bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from jaxpg.config import HParams, stack_hparams
from jaxpg.errors import ConfigError
from jaxpg.sweep.spec import Sampler, parse_sample


def parse_explore(items: Sequence[str]) -> dict[str, Sampler]:
    """``["lr=loguniform:1e-5:1e-2"] -> {"lr": Sampler("loguniform", 1e-5, 1e-2)}``
    (the ``--sample`` grammar; errors name ``explore``)."""
    try:
        return parse_sample(items)
    except ConfigError as e:
        raise ConfigError("explore", e.value, e.fix) from None


@dataclass(frozen=True)
class PBTConfig:
    """Static choices of a population-based training run."""

    population: int = 8
    """Members P (>= 2), trained as one vmapped program."""
    interval: int | None = None
    """Updates between ready steps (exploit + explore); None: about 20 ready steps a run."""
    fraction: float = 0.25
    """Truncation selection: the bottom ``fraction`` copies a member of the top ``fraction``."""
    resample_prob: float = 0.25
    """Explore: probability of redrawing a field from its prior instead of perturbing it."""
    perturb: tuple[float, float] = (0.8, 1.25)
    """Explore: a field is multiplied by one of these, at random (then clipped to its bounds)."""
    exploit: bool = True
    """False: the same program without exploit/explore (a random search of P settings)."""

    def interval_for(self, num_updates: int) -> int:
        if self.interval is None:
            return max(1, num_updates // 20)
        return min(self.interval, num_updates)

    def num_replaced(self) -> int:
        """Members replaced at each ready step (at least one)."""
        return max(1, int(round(self.fraction * self.population)))

    def validate(self) -> "PBTConfig":
        if isinstance(self.population, bool) or not isinstance(self.population, int) or self.population < 2:
            raise ConfigError("population", self.population, "must be an integer >= 2 (a population)")
        if self.interval is not None and (not isinstance(self.interval, int) or self.interval < 1):
            raise ConfigError("interval", self.interval, "must be a positive number of updates or None")
        if not isinstance(self.fraction, (int, float)) or not 0 < self.fraction <= 0.5:
            raise ConfigError("fraction", self.fraction, "must be in (0, 0.5]: the bottom and top fractions may not overlap")
        if not isinstance(self.resample_prob, (int, float)) or not 0 <= self.resample_prob <= 1:
            raise ConfigError("resample_prob", self.resample_prob, "must be in [0, 1]")
        if len(self.perturb) != 2 or not all(np.isfinite(f) and f > 0 for f in self.perturb):
            raise ConfigError("perturb", self.perturb, "give two positive factors, e.g. 0.8,1.25")
        return self


def initial_population(base: HParams, space: dict[str, Sampler], population: int, seed: int) -> HParams:
    """``population`` copies of ``base`` with the searched fields drawn from ``space``
    (numpy, seeded by ``seed``): an ``HParams`` of float32 ``[P]`` arrays, each member validated."""
    rng = np.random.default_rng(seed)
    drawn = {name: s.draw(rng, population) for name, s in space.items()}
    members = [base.replace(**{n: float(v[i]) for n, v in drawn.items()}).validate() for i in range(population)]
    return stack_hparams(members)


def bounds(space: dict[str, Sampler]) -> dict[str, tuple[float, float, bool]]:
    """``{field: (low, high, log)}``: what the in-program explore needs (static)."""
    return {n: (s.low, s.high, s.dist == "loguniform") for n, s in space.items()}


def check_space(base: HParams, space: dict[str, Sampler]) -> None:
    """Both bounds of every searched field must be valid values of it (one-line error)."""
    for name, s in space.items():
        for value in (s.low, s.high):
            try:
                base.replace(**{name: value}).validate()
            except ConfigError as e:
                raise ConfigError("explore", f"{name}={s.dist}:{s.low:g}:{s.high:g}", f"a bound is out of range ({e.fix})") from None
