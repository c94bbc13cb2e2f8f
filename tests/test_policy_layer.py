"""Encoders, recurrent cores and the policy probes (jaxpg.nn, jaxpg.networks, policy_probes)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpg import envs
from jaxpg.envs.core import Discrete, MultiDiscrete
from jaxpg.envs.policy_probes import TRAP_PENALTY, MaskedTrapInfo
from jaxpg.errors import JaxpgError
from jaxpg.linalg import orthogonal
from jaxpg.networks import Torso, make_networks
from jaxpg.nn import CNN, RecurrentCore, initial_carry


class _ConvReference(nn.Module):
    """The CNN written with flax's nn.Conv layers (3x3 stride 1, then 2x2 stride 2)."""

    @nn.compact
    def __call__(self, x):
        for ch, k, s in ((5, 3, 1), (6, 2, 2)):
            conv = nn.Conv(ch, (k, k), (s, s), padding="VALID", kernel_init=orthogonal(np.sqrt(2)))
            x = nn.relu(conv(x))
        return x.reshape((x.shape[0], -1))


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_cnn_default_is_the_minatar_network_shape():
    x = jnp.zeros((2, 10, 10, 4))
    params = CNN().init(jax.random.PRNGKey(0), x)
    assert params["params"]["Conv_0"]["kernel"].shape == (3, 3, 4, 16)
    assert CNN().apply(params, x).shape == (2, 8 * 8 * 16)  # VALID 3x3 stride 1
    strided = CNN((8, 4), (3, 2), (2, 1))
    assert strided.apply(strided.init(jax.random.PRNGKey(0), x), x).shape == (2, 3 * 3 * 4)
    # the initial values of nn.Conv layers: a seed starts where it did with nn.Conv
    init = jax.jit(lambda k: (CNN((5, 6), (3, 2), (1, 2)).init(k, x), _ConvReference().init(k, x)))
    assert jax.tree.all(jax.tree.map(np.array_equal, *jax.device_get(init(jax.random.PRNGKey(3)))))


def test_cnn_patch_convolutions_are_flax_convs():
    """The CNN's PatchConv layers (patches @ kernel) have nn.Conv's parameter names and
    shapes and compute its function (a stride-1 and a stride-2 layer; equal functions of
    the same parameters, so the same gradients). Equal initial values: the slow test
    above (an initialisation takes seconds to compile)."""
    ours, ref, key = CNN((5, 6), (3, 2), (1, 2)), _ConvReference(), jax.random.PRNGKey(1)
    x = np.random.default_rng(0).normal(size=(3, 9, 9, 4)).astype(np.float32)
    shapes = jax.eval_shape(ref.init, key, x)
    assert jax.eval_shape(ours.init, key, x) == shapes
    rng = np.random.default_rng(1)  # every parameter random, the biases too
    p = jax.tree.map(lambda s: rng.normal(size=s.shape).astype(np.float32), shapes)
    y, y_ref = jax.device_get(jax.jit(lambda p, x: (ours.apply(p, x), ref.apply(p, x)))(p, x))
    assert y.shape == (3, 3 * 3 * 6) and np.abs(y_ref).max() > 0.1
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_cnn_networks_keep_image_shape_and_fold_leading_axes():
    obs = {"image": jnp.zeros((10, 10, 4)), "vec": jnp.zeros((3,)), "action_mask": jnp.ones((5,), bool)}
    nets = make_networks(Discrete(5), (32,), torso=Torso(encoder="cnn"), obs_example=obs)
    params = nets.init(jax.random.PRNGKey(0), obs)
    rng = np.random.default_rng(0)
    batch = {"image": jnp.asarray(rng.random((3, 2, 10, 10, 4)), jnp.float32),
             "vec": jnp.asarray(rng.random((3, 2, 3)), jnp.float32),
             "action_mask": jnp.asarray(rng.random((3, 2, 5)) < 0.5).at[..., 0].set(True)}
    policy = jax.jit(nets.policy)
    dist = policy(params, batch)
    assert dist.logits.shape == (3, 2, 5)
    assert bool(jnp.all(jnp.where(batch["action_mask"], True, dist.log_probs_all < -1e8)))
    assert jax.jit(nets.value)(params, batch).shape == (3, 2)
    # the same numbers one observation at a time: the folding does not mix rows
    one = jax.tree.map(lambda x: x[1, 1], batch)
    np.testing.assert_allclose(policy(params, one).logits, dist.logits[1, 1], rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_multi_discrete_head():
    nets = make_networks(MultiDiscrete((3, 2)), (16,), obs_example=jnp.zeros((4,)))
    params = nets.init(jax.random.PRNGKey(0), jnp.zeros((4,)))
    dist = jax.jit(nets.policy)(params, jnp.zeros((7, 4)))
    a = jax.jit(dist.sample)(jax.random.PRNGKey(1))
    assert a.shape == (7, 2) and bool(jnp.all(a[:, 1] < 2))
    assert dist.log_prob(a).shape == (7,)
    np.testing.assert_allclose(dist.entropy(), np.log(3) + np.log(2), rtol=1e-2)  # near-uniform init


@pytest.mark.slow  # default-suite time budget; run with -m slow
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_recurrent_core_resets_where_an_episode_starts(cell):
    core = RecurrentCore(cell, 8)
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 5))
    zero = initial_carry(cell, 8, (3,))
    params = core.init(jax.random.PRNGKey(1), zero, x, jnp.zeros((3,), bool))
    busy = jax.tree.map(lambda c: c + 1.0, zero)
    first = jnp.array([True, False, True])
    apply = jax.jit(core.apply)
    c_reset, y_reset = apply(params, busy, x, first)
    _, y_zero = apply(params, zero, x, jnp.zeros((3,), bool))
    _, y_busy = apply(params, busy, x, jnp.zeros((3,), bool))
    np.testing.assert_allclose(y_reset[first], y_zero[first], atol=1e-6)
    np.testing.assert_allclose(y_reset[~first], y_busy[~first], atol=1e-6)
    assert not np.allclose(y_zero[1], y_busy[1])


@pytest.mark.slow  # default-suite time budget; run with -m slow
@pytest.mark.parametrize("cell", ["gru", pytest.param("lstm", marks=pytest.mark.slow)])
def test_recurrent_sequence_equals_step_by_step(cell):
    obs = jnp.zeros((2,))
    nets = make_networks(Discrete(2), (16,), torso=Torso(recurrent=cell, rnn_size=8), obs_example=obs)
    params = nets.init(jax.random.PRNGKey(0), obs)
    T, B = 6, 3
    xs = jax.random.normal(jax.random.PRNGKey(1), (T, B, 2))
    first = jnp.asarray(np.random.default_rng(0).random((T, B)) < 0.3)
    carry0 = jax.tree.map(lambda c: c + 0.5, nets.initial_carry((B,)))
    _, dists = jax.jit(nets.policy_seq)(params.actor, carry0.actor, xs, first)
    _, values = jax.jit(nets.value_seq)(params.critic, carry0.critic, xs, first)
    c_a, c_c = carry0
    policy_step, value_step = jax.jit(nets.policy_step), jax.jit(nets.value_step)
    for t in range(T):
        c_a, d = policy_step(params.actor, c_a, xs[t], first[t])
        c_c, v = value_step(params.critic, c_c, xs[t], first[t])
        np.testing.assert_allclose(d.logits, dists.logits[t], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(v, values[t], rtol=1e-5, atol=1e-6)


def test_tmaze_needs_memory():
    env = envs.make("Probe-TMaze-v0")
    step = jax.jit(env.step)
    for seed, remember in [(0, True), (1, True), (2, False)]:
        obs, s = env.reset(jax.random.PRNGKey(seed))
        cue = float(obs[0])
        assert cue in (-1.0, 1.0)
        total = 0.0
        for t in range(env.env.corridor + 1):
            junction = float(obs[1]) == 1.0
            assert junction == (t == env.env.corridor)
            assert t == 0 or float(obs[0]) == 0.0  # the cue is gone after step 0
            a = int(cue > 0) if remember else 1
            obs, s, r, term, trunc, info = step(jax.random.PRNGKey(100 + t), s, a)
            total += float(r)
        assert bool(term) and bool(info["episode_done"])
        assert total == (1.0 if remember else (1.0 if cue > 0 else -1.0))


def test_masked_trap_and_no_velocity_cartpole():
    env = envs.make("Probe-MaskedTrap-v0")
    obs, s = env.reset(jax.random.PRNGKey(0))
    trap = int(jnp.argmax(obs["obs"]))
    assert not bool(obs["action_mask"][trap]) and int(obs["action_mask"].sum()) == 2
    out = env.step(jax.random.PRNGKey(1), s, trap)
    assert float(out[2]) == TRAP_PENALTY and bool(out[3])
    out = env.step(jax.random.PRNGKey(1), s, (trap + 1) % 3)
    assert float(out[2]) == 1.0 and not bool(out[3])
    cp = envs.make("CartPole-NoVelocity-v1")
    obs, s = cp.reset(jax.random.PRNGKey(0))
    full = envs.make("CartPole-v1").reset(jax.random.PRNGKey(0))[0]
    assert obs.shape == (2,) and cp.obs_size == 2
    np.testing.assert_allclose(obs, full[jnp.array([0, 2])])


def play_masked_trap(env, steps: int = 4):
    """Observations, rewards and final_obs of ``steps`` steps from reset: the allowed action,
    except the trap at step 1 (terminated: the env auto-resets)."""

    def step(carry, t):
        o, s = carry
        k = jax.random.fold_in(jax.random.PRNGKey(1), t)
        trap = jnp.argmax(o["obs"])
        a = jnp.where(t == 1, trap, jnp.argmax(o["action_mask"]))
        o2, s, r, term, _, info = env.step(k, s, a)
        return (o2, s), (o, r, term, info["final_obs"]["obs"])

    start = env.reset(jax.random.PRNGKey(0))
    return jax.lax.scan(step, start, jnp.arange(steps))[1]


def test_action_mask_from_info_becomes_the_observation_leaf():
    """An env that reports its masks in info (reset's third value, step's info) looks to the
    policy exactly like one with the mask in its observation: the same observations step for
    step (an auto-reset included). (A user's env object takes the same path: the slow
    training test in test_policy_training.)"""
    ref = play_masked_trap(envs.make("Probe-MaskedTrap-v0"))
    assert bool(ref[2][1]) and not bool(ref[2][0])  # the trap ended the episode
    info = play_masked_trap(envs.make("Probe-MaskedTrapInfo-v0"))
    assert info[0]["action_mask"].shape == (4, 3)
    jax.tree.map(np.testing.assert_array_equal, info, ref)


class MaskInStepInfoOnly(MaskedTrapInfo):
    def reset(self, key):
        return super().reset(key)[:2]  # the mask only in step's info


def test_a_step_info_mask_without_a_reset_mask_is_one_line_error():
    with pytest.raises(JaxpgError, match="reset gives none") as e:
        envs.wrap_user_env(MaskInStepInfoOnly())
    assert "\n" not in str(e.value)


def test_gymnax_image_keeps_its_shape_for_the_cnn():
    env = envs.make("Breakout-MinAtar", keep_obs_shape=True)
    obs, s = env.reset(jax.random.PRNGKey(0))
    assert obs.shape == (10, 10, 4) and obs.dtype == jnp.float32
    out = env.step(jax.random.PRNGKey(1), s, 0)
    assert out[0].shape == out[5]["final_obs"].shape == (10, 10, 4)
    assert envs.make("Breakout-MinAtar").reset(jax.random.PRNGKey(0))[0].shape == (400,)


@pytest.mark.slow  # default-suite time budget; run with -m slow
def test_user_encoder_for_a_dict_observation():
    import flax.linen as nn

    class Enc(nn.Module):
        @nn.compact
        def __call__(self, obs):
            return jnp.concatenate([nn.Dense(4)(obs["a"]), obs["b"]], -1)

    ex = {"a": jnp.zeros((3,)), "b": jnp.zeros((2,)), "action_mask": jnp.array([True, False])}
    nets = make_networks(Discrete(2), (8,), torso=Torso(user_encoder=Enc()), obs_example=ex)
    params = nets.init(jax.random.PRNGKey(0), ex)
    assert params.actor["params"]["_Features_0"]["user_encoder"]["Dense_0"]["kernel"].shape == (3, 4)
    batch = jax.tree.map(lambda x: jnp.stack([x] * 5), ex)
    dist = jax.jit(nets.policy)(params, batch)
    assert dist.logits.shape == (5, 2) and bool(jnp.all(dist.mode() == 0))  # action 1 is masked


def test_policy_vocabularies_match_their_modules():
    from jaxpg import config, nn

    assert set(config.ENCODERS) == set(nn.ENCODERS)
    assert set(config.RECURRENT) - {"none"} == set(nn.CELLS)
