import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpg.distributions import Categorical, DiagGaussian


def test_categorical_closed_forms():
    p = np.array([0.1, 0.2, 0.7])
    q = np.array([0.3, 0.3, 0.4])
    P, Q = Categorical(jnp.log(jnp.asarray(p))), Categorical(jnp.log(jnp.asarray(q)))
    assert float(P.entropy()) == pytest.approx(-(p * np.log(p)).sum(), rel=1e-5)
    assert float(P.kl(Q)) == pytest.approx((p * np.log(p / q)).sum(), rel=1e-5)
    assert float(P.kl(P)) == pytest.approx(0.0, abs=1e-7)
    assert float(P.log_prob(jnp.array(2))) == pytest.approx(np.log(0.7), rel=1e-5)
    assert int(P.mode()) == 2
    samples = jax.vmap(P.sample)(jax.random.split(jax.random.PRNGKey(0), 20000))
    freq = np.bincount(np.asarray(samples), minlength=3) / 20000
    np.testing.assert_allclose(freq, p, atol=0.015)


def test_gaussian_closed_forms():
    mu_p, ls_p = jnp.array([0.0, 1.0]), jnp.log(jnp.array([1.0, 0.5]))
    mu_q, ls_q = jnp.array([1.0, -1.0]), jnp.log(jnp.array([2.0, 1.5]))
    P, Q = DiagGaussian(mu_p, ls_p), DiagGaussian(mu_q, ls_q)
    sp, sq = np.exp(np.asarray(ls_p)), np.exp(np.asarray(ls_q))
    kl = np.sum(np.log(sq / sp) + (sp**2 + (np.asarray(mu_p) - np.asarray(mu_q)) ** 2) / (2 * sq**2) - 0.5)
    assert float(P.kl(Q)) == pytest.approx(kl, rel=1e-5)
    assert float(P.kl(P)) == pytest.approx(0.0, abs=1e-6)
    ent = np.sum(0.5 * np.log(2 * np.pi * np.e * sp**2))
    assert float(P.entropy()) == pytest.approx(ent, rel=1e-5)
    x = jnp.array([0.3, 0.2])
    logpdf = np.sum(-((np.asarray(x) - np.asarray(mu_p)) ** 2) / (2 * sp**2) - np.log(sp * np.sqrt(2 * np.pi)))
    assert float(P.log_prob(x)) == pytest.approx(logpdf, rel=1e-5)
    # Monte Carlo KL agrees with the closed form
    xs = jax.vmap(P.sample)(jax.random.split(jax.random.PRNGKey(1), 200000))
    mc = float(jnp.mean(P.log_prob(xs) - Q.log_prob(xs)))
    assert mc == pytest.approx(kl, rel=0.03)


def test_batched_shapes():
    P = DiagGaussian(jnp.zeros((7, 3)), jnp.zeros((7, 3)))
    assert P.log_prob(jnp.zeros((7, 3))).shape == (7,)
    assert P.entropy().shape == (7,)
    C = Categorical(jnp.zeros((5, 4)))
    assert C.log_prob(jnp.zeros((5,), jnp.int32)).shape == (5,)
    assert float(C.entropy()[0]) == pytest.approx(np.log(4), rel=1e-6)
