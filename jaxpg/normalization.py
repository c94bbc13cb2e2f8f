"""Running observation statistics kept in the train state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class RunningStats:
    """Mean and variance of everything seen so far (Chan et al. parallel update)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, size: int) -> "RunningStats":
        return cls(jnp.zeros((size,)), jnp.ones((size,)), jnp.asarray(1e-4))

    def update(self, batch: jax.Array, mask: jax.Array | None = None) -> "RunningStats":
        """Merge a batch ``[..., size]`` into the statistics (only the rows where
        ``mask [...]`` is 1, when given: REINFORCE's steps after an episode's end)."""
        batch = batch.reshape(-1, batch.shape[-1])
        if mask is None:
            b_mean, b_var, b_count = batch.mean(0), batch.var(0), batch.shape[0]
        else:
            m = mask.reshape(-1, 1)
            b_count = jnp.maximum(m.sum(), 1.0)
            b_mean = (batch * m).sum(0) / b_count
            b_var = (((batch - b_mean) ** 2) * m).sum(0) / b_count
        delta = b_mean - self.mean
        total = self.count + b_count
        mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        return RunningStats(mean, m2 / total, total)

    def normalize(self, obs: jax.Array, clip: float = 10.0) -> jax.Array:
        return jnp.clip((obs - self.mean) / jnp.sqrt(self.var + 1e-8), -clip, clip)
