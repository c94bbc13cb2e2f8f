"""Natural-gradient pieces against explicit linear algebra."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxpg import natural
from jaxpg.networks import Actor
from jaxpg.envs.core import Box, Discrete



def test_cg_matches_numpy_solve_on_spd_system():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(12, 12))
    a = m @ m.T + 0.5 * np.eye(12)  # SPD, moderately conditioned
    b = rng.normal(size=12)
    x, res = jax.jit(lambda b: natural.conjugate_gradient(lambda v: jnp.asarray(a, jnp.float32) @ v, b, 40))(
        jnp.asarray(b, jnp.float32)
    )
    expected = np.linalg.solve(a, b)
    np.testing.assert_allclose(np.asarray(x), expected, rtol=2e-3, atol=2e-3)
    assert float(res) < 1e-3 * np.linalg.norm(b)


def test_cg_with_few_iterations_reports_its_residual():
    a = jnp.diag(jnp.arange(1.0, 21.0))
    b = jnp.ones(20)
    _, res3 = natural.conjugate_gradient(lambda v: a @ v, b, 3)
    _, res20 = natural.conjugate_gradient(lambda v: a @ v, b, 20)
    assert float(res3) > 1e-2 and float(res20) < 1e-3


@pytest.mark.parametrize("iters", [3, 40])
def test_cg_product_is_a_times_x_without_another_matvec(iters):
    rng = np.random.default_rng(1)
    m = rng.normal(size=(12, 12))
    a = jnp.asarray(m @ m.T + 0.5 * np.eye(12), jnp.float32)
    b = jnp.asarray(rng.normal(size=12), jnp.float32)
    calls = []

    def matvec(v):
        calls.append(1)  # counted at trace time: one per traced product
        return a @ v

    x, ax = jax.jit(lambda b: natural.conjugate_gradient_with_product(matvec, b, iters))(b)
    assert len(calls) == 1  # the loop body only: no product after the loop
    np.testing.assert_allclose(np.asarray(ax), np.asarray(a @ x), rtol=1e-4, atol=1e-4 * float(jnp.linalg.norm(b)))
    # the recursive residual is the true one up to rounding, converged or not
    x2, res = natural.conjugate_gradient(lambda v: a @ v, b, iters)
    np.testing.assert_allclose(np.asarray(x), np.asarray(x2), rtol=1e-6)
    assert float(jnp.linalg.norm(b - ax)) == pytest.approx(float(res), rel=1e-2, abs=1e-4)


def _tiny_policy(discrete: bool):
    space = Discrete(3) if discrete else Box((2,), -1.0, 1.0)
    actor = Actor(space, hidden=(5,))
    params = actor.init(jax.random.PRNGKey(0), jnp.zeros(4))
    # Make the policy non-trivial (the init has a tiny output layer).
    params = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.PRNGKey(1), p.shape), params)
    obs = jax.random.normal(jax.random.PRNGKey(2), (16, 4))
    flat, unravel = ravel_pytree(params)
    return actor, unravel, flat, obs


@pytest.mark.parametrize("discrete", [True, False])
def test_fisher_vector_product_matches_explicit_fisher(discrete):
    actor, unravel, x0, obs = _tiny_policy(discrete)
    old = jax.lax.stop_gradient(actor.apply(unravel(x0), obs))
    kl = lambda x: old.kl(actor.apply(unravel(x), obs)).mean()
    # Explicit Fisher E_s E_{a~pi}[grad log pi grad log pi^T], exact in both cases:
    # categorical: sum over the 3 actions; Gaussian: through its sufficient
    # parameters, F = J_mu^T diag(1/sigma^2) J_mu + 2 J_logstd^T J_logstd (per state).
    if discrete:
        def fisher_s(o):
            jac = jax.jacobian(lambda x: actor.apply(unravel(x), o).log_probs_all)(x0)  # [3, P]
            p = jnp.exp(actor.apply(unravel(x0), o).log_probs_all)
            return jnp.einsum("a,ai,aj->ij", p, jac, jac)
    else:
        def fisher_s(o):
            j_mu = jax.jacobian(lambda x: actor.apply(unravel(x), o).mean)(x0)  # [2, P]
            j_ls = jax.jacobian(lambda x: actor.apply(unravel(x), o).log_std)(x0)
            inv_var = jnp.exp(-2.0 * actor.apply(unravel(x0), o).log_std)
            return jnp.einsum("d,di,dj->ij", inv_var, j_mu, j_mu) + 2.0 * j_ls.T @ j_ls
    fisher = jax.vmap(fisher_s)(obs).mean(0)
    hessian = jax.hessian(kl)(x0)
    v = jax.random.normal(jax.random.PRNGKey(5), x0.shape)
    fvp = natural.fisher_vector_product(kl, x0, damping=0.1)
    got = fvp(v)
    np.testing.assert_allclose(got, hessian @ v + 0.1 * v, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got, fisher @ v + 0.1 * v, rtol=1e-3, atol=1e-4)


def _surrogate_problem(discrete: bool):
    """``(x0, mean KL(pi_x0 || pi_x), surrogate objective, its gradient at x0)``."""
    actor, unravel, x0, obs = _tiny_policy(discrete)
    old = jax.lax.stop_gradient(actor.apply(unravel(x0), obs))
    kl = lambda x: old.kl(actor.apply(unravel(x), obs)).mean()
    adv = jax.random.normal(jax.random.PRNGKey(7), (16,))
    acts = old.sample(jax.random.PRNGKey(8))
    logp_old = old.log_prob(acts)
    obj = lambda x: jnp.mean(jnp.exp(actor.apply(unravel(x), obs).log_prob(acts) - logp_old) * adv)
    g = jax.grad(obj)(x0)
    return x0, kl, obj, g


def test_natural_step_hits_kl_radius_and_line_search_respects_it():
    x0, kl, obj, g = _surrogate_problem(discrete=True)
    fvp = natural.fisher_vector_product(kl, x0, 1e-3)
    d, _ = natural.conjugate_gradient(fvp, g, 50)
    delta = 1e-3
    step, _ = natural.natural_step(d, fvp, g, delta)
    # The quadratic model is accurate for a small radius: KL ~ delta.
    assert float(kl(x0 + step)) == pytest.approx(delta, rel=0.2)
    # A step 100x too big: the line search backs off to KL <= delta and improves.
    x_new, frac, kl_acc = natural.backtracking_line_search(obj, kl, x0, 10 * step, delta, 0.5, 15)
    assert 0 < float(frac) < 1
    assert float(kl(x_new)) <= delta * 1.001 and float(kl_acc) <= delta * 1.001
    assert float(obj(x_new)) > float(obj(x0))
    # An ascent-less direction is rejected: no step.
    x_rej, frac_rej, _ = natural.backtracking_line_search(obj, kl, x0, -step, delta, 0.5, 10)
    assert float(frac_rej) == 0.0 and np.array_equal(np.asarray(x_rej), np.asarray(x0))


def test_natural_step_scaled_by_undamped_fisher_meets_the_radius():
    """NPG's promise: the step's quadratic KL model 0.5 s^T F s (F undamped) is delta
    even when CG ran on F + lambda I; the true KL is then delta up to third order.
    Scaling with the damped product instead (the old rule) falls well short."""
    x0, kl, obj, g = _surrogate_problem(discrete=False)
    damped = natural.fisher_vector_product(kl, x0, 0.1)
    undamped = natural.fisher_vector_product(kl, x0)
    d, _ = natural.conjugate_gradient(damped, g, 10)
    delta = 1e-3
    step, _ = natural.natural_step(d, undamped, g, delta)
    assert float(0.5 * step @ undamped(step)) == pytest.approx(delta, rel=1e-4)
    assert float(kl(x0 + step)) == pytest.approx(delta, rel=0.1)
    short, _ = natural.natural_step(d, damped, g, delta)
    assert float(kl(x0 + short)) < 0.9 * delta


def test_cg_damping_below_the_floor_is_refused():
    from jaxpg.config import MIN_CG_DAMPING, HParams
    from jaxpg.errors import ConfigError

    HParams(cg_damping=MIN_CG_DAMPING).validate()
    with pytest.raises(ConfigError, match="cg_damping"):
        HParams(cg_damping=0.0).validate()
