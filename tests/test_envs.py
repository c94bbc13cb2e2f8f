import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpg import envs
from jaxpg.errors import JaxpgError


def test_unknown_env_suggests_close_names():
    with pytest.raises(JaxpgError, match="CartPole-v1"):
        envs.make("CartPol-v1")
    with pytest.raises(JaxpgError, match="brax/halfcheetah"):
        envs.make("brax/halfcheeta")


def test_cartpole_time_limit_is_truncation_with_final_obs():
    env = envs.make("CartPole-v1", episode_length=5)
    key = jax.random.PRNGKey(0)
    obs, state = env.reset(key)
    step = jax.jit(env.step)
    for t in range(5):
        key, k = jax.random.split(key)
        # alternate actions keep the pole up for 5 steps
        obs_next, state, r, term, trunc, info = step(k, state, t % 2)
        if t < 4:
            assert not bool(trunc) and not bool(term)
            np.testing.assert_allclose(info["final_obs"], obs_next)
    assert bool(trunc) and not bool(term)
    assert bool(info["episode_done"])
    assert float(info["episode_return"]) == 5.0
    assert int(info["episode_length"]) == 5
    # the returned obs is a fresh episode's, final_obs is where the cut happened
    assert not np.allclose(info["final_obs"], obs_next)
    assert int(state.episode_length) == 0


def test_cartpole_failure_is_termination():
    env = envs.make("CartPole-v1")
    key = jax.random.PRNGKey(1)
    obs, state = env.reset(key)
    step = jax.jit(env.step)
    for t in range(200):
        key, k = jax.random.split(key)
        obs, state, r, term, trunc, info = step(k, state, 1)  # always push right: falls
        if bool(term):
            break
    assert bool(term) and not bool(trunc)
    assert 5 <= int(info["episode_length"]) < 200


def test_pendulum_is_continuous_and_clips_actions():
    env = envs.make("Pendulum-v1")
    assert not env.action_space.is_discrete
    assert env.action_space.shape == (1,) and env.action_space.high == (2.0,)
    np.testing.assert_allclose(envs.clip_action(jnp.array([5.0]), env.action_space), [2.0])
    obs, state = env.reset(jax.random.PRNGKey(0))
    out = env.step(jax.random.PRNGKey(1), state, jnp.array([100.0]))
    assert out[2].shape == ()  # scalar reward


@pytest.mark.parametrize("name", sorted(envs.PROBES))
def test_probes_vmap_and_reset(name):
    env = envs.make(name)
    keys = jax.random.split(jax.random.PRNGKey(0), 8)
    obs, state = jax.vmap(env.reset)(keys)
    assert obs.shape == (8, 1)
    action = jnp.ones((8,), jnp.int32) if env.action_space.n == 2 else jnp.zeros((8,), jnp.int32)
    out = jax.vmap(env.step)(keys, state, action)
    assert out[2].shape == (8,)


def test_two_actions_probe_rewards():
    env = envs.make("Probe-TwoActions-v0")
    _, s = env.reset(jax.random.PRNGKey(0))
    assert float(env.step(jax.random.PRNGKey(1), s, 1)[2]) == 1.0
    assert float(env.step(jax.random.PRNGKey(1), s, 0)[2]) == -1.0


def test_every_gymnax_name_is_known():
    import gymnax

    assert set(gymnax.registered_envs) == set(envs.GYMNAX_ENVS)


_GYMNAX_IMPORT_SCRIPT = """
import sys
from jaxpg import envs
env = envs.make("CartPole-v1")
stand_ins = [n for n in ("seaborn", "matplotlib.pyplot") if type(sys.modules[n]).__name__ == "_LoadedOnFirstUse"]
from gymnax.environments.misc import pong
palette = pong.sns.color_palette("cubehelix", 3)  # gymnax's renderer reads it: the real seaborn loads
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
print(stand_ins, len(palette), type(sys.modules["seaborn"]).__name__, type(fig).__name__)
"""


def test_gymnax_env_loads_gymnaxs_plotting_imports_only_when_used():
    """Making a gymnax env does not import seaborn or pyplot (2 s of start-up); gymnax's
    renderers and any later user still get the real modules."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _GYMNAX_IMPORT_SCRIPT], capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["['seaborn',", "'matplotlib.pyplot']", "3", "module", "Figure"]
