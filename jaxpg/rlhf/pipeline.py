"""End-to-end RLHF on the synthetic language: language -> SFT -> preferences -> RM -> RL -> report.

``run_rlhf(RLHFConfig(), RunOptions(out_dir=...))`` writes the usual run directory (``config.json``,
``metrics.jsonl``, TensorBoard events, ``summary.json``) plus a figure of gold and
proxy reward against sqrt(KL). Metric names are prefixed by phase: ``sft/``,
``rm/``, ``ppo/`` (the ``step`` of a line counts steps, epochs and updates of that
phase respectively). The command line is ``jaxpg rlhf`` (:mod:`jaxpg.cli.rlhf`, derived
from :class:`RLHFConfig`)::

    jaxpg rlhf --out runs/rlhf
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxpg.errors import JaxpgError
from jaxpg.runner.logging import RunLogger
from jaxpg.runner.options import RunOptions
from jaxpg.rlhf import lm, reward_model, rl, sft, task
from jaxpg.rlhf.config import RLHFConfig, lm_config

__all__ = ["RLHFConfig", "prepare", "run_best_of_n", "run_rl", "run_rlhf", "validate"]


def validate(cfg: RLHFConfig) -> None:
    """Raise a one-line :class:`ConfigError` naming the first bad field, its value and a fix."""
    cfg.validate()


def _chunk_sizes(total: int, k: int) -> list[int]:
    return [k] * (total // k) + ([total % k] if total % k else [])


def _floats(d: dict) -> dict:
    return {k: float(v) for k, v in d.items()}


def plot_gold_proxy(path: str, runs: dict[str, list[dict]], bon_rows: list[dict], title: str):
    """Gold (left axis) and proxy (right axis) against sqrt(KL to the SFT policy).

    ``runs`` maps a label to per-update rows with ``kl_exact_seq``, ``gold``, ``proxy``;
    best-of-n points use the analytic KL.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax2 = ax.twinx()
    colors = ["tab:blue", "tab:green", "tab:purple", "tab:brown"]
    for (label, rows), c in zip(runs.items(), colors):
        x = [math.sqrt(max(r["kl_exact_seq"], 0.0)) for r in rows]
        ax.plot(x, [r["gold"] for r in rows], "-", color=c, label=f"{label} gold")
        ax2.plot(x, [r["proxy"] for r in rows], ":", color=c, label=f"{label} proxy")
    if bon_rows:
        x = [math.sqrt(r["kl"]) for r in bon_rows]
        ax.plot(x, [r["gold"] for r in bon_rows], "o-", color="black", ms=4,
                label="best-of-n gold")
        ax2.plot(x, [r["proxy"] for r in bon_rows], "o:", color="gray", ms=4,
                 label="best-of-n proxy")
    ax.set_xlabel("sqrt(KL to SFT policy)   [sqrt(nats / sequence)]")
    ax.set_ylabel("gold reward (solid)")
    ax2.set_ylabel("proxy reward, standardized RM score (dotted)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper left")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


class Prepared(NamedTuple):
    """Everything RL needs, built once and shareable across RL runs."""

    lang: task.Language
    lm_cfg: lm.LMConfig
    sft: sft.SFTResult
    rm: reward_model.RewardModel
    rm_accuracy: float
    train_pairs: reward_model.Pairs
    eval_pairs: reward_model.Pairs
    info: dict  # scalars for the summary


def _keys(seed: int) -> dict:
    names = ["lang", "sft", "pairs", "eval_pairs", "rm", "ppo", "eval", "bon"]
    return dict(zip(names, jax.random.split(jax.random.key(seed), len(names))))


def make_task_language(cfg: RLHFConfig) -> task.Language:
    return task.make_language(_keys(cfg.seed)["lang"], cfg.vocab_size, cfg.branching,
                              cfg.smoothing, cfg.n_liked, cfg.sentiment_weight, cfg.concentration,
                              cfg.eos_prob)


def train_sft(cfg: RLHFConfig, lang: task.Language, lm_cfg: lm.LMConfig, say=print, log=None,
              key=None) -> sft.SFTResult:
    """Maximum likelihood on the language (``lm_cfg`` may be another size than cfg's)."""
    def log_sft(m, step):
        if log is not None:
            log(m, step)
        say(f"[sft] step {step}/{cfg.sft_steps}  train nll {m['sft/train_nll']:.4f}  "
            f"eval nll {m['sft/eval_nll']:.4f}  (true {m['sft/true_nll']:.4f})")

    key = _keys(cfg.seed)["sft"] if key is None else key
    return sft.train_sft(lm_cfg, lang, key, cfg.sft_steps, cfg.sft_batch_size,
                         cfg.prompt_len + cfg.response_len, cfg.sft_lr,
                         chunk=min(100, cfg.sft_steps), log_fn=log_sft)


def make_pairs(cfg: RLHFConfig, lm_cfg, sft_params, lang, key, n_pairs: int, label_temperature):
    fn = jax.jit(reward_model.make_pairs, static_argnums=(0, 4, 5, 6, 7))
    return fn(lm_cfg, sft_params, lang, key, n_pairs, cfg.prompt_len, cfg.response_len,
              label_temperature)


def prepare(cfg: RLHFConfig, logger=None, say=print) -> Prepared:
    """Language -> SFT -> preference pairs -> reward model."""
    log = logger.log if logger is not None else None
    keys = _keys(cfg.seed)
    p, r = cfg.prompt_len, cfg.response_len
    timings = {}
    lang = make_task_language(cfg)
    h_rate = float(task.entropy_rate(lang))
    say(f"[rlhf] language: V={cfg.vocab_size}{' + EOS' if lang.has_eos else ''}, "
        f"entropy rate {h_rate:.4f} nats/token")

    t0 = time.time()
    lm_cfg = lm_config(cfg)
    sft_res = train_sft(cfg, lang, lm_cfg, say, log)
    timings["sft_s"] = time.time() - t0

    t0 = time.time()
    train_pairs = make_pairs(cfg, lm_cfg, sft_res.params, lang, keys["pairs"], cfg.n_pairs,
                             cfg.label_temperature)
    eval_pairs = make_pairs(cfg, lm_cfg, sft_res.params, lang, keys["eval_pairs"],
                            cfg.n_eval_pairs, 0.0)
    label_agree = float(jnp.mean(train_pairs.gold_chosen >= train_pairs.gold_rejected))
    gold_sft = float(jnp.concatenate([train_pairs.gold_chosen, train_pairs.gold_rejected]).mean())
    timings["pairs_s"] = time.time() - t0
    say(f"[prefs] {cfg.n_pairs} pairs in {timings['pairs_s']:.1f}s; labels agreeing with "
        f"gold {label_agree:.3f}; SFT gold {gold_sft:.3f}")

    t0 = time.time()
    reader = reward_model.Reader(lm_cfg, p, cfg.rm_pool, lang.eos)
    rm, rm_acc = fit_reward_model(cfg, reader, sft_res.params, train_pairs, eval_pairs, log, say)
    timings["rm_s"] = time.time() - t0
    # The gold's best response, averaged over held-out prompts: the ceiling for RL.
    gold_opt = float(task.gold_optimum(lang, eval_pairs.chosen[:, p - 1], r).mean())
    info = {
        "language": {"entropy_rate": h_rate, "gold_optimum": gold_opt, "gold_sft": gold_sft},
        "sft": {"eval_nll": sft_res.nll, "true_nll": sft_res.true_nll,
                "excess_kl_per_token": sft_res.excess_kl},
        "reward_model": {"gold_accuracy": rm_acc, "label_agreement": label_agree,
                         "n_pairs": cfg.n_pairs},
        "wall_s": timings,
    }
    return Prepared(lang, lm_cfg, sft_res, rm, rm_acc, train_pairs, eval_pairs, info)


def fit_reward_model(cfg: RLHFConfig, reader, init_params, train_pairs, eval_pairs, log=None,
                     say=print, key=None):
    """Bradley-Terry fit from ``init_params``; returns ``(RewardModel, held-out gold accuracy)``."""
    def log_rm(m, step):
        if log is not None:
            log(m, step)
        say(f"[rm] epoch {step}/{cfg.rm_epochs}  loss {m['rm/train_loss']:.4f}  "
            f"train acc {m['rm/train_accuracy']:.3f}  held-out gold acc "
            f"{m['rm/eval_gold_accuracy']:.3f}")

    # Standardize the reward on SFT samples (the held-out pairs' responses).
    norm_tokens = jnp.concatenate([eval_pairs.chosen, eval_pairs.rejected], axis=0)
    key = _keys(cfg.seed)["rm"] if key is None else key
    fit = reward_model.RewardFit(
        epochs=cfg.rm_epochs, minibatch=min(cfg.rm_batch_size, train_pairs.chosen.shape[0]),
        lr=cfg.rm_lr, margin=cfg.rm_margin, center_coef=cfg.rm_center_coef)
    return reward_model.train_reward_model(
        reader, init_params, train_pairs, eval_pairs, norm_tokens, key, fit, log_fn=log_rm)


def run_rl(cfg: RLHFConfig, prep: Prepared, logger=None, say=print, rm=None) -> dict:
    """RL fine-tuning from the SFT policy against the prepared (or the given) reward model.

    Returns ``{"rows": per-update metrics, "before": ..., "after": ..., "final_beta",
    "policy_params", "wall_s"}``.
    """
    t0 = time.time()
    keys = _keys(cfg.seed)
    rm = prep.rm if rm is None else rm
    sft_params = prep.sft.params
    # The critic starts from the reward model when it has the policy's shape (Ouyang et
    # al. 2022): its scalar head already speaks the reward's scale.
    same = rm.reader.lm_cfg == prep.lm_cfg
    state = rl.init_state(cfg, sft_params, rm.params if same else sft_params)
    evaluate = rl.make_evaluate(cfg, prep.lm_cfg, prep.lang, cfg.eval_batch_size)
    before = _floats(evaluate(sft_params, sft_params, rm, keys["eval"]))
    chunks: dict = {}
    rows: list[dict] = []
    key, done = keys["ppo"], 0
    for k in _chunk_sizes(cfg.rl_updates, cfg.log_every):
        if k not in chunks:
            chunks[k] = rl.make_chunk(cfg, prep.lm_cfg, prep.lang, k)
        key, sub = jax.random.split(key)
        state, metrics = chunks[k](state, sft_params, rm, sub)
        metrics = jax.device_get(metrics)
        for i in range(k):
            row = {name: float(v[i]) for name, v in metrics.items()}
            rows.append(row)
            if logger is not None:
                logger.log({f"rl/{n}": v for n, v in row.items()}, done + i + 1)
        done += k
        last = rows[-1]
        say(f"[{cfg.algo}] update {done}/{cfg.rl_updates}  proxy {last['proxy']:+.3f}  "
            f"gold {last['gold']:+.3f}  KL/seq {last['kl_seq']:.3f}  beta {last['beta']:.4f}  "
            f"len {last['response_length']:.1f}  clip {last['clip_fraction']:.3f}  "
            f"({time.time() - t0:.0f}s)")
    after = _floats(evaluate(state.params.policy, sft_params, rm, keys["eval"]))
    return {"rows": rows, "before": before, "after": after, "final_beta": float(state.beta),
            "policy_params": state.params.policy, "wall_s": time.time() - t0}


def run_best_of_n(cfg: RLHFConfig, prep: Prepared, logger=None, rm=None, key=None) -> list[dict]:
    """Best-of-n rows ``{n, proxy, gold, kl, response_length}`` for n = 1, 2, 4, ..., best_of_n_max."""
    if not cfg.best_of_n_max:
        return []
    rm = prep.rm if rm is None else rm
    key = _keys(cfg.seed)["bon"] if key is None else key
    bon = jax.jit(rl.best_of_n, static_argnums=(0, 5, 6, 7, 8))
    res = jax.device_get(bon(prep.lm_cfg, prep.sft.params, rm, prep.lang, key,
                             cfg.best_of_n_prompts, cfg.best_of_n_max, cfg.prompt_len,
                             cfg.response_len))
    rows = [{k: float(v[i]) for k, v in res.items()} for i in range(len(res["n"]))]
    for row in rows:
        row["n"] = int(row["n"])
        if logger is not None:
            logger.log({f"best_of_n/{k}": v for k, v in row.items()}, row["n"])
    return rows


def rl_summary(cfg: RLHFConfig, rl: dict) -> dict:
    rows = rl["rows"]
    half = rows[len(rows) // 2 :]
    kl_half = [row["kl_penalty_seq"] for row in half]
    peak = max(range(len(rows)), key=lambda i: rows[i]["gold"])
    return {
        "before": rl["before"], "after": rl["after"], "final_beta": rl["final_beta"],
        "kl_target": cfg.kl_target, "kl_control": cfg.kl_control,
        "kl_last_half_mean": sum(kl_half) / len(kl_half),
        "kl_last_half_min": min(kl_half), "kl_last_half_max": max(kl_half),
        "gold_peak": rows[peak]["gold"], "gold_peak_update": peak + 1,
        "gold_peak_kl_seq": rows[peak]["kl_exact_seq"],
        "proxy_final": rows[-1]["proxy"], "gold_final": rows[-1]["gold"],
        "response_length_final": rows[-1]["response_length"],
    }


def hardware() -> dict:
    return {"device": str(jax.devices()[0]), "platform": platform.platform(),
            "processor": platform.processor(), "cpu_count": os.cpu_count()}


def run_rlhf(cfg: RLHFConfig, options: RunOptions) -> dict:
    """Run the whole pipeline, write ``options.out_dir``, return the summary dict.

    What is trained is ``cfg`` (its ``seed`` included: the language, data and every
    initialization derive from it, and ``config.json`` records it); ``options`` says
    where it goes (``out_dir``) and whether progress lines print (``progress``). The
    pipeline has no checkpoints, so ``resume`` is refused; the caller decides whether
    ``out_dir`` may hold an earlier run (``jaxpg rlhf`` refuses unless told
    ``--overwrite``)."""
    validate(cfg)
    if not options.out_dir:
        raise JaxpgError("run_rlhf needs a run directory: RunOptions(out_dir=...)")
    if options.resume:
        raise JaxpgError("an RLHF run cannot be resumed (it keeps no checkpoints); start it again")
    out_dir = options.out_dir
    t_start = time.time()
    say = print if options.progress else (lambda *a, **k: None)
    os.makedirs(out_dir, exist_ok=True)
    logger = RunLogger(out_dir)
    try:
        logger.write_config({**dataclasses.asdict(cfg), "command": "rlhf"})
        prep = prepare(cfg, logger, say)
        rl_out = run_rl(cfg, prep, logger, say)
        t0 = time.time()
        bon_rows = run_best_of_n(cfg, prep, logger)
        summary = {
            **prep.info,
            "rl": rl_summary(cfg, rl_out),
            "best_of_n": bon_rows,
            "wall_s": {**prep.info["wall_s"], "rl_s": rl_out["wall_s"],
                       "best_of_n_s": time.time() - t0, "total_s": time.time() - t_start},
            **hardware(),
        }
        if cfg.plot:
            plot_gold_proxy(os.path.join(out_dir, "gold_proxy_vs_sqrt_kl.png"),
                            {cfg.algo: rl_out["rows"]}, bon_rows,
                            f"{cfg.algo}, {cfg.kl_control} KL (beta0={cfg.beta})")
        logger.write_summary(summary)
        b, a = rl_out["before"], rl_out["after"]
        say(f"[rlhf] SFT nll {prep.sft.nll:.4f} vs true {prep.sft.true_nll:.4f}; RM gold acc "
            f"{prep.rm_accuracy:.3f}; gold {b['gold']:+.3f} -> {a['gold']:+.3f}, proxy "
            f"{b['proxy']:+.3f} -> {a['proxy']:+.3f}, KL/seq {a['kl_seq']:.3f} "
            f"(target {cfg.kl_target}), length {b['response_length']:.1f} -> "
            f"{a['response_length']:.1f}; {summary['wall_s']['total_s']:.0f}s total")
        return summary
    finally:
        logger.close()

