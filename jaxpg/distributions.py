"""Action distributions of our own (distrax breaks on current jax).

Both are ``flax.struct`` dataclasses, so they pass through ``jit``/``vmap``/``scan``.
Batch dimensions lead; a DiagGaussian's last axis is the action dimension and is
summed over in ``log_prob``/``entropy``/``kl``.

Bounded continuous actions: the Gaussian is unbounded; the environment wrapper
clips sampled actions to the action bounds (CleanRL/PureJaxRL convention). The
log-probability is that of the *unclipped* sample, which is what the policy
gradient of the unbounded policy needs. See ``jaxpg.envs.core.clip_action``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

_LOG_2PI = math.log(2.0 * math.pi)


@struct.dataclass
class Categorical:
    """Softmax policy over ``n`` actions: ``p(a) = softmax(logits)[a]``."""

    logits: jax.Array  # [..., n]

    @property
    def log_probs_all(self) -> jax.Array:
        return jax.nn.log_softmax(self.logits, axis=-1)

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.categorical(key, self.logits, axis=-1)

    def mode(self) -> jax.Array:
        return jnp.argmax(self.logits, axis=-1)

    def log_prob(self, action: jax.Array) -> jax.Array:
        logp = self.log_probs_all
        return jnp.take_along_axis(logp, action[..., None].astype(jnp.int32), axis=-1)[..., 0]

    def entropy(self) -> jax.Array:
        """``H = -sum_a p(a) log p(a)``."""
        logp = self.log_probs_all
        return -jnp.sum(jnp.exp(logp) * logp, axis=-1)

    def kl(self, other: "Categorical") -> jax.Array:
        """``KL(self || other) = sum_a p(a) (log p(a) - log q(a))``."""
        logp = self.log_probs_all
        logq = other.log_probs_all
        return jnp.sum(jnp.exp(logp) * (logp - logq), axis=-1)


@struct.dataclass
class DiagGaussian:
    """Diagonal Gaussian ``N(mean, diag(exp(log_std))^2)``."""

    mean: jax.Array  # [..., d]
    log_std: jax.Array  # [..., d] (broadcastable to mean)

    def sample(self, key: jax.Array) -> jax.Array:
        noise = jax.random.normal(key, self.mean.shape, self.mean.dtype)
        return self.mean + jnp.exp(self.log_std) * noise

    def mode(self) -> jax.Array:
        return self.mean

    def log_prob(self, action: jax.Array) -> jax.Array:
        """``sum_i [-(a_i - mu_i)^2 / (2 s_i^2) - log s_i - log(2 pi) / 2]``."""
        log_std = jnp.broadcast_to(self.log_std, self.mean.shape)
        z = (action - self.mean) * jnp.exp(-log_std)
        return jnp.sum(-0.5 * z**2 - log_std - 0.5 * _LOG_2PI, axis=-1)

    def entropy(self) -> jax.Array:
        """``sum_i [log s_i + (1 + log 2 pi) / 2]``."""
        log_std = jnp.broadcast_to(self.log_std, self.mean.shape)
        return jnp.sum(log_std + 0.5 * (1.0 + _LOG_2PI), axis=-1)

    def kl(self, other: "DiagGaussian") -> jax.Array:
        """``KL(p || q) = sum_i [log(s_q/s_p) + (s_p^2 + (mu_p - mu_q)^2) / (2 s_q^2) - 1/2]``."""
        lp = jnp.broadcast_to(self.log_std, self.mean.shape)
        lq = jnp.broadcast_to(other.log_std, other.mean.shape)
        var_ratio = jnp.exp(2.0 * (lp - lq))
        mean_term = ((self.mean - other.mean) * jnp.exp(-lq)) ** 2
        return jnp.sum(lq - lp + 0.5 * (var_ratio + mean_term) - 0.5, axis=-1)


Distribution = Categorical | DiagGaussian
