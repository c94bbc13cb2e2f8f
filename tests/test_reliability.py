"""Reliability: checkpoints and resume, signals, input validation, non-finite guard,
determinism. Tiny configs (a few updates of 4 envs x 8 steps) keep each compile short."""

import contextlib
import gc
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from jaxpg import RunOptions, cli
from jaxpg.algos.update import PGMetrics
from jaxpg.metrics import EpisodeSums, FiniteFlags, Record, Role, UpdateMetrics, metric
from jaxpg import config as config_module
from jaxpg.algos import ALGORITHMS, ppo
from jaxpg.config import HParams, TrainConfig
from jaxpg.errors import JaxpgError
from jaxpg import guard
from jaxpg.runner.checkpoint import Checkpointer
from jaxpg.runner.signals import StopRequest, stop_on_signals
from jaxpg import make_train, make_trainer, run
from jaxpg.runner.rundir import load_run_config, prepare_run_dir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(num_envs=4, num_steps=8, num_minibatches=2, update_epochs=1, hidden_sizes=(8,))
# 8 updates in chunks of 2
CFG = TrainConfig(total_timesteps=4 * 8 * 8, updates_per_chunk=2, **TINY)
HP = HParams(lr=1e-3, critic_lr=1e-3)
TIMING = ("sps", "wall_time_s")


def _rows(path):
    with open(os.path.join(path, "metrics.jsonl")) as f:
        return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in f]


def _same_tree(a, b) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb))


def _steps(run_dir):
    return sorted(int(n) for n in os.listdir(os.path.join(run_dir, "checkpoints")) if n.isdigit())


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """An uninterrupted run with a checkpoint every 2 updates, keeping the last 2."""
    out = str(tmp_path_factory.mktemp("runs") / "full")
    result = run(CFG, HP, RunOptions(seed=3, out_dir=out, progress=False, checkpoint_every=2, keep_checkpoints=2))
    return out, result


def test_checkpoints_keep_last_k_and_final(finished_run):
    out, result = finished_run
    assert result.summary["status"] == "completed"
    assert _steps(out) == [6, 8]  # every 2 updates, the last 2 kept; 8 is the final one
    assert result.summary["checkpoint"].endswith(os.path.join("checkpoints", "8"))
    config, hparams, seed, options = load_run_config(out)
    assert (config, seed, options["keep_checkpoints"]) == (CFG, 3, 2)


def test_interrupted_then_resumed_equals_uninterrupted(finished_run, tmp_path):
    full_dir, full = finished_run
    out = str(tmp_path / "run")

    def interrupt_after_update_4(row):
        if row["update"] == 4:
            os.kill(os.getpid(), signal.SIGINT)  # handled: stop at this chunk boundary

    first = run(CFG, HP, RunOptions(seed=3, out_dir=out, progress=False, checkpoint_every=100), on_row=interrupt_after_update_4)  # fmt: skip
    s = first.summary
    assert (s["status"], s["signal"], s["updates"]) == ("interrupted", "SIGINT", 4)
    assert _steps(out) == [4]
    assert json.load(open(os.path.join(out, "summary.json")))["stop_reason"] == "interrupted by SIGINT"
    # A hard kill after logging past the checkpoint: the resumed run drops that row.
    with open(os.path.join(out, "metrics.jsonl"), "a") as f:
        f.write(json.dumps({"update": 6, "env_steps": 192}) + "\n")

    config, hparams, seed, _ = load_run_config(out)
    resumed = run(config, hparams, RunOptions(seed=seed, out_dir=out, progress=False, resume=True))
    assert resumed.summary["status"] == "completed"
    assert resumed.summary["resumed_from_update"] == 4
    assert _rows(out) == _rows(full_dir)  # bit for bit (CPU), appended, no duplicates
    assert _same_tree(resumed.state, full.state)


def test_resume_refuses_mismatched_or_corrupt_checkpoint(finished_run, tmp_path):
    src, _ = finished_run
    out = str(tmp_path / "copy")
    shutil.copytree(src, out)
    before = {n: open(os.path.join(out, n), "rb").read() for n in ("metrics.jsonl", "summary.json")}

    other_net = CFG.replace(hidden_sizes=(16,))
    # An interrupted write leaves only a temporary directory: never taken as the latest.
    os.makedirs(os.path.join(out, "checkpoints", "10.orbax-checkpoint-tmp-1234", "state"))
    assert Checkpointer(out, create=False).latest() == 8

    with pytest.raises(JaxpgError, match=r"was written for hidden_sizes=\(8,\).*config.json"):
        run(other_net, HP, RunOptions(seed=3, out_dir=out, progress=False, resume=True))
    with pytest.raises(JaxpgError, match="was written for env='CartPole-v1'"):
        run(CFG.replace(env="Acrobot-v1"), HP, RunOptions(seed=3, out_dir=out, progress=False, resume=True))

    # Corrupt every data file of both checkpoints.
    for step in ("8", "6"):
        for root, _, files in os.walk(os.path.join(out, "checkpoints", step, "state")):
            for name in files:
                with open(os.path.join(root, name), "wb") as f:
                    f.write(b"\x00garbage")
    with pytest.raises(JaxpgError, match=r"checkpoint .*6 is unreadable") as err:
        run(CFG, HP, RunOptions(seed=3, out_dir=out, progress=False, resume=True))
    assert "\n" not in str(err.value)
    after = {n: open(os.path.join(out, n), "rb").read() for n in before}
    assert after == before  # nothing overwritten
    assert _steps(out) == [6]  # 8 was tried first, then set aside as 8.unreadable
    assert os.path.isdir(os.path.join(out, "checkpoints", "8.unreadable"))

    shutil.rmtree(os.path.join(out, "checkpoints"))
    with pytest.raises(JaxpgError, match="no checkpoints"):
        run(CFG, HP, RunOptions(seed=3, out_dir=out, progress=False, resume=True))


def test_existing_run_directory_needs_resume_or_overwrite(finished_run, tmp_path):
    src, _ = finished_run
    out = str(tmp_path / "copy")
    shutil.copytree(src, out)
    with pytest.raises(JaxpgError, match="already holds a run: continue it with --resume"):
        run(CFG, HP, RunOptions(seed=3, out_dir=out, progress=False))
    with pytest.raises(JaxpgError, match="contradict"):
        run(CFG, HP, RunOptions(seed=3, out_dir=out, progress=False, resume=True, overwrite=True))
    prepare_run_dir(out, resume=False, overwrite=True).release()
    assert os.listdir(out) == [".lock"]  # the old run's files and checkpoints are gone
    with open(os.path.join(out, "notes.txt"), "w") as f:
        f.write("mine")
    prepare_run_dir(out, resume=False, overwrite=False).release()  # a directory without a run is fine
    assert sorted(os.listdir(out)) == [".lock", "notes.txt"]


def test_same_seed_same_metrics_across_chunk_sizes():
    """Per-update metrics and final state do not depend on how updates are chunked."""
    cfg = CFG.replace(total_timesteps=4 * 8 * 6)
    trainer = make_trainer(cfg)
    hp = HP.as_arrays()
    state0 = jax.jit(trainer.init)(jax.random.PRNGKey(5), hp)
    step = jax.jit(trainer.run_updates, static_argnums=2)

    def chunked(sizes):
        state, out = state0, []
        for n in sizes:
            state, m = step(state, hp, n)
            out.append(jax.device_get(m))
        return state, {k: np.concatenate([m[k] for m in out]) for k in out[0]}

    masked_step = jax.jit(trainer.run_masked, static_argnums=3)

    def masked(sizes, length=4):  # the driver's one program: a last chunk of 2 skips 2 of 4
        state, out = state0, []
        for n in sizes:
            state, m = masked_step(state, hp, np.int32(n), length)
            out.append(jax.tree.map(lambda x: x[:n], jax.device_get(m)))
        return state, {k: np.concatenate([m[k] for m in out]) for k in out[0]}

    whole = jax.jit(make_train(cfg))(jax.random.PRNGKey(5), hp)  # one scan of 6
    for state, metrics in (chunked([3, 3]), masked([4, 2])):
        assert _same_tree(state, whole[0])
        for k, v in metrics.items():
            np.testing.assert_array_equal(v, np.asarray(whole[1][k]), err_msg=k)
    assert np.all(np.asarray(whole[1]["nonfinite"]) == 0)


def _bad_algo(poison_update: int, field: str):
    """PPO whose update from ``poison_update`` on makes ``field`` non-finite."""

    def update(ctx, state, hparams):
        state, metrics = ppo.update(ctx, state, hparams)
        bad = state.update >= poison_update
        if field == "params":
            params = jax.tree.map(lambda p: jnp.where(bad, jnp.nan, p), state.params)
            state = state.replace(params=params)
        else:  # "*_finite" metrics are 1/0 flags; others are values
            poison = 0.0 if field.endswith("_finite") else jnp.inf
            metrics = metrics.with_metrics(**{field: jnp.where(bad, poison, metrics[field])})
        return state, metrics

    return types.SimpleNamespace(init=ppo.init, update=update)


@pytest.mark.parametrize("field,quantity", [("params", "parameters"), ("policy_loss", "loss"),
                                            ("obs_finite", "observations")])
def test_nonfinite_stops_keeps_last_good_checkpoint(monkeypatch, tmp_path, field, quantity):
    monkeypatch.setitem(ALGORITHMS, "ppo_poisoned", _bad_algo(5, field))
    monkeypatch.setattr(config_module, "ALGOS", (*config_module.ALGOS, "ppo_poisoned"))
    out = str(tmp_path / "run")
    cfg = CFG.replace(algo="ppo_poisoned", eval_every=0)  # the guard reads training metrics
    result = run(cfg, HP, RunOptions(out_dir=out, progress=False, checkpoint_every=2))
    s = json.load(open(os.path.join(out, "summary.json")))
    assert s["status"] == "nonfinite"
    assert s["nonfinite"] == {"quantity": quantity, "update": 5}
    assert s["stop_reason"] == f"non-finite {quantity} at update 5"
    assert s["updates"] == 4 and result.summary["updates"] == 4
    assert _steps(out) == [2, 4]  # the chunk holding update 5 was not saved


def test_nonfinite_from_env_and_from_absurd_learning_rate(monkeypatch, capsys, tmp_path):
    from jaxpg.envs import probes

    real = probes.ProbeEnv._reward
    monkeypatch.setattr(probes.ProbeEnv, "_reward", lambda self, s, a: real(self, s, a) * jnp.inf)
    result = run(CFG.replace(env="Probe-Constant-v0"), HP, RunOptions(progress=False))
    assert result.summary["nonfinite"] == {"quantity": "advantages", "update": 1}

    out = str(tmp_path / "lr")
    rc = cli.main(["train", "--lr", "1e30", "--critic-lr", "1e30", "--max-grad-norm", "1e30",
                   "--total-timesteps", "256", "--num-envs", "4", "--num-steps", "8",
                   "--num-minibatches", "2", "--hidden-sizes", "8", "--out", out, "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert len(err.splitlines()) == 1
    assert "stopped: non-finite" in err and "the bad state was not saved" in err
    s = json.load(open(os.path.join(out, "summary.json")))
    assert s["nonfinite"]["quantity"] in ("loss", "gradient", "parameters")


def _jaxpg(*args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "jaxpg", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_guard_reports_earliest_nonfinite_quantity():
    """Causal order: observations > advantages > loss > gradient > parameters."""
    ok = UpdateMetrics(PGMetrics(policy_loss=0.1, actor_grad_norm=1.0), episodes=EpisodeSums(episode_return_sum=0.0),
                       finite=FiniteFlags(obs_finite=1.0, reward_finite=1.0))  # fmt: skip
    params = {"w": jnp.ones(3)}
    state = types.SimpleNamespace(params=params, obs=jnp.zeros(2), obs_stats=(jnp.zeros(2),))

    def code(state=state, **changes):
        return int(guard.nonfinite_code(ok.with_metrics(**changes), state))

    nan_params = types.SimpleNamespace(**{**vars(state), "params": {"w": jnp.full(3, jnp.nan)}})
    nan_obs = types.SimpleNamespace(**{**vars(state), "obs": jnp.full(2, jnp.inf)})
    assert code() == 0
    assert code(nan_params) == guard.PARAMETERS
    assert code(nan_params, actor_grad_norm=jnp.inf) == guard.GRADIENT
    assert code(nan_params, actor_grad_norm=jnp.nan, policy_loss=jnp.nan) == guard.LOSS
    assert code(policy_loss=jnp.nan, reward_finite=0.0) == guard.ADVANTAGES
    assert code(policy_loss=jnp.nan, episode_return_sum=jnp.inf) == guard.ADVANTAGES
    assert code(nan_obs, reward_finite=0.0) == guard.OBSERVATIONS
    assert code(policy_loss=jnp.nan, obs_finite=0.0) == guard.OBSERVATIONS
    # What a metric means is its declared role, not its name.
    odd = struct.dataclass(type("Odd", (Record,), {"__annotations__": {"obs_grad_reward": float},
                                                   "obs_grad_reward": metric(Role.LOSS)}))  # fmt: skip
    assert int(guard.nonfinite_code(ok.replace(algo=odd(obs_grad_reward=jnp.nan)), state)) == guard.LOSS
    assert guard.first_nonfinite(np.array([0, 0, 3, 5])) == (2, "loss")
    assert guard.first_nonfinite(np.array([0, 0])) is None


def test_sigint_in_process_then_resume_from_cli(monkeypatch, capsys, tmp_path):
    """Ctrl-C: stop at the chunk boundary, checkpoint, exit 130; --resume finishes the run."""
    import jaxpg.runner.loop as loop_mod

    real = loop_mod.summarize_chunk
    calls = []

    def summarize_and_interrupt(metrics):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real(metrics)

    monkeypatch.setattr(loop_mod, "summarize_chunk", summarize_and_interrupt)
    out = str(tmp_path / "run")
    flags = ["--total-timesteps", "128", "--num-envs", "4", "--num-steps", "8",
             "--num-minibatches", "2", "--update-epochs", "1", "--hidden-sizes", "8",
             "--updates-per-chunk", "2"]  # fmt: skip
    assert cli.main(["train", *flags, "--out", out, "--quiet"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == (
        f"jaxpg train: interrupted by SIGINT at update 2/4; checkpoint saved; "
        f"resume with: jaxpg train --resume {out}"
    )
    assert _steps(out) == [2]
    assert cli.main(["train", "--resume", out, "--quiet"]) == 0
    s = json.load(open(os.path.join(out, "summary.json")))
    assert (s["status"], s["updates"], s["resumed_from_update"]) == ("completed", 4, 2)
    assert [r["update"] for r in _rows(out)] == [2, 4]


def _two_sigints_inside_a_gc_callback():
    """Two SIGINTs handled while a gc callback runs, as when Ctrl-C lands in jax's
    ``_xla_gc_callback``: an exception raised there is dropped as "unraisable"."""

    def interrupt_twice(phase, info):
        if phase == "start":
            signal.raise_signal(signal.SIGINT)  # runs the Python handler before returning
            signal.raise_signal(signal.SIGINT)

    gc.callbacks.append(interrupt_twice)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(interrupt_twice)


def test_signal_handler_never_raises():
    """A raise from the handler would be dropped if it ran inside a gc callback."""
    request = StopRequest()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            request(signum, None)
        except KeyboardInterrupt:
            pytest.fail("the signal handler raised KeyboardInterrupt")
    assert (request.signum, request.forced) == (signal.SIGINT, True)
    with pytest.raises(KeyboardInterrupt):
        request.check()  # the driver raises, from its own code
    assert StopRequest().check() is None  # no signal: no abort


def test_second_sigint_inside_gc_callback_still_aborts(monkeypatch):
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with stop_on_signals(True) as request:
            _two_sigints_inside_a_gc_callback()
            assert request.signum == signal.SIGINT
    assert [d.exc_type for d in dropped] == []
    assert signal.getsignal(signal.SIGINT) is before


def test_second_sigint_aborts_run_without_final_checkpoint(monkeypatch, tmp_path):
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)
    out = str(tmp_path / "run")

    def interrupt_twice_after_update_2(row):
        if row["update"] == 2:
            _two_sigints_inside_a_gc_callback()

    with pytest.raises(KeyboardInterrupt):
        run(CFG, HP, RunOptions(seed=3, out_dir=out, progress=False, checkpoint_every=100), on_row=interrupt_twice_after_update_2)  # fmt: skip
    assert [d.exc_type for d in dropped] == []
    assert _steps(out) == []  # aborted: the final checkpoint was skipped


def test_sigterm_subprocess_stops_with_checkpoint(tmp_path):
    sig, code = signal.SIGTERM, 143
    out = str(tmp_path / "run")
    # Far more updates than can finish before the signal arrives.
    proc = _jaxpg("train", "--total-timesteps", str(4 * 8 * 100_000), "--num-envs", "4",
                  "--num-steps", "8", "--num-minibatches", "2", "--update-epochs", "1",
                  "--hidden-sizes", "8", "--updates-per-chunk", "5", "--out", out, "--quiet")  # fmt: skip
    metrics = os.path.join(out, "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(metrics) and os.path.getsize(metrics) > 0:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert f"interrupted by {sig.name}" in last and f"jaxpg train --resume {out}" in last
    s = json.load(open(os.path.join(out, "summary.json")))
    assert (s["status"], s["signal"]) == ("interrupted", sig.name)
    assert s["updates"] % 5 == 0 and _steps(out)[-1] == s["updates"]
    assert _rows(out)[-1]["update"] == s["updates"]


BAD_INPUTS = [
    (["--env", "CartPol-v1"], "unknown env 'CartPol-v1'. Did you mean CartPole-v1"),
    (["--num-minibatches", "3"], "invalid num_minibatches=3"),
    (["--num-envs", "abc"], "Error parsing --num-envs"),
    (["--num-envs", "0"], "invalid num_envs=0"),
    (["--bogus", "3"], "Unrecognized options: --bogus"),
    (["--gamma", "1.5"], "invalid gamma=1.5: must be in [0, 1]"),
    (["--lr", "nan"], "invalid lr=nan: must be finite"),
    (["--activation", "sigmoid"], "invalid activation='sigmoid'"),
    (["--hidden-sizes", "0", "64"], "invalid hidden_sizes=(0, 64)"),
    (["--algo", "nosuch"], "invalid algo='nosuch'"),
    (["--backend", "gpu"], "invalid backend='gpu'"),
    (["--ent-schedule", "exp"], "invalid choice 'exp'"),
    (["--total-timesteps", "100000000000"], "invalid total_timesteps=100000000000"),
    (["--log-std-init", "inf"], "invalid log_std_init=inf"),
    (["--checkpoint-every", "0"], "invalid checkpoint_every=0"),
    (["--keep-checkpoints", "0"], "invalid keep_checkpoints=0"),
    (["--seed", "-1"], "invalid seed=-1"),
    (["--resume", "/nonexistent/run"], "no run directory /nonexistent/run"),
    (["--resume"], "--resume needs the run directory"),
    (["--resume", "RUN", "--lr", "0.1"], "with its saved config; drop --lr"),
    (["--out", "RUN"], "already holds a run: continue it with --resume"),
    (["--out", "/proc/nope/run"], "cannot create run directory /proc/nope/run"),
]


@pytest.mark.parametrize("args,needle", BAD_INPUTS)
def test_bad_input_one_line_exit_2(finished_run, args, needle):
    run_dir, _ = finished_run
    args = [run_dir if a == "RUN" else a for a in args]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(["train", *args, "--quiet"])
    text = err.getvalue().strip()
    assert rc == 2
    assert len(text.splitlines()) == 1 and "Traceback" not in text
    assert needle.replace("RUN", run_dir) in text
