"""Cold and warm ``jaxpg`` commands: what a rerun saves with the compilation cache.

Each case runs twice as a fresh process with the same new, empty cache directory
(``--compile-cache``): *cold* (nothing cached: every program is traced, lowered and
compiled by XLA, then written) and *warm* (a second process, the same command: XLA's
compilation is read from the cache; tracing and lowering still run). Recorded per
run: the process's wall time and CPU seconds (user + system, all its threads: the
figure to read on a shared machine), the load average around it, and what the command
itself says: for ``jaxpg train`` each program's trace / lower / compile seconds,
the training time and the cache's lookups / hits / writes (``summary.json``); for
``jaxpg sweep`` its compile and run seconds (``results.json``); for ``jaxpg rlhf``
its stages' seconds (``summary.json``). For sweep and rlhf the trace / lower / compile
split is JAX's own time spans of all their compilations (the ``compile_cache`` entry),
and rlhf's "run" is its wall minus those. "Startup" is the process wall minus the
command's own wall: Python, imports, jax's start.

Cases (the commands' defaults unless said): ``jaxpg train`` (PPO on CartPole-v1),
``jaxpg train --env Pendulum-v1``, ``jaxpg train --env brax/fast``, ``jaxpg sweep
--seeds 8``, ``jaxpg rlhf``.

    python experiments/bench_compile.py                      # every case, ~20 min on 2 cores
    python experiments/bench_compile.py --cases train_cartpole --smoke   # quick look
    python experiments/bench_compile.py --small --tag small  # brax/fast and rlhf smaller (SMALL)

Writes ``experiments/results/bench_compile_<platform>.json`` and ``.md`` (not with
``--smoke``, which writes under ``--results`` only when given).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from experiments.bench_brax import hardware  # noqa: E402
from jaxpg.runner.logging import write_json  # noqa: E402

CASES = {
    "train_cartpole": ["train"],
    "train_pendulum": ["train", "--env", "Pendulum-v1"],
    "train_brax_fast": ["train", "--env", "brax/fast"],
    "sweep_8_seeds": ["sweep", "--seeds", "8", "--no-plot"],
    "rlhf": ["rlhf", "--no-plot"],
}
# --smoke: the same commands, tiny budgets (code paths only, not figures).
# --small: the cases too long for a 2-core CPU at their defaults, at a stated smaller size
# (the same programs' structure; brax/fast's default is 50M steps x 2048 envs).
SMALL = {
    "train_brax_fast": ["--total-timesteps", "262144", "--num-envs", "256"],
    "rlhf": ["--sft-steps", "200", "--rm-epochs", "1", "--rl-updates", "10"],
}
SMOKE = {
    "train": ["--total-timesteps", "4096", "--num-envs", "8"],
    "sweep": ["--total-timesteps", "4096", "--num-envs", "8"],
    "rlhf": ["--sft-steps", "20", "--rm-epochs", "1", "--rl-updates", "2"],
}


def command_wall(kind: str, out: str) -> tuple[float | None, dict]:
    """The command's own wall time and its breakdown, read from what it wrote."""
    if kind == "train":
        s = json.load(open(os.path.join(out, "summary.json")))
        split = {k: sum(p[k] for p in s["programs"].values()) for k in ("trace_s", "lower_s", "compile_s")}
        programs = {name: p for name, p in s["programs"].items()}
        return s["wall_time_s"], {**split, "run_s": s["train_time_s"], "programs": programs,
                                  "compile_cache": s["compile_cache"], "return": s["episode_return"],
                                  "eval_return": s.get("eval_return"), "eval_walls": eval_walls(out)}  # fmt: skip
    if kind == "sweep":
        s = json.load(open(os.path.join(out, "results.json")))
        compile_s = sum(t.get("compile_time_s", 0.0) for t in s["timings"])
        run_s = sum(t.get("run_time_s", 0.0) for t in s["timings"])
        # The sweep's own compile time is trace + lower + XLA together; the split is JAX's.
        return compile_s + run_s, {**jax_split(s), "sweep_compile_s": compile_s, "run_s": run_s,
                                   "timings": s["timings"], "compile_cache": s.get("compile_cache")}  # fmt: skip
    s = json.load(open(os.path.join(out, "summary.json")))
    split = jax_split(s)
    # rlhf's stages (SFT, reward model, RL) each compile and run: "run" is what is left
    # of the command's wall after all tracing, lowering and XLA compilation.
    total = s["wall_s"]["total_s"]
    return total, {**split, "run_s": total - sum(split.values()), "stages_s": s["wall_s"],
                   "compile_cache": s.get("compile_cache")}  # fmt: skip


def jax_split(s: dict) -> dict:
    """Trace / lower / XLA-compile wall seconds of all the command's compilations, from
    JAX's own time spans (``compile_cache`` entry of what the command wrote)."""
    cc = s.get("compile_cache") or {}
    return {k: cc[k] for k in ("trace_s", "lower_s", "compile_s") if k in cc}


def eval_walls(out: str) -> list[tuple[float, float]]:
    """``(wall_time_s, eval_return)`` of each logged in-program evaluation."""
    rows = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl")) if line.strip()]
    return [(r["wall_time_s"], r["eval_return"]) for r in rows if "eval_return" in r]


def wall_to(walls: list, target: float) -> float | None:
    """Seconds from the command's start to the first evaluation at or above ``target``."""
    return next((w for w, ret in walls if ret >= target), None)


def run_once(args: list[str], cache: str, out: str, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "jaxpg", *args, "--out", out, "--compile-cache", cache]
    if args[0] == "train":
        cmd.append("--quiet")
    load0, loads0 = os.getloadavg()[0], os.getloadavg()
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "load_before": load0}
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    # The child's user + system CPU seconds (all its threads): on a shared machine the
    # wall clock also measures the neighbours; CPU seconds mostly do not.
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]}
    own, detail = command_wall(args[0], out)
    return {"process_wall_s": wall, "process_cpu_s": cpu, "command_wall_s": own, "startup_s": wall - own, **detail,
            "load_before": load0, "load_after": os.getloadavg()[0], "loadavg_1_5_15_before": loads0,
            "loadavg_1_5_15_after": os.getloadavg(), "nice": os.nice(0)}  # fmt: skip


def run_case(name: str, args: list[str], timeout: float, log) -> dict:
    """``jaxpg ARGS`` cold, then warm (a second process on the same new cache)."""
    with tempfile.TemporaryDirectory(prefix="bench_compile_") as tmp:
        cache = os.path.join(tmp, "cache")
        cold = run_once(args, cache, os.path.join(tmp, "cold"), timeout)
        log(f"{name} cold: {_brief(cold)}")
        warm = run_once(args, cache, os.path.join(tmp, "warm"), timeout)
        log(f"{name} warm: {_brief(warm)}")
    res = {"command": "jaxpg " + " ".join(args), "cold": cold, "warm": warm}
    if "error" not in cold and "error" not in warm:
        res["warm_over_cold_wall"] = warm["process_wall_s"] / cold["process_wall_s"]
        res["warm_over_cold_cpu"] = warm["process_cpu_s"] / cold["process_cpu_s"]
    return res


def _brief(r: dict) -> str:
    if "error" in r:
        return f"error: {r['error']}"
    parts = [f"wall {r['process_wall_s']:.1f} s", f"CPU {r['process_cpu_s']:.1f} s", f"startup {r['startup_s']:.1f} s"]
    parts += [f"{k[:-2]} {r[k]:.1f} s" for k in ("trace_s", "lower_s", "compile_s", "run_s") if k in r]
    cc = r.get("compile_cache") or {}
    parts.append(f"cache hits {cc.get('hits')}, written {cc.get('written')}; load {r['load_before']:.1f}")
    return ", ".join(parts)


def to_markdown(doc: dict) -> str:
    lines = [
        "# Cold and warm jaxpg commands (compilation cache)",
        "",
        f"Hardware: {doc['hardware']}. Load average (1 min) before each run is in the table: "
        "on a shared machine the walls include the neighbours' work.",
        "",
        f"Commit {doc.get('commit')}, started {doc.get('started')}" + (f"; {doc['note']}" if doc.get("note") else "") + ".",
        "",
        "| case | run | process wall s | process CPU s | startup s | trace s | lower s | XLA compile s | run s | "
        "cache lookups / hits / written | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    f = lambda r, k: f"{r[k]:.1f}" if isinstance(r.get(k), (int, float)) else "-"
    for name, c in doc["cases"].items():
        for which in ("cold", "warm"):
            r = c[which]
            if "error" in r:
                lines.append(f"| {name} | {which} | error: {r['error']} |")
                continue
            cc = r.get("compile_cache") or {}
            lines.append(
                f"| {name} | {which} | {f(r, 'process_wall_s')} | {f(r, 'process_cpu_s')} | {f(r, 'startup_s')} | "
                f"{f(r, 'trace_s')} | {f(r, 'lower_s')} | {f(r, 'compile_s')} | {f(r, 'run_s')} | "
                f"{cc.get('lookups')} / {cc.get('hits')} / {cc.get('written')} | {r['load_before']:.1f} |"
            )
    lines.append("")
    for name, c in doc["cases"].items():
        lines.append(f"- {name}: `{c['command']}`")
    lines.append("")
    for name, c in doc["cases"].items():
        if "warm_over_cold_wall" in c:
            lines.append(f"- {name} (`{c['command']}`): warm / cold process wall {c['warm_over_cold_wall']:.2f}x, "
                         f"process CPU s {c['warm_over_cold_cpu']:.2f}x")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    p.add_argument("--smoke", action="store_true", help="tiny budgets: the code paths, not figures")
    p.add_argument("--small", action="store_true",
                   help="brax/fast and rlhf at the smaller sizes in SMALL (recorded in each case's command)")
    p.add_argument("--tag", default="", help="results file bench_compile_<platform>_<tag>")
    p.add_argument("--results", default=None, help="directory for the results (default experiments/results)")
    p.add_argument("--timeout-s", type=float, default=1200.0, help="per process")
    p.add_argument("--note", default="", help="recorded with the results (machine, load)")
    a = p.parse_args(argv)
    log = lambda msg: print(msg, flush=True)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    doc = {"hardware": hardware(), "note": a.note, "smoke": a.smoke, "small": a.small, "commit": commit, "cases": {},
           "started": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
    results = a.results or (None if a.smoke else os.path.join(HERE, "results"))
    stem = None
    if results:
        os.makedirs(results, exist_ok=True)
        stem = os.path.join(results, f"bench_compile_{doc['hardware']['platform']}" + (f"_{a.tag}" if a.tag else ""))
    for name in a.cases:
        args = CASES[name] + (SMOKE[CASES[name][0]] if a.smoke else SMALL.get(name, []) if a.small else [])
        doc["cases"][name] = run_case(name, args, a.timeout_s, log)
        if stem:  # rewritten after every case: a cut-off run keeps what it measured
            write_json(stem + ".json", doc)
            with open(stem + ".md", "w") as fh:
                fh.write(to_markdown(doc))
    print(to_markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
