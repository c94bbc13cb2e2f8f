import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxpg.config import MAX_SEED, HParams, TrainConfig
from jaxpg.errors import ConfigError, JaxpgError
from jaxpg.metrics import EpisodeSums
from jaxpg.sweep import (
    agent_curves,
    bootstrap_ci,
    build_settings,
    compiled_bytes,
    estimate_agent_bytes,
    final_returns,
    hparam_settings,
    iqm,
    parse_grid,
    parse_sample,
    parse_static,
    run_agents,
    run_sweep,
    stack_hparams,
)
from jaxpg.sweep.job import SweepSpec
from jaxpg.sweep.outdir import prepare
from jaxpg import RunOptions, make_train, preset
from jaxpg.cli import sweep as cli_sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Small enough to compile in seconds on a CPU; 3 updates.
TINY = TrainConfig(
    env="CartPole-v1", num_envs=4, num_steps=16, total_timesteps=3 * 64,
    update_epochs=1, num_minibatches=2, hidden_sizes=(16,),
)  # fmt: skip


# ----------------------------------------------------------------- parsing


def test_parse_grid_accepts_hyphens_and_lists():
    g = parse_grid(["lr=1e-4,3e-4", "clip-eps=0.1,0.2,0.3"])
    assert g == {"lr": (1e-4, 3e-4), "clip_eps": (0.1, 0.2, 0.3)}


@pytest.mark.parametrize(
    "item,needle",
    [("lr", "FIELD=VALUE"), ("lr=", "FIELD=VALUE"), ("nope=1", "unknown field"),
     ("lr=1,x", "not a number"), ("lr=nan", "finite")],
)  # fmt: skip
def test_parse_grid_errors(item, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_grid([item])


def test_parse_grid_rejects_duplicates():
    with pytest.raises(ConfigError, match="twice"):
        parse_grid(["lr=1e-3", "lr=1e-4"])


def test_parse_sample_and_draws_in_bounds():
    s = parse_sample(["lr=loguniform:1e-5:1e-2", "clip_eps=uniform:0.1:0.3"])
    points = hparam_settings({"gamma": (0.9, 0.99)}, s, num_samples=50, sample_seed=3)
    assert len(points) == 2 * 50
    lrs = np.array([p["lr"] for p in points])
    assert lrs.min() >= 1e-5 and lrs.max() <= 1e-2
    # log-uniform: about half the draws below the geometric midpoint 10^-3.5
    assert 0.25 < np.mean(lrs < 10**-3.5) < 0.75
    assert all(0.1 <= p["clip_eps"] <= 0.3 for p in points)
    assert points == hparam_settings({"gamma": (0.9, 0.99)}, s, 50, sample_seed=3)


@pytest.mark.parametrize(
    "item", ["lr=normal:0:1", "lr=uniform:1", "lr=loguniform:0:1", "lr=uniform:2:1"]
)
def test_parse_sample_errors(item):
    with pytest.raises(ConfigError):
        parse_sample([item])


def test_parse_static_types():
    s = parse_static(["num_envs=4,16", "hidden_sizes=32x32,64", "normalize_obs=true,false"])
    assert s == {
        "num_envs": (4, 16),
        "hidden_sizes": ((32, 32), (64,)),
        "normalize_obs": (True, False),
    }
    with pytest.raises(ConfigError, match="num_envs"):
        parse_static(["num_envs=four"])
    with pytest.raises(ConfigError, match="unknown field"):
        parse_static(["lr=1e-3"])  # a float hparam is a --grid, not a static choice


def test_build_settings_validates_every_setting():
    with pytest.raises(ConfigError, match="lr"):
        build_settings(TINY, HParams(), {"lr": (1e-3, -1.0)}, {}, 0, {})
    with pytest.raises(ConfigError, match="num_minibatches"):
        build_settings(TINY, HParams(), {}, {}, 0, {"num_minibatches": (3,)})
    settings = build_settings(TINY, HParams(), {"lr": (1e-3, 1e-4)}, {}, 0, {"num_envs": (4, 8)})
    assert len(settings) == 4 and len({s.config for s in settings}) == 2


# -------------------------------------------------------------- statistics


def test_iqm_and_bootstrap():
    # middle 50% of 1..8 is 3, 4, 5, 6
    assert iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)
    assert iqm(np.array([1.0, 2.0, 3.0, 1000.0])) == pytest.approx(2.5)
    lo, hi = bootstrap_ci(np.arange(1.0, 9.0))
    assert lo < 4.5 < hi and hi - lo < 4
    assert bootstrap_ci(np.full(5, 2.0)) == (2.0, 2.0)
    assert all(np.isnan(bootstrap_ci(np.array([1.0]))))


def test_curves_forward_fill_and_final_window():
    metrics = EpisodeSums(
        # agent 0 finishes episodes in updates 1 and 3; agent 1 in every update
        episode_return_sum=np.array([[0, 30, 0, 50, 0], [10, 20, 30, 40, 50]], float),
        episode_count=np.array([[0, 2, 0, 1, 0], [1, 1, 1, 1, 1]], float),
    )
    c = agent_curves(metrics)
    assert np.isnan(c[0, 0])
    np.testing.assert_allclose(c[0, 1:], [15, 15, 50, 50])
    np.testing.assert_allclose(c[1], [10, 20, 30, 40, 50])
    # window 0.4 of 5 updates = last 2 updates
    np.testing.assert_allclose(final_returns(metrics, 0.4), [50, 45])
    assert np.isnan(final_returns(metrics, 0.2)[0])  # no episode in the last update


def test_compiled_bytes_reports_xla_memory():
    x = np.ones((256, 256), np.float32)
    compiled = jax.jit(lambda a: (a @ a).sum(0)).lower(x).compile()
    assert compiled_bytes(compiled) >= x.nbytes  # at least its argument


def test_agent_bytes_estimate_grows_with_envs():
    small = estimate_agent_bytes(TINY, make_train(TINY))
    big_cfg = TINY.replace(num_envs=64, total_timesteps=3 * 64 * 16)
    big = estimate_agent_bytes(big_cfg, make_train(big_cfg))
    assert 0 < small < big


# ------------------------------------------------------------- execution


def test_chunked_vmapped_agents_equal_single_runs():
    """5 agents (lr 1e-3 on seeds 0-2, lr 3e-3 on seeds 0-1) in chunks of 2 (last one padded)."""
    hp = stack_hparams([HParams(lr=1e-3)] * 3 + [HParams(lr=3e-3)] * 2)
    keys = jax.numpy.stack([jax.random.PRNGKey(i) for i in (0, 1, 2, 0, 1)])
    res = run_agents(TINY, keys, hp, max_batch=2)
    assert res.num_chunks == 3 and res.chunk_size == 2
    assert res.metrics["episode_count"].shape == (5, 3)
    train = jax.jit(make_train(TINY))
    for i, lr in [(1, 1e-3), (4, 3e-3)]:  # middle of chunk 0, the padded last chunk
        _, m = train(keys[i], HParams(lr=lr).as_arrays())
        for name in ("policy_loss", "episode_return_sum", "value_loss", "kl"):
            np.testing.assert_allclose(res.metrics[name][i], m[name], rtol=2e-4, atol=1e-5)
    # a different learning rate on the same seed changes the run
    assert not np.allclose(res.metrics["policy_loss"][0], res.metrics["policy_loss"][3])


# ------------------------------------------------------------------- CLI


def jaxpg(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "jaxpg", *args], capture_output=True, text=True, timeout=timeout,
        env=env,
    )  # fmt: skip


def test_sweep_cli_writes_results(tmp_path):
    out = tmp_path / "sw"
    r = jaxpg(
        "sweep", "--num-steps", "16", "--total-timesteps", "256", "--update-epochs", "1",
        "--num-minibatches", "2", "--hidden-sizes", "16", "--seeds", "2",
        "--grid", "lr=1e-3,3e-3", "--static", "num_envs=4,8", "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert {"results.json", "results.md", "best.json", "curves.json", "curves.csv", "curves.png"} <= set(
        os.listdir(out)
    )
    res = json.load(open(out / "results.json"))
    assert len(res["settings"]) == 4 and sum(s["best"] for s in res["settings"]) == 1
    for s in res["settings"]:
        f = s["final_return"]
        # the summary is computed from the per-seed values it lists (CartPole pays >= 1 per
        # episode, so a bare "> 0" could not fail)
        # (a seed with no episode finished in the last updates is NaN and left out)
        per_seed = np.asarray(f["per_seed"], float)
        finite = per_seed[np.isfinite(per_seed)]
        assert len(per_seed) == 2 and finite.size >= 1 and np.all(finite >= 1)
        # ... and no more than one episode can pay: its length, at most the steps each env
        # took (256 / num_envs), so a per-seed value that sums episodes instead of
        # averaging them fails here
        assert np.all(finite <= 256 / s["static"]["num_envs"]), (s["name"], finite)
        assert f["mean"] == pytest.approx(finite.mean(), rel=1e-6)
    # "best" is the setting with the highest IQM over its seeds (NaN ranks last)
    rank = lambda s: s["final_return"]["iqm"] if np.isfinite(s["final_return"]["iqm"]) else -np.inf
    best = max(res["settings"], key=rank)
    assert best["best"] and res["best"] == best["name"]
    assert [t["static"]["num_envs"] for t in res["timings"]] == [4, 8]
    md = open(out / "results.md").read()
    assert "num_envs=4 [static]" in md and "IQM" in md
    curves = json.load(open(out / "curves.json"))
    # 256 steps: 4 updates of 4 x 16 steps, 2 updates of 8 x 16 steps
    assert len(curves["num_envs=4 lr=0.001"]["mean"]) == 4
    assert len(curves["num_envs=8 lr=0.003"]["mean"]) == 2
    best = json.load(open(out / "best.json"))
    assert best["name"] == res["best"] and "config" in best and "hparams" in best

    # The same sweep from Python, RunOptions(resume=True) on the CLI's directory: every
    # group is already done, so nothing trains (no compile) and the results are the CLI's.
    cfg = preset("ppo", "CartPole-v1").config.replace(
        num_steps=16, total_timesteps=256, update_epochs=1, num_minibatches=2, hidden_sizes=(16,))
    spec = SweepSpec(cfg, preset("ppo", "CartPole-v1").hparams, grid={"lr": (1e-3, 3e-3)},
                     static={"num_envs": (4, 8)}, seeds=2)  # fmt: skip
    again = run_sweep(spec, RunOptions(out_dir=str(out), resume=True, progress=False, plot=False))
    assert [s.final["per_seed"] for s in again.settings] == [
        s["final_return"]["per_seed"] for s in res["settings"]
    ]
    assert again.best.name == res["best"]


def test_run_sweep_checks_its_options_before_writing(tmp_path):
    """run_sweep takes the RunOptions of run/run_pbt and refuses what a sweep does not do,
    before anything is written; a sweep started from Python is resumed from Python."""
    out = str(tmp_path / "sw")
    spec = SweepSpec(TINY, HParams(), grid={"lr": (1e-3, 3e-3)}, seeds=2)
    for options, needle in [
        (RunOptions(out_dir=out, checkpoint_every=2), "checkpoint_every"),
        (RunOptions(out_dir=out, wandb_project="p"), "wandb"),
        (RunOptions(out_dir=out, watchdog=object()), "watchdog"),
        (RunOptions(out_dir=out, seed=MAX_SEED), "seed"),  # seed 1 would be MAX_SEED + 1
        (RunOptions(resume=True), "out_dir"),
    ]:
        with pytest.raises(JaxpgError, match=needle):
            run_sweep(spec, options)
    for bad, needle in [(dict(seeds=0), "seeds"), (dict(max_batch=0), "max_batch"),
                        (dict(sample={"lr": parse_sample(["lr=uniform:1e-4:1e-3"])["lr"]}), "not both"),
                        (dict(grid={"lr": (1e-3, -1.0)}), "lr")]:  # fmt: skip
        with pytest.raises(ConfigError, match=needle):
            run_sweep(spec.__class__(**{**spec.__dict__, **bad}), RunOptions(out_dir=out))
    assert not os.path.exists(out)
    prepare(out, None, resume=False, overwrite=False).release()  # what run_sweep(spec, RunOptions(out_dir=out)) saves
    with pytest.raises(JaxpgError, match="started from Python"):
        cli_sweep.saved_argv(["--resume", out])


def test_sweep_bad_input_is_one_line_exit_2_from_a_real_process(tmp_path):
    """One case through a real process; the others run in-process (tests/test_bad_input.py)."""
    r = jaxpg("sweep", "--grid", "learning_rate=1e-3", "--out", str(tmp_path / "x"))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert "unknown field" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
