"""Never hang: no LAPACK custom call in any program jaxpg compiles for training.

Batched LAPACK kernels on XLA's CPU backend split their batch into tasks on the
thread pool they run on and can deadlock it (docs/jaxlib-cpu-deadlock.md). jaxpg
computes orthogonal initialisation and its one linear solve with plain jnp ops
(jaxpg/linalg.py); these tests lower (or record) every kind of training program and
fail on any ``lapack_`` call, so a new one cannot slip in unnoticed. A stress test
runs the 4-host-device sharded sweep that used to hang, in fresh processes.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from jaxpg.config import HParams, TrainConfig
from jaxpg.linalg import haar_orthogonal, householder_qr, orthogonal, solve_spd
from jaxpg.sweep import stack_hparams
from jaxpg import RunOptions, make_train, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The target of a custom call (not, say, a source location that mentions "lapack_").
LAPACK = re.compile(r'(?:custom_call\s*@|call_target_name\s*=\s*")(lapack_\w+)')



def lapack_calls(text: str) -> set[str]:
    return set(LAPACK.findall(text))


@contextlib.contextmanager
def recorded_programs(directory):
    """Dump the StableHLO of every program lowered inside the block into ``directory``."""
    jax.config.update("jax_dump_ir_to", str(directory))
    try:
        yield
    finally:
        jax.config.update("jax_dump_ir_to", "")


def recorded_lapack_calls(directory) -> dict[str, set[str]]:
    found = {}
    for path in glob.glob(os.path.join(str(directory), "*.mlir")):
        with open(path) as f:
            calls = lapack_calls(f.read())
        if calls:
            found[os.path.basename(path)] = calls
    return found


# Every algorithm (REINFORCE with each baseline), discrete and continuous.
PROGRAMS = [
    (algo, baseline, env)
    for algo, baseline in [("ppo", None), ("a2c", None), ("reinforce", "none"),
                           ("reinforce", "value"), ("reinforce", "linear"),
                           ("npg", None), ("trpo", None)]
    for env in ("CartPole-v1", "Pendulum-v1")
]  # fmt: skip


@pytest.mark.parametrize("algo,baseline,env", PROGRAMS)
def test_training_program_has_no_lapack_call(algo, baseline, env):
    extra = {"baseline": baseline} if baseline else {}
    config = TrainConfig(algo=algo, env=env, num_envs=4, num_steps=16, total_timesteps=128, **extra)
    train = make_train(config)
    # The sweep's form: a batch of seeds and hyperparameters together (every op that a
    # vmap over seeds alone, or over hyperparameters alone, batches is batched here too).
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    hps = stack_hparams([HParams(lr=lr) for lr in (1e-4, 3e-4, 1e-3)]).as_arrays()
    text = jax.jit(jax.vmap(train)).lower(keys, hps).as_text()
    assert lapack_calls(text) == set(), f"{algo}/{baseline}/{env}"


def test_driver_programs_have_no_lapack_call(tmp_path):
    """Everything the chunked driver compiles (init, chunks), recorded as it runs.
    The RLHF programs are recorded the same way in tests/test_rlhf.py (tiny_run)."""
    config = TrainConfig(algo="ppo", env="CartPole-v1", num_envs=4, num_steps=16,
                         total_timesteps=256, updates_per_chunk=2)  # fmt: skip
    with recorded_programs(tmp_path / "ir"):
        run(config, HParams(), RunOptions(seed=0, out_dir=str(tmp_path / "run"), progress=False))
    assert any("run_masked" in p for p in glob.glob(str(tmp_path / "ir" / "*.mlir")))
    assert recorded_lapack_calls(tmp_path / "ir") == {}


def test_lapack_calls_detects_a_qr():
    """The guard itself: a vmapped jnp.linalg.qr does lower to a LAPACK call here."""
    text = jax.jit(jax.vmap(lambda a: jax.numpy.linalg.qr(a)[0])).lower(np.ones((2, 3, 3))).as_text()
    if jax.default_backend() == "cpu":
        assert lapack_calls(text)


# ---- the replacements, against numpy / known statistics ----


def test_householder_qr_matches_numpy():
    a = np.random.default_rng(0).standard_normal((50, 30)).astype(np.float32)
    q, r = jax.jit(householder_qr)(a)
    q_np, r_np = np.linalg.qr(a)
    flip, flip_np = np.sign(np.diag(np.asarray(r))), np.sign(np.diag(r_np))
    np.testing.assert_allclose(np.asarray(q) * flip, q_np * flip_np, atol=2e-5)
    np.testing.assert_allclose(np.asarray(r) * flip[:, None], r_np * flip_np[:, None], atol=5e-5)
    np.testing.assert_allclose(np.asarray(q @ r), a, atol=1e-5)
    assert np.allclose(np.triu(np.asarray(r)), np.asarray(r))


@pytest.mark.parametrize("shape", [(64, 64), (128, 64), (4, 64), (64, 2), (3, 5, 8)])
def test_orthogonal_init_is_orthogonal_with_scale(shape):
    w = np.asarray(jax.jit(lambda k: orthogonal(2.0)(k, shape))(jax.random.PRNGKey(3)))
    assert w.shape == shape
    m = w.reshape(-1, shape[-1]) / 2.0
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=2e-6)


def test_haar_statistics():
    """Haar measure on O(n): E[Q_ij^2] = 1/n; tr Q has mean 0 and second moment 1
    (Diaconis & Shahshahani 1994); and Q is equally likely to have det +1 or -1.
    Without Mezzadri's sign fix, E[tr Q] would be far above 0."""
    n, draws = 6, 4000
    qs = np.asarray(jax.jit(jax.vmap(lambda k: haar_orthogonal(k, n, n)))(
        jax.random.split(jax.random.PRNGKey(0), draws)))  # fmt: skip
    se = 1.0 / np.sqrt(draws)
    np.testing.assert_allclose((qs**2).mean(0), 1.0 / n, atol=5 * se / n * np.sqrt(2 * n))
    tr = np.trace(qs, axis1=1, axis2=2)
    assert abs(tr.mean()) < 5 * se
    assert abs((tr**2).mean() - 1.0) < 5 * np.sqrt(2.0) * se
    det_sign = np.sign(np.linalg.det(qs.astype(np.float64)))
    assert abs(det_sign.mean()) < 5 * se


def test_solve_spd_matches_numpy_on_a_badly_scaled_ridge_system():
    """The linear baseline's normal equations: polynomial features with mixed scales."""
    rng = np.random.default_rng(1)
    obs = rng.standard_normal((2000, 4)) * np.array([1.0, 2.0, 0.1, 3.0])
    t = rng.integers(0, 500, 2000)[:, None] / 500.0
    x = np.concatenate([obs, obs**2, t, t**2, t**3, np.ones_like(t)], axis=1)
    gram = x.T @ x
    a = gram + 1e-5 * np.trace(gram) / gram.shape[0] * np.eye(gram.shape[0])
    b = x.T @ (rng.standard_normal(2000) * 10 + 50 * (1 - t[:, 0]))
    expected = np.linalg.solve(a, b)
    got = np.asarray(jax.jit(solve_spd)(a.astype(np.float32), b.astype(np.float32)))
    assert np.linalg.cond(a) > 1e5  # the case that needs the preconditioner
    np.testing.assert_allclose(x @ got, x @ expected, rtol=1e-3, atol=1e-3 * np.abs(x @ expected).max())


# ---- the sharded sweep that used to hang ----

STRESS = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"  # XLA's defaults, as users run
    import jax
    from jaxpg.runner.compile_cache import enable_compile_cache
    enable_compile_cache(os.environ["JAXPG_COMPILE_CACHE"])  # the session's: compiled once
    import numpy as np
    from jaxpg.config import HParams, TrainConfig
    from jaxpg.sharding import AGENTS, make_mesh, shard_leading
    from jaxpg.sweep import stack_hparams
    from jaxpg import make_train
    assert jax.device_count() == 4
    # jaxpg sweep's program: 2 lrs x 4 seeds, the agent axis sharded over 4 devices.
    config = TrainConfig(algo="ppo", env="CartPole-v1", num_envs=8, num_steps=32,
                         total_timesteps=8 * 32 * 8)
    train = make_train(config)
    mesh = make_mesh(AGENTS)
    hps = shard_leading(stack_hparams([HParams(lr=lr) for lr in (3e-4, 1e-3) for _ in range(4)]).as_arrays(), mesh)
    keys = shard_leading(jax.random.split(jax.random.PRNGKey(0), 8), mesh)
    fn = jax.jit(jax.vmap(lambda k, h: train(k, h)[1])).lower(keys, hps).compile()
    for i in range(RUNS):
        returns = fn(keys, hps)["episode_return_sum"]
        assert np.isfinite(np.asarray(returns)).all()
    print("ok")
    """
)


def test_sharded_sweep_never_hangs():
    """jaxpg sweep's sharded program over 4 host devices, run 8 times in each of 2 fresh
    processes started together (more pressure on the CPU pool), each under a timeout.
    Before the fix the same script hung in 3 of 3 processes (every pool thread parked in
    a batched LAPACK QR). A first process compiles the program into the session's
    compilation cache, so the two read it back instead of compiling it again."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    warm = subprocess.run([sys.executable, "-c", STRESS.replace("RUNS", "1")], capture_output=True,
                          text=True, env=env, timeout=600)  # fmt: skip
    assert warm.returncode == 0 and warm.stdout.strip().endswith("ok"), warm.stderr[-2000:]
    script = STRESS.replace("RUNS", "8")
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]  # fmt: skip
    try:
        for i, proc in enumerate(procs):
            try:
                out, err = proc.communicate(timeout=360)
            except subprocess.TimeoutExpired:
                pytest.fail(f"sharded sweep hung (process {i + 1} of 2: no result after 360 s)")
            assert proc.returncode == 0 and out.strip().endswith("ok"), err[-2000:]
    finally:
        for proc in procs:
            proc.kill()
