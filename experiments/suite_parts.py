"""The measurements of ``gpu_suite.py``, one function per part.

Each part takes its own scale (a typed value of ``suite_scale.py``) and a ``deadline`` (``time.perf_counter()``
value) that loops inside it respect, and returns a JSON-able dict of figures.
Compiled programs are cached per config (``compiled_chunk``), so parts that run
the same program (the halfcheetah setting of part 2 and the preset of part 3, or
the memory part) compile it once, and the compile time recorded at that first
compile is the one reported.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax
import jax.numpy as jnp
import numpy as np

from experiments.bench_brax import CompileClock, make_evaluate, our_config, run_brax
from experiments.suite_scale import (
    AgentsScale, BraxPresetsScale, CraftaxScale, HalfcheetahScale, PBTScale, PolicyPathsScale, Tweak, unchanged,
)  # fmt: skip
from jaxpg import envs
from jaxpg.envs.batched import step_batch
from jaxpg.config import HParams, TrainConfig
from jaxpg.evaluation import eval_carry, policy_act, run_episodes
from jaxpg.presets import preset
from jaxpg import Trainer, make_trainer


def now() -> float:
    return time.perf_counter()


# ------------------------------------------------------------------ compiled chunks


@dataclass
class Compiled:
    trainer: Trainer
    init: object  # jitted init(key, hparams)
    chunk: object  # compiled run_updates(state, hparams) for a fixed n
    evaluate: object | None
    compile_s: float  # init + chunk (+ evaluate) compile, measured the first time


_CACHE: dict = {}


def make_deterministic_evaluate(ctx, num_eval_envs: int, max_steps: int):
    """Mean return of one episode in each of ``num_eval_envs`` fresh envs with the policy's
    mode (``tanh(mean)`` for the tanh-Gaussian): jaxpg's own in-program evaluation."""

    def evaluate(state, key):
        act = policy_act(ctx, state.params, state.obs_stats, deterministic=True)
        returns, _ = run_episodes(ctx.env, act, key, num_eval_envs, max_steps,
                                  eval_carry(ctx, num_eval_envs))
        return returns.mean()

    return evaluate


def compiled_chunk(config: TrainConfig, hparams: HParams, n: int, eval_envs: int = 0,
                   eval_len: int = 0, deterministic: bool = False) -> Compiled:
    """``config``'s init and ``n``-update chunk (and evaluation), compiled once per process.

    The evaluation samples actions as Brax's trainer does, or with ``deterministic``
    plays the policy's mode."""
    key = (config, n, eval_envs, eval_len, deterministic)
    if key in _CACHE:
        return _CACHE[key]
    t0 = now()
    trainer = make_trainer(config)
    hp = hparams.validate().as_arrays()
    init = jax.jit(trainer.init)
    state = init(jax.random.PRNGKey(0), hp)
    chunk = jax.jit(trainer.run_updates, static_argnums=2, donate_argnums=0)
    chunk = chunk.lower(state, hp, n).compile()
    evaluate = None
    if eval_envs:
        make = make_deterministic_evaluate if deterministic else make_evaluate
        evaluate = jax.jit(make(trainer.ctx, eval_envs, eval_len))
        evaluate = evaluate.lower(state, jax.random.PRNGKey(0)).compile()
    jax.block_until_ready(state)
    _CACHE[key] = c = Compiled(trainer, init, chunk, evaluate, now() - t0)
    return c


def same_run(a: TrainConfig, hp_a: HParams, b: TrainConfig, hp_b: HParams) -> bool:
    """True when ``(a, hp_a)`` and ``(b, hp_b)`` train alike (budget and chunk aside).

    The total budget only enters the update through lr annealing and entropy
    schedules; with both off it is not part of the program.
    """
    if hp_a.validate().to_dict() != hp_b.validate().to_dict():
        return False
    if a.anneal_lr or b.anneal_lr or a.ent_schedule != "constant" or b.ent_schedule != "constant":
        return a.replace(updates_per_chunk=None) == b.replace(updates_per_chunk=None)
    strip = dict(updates_per_chunk=None, total_timesteps=0)
    return a.replace(**strip) == b.replace(**strip)


# ------------------------------------------------------------------------- ceilings


def env_only_ceiling(env_name: str, num_envs: int, steps: int, backend: str = "positional",
                     episode_length: int | None = None) -> dict:
    """Uniform random actions through a jitted ``lax.scan`` of our env wrapper."""
    env = envs.make(env_name, backend=backend, episode_length=episode_length)
    space = env.action_space

    def random_action(k):
        if space.is_discrete:
            return jax.random.randint(k, (num_envs,), 0, space.n)
        return jax.random.uniform(k, (num_envs, space.size), minval=-1.0, maxval=1.0)

    @jax.jit
    def run(key):
        _, st = jax.vmap(env.reset)(jax.random.split(key, num_envs))

        def step(carry, k):
            st, total = carry
            _, st, r, *_ = step_batch(env, jax.random.split(k, num_envs), st, random_action(k))
            return (st, total + r.sum()), None

        (_, total), _ = jax.lax.scan(step, (st, 0.0), jax.random.split(key, steps))
        return total

    t0 = now()
    jax.block_until_ready(run(jax.random.PRNGKey(0)))
    compile_s = now() - t0
    t0 = now()
    jax.block_until_ready(run(jax.random.PRNGKey(1)))
    return {"env": env_name, "num_envs": num_envs, "steps": steps,
            "first_call_s": compile_s, "steps_per_s": steps * num_envs / (now() - t0)}  # fmt: skip


# ---------------------------------------------------------------- train to a target


def train_with_evals(config: TrainConfig, hparams: HParams, *, chunk_updates: int,
                     eval_envs: int, eval_len: int, stretch_steps: int, stop_return: float,
                     max_steps: int, deadline: float, log, cap_s: float = float("inf"),
                     deterministic: bool = False) -> dict:
    """Train ``config`` in chunks with an evaluation after each, wall clock from the start.

    Runs at least ``stretch_steps`` (for the steady steps/s: chunks after the first,
    evaluations excluded), then on until the evaluation return reaches
    ``stop_return``, ``max_steps``, ``cap_s`` seconds of training or ``deadline`` (which
    also cuts the stretch). ``wall_s`` of each evaluation
    counts compile, training and earlier evaluations (as Brax's trainer does).
    """
    t_start = now()
    cached = (config, chunk_updates, eval_envs, eval_len, deterministic) in _CACHE
    c = compiled_chunk(config, hparams, chunk_updates, eval_envs, eval_len, deterministic)
    wall0 = t_start - (c.compile_s if cached else 0.0)  # a cached compile is still charged
    hp = hparams.validate().as_arrays()
    key_init, key_eval = jax.random.split(jax.random.PRNGKey(0))
    state = c.init(key_init, hp)
    steps_per_chunk = chunk_updates * config.batch_size
    evals, chunk_s, stopped = [], [], "max_steps"
    t_train = now()
    while int(state.env_steps) < max_steps:
        if now() > deadline:
            stopped = "deadline"
            break
        if int(state.env_steps) >= stretch_steps and now() - t_train > cap_s:
            stopped = "cap_s"
            break
        t0 = now()
        state, _ = c.chunk(state, hp)
        jax.block_until_ready(state)
        chunk_s.append(now() - t0)
        r = float(c.evaluate(state, jax.random.fold_in(key_eval, len(evals))))
        steps = int(state.env_steps)
        evals.append({"env_steps": steps, "return": r, "wall_s": now() - wall0})
        log(f"    {steps:>12,} steps  return {r:8.1f}  wall {now() - wall0:6.1f} s")
        if steps >= stretch_steps and r >= stop_return:
            stopped = "target"
            break
    in_stretch = [t for i, t in enumerate(chunk_s) if (i + 1) * steps_per_chunk <= stretch_steps]
    steady = in_stretch[1:] or chunk_s[1:] or chunk_s
    return {
        "compile_s": c.compile_s,
        "compile_shared_with_earlier_part": cached,
        "eval": "deterministic" if deterministic else "stochastic",
        "steady_steps_per_s": steps_per_chunk * len(steady) / sum(steady) if steady else None,
        "steady_chunks": len(steady),
        "steps_per_chunk": steps_per_chunk,
        "evals": evals,
        "stopped_by": stopped,
        "env_steps": int(state.env_steps),
        "wall_s": now() - wall0,
    }


def wall_to(evals: list[dict], target: float):
    return next((e["wall_s"] for e in evals if e["return"] >= target), None)


def walls_to(evals: list[dict], targets) -> dict:
    """``{str(target): wall_s when the evaluation return first reached it, or None}``."""
    return {str(t): wall_to(evals, t) for t in targets}


def best_return(evals: list[dict]):
    return max((e["return"] for e in evals), default=None)


def halfcheetah_ppo(scale: HalfcheetahScale, deadline: float, log) -> dict:
    """Part 2: jaxpg PPO and Brax's PPO on bench_brax's setting, compile and steady steps/s."""
    s = scale.setting
    config, hparams = our_config(s)
    out = {"setting": vars(s), "stretch_steps": scale.stretch_steps}
    targets = scale.targets
    log("  jaxpg PPO")
    ours = train_with_evals(
        config, hparams, chunk_updates=scale.chunk_updates, eval_envs=s.num_eval_envs,
        eval_len=s.episode_length, stretch_steps=scale.stretch_steps, stop_return=max(targets),
        max_steps=scale.max_steps, deadline=deadline, log=log, cap_s=scale.ours_cap_s,
    )  # fmt: skip
    ours["wall_to_target_s"] = walls_to(ours["evals"], targets)
    out["ours"] = ours
    if now() + scale.brax_min_s > deadline:
        out["brax"] = {"skipped": f"under {scale.brax_min_s} s of budget left"}
        return out
    log("  Brax PPO")
    # Brax's trainer rounds the budget up to whole epochs between its evaluations.
    s_brax = replace(s, total_steps=scale.stretch_steps, num_evals=scale.brax_evals)
    clock = CompileClock()
    brax = run_brax(s_brax, clock, lambda m: log("  " + m))
    brax["wall_to_target_s"] = walls_to(brax["evals"], targets)
    out["brax"] = brax
    if ours.get("steady_steps_per_s") and brax.get("steady_steps_per_s"):
        out["ours_over_brax_steady"] = ours["steady_steps_per_s"] / brax["steady_steps_per_s"]
    return out


def halfcheetah_preset(scale: HalfcheetahScale, earlier: dict | None, deadline: float, log) -> dict:
    """Part 3: our halfcheetah preset until the top target or the deadline.

    When the preset is the very program part 2 ran (it is today: Brax's setting), part
    2's run already went on to the target; its figures are reported, not re-measured.
    """
    s = scale.setting
    bench_config, bench_hparams = our_config(s)
    config, hparams = preset("ppo", f"brax/{s.env}")
    config = scale.preset(config)
    targets = scale.targets
    if earlier and "ours" in earlier and same_run(config, hparams, bench_config, bench_hparams):
        o = earlier["ours"]
        return {"same_run_as": "halfcheetah_ppo.ours", "wall_to_target_s": o["wall_to_target_s"],
                "compile_s": o["compile_s"], "env_steps": o["env_steps"],
                "best_return": best_return(o["evals"])}  # fmt: skip
    log("  preset differs from the bench setting: its own run")
    res = train_with_evals(
        config, hparams, chunk_updates=scale.chunk_updates, eval_envs=s.num_eval_envs,
        eval_len=s.episode_length, stretch_steps=0, stop_return=max(targets),
        max_steps=scale.max_steps, deadline=deadline, log=log,
    )  # fmt: skip
    res["wall_to_target_s"] = walls_to(res["evals"], targets)
    return res


def brax_presets(scale: BraxPresetsScale, chunk_updates: int, deadline: float, log) -> dict:
    """Part 7: our ``brax/halfcheetah`` and ``brax/ant`` presets (Brax's settings and its
    policy: tanh-Gaussian, state-dependent std) toward their published returns.

    Each env gets an equal share of the time left (and at most ``cap_s`` of training
    after its compile); evaluated after every chunk with the deterministic policy
    (``tanh(mean)``, jaxpg's evaluation) on ``eval_envs`` fresh envs. Reports the wall
    time (compile included) at which each reference return was first reached.
    ``chunk_updates``: a run's chunk where its own scale does not say.
    """
    out = {}
    specs = list(scale.runs.items())
    for i, (env, spec) in enumerate(specs):
        config, hparams = preset("ppo", env)
        config = scale.preset(config)
        share = (deadline - now()) / (len(specs) - i)
        log(f"  {env}: {config.num_envs} envs x {config.num_steps} steps, policy {config.policy}"
            f" (state-dependent std: {config.state_dependent_std}), {share:.0f} s")
        res = train_with_evals(
            config, hparams, chunk_updates=spec.chunk_updates or chunk_updates,
            eval_envs=spec.eval_envs, eval_len=config.episode_length, stretch_steps=0,
            stop_return=max(spec.targets),
            max_steps=config.total_timesteps, deadline=now() + share, log=log,
            cap_s=spec.cap_s, deterministic=True,
        )  # fmt: skip
        res["wall_to_target_s"] = walls_to(res["evals"], spec.targets)
        res["best_return"] = best_return(res["evals"])
        res["reference"] = spec.reference
        res["policy"] = {"policy": config.policy, "state_dependent_std": config.state_dependent_std,
                         "num_envs": config.num_envs, "num_steps": config.num_steps,
                         "total_timesteps": config.total_timesteps}  # fmt: skip
        out[env] = res
    return {"runs": out}


# ------------------------------------------------------------------ many agents


def cartpole_agents(scale: AgentsScale, log) -> dict:
    """Part 4: N CartPole PPO agents (16 envs x 128 steps each) in one compiled program."""
    from jaxpg.sweep import final_returns, run_agents, stack_hparams

    n = scale.agents
    config, hparams = preset("ppo", "CartPole-v1")
    config = config.replace(num_envs=16, num_steps=128, total_timesteps=int(scale.agent_steps))
    config = scale.config(config).validate()
    keys = jnp.stack([jax.random.PRNGKey(i) for i in range(n)])
    res = run_agents(config, keys, stack_hparams([hparams] * n), log=lambda m: log("  " + m))
    finals = final_returns(res.metrics)
    return {
        "agents": n,
        "env_steps_per_agent": config.num_updates * config.batch_size,
        "compile_s": res.compile_time_s,
        "run_s": res.run_time_s,
        "wall_with_compile_s": res.compile_time_s + res.run_time_s,
        "chunks": f"{res.num_chunks} x {res.chunk_size}",
        "steps_per_s": n * config.num_updates * config.batch_size / res.run_time_s,
        "final_return_mean": float(np.nanmean(finals)),
        "final_return_min": float(np.nanmin(finals)),
    }


# ------------------------------------------------------------------------ memory


def memory_now() -> dict:
    """Device bytes in use / peak (None where the backend does not say) and host RSS."""
    stats = None
    try:
        stats = jax.local_devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - CPU backends may not implement it
        stats = None
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    stats = stats or {}
    return {"device_bytes_in_use": stats.get("bytes_in_use"),
            "device_peak_bytes": stats.get("peak_bytes_in_use"), "host_rss_bytes": rss}  # fmt: skip


def memory_growth(scale: HalfcheetahScale, log) -> dict:
    """Part 5: device memory after k and 3k updates of the halfcheetah program."""
    s = scale.setting
    config, hparams = our_config(s)
    n, k = scale.chunk_updates, scale.memory_chunks
    c = compiled_chunk(config, hparams, n, s.num_eval_envs, s.episode_length)
    hp = hparams.validate().as_arrays()
    state = c.init(jax.random.PRNGKey(1), hp)
    samples = []
    for i in range(3 * k):
        state, metrics = c.chunk(state, hp)
        jax.block_until_ready(state)
        del metrics
        if i + 1 in (k, 3 * k):
            gc.collect()
            samples.append({"updates": (i + 1) * n, **memory_now()})
            log(f"  after {(i + 1) * n} updates: {samples[-1]}")
    a, b = samples
    growth = None
    if a["device_bytes_in_use"] is not None:
        growth = b["device_bytes_in_use"] - a["device_bytes_in_use"]
    return {"after_1x": a, "after_3x": b, "device_growth_bytes": growth,
            "host_rss_growth_bytes": b["host_rss_bytes"] - a["host_rss_bytes"]}  # fmt: skip


# ----------------------------------------------------------------------- craftax


def craftax_ppo(s: CraftaxScale | None, deadline: float, log) -> dict:
    """Part 9: PPO on ``craftax/Craftax-Classic-Symbolic-v1`` at 1024 envs (the Craftax
    paper's anchor: PPO to 1e9 steps in under an hour on one GPU): env-only steps/s with
    the adapter's optimistic resets, compile time, steady training steps/s and the
    training return after a fixed budget (or the deadline)."""
    import importlib.util

    if s is None:
        return {"skipped": "smoke: compiling Craftax's world generation takes minutes on a CPU"}
    if importlib.util.find_spec("craftax") is None:
        return {"error": "craftax is not installed (pip install craftax==1.6.1)"}
    name = "craftax/Craftax-Classic-Symbolic-v1"
    ceiling = env_only_ceiling(name, s.num_envs, 64)
    log(f"  env-only: {ceiling['steps_per_s']:,.0f} steps/s at {s.num_envs} envs")
    config = TrainConfig(algo="ppo", env=name, num_envs=s.num_envs, num_steps=64, update_epochs=4,
                         num_minibatches=8, hidden_sizes=(512, 512, 512), activation="relu",
                         total_timesteps=int(s.max_steps), eval_every=0).validate()  # fmt: skip
    hparams = HParams(lr=2e-4, critic_lr=2e-4, ent_coef=0.01, gamma=0.99, gae_lambda=0.8)
    c = compiled_chunk(config, hparams, s.chunk_updates)
    hp = hparams.validate().as_arrays()
    state = c.init(jax.random.PRNGKey(0), hp)
    chunk_s, curve = [], []
    while int(state.env_steps) < s.max_steps and now() < deadline:
        t0 = now()
        state, m = c.chunk(state, hp)
        jax.block_until_ready(state)
        chunk_s.append(now() - t0)
        count = float(np.sum(m["episode_count"]))
        ret = float(np.sum(m["episode_return_sum"])) / count if count else None
        curve.append({"env_steps": int(state.env_steps), "episode_return": ret})
        log(f"    {int(state.env_steps):>12,} steps  return {ret}")
    steady = chunk_s[1:] or chunk_s
    per_chunk = s.chunk_updates * config.batch_size
    return {
        "env": name, "num_envs": s.num_envs, "env_only": ceiling, "compile_s": c.compile_s,
        "steady_steps_per_s": per_chunk * len(steady) / sum(steady) if steady else None,
        "env_steps": int(state.env_steps), "curve": curve,
        "final_return": curve[-1]["episode_return"] if curve else None,
        "stopped_by": "max_steps" if int(state.env_steps) >= s.max_steps else "deadline",
    }  # fmt: skip



# ------------------------------------------------------------- compilation cache


def cold_warm(cases: Mapping[str, tuple[str, ...]], targets: tuple[float, ...], deadline: float, log) -> dict:
    """Part 9: halfcheetah training and N CartPole agents, each run as two fresh
    processes on one new compilation cache (cold, then warm): walls, trace / lower /
    XLA compile / run seconds and cache hits (``bench_compile.py``'s measurement)."""
    from experiments.bench_compile import run_case, wall_to

    out = {}
    for name, args in cases.items():
        left = deadline - now()
        if left < 30:
            out[name] = {"skipped": f"{left:.0f} s left"}
            continue
        out[name] = res = run_case(name, list(args), max(left / 2, 30), lambda m: log("  " + m))
        for which in ("cold", "warm"):
            walls = res[which].get("eval_walls")
            if walls:  # seconds from the command's start to each target eval return
                res[which]["wall_to"] = {str(t): wall_to(walls, t) for t in targets}
    return {"cases": out}


# ------------------------------------------------------------------ population-based training


def pbt_population(s: PBTScale, log) -> dict:
    """Part: a PBT population (default 64 PPO members on SpaceInvaders-MinAtar) in one
    compiled program with the ready step inside; wall time, throughput and returns."""
    from jaxpg.pbt import PBTConfig, parse_explore, run_pbt
    from jaxpg.runner.options import RunOptions
    from jaxpg.pbt.report import summarize_population

    config, hparams = preset("ppo", s.env)
    config = s.config(config.replace(total_timesteps=int(s.steps))).validate()
    pbt = PBTConfig(population=s.population, interval=s.interval)
    t0 = now()
    res = run_pbt(config, hparams, parse_explore(s.explore), pbt, RunOptions(seed=0, handle_signals=False),
                  log=lambda m: log("  " + m))  # fmt: skip
    pop = summarize_population(res)
    return {
        "env": s.env, "population": s.population, "interval": res.meta["pbt"]["interval"],
        "env_steps_per_member": res.summary["env_steps_per_member"],
        "compile_s": res.summary["compile_time_s"], "run_s": res.summary["train_time_s"],
        "wall_with_compile_s": now() - t0, "steps_per_s": res.summary["sps"],
        "ready_steps": res.summary["ready_steps"], "copies": pop["copies"],
        "best_final_return": pop["best_final_return"], "median_final_return": pop["median_final_return"],
        "best_schedule": pop["best_schedule"],
    }  # fmt: skip


# ------------------------------------------------------------------ policy paths


POLICY_PATHS: dict[str, Tweak] = {
    "mlp": unchanged, "gru": lambda c: c.replace(recurrent="gru"), "cnn": lambda c: c.replace(encoder="cnn"),
    "cnn+gru": lambda c: c.replace(encoder="cnn", recurrent="gru"),
}  # fmt: skip
"""The policy paths the ``policy_paths`` part times: today's MLP, a GRU core, the CNN
encoder (and both: one compile that runs both paths, for the smoke run)."""


def policy_path_config(path: str, env: str, num_envs: int, s: PolicyPathsScale) -> TrainConfig:
    """PPO on ``env`` with ``num_envs`` envs and the policy ``path`` (MinAtar's network:
    128 relu units, a 128-unit GRU, 16 3x3 filters)."""
    mlp = TrainConfig(algo="ppo", env=env, num_envs=num_envs, num_steps=s.num_steps, update_epochs=s.epochs,
                      num_minibatches=s.minibatches, hidden_sizes=(s.hidden,), activation="relu",
                      rnn_size=s.hidden, total_timesteps=10**9, eval_every=0)  # fmt: skip
    return POLICY_PATHS[path](mlp).validate()


def policy_paths(s: PolicyPathsScale, deadline: float, log) -> dict:
    """Part: PPO's recurrent (GRU) and CNN paths against the MLP path on the same env and
    envs (the issue's recurrent PPO at 2048 envs and MinAtar CNN at 1024 envs): compile
    time, steady steps/s over ``chunks`` chunks (the first excluded) and each path's time
    per env step over the MLP's at the same envs. Also the CPU benchmark
    (``bench_policy_paths.py``)."""
    hp = HParams(lr=5e-4, critic_lr=5e-4)
    out, sps, cps = {"env": s.env, "settings": asdict(s), "cases": []}, {}, {}
    for path, num_envs in s.cases:
        if now() > deadline:
            out["cases"].append({"path": path, "num_envs": num_envs, "skipped": "deadline"})
            continue
        config = policy_path_config(path, s.env, num_envs, s)
        c = compiled_chunk(config, hp, s.chunk_updates)
        hpa = hp.validate().as_arrays()
        state = c.init(jax.random.PRNGKey(0), hpa)
        times, cpu = [], []  # wall and process CPU seconds (on a shared CPU: less load-bound)
        for _ in range(s.chunks):
            t0, c0 = now(), time.process_time()
            state, _ = c.chunk(state, hpa)
            jax.block_until_ready(state)
            times.append(now() - t0)
            cpu.append(time.process_time() - c0)
        steady, steady_cpu = times[1:] or times, cpu[1:] or cpu
        steps = s.chunk_updates * config.batch_size * len(steady)
        sps[path, num_envs] = rate = steps / sum(steady)
        cps[path, num_envs] = cpu_per_step = sum(steady_cpu) / steps
        case = {"path": path, "num_envs": num_envs, "compile_s": c.compile_s, "steady_steps_per_s": rate,
                "chunk_s": times, "chunk_cpu_s": cpu, "cpu_s_per_step": cpu_per_step}  # fmt: skip
        if path != "mlp" and ("mlp", num_envs) in sps:
            case["time_per_step_over_mlp"] = sps["mlp", num_envs] / rate
            case["cpu_per_step_over_mlp"] = cpu_per_step / cps["mlp", num_envs]
        out["cases"].append(case)
        log(f"  {path:>4} x {num_envs} envs: compile {c.compile_s:.1f} s, {rate:,.0f} steps/s"
            + (f", {case['time_per_step_over_mlp']:.2f}x the MLP's time per step"
               f" ({case['cpu_per_step_over_mlp']:.2f}x its CPU seconds)" if "time_per_step_over_mlp" in case else ""))  # fmt: skip
    return out
