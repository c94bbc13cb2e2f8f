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

import dataclasses

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxpg.rlhf import lm, task

TIE_TOL = 1e-5  # gold rewards closer than this are a tie (float rounding of equal sums)


class Pairs(NamedTuple):
    chosen: jax.Array  # [N, T] prompt + preferred response (by the label)
    rejected: jax.Array  # [N, T]
    gold_chosen: jax.Array  # [N] gold reward of `chosen`
    gold_rejected: jax.Array  # [N]


@struct.dataclass
class Reader:
    """How a reward is read from the transformer's scalar head (static under ``jit``).

    ``pool="last"``: at the response's last own token (its EOS, or the last position);
    ``"mean"``: averaged over the response's own tokens. ``lm_cfg`` is the reward
    model's own architecture, which may differ from the policy's.
    """

    lm_cfg: lm.LMConfig = struct.field(pytree_node=False)
    prompt_len: int = struct.field(pytree_node=False)
    pool: str = struct.field(pytree_node=False, default="mean")
    eos: int = struct.field(pytree_node=False, default=-1)


@struct.dataclass
class RewardModel:
    params: dict
    offset: jax.Array | float  # standardization: proxy = (r - offset) / scale
    scale: jax.Array | float
    reader: Reader


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


def raw_reward(reader: Reader, params, tokens: jax.Array) -> jax.Array:
    """Unstandardized reward ``[B]`` read from the scalar head as ``reader`` says."""
    p = reader.prompt_len
    scalar = lm.apply(reader.lm_cfg, params, tokens)[1][:, p:]  # after each response token
    mask = task.response_mask(tokens[:, p:], reader.eos)
    if reader.pool == "last":
        return jnp.sum(scalar * task.last_token(mask), -1)
    return jnp.sum(scalar * mask, -1) / jnp.maximum(mask.sum(-1), 1.0)


def proxy_reward(rm: RewardModel, tokens: jax.Array) -> jax.Array:
    """Standardized reward-model score ``[B]`` (what RL and best-of-n optimize)."""
    return (raw_reward(rm.reader, rm.params, tokens) - rm.offset) / rm.scale


def shuffle_and_split(key: jax.Array, n: int, num_minibatches: int) -> jax.Array:
    """Row indices ``[num_minibatches, n // num_minibatches]`` of a random permutation of
    ``range(n)`` (the last ``n mod num_minibatches`` rows of the permutation are left out).

    The one minibatching helper of the RLHF stack: the reward model's epochs and the
    RL updates both use it.
    """
    size = n // num_minibatches
    return jax.random.permutation(key, n)[: num_minibatches * size].reshape(num_minibatches, size)


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
    prompts = task.sample_prompts(lang, k_prompt, n_pairs, prompt_len)
    both = jnp.concatenate([prompts, prompts], axis=0)
    tokens, _ = lm.generate(cfg, sft_params, k_gen, both, response_len, eos=lang.eos)
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


def gold_accuracy(reader: Reader, params, pairs: Pairs) -> jax.Array:
    """Fraction of pairs with a strict gold preference (beyond ``TIE_TOL``) ordered the same way."""
    r_c = raw_reward(reader, params, pairs.chosen)
    r_r = raw_reward(reader, params, pairs.rejected)
    gold_diff = pairs.gold_chosen - pairs.gold_rejected
    decided = jnp.abs(gold_diff) > TIE_TOL
    agree = jnp.sign(r_c - r_r) == jnp.sign(gold_diff)
    return jnp.sum(agree & decided) / jnp.maximum(jnp.sum(decided), 1)


@functools.lru_cache(maxsize=32)
def _compiled_epoch(reader: Reader, n: int, n_mb: int, minibatch: int, lr: float, total: int,
                    margin: float, center_coef: float):
    """One jitted epoch ``(params, opt_state, key, train, eval) -> ...``, cached, so reward
    models that share a shape (seeds, subsets of one size) compile once."""
    opt = _optimizer(lr, total)

    def loss_fn(p, chosen, rejected):
        r = raw_reward(reader, p, jnp.concatenate([chosen, rejected], axis=0))
        return bradley_terry_loss(r[: chosen.shape[0]], r[chosen.shape[0] :], margin, center_coef)

    def run_epoch(params, opt_state, key, train_pairs: Pairs, eval_pairs: Pairs):
        def mb_step(carry, idx):
            params, opt_state = carry
            (loss, m), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                params, train_pairs.chosen[idx], train_pairs.rejected[idx])
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), {"loss": loss, **m}

        perm = shuffle_and_split(key, n, n_mb)
        (params, opt_state), m = jax.lax.scan(mb_step, (params, opt_state), perm)
        acc = gold_accuracy(reader, params, eval_pairs)
        return params, opt_state, jax.tree.map(jnp.mean, m), acc

    return jax.jit(run_epoch)


def _optimizer(lr: float, total: int):
    sched = optax.warmup_cosine_decay_schedule(0.0, lr, max(1, total // 10), max(total, 2))
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(sched, weight_decay=0.0))


@dataclasses.dataclass(frozen=True)
class RewardFit:
    """How the Bradley-Terry fit runs (``RLHFConfig``'s ``rm_*`` fields)."""

    epochs: int
    """Passes over the training pairs."""
    minibatch: int
    """Pairs per gradient step (at most the number of pairs)."""
    lr: float
    """Peak AdamW learning rate (warmup then cosine decay)."""
    margin: float = 0.0
    """Bradley-Terry margin."""
    center_coef: float = 0.0
    """Penalty on the mean reward (keeps the scale centred)."""


def train_reward_model(
    reader: Reader,
    init_params,
    train_pairs: Pairs,
    eval_pairs: Pairs,
    norm_tokens: jax.Array,
    key: jax.Array,
    fit: RewardFit,
    log_fn: Callable[[dict, int], None] | None = None,
) -> tuple[RewardModel, float]:
    """Start from ``init_params`` (the SFT weights, or a pretrained LM of the reward
    model's own size), fit Bradley-Terry as ``fit`` says, standardize on ``norm_tokens``.

    One compiled ``lax.scan`` per epoch over shuffled minibatches. Returns the model
    and its held-out accuracy against the gold's hard labels.
    """
    n = train_pairs.chosen.shape[0]
    n_mb = max(1, n // fit.minibatch)
    total = fit.epochs * n_mb
    run_epoch = _compiled_epoch(reader, n, n_mb, fit.minibatch, float(fit.lr), total,
                                float(fit.margin), float(fit.center_coef))
    params = init_params
    opt_state = _optimizer(fit.lr, total).init(params)
    acc = float("nan")
    for epoch in range(fit.epochs):
        key, k = jax.random.split(key)
        params, opt_state, m, acc = run_epoch(params, opt_state, k, train_pairs, eval_pairs)
        acc = float(acc)
        if log_fn is not None:
            log_fn({"rm/train_loss": float(m["loss"]), "rm/train_accuracy": float(m["accuracy"]),
                    "rm/eval_gold_accuracy": acc}, epoch + 1)
    r = _compiled_raw_reward(reader)(params, norm_tokens)
    return RewardModel(params, float(r.mean()), float(r.std() + 1e-6), reader), acc


@functools.lru_cache(maxsize=32)
def _compiled_raw_reward(reader: Reader):
    return jax.jit(lambda p, t: raw_reward(reader, p, t))
