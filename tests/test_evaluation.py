"""In-program evaluation (jaxpg.evaluation) and bring-your-own-env (jaxpg.envs.adapters)."""

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpg import RunOptions, envs, evaluation
from jaxpg.config import HParams, TrainConfig
from jaxpg.envs import adapters
from jaxpg.errors import JaxpgError
from jaxpg import make_train, run
from jaxpg.algos.state import make_context

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
from custom_env import Reach  # noqa: E402

TINY = dict(num_envs=4, num_steps=8, num_minibatches=2, update_epochs=1, hidden_sizes=(8,))
HP = HParams(lr=1e-3, critic_lr=1e-3)


def test_run_episodes_complete_episodes_with_known_returns():
    # Probe-Delayed-v0: two steps, reward 1 at the end -> return 1, length 2, every episode
    env = envs.make("Probe-Delayed-v0")
    act = lambda k, obs: jnp.zeros(obs.shape[:1], jnp.int32)
    returns, lengths = jax.jit(
        lambda k: evaluation.run_episodes(env, act, k, 5, 100)
    )(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(returns), 1.0)
    np.testing.assert_array_equal(np.asarray(lengths), 2)


def test_eval_metrics_every_k_updates_and_training_unchanged():
    base = TrainConfig(total_timesteps=4 * 8 * 6, **TINY)
    hp = HP.as_arrays()
    key = jax.random.PRNGKey(1)
    _, m_eval = jax.jit(make_train(base.replace(eval_every=2, eval_stochastic=True)))(key, hp)
    _, m_none = jax.jit(make_train(base.replace(eval_every=0)))(key, hp)
    np.testing.assert_array_equal(np.asarray(m_eval["eval_done"]), [0, 1, 0, 1, 0, 1])
    assert "eval_return" not in m_none
    # evaluation uses keys folded off the state's: the training stream is untouched
    for k, v in m_none.items():
        np.testing.assert_array_equal(np.asarray(v), np.asarray(m_eval[k]), err_msg=k)
    done = np.asarray(m_eval["eval_done"]) > 0
    ret, lo, hi = (np.asarray(m_eval[k])[done] for k in ("eval_return", "eval_return_low", "eval_return_high"))
    assert np.all(lo <= ret) and np.all(ret <= hi) and np.all(ret >= 1)  # CartPole returns >= 1
    assert np.all(np.asarray(m_eval["eval_env_steps"])[done] == [64, 128, 192])
    assert np.all(np.isfinite(np.asarray(m_eval["eval_return_stochastic"])[done]))


def test_eval_is_a_branch_under_vmap():
    """The eval predicate is unbatched under vmap (the scan index), so no select runs it every update."""
    train = make_train(TrainConfig(total_timesteps=4 * 8 * 2, eval_every=2, **TINY))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    text = str(jax.make_jaxpr(jax.vmap(train, in_axes=(0, None)))(keys, HP.as_arrays()))
    assert "cond[" in text and "while[" in text


def test_run_summary_reports_final_and_best_eval(tmp_path):
    out = str(tmp_path / "r")
    cfg = TrainConfig(total_timesteps=4 * 8 * 4, updates_per_chunk=2, eval_every=1, **TINY)
    result = run(cfg, HP, RunOptions(out_dir=out, progress=False))
    rows = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    assert [r["eval_env_steps"] for r in rows] == [64, 128]  # the chunk's last evaluation
    s = json.load(open(os.path.join(out, "summary.json")))
    assert s["eval_return"] == rows[-1]["eval_return"] and s["eval_env_steps"] == 128
    best = max(rows, key=lambda r: r["eval_return"])
    assert s["best_eval_return"] == best["eval_return"]
    assert s["best_eval_env_steps"] == best["eval_env_steps"]
    assert result.summary["eval_return"] == s["eval_return"]


def test_custom_env_learns_with_one_call():
    """The README's ~30-line custom env, trained by make_train(config, env=...)."""
    cfg = TrainConfig(env="Reach", total_timesteps=16 * 64 * 20, num_envs=16, num_steps=64,
                      policy="tanh-gaussian", eval_every=20, num_eval_envs=32)  # fmt: skip
    _, metrics = jax.jit(make_train(cfg, env=Reach()))(jax.random.PRNGKey(0), HP.as_arrays())
    final = float(np.asarray(metrics["eval_return"])[-1])
    # a random policy scores about -25, going straight to the goal about -1
    assert final > -5.0, final


def test_adapter_gymnax_instance_with_params():
    import gymnax

    env, params = gymnax.make("CartPole-v1")
    params = params.replace(max_steps_in_episode=50)
    ctx = make_context(TrainConfig(env="my-cartpole", **TINY).validate(), (env, params))
    assert ctx.env.max_episode_steps == 50 and ctx.env.action_space.n == 2
    obs, state = ctx.env.reset(jax.random.PRNGKey(0))
    assert obs.shape == (4,)


@pytest.mark.slow
def test_adapter_brax_env_instance_trains():
    from brax import envs as brax_envs

    brax_env = brax_envs.get_environment("inverted_pendulum", backend="positional")
    wrapped = adapters.adapt(brax_env)
    assert wrapped.obs_size == brax_env.observation_size and wrapped.max_episode_steps == 1000
    _, m = jax.jit(make_train(TrainConfig(env="ip", total_timesteps=4 * 8, eval_every=0, **TINY), env=brax_env))(
        jax.random.PRNGKey(0), HP.as_arrays()
    )
    assert np.all(np.asarray(m["nonfinite"]) == 0)


def test_bad_env_object_is_one_line_error():
    with pytest.raises(JaxpgError, match="lacks .*reset"):
        make_train(TrainConfig(**TINY), env=object())


def test_tanh_gaussian_squashes_into_bounds():
    ctx = make_context(TrainConfig(env="Pendulum-v1", policy="tanh-gaussian", state_dependent_std=True, **TINY))
    assert isinstance(ctx.env.env, envs.SquashActions)
    params = ctx.nets.init(jax.random.PRNGKey(0), ctx.env.obs_size)
    dist = ctx.nets.policy(params, jnp.zeros((3, ctx.env.obs_size)))
    assert dist.log_std.shape == (3, 1)
    # initial std is exp(log_std_init) = 1 (softplus offset)
    np.testing.assert_allclose(np.exp(np.asarray(dist.log_std)), 1.0, atol=0.05)
    bounded = envs.core.squash_action(jnp.array([-50.0, 0.0, 50.0]), envs.Box((3,), -2.0, 2.0))
    np.testing.assert_allclose(np.asarray(bounded), [-2.0, 0.0, 2.0], atol=1e-6)


def test_readme_shows_the_custom_env_example():
    with open(os.path.join(ROOT, "examples", "custom_env.py")) as f:
        example = f.read().split('"""\n\n', 1)[1]
    with open(os.path.join(ROOT, "README.md")) as f:
        assert example in f.read()


@pytest.mark.slow  # ~100 s on a 2-core CPU (Playground's model load and MJX compile)
def test_playground_env_step_has_no_lapack_call():
    """MJX on CPU: CG solver + sparse Jacobian (jaxpg.envs.playground_env.make_lapack_free)."""
    pytest.importorskip("mujoco_playground")
    env = envs.make("playground/CartpoleBalance", squash_actions=True)

    def rollout(key):
        _, state = jax.vmap(env.reset)(jax.random.split(key, 4))
        out = jax.vmap(env.step)(jax.random.split(key, 4), state, jnp.ones((4, 1)))
        return out[2], out[5]["final_obs"]

    text = jax.jit(rollout).lower(jax.random.PRNGKey(0)).as_text()
    assert "lapack" not in text.lower()
    reward, final_obs = jax.jit(rollout)(jax.random.PRNGKey(0))
    assert reward.shape == (4,) and final_obs.shape == (4, env.obs_size)
