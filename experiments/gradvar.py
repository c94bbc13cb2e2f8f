"""Empirical policy-gradient variance for the claim scripts (estimator comparison).

For a fixed policy ``pi_theta`` and critic ``V``, collect ``B`` independent env
segments of ``T`` steps, ``[T, B]``. For an advantage estimator ``A`` (returns,
GAE(lambda), ...) each env ``b`` gives one gradient sample

    g_b = grad_theta (1/T) sum_t log pi_theta(a_tb | s_tb) A_tb            (REINFORCE form)

and the batch estimate is ``g = mean_b g_b``. Its variance is
``tr Cov[g] = tr Cov[g_b] / B``: the sum over parameters of the per-parameter
variance (Greensmith, Bartlett & Baxter 2004 compare baselines by this quantity).
Estimators are compared on the *same* trajectories (paired), so their variance
ratio is not diluted by rollout noise.

Bias check: for two estimators whose expectations should agree (returns with and
without a state baseline), ``z = ||mean_b d_b||^2 / (tr Cov[d_b] / B)`` with
``d_b = g_b^(1) - g_b^(2)`` has expectation 1 when the means agree and grows
with ``B`` when they do not.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxpg import advantages as adv_lib
from jaxpg.algos.collect import collect
from jaxpg.algos.state import init_state


def collect_segments(ctx, params, obs_stats, key, num_envs: int, num_steps: int, warmup: int = 0):
    """``[T, B]`` trajectory of ``params``'s policy from fresh envs (after ``warmup`` steps)."""
    cfg = ctx.config.replace(num_envs=num_envs, num_steps=num_steps)
    ctx2 = type(ctx)(cfg, ctx.env, ctx.nets)
    k_init, k_warm, k_roll = jax.random.split(key, 3)
    state = init_state(ctx2, k_init, lambda p: None).replace(params=params, obs_stats=obs_stats)
    if warmup:
        # burn in so segments start mid-episode, as in training
        ctxw = type(ctx)(cfg.replace(num_steps=warmup), ctx.env, ctx.nets)
        _, state = collect(ctxw, state, k_warm)
    traj, _ = collect(ctx2, state, k_roll)
    return traj


def per_env_grads(ctx, params, traj, advantage: jax.Array) -> jax.Array:
    """``[B, D]``: one flattened actor-gradient sample per env segment."""
    flat, unravel = ravel_pytree(params.actor)

    def surrogate(theta, obs, action, adv):  # obs [T, obs], one env
        p = params._replace(actor=unravel(theta))
        logp = ctx.nets.policy(p, obs).log_prob(action)
        return jnp.mean(logp * jax.lax.stop_gradient(adv))

    g = jax.vmap(jax.grad(surrogate), in_axes=(None, 1, 1, 1))
    return g(flat, traj.obs, traj.action, advantage)


def trace_var(g: jax.Array) -> jax.Array:
    """``tr Cov[mean_b g_b] = sum_d Var_b[g_bd] / B`` from samples ``g [B, D]``."""
    return jnp.sum(jnp.var(g, axis=0, ddof=1)) / g.shape[0]


def bias_z(g1: jax.Array, g2: jax.Array) -> jax.Array:
    """``||mean(g1 - g2)||^2 / tr Cov[mean(g1 - g2)]`` (about 1 when the means agree)."""
    d = g1 - g2
    return jnp.sum(jnp.mean(d, 0) ** 2) / trace_var(d)


def fit_critic(ctx, params, obs_stats, key, gamma: float, reward_scale: float = 1.0,
               num_envs: int = 64, num_steps: int = 256, rounds: int = 4, iters: int = 150, lr: float = 1e-3):
    """Regress the critic on the current policy's returns (a well-fitted baseline).

    ``rounds`` times: targets ``G^{lambda=1}_t`` (bootstrapped at segment ends by the
    current critic) on a fresh batch, then ``iters`` full-batch Adam steps on
    ``(V(s_t) - G_t)^2``. A baseline is only as good as its fit; trainers' critics
    lag a moving policy, so the claim is measured with a fitted one.
    """
    import optax

    opt = optax.adam(lr)

    def one_round(carry, k):
        critic, opt_state = carry
        p = params._replace(critic=critic)
        traj = collect_segments(ctx, p, obs_stats, k, num_envs, num_steps, warmup=num_steps)
        v = ctx.nets.value(p, traj.obs)
        nv = ctx.nets.value(p, traj.next_obs)
        target = v + adv_lib.gae(traj.reward * reward_scale, v, nv, traj.terminated, traj.truncated, gamma, 1.0)

        def step(c, _):
            critic, opt_state = c
            loss = lambda cr: jnp.mean((ctx.nets.critic.apply(cr, traj.obs) - target) ** 2)
            g = jax.grad(loss)(critic)
            upd, opt_state = opt.update(g, opt_state, critic)
            return (optax.apply_updates(critic, upd), opt_state), None

        (critic, opt_state), _ = jax.lax.scan(step, (critic, opt_state), None, length=iters)
        return (critic, opt_state), None

    critic = params.critic
    (critic, _), _ = jax.lax.scan(one_round, (critic, opt.init(critic)), jax.random.split(key, rounds))
    return params._replace(critic=critic)


def estimators(ctx, params, traj, gamma: float, lambdas=(), reward_scale: float = 1.0) -> dict[str, jax.Array]:
    """Advantage arrays ``[T, B]`` by name: ``return`` (bootstrapped Monte Carlo, no
    baseline), ``return-V`` (same minus the critic), and ``gae<lambda>`` for each lambda."""
    v = ctx.nets.value(params, traj.obs)
    nv = ctx.nets.value(params, traj.next_obs)
    out = {}
    r = traj.reward * reward_scale  # the critic was fitted to scaled rewards
    mc_adv = adv_lib.gae(r, v, nv, traj.terminated, traj.truncated, gamma, 1.0)
    out["return"] = mc_adv + v
    out["return-V"] = mc_adv
    for lam in lambdas:
        out[f"gae{lam:g}"] = adv_lib.gae(r, v, nv, traj.terminated, traj.truncated, gamma, lam)
    return out


def measure(ctx, params, obs_stats, key, num_envs, num_steps, gamma, lambdas=(), warmup=0,
            reward_scale: float = 1.0, fit: bool = True):
    """Fit the critic (unless ``fit`` is False), then ``{estimator: tr Cov}``, the per-env gradient samples' bias z of return vs return-V."""
    k_fit, k_meas = jax.random.split(key)
    if fit:
        params = fit_critic(ctx, params, obs_stats, k_fit, gamma, reward_scale, num_envs, num_steps)
    traj = collect_segments(ctx, params, obs_stats, k_meas, num_envs, num_steps, warmup)
    advs = estimators(ctx, params, traj, gamma, lambdas, reward_scale)
    grads = {k: per_env_grads(ctx, params, traj, a) for k, a in advs.items()}
    var = {k: trace_var(g) for k, g in grads.items()}
    mean_norm = {k: jnp.linalg.norm(g.mean(0)) for k, g in grads.items()}
    z = bias_z(grads["return"], grads["return-V"])
    cos = jnp.dot(grads["return"].mean(0), grads["return-V"].mean(0)) / (
        mean_norm["return"] * mean_norm["return-V"] + 1e-12
    )
    v = ctx.nets.value(params, traj.obs)
    ev = adv_lib.explained_variance(v, advs["return"])
    return {"var": var, "mean_norm": mean_norm, "bias_z": z, "cos": cos, "explained_variance": ev,
            "episode_fraction_done": traj.done.mean(), "terminated_fraction": traj.terminated.mean()}
