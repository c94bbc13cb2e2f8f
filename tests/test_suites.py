"""Env suites and user envs: gymnax's older five-value API, optimistic resets, the env
contract checked at make time, module:callable factories through train and eval, and
the suite adapters (Jumanji, XLand-MiniGrid, Craftax, Navix) at small size where
installed, and Kinetix's against a duck-typed env (kinetix-env cannot be installed here)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpg import envs
from jaxpg.algos.state import make_context
from jaxpg.config import TrainConfig
from jaxpg.envs.batched import step_batch
from jaxpg.envs.craftax_env import LegacyGymnaxEnv
from jaxpg.envs.suite_base import SuiteEnv
from jaxpg.errors import JaxpgError
from jaxpg.evaluation import policy_act
from jaxpg.normalization import RunningStats
from tests import user_envs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _walk(actions, env=None):
    env = env or envs.adapt(user_envs.OldApiWalk())
    obs, state = env.reset(jax.random.PRNGKey(0))
    out = []
    for a in actions:
        obs, state, r, term, trunc, info = env.step(jax.random.PRNGKey(1), state, jnp.int32(a))
        out.append((float(r), bool(term), bool(trunc), np.asarray(info["final_obs"]).tolist(),
                    np.asarray(obs).tolist()))  # fmt: skip
    return out


def test_older_gymnax_api_is_adapted_with_termination_apart_from_truncation():
    env = envs.adapt(user_envs.OldApiWalk())
    assert isinstance(env, LegacyGymnaxEnv) and env.max_episode_steps == 6
    # Walking right three times falls off the cliff at pos 3: a termination, and
    # final_obs is the pre-reset observation [3, 3], obs the fresh episode's [0, 0].
    steps = _walk([1, 1, 1])
    assert [s[1:3] for s in steps] == [(False, False)] * 2 + [(True, False)]
    assert steps[-1][3] == [3.0, 3.0] and steps[-1][4] == [0.0, 0.0]
    # Standing still for 6 steps reaches the time limit: a truncation, not a termination.
    steps = _walk([0] * 6)
    assert [s[1:3] for s in steps] == [(False, False)] * 5 + [(False, True)]
    assert steps[-1][3] == [0.0, 6.0] and steps[-1][4] == [0.0, 0.0]


class Counter(SuiteEnv):
    """Episode of ``length`` steps; obs [t, serial of the reset that started it]."""

    name = "Counter"

    def __init__(self, length, ratio):
        self.action_space, self.max_episode_steps, self.reset_ratio = envs.Discrete(2), length, ratio
        self._set_obs_size()

    def _reset(self, key):
        return jnp.stack([0.0, jax.random.uniform(key)]), jnp.zeros((), jnp.float32)

    def _step(self, key, t, action):
        return jnp.stack([t + 1.0, 0.0]), t + 1.0, jnp.float32(1.0), jnp.asarray(False), False


@pytest.mark.parametrize("ratio", [1, 3])
def test_optimistic_resets_give_every_ended_episode_a_fresh_start(ratio):
    env, num_envs = Counter(length=2, ratio=ratio), 7
    obs, state = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), num_envs))
    keys = jax.random.split(jax.random.PRNGKey(1), num_envs)
    o1, s1, _, _, tr1, info1 = jax.jit(lambda s: step_batch(env, keys, s, jnp.zeros(num_envs, int)))(state)
    o2, s2, _, _, tr2, info2 = jax.jit(lambda s: step_batch(env, keys, s, jnp.zeros(num_envs, int)))(s1)
    assert not tr1.any() and tr2.all()  # all episodes are truncated at step 2
    np.testing.assert_array_equal(np.asarray(info2["final_obs"])[:, 0], 2.0)  # pre-reset obs
    np.testing.assert_array_equal(np.asarray(o2)[:, 0], 0.0)  # every env restarted
    np.testing.assert_array_equal(np.asarray(s2.t), 0)
    fresh = np.unique(np.asarray(o2)[:, 1])
    # ratio R: only ceil(B / R) fresh initial states per step, shared by the ended envs
    assert len(fresh) == (num_envs if ratio == 1 else int(np.ceil(num_envs / ratio)))


def test_optimistic_resets_pass_through_episode_stats():
    env = envs.wrap(Counter(length=3, ratio=2))
    assert env.reset_ratio == 2 and hasattr(env, "step_without_reset")
    _, state = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 4))
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    for _ in range(3):
        _, state, _, _, _, info = step_batch(env, keys, state, jnp.zeros(4, int))
    assert np.asarray(info["episode_done"]).all()
    np.testing.assert_array_equal(np.asarray(info["episode_return"]), 3.0)
    np.testing.assert_array_equal(np.asarray(state.episode_return), 0.0)


@pytest.mark.parametrize("bad, message", [
    (user_envs.NoFinalObs, 'with "final_obs"'),
    (user_envs.WrongObsShape, "reset's obs is (2,), expected a float vector of shape (1,)"),
])  # fmt: skip
def test_a_user_env_breaking_the_contract_is_one_line_at_make_time(bad, message):
    with pytest.raises(JaxpgError) as e:
        envs.wrap_user_env(bad())
    assert message in str(e.value) and "\n" not in str(e.value)


def test_factory_specs_make_envs_and_bad_ones_are_one_line():
    env = envs.make("tests.user_envs:coin_flip")
    assert env.name == "tests.user_envs:coin_flip" and env.obs_size == 1
    with pytest.raises(JaxpgError, match="cannot import"):
        envs.make("tests.no_such_module:make")
    with pytest.raises(JaxpgError, match="has no nope"):
        envs.make("tests.user_envs:nope")


def _jaxpg(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "jaxpg", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)  # fmt: skip


def test_train_and_eval_a_user_env_factory_and_a_user_env_object(tmp_path):
    out = str(tmp_path / "coin")
    r = _jaxpg("train", "--env", "tests.user_envs:coin_flip", "--algo", "a2c", "--num-envs", "8",
               "--num-steps", "4", "--total-timesteps", "3200", "--eval-every", "0",
               "--quiet", "--out", out)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.load(open(os.path.join(out, "config.json")))["config"]["env"] == "tests.user_envs:coin_flip"
    r = _jaxpg("eval", out, "--episodes", "64")
    assert r.returncode == 0, r.stderr
    assert json.load(open(os.path.join(out, "eval.json")))["deterministic"]["mean"] > 0.9  # random: 0
    # A run of an env object records it; eval then asks for the factory in one line.
    cfg = json.load(open(os.path.join(out, "config.json")))
    cfg["env_object"] = "tests.user_envs.CoinFlip"
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"))
    r = _jaxpg("eval", out)
    assert r.returncode == 2 and "--env-factory" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _jaxpg("eval", out, "--episodes", "4", "--env-factory", "tests.user_envs:coin_flip")
    assert r.returncode == 0, r.stderr


def _installed(module):
    return importlib.util.find_spec(module) is not None


@pytest.mark.parametrize("name, message", [
    ("navix/Navix-Empty-5x5-v0", "navix 4.0.0 needs Python >= 3.12"),
    ("kinetix/s/h4_thrust_aim", "kinetix-env 3.0.2 pins jax<=0.9.0"),
])  # fmt: skip
def test_suites_that_cannot_install_here_say_why_in_one_line(name, message):
    module = name.split("/")[0]
    if _installed(module) or (module == "navix" and sys.version_info >= (3, 12)):
        pytest.skip(f"{module} can be installed here")
    with pytest.raises(JaxpgError, match=message) as e:
        envs.check_env_name(name)
    assert "\n" not in str(e.value)


def _kinetix_steps(actions, env):
    obs, state = env.reset(jax.random.PRNGKey(0))
    out = []
    for a in actions:
        obs, state, r, term, trunc, info = env.step(jax.random.PRNGKey(1), state, jnp.asarray(a))
        out.append((float(r), bool(term), bool(trunc), np.asarray(info["final_obs"]).tolist(),
                    np.asarray(obs).tolist()))  # fmt: skip
    return out


def test_kinetix_api_is_adapted_exactly_against_a_duck_typed_fake():
    # kinetix-env cannot be installed beside our jax: its API (read from the 3.0.2
    # source, and run once against the real package with jax2d 1.0.2 swapped in) is
    # modelled by tests.user_envs.KinetixLike.
    from jaxpg.envs.kinetix_env import KinetixEnv

    env = envs.adapt(user_envs.KinetixLike())
    assert isinstance(env, KinetixEnv) and env.action_space == envs.MultiDiscrete((3, 2))
    assert env.max_episode_steps == 5 and env.obs_size == 2
    # Three moves reach the goal: a termination, final_obs the pre-reset [3, 3].
    steps = _kinetix_steps([[1, 0]] * 3, env)
    assert [s[1:3] for s in steps] == [(False, False)] * 2 + [(True, False)]
    assert steps[-1][0] == 1.0 and steps[-1][3] == [3.0, 3.0] and steps[-1][4] == [0.0, 0.0]
    # Kinetix's own max_timesteps (5) folded into done: here a truncation instead.
    steps = _kinetix_steps([[0, 1]] * 5, env)
    assert [s[1:3] for s in steps] == [(False, False)] * 4 + [(False, True)]
    assert steps[-1][3] == [0.0, 5.0]
    env = envs.adapt((user_envs.KinetixLike(), user_envs.KinetixLikeParams(max_timesteps=2)))
    assert env.max_episode_steps == 2


def _navix_reason():
    if sys.version_info < (3, 12):
        return "navix 4.0.0 needs Python >= 3.12 (CI runs 3.11): tested where navix imports"
    return "navix extra not installed"


@pytest.mark.skipif(not _installed("navix"), reason=_navix_reason())
def test_navix_adapter_keeps_termination_apart_from_its_own_truncation():
    env = envs.make("navix/Navix-Empty-5x5-v0", episode_length=6)
    assert env.action_space == envs.Discrete(7)
    obs, state = env.reset(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    # From (1, 1) facing east: forward, forward, turn right, forward, forward = the goal.
    flags = []
    for a in (2, 2, 1, 2, 2):
        obs, state, r, term, trunc, info = step(jax.random.PRNGKey(1), state, jnp.int32(a))
        flags.append((bool(term), bool(trunc)))
    assert flags == [(False, False)] * 4 + [(True, False)] and float(r) > 0
    assert not np.array_equal(np.asarray(info["final_obs"]), np.asarray(obs))  # pre-reset view
    for i in range(6):  # turning in place: the env's own max_steps (6) is a truncation
        obs, state, r, term, trunc, info = step(jax.random.PRNGKey(2), state, jnp.int32(0))
    assert bool(trunc) and not bool(term) and int(state.inner.t) == 0


def _random_episodes(name, steps=64, num_envs=4):
    env = envs.make(name)
    _, state = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), num_envs))

    def step(state, k):
        a = jax.random.randint(k, (num_envs,), 0, env.action_space.n)
        out = step_batch(env, jax.random.split(k, num_envs), state, a)
        return out[1], (out[3], out[4], out[5]["final_obs"])

    _, (term, trunc, final) = jax.jit(lambda s: jax.lax.scan(step, s, jax.random.split(jax.random.PRNGKey(1), steps)))(state)
    final = final["obs"] if isinstance(final, dict) else final  # beside an action mask
    assert final.shape == (steps, num_envs, env.obs_size) and np.isfinite(np.asarray(final)).all()
    return env, np.asarray(term), np.asarray(trunc)


@pytest.mark.skipif(not _installed("jumanji"), reason="jumanji extra not installed")
def test_jumanji_snake_adapter():
    env, term, trunc = _random_episodes("jumanji/Snake-v1")
    assert env.action_space == envs.Discrete(4) and env.max_episode_steps == 4000
    assert term.any() and not trunc.any()  # random snakes die long before the time limit


@pytest.mark.skipif(not _installed("jumanji"), reason="jumanji extra not installed")
def test_jumanji_action_mask_reaches_the_policy():
    """Snake's action_mask comes beside the flat observation, and the policy built for
    the env acts only on allowed actions (the only allowed one, whatever the logits)."""
    ctx = make_context(TrainConfig(env="jumanji/Snake-v1", hidden_sizes=(8,)))
    example = jax.eval_shape(ctx.env.reset, jax.random.PRNGKey(0))[0]  # no env step compiles
    assert example["action_mask"].shape == (4,) and example["action_mask"].dtype == jnp.bool_
    assert example["obs"].shape == (ctx.env.obs_size,)
    obs = jax.tree.map(lambda x: jnp.zeros((8,) + x.shape, x.dtype), example)
    params = ctx.nets.init(jax.random.PRNGKey(1), jax.tree.map(lambda x: x[0], obs))
    only = jnp.zeros((8, 4), bool).at[jnp.arange(8), jnp.arange(8) % 4].set(True)
    act = policy_act(ctx, params, RunningStats.create(jax.tree.map(lambda x: x[0], obs)), deterministic=False)
    actions = jax.jit(act)(jax.random.PRNGKey(2), {**obs, "action_mask": only})
    np.testing.assert_array_equal(np.asarray(actions), np.arange(8) % 4)


@pytest.mark.skipif(not _installed("xminigrid"), reason="xminigrid extra not installed")
def test_xminigrid_adapter_reports_its_time_limit_as_truncation():
    env, term, trunc = _random_episodes("xminigrid/MiniGrid-Empty-5x5", steps=120, num_envs=8)
    assert env.action_space == envs.Discrete(6)
    assert trunc.any()  # 5x5's limit is 100 steps; a random walk rarely finds the goal
    assert not np.logical_and(term, trunc).any()


@pytest.mark.skipif(not _installed("craftax"), reason="craftax extra not installed")
def test_craftax_adapter_takes_over_the_time_limit_and_keeps_the_contract():
    from jaxpg.envs.adapters import check_contract
    from jaxpg.envs.suite_base import NO_LIMIT

    env = envs.make("craftax/Craftax-Classic-Symbolic-v1")
    assert env.obs_size == 1345 and env.action_space == envs.Discrete(17)
    assert env.reset_ratio == 16 and env.max_episode_steps == 10000  # Craftax's own limit
    assert env.env.raw_env is not None and env.env._params.max_timesteps == NO_LIMIT
    check_contract(env.env)  # traced abstractly: cheap, unlike compiling world generation


@pytest.mark.slow  # compiling Craftax's world generation takes minutes on a 2-core CPU
@pytest.mark.skipif(not _installed("craftax"), reason="craftax extra not installed")
def test_craftax_adapter_truncates_at_its_own_limit():
    env = envs.make("craftax/Craftax-Classic-Symbolic-v1", episode_length=3)
    obs, state = env.reset(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    flags = []
    for t in range(3):  # action 0 is NOOP: nobody dies in three steps
        obs, state, _, term, trunc, info = step(jax.random.PRNGKey(t), state, jnp.int32(0))
        flags.append((bool(term), bool(trunc)))
    assert flags == [(False, False), (False, False), (False, True)]
    assert int(state.inner.t) == 0 and not np.array_equal(np.asarray(info["final_obs"]), np.asarray(obs))
