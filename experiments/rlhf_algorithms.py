"""Every RLHF algorithm on the default task, and response length on a task with EOS.

Part 1: ``ppo``, ``grpo``, ``dr-grpo``, ``rloo`` and ``reinforce++`` each fine-tune the
same SFT policy against the same reward model (adaptive KL controller; ``--scale``: the
pipeline's default task and models, target 3 nats per sequence, 60 updates of 256
sequences; CPU size: claim 9's reduced task, V = 16, one layer of width 32, 8-token
responses, target 2 nats, 30 updates of 64), every seed of an algorithm in one vmapped
program. "After" is the mean of the last three updates' batches (sampled at
temperature 1), with the exact KL to the SFT policy; the gain is measured from the SFT
policy's gold on its 2 x n_pairs preference-pair samples. A claim-style result: "each
algorithm improves the gold over SFT", with a 95% t interval of the gain over seeds.

Part 2 (variable length): the same pipeline with an EOS token (``eos_prob`` 0.1:
responses of at most ``response_len`` tokens, 12 with ``--scale``, 8 at CPU size), PPO
with the adaptive controller and with no KL penalty; "before" is the first update's
batch (the SFT policy's samples). The gold averages over a response's own tokens, EOS included, so
it pays a little for length (the EOS token's ``log eos_prob`` is spread over more
tokens); length exploitation would show as the response length growing while the gold
falls. Reported: response length, EOS fraction, gold and proxy before and after, and
the correlation of the reward model's score with length on SFT samples.
"""

from __future__ import annotations

import dataclasses
import time

import claims
import common
import jax
import numpy as np
from claim9_rlhf import base_config, run_arm

from jaxpg.rlhf import pipeline, reward_model, task
from jaxpg.rlhf.config import ALGOS, RLHFConfig

NAME = "rlhf_algorithms"


def quiet(*a, **k):
    pass


AFTER = 3  # updates averaged for "after"
KEYS = ("gold", "proxy", "kl_exact_seq", "response_length", "eos_fraction")


def base(args) -> RLHFConfig:
    cfg = dataclasses.replace(base_config(args), best_of_n_max=0)
    if args.smoke:
        cfg = dataclasses.replace(cfg, sft_steps=30, n_pairs=256, n_eval_pairs=64, rl_updates=4,
                                  rl_batch_size=32, eval_batch_size=32, d_model=16, n_layers=1)
    return cfg


def before_after(m: dict) -> dict:
    """Per seed: the first update's batch (the SFT policy's samples) and the last updates'."""
    return {w: {k: (m[k][0, :, 0] if w == "before" else m[k][0, :, -AFTER:].mean(-1)).tolist()
                for k in KEYS} for w in ("before", "after")}


def compare_algorithms(cfg: RLHFConfig, seeds) -> dict:
    prep = pipeline.prepare(cfg, say=quiet)
    out = {"sft_gold": prep.info["language"]["gold_sft"], "rm_accuracy": prep.rm_accuracy}
    for algo in ALGOS:
        t0 = time.time()
        m = run_arm(dataclasses.replace(cfg, algo=algo), prep, seeds)
        ba = before_after(m)
        out[algo] = {k: ba["after"][k] for k in ("gold", "proxy", "kl_exact_seq")}
        out[algo]["gold_before"] = ba["before"]["gold"]
        out[algo]["curve_gold"] = m["gold"][0].tolist()
        out[algo]["seconds"] = time.time() - t0
        print(f"[{algo}] gold {np.mean(out[algo]['gold_before']):+.3f} -> "
              f"{np.mean(out[algo]['gold']):+.3f}, proxy {np.mean(out[algo]['proxy']):+.3f}, "
              f"KL {np.mean(out[algo]['kl_exact_seq']):.2f} ({out[algo]['seconds']:.0f}s)", flush=True)
    return out


def length_study(cfg: RLHFConfig, seeds) -> dict:
    cfg = dataclasses.replace(cfg, eos_prob=0.1, n_pairs=min(cfg.n_pairs, 8192))
    prep = pipeline.prepare(cfg, say=quiet)
    p = cfg.prompt_len
    tokens = np.concatenate([prep.eval_pairs.chosen, prep.eval_pairs.rejected])
    length = np.asarray(task.response_length(tokens[:, p:], prep.lang.eos))
    score = np.asarray(jax.jit(reward_model.proxy_reward)(prep.rm, tokens))
    out = {"rm_accuracy": prep.rm_accuracy,
           "rm_score_length_correlation": float(np.corrcoef(score, length)[0, 1])}
    arms = {"adaptive KL": cfg, "no KL penalty": dataclasses.replace(cfg, kl_control="fixed", beta=0.0)}
    for label, arm in arms.items():
        m = run_arm(arm, prep, seeds)
        out[label] = before_after(m)
        out[label]["curve"] = {k: m[k][0].mean(0).tolist()
                               for k in ("gold", "proxy", "response_length", "kl_exact_seq")}
        b, a = out[label]["before"], out[label]["after"]
        print(f"[eos {label}] length {np.mean(b['response_length']):.2f} -> "
              f"{np.mean(a['response_length']):.2f}, gold {np.mean(b['gold']):+.3f} -> "
              f"{np.mean(a['gold']):+.3f}", flush=True)
    return out


def plot(path, algos, lengths):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    for algo in ALGOS:
        curves = np.asarray(algos[algo]["curve_gold"])
        mean, lo, hi = common.band(curves)
        x = np.arange(1, curves.shape[1] + 1)
        ln = a.plot(x, mean, label=algo)[0]
        a.fill_between(x, lo, hi, color=ln.get_color(), alpha=0.15)
    a.axhline(algos["sft_gold"], color="k", ls="--", lw=1, label="SFT")
    a.set_xlabel("update")
    a.set_ylabel("gold (training batches)")
    a.set_title("adaptive KL controller", fontsize=9)
    a.legend(fontsize=7)
    for label in ("adaptive KL", "no KL penalty"):
        c = lengths[label]["curve"]
        b.plot(c["response_length"], label=f"{label}: length")
    b.set_xlabel("update")
    b.set_ylabel("mean response length (tokens, EOS included)")
    b2 = b.twinx()
    for label, ls in (("adaptive KL", ":"), ("no KL penalty", "--")):
        b2.plot(lengths[label]["curve"]["gold"], ls, color="gray", label=f"{label}: gold")
    b2.set_ylabel("gold (gray)")
    b.legend(fontsize=7, loc="upper left")
    b2.legend(fontsize=7, loc="lower right")
    b.set_title("EOS task (eos_prob 0.1), PPO", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


CLAIM = ("RLHF as practitioners run it: PPO, GRPO, Dr. GRPO, RLOO and REINFORCE++ each improve "
                 "the gold reward over the SFT policy under a KL constraint")
SOURCE = ("issue 14 (Ouyang et al. 2022; Shao et al. 2024; Liu et al. 2025; Ahmadian et al. "
                  "2024; Hu 2025)")

RULE = ("the gold gain of each algorithm (last updates' batches minus the SFT policy's gold on its 2 x "
        "n_pairs samples; mean and 95% t interval over seeds): agrees if every algorithm's interval lies "
        "above 0; partly if every algorithm's mean gain is above 0 and at least half of the intervals lie "
        "above 0; disagrees otherwise")


def verdict_for(gain: dict) -> str:
    """``gain[algo]`` = (mean, low, high): :data:`RULE`."""
    above = sum(g[1] > 0 for g in gain.values())
    if above == len(gain):
        return claims.AGREES
    if all(g[0] > 0 for g in gain.values()) and 2 * above >= len(gain):
        return claims.PARTLY
    return claims.DISAGREES


SPEC = claims.Spec(
    name=NAME, claim=CLAIM, source=SOURCE,
    quantity='gold-reward gain over the SFT policy of each RLHF algorithm',
    unit='gold reward', claimed=None,
    comparison='per seed gain against a precise SFT reference, t interval over seeds',
    rule=RULE)


def main():
    args = common.parse_args(__doc__.splitlines()[0], lambda p: p.add_argument(
        "--smoke", action="store_true", help="tiny runs: checks the code path only"))
    t_start = time.time()
    cfg = base(args)
    seeds = list(range(args.seeds or common.pick(args, 3, 3)))
    algos = compare_algorithms(cfg, seeds)
    lengths = length_study(cfg, seeds)
    fig = common.figure_path(args, NAME)
    plot(fig, algos, lengths)
    # Gain over the SFT policy's gold on all its preference-pair samples (2 x n_pairs
    # responses): a precise reference, so the interval is the RL runs' spread over seeds.
    gain = {a: common.mean_ci(np.asarray(algos[a]["gold"]) - algos["sft_gold"]) for a in ALGOS}
    improved = {a: bool(gain[a][1] > 0) for a in ALGOS}
    raised = {a: bool(gain[a][0] > 0) for a in ALGOS}
    rows = "; ".join(f"{a}: gold {algos['sft_gold']:+.3f} -> {np.mean(algos[a]['gold']):+.3f} "
                     f"(gain {gain[a][0]:+.3f} [{gain[a][1]:+.3f}, {gain[a][2]:+.3f}]) "
                     f"at KL {np.mean(algos[a]['kl_exact_seq']):.2f} nats" for a in ALGOS)
    ad, no = lengths["adaptive KL"], lengths["no KL penalty"]
    mean = lambda x: float(np.mean(x))
    text = (f"{sum(improved.values())}/{len(ALGOS)} algorithms raise the gold over SFT (95% interval of "
            f"the gain above 0; {sum(raised.values())}/{len(ALGOS)} in the mean): {rows}; "
            f"EOS task: response length {mean(ad['before']['response_length']):.2f} -> "
            f"{mean(ad['after']['response_length']):.2f} (adaptive KL), -> "
            f"{mean(no['after']['response_length']):.2f} (no KL, gold {mean(no['before']['gold']):+.3f} -> "
            f"{mean(no['after']['gold']):+.3f}); RM score vs length "
            f"correlation on SFT samples {lengths['rm_score_length_correlation']:+.2f}")
    common.write_result(args, NAME, spec=SPEC, result={
        "claim": CLAIM,
        "source": SOURCE,
        "measured_text": text,
        "verdict": verdict_for(gain),
        "verdict_reason": RULE,
        "figure": common.rel_figure(fig), "seeds": seeds, "seconds": time.time() - t_start,
        "settings": dataclasses.asdict(cfg), "algorithms": algos, "length_study": lengths,
        "method": __doc__.strip(),
    })


if __name__ == "__main__":
    main()
