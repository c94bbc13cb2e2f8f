"""Health monitor (synthetic rows and a real collapsing run) and gradient variance."""

import io
import json
import os

import jax
import numpy as np
import pytest

from jaxpg.config import HParams, TrainConfig
from jaxpg.diagnostics import HealthMonitor, gradient_variance
from jaxpg.errors import ConfigError
from jaxpg import RunOptions, run


def _row(update, **kw):
    base = dict(update=update, episode_return=float("nan"), entropy=1.0, log_std_min=-0.5,
                actor_grad_norm=0.5, critic_grad_norm=5.0)  # fmt: skip
    return {**base, **kw}


def test_monitor_warns_once_per_kind_naming_the_update():
    out = io.StringIO()
    mon = HealthMonitor(stream=out)
    rows = [
        _row(1),  # healthy; NaN episode_return (no episode finished) is not a failure
        _row(2, log_std_min=-6.0),
        _row(3, log_std_min=-7.0, actor_grad_norm=1e-8),
        _row(4, critic_grad_norm=1e7, entropy=-5.0),
        _row(5, critic_grad_norm=1e8, actor_grad_norm=1e-9),
    ]
    assert all(mon.check(r) is None for r in rows)
    text = out.getvalue()
    assert mon.kinds == {"log_std_collapse", "vanishing_gradients", "exploding_gradients",
                         "entropy_collapse"}  # fmt: skip
    assert text.count("\n") == 4  # once per kind, not once per row
    assert "[log_std_collapse] at update 2" in text
    assert "[vanishing_gradients] at update 3" in text
    assert "[exploding_gradients] at update 4" in text
    assert "[entropy_collapse] at update 4" in text  # Gaussian: 6 nats below the first row


def test_monitor_discrete_entropy_collapse_and_nan_stop():
    mon = HealthMonitor(stream=io.StringIO())
    assert mon.check({"update": 1, "entropy": 0.69, "actor_grad_norm": 0.1}) is None
    assert mon.check({"update": 2, "entropy": 0.001, "actor_grad_norm": 0.1}) is None
    assert mon.kinds == {"entropy_collapse"}
    reason = mon.check({"update": 3, "entropy": 0.5, "value_loss": float("inf"),
                        "actor_grad_norm": float("nan")})  # fmt: skip
    assert reason and "update 3" in reason and "value_loss" in reason and "actor_grad_norm" in reason


def test_collapsing_run_warns_and_nan_run_stops_with_outputs_kept(tmp_path, capsys):
    # A2C on CartPole with a learning rate 1000x too high: the softmax saturates,
    # the policy becomes deterministic and its gradient vanishes.
    cfg = TrainConfig(algo="a2c", total_timesteps=60 * 8 * 64, num_envs=8, num_steps=64,
                      hidden_sizes=(32, 32), anneal_lr=False, updates_per_chunk=3, eval_every=0)  # fmt: skip
    hp = HParams(lr=0.5, ent_coef=0.0, ent_coef_final=0.0, max_grad_norm=1e3)
    result = run(cfg, hp, RunOptions(progress=False))
    err = capsys.readouterr().err
    assert {"entropy_collapse", "vanishing_gradients"} <= set(result.summary["health_warnings"])
    assert "jaxpg health warning [entropy_collapse] at update" in err
    assert result.summary["status"] == "completed"

    # Rewards scaled to overflow float32: the metrics go non-finite, the run stops
    # after its first chunk and still writes its outputs.
    out = str(tmp_path / "run")
    result = run(cfg, hp.replace(lr=1e-3, reward_scale=1e38), RunOptions(out_dir=out, progress=False))
    assert result.summary["status"] == "nonfinite"
    assert result.summary["stop_reason"].startswith("non-finite")
    assert result.summary["updates"] < cfg.num_updates
    with open(os.path.join(out, "summary.json")) as f:
        assert "non-finite" in json.load(f)["stop_reason"]
    assert os.path.getsize(os.path.join(out, "metrics.jsonl")) > 0


def test_gradient_variance_linear_baseline_reduces_variance():
    cfg = TrainConfig(algo="reinforce", num_envs=16, num_steps=100, hidden_sizes=(16,),
                      normalize_advantages=False, num_minibatches=1, update_epochs=1)  # fmt: skip
    hp = HParams(gamma=0.99)
    gv_none = gradient_variance(cfg.replace(baseline="none"), hp, jax.random.PRNGKey(0), 48)
    gv_lin = gradient_variance(cfg.replace(baseline="linear"), hp, jax.random.PRNGKey(0), 48)
    for gv in (gv_none, gv_lin):
        assert gv.samples.shape[0] == 48 and np.isfinite(gv.total_variance)
        assert gv.total_variance == pytest.approx(gv.per_param_variance.sum())
        assert sum(gv.per_leaf.values()) == pytest.approx(gv.total_variance, rel=1e-4)
        assert any("kernel" in k for k in gv.per_leaf)
    # Returns-to-go on CartPole are mostly a function of t: the baseline removes it.
    assert gv_lin.total_variance < 0.75 * gv_none.total_variance
    with pytest.raises(ConfigError):
        gradient_variance(cfg, hp, jax.random.PRNGKey(0), 1)
