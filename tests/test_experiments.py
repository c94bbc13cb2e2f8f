"""eval / render / plot on a tiny finished run, the report generator, and the
closed forms behind the trainer-free figures."""

import json
import os
import shutil
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))

from jaxpg.cli import main as cli  # noqa: E402
from jaxpg.config import HParams, TrainConfig  # noqa: E402
from jaxpg.analysis.stats import mean_ci  # noqa: E402


TRAINED = {}  # run directory -> the RunResult that wrote it


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from jaxpg import RunOptions, run

    out = str(tmp_path_factory.mktemp("runs") / "tiny")
    cfg = TrainConfig(env="CartPole-v1", total_timesteps=4096, num_envs=4, num_steps=128, updates_per_chunk=2)
    TRAINED[out] = run(cfg, HParams(), RunOptions(seed=0, out_dir=out, progress=False))
    return out


def test_run_saves_params(run_dir):
    assert os.path.isfile(os.path.join(run_dir, "params.msgpack"))


def test_eval_deterministic_and_stochastic(run_dir, capsys):
    assert cli(["eval", run_dir, "--episodes", "6", "--max-steps", "200"]) == 0
    out = capsys.readouterr().out
    assert "deterministic" in out and "stochastic" in out
    r = json.load(open(os.path.join(run_dir, "eval.json")))
    for mode in ("deterministic", "stochastic"):
        returns = np.asarray(r[mode]["returns"])
        assert returns.shape == (6,)
        # CartPole pays 1 per step: every episode lasts >= 1 step and <= the 200-step cap
        assert np.all(returns >= 1) and np.all(returns <= 200)
        assert r[mode]["mean"] == pytest.approx(returns.mean(), rel=1e-5)
    # the same seed gives the same evaluation
    from jaxpg.analysis.evaluate import evaluate_run

    again = evaluate_run(run_dir, episodes=6, seed=0, max_steps=200)
    assert again["stochastic"]["returns"] == r["stochastic"]["returns"]


def test_eval_loaded_policy_matches_trained_params(run_dir):
    from jaxpg.runner.rundir import load_run

    import jax

    run = load_run(run_dir)
    assert run.config.env == "CartPole-v1" and run.config.num_envs == 4
    assert run.params._fields == ("actor", "critic")
    # the saved parameters and observation statistics are the trained state's, bit for bit
    state = TRAINED[run_dir].state
    for saved, trained in ((run.params, state.params), (run.obs_stats, state.obs_stats)):
        leaves, want = jax.tree.leaves(saved), jax.tree.leaves(trained)
        assert len(leaves) == len(want) > 0
        for a, b in zip(leaves, want):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("cmd", ["eval", "render"])
def test_missing_dir_or_params_is_one_line_exit_2(run_dir, tmp_path, capsys, cmd):
    assert cli([cmd, str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not found" in err and len(err.splitlines()) == 1
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    os.remove(broken / "params.msgpack")
    assert cli([cmd, str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert "params.msgpack" in err and len(err.splitlines()) == 1


def test_render_gif(run_dir, tmp_path):
    from PIL import Image

    out = tmp_path / "ep.gif"
    assert cli(["render", run_dir, "--out", str(out), "--max-steps", "8"]) == 0
    im = Image.open(out)
    assert 1 <= im.n_frames <= 8


def test_plot_groups_seeds(run_dir, tmp_path, capsys):
    seed1 = tmp_path / "seed1"
    shutil.copytree(run_dir, seed1)
    cfg = json.load(open(seed1 / "config.json"))
    cfg["seed"] = 1
    json.dump(cfg, open(seed1 / "config.json", "w"))
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    cfg["hparams"]["lr"] = 1e-3
    json.dump(cfg, open(other / "config.json", "w"))
    out = tmp_path / "c.png"
    assert cli(["plot", run_dir, str(seed1), str(other), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 group(s)" in text and "n=2" in text and "n=1" in text
    assert out.stat().st_size > 1000
    assert cli(["plot", str(tmp_path / "missing")]) == 2
    # without --out the figure goes into the run directory (one run) or the runs' common folder
    assert cli(["plot", str(seed1)]) == 0 and (seed1 / "curves.png").stat().st_size > 1000
    assert cli(["plot", str(seed1), str(other)]) == 0 and (tmp_path / "curves.png").is_file()


def test_one_run_eval_plot_shades_its_episode_interval():
    from jaxpg.analysis.plotting import _own_interval

    rows = [{"eval_return": 10.0, "eval_return_low": 8.0, "eval_return_high": 12.0},
            {"eval_return": 20.0, "eval_return_low": 15.0, "eval_return_high": 25.0}]  # fmt: skip
    lo, hi = _own_interval(rows, "eval_return", np.array([0.0, 50.0, 100.0]), np.array([0.0, 100.0]))
    assert np.allclose(lo, [8.0, 11.5, 15.0]) and np.allclose(hi, [12.0, 18.5, 25.0])
    assert _own_interval(rows, "episode_return", np.array([0.0]), np.array([0.0])) == (None, None)


def test_mean_ci_by_hand():
    m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    # sd = 1, t_{0.975, 2} = 4.3027, half width = 4.3027 / sqrt(3) = 2.4842
    assert m == 2.0
    assert hi - m == pytest.approx(2.4842, abs=1e-3) and m - lo == pytest.approx(2.4842, abs=1e-3)
    assert mean_ci([5.0]) == (5.0, 5.0, 5.0)


def test_clipped_objective_by_hand():
    from fig_theory import clipped_objective

    eps = 0.2
    # A > 0: r A below 1 + eps, capped at (1 + eps) A above it
    assert clipped_objective(0.5, 1.0, eps) == pytest.approx(0.5)
    assert clipped_objective(1.1, 1.0, eps) == pytest.approx(1.1)
    assert clipped_objective(1.5, 1.0, eps) == pytest.approx(1.2)
    # A < 0: floor at (1 - eps) A for small r, unclipped (pessimistic) r A for large r
    assert clipped_objective(0.5, -1.0, eps) == pytest.approx(-0.8)
    assert clipped_objective(1.5, -2.0, eps) == pytest.approx(-3.0)
    assert clipped_objective(1.0, 3.0, eps) == pytest.approx(3.0)


def test_gaussian_fisher_natural_gradient():
    """F = E[score score^T] of N(mu, sigma^2) in (mu, sigma) is diag(1/s^2, 2/s^2)."""
    from fig_theory import grad_J, natural_grad_J

    mu, s = 0.3, 0.7
    x = np.random.default_rng(0).normal(mu, s, 400_000)
    score = np.stack([(x - mu) / s**2, -1 / s + (x - mu) ** 2 / s**3])
    F = score @ score.T / x.size
    np.testing.assert_allclose(F, np.diag([1 / s**2, 2 / s**2]), rtol=0.02, atol=0.02)
    g = np.array(grad_J(mu, s, 1.0, 0.4))
    np.testing.assert_allclose(natural_grad_J(mu, s, 1.0, 0.4), np.linalg.solve(np.diag([1 / s**2, 2 / s**2]), g))


def _fixture(claim_id, verdict):
    return {
        "claim_id": claim_id, "claim": f"claim text {claim_id}", "source": "tutorial", "verdict": verdict,
        "measured_text": f"measured {claim_id} 1.0 [0.5, 1.5]", "settings": {"env": "CartPole-v1"},
        "seeds": [0, 1], "hardware": {"device": "cpu", "jax_version": "x"}, "scale": "cpu",
        "figure": f"figures/{claim_id}.png", "seconds": 3.0,
    }


def test_report_from_fixture_results(tmp_path, capsys):
    import make_report

    res = tmp_path / "results"
    res.mkdir()
    json.dump(_fixture("claimA", "agrees"), open(res / "claimA.json", "w"))
    json.dump(_fixture("claimB", "pending"), open(res / "claimB.json", "w"))
    out = tmp_path / "REPORT.md"
    assert make_report.main(["--results", str(res), "--out", str(out)]) == 0
    text = out.read_text()
    assert "claim text claimA" in text and "claim text claimB" in text
    assert "**AGREES**" in text and "**PENDING**" in text
    assert "figures/claimA.png" in text and "measured claimA 1.0 [0.5, 1.5]" in text
    assert text.index("## claimA") < text.index("## claimB")
    assert make_report.main(["--results", str(tmp_path / "none"), "--out", str(out)]) == 2


def test_gao_functional_forms_fit_recovers_coefficients():
    import rlhf_scaling

    d = np.array([0.0, 0.3, 0.7, 1.2, 2.0, 3.1])
    a, b = rlhf_scaling.fit_bon(d, d * (0.8 - 0.3 * d))
    assert a == pytest.approx(0.8, abs=1e-9) and b == pytest.approx(0.3, abs=1e-9)
    # RL form d (alpha - beta log d); the d = 0 point is dropped (log 0).
    a, b = rlhf_scaling.fit_rl(d, d * (0.5 - 0.2 * np.log(np.maximum(d, 1e-12))))
    assert a == pytest.approx(0.5, abs=1e-9) and b == pytest.approx(0.2, abs=1e-9)


def test_mc_variance_score_and_reward_to_go_by_hand():
    import claim11_mc_variance as c11
    import jax
    import jax.numpy as jnp

    # Reward-to-go of -1 per alive step: alive for 3 of 4 steps, gamma 0.5:
    # G_2 = -1, G_1 = -1 + 0.5 * -1 = -1.5, G_0 = -1 + 0.5 * -1.5 = -1.75, G_3 = 0 (masked).
    traj = {"alive": jnp.array([[1.0], [1.0], [1.0], [0.0]])}
    assert np.allclose(np.asarray(c11.reward_to_go(traj, 0.5))[:, 0], [-1.75, -1.5, -1.0, 0.0])
    # The exact per-episode gradient (e_a - pi) phi^T equals autodiff of log softmax(W phi).
    w = jnp.array([[0.3, -0.2, 0.1], [0.0, 0.5, -0.4], [-0.7, 0.2, 0.9]])
    obs = jnp.array([[[-0.5, 0.02]], [[-0.4, -0.03]]])  # [T=2, B=1, 2]
    act = jnp.array([[2], [0]])
    adv = jnp.array([[1.5], [-2.0]])
    one = {"obs": obs, "action": act, "alive": jnp.ones((2, 1))}
    phi = c11.policy_features(obs)

    def surrogate(w):
        logp = jax.nn.log_softmax(phi @ w.T)
        return jnp.sum(adv * jnp.take_along_axis(logp, act[..., None], -1)[..., 0])

    g = jax.grad(surrogate)(w).reshape(-1)
    two = jax.tree.map(lambda x: jnp.concatenate([x, x], 1), one)
    adv2 = jnp.concatenate([adv, -adv], 1)
    # Two episodes with gradients g and -g: variance per parameter 2 g^2, over B = 2.
    expected = float(jnp.sum(2 * g**2) / 2)
    assert float(c11.trace_var(two, w, adv2)) == pytest.approx(expected, rel=1e-5)


def test_scaling_extra_column_merges_only_with_same_settings(tmp_path):
    import rlhf_scaling

    cell = {"alpha": {"mean": 1.0}, "beta": {"mean": 0.1}}
    settings = {"sft_steps": 400, "rm_epochs": 2, "best_of_n_max": 64, "rl": {"updates": 20}}
    extra = {"settings": settings, "seeds": [0, 1],
             "tables": {"best_of_n": {"d64xL2/50000": cell}, "rm_gold_accuracy": {"d64xL2/50000": 0.8}}}
    (tmp_path / "rlhf_scaling_extra_50000.json").write_text(json.dumps(extra))
    other = dict(extra, settings=dict(settings, rm_epochs=4))
    (tmp_path / "rlhf_scaling_extra_9.json").write_text(json.dumps(other))
    tables = {"best_of_n": {"d64xL2/500": cell}, "rm_gold_accuracy": {"d64xL2/500": 0.7}}
    merged = rlhf_scaling.merge_extra(str(tmp_path), settings, [0, 1], tables)
    assert merged == ["rlhf_scaling_extra_50000.json"]
    assert rlhf_scaling.counts_of(tables["best_of_n"], (64, 2)) == [500, 50000]
    assert rlhf_scaling.merge_extra(str(tmp_path), settings, [0, 1, 2], {}) == []


def test_claim6_rounds_interleave():
    """(claim 6's verdict is tested three ways in test_verdicts.py)"""
    import claim6_throughput as c6

    order = []
    rates = c6.interleaved_rates({1: lambda: order.append(1), 16: lambda: order.append(16)},
                                 {1: 10, 16: 160}, rounds=3)  # fmt: skip
    assert order == [1, 16, 1, 16, 1, 16] and all(len(r) == 3 for r in rates.values())
    assert all(r > 0 for r in rates[16])
