"""Claim 4: the natural gradient needs 40-60% fewer iterations than the vanilla gradient to
reach a return threshold.

NPG (step set by the KL radius ``max_kl``) against vanilla policy gradient (A2C's
plain gradient step on the same batch shape: ``num_envs x num_steps`` from the
NPG preset, same GAE advantages and critic), CartPole-v1. Each method's step size
is tuned on a grid (all grid points x seeds in one vmapped program per method);
the best setting is the one with the fewest mean updates to the threshold.
Measured: ``1 - updates_NPG / updates_vanilla`` with a bootstrap 95% CI over seeds.
Caveat: the critics differ (NPG fits its critic with epochs x minibatches of Adam
steps, A2C takes one step per update), which favours NPG somewhat.
The closed-form analogue (1-D Gaussian, exact Fisher) is in fig_theory.py.
"""

from __future__ import annotations

import time

import numpy as np

import claims
import common
from jaxpg.presets import preset

NAME = "claim4_natural"
CLAIM = "Natural policy gradient needs 40-60% fewer training iterations than the vanilla policy gradient."
SOURCE = "article, 'Efficiency Gain' box"
THRESHOLD = 300.0
MAX_KL = (0.01, 0.02, 0.05, 0.1)
LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


def tuned(cfg, hps, seeds, label):
    _, metrics, secs = common.train_many(cfg, hps, seeds)
    steps = common.steps_to_threshold(metrics, cfg, THRESHOLD)  # [G, S]
    updates = steps / cfg.batch_size
    # never reaching counts as the whole budget (a lower bound), so a bad step size ranks last
    filled = np.where(np.isfinite(updates), updates, cfg.num_updates + 1)
    best = int(np.argmin(filled.mean(1)))
    x, curves = common.return_curves(metrics, cfg)
    return {
        "label": label,
        "per_setting_mean_updates": filled.mean(1).tolist(),
        "best_index": best,
        "updates_best": filled[best].tolist(),
        "reached_best": float(np.isfinite(updates[best]).mean()),
        "final_return_best": common.mean_ci(common.final_return(metrics)[best]),
        "seconds": secs,
    }, x, curves[best]


def verdict_for(fewer: tuple[float, float, float]) -> str:
    """``fewer``: NPG's fractional reduction in updates to the threshold (mean, low, high).
    agrees if the mean is in 40-60% and the interval excludes 0; partly if the mean is
    above 0 otherwise; disagrees if NPG does not need fewer updates on average."""
    if 0.4 <= fewer[0] <= 0.6 and fewer[1] > 0:
        return claims.AGREES
    return claims.PARTLY if fewer[0] > 0 else claims.DISAGREES


SPEC = claims.Spec(
    name=NAME, claim=CLAIM, source=SOURCE,
    quantity='fractional reduction of updates to return 475 by NPG against vanilla PG (A2C), each at its tuned step size',
    unit='fraction of updates', claimed=(0.4, 0.6),
    comparison='bootstrap ratio of mean updates over seeds',
    rule=claims.rule_of(verdict_for))


def main():
    args = common.parse_args(__doc__)
    S = args.seeds or common.pick(args, 3, 16)
    seeds = list(range(S))
    t0 = time.perf_counter()
    cfg_n, hp_n = preset("npg", "CartPole-v1")
    cfg_n = cfg_n.replace(total_timesteps=common.pick(args, 150_000, 1_000_000))
    npg, x, c_n = tuned(cfg_n, [hp_n.replace(max_kl=k) for k in MAX_KL], seeds, "npg")
    cfg_v, hp_v = preset("a2c", "CartPole-v1")
    cfg_v = cfg_v.replace(num_envs=cfg_n.num_envs, num_steps=cfg_n.num_steps,
                          total_timesteps=cfg_n.total_timesteps, anneal_lr=cfg_n.anneal_lr)
    hp_v = hp_v.replace(gae_lambda=hp_n.gae_lambda, gamma=hp_n.gamma)
    van, xv, c_v = tuned(cfg_v, [hp_v.replace(lr=lr) for lr in LRS], seeds, "vanilla (a2c)")
    un, uv = np.asarray(npg["updates_best"]), np.asarray(van["updates_best"])
    ratio = common.bootstrap_ratio_ci(un, uv)
    fewer = (1 - ratio[0], 1 - ratio[2], 1 - ratio[1])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_path = common.figure_path(args, NAME)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for xx, c, lab in ((x, c_n, f"NPG max_kl={MAX_KL[npg['best_index']]:g}"),
                       (xv, c_v, f"vanilla PG lr={LRS[van['best_index']]:g}")):
        mean, lo, hi = common.band(c)
        ln = ax.plot(np.asarray(xx) / cfg_n.batch_size, mean, label=lab)[0]
        ax.fill_between(np.asarray(xx) / cfg_n.batch_size, lo, hi, color=ln.get_color(), alpha=0.15)
    ax.axhline(THRESHOLD, color="gray", ls="--", lw=0.8)
    ax.set_xlabel("updates (iterations)")
    ax.set_ylabel("episode return")
    ax.set_title(f"CartPole-v1, each with its tuned step size, {S} seeds (95% CI)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(fig_path, dpi=110)
    plt.close(fig)

    verdict = verdict_for(fewer)
    text = (f"NPG needs {100 * fewer[0]:.0f}% fewer updates [95% CI {100 * fewer[1]:.0f}, {100 * fewer[2]:.0f}] "
            f"to reach return {THRESHOLD:g} ({un.mean():.0f} vs {uv.mean():.0f} updates; unreached seeds count as "
            f"the budget)")
    common.write_result(args, NAME, spec=SPEC, result={
        "claim": CLAIM,
        "source": SOURCE,
        "method": __doc__.strip(),
        "settings": {"npg_config": cfg_n.to_dict(), "vanilla_config": cfg_v.to_dict(), "max_kl_grid": MAX_KL,
                     "lr_grid": LRS, "threshold": THRESHOLD},
        "seeds": seeds,
        "npg": npg,
        "vanilla": van,
        "fewer_updates": fewer,
        "measured_text": text,
        "verdict": verdict,
        "verdict_reason": "agrees if the mean reduction in updates is 40-60% and its CI excludes 0; partly if "
                          "NPG needs fewer updates on average by another amount or the CI includes 0",
        "figure": common.rel_figure(fig_path),
        "seconds": time.perf_counter() - t0,
    })


if __name__ == "__main__":
    main()
