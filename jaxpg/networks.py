"""Actor and critic (flax.linen), built by a factory from the env's spaces.

Separate actor and critic networks (no shared torso), orthogonal initialisation
with a small final-layer scale for the policy (Andrychowicz et al. 2021),
computed without LAPACK (:func:`jaxpg.linalg.orthogonal`, see that module for why):
the initial policy is near-uniform / near-zero-mean.

Each network is ``encoder -> [recurrent core] -> MLP``:

* the encoder (:mod:`jaxpg.nn.encoders`) turns an observation pytree into features:
  ``mlp`` flattens (a flat vector passes through unchanged, today's network),
  ``cnn`` convolves ``[H, W, C]`` leaves; a library user may pass their own flax
  module (``user_encoder``) for structured observations;
* with ``recurrent`` (``gru``/``lstm``), a dense embedding of ``rnn_size`` units and
  a :class:`jaxpg.nn.RecurrentCore` follow; the module is then called
  ``(obs, carry, first) -> (carry, out)`` instead of ``obs -> out``.

**Actor and critic each have their own recurrent core** (and carry): the critic is
fitted by its own optimizer (NPG/TRPO fit it after the natural step, with several
epochs of its own), and the trust region / Fisher metric of the natural methods
concerns the policy's parameters only; a shared core would let value fitting move
the policy outside the trust region. It costs a second core per step.

:class:`Networks` is what the algorithms call. It splits the ``action_mask`` leaf out
of an observation dict, folds any leading axes (``[T, B]``) into the one batch axis
the modules see, and runs a recurrent network over a time-major sequence.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.config import TrainConfig
from jaxpg.distributions import Categorical, DiagGaussian, MultiCategorical, TanhGaussian, padding_mask
from jaxpg.envs.core import ActionSpace, MultiDiscrete
from jaxpg.nn.encoders import ACTIVATION_FNS, MLP, ObsEncoder, split_action_mask  # noqa: F401
from jaxpg.nn.recurrent import RecurrentCore, initial_carry
from jaxpg.linalg import orthogonal


def inverse_softplus(y: float) -> float:
    """``x`` with ``softplus(x) = y`` (``y > 0``)."""
    return float(y + np.log(-np.expm1(-y)))


@dataclass(frozen=True)
class Torso:
    """Static choices of the part before each head (encoder and recurrent core)."""

    encoder: str = "mlp"
    channels: tuple[int, ...] = (16,)
    kernels: tuple[int, ...] = (3,)
    strides: tuple[int, ...] = (1,)
    recurrent: str | None = None  # None, "gru" or "lstm"
    rnn_size: int = 128
    user_encoder: Any = None  # a flax module: obs pytree [N, ...] -> [N, F]
    flat_obs: bool = True  # the observation is one flat vector (set by make_networks)

    @property
    def is_flat_mlp(self) -> bool:
        """Today's network: the MLP straight on a flat observation of any leading shape."""
        return (self.flat_obs and self.encoder == "mlp" and self.recurrent is None
                and self.user_encoder is None)  # fmt: skip


class _Features(nn.Module):
    """Encoder, then (when recurrent) embedding and core: ``(obs, carry, first) -> (carry, x)``."""

    torso: Torso
    activation: str

    @nn.compact
    def __call__(self, obs, carry, first):
        t = self.torso
        if t.user_encoder is not None:  # the user's module, bound here as our child
            x = t.user_encoder.clone(parent=self, name="user_encoder")(obs)
        else:
            x = ObsEncoder(t.encoder, t.channels, t.kernels, t.strides, "relu")(obs)
        if t.recurrent is None:
            return carry, x
        act = ACTIVATION_FNS[self.activation]
        x = act(nn.Dense(t.rnn_size, kernel_init=orthogonal(np.sqrt(2)))(x))
        return RecurrentCore(t.recurrent, t.rnn_size)(carry, x, first)


class Actor(nn.Module):
    """Policy head: softmax over logits (masked where a mask is given; one per
    component for multi-discrete actions), or a (tanh-)Gaussian.

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
    torso: Torso = field(default_factory=Torso)

    @nn.compact
    def __call__(self, obs, carry=None, first=None, mask=None):
        if self.torso.is_flat_mlp:
            x = obs  # today's network: the MLP straight on the flat observation
        else:
            carry, x = _Features(self.torso, self.activation)(obs, carry, first)
        dist = self._head(x, mask)
        return dist if self.torso.recurrent is None else (carry, dist)

    def _head(self, x, mask):
        space = self.action_space
        if isinstance(space, MultiDiscrete):
            k, n = len(space.nvec), space.n
            logits = MLP(self.hidden, k * n, self.activation, self.out_scale)(x)
            logits = logits.reshape(logits.shape[:-1] + (k, n))
            allowed = jnp.asarray(padding_mask(space.nvec))
            allowed = allowed if mask is None else jnp.logical_and(allowed, mask)
            return MultiCategorical(logits, jnp.broadcast_to(allowed, logits.shape))
        if space.is_discrete:
            logits = MLP(self.hidden, space.n, self.activation, self.out_scale)(x)
            return Categorical(logits, mask)
        size = space.size
        if self.state_dependent_std:
            out = MLP(self.hidden, 2 * size, self.activation, self.out_scale)(x)
            mean, raw = out[..., :size], out[..., size:]
            offset = inverse_softplus(max(np.exp(self.log_std_init) - self.min_std, 1e-6))
            log_std = jnp.log(jax.nn.softplus(raw + offset) + self.min_std)
        else:
            mean = MLP(self.hidden, size, self.activation, self.out_scale)(x)
            log_std = self.param("log_std", nn.initializers.constant(self.log_std_init), (size,))
            log_std = jnp.broadcast_to(log_std, mean.shape)
        head = TanhGaussian if self.policy == "tanh-gaussian" else DiagGaussian
        return head(mean, log_std)


class Critic(nn.Module):
    """State-value head ``V(s)``, a scalar per observation."""

    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    torso: Torso = field(default_factory=Torso)

    @nn.compact
    def __call__(self, obs, carry=None, first=None):
        if self.torso.is_flat_mlp:
            x = obs
        else:
            carry, x = _Features(self.torso, self.activation)(obs, carry, first)
        value = MLP(self.hidden, 1, self.activation, 1.0)(x)[..., 0]
        return value if self.torso.recurrent is None else (carry, value)


class ActorCritic(NamedTuple):
    """One entry per network, by name: their parameters, gradients, optimizers,
    optimizer states or recurrent carries (as Brax's ``PPONetworkParams``). A pytree;
    also the labels of :func:`optax.partition` in :mod:`jaxpg.optim`."""

    actor: Any
    critic: Any


def _event_ranks(obs_example) -> tuple[int, ...]:
    return tuple(jnp.ndim(x) for x in jax.tree.leaves(obs_example))


@dataclass(frozen=True)
class Networks:
    """The actor and critic and how to call them on batches of any leading shape.

    ``obs_ranks``: the rank of each (unbatched) observation leaf, mask excluded (set
    by :func:`make_networks` from an example observation; ``None``: a flat vector).
    Feed-forward networks: :meth:`policy`/:meth:`value` on ``obs [..., ...]``.
    Recurrent ones: :meth:`policy_step`/:meth:`value_step` for one batched step and
    :meth:`policy_seq`/:meth:`value_seq` over a time-major sequence; the step and
    sequence methods also work for feed-forward networks (the carry is ``None``).
    """

    actor: Actor
    critic: Critic
    obs_ranks: tuple[int, ...] | None = None

    @property
    def torso(self) -> Torso:
        return self.actor.torso

    @property
    def recurrent(self) -> bool:
        return self.torso.recurrent is not None

    def initial_carry(self, batch: tuple[int, ...] = ()) -> ActorCritic:
        """Zero recurrent state of both networks for ``batch`` envs (``None`` each if feed-forward)."""
        if not self.recurrent:
            return ActorCritic(None, None)
        make = lambda: initial_carry(self.torso.recurrent, self.torso.rnn_size, batch)
        return ActorCritic(make(), make())

    def init(self, key: jax.Array, obs_example) -> ActorCritic:
        """Variables of both networks; ``obs_example``: one unbatched observation (or, for
        a flat observation, its size)."""
        k_actor, k_critic = jax.random.split(key)
        if isinstance(obs_example, int):
            obs_example = jnp.zeros((obs_example,), jnp.float32)
        obs, mask = split_action_mask(obs_example)
        if self._plain and mask is None:
            return ActorCritic(self.actor.init(k_actor, obs), self.critic.init(k_critic, obs))
        obs = jax.tree.map(lambda x: jnp.asarray(x)[None], obs)
        mask = None if mask is None else jnp.asarray(mask)[None]
        carry = self.initial_carry((1,))
        first = jnp.ones((1,), bool)
        return ActorCritic(self.actor.init(k_actor, obs, carry.actor, first, mask),
                           self.critic.init(k_critic, obs, carry.critic, first))  # fmt: skip

    @property
    def _plain(self) -> bool:
        """Today's path: flat MLP, one softmax or Gaussian; applied to any leading shape."""
        return self.torso.is_flat_mlp and not isinstance(self.actor.action_space, MultiDiscrete)

    # -- folding leading axes -------------------------------------------------------
    def _lead(self, obs) -> tuple[int, ...]:
        leaf = jax.tree.leaves(obs)[0]
        rank = 1 if self.obs_ranks is None else self.obs_ranks[0]
        return leaf.shape[: leaf.ndim - rank]

    def _fold(self, obs, lead):
        n = math.prod(lead)
        return jax.tree.map(lambda x: x.reshape((n,) + x.shape[len(lead):]), obs)

    @staticmethod
    def _unfold(out, lead):
        return jax.tree.map(lambda x: x.reshape(tuple(lead) + x.shape[1:]), out)

    # -- feed-forward -------------------------------------------------------------
    def policy(self, params: ActorCritic, obs):
        """``pi(.|obs)`` of a feed-forward actor for observations of any leading shape."""
        return self.policy_actor(params.actor, obs)

    def policy_actor(self, actor_params, obs):
        """As :meth:`policy`, from the actor's variables alone."""
        obs, mask = split_action_mask(obs)
        if self._plain and mask is None:
            return self.actor.apply(actor_params, obs)
        lead = self._lead(obs)
        mask = None if mask is None else mask.reshape((math.prod(lead),) + mask.shape[len(lead):])
        dist = self.actor.apply(actor_params, self._fold(obs, lead), mask=mask)
        return self._unfold(dist, lead)

    def value(self, params: ActorCritic, obs) -> jax.Array:
        """``V(obs)`` of a feed-forward critic for observations of any leading shape."""
        return self.value_critic(params.critic, obs)

    def value_critic(self, critic_params, obs) -> jax.Array:
        """As :meth:`value`, from the critic's variables alone."""
        obs, _ = split_action_mask(obs)
        if self.torso.is_flat_mlp:
            return self.critic.apply(critic_params, obs)
        lead = self._lead(obs)
        return self._unfold(self.critic.apply(critic_params, self._fold(obs, lead)), lead)

    # -- recurrent (also fine for feed-forward) ------------------------------------
    def policy_step(self, actor_params, carry, obs, first):
        """One step for a batch ``obs [B, ...]``: ``(carry, dist)``; ``first [B]`` resets."""
        if not self.recurrent:
            return carry, self.policy_actor(actor_params, obs)
        obs, mask = split_action_mask(obs)
        return self.actor.apply(actor_params, obs, carry, first, mask)

    def value_step(self, critic_params, carry, obs, first):
        """One step of the critic: ``(carry, value [B])``."""
        if not self.recurrent:
            return carry, self.value_critic(critic_params, obs)
        obs, _ = split_action_mask(obs)
        return self.critic.apply(critic_params, obs, carry, first)

    def policy_seq(self, actor_params, carry, obs, first):
        """The policy over a time-major sequence ``obs [T, B, ...]``, ``first [T, B]``,
        starting from ``carry`` (the state before step 0): ``(carries, dists)`` with
        ``carries`` the state *after* each step ``[T, B, ...]`` (``None`` if feed-forward)."""
        if not self.recurrent:
            return None, self.policy_actor(actor_params, obs)
        step = lambda c, xs: (lambda out: (out[0], out))(self.policy_step(actor_params, c, *xs))
        _, (carries, dists) = jax.lax.scan(step, carry, (obs, first))
        return carries, dists

    def value_seq(self, critic_params, carry, obs, first):
        """The critic over a time-major sequence: ``(carries, values [T, B])``."""
        if not self.recurrent:
            return None, self.value_critic(critic_params, obs)
        step = lambda c, xs: (lambda out: (out[0], out))(self.value_step(critic_params, c, *xs))
        _, (carries, values) = jax.lax.scan(step, carry, (obs, first))
        return carries, values


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
    torso: Torso | None = None,
    obs_example: Any = None,
) -> Networks:
    """The actor and critic for ``action_space``; ``obs_example`` (one unbatched
    observation, a pytree) tells :class:`Networks` each leaf's rank (None: flat vectors)."""
    torso = Torso() if torso is None else torso
    ranks = None
    if obs_example is not None and not isinstance(obs_example, int):
        ranks = _event_ranks(split_action_mask(obs_example)[0])
        flat = ranks == (1,) and not isinstance(obs_example, dict)
        torso = dataclasses.replace(torso, flat_obs=flat)
        ranks = None if flat else ranks
    actor = Actor(action_space, tuple(hidden), activation, log_std_init, policy,
                  state_dependent_std, min_std, actor_out_scale, torso)  # fmt: skip
    critic = Critic(tuple(critic_hidden or hidden), activation, torso)
    return Networks(actor, critic, ranks)


def observation_example(env) -> Any:
    """One unbatched observation of ``env`` as shapes and dtypes (no env step runs)."""
    return jax.eval_shape(env.reset, jax.random.PRNGKey(0))[0]


def networks_for(config: TrainConfig, env, user_encoder: Any = None) -> Networks:
    """The actor and critic ``config`` describes for ``env`` (whose observations
    :func:`jaxpg.validation.validate` has checked the policy can read); ``user_encoder``:
    a flax module for pytree observations."""
    example = observation_example(env)
    torso = Torso(config.encoder, tuple(config.cnn_channels), tuple(config.cnn_kernels),
                  tuple(config.cnn_strides), None if config.recurrent == "none" else config.recurrent,
                  config.rnn_size, user_encoder)  # fmt: skip
    return make_networks(
        env.action_space,
        config.hidden_sizes,
        config.activation,
        config.log_std_init,
        critic_hidden=config.critic_hidden_sizes,
        policy=config.policy,
        state_dependent_std=config.state_dependent_std,
        min_std=config.min_std,
        actor_out_scale=config.actor_out_scale,
        torso=torso,
        obs_example=example,
    )
