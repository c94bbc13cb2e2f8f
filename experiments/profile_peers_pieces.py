"""Where jaxpg's and rejax's PPO updates spend their time, piece by piece, same setting.

``bench_peers.py`` times the two libraries' whole programs. This script takes one
update of each apart at the same setting (bench_peers' ``SETTING``, the agents
``vmap``-ed over a seed axis of ``--seeds`` as in the timed program) and times each
piece compiled on its own, in fresh processes that alternate between the libraries:

- ``rollout``: one update's collection, ``num_steps`` steps of ``num_envs`` envs
  (policy, sampling, env step; rejax also runs the critic here);
- ``advantages``: the critic's values where the rollout did not compute them, and GAE;
- ``shuffle``: one epoch's shuffle-and-split of the batch into minibatches;
- ``epochs``: the ``epochs x minibatches`` gradient steps from a fixed batch, shuffles
  included;
- ``update``: one whole update as the library runs it (jaxpg's includes its
  after-update diagnostics, episode sums and non-finite checks);
- ``minibatch step`` and ``rollout step``: a single step compiled alone, for the count
  of XLA kernels it runs (instructions of the entry computation that are not
  tuple/parameter/constant bookkeeping). On a CPU each kernel costs a dispatch, which
  at these sizes is comparable to its arithmetic.

Separately compiled pieces can fuse differently from the whole program, so the pieces
do not add up exactly to the update; the update, times the number of updates, should
be near ``bench_peers``' run time.

    python experiments/profile_peers_pieces.py --venv /work/venv-rejax --repeats 4

Writes ``experiments/results/profile_peers_pieces_<platform>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "experiments", "results")
PIECES = ("rollout", "advantages", "shuffle", "epochs", "update")
KERNELS = ("rollout_step", "minibatch_step")
_NOT_RUN = ("parameter", "get-tuple-element", "tuple", "constant", "bitcast")


def kernel_count(compiled) -> int:
    """Instructions of the entry computation that XLA runs one by one."""
    entry = compiled.as_text().split("\nENTRY ", 1)[1].split("\n}\n", 1)[0]
    ops = re.findall(r"^\s+(?:ROOT )?%\S+ = \S+ ([\w-]+)\(", entry, re.M)
    return sum(op not in _NOT_RUN for op in ops)


def time_piece(fn, args, calls: int) -> dict:
    """Compile ``fn(*args)`` (jitted), warm it once, then the median wall and the mean
    CPU seconds (all threads) of ``calls`` calls."""
    import jax

    compiled = jax.jit(fn).lower(*args).compile()
    jax.block_until_ready(compiled(*args))
    walls = []
    c0 = time.process_time()
    for _ in range(calls):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        walls.append(time.perf_counter() - t0)
    return {"ms": 1e3 * statistics.median(walls), "cpu_ms": 1e3 * (time.process_time() - c0) / calls}


def count_kernels(fn, args) -> int:
    import jax

    return kernel_count(jax.jit(fn).lower(*args).compile())


def kernel_kinds(compiled) -> dict[str, str]:
    """Entry-computation instruction name -> what runs it: ``ynnpack`` (a fusion XLA
    hands to YNNPACK: the dots of the forward pass and of the input gradients, with
    their bias and activation), ``xla dot`` (a dot XLA emits itself: here the weight
    gradients, which contract over the rows), ``fusion`` (XLA's elementwise and
    reduction loops) or the op's name (copy, concatenate, ...)."""
    entry = compiled.as_text().split("\nENTRY ", 1)[1].split("\n}\n", 1)[0]
    out = {}
    for name, op in re.findall(r"^\s+(?:ROOT )?%(\S+) = \S+ ([\w-]+)\(", entry, re.M):
        if op in _NOT_RUN:
            continue
        out[name] = "ynnpack" if name.startswith("ynn_fusion") else "xla dot" if op == "dot" else op
    return out


def kernel_profile(fn, args, calls: int, trace_dir: str) -> dict:
    """Per kind of kernel (:func:`kernel_kinds`), the microseconds per call that
    ``jax.profiler`` records over ``calls`` calls of ``fn``, with the per-call wall
    clock with and without the profiler (its own cost inflates small kernels, so the
    shares say more than the absolute figures)."""
    import glob
    import gzip
    import shutil

    import jax

    compiled = jax.jit(fn).lower(*args).compile()
    kinds = kernel_kinds(compiled)
    for _ in range(20):
        jax.block_until_ready(compiled(*args))
    t0 = time.perf_counter()
    for _ in range(calls):
        jax.block_until_ready(compiled(*args))
    plain_us = 1e6 * (time.perf_counter() - t0) / calls
    shutil.rmtree(trace_dir, ignore_errors=True)
    jax.profiler.start_trace(trace_dir, create_perfetto_trace=True)
    t0 = time.perf_counter()
    for _ in range(calls):
        jax.block_until_ready(compiled(*args))
    traced_us = 1e6 * (time.perf_counter() - t0) / calls
    jax.profiler.stop_trace()
    with gzip.open(glob.glob(f"{trace_dir}/**/*perfetto_trace.json.gz", recursive=True)[0]) as f:
        events = json.load(f)
    events = events["traceEvents"] if isinstance(events, dict) else events
    by_kind: dict = {}
    top: dict = {}
    for e in events:
        kind = kinds.get(e.get("name")) if e.get("ph") == "X" else None
        if kind is not None:
            by_kind[kind] = by_kind.get(kind, 0.0) + e.get("dur", 0.0) / calls
            top[e["name"]] = top.get(e["name"], 0.0) + e.get("dur", 0.0) / calls
    shutil.rmtree(trace_dir, ignore_errors=True)
    count = {}
    for kind in kinds.values():
        count[kind] = count.get(kind, 0) + 1
    return {"plain_us": plain_us, "traced_us": traced_us, "us_by_kind": by_kind, "kernels_by_kind": count,
            "top": dict(sorted(top.items(), key=lambda kv: -kv[1])[:8])}  # fmt: skip


# --------------------------------------------------------------------------- workers


def pieces_rejax(seeds: int):
    """rejax's pieces: name -> (fn, args), and its one-step programs for kernel counts."""
    import jax
    import jax.numpy as jnp

    sys.path.insert(0, os.path.join(ROOT, "experiments"))
    from bench_peers import SETTING
    from rejax import PPO
    from rejax.algos.ppo import AdvantageMinibatch

    s = SETTING
    make = lambda num_steps, minibatches: PPO.create(
        env=s["env"], num_envs=s["num_envs"], num_steps=num_steps, num_epochs=s["epochs"],
        num_minibatches=minibatches, learning_rate=s["lr"], ent_coef=s["ent_coef"],
        clip_eps=s["clip_eps"], gamma=s["gamma"], gae_lambda=s["gae_lambda"], vf_coef=s["vf_coef"],
        total_timesteps=10**6, eval_freq=10**6, skip_initial_evaluation=True,
        agent_kwargs={"activation": s["activation"], "hidden_layer_sizes": s["hidden"]},
    )  # fmt: skip
    algo = make(s["num_steps"], s["minibatches"])
    v = lambda f: jax.vmap(f)
    ts = v(algo.init_state)(jax.random.split(jax.random.PRNGKey(0), seeds))

    def advantages(ts, traj):
        last_val = algo.critic.apply(ts.critic_ts.params, ts.last_obs)
        last_val = jnp.where(ts.last_done, 0, last_val)
        return algo.calculate_gae(traj, last_val)

    def shuffle(ts, batch):
        return algo.shuffle_and_split(batch, ts.rng)

    def epochs_with(minibatches):  # train_iteration's epoch loop, from its pieces
        a = make(s["num_steps"], minibatches)

        def epochs(ts, batch):
            def epoch(ts, _):
                rng, mb_rng = jax.random.split(ts.rng)
                mbs = a.shuffle_and_split(batch, mb_rng)
                ts, _ = jax.lax.scan(lambda t, mb: (a.update(t, mb), None), ts.replace(rng=rng), mbs)
                return ts, None

            return jax.lax.scan(epoch, ts, None, a.num_epochs)[0]

        return epochs

    ts1, traj = jax.jit(v(algo.collect_trajectories))(ts)
    adv, targets = jax.jit(v(advantages))(ts1, traj)
    batch = AdvantageMinibatch(traj, adv, targets)
    mb = jax.tree.map(lambda x: x[:, 0], jax.jit(v(shuffle))(ts1, batch))
    one_step = make(1, s["num_envs"])  # one env step per "rollout"; minibatch of 1: never used
    pieces = {"rollout": (v(algo.collect_trajectories), (ts,)), "advantages": (v(advantages), (ts1, traj)),
              "shuffle": (v(shuffle), (ts1, batch)), "epochs": (v(epochs_with(s["minibatches"])), (ts1, batch)),
              "update": (v(algo.train_iteration), (ts,))}  # fmt: skip
    kernels = {"rollout_step": (v(one_step.collect_trajectories), (ts,)), "minibatch_step": (v(algo.update), (ts1, mb))}
    return pieces, kernels, lambda m: (v(epochs_with(m)), (ts1, batch))


def pieces_jaxpg(seeds: int):
    """jaxpg's pieces, as :func:`pieces_rejax`."""
    sys.path.insert(0, ROOT)
    import jax
    import jax.numpy as jnp

    sys.path.insert(0, os.path.join(ROOT, "experiments"))
    from bench_peers import SETTING
    from jaxpg import make_trainer, optim
    from jaxpg.algos import ppo
    from jaxpg.algos.collect import collect
    from jaxpg.batch import flatten_time_batch, make_batch, shuffle_and_split
    from jaxpg.config import HParams, TrainConfig

    s = SETTING
    config = TrainConfig(
        algo="ppo", env=s["env"], num_envs=s["num_envs"], num_steps=s["num_steps"],
        update_epochs=s["epochs"], num_minibatches=s["minibatches"], hidden_sizes=s["hidden"],
        activation=s["activation"], anneal_lr=False, clip_value=True, normalize_advantages=True,
        total_timesteps=10**6, eval_every=0,
    ).validate()  # fmt: skip
    hp = HParams(lr=s["lr"], critic_lr=s["lr"], ent_coef=s["ent_coef"], ent_coef_final=s["ent_coef"],
                 clip_eps=s["clip_eps"], gamma=s["gamma"], gae_lambda=s["gae_lambda"],
                 vf_coef=s["vf_coef"]).validate().as_arrays()  # fmt: skip
    trainer = make_trainer(config)
    ctx = trainer.ctx
    v = lambda f: jax.vmap(f)
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    state = jax.jit(jax.vmap(trainer.init, in_axes=(0, None)))(keys, hp)

    def rollout(state):
        return collect(ctx, state, state.key)

    def advantages(state, traj):
        return flatten_time_batch(make_batch(ctx.nets, state.params, traj, hp))

    def shuffle(state, batch):
        return shuffle_and_split(state.key, batch, config.num_minibatches)

    def step_and_carry(state):
        flat, unravel = optim.flatten(state.params)
        step = ppo.minibatch_step(ctx, hp, optim.actor_critic(hp), unravel, hp.ent_coef, 0.0)
        return step, (flat, state.opt_state, jnp.zeros((), bool))

    def epochs_with(minibatches):  # ppo.update's epoch loop
        def epochs(state, batch):
            step, carry = step_and_carry(state)
            epoch = lambda c, k: jax.lax.scan(step, c, shuffle_and_split(k, batch, minibatches))
            return jax.lax.scan(epoch, carry, jax.random.split(state.key, config.update_epochs))

        return epochs

    def minibatch_step(state, mb):
        step, carry = step_and_carry(state)
        return step(carry, mb)

    traj, state1 = jax.jit(v(rollout))(state)
    batch = jax.jit(v(advantages))(state1, traj)
    mb = jax.tree.map(lambda x: x[:, 0], jax.jit(v(shuffle))(state1, batch))
    one_step_ctx = make_trainer(config.replace(num_steps=1, num_minibatches=1)).ctx
    pieces = {"rollout": (v(rollout), (state,)), "advantages": (v(advantages), (state1, traj)),
              "shuffle": (v(shuffle), (state1, batch)),
              "epochs": (v(epochs_with(config.num_minibatches)), (state1, batch)),
              "update": (v(lambda st: trainer.update(st, hp, 1)), (state,))}  # fmt: skip
    kernels = {"rollout_step": (v(lambda st: collect(one_step_ctx, st, st.key)), (state,)),
               "minibatch_step": (v(minibatch_step), (state1, mb))}  # fmt: skip
    return pieces, kernels, lambda m: (v(epochs_with(m)), (state1, batch))


def worker(lib: str, seeds: int, calls: int, rows_sweep=(), trace: bool = False) -> dict:
    pieces, kernels, epochs_with = (pieces_rejax if lib == "rejax" else pieces_jaxpg)(seeds)
    out = {name: time_piece(fn, args, calls if name != "update" else max(calls // 4, 3))
           for name, (fn, args) in pieces.items()}  # fmt: skip
    out["kernels"] = {name: count_kernels(fn, args) for name, (fn, args) in kernels.items()}
    # The minibatch step's cost against its size: the epochs at M minibatches of the same
    # batch take epochs x M steps of batch / M rows each.
    sys.path.insert(0, os.path.join(ROOT, "experiments"))
    from bench_peers import SETTING

    out["step_us_by_rows"] = {}
    batch = SETTING["num_envs"] * SETTING["num_steps"]
    for m in rows_sweep:
        t = time_piece(*epochs_with(m), max(calls // 4, 3))
        steps = SETTING["epochs"] * m
        out["step_us_by_rows"][str(batch // m)] = {"us": 1e3 * t["ms"] / steps, "cpu_us": 1e3 * t["cpu_ms"] / steps}
    if trace:
        fn, args = kernels["minibatch_step"]
        out["kernel_profile"] = kernel_profile(fn, args, 200, tempfile.mkdtemp(prefix="jaxpg-trace-"))
    return out


# --------------------------------------------------------------------------- parent


def run_child(python: str, lib: str, seeds: int, calls: int, timeout: float, cpus, rows_sweep=(),
              trace: bool = False) -> dict:  # fmt: skip
    env = dict(os.environ, PYTHONPATH="" if lib == "rejax" else ROOT)
    # The worker pins itself before it imports jax (a preexec_fn would run after a fork
    # of this process, where jax's threads already run).
    pin = [] if cpus is None else ["--pin", ",".join(map(str, sorted(cpus)))]
    cmd = [python, os.path.abspath(__file__), "--worker", lib, "--seeds", str(seeds), "--calls", str(calls), *pin,
           *(["--kernel-profile"] if trace else []), "--rows-sweep", *map(str, rows_sweep)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def summarize(runs: dict) -> dict:
    """Per library and piece: the median over processes of each process's median ms."""
    out = {}
    for lib, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            continue
        out[lib] = {p: {k: statistics.median(r[p][k] for r in ok) for k in ("ms", "cpu_ms")} for p in PIECES}
        out[lib]["kernels"] = ok[0]["kernels"]
        rows = ok[0].get("step_us_by_rows", {})
        out[lib]["step_us_by_rows"] = {n: {k: statistics.median(r["step_us_by_rows"][n][k] for r in ok)
                                           for k in ("us", "cpu_us")} for n in rows}  # fmt: skip
        profiles = [r["kernel_profile"] for r in ok if "kernel_profile" in r]
        if profiles:
            kinds = sorted({k for p in profiles for k in p["us_by_kind"]})
            out[lib]["kernel_profile"] = {
                "plain_us": statistics.median(p["plain_us"] for p in profiles),
                "traced_us": statistics.median(p["traced_us"] for p in profiles),
                "us_by_kind": {k: statistics.median(p["us_by_kind"].get(k, 0.0) for p in profiles) for k in kinds},
                "kernels_by_kind": profiles[0]["kernels_by_kind"], "top": profiles[0]["top"]}  # fmt: skip
    return out


def fit_line(by_rows: dict):
    """``(fixed us, us per row)``: least squares of step time on rows; None below 2 sizes."""
    if len(by_rows) < 2:
        return None
    xs = [float(n) for n in by_rows]
    ys = [by_rows[n]["us"] for n in by_rows]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def to_markdown(res: dict) -> str:
    hw, s = res["hardware"], res["summary"]
    lines = ["# jaxpg and rejax PPO, one update taken apart (same setting)", "",
             f"Hardware: {hw['cpu']} ({hw['cpu_cores']} cores), jax {hw['jax']}; workers on "
             f"{res['worker_cpus']} CPU(s). {res['note']}", "",
             f"Setting: bench_peers' ({res['setting']}), {res['seeds']} seed(s) vmapped. "
             f"{res['processes']} fresh process(es) per library, alternating; per piece the median over "
             "processes of each one's median call.", "",
             "| piece | jaxpg ms | rejax ms | jaxpg / rejax | jaxpg CPU ms | rejax CPU ms |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    if "jaxpg" in s and "rejax" in s:
        j, r = s["jaxpg"], s["rejax"]
        for p in PIECES:
            lines.append(f"| {p} | {j[p]['ms']:.2f} | {r[p]['ms']:.2f} | {j[p]['ms'] / r[p]['ms']:.2f}x | "
                         f"{j[p]['cpu_ms']:.2f} | {r[p]['cpu_ms']:.2f} |")  # fmt: skip
        lines += ["", "| XLA kernels per step | jaxpg | rejax |", "|---|---|---|"]
        for k in KERNELS:
            lines.append(f"| {k.replace('_', ' ')} | {j['kernels'][k]} | {r['kernels'][k]} |")
        n_mb = res["setting"]["epochs"] * res["setting"]["minibatches"]
        lines += ["", f"Per minibatch step (epochs / {n_mb}): jaxpg {1e3 * j['epochs']['ms'] / n_mb:.0f} us, "
                  f"rejax {1e3 * r['epochs']['ms'] / n_mb:.0f} us. Per rollout step (rollout / "
                  f"{res['setting']['num_steps']}): jaxpg {1e3 * j['rollout']['ms'] / res['setting']['num_steps']:.0f} us, "
                  f"rejax {1e3 * r['rollout']['ms'] / res['setting']['num_steps']:.0f} us."]  # fmt: skip
    if "jaxpg" in s and "rejax" in s and s["jaxpg"].get("step_us_by_rows"):
        lines += ["", "The minibatch step against its size (the same batch in M minibatches; us per step, "
                  "wall / CPU):", "", "| rows | jaxpg us | rejax us | jaxpg / rejax | jaxpg CPU us | rejax CPU us |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for n in sorted(s["jaxpg"]["step_us_by_rows"], key=int):
            jr, rr = s["jaxpg"]["step_us_by_rows"][n], s["rejax"]["step_us_by_rows"].get(n)
            if rr:
                lines.append(f"| {n} | {jr['us']:.0f} | {rr['us']:.0f} | {jr['us'] / rr['us']:.2f}x | "
                             f"{jr['cpu_us']:.0f} | {rr['cpu_us']:.0f} |")  # fmt: skip
        for lib in ("jaxpg", "rejax"):
            fit = fit_line(s[lib]["step_us_by_rows"])
            if fit:
                lines.append(f"\n{lib}: a step costs about {fit[0]:.0f} us plus {fit[1]:.2f} us per row "
                             f"(least squares over the rows above).")  # fmt: skip
    if "jaxpg" in s and "rejax" in s and "kernel_profile" in s["jaxpg"] and "kernel_profile" in s["rejax"]:
        j, r = s["jaxpg"]["kernel_profile"], s["rejax"]["kernel_profile"]
        kinds = sorted(set(j["us_by_kind"]) | set(r["us_by_kind"]), key=lambda k: -j["us_by_kind"].get(k, 0.0))
        lines += ["", "One minibatch step under jax.profiler (200 calls; us per call by kind of kernel, "
                  "with the kernel count; the profiler's own cost inflates every kernel, so compare shares):", "",
                  "| kernels | jaxpg us (count) | jaxpg share | rejax us (count) | rejax share |", "|---|---|---|---|---|"]  # fmt: skip
        tj, tr = sum(j["us_by_kind"].values()), sum(r["us_by_kind"].values())
        for k in kinds:
            uj, ur = j["us_by_kind"].get(k, 0.0), r["us_by_kind"].get(k, 0.0)
            lines.append(f"| {k} | {uj:.0f} ({j['kernels_by_kind'].get(k, 0)}) | {uj / tj:.0%} | "
                         f"{ur:.0f} ({r['kernels_by_kind'].get(k, 0)}) | {ur / tr:.0%} |")  # fmt: skip
        lines += [f"| all kernels | {tj:.0f} | | {tr:.0f} | |",
                  f"| call, wall (without / with the profiler) | {j['plain_us']:.0f} / {j['traced_us']:.0f} | | "
                  f"{r['plain_us']:.0f} / {r['traced_us']:.0f} | |"]  # fmt: skip
    for e in res.get("errors", []):
        lines.append(f"- error ({e['lib']}): {e['error']}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--venv", default=os.path.expanduser("~/.cache/jaxpg-peers/rejax-venv"),
                   help="rejax's virtualenv (bench_peers.py builds it)")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3, help="fresh processes per library")
    p.add_argument("--calls", type=int, default=40, help="timed calls per piece in a process (update: a quarter)")
    p.add_argument("--cpus", type=int, default=None, help="run the workers on the first N CPUs")
    p.add_argument("--rows-sweep", type=int, nargs="*", default=[4, 16, 64], metavar="M",
                   help="also time the epochs at M minibatches of the same batch: the minibatch "
                   "step's cost against its rows (batch / M)")
    p.add_argument("--kernel-profile", action="store_true",
                   help="also trace 200 calls of the minibatch step with jax.profiler: time per kind of "
                   "kernel (YNNPACK fusions, XLA's own dots, XLA fusions, copies)")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--out", default=None)
    p.add_argument("--note", default="")
    p.add_argument("--worker", choices=["rejax", "jaxpg"], help=argparse.SUPPRESS)
    p.add_argument("--pin", default=None, help=argparse.SUPPRESS)  # a worker's CPUs, "0,1"
    a = p.parse_args(argv)
    if a.worker:
        sys.path.insert(0, os.path.join(ROOT, "experiments"))
        from bench_peers import pin_self

        pin_self(a.pin)
        print(json.dumps(worker(a.worker, a.seeds, a.calls, a.rows_sweep, a.kernel_profile)))
        return 0
    for name, value, low in (("--seeds", a.seeds, 1), ("--repeats", a.repeats, 1), ("--calls", a.calls, 1),
                             *(("--rows-sweep", m, 1) for m in a.rows_sweep)):
        if value < low:
            print(f"error: {name} {value}: give {low} or more", file=sys.stderr)
            return 2
    sys.path.insert(0, os.path.join(ROOT, "experiments"))
    from bench_peers import worker_cpus

    cpus, error = worker_cpus(a.cpus)
    if error:
        print(error, file=sys.stderr)
        return 2
    peer_python = os.path.join(a.venv, "bin", "python")
    if not os.path.exists(peer_python):
        print(f"error: no rejax virtualenv at {a.venv}: run experiments/bench_peers.py once (it builds one) "
              "or pass --venv", file=sys.stderr)  # fmt: skip
        return 2
    sys.path.insert(0, ROOT)
    from bench_brax import hardware
    from bench_peers import SETTING
    from common import write_record

    pythons = {"rejax": peer_python, "jaxpg": sys.executable}
    res = {"benchmark": "profile_peers_pieces", "setting": SETTING, "seeds": a.seeds, "hardware": hardware(),
           "worker_cpus": len(cpus or os.sched_getaffinity(0)), "processes": a.repeats, "note": a.note,
           "runs": {"jaxpg": [], "rejax": []}, "errors": []}  # fmt: skip
    stem = a.out or os.path.join(RESULTS, f"profile_peers_pieces_{res['hardware']['platform']}")
    for rep in range(a.repeats):
        for lib in ("rejax", "jaxpg") if rep % 2 == 0 else ("jaxpg", "rejax"):
            r = run_child(pythons[lib], lib, a.seeds, a.calls, a.timeout, cpus, a.rows_sweep, a.kernel_profile)
            res["runs"][lib].append(r)
            if "error" in r:
                res["errors"].append({"lib": lib, "error": r["error"]})
            print(f"{lib}: " + (r.get("error") or ", ".join(f"{k} {r[k]['ms']:.2f} ms" for k in PIECES)), flush=True)
    res["summary"] = summarize(res["runs"])
    write_record(stem + ".json", res)
    with open(stem + ".md", "w") as f:
        f.write(to_markdown(res))
    print(to_markdown(res))
    print(f"wrote {stem}.json and {stem}.md")
    return 0 if not res["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
