"""Training diagnostics: a host-side health monitor and gradient-variance estimates.

* :class:`HealthMonitor` reads each logged row (the driver :func:`jaxpg.runner.loop.run`
  calls :meth:`HealthMonitor.check` once per row) and prints one warning per kind
  of trouble, naming the update where it was first seen: log-std collapse,
  vanishing or exploding gradients, entropy collapse. A NaN/inf in the metrics
  makes ``check`` return a stop reason; the driver then ends the run cleanly,
  keeping its outputs, with ``status`` and ``stop_reason`` in the summary.
* :func:`gradient_variance` measures the variance of an algorithm's policy-gradient
  estimator across many independent batches at fixed parameters, in one vmapped
  compiled program.

The per-update metrics themselves (gradient norms, entropy, KL, explained
variance, log-std, clip fraction, CG residual, step fraction) are computed inside
each algorithm's compiled ``update``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxpg.algos import ALGORITHMS
from jaxpg.algos.state import make_context
from jaxpg.errors import ConfigError
from jaxpg.validation import validate

# Metrics that are NaN by design (no episode finished in a chunk), not a failure.
_NAN_OK = ("episode_return", "episode_length")


@dataclass
class HealthThresholds:
    """When :class:`HealthMonitor` warns. Gradient norms are pre-clipping global norms."""

    log_std_min: float = -5.0
    """Log-std collapse: some action dimension's log std below this (std < 0.0067)."""
    vanishing_grad: float = 1e-6
    """Vanishing policy gradients: actor global gradient norm below this."""
    exploding_grad: float = 1e4
    """Exploding gradients: actor or critic global gradient norm above this."""
    entropy_min: float = 0.01
    """Entropy collapse (discrete policies): entropy below this many nats."""
    entropy_drop: float = 5.0
    """Entropy collapse (Gaussian policies): entropy fell this many nats below its first value."""


@dataclass
class HealthMonitor:
    """Checks logged rows for signs of a failing run; warns once per kind.

    ``check(row)`` returns ``None`` to go on, or a one-line reason to stop (a
    non-finite metric). Warnings go to ``stream`` (stderr by default) and are
    kept in ``warnings`` as ``(kind, update, message)``.
    """

    thresholds: HealthThresholds = field(default_factory=HealthThresholds)
    stream: TextIO | None = None
    warnings: list[tuple[str, int, str]] = field(default_factory=list)
    _first_entropy: float | None = None

    def _warn(self, kind: str, update: int, message: str) -> None:
        if any(k == kind for k, _, _ in self.warnings):
            return
        self.warnings.append((kind, update, message))
        print(f"jaxpg health warning [{kind}] at update {update}: {message}",
              file=self.stream or sys.stderr)  # fmt: skip

    @property
    def kinds(self) -> set[str]:
        return {k for k, _, _ in self.warnings}

    def check(self, row: dict[str, Any]) -> str | None:
        t = self.thresholds
        update = int(row.get("update", -1))
        bad = [k for k, v in row.items() if isinstance(v, (int, float)) and k not in _NAN_OK
               and not math.isfinite(v)]  # fmt: skip
        if bad:
            reason = f"non-finite metrics at update {update}: {', '.join(sorted(bad))}"
            self._warn("nan", update, reason)
            return reason

        def get(name):
            v = row.get(name)
            return None if v is None else float(v)

        log_std_min = get("log_std_min")
        if log_std_min is not None and log_std_min < t.log_std_min:
            self._warn("log_std_collapse", update,
                       f"log_std_min = {log_std_min:.2f} < {t.log_std_min} (policy std near 0)")  # fmt: skip
        g = get("actor_grad_norm")
        if g is not None and g < t.vanishing_grad:
            self._warn("vanishing_gradients", update,
                       f"actor_grad_norm = {g:.2e} < {t.vanishing_grad:.0e}")  # fmt: skip
        for name in ("actor_grad_norm", "critic_grad_norm"):
            g = get(name)
            if g is not None and g > t.exploding_grad:
                self._warn("exploding_gradients", update,
                           f"{name} = {g:.3g} > {t.exploding_grad:.0e}")  # fmt: skip
        entropy = get("entropy")
        if entropy is not None:
            if self._first_entropy is None:
                self._first_entropy = entropy
            if log_std_min is None and entropy < t.entropy_min:
                self._warn("entropy_collapse", update,
                           f"entropy = {entropy:.4f} < {t.entropy_min} nats (policy deterministic)")  # fmt: skip
            elif log_std_min is not None and entropy < self._first_entropy - t.entropy_drop:
                self._warn("entropy_collapse", update,
                           f"entropy fell from {self._first_entropy:.2f} to {entropy:.2f} nats")  # fmt: skip
        return None


@dataclass
class GradientVariance:
    """Statistics of ``num_batches`` independent policy-gradient estimates ``g_i`` (flat).

    ``total_variance`` is ``trace(Cov[g]) = sum_j Var[g_j]`` (unbiased, ``ddof=1``);
    ``mean_sq_norm`` is ``|E g|^2`` (signal); ``per_param_variance`` ``[P]``
    the diagonal of the covariance; ``per_leaf`` maps each actor-parameter path
    (e.g. ``params/Dense_0/kernel``) to the sum of its entries' variances;
    ``samples`` ``[num_batches, P]`` are the estimates themselves.
    """

    total_variance: float
    mean_sq_norm: float
    mean: np.ndarray
    per_param_variance: np.ndarray
    per_leaf: dict[str, float]
    samples: np.ndarray

    @property
    def num_batches(self) -> int:
        return int(self.samples.shape[0])

    @property
    def relative_variance(self) -> float:
        """``trace(Cov) / |E g|^2``: noise-to-signal ratio of one estimate."""
        return self.total_variance / max(self.mean_sq_norm, 1e-30)

    def summary(self) -> dict[str, float]:
        v = self.per_param_variance
        return {
            "total_variance": self.total_variance,
            "mean_sq_norm": self.mean_sq_norm,
            "relative_variance": self.relative_variance,
            "per_param_variance_mean": float(v.mean()),
            "per_param_variance_median": float(np.median(v)),
            "per_param_variance_max": float(v.max()),
            "num_params": int(v.size),
            "num_batches": self.num_batches,
        }


def gradient_estimates(config, hparams, key: jax.Array, num_batches: int, state=None):
    """``[num_batches, P]`` flat policy-gradient estimates in one jitted, vmapped program.

    Each row is the algorithm's own estimator (``ALGORITHMS[config.algo].policy_gradient``)
    on an independent batch collected with its own key, at the fixed parameters
    of ``state`` (default: the initial state from ``key``). Returns
    ``(samples, unravel)`` with ``unravel`` mapping a flat row back to the actor pytree.
    """
    config, hparams = validate(config, hparams)
    ctx = make_context(config)
    algo = ALGORITHMS[config.algo]
    hp = hparams.as_arrays()
    k_init, k_batches = jax.random.split(key)
    if state is None:
        state = jax.jit(lambda k, h: algo.init(ctx, k, h))(k_init, hp)
    _, unravel = ravel_pytree(state.params.actor)

    def one(k):
        return ravel_pytree(algo.policy_gradient(ctx, state, hp, k))[0]

    samples = jax.jit(jax.vmap(one))(jax.random.split(k_batches, num_batches))
    return samples, unravel


def gradient_variance(
    config,
    hparams,
    key: jax.Array,
    num_batches: int = 64,
    state=None,
) -> GradientVariance:
    """Variance of an algorithm's policy-gradient estimator at fixed parameters.

    Args:
      config: ``TrainConfig``; ``algo`` picks the estimator: ``reinforce`` (with
        ``baseline`` none / value / linear; one complete episode per env per batch,
        ``num_envs`` episodes of at most ``num_steps`` steps), or ``a2c`` / ``npg`` /
        ``trpo`` / ``ppo`` (the GAE(``hparams.gae_lambda``) estimator
        ``mean[grad log pi(a|s) A]`` on ``num_envs x num_steps`` steps starting from
        ``state``'s env states). ``normalize_advantages`` is honoured; turn it off to
        measure the raw estimator.
      hparams: ``HParams`` (gamma, gae_lambda, reward_scale, linear_baseline_reg used).
      key: PRNG key; batch ``i`` uses its own split key, so estimates are i.i.d.
      num_batches: how many independent batches (>= 2).
      state: a ``TrainState`` whose actor (and critic, for value baselines / GAE)
        parameters are held fixed -- e.g. ``run(...).state`` mid-training. Default:
        the initial state built from ``key``.

    Returns:
      :class:`GradientVariance` (``total_variance`` = trace of the covariance of
      the flattened actor gradient, per-parameter and per-leaf summaries, and the
      samples). Everything is computed in one ``jit(vmap(...))`` over batch keys.

    Example::

        cfg, hp = preset("reinforce", "CartPole-v1")
        for b in ("none", "value", "linear"):
            gv = gradient_variance(cfg.replace(baseline=b, normalize_advantages=False), hp,
                                   jax.random.PRNGKey(0), num_batches=128)
            print(b, gv.total_variance)
    """
    if num_batches < 2:
        raise ConfigError("num_batches", num_batches, "need at least 2 batches for a variance")
    samples, unravel = gradient_estimates(config, hparams, key, num_batches, state)
    samples = np.asarray(samples, np.float64)
    mean = samples.mean(0)
    var = samples.var(0, ddof=1)
    leaves = jax.tree_util.tree_leaves_with_path(unravel(jnp.asarray(var, jnp.float32)))
    per_leaf = {
        "/".join(str(getattr(p, "key", p)) for p in path): float(np.sum(leaf))
        for path, leaf in leaves
    }
    return GradientVariance(
        total_variance=float(var.sum()),
        mean_sq_norm=float(mean @ mean),
        mean=mean,
        per_param_variance=var,
        per_leaf=per_leaf,
        samples=samples,
    )


