"""Bad input to every subcommand: one line on stderr, exit status 2, nothing already
written lost. Each case fails before any training program is compiled (in-process,
through ``jaxpg.cli.main``, so a case costs milliseconds)."""

import contextlib
import io
import json
import os
import time

import pytest

from jaxpg import cli, envs
from jaxpg.config import HParams, TrainConfig, parse_int

ROWS = [{"update": u, "env_steps": 32 * u, "episode_return": 10.0 * u} for u in (1, 2, 3)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run directories as a finished, a damaged and a half-written run leave them."""
    root = tmp_path_factory.mktemp("bad")
    envs.make("CartPole-v1")  # the env stack's one-time imports, outside the cases' timing
    config = {"config": TrainConfig().to_dict(), "hparams": HParams().to_dict(), "seed": 0}

    def make(name, config_json=config, metrics=ROWS, params=b"\x82\xa6params\x81"):
        d = root / name
        d.mkdir()
        (d / "config.json").write_text(json.dumps(config_json))
        if metrics is not None:
            text = metrics if isinstance(metrics, str) else "".join(json.dumps(r) + "\n" for r in metrics)
            (d / "metrics.jsonl").write_text(text)
        if params is not None:
            (d / "params.msgpack").write_bytes(params)  # truncated: a map of 2 with 1 entry
        (d / "eval.json").write_text('{"kept": true}')
        return str(d)

    return {
        "RUN": make("run"),
        "EMPTY": make("empty", metrics=""),
        "LIST": make("list", config_json=[]),
        "MIDDLE": make("middle", metrics='{"update": 1}\n{"upd\n{"update": 3}\n'),
        "TORN": make("torn", metrics="".join(json.dumps(r) + "\n" for r in ROWS) + '{"update": 4, "env'),
        "ROOT": str(root),
    }


BAD = [
    # integers are bounded before conversion (1e10000000 used to take minutes)
    (["train", "--seed", "1e30"], "Error parsing --seed: '1e30' is too large (at most 30 digits)"),
    (["train", "--seed", "1e29"], "invalid seed=100000000000000000000000000000: must be at most"),
    (["train", "--seed", "4294967296"], "invalid seed=4294967296: must be at most 4,294,967,295"),
    (["train", "--total-timesteps", "1e5000"], "'1e5000' is too large"),
    (["train", "--seed", "1e5000"], "'1e5000' is too large"),
    (["train", "--num-envs", "1e5000"], "'1e5000' is too large"),
    (["train", "--total-timesteps", "1e10000000"], "'1e10000000' is too large"),
    (["train", "--num-envs", "9" * 5000], "is too large"),
    (["train", "--out", ""], "--out is empty"),
    # config rules (moved from real processes in test_cli.py / test_sweep.py)
    (["train", "--env", "CartPol-v1"], "CartPole-v1"),
    (["train", "--num-minibatches", "3"], "num_minibatches"),
    (["train", "--lr", "-0.1"], "lr"),
    (["train", "--total-timesteps", "10"], "total_timesteps"),
    (["train", "--total-timesteps", "1.5"], "not a whole number"),
    (["train", "--num-envs", "1e-3"], "--num-envs"),
    (["train", "--algo", "npg", "--cg-damping", "0"], "cg_damping"),
    # a continuous head on discrete actions used to train a softmax silently
    (["train", "--policy", "tanh-gaussian"], "CartPole-v1 has 2 discrete actions"),
    (["train", "--state-dependent-std"], "drop --state-dependent-std"),
    (["sweep", "--grid", "lr"], "grid"),
    (["sweep", "--grid", "learning_rate=1e-3"], "unknown field"),
    (["sweep", "--sample", "lr=gauss:1:2"], "loguniform"),
    (["sweep", "--static", "num_envs=a"], "num_envs"),
    (["sweep", "--grid", "lr=1e-3", "--sample", "lr=uniform:1e-4:1e-3"], "not both"),
    (["sweep", "--max-batch", "0"], "max_batch"),
    (["sweep", "--grid", "lr=,"], "no values for lr"),
    (["sweep", "--static", "num_envs=,"], "no values for num_envs"),
    (["sweep", "--seeds", "0"], "invalid seeds=0"),
    (["sweep", "--seed", "4294967295", "--seeds", "2"], "seed + seeds - 1 must be at most"),
    (["sweep", "--out", ""], "--out is empty"),
    (["sweep", "--bogus", "1"], "Unrecognized options: --bogus"),
    (["eval", "RUN"], "RUN/params.msgpack is unreadable"),
    (["render", "RUN"], "RUN/params.msgpack is unreadable"),
    (["eval", "RUN", "--max-steps", "-5"], "invalid max_steps=-5"),
    (["render", "RUN", "--max-steps", "0"], "invalid max_steps=0"),
    (["eval", "RUN", "--episodes", "abc"], "Error parsing --episodes: 'abc' is not a number"),
    (["eval", "RUN", "--episodes", "0"], "invalid episodes=0"),
    (["eval"], "Missing from jaxpg eval: RUN_DIR"),
    (["eval", "ROOT/nosuch"], "no run directory ROOT/nosuch"),
    (["render", "RUN", "--bogus", "1"], "Unrecognized options: --bogus"),
    (["render", "RUN", "--out", ""], "--out is empty"),
    (["plot", "EMPTY"], "EMPTY/metrics.jsonl has no rows yet"),
    (["plot", "MIDDLE"], "MIDDLE/metrics.jsonl line 2 is not JSON"),
    (["plot", "RUN", "--x", "nosuch"], "--x 'nosuch' is not in RUN/metrics.jsonl; have "),
    (["plot", "RUN", "--metric", "nosuch"], "--metric 'nosuch' is not in"),
    (["plot", "LIST"], "LIST/config.json holds no run config"),
    (["plot", "RUN", "--out", "/proc/nope/x.png"], "cannot write /proc/nope/x.png"),
    (["plot", "RUN", "--bogus"], "Unrecognized options: --bogus"),
    (["rlhf", "--algo", "bogus"], "Expected one of ('ppo', 'grpo', 'dr-grpo', 'rloo', 'reinforce++')"),
    (["rlhf", "--bogus", "1"], "Unrecognized options: --bogus"),
]


def _cli(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(argv)
    return rc, err.getvalue().strip()


@pytest.mark.parametrize("argv,needle", BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_bad_input_one_line_exit_2(runs, tmp_path, argv, needle):
    argv = [runs.get(a, a.replace("ROOT", runs["ROOT"])) for a in argv]
    if argv[0] in ("train", "sweep") and "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    for name, path in runs.items():
        needle = needle.replace(name + "/", path + "/") if name != "ROOT" else needle.replace(name, path)
    t0 = time.perf_counter()
    rc, text = _cli(argv)
    assert (rc, len(text.splitlines())) == (2, 1), text
    assert "Traceback" not in text and needle in text, text
    assert time.perf_counter() - t0 < 30  # no compile, no ten-million-digit integer
    assert not os.path.exists(tmp_path / "out")  # refused before anything was written
    with open(os.path.join(runs["RUN"], "eval.json")) as f:
        assert json.load(f) == {"kept": True}  # eval refused before overwriting eval.json


def test_rlhf_existing_out_does_not_suggest_resume(runs):
    rc, text = _cli(["rlhf", "--out", runs["RUN"]])
    assert rc == 2 and "already holds a run" in text and "--resume" not in text


def test_plot_reads_up_to_a_torn_last_line(runs, tmp_path):
    """A run being written (or killed mid-line) ends in a torn line: plot what is complete."""
    out = tmp_path / "c.png"
    rc, text = _cli(["plot", runs["TORN"], "--out", str(out)])
    assert rc == 0 and out.stat().st_size > 0, text


@pytest.mark.parametrize("text", ["1e30", "-1e30", "1e10000000", "9" * 5000])
def test_parse_int_bounds_before_converting(text):
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="too large"):
        parse_int(text)
    assert time.perf_counter() - t0 < 1.0
    assert parse_int("9" * 30) == 10**30 - 1
