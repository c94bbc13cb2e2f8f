"""Claim 10: TRPO constrains the KL divergence to 0.01-0.02 to define its trust region.

TRPO on CartPole-v1 (the preset: 8 envs x 512 steps per update, conjugate gradient,
backtracking line search) for a grid of KL radii ``max_kl``, every radius x seed in
one vmapped program. Measured: mean episode return over the last 20% of training
per radius (95% t CI over seeds) and the KL of the accepted steps. The article says
"bits": 0.01-0.02 bits is 0.0069-0.0139 nats; jaxpg's ``max_kl`` is in nats, so the
grid covers both readings.
"""

from __future__ import annotations

import time

import claims
import common
import numpy as np

from jaxpg.presets import preset

NAME = "claim10_trpo_kl"
CLAIM = "TRPO typically constrains the KL divergence to 0.01-0.02 to define trust regions and prevent policy collapse."
SOURCE = "article, 'Parallel Efficiency' box"
MAX_KL = (0.001, 0.003, 0.01, 0.02, 0.05, 0.1, 0.3)

RULE = ("agrees if the radius with the best mean final return is in 0.0069-0.02 nats (0.01-0.02 bits "
        "or nats); partly if a radius in that range is not resolvably worse than the best (95% interval "
        "of the per-seed difference reaches 0); disagrees otherwise")


def verdict_for(final_return, max_kl) -> str:
    """``final_return[G][S]`` per radius ``max_kl[G]`` on the same seeds: see :data:`RULE`."""
    best = claims.best_index(final_return)
    in_range = [i for i, k in enumerate(max_kl) if 0.0069 <= k <= 0.02]
    if best in in_range:
        return claims.AGREES
    if any(claims.not_worse(final_return[i], final_return[best]) for i in in_range):
        return claims.PARTLY
    return claims.DISAGREES


SPEC = claims.Spec(
    name=NAME, claim=CLAIM, source=SOURCE,
    quantity='final return per KL radius max_kl',
    unit='nats (max_kl)', claimed=(0.0069, 0.02),
    comparison='paired per seed: each in-range radius - the best radius',
    rule=RULE)


def main():
    args = common.parse_args(__doc__)
    seeds = list(range(args.seeds or common.pick(args, 3, 10)))
    t0 = time.perf_counter()
    cfg, hp = preset("trpo", "CartPole-v1")
    cfg = cfg.replace(total_timesteps=common.pick(args, 60_000, 500_000))
    hps = [hp.replace(max_kl=k) for k in MAX_KL]
    _, metrics, _ = common.train_many(cfg, hps, seeds)
    fin = common.final_return(metrics)  # [G, S]
    ci = [common.mean_ci(f) for f in fin]
    kl_name = next((k for k in ("kl", "approx_kl", "policy_kl") if k in metrics), None)
    kls = [float(np.nanmean(metrics[kl_name][i])) for i in range(len(MAX_KL))] if kl_name else None
    best = claims.best_index(fin)
    verdict = verdict_for(fin, MAX_KL)
    x, curves = common.return_curves(metrics, cfg)
    fig = common.figure_path(args, NAME)
    common.plot_curves(fig, x, {f"max_kl={k:g}": curves[i] for i, k in enumerate(MAX_KL)},
                       f"TRPO CartPole-v1 per KL radius (95% CI over {len(seeds)} seeds)")
    text = (f"best final return at max_kl={MAX_KL[best]:g} ({ci[best][0]:.0f} [{ci[best][1]:.0f}, {ci[best][2]:.0f}]); "
            + "; ".join(f"max_kl {k:g}: {ci[i][0]:.0f} [{ci[i][1]:.0f}, {ci[i][2]:.0f}]"
                        + (f", step KL {kls[i]:.4f}" if kls else "") for i, k in enumerate(MAX_KL)))
    common.write_result(args, NAME, spec=SPEC, result={
        "claim": CLAIM, "source": SOURCE, "method": __doc__.strip(),
        "settings": {"config": cfg.to_dict(), "max_kl": MAX_KL, "kl_metric": kl_name},
        "seeds": seeds, "final_return": {f"{k:g}": fin[i].tolist() for i, k in enumerate(MAX_KL)},
        "step_kl": kls, "measured_text": text, "verdict": verdict,
        "verdict_reason": RULE,
        "figure": common.rel_figure(fig), "seconds": time.perf_counter() - t0,
    })


if __name__ == "__main__":
    main()
