"""A synthetic language with a known likelihood, and a gold reward on top of it.

The language is a first-order Markov chain over ``V`` tokens. Each token has
``branching`` random successors holding most of the mass (a sparse chain); a
``smoothing`` floor spreads the rest uniformly so that every sequence has a finite
log-likelihood:

    P(x_{t+1} = j | x_t = i) = (1 - smoothing) * S[i, j] + smoothing / V,

with ``S[i]`` a Dirichlet(``concentration``) draw restricted to ``i``'s successors
(uniform over them when ``concentration`` is 0). ``x_0`` comes from
the chain's stationary distribution.

A prompt is the first ``P`` tokens of a sample; a response is the next ``R``. The
gold reward of a response averages one per-token score

    g(prompt, response) = (1/R) sum_{t=1..R} [ w * liked(r_t) + log P(r_t | r_{t-1}) ]

(``r_0`` is the last prompt token). ``liked`` marks the ``n_liked`` tokens that are
rarest under the stationary distribution, the "sentiment" the gold likes. The first
term pulls toward liked tokens, the second (the true log-likelihood, "fluency")
pulls back toward the language: spamming liked tokens goes through transitions of
probability ``smoothing / V``, so the gold has an interior optimum and a reward
model that only learns "liked is good" can be over-optimized. Because the gold is a
sum of per-transition scores its exact maximum over responses is a dynamic program
(:func:`gold_optimum`), so runs can report how close they get.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Language:
    """The chain's tables (log-space) and the gold reward's sentiment mask."""

    log_init: jax.Array  # [V] log P(x_0), the stationary distribution
    log_trans: jax.Array  # [V, V] log P(x_{t+1} = j | x_t = i)
    liked: jax.Array  # [V] 1.0 on tokens the gold reward likes
    sentiment_weight: float | jax.Array  # w in the gold reward

    @property
    def vocab_size(self) -> int:
        return self.log_trans.shape[-1]


def _stationary(trans: jax.Array, iters: int = 500) -> jax.Array:
    # Power iteration; the smoothing floor makes the chain ergodic and aperiodic.
    v = trans.shape[0]
    p0 = jnp.full((v,), 1.0 / v)
    return jax.lax.fori_loop(0, iters, lambda _, p: p @ trans, p0)


def make_language(
    key: jax.Array,
    vocab_size: int = 32,
    branching: int = 4,
    smoothing: float = 0.05,
    n_liked: int = 4,
    sentiment_weight: float = 3.0,
    concentration: float = 1.0,
) -> Language:
    """A random sparse Markov chain language, reproducible from ``key``."""
    k_succ, k_dir = jax.random.split(key)
    v = vocab_size
    # Successor sets: the first `branching` entries of a random permutation per row.
    scores = jax.random.uniform(k_succ, (v, v))
    ranks = jnp.argsort(jnp.argsort(scores, axis=-1), axis=-1)
    support = ranks < branching
    if concentration > 0:
        gam = jax.random.gamma(k_dir, concentration, (v, v))
    else:  # exactly uniform over the successors
        gam = jnp.ones((v, v))
    sparse = jnp.where(support, gam, 0.0)
    sparse = sparse / sparse.sum(-1, keepdims=True)
    trans = (1.0 - smoothing) * sparse + smoothing / v
    pi = _stationary(trans)
    rarest = jnp.argsort(pi)[:n_liked]
    liked = jnp.zeros((v,)).at[rarest].set(1.0)
    return Language(
        log_init=jnp.log(pi),
        log_trans=jnp.log(trans),
        liked=liked,
        sentiment_weight=sentiment_weight,
    )


def sample(lang: Language, key: jax.Array, batch: int, length: int) -> jax.Array:
    """``[batch, length]`` int32 sequences drawn from the language."""
    k0, k_rest = jax.random.split(key)
    x0 = jax.random.categorical(k0, lang.log_init, shape=(batch,))

    def step(x, k):
        nxt = jax.random.categorical(k, lang.log_trans[x])
        return nxt, nxt

    _, rest = jax.lax.scan(step, x0, jax.random.split(k_rest, length - 1))
    return jnp.concatenate([x0[:, None], rest.T], axis=1).astype(jnp.int32)


def token_log_likelihood(lang: Language, tokens: jax.Array) -> jax.Array:
    """``log P(x_t | x_{t-1})`` for ``t = 1..T-1``: ``[B, T-1]`` (the chain is first order)."""
    return lang.log_trans[tokens[:, :-1], tokens[:, 1:]]


def sequence_log_likelihood(lang: Language, tokens: jax.Array) -> jax.Array:
    """``log P(x_0..x_{T-1})``: ``[B]``."""
    return lang.log_init[tokens[:, 0]] + token_log_likelihood(lang, tokens).sum(-1)


def entropy_rate(lang: Language) -> jax.Array:
    """Exact conditional entropy ``H(x_{t+1} | x_t)`` in nats per token.

    Samples start from the stationary distribution ``pi``, so every position has
    marginal ``pi`` and ``H(x_{t+1} | x_{<=t}) = sum_i pi_i H(P(. | i))`` (first-order
    chain). This is the lowest next-token NLL any model can reach on the language.
    """
    pi = jnp.exp(lang.log_init)
    row_h = -jnp.sum(jnp.exp(lang.log_trans) * lang.log_trans, axis=-1)
    return jnp.sum(pi * row_h)


def gold_reward(lang: Language, prompt: jax.Array, response: jax.Array) -> jax.Array:
    """Gold reward ``g(prompt, response)``: ``[B]`` (see the module docstring)."""
    prev = jnp.concatenate([prompt[:, -1:], response[:, :-1]], axis=1)
    fluency = lang.log_trans[prev, response]
    sentiment = lang.sentiment_weight * lang.liked[response]
    return jnp.mean(sentiment + fluency, axis=-1)


def gold_components(lang: Language, prompt: jax.Array, response: jax.Array) -> dict:
    """Mean liked fraction and mean true log-likelihood per response token (diagnostics)."""
    prev = jnp.concatenate([prompt[:, -1:], response[:, :-1]], axis=1)
    return {
        "liked_frac": jnp.mean(lang.liked[response]),
        "true_logp_per_token": jnp.mean(lang.log_trans[prev, response]),
    }


def gold_optimum(lang: Language, last_prompt_token: jax.Array, response_len: int) -> jax.Array:
    """``max_response g(prompt, response)`` by dynamic programming: ``[B]``.

    ``V_k(i)`` = best sum of the last ``k`` per-token scores starting after token ``i``;
    ``V_k(i) = max_j [w liked(j) + log P(j | i) + V_{k-1}(j)]``, ``V_0 = 0``.
    """
    score = lang.log_trans + lang.sentiment_weight * lang.liked[None, :]  # [i, j]

    def backup(vals, _):
        return jnp.max(score + vals[None, :], axis=-1), None

    vals, _ = jax.lax.scan(backup, jnp.zeros(lang.vocab_size), None, length=response_len)
    return vals[last_prompt_token] / response_len
