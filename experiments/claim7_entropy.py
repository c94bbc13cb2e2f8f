"""Claim 7: without an entropy bonus a Gaussian policy's log-std collapses and its gradients
vanish (norm below 1e-6); an entropy bonus or schedule prevents it.

PPO on Pendulum-v1 (preset), seeds vmapped, three arms in one program:
entropy coefficient 0, a constant 0.01, and a linear schedule 0.05 -> 0. Measured
per arm: the policy's mean log-std at the end of training, the smallest actor
gradient norm seen in any update, the final return (95% t CI over seeds).
"""

from __future__ import annotations

import time

import numpy as np

import claims
import common
from jaxpg.presets import preset

NAME = "claim7_entropy"
CLAIM = ("In continuous control, without an entropy bonus the Gaussian log-std collapses and gradients vanish "
         "(norm < 1e-6); an entropy bonus or schedule keeps exploration and gradient flow.")
SOURCE = "article, vanishing-gradients section ('Critical Thresholds' box)"


def verdict_for(no: dict, ent: dict) -> str:
    """``no`` / ``ent``: the arms without and with the entropy bonus (``final_log_std`` as
    mean, low, high; ``min_actor_grad_norm``). agrees if without the bonus the log-std's
    interval lies below -3 (std < 0.05) and the actor gradient norm falls below 1e-6;
    partly if the log-std only ends resolvably lower than with the bonus; else disagrees."""
    if no["final_log_std"][2] < -3.0 and no["min_actor_grad_norm"] < 1e-6:
        return claims.AGREES
    return claims.PARTLY if no["final_log_std"][2] < ent["final_log_std"][1] else claims.DISAGREES

SPEC = claims.Spec(
    name=NAME, claim=CLAIM, source=SOURCE,
    quantity='final policy log-std and minimal actor gradient norm without an entropy bonus',
    unit='log-std (nats) and gradient norm', claimed=None,
    comparison='no bonus vs bonus 0.01, same seeds',
    rule=claims.rule_of(verdict_for))


def main():
    args = common.parse_args(__doc__)
    S = args.seeds or common.pick(args, 3, 16)
    seeds = list(range(S))
    t0 = time.perf_counter()
    cfg, hp = preset("ppo", "Pendulum-v1")
    cfg = cfg.replace(total_timesteps=common.pick(args, 100_000, 1_000_000), ent_schedule="linear")
    arms = {
        "no entropy bonus": hp.replace(ent_coef=0.0, ent_coef_final=0.0),
        "entropy 0.01": hp.replace(ent_coef=0.01, ent_coef_final=0.01),
        "entropy 0.05 -> 0 (linear)": hp.replace(ent_coef=0.05, ent_coef_final=0.0),
    }
    _, metrics, secs = common.train_many(cfg, list(arms.values()), seeds)
    x, curves = common.return_curves(metrics, cfg)
    fin = common.final_return(metrics)
    rows = {}
    for i, name in enumerate(arms):
        rows[name] = {
            "final_log_std": common.mean_ci(metrics["log_std_mean"][i, :, -1]),
            "min_actor_grad_norm": float(metrics["actor_grad_norm"][i].min()),
            "final_actor_grad_norm": common.mean_ci(metrics["actor_grad_norm"][i, :, -1]),
            "final_return": common.mean_ci(fin[i]),
        }

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_path = common.figure_path(args, NAME)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    U = metrics["log_std_mean"].shape[-1]
    steps = (np.arange(U) + 1) * cfg.batch_size
    for i, name in enumerate(arms):
        for ax, key in ((axes[0], "log_std_mean"), (axes[1], "actor_grad_norm")):
            mean, lo, hi = common.band(metrics[key][i])
            ln = ax.plot(steps, mean, label=name)[0]
            ax.fill_between(steps, lo, hi, color=ln.get_color(), alpha=0.15)
        mean, lo, hi = common.band(curves[i])
        ln = axes[2].plot(x, mean, label=name)[0]
        axes[2].fill_between(x, lo, hi, color=ln.get_color(), alpha=0.15)
    axes[1].axhline(1e-6, color="red", ls="--", lw=0.8, label="claimed vanishing threshold 1e-6")
    axes[1].set_yscale("log")
    for ax, t in zip(axes, ("policy log-std (mean)", "actor gradient norm", "episode return")):
        ax.set_title(f"PPO Pendulum-v1: {t} (95% CI, {S} seeds)", fontsize=9)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(fig_path, dpi=110)
    plt.close(fig)

    no = rows["no entropy bonus"]
    ent = rows["entropy 0.01"]
    verdict = verdict_for(no, ent)
    text = "; ".join(
        f"{k}: final log-std {v['final_log_std'][0]:.2f} [{v['final_log_std'][1]:.2f}, {v['final_log_std'][2]:.2f}], "
        f"min actor grad norm {v['min_actor_grad_norm']:.2g}, final return {v['final_return'][0]:.0f}"
        for k, v in rows.items())
    common.write_result(args, NAME, spec=SPEC, result={
        "claim": CLAIM,
        "source": SOURCE,
        "method": __doc__.strip(),
        "settings": {"algo": "ppo (Pendulum preset)", "config": cfg.to_dict(),
                     "arms": {k: {"ent_coef": v.ent_coef, "ent_coef_final": v.ent_coef_final} for k, v in arms.items()}},
        "seeds": seeds,
        "arms": rows,
        "measured_text": text,
        "verdict": verdict,
        "verdict_reason": "agrees if without entropy the log-std falls below -3 and a gradient norm below 1e-6; "
                          "partly if the log-std only ends lower than with the bonus",
        "figure": common.rel_figure(fig_path),
        "seconds": time.perf_counter() - t0,
    })


if __name__ == "__main__":
    main()
