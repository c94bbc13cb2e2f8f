"""Our PPO against Brax's own PPO trainer, same machine, same script run, same setting.

Setting (``--scale full``, Brax's published halfcheetah PPO): ``brax/halfcheetah``,
positional backend, 2048 envs, unroll 20, 32 minibatches of 512 unrolls (= 10240
transitions), 8 epochs, gamma 0.95, GAE lambda 0.95, lr 3e-4, entropy 1e-3, clip
0.3, observation normalization, 5e7 steps, policy MLP 4x32 / value MLP 5x256
(swish), ``--num-evals`` evaluations of ``--num-eval-envs`` stochastic episodes of
1000 steps. Both trainers do the same number of env steps: Brax rounds the budget
up to whole epochs between evaluations and we use the same rounding.

Reported for both: compile time (sum of jax's trace + lower + backend-compile
events while the trainer ran), steady-state training steps/s (epochs after the
first, evaluations excluded), wall time from the trainer's start (compile and
evaluations included) to the first evaluation with return >= each ``--targets``,
final and best evaluation return; plus the env-only ceiling (uniform random
actions through a jitted scan of our env wrapper) and our rollout-only speed
(policy + env, no learning), at the same env count.

Both use the same policy: a tanh-squashed Gaussian with state-dependent std
(softplus + 0.001), our ``policy="tanh-gaussian", state_dependent_std=True`` (the Brax
presets' default). Known differences that remain (each trainer's own design): Brax
uses one Adam over both networks, a one-sample entropy estimate, GAE per 20-step
unroll and drops (rather than bootstraps) time-limit cuts; we use separate Adams, a
Gauss-Hermite entropy estimate, GAE over the whole 160-step rollout and bootstrap
time-limit cuts from V(final obs).

    python experiments/bench_brax.py                      # full setting (use a GPU)
    python experiments/bench_brax.py --scale cpu-tiny     # 64 envs, a few updates: smoke test

Results (with the hardware) go to ``experiments/results/bench_brax_<scale>_<platform>.json``
and ``.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax
import jax.numpy as jnp
import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


@dataclass
class Setting:
    env: str = "halfcheetah"
    backend: str = "positional"
    num_envs: int = 2048
    unroll_length: int = 20
    num_minibatches: int = 32
    batch_size: int = 512  # unrolls per minibatch (Brax's meaning)
    epochs: int = 8
    total_steps: int = 50_000_000
    num_evals: int = 20
    num_eval_envs: int = 128
    episode_length: int = 1000
    gamma: float = 0.95
    gae_lambda: float = 0.95
    lr: float = 3e-4
    entropy: float = 1e-3
    clip_eps: float = 0.3
    max_grad_norm: float = 1.0
    reward_scaling: float = 1.0
    seed: int = 0

    @property
    def steps_per_update(self) -> int:
        return self.batch_size * self.num_minibatches * self.unroll_length

    @property
    def num_steps(self) -> int:
        """Our rollout length per env: Brax's sequential unrolls per update x unroll length."""
        return self.steps_per_update // self.num_envs

    @property
    def updates_per_epoch(self) -> int:
        """Brax: ceil(num_timesteps / (evals after init x steps per update))."""
        return math.ceil(self.total_steps / (max(self.num_evals - 1, 1) * self.steps_per_update))

    @property
    def epochs_between_evals(self) -> int:
        return max(self.num_evals - 1, 1)


SCALES = {
    "full": {},
    # 64 envs x 80 steps (4 unrolls of 20) per update, 2 updates between 3 evaluations.
    "cpu-tiny": dict(num_envs=64, num_minibatches=4, batch_size=64, total_steps=2 * 2 * 5120,
                     num_evals=3, num_eval_envs=16),
}  # fmt: skip


class CompileClock:
    """Sums jax's compile-event durations (trace, lower, backend compile) while active."""

    EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __init__(self):
        self.total = 0.0
        self.active = False
        jax.monitoring.register_event_duration_secs_listener(self._on_event)

    def _on_event(self, event: str, duration: float, **_) -> None:
        if self.active and event in self.EVENTS:
            self.total += duration

    def start(self):
        self.total, self.active = 0.0, True

    def stop(self) -> float:
        self.active = False
        return self.total


def hardware() -> dict:
    d = jax.devices()[0]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "platform": d.platform,
        "device_kind": getattr(d, "device_kind", d.platform),
        "device_count": jax.device_count(),
        "cpu": cpu,
        "cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "jax": jax.__version__,
        "python": platform.python_version(),
    }


def time_to_targets(evals: list[dict], targets: list[float]) -> dict:
    out = {}
    for t in targets:
        hit = next((e["wall_s"] for e in evals if e["return"] >= t), None)
        out[str(int(t))] = hit
    return out


# --------------------------------------------------------------------------- ours


def our_config(s: Setting):
    from jaxpg.config import HParams, TrainConfig
    from jaxpg.presets import BRAX_PPO

    config = TrainConfig(
        algo="ppo", env=f"brax/{s.env}", backend=s.backend, episode_length=s.episode_length,
        total_timesteps=s.updates_per_epoch * s.epochs_between_evals * s.steps_per_update,
        num_envs=s.num_envs, num_steps=s.num_steps, update_epochs=s.epochs,
        num_minibatches=s.num_minibatches, hidden_sizes=(32,) * 4, critic_hidden_sizes=(256,) * 5,
        activation="swish", normalize_obs=True, anneal_lr=False, clip_value=False,
        updates_per_chunk=s.updates_per_epoch,
        # Brax's policy (tanh-squashed Gaussian, state-dependent std), as our brax/* presets.
        **{k: getattr(BRAX_PPO, k) for k in ("policy", "state_dependent_std", "min_std", "log_std_init")},
    )  # fmt: skip
    hparams = HParams(
        lr=s.lr, critic_lr=s.lr, gamma=s.gamma, gae_lambda=s.gae_lambda, clip_eps=s.clip_eps,
        ent_coef=s.entropy, ent_coef_final=s.entropy, vf_coef=0.5, max_grad_norm=s.max_grad_norm,
        reward_scale=s.reward_scaling,
    )  # fmt: skip
    return config, hparams


def make_evaluate(ctx, num_eval_envs: int, episode_length: int):
    """Mean return of one stochastic episode in each of ``num_eval_envs`` fresh envs."""
    env, nets, cfg = ctx.env, ctx.nets, ctx.config

    def evaluate(state, key):
        k_reset, k_run = jax.random.split(key)
        obs, env_state = jax.vmap(env.reset)(jax.random.split(k_reset, num_eval_envs))

        def step(carry, k):
            env_state, obs, ret, alive = carry
            seen = state.obs_stats.normalize(obs) if cfg.normalize_obs else obs
            k_act, k_env = jax.random.split(k)
            action = nets.policy(state.params, seen).sample(k_act)
            obs, env_state, r, term, trunc, _ = jax.vmap(env.step)(
                jax.random.split(k_env, num_eval_envs), env_state, action
            )
            ret = ret + r * alive
            alive = alive * (1.0 - jnp.logical_or(term, trunc).astype(jnp.float32))
            return (env_state, obs, ret, alive), None

        init = (env_state, obs, jnp.zeros(num_eval_envs), jnp.ones(num_eval_envs))
        (_, _, ret, _), _ = jax.lax.scan(step, init, jax.random.split(k_run, episode_length))
        return ret.mean()

    return evaluate


def run_ours(s: Setting, clock: CompileClock, log) -> dict:
    from jaxpg.sharding import shard_env_axis
    from jaxpg import make_trainer

    config, hparams = our_config(s)
    hp = hparams.validate().as_arrays()
    clock.start()
    t_start = time.perf_counter()
    trainer = make_trainer(config)
    evaluate = jax.jit(make_evaluate(trainer.ctx, s.num_eval_envs, s.episode_length))
    init = jax.jit(trainer.init)
    chunk = jax.jit(trainer.run_updates, static_argnums=2, donate_argnums=0)
    key = jax.random.PRNGKey(s.seed)
    k_init, k_eval = jax.random.split(key)
    state = shard_env_axis(init(k_init, hp), config.num_envs)
    evals, epoch_times = [], []

    def do_eval(i):
        r = float(evaluate(state, jax.random.fold_in(k_eval, i)))
        evals.append({"env_steps": int(state.env_steps), "return": r,
                      "wall_s": time.perf_counter() - t_start})  # fmt: skip
        log(f"  ours  eval {i}: steps {int(state.env_steps):,} return {r:.1f}")

    do_eval(0)
    for i in range(s.epochs_between_evals):
        t0 = time.perf_counter()
        state, _ = chunk(state, hp, s.updates_per_epoch)
        jax.block_until_ready(state)
        epoch_times.append(time.perf_counter() - t0)
        do_eval(i + 1)
    compile_s = clock.stop()
    steps_per_epoch = s.updates_per_epoch * s.steps_per_update
    steady = epoch_times[1:] or epoch_times  # the first epoch includes its compile
    return {
        "compile_time_s": compile_s,
        "steady_steps_per_s": steps_per_epoch * len(steady) / sum(steady),
        "first_epoch_s": epoch_times[0],
        "evals": evals,
        "env_steps": int(state.env_steps),
        "total_wall_s": time.perf_counter() - t_start,
    }


def rollout_only(s: Setting, steps: int) -> float:
    """Our policy + env rollout (no learning) steps/s at ``s.num_envs``, after compile."""
    from jaxpg.algos.collect import collect
    from jaxpg import make_trainer

    config, hparams = our_config(s)
    config = config.replace(num_steps=steps, total_timesteps=steps * s.num_envs)
    trainer = make_trainer(config)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0), hparams.as_arrays())
    fn = jax.jit(lambda st, k: collect(trainer.ctx, st, k)[1])
    jax.block_until_ready(fn(state, jax.random.PRNGKey(1)))
    t0 = time.perf_counter()
    jax.block_until_ready(fn(state, jax.random.PRNGKey(2)))
    return steps * s.num_envs / (time.perf_counter() - t0)


def env_only_ceiling(s: Setting, steps: int) -> float:
    """Uniform random actions through a jitted ``lax.scan`` of our env wrapper: steps/s."""
    from jaxpg import envs

    env = envs.make(f"brax/{s.env}", backend=s.backend, episode_length=s.episode_length)
    n, a = s.num_envs, env.action_space.size

    @jax.jit
    def run(key):
        obs, st = jax.vmap(env.reset)(jax.random.split(key, n))

        def step(carry, k):
            st, total = carry
            act = jax.random.uniform(k, (n, a), minval=-1.0, maxval=1.0)
            _, st, r, *_ = jax.vmap(env.step)(jax.random.split(k, n), st, act)
            return (st, total + r.sum()), None

        (_, total), _ = jax.lax.scan(step, (st, 0.0), jax.random.split(key, steps))
        return total

    jax.block_until_ready(run(jax.random.PRNGKey(0)))
    t0 = time.perf_counter()
    jax.block_until_ready(run(jax.random.PRNGKey(1)))
    return steps * n / (time.perf_counter() - t0)


# -------------------------------------------------------------------------- Brax


def patch_device_put_replicated() -> None:
    """Brax's trainer calls ``jax.device_put_replicated``, removed from current jax.

    It expects an array with a new leading device axis, one slice on each device
    (what ``pmap`` consumes; ``_unpmap`` reads ``addressable_shards[0]`` and
    squeezes axis 0): stack ``len(devices)`` copies and shard that axis.
    """
    if hasattr(jax, "device_put_replicated"):
        return
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    def device_put_replicated(x, devices):
        sharding = NamedSharding(Mesh(np.asarray(devices), ("d",)), PartitionSpec("d"))
        stack = lambda a: jnp.stack([jnp.asarray(a)] * len(devices))
        return jax.tree.map(lambda a: jax.device_put(stack(a), sharding), x)

    jax.device_put_replicated = device_put_replicated


def run_brax(s: Setting, clock: CompileClock, log) -> dict:
    import functools

    from brax import envs as brax_envs
    from brax.training.agents.ppo import networks as ppo_networks
    from brax.training.agents.ppo import train as ppo

    patch_device_put_replicated()
    env = brax_envs.get_environment(s.env, backend=s.backend)
    network_factory = functools.partial(
        ppo_networks.make_ppo_networks,
        policy_hidden_layer_sizes=(32,) * 4,
        value_hidden_layer_sizes=(256,) * 5,
    )
    evals: list[dict] = []
    sps: list[float] = []
    clock.start()
    t_start = time.perf_counter()

    def progress(step, metrics):
        r = float(metrics["eval/episode_reward"])
        evals.append({"env_steps": int(step), "return": r, "wall_s": time.perf_counter() - t_start})
        if "training/sps" in metrics:
            sps.append(float(metrics["training/sps"]))
        log(f"  brax  eval {len(evals) - 1}: steps {int(step):,} return {r:.1f}")

    ppo.train(
        environment=env, num_timesteps=s.total_steps, num_evals=s.num_evals,
        num_eval_envs=s.num_eval_envs, episode_length=s.episode_length, num_envs=s.num_envs,
        unroll_length=s.unroll_length, num_minibatches=s.num_minibatches,
        batch_size=s.batch_size, num_updates_per_batch=s.epochs, discounting=s.gamma,
        gae_lambda=s.gae_lambda, learning_rate=s.lr, entropy_cost=s.entropy,
        clipping_epsilon=s.clip_eps, max_grad_norm=s.max_grad_norm,
        reward_scaling=s.reward_scaling, normalize_observations=True, action_repeat=1,
        network_factory=network_factory, seed=s.seed, progress_fn=progress,
    )  # fmt: skip
    compile_s = clock.stop()
    steady = sps[1:] or sps  # the first epoch's sps includes its compile
    return {
        "compile_time_s": compile_s,
        "steady_steps_per_s": float(np.mean(steady)) if steady else float("nan"),
        "evals": evals,
        "env_steps": evals[-1]["env_steps"] if evals else 0,
        "total_wall_s": time.perf_counter() - t_start,
    }


# --------------------------------------------------------------------------- main


def summarize(res: dict, targets: list[float]) -> dict:
    returns = [e["return"] for e in res["evals"]]
    res["final_return"] = returns[-1] if returns else float("nan")
    res["best_return"] = max(returns) if returns else float("nan")
    res["wall_to_target_s"] = time_to_targets(res["evals"], targets)
    return res


def to_markdown(out: dict) -> str:
    s, hw = out["setting"], out["hardware"]
    lines = [
        f"# Brax PPO vs jaxpg PPO: brax/{s['env']} ({s['backend']}), scale `{out['scale']}`",
        "",
        f"Hardware: {hw['device_kind']} x{hw['device_count']} ({hw['platform']}), CPU {hw['cpu']} "
        f"({hw['cpu_cores']} cores), jax {hw['jax']}, brax {out['brax_version']}. {out['note']}",
        "",
        f"{s['num_envs']} envs, unroll {s['unroll_length']}, {s['num_minibatches']} minibatches "
        f"of {s['batch_size']} unrolls, {s['epochs']} epochs, {out['env_steps_each']:,} env steps, "
        f"{s['num_evals']} evals x {s['num_eval_envs']} episodes.",
        "",
        "| trainer | compile s | steady steps/s | wall to " + " | wall to ".join(out["targets"]) +
        " | final return | best return | total wall s |",
        "|---|---|---|" + "---|" * len(out["targets"]) + "---|---|---|",
    ]  # fmt: skip
    for name in ("ours", "brax"):
        r = out.get(name)
        if not r:
            continue
        hits = [
            "-" if r["wall_to_target_s"][t] is None else f"{r['wall_to_target_s'][t]:.1f} s"
            for t in out["targets"]
        ]
        lines.append(
            f"| {name} | {r['compile_time_s']:.1f} | {r['steady_steps_per_s']:,.0f} | "
            + " | ".join(hits)
            + f" | {r['final_return']:.1f} | {r['best_return']:.1f} | {r['total_wall_s']:.1f} |"
        )
    lines += [
        "",
        f"Env-only ceiling (random actions, {s['num_envs']} envs): "
        f"{out['env_only_steps_per_s']:,.0f} steps/s; our rollout only (policy + env): "
        f"{out['rollout_only_steps_per_s']:,.0f} steps/s.",
    ]
    if out.get("ours") and out.get("brax"):
        o, b = out["ours"]["steady_steps_per_s"], out["brax"]["steady_steps_per_s"]
        lines.append(
            f"Ours / Brax steady steps/s: {o / b:.2f}x (target >= 1.5x on a GPU); "
            f"ours / env-only ceiling: {o / out['env_only_steps_per_s']:.2f}x (target >= 0.5x)."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=sorted(SCALES), default="full")
    for name, default in vars(Setting()).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=None,
                       help=f"override (full scale: {default})")  # fmt: skip
    p.add_argument("--targets", type=float, nargs="*", default=[2000.0, 2500.0])
    p.add_argument("--ceiling-steps", type=int, default=None, help="env-only scan length")
    p.add_argument("--skip-brax", action="store_true")
    p.add_argument("--skip-ours", action="store_true")
    p.add_argument("--out", default=None, help="output stem (default under experiments/results)")
    p.add_argument("--note", default="", help="free text saved with the result")
    a = p.parse_args(argv)
    values = {**vars(Setting()), **SCALES[a.scale]}
    values.update({k: v for k, v in vars(a).items() if k in values and v is not None})
    s = Setting(**values)
    ceiling_steps = a.ceiling_steps or (1000 if a.scale == "full" else 100)
    log = lambda msg: print(msg, flush=True)
    clock = CompileClock()
    import brax

    hw = hardware()
    out = {
        "scale": a.scale,
        "setting": vars(s),
        "hardware": hw,
        "brax_version": brax.__version__,
        "targets": [str(int(t)) for t in a.targets],
        "note": a.note or (
            "CPU smoke test at tiny scale: proves both trainers run; figures are not "
            "representative of accelerator throughput." if hw["platform"] == "cpu" else ""
        ),
        "env_steps_each": s.updates_per_epoch * s.epochs_between_evals * s.steps_per_update,
    }  # fmt: skip
    log(f"setting: {vars(s)}\nhardware: {hw}")
    out["env_only_steps_per_s"] = env_only_ceiling(s, ceiling_steps)
    log(f"env-only ceiling: {out['env_only_steps_per_s']:,.0f} steps/s")
    out["rollout_only_steps_per_s"] = rollout_only(s, s.num_steps)
    log(f"our rollout only: {out['rollout_only_steps_per_s']:,.0f} steps/s")
    if not a.skip_ours:
        log("jaxpg PPO:")
        out["ours"] = summarize(run_ours(s, clock, log), a.targets)
    if not a.skip_brax:
        log("Brax PPO:")
        out["brax"] = summarize(run_brax(s, clock, log), a.targets)
    stem = a.out or os.path.join(RESULTS, f"bench_brax_{a.scale}_{hw['platform']}")
    os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
    from experiments.common import write_record as write_json

    write_json(stem + ".json", out)
    md = to_markdown(out)
    with open(stem + ".md", "w") as f:
        f.write(md)
    print(md)
    print(f"wrote {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
