"""Scaling laws of reward-model over-optimization (Gao, Schulman & Hilton 2022), measured.

On the synthetic language the gold reward is known exactly, so for every reward
model (RM) we can trace the *gold* reward a policy gets as it optimizes the RM's
*proxy* harder, against ``d = sqrt(KL(policy || SFT))``:

* best-of-n from the SFT policy, n = 1..n_max, ``KL = log n - (n - 1)/n``;
* RL (RLOO, no KL penalty, so it walks as far as it can), ``KL`` exact per token.

Gao et al.'s functional forms, fitted by least squares to the gold gain
``G(d) = gold(d) - gold(0)`` per seed:

    best-of-n:  G(d) = d (alpha_bon - beta_bon d)
    RL:         G(d) = d (alpha_rl - beta_rl log d)

Grid: RMs of several sizes (each initialized from a language model of its own size
pretrained on the language) x several numbers of preference pairs (subsets of one
pool per seed, labelled by the gold). Coefficients are reported per cell with a 95%
Student-t interval over seeds. RL runs of one RM size are one vmapped program over
(pair count x seed).

    PYTHONPATH=. python experiments/rlhf_scaling.py            # CPU size (minutes)
    PYTHONPATH=. python experiments/rlhf_scaling.py --scale    # up to 50,000 pairs, more seeds
    PYTHONPATH=. python experiments/rlhf_scaling.py --pairs 50000 --sizes 64x2 32x2
        # one more column of the CPU grid (InstructGPT's pair count), saved as
        # results/rlhf_scaling_extra_50000.json; the next plain run merges it into the
        # table, the trends and the figure (only if it ran with the same settings)
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import time

import claims
import common
import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.rlhf import lm, pipeline, reward_model, rl, task
from jaxpg.rlhf.config import RLHFConfig, lm_config

NAME = "rlhf_scaling"


def quiet(*a, **k):
    pass


def grid(args):
    """(base config, RM sizes [(d_model, n_layers)], pair counts, seeds, RL updates, n_max)."""
    base = RLHFConfig(plot=False, sft_steps=common.pick(args, 400, 600),
                      rm_epochs=2, n_eval_pairs=1024, algo="rloo", group_size=4,
                      rl_batch_size=common.pick(args, 128, 256), update_epochs=2,
                      num_minibatches=2, rl_lr=2e-4, kl_control="fixed", beta=0.0,
                      ent_coef_start=0.0, ent_coef_end=0.0)
    sizes = common.pick(args, [(16, 1), (32, 2), (64, 2)], [(16, 1), (32, 2), (64, 2), (128, 2)])
    pairs = common.pick(args, [500, 2000, 8000], [1000, 5000, 20000, 50000])
    seeds = list(range(args.seeds or common.pick(args, 2, 3)))
    updates = common.pick(args, 20, 40)
    n_max = common.pick(args, 64, 256)
    if args.smoke:  # the code path only, in about a minute
        base = dataclasses.replace(base, sft_steps=30, n_eval_pairs=64, rl_batch_size=16,
                                   response_len=6, context_len=10, d_model=16, n_layers=1)
        sizes, pairs, seeds, updates, n_max = [(8, 1), (16, 1)], [32, 64], [0, 1], 3, 8
    if args.pairs:
        pairs = sorted(args.pairs)
    if args.sizes:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
    return dataclasses.replace(base, rl_updates=updates), sizes, pairs, seeds, n_max


def fit_bon(d: np.ndarray, gain: np.ndarray) -> tuple[float, float]:
    """Least squares ``gain = alpha d - beta d^2``: returns ``(alpha, beta)``."""
    a = np.stack([d, -d * d], axis=1)
    return tuple(np.linalg.lstsq(a, gain, rcond=None)[0])


def fit_rl(d: np.ndarray, gain: np.ndarray) -> tuple[float, float]:
    """Least squares ``gain = alpha d - beta d log d`` (d > 0 only): ``(alpha, beta)``."""
    keep = d > 1e-3
    d, gain = d[keep], gain[keep]
    a = np.stack([d, -d * np.log(d)], axis=1)
    return tuple(np.linalg.lstsq(a, gain, rcond=None)[0])


def subset(pairs: reward_model.Pairs, n: int) -> reward_model.Pairs:
    return jax.tree.map(lambda x: x[:n], pairs)


def stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *trees)


def train_rms(cfg, lang, sizes, pair_counts, seeds, policy_sft, pools, eval_pairs):
    """Every RM of the grid: ``{(size, n, seed): (RewardModel, held-out gold accuracy)}``."""
    rms = {}
    for d_model, n_layers in sizes:
        rm_cfg = lm_config(cfg, d_model, n_layers)
        if rm_cfg == lm_config(cfg):
            init = policy_sft.params
        else:
            init = pipeline.train_sft(cfg, lang, rm_cfg, say=quiet).params
        reader = reward_model.Reader(rm_cfg, cfg.prompt_len, cfg.rm_pool, lang.eos)
        for n in pair_counts:
            for s in seeds:
                t0 = time.time()
                rm, acc = pipeline.fit_reward_model(cfg, reader, init, subset(pools[s], n),
                                                    eval_pairs, say=quiet,
                                                    key=jax.random.key(1000 + s))
                rms[(d_model, n_layers), n, s] = (rm, acc)
                print(f"[rm] d={d_model} L={n_layers} pairs={n} seed={s}: held-out gold acc "
                      f"{acc:.3f} ({time.time() - t0:.0f}s)", flush=True)
    return rms


def best_of_n_curves(cfg, lang, lm_cfg, sft_params, rms, seeds, n_max, n_prompts=256):
    """``{key: {"d": [...], "gold": [...], "proxy": [...]}}`` for every RM, one SFT sample per seed."""
    gen = jax.jit(lm.generate, static_argnums=(0, 4, 6))
    samples = {}
    for s in seeds:
        k_p, k_g = jax.random.split(jax.random.key(2000 + s))
        prompts = jnp.repeat(task.sample_prompts(lang, k_p, n_prompts, cfg.prompt_len), n_max, 0)
        tokens, _ = gen(lm_cfg, sft_params, k_g, prompts, cfg.response_len, 1.0, lang.eos)
        gold = task.gold_reward(lang, prompts, tokens[:, cfg.prompt_len:]).reshape(n_prompts, n_max)
        samples[s] = (tokens, np.asarray(gold))
    # The SFT policy's gold, on every sample of the seed (n_prompts x n_max): the d = 0
    # point that both best-of-n and RL gains are measured from.
    sft_gold = {s: float(samples[s][1].mean()) for s in seeds}
    ns = [2**i for i in range(n_max.bit_length()) if 2**i <= n_max]
    d = np.sqrt([math.log(n) - (n - 1) / n for n in ns])
    out = {}
    for key, (rm, _) in rms.items():
        tokens, gold = samples[key[2]]
        proxy = np.asarray(jax.jit(reward_model.proxy_reward)(rm, tokens)).reshape(gold.shape)
        rows = {"d": d.tolist(), "gold": [], "proxy": [], "sft_gold": sft_gold[key[2]]}
        for n in ns:
            best = np.argmax(proxy[:, :n], axis=-1)[:, None]
            rows["gold"].append(float(np.take_along_axis(gold, best, -1).mean()))
            rows["proxy"].append(float(np.take_along_axis(proxy, best, -1).mean()))
        out[key] = rows
    return out, sft_gold


def rl_curves(cfg, lang, lm_cfg, sft_params, rms, sizes, pair_counts, seeds, sft_gold):
    """RL against every RM; one vmapped program per RM size. ``{key: {"d", "gold", "proxy"}}``."""
    update = rl.make_update(cfg, lm_cfg, lang)

    def run(state, ref, rm, key):
        return jax.lax.scan(lambda st, k: update(st, ref, rm, k), state,
                            jax.random.split(key, cfg.rl_updates))

    vrun = jax.jit(jax.vmap(run, in_axes=(0, None, 0, 0)))
    out = {}
    for size in sizes:
        keys = [(size, n, s) for n in pair_counts for s in seeds]
        g = len(keys)
        state = rl.init_state(cfg, sft_params, sft_params)
        states = jax.tree.map(lambda x, g=g: jnp.broadcast_to(x, (g,) + x.shape), state)
        rm_batch = stack([rms[k][0] for k in keys])
        rng = jnp.stack([jax.random.key(3000 + 97 * k[2] + k[1]) for k in keys])
        t0 = time.time()
        _, m = vrun(states, sft_params, rm_batch, rng)
        m = jax.device_get(m)
        print(f"[rl] size {size}: {g} runs x {cfg.rl_updates} updates in {time.time() - t0:.0f}s",
              flush=True)
        for i, k in enumerate(keys):
            out[k] = {"d": np.sqrt(np.maximum(m["kl_exact_seq"][i], 0.0)).tolist(),
                      "gold": m["gold"][i].tolist(), "proxy": m["proxy"][i].tolist(),
                      "response_length": m["response_length"][i].tolist(),
                      "sft_gold": sft_gold[k[2]]}
    return out


def coefficients(curves, fit, sizes, pair_counts, seeds):
    """Per (size, pairs): per-seed fits and their mean with a 95% t interval."""
    table = {}
    for size in sizes:
        for n in pair_counts:
            fits = []
            for s in seeds:
                c = curves[size, n, s]
                d, gold = np.asarray(c["d"]), np.asarray(c["gold"])
                fits.append(fit(d, gold - c["sft_gold"]))
            fits = np.asarray(fits)
            cell = {}
            for j, name in enumerate(("alpha", "beta")):
                mean, lo, hi = common.mean_ci(fits[:, j])
                cell[name] = {"mean": float(mean), "lo": float(lo), "hi": float(hi),
                              "per_seed": fits[:, j].tolist()}
            table[f"d{size[0]}xL{size[1]}/{n}"] = cell
    return table


def peak_gold(curves, sizes, pair_counts, seeds):
    """Mean over seeds of the peak gold gain and the d where it is reached."""
    out = {}
    for size in sizes:
        for n in pair_counts:
            gains, ds = [], []
            for s in seeds:
                c = curves[size, n, s]
                g = np.asarray(c["gold"]) - c["sft_gold"]
                i = int(np.argmax(g))
                gains.append(g[i])
                ds.append(c["d"][i])
            out[f"d{size[0]}xL{size[1]}/{n}"] = {"peak_gain": float(np.mean(gains)),
                                                "d_at_peak": float(np.mean(ds))}
    return out


def plot(path, bon, rlc, coef_bon, coef_rl, sizes, pair_counts, seeds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    big = sizes[-1]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(pair_counts)))
    for ax, curves, coef, form, title in (
            (axes[0], bon, coef_bon, lambda d, a, b: d * (a - b * d), "best-of-n"),
            (axes[1], rlc, coef_rl, lambda d, a, b: d * (a - b * np.log(np.maximum(d, 1e-9))),
             "RL (RLOO, beta = 0)")):
        for n, c in zip(pair_counts, colors):
            for s in seeds:
                cur = curves[big, n, s]
                g = np.asarray(cur["gold"]) - cur["sft_gold"]
                ax.plot(cur["d"], g, "o" if title == "best-of-n" else ".", color=c, ms=3,
                        alpha=0.6, label=f"{n} pairs" if s == seeds[0] else None)
            cell = coef[f"d{big[0]}xL{big[1]}/{n}"]
            dmax = max(max(curves[big, n, s]["d"]) for s in seeds)
            dd = np.linspace(1e-3, dmax, 100)
            ax.plot(dd, form(dd, cell["alpha"]["mean"], cell["beta"]["mean"]), "-", color=c)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("d = sqrt(KL to SFT)  [sqrt(nats)]")
        ax.set_ylabel("gold gain over SFT")
        ax.set_title(f"{title}: RM d_model={big[0]}, dots=seeds, lines=fit")
        ax.legend(fontsize=7)
    ax = axes[2]
    for (d_model, n_layers), marker in zip(sizes, "os^D"):
        for kind, coef, ls in (("bon", coef_bon, "-"), ("rl", coef_rl, "--")):
            ns = counts_of(coef, (d_model, n_layers))
            a = [coef[f"d{d_model}xL{n_layers}/{n}"]["alpha"]["mean"] for n in ns]
            b = [coef[f"d{d_model}xL{n_layers}/{n}"]["beta"]["mean"] for n in ns]
            ax.plot(ns, a, marker + ls, label=f"alpha_{kind} d{d_model}")
            ax.plot(ns, b, marker + ls, alpha=0.4, label=f"beta_{kind} d{d_model}")
    ax.set_xscale("log")
    ax.set_xlabel("preference pairs")
    ax.set_ylabel("fitted coefficient (mean over seeds)")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cell_key(cell: str) -> tuple[int, int, int]:
    """``"d64xL2/8000"`` -> ``(64, 2, 8000)``: table rows by RM size, then pair count."""
    size, n = cell.split("/")
    d, layers = size[1:].split("xL")
    return int(d), int(layers), int(n)


def markdown_table(coef_bon, coef_rl, acc, peaks_rl):
    def ci(c):
        return f"{c['mean']:.3f} [{c['lo']:.3f}, {c['hi']:.3f}]"

    header = ("| RM (d_model x layers) / pairs | RM gold acc | alpha_bon | beta_bon | alpha_rl | "
              "beta_rl | RL peak gold gain (at d) |")
    lines = [header, "|---|---|---|---|---|---|---|"]
    for cell in sorted(coef_bon, key=_cell_key):
        p = peaks_rl[cell]
        lines.append(f"| {cell} | {acc[cell]:.3f} | {ci(coef_bon[cell]['alpha'])} | "
                     f"{ci(coef_bon[cell]['beta'])} | {ci(coef_rl[cell]['alpha'])} | "
                     f"{ci(coef_rl[cell]['beta'])} | {p['peak_gain']:+.3f} ({p['d_at_peak']:.2f}) |")
    return "\n".join(lines)


def counts_of(coef, size) -> list[int]:
    """The pair counts measured for one RM size (the grid's, plus merged extra columns)."""
    prefix = f"d{size[0]}xL{size[1]}/"
    return sorted(int(c[len(prefix):]) for c in coef if c.startswith(prefix))


def trend(coef, sizes, name):
    """Sign of the change of a coefficient's mean from the fewest to the most pairs, per size."""
    out = {}
    for d_model, n_layers in sizes:
        vals = [coef[f"d{d_model}xL{n_layers}/{n}"][name]["mean"] for n in counts_of(coef, (d_model, n_layers))]
        out[f"d{d_model}xL{n_layers}"] = {"first": vals[0], "last": vals[-1],
                                          "rises": bool(vals[-1] > vals[0])}
    return out


MERGED_SETTINGS = ("sft_steps", "rm_epochs", "best_of_n_max", "rl")


def merge_extra(results_dir, settings, seeds, tables) -> list[str]:
    """Add the cells of ``rlhf_scaling_extra_*.json`` (runs with ``--pairs``) that used the
    same settings and seeds to ``tables`` (name -> {cell: value}); returns the files merged."""
    merged = []
    for path in sorted(glob.glob(os.path.join(results_dir, f"{NAME}_extra_*.json"))):
        with open(path) as f:
            extra = json.load(f)
        same = all(extra["settings"].get(k) == settings.get(k) for k in MERGED_SETTINGS)
        if not same or extra["seeds"] != seeds:
            print(f"[merge] skipped {os.path.basename(path)}: other settings or seeds", flush=True)
            continue
        for name, table in tables.items():
            table.update(extra["tables"][name])
        merged.append(os.path.basename(path))
        print(f"[merge] {os.path.basename(path)}: cells {sorted(extra['tables']['rm_gold_accuracy'])}",
              flush=True)
    return merged


def settings_of(cfg, sizes, pair_counts, n_max) -> dict:
    """The grid's settings as JSON stores them (extra columns must match these)."""
    return json.loads(json.dumps({
        "rm_sizes": sizes, "pair_counts": pair_counts, "best_of_n_max": n_max,
        "rl": {"algo": cfg.algo, "updates": cfg.rl_updates, "batch": cfg.rl_batch_size,
               "lr": cfg.rl_lr, "beta": cfg.beta}, "sft_steps": cfg.sft_steps,
        "rm_epochs": cfg.rm_epochs}))


RULE = ("two parts: (1) over-optimization in the claimed form: for the largest RM with the most pairs, "
        "best-of-n beta's 95% interval lies above 0 (gold turns down as d grows) and alpha's above 0; "
        "(2) the trends of Gao et al.: from the fewest to the most pairs alpha rises for every RM size and "
        "beta falls for all but at most one. agrees if both hold, partly if one does, disagrees if neither")


def verdict_for(coef_bon: dict, alpha_trend: dict, beta_trend: dict, largest_cell: str) -> str:
    """``coef_bon[cell][alpha|beta]`` = {mean, lo, hi}; trends from :func:`trend`: :data:`RULE`."""
    cell = coef_bon[largest_cell]
    form = cell["beta"]["lo"] > 0 and cell["alpha"]["lo"] > 0
    n = len(alpha_trend)
    trends = (sum(v["rises"] for v in alpha_trend.values()) == n
              and sum(not v["rises"] for v in beta_trend.values()) >= n - 1)
    return claims.count_verdict(int(form) + int(trends), 2, 1)


SPEC = claims.Spec(
    name=NAME,
    claim="Over-optimization follows Gao et al. (2022): gold = d(alpha - beta d) for best-of-n and "
          "d(alpha - beta log d) for RL, with alpha growing and beta shrinking as the reward model gets "
          "more parameters and data (InstructGPT: 50,000 pairs)",
    source="Gao, Schulman & Hilton 2022; seed article (50,000 pairs)",
    quantity="fitted best-of-n coefficients alpha and beta (d = sqrt KL to the SFT policy) per RM size "
             "and pair count", unit="gold reward per unit of d", claimed=None,
    comparison="per-seed fits, t interval over seeds; trends from the fewest to the most pairs",
    rule=RULE)


def build_result(cfg, sizes, pair_counts, seeds, n_max, bon, rlc, coef_bon, coef_rl, peaks_rl,
                 acc, figure) -> dict:
    """The claim record: verdict from the coefficients' trends, the table, the raw curves."""
    big = f"d{sizes[-1][0]}xL{sizes[-1][1]}"
    a_bon = trend(coef_bon, sizes, "alpha")
    b_bon = trend(coef_bon, sizes, "beta")
    alpha_up = sum(v["rises"] for v in a_bon.values())
    beta_down = sum(not v["rises"] for v in b_bon.values())
    most = counts_of(coef_bon, sizes[-1])[-1]
    verdict = verdict_for(coef_bon, a_bon, b_bon, f"{big}/{most}")
    best_bon = coef_bon[f"{big}/{most}"]
    best_rl = coef_rl[f"{big}/{most}"]
    measured = (
        f"largest RM ({big}, {most} pairs): best-of-n alpha {best_bon['alpha']['mean']:.3f} "
        f"[{best_bon['alpha']['lo']:.3f}, {best_bon['alpha']['hi']:.3f}], beta "
        f"{best_bon['beta']['mean']:.3f}; RL alpha {best_rl['alpha']['mean']:.3f} "
        f"[{best_rl['alpha']['lo']:.3f}, {best_rl['alpha']['hi']:.3f}], beta "
        f"{best_rl['beta']['mean']:.3f}; best-of-n alpha rises with pairs for {alpha_up}/{len(sizes)} "
        f"RM sizes, beta falls for {beta_down}/{len(sizes)}")
    result = {
        "claim": "Over-optimization follows Gao et al. (2022): gold = d(alpha - beta d) for best-of-n "
                 "and d(alpha - beta log d) for RL, with alpha growing and beta shrinking as the "
                 "reward model gets more parameters and data (InstructGPT: 50,000 pairs)",
        "source": "Gao, Schulman & Hilton 2022; seed article (50,000 pairs)",
        "measured_text": measured,
        "verdict": verdict,
        "verdict_reason": RULE,
        "table": markdown_table(coef_bon, coef_rl, acc, peaks_rl),
        "figure": figure,
        "seeds": seeds,
        "settings": settings_of(cfg, sizes, pair_counts, n_max),
        "coefficients": {"best_of_n": coef_bon, "rl": coef_rl},
        "trends": {"alpha_bon": a_bon, "beta_bon": b_bon,
                   "alpha_rl": trend(coef_rl, sizes, "alpha"),
                   "beta_rl": trend(coef_rl, sizes, "beta")},
        "rm_gold_accuracy": acc,
        "rl_peaks": peaks_rl,
        "curves": {"best_of_n": {f"d{k[0][0]}xL{k[0][1]}/{k[1]}/s{k[2]}": v for k, v in bon.items()},
                   "rl": {f"d{k[0][0]}xL{k[0][1]}/{k[1]}/s{k[2]}": v for k, v in rlc.items()}},
        "method": "One language and SFT policy (seed 0). Per seed, one pool of gold-labelled SFT "
                  "pairs; each pair count is a prefix of it. Each RM size starts from a language "
                  "model of that size pretrained on the language (the SFT recipe), then "
                  f"{cfg.rm_epochs} Bradley-Terry epochs. Best-of-n: per seed one draw of "
                  f"{n_max} SFT responses for 256 prompts, KL = log n - (n-1)/n. RL: RLOO "
                  f"(k = {cfg.group_size}) with no KL penalty, {cfg.rl_updates} updates, exact "
                  "sequence KL. Fits: least squares on the gold gain over the d = 0 point, per "
                  "seed; intervals: Student t over seeds.",
    }
    return result


def main():
    def extra(p):
        p.add_argument("--smoke", action="store_true", help="a tiny grid that only checks the code path")
        p.add_argument("--pairs", type=int, nargs="+", help="only these pair counts (an extra column)")
        p.add_argument("--sizes", nargs="+", help="only these RM sizes, as DxL (d_model x layers)")

    args = common.parse_args(__doc__.splitlines()[0], extra)
    t_start = time.time()
    cfg, sizes, pair_counts, seeds, n_max = grid(args)
    lang = pipeline.make_task_language(cfg)
    lm_cfg = lm_config(cfg)
    t0 = time.time()
    policy = pipeline.train_sft(cfg, lang, lm_cfg, say=quiet)
    print(f"[sft] policy nll {policy.nll:.4f} (true {policy.true_nll:.4f}) in {time.time() - t0:.0f}s",
          flush=True)
    t0 = time.time()
    pools = {s: pipeline.make_pairs(cfg, lm_cfg, policy.params, lang, jax.random.key(4000 + s),
                                    max(pair_counts), 0.0) for s in seeds}
    eval_pairs = pipeline.make_pairs(cfg, lm_cfg, policy.params, lang, jax.random.key(5000), 
                                     cfg.n_eval_pairs, 0.0)
    print(f"[prefs] {len(seeds)} x {max(pair_counts)} pairs in {time.time() - t0:.0f}s", flush=True)
    rms = train_rms(cfg, lang, sizes, pair_counts, seeds, policy, pools, eval_pairs)
    t0 = time.time()
    bon, sft_gold = best_of_n_curves(cfg, lang, lm_cfg, policy.params, rms, seeds, n_max)
    print(f"[bon] in {time.time() - t0:.0f}s", flush=True)
    rlc = rl_curves(cfg, lang, lm_cfg, policy.params, rms, sizes, pair_counts, seeds, sft_gold)
    coef_bon = coefficients(bon, fit_bon, sizes, pair_counts, seeds)
    coef_rl = coefficients(rlc, fit_rl, sizes, pair_counts, seeds)
    peaks_rl = peak_gold(rlc, sizes, pair_counts, seeds)
    acc_seeds = {f"d{k[0][0]}xL{k[0][1]}/{k[1]}": [rms[k[0], k[1], s][1] for s in seeds]
                 for k in {(key[0], key[1]) for key in rms}}
    acc = {k: float(np.mean(v)) for k, v in acc_seeds.items()}
    if args.pairs or args.sizes:  # one more column of the grid, merged by the next plain run
        write_extra(args, cfg, sizes, pair_counts, seeds, n_max, coef_bon, coef_rl, peaks_rl, acc,
                    acc_seeds, t_start)
        return
    merged = merge_extra(args.results, settings_of(cfg, sizes, pair_counts, n_max), seeds,
                         {"best_of_n": coef_bon, "rl": coef_rl, "rl_peaks": peaks_rl,
                          "rm_gold_accuracy": acc, "rm_gold_accuracy_per_seed": acc_seeds})
    fig = common.figure_path(args, NAME)
    plot(fig, bon, rlc, coef_bon, coef_rl, sizes, pair_counts, seeds)
    result = build_result(cfg, sizes, pair_counts, seeds, n_max, bon, rlc, coef_bon, coef_rl,
                          peaks_rl, acc, common.rel_figure(fig))
    result["seconds"] = time.time() - t_start
    result["rm_gold_accuracy_per_seed"] = acc_seeds
    result["merged_extra_runs"] = merged
    if merged:
        result["method"] += (" Cells with more pairs than the grid come from separate runs with the "
                             f"same settings and seeds ({', '.join(merged)}), merged into the table, "
                             "the trends and the coefficient panel.")
    common.write_result(args, NAME, result, spec=SPEC)


def write_extra(args, cfg, sizes, pair_counts, seeds, n_max, coef_bon, coef_rl, peaks_rl, acc,
                acc_seeds, t_start):
    """``results/rlhf_scaling_extra_<pairs>.json``: the cells of a ``--pairs``/``--sizes`` run."""
    from jaxpg.runner.logging import write_json

    out = {"settings": settings_of(cfg, sizes, pair_counts, n_max), "seeds": seeds, "hardware": common.hardware(),
           "scale": "gpu" if args.scale else "cpu", "written": time.strftime("%Y-%m-%d %H:%M:%S"),
           "seconds": time.time() - t_start,
           "tables": {"best_of_n": coef_bon, "rl": coef_rl, "rl_peaks": peaks_rl,
                      "rm_gold_accuracy": acc, "rm_gold_accuracy_per_seed": acc_seeds}}
    path = os.path.join(args.results, f"{NAME}_extra_{'_'.join(map(str, pair_counts))}.json")
    os.makedirs(args.results, exist_ok=True)
    write_json(path, out)
    print(f"wrote {path}: " + "; ".join(f"{c}: alpha_bon {coef_bon[c]['alpha']['mean']:.3f}, beta_bon "
                                        f"{coef_bon[c]['beta']['mean']:.3f}, RM acc {acc[c]:.3f}"
                                        for c in sorted(coef_bon, key=_cell_key)))


if __name__ == "__main__":
    main()
