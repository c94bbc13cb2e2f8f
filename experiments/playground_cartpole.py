"""MuJoCo Playground on CPU: is the training program LAPACK-free, and does CartpoleBalance learn?

1. Lowers the whole training program (``jax.jit(make_train(config))``) for
   ``playground/<env>`` and counts LAPACK custom calls in its StableHLO text
   (batched LAPACK kernels can deadlock XLA's CPU pool; see the README).
2. Trains a small PPO run (CPU-sized version of Playground's DM Control setting)
   with in-program deterministic evaluation and reports the eval-return curve,
   steps and minutes.

    python experiments/playground_cartpole.py                 # CPU size
    python experiments/playground_cartpole.py --steps 5000000 --num-envs 2048   # a GPU

Writes ``experiments/results/playground_<env>_<platform>.json`` and a figure.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import jax  # noqa: E402

from jaxpg.presets import preset  # noqa: E402
from jaxpg import RunOptions, make_train, make_trainer, run  # noqa: E402
from jaxpg.runner.loop import device_description  # noqa: E402


def _custom_calls(text: str) -> list[str]:
    targets = re.findall(r'custom_call @(\w+)|call_target_name = "(\w+)"', text)
    return sorted({a or b for a, b in targets})


def lapack_calls(config, hparams) -> dict:
    """Custom-call targets of the lowered whole training program (init + updates) and of
    one update alone (what the driver's chunks run), and how many are LAPACK's."""
    hp = hparams.as_arrays()
    key = jax.random.PRNGKey(0)
    whole = _custom_calls(jax.jit(make_train(config)).lower(key, hp).as_text())
    trainer = make_trainer(config)
    abstract = jax.eval_shape(trainer.init, key, hp)
    update = jax.jit(trainer.run_updates, static_argnums=2).lower(abstract, hp, 1).as_text()
    updates = _custom_calls(update)
    count = lambda names: sum("lapack" in n.lower() for n in names)
    return {"train_program": whole, "train_lapack": count(whole),
            "update_program": updates, "update_lapack": count(updates)}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="CartpoleBalance")
    p.add_argument("--steps", type=int, default=300_000)
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--num-steps", type=int, default=30)
    p.add_argument("--episode-length", type=int, default=1000)
    p.add_argument("--out", default=None)
    p.add_argument("--lower-only", action="store_true", help="only the LAPACK check")
    a = p.parse_args()
    name = f"playground/{a.env}"
    config, hparams = preset("ppo", name)
    config = config.replace(
        num_envs=a.num_envs, num_steps=a.num_steps, num_minibatches=4, update_epochs=8,
        total_timesteps=a.steps, episode_length=a.episode_length, num_eval_envs=16,
        eval_every=max(1, a.steps // (a.num_envs * a.num_steps) // 10),
    )  # fmt: skip
    t0 = time.perf_counter()
    calls = lapack_calls(config, hparams)
    lower_s = time.perf_counter() - t0
    print(f"lowered in {lower_s:.0f} s: whole program {calls['train_lapack']} LAPACK custom calls "
          f"{calls['train_program']}; one update {calls['update_lapack']} {calls['update_program']}")
    if a.lower_only:
        return
    out = a.out or f"/tmp/jaxpg-playground-{a.env}"
    result = run(config, hparams, RunOptions(seed=0, out_dir=out, progress=False, overwrite=True))
    rows = [r for r in result.history if "eval_return" in r]
    curve = [(r["eval_env_steps"], r["eval_return"], r["eval_return_low"], r["eval_return_high"]) for r in rows]
    s = result.summary
    res = {
        "env": name, "device": device_description(), "jax_version": jax.__version__,
        "custom_calls": calls, "lower_time_s": lower_s,
        "config": config.to_dict(), "hparams": hparams.to_dict(),
        "eval_curve": curve, "eval_return": s["eval_return"], "best_eval_return": s["best_eval_return"],
        "best_eval_env_steps": s["best_eval_env_steps"], "wall_time_s": s["wall_time_s"],
        "compile_time_s": s["compile_time_s"], "sps": s["sps"],
    }  # fmt: skip
    for steps, ret, lo, hi in curve:
        print(f"  {steps:>9,} steps: eval return {ret:7.1f}  [{lo:.1f}, {hi:.1f}]")
    print(f"final eval {s['eval_return']:.1f}, best {s['best_eval_return']:.1f} at "
          f"{s['best_eval_env_steps']:,} steps; {s['wall_time_s'] / 60:.1f} min "
          f"(compile {s['compile_time_s']:.0f} s), {s['sps']:,.0f} steps/s")  # fmt: skip
    platform = jax.devices()[0].platform
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", f"playground_{a.env}_{platform}.json")
    from common import write_record

    write_record(path, res)
    _figure(curve, name, os.path.join(HERE, "figures", f"playground_{a.env}_{platform}.png"))


def _figure(curve, title: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not curve:
        return
    x, y, lo, hi = zip(*curve)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(x, y, marker="o")
    ax.fill_between(x, lo, hi, alpha=0.25)
    ax.set_xlabel("env steps")
    ax.set_ylabel("eval return (deterministic, 95% CI)")
    ax.set_title(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
