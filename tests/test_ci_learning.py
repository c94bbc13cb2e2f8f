"""CI-size checks of features that the slow tests cover at full size: each algorithm
learns with its preset's hyperparameters, a Gaussian policy learns, a Brax preset's
settings train through the Brax env-instance adapter, and two processes join with
``jax.distributed`` on localhost. Each is small (one compile, a few hundred updates
or fewer) and each can fail."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from jaxpg.config import HParams, TrainConfig
from jaxpg.presets import preset
from jaxpg import make_train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))


def _late_mean_return(metrics, frac=0.2):
    s, c = np.asarray(metrics["episode_return_sum"]), np.asarray(metrics["episode_count"])
    k = max(1, int(s.shape[-1] * frac))
    return float(s[..., -k:].sum() / max(c[..., -k:].sum(), 1))


# npg is not in this list: with its CartPole preset at this size it did not learn the
# probe (late return -0.004 after 100 updates, where trpo -- the same direction plus a
# line search -- learns it); reported, not yet explained. Its learning on CartPole is
# checked by tests/test_algos.py::test_learns_cartpole_with_default_budget (slow).
@pytest.mark.parametrize("algo", ["reinforce", "a2c", "trpo"])
def test_algorithm_learns_the_obs_action_probe_with_its_preset(algo):
    """Probe-ObsAction-v0: +1 when the action matches the observation's sign, else -1
    (a random policy scores 0). The CartPole preset's hyperparameters, a small batch,
    100 updates."""
    cfg, hp = preset(algo, "CartPole-v1")
    cfg = cfg.replace(env="Probe-ObsAction-v0", num_envs=8, num_steps=16, total_timesteps=100 * 128,
                      num_minibatches=min(cfg.num_minibatches, 4), eval_every=0, updates_per_chunk=None)
    _, m = jax.jit(make_train(cfg))(jax.random.PRNGKey(0), hp.as_arrays())
    assert _late_mean_return(m) > 0.8, (algo, _late_mean_return(m))


def test_gaussian_policy_learns_reach():
    """The README's Reach env with the diagonal Gaussian policy (the env clips actions):
    a random policy scores about -25, going straight to the goal about -1."""
    from custom_env import Reach

    cfg = TrainConfig(env="Reach", total_timesteps=16 * 64 * 20, num_envs=16, num_steps=64,
                      policy="gaussian", eval_every=20, num_eval_envs=32)  # fmt: skip
    _, m = jax.jit(make_train(cfg, env=Reach()))(jax.random.PRNGKey(0),
                                                 HParams(lr=1e-3, critic_lr=1e-3).as_arrays())
    assert float(np.asarray(m["eval_return"])[-1]) > -5.0


def test_brax_preset_settings_train_through_the_env_instance_adapter():
    """brax/halfcheetah's preset (tanh-Gaussian, state-dependent std, obs normalization,
    reward scaling) on Brax's trivial ``fast`` env passed as an instance: the preset's
    program path at CPU size (halfcheetah itself compiles for minutes on a CPU)."""
    from brax import envs as brax_envs

    cfg, hp = preset("ppo", "brax/halfcheetah")
    assert cfg.policy == "tanh-gaussian" and cfg.state_dependent_std and cfg.normalize_obs
    assert (cfg.num_envs, cfg.update_epochs, cfg.num_minibatches) == (2048, 8, 32)
    small = cfg.replace(env="fast", num_envs=8, num_steps=8, num_minibatches=2, update_epochs=2,
                        total_timesteps=3 * 64, eval_every=0, updates_per_chunk=None)
    env = brax_envs.get_environment("fast")
    state, m = jax.jit(make_train(small, env=env))(jax.random.PRNGKey(0), hp.as_arrays())
    assert int(state.env_steps) == 3 * 64 and np.all(np.asarray(m["nonfinite"]) == 0)
    assert np.all(np.isfinite(np.asarray(m["policy_loss"]))) and np.all(np.asarray(m["actor_grad_norm"]) > 0)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(state.obs_stats))


TWO_PROCESSES = textwrap.dedent(
    """
    import json, sys
    import jax
    from jaxpg.sharding import initialize_distributed, make_mesh
    assert initialize_distributed(f"localhost:{sys.argv[2]}", 2, int(sys.argv[1]))
    import numpy as np
    from jax.experimental import multihost_utils
    mesh = make_mesh("agents")
    gathered = multihost_utils.process_allgather(np.array([jax.process_index() + 1.0]))
    print("RESULT" + json.dumps({"processes": jax.process_count(), "mesh": mesh.size,
                                 "gathered": np.asarray(gathered).ravel().tolist()}))
    """
)


def test_two_processes_join_with_jax_distributed_on_localhost():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               JAX_PLATFORMS="cpu")  # fmt: skip
    env.pop("XLA_FLAGS", None)
    procs = [subprocess.Popen([sys.executable, "-c", TWO_PROCESSES, str(i), str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    results = []
    for p, (stdout, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr[-3000:]
        line = next(x for x in stdout.splitlines() if x.startswith("RESULT"))
        results.append(json.loads(line[len("RESULT"):]))
    # each process sees both, the mesh spans both processes' devices, and a collective
    # across them returns every process's value
    assert [r["processes"] for r in results] == [2, 2]
    assert [r["mesh"] for r in results] == [2, 2]
    assert [r["gathered"] for r in results] == [[1.0, 2.0], [1.0, 2.0]]
