"""A small decoder-only transformer (flax.linen) with a scalar head and KV-cache sampling.

One module serves three roles, so their parameter trees are identical and one can be
initialized from another: the SFT language model (``logits``), the reward model
(``scalar`` at the last token) and the PPO critic (``scalar`` at every position).

Shapes: ``tokens [B, T]`` int32; ``logits [B, T, V]`` where ``logits[:, t]`` predicts
token ``t + 1``; ``scalar [B, T]`` read from the same final hidden state.

The cache holds keys and values of every layer, ``[n_layers, B, max_len, H, D/H]``.
:func:`generate` feeds one token per step through :meth:`TransformerLM.step`, so a
sequence of length ``T`` costs ``T`` single-token passes instead of ``T`` full
passes; :func:`generate_naive` recomputes the whole prefix at every step and exists
only to check the cache in tests.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpg import prng

prng.unroll_threefry_on_cpu()  # the RLHF programs' random draws: see jaxpg.prng


class LMConfig(NamedTuple):
    """Static architecture choices."""

    vocab_size: int = 32
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    max_len: int = 16


class KVCache(NamedTuple):
    k: jax.Array  # [n_layers, B, max_len, H, Dh]
    v: jax.Array  # [n_layers, B, max_len, H, Dh]


def _attend(q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array) -> jax.Array:
    """Softmax attention. q ``[B, Tq, H, Dh]``, k/v ``[B, Tk, H, Dh]``, mask ``[Tq, Tk]``."""
    scale = q.shape[-1] ** -0.5
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) * scale
    logits = jnp.where(mask[None, None], logits, jnp.finfo(logits.dtype).min)
    weights = jax.nn.softmax(logits, axis=-1)
    return jnp.einsum("bhqk,bkhd->bqhd", weights, v)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))``."""

    d_model: int
    n_heads: int

    def setup(self):
        dh = self.d_model // self.n_heads
        self.ln1 = nn.LayerNorm()
        self.qkv = nn.DenseGeneral(features=(3, self.n_heads, dh))
        self.proj = nn.DenseGeneral(features=self.d_model, axis=(-2, -1))
        self.ln2 = nn.LayerNorm()
        self.mlp_in = nn.Dense(4 * self.d_model)
        self.mlp_out = nn.Dense(self.d_model)

    def _qkv(self, x):
        qkv = self.qkv(self.ln1(x))  # [B, T, 3, H, Dh]
        return qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]

    def _finish(self, x, att):
        x = x + self.proj(att)
        return x + self.mlp_out(nn.gelu(self.mlp_in(self.ln2(x))))

    def __call__(self, x: jax.Array) -> jax.Array:
        t = x.shape[1]
        q, k, v = self._qkv(x)
        causal = jnp.tril(jnp.ones((t, t), dtype=bool))
        return self._finish(x, _attend(q, k, v, causal))

    def step(self, x: jax.Array, k_cache: jax.Array, v_cache: jax.Array, pos: jax.Array):
        """One position: x ``[B, 1, D]``; caches ``[B, L, H, Dh]``; attends to ``<= pos``."""
        q, k, v = self._qkv(x)
        k_cache = jax.lax.dynamic_update_slice(k_cache, k, (0, pos, 0, 0))
        v_cache = jax.lax.dynamic_update_slice(v_cache, v, (0, pos, 0, 0))
        visible = (jnp.arange(k_cache.shape[1]) <= pos)[None, :]
        return self._finish(x, _attend(q, k_cache, v_cache, visible)), k_cache, v_cache


class TransformerLM(nn.Module):
    """Token + learned position embeddings, ``n_layers`` blocks, tied LM head, scalar head."""

    cfg: LMConfig

    def setup(self):
        c = self.cfg
        if c.d_model % c.n_heads:
            raise ValueError(f"d_model={c.d_model} is not divisible by n_heads={c.n_heads}")
        self.tok_emb = nn.Embed(c.vocab_size, c.d_model)
        self.pos_emb = nn.Embed(c.max_len, c.d_model)
        self.blocks = [Block(c.d_model, c.n_heads) for _ in range(c.n_layers)]
        self.ln_f = nn.LayerNorm()
        self.scalar_head = nn.Dense(1)

    def _heads(self, x):
        h = self.ln_f(x)
        return self.tok_emb.attend(h), self.scalar_head(h)[..., 0]

    def __call__(self, tokens: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Full causal pass: ``tokens [B, T] -> (logits [B, T, V], scalar [B, T])``."""
        x = self.tok_emb(tokens) + self.pos_emb(jnp.arange(tokens.shape[1]))[None]
        for block in self.blocks:
            x = block(x)
        return self._heads(x)

    def step(self, token: jax.Array, cache: KVCache, pos: jax.Array):
        """Cached pass for one position: ``token [B]`` at ``pos`` -> ``(logits [B, V], cache)``."""
        x = self.tok_emb(token[:, None]) + self.pos_emb(pos)[None, None]
        ks, vs = [], []
        for i, block in enumerate(self.blocks):
            x, k, v = block.step(x, cache.k[i], cache.v[i], pos)
            ks.append(k)
            vs.append(v)
        logits, _ = self._heads(x)
        return logits[:, 0], KVCache(jnp.stack(ks), jnp.stack(vs))


def init_params(cfg: LMConfig, key: jax.Array):
    return TransformerLM(cfg).init(key, jnp.zeros((1, cfg.max_len), jnp.int32))


def init_cache(cfg: LMConfig, batch: int, dtype=jnp.float32) -> KVCache:
    shape = (cfg.n_layers, batch, cfg.max_len, cfg.n_heads, cfg.d_model // cfg.n_heads)
    return KVCache(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype))


def apply(cfg: LMConfig, params, tokens: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(logits [B, T, V], scalar [B, T])`` from a full causal pass."""
    return TransformerLM(cfg).apply(params, tokens)


def response_log_probs(logits: jax.Array, tokens: jax.Array, prompt_len: int):
    """Log-probs and full log-softmax of the response tokens ``tokens[:, P:]``.

    The distribution of token ``t`` is read at position ``t - 1``; returns
    ``(logp [B, R], logp_all [B, R, V])``.
    """
    logp_all = jax.nn.log_softmax(logits[:, prompt_len - 1 : -1], axis=-1)
    resp = tokens[:, prompt_len:]
    logp = jnp.take_along_axis(logp_all, resp[..., None], axis=-1)[..., 0]
    return logp, logp_all


def _fill_next(tokens, t, sampled, prompt_len, eos: int = -1):
    # Positions inside the prompt are forced; later ones take the sample, except that
    # a sequence that has emitted EOS stops: it is padded with EOS from then on.
    if eos >= 0:
        sampled = jnp.where(tokens[:, t] == eos, eos, sampled)
    nxt = jnp.where(t + 1 < prompt_len, tokens[:, t + 1], sampled).astype(tokens.dtype)
    return jax.lax.dynamic_update_slice(tokens, nxt[:, None], (0, t + 1))


def generate(
    cfg: LMConfig,
    params,
    key: jax.Array,
    prompt: jax.Array,
    response_len: int,
    temperature: float | jax.Array = 1.0,
    eos: int = -1,
) -> tuple[jax.Array, jax.Array]:
    """Sample ``response_len`` tokens after ``prompt [B, P]`` with the KV cache.

    Pure ancestral sampling from ``softmax(logits / temperature)``; temperature 1 is
    the model's own distribution. With ``eos >= 0`` each sequence stops at its first
    EOS (later positions hold EOS padding, which every loss masks out). Returns ``(tokens [B, P + R], step_logits [B, P+R-1, V])``
    where ``step_logits[:, t]`` are the (untempered) logits that predicted token ``t + 1``.
    """
    model = TransformerLM(cfg)
    b, p = prompt.shape
    total = p + response_len
    tokens = jnp.zeros((b, total), jnp.int32).at[:, :p].set(prompt)

    def body(carry, xs):
        tokens, cache = carry
        t, k = xs
        logits, cache = model.apply(params, tokens[:, t], cache, t, method=TransformerLM.step)
        sampled = jax.random.categorical(k, logits / temperature, axis=-1)
        return (_fill_next(tokens, t, sampled, p, eos), cache), logits

    xs = (jnp.arange(total - 1), jax.random.split(key, total - 1))
    (tokens, _), logits = jax.lax.scan(body, (tokens, init_cache(cfg, b)), xs)
    return tokens, jnp.swapaxes(logits, 0, 1)


def generate_naive(cfg, params, key, prompt, response_len, temperature=1.0, eos=-1):
    """Reference for :func:`generate`: a full causal pass over the whole buffer at every step.

    Positions after ``t`` hold placeholders that causal attention never sees. Uses the
    same per-step keys, so with equal logits it draws the same tokens.
    """
    b, p = prompt.shape
    total = p + response_len
    tokens = jnp.zeros((b, total), jnp.int32).at[:, :p].set(prompt)
    keys = jax.random.split(key, total - 1)
    full = jax.jit(lambda toks: apply(cfg, params, toks)[0])
    all_logits = []
    for t in range(total - 1):
        logits = full(tokens)[:, t]
        sampled = jax.random.categorical(keys[t], logits / temperature, axis=-1)
        tokens = _fill_next(tokens, t, sampled, p, eos)
        all_logits.append(logits)
    return tokens, jnp.stack(all_logits, axis=1)
