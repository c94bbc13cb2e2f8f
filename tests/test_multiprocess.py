"""One ``jaxpg train`` run over two processes on localhost (jax.distributed, gloo CPU
collectives): real subprocesses, a free port, and a deadline after which each process
prints every thread's stack and exits, so a hang fails fast and says where it hung."""

import json
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
from flax import serialization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The checks are about who computes and writes what, not speed: XLA's CPU backend
# optimizations are turned down, which makes compiling (most of the time here) faster.
FAST_XLA = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
DEADLINE_S = 420  # generous: a loaded 2-core machine compiles ~10x slower than an idle one
# `python -m jaxpg`, with all threads' stacks dumped to stderr and exit 1 at the deadline.
LAUNCH = ("import faulthandler, runpy, sys; faulthandler.dump_traceback_later(float(sys.argv[1]), exit=True); "
          "sys.argv = ['jaxpg', *sys.argv[2:]]; runpy.run_module('jaxpg', run_name='__main__')")  # fmt: skip
# CI size: a2c (one gradient step per update, so the program is small), 4 envs split
# 2 + 2, two chunks of two updates, a collective checkpoint after each; no evaluation.
TRAIN = ["train", "--algo", "a2c", "--env", "CartPole-v1", "--num-envs", "4", "--num-steps", "8",
         "--total-timesteps", "128", "--hidden-sizes", "8", "--updates-per-chunk", "2",
         "--checkpoint-every", "2", "--eval-every", "0", "--quiet"]  # fmt: skip
# Slow: PPO (minibatches and epochs) with in-program evaluation, then a resume.
TRAIN_PPO = ["train", "--algo", "ppo", "--env", "CartPole-v1", "--num-envs", "4", "--num-steps", "16",
             "--total-timesteps", "768", "--num-minibatches", "2", "--update-epochs", "1", "--hidden-sizes", "8",
             "--updates-per-chunk", "4", "--checkpoint-every", "4", "--eval-every", "4", "--num-eval-envs", "2",
             "--quiet"]  # fmt: skip
TIMING = {"sps", "wall_time_s"}
DISTRIBUTED = ("JAXPG_COORDINATOR", "JAXPG_NUM_PROCESSES", "JAXPG_PROCESS_ID", "JAXPG_DISTRIBUTED")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in DISTRIBUTED}  # only what `extra` says
    return {**env, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "JAX_PLATFORMS": "cpu",
            "XLA_FLAGS": FAST_XLA, **extra}


def _start(args, cwd, env):
    return subprocess.Popen([sys.executable, "-c", LAUNCH, str(DEADLINE_S), *args], cwd=cwd, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _finish(procs) -> list[tuple[str, str]]:
    outs = [p.communicate(timeout=DEADLINE_S + 60) for p in procs]
    for i, (p, (out, err)) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, f"process {i} exit {p.returncode}\n{out[-2000:]}\n{err[-6000:]}"
    return outs


def _rows(run_dir) -> list[dict]:
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in f]


def _two_processes(args, cwd):
    port = _free_port()
    return [_start(args, cwd, _env(JAXPG_COORDINATOR=f"localhost:{port}", JAXPG_NUM_PROCESSES="2",
                                   JAXPG_PROCESS_ID=str(i))) for i in range(2)]  # fmt: skip


def _assert_same_run(two, one, updates):
    """Equal metrics rows (timing aside) and final parameters (bit-identical on the
    machine this was written on; a tolerance for reductions split differently)."""
    rows2, rows1 = _rows(two), _rows(one)
    assert [r["update"] for r in rows2] == updates and [r["update"] for r in rows1] == updates
    for a, b in zip(rows2, rows1):
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], float | int) and isinstance(b[k], float | int):
                np.testing.assert_allclose(a[k], b[k], rtol=1e-5, err_msg=k)
            else:
                assert a[k] == b[k], k  # None where a metric was not measured (no evaluation)
    p2, p1 = (serialization.msgpack_restore((d / "params.msgpack").read_bytes()) for d in (two, one))
    leaves2, leaves1 = sorted(_leaves(p2)), sorted(_leaves(p1))
    assert [n for n, _ in leaves2] == [n for n, _ in leaves1]
    for (name, x), (_, y) in zip(leaves2, leaves1):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7, err_msg=name)


def test_two_process_train_equals_one_process(tmp_path):
    """2 processes x 1 CPU device, 4 envs split 2 + 2: one run directory (the default
    name, agreed from process 0), written by process 0 alone, checkpoints written by
    both (orbax), and the same metrics rows and final parameters as one process with
    the same 4 envs."""
    procs = _two_processes(TRAIN, tmp_path)
    one = _start([*TRAIN, "--out", str(tmp_path / "one")], tmp_path, _env())
    (out0, _), (out1, err1), _ = _finish([*procs, one])
    (name,) = os.listdir(tmp_path / "runs")  # the name is process 0's, not one per process
    two = tmp_path / "runs" / name
    assert "(2 processes, 2 devices)" in out0 and "done: return" in out0
    assert "done: return" not in out1 and "done: return" in err1  # the others: stderr only
    assert sorted(os.listdir(two / "checkpoints")) == ["2", "4"]
    summary = json.loads((two / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["env_steps"] == 128
    _assert_same_run(two, tmp_path / "one", [2, 4])


@pytest.mark.slow  # four programs compile, two of them twice (about 5 min at load 20 on 2 cores)
def test_two_process_ppo_with_evaluation_resumes_like_one_process(tmp_path):
    """PPO (shuffled minibatches) with in-program evaluation over 2 processes equals one
    process; with its last checkpoint and outputs removed, a 2-process --resume reads
    the collective checkpoint back (each process its own envs) and ends the same."""
    two, one = tmp_path / "two", tmp_path / "one"
    _finish([*_two_processes([*TRAIN_PPO, "--out", str(two)], tmp_path),
             _start([*TRAIN_PPO, "--out", str(one)], tmp_path, _env())])  # fmt: skip
    _assert_same_run(two, one, [4, 8, 12])
    assert all(np.isfinite(r["eval_return"]) for r in _rows(two))
    shutil.rmtree(two / "checkpoints" / "12")
    for name in ("summary.json", "params.msgpack"):
        (two / name).unlink()
    _finish(_two_processes(["train", "--resume", str(two), "--quiet"], tmp_path))
    assert json.loads((two / "summary.json").read_text())["resumed_from_update"] == 8
    _assert_same_run(two, one, [4, 8, 12])


# Six updates: checkpoints at 2, 4 and 6.
TRAIN6 = [("192" if a == "128" else a) for a in TRAIN]


def _two_processes_env(args, cwd, **extra):
    port = _free_port()
    return [_start(args, cwd, _env(JAXPG_COORDINATOR=f"localhost:{port}", JAXPG_NUM_PROCESSES="2",
                                   JAXPG_PROCESS_ID=str(i), **extra)) for i in range(2)]  # fmt: skip


@pytest.mark.slow  # two processes compile and run (1-4 min at load 20-30 on 2 cores)
@pytest.mark.parametrize("fault", ["metrics:4", "checkpoint:4"])
def test_write_failure_on_process_0_stops_both_processes_with_one_line(tmp_path, fault):
    """Process 0 cannot write update 4's metrics row (both processes agree on it at the
    chunk's end and stop there, before the checkpoint), or its part of update 4's
    checkpoint (it stops alone, at once; process 1, inside that collective write, fails
    there when process 0 is gone): each exits 1 with one line, neither waits for the
    other; checkpoint 2 is intact and the summary says how the run ended."""
    out = tmp_path / "r"
    procs = _two_processes_env([*TRAIN6, "--out", str(out)], tmp_path, JAXPG_TEST_WRITE_FAULT=fault)
    outs = [p.communicate(timeout=DEADLINE_S + 60) for p in procs]
    for i, (p, (_, err)) in enumerate(zip(procs, outs)):
        assert "Timeout (" not in err, f"process {i} hung:\n{err[-6000:]}"  # faulthandler's deadline
        assert p.returncode == 1 and "Traceback" not in err, f"process {i} exit {p.returncode}\n{err[-4000:]}"
        stops = [x for x in err.strip().splitlines() if x.startswith("jaxpg train: stopped")]
        assert len(stops) == 1 and err.strip().splitlines()[-1] == stops[0], err
    line0 = outs[0][1].strip().splitlines()[-1]
    line1 = outs[1][1].strip().splitlines()[-1]
    assert "No space left on device (JAXPG_TEST_WRITE_FAULT)" in line0 and "checkpoints/2 intact" in line0
    if fault.startswith("metrics"):
        assert line1 == line0  # the same agreed line on both
    assert sorted(os.listdir(out / "checkpoints")) == ["2"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "write_failed" and summary["updates"] == (4 if fault.startswith("checkpoint") else 2)


@pytest.mark.slow  # two processes compile and run, twice (2-6 min at load 20-30 on 2 cores)
def test_two_process_resume_falls_back_together_past_a_damaged_checkpoint(tmp_path):
    """The newest checkpoint's data files zeroed: a 2-process --resume names it on both
    processes, sets it aside, and both continue from the one before; the run ends with
    the same rows as before the damage. (Damage that only one process meets is the unit
    test above: at this size orbax keeps the small per-process arrays inline in the
    merged index, so no file is one process's alone.)"""
    two = tmp_path / "two"
    _finish(_two_processes_env([*TRAIN6, "--out", str(two)], tmp_path))
    expected = _rows(two)
    assert sorted(os.listdir(two / "checkpoints")) == ["2", "4", "6"]
    for name in ("summary.json", "params.msgpack"):
        (two / name).unlink()  # as a run killed after its last checkpoint
    damaged = 0
    for root, _, files in os.walk(two / "checkpoints" / "6" / "state"):
        for name in files:
            open(os.path.join(root, name), "wb").close()
            damaged += 1
    assert damaged
    outs = _finish(_two_processes_env(["train", "--resume", str(two), "--quiet"], tmp_path))
    for _, err in outs:
        assert "checkpoints/6 is unreadable" in err and "resuming from the checkpoint before it" in err, err
    assert json.loads((two / "summary.json").read_text())["resumed_from_update"] == 4
    assert (two / "checkpoints" / "6.unreadable").is_dir() and (two / "checkpoints" / "6").is_dir()
    assert _rows(two) == expected


def _leaves(tree, prefix=""):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _leaves(v, f"{prefix}/{k}")
    else:
        yield prefix, np.asarray(tree)


def test_train_missing_peer_one_line_within_timeout(tmp_path):
    """Only process 0 of 2 started: one line and exit 1 after JAXPG_DISTRIBUTED_TIMEOUT
    (jax alone: 300 s of silence, then exit 134 with a C++ DEADLINE_EXCEEDED stack)."""
    env = _env(JAXPG_COORDINATOR=f"localhost:{_free_port()}", JAXPG_NUM_PROCESSES="2", JAXPG_PROCESS_ID="0",
               JAXPG_DISTRIBUTED_TIMEOUT="3")  # fmt: skip
    r = subprocess.run([sys.executable, "-m", "jaxpg", *TRAIN, "--out", str(tmp_path / "r")], env=env,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "not all 2 processes joined" in r.stderr and "within 3 s" in r.stderr
    assert not os.path.exists(tmp_path / "r")  # nothing written before the peers joined


@pytest.mark.slow  # two programs compile (1 and 2 devices)
def test_gpu_suite_multi_device_part_on_two_cpu_devices():
    """gpu_suite.py's multi_device part where more than one device is visible (2 CPU
    devices here; the default smoke run has one and checks that it is skipped)."""
    code = ("import json; from experiments import bench_multiprocess as b; from experiments.gpu_suite import SMOKE; "
            "print('RESULT' + json.dumps(b.multi_device(SMOKE, print)))")  # fmt: skip
    env = _env(XLA_FLAGS=FAST_XLA + " --xla_force_host_platform_device_count=2")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(next(x for x in r.stdout.splitlines() if x.startswith("RESULT"))[len("RESULT"):])
    assert doc["devices"] == 2 and [x["devices"] for x in doc["runs"]] == [1, 2]
    assert all(x["steps_per_s"] > 0 and x["env_steps"] == 3 * 2 * 8 * 8 for x in doc["runs"]) and doc["speedup"] > 0


def test_host_agreement_helpers_in_one_process():
    """With one process each helper is the plain operation (no collective, no jax.distributed)."""
    from jaxpg.errors import JaxpgError
    from jaxpg.sharding import (
        agree_on_stop,
        check_envs_divide,
        combine_stops,
        is_primary,
        primary_first,
    )

    assert is_primary() and primary_first(lambda a, b: a + b, 2, 3) == 5
    assert agree_on_stop(15, "x") == (15, "x") and agree_on_stop() == (0, "")
    # Several processes' reports: the largest signal, the first error in process order.
    assert combine_stops([(0, ""), (15, ""), (2, "")]) == (15, "")
    assert combine_stops([(0, ""), (0, "process 1: cannot write"), (0, "later")]) == (0, "process 1: cannot write")
    check_envs_divide(3)  # one process: any number of envs (an uneven split stays unsharded)
    with pytest.raises(JaxpgError, match="boom"):
        primary_first(lambda: (_ for _ in ()).throw(JaxpgError("boom")))


def test_sigterm_while_waiting_for_peers_exits_even_with_stderr_gone(tmp_path):
    """A process whose stderr reader has died (a launcher killed first) and that is still
    waiting for its peers: SIGTERM ends it at once with exit 143. (It used to ignore the
    signal: writing the one line raised BrokenPipeError in the thread that exits.)"""
    import signal
    import time

    env = _env(JAXPG_COORDINATOR=f"localhost:{_free_port()}", JAXPG_NUM_PROCESSES="2", JAXPG_PROCESS_ID="0",
               JAXPG_DISTRIBUTED_TIMEOUT="120")  # fmt: skip
    p = subprocess.Popen([sys.executable, "-m", "jaxpg", *TRAIN, "--out", str(tmp_path / "r")], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        time.sleep(6)  # in jax.distributed.initialize, waiting for process 1 (never started)
        p.stderr.close()
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_processes_fall_back_together_when_one_cannot_read_the_newest_checkpoint():
    """The fall-back rule of a multi-process resume, with two simulated processes (threads
    meeting at a barrier in place of the collective): process 1 cannot read its part of
    step 8, process 0 can; both go back to step 6 (process 0 alone would keep step 8,
    and the two would then run from different states). When no step is readable on
    some process, every process stops with the same line."""
    import threading

    from jaxpg.errors import JaxpgError
    from jaxpg.runner.checkpoint import CorruptCheckpoint, newest_readable
    from jaxpg.sharding import combine_stops

    def simulate(unreadable: list[set[int]], steps=(4, 6, 8)):
        n = len(unreadable)
        texts, results, asides = [""] * n, [None] * n, []
        meet = threading.Barrier(n)

        def agree(pid, text):  # what agree_on_stop does, among threads
            texts[pid] = text
            meet.wait()
            out = combine_stops([(0, t) for t in texts])[1]
            meet.wait()
            return out

        def read(pid, step):
            if step in unreadable[pid]:
                raise CorruptCheckpoint(f"ck/{step}", OSError(f"process {pid}: bad shard"))
            return f"state {step}"

        def process(pid):
            try:
                results[pid] = newest_readable(list(steps), lambda s: read(pid, s), lambda t: agree(pid, t),
                                               lambda s: asides.append((pid, s)) or f"ck/{s}.unreadable",
                                               lambda line: None)  # fmt: skip
            except JaxpgError as e:
                results[pid] = str(e)

        threads = [threading.Thread(target=process, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        return results, sorted(asides)

    assert simulate([set(), set()]) == (["state 8", "state 8"], [])
    results, asides = simulate([set(), {8}])
    assert results == ["state 6", "state 6"] and asides == [(0, 8), (1, 8)]
    results, _ = simulate([{8}, {8, 6}])
    assert results == ["state 4", "state 4"]
    results, _ = simulate([{4, 6, 8}, set()])
    assert results[0] == results[1] and "checkpoint ck/4 is unreadable (OSError: process 0: bad shard)" in results[0]
    assert "no earlier one is readable" in results[0]
