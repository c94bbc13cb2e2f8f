"""Claim 3: Monte Carlo gradient variance grows with the horizon (as its square, undiscounted),
and sparse rewards make it spiky (MountainCar-v0: most returns identical, rare large ones).

Horizon: Pendulum-v1 with the time limit set to H in {25, 50, 100, 200, 400}; the
initial (untrained) Gaussian policy of each seed plays B whole episodes; the
per-episode REINFORCE gradient ``g_b = sum_t grad log pi(a_t|s_t) G_t`` with the
undiscounted reward-to-go ``G_t`` (no baseline, no bootstrap). Measured: the
exponent ``k`` of ``trCov[g] ~ H^k`` (least squares on log-log, per seed; mean, 95% t CI).

Sparse: MountainCar-v0 (reward -1 per step until the flag) with the time limit at
1000, the initial near-uniform policy, B episodes per seed (first episode of each
env). Measured: the fraction of episodes with the identical, worst return -1000,
and the per-episode gradient norms: max / median and excess kurtosis.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import claims
import common
import gradvar
from jaxpg import advantages as adv_lib
from jaxpg.config import TrainConfig
from jaxpg.algos.state import make_context

NAME = "claim3_horizon"
CLAIM = ("Monte Carlo policy-gradient variance grows with the square of the episode length (undiscounted "
         "returns), and sparse rewards make it spiky: most returns identical, rare large ones (MountainCar).")
SOURCE = "article, 'Why REINFORCE has high variance' section"
HORIZONS = (25, 50, 100, 200, 400)


def first_episode_grads(ctx, params, key, B, H, gamma=1.0):
    """Per-episode summed gradients ``[B, D]`` and returns ``[B]`` of each env's first episode."""
    traj = gradvar.collect_segments(ctx, params, params_stats(ctx), key, B, H)
    done = traj.done
    first = jnp.cumsum(done, axis=0) - done  # episodes completed before step t
    mask = (first == 0).astype(jnp.float32)  # [T, B] steps of the first episode
    G = adv_lib.reward_to_go(traj.reward, done, gamma) * mask
    g = gradvar.per_env_grads(ctx, params, traj, G) * H  # mean over t -> sum over t
    ret = jnp.sum(traj.reward * mask, axis=0)
    finished = jnp.any(done, axis=0)
    return g, ret, finished


def params_stats(ctx):
    from jaxpg.normalization import RunningStats

    return RunningStats.create(ctx.env.obs_size)


def verdict_for(slope, identical_fraction: float, excess_kurtosis: float) -> str:
    """agrees if the variance-vs-horizon slope's interval (mean, low, high) contains 2, >= 90%
    of MountainCar returns are identical and the gradient norms are heavy-tailed (excess
    kurtosis > 3); partly if the variance grows with H (slope interval above 0) and one of
    the two sparse-reward properties holds; disagrees otherwise."""
    sparse_identical = identical_fraction >= 0.9
    spiky = excess_kurtosis > 3.0
    if slope[1] <= 2.0 <= slope[2] and sparse_identical and spiky:
        return claims.AGREES
    if slope[1] > 0 and (sparse_identical or spiky):
        return claims.PARTLY
    return claims.DISAGREES

SPEC = claims.Spec(
    name=NAME, claim=CLAIM, source=SOURCE,
    quantity='slope of log Var[G] against log horizon H (Pendulum, gamma 1); MountainCar return ties and gradient-norm tails',
    unit='exponent of H', claimed=(2.0, 2.0),
    comparison='per seed slopes, t interval',
    rule=claims.rule_of(verdict_for))


def main():
    args = common.parse_args(__doc__)
    S = args.seeds or common.pick(args, 4, 16)
    B = common.pick(args, 128, 1024)
    seeds = list(range(S))
    t0 = time.perf_counter()

    var = np.zeros((S, len(HORIZONS)))
    for j, H in enumerate(HORIZONS):
        cfg = TrainConfig(env="Pendulum-v1", episode_length=H, num_envs=B, num_steps=H, total_timesteps=B * H)
        ctx = make_context(cfg)

        def one(seed):
            k_net, k_run = jax.random.split(jax.random.PRNGKey(seed))
            params = ctx.nets.init(k_net, ctx.env.obs_size)
            g, _, _ = first_episode_grads(ctx, params, k_run, B, H)
            return jnp.sum(jnp.var(g, axis=0, ddof=1)) / B

        var[:, j] = np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(seeds)))
    logH = np.log(np.asarray(HORIZONS, float))
    slopes = np.array([np.polyfit(logH, np.log(v), 1)[0] for v in var])
    slope = common.mean_ci(slopes)

    # Sparse rewards: MountainCar-v0, 1000-step limit, initial policy.
    Hm = 1000
    cfg = TrainConfig(env="MountainCar-v0", episode_length=Hm, num_envs=B, num_steps=Hm, total_timesteps=B * Hm)
    ctx = make_context(cfg)

    def mc(seed):
        k_net, k_run = jax.random.split(jax.random.PRNGKey(1000 + seed))
        params = ctx.nets.init(k_net, ctx.env.obs_size)
        g, ret, fin = first_episode_grads(ctx, params, k_run, B, Hm)
        return jnp.linalg.norm(g, axis=1), ret

    norms, rets = jax.device_get(jax.jit(jax.vmap(mc))(jnp.asarray(seeds)))
    norms, rets = np.asarray(norms), np.asarray(rets)
    identical = (rets <= -Hm + 1e-6).mean(axis=1)  # per seed
    ratio = np.max(norms, 1) / np.median(norms, 1)
    z = (norms - norms.mean(1, keepdims=True)) / norms.std(1, keepdims=True)
    kurt = (z**4).mean(1) - 3.0
    succ = rets > -Hm + 1e-6
    succ_norm = float(np.mean(norms[succ])) if succ.any() else float("nan")
    fail_norm = float(np.mean(norms[~succ])) if (~succ).any() else float("nan")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_path = common.figure_path(args, NAME)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    m, lo, hi = common.band(var)
    axes[0].loglog(HORIZONS, m, "o-", label="measured (mean, 95% CI)")
    axes[0].fill_between(HORIZONS, np.maximum(lo, m * 1e-3), hi, alpha=0.2)
    ref = m[0] * (np.asarray(HORIZONS) / HORIZONS[0]) ** 2
    axes[0].loglog(HORIZONS, ref, "k--", label="claimed H^2")
    axes[0].set_xlabel("episode length H")
    axes[0].set_ylabel("tr Cov of MC gradient")
    axes[0].set_title(f"Pendulum-v1, initial policy: slope {slope[0]:.2f} [{slope[1]:.2f}, {slope[2]:.2f}]", fontsize=10)
    axes[0].legend(fontsize=8)
    axes[1].hist(rets.ravel(), bins=40, color="tab:green")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("episode return")
    axes[1].set_title(f"MountainCar-v0 returns: {100 * identical.mean():.1f}% identical (-{Hm})", fontsize=10)
    axes[2].plot(np.sort(norms.ravel())[::-1], ".", ms=3)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("episode (sorted)")
    axes[2].set_ylabel("per-episode gradient norm")
    axes[2].set_title(f"MountainCar-v0: max/median {ratio.mean():.1f}, excess kurtosis {kurt.mean():.1f}", fontsize=10)
    for a in axes:
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(fig_path, dpi=110)
    plt.close(fig)

    verdict = verdict_for(slope, float(identical.mean()), float(kurt.mean()))
    text = (
        f"variance ~ H^{slope[0]:.2f} [95% CI {slope[1]:.2f}, {slope[2]:.2f}] (claimed H^2) on Pendulum-v1; "
        f"MountainCar-v0: {100 * identical.mean():.1f}% of episodes share the return -{Hm} "
        f"[CI {100 * common.mean_ci(identical)[1]:.1f}, {100 * common.mean_ci(identical)[2]:.1f}], "
        f"per-episode gradient norm max/median {common.mean_ci(ratio)[0]:.1f}, excess kurtosis "
        f"{common.mean_ci(kurt)[0]:.1f} [{common.mean_ci(kurt)[1]:.1f}, {common.mean_ci(kurt)[2]:.1f}]; "
        f"mean norm successful {succ_norm:.3g} vs failed {fail_norm:.3g} episodes"
    )
    common.write_result(args, NAME, spec=SPEC, result={
        "claim": CLAIM,
        "source": SOURCE,
        "method": __doc__.strip(),
        "settings": {"horizons": HORIZONS, "episodes_per_seed": B, "gamma": 1.0, "policy": "initial (untrained)",
                     "mountaincar_time_limit": Hm},
        "seeds": seeds,
        "variance_per_horizon": {str(h): common.mean_ci(var[:, j]) for j, h in enumerate(HORIZONS)},
        "slope": slope,
        "slope_per_seed": slopes.tolist(),
        "mountaincar_identical_fraction": common.mean_ci(identical),
        "mountaincar_max_over_median_grad_norm": common.mean_ci(ratio),
        "mountaincar_excess_kurtosis": common.mean_ci(kurt),
        "mountaincar_success_grad_norm": succ_norm,
        "mountaincar_fail_grad_norm": fail_norm,
        "measured_text": text,
        "verdict": verdict,
        "verdict_reason": "agrees if the slope CI contains 2, >= 90% of MountainCar returns are identical and the "
                          "gradient norms are heavy-tailed (excess kurtosis > 3); partly if variance grows with H "
                          "and one of the sparse-reward properties holds",
        "figure": common.rel_figure(fig_path),
        "seconds": time.perf_counter() - t0,
    })


if __name__ == "__main__":
    main()
