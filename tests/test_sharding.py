"""Sharded runs equal unsharded ones for the same keys (4 CPU devices in a subprocess)."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from jaxpg.sharding import env_axis_sharding, make_mesh, pad_to_multiple, shard_env_axis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    from jax.sharding import PartitionSpec
    from jaxpg.config import HParams, TrainConfig
    from jaxpg.sweep import run_agents, stack_hparams
    from jaxpg import RunOptions, make_train, run

    assert jax.device_count() == 4, jax.devices()
    cfg = TrainConfig(num_envs=8, num_steps=16, total_timesteps=3 * 128, update_epochs=1,
                      num_minibatches=2, hidden_sizes=(16,), updates_per_chunk=1)
    out = {}

    # Agent axis: 6 agents (padded to 8 = 2 per device) vs the same agents on one device.
    hp = stack_hparams([HParams(lr=lr) for lr in (1e-3, 3e-3) for _ in range(3)])
    keys = jax.numpy.stack([jax.random.PRNGKey(i % 3) for i in range(6)])
    sharded = run_agents(cfg, keys, hp)
    single = run_agents(cfg, keys, hp, devices=jax.devices()[:1])
    out["agent_devices"] = [sharded.devices, single.devices]
    out["agent_chunk"] = sharded.chunk_size
    out["agent_diff"] = max(
        float(np.max(np.abs(sharded.metrics[k] - single.metrics[k]))) for k in single.metrics
    )
    out["agent_scale"] = float(np.max(np.abs(single.metrics["policy_loss"])))
    # Collectives (all, inside while loops) of the sharded chunk program, evaluation
    # included (eval every update here): each device trains its own agents.
    from jaxpg.sharding import loop_collectives
    out["agent_collectives"] = loop_collectives(sharded.program.as_text())
    # The counter itself, on a vmapped while loop (steps until x) over 4 devices: XLA's
    # partitioner all-reduces the batched condition per iteration; per device, nothing.
    from jaxpg.sharding import AGENTS, local_to_each_device, make_mesh, shard_leading
    mesh = make_mesh(AGENTS)
    loop = jax.vmap(lambda x: jax.lax.while_loop(lambda c: c < x, lambda c: c + 1.0, 0.0))
    xs = shard_leading(np.arange(8.0), mesh)
    out["toy_collectives"] = [loop_collectives(jax.jit(f).lower(xs).compile().as_text())
                              for f in (loop, local_to_each_device(loop, mesh))]
    out["toy_equal"] = bool(np.array_equal(jax.jit(loop)(xs), jax.jit(local_to_each_device(loop, mesh))(xs)))

    # Env axis: one run's 8 envs split over 4 devices by the driver vs one device.
    res = run(cfg, HParams(), RunOptions(seed=5, progress=False))
    out["env_spec"] = str(getattr(res.state.obs.sharding, "spec", type(res.state.obs.sharding).__name__))
    out["env_devices"] = len(res.state.obs.sharding.device_set)
    ref, _ = jax.jit(make_train(cfg))(jax.random.PRNGKey(5), HParams().as_arrays())
    a = np.concatenate([np.ravel(x) for x in jax.tree.leaves(jax.device_get(res.state.params))])
    b = np.concatenate([np.ravel(x) for x in jax.tree.leaves(jax.device_get(ref.params))])
    out["env_param_diff"] = float(np.max(np.abs(a - b)))
    out["env_steps"] = [int(res.state.env_steps), int(ref.env_steps)]

    # shard_env_axis on 4 devices: obs split over them, values unchanged, params replicated.
    from jaxpg.sharding import shard_env_axis
    from jaxpg import make_trainer
    real = jax.jit(make_trainer(cfg).init)(jax.random.PRNGKey(0), HParams().as_arrays())
    moved = shard_env_axis(real, cfg.num_envs)
    out["shard_obs_devices"] = len(moved.obs.sharding.device_set)
    out["shard_obs_spec"] = str(getattr(moved.obs.sharding, "spec", type(moved.obs.sharding).__name__))
    out["shard_obs_equal"] = bool(np.array_equal(np.asarray(moved.obs), np.asarray(real.obs)))
    out["shard_params_replicated"] = all(
        x.sharding.is_fully_replicated for x in jax.tree.leaves(moved.params))
    print("RESULT" + json.dumps(out))
    """
)


def test_sharded_equals_unsharded_on_4_cpu_devices():
    env = dict(
        os.environ,
        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
        XLA_FLAGS=os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4",
        JAX_PLATFORMS="cpu",
    )
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, env=env
    )
    assert r.returncode == 0, r.stderr[-3000:]
    line = next(x for x in r.stdout.splitlines() if x.startswith("RESULT"))
    out = json.loads(line[len("RESULT") :])
    assert out["agent_devices"] == [4, 1]
    assert out["agent_chunk"] == 8  # 6 agents padded to a multiple of 4 devices
    # Same keys, same math: only float summation order may differ.
    assert out["agent_diff"] <= 1e-4 * max(1.0, out["agent_scale"])
    # None at all, so none per evaluation step (before: the evaluation loop's "all envs
    # done?" condition was an all-reduce over the devices on every step).
    assert out["agent_collectives"] == [0, 0]
    assert out["toy_collectives"] == [[1, 1], [0, 0]] and out["toy_equal"]
    assert out["env_devices"] == 4 and "envs" in out["env_spec"]
    assert out["env_steps"] == [384, 384]
    assert out["env_param_diff"] < 1e-4
    assert out["shard_obs_devices"] == 4 and "envs" in out["shard_obs_spec"]
    assert out["shard_obs_equal"] and out["shard_params_replicated"]


def test_single_device_helpers():
    assert [pad_to_multiple(n, 4) for n in (1, 4, 5, 8)] == [4, 4, 8, 8]
    mesh = make_mesh("envs")
    assert mesh.size == jax.device_count()

    from jaxpg.config import TrainConfig
    from jaxpg import make_trainer

    cfg = TrainConfig(num_envs=4, num_steps=8, total_timesteps=32, hidden_sizes=(8,))
    state = jax.eval_shape(make_trainer(cfg).init, jax.random.PRNGKey(0), _hp())
    shardings = env_axis_sharding(state, cfg.num_envs, mesh)
    assert shardings.obs.spec == PartitionSpec("envs")
    # parameters are replicated even though nothing forbids them a leading dim of 4
    for s in jax.tree.leaves(shardings.params):
        assert s.spec == PartitionSpec()
    real = jax.jit(make_trainer(cfg).init)(jax.random.PRNGKey(0), _hp())
    if jax.device_count() == 1:
        assert shard_env_axis(real, cfg.num_envs) is real  # no-op on one device
    # (on 4 devices: the subprocess test above checks the split and the values)


def _hp():
    from jaxpg.config import HParams

    return HParams().as_arrays()


TWO_PROCESS = textwrap.dedent(
    """
    import json, sys
    import jax
    from jaxpg.sharding import initialize_distributed
    initialize_distributed(f"localhost:{sys.argv[2]}", 2, int(sys.argv[1]))
    import numpy as np
    from jaxpg.config import HParams, TrainConfig
    from jaxpg.sweep import run_agents, stack_hparams
    cfg = TrainConfig(num_envs=4, num_steps=16, total_timesteps=2 * 64, update_epochs=1,
                      num_minibatches=2, hidden_sizes=(8,))
    hp = stack_hparams([HParams(lr=lr) for lr in (1e-3, 3e-3) for _ in range(2)])
    keys = jax.numpy.stack([jax.random.PRNGKey(i % 2) for i in range(4)])
    res = run_agents(cfg, keys, hp)
    out = {k: np.asarray(v).tolist() for k, v in res.metrics.items()}
    print("RESULT" + json.dumps({"processes": jax.process_count(), "devices": res.devices,
                                 "metrics": out}))
    """
)


@pytest.mark.slow
def test_two_processes_on_localhost_equal_one(tmp_path):
    """jax.distributed over loopback (gloo CPU collectives): 2 processes x 1 device."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
        JAX_PLATFORMS="cpu",
    )
    env.pop("XLA_FLAGS", None)
    procs = [
        subprocess.Popen([sys.executable, "-c", TWO_PROCESS, str(i), str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for i in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=900) for p in procs]
    results = []
    for p, (stdout, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr[-3000:]
        line = next(x for x in stdout.splitlines() if x.startswith("RESULT"))
        results.append(json.loads(line[len("RESULT") :]))
    assert [r["processes"] for r in results] == [2, 2]
    assert [r["devices"] for r in results] == [2, 2]

    from jaxpg.config import HParams, TrainConfig
    from jaxpg.sweep import run_agents, stack_hparams

    cfg = TrainConfig(num_envs=4, num_steps=16, total_timesteps=2 * 64, update_epochs=1,
                      num_minibatches=2, hidden_sizes=(8,))  # fmt: skip
    hp = stack_hparams([HParams(lr=lr) for lr in (1e-3, 3e-3) for _ in range(2)])
    keys = jax.numpy.stack([jax.random.PRNGKey(i % 2) for i in range(4)])
    ref = run_agents(cfg, keys, hp, devices=jax.devices()[:1])
    for r in results:  # both processes gathered every agent's metrics
        for k, v in ref.metrics.items():
            np.testing.assert_allclose(np.asarray(r["metrics"][k]), v, rtol=1e-3, atol=1e-6,
                                       err_msg=k)  # fmt: skip
