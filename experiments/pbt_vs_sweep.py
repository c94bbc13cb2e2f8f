"""PBT against a random search of the same size, at the same env steps, same space.

For each task and repeat ``k`` (seed ``k``) the same ``P`` hyperparameter draws from
the ``--explore`` space train twice in one compiled program each: once with the
ready step (PBT: every ``interval`` updates the bottom quarter copies a top-quarter
member and perturbs its hyperparameters) and once without (the random search).
Both see ``P x steps`` env steps. Reported per arm: the best member's final return
and the population median (final return = mean return of the episodes finished in
the last 10% of updates); the verdict is on the paired difference PBT - random
search over repeats, with a 95% Student t interval (:func:`verdict`, tested in
tests/test_pbt.py before any measurement).

It also measures the ready step's cost as a share of one update's time (CPU), in
the compiled program: rounds of one update with and without the ready step.

    python experiments/pbt_vs_sweep.py                 # the CPU tasks, 3 repeats
    python experiments/pbt_vs_sweep.py --smoke         # code paths only, seconds
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.analysis.stats import mean_ci
from jaxpg.pbt import PBTConfig, parse_explore, run_pbt
from jaxpg.pbt.population import make_program, member_keys, ready_key
from jaxpg.pbt.ready import ready
from jaxpg.pbt.report import summarize_population
from jaxpg.pbt.space import bounds, initial_population
from jaxpg.presets import preset
from jaxpg.runner.loop import device_description
from jaxpg.runner.logging import write_json
from jaxpg.runner.options import RunOptions

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# Tasks where the default hyperparameters are poor at this budget: the lr range
# spans four decades, so most random draws are far from a good rate.
TASKS = {
    "cartpole": dict(algo="ppo", env="CartPole-v1", steps=40_000, explore=["lr=loguniform:1e-5:1e-1"],
                     overrides=dict(num_envs=4, num_steps=128, eval_every=0), interval=6),
    "acrobot": dict(algo="a2c", env="Acrobot-v1", steps=60_000, explore=["lr=loguniform:1e-5:1e-1"],
                    overrides=dict(num_envs=8, num_steps=16, num_minibatches=1, eval_every=0, anneal_lr=False), interval=40),
}  # fmt: skip
SMOKE = dict(algo="ppo", env="CartPole-v1", steps=2_048, explore=["lr=loguniform:1e-4:1e-2"],
             overrides=dict(num_envs=2, num_steps=64, update_epochs=1, num_minibatches=1, hidden_sizes=(8,),
                            eval_every=0), interval=4)  # fmt: skip


def verdict(diffs, level: float = 0.95) -> dict:
    """The rule: PBT is better if the 95% t interval of the mean paired difference
    (PBT - random search) lies above 0, worse if below, else no difference detected."""
    d = np.asarray(diffs, float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return {"verdict": "too few repeats", "mean": float("nan"), "ci95": [float("nan")] * 2, "n": int(d.size)}
    mean, lo, hi = mean_ci(d, level)
    word = "PBT better" if lo > 0 else "random search better" if hi < 0 else "no difference detected"
    return {"verdict": word, "mean": mean, "ci95": [lo, hi], "n": int(d.size)}


def one_arm(task: dict, seed: int, population: int, exploit: bool) -> dict:
    config, hparams = preset(task["algo"], task["env"])
    config = config.replace(total_timesteps=task["steps"], **task["overrides"])
    space = parse_explore(task["explore"])
    pbt = PBTConfig(population=population, interval=task["interval"], exploit=exploit)
    t0 = time.perf_counter()
    res = run_pbt(config, hparams, space, pbt, RunOptions(seed=seed, handle_signals=False), log=lambda s: None)
    pop = summarize_population(res)
    return {"best": pop["best_final_return"], "median": pop["median_final_return"],
            "finals": pop["final_returns"], "copies": pop["copies"], "wall_s": time.perf_counter() - t0,
            "compile_s": res.summary["compile_time_s"], "env_steps_per_member": res.summary["env_steps_per_member"],
            "best_schedule": pop["best_schedule"] if exploit else None}  # fmt: skip


def ready_overhead(task: dict, population: int, rounds: int = 8, repeats: int = 3) -> dict:
    """The ready step's cost inside the compiled program: ``rounds`` rounds of one update
    each, with and without the ready step (same population, same inputs); the best of
    ``repeats`` timings each. ``ready_s = (t_with - t_without) / rounds``."""
    config, hparams = preset(task["algo"], task["env"])
    config = config.replace(total_timesteps=task["steps"], **task["overrides"])
    space = parse_explore(task["explore"])
    hp = jax.tree.map(jnp.asarray, initial_population(hparams, space, population, 0))
    times = {}
    for exploit in (True, False):
        program = make_program(config, PBTConfig(population=population, interval=1, exploit=exploit), bounds(space))
        pop = jax.jit(lambda: program.init(member_keys(0, population), hp, ready_key(0)))()
        fn = jax.jit(program.run_rounds, static_argnums=(1, 2)).lower(pop, rounds, 1).compile()
        jax.block_until_ready(fn(pop))
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(pop))
            best = min(best, time.perf_counter() - t0)
        times[exploit] = best
        if exploit:  # the ready step alone, jitted (robust to load; the difference above is not)
            pop = pop.replace(score=jnp.arange(population, dtype=jnp.float32))
            alone = jax.jit(lambda p: ready(p, p.score, program.pbt.num_replaced(), program.space,
                                            program.pbt.resample_prob, program.pbt.perturb)[0])  # fmt: skip
            jax.block_until_ready(alone(pop))
            t0 = time.perf_counter()
            for _ in range(20):
                jax.block_until_ready(alone(pop))
            times["alone"] = (time.perf_counter() - t0) / 20
    ready_s = (times[True] - times[False]) / rounds
    update_s = times[False] / rounds
    return {"population": population, "rounds": rounds, "ready_s": ready_s, "update_s": update_s,
            "ready_alone_s": times["alone"], "ready_alone_share_of_update": times["alone"] / update_s,
            "ready_share_of_update": ready_s / update_s, "interval": task["interval"],
            "ready_share_per_interval": ready_s / (update_s * task["interval"]), "load": os.getloadavg()}  # fmt: skip


def run_task(name: str, task: dict, repeats: int, population: int, log) -> dict:
    rows = []
    for k in range(repeats):
        pbt = one_arm(task, k, population, True)
        rs = one_arm(task, k, population, False)
        rows.append({"seed": k, "pbt": pbt, "random_search": rs})
        log(f"{name} repeat {k}: best PBT {pbt['best']:.1f} vs RS {rs['best']:.1f}; median PBT "
            f"{pbt['median']:.1f} vs RS {rs['median']:.1f} ({pbt['wall_s'] + rs['wall_s']:.0f} s)")  # fmt: skip
    out = {"task": {k: v for k, v in task.items()}, "population": population, "repeats": rows}
    for stat in ("best", "median"):
        out[f"{stat}_diff"] = verdict([r["pbt"][stat] - r["random_search"][stat] for r in rows])
        out[f"{stat}_pbt_mean"] = float(np.mean([r["pbt"][stat] for r in rows]))
        out[f"{stat}_rs_mean"] = float(np.mean([r["random_search"][stat] for r in rows]))
    log(f"{name}: best-member diff {out['best_diff']}; median diff {out['median_diff']}")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="*", default=list(TASKS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--population", type=int, default=8)
    p.add_argument("--smoke", action="store_true", help="tiny, code paths only; writes nothing")
    p.add_argument("--out", default=os.path.join(RESULTS, "pbt_vs_sweep_cpu.json"))
    a = p.parse_args(argv)
    log = lambda m: print(m, flush=True)
    tasks = {"smoke": SMOKE} if a.smoke else {n: TASKS[n] for n in a.tasks}
    pop = 2 if a.smoke else a.population
    doc = {"device": device_description(), "jax_version": jax.__version__,
           "load_before": os.getloadavg(), "tasks": {}, "overhead": {}}  # fmt: skip
    t0 = time.perf_counter()
    for name, task in tasks.items():
        doc["overhead"][name] = ready_overhead(task, pop, rounds=2 if a.smoke else 8)
        o = doc["overhead"][name]
        log(f"{name}: ready step {o['ready_s'] * 1e3:.2f} ms in-program ({o['ready_alone_s'] * 1e3:.2f} ms alone) "
            f"vs one update {o['update_s'] * 1e3:.2f} ms ({100 * o['ready_share_of_update']:.2f}%, "
            f"alone {100 * o['ready_alone_share_of_update']:.2f}%)")
        doc["tasks"][name] = run_task(name, task, 2 if a.smoke else a.repeats, pop, log)
        doc["load_after"] = os.getloadavg()
        doc["minutes"] = (time.perf_counter() - t0) / 60
        if not a.smoke:
            write_json(a.out, doc)  # after each task: a cut-short run keeps what it measured
    log(f"done in {(time.perf_counter() - t0) / 60:.1f} min" + ("" if a.smoke else f"; wrote {a.out}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
