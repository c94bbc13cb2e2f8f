"""Claim 2: GAE with lambda = 0.95 cuts gradient variance 5-10x against Monte Carlo returns.

Two measurements, seeds vmapped:

1. Variance (paired, as in claim 1): PPO agents trained with lambda 0.95, critic
   regressed on the final policy's returns, then on the same fresh segments the
   REINFORCE gradient with raw returns ``G_t``, with ``G_t - V(s_t)`` (= GAE lambda 1)
   and with GAE(lambda) for each lambda in the sweep. Reported: the ratio
   ``trCov[g_G] / trCov[g_GAE(0.95)]`` per seed (mean, 95% t CI), and the variance
   of every lambda.
2. Final return: PPO trained with each lambda of the sweep (one vmapped program over
   lambda x seeds); mean return of the last 20% of training.
"""

from __future__ import annotations

import time

import jax
import numpy as np

import claims
import common
import gradvar
from jaxpg.presets import preset
from jaxpg.algos.state import make_context

NAME = "claim2_gae"
CLAIM = ("GAE with lambda = 0.95 reduces policy-gradient variance 5-10x compared with raw Monte Carlo "
         "returns; lambda 0.95 is the best bias-variance tradeoff.")
SOURCE = "article, 'Optimal Configuration' box"
LAMBDAS = (0.0, 0.5, 0.9, 0.95, 0.97, 1.0)


def variance_task(env, steps, seeds, segs, seg_len, trained=None):
    cfg, hp = preset("ppo", env)
    cfg = cfg.replace(total_timesteps=steps)
    if trained is None:
        trained, metrics, _ = common.train_many(cfg, [hp], seeds)
    ctx = make_context(cfg)

    def one(params, stats, key):
        return gradvar.measure(ctx, params, stats, key, segs, seg_len, hp.gamma, LAMBDAS, warmup=seg_len,
                               reward_scale=hp.reward_scale)

    keys = jax.random.split(jax.random.PRNGKey(321), len(seeds))
    m = jax.device_get(jax.jit(jax.vmap(one))(trained.params, trained.obs_stats, keys))
    var = {k: np.asarray(v) for k, v in m["var"].items()}
    ratio_mc = var["return"] / var["gae0.95"]
    ratio_adv = var["return-V"] / var["gae0.95"]
    return {
        "env": env,
        "train_steps": steps,
        "segments": segs,
        "segment_length": seg_len,
        "variance": {k: common.mean_ci(v) for k, v in var.items()},
        "ratio_mc_returns_over_gae095": common.mean_ci(ratio_mc),
        "ratio_mc_advantage_over_gae095": common.mean_ci(ratio_adv),
        "ratio_mc_returns_per_seed": ratio_mc.tolist(),
        "baseline_explained_variance": common.mean_ci(m["explained_variance"]),
    }

RULE = ("agrees if, on every task, the Var[G_t]/Var[GAE(0.95)] ratio's point estimate is in 5-10x and "
        "lambda 0.95's final return is not resolvably worse than the best lambda's (95% interval of the "
        "per-seed difference reaches 0); partly if GAE(0.95) reduces the variance on every task (ratio "
        "interval above 1); disagrees otherwise")


def verdict_for(ratios, final_095, final_best) -> str:
    """``ratios``: per task (ratio, low, high); final returns per seed of lambda 0.95 and of the
    best lambda (same seeds). See :data:`RULE`."""
    in_range = all(claims.range_verdict(*r, (5.0, 10.0)) == claims.AGREES for r in ratios)
    if in_range and claims.not_worse(final_095, final_best):
        return claims.AGREES
    return claims.PARTLY if all(r[1] > 1 for r in ratios) else claims.DISAGREES


SPEC = claims.Spec(
    name=NAME, claim=CLAIM, source=SOURCE,
    quantity='Var of the policy gradient with Monte Carlo returns over GAE(0.95); final return per lambda',
    unit='ratio of tr Cov', claimed=(5.0, 10.0),
    comparison='variance: same batches per seed; return: lambda 0.95 vs the best lambda, paired per seed',
    rule=claims.rule_of(verdict_for))


def main():
    args = common.parse_args(__doc__)
    S = args.seeds or common.pick(args, 3, 16)
    seeds = list(range(S))
    t0 = time.perf_counter()

    # Final return of PPO per lambda on CartPole (one program: lambda x seeds).
    cfg, hp = preset("ppo", "CartPole-v1")
    cfg = cfg.replace(total_timesteps=common.pick(args, 60_000, 500_000))
    hps = [hp.replace(gae_lambda=lam) for lam in LAMBDAS]
    state, metrics, secs = common.train_many(cfg, hps, seeds)
    fin = common.final_return(metrics)  # [L, S]
    x, curves = common.return_curves(metrics, cfg)
    i095 = LAMBDAS.index(0.95)
    trained = jax.tree.map(lambda a: a[i095 * S:(i095 + 1) * S], state)

    tasks = [
        variance_task("CartPole-v1", cfg.total_timesteps, seeds, common.pick(args, 64, 512), 256, trained),
        variance_task("Pendulum-v1", common.pick(args, 40_000, 500_000), seeds, common.pick(args, 64, 512), 200),
    ]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_path = common.figure_path(args, NAME)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for t in tasks:
        means = [t["variance"][f"gae{lam:g}"][0] for lam in LAMBDAS]
        lo = [t["variance"][f"gae{lam:g}"][1] for lam in LAMBDAS]
        hi = [t["variance"][f"gae{lam:g}"][2] for lam in LAMBDAS]
        ln = axes[0].plot(LAMBDAS, means, "o-", label=f"{t['env']} GAE(lambda)")[0]
        axes[0].fill_between(LAMBDAS, np.maximum(lo, 1e-12), hi, color=ln.get_color(), alpha=0.2)
        axes[0].axhline(t["variance"]["return"][0], color=ln.get_color(), ls="--", label=f"{t['env']} raw returns G_t")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("lambda")
    axes[0].set_ylabel("tr Cov of batch gradient")
    axes[0].set_title("Gradient variance vs lambda (95% CI over seeds)", fontsize=10)
    axes[0].legend(fontsize=7)
    m = [common.mean_ci(f) for f in fin]
    axes[1].errorbar(LAMBDAS, [a[0] for a in m], yerr=np.nan_to_num([[a[0] - a[1] for a in m], [a[2] - a[0] for a in m]]),
                     fmt="o-", capsize=4)
    axes[1].set_xlabel("lambda")
    axes[1].set_ylabel("final episode return")
    axes[1].set_title(f"PPO CartPole-v1, {cfg.total_timesteps:,} steps (95% CI)", fontsize=10)
    for i, lam in enumerate(LAMBDAS):
        mean, lo_, hi_ = common.band(curves[i])
        ln = axes[2].plot(x, mean, label=f"lambda={lam:g}")[0]
        axes[2].fill_between(x, lo_, hi_, color=ln.get_color(), alpha=0.15)
    axes[2].set_xlabel("env steps")
    axes[2].set_ylabel("episode return")
    axes[2].set_title("Learning curves per lambda", fontsize=10)
    axes[2].legend(fontsize=7)
    for a in axes:
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(fig_path, dpi=110)
    plt.close(fig)

    best = claims.best_index(fin)
    r = [t["ratio_mc_returns_over_gae095"] for t in tasks]
    verdict = verdict_for(r, fin[i095], fin[best])
    text = "; ".join(
        f"{t['env']}: Var[G_t]/Var[GAE(0.95)] = {t['ratio_mc_returns_over_gae095'][0]:.1f}x "
        f"[95% CI {t['ratio_mc_returns_over_gae095'][1]:.1f}, {t['ratio_mc_returns_over_gae095'][2]:.1f}], "
        f"Var[G_t - V]/Var[GAE(0.95)] = {t['ratio_mc_advantage_over_gae095'][0]:.1f}x"
        for t in tasks
    ) + (f"; CartPole final return best at lambda={LAMBDAS[best]:g} ({m[best][0]:.0f}), "
         f"lambda=0.95: {m[i095][0]:.0f} [{m[i095][1]:.0f}, {m[i095][2]:.0f}]")
    common.write_result(args, NAME, spec=SPEC, result={
        "claim": CLAIM,
        "source": SOURCE,
        "method": __doc__.strip(),
        "settings": {"algo": "ppo (preset)", "config": cfg.to_dict(), "lambdas": LAMBDAS},
        "seeds": seeds,
        "tasks": tasks,
        "final_return_per_lambda": {f"{lam:g}": a for lam, a in zip(LAMBDAS, m)},
        "measured_text": text,
        "verdict": verdict,
        "verdict_reason": RULE,
        "figure": common.rel_figure(fig_path),
        "seconds": time.perf_counter() - t0,
    })


if __name__ == "__main__":
    main()
