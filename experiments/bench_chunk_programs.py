"""A run whose last chunk is shorter: two chunk programs (before) vs one (``run_masked``).

For the default ``jaxpg train`` config at ``--steps`` env steps (default 2e5: 195
updates in chunks of 7, a last chunk of 6), in one process: the trace / lower / XLA
compile CPU seconds of ``Trainer.run_updates`` compiled for the chunk and for the
remainder (what the driver did before) and of ``Trainer.run_masked`` compiled once,
and the CPU and wall seconds of one full chunk with each (mean of 3, after a warm-up
call). CPU seconds of this process, all threads: on a shared machine they count the
work, not the neighbours. The two orders alternate over ``--repeats``.

    python experiments/bench_chunk_programs.py            # writes results/bench_chunk_programs_<platform>.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax
import numpy as np

from experiments.bench_brax import hardware
from jaxpg.presets import preset
from jaxpg.runner.logging import write_json
from jaxpg.runner.trainer import make_trainer

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def stages(jitted, *args) -> tuple[object, dict]:
    out, c = {}, time.process_time()
    traced = jitted.trace(*args)
    out["trace_cpu_s"], c = time.process_time() - c, time.process_time()
    lowered = traced.lower()
    out["lower_cpu_s"], c = time.process_time() - c, time.process_time()
    compiled = lowered.compile()
    out["compile_cpu_s"] = time.process_time() - c
    return compiled, out


def chunk_time(fn, state) -> dict:
    jax.block_until_ready(fn(state))
    c, w = time.process_time(), time.perf_counter()
    for _ in range(3):
        jax.block_until_ready(fn(state))
    return {"run_cpu_s_per_chunk": (time.process_time() - c) / 3, "run_wall_s_per_chunk": (time.perf_counter() - w) / 3}


def measure(trainer, state, hp, chunk: int, rem: int, which: str) -> dict:
    if which == "two_programs":
        jitted = jax.jit(trainer.run_updates, static_argnums=2)
        full, a = stages(jitted, state, hp, chunk)
        _, b = stages(jitted, state, hp, rem) if rem else (None, {})
        total = {k: a[k] + b.get(k, 0.0) for k in a}
        return {"chunk_program": a, "remainder_program": b, "total": total, **chunk_time(lambda s: full(s, hp), state)}
    jitted = jax.jit(trainer.run_masked, static_argnums=3)
    full, a = stages(jitted, state, hp, np.int32(chunk), chunk)
    return {"chunk_program": a, "total": a, **chunk_time(lambda s: full(s, hp, np.int32(chunk)), state)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=float, default=2e5)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    config, hparams = preset("ppo", "CartPole-v1")
    config = config.replace(total_timesteps=int(a.steps)).validate()
    chunk, rem = config.chunk, config.num_updates % config.chunk
    trainer, hp = make_trainer(config), hparams.validate().as_arrays()
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0), hp)
    runs = []
    for r in range(a.repeats):
        order = ("two_programs", "one_program") if r % 2 == 0 else ("one_program", "two_programs")
        for which in order:
            load = os.getloadavg()[0]
            res = measure(trainer, state, hp, chunk, rem, which)
            runs.append({"which": which, "load_before": load, **res})
            print(which, {k: round(v, 2) for k, v in res["total"].items()},
                  f"run cpu/chunk {res['run_cpu_s_per_chunk']:.3f} s (load {load:.1f})", flush=True)
    doc = {"benchmark": "bench_chunk_programs", "hardware": hardware(), "env_steps": int(a.steps),
           "updates": config.num_updates, "chunk": chunk, "remainder": rem, "runs": runs,
           "written": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
    for which in ("two_programs", "one_program"):
        mine = [r for r in runs if r["which"] == which]
        doc[f"{which}_median_compile_cpu_s"] = float(np.median([r["total"]["compile_cpu_s"] for r in mine]))
        doc[f"{which}_median_run_cpu_s_per_chunk"] = float(np.median([r["run_cpu_s_per_chunk"] for r in mine]))
    path = a.out or os.path.join(RESULTS, f"bench_chunk_programs_{doc['hardware']['platform']}.json")
    write_json(path, doc)
    print(f"one / two programs, XLA compile CPU s: {doc['one_program_median_compile_cpu_s']:.1f} / "
          f"{doc['two_programs_median_compile_cpu_s']:.1f}; run CPU s per chunk "
          f"{doc['one_program_median_run_cpu_s_per_chunk']:.3f} / {doc['two_programs_median_run_cpu_s_per_chunk']:.3f}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
