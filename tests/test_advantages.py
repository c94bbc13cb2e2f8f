import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpg import advantages as A


def test_gae_hand_computed_four_steps():
    # gamma = 0.5, lambda = 0.5, so gamma * lambda = 0.25.
    # t:        0    1    2    3
    # r:        1    0    2    1
    # V(s_t):   0.5  1.0  0.0  2.0
    # V(s_t+1): 1.0  0.0  4.0  3.0   (step 2 is truncated: V(final obs) = 4;
    #                                 step 3 ends the segment: V(s_4) = 3)
    # term:     0    0    0    0 ;  trunc: 0 0 1 0
    # deltas = r + 0.5 * V' - V:
    #   d0 = 1 + 0.5 - 0.5 = 1.0
    #   d1 = 0 + 0.0 - 1.0 = -1.0
    #   d2 = 2 + 2.0 - 0.0 = 4.0
    #   d3 = 1 + 1.5 - 2.0 = 0.5
    # A3 = 0.5; A2 = 4.0 (truncation cuts the recursion);
    # A1 = -1 + 0.25 * 4 = 0.0; A0 = 1 + 0.25 * 0 = 1.0
    r = jnp.array([1.0, 0.0, 2.0, 1.0])
    v = jnp.array([0.5, 1.0, 0.0, 2.0])
    nv = jnp.array([1.0, 0.0, 4.0, 3.0])
    term = jnp.array([0, 0, 0, 0], bool)
    trunc = jnp.array([0, 0, 1, 0], bool)
    adv = A.gae(r, v, nv, term, trunc, 0.5, 0.5)
    np.testing.assert_allclose(adv, [1.0, 0.0, 4.0, 0.5], atol=1e-6)


def test_termination_bootstraps_from_zero_truncation_from_final_value():
    r = jnp.array([1.0])
    v = jnp.array([0.0])
    nv = jnp.array([10.0])
    t = jnp.array([True])
    f = jnp.array([False])
    assert float(A.gae(r, v, nv, t, f, 0.9, 0.95)[0]) == pytest.approx(1.0)
    assert float(A.gae(r, v, nv, f, t, 0.9, 0.95)[0]) == pytest.approx(1.0 + 0.9 * 10.0)


def _gae_loop(r, v, nv, term, trunc, gamma, lam):
    T, B = r.shape
    out = np.zeros((T, B))
    for b in range(B):
        nxt = 0.0
        for t in reversed(range(T)):
            delta = r[t, b] + gamma * (1 - term[t, b]) * nv[t, b] - v[t, b]
            done = term[t, b] or trunc[t, b]
            nxt = delta + gamma * lam * (1 - done) * nxt
            out[t, b] = nxt
    return out


def _rtg_loop(r, done, gamma):
    T, B = r.shape
    out = np.zeros((T, B))
    for b in range(B):
        g = 0.0
        for t in reversed(range(T)):
            g = r[t, b] + gamma * (1 - done[t, b]) * g
            out[t, b] = g
    return out


@pytest.mark.parametrize("gamma,lam", [(0.99, 0.95), (0.9, 0.0), (1.0, 1.0)])
def test_gae_scan_matches_python_loop(gamma, lam):
    rng = np.random.default_rng(0)
    T, B = 17, 5
    r, v, nv = (rng.normal(size=(T, B)) for _ in range(3))
    term = rng.random((T, B)) < 0.1
    trunc = (rng.random((T, B)) < 0.1) & ~term
    got = A.gae(*map(jnp.asarray, (r, v, nv, term, trunc)), gamma, lam)
    np.testing.assert_allclose(got, _gae_loop(r, v, nv, term, trunc, gamma, lam), atol=1e-5)


def test_reward_to_go_matches_loop_and_nstep_equals_gae_lambda_one():
    rng = np.random.default_rng(1)
    T, B = 12, 3
    r, v, nv = (rng.normal(size=(T, B)).astype(np.float32) for _ in range(3))
    term = rng.random((T, B)) < 0.15
    trunc = (rng.random((T, B)) < 0.15) & ~term
    done = term | trunc
    # consistent data: V(s_{t+1}) is the next step's value unless the episode ended
    for t in range(T - 1):
        v[t + 1] = np.where(done[t], v[t + 1], nv[t])
    np.testing.assert_allclose(
        A.reward_to_go(jnp.asarray(r), jnp.asarray(done), 0.9), _rtg_loop(r, done, 0.9), atol=1e-5
    )
    nstep = A.nstep_returns(*map(jnp.asarray, (r, nv, term, trunc)), 0.9)
    lam1 = A.td_lambda_returns(*map(jnp.asarray, (r, v, nv, term, trunc)), 0.9, 1.0)
    np.testing.assert_allclose(nstep, lam1, atol=1e-5)


def test_gae_lambda_zero_is_td_error():
    rng = np.random.default_rng(2)
    r, v, nv = (jnp.asarray(rng.normal(size=(6, 2))) for _ in range(3))
    term = jnp.zeros((6, 2), bool)
    np.testing.assert_allclose(
        A.gae(r, v, nv, term, term, 0.9, 0.0), A.td_errors(r, v, nv, term, 0.9), atol=1e-6
    )


def test_explained_variance_and_normalize():
    x = jnp.arange(10.0)
    assert float(A.explained_variance(x, x)) == pytest.approx(1.0)
    assert float(A.explained_variance(jnp.zeros(10), x)) == pytest.approx(0.0, abs=1e-6)
    z = A.normalize(x)
    assert float(z.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(z.std()) == pytest.approx(1.0, abs=1e-4)
    jax.block_until_ready(z)
