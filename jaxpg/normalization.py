"""Running observation statistics kept in the train state.

Observations may be pytrees (dicts of arrays, images): the statistics are kept per
float leaf with that leaf's shape; integer and boolean leaves (an ``action_mask``,
a board of piece ids) are neither tracked nor normalized.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct


def _is_float(x) -> bool:
    return jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)


@struct.dataclass
class RunningStats:
    """Mean and variance of everything seen so far (Chan et al. parallel update).

    ``mean``/``var`` have the structure of one observation; a non-float leaf holds a
    scalar placeholder. ``count`` is shared (every leaf sees every observation)."""

    mean: Any
    var: Any
    count: jax.Array

    @classmethod
    def create(cls, example: int | Any) -> "RunningStats":
        """Statistics for observations like ``example`` (one unbatched observation, or
        the size of a flat one)."""
        if isinstance(example, int):
            example = jax.ShapeDtypeStruct((example,), jnp.float32)
        shape = lambda x: x.shape if _is_float(jnp.zeros((), x.dtype)) else ()
        mean = jax.tree.map(lambda x: jnp.zeros(shape(x)), example)
        var = jax.tree.map(lambda x: jnp.ones(shape(x)), example)
        return cls(mean, var, jnp.asarray(1e-4))

    def update(self, batch: Any, mask: jax.Array | None = None) -> "RunningStats":
        """Merge a batch ``[..., *shape]`` into the statistics (only the rows where
        ``mask [...]`` is 1, when given: REINFORCE's steps after an episode's end)."""
        leaves, treedef = jax.tree.flatten(batch)
        means, vars_ = treedef.flatten_up_to(self.mean), treedef.flatten_up_to(self.var)
        out_m, out_v, total = [], [], self.count
        for x, m0, v0 in zip(leaves, means, vars_):
            if not _is_float(x):
                out_m.append(m0), out_v.append(v0)
                continue
            m, v, total = _merge(x.reshape((-1,) + m0.shape), m0, v0, self.count, mask)
            out_m.append(m), out_v.append(v)
        return RunningStats(treedef.unflatten(out_m), treedef.unflatten(out_v), total)

    def normalize(self, obs: Any, clip: float = 10.0) -> Any:
        def leaf(x, m, v):
            if not _is_float(x):
                return x
            return jnp.clip((x - m) / jnp.sqrt(v + 1e-8), -clip, clip)

        return jax.tree.map(leaf, obs, self.mean, self.var)


def _merge(batch, mean, var, count, mask):
    """Chan et al.: statistics of the union of ``count`` seen rows and ``batch [n, ...]``."""
    if mask is None:
        b_mean, b_var, b_count = batch.mean(0), batch.var(0), batch.shape[0]
    else:
        m = mask.reshape((-1,) + (1,) * (batch.ndim - 1))
        b_count = jnp.maximum(m.sum(), 1.0)
        b_mean = (batch * m).sum(0) / b_count
        b_var = (((batch - b_mean) ** 2) * m).sum(0) / b_count
    delta = b_mean - mean
    total = count + b_count
    new_mean = mean + delta * b_count / total
    m2 = var * count + b_var * b_count + delta**2 * count * b_count / total
    return new_mean, m2 / total, total
