"""Supervised fine-tuning (maximum likelihood) of the base LM on samples of the language.

Every step draws a fresh batch from the language, so there is no overfitting to
speak of and the held-out NLL can be compared directly with the language's
entropy rate, the floor any model can reach.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxpg.rlhf import lm, task


class SFTResult(NamedTuple):
    params: dict
    nll: float  # held-out next-token NLL of the model, nats per token
    true_nll: float  # NLL of the true language on the same held-out tokens
    excess_kl: float  # mean KL(true next-token distribution || model's), nats per token


def nll_loss(cfg: lm.LMConfig, params, tokens: jax.Array) -> jax.Array:
    """Mean ``-log p(x_{t+1} | x_{<=t})`` over ``t = 0..T-2`` and the batch."""
    logits, _ = lm.apply(cfg, params, tokens)
    logp = jax.nn.log_softmax(logits[:, :-1], axis=-1)
    return -jnp.take_along_axis(logp, tokens[:, 1:, None], axis=-1).mean()


def eval_metrics(cfg: lm.LMConfig, params, lang: task.Language, tokens: jax.Array) -> dict:
    """Held-out NLL, the true language's NLL on the same tokens, and the exact excess KL.

    ``excess_kl = mean_t KL(P(. | x_t) || q(. | x_{<=t}))`` is computed from full
    distributions, so it has no sampling noise from the next token; the model's NLL
    minus the true NLL estimates the same quantity.
    """
    logits, _ = lm.apply(cfg, params, tokens)
    logq = jax.nn.log_softmax(logits[:, :-1], axis=-1)
    nll = -jnp.take_along_axis(logq, tokens[:, 1:, None], axis=-1).mean()
    logp = lang.log_trans[tokens[:, :-1]]  # [B, T-1, V] true next-token distributions
    kl = jnp.sum(task.xlogx(logp) - jnp.where(jnp.isfinite(logp), jnp.exp(logp) * logq, 0.0),
                 axis=-1).mean()
    true_nll = -task.token_log_likelihood(lang, tokens).mean()
    return {"eval_nll": nll, "true_nll": true_nll, "excess_kl": kl}


def make_optimizer(lr: float, total_steps: int, max_grad_norm: float = 1.0):
    warmup = max(1, total_steps // 20)
    sched = optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(total_steps, warmup + 1))
    return optax.chain(optax.clip_by_global_norm(max_grad_norm),
                       optax.adamw(sched, weight_decay=0.0))


def train_sft(
    cfg: lm.LMConfig,
    lang: task.Language,
    key: jax.Array,
    steps: int,
    batch: int,
    seq_len: int,
    lr: float,
    chunk: int = 100,
    log_fn: Callable[[dict, int], None] | None = None,
) -> SFTResult:
    """Train from scratch; ``chunk`` steps per compiled ``lax.scan``, logging in between."""
    k_init, k_eval, key = jax.random.split(key, 3)
    params = lm.init_params(cfg, k_init)
    opt = make_optimizer(lr, steps)
    opt_state = opt.init(params)
    eval_tokens = task.sample(lang, k_eval, 2048, seq_len)

    def one_step(carry, k):
        params, opt_state = carry
        tokens = task.sample(lang, k, batch, seq_len)
        loss, grads = jax.value_and_grad(lambda p: nll_loss(cfg, p, tokens))(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @partial(jax.jit, static_argnums=3)
    def run_chunk(params, opt_state, key, n):
        keys = jax.random.split(key, n)
        (params, opt_state), losses = jax.lax.scan(one_step, (params, opt_state), keys)
        return params, opt_state, losses.mean(), eval_metrics(cfg, params, lang, eval_tokens)

    h_rate = float(task.entropy_rate(lang))
    done, ev = 0, {}
    for n in [chunk] * (steps // chunk) + ([steps % chunk] if steps % chunk else []):
        key, k = jax.random.split(key)
        params, opt_state, train_loss, ev = run_chunk(params, opt_state, k, n)
        done += n
        ev = {name: float(v) for name, v in ev.items()}
        if log_fn is not None:
            log_fn({"sft/train_nll": float(train_loss), "sft/entropy_rate": h_rate,
                    **{f"sft/{name}": v for name, v in ev.items()}}, done)
    return SFTResult(params, ev["eval_nll"], ev["true_nll"], ev["excess_kl"])
