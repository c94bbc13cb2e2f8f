"""What jaxpg's parts cost in ``bench_peers.py``'s timed program: ablations, A/B in one process.

The program (PPO on CartPole-v1 at bench_peers' setting, 1 seed by default) is
compiled twice in this one process: as it is, and with one or more parts taken out
by replacing a function before tracing. The two are then run alternately
``--repeats`` times each. Doing it in one process removes the 5-10% by which separate
processes differ on a shared 2-core machine. An ablation is a measurement, not a
setting anyone trains with.

Parts (``--variant``, ``+``-joined):

- ``nodiag``: no after-update diagnostics (KL(old || new), entropy and explained
  variance on the whole batch);
- ``nometrics``: per-step metrics zeroed (only the target-KL flag kept);
- ``noflags``: no non-finite checks of observations and rewards;
- ``nooldsplit``: the old policy left out of the shuffled minibatches;
- ``gaeunroll``: the GAE scan unrolled by 16 (the same arithmetic).

    python experiments/ablate_peers_program.py --variants nodiag nodiag+nometrics+noflags gaeunroll

Writes ``experiments/results/ablate_peers_program_<platform>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "experiments"))

PARTS = ("nodiag", "nometrics", "noflags", "nooldsplit", "gaeunroll")


def apply_ablation(parts: set[str]) -> None:
    """Replace the functions of ``parts`` (see the module docstring) before tracing."""
    import jax
    import jax.numpy as jnp

    import jaxpg.advantages as adv
    import jaxpg.algos.ppo as ppo
    import jaxpg.algos.update as upd
    from jaxpg.metrics import PolicyDiagnostics

    if "nodiag" in parts:
        upd.common_diagnostics = lambda *a, **k: PolicyDiagnostics(kl=0.0, explained_variance=0.0, entropy=0.0)
    if "nometrics" in parts:
        step_of = ppo.minibatch_step

        def minibatch_step(*args):
            step = step_of(*args)

            def zeroed(carry, mb):
                carry, m = step(carry, mb)
                return carry, jnp.zeros_like(m).at[-1].set(m[-1])  # keep "active" (target-KL stop)

            return zeroed

        ppo.minibatch_step = minibatch_step
    if "noflags" in parts:
        flags_of = upd.finite_flags
        upd.finite_flags = lambda obs, reward: jax.tree.map(jnp.zeros_like, flags_of(obs, reward))
    if "nooldsplit" in parts:
        split = ppo.shuffle_and_split
        ppo.shuffle_and_split = lambda key, batch, m: split(key, batch.replace(old_dist=None), m)
    if "gaeunroll" in parts:
        adv._reverse_scan = lambda step, init, xs: jax.lax.scan(step, init, xs, reverse=True, unroll=16)[1]


def compiled_program(seeds: int, env_steps: int):
    import bench_peers

    fn, args, _ = bench_peers.build_jaxpg(seeds, env_steps)
    c0 = time.process_time()
    compiled = fn.lower(*args).compile()
    return compiled, args, time.process_time() - c0


def measure(variant: str, seeds: int, steps: int, repeats: int) -> dict:
    """Base and ``variant`` compiled in this process, run alternately; medians and ratio."""
    import bench_peers
    import jax
    import numpy as np

    env_steps = bench_peers.steps_for(steps)  # whole updates, as bench_peers runs them
    base, args, base_compile = compiled_program(seeds, env_steps)
    apply_ablation(set(variant.split("+")))
    ablated, _, ablated_compile = compiled_program(seeds, env_steps)
    finals = [np.asarray(jax.block_until_ready(p(*args))).mean() for p in (base, ablated)]
    times: dict = {"base": [], "ablated": []}
    for _ in range(repeats):
        for name, program in (("base", base), ("ablated", ablated)):
            t0 = time.perf_counter()
            jax.block_until_ready(program(*args))
            times[name].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {"variant": variant, "seeds": seeds, "env_steps": env_steps, "repeats": repeats,
            "compile_cpu_s": {"base": base_compile, "ablated": ablated_compile},
            "run_s_each": times, "run_s_median": med, "ratio": med["ablated"] / med["base"],
            "final_return": {"base": float(finals[0]), "ablated": float(finals[1])}}  # fmt: skip


def to_markdown(out: dict) -> str:
    hw = out["hardware"]
    lines = ["# What jaxpg's parts cost in bench_peers' program (one-process A/B)", "",
             f"Hardware: {hw['cpu']} ({hw['cpu_cores']} cores), jax {hw['jax']}. {out['note']}", "",
             "| variant | seeds | env steps | runs each | base run s (median) | ablated run s (median) | "
             "ablated / base | compile CPU s (base, ablated) | final return (base, ablated) |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in out["runs"]:
        c, f = r["compile_cpu_s"], r["final_return"]
        lines.append(f"| {r['variant']} | {r['seeds']} | {r['env_steps']:,} | {r['repeats']} | "
                     f"{r['run_s_median']['base']:.3f} | {r['run_s_median']['ablated']:.3f} | "
                     f"{r['ratio']:.3f}x | {c['base']:.1f}, {c['ablated']:.1f} | {f['base']:.1f}, {f['ablated']:.1f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="+", default=["nodiag", "nodiag+nometrics+noflags"])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--steps", type=float, default=1e5)
    p.add_argument("--repeats", type=int, default=8)
    p.add_argument("--out", default=None, help="results stem (default experiments/results/ablate_peers_program_<platform>)")
    p.add_argument("--note", default="")
    p.add_argument("--variant-worker", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    for v in a.variants:
        bad = set(v.split("+")) - set(PARTS)
        if bad:
            print(f"error: unknown part(s) {', '.join(sorted(bad))} in --variants {v}; choose from "
                  f"{', '.join(PARTS)}", file=sys.stderr)  # fmt: skip
            return 2
    if a.variant_worker:  # one variant per process: the replaced functions stay replaced
        print(json.dumps(measure(a.variant_worker, a.seeds, int(a.steps), a.repeats)))
        return 0
    from bench_brax import hardware
    from common import write_record

    out = {"benchmark": "ablate_peers_program", "hardware": hardware(), "note": a.note, "runs": [],
           "time": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
    stem = a.out or os.path.join(ROOT, "experiments", "results", f"ablate_peers_program_{out['hardware']['platform']}")
    for v in a.variants:
        cmd = [sys.executable, os.path.abspath(__file__), "--variant-worker", v, "--seeds", str(a.seeds),
               "--steps", str(a.steps), "--repeats", str(a.repeats)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{v}: failed: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        out["runs"].append(r)
        print(f"{v}: ablated / base {r['ratio']:.3f}x (base {r['run_s_median']['base']:.3f} s)", flush=True)
        write_record(stem + ".json", out)
        with open(stem + ".md", "w") as f:
            f.write(to_markdown(out))
    print(to_markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
