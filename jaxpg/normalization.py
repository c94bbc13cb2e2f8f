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

    def update(self, batch: jax.Array) -> "RunningStats":
        """Merge a batch ``[..., size]`` into the statistics."""
        batch = batch.reshape(-1, batch.shape[-1])
        b_mean = batch.mean(0)
        b_var = batch.var(0)
        b_count = batch.shape[0]
        delta = b_mean - self.mean
        total = self.count + b_count
        mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        return RunningStats(mean, m2 / total, total)

    def normalize(self, obs: jax.Array, clip: float = 10.0) -> jax.Array:
        return jnp.clip((obs - self.mean) / jnp.sqrt(self.var + 1e-8), -clip, clip)
