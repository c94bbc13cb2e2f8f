"""Learning checks of the presets over many seeds in one compiled program.

For an env's preset (``jaxpg.presets.preset``), optionally changed by
``--set field=value`` (config or hparams fields) and a grid of hparams
(``--grid field=v1,v2``, vmapped beside the seeds), trains S seeds per setting with
``jax.jit(jax.vmap(make_train(cfg)))`` and reports, per setting and seed, the final
and best deterministic in-program evaluation return (``eval_return``) and the
training return over the last 20% of updates, the count of seeds above
``--success`` (eval), the eval curve (mean over seeds per evaluation) and the wall
time with compilation. Writes ``experiments/results/preset_<env>[_<tag>].json``
with the hardware, and with ``--figure`` the eval-return curve.

    python experiments/preset_checks.py --env MountainCarContinuous-v0 --seeds 8 --success 90
    python experiments/preset_checks.py --env MountainCar-v0 --seeds 4 \
        --set num_envs=64 --grid ent_coef=0.01,0.05 --success -199
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from experiments.common import FIGURES, RESULTS, final_return, hardware, plot_curves, train_many  # noqa: E402
from jaxpg.presets import Preset, preset  # noqa: E402


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text in ("true", "false", "True", "False"):
        return text.lower() == "true"
    if text.startswith("(") or "," in text:
        return tuple(int(v) for v in text.strip("()").split(",") if v)
    return text


def apply_overrides(base: Preset, pairs: list[str]) -> Preset:
    """``field=value`` onto whichever of the preset's config and hparams has the field."""
    cfg_fields = {f.name for f in dataclasses.fields(base.config)}
    cfg_kw, hp_kw = {}, {}
    for pair in pairs:
        name, value = pair.split("=", 1)
        (cfg_kw if name in cfg_fields else hp_kw)[name] = _parse_value(value)
    hparams = base.hparams.replace(**{k: float(v) for k, v in hp_kw.items()})
    return Preset(base.config.replace(**cfg_kw), hparams)


def grid_settings(hparams, grid: list[str]):
    """``[(label, hparams)]`` for the cartesian product of ``--grid`` hparam values."""
    axes = [(g.split("=", 1)[0], [float(v) for v in g.split("=", 1)[1].split(",")]) for g in grid]
    if not axes:
        return [("preset", hparams)]
    out = []
    for values in itertools.product(*(vals for _, vals in axes)):
        changes = dict(zip((n for n, _ in axes), values))
        out.append((",".join(f"{k}={v:g}" for k, v in changes.items()), hparams.replace(**changes)))
    return out


def eval_curves(metrics: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(env_steps[E], eval_return[G, S, E])`` at the updates that evaluated."""
    done = metrics["eval_done"][0, 0] > 0
    return metrics["eval_env_steps"][0, 0][done], metrics["eval_return"][..., done]


def summarize(labels, metrics, config, success: float) -> list[dict]:
    steps, evals = eval_curves(metrics)
    train_final = final_return(metrics)
    rows = []
    for g, label in enumerate(labels):
        final, best = evals[g, :, -1], evals[g].max(-1)
        first_hit = [int(steps[np.argmax(e > success)]) if (e > success).any() else None for e in evals[g]]
        rows.append({
            "setting": label,
            "final_eval_return": [round(float(v), 1) for v in final],
            "best_eval_return": [round(float(v), 1) for v in best],
            "train_return_last20pct": [round(float(v), 1) for v in train_final[g]],
            "seeds_final_eval_above_success": int((final > success).sum()),
            "seeds_best_eval_above_success": int((best > success).sum()),
            "env_steps_first_eval_above_success": first_hit,
            "eval_curve_mean": [round(float(v), 1) for v in evals[g].mean(0)],
            "eval_curves_per_seed": np.round(evals[g], 1).tolist(),
        })  # fmt: skip
    return rows


def random_policy_return(env_name: str, episodes: int = 64, seed: int = 0) -> dict:
    """Mean (and 95% interval) return of uniformly random actions over ``episodes`` episodes:
    the baseline that "learns" is checked against."""
    import jax
    import jax.numpy as jnp

    from jaxpg.envs import make
    from jaxpg.evaluation import max_eval_steps, run_episodes, t_quantile_975

    env = make(env_name)
    space = env.action_space

    def act(key, obs):
        if space.is_discrete:
            return jax.random.randint(key, obs.shape[:1], 0, space.n)
        return jax.random.uniform(key, obs.shape[:1] + tuple(space.shape), minval=jnp.asarray(space.low), maxval=jnp.asarray(space.high))

    run = jax.jit(lambda k: run_episodes(env, act, k, episodes, max_eval_steps(env)))
    returns = np.asarray(run(jax.random.PRNGKey(seed))[0])
    half = t_quantile_975(episodes) * returns.std(ddof=1) / np.sqrt(episodes)
    return {"episodes": episodes, "mean": round(float(returns.mean()), 2),
            "ci95": [round(float(returns.mean() - half), 2), round(float(returns.mean() + half), 2)]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", required=True)
    p.add_argument("--algo", default="ppo")
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--set", nargs="*", default=[], help="field=value (config or hparams)")
    p.add_argument("--grid", nargs="*", default=[], help="hparam=v1,v2 (vmapped)")
    p.add_argument("--evals", type=int, default=20, help="evaluations per run")
    p.add_argument("--success", type=float, default=None, help="eval return counted as success")
    p.add_argument("--tag", default="")
    p.add_argument("--figure", action="store_true")
    p.add_argument("--random-only", action="store_true", help="only the random-policy baseline")
    a = p.parse_args(argv)
    baseline = random_policy_return(a.env)
    print(f"random policy on {a.env}: {baseline}")
    if a.random_only:
        return 0

    from experiments.common import write_record as write_json

    config, hparams = apply_overrides(preset(a.algo, a.env), a.set)
    if not any(s.startswith("eval_every=") for s in a.set):
        config = config.replace(eval_every=max(1, config.num_updates // a.evals))
    settings = grid_settings(hparams, a.grid)
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    t0 = time.perf_counter()
    _, metrics, seconds = train_many(config, [hp for _, hp in settings], seeds)
    success = a.success if a.success is not None else -np.inf
    rows = summarize([lab for lab, _ in settings], metrics, config, success)
    steps, _ = eval_curves(metrics)
    result = {
        "env": a.env, "algo": a.algo, "seeds": seeds, "overrides": a.set, "grid": a.grid,
        "success_threshold": a.success, "total_timesteps": config.num_updates * config.batch_size,
        "agents_in_one_program": len(settings) * len(seeds),
        "wall_s_with_compile": round(seconds, 1), "eval_env_steps": [int(s) for s in steps],
        "random_policy": baseline, "config": config.to_dict(), "hparams_base": hparams.to_dict(), "settings": rows,
        "hardware": hardware(), "written": time.strftime("%Y-%m-%d %H:%M:%S"),
    }  # fmt: skip
    for r in rows:
        print(f"[{r['setting']}] final eval {r['final_eval_return']}  best {r['best_eval_return']}")
        print(f"   train(last 20%) {r['train_return_last20pct']}")
        print(f"   seeds final>{a.success}: {r['seeds_final_eval_above_success']}/{len(seeds)}, "
              f"best>{a.success}: {r['seeds_best_eval_above_success']}/{len(seeds)}; curve {r['eval_curve_mean']}")
    print(f"{len(settings)}x{len(seeds)} agents, {result['total_timesteps']} steps each, "
          f"{seconds / 60:.1f} min with compile (wall {time.perf_counter() - t0:.0f} s)")
    name = "preset_" + a.env.replace("/", "_") + (f"_{a.tag}" if a.tag else "")
    os.makedirs(RESULTS, exist_ok=True)
    write_json(os.path.join(RESULTS, f"{name}.json"), result)
    if a.figure:
        _, evals = eval_curves(metrics)
        path = os.path.join(FIGURES, f"{name}.png")
        plot_curves(path, steps, {lab: evals[g] for g, (lab, _) in enumerate(settings)},
                    f"{a.algo} {a.env}: deterministic eval return", ylabel="eval return")  # fmt: skip
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
