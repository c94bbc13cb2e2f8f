"""Recurrent cores (GRU, LSTM) that reset their state where an episode starts.

A core steps a batch ``[N, F]`` one time step: ``(carry, x, first) -> (carry, y)``,
where ``first [N]`` marks the envs whose observation ``x`` is the first of a new
episode; their carry is set to zeros *before* the step, so no memory crosses an
episode boundary. Recomputing a rollout's hidden states in the update replays the
same resets from the stored ``first`` flags and the carry stored at the start of
the segment (:class:`jaxpg.rollout.Trajectory`).

Both cells are flax.linen's, with their recurrent kernels initialised orthogonally
by :func:`jaxpg.linalg.orthogonal` (flax's default initializer calls LAPACK's QR).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpg.linalg import orthogonal

CELLS = ("gru", "lstm")


def initial_carry(cell: str, size: int, batch: tuple[int, ...] = ()):
    """The zero state of ``cell``: ``h [*batch, size]`` (GRU) or ``(c, h)`` (LSTM)."""
    zeros = jnp.zeros(tuple(batch) + (size,), jnp.float32)
    return (zeros, zeros) if cell == "lstm" else zeros


def reset_carry(carry, first: jax.Array):
    """Zeros where ``first [N]`` is True, ``carry`` elsewhere (every leaf ``[N, size]``)."""
    return jax.tree.map(lambda c: jnp.where(first[:, None], 0.0, c), carry)


class RecurrentCore(nn.Module):
    """One step of a GRU or LSTM of ``size`` units with reset-on-episode-start."""

    cell: str = "gru"
    size: int = 128

    @nn.compact
    def __call__(self, carry, x, first):
        carry = reset_carry(carry, first)
        cls = nn.OptimizedLSTMCell if self.cell == "lstm" else nn.GRUCell
        core = cls(self.size, recurrent_kernel_init=orthogonal(), name="cell")
        return core(carry, x)
