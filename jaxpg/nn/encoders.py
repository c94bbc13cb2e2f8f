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

from jaxpg.errors import ConfigError
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


class PatchConv(nn.Module):
    """``nn.Conv(features, (k, k), (s, s), padding="VALID")`` written as patches times
    the kernel: the same parameters (``kernel [k, k, C, F]`` then ``bias [F]``, the
    names and initialisation order of ``nn.Conv``) and the same function. On XLA's CPU
    backend the kernel's gradient is then one matmul instead of a convolution, which
    made the MinAtar network's update faster (``experiments/bench_policy_paths.py``)."""

    features: int
    kernel: int = 3
    stride: int = 1
    kernel_init: Any = orthogonal(np.sqrt(2))

    @nn.compact
    def __call__(self, x):
        k, s, c = self.kernel, self.stride, x.shape[-1]
        w = self.param("kernel", self.kernel_init, (k, k, c, self.features), jnp.float32)
        b = self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)
        ho, wo = (x.shape[-3] - k) // s + 1, (x.shape[-2] - k) // s + 1
        if ho < 1 or wo < 1:
            image = x.shape[-3:-1]
            raise ConfigError("cnn_kernels", k, f"larger than the image {image} it convolves")
        rows, cols = s * (ho - 1) + 1, s * (wo - 1) + 1
        taps = [x[:, i : i + rows : s, j : j + cols : s, :] for i in range(k) for j in range(k)]
        patches = jnp.concatenate(taps, axis=-1)  # [N, ho, wo, k*k*C], (i, j, c) order
        return patches @ w.reshape(k * k * c, self.features) + b


class CNN(nn.Module):
    """Convolutions over ``[N, H, W, C]`` (``VALID`` padding, as the MinAtar network),
    each followed by ``activation``; the output flattened to ``[N, F]``. Each
    convolution is a :class:`PatchConv` named as ``nn.Conv`` would be (``Conv_0`` ...)."""

    channels: Sequence[int] = (16,)
    kernels: Sequence[int] = (3,)
    strides: Sequence[int] = (1,)
    activation: str = "relu"

    @nn.compact
    def __call__(self, x):
        act = ACTIVATION_FNS[self.activation]
        layers = zip(self.channels, self.kernels, self.strides, strict=True)
        for i, (ch, k, s) in enumerate(layers):
            x = act(PatchConv(ch, k, s, name=f"Conv_{i}")(x))
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
