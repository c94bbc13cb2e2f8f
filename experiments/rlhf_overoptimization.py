"""Reward-model over-optimization on the synthetic RLHF task (issue 5).

Claims checked (numbers land in results/rlhf_overoptimization.json):

1. With no KL penalty (beta = 0) the proxy reward keeps rising while the gold reward
   peaks and then falls (Gao et al. 2023); we report the peak, its update and its KL.
2. With the adaptive KL controller (Ziegler et al. 2019) the KL to the SFT policy
   stays within +-50% of the target over the last half of training and the gold
   reward does not collapse (it ends above the SFT policy's).
3. Reward-model held-out accuracy against the gold's hard labels grows with the
   number of preference pairs.

Language, SFT model and the reward model are built once and shared by both RL runs.

    PYTHONPATH=. python experiments/rlhf_overoptimization.py
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time

import jax

from jaxpg.rlhf import pipeline


def _quiet(*args, **kwargs):
    pass


def plot_kl_control(path, runs: dict, cfg):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, axb) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, rows in runs.items():
        x = range(1, len(rows) + 1)
        ax.plot(x, [r["kl_penalty_seq"] for r in rows], label=label)
        axb.plot(x, [r["beta"] for r in rows], label=label)
    ax.axhline(cfg.kl_target, color="k", ls="--", lw=1, label="target")
    ax.axhspan(0.5 * cfg.kl_target, 1.5 * cfg.kl_target, color="k", alpha=0.08,
               label="target +-50%")
    ax.set_xlabel("update")
    ax.set_ylabel("KL to SFT policy (nats / sequence)")
    ax.legend(fontsize=8)
    axb.set_xlabel("update")
    axb.set_ylabel("beta")
    axb.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_rm_accuracy(path, ns, accs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.semilogx(ns, accs, "o-", base=2)
    ax.axhline(0.75, color="k", ls="--", lw=1, label="0.75")
    ax.set_xlabel("preference pairs")
    ax.set_ylabel("held-out accuracy vs gold (hard labels)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="experiments/results")
    ap.add_argument("--figures", default="experiments/figures")
    ap.add_argument("--beta0-updates", type=int, default=100,
                    help="RL updates of the beta = 0 run")
    ap.add_argument("--pairs", type=int, nargs="+", default=[256, 1024, 4096, 16384],
                    help="preference-pair counts for the reward-model accuracy curve")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = ap.parse_args()
    os.makedirs(args.results, exist_ok=True)
    os.makedirs(args.figures, exist_ok=True)

    base = pipeline.RLHFConfig()
    if args.quick:
        base = dataclasses.replace(
            base, sft_steps=100, n_pairs=512, n_eval_pairs=256, rm_epochs=2, rl_updates=10,
            rl_batch_size=64, best_of_n_max=4, best_of_n_prompts=32, eval_batch_size=64)
        args.beta0_updates, args.pairs = 10, [128, 512]
    pipeline.validate(base)
    t_start = time.time()
    prep = pipeline.prepare(base)
    bon = pipeline.run_best_of_n(base, prep)

    # 1. No KL penalty at all.
    cfg0 = dataclasses.replace(base, kl_control="fixed", beta=0.0, rl_updates=args.beta0_updates)
    rl0 = pipeline.run_rl(cfg0, prep)
    s0 = pipeline.rl_summary(cfg0, rl0)
    rows0 = rl0["rows"]
    peak = s0["gold_peak_update"] - 1
    claim1 = {
        "gold_peak": s0["gold_peak"],
        "gold_peak_update": s0["gold_peak_update"],
        "gold_peak_kl_seq": s0["gold_peak_kl_seq"],
        "proxy_at_gold_peak": rows0[peak]["proxy"],
        "gold_final": rows0[-1]["gold"],
        "proxy_final": rows0[-1]["proxy"],
        "kl_final_seq": rows0[-1]["kl_exact_seq"],
        "proxy_keeps_rising": rows0[-1]["proxy"] > rows0[peak]["proxy"],
        "gold_falls_after_peak": rows0[-1]["gold"] < s0["gold_peak"] - 0.1,
    }
    claim1["holds"] = (claim1["proxy_keeps_rising"] and claim1["gold_falls_after_peak"]
                       and peak < len(rows0) - 1)

    # 2. Adaptive KL controller (the pipeline default).
    rla = pipeline.run_rl(base, prep)
    sa = pipeline.rl_summary(base, rla)
    claim2 = {
        "kl_target": base.kl_target,
        "kl_last_half_mean": sa["kl_last_half_mean"],
        "kl_last_half_min": sa["kl_last_half_min"],
        "kl_last_half_max": sa["kl_last_half_max"],
        "kl_within_50pct": (sa["kl_last_half_min"] >= 0.5 * base.kl_target
                            and sa["kl_last_half_max"] <= 1.5 * base.kl_target),
        "gold_before": sa["before"]["gold"],
        "gold_after": sa["after"]["gold"],
        "proxy_before": sa["before"]["proxy"],
        "proxy_after": sa["after"]["proxy"],
        "final_beta": sa["final_beta"],
        "gold_not_collapsed": sa["after"]["gold"] > sa["before"]["gold"],
    }
    claim2["holds"] = claim2["kl_within_50pct"] and claim2["gold_not_collapsed"]

    # 3. Reward-model accuracy against the number of preference pairs (same epochs).
    t0 = time.time()
    rm_curve = []
    for n in args.pairs:
        n = min(n, prep.train_pairs.chosen.shape[0])
        sub = jax.tree.map(lambda x, n=n: x[:n], prep.train_pairs)
        _, acc = pipeline.fit_reward_model(dataclasses.replace(base, n_pairs=n), prep.rm.reader,
                                           prep.sft.params, sub, prep.eval_pairs, say=_quiet)
        print(f"[rm curve] {n} pairs: held-out gold accuracy {acc:.3f}", flush=True)
        rm_curve.append({"n_pairs": n, "gold_accuracy": acc})
    rm_curve_s = time.time() - t0
    accs = [r["gold_accuracy"] for r in rm_curve]
    claim3 = {"curve": rm_curve, "holds": accs[-1] > accs[0]}

    pipeline.plot_gold_proxy(
        os.path.join(args.figures, "rlhf_gold_proxy_vs_sqrt_kl.png"),
        {"beta=0": rows0, f"adaptive (target {base.kl_target})": rla["rows"]}, bon,
        "Gold vs proxy reward as the policy moves away from SFT")
    plot_kl_control(os.path.join(args.figures, "rlhf_kl_control.png"),
                    {"beta=0": rows0, "adaptive": rla["rows"]}, base)
    plot_rm_accuracy(os.path.join(args.figures, "rlhf_rm_accuracy_vs_pairs.png"),
                     [r["n_pairs"] for r in rm_curve], accs)

    results = {
        "config": dataclasses.asdict(base),
        "beta0_updates": args.beta0_updates,
        "quick": args.quick,
        **prep.info,
        "best_of_n": bon,
        "claim1_beta0_overoptimization": claim1,
        "claim2_adaptive_kl": claim2,
        "claim3_rm_accuracy_vs_pairs": claim3,
        "curves": {
            "beta0": [{k: r[k] for k in ("proxy", "gold", "kl_exact_seq", "kl_seq")}
                      for r in rows0],
            "adaptive": [{k: r[k] for k in ("proxy", "gold", "kl_exact_seq", "kl_penalty_seq",
                                            "beta")} for r in rla["rows"]],
        },
        "wall_s": {**prep.info["wall_s"], "rl_beta0_s": rl0["wall_s"],
                   "rl_adaptive_s": rla["wall_s"], "rm_curve_s": rm_curve_s,
                   "total_s": time.time() - t_start},
        "hardware": pipeline.hardware(),
        "note": "wall times on a 2-core CPU shared with other jobs; compile time included",
    }
    name = "rlhf_overoptimization_quick.json" if args.quick else "rlhf_overoptimization.json"
    from common import write_record

    write_record(os.path.join(args.results, name), results)
    print(f"[claim 1] beta=0: gold peaks at {claim1['gold_peak']:+.3f} (update "
          f"{claim1['gold_peak_update']}, KL {claim1['gold_peak_kl_seq']:.2f} nats) and ends at "
          f"{claim1['gold_final']:+.3f}; proxy {claim1['proxy_at_gold_peak']:+.2f} -> "
          f"{claim1['proxy_final']:+.2f}: {'HOLDS' if claim1['holds'] else 'FAILS'}")
    print(f"[claim 2] adaptive: KL over last half {claim2['kl_last_half_min']:.2f}.."
          f"{claim2['kl_last_half_max']:.2f} (target {base.kl_target}); gold "
          f"{claim2['gold_before']:+.3f} -> {claim2['gold_after']:+.3f}: "
          f"{'HOLDS' if claim2['holds'] else 'FAILS'}")
    print("[claim 3] RM accuracy vs pairs: "
          + ", ".join(f"{r['n_pairs']}: {r['gold_accuracy']:.3f}" for r in rm_curve)
          + f": {'HOLDS' if claim3['holds'] else 'FAILS'}")
    print(f"total {results['wall_s']['total_s']:.0f}s on {results['hardware']['device']}"
          f" ({math.floor(results['wall_s']['total_s'] / 60)} min)")


if __name__ == "__main__":
    main()
