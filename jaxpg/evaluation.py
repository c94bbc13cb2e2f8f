"""Evaluation episodes: inside the compiled chunk (``eval_return`` beside
``episode_return``), and for ``jaxpg eval`` and ``jaxpg render`` on a saved run.

The training ``episode_return`` is the return of the episodes the *exploring*
policy happened to finish during rollouts. Every ``config.eval_interval`` updates
the trainer also plays ``num_eval_envs`` fresh episodes on separate envs with the
deterministic policy (the distribution's mode: argmax, the Gaussian mean, or
``tanh(mean)``), each to its end (termination or the env's time limit, capped at
:data:`DEFAULT_MAX_STEPS` steps for envs without one), and logs their mean with a
95% Student-t interval over episodes. No host callback: it is a ``lax.cond`` in the
update, and its keys are folded off the state's key so training's random stream is
the same with or without evaluation.

Per-update metrics (zeros on updates without evaluation, ``eval_done`` 0):
``eval_return``, ``eval_return_low``/``_high`` (95% interval), ``eval_length``,
``eval_env_steps`` (training env steps when evaluated), ``eval_done``, and with
``eval_stochastic`` the same ``eval_return_stochastic*`` for the sampling policy.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.algos.state import Context, TrainState
from jaxpg.metrics import EvalMetrics
from jaxpg.rollout import first_episodes

DEFAULT_MAX_STEPS = 1000
"""Step cap of an evaluation episode when the env declares no time limit."""

_EVAL_TAG = 0x0E7A1
"""Folded into the state's key: evaluation randomness never consumes training's keys."""


def max_eval_steps(env) -> int:
    return int(getattr(env, "max_episode_steps", None) or DEFAULT_MAX_STEPS)


def run_episodes(env, act, key: jax.Array, num_envs: int, max_steps: int, carry=None):
    """``(returns[num_envs], lengths[num_envs])`` of one episode per env, played to its end
    (or ``max_steps``) by ``act(key, obs[B, obs]) -> action[B, ...]``
    (:func:`jaxpg.rollout.first_episodes`). A recurrent policy: ``carry`` is its initial
    state, one per env (:func:`eval_carry`), and ``act(key, obs, carry, first) ->
    (action, carry)`` (:func:`policy_act`)."""
    if carry is None:
        wrapped = lambda k, o: (act(k, o), ())
    else:
        wrapped = lambda k, o, c, first: (lambda a, c2: (a, (), c2))(*act(k, o, c, first))
    returns, lengths, _ = first_episodes(env, wrapped, key, num_envs, max_steps, carry=carry)
    return returns, lengths


def eval_carry(ctx: Context, num_envs: int):
    """The actor's zero state for ``num_envs`` evaluation envs (None if feed-forward)."""
    return ctx.nets.initial_carry((num_envs,)).actor if ctx.nets.recurrent else None


def policy_act(ctx: Context, params, obs_stats, deterministic: bool):
    """``act(key, raw_obs) -> action`` of the policy ``params`` (normalizing obs with
    ``obs_stats`` where the config does); ``obs`` batched or a single observation.
    A recurrent policy's is ``act(key, obs[B], carry, first[B]) -> (action, carry)``."""
    normalize = obs_stats.normalize if ctx.config.normalize_obs else (lambda o: o)
    choose = lambda dist, key: dist.mode() if deterministic else dist.sample(key)

    def act(key, obs):
        return choose(ctx.nets.policy(params, normalize(obs)), key)

    def act_recurrent(key, obs, carry, first):
        carry, dist = ctx.nets.policy_step(params.actor, carry, normalize(obs), first)
        return choose(dist, key), carry

    return act_recurrent if ctx.nets.recurrent else act


def t_quantile_975(n: int) -> float:
    """Two-sided 95% Student-t quantile for ``n`` samples (scipy ships with jax)."""
    from scipy import stats

    return float(stats.t.ppf(0.975, max(n - 1, 1)))


def _return_stats(returns: jax.Array, prefix: str) -> dict[str, jax.Array]:
    n = returns.shape[0]
    mean = returns.mean()
    sd = jnp.std(returns, ddof=1) if n > 1 else jnp.zeros(())
    half = t_quantile_975(n) * sd / math.sqrt(n) if n > 1 else jnp.zeros(())
    return {prefix: mean, f"{prefix}_low": mean - half, f"{prefix}_high": mean + half}


def evaluate_state(ctx: Context, state: TrainState) -> EvalMetrics:
    """Play ``num_eval_envs`` complete episodes with ``state``'s policy; scalar metrics."""
    cfg = ctx.config
    key = jax.random.fold_in(state.key, _EVAL_TAG)
    k_det, k_sto = jax.random.split(key)
    steps = max_eval_steps(ctx.env)
    act = lambda det: policy_act(ctx, state.params, state.obs_stats, det)
    carry = eval_carry(ctx, cfg.num_eval_envs)
    returns, lengths = run_episodes(ctx.env, act(True), k_det, cfg.num_eval_envs, steps, carry)
    out = _return_stats(returns, "eval_return")
    out["eval_length"] = lengths.mean().astype(jnp.float32)
    if cfg.eval_stochastic:
        sto, _ = run_episodes(ctx.env, act(False), k_sto, cfg.num_eval_envs, steps, carry)
        out.update(_return_stats(sto, "eval_return_stochastic"))
    out["eval_env_steps"] = state.env_steps.astype(jnp.int32)
    out["eval_done"] = jnp.ones((), jnp.float32)
    return EvalMetrics(**out)


def maybe_evaluate(ctx: Context, state: TrainState, updates_done: jax.Array) -> EvalMetrics | None:
    """:func:`evaluate_state` when ``updates_done`` is a multiple of the eval interval.

    ``updates_done`` should not be batched under ``vmap`` (pass the scan index, not
    ``state.update``), so that the ``lax.cond`` stays a branch instead of becoming a
    select that evaluates on every update.
    """
    every = ctx.config.eval_interval
    if every <= 0:
        return None
    evaluate = jax.jit(lambda s: evaluate_state(ctx, s))  # traced once: cond reuses eval_shape's trace
    shapes = evaluate.eval_shape(state)
    skip = lambda s: jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes)
    return jax.lax.cond(updates_done % every == 0, evaluate, skip, state)


def summarize(evals: EvalMetrics | None) -> dict[str, float]:
    """The chunk's last evaluation (the stacked ``evals`` of the last update with
    ``eval_done``); {} if none."""
    if evals is None:
        return {}
    done = np.flatnonzero(np.asarray(evals.eval_done).reshape(-1) > 0)
    if done.size == 0:
        return {}
    i = int(done[-1])
    row = {k: float(np.asarray(v).reshape(-1)[i]) for k, v in evals.items()}
    row["eval_env_steps"] = int(row["eval_env_steps"])
    row.pop("eval_done")
    return row


class EvalTracker:
    """Final and best ``eval_return`` of a run and the env steps at which each was measured."""

    def __init__(self):
        self.final: tuple[float, int] | None = None
        self.best: tuple[float, int] | None = None

    def add(self, row: dict) -> None:
        value = row.get("eval_return")
        if value is None or not np.isfinite(value):
            return
        entry = (float(value), int(row["eval_env_steps"]))
        self.final = entry
        if self.best is None or entry[0] > self.best[0]:
            self.best = entry

    def summary(self) -> dict:
        nan = (math.nan, None)
        final, best = self.final or nan, self.best or nan
        return {
            "eval_return": final[0],
            "eval_env_steps": final[1],
            "best_eval_return": best[0],
            "best_eval_env_steps": best[1],
        }
