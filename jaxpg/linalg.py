"""Linear algebra without LAPACK: Householder QR, Haar-orthogonal initialisation, SPD solves.

Why this module exists: on XLA's CPU backend, ``jnp.linalg.qr``/``solve``/``cholesky``
lower to LAPACK custom calls (``lapack_sgeqrf_ffi``, ``lapack_sgetrf_ffi``, ...). Under
``vmap`` they become *batched* kernels that split their batch into tasks on the same
intra-op thread pool they run on; when concurrent kernels (independent thunks of one
program, or the programs of several host devices) occupy every pool thread, nobody is
left to run those tasks and the process deadlocks (measured with jaxlib 0.10.2; see
``docs/jaxlib-cpu-deadlock.md``). Everything here is plain ``jnp`` arithmetic in a
``lax.fori_loop``, so it lowers to ordinary HLO on every backend, vmaps, and cannot
hit that deadlock. ``tests/test_no_lapack.py`` guards every training program.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

FlatFn = Callable[[jax.Array], jax.Array]


def householder_qr(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Reduced QR of a tall matrix ``a [m, n]`` (``m >= n``) by Householder reflections.

    Reflection ``j`` maps column ``j`` of the partly reduced matrix, below the
    diagonal, onto ``-sign(a_jj) |a_j| e_j`` (the sign that avoids cancellation),
    so orthogonality of ``Q`` holds to rounding error whatever the conditioning of
    ``a`` (unlike Gram-Schmidt). Rows above ``j`` are masked instead of sliced so
    the loop body has static shapes.

    Returns ``(q [m, n], r [n, n])`` with ``a = q r``; the signs of ``diag(r)`` are
    LAPACK's convention, not normalised (see :func:`haar_orthogonal`).
    """
    m, n = a.shape
    if m < n:
        raise ValueError(f"householder_qr needs a tall matrix (m >= n), got {a.shape}")
    rows = jnp.arange(m)

    def reflect(j, carry):
        r, q = carry
        x = jnp.where(rows >= j, r[:, j], 0.0)
        x_j = r[j, j]
        norm_x = jnp.sqrt(jnp.sum(x * x))
        alpha = -jnp.where(x_j >= 0, 1.0, -1.0) * norm_x
        v = x - alpha * (rows == j)
        v_norm2 = jnp.sum(v * v)
        # A zero column needs no reflection (v = 0): skip it instead of dividing by 0.
        tau = jnp.where(v_norm2 > 0, 2.0 / jnp.where(v_norm2 > 0, v_norm2, 1.0), 0.0)
        r = r - tau * jnp.outer(v, v @ r)
        q = q - tau * jnp.outer(q @ v, v)
        return r, q

    r, q = jax.lax.fori_loop(0, n, reflect, (a, jnp.eye(m, dtype=a.dtype)))
    return q[:, :n], jnp.triu(r[:n, :])


def haar_orthogonal(key: jax.Array, n_rows: int, n_cols: int, dtype=jnp.float32) -> jax.Array:
    """A Haar-distributed matrix with orthonormal columns (or rows, if wider than tall).

    Mezzadri (2007): QR of a standard Gaussian matrix, then flip each column of ``Q``
    by the sign of the matching diagonal entry of ``R``; without the flip ``Q`` is not
    Haar. The same recipe as ``jax.random.orthogonal`` / flax's ``orthogonal``
    initialiser, computed with :func:`householder_qr`.
    """
    tall, short = max(n_rows, n_cols), min(n_rows, n_cols)
    z = jax.random.normal(key, (tall, short), jnp.float32)
    q, r = householder_qr(z)
    q = q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)
    q = q if n_rows >= n_cols else q.T
    return q.astype(dtype)


# Why jitted: flax checks every parameter's shape on each ``apply`` by tracing its
# initializer (``jax.eval_shape`` in ``flax.core.scope.param``), so every network call
# in a training program traced a Householder loop per layer again (24 of the 30
# traces of the PPO program). A jitted function is traced once per shape and key type
# and its trace reused; the compiled numbers are the same (the call is inlined).
_haar_orthogonal_jit = jax.jit(lambda key, n_rows, n_cols, dtype: haar_orthogonal(key, n_rows, n_cols, dtype),
                               static_argnums=(1, 2, 3))  # fmt: skip


def orthogonal(scale: float = 1.0, column_axis: int = -1):
    """Drop-in, LAPACK-free replacement for ``flax.linen.initializers.orthogonal``.

    The kernel is reshaped to a matrix whose columns are ``column_axis``, as flax does;
    the result has the same (Haar) distribution times ``scale``.
    """

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        if len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        q = _haar_orthogonal_jit(key, n_rows, n_cols, dtype)
        q = jnp.reshape(q, tuple(np.delete(np.array(shape), column_axis)) + (n_cols,))
        return jnp.asarray(scale, dtype) * jnp.moveaxis(q, -1, column_axis)

    return init


def conjugate_gradient(
    matvec: FlatFn, b: jax.Array, iters: int, tol: float | jax.Array = 1e-10
) -> tuple[jax.Array, jax.Array]:
    """Solve ``A x = b`` for symmetric positive-definite ``A`` given only ``x -> A x``.

    Standard CG (Hestenes & Stiefel 1952; the TRPO appendix variant) from
    ``x_0 = 0`` for exactly ``iters`` iterations; once ``|r|^2 < tol`` the
    iterate is frozen (a branch-free stop, so the loop compiles and vmaps).
    Returns ``(x, |b - A x|)``, the residual norm recomputed from ``x``.
    """
    x, _ = conjugate_gradient_with_product(matvec, b, iters, tol)
    return x, jnp.linalg.norm(b - matvec(x))


def conjugate_gradient_with_product(
    matvec: FlatFn, b: jax.Array, iters: int, tol: float | jax.Array = 1e-10
) -> tuple[jax.Array, jax.Array]:
    """:func:`conjugate_gradient`, returning ``(x, A x)`` with no product after the loop.

    CG keeps its residual ``r = b - A x`` up to date by recursion (``r -= alpha A p``),
    so ``A x = b - r`` comes free; callers that need ``A x`` (the residual, or the
    quadratic form ``x^T A x``) save a ``matvec`` each. For the natural gradient a
    ``matvec`` is a Hessian-vector product through the policy on the whole batch,
    the most expensive piece of the update (and of its compiled program).
    The recursive residual drifts from the true one by rounding only (tested).
    """
    x0 = jnp.zeros_like(b)
    r0 = b
    p0 = b
    rr0 = jnp.vdot(r0, r0)

    def body(_, carry):
        x, r, p, rr = carry
        active = rr > tol
        ap = matvec(p)
        alpha = rr / jnp.where(active, jnp.vdot(p, ap), 1.0)
        x_new = x + alpha * p
        r_new = r - alpha * ap
        rr_new = jnp.vdot(r_new, r_new)
        p_new = r_new + (rr_new / jnp.where(active, rr, 1.0)) * p
        keep = lambda new, old: jnp.where(active, new, old)
        return keep(x_new, x), keep(r_new, r), keep(p_new, p), keep(rr_new, rr)

    x, r, _, _ = jax.lax.fori_loop(0, iters, body, (x0, r0, p0, rr0))
    return x, b - r


def solve_spd(a: jax.Array, b: jax.Array, iters: int | None = None) -> jax.Array:
    """Solve ``a x = b`` for a small symmetric positive-definite ``a`` by conjugate gradient.

    Jacobi (diagonal) preconditioning first: CG runs on ``D a D y = D b`` with
    ``D = diag(a)^-1/2`` and ``x = D y``, which removes the badly mixed scales of
    polynomial features. In exact arithmetic CG is exact after ``n`` iterations;
    in float32 conjugacy is lost and ill-conditioned systems need many more: at
    ``n = 30`` with a (Jacobi-scaled) condition number near 1e5, ``3 n`` iterations
    leave a relative error of ~3e-2 and ``10 n`` ~7e-5 (``tests/test_properties.py``),
    hence the default ``10 n``. The loop stops early (frozen iterate) once the residual
    is below 1e-6 of ``|b|``, so well-conditioned systems pay little for it.
    """
    n = a.shape[0]
    d = jax.lax.rsqrt(jnp.maximum(jnp.diagonal(a), jnp.finfo(a.dtype).tiny))
    scaled = a * d[:, None] * d[None, :]
    rhs = b * d
    tol = 1e-12 * jnp.vdot(rhs, rhs)  # relative: stop once |r| < 1e-6 |b|
    y, _ = conjugate_gradient(lambda v: scaled @ v, rhs, iters or 10 * n, tol=tol)
    return y * d
