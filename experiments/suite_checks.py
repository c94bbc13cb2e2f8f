"""Learning checks of the env-suite adapters at CPU scale, and Craftax's reset cost.

For one task of each installed suite, trains PPO (S seeds in one vmapped program)
and reports the mean training return over the last 20% of updates next to a uniform
random policy's return on the same env (the same adapter, 256 episodes), with the
wall time including compilation. ``--part resets`` measures Craftax's env-only steps
per second at 64 envs with a reset per env per step (``reset_ratio`` 1) against the
optimistic resets the adapter uses by default (one fresh world per 16 envs).
``--part compile`` says where Craftax's compile time goes: it compiles the pieces of
its PPO preset's chunk program one by one (the world generation of the rollout's 4
fresh envs, one batched step with it, the chunk without and with the in-program
evaluation) and records the process's CPU seconds for each, which load changes far
less than wall time.

    python experiments/suite_checks.py                       # every installed suite
    python experiments/suite_checks.py --tasks jumanji       # one of them
    PYTHONPATH=<navix site> python experiments/suite_checks.py --tasks navix  # Python < 3.12
    python experiments/suite_checks.py --part resets
    python experiments/suite_checks.py --part compile [--pieces reset4 step16 ...]

Writes ``experiments/results/suite_checks_<task>.json`` / ``suite_resets_craftax.json`` /
``suite_compile_craftax.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from experiments.common import RESULTS, final_return, return_curves, train_many, write_result  # noqa: E402
from jaxpg import envs  # noqa: E402
from jaxpg.config import HParams, TrainConfig  # noqa: E402
from jaxpg.envs.batched import step_batch  # noqa: E402
from jaxpg.envs.craftax_env import make_craftax  # noqa: E402
from jaxpg.presets import preset  # noqa: E402
from jaxpg.rollout import first_episodes  # noqa: E402
from jaxpg.runner.trainer import make_trainer  # noqa: E402

# task -> (module, env); PPO with the env's preset (jaxpg.presets.ENV_PRESETS) throughout.
TASKS = {
    "craftax": ("craftax", "craftax/Craftax-Classic-Symbolic-v1"),
    "jumanji": ("jumanji", "jumanji/Snake-v1"),
    "xminigrid": ("xminigrid", "xminigrid/MiniGrid-Empty-8x8"),
    "navix": ("navix", "navix/Navix-Empty-8x8-v0"),
}
# Kinetix is not here: kinetix-env cannot be installed beside our jax (docs/suites.md).


def random_return(name: str, episodes: int = 256, max_steps: int = 3000) -> float:
    env = envs.make(name)
    n = env.action_space.n

    def act(key, obs):
        if isinstance(obs, dict):  # uniform over the legal actions where the env masks some
            logits = jnp.where(obs["action_mask"], 0.0, -jnp.inf)
            return jax.random.categorical(key, logits), None
        return jax.random.randint(key, (obs.shape[0],), 0, n), None

    returns, _, _ = jax.jit(lambda k: first_episodes(env, act, k, episodes, max_steps))(
        jax.random.PRNGKey(123)
    )
    return float(np.mean(np.asarray(returns)))


def task_config(task: str) -> tuple[TrainConfig, HParams]:
    """The preset PPO (config, hparams) of ``task``'s env, without periodic evaluation."""
    cfg, hp = preset("ppo", TASKS[task][1])
    return cfg.replace(eval_every=0), hp


def check(args, task: str) -> None:
    env_name = TASKS[task][1]
    cfg, hp = task_config(task)
    if args.steps:
        cfg = cfg.replace(total_timesteps=int(args.steps))
    cfg_kw, hp_kw = dataclasses.asdict(cfg), dataclasses.asdict(hp)
    t0 = time.perf_counter()
    _, metrics, seconds = train_many(cfg, [hp], list(range(args.seeds)))
    final = final_return(metrics)[0]
    x, curves = return_curves(metrics, cfg, points=10)
    first = curves[0, :, 0]
    rand = random_return(env_name)
    result = {
        "task": env_name, "algo": "ppo", "config": cfg_kw, "hparams": hp_kw, "seeds": args.seeds,
        "env_steps": int(cfg.num_updates * cfg.batch_size),
        "first_window_return": first.tolist(), "final_return": final.tolist(),
        "random_return": rand, "curve_env_steps": x.tolist(), "curve_mean": np.nanmean(curves[0], 0).tolist(),
        "train_seconds_with_compile": seconds, "total_seconds": time.perf_counter() - t0,
        "above_random": bool(np.all(final > rand)),
        # claim: the preset learns above a random policy on every seed
        "verdict": "agrees" if np.all(final > rand) else "disagrees",
        "measured_text": (f"{env_name}: final {np.mean(final):.2f} (seeds {np.round(final, 2).tolist()}) "
                          f"vs random {rand:.2f}, from {np.nanmean(first):.2f}, "
                          f"{cfg.num_updates * cfg.batch_size:.2g} steps, {seconds / 60:.1f} min"),
    }  # fmt: skip
    write_result(args, f"suite_checks_{task}", result)


def env_steps_per_second(env, num_envs: int, steps: int, repeats: int) -> list[float]:
    _, state = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), num_envs))

    def one(state, key):
        a = jax.random.randint(key, (num_envs,), 0, env.action_space.n)
        return step_batch(env, jax.random.split(key, num_envs), state, a)[1], None

    run = jax.jit(lambda s, k: jax.lax.scan(one, s, jax.random.split(k, steps))[0])
    state = jax.block_until_ready(run(state, jax.random.PRNGKey(1)))  # compile
    rates = []
    for r in range(repeats):
        t0 = time.perf_counter()
        state = jax.block_until_ready(run(state, jax.random.PRNGKey(2 + r)))
        rates.append(num_envs * steps / (time.perf_counter() - t0))
    return rates


def resets(args) -> None:
    num_envs, steps, repeats = 64, 64, 5
    rates = {}
    for ratio in (1, 16):  # interleaving would need both programs warm: compile both first
        env = envs.wrap(make_craftax("Craftax-Classic-Symbolic-v1", reset_ratio=ratio))
        rates[ratio] = env_steps_per_second(env, num_envs, steps, repeats)
    med = {r: float(np.median(v)) for r, v in rates.items()}
    write_result(args, "suite_resets_craftax", {
        "env": "craftax/Craftax-Classic-Symbolic-v1", "num_envs": num_envs, "steps_per_call": steps,
        "steps_per_second": {str(k): v for k, v in rates.items()}, "median": {str(k): v for k, v in med.items()},
        "ratio_16_over_1": med[16] / med[1],
        "verdict": "agrees" if med[16] > med[1] else "disagrees",  # optimistic resets are faster
        "measured_text": (f"Craftax-Classic env steps/s at {num_envs} envs: reset every env every step "
                          f"{med[1]:.0f}, optimistic resets (1 world per 16 envs) {med[16]:.0f} "
                          f"({med[16] / med[1]:.1f}x)"),
    })  # fmt: skip


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def compile_cpu(jitted, *args) -> dict:
    """CPU and wall seconds of ``jitted.trace(*args)``, ``.lower()`` and ``.compile()``."""
    c, w = [cpu_seconds()], [time.perf_counter()]
    stage = jitted.trace(*args)
    for step in ("lower", "compile"):
        c.append(cpu_seconds()), w.append(time.perf_counter())
        stage = getattr(stage, step)()
    c.append(cpu_seconds()), w.append(time.perf_counter())
    names = ("trace", "lower", "compile")
    out = {f"{n}_cpu_s": c[i + 1] - c[i] for i, n in enumerate(names)}
    out.update(wall_s=w[-1] - w[0], load_average=os.getloadavg()[0])
    print(f"  {out}", flush=True)
    return out


COMPILE_PIECES = ("reset4", "step16", "chunk_noeval", "chunk_eval")


def compile_parts(args) -> None:
    """CPU seconds to compile the pieces of Craftax's PPO chunk program (the preset at
    the CLI's defaults: a chunk of updates with an evaluation every update)."""
    name = TASKS["craftax"][1]
    cfg, hp = preset("ppo", name)
    cfg = cfg.replace(total_timesteps=20_000)  # 4 updates, the CLI's chunk of them
    env = envs.make(name)
    keys = jax.random.split(jax.random.PRNGKey(0), cfg.num_envs)
    fresh = -(-cfg.num_envs // env.reset_ratio)
    pieces = {}
    for piece in args.pieces:
        print(piece, flush=True)
        if piece == "reset4":  # the rollout's optimistic reset: ceil(64 / 16) worlds per step
            pieces[piece] = compile_cpu(jax.jit(jax.vmap(env.reset)), keys[:fresh])
        elif piece == "step16":  # one batched step at 64 envs, with those resets
            _, st = jax.eval_shape(jax.vmap(env.reset), keys)
            step = jax.jit(lambda k, s, a: step_batch(env, k, s, a))
            pieces[piece] = compile_cpu(step, keys, st, jnp.zeros((cfg.num_envs,), jnp.int32))
        else:
            c = cfg.replace(eval_every=0 if piece == "chunk_noeval" else None)
            trainer = make_trainer(c)
            hpa = hp.as_arrays()
            state = jax.eval_shape(trainer.init, jax.random.PRNGKey(0), hpa)
            run = jax.jit(trainer.run_masked, static_argnums=3)
            pieces[piece] = compile_cpu(run, state, hpa, np.int32(c.chunk), c.chunk)
    text = ", ".join(f"{k} {v['compile_cpu_s']:.0f}" for k, v in pieces.items())
    write_result(args, "suite_compile_craftax", {
        "env": name, "config": dataclasses.asdict(cfg), "reset_ratio": env.reset_ratio, "pieces": pieces,
        "verdict": "pending",  # a breakdown, not a claim
        "measured_text": f"XLA compile CPU seconds of Craftax's PPO pieces: {text}",
    })  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("learn", "resets", "compile"), default="learn")
    p.add_argument("--pieces", nargs="*", choices=COMPILE_PIECES, default=list(COMPILE_PIECES))
    p.add_argument("--tasks", nargs="*", default=list(TASKS))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--steps", type=float, default=None, help="override total_timesteps")
    p.add_argument("--results", default=RESULTS)
    p.add_argument("--scale", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.part == "resets":
        return resets(args)
    if args.part == "compile":
        return compile_parts(args)
    for task in args.tasks:
        if importlib.util.find_spec(TASKS[task][0]) is None:
            print(f"{task}: not installed (pip install -e '.[{TASKS[task][0]}]'), skipped")
            continue
        check(args, task)


if __name__ == "__main__":
    main()
