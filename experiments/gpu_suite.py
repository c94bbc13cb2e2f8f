"""Every accelerator figure jaxpg claims, in one command that fits one device call.

Parts, in order (each one's figures are written as soon as it ends):

1. ``env_ceiling``: env-only steps/s, random actions, for ``brax/halfcheetah``
   (positional, 2048 envs) and ``CartPole-v1`` (4096 envs).
2. ``halfcheetah_ppo``: jaxpg PPO, then Brax's own PPO trainer, on
   ``bench_brax.py``'s halfcheetah setting: compile time and steady steps/s over a
   fixed stretch (1e7 steps each); ours goes on until eval return 2500 (or its cap).
3. ``halfcheetah_preset``: our halfcheetah preset until eval return 2500: wall time
   to 2000 and 2500 with compile (part 2's run when the preset is that program).
4. ``cartpole_agents``: 2048 CartPole PPO agents x 5e5 steps (16 envs x 128-step
   rollouts each) in one program: wall time with and without compile.
5. ``memory``: device memory after k and 3k updates of the halfcheetah program.
6. ``profile``: where one update's time goes (rollout / advantages / epochs), compile
   time per algorithm, XLA's FLOPs and bytes for one update (``profile_update.py``).
7. ``brax_presets``: the ``brax/halfcheetah`` and ``brax/ant`` presets (Brax's
   settings and policy: tanh-Gaussian with state-dependent std) toward their published
   returns, deterministic evaluation, wall time to each reference return.
8. ``spinningup``: ``reproduce_spinningup.py`` with what budget remains.
9. ``craftax_ppo``: PPO on ``craftax/Craftax-Classic-Symbolic-v1`` at 1024 envs: env-only
   steps/s (optimistic resets), compile, steady steps/s, training return after a fixed
   budget (needs the ``craftax`` package; skipped by ``--smoke``).
10. ``cold_warm``: the halfcheetah preset (to eval return 2500) and 2048 CartPole
    agents x 5e5 steps (``jaxpg sweep --seeds 2048``), each as two fresh processes on
    one new compilation cache: cold and warm walls, trace / lower / compile / run
    seconds and cache hits (``bench_compile.py``'s measurement).
11. ``policy_paths``: PPO on ``Breakout-MinAtar`` with a GRU policy at 2048 envs and
    the CNN encoder at 1024 envs, each against the MLP policy at the same envs:
    compile, steady steps/s, time per env step over the MLP's.
12. ``multi_device``: one halfcheetah PPO run's steady steps/s with its envs on 1 device
    and split over all N visible devices (``bench_multiprocess.multi_device``); with one
    device: "one device: skipped".

**Unmeasured parts first.** When ``experiments/results/gpu_suite_<device>.json`` (the
committed results for this device kind) exists, parts it holds without error run
after the parts it lacks, and its results are carried into the new document (each
marked with the date of its run) until a part is measured again: a session's one
device call measures what no session has yet, and the committed file loses nothing.
``--order listed`` runs the parts in the order above; ``--fresh`` carries nothing.

Everything runs inside ``--budget-s`` (default 480) of wall clock from the start: a
part that cannot fit is recorded under ``skipped`` with the reason, loops stop at
the deadline, and a watchdog writes the results and exits (code 3) if a part
overruns by ``--grace-s``. ``<out-dir>/gpu_suite_<device>.json`` and ``.md`` are
rewritten after every part, so a cut-off run still leaves what it measured.

The device command (one ``run`` call, ``carry [".whl"]``, ``timeout_s`` 600; the
wheels come from ``../shared/gpu/wheels.sh``, run once in the repo root here)::

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit; \
    PYTHONUNBUFFERED=1 python3 experiments/gpu_suite.py --out-dir $OUT 2>&1 | tee $OUT/gpu_suite.log

then copy ``gpu_suite_<device>.json``/``.md`` from the returned files into
``experiments/results/`` and commit them with the device named. Parts skipped for
lack of budget can get their own call: ``--parts profile spinningup`` (same command).

    python experiments/gpu_suite.py --smoke --out-dir /tmp/suite   # same code paths, tiny, CPU

``--smoke`` replaces halfcheetah by ``brax/fast`` (Brax's trivial test env: Brax's
halfcheetah alone takes minutes to compile on a CPU) and shrinks every count.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments import bench_multiprocess
from experiments import suite_parts as parts
from experiments.bench_brax import Setting, hardware
from experiments.common import write_record as write_json
from experiments.suite_scale import (
    AgentsScale, BraxPresetsScale, Ceiling, CraftaxScale, HalfcheetahScale, MultiDeviceScale, PBTScale,
    PolicyPathsScale, ProfileScale, PublishedRun, Scale,
)  # fmt: skip
from jaxpg.config import TrainConfig

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

FULL = Scale(
    ceilings=(Ceiling("brax/halfcheetah", 2048, 1000), Ceiling("CartPole-v1", 4096, 1000)),
    halfcheetah=HalfcheetahScale(
        setting=Setting(total_steps=50_000_000, num_evals=20), stretch_steps=10_000_000, chunk_updates=4,
        max_steps=50_000_000, ours_cap_s=60, brax_min_s=90, brax_evals=3, targets=(2000.0, 2500.0),
        memory_chunks=2),
    agents=AgentsScale(agents=2048, agent_steps=500_000),
    # PBT: 64 PPO members on MinAtar (PureJaxRL's setting), lr and entropy searched.
    pbt=PBTScale(env="SpaceInvaders-MinAtar", population=64, steps=2_000_000, interval=10,
                 explore=("lr=loguniform:1e-4:1e-2", "ent_coef=uniform:0:0.05")),
    # Compile time per algorithm only while a minute stays for spinningup (reserve_s).
    profile=ProfileScale(env="brax/halfcheetah", algos=("ppo", "npg", "trpo", "a2c", "reinforce"),
                         algos_env="CartPole-v1", reserve_s=60),
    craftax=CraftaxScale(num_envs=1024, chunk_updates=8, max_steps=30_000_000),
    policy_paths=PolicyPathsScale(env="Breakout-MinAtar", cases=(("mlp", 2048), ("gru", 2048), ("mlp", 1024), ("cnn", 1024)),
                                  num_steps=128, epochs=4, minibatches=8, hidden=128, chunk_updates=2, chunks=4),
    # One run's envs on 1 device vs split over all N (skipped with one device).
    multi_device=MultiDeviceScale(env="brax/halfcheetah", num_envs=2048, num_steps=20, chunk_updates=4, chunks=3),
    cold_warm={"halfcheetah": ("train", "--env", "brax/halfcheetah", "--total-timesteps", "3e7"),
               "cartpole_2048_agents": ("sweep", "--seeds", "2048", "--num-envs", "16", "--num-steps", "128",
                                        "--total-timesteps", "5e5", "--no-plot")},
    # brax_presets: reference returns. halfcheetah: Brax's own PPO on this setting reached
    # 2293 at 1.05e7 steps in this suite (H200) and 2482 at 1.3e7 on an H100 (issue 12).
    # ant: ~6000 for PPO on Brax's ant (CleanRL PR #313, with Brax's training colab at
    # ~8000 on its older backend). 8 updates (2.6e6 steps) between evaluations.
    brax_presets=BraxPresetsScale(runs={
        "brax/halfcheetah": PublishedRun(targets=(2000.0, 2500.0, 3000.0), cap_s=150, eval_envs=128, chunk_updates=8,
                                         reference="Brax PPO: 2293 at 1.05e7 steps (H200), 2482 at 1.3e7 (H100)"),
        "brax/ant": PublishedRun(targets=(2000.0, 4000.0, 6000.0), cap_s=150, eval_envs=128, chunk_updates=8,
                                 reference="PPO on Brax ant: ~6000 (CleanRL PR #313); Brax colab ~8000 (older backend)"),
    }),
)  # fmt: skip


def _smoke_preset(config: TrainConfig) -> TrainConfig:
    """The smoke run's presets: a few tiny updates of 20-step episodes."""
    return config.replace(num_envs=16, num_steps=5, update_epochs=1, num_minibatches=2, episode_length=20)


def _one_epoch(config: TrainConfig) -> TrainConfig:
    return config.replace(update_epochs=1, num_minibatches=2)


SMOKE = Scale(
    ceilings=(Ceiling("brax/fast", 16, 20), Ceiling("CartPole-v1", 32, 20)),
    halfcheetah=HalfcheetahScale(
        setting=Setting(env="fast", num_envs=16, unroll_length=5, num_minibatches=2, batch_size=8, epochs=1,
                        total_steps=320, num_evals=3, num_eval_envs=4, episode_length=20),
        stretch_steps=160, chunk_updates=1, max_steps=240, ours_cap_s=60, brax_min_s=0, brax_evals=3,
        targets=(2000.0, 2500.0), memory_chunks=1, preset=_smoke_preset),
    agents=AgentsScale(agents=2, agent_steps=4096, config=_one_epoch),
    pbt=PBTScale(env="CartPole-v1", population=2, steps=512, interval=2, explore=("lr=loguniform:1e-4:1e-2",),
                 config=lambda c: c.replace(num_envs=2, num_steps=64, update_epochs=1, num_minibatches=1,
                                            eval_every=0)),
    profile=ProfileScale(env="brax/fast", algos=("ppo",), algos_env="CartPole-v1", smoke=True),
    spinningup_smoke=True,
    # One small case (CartPole compiles faster than brax/fast); the sweep case runs the same code.
    cold_warm={"halfcheetah": ("train", "--num-envs", "8", "--total-timesteps", "4096", "--eval-every", "0")},
    multi_device=MultiDeviceScale(env="CartPole-v1", num_envs=8, num_steps=8, chunk_updates=2, chunks=2,
                                  config=_one_epoch),
    brax_presets=BraxPresetsScale(runs={"brax/fast": PublishedRun(targets=(1e9,), cap_s=5, eval_envs=4,
                                                                 reference="smoke")}, preset=_smoke_preset),
    # One program through both new paths (the default suite's time budget).
    policy_paths=PolicyPathsScale(env="Breakout-MinAtar", cases=(("cnn+gru", 4),), num_steps=4,
                                  epochs=1, minibatches=2, hidden=8, chunk_updates=1, chunks=2),
)  # fmt: skip
# Seconds a part needs at least (full scale) to be worth starting; smoke starts all.
MIN_S = {"env_ceiling": 20, "halfcheetah_ppo": 120, "halfcheetah_preset": 0, "brax_presets": 150,
         "cartpole_agents": 45, "memory": 15, "profile": 90, "spinningup": 60,
         "craftax_ppo": 120, "cold_warm": 120, "pbt_population": 120, "policy_paths": 90,
         "multi_device": 240}  # fmt: skip


def device_slug(hw: dict) -> str:
    """``NVIDIA H100 80GB HBM3`` -> ``nvidia-h100-80gb-hbm3``; CPU -> ``cpu``."""
    name = hw["device_kind"] if hw["platform"] != "cpu" else "cpu"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def committed_results(slug: str, results_dir: str = RESULTS) -> dict:
    """The parts measured without error in the committed ``gpu_suite_<slug>.json``, each
    with ``carried_from`` (the start time of the run that measured it); {} if none."""
    path = os.path.join(results_dir, f"gpu_suite_{slug}.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        doc = json.load(f)
    carried = doc.get("carried", {})
    return {name: {**res, "carried_from": carried.get(name, doc.get("started"))}
            for name, res in doc.get("parts", {}).items() if "error" not in res}  # fmt: skip


def unmeasured_first(names: list[str], measured: dict) -> list[str]:
    """``names`` with those missing from ``measured`` first, each group in its order."""
    return [n for n in names if n not in measured] + [n for n in names if n in measured]


class Suite:
    """The results document, rewritten (json + md) after every part."""

    def __init__(self, out_dir: str, smoke: bool, budget_s: float):
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + budget_s
        hw = hardware()
        stem = f"gpu_suite_{device_slug(hw)}" + ("_smoke" if smoke else "")
        self.stem = os.path.join(out_dir, stem)
        os.makedirs(out_dir, exist_ok=True)
        self.doc = {"suite": "gpu_suite", "smoke": smoke, "budget_s": budget_s, "hardware": hw,
                    "started": time.strftime("%Y-%m-%d %H:%M:%S"), "parts": {}, "skipped": {},
                    "running": None, "carried": {}}  # fmt: skip
        self.slug = device_slug(hw)
        self.lock = threading.Lock()

    def carry(self, earlier: dict) -> None:
        """Start from earlier results; a part measured in this run replaces its entry."""
        for name, res in earlier.items():
            res = dict(res)
            self.doc["carried"][name] = res.pop("carried_from")
            self.doc["parts"][name] = res

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def write(self) -> None:
        with self.lock:
            self.doc["elapsed_s"] = time.perf_counter() - self.t0
            write_json(self.stem + ".json", self.doc)
            with open(self.stem + ".md.tmp", "w") as f:
                f.write(to_markdown(self.doc))
            os.replace(self.stem + ".md.tmp", self.stem + ".md")


def run_part(suite: Suite, name: str, fn, min_s: float, log) -> None:
    if suite.left() < min_s:
        suite.doc["skipped"][name] = f"{suite.left():.0f} s of budget left, the part needs ~{min_s} s"
        log(f"[{name}] skipped: {suite.doc['skipped'][name]}")
        suite.write()
        return
    log(f"[{name}] start ({suite.left():.0f} s of budget left)")
    suite.doc["running"] = name
    suite.write()
    t0 = time.perf_counter()
    suite.doc["carried"].pop(name, None)  # measured (or failed) in this run from here on
    try:
        res = fn()
        res["part_wall_s"] = time.perf_counter() - t0
        suite.doc["parts"][name] = res
    except Exception as e:  # noqa: BLE001 - one failed part must not lose the others
        suite.doc["parts"][name] = {"error": f"{type(e).__name__}: {e}",
                                    "traceback": traceback.format_exc(limit=6)}  # fmt: skip
        log(f"[{name}] FAILED: {type(e).__name__}: {e}")
    suite.doc["running"] = None
    suite.write()
    log(f"[{name}] done in {time.perf_counter() - t0:.1f} s")


def start_watchdog(suite: Suite, grace_s: float, log) -> None:
    """Past the deadline + grace, write what there is (the running part marked cut off) and exit."""

    def fire():
        part = suite.doc.get("running")
        if part:
            suite.doc["skipped"][part] = "cut off by the watchdog (budget + grace exceeded)"
        suite.doc["cut_off"] = True
        suite.write()
        log(f"watchdog: budget exceeded during {part}; results written, exiting")
        os._exit(3)

    t = threading.Timer(max(suite.left() + grace_s, 1.0), fire)
    t.daemon = True
    t.start()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget-s", type=float, default=480.0, help="wall-clock budget for all parts")
    p.add_argument("--grace-s", type=float, default=60.0, help="watchdog slack past the budget")
    p.add_argument("--smoke", action="store_true", help="same code paths, tiny, for a CPU")
    p.add_argument("--out-dir", default=None,
                   help="where gpu_suite_<device>.json/.md go (default: experiments/results; with --smoke "
                        "a new temporary folder: a smoke run never writes into the results)")
    p.add_argument("--parts", nargs="*", default=None, help="run only these parts")
    p.add_argument("--order", choices=("unmeasured-first", "listed"), default="unmeasured-first",
                   help="parts the committed results for this device lack run first (default)")
    p.add_argument("--fresh", action="store_true", help="carry no earlier results into this run")
    a = p.parse_args(argv)
    if a.budget_s <= 0:
        print("error: --budget-s must be positive, e.g. --budget-s 480", file=sys.stderr)
        return 2
    if a.out_dir is None:
        a.out_dir = tempfile.mkdtemp(prefix="gpu_suite_smoke_") if a.smoke else RESULTS
    if a.smoke and os.path.realpath(a.out_dir) == os.path.realpath(RESULTS):
        print("error: --smoke never writes into experiments/results; pass another --out-dir", file=sys.stderr)
        return 2
    scale = SMOKE if a.smoke else FULL
    log = lambda msg: print(msg, flush=True)
    suite = Suite(a.out_dir, a.smoke, a.budget_s)
    log(f"hardware: {suite.doc['hardware']}")
    earlier = {} if a.smoke or a.fresh else committed_results(suite.slug)
    suite.carry(earlier)
    if earlier:
        log(f"carried from the committed results: {', '.join(sorted(earlier))}")
    start_watchdog(suite, a.grace_s, log)
    dl = lambda: suite.deadline
    hc = scale.halfcheetah
    todo = [
        ("env_ceiling", lambda: {"ceilings": [parts.env_only_ceiling(c.env, c.num_envs, c.steps)
                                              for c in scale.ceilings]}),
        ("halfcheetah_ppo", lambda: parts.halfcheetah_ppo(hc, dl(), log)),
        ("halfcheetah_preset", lambda: parts.halfcheetah_preset(
            hc, suite.doc["parts"].get("halfcheetah_ppo"), dl(), log)),
        ("cartpole_agents", lambda: parts.cartpole_agents(scale.agents, log)),
        ("memory", lambda: parts.memory_growth(hc, log)),
        ("pbt_population", lambda: parts.pbt_population(scale.pbt, log)),
        ("profile", lambda: profile_part(scale.profile, dl() - scale.profile.reserve_s, log)),
        ("brax_presets", lambda: parts.brax_presets(scale.brax_presets, hc.chunk_updates, dl(), log)),
        ("spinningup", lambda: spinningup_part(scale.spinningup_smoke, dl(), log)),
        ("craftax_ppo", lambda: parts.craftax_ppo(scale.craftax, dl(), log)),
        ("cold_warm", lambda: parts.cold_warm(scale.cold_warm, hc.targets, dl(), log)),
        ("policy_paths", lambda: parts.policy_paths(scale.policy_paths, dl(), log)),
        ("multi_device", lambda: bench_multiprocess.multi_device(scale, log)),
    ]  # fmt: skip
    fns = dict(todo)
    names = [n for n, _ in todo if a.parts is None or n in a.parts]
    if a.order == "unmeasured-first":
        names = unmeasured_first(names, earlier)
    log(f"parts, in order: {', '.join(names)}")
    for name in names:
        run_part(suite, name, fns[name], 0 if a.smoke else MIN_S[name], log)
    suite.doc["finished"] = True
    suite.write()
    log(f"wrote {suite.stem}.json and {suite.stem}.md ({time.perf_counter() - suite.t0:.0f} s)")
    return 0


def profile_part(p: ProfileScale, deadline: float, log) -> dict:
    from experiments import profile_update

    return profile_update.profile_all(env=p.env, algos=p.algos, algos_env=p.algos_env, smoke=p.smoke,
                                      deadline=deadline, log=log)  # fmt: skip


def spinningup_part(smoke: bool, deadline: float, log) -> dict:
    from experiments import reproduce_spinningup

    return reproduce_spinningup.run(deadline=deadline, log=log, smoke=smoke)


# ----------------------------------------------------------------------- markdown


def _f(x, fmt="{:,.0f}") -> str:
    return "-" if x is None else fmt.format(x)


def to_markdown(doc: dict) -> str:
    hw, P = doc["hardware"], doc["parts"]
    lines = [f"# GPU suite{' (smoke, CPU: not representative)' if doc['smoke'] else ''}", "",
             f"Device: {hw['device_kind']} x{hw['device_count']} ({hw['platform']}), CPU {hw['cpu']} "
             f"({hw['cpu_cores']} cores), jax {hw['jax']}; started {doc['started']}, "
             f"{doc.get('elapsed_s', 0):.0f} s of a {doc['budget_s']:.0f} s budget.", ""]  # fmt: skip
    if "env_ceiling" in P and "ceilings" in P["env_ceiling"]:
        lines += ["| env-only ceiling | envs | steps/s |", "|---|---|---|"]
        lines += [f"| {c['env']} | {c['num_envs']} | {_f(c['steps_per_s'])} |" for c in P["env_ceiling"]["ceilings"]]
        lines.append("")
    hc = P.get("halfcheetah_ppo", {})
    if "ours" in hc:
        lines += ["| halfcheetah PPO | compile s | steady steps/s | wall to 2000 s | wall to 2500 s | env steps |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for name in ("ours", "brax"):
            r = hc.get(name, {})
            if "steady_steps_per_s" in r:
                w = r.get("wall_to_target_s", {})
                compile_s = r.get("compile_s", r.get("compile_time_s"))
                lines.append(f"| {name} | {_f(compile_s, '{:.1f}')} | {_f(r['steady_steps_per_s'])} | "
                             f"{_f(w.get('2000.0'), '{:.1f}')} | {_f(w.get('2500.0'), '{:.1f}')} | "
                             f"{_f(r.get('env_steps'))} |")  # fmt: skip
        if "ours_over_brax_steady" in hc:
            lines.append(f"\nOurs / Brax steady steps/s: {hc['ours_over_brax_steady']:.2f}x (target >= 1.5x).")
        ceil = {c["env"]: c["steps_per_s"] for c in P.get("env_ceiling", {}).get("ceilings", [])}
        env = f"brax/{hc['setting']['env']}"
        if env in ceil and hc["ours"].get("steady_steps_per_s"):
            lines.append(f"Ours / env-only ceiling: {hc['ours']['steady_steps_per_s'] / ceil[env]:.2f}x "
                         "(target >= 0.5x).")  # fmt: skip
        lines.append("")
    if "halfcheetah_preset" in P and "wall_to_target_s" in P["halfcheetah_preset"]:
        w = P["halfcheetah_preset"]["wall_to_target_s"]
        lines.append(f"Preset to eval return 2000 / 2500, compile included: {_f(w.get('2000.0'), '{:.1f}')} s / "
                     f"{_f(w.get('2500.0'), '{:.1f}')} s (target 2500 in <= 60 s).\n")  # fmt: skip
    bp = P.get("brax_presets", {}).get("runs", {})
    if bp:
        lines += ["| preset (deterministic eval) | policy | compile s | steady steps/s | best return | "
                  "wall to each reference s | env steps | stopped by | reference |",
                  "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for env, r in bp.items():
            w = ", ".join(f"{float(t):.0f}: {_f(v, '{:.1f}')}" for t, v in r["wall_to_target_s"].items())
            pol = r["policy"]["policy"] + (" + state std" if r["policy"]["state_dependent_std"] else "")
            lines.append(f"| {env} | {pol} | {_f(r['compile_s'], '{:.1f}')} | {_f(r['steady_steps_per_s'])} | "
                         f"{_f(r['best_return'], '{:.1f}')} | {w} | {_f(r['env_steps'])} | {r['stopped_by']} | "
                         f"{r['reference']} |")  # fmt: skip
        lines.append("")
    ca = P.get("cartpole_agents", {})
    if "run_s" in ca:
        lines.append(f"{ca['agents']} CartPole PPO agents x {ca['env_steps_per_agent']:,} steps: compile "
                     f"{ca['compile_s']:.1f} s + run {ca['run_s']:.1f} s = {ca['wall_with_compile_s']:.1f} s "
                     f"(target <= 30 s with compile); final return mean {ca['final_return_mean']:.1f}.\n")  # fmt: skip
    mem = P.get("memory", {})
    if "after_1x" in mem:
        a, b = mem["after_1x"], mem["after_3x"]
        lines.append(f"Memory after {a['updates']} / {b['updates']} updates: device "
                     f"{_f(a['device_bytes_in_use'])} / {_f(b['device_bytes_in_use'])} bytes, host RSS "
                     f"{a['host_rss_bytes']:,} / {b['host_rss_bytes']:,} bytes.\n")  # fmt: skip
    for name, r in P.get("cold_warm", {}).get("cases", {}).items():
        if "warm_over_cold_wall" in r:
            w = r["warm"].get("wall_to", {})
            lines.append(f"{name} (`{r['command']}`), two processes on one new compilation cache: cold "
                         f"{r['cold']['process_wall_s']:.1f} s, warm {r['warm']['process_wall_s']:.1f} s "
                         f"({r['warm_over_cold_wall']:.2f}x; XLA compile {_f(r['cold'].get('compile_s'), '{:.1f}')} "
                         f"-> {_f(r['warm'].get('compile_s'), '{:.1f}')} s); warm wall to eval return 2500: "
                         f"{_f(w.get('2500.0'), '{:.1f}')} s (target <= 60 s).\n")  # fmt: skip
    pb = P.get("pbt_population", {})
    if "run_s" in pb:
        lines.append(f"PBT: {pb['population']} PPO members on {pb['env']} x {pb['env_steps_per_member']:,} steps, "
                     f"ready step every {pb['interval']} updates ({pb['ready_steps']} of them, {pb['copies']} copies): "
                     f"compile {pb['compile_s']:.1f} s + run {pb['run_s']:.1f} s ({_f(pb['steps_per_s'])} env steps/s); "
                     f"final return best {pb['best_final_return']:.1f}, median {pb['median_final_return']:.1f}.\n")  # fmt: skip
    if "profile" in P and "markdown" in P["profile"]:
        lines += [P["profile"]["markdown"], ""]
    if "spinningup" in P and "markdown" in P["spinningup"]:
        lines += [P["spinningup"]["markdown"], ""]
    cx = P.get("craftax_ppo", {})
    if "steady_steps_per_s" in cx:
        lines.append(f"Craftax-Classic-Symbolic PPO at {cx['num_envs']} envs: env-only "
                     f"{_f(cx['env_only']['steps_per_s'])} steps/s, compile {_f(cx['compile_s'], '{:.1f}')} s, "
                     f"steady {_f(cx['steady_steps_per_s'])} steps/s, training return "
                     f"{_f(cx['final_return'], '{:.2f}')} after {_f(cx['env_steps'])} steps.\n")  # fmt: skip
    pp = P.get("policy_paths", {})
    if pp.get("cases"):
        lines += [f"| policy path (PPO, {pp['env']}) | envs | compile s | steady steps/s | time per step / MLP's |",
                  "|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {c['path']} | {c['num_envs']} | {_f(c.get('compile_s'), '{:.1f}')} | "
                  f"{_f(c.get('steady_steps_per_s'))} | {_f(c.get('time_per_step_over_mlp'), '{:.2f}x')} |"
                  for c in pp["cases"]]  # fmt: skip
        lines.append("")
    md = P.get("multi_device", {})
    if "runs" in md:
        lines.append(f"One {md['algo']} run on {md['env']} ({md['num_envs']} envs) over 1 / {md['devices']} devices: "
                     + " / ".join(f"{_f(r['steps_per_s'])}" for r in md["runs"])
                     + f" steps/s ({md['speedup']:.2f}x).\n")  # fmt: skip
    elif "skipped" in md:
        lines.append(f"- multi_device: {md['skipped']}")
    for name, r in P.items():
        if "error" in r:
            lines.append(f"- {name} FAILED: {r['error']}")
    for name, why in doc["skipped"].items():
        lines.append(f"- {name} skipped: {why}")
    for name, started in doc.get("carried", {}).items():
        lines.append(f"- {name}: carried from the run started {started} (not remeasured here)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
