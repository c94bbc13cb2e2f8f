"""Evidence for the policy layer: memory (GRU vs MLP), pixels (CNN vs MLP), masks.

Each part trains PPO with a recurrent or CNN policy and with today's MLP at the same
steps, ``--seeds`` seeds vmapped in one program per policy, with the in-program
deterministic evaluation (``eval_return``: mean over ``num_eval_envs`` fresh episodes),
and records the evaluation curve, the final return per seed and the wall time.

Parts (``--parts``; the CPU-sized defaults first, ``--scale`` for the issue's sizes):

* ``tmaze``: ``Probe-TMaze-v0`` (optimum +1, any feed-forward policy 0).
* ``cartpole_novel``: ``CartPole-NoVelocity-v1`` (no velocities in the observation).
* ``memorychain``: gymnax ``MemoryChain-bsuite``.
* ``masked``: ``Probe-MaskedTrap-v0``; the count of trapped episodes over training
  (an episode's return is below 10 only if it hit the masked trap).
* ``minatar``: ``Breakout-MinAtar`` and ``SpaceInvaders-MinAtar`` at 2e6 steps: the
  preset (PureJaxRL's MinAtar PPO, a 64x64 relu MLP) against the same preset with the
  MinAtar paper's network (``--encoder cnn --hidden-sizes 128 --activation relu``).
  The parts may also be named one by one (``Breakout-MinAtar``), and ``--arms``
  picks arms (``mlp cnn``), so a run can order its pairs.

    python experiments/policy_evidence.py --parts tmaze cartpole_novel masked

Writes ``experiments/results/policy_<part>_<platform>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxpg import make_train  # noqa: E402
from jaxpg.config import HParams, TrainConfig  # noqa: E402
from jaxpg.presets import preset  # noqa: E402
from jaxpg.runner.loop import device_description  # noqa: E402

RESULTS = os.path.join(HERE, "results")


def arms(part: str, scale: bool) -> tuple[dict, dict, HParams]:
    """``(config fields shared by both arms, {arm: its own fields}, hparams)`` of a part."""
    pick = lambda cpu, gpu: gpu if scale else cpu
    hp = HParams(lr=1e-3, critic_lr=1e-3)
    if part == "tmaze":
        common = dict(env="Probe-TMaze-v0", total_timesteps=pick(60_000, 500_000), num_envs=16,
                      num_steps=32, hidden_sizes=(32,), num_eval_envs=64, update_epochs=4)
        return common, {"gru": dict(recurrent="gru", rnn_size=32), "mlp": {}}, hp
    if part == "cartpole_novel":
        common = dict(env="CartPole-NoVelocity-v1", total_timesteps=pick(150_000, 2_000_000),
                      num_envs=pick(16, 256), num_steps=64, hidden_sizes=(64,), num_eval_envs=16)
        return common, {"gru": dict(recurrent="gru", rnn_size=64), "mlp": dict(hidden_sizes=(64, 64))}, hp
    if part == "memorychain":
        common = dict(env="MemoryChain-bsuite", total_timesteps=pick(200_000, 2_000_000),
                      num_envs=pick(16, 256), num_steps=32, hidden_sizes=(64,), num_eval_envs=64)
        return common, {"gru": dict(recurrent="gru", rnn_size=64), "mlp": {}}, hp
    if part == "masked":
        common = dict(env="Probe-MaskedTrap-v0", total_timesteps=pick(50_000, 500_000), num_envs=16,
                      num_steps=32, hidden_sizes=(32,), num_eval_envs=16)
        return common, {"masked": {}}, hp
    if part.endswith("MinAtar"):  # the preset (PureJaxRL's MinAtar PPO) at 2e6 steps
        config, hp = preset("ppo", part)
        common = config.to_dict() | dict(total_timesteps=2_000_000)
        cnn = dict(encoder="cnn", hidden_sizes=(128,), activation="relu")  # the MinAtar paper's
        return common, {"mlp": {}, "cnn": cnn}, hp
    raise SystemExit(f"unknown part {part!r}")


def run_arm(cfg: TrainConfig, hp: HParams, seeds: int) -> dict:
    train = jax.jit(jax.vmap(make_train(cfg), in_axes=(0, None)))
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    load_before, cpu0 = os.getloadavg(), time.process_time()
    t0 = time.perf_counter()
    compiled = train.lower(keys, hp.as_arrays()).compile()
    t1 = time.perf_counter()
    _, m = compiled(keys, hp.as_arrays())
    jax.block_until_ready(m)
    t2 = time.perf_counter()
    cpu_s = time.process_time() - cpu0
    done = np.asarray(m["eval_done"])[0] > 0
    evals = np.asarray(m["eval_return"])[:, done]  # [seeds, evaluations]
    steps = np.asarray(m["eval_env_steps"])[0, done]
    count = np.asarray(m["episode_count"]).sum(1)
    ret_sum = np.asarray(m["episode_return_sum"]).sum(1)
    out = {"config": cfg.to_dict(), "eval_env_steps": steps.tolist(), "eval_return": evals.tolist(),
           "final_eval_return": evals[:, -1].tolist(), "final_mean": float(evals[:, -1].mean()),
           "train_episode_return": (ret_sum / np.maximum(count, 1)).tolist(),
           "compile_s": round(t1 - t0, 1), "train_s": round(t2 - t1, 1), "cpu_s": round(cpu_s, 1),
           "load_before": load_before, "load_after": os.getloadavg()}  # fmt: skip
    if cfg.env == "Probe-MaskedTrap-v0":  # a trapped episode returns < 10
        returns, dones = np.asarray(m["episode_return_sum"]), np.asarray(m["episode_count"])
        out["episodes"] = int(dones.sum())
        out["trapped_episodes_upper_bound"] = int(np.round((10 * dones - returns).sum() / 11))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", default=["tmaze", "cartpole_novel", "masked"])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--scale", action="store_true", help="the issue's sizes (a GPU run)")
    p.add_argument("--steps", type=int, default=None, help="override every part's total_timesteps")
    p.add_argument("--arms", nargs="+", default=None, help="only these arms (e.g. mlp cnn)")
    p.add_argument("--results", default=RESULTS)
    args = p.parse_args()
    parts = [q for part in args.parts for q in
             (["Breakout-MinAtar", "SpaceInvaders-MinAtar"] if part == "minatar" else [part])]
    platform = jax.devices()[0].platform
    for part in parts:
        common, arm_fields, hp = arms(part, args.scale)
        if args.steps:
            common["total_timesteps"] = args.steps
        path = os.path.join(args.results, f"policy_{part}_{platform}.json")
        kept = {}  # arms of an earlier run that this one does not rerun (each has its config)
        if args.arms and os.path.exists(path):
            with open(path) as f:
                kept = {a: r for a, r in json.load(f)["arms"].items() if a not in args.arms}
        result = {"part": part, "device": device_description(), "seeds": args.seeds,
                  "load_before": os.getloadavg(), "hparams": hp.to_dict(), "arms": kept}  # fmt: skip
        for arm, fields in arm_fields.items():
            if args.arms and arm not in args.arms:
                continue
            cfg = TrainConfig(**{**common, **fields}).validate()
            result["arms"][arm] = r = run_arm(cfg, hp, args.seeds)
            print(f"{part} {arm}: final eval {r['final_mean']:.3f} per seed "
                  f"{np.round(r['final_eval_return'], 3).tolist()} at {cfg.total_timesteps} steps, "
                  f"train {r['train_s'] / 60:.1f} min (+{r['compile_s']:.0f} s compile)", flush=True)
            result["load_after"] = os.getloadavg()
            os.makedirs(args.results, exist_ok=True)  # written after each arm: partial runs count
            with open(path, "w") as f:
                json.dump(result, f, indent=1)
            print("wrote", path, flush=True)


if __name__ == "__main__":
    main()
