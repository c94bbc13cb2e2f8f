"""Observation encoders: an observation pytree ``[N, ...]`` to a feature vector ``[N, F]``.

* ``mlp``: every leaf flattened and concatenated (the MLP torso comes after).
* ``cnn``: every leaf of rank 3 (``[H, W, C]``, channels last) goes through a stack
  of convolutions and is flattened; other leaves are flattened; all concatenated.
  Defaults are the network of the MinAtar paper (Young & Tian 2019): one
  convolution of 16 filters, 3x3, stride 1, ReLU; its 128-unit hidden layer is the
  MLP torso that follows (``--hidden-sizes 128``).

The encoders see exactly one batch axis; :class:`jaxpg.networks.Networks` folds any
leading axes (``[T, B]``) into it. The boolean ``action_mask`` leaf of an
observation dict is never encoded (:func:`split_action_mask`).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.linalg import orthogonal

# One function per name in jaxpg.config.ACTIVATIONS.
ACTIVATION_FNS = {"tanh": nn.tanh, "relu": nn.relu, "elu": nn.elu, "gelu": nn.gelu, "swish": nn.swish}

ENCODERS = ("mlp", "cnn")

MASK_KEY = "action_mask"


def split_action_mask(obs: Any) -> tuple[Any, jax.Array | None]:
    """``(observation without its mask, mask or None)``: an observation dict may carry a
    boolean ``action_mask`` leaf (True = allowed); everything else is the observation."""
    if isinstance(obs, dict) and MASK_KEY in obs:
        rest = {k: v for k, v in obs.items() if k != MASK_KEY}
        return rest, obs[MASK_KEY]
    return obs, None


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


class CNN(nn.Module):
    """Convolutions over ``[N, H, W, C]`` (``VALID`` padding, as the MinAtar network),
    each followed by ``activation``; the output flattened to ``[N, F]``."""

    channels: Sequence[int] = (16,)
    kernels: Sequence[int] = (3,)
    strides: Sequence[int] = (1,)
    activation: str = "relu"

    @nn.compact
    def __call__(self, x):
        act = ACTIVATION_FNS[self.activation]
        for ch, k, s in zip(self.channels, self.kernels, self.strides, strict=True):
            x = act(nn.Conv(ch, (k, k), (s, s), padding="VALID", kernel_init=orthogonal(np.sqrt(2)))(x))
        return x.reshape((x.shape[0], -1))


class ObsEncoder(nn.Module):
    """An observation pytree with one batch axis to ``[N, F]`` float features (module doc)."""

    encoder: str = "mlp"
    channels: Sequence[int] = (16,)
    kernels: Sequence[int] = (3,)
    strides: Sequence[int] = (1,)
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs):
        feats = []
        for leaf in jax.tree.leaves(obs):
            leaf = jnp.asarray(leaf, jnp.float32)
            if self.encoder == "cnn" and leaf.ndim == 4:
                cnn = CNN(self.channels, self.kernels, self.strides, self.activation)
                feats.append(cnn(leaf))
            else:
                feats.append(leaf.reshape((leaf.shape[0], -1)))
        return feats[0] if len(feats) == 1 else jnp.concatenate(feats, axis=-1)
