"""The GPU suite's scales as typed values: one frozen dataclass per part.

``gpu_suite.py`` builds two :class:`Scale` values (``FULL`` for a device, ``SMOKE``
for the CPU) and hands each part its own field. Where a scale changes a training
configuration it says so with a function ``TrainConfig -> TrainConfig`` (a
:data:`Tweak`, e.g. ``lambda c: c.replace(num_envs=16)``), applied to the preset or
setting the part builds, so a misspelled field fails where the scale is written, and
no part reads a dict of field names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from experiments.bench_brax import Setting
from jaxpg.config import TrainConfig

Tweak = Callable[[TrainConfig], TrainConfig]
"""What a scale changes in a configuration (identity: nothing)."""


def unchanged(config: TrainConfig) -> TrainConfig:
    return config


@dataclass(frozen=True)
class Ceiling:
    """Env-only steps/s: ``num_envs`` envs x ``steps`` random-action steps."""

    env: str
    num_envs: int
    steps: int


@dataclass(frozen=True)
class HalfcheetahScale:
    """Parts ``halfcheetah_ppo``, ``halfcheetah_preset``, ``memory`` (and ``cold_warm``'s targets)."""

    setting: Setting
    """bench_brax's setting: jaxpg's and Brax's PPO train it."""
    stretch_steps: int
    """Steps both trainers run for the steady steps/s."""
    chunk_updates: int
    max_steps: int
    ours_cap_s: float
    """Seconds of training after the stretch before ours stops short of the target."""
    brax_min_s: float
    """Budget Brax's trainer needs to be worth starting."""
    brax_evals: int
    targets: tuple[float, ...]
    memory_chunks: int
    """Chunks before the first memory sample (the second after 3x as many)."""
    preset: Tweak = unchanged
    """What the scale changes in the preset ``halfcheetah_preset`` trains."""


@dataclass(frozen=True)
class AgentsScale:
    """Part ``cartpole_agents``: ``agents`` CartPole PPO agents x ``agent_steps`` steps."""

    agents: int
    agent_steps: int
    config: Tweak = unchanged
    """Applied after 16 envs x 128 steps and the budget are set."""


@dataclass(frozen=True)
class PBTScale:
    """Part ``pbt_population``."""

    env: str
    population: int
    steps: int
    interval: int | None
    explore: tuple[str, ...]
    """The search space in ``jaxpg pbt --explore`` grammar."""
    config: Tweak = unchanged


@dataclass(frozen=True)
class ProfileScale:
    """Part ``profile`` (``profile_update.profile_all``'s arguments)."""

    env: str
    algos: tuple[str, ...]
    algos_env: str
    smoke: bool = False
    reserve_s: float = 0.0
    """Seconds kept back for the parts after it (spinningup)."""


@dataclass(frozen=True)
class PublishedRun:
    """One ``brax_presets`` run: the preset toward its reference returns."""

    targets: tuple[float, ...]
    cap_s: float
    eval_envs: int
    reference: str
    chunk_updates: int | None = None
    """None: the halfcheetah scale's."""


@dataclass(frozen=True)
class BraxPresetsScale:
    """Part ``brax_presets``: env -> its run."""

    runs: Mapping[str, PublishedRun]
    preset: Tweak = unchanged
    """What the scale changes in each preset."""


@dataclass(frozen=True)
class CraftaxScale:
    num_envs: int
    chunk_updates: int
    max_steps: int


@dataclass(frozen=True)
class PolicyPathsScale:
    """Part ``policy_paths``: (path, envs) cases on ``env``."""

    env: str
    cases: tuple[tuple[str, int], ...]
    num_steps: int
    epochs: int
    minibatches: int
    hidden: int
    chunk_updates: int
    chunks: int


@dataclass(frozen=True)
class MultiDeviceScale:
    """Part ``multi_device``: one run's envs on 1 device and on all N."""

    env: str
    num_envs: int
    num_steps: int
    chunk_updates: int
    chunks: int
    algo: str = "ppo"
    config: Tweak = unchanged


@dataclass(frozen=True)
class Scale:
    """Every part's scale (``FULL`` or ``SMOKE`` in ``gpu_suite.py``)."""

    ceilings: tuple[Ceiling, ...]
    halfcheetah: HalfcheetahScale
    agents: AgentsScale
    pbt: PBTScale
    profile: ProfileScale
    brax_presets: BraxPresetsScale
    policy_paths: PolicyPathsScale
    multi_device: MultiDeviceScale
    cold_warm: Mapping[str, tuple[str, ...]]
    """Case name -> ``jaxpg`` command line."""
    craftax: CraftaxScale | None = None
    """None: skipped (the smoke run: Craftax's world generation compiles for minutes on a CPU)."""
    spinningup_smoke: bool = False
