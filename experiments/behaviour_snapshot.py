"""Behaviour snapshot: a few updates of every algorithm, recorded bit for bit.

A refactor that should not change what training computes is checked by recording a
snapshot before it and comparing after:

    python experiments/behaviour_snapshot.py record experiments/results/snapshot_before.json
    # ... change the code ...
    python experiments/behaviour_snapshot.py record /tmp/after.json
    python experiments/behaviour_snapshot.py compare experiments/results/snapshot_before.json /tmp/after.json

Each case trains with ``make_train`` (ppo, a2c, reinforce with each baseline, npg,
trpo; discrete CartPole-v1 and continuous Pendulum-v1; a few updates of a tiny
batch) and records every per-update metric (as float hex, so equality is exact)
and a SHA-256 of the final parameters. Two cases also go through the chunked
driver ``run`` (evaluation on, several chunks) and record its logged rows without
the timing fields. Run on one machine and one jax version: bit equality across
machines is not expected.
"""

from __future__ import annotations

import hashlib
import json
import sys

import jax
import numpy as np

TIMING = ("sps", "wall_time_s")


def _cases():
    base = dict(num_envs=4, num_steps=16, update_epochs=2, num_minibatches=2, hidden_sizes=(16, 16),
                eval_every=0)  # fmt: skip
    cases = []
    for env in ("CartPole-v1", "Pendulum-v1"):
        for algo in ("ppo", "a2c", "npg", "trpo"):
            cases.append((f"{algo}-{env}", dict(base, algo=algo, env=env, total_timesteps=3 * 64), {}))
        for baseline in ("none", "value", "linear"):
            cfg = dict(base, algo="reinforce", env=env, baseline=baseline, num_steps=32,
                       total_timesteps=3 * 128)  # fmt: skip
            cases.append((f"reinforce-{baseline}-{env}", cfg, {}))
    cases.append(("ppo-klpen-normobs-tanh-Pendulum-v1",
                  dict(base, algo="ppo", env="Pendulum-v1", ppo_objective="kl_penalty", normalize_obs=True,
                       policy="tanh-gaussian", state_dependent_std=True, total_timesteps=3 * 64),
                  dict(target_kl=0.01)))  # fmt: skip
    return cases


def _hex(x) -> list[str]:
    return [float(v).hex() for v in np.asarray(x, np.float64).reshape(-1)]


def _params_hash(params) -> str:
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(params):
        h.update(np.asarray(leaf).tobytes())
    return h.hexdigest()


def _as_dict(metrics) -> dict:
    return {k: metrics[k] for k in metrics.keys()} if hasattr(metrics, "keys") else dict(metrics)


def record() -> dict:
    try:  # the public API
        from jaxpg import HParams, TrainConfig, make_train, run
    except ImportError:  # before issue 19
        from jaxpg.config import HParams, TrainConfig
        from jaxpg.runner.loop import run
        from jaxpg.runner.trainer import make_train

    out = {}
    for name, cfg, hp in _cases():
        config, hparams = TrainConfig(**cfg), HParams(**hp)
        state, metrics = jax.jit(make_train(config))(jax.random.PRNGKey(7), hparams.as_arrays())
        metrics = _as_dict(jax.device_get(metrics))
        out[name] = {"metrics": {k: _hex(v) for k, v in sorted(metrics.items())},
                     "params": _params_hash(state.params)}  # fmt: skip
        print(name, out[name]["params"][:12], flush=True)
    for name, cfg in (("run-ppo-CartPole-v1", dict(algo="ppo", env="CartPole-v1")),
                      ("run-reinforce-Pendulum-v1", dict(algo="reinforce", env="Pendulum-v1", num_steps=32))):  # fmt: skip
        base = dict(num_envs=4, num_steps=16, update_epochs=2, num_minibatches=2, hidden_sizes=(16, 16),
                    eval_every=2, num_eval_envs=2, eval_stochastic=True, updates_per_chunk=2)  # fmt: skip
        config = TrainConfig(**{**base, **cfg})
        config = config.replace(total_timesteps=5 * config.batch_size)
        result = _run(run, config, HParams())
        rows = [{k: (v if isinstance(v, (int, str)) or v is None else float(v).hex())
                 for k, v in sorted(r.items()) if k not in TIMING} for r in result.history]  # fmt: skip
        out[name] = {"rows": rows, "params": _params_hash(result.state.params)}
        print(name, out[name]["params"][:12], flush=True)
    return out


def _run(run, config, hparams):
    try:  # after issue 19: options travel in a RunOptions
        from jaxpg import RunOptions

        return run(config, hparams, RunOptions(progress=False, handle_signals=False))
    except ImportError:
        return run(config, hparams, progress=False, handle_signals=False)


def compare(a: dict, b: dict) -> list[str]:
    diffs = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            diffs.append(f"{name}: only in {'second' if name in b else 'first'}")
            continue
        for key in sorted(set(a[name]) | set(b[name])):
            x, y = a[name].get(key), b[name].get(key)
            if x == y:
                continue
            if isinstance(x, dict) and isinstance(y, dict):
                for m in sorted(set(x) | set(y)):
                    if x.get(m) != y.get(m):
                        diffs.append(f"{name}: metric {m} differs ({x.get(m, 'missing')!s:.60} vs {y.get(m, 'missing')!s:.60})")
            else:
                diffs.append(f"{name}: {key} differs")
    return diffs


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "record":
        with open(argv[1], "w") as f:
            json.dump(record(), f, indent=1, sort_keys=True)
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        with open(argv[1]) as f1, open(argv[2]) as f2:
            diffs = compare(json.load(f1), json.load(f2))
        print("\n".join(diffs) if diffs else "identical")
        return 1 if diffs else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
