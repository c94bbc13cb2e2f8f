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
    assert summary["compile_cache"]["lookups"] >= 2  # on by default (here: the session's temp dir)


def test_bad_input_is_one_line_exit_2_from_a_real_process(tmp_path):
    """One case through a real process (exit status, nothing else on stderr: no import
    warning, no traceback); every other bad input is checked in-process, which costs
    milliseconds instead of a Python + JAX start-up (tests/test_bad_input.py)."""
    r = jaxpg("train", "--env", "CartPol-v1", "--out", str(tmp_path / "x"), "--quiet")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "CartPole-v1" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / "x")


def test_train_accepts_integers_as_people_type_them(tmp_path):
    """--total-timesteps 1e6 failed with "invalid literal for int()" before."""
    out = tmp_path / "run"
    # The run of test_train_writes_run_directory, spelled differently: its programs are
    # read back from the session's compilation cache.
    r = jaxpg("train", "--total-timesteps", "8.192e3", "--num-envs", "8", "--num-steps", "1_28",
              "--out", str(out), "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr
    config = json.load(open(out / "config.json"))["config"]
    assert config["total_timesteps"] == 8192 and config["num_steps"] == 128


@pytest.mark.parametrize("text,value", [("1e6", 10**6), ("5E7", 5 * 10**7), ("1_000_000", 10**6),
                                        ("2.5e5", 250_000), (" 42 ", 42), ("12345678901234567890", 12345678901234567890)])
def test_parse_int_accepts(text, value):
    from jaxpg.config import parse_int

    assert parse_int(text) == value and isinstance(parse_int(text), int)


@pytest.mark.parametrize("text", ["1.5", "1e-3", "abc", "inf", "nan", ""])
def test_parse_int_refuses(text):
    from jaxpg.config import parse_int

    with pytest.raises(ValueError, match="number"):
        parse_int(text)


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


def test_done_line_says_when_no_training_episode_finished():
    """Long episodes (Snake, Craftax) can outlast a short run: the done line says so,
    with the evaluation's return, instead of printing 'return nan'."""
    from jaxpg.cli.train import _final_return_text

    assert _final_return_text({"episode_return": 487.25, "eval_return": 500.0}) == "return 487.2"
    assert _final_return_text({"episode_return": None, "eval_return": 0.0625}) == (
        "no training episode finished yet (eval return 0.06)")
    assert _final_return_text({"episode_return": float("nan"), "eval_return": None}) == (
        "no training episode finished yet")
