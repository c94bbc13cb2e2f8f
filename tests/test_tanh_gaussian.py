"""The tanh-squashed Gaussian policy head (jaxpg.distributions.TanhGaussian)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxpg.distributions import DiagGaussian, TanhGaussian, log_det_tanh_jacobian


def test_log_prob_matches_change_of_variables_density():
    # p_A(a) = p_U(atanh a) * |d atanh(a) / da|, the derivative taken numerically
    mean, std = 0.7, 0.9
    dist = TanhGaussian(jnp.array([mean]), jnp.log(jnp.array([std])))
    a = np.linspace(-0.995, 0.995, 41)
    h = 1e-6
    datanh = (np.arctanh(a + h) - np.arctanh(a - h)) / (2 * h)
    numeric = stats.norm.pdf(np.arctanh(a), mean, std) * datanh
    ours = np.exp(np.asarray(jax.vmap(dist.log_prob)(jnp.asarray(np.arctanh(a))[:, None])))
    np.testing.assert_allclose(ours, numeric, rtol=2e-4)
    # the squashed-action entry point agrees, and the density integrates to 1 on (-1, 1)
    via_a = np.exp(np.asarray(jax.vmap(dist.log_prob_squashed)(jnp.asarray(a)[:, None])))
    np.testing.assert_allclose(via_a, numeric, rtol=2e-4)
    grid = np.linspace(-1 + 1e-7, 1 - 1e-7, 20001)
    dens = np.exp(np.asarray(dist.log_prob_squashed(jnp.asarray(grid)[:, None])))
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=2e-3)


def test_log_det_jacobian_stable_and_exact():
    u = jnp.array([-30.0, -9.0, -1.0, 0.0, 0.5, 9.0, 30.0])
    ours = np.asarray(log_det_tanh_jacobian(u))
    ok = np.abs(np.asarray(u)) < 15
    exact = np.log1p(-np.tanh(np.float64(np.asarray(u)[ok])) ** 2)  # float64 reference
    np.testing.assert_allclose(ours[ok], exact, rtol=1e-5, atol=1e-6)
    # large |u|: log(1 - tanh^2) ~ 2 log 2 - 2|u|; float32 tanh(30) == 1 exactly
    np.testing.assert_allclose(ours[~ok], 2 * np.log(2) - 2 * np.abs(np.asarray(u)[~ok]), rtol=1e-6)
    assert np.all(np.isfinite(ours))


@pytest.mark.parametrize("u", [5.0, 12.0, 40.0, -40.0])
def test_gradients_finite_when_saturated(u):
    # |a| = |tanh(u)| -> 1 (exactly 1 in float32 for |u| > ~9)
    def logp(mean, log_std, action):
        return TanhGaussian(mean, log_std).log_prob(action)

    grads = jax.grad(logp, argnums=(0, 1, 2))(jnp.zeros(2), jnp.zeros(2), jnp.full((2,), u))
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g)))
    assert np.isfinite(float(logp(jnp.zeros(2), jnp.zeros(2), jnp.full((2,), u))))
    ent_grad = jax.grad(lambda m: TanhGaussian(m, jnp.zeros(2)).entropy())(jnp.full((2,), u))
    assert np.all(np.isfinite(np.asarray(ent_grad)))


@pytest.mark.parametrize("mean,std", [(0.0, 0.3), (1.5, 1.0), (-0.5, 3.0)])
def test_entropy_estimate_matches_monte_carlo(mean, std):
    d = 3
    dist = TanhGaussian(jnp.full((d,), mean), jnp.full((d,), np.log(std)))
    u = jax.vmap(dist.sample)(jax.random.split(jax.random.PRNGKey(0), 100_000))
    mc = -np.asarray(dist.log_prob(u), np.float64)
    half = 2.6 * mc.std() / np.sqrt(mc.size)  # ~99% interval of the MC mean
    assert float(dist.entropy()) == pytest.approx(mc.mean(), abs=half + 2e-3)
    # squashing loses entropy: below the Gaussian's
    assert float(dist.entropy()) < float(DiagGaussian(dist.mean, dist.log_std).entropy())


def test_kl_is_the_gaussian_kl_and_matches_monte_carlo():
    p = TanhGaussian(jnp.array([0.3, -1.0]), jnp.log(jnp.array([0.5, 1.2])))
    q = TanhGaussian(jnp.array([0.8, -0.4]), jnp.log(jnp.array([0.7, 0.9])))
    u = jax.vmap(p.sample)(jax.random.split(jax.random.PRNGKey(1), 100_000))
    # Monte Carlo on the *squashed* densities: E_p[log p(a) - log q(a)]
    ratio = np.asarray(p.log_prob(u) - q.log_prob(u), np.float64)
    half = 2.6 * ratio.std() / np.sqrt(ratio.size)
    assert float(p.kl(q)) == pytest.approx(ratio.mean(), abs=half + 1e-3)
    assert float(p.kl(p)) == pytest.approx(0.0, abs=1e-7)


def test_mode_and_batched_shapes():
    dist = TanhGaussian(jnp.ones((5, 2)), jnp.zeros((5, 2)))
    assert dist.mode().shape == (5, 2)
    np.testing.assert_allclose(np.tanh(np.asarray(dist.mode())), np.tanh(1.0), rtol=1e-6)
    assert dist.log_prob(jnp.zeros((5, 2))).shape == (5,)
    assert dist.entropy().shape == (5,)
    assert dist.kl(dist).shape == (5,)


# The class docstring's stated error of the 32-point rule, per dimension (worst over the
# means below), with a 1.3x margin: a coarser rule or a wrong node scaling fails this.
STATED_ERROR = {1.0: 1e-7, 2.0: 1.7e-4, 3.0: 2.7e-3, 4.0: 1.1e-2, 5.0: 2.6e-2, 8.0: 9.5e-2}


def _entropy_reference(mean: float, std: float) -> float:
    """H(tanh(u)) of one dimension by adaptive float64 quadrature (split at the bend at 0)."""
    import math

    from scipy import integrate

    def integrand(u):
        log_det = 2.0 * (math.log(2.0) - u - np.logaddexp(0.0, -2.0 * u))
        return log_det * stats.norm.pdf(u, mean, std)

    e, _ = integrate.quad(integrand, mean - 12 * std, mean + 12 * std, points=[0.0], limit=500, epsabs=1e-13)
    return float(np.log(std) + 0.5 * (1.0 + np.log(2 * np.pi)) + e)


def test_entropy_error_is_what_the_docstring_states():
    means = (0.0, 0.5, 2.0)
    stds = tuple(STATED_ERROR)
    m, s = np.meshgrid(means, stds, indexing="ij")
    est = np.asarray(TanhGaussian(jnp.asarray(m.reshape(-1, 1), jnp.float32),
                                  jnp.asarray(np.log(s).reshape(-1, 1), jnp.float32)).entropy())
    ref = np.array([_entropy_reference(a, b) for a, b in zip(m.ravel(), s.ravel())])
    err = np.abs(est - ref).reshape(len(means), len(stds)).max(0)
    for std, e in zip(stds, err):
        # float32 evaluation adds ~1e-6 of rounding to the rule's own error
        assert e <= 1.3 * STATED_ERROR[std] + 2e-6, (std, e)
    assert err[-1] > 0.05  # and it really is that large for wide Gaussians (not a vacuous bound)
