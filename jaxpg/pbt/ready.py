"""The ready step of population-based training (Jaderberg et al. 2017), in ``lax`` ops.

Every ``interval`` updates each member is scored, the bottom ``n`` members copy the
learned state of a member drawn from the top ``n`` (exploit, a gather on the
population axis) and perturb the copied hyperparameters (explore). Everything is a
pure function of arrays with a leading population axis ``[P, ...]`` and one key, so
it runs inside the compiled chunk and is deterministic from the seed.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg.config import HParams

# What exploit copies from the donor: the learned state. Env states, the RNG key,
# counters and ``algo_state`` stay with their member.
COPIED = ("params", "opt_state", "obs_stats")


@struct.dataclass
class Population:
    """The whole population between updates (checkpointed whole).

    ``members``: the vmapped train state ``[P, ...]``; ``hparams``: each member's
    current ``HParams`` ``[P]``; ``score``: each member's last score ``[P]`` (NaN
    until its first episode ends); ``key``: the ready steps' key; ``update``:
    updates done (the same for every member, so unbatched).
    """

    members: Any
    hparams: HParams
    score: jax.Array
    key: jax.Array
    update: jax.Array


def interval_score(return_sum_tp: jax.Array, count_tp: jax.Array, nonfinite_tp: jax.Array,
                   prev_p: jax.Array) -> jax.Array:  # fmt: skip
    """Each member's mean return of the episodes that finished in the interval ``[P]``.

    Args:
      return_sum_tp: per-update sums of finished episodes' returns ``[P, T]``.
      count_tp: per-update counts of finished episodes ``[P, T]``.
      nonfinite_tp: per-update non-finite codes ``[P, T]`` (0: finite).
      prev_p: the previous score ``[P]``, kept by a member none of whose episodes ended.
    Returns:
      ``sum / count``, ``prev`` where ``count == 0``, ``-inf`` for a member that went
      non-finite (so it is replaced first).
    """
    total, count = return_sum_tp.sum(-1), count_tp.sum(-1)
    score = jnp.where(count > 0, total / jnp.maximum(count, 1), prev_p)
    return jnp.where(jnp.any(nonfinite_tp != 0, -1), -jnp.inf, score)


def select(key: jax.Array, score_p: jax.Array, n: int) -> jax.Array:
    """Truncation selection: the source member of each member ``[P]`` (int32).

    The ``n`` lowest scores (NaN counts lowest; ties broken by index) get a member
    drawn uniformly from the ``n`` highest; every other member is its own source.
    """
    (size,) = score_p.shape
    ranked = jnp.argsort(jnp.where(jnp.isnan(score_p), -jnp.inf, score_p), stable=True)
    bottom, top = ranked[:n], ranked[size - n :]
    donors = top[jax.random.randint(key, (n,), 0, n)]
    return jnp.arange(size, dtype=jnp.int32).at[bottom].set(donors.astype(jnp.int32))


def gather(tree: Any, src_p: jax.Array) -> Any:
    """Every leaf's rows reordered by ``src_p`` (``x[src]`` on the leading axis)."""
    return jax.tree.map(lambda x: jnp.take(x, src_p, axis=0), tree)


def exploit(members: Any, src_p: jax.Array) -> Any:
    """``members`` whose :data:`COPIED` fields are those of their source member."""
    return members.replace(**{name: gather(getattr(members, name), src_p) for name in COPIED})


def explore(key: jax.Array, hparams: HParams, src_p: jax.Array, space: dict[str, tuple[float, float, bool]],
            resample_prob: float, perturb: tuple[float, float]) -> HParams:  # fmt: skip
    """New hyperparameters ``[P]``: a member whose source is another copies its source's
    hyperparameters; each searched field is then, with ``resample_prob``, redrawn from
    its prior (uniform, or uniform in log for ``log``), else multiplied by one of
    ``perturb`` at random, and clipped to ``[low, high]``. Other members keep theirs.

    ``space``: ``{field: (low, high, log)}`` (static).
    """
    replaced = src_p != jnp.arange(src_p.shape[0])
    copied = gather(hparams, src_p)
    changes = {}
    for k, (name, (low, high, log)) in zip(jax.random.split(key, max(len(space), 1)), sorted(space.items())):
        k_factor, k_coin, k_prior = jax.random.split(k, 3)
        value = getattr(copied, name)
        factor = jnp.where(jax.random.bernoulli(k_factor, 0.5, value.shape), perturb[0], perturb[1])
        u = jax.random.uniform(k_prior, value.shape)
        if log:
            prior = jnp.exp(jnp.log(low) + u * (jnp.log(high) - jnp.log(low)))
        else:
            prior = low + u * (high - low)
        new = jnp.where(jax.random.bernoulli(k_coin, resample_prob, value.shape), prior, value * factor)
        new = jnp.clip(new, low, high).astype(value.dtype)
        changes[name] = jnp.where(replaced, new, getattr(hparams, name))
    rest = {name: jnp.where(replaced, getattr(copied, name), getattr(hparams, name))
            for name in hparams.to_dict() if name not in changes}  # fmt: skip
    return hparams.replace(**changes, **rest)


def ready(pop: Population, score_p: jax.Array, n: int, space, resample_prob: float, perturb,
          active=True) -> tuple[Population, jax.Array]:  # fmt: skip
    """One ready step: select, exploit, explore. Returns the new population and the
    sources ``[P]`` (a replaced member also takes its source's score).

    ``active`` (a traced bool): False makes every member its own source, so nothing
    changes but the key; cheaper on CPU than a ``lax.cond`` around the whole population.
    """
    key, k_select, k_explore = jax.random.split(pop.key, 3)
    src = jnp.where(active, select(k_select, score_p, n), jnp.arange(score_p.shape[0], dtype=jnp.int32))
    pop = pop.replace(
        members=exploit(pop.members, src),
        hparams=explore(k_explore, pop.hparams, src, space, resample_prob, perturb),
        score=jnp.take(score_p, src),
        key=key,
    )
    return pop, src
