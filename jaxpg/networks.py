"""Actor and critic MLPs (flax.linen), built by a factory from the env's spaces.

Separate actor and critic networks (no shared torso), orthogonal initialisation
with a small final-layer scale for the policy (Andrychowicz et al. 2021),
computed without LAPACK (:func:`jaxpg.linalg.orthogonal`, see that module for why):
the initial policy is near-uniform / near-zero-mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.distributions import Categorical, DiagGaussian
from jaxpg.envs.core import ActionSpace
from jaxpg.linalg import orthogonal

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "elu": nn.elu, "gelu": nn.gelu, "swish": nn.swish}


class MLP(nn.Module):
    """``hidden`` layers of ``activation``, then a linear layer of ``out`` units."""

    hidden: Sequence[int]
    out: int
    activation: str = "tanh"
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(nn.Dense(width, kernel_init=orthogonal(np.sqrt(2)))(x))
        return nn.Dense(self.out, kernel_init=orthogonal(self.out_scale))(x)


class Actor(nn.Module):
    """Policy head: softmax over logits, or a Gaussian with state-independent log-std."""

    action_space: ActionSpace
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    log_std_init: float = 0.0

    @nn.compact
    def __call__(self, obs):
        if self.action_space.is_discrete:
            logits = MLP(self.hidden, self.action_space.n, self.activation, 0.01)(obs)
            return Categorical(logits)
        size = self.action_space.size
        mean = MLP(self.hidden, size, self.activation, 0.01)(obs)
        log_std = self.param("log_std", nn.initializers.constant(self.log_std_init), (size,))
        return DiagGaussian(mean, jnp.broadcast_to(log_std, mean.shape))


class Critic(nn.Module):
    """State-value head ``V(s)``, a scalar per observation."""

    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"

    @nn.compact
    def __call__(self, obs):
        return MLP(self.hidden, 1, self.activation, 1.0)(obs)[..., 0]


@dataclass(frozen=True)
class Networks:
    actor: Actor
    critic: Critic

    def init(self, key: jax.Array, obs_size: int) -> dict:
        k_actor, k_critic = jax.random.split(key)
        dummy = jnp.zeros((obs_size,), jnp.float32)
        return {
            "actor": self.actor.init(k_actor, dummy),
            "critic": self.critic.init(k_critic, dummy),
        }

    def policy(self, params: dict, obs: jax.Array):
        return self.actor.apply(params["actor"], obs)

    def value(self, params: dict, obs: jax.Array) -> jax.Array:
        return self.critic.apply(params["critic"], obs)


def make_networks(
    action_space: ActionSpace,
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    log_std_init: float = 0.0,
    critic_hidden: Sequence[int] | None = None,
) -> Networks:
    return Networks(
        Actor(action_space, tuple(hidden), activation, log_std_init),
        Critic(tuple(critic_hidden or hidden), activation),
    )
