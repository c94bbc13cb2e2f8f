"""Per-environment defaults: what `jaxpg train --env X` uses unless told otherwise.

Values are settings known to learn each env with PPO; algorithms of the policy-
gradient family may override hyperparameters in ``ALGO_HPARAMS``.
"""

from __future__ import annotations

from jaxpg.config import HParams, TrainConfig

# Brax PPO's published halfcheetah setting: 2048 envs, unroll 20 x 8 sequential
# unrolls per update (= 160 steps), 32 minibatches, 8 epochs, gamma 0.95.
BRAX_PPO = dict(
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
)
BRAX_HPARAMS = dict(
    lr=3e-4, critic_lr=3e-4, gamma=0.95, gae_lambda=0.95, ent_coef=1e-3, ent_coef_final=1e-3,
    max_grad_norm=1.0, clip_eps=0.3,
)  # fmt: skip

ENV_PRESETS: dict[str, tuple[dict, dict]] = {
    "CartPole-v1": (dict(total_timesteps=1_000_000), {}),
    "Pendulum-v1": (
        dict(
            total_timesteps=1_000_000,
            num_envs=16,
            num_steps=128,
            num_minibatches=32,
            update_epochs=10,
            normalize_obs=True,
            clip_value=False,
        ),
        dict(lr=1e-3, critic_lr=1e-3, gamma=0.95, gae_lambda=0.95, ent_coef=0.0, ent_coef_final=0.0,
             reward_scale=0.1),
    ),  # fmt: skip
    "brax/inverted_pendulum": (
        dict(BRAX_PPO, num_envs=256, num_steps=32, num_minibatches=8, update_epochs=4,
             total_timesteps=300_000, episode_length=1000),
        dict(BRAX_HPARAMS, gamma=0.99),
    ),  # fmt: skip
}
for _name in ("halfcheetah", "ant", "hopper", "walker2d", "humanoid"):
    ENV_PRESETS[f"brax/{_name}"] = (dict(BRAX_PPO), dict(BRAX_HPARAMS))
ENV_PRESETS["brax/ant"][1]["gamma"] = 0.97
ENV_PRESETS["brax/hopper"][1]["gamma"] = 0.997
ENV_PRESETS["brax/walker2d"][1]["gamma"] = 0.997
ENV_PRESETS["brax/humanoid"][1]["gamma"] = 0.97

ALGO_HPARAMS: dict[str, dict] = {}


def preset(algo: str = "ppo", env: str = "CartPole-v1") -> tuple[TrainConfig, HParams]:
    """The default (config, hparams) for ``algo`` on ``env``."""
    cfg_kw, hp_kw = ENV_PRESETS.get(env, ({}, {}))
    if env.startswith("brax/") and env not in ENV_PRESETS:
        cfg_kw, hp_kw = BRAX_PPO, BRAX_HPARAMS
    if env not in ENV_PRESETS and not env.startswith("brax/"):
        cfg_kw, hp_kw = {}, {}
    config = TrainConfig(algo=algo, env=env, **cfg_kw)
    hparams = HParams(**{**hp_kw, **ALGO_HPARAMS.get(algo, {})})
    return config, hparams
