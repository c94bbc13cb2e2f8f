"""Run every claim script, then write REPORT.md.

    python experiments/run_all.py              # CPU size (about 10-15 min of CPU time on 2 uncontended cores, by the per-script timings)
    python experiments/run_all.py --scale      # GPU size: more seeds, longer budgets
    python experiments/run_all.py --only claim2_gae claim8_defaults

Each script runs in its own process (a fresh compile cache, no memory carried
over) and writes ``results/<claim>.json`` and its figure; a script that fails is
reported and the others still run.
"""

from __future__ import annotations

import argparse
import os
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
    "claim9_rlhf",
    "claim10_trpo_kl",
    "claim11_mc_variance",
    "claim12_halfcheetah_wallclock",
    "rlhf_scaling",
    "rlhf_algorithms",
)


def run_claims(scale: bool = False, only=None, seeds: int | None = None) -> list[str]:
    """Run the scripts; return the names of those that failed."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    failed = []
    for name in only or SCRIPTS:
        cmd = [sys.executable, os.path.join(HERE, f"{name}.py")]
        if scale and name != "fig_theory":
            cmd.append("--scale")
        if seeds and name != "fig_theory":
            cmd += ["--seeds", str(seeds)]
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        r = subprocess.run(cmd, cwd=HERE, env=env)
        print(f"== {name}: {'ok' if r.returncode == 0 else 'FAILED'} in {time.perf_counter() - t0:.0f} s", flush=True)
        if r.returncode:
            failed.append(name)
    return failed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", action="store_true", help="GPU-sized runs")
    p.add_argument("--only", nargs="*", choices=SCRIPTS, help="run only these scripts")
    p.add_argument("--seeds", type=int, default=None, help="override every script's number of seeds")
    a = p.parse_args()
    failed = run_claims(a.scale, a.only, a.seeds)
    sys.path.insert(0, HERE)
    import make_report

    rc = make_report.main([])
    if failed:
        print(f"run_all: {len(failed)} script(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
