"""The GPU suite's smoke run: every part's code path at tiny scale on the CPU.

The suite (experiments/gpu_suite.py) is what a session with a device runs first;
this keeps it runnable between such sessions. XLA's CPU backend optimizations are
turned down for the child process: the smoke checks code paths, not speed, and
compiling is most of its time. The budget is generous so that a loaded machine does
not make the deadline cut a part short (the deadline logic has its own test).
"""

import json
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PARTS = ("env_ceiling", "halfcheetah_ppo", "halfcheetah_preset", "cartpole_agents", "memory",
         "profile", "brax_presets", "spinningup", "craftax_ppo", "cold_warm", "pbt_population",
         "policy_paths", "multi_device")  # fmt: skip
# The default suite smokes the headline parts (the comparison with Brax's own trainer
# among them). The slow set (``pytest -m slow tests/test_gpu_suite.py``) smokes the
# measuring-only parts and three that train but are not the headline: pbt_population
# (the PBT library has tests/test_pbt.py), cartpole_agents (2048 CartPole agents, which
# cold_warm runs again through jaxpg sweep) and spinningup (the reproduction script).
# Together they would add about as much time again to a default suite near its limit.
DEFAULT_PARTS = ("env_ceiling", "halfcheetah_ppo", "halfcheetah_preset", "memory", "craftax_ppo",
                 "multi_device")  # fmt: skip
SLOW_PARTS = tuple(p for p in PARTS if p not in DEFAULT_PARTS)
FAST_XLA = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


def smoke(tmp_path, parts):
    """``gpu_suite.py --smoke --parts ...`` in a child process: (results doc, markdown)."""
    env = dict(os.environ, PYTHONPATH=ROOT, XLA_FLAGS=FAST_XLA, PYTHONUNBUFFERED="1")
    p = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "gpu_suite.py"), "--smoke", "--out-dir",
         str(tmp_path), "--budget-s", "3000", "--parts", *parts], capture_output=True, text=True, env=env,
        timeout=3000,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    doc = json.loads((tmp_path / "gpu_suite_cpu_smoke.json").read_text())
    md = (tmp_path / "gpu_suite_cpu_smoke.md").read_text()
    assert doc["finished"] and doc["smoke"] and doc["skipped"] == {}
    assert set(doc["parts"]) == set(parts)
    assert not [n for n, r in doc["parts"].items() if "error" in r], {
        n: r.get("error") for n, r in doc["parts"].items()}  # fmt: skip
    return doc["parts"], md


def test_gpu_suite_smoke_runs_the_training_parts(tmp_path):
    parts, md = smoke(tmp_path, DEFAULT_PARTS)
    assert all(c["steps_per_s"] > 0 for c in parts["env_ceiling"]["ceilings"])
    hc = parts["halfcheetah_ppo"]
    assert hc["ours"]["env_steps"] >= hc["stretch_steps"] and hc["ours"]["steady_steps_per_s"] > 0
    assert hc["brax"]["env_steps"] > 0 and hc["brax"]["compile_time_s"] > 0
    assert parts["halfcheetah_preset"]["same_run_as"] == "halfcheetah_ppo.ours"
    assert parts["memory"]["after_3x"]["updates"] == 3 * parts["memory"]["after_1x"]["updates"]
    assert "smoke" in parts["craftax_ppo"]["skipped"]
    assert parts["multi_device"]["skipped"] == "one device: skipped"  # 1 CPU device here (N: slow test)
    assert "env-only ceiling" in md


@pytest.mark.slow
def test_gpu_suite_smoke_runs_the_measuring_parts(tmp_path):
    parts, md = smoke(tmp_path, SLOW_PARTS)
    ca = parts["cartpole_agents"]
    assert ca["agents"] == 2 and ca["run_s"] > 0 and ca["final_return_mean"] > 0
    assert parts["pbt_population"]["ready_steps"] > 0 and parts["pbt_population"]["steps_per_s"] > 0
    assert parts["spinningup"]["results"]["fast"]["vpg"]["updates_done"] > 0
    share = parts["profile"]["ppo"][0]["share"]
    assert share["rollout"] > 0 and share["advantages"] > 0 and sum(share.values()) == pytest.approx(1.0)
    assert parts["profile"]["ppo"][0]["xla_cost_update_loop_corrected"]["flops"] > 0
    bp = parts["brax_presets"]["runs"]["brax/fast"]
    assert bp["eval"] == "deterministic" and bp["env_steps"] > 0 and bp["evals"]
    assert bp["policy"]["policy"] == "tanh-gaussian" and bp["policy"]["state_dependent_std"]
    (path,) = parts["policy_paths"]["cases"]  # the GRU and CNN paths in one tiny program
    assert path["path"] == "cnn+gru" and path["steady_steps_per_s"] > 0
    # The compilation cache: a second process gets its programs from the first one's
    # cache, counted by JAX's cache-hit events (summary.json), never by a wall time.
    cw = parts["cold_warm"]["cases"]["halfcheetah"]
    cold, warm = cw["cold"], cw["warm"]
    assert cold["compile_cache"]["hits"] == 0 and cold["compile_cache"]["written"] >= 2
    assert not any(p["from_cache"] for p in cold["programs"].values())
    assert warm["compile_cache"]["hits"] >= 2 and warm["compile_cache"]["written"] == 0
    assert set(warm["programs"]) == {"init", "chunk"} and all(p["from_cache"] for p in warm["programs"].values())
    assert warm["return"] == cold["return"]  # the same programs, the same run
    assert "Where one update's time goes" in md
    assert "| brax/fast | tanh-gaussian + state std |" in md
    assert "| policy path (PPO, Breakout-MinAtar) |" in md


def test_every_part_is_smoked_once():
    from experiments import gpu_suite

    assert sorted(DEFAULT_PARTS + SLOW_PARTS) == sorted(PARTS)
    assert set(PARTS) == set(gpu_suite.MIN_S)  # a new part must join one of the two lists


def test_part_that_does_not_fit_is_recorded_as_skipped(tmp_path):
    from experiments.gpu_suite import Suite, device_slug, run_part

    suite = Suite(str(tmp_path), smoke=True, budget_s=10.0)
    suite.deadline = time.perf_counter() - 1.0  # the budget is spent
    ran = []
    run_part(suite, "memory", lambda: ran.append(1) or {}, 15, lambda m: None)
    assert ran == [] and "memory" in suite.doc["skipped"] and "memory" not in suite.doc["parts"]
    saved = json.loads((tmp_path / "gpu_suite_cpu_smoke.json").read_text())
    assert "memory" in saved["skipped"]
    suite.deadline = time.perf_counter() + 60.0
    run_part(suite, "broken", lambda: 1 / 0, 0, lambda m: None)  # a failing part is recorded
    assert "ZeroDivisionError" in suite.doc["parts"]["broken"]["error"]
    assert device_slug({"platform": "gpu", "device_kind": "NVIDIA H100 80GB HBM3"}) == "nvidia-h100-80gb-hbm3"


def test_committed_parts_run_last_and_are_carried_until_remeasured(tmp_path):
    from experiments.gpu_suite import Suite, committed_results, run_part, unmeasured_first

    earlier = {"suite": "gpu_suite", "started": "2026-11-26 16:05:01", "skipped": {"c": "no time"},
               "parts": {"a": {"x": 1}, "b": {"error": "boom"}}, "carried": {}}  # fmt: skip
    (tmp_path / "gpu_suite_h200.json").write_text(json.dumps(earlier))
    measured = committed_results("h200", str(tmp_path))
    assert measured == {"a": {"x": 1, "carried_from": "2026-11-26 16:05:01"}}  # failed part: rerun
    assert committed_results("h100", str(tmp_path)) == {}  # another device kind: nothing
    assert unmeasured_first(["a", "b", "c", "d"], measured) == ["b", "c", "d", "a"]

    suite = Suite(str(tmp_path / "out"), smoke=True, budget_s=60.0)
    suite.carry(measured)
    suite.write()
    saved = json.loads((tmp_path / "out" / "gpu_suite_cpu_smoke.json").read_text())
    assert saved["parts"]["a"] == {"x": 1} and saved["carried"] == {"a": "2026-11-26 16:05:01"}
    assert "a: carried from the run started 2026-11-26 16:05:01" in (
        tmp_path / "out" / "gpu_suite_cpu_smoke.md").read_text()
    # a carried document read back keeps each part's own date, not the newer run's
    (tmp_path / "gpu_suite_later.json").write_text(json.dumps(dict(saved, started="2026-12-09")))
    assert committed_results("later", str(tmp_path))["a"]["carried_from"] == "2026-11-26 16:05:01"
    run_part(suite, "a", lambda: {"x": 2}, 0, lambda m: None)  # measured again: not carried
    assert suite.doc["parts"]["a"]["x"] == 2 and suite.doc["carried"] == {}


def test_scales_are_typed_values_whose_config_changes_are_valid():
    """No part reads a dict of field names: every scale is a frozen dataclass, and what a
    scale changes in a configuration is a TrainConfig -> TrainConfig function, checked here
    on the presets it is applied to (no program compiles)."""
    import dataclasses
    from collections.abc import Mapping

    from experiments.gpu_suite import FULL, SMOKE
    from experiments.suite_parts import POLICY_PATHS, policy_path_config
    from jaxpg.config import TrainConfig
    from jaxpg.presets import preset

    fields = {f.name for f in dataclasses.fields(TrainConfig)}

    def walk(value):
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                yield from walk(getattr(value, f.name))
        elif isinstance(value, Mapping):
            assert not set(value) & fields, f"a dict of TrainConfig field names: {dict(value)}"
            for v in value.values():
                yield from walk(v)
        yield value

    for scale in (FULL, SMOKE):
        assert dataclasses.is_dataclass(scale) and scale.__dataclass_params__.frozen
        list(walk(scale))
        hc = scale.halfcheetah
        hc.preset(preset("ppo", f"brax/{hc.setting.env}").config).validate()
        for env in scale.brax_presets.runs:
            scale.brax_presets.preset(preset("ppo", env).config).validate()
        scale.pbt.config(preset("ppo", scale.pbt.env).config).validate()
        assert scale.agents.config(preset("ppo", "CartPole-v1").config).validate()
        for path, envs in scale.policy_paths.cases:
            assert policy_path_config(path, scale.policy_paths.env, envs, scale.policy_paths).num_envs == envs
    tiny = SMOKE.halfcheetah.preset(preset("ppo", "brax/fast").config)
    assert (tiny.num_envs, tiny.num_steps, tiny.episode_length) == (16, 5, 20)
    assert FULL.halfcheetah.preset(preset("ppo", "brax/fast").config) == preset("ppo", "brax/fast").config
    assert POLICY_PATHS["cnn+gru"](tiny).encoder == "cnn" and POLICY_PATHS["cnn+gru"](tiny).recurrent == "gru"
