"""Claim 12: PPO needs 2-3 hours of wall clock to solve HalfCheetah-v2 on one GPU with 4 CPU cores.

The claim's setting simulates MuJoCo on 4 CPU cores and trains on the GPU. Ours
simulates Brax's halfcheetah on the GPU itself, inside the compiled training
program, so the measurement is ``experiments/gpu_suite.py``'s ``halfcheetah_ppo``
part (2048 envs, bench_brax's setting, deterministic in-program evaluation), run on
a lent GPU and saved as ``results/gpu_suite_<device>.json``. This script reads the
newest such file (no training here) and turns it into a verdict: wall time, compile
included, until the evaluation return first reached 1000 / 2000 / the best seen,
for our PPO and for Brax's own PPO trainer measured in the same run.

Brax's halfcheetah is not Gym's HalfCheetah-v2 (other dynamics and reward scale),
so "solved" (4800 on Gym's env) has no exact counterpart: the verdict says so.
Without a GPU result there is nothing to judge and the record says "pending" (no
measurement); with one, :func:`verdict` returns agrees, partly or disagrees.
"""

from __future__ import annotations

import glob
import json
import os

import claims
import common

NAME = "claim12_halfcheetah_wallclock"
CLAIM = ("PPO requires 2-3 hours of wall-clock time to solve HalfCheetah-v2 on a single GPU with 4 CPU "
         "cores for parallel rollouts.")  # fmt: skip
SOURCE = "article, 'Timing Benchmarks'"
LEVELS = (1000.0, 2000.0)
CLAIM_LOW_S = 2 * 3600.0
CLAIM_HIGH_S = 3 * 3600.0


def newest_gpu_suite(results_dir: str) -> tuple[str, dict] | None:
    """The newest non-smoke GPU suite file that has the halfcheetah comparison, if any."""
    found = []
    for path in glob.glob(os.path.join(results_dir, "gpu_suite_*.json")):
        with open(path) as f:
            doc = json.load(f)
        part = doc.get("parts", {}).get("halfcheetah_ppo")
        if not doc.get("smoke") and doc.get("hardware", {}).get("platform") == "gpu" and part:
            found.append((doc.get("started", ""), path, doc))
    if not found:
        return None
    _, path, doc = max(found, key=lambda t: t[0])
    return path, doc


def wall_to_levels(evals: list[dict]) -> dict:
    """First wall time (s, compile included) and env steps at which each level was reached."""
    out = {}
    for level in LEVELS:
        hit = next((e for e in evals if e["return"] >= level), None)
        out[f"{level:.0f}"] = None if hit is None else {"wall_s": hit["wall_s"], "env_steps": hit["env_steps"]}
    best = max(evals, key=lambda e: e["return"])
    out["best"] = {"return": best["return"], "wall_s": best["wall_s"], "env_steps": best["env_steps"]}
    return out


RULE = ("judged on the time scale, since Brax's halfcheetah is not Gym's HalfCheetah-v2 and its "
        "'solved' (4800 there) has no exact counterpart: the wall time (compile included) until the "
        "evaluation return first reached 2000. agrees if it is within 2-3 h; disagrees if it is under "
        "a tenth of 2 h or over ten times 3 h (a factor beyond what a different env's 'solved' level "
        "explains), or if 2000 was not reached in a run of at least 3 h; partly otherwise (within 10x "
        "of the claim, or a run too short to reach 2000)")


def verdict(ours: dict, run_wall_s: float) -> tuple[str, str]:
    """``ours``: :func:`wall_to_levels` of our run; ``run_wall_s``: the run's whole wall time."""
    reached = ours["2000"]
    if reached is None:
        if run_wall_s >= CLAIM_HIGH_S:
            return claims.DISAGREES, f"return 2000 not reached in {run_wall_s:.0f} s (over the claim's 3 h)"
        return claims.PARTLY, f"return 2000 not reached in a {run_wall_s:.0f} s run (shorter than the claim's 2 h)"
    t = reached["wall_s"]
    if CLAIM_LOW_S <= t <= CLAIM_HIGH_S:
        return claims.AGREES, f"return 2000 after {t:.0f} s, within the claimed 2-3 h"
    if t < 0.1 * CLAIM_LOW_S or t > 10 * CLAIM_HIGH_S:
        return claims.DISAGREES, (f"return 2000 after {t:.0f} s, {CLAIM_LOW_S / t:.0f}x under the claim's lower "
                                  "2 h" if t < CLAIM_LOW_S else f"return 2000 after {t:.0f} s, over 10x the claim's 3 h")
    return claims.PARTLY, f"return 2000 after {t:.0f} s: outside 2-3 h but within 10x of it"


SPEC = claims.Spec(
    name=NAME, claim=CLAIM, source=SOURCE,
    quantity='wall time, compile included, until the evaluation return first reached 2000 (Brax halfcheetah, one GPU)',
    unit='seconds', claimed=(7200.0, 10800.0),
    comparison='one run; Brax PPO in the same run reported beside it',
    rule=RULE)


def main():
    args = common.parse_args(__doc__)
    found = newest_gpu_suite(args.results)
    if found is None:
        common.write_result(args, NAME, spec=SPEC, result={
            "claim": CLAIM, "source": SOURCE, "verdict": "pending",
            "measured_text": "pending: needs results/gpu_suite_<device>.json from a GPU run of gpu_suite.py"})  # fmt: skip
        return
    path, doc = found
    part = doc["parts"]["halfcheetah_ppo"]
    ours, brax = wall_to_levels(part["ours"]["evals"]), wall_to_levels(part["brax"]["evals"])
    v, why = verdict(ours, part["ours"]["wall_s"])
    hw = doc["hardware"]
    device = f"{hw.get('device_kind')} x{hw.get('device_count')}, {hw.get('cpu_cores')} CPU cores"

    def text(name, r):
        hits = ", ".join(f"{lvl} after {r[lvl]['wall_s']:.0f} s ({r[lvl]['env_steps']:,} steps)"
                         for lvl in ("1000", "2000") if r[lvl])  # fmt: skip
        return f"{name}: {hits or 'no level reached'}; best {r['best']['return']:.0f} at {r['best']['wall_s']:.0f} s"

    common.write_result(args, NAME, spec=SPEC, result={
        "claim": CLAIM, "source": SOURCE, "verdict": v, "verdict_reason": RULE,
        "measured_text": (f"on {device}, Brax halfcheetah, 2048 envs, wall clock with compile to eval return -- "
                          f"{text('jaxpg PPO', ours)}; {text('Brax PPO (same run)', brax)}; {why}"),
        "hardware": {"device": device, "jax_version": hw.get("jax"),
                     "note": f"measured by gpu_suite.py ({os.path.basename(path)}); no training in this script"},
        "scale": "gpu", "measured_on": hw, "suite_file": os.path.basename(path), "suite_started": doc.get("started"),
        "ours": ours, "brax": brax, "settings": part.get("setting"),
        "method": __doc__})  # fmt: skip


if __name__ == "__main__":
    main()
