"""Faults a run meets before, around and between its checkpoints: real processes and
signals where the behaviour is the process's (exit status, one line, no native crash),
in-process where it is the driver's. Tiny configs keep each compile short."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from jaxpg.config import HParams, TrainConfig
from jaxpg.runner import loop
from jaxpg.runner.rundir import RunLock, complete_checkpoints, prepare_run_dir
from jaxpg import RunOptions, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(num_envs=4, num_steps=8, num_minibatches=2, update_epochs=1, hidden_sizes=(8,))
CFG = TrainConfig(total_timesteps=4 * 8 * 6, updates_per_chunk=2, **TINY)
HP = HParams(lr=1e-3, critic_lr=1e-3)
# A first chunk that cannot finish within any test: the process stays "starting".
FOREVER = ["--total-timesteps", str(2**30), "--updates-per-chunk", "1000000", "--num-envs", "4",
           "--num-steps", "8", "--num-minibatches", "2", "--update-epochs", "1", "--hidden-sizes", "8",
           "--quiet"]  # fmt: skip


_started: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test():
    """A failed assertion must not leave a `jaxpg train` of 1e9 steps running (it would
    take a core from every later test)."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _jaxpg(*args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "jaxpg", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    _started.append(proc)
    return proc


def _wait_for(pred, proc, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not pred():
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    assert pred()


def test_second_process_refused_then_signal_while_starting_leaves_nothing_blocking(tmp_path):
    """Two runs on one --out: the second is refused with one line. The first, signalled
    while it is still compiling its first chunk, exits 143 with one line (before: a
    silent exit, or a native crash under SIGINT) and leaves a directory that the same
    command may start in again (before: refused by both a rerun and --resume)."""
    out = str(tmp_path / "run")
    first = _jaxpg("train", *FOREVER, "--out", out)
    lock = os.path.join(out, ".lock")
    _wait_for(lambda: os.path.exists(os.path.join(out, "config.json")), first)
    second = _jaxpg("train", *FOREVER, "--out", out)
    _, err = second.communicate(timeout=240)
    assert second.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{out} is in use by another jaxpg process (pid {first.pid})" in err

    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 143, err
    assert err.strip().splitlines()[-1] == (
        "jaxpg train: interrupted by SIGTERM while starting; nothing was trained yet; "
        "run the same command again"
    )
    assert "Traceback" not in err and complete_checkpoints(out) == []
    assert open(lock).read().strip() == str(first.pid)  # its lock file stays, but blocks nothing:
    prepare_run_dir(out, resume=False, overwrite=False).release()  # the same command may start again


@pytest.mark.parametrize("after_s", [0.5, 1.5])
def test_sigint_early_in_start_up_one_line_no_native_crash(tmp_path, after_s):
    """Ctrl-C while jax is imported or the backend starts: used to raise inside the
    import (ImportError), be dropped in jax's gc callback (the run went on, exit 0) or
    unwind under XLA's threads (exit 134/139)."""
    proc = _jaxpg("train", *FOREVER, "--out", str(tmp_path / "run"))
    time.sleep(after_s)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if "init_import_site" in err:  # still inside the interpreter's own start-up: not ours
        pytest.skip("the signal came before Python ran any jaxpg code")
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "interrupted by SIGINT while starting" in err, err


def test_failed_start_frees_directory_and_resume_starts_over(monkeypatch, tmp_path):
    """A compile error leaves config.json and an empty checkpoints/: the directory is
    released, and --resume starts the saved config from update 0."""
    out = str(tmp_path / "run")

    def broken(self, state, hp, n):
        raise RuntimeError("XLA compilation failed (simulated)")

    with monkeypatch.context() as m:
        m.setattr(loop.ChunkPrograms, "get", broken)
        with pytest.raises(RuntimeError, match="simulated"):
            run(CFG, HP, RunOptions(seed=1, out_dir=out, progress=False))
    assert os.path.isfile(os.path.join(out, "config.json")) and complete_checkpoints(out) == []
    RunLock(out).release()  # released although the run raised

    resumed = run(CFG, HP, RunOptions(seed=1, out_dir=out, progress=False, resume=True))
    assert resumed.summary["status"] == "completed" and resumed.summary["resumed_from_update"] == 0
    updates = [json.loads(x)["update"] for x in open(os.path.join(out, "metrics.jsonl"))]
    assert updates == [2, 4, 6] and complete_checkpoints(out)[-1] == 6


def test_corrupt_newest_checkpoint_resume_falls_back(tmp_path, capfd):
    """A damaged newest checkpoint is named and the one before it is resumed from."""
    out = str(tmp_path / "run")
    full = run(CFG, HP, RunOptions(seed=2, out_dir=out, progress=False, checkpoint_every=2))
    assert complete_checkpoints(out) == [2, 4, 6]
    expected = open(os.path.join(out, "metrics.jsonl")).read().splitlines()
    for name in ("summary.json", "params.msgpack"):
        os.remove(os.path.join(out, name))  # as a run killed after its last checkpoint
    for root, _, files in os.walk(os.path.join(out, "checkpoints", "6", "state")):
        for name in files:
            open(os.path.join(root, name), "wb").close()  # zero-length data files
    capfd.readouterr()
    resumed = run(CFG, HP, RunOptions(seed=2, out_dir=out, progress=False, resume=True))
    err = capfd.readouterr().err
    assert "checkpoints/6 is unreadable" in err and "resuming from the checkpoint before it" in err
    assert "Traceback" not in err and "Event loop is closed" not in err
    assert resumed.summary["resumed_from_update"] == 4
    strip = lambda lines: [{k: v for k, v in json.loads(x).items() if k not in ("sps", "wall_time_s")}
                           for x in lines]  # fmt: skip
    got = open(os.path.join(out, "metrics.jsonl")).read().splitlines()
    assert strip(got) == strip(expected)
    assert full.summary["episode_return"] == resumed.summary["episode_return"]


def test_disk_full_during_checkpoint_one_line_summary_earlier_checkpoint_intact(monkeypatch, tmp_path):
    """The second checkpoint write fails as tensorstore reports a full disk: one line
    naming the path and the free space, exit 1, summary.json says so, the first
    checkpoint is intact and the failed write's temporary directory is gone."""
    import contextlib
    import io

    import orbax.checkpoint as ocp

    from jaxpg import cli

    real, calls = ocp.CheckpointManager.save, []

    def full_disk(self, step, *args, **kwargs):
        calls.append(step)
        if len(calls) == 2:
            os.makedirs(os.path.join(self.directory, f"{step}.orbax-checkpoint-tmp-1"))
            raise ValueError("RESOURCE_EXHAUSTED: Error writing local file: No space left on device")
        return real(self, step, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", full_disk)
    out = str(tmp_path / "run")
    err = io.StringIO()
    argv = ["train", "--total-timesteps", str(4 * 8 * 6), "--updates-per-chunk", "2", "--num-envs", "4",
            "--num-steps", "8", "--num-minibatches", "2", "--update-epochs", "1", "--hidden-sizes", "8",
            "--checkpoint-every", "2", "--out", out, "--quiet"]  # fmt: skip
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(argv)
    lines = err.getvalue().strip().splitlines()
    assert rc == 1 and len(lines) == 1, lines
    ckpt = os.path.join(out, "checkpoints")
    assert f"cannot write {ckpt}/4: RESOURCE_EXHAUSTED" in lines[0] and "free on its disk" in lines[0]
    assert f"resume with: jaxpg train --resume {out}" in lines[0]
    s = json.load(open(os.path.join(out, "summary.json")))
    assert (s["status"], s["updates"], s["checkpoint"]) == ("write_failed", 4, f"{ckpt}/2")
    assert sorted(os.listdir(ckpt)) == ["2"] and complete_checkpoints(out) == [2]


SWEEP = ["sweep", "--total-timesteps", "512", "--num-steps", "8", "--num-minibatches", "2", "--update-epochs",
         "1", "--hidden-sizes", "8", "--seeds", "2", "--static", "num_envs=4,8", "--no-plot"]  # fmt: skip


@pytest.mark.slow  # 76 s at load 8 on 2 cores: over the default suite's budget
def test_sweep_keeps_finished_groups_on_sigint_and_resumes(tmp_path):
    """SIGINT after the first of two groups: exit 130 with one line, that group on disk;
    --resume trains only the second; the directory is refused to a new sweep."""
    import contextlib
    import io

    from jaxpg import cli

    out = str(tmp_path / "sweep")
    proc = _jaxpg(*SWEEP, "--out", out)
    _wait_for(lambda: os.path.exists(os.path.join(out, "groups", "0.json")), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the second group finished before the signal")  # a fast machine
    assert proc.returncode == 130 and len(err.strip().splitlines()) == 1, err
    assert f"1 of 2 group(s) kept in {out}; continue with: jaxpg sweep --resume {out}" in err
    assert sorted(os.listdir(os.path.join(out, "groups"))) == ["0.json"]

    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(io.StringIO()) as e:
        assert cli.main([*SWEEP, "--out", out]) == 2
    assert "already holds a sweep: continue it with jaxpg sweep --resume" in e.getvalue()
    with contextlib.redirect_stdout(text):
        assert cli.main(["sweep", "--resume", out]) == 0
    assert "(1 of 2 group(s) already done)" in text.getvalue()
    assert "num_envs=4: " not in text.getvalue()  # the finished group was not trained again
    results = json.load(open(os.path.join(out, "results.json")))
    assert [s["name"] for s in results["settings"]] == ["num_envs=4", "num_envs=8"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _distributed_env(port, n, i, **extra):
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                JAX_PLATFORMS="cpu", JAXPG_COORDINATOR=f"localhost:{port}", JAXPG_NUM_PROCESSES=str(n),
                JAXPG_PROCESS_ID=str(i), **extra)  # fmt: skip


@pytest.mark.slow  # 151 s at load 8 on 2 cores (three processes compile)
def test_two_process_sweep_one_writer_one_agreed_directory(tmp_path):
    """2 processes on localhost, default --out: one directory (the name agreed from
    process 0), written by process 0 alone, results equal to a one-process sweep."""
    port = _free_port()
    args = [sys.executable, "-m", "jaxpg", *SWEEP[:-3], "--static", "num_envs=4", "--no-plot"]
    procs = [subprocess.Popen(args, cwd=tmp_path, env=_distributed_env(port, 2, i), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    (name,) = os.listdir(tmp_path / "runs")
    assert "results.md" in outs[0][0] and "results.md" not in outs[1][0]  # only process 0 reports
    two = json.load(open(tmp_path / "runs" / name / "results.json"))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), JAX_PLATFORMS="cpu")
    one = subprocess.run([*args, "--out", str(tmp_path / "one")], env=env, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert one.returncode == 0, one.stderr
    one = json.load(open(tmp_path / "one" / "results.json"))
    assert [s["final_return"]["per_seed"] for s in two["settings"]] == [
        s["final_return"]["per_seed"] for s in one["settings"]
    ]


def test_missing_peer_one_line_within_timeout(tmp_path):
    """Only process 0 of 2 started: one line and exit 1 after JAXPG_DISTRIBUTED_TIMEOUT
    (before: 300 s of silence, then exit 134 with a C++ DEADLINE_EXCEEDED stack)."""
    env = _distributed_env(_free_port(), 2, 0, JAXPG_DISTRIBUTED_TIMEOUT="3")
    r = subprocess.run([sys.executable, "-m", "jaxpg", *SWEEP, "--out", str(tmp_path / "s")], env=env,
                       capture_output=True, text=True, timeout=240)  # fmt: skip
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "not all 2 processes joined" in r.stderr and "within 3 s" in r.stderr
    assert not os.path.exists(tmp_path / "s")  # nothing written before the peers joined
