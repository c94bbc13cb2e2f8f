"""Env-only ceiling vs PPO training throughput, same env, same num_envs, same scan.

    python experiments/bench_throughput.py --env CartPole-v1 --num-envs 8
    python experiments/bench_throughput.py --env brax/halfcheetah --num-envs 2048 --brax-ppo

The ceiling steps the envs with random actions through the very rollout scan PPO
uses (normalization and bookkeeping included), so the ratio says how much of the
time learning costs. Prints a table and saves JSON with the hardware under
experiments/results/.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp

from jaxpg.algos.state import TrainState
from jaxpg.presets import preset
from jaxpg.rollout import rollout
from jaxpg import make_trainer
from jaxpg.runner.loop import device_description

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def time_compiled(fn, state, repeats: int):
    """Compile ``fn(state) -> state``, then time ``repeats`` calls (after one warm-up)."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(state).compile()
    compile_s = time.perf_counter() - t0
    state = jax.block_until_ready(compiled(state))
    t0 = time.perf_counter()
    for _ in range(repeats):
        state = compiled(state)
    jax.block_until_ready(state)
    return compile_s, (time.perf_counter() - t0) / repeats


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--num-envs", type=int, default=None, help="default: the env preset's")
    p.add_argument("--num-steps", type=int, default=None, help="rollout length (default: preset)")
    p.add_argument("--updates", type=int, default=10, help="PPO updates per timed call")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=RESULTS)
    args = p.parse_args(argv)

    config, hparams = preset("ppo", args.env)
    overrides = {}
    if args.num_envs:
        overrides["num_envs"] = args.num_envs
    if args.num_steps:
        overrides["num_steps"] = args.num_steps
    config = config.replace(**overrides)
    config = config.replace(total_timesteps=max(config.total_timesteps, config.batch_size))
    while config.batch_size % config.num_minibatches:
        config = config.replace(num_minibatches=config.num_minibatches // 2)
    trainer = make_trainer(config)
    ctx = trainer.ctx
    hp = hparams.as_arrays()
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0), hp)
    space = ctx.env.action_space

    def random_act(key, obs):
        n = obs.shape[0]
        if space.is_discrete:
            a = jax.random.randint(key, (n,), 0, space.n)
        else:
            a = jax.random.uniform(key, (n,) + space.shape, minval=-1.0, maxval=1.0)
        return a, jnp.zeros((n,))

    def env_only(s: TrainState) -> TrainState:
        def body(s, _):
            key, k = jax.random.split(s.key)
            _, env_state, obs, _ = rollout(
                ctx.env, random_act, s.obs_stats.normalize, s.env_state, s.obs, k, config.num_steps
            )
            return s.replace(env_state=env_state, obs=obs, key=key), None

        return jax.lax.scan(body, s, None, length=args.updates)[0]

    def train(s: TrainState) -> TrainState:
        return trainer.run_updates(s, hp, args.updates)[0]

    steps = args.updates * config.batch_size
    c_env, t_env = time_compiled(env_only, state, args.repeats)
    c_ppo, t_ppo = time_compiled(train, state, args.repeats)
    result = {
        "env": config.env,
        "backend": config.backend if config.env.startswith("brax/") else None,
        "num_envs": config.num_envs,
        "num_steps": config.num_steps,
        "update_epochs": config.update_epochs,
        "num_minibatches": config.num_minibatches,
        "steps_per_timed_call": steps,
        "env_only_steps_per_s": steps / t_env,
        "ppo_steps_per_s": steps / t_ppo,
        "ppo_over_env_only": t_env / t_ppo,
        "compile_s": {"env_only": c_env, "ppo": c_ppo},
        "device": device_description(),
        "jax_version": jax.__version__,
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print(
        f"{config.env} x {config.num_envs} envs on {result['device']}:\n"
        f"  env-only ceiling  {result['env_only_steps_per_s']:>14,.0f} steps/s\n"
        f"  PPO training      {result['ppo_steps_per_s']:>14,.0f} steps/s"
        f"  ({result['ppo_over_env_only']:.2f}x of the ceiling)"
    )
    os.makedirs(args.out, exist_ok=True)
    platform = jax.devices()[0].platform
    name = f"throughput_{config.env.replace('/', '-')}_{config.num_envs}envs_{platform}.json"
    from common import write_record

    write_record(os.path.join(args.out, name), result)
    return result


if __name__ == "__main__":
    main()
