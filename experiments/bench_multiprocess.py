"""One ``jaxpg train`` run over 1, 2 and 4 processes on this machine (jax.distributed on
localhost, gloo CPU collectives): the same global run (same envs, same updates), its
envs split over the processes' devices, timed by each run's own ``summary.json``.

Each process is one CPU device here, and **all processes share this machine's cores**:
on a 2-core machine 4 processes cannot be faster than 1, so the ratio measures the
cost of splitting one run over processes (collectives through loopback, one program
per process), not a speed-up. Across hosts each process brings its own cores or GPU.

    python experiments/bench_multiprocess.py                         # 1, 2, 4 processes
    python experiments/bench_multiprocess.py --processes 1 2 --total-timesteps 65536
    python experiments/bench_multiprocess.py --sweep --processes 1 2 --eval-every 1   # jaxpg sweep

:func:`multi_device` is ``gpu_suite.py``'s part for a machine with several GPUs (1 vs N
devices in one process).

``--sweep`` times ``jaxpg sweep`` instead (its agents split over the processes; train
and compile seconds from its ``results.json``); ``--code DIR`` times the jaxpg found
in ``DIR`` (an older checkout, for a before/after comparison).

Writes ``experiments/results/bench_multiprocess_<device>.json`` and ``.md`` (``--tag``
adds a suffix; ``--sweep`` adds ``_sweep``). Steps/s is the run's training rate
(compile excluded); wall is the whole command, start-up and compile included.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from experiments.common import write_record

RESULTS = os.path.join(ROOT, "experiments", "results")
DISTRIBUTED = ("JAXPG_COORDINATOR", "JAXPG_NUM_PROCESSES", "JAXPG_PROCESS_ID", "JAXPG_DISTRIBUTED")


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def train_over(n: int, flags: list[str], out_dir: str, timeout_s: float, command: str = "train",
               code: str = ROOT) -> dict:  # fmt: skip
    """``jaxpg <command>`` over ``n`` processes; process 0's summary plus the command's wall time."""
    base = {k: v for k, v in os.environ.items() if k not in DISTRIBUTED}
    base.update(PYTHONPATH=code + os.pathsep + os.environ.get("PYTHONPATH", ""), JAX_PLATFORMS="cpu")
    port, procs = free_port(), []
    t0 = time.perf_counter()
    for i in range(n):
        env = dict(base) if n == 1 else dict(base, JAXPG_COORDINATOR=f"localhost:{port}",
                                             JAXPG_NUM_PROCESSES=str(n), JAXPG_PROCESS_ID=str(i))  # fmt: skip
        quiet = ["--quiet"] if command == "train" else []
        # cwd outside any checkout: `python -m` puts it first on sys.path, before PYTHONPATH (code).
        procs.append(subprocess.Popen([sys.executable, "-m", "jaxpg", command, *flags, *quiet, "--out", out_dir],
                                      cwd=os.path.dirname(out_dir), env=env, text=True, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE))  # fmt: skip
    try:
        outs = [p.communicate(timeout=max(1.0, timeout_s - (time.perf_counter() - t0))) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    wall = time.perf_counter() - t0
    failed = [(i, p.returncode, err[-500:]) for i, (p, (_, err)) in enumerate(zip(procs, outs)) if p.returncode]
    if failed:
        raise RuntimeError(f"{n} process(es): {failed}")
    if command == "sweep":
        return sweep_record(n, out_dir, wall)
    with open(os.path.join(out_dir, "summary.json")) as f:
        s = json.load(f)
    return {"processes": n, "steps_per_s": s["sps"], "train_time_s": s["train_time_s"],
            "compile_time_s": s["compile_time_s"], "command_wall_s": wall, "env_steps": s["env_steps"],
            "episode_return": s["episode_return"], "device": s["device"]}  # fmt: skip


def sweep_record(n: int, out_dir: str, wall: float) -> dict:
    """A sweep's figures (summed over its groups) from its ``results.json``."""
    with open(os.path.join(out_dir, "results.json")) as f:
        r = json.load(f)
    t = r["timings"]
    run_s = sum(x["run_time_s"] for x in t)
    steps = sum(x["steps_per_s"] * x["run_time_s"] for x in t)
    finals = [s["final_return"]["per_seed"] for s in r["settings"]]
    return {"processes": n, "steps_per_s": steps / max(run_s, 1e-9), "train_time_s": run_s,
            "compile_time_s": sum(x["compile_time_s"] for x in t), "command_wall_s": wall, "env_steps": steps,
            "episode_return": _mean([x for f in finals for x in f if x is not None]),
            "final_per_seed": finals}  # fmt: skip


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def to_markdown(doc: dict) -> str:
    lines = [
        (f"# {'A sweep' if doc.get('command') == 'sweep' else 'One run'} over several processes "
         f"(jaxpg {doc.get('command', 'train')} {doc['config']})"),
        "",
        (f"Machine: {doc['machine']}; load average before/after each case in the table. "
         "All processes share the machine's cores: the ratio is the cost of splitting a run "
         "over processes on one machine, not a speed-up."),
        "",
        ("| processes | train steps/s | ratio to 1 | train s | compile s | command wall s | return | "
         "load before -> after |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["runs"]:
        lines.append(f"| {r['processes']} | {r['steps_per_s']:,.0f} | {r['ratio_to_1']:.2f} | "
                     f"{r['train_time_s']:.1f} | {r['compile_time_s']:.1f} | {r['command_wall_s']:.1f} | "
                     f"{r['episode_return']:.1f} | {r['load_before']} -> {r['load_after']} |")  # fmt: skip
    lines += [f"\n{f['processes']} processes: failed ({f['error'][:200]})" for f in doc.get("failed", [])]
    return "\n".join(lines) + "\n"


def multi_device(scale, log) -> dict:
    """``gpu_suite.py``'s part: one run's steady training steps/s with its envs on 1
    device and split over all N visible devices (one process; ``scale.multi_device``, a
    ``suite_scale.MultiDeviceScale``: env, algo, num_envs, num_steps, chunk_updates,
    chunks, config). One device: skipped."""
    import jax

    from jaxpg.presets import preset
    from jaxpg.runner.loop import ChunkPrograms
    from jaxpg.runner.trainer import make_trainer
    from jaxpg.sharding import ENVS, make_mesh, pad_to_multiple, shard_env_axis

    devices = jax.devices()
    if len(devices) < 2:
        return {"skipped": "one device: skipped", "devices": len(devices)}
    s = scale.multi_device
    config, hparams = preset(s.algo, s.env)
    num_envs = pad_to_multiple(s.num_envs, len(devices))
    per_chunk = s.chunk_updates * num_envs * s.num_steps
    config = config.replace(num_envs=num_envs, num_steps=s.num_steps, updates_per_chunk=s.chunk_updates,
                            total_timesteps=(s.chunks + 1) * per_chunk, eval_every=0)  # fmt: skip
    config = s.config(config).validate()
    hp, runs = hparams.as_arrays(), []
    for k in sorted({1, len(devices)}):
        trainer = make_trainer(config)
        programs = ChunkPrograms(trainer)
        state = programs.init(trainer, jax.random.PRNGKey(0), hp)
        state = shard_env_axis(state, num_envs, make_mesh(ENVS, devices[:k]))
        fn = programs.get(state, hp, config.chunk)
        state, _ = fn(state, hp)  # the first chunk: warm-up
        t0 = time.perf_counter()
        for _ in range(s.chunks):
            state, _ = fn(state, hp)  # its metrics come to the host: the chunk is done
        dt = time.perf_counter() - t0
        runs.append({"devices": k, "compile_s": programs.compile_time, "steps_per_s": s.chunks * per_chunk / dt,
                     "env_steps": int(state.env_steps)})  # fmt: skip
        log(f"  {k} device(s): {runs[-1]['steps_per_s']:,.0f} steps/s (compile {programs.compile_time:.1f} s)")
    return {"env": s.env, "algo": config.algo, "num_envs": num_envs, "devices": len(devices), "runs": runs,
            "speedup": runs[-1]["steps_per_s"] / runs[0]["steps_per_s"]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--algo", default="ppo")
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--num-envs", type=int, default=16, help="global envs (a multiple of every process count)")
    p.add_argument("--total-timesteps", type=int, default=131072)
    p.add_argument("--num-steps", type=int, default=None, help="steps per env per update (default: the preset's)")
    p.add_argument("--timeout-s", type=float, default=1500.0, help="per case")
    p.add_argument("--tag", default="", help="suffix of the results files")
    p.add_argument("--sweep", action="store_true", help="time jaxpg sweep (agents split) instead of one run")
    p.add_argument("--seeds", type=int, default=4, help="--sweep: agents (a multiple of every process count)")
    p.add_argument("--eval-every", type=int, default=0, help="updates between in-program evaluations (0: none)")
    p.add_argument("--code", default=ROOT, help="directory whose jaxpg is timed (default: this checkout)")
    a = p.parse_args(argv)
    if any(n < 1 or a.num_envs % n for n in a.processes):
        print(f"error: --num-envs {a.num_envs} must split over every --processes value", file=sys.stderr)
        return 2
    flags = ["--algo", a.algo, "--env", a.env, "--num-envs", str(a.num_envs),
             "--total-timesteps", str(a.total_timesteps), "--eval-every", str(a.eval_every)]  # fmt: skip
    flags += ["--num-steps", str(a.num_steps)] if a.num_steps else []
    command = "sweep" if a.sweep else "train"
    if a.sweep:
        flags += ["--seeds", str(a.seeds), "--no-plot"]
    doc = {"bench": "bench_multiprocess", "command": command, "config": " ".join(flags), "code": a.code,
           "machine": f"{os.cpu_count()} cores", "started": time.strftime("%Y-%m-%d %H:%M:%S"), "runs": [],
           "failed": []}  # fmt: skip
    stem = os.path.join(RESULTS, f"bench_multiprocess_cpu{'_sweep' if a.sweep else ''}{a.tag}")
    with tempfile.TemporaryDirectory(prefix="bench_multiprocess_") as tmp:
        for n in a.processes:
            before = load()
            try:
                r = train_over(n, flags, os.path.join(tmp, f"p{n}"), a.timeout_s, command, a.code)
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:  # recorded; the other cases go on
                doc["failed"].append({"processes": n, "error": str(e)[:500], "load_before": before})
                print(f"{n} process(es): FAILED: {str(e)[:200]}", flush=True)
                continue
            r.update(load_before=before, load_after=load())
            doc["runs"].append(r)
            print(f"{n} process(es): {r['steps_per_s']:,.0f} steps/s, train {r['train_time_s']:.1f} s, "
                  f"compile {r['compile_time_s']:.1f} s, "
                  f"wall {r['command_wall_s']:.1f} s, load {r['load_before']} -> {r['load_after']}", flush=True)
            base = next((x["steps_per_s"] for x in doc["runs"] if x["processes"] == 1), doc["runs"][0]["steps_per_s"])
            for x in doc["runs"]:
                x["ratio_to_1"] = x["steps_per_s"] / base
            write_record(stem + ".json", doc)  # after every case: a cut-off run keeps what it measured
            with open(stem + ".md", "w") as f:
                f.write(to_markdown(doc))
    return 0 if doc["runs"] else 1


if __name__ == "__main__":
    sys.exit(main())
