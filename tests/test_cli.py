import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def jaxpg(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "jaxpg", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_train_writes_run_directory(tmp_path):
    out = tmp_path / "run"
    r = jaxpg("train", "--total-timesteps", "8192", "--num-envs", "8", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert {"config.json", "metrics.jsonl", "summary.json"} <= set(os.listdir(out))
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(out))
    rows = [json.loads(line) for line in open(out / "metrics.jsonl")]
    assert rows and {"env_steps", "episode_return", "sps", "policy_loss", "value_loss"} <= set(rows[0])
    summary = json.load(open(out / "summary.json"))
    for k in ("episode_return", "env_steps", "wall_time_s", "compile_time_s", "sps", "jax_version", "device"):
        assert k in summary
    assert summary["env_steps"] == 8192
    assert json.load(open(out / "config.json"))["config"]["env"] == "CartPole-v1"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--env", "CartPol-v1"], "CartPole-v1"),
        (["--num-minibatches", "3"], "num_minibatches"),
        (["--lr", "-0.1"], "lr"),
        (["--total-timesteps", "10"], "total_timesteps"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, args, needle):
    r = jaxpg("train", *args, "--out", str(tmp_path / "x"), "--quiet")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_help_lists_fields():
    r = jaxpg("train", "--help")
    assert r.returncode == 0
    for flag in ("--total-timesteps", "--num-envs", "--lr", "--clip-eps", "--seed", "--out"):
        assert flag in r.stdout


def test_wandb_logger_without_the_package_is_a_clear_error(monkeypatch, tmp_path):
    from jaxpg.errors import JaxpgError
    from jaxpg.runner.logging import RunLogger

    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    with pytest.raises(JaxpgError, match="pip install wandb"):
        RunLogger(str(tmp_path / "w"), tensorboard=False, wandb_project="jaxpg")
