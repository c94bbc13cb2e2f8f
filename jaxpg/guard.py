"""Non-finite guard: a cheap int code per update saying what went NaN/inf first.

Inside the compiled update, :func:`nonfinite_code` looks at the update's scalar
metrics (by their declared roles, :mod:`jaxpg.metrics`) and the new parameters and returns one ``int32``: 0 when everything is
finite, else the code of the *earliest* quantity in the causal chain

    observations -> advantages (rewards, returns) -> loss -> gradient -> parameters

that is non-finite. A NaN observation makes every later quantity NaN too, so the
earliest one in this order is the cause worth reporting. The driver reads the
codes of a chunk on the host and stops at the first non-zero one
(:func:`first_nonfinite`). Cost: one ``isfinite`` reduction over the parameters
and over a few dozen scalars per update.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.metrics import ADVANTAGES, GRADIENT, LOSS, OBSERVATIONS, PARAMETERS, Record, Role, guard_link  # noqa: F401 - the chain's codes, re-exported

NONFINITE_NAMES = ("", "observations", "advantages", "loss", "gradient", "parameters")
METRIC = "nonfinite"


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if _is_float(x)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _is_float(x) -> bool:
    return jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)


def nonfinite_code(metrics: Record, state) -> jax.Array:
    """``int32`` code (0 = all finite) of the earliest non-finite quantity of an update.

    Each metric joins the link of the chain its role declares
    (:func:`jaxpg.metrics.guard_link`): ``FINITE`` flags (1 finite, 0 not, computed
    where the raw data lives, e.g. ``obs_finite``) count as they say; the other
    float metrics are checked for NaN/inf. ``state`` contributes its parameters, its
    current observations and the observation statistics.
    """
    ok = {c: [jnp.asarray(True)] for c in range(1, len(NONFINITE_NAMES))}
    for _, meta, value in metrics.fields():
        link = guard_link(meta)
        if link is None:
            continue
        if meta["role"] is Role.FINITE:
            ok[link].append(jnp.asarray(value) > 0)
        elif _is_float(value):
            ok[link].append(jnp.all(jnp.isfinite(value)))
    ok[OBSERVATIONS].append(_all_finite((state.obs, state.obs_stats)))
    ok[PARAMETERS].append(_all_finite(state.params))
    code = jnp.zeros((), jnp.int32)
    # Walk the chain backwards so the earliest failing link is written last.
    for c in range(len(NONFINITE_NAMES) - 1, 0, -1):
        bad = jnp.logical_not(jnp.all(jnp.stack(ok[c])))
        code = jnp.where(bad, jnp.int32(c), code)
    return code


def first_nonfinite(codes: np.ndarray) -> tuple[int, str] | None:
    """``(index, quantity)`` of the first non-zero code in a chunk's ``[n]`` codes."""
    codes = np.asarray(codes).reshape(-1)
    bad = np.flatnonzero(codes)
    if bad.size == 0:
        return None
    i = int(bad[0])
    return i, NONFINITE_NAMES[int(codes[i])]
