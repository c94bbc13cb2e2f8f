"""Preference data from the SFT policy, and a Bradley-Terry reward model.

Pairs: for each prompt (a prefix of a language sample) the SFT policy draws two
responses ``a`` and ``b``; the gold reward labels them either hard
(``a`` wins iff ``g_a > g_b``) or with Bradley-Terry noise,
``P(a wins) = sigmoid((g_a - g_b) / temperature)``.

The reward model is the SFT transformer whose scalar head, read at the last token,
is the reward. It is trained with

    L = E[-log sigmoid(r(x, y+) - r(x, y-) - margin)] + c * E[(r(x, y+) + r(x, y-))^2]

(Bradley & Terry 1952; Ouyang et al. 2022; the second, reward-centering term is the
auxiliary loss of Eisenstein et al. 2023, which pins the reward's free offset near
zero). Accuracy is measured on held-out pairs against the gold's *hard* labels.
After training, rewards are standardized on SFT samples (mean 0, std 1, as in
Ziegler et al. 2019) so KL coefficients mean the same thing across runs.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxpg.rlhf import lm, task


TIE_TOL = 1e-5  # gold rewards closer than this are a tie (float rounding of equal sums)


class Pairs(NamedTuple):
    chosen: jax.Array  # [N, T] prompt + preferred response (by the label)
    rejected: jax.Array  # [N, T]
    gold_chosen: jax.Array  # [N] gold reward of `chosen`
    gold_rejected: jax.Array  # [N]


class RewardModel(NamedTuple):
    params: dict
    offset: float  # standardization: proxy = (r - offset) / scale
    scale: float


def bradley_terry_loss(
    r_chosen: jax.Array,
    r_rejected: jax.Array,
    margin: float | jax.Array = 0.0,
    center_coef: float | jax.Array = 0.0,
) -> tuple[jax.Array, dict]:
    """``mean(-log sigmoid(r+ - r- - margin)) + center_coef * mean((r+ + r-)^2)``."""
    diff = r_chosen - r_rejected
    bt = -jax.nn.log_sigmoid(diff - margin).mean()
    center = jnp.mean((r_chosen + r_rejected) ** 2)
    loss = bt + center_coef * center
    return loss, {"bt_loss": bt, "center": center, "accuracy": jnp.mean(diff > 0)}


def raw_reward(cfg: lm.LMConfig, params, tokens: jax.Array, pool_from: int | None = None):
    """Reward ``[B]``: the scalar head at the last token, or (``pool_from = P``) its mean
    over the response positions ``P..T-1``."""
    scalar = lm.apply(cfg, params, tokens)[1]
    return scalar[:, -1] if pool_from is None else scalar[:, pool_from:].mean(-1)


def proxy_reward(cfg: lm.LMConfig, rm: RewardModel, tokens: jax.Array, pool_from=None):
    """Standardized reward-model score ``[B]`` (what RL optimizes)."""
    return (raw_reward(cfg, rm.params, tokens, pool_from) - rm.offset) / rm.scale


def sample_prompts(lang: task.Language, key: jax.Array, batch: int, prompt_len: int):
    return task.sample(lang, key, batch, prompt_len)


def make_pairs(
    cfg: lm.LMConfig,
    sft_params,
    lang: task.Language,
    key: jax.Array,
    n_pairs: int,
    prompt_len: int,
    response_len: int,
    label_temperature: float = 0.0,
) -> Pairs:
    """``n_pairs`` SFT response pairs, labelled by the gold (hard when temperature is 0)."""
    k_prompt, k_gen, k_label = jax.random.split(key, 3)
    prompts = sample_prompts(lang, k_prompt, n_pairs, prompt_len)
    both = jnp.concatenate([prompts, prompts], axis=0)
    tokens, _ = lm.generate(cfg, sft_params, k_gen, both, response_len)
    a, b = tokens[:n_pairs], tokens[n_pairs:]
    g_a = task.gold_reward(lang, prompts, a[:, prompt_len:])
    g_b = task.gold_reward(lang, prompts, b[:, prompt_len:])
    if label_temperature > 0:
        p_a = jax.nn.sigmoid((g_a - g_b) / label_temperature)
        a_wins = jax.random.uniform(k_label, (n_pairs,)) < p_a
    else:
        # Exact ties (equal up to float rounding) get a fair coin.
        coin = jax.random.bernoulli(k_label, 0.5, (n_pairs,))
        a_wins = jnp.where(jnp.abs(g_a - g_b) <= TIE_TOL, coin, g_a > g_b)
    pick = lambda x, y: jnp.where(a_wins.reshape((-1,) + (1,) * (x.ndim - 1)), x, y)
    return Pairs(pick(a, b), pick(b, a), pick(g_a, g_b), pick(g_b, g_a))


def gold_accuracy(cfg: lm.LMConfig, params, pairs: Pairs, pool_from=None) -> jax.Array:
    """Fraction of pairs with a strict gold preference (beyond ``TIE_TOL``) ordered the same way."""
    r_c = raw_reward(cfg, params, pairs.chosen, pool_from)
    r_r = raw_reward(cfg, params, pairs.rejected, pool_from)
    gold_diff = pairs.gold_chosen - pairs.gold_rejected
    gold_sign = jnp.sign(gold_diff)
    decided = jnp.abs(gold_diff) > TIE_TOL
    agree = jnp.sign(r_c - r_r) == gold_sign
    return jnp.sum(agree & decided) / jnp.maximum(jnp.sum(decided), 1)


def train_reward_model(
    cfg: lm.LMConfig,
    sft_params,
    train_pairs: Pairs,
    eval_pairs: Pairs,
    norm_tokens: jax.Array,
    key: jax.Array,
    epochs: int,
    minibatch: int,
    lr: float,
    margin: float = 0.0,
    center_coef: float = 0.0,
    log_fn: Callable[[dict, int], None] | None = None,
    pool_from: int | None = None,
) -> tuple[RewardModel, float]:
    """Initialize from the SFT weights, fit Bradley-Terry, standardize on ``norm_tokens``.

    One compiled ``lax.scan`` per epoch over shuffled minibatches. Returns the model
    and its held-out accuracy against the gold's hard labels.
    """
    n = train_pairs.chosen.shape[0]
    n_mb = max(1, n // minibatch)
    total = epochs * n_mb
    sched = optax.warmup_cosine_decay_schedule(0.0, lr, max(1, total // 10), max(total, 2))
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(sched, weight_decay=0.0))
    params = sft_params
    opt_state = opt.init(params)

    def loss_fn(p, chosen, rejected):
        r = raw_reward(cfg, p, jnp.concatenate([chosen, rejected], axis=0), pool_from)
        return bradley_terry_loss(r[: chosen.shape[0]], r[chosen.shape[0] :], margin, center_coef)

    def mb_step(carry, idx):
        params, opt_state = carry
        (loss, m), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, train_pairs.chosen[idx], train_pairs.rejected[idx])
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), {"loss": loss, **m}

    @jax.jit
    def run_epoch(params, opt_state, key):
        perm = jax.random.permutation(key, n)[: n_mb * minibatch].reshape(n_mb, minibatch)
        (params, opt_state), m = jax.lax.scan(mb_step, (params, opt_state), perm)
        acc = gold_accuracy(cfg, params, eval_pairs, pool_from)
        return params, opt_state, jax.tree.map(jnp.mean, m), acc

    acc = float("nan")
    for epoch in range(epochs):
        key, k = jax.random.split(key)
        params, opt_state, m, acc = run_epoch(params, opt_state, k)
        acc = float(acc)
        if log_fn is not None:
            log_fn({"rm/train_loss": float(m["loss"]), "rm/train_accuracy": float(m["accuracy"]),
                    "rm/eval_gold_accuracy": acc}, epoch + 1)
    r = jax.jit(lambda p, t: raw_reward(cfg, p, t, pool_from))(params, norm_tokens)
    return RewardModel(params, float(r.mean()), float(r.std() + 1e-6)), acc
