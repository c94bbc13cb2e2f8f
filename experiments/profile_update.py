"""Where one update's time goes: rollout, advantages, learning epochs; compile per algorithm.

For PPO on ``--env`` (its preset) it compiles and times, each on its own:

* ``rollout``: ``collect`` (policy + env steps, observation statistics);
* ``advantages``: ``make_batch`` on that trajectory (critic passes + GAE);
* ``update``: one whole PPO update; ``epochs`` is update - rollout - advantages (the
  minibatch epochs and the after-update diagnostics; separately compiled pieces can
  fuse differently, so the split is approximate).

and reports XLA's cost analysis (FLOPs, bytes accessed) of the compiled update. XLA
counts a loop body once, whatever its trip count, so the suite also gives a
loop-corrected estimate: cost(collect) x num_steps + cost(make_batch) + cost(one
minibatch gradient step) x epochs x minibatches.

Then, for each algorithm's preset on ``--algos-env``, the compile time of a chunk of
updates (trace + lower, and XLA's backend compile, separately).

    python experiments/profile_update.py                          # CartPole preset, all algos
    python experiments/profile_update.py --algos --set num_envs=16 update_epochs=8 \
        num_minibatches=16 hidden_sizes=64,64 activation=swish   # bench_peers' setting
    python experiments/profile_update.py --env brax/halfcheetah   # on a GPU
    python experiments/profile_update.py --algos --seeds 1 8 --set ...   # 1 and 8 agents vmapped

Results go to ``experiments/results/profile_update_<platform>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax

from jaxpg import optim
from jaxpg.algos import ppo
from jaxpg.algos.collect import collect
from jaxpg.batch import flatten_time_batch
from jaxpg.batch import make_batch
from jaxpg.presets import preset
from jaxpg import make_trainer
from experiments.profile_peers_pieces import kernel_count  # jaxpg-free: rejax's venv imports it too

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

SMOKE_OVERRIDES = dict(num_envs=8, num_steps=8, num_minibatches=2, update_epochs=2,
                       total_timesteps=8 * 8 * 4)  # fmt: skip


def cost(compiled) -> dict:
    """FLOPs and bytes XLA's cost analysis reports (loop bodies counted once)."""
    c = compiled.cost_analysis()
    c = (c[0] if c else {}) if isinstance(c, list) else (c or {})
    return {"flops": c.get("flops"), "bytes_accessed": c.get("bytes accessed")}


def compile_and_time(fn, args: tuple, repeats: int) -> dict:
    """Lower+compile ``fn(*args)``, run once to warm, then time ``repeats`` calls (wall and
    this process's CPU seconds, every thread: on a shared machine the CPU figure moves
    less with the neighbours' load)."""
    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    t3, c3 = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        out = compiled(*args)
    jax.block_until_ready(out)
    return {"trace_lower_s": t1 - t0, "compile_s": t2 - t1,
            "run_s": (time.perf_counter() - t3) / repeats,
            "run_cpu_s": (time.process_time() - c3) / repeats, "compiled": compiled}  # fmt: skip


def minibatch_step_fn(ctx, hparams, state):
    """PPO's own minibatch step (:func:`jaxpg.algos.ppo.minibatch_step`: loss, grads, both
    Adams, metrics) and its carry at ``state``, for its cost analysis."""
    flat, unravel = optim.flatten(state.params)
    step = ppo.minibatch_step(ctx, hparams, optim.actor_critic(hparams), unravel, hparams.ent_coef, 0.0)
    return step, (flat, state.opt_state, jax.numpy.zeros((), bool))


def profile_ppo(config, hparams, repeats: int = 3, seeds: int = 1) -> dict:
    """Per-update time split and XLA cost of PPO at ``config``.

    ``seeds > 1`` profiles ``seeds`` independent agents vmapped in one program, as a
    vmapped sweep or ``bench_peers.py --seeds`` trains them (one hparams for all): each
    piece is the vmapped piece, its times are for all agents together, and the minibatch
    step's kernel count is the batched step's."""
    trainer = make_trainer(config)
    ctx = trainer.ctx
    hp = hparams.validate().as_arrays()
    batched = (lambda f, axes: jax.vmap(f, in_axes=axes)) if seeds > 1 else (lambda f, axes: f)
    agent_keys = lambda seed: jax.random.split(jax.random.PRNGKey(seed), seeds) if seeds > 1 else jax.random.PRNGKey(seed)
    state = jax.jit(batched(trainer.init, (0, None)))(agent_keys(0), hp)
    key = agent_keys(1)
    roll = compile_and_time(batched(lambda s, k: collect(ctx, s, k)[0], (0, 0)), (state, key), repeats)
    traj = roll["compiled"](state, key)
    adv = compile_and_time(batched(lambda p, t, h: make_batch(ctx.nets, p, t, h), (0, 0, None)),
                           (state.params, traj, hp), repeats)
    upd = compile_and_time(batched(trainer.update, (0, None)), (state, hp), repeats)
    batch = batched(flatten_time_batch, (0,))(adv["compiled"](state.params, traj, hp))
    rows_axis = 1 if seeds > 1 else 0
    mb = jax.tree.map(lambda x: jax.lax.slice_in_dim(x, 0, config.minibatch_size, axis=rows_axis), batch)
    step_at = batched(lambda s, c, m: minibatch_step_fn(ctx, hp, s)[0](c, m), (0, 0, 0))
    step_fn = lambda c, m: step_at(state, c, m)
    carry = batched(lambda s: minibatch_step_fn(ctx, hp, s)[1], (0,))(state)
    step = jax.jit(step_fn).lower(carry, mb).compile()
    c_roll, c_adv, c_step, c_upd = cost(roll["compiled"]), cost(adv["compiled"]), cost(step), cost(upd["compiled"])
    n_steps = config.update_epochs * config.num_minibatches
    corrected = {}
    for k in ("flops", "bytes_accessed"):
        if None not in (c_roll[k], c_adv[k], c_step[k]):
            corrected[k] = c_roll[k] * config.num_steps + c_adv[k] + c_step[k] * n_steps
    t_upd = upd["run_s"]
    epochs_s = max(t_upd - roll["run_s"] - adv["run_s"], 0.0)
    return {
        "env": config.env, "num_envs": config.num_envs, "num_steps": config.num_steps, "seeds": seeds,
        "cpu_seconds": {"rollout": roll["run_cpu_s"], "advantages": adv["run_cpu_s"], "update": upd["run_cpu_s"],
                        "epochs": max(upd["run_cpu_s"] - roll["run_cpu_s"] - adv["run_cpu_s"], 0.0)},
        "update_epochs": config.update_epochs, "num_minibatches": config.num_minibatches,
        "seconds": {"rollout": roll["run_s"], "advantages": adv["run_s"], "epochs": epochs_s, "update": t_upd},
        "share": {"rollout": roll["run_s"] / t_upd, "advantages": adv["run_s"] / t_upd, "epochs": epochs_s / t_upd},
        "compile_s": {"rollout": roll["compile_s"], "advantages": adv["compile_s"], "update": upd["compile_s"]},
        "xla_cost_update_as_reported": c_upd,
        "xla_cost_per_piece": {"rollout_one_step": c_roll, "advantages": c_adv, "minibatch_step": c_step},
        "minibatch_step_kernels": kernel_count(step),
        "xla_cost_update_loop_corrected": corrected,
        "steps_per_s": seeds * config.batch_size / t_upd,
    }  # fmt: skip


def algo_compile_times(algos, env: str, overrides: dict | None = None, chunk: int = 2) -> dict:
    """Seconds to trace+lower and to compile a ``chunk``-update program, per algorithm preset."""
    out = {}
    for algo in algos:
        config, hparams = preset(algo, env)
        config = config.replace(**(overrides or {}))
        config = config.replace(total_timesteps=max(config.total_timesteps, chunk * config.batch_size))
        trainer = make_trainer(config)
        hp = hparams.validate().as_arrays()
        state = jax.eval_shape(trainer.init, jax.random.PRNGKey(0), hp)
        t0, c0 = time.perf_counter(), time.process_time()
        lowered = jax.jit(trainer.run_updates, static_argnums=2).lower(state, hp, chunk)
        t1 = time.perf_counter()
        compiled = lowered.compile()
        # CPU seconds of this process: compiling is mostly one thread, so this figure
        # stays put on a loaded machine where the wall clock does not.
        out[algo] = {"trace_lower_s": t1 - t0, "compile_s": time.perf_counter() - t1,
                     "total_s": time.perf_counter() - t0, "total_cpu_s": time.process_time() - c0,
                     # the chunk's scan body is one update: its cost, loop bodies once
                     "xla_cost_one_update": cost(compiled), "hlo_lines": compiled.as_text().count("\n")}  # fmt: skip
    return out


def to_markdown(res: dict) -> str:
    lines = ["## Where one update's time goes"]
    for p in res.get("ppo", []):
        s, sh, c = p["seconds"], p["share"], p["xla_cost_update_loop_corrected"]
        cpu = p.get("cpu_seconds") or {k: float("nan") for k in s}
        rep = p["xla_cost_update_as_reported"]
        seeds = p.get("seeds", 1)
        agents = f", {seeds} agents vmapped (times for all of them)" if seeds > 1 else ""
        lines += [
            "",
            f"PPO on {p['env']}, {p['num_envs']} envs x {p['num_steps']} steps, {p['update_epochs']} epochs x "
            f"{p['num_minibatches']} minibatches{agents}: {s['update'] * 1e3:.1f} ms per update "
            f"({p['steps_per_s']:,.0f} steps/s).",
            "",
            "| piece | ms | share | CPU ms (all threads) | compile s |", "|---|---|---|---|---|",
            f"| rollout | {s['rollout'] * 1e3:.1f} | {sh['rollout']:.0%} | {cpu['rollout'] * 1e3:.1f} | "
            f"{p['compile_s']['rollout']:.1f} |",
            f"| advantages | {s['advantages'] * 1e3:.1f} | {sh['advantages']:.0%} | {cpu['advantages'] * 1e3:.1f} | "
            f"{p['compile_s']['advantages']:.1f} |",
            f"| epochs + diagnostics | {s['epochs'] * 1e3:.1f} | {sh['epochs']:.0%} | {cpu['epochs'] * 1e3:.1f} | - |",
            f"| whole update | {s['update'] * 1e3:.1f} | 100% | {cpu['update'] * 1e3:.1f} | "
            f"{p['compile_s']['update']:.1f} |",
            "",
            f"XLA cost of one update: {c.get('flops', float('nan')):.3g} FLOPs, "
            f"{c.get('bytes_accessed', float('nan')):.3g} bytes (loop-corrected); as reported with loop "
            f"bodies once: {rep['flops'] or float('nan'):.3g} FLOPs, {rep['bytes_accessed'] or float('nan'):.3g} bytes.",
            f"One minibatch step runs {p.get('minibatch_step_kernels', '?')} XLA kernels "
            "(fusions, dots, copies; see kernel_count).",
        ]  # fmt: skip
    if res.get("compile"):
        lines += ["", f"Compile time of a {res['compile_chunk']}-update chunk on {res['algos_env']} (preset):", "",
                  "| algo | trace+lower s | XLA compile s | total s (wall) | total CPU s | HLO lines | "
                  "update FLOPs (loops once) | update bytes (loops once) |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for algo, c in res["compile"].items():
            x = c["xla_cost_one_update"]
            lines.append(f"| {algo} | {c['trace_lower_s']:.1f} | {c['compile_s']:.1f} | {c['total_s']:.1f} | "
                         f"{c['total_cpu_s']:.1f} | {c['hlo_lines']} | {x['flops'] or float('nan'):.3g} | "
                         f"{x['bytes_accessed'] or float('nan'):.3g} |")  # fmt: skip
    return "\n".join(lines)


def parse_overrides(items) -> dict:
    """``["num_envs=16", "hidden_sizes=64,64", "anneal_lr=false"]`` -> TrainConfig overrides."""
    import dataclasses

    from jaxpg.config import TrainConfig

    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    out = {}
    for item in items or ():
        name, _, text = item.partition("=")
        if name not in fields:
            raise SystemExit(f"error: unknown config field {name!r} in --set {item}")
        default = getattr(TrainConfig(), name)
        if isinstance(default, bool):
            out[name] = text.lower() in ("1", "true", "yes")
        elif isinstance(default, int) or (default is None and text.isdigit()):  # eval_every=0
            out[name] = int(float(text))
        elif name.endswith("hidden_sizes"):
            out[name] = tuple(int(x) for x in text.split(","))
        else:
            out[name] = text
    return out


def profile_all(env: str = "CartPole-v1", algos=("reinforce", "a2c", "ppo", "npg", "trpo"),
                algos_env: str = "CartPole-v1", smoke: bool = False, deadline: float | None = None,
                log=print, envs_extra=(), overrides: dict | None = None, seeds=(1,)) -> dict:
    """The profile of PPO on ``env`` (and ``envs_extra``) for each count of vmapped
    agents in ``seeds``, then compile time per algorithm."""
    res = {"ppo": [], "algos_env": algos_env, "compile_chunk": 2, "overrides": overrides or {}}
    for e in ((env,) if env else ()) + tuple(envs_extra):
        config, hparams = preset("ppo", e)
        config = config.replace(**(overrides or {}))
        if smoke:
            config = config.replace(**SMOKE_OVERRIDES)
        for n in seeds:
            log(f"  profiling PPO on {e}, {n} agent(s)")
            res["ppo"].append(profile_ppo(config, hparams, seeds=n))
    res["compile"] = {}
    for algo in algos:
        if deadline is not None and time.perf_counter() > deadline:
            res["compile_skipped"] = "deadline"
            break
        log(f"  compiling {algo} on {algos_env}")
        res["compile"].update(algo_compile_times([algo], algos_env, SMOKE_OVERRIDES if smoke else None))
    res["markdown"] = to_markdown(res)
    return res


def main(argv=None) -> int:
    from experiments.bench_brax import hardware
    from experiments.common import write_record as write_json

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", nargs="*", default=["CartPole-v1"], help="PPO preset env(s) to profile (none: skip)")
    p.add_argument("--algos", nargs="*", default=["reinforce", "a2c", "ppo", "npg", "trpo"])
    p.add_argument("--algos-env", default="CartPole-v1")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--set", nargs="*", default=None, metavar="FIELD=VALUE",
                   help="config overrides for the PPO profile, e.g. num_envs=16 hidden_sizes=64,64")
    p.add_argument("--seeds", nargs="+", type=int, default=[1],
                   help="agents vmapped in one program, one PPO profile per count (e.g. 1 8)")
    p.add_argument("--out", default=None, help="output stem")
    p.add_argument("--note", default="")
    a = p.parse_args(argv)
    hw = hardware()
    res = profile_all(a.env[0] if a.env else None, a.algos, a.algos_env, a.smoke, envs_extra=a.env[1:],
                      overrides=parse_overrides(a.set), seeds=tuple(a.seeds))
    res["hardware"], res["note"] = hw, a.note
    print(res["markdown"])
    stem = a.out or os.path.join(RESULTS, f"profile_update_{hw['platform']}")
    write_json(stem + ".json", res)
    with open(stem + ".md", "w") as f:
        f.write(f"Hardware: {hw}. {a.note}\n\n" + res["markdown"] + "\n")
    print(f"wrote {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
