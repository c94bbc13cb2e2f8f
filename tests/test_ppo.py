import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpg.config import HParams, TrainConfig
from jaxpg import make_train, make_trainer


def _final_return(metrics, last=10):
    s = np.asarray(metrics["episode_return_sum"])[..., -last:].sum(-1)
    c = np.asarray(metrics["episode_count"])[..., -last:].sum(-1)
    return s / np.maximum(c, 1)


# No in-program evaluation: these tests read training metrics, and it is a third of a
# small program's compile time (tests/test_evaluation.py covers it).
SMALL = dict(num_envs=8, num_steps=16, num_minibatches=2, update_epochs=4, eval_every=0)


def _train(env, steps, seed=0, **hp):
    cfg = TrainConfig(env=env, total_timesteps=steps, **SMALL)
    state, metrics = jax.jit(make_train(cfg))(jax.random.PRNGKey(seed), HParams(**hp).as_arrays())
    return cfg, state, metrics


def test_probe_constant_reward_value_learns_one():
    cfg, state, _ = _train("Probe-Constant-v0", 20_000, lr=1e-3, critic_lr=1e-3)
    trainer = make_trainer(cfg)
    v = trainer.ctx.nets.value(state.params, jnp.zeros((1,)))
    assert float(v) == pytest.approx(1.0, abs=0.05)


def test_probe_obs_reward_value_reads_observation():
    cfg, state, _ = _train("Probe-ObsReward-v0", 30_000, lr=1e-3, critic_lr=1e-3)
    nets = make_trainer(cfg).ctx.nets
    assert float(nets.value(state.params, jnp.array([1.0]))) == pytest.approx(1.0, abs=0.1)
    assert float(nets.value(state.params, jnp.array([-1.0]))) == pytest.approx(-1.0, abs=0.1)


def test_probe_delayed_reward_discounts():
    cfg, state, _ = _train("Probe-Delayed-v0", 30_000, gamma=0.9, lr=1e-3, critic_lr=1e-3)
    nets = make_trainer(cfg).ctx.nets
    assert float(nets.value(state.params, jnp.array([0.0]))) == pytest.approx(0.9, abs=0.07)
    assert float(nets.value(state.params, jnp.array([1.0]))) == pytest.approx(1.0, abs=0.07)


@pytest.mark.parametrize("env", ["Probe-TwoActions-v0", "Probe-ObsAction-v0"])
def test_probe_policy_learns_best_action(env):
    _, _, metrics = _train(env, 20_000, lr=3e-3, critic_lr=1e-3)
    assert _final_return(metrics) > 0.9


def test_vmap_over_seeds_same_seed_identical_different_seeds_differ():
    cfg = TrainConfig(total_timesteps=4 * 8 * 16, **SMALL)
    train = jax.jit(jax.vmap(make_train(cfg), in_axes=(0, None)))
    keys = jnp.stack([jax.random.PRNGKey(0), jax.random.PRNGKey(0), jax.random.PRNGKey(1)])
    _, m = train(keys, HParams().as_arrays())
    loss = np.asarray(m["policy_loss"])
    np.testing.assert_array_equal(loss[0], loss[1])
    assert not np.allclose(loss[0], loss[2])


def test_vmap_over_hyperparameters_changes_learning():
    cfg = TrainConfig(total_timesteps=4 * 8 * 16, **SMALL)
    hps = jax.tree.map(lambda *x: jnp.stack(x), HParams(lr=1e-5).as_arrays(), HParams(lr=1e-2).as_arrays())
    train = jax.jit(jax.vmap(make_train(cfg), in_axes=(None, 0)))
    _, m = train(jax.random.PRNGKey(0), hps)
    kl = np.asarray(m["kl"]).mean(-1)
    assert kl[1] > 10 * kl[0]


def test_ppo_first_minibatch_ratio_is_one():
    cfg = TrainConfig(total_timesteps=8 * 16, **{**SMALL, "update_epochs": 1, "num_minibatches": 1})
    _, m = jax.jit(make_train(cfg))(jax.random.PRNGKey(0), HParams().as_arrays())
    assert float(m["clip_fraction"][0]) == 0.0
    assert abs(float(m["approx_kl"][0])) < 1e-6


def test_ppo_learns_cartpole_within_budget():
    # PPO, 8 envs x 128 steps, 300k steps: mean return of the last episodes >= 400
    cfg = TrainConfig(total_timesteps=300_000, eval_every=0)
    _, m = jax.jit(make_train(cfg))(jax.random.PRNGKey(0), HParams(ent_coef=0.0).as_arrays())
    assert _final_return(m) >= 400


def test_ppo_pendulum_runs_with_gaussian_diagnostics():
    cfg = TrainConfig(env="Pendulum-v1", total_timesteps=2 * 8 * 16, normalize_obs=True, **SMALL)
    state, m = jax.jit(make_train(cfg))(jax.random.PRNGKey(0), HParams().as_arrays())
    assert "log_std_min" in m and np.all(np.isfinite(np.asarray(m["policy_loss"])))
    assert float(state.obs_stats.count) > 100
