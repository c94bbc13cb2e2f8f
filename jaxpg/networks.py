"""Actor and critic MLPs (flax.linen), built by a factory from the env's spaces.

Separate actor and critic networks (no shared torso), orthogonal initialisation
with a small final-layer scale for the policy (Andrychowicz et al. 2021),
computed without LAPACK (:func:`jaxpg.linalg.orthogonal`, see that module for why):
the initial policy is near-uniform / near-zero-mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.distributions import Categorical, DiagGaussian, TanhGaussian
from jaxpg.envs.core import ActionSpace
from jaxpg.linalg import orthogonal

# One function per name in jaxpg.config.ACTIVATIONS.
ACTIVATION_FNS = {"tanh": nn.tanh, "relu": nn.relu, "elu": nn.elu, "gelu": nn.gelu, "swish": nn.swish}


class MLP(nn.Module):
    """``hidden`` layers of ``activation``, then a linear layer of ``out`` units."""

    hidden: Sequence[int]
    out: int
    activation: str = "tanh"
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, x):
        act = ACTIVATION_FNS[self.activation]
        for width in self.hidden:
            x = act(nn.Dense(width, kernel_init=orthogonal(np.sqrt(2)))(x))
        return nn.Dense(self.out, kernel_init=orthogonal(self.out_scale))(x)


def inverse_softplus(y: float) -> float:
    """``x`` with ``softplus(x) = y`` (``y > 0``)."""
    return float(y + np.log(-np.expm1(-y)))


class Actor(nn.Module):
    """Policy head: softmax over logits, or a (tanh-)Gaussian.

    Continuous heads: ``policy="gaussian"`` (the env clips actions) or
    ``"tanh-gaussian"`` (:class:`TanhGaussian`; the env squashes). The std is a
    learned state-independent ``log_std`` parameter, or with ``state_dependent_std``
    a second output of the mean network, ``std = softplus(raw) + min_std`` (Brax's
    parameterization), offset so that the initial std is ``exp(log_std_init)``.
    """

    action_space: ActionSpace
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    log_std_init: float = 0.0
    policy: str = "gaussian"
    state_dependent_std: bool = False
    min_std: float = 1e-3
    out_scale: float = 0.01

    @nn.compact
    def __call__(self, obs):
        if self.action_space.is_discrete:
            logits = MLP(self.hidden, self.action_space.n, self.activation, self.out_scale)(obs)
            return Categorical(logits)
        size = self.action_space.size
        if self.state_dependent_std:
            out = MLP(self.hidden, 2 * size, self.activation, self.out_scale)(obs)
            mean, raw = out[..., :size], out[..., size:]
            offset = inverse_softplus(max(np.exp(self.log_std_init) - self.min_std, 1e-6))
            log_std = jnp.log(jax.nn.softplus(raw + offset) + self.min_std)
        else:
            mean = MLP(self.hidden, size, self.activation, self.out_scale)(obs)
            log_std = self.param("log_std", nn.initializers.constant(self.log_std_init), (size,))
            log_std = jnp.broadcast_to(log_std, mean.shape)
        head = TanhGaussian if self.policy == "tanh-gaussian" else DiagGaussian
        return head(mean, log_std)


class Critic(nn.Module):
    """State-value head ``V(s)``, a scalar per observation."""

    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"

    @nn.compact
    def __call__(self, obs):
        return MLP(self.hidden, 1, self.activation, 1.0)(obs)[..., 0]


class ActorCritic(NamedTuple):
    """One entry per network, by name: their parameters, gradients, optimizers or
    optimizer states (as Brax's ``PPONetworkParams``). A pytree; also the labels of
    :func:`optax.partition` in :mod:`jaxpg.optim`."""

    actor: Any
    critic: Any


@dataclass(frozen=True)
class Networks:
    actor: Actor
    critic: Critic

    def init(self, key: jax.Array, obs_size: int) -> ActorCritic:
        k_actor, k_critic = jax.random.split(key)
        dummy = jnp.zeros((obs_size,), jnp.float32)
        return ActorCritic(self.actor.init(k_actor, dummy), self.critic.init(k_critic, dummy))

    def policy(self, params: ActorCritic, obs: jax.Array):
        return self.actor.apply(params.actor, obs)

    def value(self, params: ActorCritic, obs: jax.Array) -> jax.Array:
        return self.critic.apply(params.critic, obs)


def make_networks(
    action_space: ActionSpace,
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    log_std_init: float = 0.0,
    critic_hidden: Sequence[int] | None = None,
    policy: str = "gaussian",
    state_dependent_std: bool = False,
    min_std: float = 1e-3,
    actor_out_scale: float = 0.01,
) -> Networks:
    actor = Actor(action_space, tuple(hidden), activation, log_std_init, policy,
                  state_dependent_std, min_std, actor_out_scale)  # fmt: skip
    return Networks(actor, Critic(tuple(critic_hidden or hidden), activation))
