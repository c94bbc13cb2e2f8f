"""Run every claim script, then write REPORT.md.

    python experiments/run_all.py              # CPU size (target: under 30 min on a 2-core CPU)
    python experiments/run_all.py --scale      # GPU size: more seeds, longer budgets
    python experiments/run_all.py --only claim2_gae claim8_defaults
    python experiments/run_all.py --only <every script, in another order>   # still a whole run

Each script runs in its own process (a fresh compile cache, no memory carried
over) and writes ``results/<claim>.json`` and its figure; a script that fails is
reported and the others still run. Per-script wall times, their total, the
hardware and the load average go to ``results/run_all_timing_<cpu|gpu>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPTS = (
    "fig_theory",
    "claim1_baseline",
    "claim1b_reinforce_baselines",
    "claim2_gae",
    "claim3_horizon",
    "claim4_natural",
    "claim5_ppo_trpo",
    "claim6_throughput",
    "claim7_entropy",
    "claim8_defaults",
    "rlhf_scaling",  # before claim9: claim9f reads its reward-model accuracies
    "claim9_rlhf",
    "claim10_trpo_kl",
    "claim11_mc_variance",
    "claim12_halfcheetah_wallclock",
    "rlhf_algorithms",
)


def run_claims(scale: bool = False, only=None, seeds: int | None = None) -> tuple[list[str], dict]:
    """Run the scripts; return the names of those that failed and ``{script: seconds}``."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    failed, seconds = [], {}
    for name in only or SCRIPTS:
        cmd = [sys.executable, os.path.join(HERE, f"{name}.py")]
        if scale and name != "fig_theory":
            cmd.append("--scale")
        if seeds and name != "fig_theory":
            cmd += ["--seeds", str(seeds)]
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        r = subprocess.run(cmd, check=False, cwd=HERE, env=env)
        seconds[name] = time.perf_counter() - t0
        print(f"== {name}: {'ok' if r.returncode == 0 else 'FAILED'} in {seconds[name]:.0f} s", flush=True)
        if r.returncode:
            failed.append(name)
    return failed, seconds


def machine() -> dict:
    """What the timings ran on: CPU model, core count, and the load when the run ended."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average_1_5_15min": list(os.getloadavg())}


def write_timing(seconds: dict, failed: list[str], scale: bool, started: str, load_start) -> str:
    """Print the per-script wall times and their total; save them with the machine."""
    total = sum(seconds.values())
    for name, s in seconds.items():
        print(f"{name:32s} {s:8.0f} s{'  FAILED' if name in failed else ''}")
    print(f"{'total':32s} {total:8.0f} s ({total / 60:.1f} min)")
    out = os.path.join(HERE, "results", f"run_all_timing_{'gpu' if scale else 'cpu'}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"scale": "gpu" if scale else "cpu", "started": started,
                   "ended": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": seconds,
                   "total_seconds": total, "failed": failed,
                   "load_average_at_start": list(load_start), "machine": machine()}, f, indent=1)
    print(f"wrote {out}")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", action="store_true", help="GPU-sized runs")
    p.add_argument("--only", nargs="*", choices=SCRIPTS, help="run only these scripts")
    p.add_argument("--seeds", type=int, default=None, help="override every script's number of seeds")
    a = p.parse_args()
    started, load_start = time.strftime("%Y-%m-%d %H:%M:%S"), os.getloadavg()
    failed, seconds = run_claims(a.scale, a.only, a.seeds)
    if not a.only or set(a.only) == set(SCRIPTS):  # a partial run would overwrite the whole run's record
        write_timing(seconds, failed, a.scale, started, load_start)
    else:
        print(f"total {sum(seconds.values()):.0f} s")
    sys.path.insert(0, HERE)
    import make_report

    rc = make_report.main([])
    if failed:
        print(f"run_all: {len(failed)} script(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
