"""Evaluate a finished run's policy: ``jaxpg eval DIR``.

A run directory written by :func:`jaxpg.train.run` holds ``config.json`` and
``params.msgpack`` (the final actor/critic parameters and observation statistics,
written by :func:`save_params`). :func:`load_run` reads them back;
:func:`evaluate` plays ``episodes`` episodes in parallel (one vmapped env each) and
returns each one's undiscounted return, either acting with the distribution's mode
(deterministic) or sampling from it (stochastic).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.config import HParams, TrainConfig
from jaxpg.errors import JaxpgError

PARAMS_FILE = "params.msgpack"


def save_params(out_dir: str, state) -> str:
    """Write ``state.params`` and the observation statistics to ``out_dir/params.msgpack``.

    Called by the driver at the end of a run; a stand-in for full checkpoints that
    is enough to act with the final policy.
    """
    from flax import serialization

    stats = state.obs_stats
    payload = {
        "params": jax.device_get(state.params),
        "obs_stats": {
            "mean": np.asarray(stats.mean),
            "var": np.asarray(stats.var),
            "count": np.asarray(stats.count),
        },
    }
    path = os.path.join(out_dir, PARAMS_FILE)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(serialization.msgpack_serialize(payload))
    os.replace(tmp, path)
    return path


@dataclass
class LoadedRun:
    """What acting with a saved run needs."""

    run_dir: str
    config: TrainConfig
    hparams: HParams
    params: Any
    obs_stats: Any  # RunningStats
    seed: int


def _config_from_json(d: dict) -> TrainConfig:
    d = dict(d)
    for name in ("hidden_sizes", "critic_hidden_sizes"):
        if d.get(name) is not None:
            d[name] = tuple(d[name])
    known = {f for f in TrainConfig.__dataclass_fields__}
    return TrainConfig(**{k: v for k, v in d.items() if k in known})


def read_config(run_dir: str) -> tuple[TrainConfig, HParams, int]:
    """``(config, hparams, seed)`` of a run directory; one-line error if missing."""
    if not os.path.isdir(run_dir):
        raise JaxpgError(f"run directory {run_dir!r} not found: pass a directory written by jaxpg train")
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        raise JaxpgError(f"{path} not found: {run_dir!r} is not a jaxpg run directory")
    with open(path) as f:
        raw = json.load(f)
    config = _config_from_json(raw["config"])
    known = {f for f in HParams.__dataclass_fields__}
    hparams = HParams(**{k: v for k, v in raw.get("hparams", {}).items() if k in known})
    return config, hparams, int(raw.get("seed", 0))


def load_run(run_dir: str) -> LoadedRun:
    """Read a run directory's config and final parameters."""
    from flax import serialization

    from jaxpg.normalization import RunningStats

    config, hparams, seed = read_config(run_dir)
    path = os.path.join(run_dir, PARAMS_FILE)
    if not os.path.isfile(path):
        raise JaxpgError(
            f"{path} not found: the run has no saved parameters (did it finish? "
            "runs write them at the end)"
        )
    with open(path, "rb") as f:
        payload = serialization.msgpack_restore(f.read())
    s = payload["obs_stats"]
    stats = RunningStats(jnp.asarray(s["mean"]), jnp.asarray(s["var"]), jnp.asarray(s["count"]))
    params = jax.tree.map(jnp.asarray, payload["params"])
    return LoadedRun(run_dir, config, hparams, params, stats, seed)


def make_policy_fn(ctx, params, obs_stats, deterministic: bool):
    """``act(key, obs) -> action`` for one (unbatched) observation."""
    normalize = obs_stats.normalize if ctx.config.normalize_obs else (lambda o: o)

    def act(key, obs):
        dist = ctx.nets.policy(params, normalize(obs))
        return dist.mode() if deterministic else dist.sample(key)

    return act


def default_max_steps(env) -> int:
    return int(getattr(env, "max_episode_steps", None) or 1000)


def evaluate(
    ctx,
    params,
    obs_stats,
    key: jax.Array,
    episodes: int = 10,
    deterministic: bool = True,
    max_steps: int | None = None,
) -> np.ndarray:
    """Returns ``[episodes]`` of the first episode each of ``episodes`` parallel envs plays.

    Each env runs for ``max_steps`` steps (default: the env's time limit); an episode
    that has not ended by then counts with its partial return.
    """
    env = ctx.env
    max_steps = max_steps or default_max_steps(env)
    act = make_policy_fn(ctx, params, obs_stats, deterministic)

    def one_episode(k):
        k_reset, k_run = jax.random.split(k)
        obs, state = env.reset(k_reset)

        def step(carry, k_t):
            obs, state, ret, done = carry
            k_act, k_env = jax.random.split(k_t)
            action = act(k_act, obs)
            obs, state, reward, term, trunc, _ = env.step(k_env, state, action)
            ret = ret + jnp.where(done, 0.0, reward)
            done = jnp.logical_or(done, jnp.logical_or(term, trunc))
            return (obs, state, ret, done), None

        init = (obs, state, jnp.zeros((), jnp.float32), jnp.zeros((), bool))
        (_, _, ret, _), _ = jax.lax.scan(step, init, jax.random.split(k_run, max_steps))
        return ret

    returns = jax.jit(jax.vmap(one_episode))(jax.random.split(key, episodes))
    return np.asarray(returns)


def evaluate_run(run_dir: str, episodes: int = 10, seed: int = 0, max_steps: int | None = None) -> dict:
    """Deterministic and stochastic evaluation of a saved run; also written to ``eval.json``."""
    from jaxpg.logging import write_json
    from jaxpg.train import make_context

    if episodes < 1:
        raise JaxpgError(f"invalid episodes={episodes}: must be >= 1")
    run = load_run(run_dir)
    ctx = make_context(run.config)
    out: dict = {"episodes": episodes, "seed": seed, "env": run.config.env, "algo": run.config.algo}
    key = jax.random.PRNGKey(seed)
    for mode, det in (("deterministic", True), ("stochastic", False)):
        key, k = jax.random.split(key)
        r = evaluate(ctx, run.params, run.obs_stats, k, episodes, det, max_steps)
        out[mode] = {"mean": float(r.mean()), "std": float(r.std()), "returns": r.tolist()}
    write_json(os.path.join(run_dir, "eval.json"), out)
    return out
