"""Supervised fine-tuning (maximum likelihood) of the base LM on samples of the language.

Every step draws a fresh batch from the language, so there is no overfitting to
speak of and the held-out NLL can be compared directly with the language's
entropy rate, the floor any model can reach.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxpg.rlhf import lm, task


class SFTResult(NamedTuple):
    params: dict
    nll: float  # held-out next-token NLL, nats per token
    entropy_rate: float  # the language's true conditional entropy, nats per token


def nll_loss(cfg: lm.LMConfig, params, tokens: jax.Array) -> jax.Array:
    """Mean ``-log p(x_{t+1} | x_{<=t})`` over ``t = 0..T-2`` and the batch."""
    logits, _ = lm.apply(cfg, params, tokens)
    logp = jax.nn.log_softmax(logits[:, :-1], axis=-1)
    return -jnp.take_along_axis(logp, tokens[:, 1:, None], axis=-1).mean()


def make_optimizer(lr: float, total_steps: int, max_grad_norm: float = 1.0):
    warmup = max(1, total_steps // 20)
    sched = optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(total_steps, warmup + 1))
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adamw(sched, weight_decay=0.0))


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
    eval_tokens = task.sample(lang, k_eval, 512, seq_len)

    def one_step(carry, k):
        params, opt_state = carry
        tokens = task.sample(lang, k, batch, seq_len)
        loss, grads = jax.value_and_grad(lambda p: nll_loss(cfg, p, tokens))(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @jax.jit
    def run_chunk(params, opt_state, key):
        keys = jax.random.split(key, chunk)
        (params, opt_state), losses = jax.lax.scan(one_step, (params, opt_state), keys)
        return params, opt_state, losses.mean(), nll_loss(cfg, params, eval_tokens)

    h_rate = float(task.entropy_rate(lang))
    done, nll = 0, float("nan")
    while done < steps:
        key, k = jax.random.split(key)
        params, opt_state, train_loss, nll = run_chunk(params, opt_state, k)
        done += chunk
        nll = float(nll)
        if log_fn is not None:
            log_fn({"sft/train_nll": float(train_loss), "sft/eval_nll": nll,
                    "sft/entropy_rate": h_rate}, done)
    return SFTResult(params, nll, h_rate)
