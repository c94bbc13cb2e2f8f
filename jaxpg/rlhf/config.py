"""The one configuration of the RLHF stack: :class:`RLHFConfig` and its field checks.

Every RLHF module (task, SFT, reward model, the RL algorithms, the pipeline) reads
this frozen dataclass directly; there is no second set of structures to keep in
sync. It is hashable, so the RL update takes it as a static argument of ``jit``.
Bad values raise :class:`jaxpg.errors.ConfigError` (one line: field, value, fix),
as ``TrainConfig`` does. Names follow ``TrainConfig`` where the meaning is the
same (``update_epochs``, ``num_minibatches``, ``gae_lambda``, ``clip_eps``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from jaxpg.errors import ConfigError
from jaxpg.rlhf import lm

ALGOS = ("ppo", "grpo", "dr-grpo", "rloo", "reinforce++")
GROUP_ALGOS = ("grpo", "dr-grpo", "rloo")  # several responses per prompt


@dataclasses.dataclass(frozen=True)
class RLHFConfig:
    """RLHF on a synthetic Markov-chain language with a known gold reward."""

    seed: int = 0
    """Root random seed (language, data, initialization, sampling)."""

    # --- language and gold reward ---
    vocab_size: int = 32
    """Number of word tokens V in the synthetic language (EOS, when on, is one more)."""
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
    eos_prob: float = 0.0
    """P(end of sequence) after each word token; > 0 adds an EOS token and variable-length
    responses (at most response_len tokens), 0 keeps every response response_len long."""
    prompt_len: int = 4
    """Prompt length P (a prefix sampled from the language, never containing EOS)."""
    response_len: int = 12
    """Maximum response length R (the exact length when eos_prob is 0)."""

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
    """Reward read at the last response token, or averaged over the response tokens."""

    # --- RL fine-tuning ---
    algo: Literal["ppo", "grpo", "dr-grpo", "rloo", "reinforce++"] = "ppo"
    """'ppo': critic + GAE; 'grpo': group mean/std baseline; 'dr-grpo': group mean only,
    constant-normalized token sum; 'rloo': leave-one-out baseline, KL in the reward;
    'reinforce++': reward-to-go with token KL, whitened over the whole batch."""
    rl_updates: int = 60
    """RL updates (each: sample a batch, then epochs x minibatches of gradient steps)."""
    rl_batch_size: int = 256
    """Sequences per update (512-2048 on an accelerator)."""
    update_epochs: int = 4
    """Passes over each batch."""
    num_minibatches: int = 4
    """Minibatches per epoch; must divide rl_batch_size."""
    rl_lr: float = 5e-5
    """Adam learning rate for policy and critic (1e-6 and below work)."""
    clip_eps: float = 0.2
    """Ratio clip epsilon of the surrogate (every algorithm uses the clipped surrogate)."""
    vf_clip: float = 0.2
    """Value clip range around the old values (ppo)."""
    vf_coef: float = 0.5
    """Value-loss weight (ppo)."""
    ent_coef_start: float = 0.01
    """Entropy bonus at the first update (linear schedule)."""
    ent_coef_end: float = 0.001
    """Entropy bonus at the last update."""
    gamma: float = 1.0
    """Discount over response tokens."""
    gae_lambda: float = 0.95
    """GAE lambda (ppo)."""
    kl_estimator: Literal["k1", "k3"] = "k1"
    """KL estimator: k1 = log(pi/ref) as a per-token reward, or k3 = (rho-1) - log rho >= 0
    as a loss term (as a reward its gradient is biased; see jaxpg.rlhf.objectives)."""
    kl_control: Literal["adaptive", "fixed"] = "adaptive"
    """Adaptive controller of Ziegler et al. (2019) or a fixed beta."""
    beta: float = 0.5
    """KL coefficient (initial value when adaptive; 0 with 'fixed' turns the penalty off)."""
    kl_target: float = 3.0
    """Target KL to the SFT policy, nats per sequence (adaptive control)."""
    kl_horizon: float = 512.0
    """Controller horizon H: beta changes by at most 20% * batch / H per update."""
    group_size: int = 8
    """Responses per prompt for grpo, dr-grpo and rloo; must divide rl_batch_size."""
    missing_eos_penalty: float = 0.0
    """Subtracted from the (standardized) score of a response that ends without EOS."""
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
    plot: bool = True
    """Save gold_proxy_vs_sqrt_kl.png in the run directory."""

    @property
    def group(self) -> int:
        """Responses sampled per prompt by the chosen algorithm."""
        return self.group_size if self.algo in GROUP_ALGOS else 1

    @property
    def eos(self) -> bool:
        return self.eos_prob > 0

    def validate(self) -> RLHFConfig:
        """Raise a one-line :class:`ConfigError` naming the first bad field; return self."""
        _check_counts(self)
        _check_choices(self)
        _check_shapes(self)
        return self


POSITIVE_INTS = ("vocab_size", "branching", "prompt_len", "response_len", "n_layers", "d_model",
                 "n_heads", "context_len", "sft_steps", "sft_batch_size", "n_pairs",
                 "n_eval_pairs", "rm_epochs", "rm_batch_size", "rl_updates", "best_of_n_prompts",
                 "rl_batch_size", "update_epochs", "num_minibatches", "eval_batch_size",
                 "log_every")
POSITIVE_FLOATS = ("sft_lr", "rm_lr", "rl_lr", "temperature", "kl_target", "kl_horizon",
                   "max_grad_norm")
NON_NEGATIVE = ("beta", "label_temperature", "rm_center_coef", "vf_coef", "ent_coef_start",
                "ent_coef_end", "clip_eps", "vf_clip", "concentration", "best_of_n_max",
                "missing_eos_penalty")


def _check_counts(cfg: RLHFConfig) -> None:
    for f in POSITIVE_INTS:
        if getattr(cfg, f) < 1:
            raise ConfigError(f, getattr(cfg, f), "it must be a positive integer")
    for f in POSITIVE_FLOATS:
        v = getattr(cfg, f)
        if not (v > 0 and math.isfinite(v)):
            raise ConfigError(f, v, "it must be a positive number")
    for f in NON_NEGATIVE:
        if not getattr(cfg, f) >= 0:
            raise ConfigError(f, getattr(cfg, f), "it must be >= 0")


def _check_choices(cfg: RLHFConfig) -> None:
    choices = {"algo": ALGOS, "kl_estimator": ("k1", "k3"),
               "kl_control": ("adaptive", "fixed"), "rm_pool": ("last", "mean")}
    for f, allowed in choices.items():
        if getattr(cfg, f) not in allowed:
            raise ConfigError(f, getattr(cfg, f), "use one of " + ", ".join(allowed))
    if not 0 < cfg.smoothing < 1:
        raise ConfigError("smoothing", cfg.smoothing, "pick a value in (0, 1), e.g. 0.05")
    if not 0 <= cfg.eos_prob < 1:
        raise ConfigError("eos_prob", cfg.eos_prob, "pick a value in [0, 1), e.g. 0.1 (0: no EOS)")
    if not 0 <= cfg.gamma <= 1:
        raise ConfigError("gamma", cfg.gamma, "pick a value in [0, 1] (1 is usual for RLHF)")
    if not 0 <= cfg.gae_lambda <= 1:
        raise ConfigError("gae_lambda", cfg.gae_lambda, "pick a value in [0, 1], e.g. 0.95")


def _check_shapes(cfg: RLHFConfig) -> None:
    if cfg.branching > cfg.vocab_size:
        raise ConfigError("branching", cfg.branching, f"it must be at most vocab_size={cfg.vocab_size}")
    if not 0 < cfg.n_liked < cfg.vocab_size:
        raise ConfigError("n_liked", cfg.n_liked, f"pick 1..{cfg.vocab_size - 1} (below vocab_size)")
    if cfg.d_model % cfg.n_heads:
        raise ConfigError("n_heads", cfg.n_heads, f"it must divide d_model={cfg.d_model}")
    if cfg.context_len < cfg.prompt_len + cfg.response_len:
        raise ConfigError("context_len", cfg.context_len,
                          f"it must be >= prompt_len + response_len = {cfg.prompt_len + cfg.response_len}")
    if cfg.rl_batch_size % cfg.num_minibatches:
        raise ConfigError("num_minibatches", cfg.num_minibatches,
                          f"it must divide rl_batch_size={cfg.rl_batch_size}")
    if cfg.algo in GROUP_ALGOS and (cfg.group_size < 2 or cfg.rl_batch_size % cfg.group_size):
        raise ConfigError("group_size", cfg.group_size,
                          f"use >= 2 responses per prompt, dividing rl_batch_size={cfg.rl_batch_size}")
    if cfg.rm_batch_size > cfg.n_pairs:
        raise ConfigError("rm_batch_size", cfg.rm_batch_size, f"it must be at most n_pairs={cfg.n_pairs}")


def lm_config(cfg: RLHFConfig, d_model: int | None = None, n_layers: int | None = None):
    """The transformer shared by policy, critic and (by default) the reward model; pass
    ``d_model``/``n_layers`` for a reward model of another size."""
    d = d_model or cfg.d_model
    heads = cfg.n_heads if d % cfg.n_heads == 0 else 1
    return lm.LMConfig(cfg.vocab_size + int(cfg.eos), d, n_layers or cfg.n_layers, heads,
                       cfg.context_len)
