"""Masked and multi-discrete categoricals against numpy references over the allowed actions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpg.distributions import Categorical, MultiCategorical, no_valid_action, padding_mask


def _ref(logits, mask):
    """numpy: the softmax restricted to the allowed actions (0 elsewhere)."""
    z = np.where(mask, logits, -np.inf)
    z = z - z.max(-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(-1, keepdims=True)


def _ref_entropy(p):
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), -1)


def _ref_kl(p, q):
    safe = lambda x: np.where(p > 0, x, 1.0)
    return np.sum(np.where(p > 0, p * np.log(safe(p) / safe(q)), 0.0), -1)


@pytest.fixture
def case():
    rng = np.random.default_rng(0)
    logits_p = rng.normal(size=(5, 6)).astype(np.float32) * 2
    logits_q = rng.normal(size=(5, 6)).astype(np.float32) * 2
    mask = rng.random((5, 6)) < 0.6
    mask[:, 2] = True  # every row allows at least one action
    return logits_p, logits_q, mask


def test_masked_categorical_matches_numpy(case):
    lp, lq, mask = case
    P, Q = Categorical(jnp.asarray(lp), jnp.asarray(mask)), Categorical(jnp.asarray(lq), jnp.asarray(mask))
    p, q = _ref(lp, mask), _ref(lq, mask)
    np.testing.assert_allclose(np.exp(np.asarray(P.log_probs_all)), p, atol=1e-6)
    np.testing.assert_allclose(np.asarray(P.entropy()), _ref_entropy(p), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(P.kl(Q)), _ref_kl(p, q), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(P.kl(P)), 0.0, atol=1e-6)
    actions = np.argmax(mask, -1)  # an allowed action per row
    np.testing.assert_allclose(np.asarray(P.log_prob(jnp.asarray(actions))),
                               np.log(p[np.arange(5), actions]), rtol=1e-5)
    # the deterministic policy is the argmax over the allowed actions only
    np.testing.assert_array_equal(np.asarray(P.mode()), np.argmax(np.where(mask, lp, -np.inf), -1))
    # the masked entropy is that of the restricted distribution, not of the full softmax
    full = _ref(lp, np.ones_like(mask))
    assert not np.allclose(_ref_entropy(full), _ref_entropy(p))


def test_masked_sampling_never_picks_a_masked_action(case):
    lp, _, mask = case
    lp = lp.copy()
    lp[~mask] = 30.0  # masked actions would dominate without the mask
    P = Categorical(jnp.asarray(lp), jnp.asarray(mask))
    samples = np.asarray(jax.jit(jax.vmap(P.sample))(jax.random.split(jax.random.PRNGKey(0), 4000)))
    assert mask[np.arange(5)[None, :], samples].all()
    freq = np.stack([np.bincount(samples[:, i], minlength=6) for i in range(5)]) / 4000
    np.testing.assert_allclose(freq, _ref(lp, mask), atol=0.03)


def test_masked_gradients_are_finite_and_zero_on_masked_logits(case):
    lp, lq, mask = case
    def f(logits):
        P = Categorical(logits, jnp.asarray(mask))
        return jnp.sum(P.entropy() + P.kl(Categorical(jnp.asarray(lq), jnp.asarray(mask)))
                       + P.log_prob(jnp.asarray(np.argmax(mask, -1))))
    g = np.asarray(jax.jit(jax.grad(f))(jnp.asarray(lp)))
    assert np.isfinite(g).all()
    assert np.all(g[~mask] == 0.0)


def test_no_valid_action_flag():
    assert bool(no_valid_action(jnp.array([[True, False], [False, False]])))
    assert not bool(no_valid_action(jnp.array([[True, False], [False, True]])))
    assert not bool(no_valid_action(None))


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_multi_categorical_is_a_sum_of_independent_components():
    rng = np.random.default_rng(1)
    nvec = (3, 5, 2)
    pad = padding_mask(nvec)
    lp = rng.normal(size=(4, 3, 5)).astype(np.float32)
    lq = rng.normal(size=(4, 3, 5)).astype(np.float32)
    env_mask = rng.random((4, 3, 5)) < 0.7
    env_mask[..., 0] = True
    mask = np.logical_and(env_mask, pad)
    P = MultiCategorical(jnp.asarray(lp), jnp.asarray(mask))
    Q = MultiCategorical(jnp.asarray(lq), jnp.asarray(mask))
    p, q = _ref(lp, mask), _ref(lq, mask)
    action = np.stack([rng.choice(np.flatnonzero(mask[b, k])) for b in range(4) for k in range(3)]).reshape(4, 3)
    ref_logp = np.log(np.take_along_axis(p, action[..., None], -1)[..., 0]).sum(-1)
    np.testing.assert_allclose(np.asarray(P.log_prob(jnp.asarray(action))), ref_logp, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(P.entropy()), _ref_entropy(p).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(P.kl(Q)), _ref_kl(p, q).sum(-1), rtol=1e-4, atol=1e-6)
    samples = np.asarray(jax.jit(jax.vmap(P.sample))(jax.random.split(jax.random.PRNGKey(2), 500)))
    assert samples.shape == (500, 4, 3)
    assert np.all(samples < np.asarray(nvec))  # padding never sampled
    assert mask[np.arange(4)[None, :, None], np.arange(3)[None, None, :], samples].all()
    np.testing.assert_array_equal(np.asarray(P.mode()), np.argmax(np.where(mask, lp, -np.inf), -1))
