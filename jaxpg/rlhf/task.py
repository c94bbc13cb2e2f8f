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

Variable length (``eos_prob > 0``): token ``V`` is an end-of-sequence token; after
every word token the chain stops with probability ``eos_prob``, and EOS is absorbing
(everything after it is EOS padding). A response then has ``L <= R`` tokens, EOS
included, and the gold averages over those ``L`` tokens only (the EOS token scores its
fluency ``log P(EOS | r_{L-1}) = log eos_prob`` and no sentiment). So the gold is *not*
length-neutral: the one EOS cost is spread over ``L`` tokens, and a longer response pays
less of it per token (a response that never stops pays none). Prompts never contain EOS.
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
    eos: int = struct.field(pytree_node=False, default=-1)  # EOS token id, -1: none

    @property
    def vocab_size(self) -> int:
        """Tokens the models see (EOS included)."""
        return self.log_trans.shape[-1]

    @property
    def has_eos(self) -> bool:
        return self.eos >= 0


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
    eos_prob: float = 0.0,
) -> Language:
    """A random sparse Markov chain language, reproducible from ``key``.

    With ``eos_prob > 0`` the vocabulary gets one more token, EOS (id ``vocab_size``).
    """
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
    lang = Language(log_init=jnp.log(pi), log_trans=jnp.log(trans), liked=liked,
                    sentiment_weight=sentiment_weight)
    return add_eos(lang, eos_prob) if eos_prob > 0 else lang


def add_eos(lang: Language, eos_prob: float) -> Language:
    """Append an absorbing EOS token reached with probability ``eos_prob`` from every word."""
    v = lang.vocab_size
    words = jnp.concatenate([jnp.exp(lang.log_trans) * (1.0 - eos_prob),
                             jnp.full((v, 1), eos_prob)], axis=1)
    eos_row = jnp.zeros((1, v + 1)).at[0, v].set(1.0)
    trans = jnp.concatenate([words, eos_row], axis=0)
    return Language(
        log_init=jnp.concatenate([lang.log_init, jnp.full((1,), -jnp.inf)]),
        log_trans=jnp.log(trans),
        liked=jnp.concatenate([lang.liked, jnp.zeros((1,))]),
        sentiment_weight=lang.sentiment_weight,
        eos=v,
    )


def sample(lang: Language, key: jax.Array, batch: int, length: int, allow_eos: bool = True):
    """``[batch, length]`` int32 sequences drawn from the language (``allow_eos=False``:
    the chain conditioned on never stopping, used for prompts)."""
    k0, k_rest = jax.random.split(key)
    x0 = jax.random.categorical(k0, lang.log_init, shape=(batch,))
    log_trans = lang.log_trans
    if lang.has_eos and not allow_eos:
        log_trans = log_trans.at[:, lang.eos].set(-jnp.inf)

    def step(x, k):
        nxt = jax.random.categorical(k, log_trans[x])
        return nxt, nxt

    _, rest = jax.lax.scan(step, x0, jax.random.split(k_rest, length - 1))
    return jnp.concatenate([x0[:, None], rest.T], axis=1).astype(jnp.int32)


def sample_prompts(lang: Language, key: jax.Array, batch: int, prompt_len: int) -> jax.Array:
    """Prompts: prefixes of the language that have not stopped (no EOS)."""
    return sample(lang, key, batch, prompt_len, allow_eos=False)


def response_mask(response: jax.Array, eos: int) -> jax.Array:
    """``[B, R]`` float: 1 on response tokens up to and including the first EOS.

    Everything after the first EOS is padding. With no EOS token (``eos < 0``) all
    ones.
    """
    if eos < 0:
        return jnp.ones(response.shape, jnp.float32)
    is_eos = (response == eos).astype(jnp.int32)
    before = jnp.cumsum(is_eos, axis=-1) - is_eos  # EOS tokens strictly before t
    return (before == 0).astype(jnp.float32)


def last_token(mask: jax.Array) -> jax.Array:
    """``[B, R]`` one-hot of each response's last own token (its EOS, or position R-1)."""
    nxt = jnp.concatenate([mask[:, 1:], jnp.zeros_like(mask[:, :1])], axis=1)
    return mask * (1.0 - nxt)


def response_length(response: jax.Array, eos: int) -> jax.Array:
    """Tokens per response, EOS included: ``[B]``."""
    return response_mask(response, eos).sum(-1)


def ended(response: jax.Array, eos: int) -> jax.Array:
    """``[B]`` bool: the response contains EOS (always True without an EOS token)."""
    if eos < 0:
        return jnp.ones(response.shape[:1], bool)
    return jnp.any(response == eos, axis=-1)


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
    With EOS the positions are no longer stationary; this is then the rate of the
    chain before it stops (a reference, not a floor).
    """
    pi = jnp.exp(lang.log_init)
    row_h = -jnp.sum(xlogx(lang.log_trans), axis=-1)
    return jnp.sum(jnp.where(pi > 0, pi * row_h, 0.0))


def xlogx(log_p: jax.Array) -> jax.Array:
    """``p log p`` from ``log p``, 0 where ``p = 0`` (no ``0 * -inf = nan``)."""
    return jnp.where(jnp.isfinite(log_p), jnp.exp(log_p) * log_p, 0.0)


def _masked_mean(x: jax.Array, mask: jax.Array, axis=None) -> jax.Array:
    return jnp.sum(x * mask, axis=axis) / jnp.maximum(jnp.sum(mask, axis=axis), 1.0)


def _scores(lang: Language, prompt: jax.Array, response: jax.Array):
    prev = jnp.concatenate([prompt[:, -1:], response[:, :-1]], axis=1)
    mask = response_mask(response, lang.eos)
    # Padding after EOS reads log P(EOS | EOS) = 0; masked anyway.
    fluency = jnp.where(mask > 0, lang.log_trans[prev, response], 0.0)
    return lang.sentiment_weight * lang.liked[response], fluency, mask


def gold_reward(lang: Language, prompt: jax.Array, response: jax.Array) -> jax.Array:
    """Gold reward ``g(prompt, response)``: ``[B]``, the mean over the response's own
    tokens (see the module docstring)."""
    sentiment, fluency, mask = _scores(lang, prompt, response)
    return _masked_mean(sentiment + fluency, mask, axis=-1)


def gold_components(lang: Language, prompt: jax.Array, response: jax.Array) -> dict:
    """Liked fraction and true log-likelihood per response token, response length and
    the fraction of responses that ended with EOS (diagnostics)."""
    _, fluency, mask = _scores(lang, prompt, response)
    return {
        "liked_frac": _masked_mean(lang.liked[response], mask),
        "true_logp_per_token": _masked_mean(fluency, mask),
        "response_length": mask.sum(-1).mean(),
        "eos_fraction": ended(response, lang.eos).mean(),
    }


def gold_optimum(lang: Language, last_prompt_token: jax.Array, response_len: int) -> jax.Array:
    """``max_response g(prompt, response)`` by dynamic programming: ``[B]``.

    Forward values ``F_k(j)`` = best sum of ``k`` per-token scores of a response whose
    ``k``-th token is ``j`` and that has not stopped before:
    ``F_1(j) = s(i_0, j)``, ``F_{k+1}(j) = max_{i != EOS} [F_k(i) + s(i, j)]`` with
    ``s(i, j) = w liked(j) + log P(j | i)``. Without EOS every response has ``R``
    tokens and the optimum is ``max_j F_R(j) / R``; with EOS a response may also stop
    after ``k`` tokens, so the optimum is the best of ``F_k(EOS) / k`` over ``k`` too
    (an average, so lengths are compared after dividing).
    """
    score = lang.log_trans + lang.sentiment_weight * lang.liked[None, :]  # [i, j]
    if lang.has_eos:
        score_from = score.at[lang.eos].set(-jnp.inf)  # nothing follows EOS
    else:
        score_from = score

    def forward(f, _):
        nxt = jnp.max(f[:, :, None] + score_from[None], axis=1)
        return nxt, nxt

    f1 = score[last_prompt_token]  # [B, V]
    _, rest = jax.lax.scan(forward, f1, None, length=response_len - 1)
    fs = jnp.concatenate([f1[None], rest], axis=0)  # [R, B, V]
    words = fs[-1] if not lang.has_eos else fs[-1].at[:, lang.eos].set(-jnp.inf)
    best = jnp.max(words, axis=-1) / response_len
    if lang.has_eos:
        k = jnp.arange(1, response_len + 1)[:, None]
        best = jnp.maximum(best, jnp.max(fs[:, :, lang.eos] / k, axis=0))
    return best
