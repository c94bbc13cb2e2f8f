"""The one validation entry point (jaxpg.validation) guards every path into training:
the CLI, run, make_train, the sweep and PBT all refuse cg_damping < 0.01, which the
trainer alone used to accept (first NPG update's KL 7.3 at max_kl 0.01)."""

import os

import jax
import jax.numpy as jnp
import pytest

from jaxpg import ConfigError, HParams, JaxpgError, RunOptions, TrainConfig, make_train, run, validate
from jaxpg.cli import pbt as cli_pbt
from jaxpg.cli import sweep as cli_sweep
from jaxpg.cli import train as cli_train
from jaxpg.config import MAX_SEED, stack_hparams
from jaxpg.envs import Box, Discrete
from jaxpg.pbt import PBTConfig, parse_explore, run_pbt
from jaxpg.sweep import build_settings, run_agents

CFG = TrainConfig(algo="npg", num_envs=2, num_steps=8, total_timesteps=16, num_minibatches=1,
                  hidden_sizes=(4,), eval_every=0)  # fmt: skip
BAD = HParams(cg_damping=0.0)


def test_make_train_refuses_bad_concrete_hparams():
    with pytest.raises(ConfigError, match="cg_damping"):
        make_train(CFG)(jax.random.PRNGKey(0), BAD)


def test_make_train_traced_hparams_are_the_callers_to_check():
    # Under jit there are no concrete values to check: validate() says so by skipping,
    # and run/sweep validate before they jit (tested below).
    hp = jax.tree.map(jnp.asarray, BAD)
    with pytest.raises(ConfigError, match="cg_damping"):
        validate(CFG, hp)  # concrete arrays are checked
    assert jax.jit(lambda h: validate(CFG, h)[1].cg_damping)(hp) == 0.0


def test_run_refuses_bad_hparams_and_options(tmp_path):
    with pytest.raises(ConfigError, match="cg_damping"):
        run(CFG, BAD, RunOptions(progress=False, out_dir=str(tmp_path / "a")))
    assert not os.path.exists(tmp_path / "a")  # nothing written
    with pytest.raises(ConfigError, match="keep_checkpoints"):
        run(CFG, HParams(), RunOptions(keep_checkpoints=0, progress=False))
    with pytest.raises(ConfigError, match="seed"):
        run(CFG, HParams(), RunOptions(seed=-1, progress=False))
    with pytest.raises(JaxpgError, match="out_dir"):
        run(CFG, HParams(), RunOptions(resume=True, progress=False))


def test_sweep_refuses_bad_hparams_in_any_agent():
    with pytest.raises(ConfigError, match="cg_damping"):
        build_settings(CFG, HParams(), {"cg_damping": [0.1, 0.0]}, {}, 0, {})
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    with pytest.raises(ConfigError, match="cg_damping"):
        run_agents(CFG, keys, stack_hparams([HParams(), BAD]))


def test_cli_train_and_sweep_refuse_before_writing(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="cg_damping"):
        cli_train.main(["--algo", "npg", "--cg-damping", "0", "--out", str(out), "--quiet"])
    with pytest.raises(ConfigError, match="cg_damping"):
        cli_sweep.main(["--algo", "npg", "--grid", "cg_damping=0.1,0.001", "--out", str(out)])
    assert not out.exists()


def test_pbt_refuses_bad_hparams_and_options_before_writing(tmp_path):
    out = str(tmp_path / "pbt")
    space, pbt = parse_explore(["lr=loguniform:1e-4:1e-2"]), PBTConfig(population=2)
    with pytest.raises(ConfigError, match="cg_damping"):
        run_pbt(CFG, BAD, space, pbt, RunOptions(out_dir=out))
    with pytest.raises(ConfigError, match="keep_checkpoints"):
        run_pbt(CFG, HParams(), space, pbt, RunOptions(out_dir=out, keep_checkpoints=0))
    with pytest.raises(ConfigError, match="seed"):  # member 1 would train from MAX_SEED + 1
        run_pbt(CFG, HParams(), space, pbt, RunOptions(out_dir=out, seed=MAX_SEED))
    with pytest.raises(JaxpgError, match="wandb"):
        run_pbt(CFG, HParams(), space, pbt, RunOptions(out_dir=out, wandb_project="p"))
    with pytest.raises(ConfigError, match="cg_damping"):
        cli_pbt.main(["--algo", "npg", "--cg-damping", "0", "--explore", "lr=loguniform:1e-4:1e-2",
                      "--out", out])  # fmt: skip
    assert not os.path.exists(out)


def test_env_spaces_rule():
    validate(CFG, env_spaces=type("E", (), {"action_space": Discrete(3)}))
    with pytest.raises(ConfigError, match="discrete"):
        validate(CFG.replace(policy="tanh-gaussian"), env_spaces=type("E", (), {"action_space": Discrete(3)}))
    with pytest.raises(ConfigError, match="flat vector"):
        validate(CFG, env_spaces=type("E", (), {"action_space": Box(shape=(2, 2), low=-1.0, high=1.0)}))
