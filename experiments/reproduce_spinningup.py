"""SpinningUp's on-policy MuJoCo benchmark (VPG, TRPO, PPO; 3e6 steps) on Brax's counterparts.

SpinningUp's setting (docs/spinningup/bench.rst and the algorithms' defaults):
4000 env steps per update, (64, 32) tanh networks for policy and value, no
observation normalization, gamma 0.99, GAE lambda 0.97, 1000-step episodes, value
function fitted by 80 Adam steps (lr 1e-3) on the whole batch; VPG one policy step
(Adam 3e-4); TRPO max KL 0.01, 10 CG iterations, damping 0.1, 10 backtracking
steps of 0.8; PPO clip 0.2, 80 policy steps (Adam 3e-4) stopped early at KL > 1.5 x
0.01. The metric is SpinningUp's: the mean return of the episodes that ended in
each update's batch.

Ours: ``a2c`` stands for VPG (GAE, one actor step and one critic step per batch,
where SpinningUp fits the critic 80 times), ``trpo`` and ``ppo`` (one minibatch, 80
epochs, target KL 0.015, which stops the critic's steps too). Each algorithm's
seeds are ``vmap``-ed into one program; envs are Brax's halfcheetah, hopper,
walker2d, ant and swimmer (positional backend) which differ from Gym's MuJoCo
v3 envs (dynamics, rewards, termination): compare the *ordering* of algorithms per
env with SpinningUp's plots, not the returns. SpinningUp publishes its results as
plots only (10 seeds, PyTorch and TF1); no numbers are copied here.

It runs (env, algo) pairs in order until ``deadline``, each in chunks, so a cut
leaves partial curves (recorded with how far they got).

    python experiments/reproduce_spinningup.py --smoke              # brax/fast, tiny, CPU
    python experiments/reproduce_spinningup.py --budget-s 3000      # a GPU

Writes ``experiments/results/reproduce_spinningup_<platform>.json`` and ``.md``
(and a curves figure when matplotlib is there).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax
import numpy as np

from jaxpg.config import HParams, TrainConfig
from jaxpg import make_trainer

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
ENVS = ("halfcheetah", "hopper", "walker2d", "ant", "swimmer")
ALGOS = {"vpg": "a2c", "trpo": "trpo", "ppo": "ppo"}

BASE = dict(num_envs=8, num_steps=500, hidden_sizes=(64, 32), activation="tanh", normalize_obs=False,
            anneal_lr=False, episode_length=1000, total_timesteps=3_000_000, backend="positional")
BASE_HP = dict(gamma=0.99, gae_lambda=0.97, critic_lr=1e-3, ent_coef=0.0, ent_coef_final=0.0,
               max_grad_norm=1e6)
PER_ALGO = {
    "vpg": (dict(), dict(lr=3e-4)),
    "trpo": (dict(update_epochs=80, num_minibatches=1, cg_iters=10, ls_steps=10),
             dict(max_kl=0.01, cg_damping=0.1, ls_backtrack=0.8)),
    "ppo": (dict(update_epochs=80, num_minibatches=1, clip_value=False),
            dict(lr=3e-4, clip_eps=0.2, target_kl=0.015)),
}  # fmt: skip
SMOKE = dict(num_envs=4, num_steps=8, total_timesteps=4 * 8 * 4, episode_length=20, update_epochs=2)


def setting(algo: str, env: str, smoke: bool) -> tuple[TrainConfig, HParams]:
    cfg, hp = PER_ALGO[algo]
    config = TrainConfig(algo=ALGOS[algo], env=f"brax/{env}", **{**BASE, **cfg})
    if smoke:
        config = config.replace(**{k: v for k, v in SMOKE.items() if k != "update_epochs" or algo != "vpg"})
    return config.validate(), HParams(**{**BASE_HP, **hp}).validate()


def train_seeds(config: TrainConfig, hparams: HParams, seeds: int, chunk: int, deadline: float, log) -> dict:
    """``seeds`` agents in one vmapped program, ``chunk`` updates per call, until done or deadline."""
    trainer = make_trainer(config)
    hp = jax.tree.map(lambda x: np.full((seeds,), x, np.float32), hparams.as_arrays())
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    t0 = time.perf_counter()
    state = jax.jit(jax.vmap(trainer.init))(keys, hp)
    run = jax.jit(jax.vmap(lambda s, h: trainer.run_updates(s, h, chunk)), donate_argnums=0)
    run = run.lower(state, hp).compile()
    compile_s = time.perf_counter() - t0
    log(f"    compiled in {compile_s:.1f} s ({chunk} updates of {config.batch_size:,} steps per call)")
    curve, done, chunk_s = [], 0, 0.0
    t_run = time.perf_counter()
    # Stop before a chunk that would end past the deadline (the last chunk's time predicts the next).
    while done < config.num_updates and time.perf_counter() + chunk_s < deadline:
        t_chunk = time.perf_counter()
        state, m = run(state, hp)
        m = jax.device_get(m)
        chunk_s = time.perf_counter() - t_chunk
        done += chunk
        count = m["episode_count"].sum(axis=1)  # [seeds]
        ret = np.where(count > 0, m["episode_return_sum"].sum(axis=1) / np.maximum(count, 1), np.nan)
        curve.append({"env_steps": done * config.batch_size, "return_per_seed": ret.tolist()})
        shown = f"{np.nanmean(ret):.1f}" if np.isfinite(ret).any() else "- (no episode ended)"
        log(f"    {done}/{config.num_updates} updates in {time.perf_counter() - t_run:.1f} s "
            f"({chunk_s:.1f} s for the last {chunk}), return {shown}")
    finals = np.asarray(curve[-1]["return_per_seed"]) if curve else np.full(seeds, np.nan)
    res = {"compile_s": compile_s, "run_s": time.perf_counter() - t_run, "updates_done": done,
           "updates_planned": config.num_updates, "env_steps": done * config.batch_size,
           "final_return_mean": float(np.nanmean(finals)) if np.isfinite(finals).any() else None,
           "final_return_std": float(np.nanstd(finals)) if np.isfinite(finals).any() else None,
           "curve": curve, "complete": done >= config.num_updates}  # fmt: skip
    log(f"    {done}/{config.num_updates} updates, final return {res['final_return_mean']}, "
        f"compile {compile_s:.1f} s, run {res['run_s']:.1f} s")
    return res


def to_markdown(res: dict) -> str:
    lines = ["## SpinningUp's on-policy benchmark on Brax envs", "",
             f"{res['seeds']} seeds per algorithm in one program; {res['env_steps_planned']:,} steps planned. "
             "Mean (std over seeds) of the last update's training-episode returns; * = stopped early "
             "(budget). Brax envs differ from Gym MuJoCo: compare orderings with SpinningUp's plots.", "",
             "| env | " + " | ".join(res["algos"]) + " | ordering |", "|---|" + "---|" * (len(res["algos"]) + 1)]  # fmt: skip
    for env, by_algo in res["results"].items():
        cells, scores = [], {}
        for algo in res["algos"]:
            r = by_algo.get(algo)
            if not r or "error" in r or r.get("final_return_mean") is None:
                cells.append("-" if not r or "error" not in r else "error")
                continue
            scores[algo] = r["final_return_mean"]
            star = "" if r["complete"] else f"* ({r['env_steps']:,})"
            cells.append(f"{r['final_return_mean']:.0f} ({r['final_return_std']:.0f}){star}")
        order = " > ".join(sorted(scores, key=scores.get, reverse=True))
        lines.append(f"| {env} | " + " | ".join(cells) + f" | {order} |")
    if res.get("not_run"):
        lines.append(f"\nNot run (budget): {', '.join(res['not_run'])}.")
    return "\n".join(lines)


def run(deadline: float | None = None, log=print, smoke: bool = False, seeds: int | None = None,
        envs=None, algos=None, chunk: int | None = None, min_start_s: float | None = None) -> dict:
    """Every (env, algo) pair in turn until ``deadline``; returns the results document.

    A pair starts only with ``min_start_s`` left (its compile alone takes tens of
    seconds on a GPU), so the last one does not overrun the deadline by a compile.
    """
    min_start_s = (0.0 if smoke else 60.0) if min_start_s is None else min_start_s
    deadline = deadline if deadline is not None else float("inf")
    envs = envs or (("fast",) if smoke else ENVS)
    algos = algos or (("vpg",) if smoke else tuple(PER_ALGO))
    seeds = seeds or (2 if smoke else 5)
    chunk = chunk or (2 if smoke else 5)
    res = {"seeds": seeds, "algos": list(algos), "results": {}, "not_run": [], "smoke": smoke,
           "env_steps_planned": setting(algos[0], envs[0], smoke)[0].total_timesteps}  # fmt: skip
    for env in envs:
        for algo in algos:
            if time.perf_counter() + min_start_s >= deadline:
                res["not_run"].append(f"{algo}/{env}")
                continue
            log(f"  {algo} on brax/{env}")
            try:
                config, hparams = setting(algo, env, smoke)
                r = train_seeds(config, hparams, seeds, min(chunk, config.num_updates), deadline, log)
            except Exception as e:  # noqa: BLE001 - one env that does not build must not stop the rest
                r = {"error": f"{type(e).__name__}: {e}"}
                log(f"    failed: {r['error']}")
            res["results"].setdefault(env, {})[algo] = r
    res["markdown"] = to_markdown(res)
    return res


def plot_curves(res: dict, path: str) -> None:
    """One panel per env: mean training return over seeds against env steps, per algorithm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(res["results"])
    fig, axes = plt.subplots(1, max(len(envs), 1), figsize=(4 * max(len(envs), 1), 3), squeeze=False)
    for ax, env in zip(axes[0], envs):
        for algo, r in res["results"][env].items():
            if r.get("curve"):
                x = [c["env_steps"] for c in r["curve"]]
                ax.plot(x, [np.nanmean(c["return_per_seed"]) for c in r["curve"]], label=algo)
        ax.set_title(f"brax/{env}")
        ax.set_xlabel("env steps")
        ax.legend()
    axes[0][0].set_ylabel("training episode return")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    from experiments.bench_brax import hardware
    from experiments.common import write_record as write_json

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="brax/fast, tiny, for a CPU")
    p.add_argument("--budget-s", type=float, default=None, help="stop starting/continuing runs after this")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--envs", nargs="*", default=None, choices=[*ENVS, "fast"])
    p.add_argument("--algos", nargs="*", default=None, choices=list(PER_ALGO))
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    deadline = time.perf_counter() + a.budget_s if a.budget_s else None
    algos = a.algos or (list(PER_ALGO) if a.smoke else None)
    res = run(deadline, smoke=a.smoke, seeds=a.seeds, envs=a.envs, algos=algos)
    res["hardware"] = hw = hardware()
    stem = a.out or os.path.join(RESULTS, f"reproduce_spinningup_{hw['platform']}" + ("_smoke" if a.smoke else ""))
    os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
    write_json(stem + ".json", res)
    with open(stem + ".md", "w") as f:
        f.write(f"Hardware: {hw}\n\n{res['markdown']}\n")
    try:
        plot_curves(res, stem + ".png")
    except ImportError:
        pass
    print(res["markdown"])
    print(f"wrote {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
