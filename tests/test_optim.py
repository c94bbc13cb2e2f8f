"""jaxpg.optim: the actor-critic step is each network's own clip+Adam step (as an
optax.partition over both would be), and
the learning-rate schedule follows the update counter."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxpg import optim
from jaxpg.config import HParams
from jaxpg.networks import ActorCritic


def test_joint_step_is_each_networks_own_step_with_its_own_clipping():
    hp = HParams(lr=1e-2, critic_lr=3e-2, max_grad_norm=0.5)
    params = ActorCritic({"w": jnp.ones((3,))}, {"w": jnp.zeros((2, 2)), "b": jnp.ones((2,))})
    # The actor's gradient norm is far above the clip, the critic's below it: a
    # clip over both trees together would shrink the critic's step too.
    grads = ActorCritic(
        {"w": jnp.array([100.0, -50.0, 3.0])}, {"w": 1e-4 * jnp.ones((2, 2)), "b": jnp.array([1e-4, -2e-4])}
    )
    opts = optim.actor_critic(hp, lr_factor=0.5)
    joint = optax.partition(opts._asdict(), ActorCritic("actor", "critic"))  # one transformation
    p_joint, s_joint = params, joint.init(params)
    p_each, s_each = params, optim.init(opts, params)
    for _ in range(3):
        p_joint, s_joint = optim.step(joint, s_joint, p_joint, grads)
        p_each, s_each = optim.step_each(opts, s_each, p_each, grads)
    assert isinstance(s_each, ActorCritic)  # one optax state per network
    for got, want in zip(jax.tree.leaves(p_each), jax.tree.leaves(p_joint)):
        np.testing.assert_array_equal(got, want)
    # ...and that differs from clipping both together (Adam's eps makes the scale visible).
    both = optim.adam(hp.critic_lr * 0.5, hp.max_grad_norm)
    p_both, _ = optim.step(both, both.init(params), params, grads)
    assert not np.allclose(p_both.critic["b"], optim.step(opts.critic, opts.critic.init(params.critic), params.critic, grads.critic)[0]["b"], rtol=0, atol=1e-6)


def test_lr_factor_decays_linearly_over_the_planned_updates():
    f = jax.jit(lambda u: optim.lr_factor(True, 8, u))
    np.testing.assert_allclose([float(f(u)) for u in (0, 2, 8)], [1.0, 0.75, 0.0])
    assert optim.lr_factor(False, 8, jnp.int32(5)) == 1.0
