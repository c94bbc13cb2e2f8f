"""Per-(algorithm, environment) defaults: what `jaxpg train --algo A --env X` starts from.

Every preset is a typed value, a :class:`Preset` of a ``TrainConfig`` and an
``HParams``. An env's preset holds settings known to learn it with PPO
(``ENV_PRESETS``, and per family: ``brax/``, ``playground/``); each other algorithm
changes some of them (``a2c_preset`` ...). ``PRESETS`` holds every (algo, env)
combination, resolved once at import, so a misspelt field fails there and nothing
downstream handles field names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from jaxpg.config import ALGOS, HParams, TrainConfig


class Preset(NamedTuple):
    """The static config and the hyperparameters of one preset.

    A named tuple, so ``config, hparams = preset(algo, env)`` unpacks it.
    """

    config: TrainConfig
    hparams: HParams


# Brax PPO's published halfcheetah setting: 2048 envs, unroll 20 x 8 sequential
# unrolls per update (= 160 steps), 32 minibatches, 8 epochs, gamma 0.95.
BRAX_PPO = TrainConfig(
    num_envs=2048,
    num_steps=160,
    num_minibatches=32,
    update_epochs=8,
    total_timesteps=50_000_000,
    hidden_sizes=(32, 32, 32, 32),
    critic_hidden_sizes=(256, 256, 256, 256, 256),
    activation="swish",
    normalize_obs=True,
    anneal_lr=False,
    clip_value=False,
    episode_length=1000,
    # Brax's policy: tanh-squashed Gaussian, std = softplus(raw) + 0.001 from the network
    # (initial std softplus(0) + 0.001 = 0.694).
    policy="tanh-gaussian",
    state_dependent_std=True,
    min_std=1e-3,
    log_std_init=-0.3651,
)
BRAX_HPARAMS = HParams(
    lr=3e-4, critic_lr=3e-4, gamma=0.95, gae_lambda=0.95, ent_coef=1e-3, ent_coef_final=1e-3,
    max_grad_norm=1.0, clip_eps=0.3,
)  # fmt: skip

ENV_PRESETS: dict[str, Preset] = {
    "CartPole-v1": Preset(TrainConfig(total_timesteps=1_000_000), HParams()),
    "Pendulum-v1": Preset(
        TrainConfig(
            total_timesteps=1_000_000,
            num_envs=16,
            num_steps=128,
            num_minibatches=32,
            update_epochs=10,
            normalize_obs=True,
            clip_value=False,
        ),
        HParams(lr=1e-3, critic_lr=1e-3, gamma=0.95, gae_lambda=0.95, ent_coef=0.0, ent_coef_final=0.0,
             reward_scale=0.1),
    ),  # fmt: skip
    # From rejax's tuned PPO setting for gymnax MountainCarContinuous-v0 (5 envs x 100
    # steps, 10 epochs of 10 minibatches, relu, max grad norm 10), which stood still
    # (return 0) in 16 of 16 of our seeds. Changed after sweeps on 4 seeds each: gamma
    # 0.99 (0.9 hides the +100 flag beyond ~10 steps), observation normalization, and
    # *no* advantage whitening: whitening blows the per-step action cost of batches that
    # never reach the flag up to unit scale, which collapses the std before the rare
    # flag-reaching episodes can teach anything; and an entropy bonus decaying linearly
    # from 0.05 to 0, which keeps the std up while the flag is still being found
    # (constant 0: 1 of 8 seeds reached it). Deterministic eval > 90 at 3e5 steps: 3 of 8
    # seeds; at 6e5: 6 of 8; at 1e6 (the schedule spread over them) 7 of 8 (the 8th: 87.9,
    # also at the flag); gamma 0.999 instead: 0 of 8 (README, experiments/preset_checks.py).
    "MountainCarContinuous-v0": Preset(
        TrainConfig(total_timesteps=1_000_000, num_envs=5, num_steps=100, update_epochs=10,
             num_minibatches=10, activation="relu", anneal_lr=False, normalize_obs=True,
             normalize_advantages=False, ent_schedule="linear"),
        HParams(lr=3e-4, critic_lr=3e-4, gamma=0.99, gae_lambda=0.95, clip_eps=0.2, ent_coef=0.05,
             ent_coef_final=0.0, vf_coef=0.5, max_grad_norm=10.0),
    ),
    # rejax's tuned PPO setting for gymnax Acrobot-v1, with twice its 100k-step budget.
    "Acrobot-v1": Preset(
        TrainConfig(total_timesteps=200_000, num_envs=5, num_steps=100, update_epochs=5,
             num_minibatches=5, normalize_obs=True),
        HParams(lr=7.5e-4, critic_lr=7.5e-4, gamma=0.99, gae_lambda=0.95, ent_coef=0.01,
             ent_coef_final=0.01, max_grad_norm=0.5),
    ),
    # Uniform random actions never reach MountainCar-v0's goal within its 200 steps, so
    # the policy starts instead as a random *function of the state*: the last layer's
    # init gain 1 (not 0.01) over normalized observations. Some such functions pump
    # energy (push along the velocity) and find the goal; whitened advantages then
    # sharpen them. With gain 0.01 every seed stays at -200. Swept on 8 seeds (README):
    # 32 envs x 64 steps, lr 1e-3, entropy 0.01 learned in 8 of 8 (eval -107 .. -118).
    "MountainCar-v0": Preset(
        TrainConfig(total_timesteps=1_000_000, num_envs=32, num_steps=64, update_epochs=4,
             num_minibatches=4, normalize_obs=True, actor_out_scale=1.0),
        HParams(lr=1e-3, critic_lr=1e-3, gamma=0.99, gae_lambda=0.98, ent_coef=0.01,
             ent_coef_final=0.01),
    ),
    "brax/inverted_pendulum": Preset(
        BRAX_PPO.replace(num_envs=256, num_steps=32, num_minibatches=8, update_epochs=4,
             total_timesteps=300_000, episode_length=1000),
        BRAX_HPARAMS.replace(gamma=0.99),
    ),  # fmt: skip
}
# PureJaxRL's published MinAtar PPO setting (examples/brax_minatar.ipynb): 64 envs x 128
# steps, 8 minibatches, 4 epochs, lr 5e-3 annealed, relu 64x64, entropy 0.01, 1e7 steps.
MINATAR_PPO = Preset(
    TrainConfig(total_timesteps=10_000_000, num_envs=64, num_steps=128, update_epochs=4,
         num_minibatches=8, activation="relu", anneal_lr=True),
    HParams(lr=5e-3, critic_lr=5e-3, gamma=0.99, gae_lambda=0.95, clip_eps=0.2, ent_coef=0.01,
         ent_coef_final=0.01, vf_coef=0.5, max_grad_norm=0.5),
)
for _name in ("Breakout", "Asterix", "Freeway", "SpaceInvaders"):
    ENV_PRESETS[f"{_name}-MinAtar"] = MINATAR_PPO
for _name in ("halfcheetah", "ant", "hopper", "walker2d", "humanoid"):
    ENV_PRESETS[f"brax/{_name}"] = Preset(BRAX_PPO, BRAX_HPARAMS)
# Brax's per-env PPO settings (its training notebook): reward scaling matters most.
# ant: 4096 envs x (5-step unroll x 16 unrolls), 4 epochs, entropy 1e-2, rewards x10.
ENV_PRESETS["brax/ant"] = Preset(
    BRAX_PPO.replace(num_envs=4096, num_steps=80, update_epochs=4),
    BRAX_HPARAMS.replace(gamma=0.97, ent_coef=1e-2, ent_coef_final=1e-2, reward_scale=10.0),
)
# humanoid: rewards x0.1 (its per-step alive bonus makes returns large).
ENV_PRESETS["brax/humanoid"] = Preset(BRAX_PPO, BRAX_HPARAMS.replace(gamma=0.97, reward_scale=0.1))
# hopper / walker2d: Brax tunes SAC for these; PPO with the halfcheetah setting and a
# long horizon (falling ends the episode, so the value must see far ahead).
ENV_PRESETS["brax/hopper"] = Preset(BRAX_PPO, BRAX_HPARAMS.replace(gamma=0.997))
ENV_PRESETS["brax/walker2d"] = Preset(BRAX_PPO, BRAX_HPARAMS.replace(gamma=0.997))

# Env suites (docs/suites.md): CPU-scale PPO settings, each checked to learn above a
# random policy by experiments/suite_checks.py (the slow tests in tests/test_suites_slow.py).
# Kinetix has none: kinetix-env cannot be installed beside our jax. Jumanji Maze-v0 (a
# masked task) has none yet: Snake's setting did not learn it in 3e5 steps (docs/suites.md).
_SUITE_HP = HParams(lr=1e-3, critic_lr=1e-3, gamma=0.99, ent_coef=0.01)
ENV_PRESETS["craftax/Craftax-Classic-Symbolic-v1"] = Preset(
    TrainConfig(num_envs=64, num_steps=64, total_timesteps=500_000, update_epochs=4,
         num_minibatches=8, hidden_sizes=(256, 256), activation="relu"),
    HParams(lr=3e-4, critic_lr=3e-4, ent_coef=0.01, gamma=0.99, gae_lambda=0.8),
)  # fmt: skip
ENV_PRESETS["jumanji/Snake-v1"] = Preset(
    TrainConfig(num_envs=64, num_steps=32, total_timesteps=500_000, update_epochs=4,
         num_minibatches=4, hidden_sizes=(128, 128), activation="relu"), _SUITE_HP,
)  # fmt: skip
for _name in ("xminigrid/MiniGrid-Empty-8x8", "navix/Navix-Empty-8x8-v0"):
    ENV_PRESETS[_name] = Preset(
        TrainConfig(num_envs=32, num_steps=64, total_timesteps=300_000, update_epochs=4,
             num_minibatches=4, hidden_sizes=(64, 64), activation="tanh"), _SUITE_HP,
    )  # fmt: skip

# MuJoCo Playground's PPO setting for the DM Control Suite (its dm_control_suite_params):
# 2048 envs x 30-step unrolls, 32 minibatches, 16 epochs, gamma 0.995, lr 1e-3, entropy
# 1e-2, rewards x10, observation normalization, Brax's networks and tanh-Gaussian policy.
PLAYGROUND_PPO = Preset(
    BRAX_PPO.replace(num_envs=2048, num_steps=30, num_minibatches=32, update_epochs=16,
         total_timesteps=60_000_000, episode_length=None),
    BRAX_HPARAMS.replace(lr=1e-3, critic_lr=1e-3, gamma=0.995, ent_coef=1e-2, ent_coef_final=1e-2,
         reward_scale=10.0, clip_eps=0.3),
)  # fmt: skip

FAMILY_PRESETS: dict[str, Preset] = {
    "brax/": Preset(BRAX_PPO, BRAX_HPARAMS),
    "playground/": PLAYGROUND_PPO,
}
"""By name prefix: the preset of a family's env without one of its own."""
GENERIC = Preset(TrainConfig(), HParams())
"""Envs without a preset of their own or of their family: jaxpg's defaults."""


# Each algorithm's changes to an env's (PPO) preset; ``env`` is the env's name, its
# family's prefix or "*" for the generic defaults. Budgets are those verified to learn
# (see tests/test_algos.py and the issue note).
def ppo_preset(env: str, base: Preset) -> Preset:
    """The env presets are PPO's."""
    del env
    return base


def reinforce_preset(env: str, base: Preset) -> Preset:
    """One complete episode per env per update (num_steps = CartPole's time limit)."""
    del env
    config = base.config.replace(
        num_envs=16, num_steps=500, update_epochs=5, num_minibatches=4,
        total_timesteps=16 * 500 * 150, baseline="value", anneal_lr=False,
    )  # fmt: skip
    hparams = base.hparams.replace(
        lr=5e-3, critic_lr=1e-3, gamma=0.99, ent_coef=0.0, ent_coef_final=0.0, max_grad_norm=1.0
    )
    return Preset(config, hparams)


def a2c_preset(env: str, base: Preset) -> Preset:
    """One gradient step on the whole batch: no epochs, no minibatches (an env preset's
    PPO minibatch count need not divide A2C's smaller batch)."""
    if env == "Pendulum-v1":
        config = base.config.replace(
            num_envs=32, num_steps=8, total_timesteps=1_500_000, num_minibatches=1,
            update_epochs=1, normalize_obs=True, log_std_init=-0.5,
        )  # fmt: skip
        hparams = base.hparams.replace(
            lr=2e-3, critic_lr=6e-3, gae_lambda=0.95, ent_coef=0.0, ent_coef_final=0.0,
            max_grad_norm=0.5,
        )  # fmt: skip
        return Preset(config, hparams)
    config = base.config.replace(
        num_envs=16, num_steps=16, total_timesteps=500_000, num_minibatches=1, update_epochs=1
    )
    hparams = base.hparams.replace(
        lr=1e-3, critic_lr=3e-3, gae_lambda=1.0, ent_coef=0.01, ent_coef_final=0.01,
        max_grad_norm=0.5,
    )  # fmt: skip
    return Preset(config, hparams)


def npg_preset(env: str, base: Preset) -> Preset:
    """Long rollouts for a natural step; the critic fitted by Adam epochs."""
    del env
    config = base.config.replace(
        num_envs=8, num_steps=512, update_epochs=5, num_minibatches=8,
        total_timesteps=500_000, anneal_lr=False,
    )  # fmt: skip
    hparams = base.hparams.replace(
        max_kl=0.05, critic_lr=1e-3, gae_lambda=0.97, ent_coef=0.0, ent_coef_final=0.0,
        max_grad_norm=1.0,
    )  # fmt: skip
    return Preset(config, hparams)


def trpo_preset(env: str, base: Preset) -> Preset:
    """NPG's setting with a smaller trust region; on Pendulum its own setting."""
    if env == "Pendulum-v1":
        config = base.config.replace(
            num_envs=16, num_steps=256, update_epochs=10, num_minibatches=16,
            total_timesteps=1_000_000, normalize_obs=True, anneal_lr=False,
        )  # fmt: skip
        hparams = base.hparams.replace(
            max_kl=0.02, critic_lr=1e-3, gae_lambda=0.95, ent_coef=0.0, ent_coef_final=0.0,
            max_grad_norm=1.0,
        )  # fmt: skip
        return Preset(config, hparams)
    config, hparams = npg_preset(env, base)
    return Preset(config, hparams.replace(max_kl=0.01))


ALGO_PRESETS: dict[str, Callable[[str, Preset], Preset]] = {
    "ppo": ppo_preset, "reinforce": reinforce_preset, "a2c": a2c_preset,
    "npg": npg_preset, "trpo": trpo_preset,
}  # fmt: skip
"""Per algorithm: its changes to an env's preset."""
assert set(ALGO_PRESETS) == set(ALGOS), "every algorithm has a preset function"


def _env_key(env: str) -> str:
    """Which env preset ``env`` takes: its own name, its family's prefix, or "*"."""
    if env in ENV_PRESETS:
        return env
    return next((prefix for prefix in FAMILY_PRESETS if env.startswith(prefix)), "*")


_BASES: dict[str, Preset] = {**ENV_PRESETS, **FAMILY_PRESETS, "*": GENERIC}


def _resolve(algo: str, key: str) -> Preset:
    config, hparams = ALGO_PRESETS[algo](key, _BASES[key])
    return Preset(config.replace(algo=algo), hparams)


PRESETS: dict[tuple[str, str], Preset] = {
    (algo, key): _resolve(algo, key) for algo in ALGOS for key in _BASES
}
"""Every (algo, env preset) pair, resolved once; env: its name, family prefix or "*"."""


def preset(algo: str = "ppo", env: str = "CartPole-v1") -> Preset:
    """The default (config, hparams) for ``algo`` on ``env``.

    An algorithm jaxpg does not know gets the env's preset unchanged (validation names
    the algorithms).
    """
    key = _env_key(env)
    config, hparams = PRESETS.get((algo, key), _BASES[key])
    return Preset(config.replace(algo=algo, env=env), hparams)


def has_preset(algo: str, env: str) -> bool:
    """Whether ``env`` has tuned settings (its own, or its family's: brax/, playground/)."""
    del algo  # algorithm presets apply to every env
    return _env_key(env) != "*"


def no_preset_note(algo: str, env: str) -> str | None:
    """The one-line note printed when ``env`` trains with the generic defaults."""
    if has_preset(algo, env):
        return None
    return (f"note: no preset for {env}; training with jaxpg's generic {algo} defaults "
            "(tune with flags, or `jaxpg sweep`)")  # fmt: skip
