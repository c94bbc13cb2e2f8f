"""Natural-gradient machinery: Fisher-vector products, conjugate gradient, KL line search.

Used by NPG (Kakade 2001) and TRPO (Schulman et al. 2015). All of it works on
*flat* parameter vectors (``jax.flatten_util.ravel_pytree``) and is pure and
compiled: CG has a fixed iteration count (``lax.fori_loop``), the line search a
fixed number of trials (evaluated together with ``vmap``), so an NPG/TRPO update
is one jitted function that can be vmapped over seeds and hyperparameters.

The Fisher matrix of the policy is the Hessian of the mean KL divergence at the
data policy: ``F = d^2/dtheta^2 E_s[KL(pi_old(.|s) || pi_theta(.|s))] |_{theta=old}``.
A product ``F v`` is a Hessian-vector product, computed forward-over-reverse as
``jvp(grad(kl), (theta,), (v,))`` without ever forming ``F``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxpg.linalg import conjugate_gradient  # noqa: F401  (re-exported: natural.conjugate_gradient)

FlatFn = Callable[[jax.Array], jax.Array]


def hvp(f: FlatFn, x: jax.Array, v: jax.Array) -> jax.Array:
    """Hessian-vector product ``(d^2 f / dx^2)(x) v``, forward-over-reverse."""
    return jax.jvp(jax.grad(f), (x,), (v,))[1]


def fisher_vector_product(kl_fn: FlatFn, x: jax.Array, damping: float | jax.Array = 0.0):
    """Return ``v -> (F + damping I) v`` with ``F`` the Hessian of ``kl_fn`` at ``x``.

    ``kl_fn(theta)`` must be the mean ``KL(pi_old || pi_theta)`` with ``pi_old``
    held fixed (``stop_gradient``) and equal to ``pi_x``; its Hessian at ``x`` is
    then the Fisher information ``E[grad log pi grad log pi^T]``. The damping
    (Levenberg-Marquardt style) keeps CG well posed where ``F`` is singular.
    """

    def fvp(v: jax.Array) -> jax.Array:
        return hvp(kl_fn, x, v) + damping * v

    return fvp


def natural_step(
    direction: jax.Array, fvp: FlatFn, grad: jax.Array, max_kl: float | jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Scale the natural direction ``x ~ F^-1 g`` to the KL radius ``delta``.

    The quadratic model ``KL(theta + a x) ~ a^2 x^T F x / 2`` equals ``delta`` at
    ``a = sqrt(2 delta / x^T F x)``. Pass the *undamped* Fisher product as ``fvp``
    (``fisher_vector_product(kl, x0)``) even when ``x`` came from damped CG: with
    ``F + lambda I`` here the step's true KL falls short of ``delta`` (by 21-31% at
    ``lambda = 0.1`` on CartPole, measured), breaking the documented radius.
    Returns ``(a x, g^T x)``; the second is the expected first-order improvement
    per unit step (used by the line search's ratio and as a diagnostic).
    """
    shs = jnp.maximum(jnp.vdot(direction, fvp(direction)), 1e-12)
    alpha = jnp.sqrt(2.0 * max_kl / shs)
    return alpha * direction, jnp.vdot(grad, direction) * alpha


def backtracking_line_search(
    objective: FlatFn,
    kl_fn: FlatFn,
    x: jax.Array,
    full_step: jax.Array,
    max_kl: float | jax.Array,
    backtrack: float | jax.Array,
    num_trials: int,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """TRPO's line search: the largest ``backtrack^k * full_step`` that keeps the
    mean KL <= ``max_kl`` and improves the surrogate ``objective`` (to maximise).

    All ``num_trials`` candidates (k = 0 .. num_trials-1) are evaluated at once
    (``vmap``) and the first acceptable one taken; if none is, no step is made.
    Returns ``(new_x, accepted_fraction, kl)``: the fraction of the full step
    taken (0 when rejected) and the KL of the accepted point (0 when rejected).
    """
    fractions = backtrack ** jnp.arange(num_trials, dtype=x.dtype)
    base = objective(x)

    def trial(frac):
        cand = x + frac * full_step
        return objective(cand) - base, kl_fn(cand)

    improve, kls = jax.vmap(trial)(fractions)
    ok = jnp.logical_and(jnp.logical_and(kls <= max_kl, improve > 0), jnp.isfinite(improve))
    first = jnp.argmax(ok)
    any_ok = jnp.any(ok)
    frac = jnp.where(any_ok, fractions[first], 0.0)
    return x + frac * full_step, frac, jnp.where(any_ok, kls[first], 0.0)
