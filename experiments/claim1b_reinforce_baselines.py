"""Claim 1, cross-check with REINFORCE's own estimator: baselines none / value / linear.

``jaxpg.diagnostics.gradient_variance`` draws independent batches (one complete
episode per env) at fixed parameters and returns the trace of the covariance of
REINFORCE's flattened actor gradient. Parameters: a REINFORCE(value baseline)
agent trained briefly per seed (so the critic is fitted); advantage normalization
off, so the raw estimators are compared. Measured: variance reduction of the value
and linear baselines against none (mean, 95% t CI over seeds).
"""

from __future__ import annotations

import time

import jax
import numpy as np

import claims
import common
from jaxpg.diagnostics import gradient_variance
from jaxpg.presets import preset

NAME = "claim1b_reinforce_baselines"
CLAIM = "Subtracting a baseline reduces policy-gradient variance by 60-80% without introducing bias (REINFORCE)."
SOURCE = "article, 'Variance Reduction' box"


def verdict_for(reduction: dict) -> str:
    """``reduction``: per baseline (mean, low, high) of 1 - Var/Var(no baseline). agrees if
    every baseline's mean reduction is in 60-80%; partly if one is, or every reduction's
    interval lies above 0; disagrees otherwise."""
    ok = [0.6 <= r[0] <= 0.8 for r in reduction.values()]
    if all(ok):
        return claims.AGREES
    return claims.PARTLY if any(ok) or all(r[1] > 0 for r in reduction.values()) else claims.DISAGREES

SPEC = claims.Spec(
    name=NAME, claim=CLAIM, source=SOURCE,
    quantity='variance reduction of REINFORCE gradients by a value and a linear baseline',
    unit='fraction of tr Cov', claimed=(0.6, 0.8),
    comparison='per seed: the same trained policy and batches with and without the baseline',
    rule=claims.rule_of(verdict_for))


def main():
    args = common.parse_args(__doc__)
    S = args.seeds or common.pick(args, 4, 8)
    seeds = list(range(S))
    t0 = time.perf_counter()
    cfg, hp = preset("reinforce", "CartPole-v1")
    cfg = cfg.replace(total_timesteps=cfg.batch_size * common.pick(args, 8, 40), baseline="value")
    state, metrics, _ = common.train_many(cfg, [hp], seeds)
    var = {b: [] for b in ("none", "value", "linear")}
    for i in range(S):
        st = jax.tree.map(lambda x: x[i], state)
        for b in var:
            gv = gradient_variance(cfg.replace(baseline=b, normalize_advantages=False), hp,
                                   jax.random.PRNGKey(100 + i), num_batches=common.pick(args, 16, 64), state=st)
            var[b].append(gv.total_variance)
    var = {b: np.asarray(v) for b, v in var.items()}
    red = {b: common.mean_ci(1 - var[b] / var["none"]) for b in ("value", "linear")}
    fig = common.figure_path(args, NAME)
    ci = [common.mean_ci(var[b]) for b in var]
    common.bar_chart(fig, [f"baseline={b}" for b in var], [c[0] for c in ci], [c[1] for c in ci],
                     [c[2] for c in ci], "REINFORCE gradient variance, CartPole-v1 (95% CI)", "tr Cov", log=True)
    verdict = verdict_for(red)
    text = "; ".join(f"{b} baseline: variance reduction {100 * r[0]:.0f}% [95% CI {100 * r[1]:.0f}, {100 * r[2]:.0f}]"
                     for b, r in red.items()) + f" (REINFORCE, CartPole-v1, final return {common.mean_ci(common.final_return(metrics)[0])[0]:.0f})"
    common.write_result(args, NAME, spec=SPEC, result={
        "claim": CLAIM, "source": SOURCE, "method": __doc__.strip(),
        "settings": {"config": cfg.to_dict(), "estimator": "jaxpg.diagnostics.gradient_variance"},
        "seeds": seeds, "variance": {b: v.tolist() for b, v in var.items()}, "reduction": red,
        "measured_text": text, "verdict": verdict,
        "verdict_reason": "agrees if both baselines cut variance by 60-80% on average; partly if either does or "
                          "both reduce it",
        "figure": common.rel_figure(fig), "seconds": time.perf_counter() - t0,
    })


if __name__ == "__main__":
    main()
