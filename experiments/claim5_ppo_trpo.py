"""Claim 5: PPO needs about 50% less computation per update than TRPO at 80-90% of TRPO's
sample efficiency; clipping (epsilon 0.1-0.3) prevents the policy collapse that
unclipped updates suffer.

Part A (needs TRPO): PPO and TRPO on CartPole-v1, each with its preset, seeds
vmapped. Time per update = run time of the compiled program / updates (compile
excluded, best of 2); sample efficiency = env steps to reach a return threshold
(moving mean over 5 updates), PPO relative to TRPO (TRPO steps / PPO steps).
Part B: PPO with clip epsilon 0.1, 0.2, 0.3 and 1e6 (no clipping), 10 epochs per
batch (many reuses of a batch make a large step possible), value clipping off so
epsilon only acts on the policy. Collapse = final return far below the best
return reached; also the mean KL per update.
"""

from __future__ import annotations

import time

import numpy as np

import claims
import common
from jaxpg.presets import preset

NAME = "claim5_ppo_trpo"
CLAIM = ("PPO needs about 50% less computation per update than TRPO while keeping 80-90% of TRPO's sample "
         "efficiency; clipping at epsilon 0.1-0.3 prevents the policy collapse of unclipped updates.")
SOURCE = "article, 'Computational Efficiency' box and trust-region section"
EPS = (0.1, 0.2, 0.3, 1e6)
THRESHOLD = 400.0

RULE = ("agrees if all three hold, partly if one or two do, disagrees if none: (1) PPO's wall time per "
        "update, the claim's unit, is 0.35-0.65x TRPO's (the per-env-step ratio is reported, not judged); "
        "(2) the bootstrap interval of PPO's sample efficiency relative to TRPO (steps to the threshold) "
        "meets 0.8-0.9; (3) unclipped PPO collapses more than clipping at eps 0.1-0.3")


def verdict_for(time_per_update_ratio: float, efficiency: tuple[float, float, float],
                clipping_prevents_collapse: bool) -> str:
    """See :data:`RULE`; ``efficiency`` is (ratio, low, high)."""
    time_ok = 0.35 <= time_per_update_ratio <= 0.65
    eff_ok = np.isfinite(efficiency[0]) and claims.range_verdict(*efficiency, (0.8, 0.9)) != claims.DISAGREES
    return claims.count_verdict(int(time_ok) + int(eff_ok) + int(clipping_prevents_collapse), 3, 1)


def part_a(args, seeds):
    out = {}
    for algo in ("ppo", "trpo"):
        cfg, hp = preset(algo, "CartPole-v1")
        cfg = cfg.replace(total_timesteps=common.pick(args, 100_000, 1_000_000))
        metrics, compile_s, run_s = common.timed_train(cfg, hp, seeds, repeats=2)
        steps = common.steps_to_threshold(metrics, cfg, THRESHOLD)
        out[algo] = {
            "config": cfg.to_dict(),
            "hparams": hp.to_dict(),
            "compile_s": compile_s,
            "run_s": run_s,
            "updates": cfg.num_updates,
            "batch_size": cfg.batch_size,
            "seconds_per_update": run_s / cfg.num_updates,
            "seconds_per_1k_steps": 1000 * run_s / (cfg.num_updates * cfg.batch_size),
            "steps_to_threshold": steps.tolist(),
            "reached": float(np.mean(np.isfinite(steps))),
            "final_return": common.mean_ci(common.final_return(metrics)),
        }
        out[algo]["_curves"] = common.return_curves(metrics, cfg)
    p, t = out["ppo"], out["trpo"]
    sp = np.asarray(p["steps_to_threshold"], float)
    st = np.asarray(t["steps_to_threshold"], float)
    both = np.isfinite(sp).any() and np.isfinite(st).any()
    eff = common.bootstrap_ratio_ci(st[np.isfinite(st)], sp[np.isfinite(sp)], np.mean) if both else (np.nan,) * 3
    out["time_per_update_ratio"] = p["seconds_per_update"] / t["seconds_per_update"]
    out["time_per_step_ratio"] = p["seconds_per_1k_steps"] / t["seconds_per_1k_steps"]
    out["sample_efficiency_ppo_rel_trpo"] = eff
    return out


def part_b(args, seeds):
    cfg, hp = preset("ppo", "CartPole-v1")
    cfg = cfg.replace(total_timesteps=common.pick(args, 100_000, 1_000_000), update_epochs=10, clip_value=False)
    hps = [hp.replace(clip_eps=e) for e in EPS]
    _, metrics, secs = common.train_many(cfg, hps, seeds)
    x, curves = common.return_curves(metrics, cfg)
    fin = common.final_return(metrics)
    best = np.nanmax(curves, axis=-1)  # [E, S]
    collapsed = fin < 0.5 * best
    kl = metrics["kl"].mean(-1)  # [E, S]
    rows = {}
    for i, e in enumerate(EPS):
        rows[f"{e:g}"] = {
            "final_return": common.mean_ci(fin[i]),
            "collapse_fraction": float(collapsed[i].mean()),
            "mean_kl_per_update": common.mean_ci(kl[i]),
            "max_kl_per_update": float(metrics["kl"][i].max()),
        }
    return {"config": cfg.to_dict(), "per_eps": rows, "seconds": secs}, x, curves


SPEC = claims.Spec(
    name=NAME, claim=CLAIM, source=SOURCE,
    quantity="PPO's wall time per update over TRPO's; PPO's sample efficiency relative to TRPO (env steps to return 400); collapse with and without clipping",
    unit='ratio of seconds per update; ratio of env steps', claimed=(0.35, 0.65),
    comparison='presets on the same seeds; efficiency as a bootstrap ratio of means; clipping arms on the same seeds',
    rule=RULE)


def main():
    args = common.parse_args(__doc__)
    S = args.seeds or common.pick(args, 4, 16)
    seeds = list(range(S))
    t0 = time.perf_counter()
    a = part_a(args, seeds)
    b, x, curves = part_b(args, seeds)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_path = common.figure_path(args, NAME)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    for i, e in enumerate(EPS):
        mean, lo, hi = common.band(curves[i])
        ln = axes[0].plot(x, mean, label="no clipping (eps=1e6)" if e > 10 else f"eps={e:g}")[0]
        axes[0].fill_between(x, lo, hi, color=ln.get_color(), alpha=0.15)
    axes[0].set_title(f"PPO CartPole-v1, 10 epochs/batch, {len(seeds)} seeds (95% CI)", fontsize=10)
    axes[0].set_xlabel("env steps")
    axes[0].set_ylabel("episode return")
    if True:
        for algo in ("ppo", "trpo"):
            xa, ca = a[algo].pop("_curves")
            mean, lo, hi = common.band(ca)
            ln = axes[1].plot(xa, mean, label=f"{algo} ({1e3 * a[algo]['seconds_per_update']:.1f} ms/update)")[0]
            axes[1].fill_between(xa, lo, hi, color=ln.get_color(), alpha=0.15)
        axes[1].axhline(THRESHOLD, color="gray", ls="--", lw=0.8)
        axes[1].set_title("PPO vs TRPO (presets), CartPole-v1", fontsize=10)
        axes[1].set_xlabel("env steps")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(fig_path, dpi=110)
    plt.close(fig)

    rows = b["per_eps"]
    noclip = rows["1e+06"]
    clipped_ok = all(rows[f"{e:g}"]["collapse_fraction"] <= noclip["collapse_fraction"] for e in EPS[:3])
    collapse_seen = noclip["collapse_fraction"] > 0 or noclip["final_return"][2] < min(
        rows[f"{e:g}"]["final_return"][1] for e in EPS[:3])
    text_b = ("clipping: " + ", ".join(
        f"eps {k}: final {v['final_return'][0]:.0f} [{v['final_return'][1]:.0f}, {v['final_return'][2]:.0f}], "
        f"collapsed {100 * v['collapse_fraction']:.0f}%, mean KL {v['mean_kl_per_update'][0]:.3g}"
        for k, v in rows.items()))
    tr = a["time_per_update_ratio"]
    eff = a["sample_efficiency_ppo_rel_trpo"]
    verdict = verdict_for(tr, eff, clipped_ok and collapse_seen)
    text = (f"PPO time per update = {tr:.2f}x TRPO's (the claim's unit; claimed about 0.5x); per env step "
            f"{a['time_per_step_ratio']:.2f}x (batches {a['ppo']['batch_size']} vs {a['trpo']['batch_size']} "
            f"steps); PPO sample efficiency = {eff[0]:.2f} of TRPO's [95% CI {eff[1]:.2f}, {eff[2]:.2f}] "
            f"(steps to return {THRESHOLD:g}; claimed 0.8-0.9); " + text_b)
    common.write_result(args, NAME, spec=SPEC, result={
        "claim": CLAIM,
        "source": SOURCE,
        "method": __doc__.strip(),
        "settings": {"part_a": "presets", "part_b": b["config"], "threshold": THRESHOLD},
        "seeds": seeds,
        "ppo_vs_trpo": a,
        "clipping": b,
        "measured_text": text,
        "verdict": verdict,
        "verdict_reason": RULE,
        "figure": common.rel_figure(fig_path),
        "seconds": time.perf_counter() - t0,
    })


if __name__ == "__main__":
    main()
