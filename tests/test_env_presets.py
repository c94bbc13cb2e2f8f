"""Presets for the envs people try first, and the note for envs without one."""

import pytest

from jaxpg import ConfigError, HParams, TrainConfig, validate
from jaxpg.config import ALGOS
from jaxpg.presets import ENV_PRESETS, PRESETS, Preset, has_preset, no_preset_note, preset

FIRST_TRIED = ("Breakout-MinAtar", "Asterix-MinAtar", "Freeway-MinAtar", "SpaceInvaders-MinAtar",
               "MountainCarContinuous-v0", "Acrobot-v1", "MountainCar-v0",
               "playground/CartpoleBalance", "playground/CheetahRun")  # fmt: skip


@pytest.mark.parametrize("env", FIRST_TRIED)
def test_first_tried_envs_have_valid_presets(env):
    config, hparams = preset("ppo", env)
    assert has_preset("ppo", env) and no_preset_note("ppo", env) is None
    config.validate()  # playground names need the optional extra
    hparams.validate()


def test_minatar_preset_is_purejaxrl_setting():
    config, hparams = preset("ppo", "Breakout-MinAtar")
    assert (config.num_envs, config.num_steps, config.num_minibatches, config.update_epochs) == (64, 128, 8, 4)
    assert hparams.lr == 5e-3 and config.activation == "relu" and config.total_timesteps == 10_000_000


@pytest.mark.parametrize("env", ["brax/halfcheetah", "brax/ant", "playground/CheetahRun"])
def test_brax_style_presets_use_brax_policy(env):
    config, _ = preset("ppo", env)
    assert config.policy == "tanh-gaussian" and config.state_dependent_std and config.min_std == 1e-3


def test_unknown_env_gets_defaults_and_a_one_line_note():
    config, hparams = preset("ppo", "Catch-bsuite")
    assert config.num_envs == 8 and hparams.lr == 2.5e-4  # the generic defaults
    note = no_preset_note("ppo", "Catch-bsuite")
    assert note and "no preset for Catch-bsuite" in note and "\n" not in note


def test_presets_are_typed_values_that_validate():
    for key, p in [*ENV_PRESETS.items(), *PRESETS.items()]:
        assert isinstance(p, Preset), key
        assert isinstance(p.config, TrainConfig) and isinstance(p.hparams, HParams), key
    assert {algo for algo, _ in PRESETS} == set(ALGOS)
    assert isinstance(preset("trpo", "Catch-bsuite"), Preset)
    invalid = set()
    for algo in ALGOS:
        for env in [*ENV_PRESETS, "brax/some_env", "playground/SomeEnv", "Catch-bsuite"]:
            config, hparams = preset(algo, env)
            assert (config.algo, config.env) == (algo, env)
            try:
                validate(config, hparams)
            except ConfigError as e:
                invalid.add((algo, env, str(e)))
    assert invalid == set()  # every preset `jaxpg train --algo A --env E` picks is accepted
