"""jaxpg PPO against a peer (rejax 0.1.3) on the same setting, alternating runs in one script.

Setting (both): CartPole-v1, 16 envs x 128 steps, 8 epochs x 16 minibatches, swish
64x64 actor and critic (separate Adams), lr 3e-4, entropy 0.01, clip 0.2, gamma
0.99, GAE 0.95, value clipping, per-minibatch advantage whitening, no lr annealing,
244 updates (499,712 env steps); at the end one evaluation of 128 stochastic
episodes inside the timed program (rejax's ``train`` does one; ours is the same
size), whose mean is the "final return"; no evaluation during training in either
(``eval_every=0`` here; rejax's ``eval_freq`` is the whole run). 1 and 8 seeds, the seeds ``vmap``-ed in
one program. Differences that remain, each library's own: rejax clips gradients
elementwise at ``max_grad_norm`` (default inf: none), we clip the global norm at
0.5; rejax bootstraps time-limit cuts from 0, we from V(final obs).

rejax needs gymnax 0.0.9 (jaxpg uses gymnax 1.x), so it runs in its own virtualenv,
built outside the repo on first use with pip (``--venv``, default
``~/.cache/jaxpg-peers/rejax-venv``), with the same jax, jaxlib, flax and optax
versions as this interpreter's. Every measurement is a fresh process (no compile
cache shared), rejax and jaxpg alternate (who goes first alternates too), and the
load average is recorded around each run: on a shared machine read the medians
and the spread, not one run.

    python experiments/bench_peers.py                       # 1 and 8 seeds, 3 + 2 repeats
    python experiments/bench_peers.py --seeds 1 --repeats 1 --steps 20480   # quick look

Writes ``experiments/results/bench_peers_<platform>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "experiments", "results")
DEFAULT_VENV = os.path.expanduser("~/.cache/jaxpg-peers/rejax-venv")
PEER_PINS = ["rejax==0.1.3", "gymnax==0.0.9"]

SETTING = dict(env="CartPole-v1", num_envs=16, num_steps=128, epochs=8, minibatches=16, hidden=(64, 64),
               activation="swish", lr=3e-4, ent_coef=0.01, clip_eps=0.2, gamma=0.99, gae_lambda=0.95,
               vf_coef=0.5, eval_episodes=128, eval_len=500)  # fmt: skip


def steps_for(total: float) -> int:
    """Whole updates only: both libraries then do exactly the same number of env steps."""
    per_update = SETTING["num_envs"] * SETTING["num_steps"]
    return max(1, int(total) // per_update) * per_update


# ------------------------------------------------------------------------ workers


def timed(fn, args) -> dict:
    """Compile ``fn`` (jitted) for ``args``, then run it once: both times and the output."""
    import jax

    t0, c0 = time.perf_counter(), time.process_time()
    compiled = fn.lower(*args).compile()
    t1, c1 = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(compiled(*args))
    t2, c2 = time.perf_counter(), time.process_time()
    # CPU seconds (all threads of the process) beside the wall clock: on a loaded
    # machine the wall clock measures the neighbours too.
    return {"compile_s": t1 - t0, "run_s": t2 - t1, "total_s": t2 - t0,
            "compile_cpu_s": c1 - c0, "run_cpu_s": c2 - c1}, out  # fmt: skip


def build_rejax(seeds: int, total: int):
    """rejax's timed program, its arguments and its pieces (name -> (fn, args))."""
    import jax
    from rejax import PPO

    s = SETTING
    algo = PPO.create(
        env=s["env"], num_envs=s["num_envs"], num_steps=s["num_steps"], num_epochs=s["epochs"],
        num_minibatches=s["minibatches"], learning_rate=s["lr"], ent_coef=s["ent_coef"],
        clip_eps=s["clip_eps"], gamma=s["gamma"], gae_lambda=s["gae_lambda"], vf_coef=s["vf_coef"],
        total_timesteps=total, eval_freq=total, skip_initial_evaluation=True,
        agent_kwargs={"activation": s["activation"], "hidden_layer_sizes": s["hidden"]},
    )  # fmt: skip
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    ts = algo.init_state(keys[0])
    pieces = {"init": (jax.jit(algo.init_state), (keys[0],)),
              "update": (jax.jit(algo.train_iteration), (ts,)),
              "evaluation": (jax.jit(lambda t: algo.eval_callback(algo, t, t.rng)), (ts,))}  # fmt: skip
    return jax.jit(jax.vmap(algo.train)), (keys,), pieces


def worker_rejax(seeds: int, total: int) -> dict:
    import numpy as np

    fn, args, _ = build_rejax(seeds, total)
    times, (_, evaluation) = timed(fn, args)
    _, returns = evaluation  # [seeds, evals, episodes]
    finals = np.asarray(returns)[:, -1].mean(axis=-1)
    return {**times, "final_return_per_seed": finals.tolist()}


def build_jaxpg(seeds: int, total: int):
    """jaxpg's timed program, its arguments and its pieces (name -> (fn, args))."""
    sys.path.insert(0, ROOT)
    import jax

    from experiments.bench_brax import make_evaluate
    from jaxpg.config import HParams, TrainConfig
    from jaxpg import make_train, make_trainer

    s = SETTING
    config = TrainConfig(
        algo="ppo", env=s["env"], num_envs=s["num_envs"], num_steps=s["num_steps"],
        update_epochs=s["epochs"], num_minibatches=s["minibatches"], hidden_sizes=s["hidden"],
        activation=s["activation"], anneal_lr=False, clip_value=True, normalize_advantages=True,
        total_timesteps=total, eval_every=0,  # rejax evaluates only at the end, as we do below
    ).validate()  # fmt: skip
    hp = HParams(lr=s["lr"], critic_lr=s["lr"], ent_coef=s["ent_coef"], ent_coef_final=s["ent_coef"],
                 clip_eps=s["clip_eps"], gamma=s["gamma"], gae_lambda=s["gae_lambda"],
                 vf_coef=s["vf_coef"]).validate().as_arrays()  # fmt: skip
    train = make_train(config)
    trainer = make_trainer(config)
    evaluate = make_evaluate(trainer.ctx, s["eval_episodes"], s["eval_len"])

    def train_and_eval(key):
        k_train, k_eval = jax.random.split(key)
        state, _ = train(k_train, hp)
        return evaluate(state, k_eval)

    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    state = jax.eval_shape(trainer.init, keys[0], hp)
    pieces = {"init": (jax.jit(trainer.init), (keys[0], hp)),
              "update": (jax.jit(lambda st: trainer.update(st, hp, 1)), (state,)),
              "evaluation": (jax.jit(evaluate), (state, keys[0]))}  # fmt: skip
    return jax.jit(jax.vmap(train_and_eval)), (keys,), pieces


def worker_jaxpg(seeds: int, total: int) -> dict:
    import numpy as np

    fn, args, _ = build_jaxpg(seeds, total)
    times, finals = timed(fn, args)
    return {**times, "final_return_per_seed": np.asarray(finals).tolist()}


# ----------------------------------------------------------------- compile profile

_HLO_OP = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+ = .*? ([a-z][a-z0-9\-]*)\(")


def hlo_stats(text: str) -> dict:
    """Size and op counts of an optimized HLO module's text (every computation)."""
    ops: dict = {}
    for line in text.splitlines():
        m = _HLO_OP.match(line)
        if m:
            ops[m.group(1)] = ops.get(m.group(1), 0) + 1
    keep = ("fusion", "while", "conditional", "custom-call", "dot", "convolution", "call", "sort", "rng-bit-generator")
    return {"chars": len(text), "instructions": sum(ops.values()), **{k: ops.get(k, 0) for k in keep}}


def count_eqns(jaxpr) -> int:
    """Equations of a jaxpr, those of its sub-jaxprs (scan/cond/pjit bodies) included."""
    return sum(1 + sum(count_eqns(sub) for sub in _subjaxprs(eqn.params)) for eqn in jaxpr.eqns)


def _subjaxprs(params):
    for v in params.values():
        for x in v if isinstance(v, (tuple, list)) else (v,):
            inner = getattr(x, "jaxpr", x)
            if hasattr(inner, "eqns"):
                yield inner


def staged(fn, args) -> dict:
    """Wall and CPU seconds of trace, lower and compile, the jaxpr's equation count and
    the optimized HLO's size."""
    out, t, c = {}, time.perf_counter(), time.process_time()

    def tick(name):
        nonlocal t, c
        t1, c1 = time.perf_counter(), time.process_time()
        out[name + "_s"], out[name + "_cpu_s"] = t1 - t, c1 - c
        t, c = t1, c1

    traced = fn.trace(*args)
    tick("trace")
    lowered = traced.lower()
    tick("lower")
    compiled = lowered.compile()
    tick("compile")
    out["jaxpr_eqns"] = count_eqns(traced.jaxpr.jaxpr)
    out["stablehlo_chars"] = len(lowered.as_text())
    out["hlo"] = hlo_stats(compiled.as_text())
    return out


def worker_profile(lib: str, seeds: int, total: int, plain_init: bool = False) -> dict:
    """The compile profile of ``lib``'s timed program, then of its pieces, each compiled
    in this one process (the whole program first: nothing of it is cached yet).

    ``plain_init`` (jaxpg only): Gaussian kernels in place of the orthogonal ones, to
    size what the LAPACK-free orthogonal initializer (a Householder loop per layer)
    costs to compile; an ablation, not a setting anyone trains with."""
    if plain_init:
        sys.path.insert(0, ROOT)
        import jax

        from jaxpg import linalg

        linalg.haar_orthogonal = lambda key, rows, cols, dtype=None: jax.random.normal(key, (rows, cols), dtype)
    fn, args, pieces = (build_rejax if lib == "rejax" else build_jaxpg)(seeds, total)
    res = {"program": staged(fn, args)}
    for name, (f, a) in pieces.items():
        res[name] = staged(f, a)
    return res


# --------------------------------------------------------------------------- venv


def ensure_venv(venv: str, log) -> str:
    """The peer venv's python, creating it (pip, pinned) when missing."""
    python = os.path.join(venv, "bin", "python")
    if os.path.exists(python):
        return python
    import flax
    import jax
    import jaxlib
    import optax

    pins = [*PEER_PINS, f"jax=={jax.__version__}", f"jaxlib=={jaxlib.__version__}",
            f"flax=={flax.__version__}", f"optax=={optax.__version__}"]  # fmt: skip
    log(f"building {venv} with {' '.join(pins)}")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *pins], check=True)
    return python


def peer_versions(python: str) -> dict:
    code = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
            "('rejax', 'gymnax', 'jax', 'jaxlib', 'flax', 'optax', 'distrax')}))")  # fmt: skip
    return json.loads(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout)


def run_child(python: str, lib: str, seeds: int, total: int, timeout: float, *extra: str,
              cpus: set[int] | None = None) -> dict:  # fmt: skip
    """One worker process; ``cpus``: the CPUs it may run on (all of this process's when None)."""
    env = dict(os.environ, PYTHONPATH="" if lib == "rejax" else ROOT)
    # The worker pins itself before it imports jax (a preexec_fn would run after a fork
    # of this process, where jax's threads already run).
    pin = [] if cpus is None else ["--pin", ",".join(map(str, sorted(cpus)))]
    cmd = [python, os.path.abspath(__file__), "--worker", lib, "--seeds", str(seeds), "--steps", str(total),
           *pin, *extra]  # fmt: skip
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "load_before": load0}
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res.update(process_wall_s=wall, load_before=load0, load_after=os.getloadavg()[0])
    return res


# --------------------------------------------------------------------------- main


def pin_self(cpus: str | None) -> None:
    """Run this process on ``cpus`` ("0,1"; None: leave it), before jax starts: XLA sizes
    its thread pool to the CPUs the process may use."""
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})


def worker_cpus(n: int | None) -> tuple[set[int] | None, str | None]:
    """``(the first n of this process's CPUs, None)`` (all of them: ``(None, None)``), or
    ``(None, one-line error)`` when ``n`` is not between 1 and their number."""
    allowed = sorted(os.sched_getaffinity(0))
    if n is None:
        return None, None
    if not 1 <= n <= len(allowed):
        return None, f"error: --cpus {n}: this process may use {len(allowed)} CPU(s); give 1 to {len(allowed)}"
    return set(allowed[:n]), None


def compile_profile(pythons, seeds, repeats, total, timeout, stem, note, write_json, log) -> int:
    """Each library's compile profile in fresh processes, alternating; ``stem``.json/.md."""
    from experiments.bench_brax import hardware

    out = {"benchmark": "bench_peers compile profile", "setting": SETTING, "env_steps": total,
           "hardware": hardware(), "note": note, "runs": {}}  # fmt: skip
    for n, reps in zip(seeds, repeats):
        libs = [lib for lib in pythons if lib != "jaxpg-plain-init"]
        extra = [lib for lib in pythons if lib == "jaxpg-plain-init"]
        runs = out["runs"][str(n)] = {lib: [] for lib in pythons}
        for rep in range(reps):
            for lib in (libs if rep % 2 == 0 else libs[::-1]) + extra:
                r = run_child(pythons[lib], lib, n, total, timeout, "--compile-profile")
                runs[lib].append(r)
                log(f"{n} seed(s) {lib}: " + (r.get("error") or ", ".join(
                    f"{k} {v['trace_cpu_s'] + v['lower_cpu_s'] + v['compile_cpu_s']:.1f} CPU s"
                    for k, v in r.items() if isinstance(v, dict))))  # fmt: skip
                write_json(stem + ".json", out)
                with open(stem + ".md", "w") as f:
                    f.write(profile_markdown(out))
    print(profile_markdown(out))
    return 0


def profile_markdown(out: dict) -> str:
    hw = out["hardware"]
    lines = ["# Compile profile: jaxpg and rejax PPO programs, same setting", "",
             f"Hardware: {hw['cpu']} ({hw['cpu_cores']} cores), jax {hw['jax']}. {out['note']}", "",
             "Each row one fresh process: the timed program (train + final evaluation, vmapped over "
             "the seeds) compiled first, then its pieces, each compiled on its own (init; one update; "
             "the evaluation). CPU s: process CPU seconds, all threads (robust to the neighbours' load). "
             "HLO: XLA's optimized module (instructions in all computations).", "",
             "| seeds | lib | piece | trace CPU s | lower CPU s | XLA compile CPU s | compile wall s | "
             "jaxpr eqns | StableHLO chars | HLO chars | HLO instr | fusions | while | cond |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for n, libs in out["runs"].items():
        for lib, runs in libs.items():
            for r in runs:
                if "error" in r:
                    lines.append(f"| {n} | {lib} | error: {r['error']} |")
                    continue
                for piece, v in r.items():
                    if not isinstance(v, dict) or "hlo" not in v:
                        continue
                    h = v["hlo"]
                    lines.append(
                        f"| {n} | {lib} | {piece} | {v['trace_cpu_s']:.2f} | {v['lower_cpu_s']:.2f} | "
                        f"{v['compile_cpu_s']:.2f} | {v['compile_s']:.2f} | {v['jaxpr_eqns']} | "
                        f"{v['stablehlo_chars']:,} | {h['chars']:,} | {h['instructions']} | {h['fusion']} | "
                        f"{h['while']} | {h['conditional']} |"
                    )
    return "\n".join(lines) + "\n"


def summarize(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"ok_runs": 0}
    med = lambda k: statistics.median(r[k] for r in ok)
    finals = [statistics.fmean(r["final_return_per_seed"]) for r in ok]
    return {"ok_runs": len(ok), "run_s_median": med("run_s"), "total_s_median": med("total_s"),
            "run_s_min": min(r["run_s"] for r in ok), "total_s_min": min(r["total_s"] for r in ok),
            "compile_s_median": med("compile_s"), "run_s_each": [r["run_s"] for r in ok],
            "total_s_each": [r["total_s"] for r in ok], "final_return_median": statistics.median(finals),
            "final_return_each": finals, "run_cpu_s_each": [r.get("run_cpu_s") for r in ok],
            "compile_cpu_s_each": [r.get("compile_cpu_s") for r in ok]}  # fmt: skip


def to_markdown(out: dict) -> str:
    hw = out["hardware"]
    lines = [
        "# jaxpg PPO vs rejax PPO, same setting, alternating runs",
        "",
        f"Hardware: {hw['cpu']} ({hw['cpu_cores']} cores), {hw['platform']}; jaxpg on jax {hw['jax']}, "
        f"rejax venv: {out['peer_versions']}. Load average (1 min) around the runs: "
        f"{min(out['loads']):.1f} to {max(out['loads']):.1f}. Workers' CPUs: {out.get('worker_cpus', 'all')}. "
        f"{out['note']}",
        "",
        f"Setting: {out['setting']}; {out['env_steps']:,} env steps per seed.",
        "",
        "| seeds | lib | runs | run s (median; each) | with compile s (median; each) | compile s | "
        "run CPU s (each) | compile CPU s (each) | final return |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for seeds, libs in out["results"].items():
        for lib, s in libs.items():
            if not s.get("ok_runs"):
                lines.append(f"| {seeds} | {lib} | 0 | - | - | - | - | - | - |")
                continue
            each = lambda k: ", ".join("-" if x is None else f"{x:.1f}" for x in s.get(k, []))
            lines.append(
                f"| {seeds} | {lib} | {s['ok_runs']} | {s['run_s_median']:.1f}; {each('run_s_each')} | "
                f"{s['total_s_median']:.1f}; {each('total_s_each')} | {s['compile_s_median']:.1f} | "
                f"{each('run_cpu_s_each')} | {each('compile_cpu_s_each')} | {s['final_return_median']:.1f} |"
            )
    lines.append("")
    for seeds, r in out["ratios"].items():
        lines.append(f"- {seeds} seed(s): jaxpg / rejax run time {r['run']:.2f}x, with compile "
                     f"{r['total']:.2f}x (medians; target <= 0.8x); best runs (least disturbed): "
                     f"{r.get('run_min', float('nan')):.2f}x, {r.get('total_min', float('nan')):.2f}x.")  # fmt: skip
    lines.append("\nCPU s: CPU seconds of the measuring process, all threads (recorded from the "
                 "run after the script learnt to; '-' before). They do not count the neighbours' "
                 "load, so they compare the two libraries' work better than the wall clock here.")
    errors = [f"{e['seeds']} seeds {e['lib']}: {e['error']}" for e in out["errors"]]
    if errors:
        lines += ["", "Failed runs: " + "; ".join(errors)]
    return "\n".join(lines) + "\n"


def render(out: dict, raw: dict, stem: str, write_json) -> None:
    """Summaries, ratios (medians and best runs), then ``stem``.json and .md."""
    out["results"] = {n: {lib: summarize(rs) for lib, rs in libs.items()} for n, libs in raw.items()}
    out["ratios"] = {}
    for n, s in out["results"].items():
        if s["rejax"].get("ok_runs") and s["jaxpg"].get("ok_runs"):
            j, r = s["jaxpg"], s["rejax"]
            out["ratios"][n] = {"run": j["run_s_median"] / r["run_s_median"],
                                "total": j["total_s_median"] / r["total_s_median"],
                                "run_min": j["run_s_min"] / r["run_s_min"],
                                "total_min": j["total_s_min"] / r["total_s_min"]}  # fmt: skip
    write_json(stem + ".json", out)
    with open(stem + ".md", "w") as f:
        f.write(to_markdown(out))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 8])
    p.add_argument("--repeats", type=int, nargs="+", default=[3, 2], help="per --seeds entry")
    p.add_argument("--steps", type=float, default=5e5)
    p.add_argument("--venv", default=DEFAULT_VENV)
    p.add_argument("--timeout", type=float, default=1800, help="seconds before a run counts as hung")
    p.add_argument("--out", default=None)
    p.add_argument("--note", default="")
    p.add_argument("--cpus", type=int, default=None,
                   help="run every worker on the first N of this process's CPUs (XLA then sizes its "
                   "thread pool to them); default: all of them")
    p.add_argument("--compile-profile", action="store_true",
                   help="instead of timing runs: trace/lower/compile CPU seconds and HLO size of each "
                   "library's program and its pieces (init, update, evaluation); writes <out>_compile_profile")
    p.add_argument("--plain-init", action="store_true",
                   help="with --compile-profile: also profile jaxpg with Gaussian instead of orthogonal "
                   "kernels (sizes the orthogonal initializer's compile time)")
    p.add_argument("--worker", choices=["rejax", "jaxpg", "jaxpg-plain-init"], help=argparse.SUPPRESS)
    p.add_argument("--pin", default=None, help=argparse.SUPPRESS)  # a worker's CPUs, "0,1"
    p.add_argument("--render", metavar="JSON", help="rewrite JSON's summaries and .md from its runs")
    a = p.parse_args(argv)
    if a.render:
        sys.path.insert(0, ROOT)
        from common import write_record as write_json

        with open(a.render) as f:
            out = json.load(f)
        render(out, out["runs"], a.render[: -len(".json")], write_json)
        print(to_markdown(out))
        return 0
    total = steps_for(a.steps)
    if a.worker:
        pin_self(a.pin)
        fn = worker_rejax if a.worker == "rejax" else worker_jaxpg
        if a.compile_profile:
            lib = a.worker.removesuffix("-plain-init")
            print(json.dumps(worker_profile(lib, a.seeds[0], total, plain_init=lib != a.worker)))
        else:
            print(json.dumps(fn(a.seeds[0], total)))
        return 0
    if len(a.repeats) not in (1, len(a.seeds)):
        print("error: give one --repeats or one per --seeds entry", file=sys.stderr)
        return 2
    cpus, error = worker_cpus(a.cpus)
    if error:
        print(error, file=sys.stderr)
        return 2
    sys.path.insert(0, ROOT)
    from experiments.bench_brax import hardware
    from common import write_record as write_json

    log = lambda m: print(m, flush=True)
    peer_python = ensure_venv(a.venv, log)
    repeats = a.repeats * len(a.seeds) if len(a.repeats) == 1 else a.repeats
    pythons = {"rejax": peer_python, "jaxpg": sys.executable}
    if a.compile_profile:
        stem = (a.out or os.path.join(RESULTS, f"bench_peers_{hardware()['platform']}")) + "_compile_profile"
        if a.plain_init:
            pythons["jaxpg-plain-init"] = sys.executable
        return compile_profile(pythons, a.seeds, repeats, total, a.timeout, stem, a.note, write_json, log)
    raw: dict = {str(n): {"rejax": [], "jaxpg": []} for n in a.seeds}
    out = {"benchmark": "bench_peers", "setting": SETTING, "env_steps": total, "hardware": hardware(),
           "peer_versions": peer_versions(peer_python), "note": a.note, "runs": raw, "errors": [],
           "loads": [os.getloadavg()[0]], "time": time.strftime("%Y-%m-%d %H:%M:%S"),
           "worker_cpus": sorted(cpus) if cpus else "all"}  # fmt: skip
    stem = a.out or os.path.join(RESULTS, f"bench_peers_{out['hardware']['platform']}")

    def save():
        render(out, raw, stem, write_json)

    for n, reps in zip(a.seeds, repeats):
        for rep in range(reps):
            order = ("rejax", "jaxpg") if rep % 2 == 0 else ("jaxpg", "rejax")
            for lib in order:
                r = run_child(pythons[lib], lib, n, total, a.timeout, cpus=cpus)
                raw[str(n)][lib].append(r)
                out["loads"] += [x for x in (r.get("load_before"), r.get("load_after")) if x is not None]
                if "error" in r:
                    out["errors"].append({"seeds": n, "lib": lib, "error": r["error"]})
                    log(f"{n} seed(s) {lib}: FAILED {r['error']}")
                else:
                    log(f"{n} seed(s) {lib}: compile {r['compile_s']:.1f} s, run {r['run_s']:.1f} s, "
                        f"final return {statistics.fmean(r['final_return_per_seed']):.1f} "
                        f"(load {r['load_before']:.1f} -> {r['load_after']:.1f})")  # fmt: skip
                save()
    print(to_markdown(out))
    print(f"wrote {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
