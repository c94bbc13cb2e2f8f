"""End-to-end RLHF on the synthetic language: language -> SFT -> preferences -> RM -> RL -> report.

``run_rlhf(RLHFConfig(), out_dir)`` writes the usual run directory (``config.json``,
``metrics.jsonl``, TensorBoard events, ``summary.json``) plus a figure of gold and
proxy reward against sqrt(KL). Metric names are prefixed by phase: ``sft/``,
``rm/``, ``ppo/`` (the ``step`` of a line counts steps, epochs and updates of that
phase respectively). The CLI ``jaxpg rlhf`` is derived from :class:`RLHFConfig`.

    python -m jaxpg.rlhf.pipeline --out runs/rlhf
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import time
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg.errors import JaxpgError
from jaxpg.rlhf import lm, ppo_lm, reward_model, sft, task

from jaxpg.runner.logging import RunLogger


@dataclasses.dataclass(frozen=True)
class RLHFConfig:
    """RLHF on a synthetic Markov-chain language with a known gold reward."""

    seed: int = 0
    """Root random seed (language, data, initialization, sampling)."""

    # --- language and gold reward ---
    vocab_size: int = 32
    """Number of tokens V in the synthetic language."""
    branching: int = 4
    """Likely successors per token (the chain's sparsity)."""
    concentration: float = 0.0
    """Dirichlet concentration of successor weights; 0 makes them exactly uniform."""
    smoothing: float = 0.01
    """Probability mass spread uniformly over all V tokens (keeps log-likelihoods finite)."""
    n_liked: int = 8
    """How many of the rarest tokens the gold reward likes (its 'sentiment')."""
    sentiment_weight: float = 3.0
    """Gold bonus per liked response token, against its true log-likelihood (fluency)."""
    prompt_len: int = 4
    """Prompt length P (a prefix sampled from the language)."""
    response_len: int = 12
    """Response length R (fixed; there is no end-of-sequence token)."""

    # --- transformer (shared by SFT model, reward model, policy and critic) ---
    n_layers: int = 2
    """Transformer blocks."""
    d_model: int = 64
    """Model width."""
    n_heads: int = 4
    """Attention heads; must divide d_model."""
    context_len: int = 16
    """Maximum context (position embeddings); at least prompt_len + response_len."""

    # --- supervised fine-tuning ---
    sft_steps: int = 600
    """Maximum-likelihood steps on fresh samples of the language."""
    sft_batch_size: int = 64
    """Sequences per SFT step."""
    sft_lr: float = 3e-3
    """Peak SFT learning rate (warmup then cosine decay)."""

    # --- preferences and reward model ---
    n_pairs: int = 16384
    """Training preference pairs, both responses sampled from the SFT policy."""
    n_eval_pairs: int = 1024
    """Held-out hard-labelled pairs for the reward model's gold accuracy."""
    label_temperature: float = 0.0
    """0: hard gold labels; T > 0: noisy labels with P(a wins) = sigmoid((g_a - g_b) / T)."""
    rm_epochs: int = 4
    """Passes over the preference pairs."""
    rm_batch_size: int = 64
    """Pairs per reward-model step."""
    rm_lr: float = 1e-3
    """Peak reward-model learning rate."""
    rm_margin: float = 0.0
    """Margin m in -log sigmoid(r+ - r- - m)."""
    rm_center_coef: float = 0.0
    """Weight of the reward-centering term mean((r+ + r-)^2); 0 disables it."""
    rm_pool: Literal["last", "mean"] = "mean"
    """Reward read at the last token, or averaged over the response tokens."""

    # --- RL fine-tuning ---
    algo: Literal["ppo", "grpo"] = "ppo"
    """'ppo': critic + GAE; 'grpo': group-normalized sequence returns, no critic."""
    ppo_updates: int = 60
    """RL updates (each: sample a batch, then epochs x minibatches of gradient steps)."""
    ppo_batch_size: int = 256
    """Sequences per update (512-2048 on an accelerator)."""
    ppo_epochs: int = 4
    """Passes over each batch."""
    ppo_minibatches: int = 4
    """Minibatches per epoch; must divide ppo_batch_size."""
    ppo_lr: float = 5e-5
    """Adam learning rate for policy and critic (1e-6 and below work)."""
    clip_eps: float = 0.2
    """PPO ratio clip epsilon."""
    vf_clip: float = 0.2
    """Value clip range around the old values."""
    vf_coef: float = 0.5
    """Value-loss weight."""
    ent_coef_start: float = 0.01
    """Entropy bonus at the first update (linear schedule)."""
    ent_coef_end: float = 0.001
    """Entropy bonus at the last update."""
    gamma: float = 1.0
    """Discount over response tokens."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    kl_estimator: Literal["k1", "k3"] = "k1"
    """KL estimator: k1 = log(pi/ref) as a per-token reward, or k3 = (rho-1) - log rho >= 0
    as a loss term (as a reward its gradient is biased; see jaxpg.rlhf.ppo_lm)."""
    kl_control: Literal["adaptive", "fixed"] = "adaptive"
    """Adaptive controller of Ziegler et al. (2019) or a fixed beta."""
    beta: float = 0.5
    """KL coefficient (initial value when adaptive; 0 with 'fixed' turns the penalty off)."""
    kl_target: float = 3.0
    """Target KL to the SFT policy, nats per sequence (adaptive control)."""
    kl_horizon: float = 512.0
    """Controller horizon H: beta changes by at most 20% * batch / H per update."""
    group_size: int = 8
    """Responses per prompt for 'grpo'; must divide ppo_batch_size."""
    temperature: float = 1.0
    """Sampling temperature of RL rollouts (1 = the policy's own distribution)."""
    max_grad_norm: float = 1.0
    """Global gradient-norm clip."""

    # --- reporting ---
    best_of_n_max: int = 16
    """Best-of-n baseline for n = 1, 2, 4, ... up to this (0 disables it)."""
    best_of_n_prompts: int = 256
    """Prompts for the best-of-n baseline (each gets best_of_n_max SFT samples)."""
    eval_batch_size: int = 512
    """Sequences for before/after evaluations and per-n best-of-n prompts."""
    log_every: int = 5
    """RL updates per compiled chunk (one log line each, printed between chunks)."""
    progress: bool = True
    """Print progress lines between compiled chunks."""
    plot: bool = True
    """Save gold_proxy_vs_sqrt_kl.png in the run directory."""


def _fail(field: str, value, fix: str):
    raise JaxpgError(f"rlhf config: {field}={value!r} is invalid; {fix}")


def validate(cfg: RLHFConfig) -> None:
    """Raise a one-line :class:`JaxpgError` naming the first bad field, its value and a fix."""
    positive_ints = ["vocab_size", "branching", "prompt_len", "response_len", "n_layers",
                     "d_model", "n_heads", "context_len", "sft_steps", "sft_batch_size",
                     "n_pairs", "n_eval_pairs", "rm_epochs", "rm_batch_size", "ppo_updates",
                     "best_of_n_prompts",
                     "ppo_batch_size", "ppo_epochs", "ppo_minibatches", "eval_batch_size",
                     "log_every"]
    for f in positive_ints:
        if getattr(cfg, f) < 1:
            _fail(f, getattr(cfg, f), "it must be a positive integer")
    for f in ["sft_lr", "rm_lr", "ppo_lr", "temperature", "kl_target", "kl_horizon",
              "max_grad_norm"]:
        v = getattr(cfg, f)
        if not (v > 0 and math.isfinite(v)):
            _fail(f, v, "it must be a positive number")
    for f in ["beta", "label_temperature", "rm_center_coef", "vf_coef", "ent_coef_start",
              "ent_coef_end", "clip_eps", "vf_clip", "concentration", "best_of_n_max"]:
        if getattr(cfg, f) < 0:
            _fail(f, getattr(cfg, f), "it must be >= 0")
    if not 0 < cfg.smoothing < 1:
        _fail("smoothing", cfg.smoothing, "pick a value in (0, 1), e.g. 0.05")
    if cfg.branching > cfg.vocab_size:
        _fail("branching", cfg.branching, f"it must be at most vocab_size={cfg.vocab_size}")
    if not 0 < cfg.n_liked < cfg.vocab_size:
        _fail("n_liked", cfg.n_liked, f"pick 1..{cfg.vocab_size - 1} (below vocab_size)")
    if cfg.d_model % cfg.n_heads:
        _fail("n_heads", cfg.n_heads, f"it must divide d_model={cfg.d_model}")
    if cfg.context_len < cfg.prompt_len + cfg.response_len:
        _fail("context_len", cfg.context_len,
              f"it must be >= prompt_len + response_len = {cfg.prompt_len + cfg.response_len}")
    if not 0 <= cfg.gamma <= 1:
        _fail("gamma", cfg.gamma, "pick a value in [0, 1] (1 is usual for RLHF)")
    if not 0 <= cfg.gae_lambda <= 1:
        _fail("gae_lambda", cfg.gae_lambda, "pick a value in [0, 1], e.g. 0.95")
    if cfg.ppo_batch_size % cfg.ppo_minibatches:
        _fail("ppo_minibatches", cfg.ppo_minibatches,
              f"it must divide ppo_batch_size={cfg.ppo_batch_size}")
    if cfg.algo == "grpo" and (cfg.group_size < 2 or cfg.ppo_batch_size % cfg.group_size):
        _fail("group_size", cfg.group_size,
              f"use >= 2 responses per prompt, dividing ppo_batch_size={cfg.ppo_batch_size}")
    if cfg.rm_batch_size > cfg.n_pairs:
        _fail("rm_batch_size", cfg.rm_batch_size, f"it must be at most n_pairs={cfg.n_pairs}")
    if cfg.algo not in ("ppo", "grpo"):
        _fail("algo", cfg.algo, "use 'ppo' or 'grpo'")
    if cfg.kl_estimator not in ("k1", "k3"):
        _fail("kl_estimator", cfg.kl_estimator, "use 'k1' or 'k3'")
    if cfg.kl_control not in ("adaptive", "fixed"):
        _fail("kl_control", cfg.kl_control, "use 'adaptive' or 'fixed'")
    if cfg.rm_pool not in ("last", "mean"):
        _fail("rm_pool", cfg.rm_pool, "use 'last' or 'mean'")


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


def prepare(cfg: RLHFConfig, logger=None, say=print) -> Prepared:
    """Language -> SFT -> preference pairs -> reward model."""
    log = logger.log if logger is not None else (lambda m, s: None)
    keys = _keys(cfg.seed)
    p, r = cfg.prompt_len, cfg.response_len
    timings = {}

    lang = task.make_language(keys["lang"], cfg.vocab_size, cfg.branching, cfg.smoothing,
                              cfg.n_liked, cfg.sentiment_weight, cfg.concentration)
    h_rate = float(task.entropy_rate(lang))
    say(f"[rlhf] language: V={cfg.vocab_size}, entropy rate {h_rate:.4f} nats/token")

    t0 = time.time()
    lm_cfg = lm.LMConfig(cfg.vocab_size, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.context_len)

    def log_sft(m, step):
        log(m, step)
        say(f"[sft] step {step}/{cfg.sft_steps}  train nll {m['sft/train_nll']:.4f}  "
            f"eval nll {m['sft/eval_nll']:.4f}  (true {m['sft/true_nll']:.4f})")

    sft_res = sft.train_sft(lm_cfg, lang, keys["sft"], cfg.sft_steps, cfg.sft_batch_size,
                            p + r, cfg.sft_lr, chunk=min(100, cfg.sft_steps), log_fn=log_sft)
    timings["sft_s"] = time.time() - t0

    t0 = time.time()
    make_pairs = jax.jit(reward_model.make_pairs, static_argnums=(0, 4, 5, 6, 7))
    train_pairs = make_pairs(lm_cfg, sft_res.params, lang, keys["pairs"], cfg.n_pairs, p, r,
                             cfg.label_temperature)
    eval_pairs = make_pairs(lm_cfg, sft_res.params, lang, keys["eval_pairs"], cfg.n_eval_pairs,
                            p, r, 0.0)
    label_agree = float(jnp.mean(train_pairs.gold_chosen >= train_pairs.gold_rejected))
    gold_sft = float(jnp.concatenate([train_pairs.gold_chosen, train_pairs.gold_rejected]).mean())
    timings["pairs_s"] = time.time() - t0
    say(f"[prefs] {cfg.n_pairs} pairs in {timings['pairs_s']:.1f}s; labels agreeing with "
        f"gold {label_agree:.3f}; SFT gold {gold_sft:.3f}")

    t0 = time.time()
    rm, rm_acc = fit_reward_model(cfg, lm_cfg, sft_res.params, train_pairs, eval_pairs,
                                  logger, say)
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


def fit_reward_model(cfg: RLHFConfig, lm_cfg, sft_params, train_pairs, eval_pairs,
                     logger=None, say=print):
    """Bradley-Terry fit from the SFT weights; returns ``(RewardModel, held-out gold accuracy)``."""
    log = logger.log if logger is not None else (lambda m, s: None)

    def log_rm(m, step):
        log(m, step)
        say(f"[rm] epoch {step}/{cfg.rm_epochs}  loss {m['rm/train_loss']:.4f}  "
            f"train acc {m['rm/train_accuracy']:.3f}  held-out gold acc "
            f"{m['rm/eval_gold_accuracy']:.3f}")

    # Standardize the reward on SFT samples (the held-out pairs' responses).
    norm_tokens = jnp.concatenate([eval_pairs.chosen, eval_pairs.rejected], axis=0)
    return reward_model.train_reward_model(
        lm_cfg, sft_params, train_pairs, eval_pairs, norm_tokens, _keys(cfg.seed)["rm"],
        cfg.rm_epochs, min(cfg.rm_batch_size, train_pairs.chosen.shape[0]), cfg.rm_lr,
        cfg.rm_margin, cfg.rm_center_coef, log_fn=log_rm, pool_from=_pool_from(cfg))


def _pool_from(cfg: RLHFConfig):
    return cfg.prompt_len if cfg.rm_pool == "mean" else None


def run_rl(cfg: RLHFConfig, prep: Prepared, logger=None, say=print) -> dict:
    """RL fine-tuning from the SFT policy against the prepared reward model.

    Returns ``{"rows": per-update metrics, "before": ..., "after": ..., "final_beta",
    "policy_params", "wall_s"}``.
    """
    t0 = time.time()
    keys = _keys(cfg.seed)
    p, r = cfg.prompt_len, cfg.response_len
    pool_from = _pool_from(cfg)
    sft_params = prep.sft.params
    pcfg = ppo_lm.PPOConfig(
        prompt_len=p, response_len=r, batch_size=cfg.ppo_batch_size,
        n_epochs=cfg.ppo_epochs, n_minibatches=cfg.ppo_minibatches,
        n_updates=cfg.ppo_updates, algo=cfg.algo, group_size=cfg.group_size,
        kl_estimator=cfg.kl_estimator, adaptive_kl=cfg.kl_control == "adaptive",
        kl_horizon=cfg.kl_horizon, max_grad_norm=cfg.max_grad_norm)
    hp = ppo_lm.PPOHParams(
        lr=cfg.ppo_lr, clip_eps=cfg.clip_eps, vf_clip=cfg.vf_clip, vf_coef=cfg.vf_coef,
        ent_coef_start=cfg.ent_coef_start, ent_coef_end=cfg.ent_coef_end, gamma=cfg.gamma,
        lam=cfg.gae_lambda, kl_target=cfg.kl_target, temperature=cfg.temperature)
    # The critic starts from the reward model (Ouyang et al. 2022): its scalar head
    # already speaks the reward's scale.
    state = ppo_lm.init_state(pcfg, sft_params, prep.rm.params, cfg.beta)
    evaluate = ppo_lm.make_evaluate(prep.lm_cfg, pcfg._replace(batch_size=cfg.eval_batch_size),
                                    prep.lang, pool_from)
    before = _floats(evaluate(sft_params, sft_params, prep.rm, keys["eval"]))
    chunks: dict = {}
    rows: list[dict] = []
    key, done = keys["ppo"], 0
    for k in _chunk_sizes(cfg.ppo_updates, cfg.log_every):
        if k not in chunks:
            chunks[k] = ppo_lm.make_chunk(prep.lm_cfg, pcfg, prep.lang, k, pool_from)
        key, sub = jax.random.split(key)
        state, metrics = chunks[k](state, sft_params, prep.rm, sub, hp)
        metrics = jax.device_get(metrics)
        for i in range(k):
            row = {name: float(v[i]) for name, v in metrics.items()}
            rows.append(row)
            if logger is not None:
                logger.log({f"ppo/{n}": v for n, v in row.items()}, done + i + 1)
        done += k
        last = rows[-1]
        say(f"[{cfg.algo}] update {done}/{cfg.ppo_updates}  proxy {last['proxy']:+.3f}  "
            f"gold {last['gold']:+.3f}  KL/seq {last['kl_seq']:.3f}  beta {last['beta']:.4f}  "
            f"clip {last['clip_frac']:.3f}  ({time.time() - t0:.0f}s)")
    after = _floats(evaluate(state.params["policy"], sft_params, prep.rm, keys["eval"]))
    return {"rows": rows, "before": before, "after": after, "final_beta": float(state.beta),
            "policy_params": state.params["policy"], "wall_s": time.time() - t0}


def run_best_of_n(cfg: RLHFConfig, prep: Prepared, logger=None) -> list[dict]:
    """Best-of-n rows ``{n, proxy, gold, kl}`` for n = 1, 2, 4, ..., best_of_n_max."""
    if not cfg.best_of_n_max:
        return []
    bon = jax.jit(ppo_lm.best_of_n, static_argnums=(0, 5, 6, 7, 8, 9))
    res = jax.device_get(bon(prep.lm_cfg, prep.sft.params, prep.rm, prep.lang,
                             _keys(cfg.seed)["bon"], cfg.best_of_n_prompts, cfg.best_of_n_max,
                             cfg.prompt_len, cfg.response_len, _pool_from(cfg)))
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
    }


def hardware() -> dict:
    return {"device": str(jax.devices()[0]), "platform": platform.platform(),
            "processor": platform.processor(), "cpu_count": os.cpu_count()}


def run_rlhf(cfg: RLHFConfig, out_dir: str) -> dict:
    """Run the whole pipeline, write the run directory, return the summary dict."""
    validate(cfg)
    t_start = time.time()
    say = print if cfg.progress else (lambda *a, **k: None)
    os.makedirs(out_dir, exist_ok=True)
    logger = RunLogger(out_dir)
    try:
        logger.write_config({**dataclasses.asdict(cfg), "command": "rlhf"})
        prep = prepare(cfg, logger, say)
        rl = run_rl(cfg, prep, logger, say)
        t0 = time.time()
        bon_rows = run_best_of_n(cfg, prep, logger)
        summary = {
            **prep.info,
            "rl": rl_summary(cfg, rl),
            "best_of_n": bon_rows,
            "wall_s": {**prep.info["wall_s"], "rl_s": rl["wall_s"],
                       "best_of_n_s": time.time() - t0, "total_s": time.time() - t_start},
            **hardware(),
        }
        if cfg.plot:
            plot_gold_proxy(os.path.join(out_dir, "gold_proxy_vs_sqrt_kl.png"),
                            {cfg.algo: rl["rows"]}, bon_rows,
                            f"{cfg.algo}, {cfg.kl_control} KL (beta0={cfg.beta})")
        logger.write_summary(summary)
        b, a = rl["before"], rl["after"]
        say(f"[rlhf] SFT nll {prep.sft.nll:.4f} vs true {prep.sft.true_nll:.4f}; RM gold acc "
            f"{prep.rm_accuracy:.3f}; gold {b['gold']:+.3f} -> {a['gold']:+.3f}, proxy "
            f"{b['proxy']:+.3f} -> {a['proxy']:+.3f}, KL/seq {a['kl_seq']:.3f} "
            f"(target {cfg.kl_target}); {summary['wall_s']['total_s']:.0f}s total")
        return summary
    finally:
        logger.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m jaxpg.rlhf.pipeline --out DIR [--field value ...]`` (tyro)."""
    import sys

    import tyro

    @dataclasses.dataclass(frozen=True)
    class Args:
        cfg: RLHFConfig = RLHFConfig()
        """Pipeline configuration."""
        out: str = "runs/rlhf"
        """Run directory."""

    args = tyro.cli(Args, args=argv, config=(tyro.conf.OmitArgPrefixes,))
    try:
        run_rlhf(args.cfg, args.out)
    except JaxpgError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
