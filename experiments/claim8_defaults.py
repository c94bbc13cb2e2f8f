"""Claim 8: the quoted defaults (policy lr 3e-4, value lr 1e-3, gamma 0.99, lambda 0.95,
clip epsilon 0.2) against a small sweep around them (PPO, CartPole-v1).

One-at-a-time sweep: each of the five hyperparameters is moved to a lower and a
higher value while the others stay at the quoted defaults; all 11 settings x seeds
train in one vmapped program (the hyperparameters are traced ``HParams``).
Score: mean return of the episodes in the last 20% of training. Every setting runs on
the same seeds, so a default is compared with the best value of its hyperparameter by
the per-seed differences: it is "near-best" when it is the best or when the 95% t
interval of (default - best) over seeds reaches 0 (not resolvably worse). Overlapping
intervals are not the test: with a few seeds two wide intervals overlap even when the
default loses on every seed.
"""

from __future__ import annotations

import time

import numpy as np

import claims
import common
from jaxpg.presets import preset

NAME = "claim8_defaults"
CLAIM = ("The usual defaults -- policy lr 3e-4, value lr 1e-3, gamma 0.99, GAE lambda 0.95, "
         "clip epsilon 0.2 -- are a good setting.")
SOURCE = "article, 'Stability Challenge' and 'Variance Reduction' boxes, PPO section"
DEFAULTS = dict(lr=3e-4, critic_lr=1e-3, gamma=0.99, gae_lambda=0.95, clip_eps=0.2)
SWEEP = dict(lr=(1e-4, 1e-3), critic_lr=(3e-4, 3e-3), gamma=(0.95, 0.999), gae_lambda=(0.9, 0.99),
             clip_eps=(0.1, 0.3))

RULE = ("agrees if, for every one of the 5 hyperparameters, the default is the best value of its "
        "one-at-a-time sweep or not resolvably worse than it (95% t interval of the per-seed "
        "difference default - best reaches 0); partly if that holds for at least 3 of 5; else disagrees")


def near_best(default, best) -> bool:
    """Per-seed final returns of the default and the best value (same seeds)."""
    return claims.not_worse(default, best)


def verdict_for(n_near_best: int, n_params: int) -> str:
    """See :data:`RULE`."""
    return claims.count_verdict(n_near_best, n_params, 3)


SPEC = claims.Spec(
    name=NAME, claim=CLAIM, source=SOURCE,
    quantity='final return (last 20% of training) of the defaults against the best value of each hyperparameter in a one-at-a-time sweep',
    unit='episode return', claimed=None,
    comparison='paired per seed: default - best, t interval',
    rule=RULE)


def main():
    args = common.parse_args(__doc__)
    S = args.seeds or common.pick(args, 4, 16)
    seeds = list(range(S))
    t0 = time.perf_counter()
    cfg, hp = preset("ppo", "CartPole-v1")
    cfg = cfg.replace(total_timesteps=common.pick(args, 80_000, 500_000))
    base = hp.replace(**DEFAULTS)
    settings = [("default", None, None)] + [(f"{k}={v:g}", k, v) for k, vs in SWEEP.items() for v in vs]
    hps = [base if k is None else base.replace(**{k: v}) for _, k, v in settings]
    _, metrics, secs = common.train_many(cfg, hps, seeds)
    fin = common.final_return(metrics)  # [G, S]
    ci = [common.mean_ci(f) for f in fin]
    x, curves = common.return_curves(metrics, cfg)

    per_param = {}
    for k, vs in SWEEP.items():
        rows = [(DEFAULTS[k], ci[0])] + [(v, ci[i]) for i, (_, kk, v) in enumerate(settings) if kk == k]
        idx = [0] + [i for i, (_, kk, _) in enumerate(settings) if kk == k]
        b = idx[claims.best_index([fin[i] for i in idx])]
        diff = claims.paired_difference(fin[0], fin[b])
        per_param[k] = {
            "values": {f"{v:g}": c for v, c in sorted(rows)},
            "best": ([DEFAULTS[k]] + [v for _, kk, v in settings if kk == k])[idx.index(b)],
            "default_is_best": b == 0,
            "default_minus_best_paired": diff,
            "default_near_best": near_best(fin[0], fin[b]),
        }
    n_ok = sum(p["default_near_best"] for p in per_param.values())
    n_best = sum(p["default_is_best"] for p in per_param.values())

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_path = common.figure_path(args, NAME)
    fig, axes = plt.subplots(1, len(SWEEP) + 1, figsize=(20, 3.8))
    for ax, (k, p) in zip(axes, per_param.items()):
        vals = sorted(float(v) for v in p["values"])
        m = [p["values"][f"{v:g}"] for v in vals]
        ax.errorbar(range(len(vals)), [a[0] for a in m],
                    yerr=np.nan_to_num([[a[0] - a[1] for a in m], [a[2] - a[0] for a in m]]), fmt="o-", capsize=4)
        ax.set_xticks(range(len(vals)), [f"{v:g}" + ("*" if v == DEFAULTS[k] else "") for v in vals])
        ax.set_title(f"{k} (* = default)", fontsize=10)
        ax.set_ylabel("final return")
        ax.grid(alpha=0.3)
    mean, lo, hi = common.band(curves[0])
    axes[-1].plot(x, mean, label="defaults")
    axes[-1].fill_between(x, lo, hi, alpha=0.2)
    axes[-1].set_title("defaults: learning curve (95% CI)", fontsize=10)
    axes[-1].set_xlabel("env steps")
    axes[-1].grid(alpha=0.3)
    fig.suptitle(f"PPO CartPole-v1, {cfg.total_timesteps:,} steps, {S} seeds per setting", fontsize=11)
    fig.tight_layout()
    fig.savefig(fig_path, dpi=110)
    plt.close(fig)

    verdict = verdict_for(n_ok, len(SWEEP))
    text = (f"defaults score {ci[0][0]:.0f} [95% CI {ci[0][1]:.0f}, {ci[0][2]:.0f}]; default not resolvably "
            f"worse than the best value (paired per seed) for {n_ok}/{len(SWEEP)} hyperparameters, the best for "
            f"{n_best}/{len(SWEEP)}; "
            + ", ".join(f"{k}: best {p['best']:g}" + ("" if p["default_is_best"] else
                        " (default - best {:.0f} [{:.0f}, {:.0f}])".format(*p["default_minus_best_paired"]))
                        for k, p in per_param.items()))
    common.write_result(args, NAME, spec=SPEC, result={
        "claim": CLAIM,
        "source": SOURCE,
        "method": __doc__.strip(),
        "settings": {"algo": "ppo", "config": cfg.to_dict(), "base_hparams": base.to_dict(), "sweep": SWEEP},
        "seeds": seeds,
        "per_setting": {name: c for (name, _, _), c in zip(settings, ci)},
        "per_param": per_param,
        "measured_text": text,
        "verdict": verdict,
        "verdict_reason": RULE,
        "train_seconds": secs,
        "figure": common.rel_figure(fig_path),
        "seconds": time.perf_counter() - t0,
    })


if __name__ == "__main__":
    main()
