"""The policy layer end to end: recurrent PPO, masks, CNN encoder, bad input."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxpg import losses, make_train
from jaxpg.algos import a2c, npg, ppo, reinforce
from jaxpg.algos.state import make_context
from jaxpg.algos.update import batch_policy, batch_value, start_update
from jaxpg.batch import split_envs
from jaxpg.config import HParams, TrainConfig
from jaxpg.envs.policy_probes import MaskedTrap, MaskedTrapInfo, TMaze
from jaxpg.errors import ConfigError
from jaxpg.evaluation import evaluate_state

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAPACK = "lapack_"

TINY = dict(num_envs=4, num_steps=16, total_timesteps=128, num_minibatches=2, eval_every=0)


@pytest.mark.parametrize("cell", ["gru", pytest.param("lstm", marks=pytest.mark.slow)])
def test_recurrent_log_probs_replayed_in_the_update_equal_acting_time(cell):
    """Act for a segment (carry threaded step by step, resets where episodes start), then
    replay it as the update does, from the stored start carry: the same log-probs, also
    on the env-split minibatches PPO's loss sees, so its first ratio is exactly ~1.
    The in-program evaluation of the recurrent policy runs too (each env its own carry)."""
    cfg = TrainConfig(env="Probe-TMaze-v0", recurrent=cell, rnn_size=16, hidden_sizes=(16,),
                      num_envs=4, num_steps=24, total_timesteps=96, num_minibatches=2, eval_every=0,
                      num_eval_envs=8)  # fmt: skip
    ctx = make_context(cfg.validate())
    hp = HParams()

    @jax.jit
    def check(key):
        state = ppo.init(ctx, key, hp)
        # a second segment starts from a non-zero carry mid-episode
        state = start_update(ctx, state, hp).state
        start = start_update(ctx, state, hp)
        b = start.batch
        mb = jax.tree.map(lambda x: x[1], split_envs(jax.random.PRNGKey(3), b, 2))
        _, m = ppo.ppo_loss(ctx, start.params_old, mb, hp, 0.0)
        carry_moved = jnp.abs(state.policy.carry.actor).sum() if cell == "gru" else jnp.ones(())
        ev = evaluate_state(ctx, state)
        return (b.old_dist.log_prob(b.action), b.log_prob, b.first, m["approx_kl"], carry_moved,
                ev["eval_return"], ev["eval_length"])  # fmt: skip

    replayed, acted, first, approx_kl, carry_moved, ev_ret, ev_len = check(jax.random.PRNGKey(0))
    assert -1.0 <= float(ev_ret) <= 1.0 and float(ev_len) == 5.0  # T-maze episodes: 5 steps
    assert np.asarray(first).any() and not np.asarray(first).all()  # resets inside the segment
    assert float(carry_moved) > 0
    np.testing.assert_allclose(np.asarray(replayed), np.asarray(acted), atol=2e-6)
    assert abs(float(approx_kl)) < 1e-9


NATURAL_GRU = TrainConfig(algo="npg", env="Probe-TMaze-v0", recurrent="gru", rnn_size=8, hidden_sizes=(8,),
                          num_envs=4, num_steps=24, total_timesteps=96, num_minibatches=2, eval_every=0)  # fmt: skip


def natural_gru_check(line_search: bool):
    """One NPG (TRPO with ``line_search``) update of a GRU policy on its first segment (the
    replay from a non-zero start carry is the shared batch code the PPO test above checks);
    returns the replayed and acting-time log-probs, the resets, the update's
    metrics and the critic's loss on the batch before and after its fit."""
    ctx = make_context(NATURAL_GRU)
    hp = HParams(max_kl=0.01, critic_lr=1e-2)

    @jax.jit
    def check(key):
        state = npg.init(ctx, key, hp)
        start = start_update(ctx, state, hp, num_keys=1)
        b = start.batch
        replayed = batch_policy(ctx, state.params.actor, b).log_prob(b.action)
        new, m = npg.natural_update(ctx, state, hp, line_search, start)
        v_loss = [losses.value_loss(batch_value(ctx, p.critic, b), b.target) for p in (state.params, new.params)]
        return replayed, b.log_prob, b.first, m, v_loss

    return check(jax.random.PRNGKey(0))


@pytest.mark.slow  # default-suite time budget (~29 s of CPU: Hessian-vector products through a GRU scan)
def test_recurrent_npg_replays_the_segment_and_keeps_the_kl_radius():
    """NPG with a GRU: the update's replay of the segment (from the carry stored at its start)
    gives the acting-time log-probs; the Fisher-vector products and CG go
    through that replay, so the measured KL(old || new) of the step (replayed) lands at
    max_kl; the critic's fit on whole-sequence minibatches lowers its loss on the batch."""
    replayed, acted, first, m, (loss_before, loss_after) = natural_gru_check(line_search=False)
    assert np.asarray(first).any() and not np.asarray(first).all()  # resets inside the segment
    np.testing.assert_allclose(np.asarray(replayed), np.asarray(acted), atol=2e-6)
    kl, max_kl = float(m["kl"]), float(m["max_kl"])
    assert abs(kl / max_kl - 1) < 0.1, (kl, max_kl)  # the quadratic model's radius
    assert float(loss_after) < float(loss_before)


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_recurrent_trpo_line_search_keeps_the_step_inside_the_radius():
    replayed, acted, _, m, _ = natural_gru_check(line_search=True)
    np.testing.assert_allclose(np.asarray(replayed), np.asarray(acted), atol=2e-6)
    kl, frac = float(m["kl"]), float(m["step_fraction"])
    assert frac > 0 and 0 < kl <= float(m["max_kl"]) * 1.001, (kl, frac)
    assert float(m["surrogate_improvement"]) > 0


REINFORCE_GRU = TrainConfig(algo="reinforce", env="Probe-TMaze-v0", recurrent="gru", rnn_size=8,
                            hidden_sizes=(8,), num_envs=4, num_steps=8, total_timesteps=64,
                            num_minibatches=2, eval_every=0)  # fmt: skip


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_recurrent_reinforce_replays_each_episode_from_zeros():
    """REINFORCE with a GRU acts from the zero carry at each env's reset; the update's
    replay of each episode gives the acting-time log-probs on every valid step."""
    ctx = make_context(REINFORCE_GRU)

    @jax.jit
    def check(key):
        state = reinforce.init(ctx, key, HParams())
        ep = reinforce.collect_episodes(ctx, state.params, state.obs_stats, key)
        replayed = reinforce.episode_policy(ctx, state.params.actor, ep).log_prob(ep.action)
        return replayed, ep.log_prob, ep.valid

    replayed, acted, valid = check(jax.random.PRNGKey(0))
    valid = np.asarray(valid) > 0
    assert valid.sum(0).tolist() == [5] * 4  # one 5-step T-maze episode per env
    np.testing.assert_allclose(np.asarray(replayed)[valid], np.asarray(acted)[valid], atol=2e-6)


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_recurrent_reinforce_update_with_the_value_baseline():
    """The value baseline is the critic replayed over each episode, and its fit (whole
    episodes per minibatch, the steps past an episode's end masked) lowers its loss."""
    ctx = make_context(REINFORCE_GRU)
    hp = HParams(critic_lr=1e-2)

    @jax.jit
    def check(key):
        state = reinforce.init(ctx, key, hp)
        new, m = reinforce.update(ctx, state, hp)
        ep = reinforce.collect_episodes(ctx, state.params, state.obs_stats, jax.random.split(state.key, 3)[1])  # the update's
        returns = reinforce.returns_to_go(ep, hp)
        loss = [losses.value_loss(reinforce.episode_values(ctx, p.critic, ep), returns, mask_t=ep.valid)
                for p in (state.params, new.params)]  # fmt: skip
        return m, loss

    m, (before, after) = check(jax.random.PRNGKey(0))
    assert float(after) < float(before)
    assert float(m["kl"]) > 0 and np.isfinite(float(m["policy_loss"]))


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_recurrent_a2c_steps_on_the_replayed_sequences():
    """A2C with a GRU: its actor step starts at ratio 1 on the replayed ``[T, B]`` batch
    (no entropy, no whitening: policy_loss = -mean advantage), its critic loss is taken
    on the critic replayed from the segment's start carry, and the step moves the policy.
    The gradient-variance estimator (``a2c.policy_gradient``) replays the same way."""
    cfg = TrainConfig(algo="a2c", env="Probe-TMaze-v0", recurrent="gru", rnn_size=16,
                      hidden_sizes=(16,), num_envs=4, num_steps=24, total_timesteps=96,
                      eval_every=0, normalize_advantages=False)  # fmt: skip
    ctx = make_context(cfg)
    hp = HParams(ent_coef=0.0, ent_coef_final=0.0)

    @jax.jit
    def check(key):
        state = start_update(ctx, a2c.init(ctx, key, hp), hp).state  # start mid-episode
        b = start_update(ctx, state, hp).batch
        _, m = a2c.update(ctx, state, hp)
        replayed = batch_value(ctx, state.params.critic, b)
        g = a2c.policy_gradient(ctx, state, hp, jax.random.split(state.key)[1])  # the update's key
        return (m["policy_loss"], b.advantage.mean(), m["value_loss"],
                losses.value_loss(replayed, b.target), replayed, b.value, m["kl"], b.first,
                m["actor_grad_norm"], optax.tree.norm(g))  # fmt: skip

    (loss, mean_adv, value_loss, replayed_loss, replayed, value, kl, first, grad_norm,
     estimator_norm) = check(jax.random.PRNGKey(1))  # fmt: skip
    assert np.asarray(first).any() and not np.asarray(first).all()  # resets inside the segment
    np.testing.assert_allclose(float(loss), -float(mean_adv), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(replayed), np.asarray(value), atol=2e-6)
    np.testing.assert_allclose(float(value_loss), float(replayed_loss), rtol=1e-5)
    assert float(kl) > 0
    np.testing.assert_allclose(float(estimator_norm), float(grad_norm), rtol=1e-5)


@pytest.mark.slow
def test_recurrent_a2c_learns_the_tmaze():
    """A GRU A2C policy remembers the cue (a feed-forward one is at 0 in expectation)."""
    cfg = TrainConfig(algo="a2c", env="Probe-TMaze-v0", recurrent="gru", rnn_size=32,
                      hidden_sizes=(32,), num_envs=16, num_steps=20, total_timesteps=60_000,
                      eval_every=20, num_eval_envs=64)  # fmt: skip
    _, m = jax.jit(make_train(cfg))(jax.random.PRNGKey(0), HParams(lr=1e-3, critic_lr=3e-3))
    done = np.asarray(m["eval_done"]) > 0
    assert float(np.asarray(m["eval_return"])[done][-1]) > 0.8


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_masked_probe_never_takes_the_masked_action():
    """Every finished episode of training returns the full 10 (a trap pays -10 and ends
    it), from the first update, and the policy's entropy is over the 2 allowed actions."""
    cfg = TrainConfig(env="Probe-MaskedTrap-v0", num_envs=8, num_steps=32, total_timesteps=1024,
                      eval_every=2, num_eval_envs=8)  # fmt: skip
    _, m = jax.jit(make_train(cfg))(jax.random.PRNGKey(0), HParams())
    count = np.asarray(m["episode_count"])
    assert count.sum() > 50
    np.testing.assert_array_equal(np.asarray(m["episode_return_sum"]), 10.0 * count)
    assert np.all(np.asarray(m["entropy"]) <= np.log(2) + 1e-5)
    done = np.asarray(m["eval_done"]) > 0
    np.testing.assert_array_equal(np.asarray(m["eval_return"])[done], 10.0)


class ImageObs:
    """The T-maze seen as a [4, 4, 2] image (a cheap stand-in for MinAtar's [10, 10, C])."""

    def __init__(self):
        self.env, self.name = TMaze(), "image-tmaze"
        self.obs_size, self.action_space, self.max_episode_steps = 32, self.env.action_space, None

    def reset(self, key):
        obs, state = self.env.reset(key)
        return jnp.broadcast_to(obs, (4, 4, 2)), state

    def step(self, key, state, action):
        obs, state, r, term, trunc, info = self.env.step(key, state, action)
        img = lambda o: jnp.broadcast_to(o, (4, 4, 2))
        return img(obs), state, r, term, trunc, {**info, "final_obs": img(info["final_obs"])}


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_cnn_ppo_on_images():
    cfg = TrainConfig(env="image", encoder="cnn", hidden_sizes=(16,), activation="relu",
                      cnn_channels=(4,), cnn_kernels=(2,), normalize_obs=True, **TINY)
    state, m = jax.jit(make_train(cfg, env=ImageObs()))(jax.random.PRNGKey(0), HParams())
    assert state.obs.shape == (4, 4, 4, 2)  # the image kept its shape
    assert state.obs_stats.mean.shape == (4, 4, 2)
    assert state.params.actor["params"]["_Features_0"]["ObsEncoder_0"]["CNN_0"]["Conv_0"]["kernel"].shape == (2, 2, 2, 4)
    assert np.all(np.asarray(m["nonfinite"]) == 0)


class WrongMask(MaskedTrap):
    def _obs(self, s):
        obs = super()._obs(s)
        return {**obs, "action_mask": jnp.ones((4,), bool)}


def test_bad_policy_input_raises_one_line_config_errors():
    with pytest.raises(ConfigError, match="encoder"):
        make_train(TrainConfig(env="CartPole-v1", encoder="cnn"))
    with pytest.raises(ConfigError, match="recurrent"):
        TrainConfig(recurrent="rnn").validate()
    with pytest.raises(ConfigError, match="num_envs = 6"):
        TrainConfig(algo="npg", recurrent="gru", num_envs=6, num_minibatches=4).validate()
    TrainConfig(algo="reinforce", baseline="linear", recurrent="gru", num_envs=6).validate()  # no split
    with pytest.raises(ConfigError, match=r"action_mask of shape \(4,\)"):
        make_train(TrainConfig(env="masked"), env=WrongMask())
    with pytest.raises(ConfigError, match="num_envs"):
        TrainConfig(recurrent="gru", num_envs=6, num_minibatches=4, num_steps=128).validate()


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_cli_encoder_cnn_on_flat_observation_is_exit_2(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "jaxpg", "train", "--encoder", "cnn", "--out",
                        str(tmp_path / "x"), "--quiet"], capture_output=True, text=True, env=env,
                       timeout=300)  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "[H, W, C]" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow  # default-suite time budget; run with -m slow
@pytest.mark.parametrize("kind", ["recurrent", "cnn", "recurrent-reinforce", "recurrent-npg", "recurrent-trpo"])
def test_new_training_programs_have_no_lapack_call(kind):
    algo = kind.split("-")[1] if "-" in kind else "ppo"
    extra = ({"env": "Probe-TMaze-v0", "recurrent": "gru", "rnn_size": 8, "algo": algo} if kind != "cnn"
             else {"env": "image", "encoder": "cnn", "cnn_channels": (4,), "cnn_kernels": (2,)})
    env = ImageObs() if kind == "cnn" else None
    train = make_train(TrainConfig(hidden_sizes=(8,), **{**TINY, **extra}), env=env)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    hps = jax.tree.map(lambda x: jnp.stack([x, x]), HParams().as_arrays())
    text = jax.jit(jax.vmap(train)).lower(keys, hps).as_text()
    assert LAPACK not in text


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "npg"])
def test_recurrent_run_resumes_bit_exact(tmp_path, algo):
    """Interrupted at update 2 and resumed = uninterrupted: the carry is checkpointed."""
    import signal

    from jaxpg import RunOptions, run
    from jaxpg.runner.rundir import load_run_config

    cfg = TrainConfig(algo=algo, env="Probe-TMaze-v0", recurrent="gru", rnn_size=8, hidden_sizes=(8,),
                      num_envs=4, num_steps=16, total_timesteps=4 * 16 * 4, num_minibatches=2,
                      updates_per_chunk=2, eval_every=2)  # fmt: skip
    hp = HParams(lr=1e-3)
    full = run(cfg, hp, RunOptions(seed=1, out_dir=str(tmp_path / "full"), progress=False, checkpoint_every=2))

    def stop_at_2(row):
        if row["update"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    out = str(tmp_path / "cut")
    first = run(cfg, hp, RunOptions(seed=1, out_dir=out, progress=False, checkpoint_every=2), on_row=stop_at_2)
    assert first.summary["updates"] == 2
    config, hparams, seed, _ = load_run_config(out)
    resumed = run(config, hparams, RunOptions(seed=seed, out_dir=out, progress=False, resume=True))
    assert resumed.summary["resumed_from_update"] == 2
    a, b = jax.tree.leaves(resumed.state), jax.tree.leaves(full.state)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert float(jnp.abs(resumed.state.policy.carry.actor).sum()) > 0


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_masks_from_info_reach_the_policy_and_the_update():
    """A user env that reports its masks in info (reset's third value, step's info):
    the trajectory's observations carry them, so acting and the update's policy are
    masked: no finished episode of training hit the trap."""
    cfg = TrainConfig(env="info-masked", num_envs=8, num_steps=32, total_timesteps=1024,
                      eval_every=2, num_eval_envs=8)  # fmt: skip
    state, m = jax.jit(make_train(cfg, env=MaskedTrapInfo()))(jax.random.PRNGKey(0), HParams())
    assert state.obs["action_mask"].shape == (8, 3)
    count = np.asarray(m["episode_count"])
    assert count.sum() > 50
    np.testing.assert_array_equal(np.asarray(m["episode_return_sum"]), 10.0 * count)
    assert np.all(np.asarray(m["entropy"]) <= np.log(2) + 1e-5)  # over the 2 allowed actions
