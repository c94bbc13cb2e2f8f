"""Claim 11: Monte Carlo gradient estimates can have 10^4 times the variance of bootstrapped
ones in sparse-reward tasks with episodes over 1000 steps.

MountainCar-v0 (gymnax dynamics) with a 1500-step time limit: reward -1 per step until
the car reaches the flag, so reaching it -- the only informative event -- ends the
stream of -1s early and makes the rare short-episode return "spikes". The policy is a
linear softmax over the features ``phi(s) = [v / v_max, (x + 0.3) / 0.9, 1]``,

    pi(a | s) = softmax(W phi(s)),   W = k [[-1, 0, 0], [0, 0, 0], [1, 0, 0]],

the energy-pumping controller (push in the direction of the velocity) softened by the
gain ``k``; ``k`` is chosen from a grid as the one whose measured success rate (flag
reached within 1500 steps) is closest to 30%, so the policy succeeds sometimes.

Per seed: a critic ``V(x, v, time left)`` (8 x 8 Gaussian RBFs in (x, v), time-left
features, bias) is fitted by ridge regression to the Monte Carlo returns of one batch
of episodes; on a fresh batch of ``B`` whole episodes, each episode gives a gradient
sample ``g_b = sum_t A_t grad_W log pi(a_t | s_t)`` (exact: ``(e_a - pi) phi^T``) for
four advantages on the same trajectories: the Monte Carlo reward-to-go ``G_t`` (no
bootstrap), ``G_t - V(s_t)``, the one-step TD error ``r_t + gamma V(s_{t+1}) - V(s_t)``
(TD(0), bootstrapped) and GAE(0.95). ``tr Cov`` of the batch mean
``sum_d Var_b[g_bd] / B``; the ratio per seed, a 95% t interval of its log10 over seeds;
gamma = 1 (the undiscounted episode return, where the 1500-step length matters) and
gamma = 0.99 (the usual discount, an effective horizon of 100 steps).
"""

from __future__ import annotations

import time

import claims
import common
import gymnax
import jax
import jax.numpy as jnp
import numpy as np

NAME = "claim11_mc_variance"
CLAIM = ("Monte Carlo estimates can exhibit variance 10^4 times higher than bootstrapped value "
         "estimates in sparse reward environments when episode lengths exceed 1000 steps.")
SOURCE = "article, 'Variance Explosion' box"
HORIZON = 1500
GAINS = (0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 1.0)
TARGET_SUCCESS = 0.3
GAMMAS = (1.0, 0.99)
ESTIMATORS = ("G", "G - V", "TD(0)", "GAE(0.95)")

ENV, ENV_PARAMS = gymnax.make("MountainCar-v0")
ENV_PARAMS = ENV_PARAMS.replace(max_steps_in_episode=HORIZON)
PUMP = jnp.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])


def policy_features(obs: jax.Array) -> jax.Array:
    """``[..., 3]``: scaled velocity, scaled position, bias."""
    x, v = obs[..., 0], obs[..., 1]
    return jnp.stack([v / ENV_PARAMS.max_speed, (x + 0.3) / 0.9, jnp.ones_like(x)], -1)


def episodes(w: jax.Array, key: jax.Array, num: int) -> dict:
    """``num`` whole episodes of ``softmax(w phi)``, ``[T, B]`` arrays; steps after the
    flag is reached are masked out (``alive`` 0), the state frozen there."""
    k_reset, k_run = jax.random.split(key)
    obs, state = jax.vmap(ENV.reset_env, (0, None))(jax.random.split(k_reset, num), ENV_PARAMS)

    def step(carry, k):
        obs, state, alive = carry
        phi = policy_features(obs)
        a = jax.random.categorical(k, phi @ w.T)
        nobs, nstate, _, done, _ = jax.vmap(ENV.step_env, (0, 0, 0, None))(
            jax.random.split(k, num), state, a, ENV_PARAMS)
        term = alive * done.astype(jnp.float32)
        keep = lambda new, old: jnp.where(alive[:, None] > 0, new, old)
        out = {"obs": obs, "next_obs": nobs, "action": a, "alive": alive, "terminated": term}
        nstate = jax.tree.map(lambda n, o: jnp.where(alive > 0, n, o), nstate, state)
        return (keep(nobs, obs), nstate, alive * (1.0 - done)), out

    _, traj = jax.lax.scan(step, (obs, state, jnp.ones(num)), jax.random.split(k_run, HORIZON))
    return traj


def reward_to_go(traj: dict, gamma: float) -> jax.Array:
    """Monte Carlo ``G_t = sum_{k >= t} gamma^(k-t) r_k`` (r = -1 while alive), no bootstrap."""
    def back(g, x):
        g = -x + gamma * g
        return g, g

    return jax.lax.scan(back, jnp.zeros(traj["alive"].shape[1]), traj["alive"], reverse=True)[1] * traj["alive"]


def critic_features(obs: jax.Array, t: jax.Array) -> jax.Array:
    """``[..., 64 + 4 + 1]``: Gaussian RBFs on an 8 x 8 (x, v) grid, time-left features, bias."""
    cx = jnp.linspace(-1.2, 0.6, 8)
    cv = jnp.linspace(-0.07, 0.07, 8)
    x, v = obs[..., 0:1], obs[..., 1:2]
    rx = jnp.exp(-(((x - cx) / 0.25) ** 2))
    rv = jnp.exp(-(((v - cv) / 0.02) ** 2))
    rbf = (rx[..., :, None] * rv[..., None, :]).reshape(*x.shape[:-1], 64)
    left = (HORIZON - t)[..., None].astype(jnp.float32)
    time_f = jnp.concatenate([jnp.exp(-left / s) for s in (30.0, 100.0, 300.0)] + [left / HORIZON], -1)
    return jnp.concatenate([rbf, time_f, jnp.ones_like(x)], -1)


def fit_critic(traj: dict, gamma: float, ridge: float = 1e-3) -> np.ndarray:
    """Ridge regression of ``G_t`` on the critic features of alive steps (host numpy)."""
    t = jnp.broadcast_to(jnp.arange(HORIZON)[:, None], traj["alive"].shape)
    x = np.asarray(critic_features(traj["obs"], t))
    x = x.reshape(-1, x.shape[-1])
    y = np.asarray(reward_to_go(traj, gamma)).reshape(-1)
    keep = np.asarray(traj["alive"]).reshape(-1) > 0
    x, y = x[keep], y[keep]
    return np.linalg.solve(x.T @ x + ridge * len(y) * np.eye(x.shape[1]), x.T @ y)


def advantages(traj: dict, theta: jax.Array, gamma: float) -> dict:
    """The four advantage arrays ``[T, B]`` on the same episodes."""
    t = jnp.broadcast_to(jnp.arange(HORIZON)[:, None], traj["alive"].shape)
    v = critic_features(traj["obs"], t) @ theta
    nv = critic_features(traj["next_obs"], t + 1) @ theta
    alive, term = traj["alive"], traj["terminated"]
    # At the 1500-step cut (t = T-1, not terminated) TD bootstraps from V(s_T): a time-limit
    # cut is not a termination; V's time-left features make V(s_T) ~ 0 there anyway.
    delta = (-1.0 + gamma * (1.0 - term) * nv - v) * alive

    def back(a, x):
        d, m = x
        a = d + gamma * 0.95 * a * m
        return a, a

    gae = jax.lax.scan(back, jnp.zeros(alive.shape[1]), (delta, alive), reverse=True)[1]
    g = reward_to_go(traj, gamma)
    return {"G": g, "G - V": (g - v) * alive, "TD(0)": delta, "GAE(0.95)": gae * alive}


def trace_var(traj: dict, w: jax.Array, adv: jax.Array) -> jax.Array:
    """``tr Cov`` of the batch-mean gradient from per-episode samples ``[B, 3, 3]``."""
    phi = policy_features(traj["obs"])
    pi = jax.nn.softmax(phi @ w.T)
    score = jax.nn.one_hot(traj["action"], 3) - pi  # grad of log pi w.r.t. the logits
    g = jnp.einsum("tb,tba,tbf->baf", adv * traj["alive"], score, phi).reshape(adv.shape[1], -1)
    return jnp.sum(jnp.var(g, axis=0, ddof=1)) / g.shape[0]


def calibrate(seed: int, num: int) -> dict:
    """Success rate (flag reached within the limit) of each gain in :data:`GAINS`."""
    run = jax.jit(jax.vmap(lambda k, key: episodes(k * PUMP, key, num)["terminated"].sum(0).mean()))
    keys = jax.random.split(jax.random.PRNGKey(seed), len(GAINS))
    return dict(zip(GAINS, map(float, run(jnp.asarray(GAINS), keys))))


def measure(w: jax.Array, seeds, num: int) -> dict:
    """Per seed and gamma: trace variances of the four estimators and the success rate."""
    roll = jax.jit(jax.vmap(lambda key: episodes(w, key, num)))
    fit_keys = jnp.stack([jax.random.PRNGKey(10_000 + s) for s in seeds])
    keys = jnp.stack([jax.random.PRNGKey(20_000 + s) for s in seeds])
    fit_traj, traj = roll(fit_keys), roll(keys)
    tv = jax.jit(lambda tr, th, gamma: {k: trace_var(tr, w, a) for k, a in advantages(tr, th, gamma).items()},
                 static_argnums=2)
    out = {g: {k: [] for k in ESTIMATORS} for g in GAMMAS}
    for i in range(len(seeds)):
        one = jax.tree.map(lambda x, i=i: x[i], traj)
        fit_one = jax.tree.map(lambda x, i=i: x[i], fit_traj)
        for gamma in GAMMAS:
            theta = jnp.asarray(fit_critic(fit_one, gamma), jnp.float32)
            for k, v in tv(one, theta, gamma).items():
                out[gamma][k].append(float(v))
    success = np.asarray(traj["terminated"].sum(1))  # [S, B]
    length = np.asarray(traj["alive"].sum(1))
    return {"var": out, "success_per_seed": success.mean(1).tolist(),
            "mean_length": float(length.mean()),
            "length_success": float(length[success > 0].mean()) if success.any() else None}


def verdict_for(log10_ratio: dict, success: float) -> str:
    """``log10_ratio``: per gamma (mean, low, high) of log10 Var[G]/Var[TD(0)]; ``success``:
    the policy's success rate. agrees if for every gamma the interval contains 4 or lies
    above it and the policy succeeds in 10-50% of episodes; partly if that holds for one
    gamma or some mean ratio is at least 100; disagrees otherwise."""
    reach = [r[1] <= 4 <= r[2] or r[0] >= 4 for r in log10_ratio.values()]
    if all(reach) and 0.1 <= success <= 0.5:
        return claims.AGREES
    big = [r[0] >= 2 for r in log10_ratio.values()]
    return claims.PARTLY if any(reach) or any(big) else claims.DISAGREES

SPEC = claims.Spec(
    name=NAME, claim=CLAIM, source=SOURCE,
    quantity='log10 of Var[G] / Var[TD(0)] of the policy gradient on MountainCar at gamma 1 and 0.99',
    unit='log10 ratio of tr Cov', claimed=(4.0, 4.0),
    comparison='same batches per seed, t interval over seeds',
    rule=claims.rule_of(verdict_for))


def main():
    args = common.parse_args(__doc__)
    seeds = list(range(args.seeds or common.pick(args, 5, 10)))
    num = common.pick(args, 256, 1024)
    t0 = time.perf_counter()
    rates = calibrate(99, num)
    in_range = {k: r for k, r in rates.items() if 0.1 <= r <= 0.5}
    gain = min(in_range or rates, key=lambda k: abs(rates[k] - TARGET_SUCCESS))
    m = measure(gain * PUMP, seeds, num)
    success = float(np.mean(m["success_per_seed"]))
    ratio = {g: {f"G / {b}": np.asarray(m["var"][g]["G"]) / np.asarray(m["var"][g][b]) for b in ("TD(0)", "GAE(0.95)")}
             | {"(G - V) / TD(0)": np.asarray(m["var"][g]["G - V"]) / np.asarray(m["var"][g]["TD(0)"])}
             for g in GAMMAS}
    ci = {g: {k: tuple(map(float, common.mean_ci(np.log10(v)))) for k, v in r.items()} for g, r in ratio.items()}
    verdict = verdict_for({g: ci[g]["G / TD(0)"] for g in GAMMAS}, success)
    fig = common.figure_path(args, NAME)
    labels = [f"{k}, g={g:g}" for g in GAMMAS for k in ESTIMATORS]
    vci = [common.mean_ci(np.asarray(m["var"][g][k])) for g in GAMMAS for k in ESTIMATORS]
    common.bar_chart(fig, labels, [c[0] for c in vci], [c[1] for c in vci], [c[2] for c in vci],
                     f"MountainCar, {HORIZON}-step limit, energy-pumping softmax k={gain:g} "
                     f"(success {100 * success:.0f}%): gradient variance", "tr Cov", log=True)
    text = (f"gamma 1: Var[G]/Var[TD(0)] = 10^{ci[1.0]['G / TD(0)'][0]:.2f} "
            f"[10^{ci[1.0]['G / TD(0)'][1]:.2f}, 10^{ci[1.0]['G / TD(0)'][2]:.2f}]; "
            + "; ".join(f"gamma {g:g}: " + ", ".join(f"Var[{k}] 10^{c[0]:.2f} [10^{c[1]:.2f}, 10^{c[2]:.2f}]"
                                                      for k, c in ci[g].items()) for g in GAMMAS)
            + f"; policy: energy-pumping softmax gain k = {gain:g}, flag reached in {100 * success:.1f}% "
            f"of {HORIZON}-step episodes (mean length {m['mean_length']:.0f} steps, "
            f"{m['length_success'] or float('nan'):.0f} when it succeeds); batch {num} episodes")
    common.write_result(args, NAME, spec=SPEC, result={
        "claim": CLAIM, "source": SOURCE, "method": __doc__.strip(),
        "settings": {"horizon": HORIZON, "episodes_per_batch": num, "gain": gain, "gains": GAINS,
                     "gammas": GAMMAS, "gae_lambda": 0.95, "target_success": TARGET_SUCCESS},
        "seeds": seeds, "success_rate_by_gain": {f"{k:g}": v for k, v in rates.items()},
        "success_rate": success, "success_per_seed": m["success_per_seed"],
        "mean_episode_length": m["mean_length"], "variance": {f"{g:g}": v for g, v in m["var"].items()},
        "log10_ratio": {f"{g:g}": v for g, v in ci.items()}, "measured_text": text, "verdict": verdict,
        "verdict_reason": "agrees if, for gamma 1 and 0.99, the 95% interval of log10 Var[G]/Var[TD(0)] "
                          "contains 4 or lies above it and the policy succeeds in 10-50% of episodes; "
                          "partly if that holds for one gamma or the ratio is at least 100",
        "figure": common.rel_figure(fig), "seconds": time.perf_counter() - t0,
    })


if __name__ == "__main__":
    main()
