"""Figures that need no trainer: the PPO clipped objective, and vanilla vs natural
gradient paths on the manifold of 1-D Gaussians.

* Clipped surrogate (Schulman et al. 2017, eq. 7) for one sample:
  ``L(r) = min(r A, clip(r, 1 - eps, 1 + eps) A)``; for ``A > 0`` it is flat for
  ``r > 1 + eps`` (no incentive to raise the probability further), for ``A < 0``
  flat for ``r < 1 - eps``.
* Gaussian manifold: fit ``p = N(mu, sigma^2)`` to a target ``N(mu*, sigma*^2)`` by
  ascending ``J(mu, sigma) = E_{x ~ target}[log p(x)]
  = -log sigma - (sigma*^2 + (mu* - mu)^2) / (2 sigma^2)`` (+ const).
  Fisher information in ``(mu, sigma)`` is ``diag(1/sigma^2, 2/sigma^2)`` (Amari
  1998), so the natural gradient is ``F^{-1} grad J``. Each method uses its own
  best step size from a grid (largest that converges fastest); we count steps to
  ``KL(target || p) < 0.01``.
"""

from __future__ import annotations

import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def clipped_objective(ratio, advantage, eps: float = 0.2):
    """``min(r A, clip(r, 1-eps, 1+eps) A)``, elementwise (numpy)."""
    ratio = np.asarray(ratio, float)
    return np.minimum(ratio * advantage, np.clip(ratio, 1.0 - eps, 1.0 + eps) * advantage)


def grad_J(mu, sigma, mu_t, sigma_t):
    """``(dJ/dmu, dJ/dsigma)`` of the expected log-likelihood above."""
    d = mu_t - mu
    return d / sigma**2, -1.0 / sigma + (sigma_t**2 + d**2) / sigma**3


def natural_grad_J(mu, sigma, mu_t, sigma_t):
    """``F^{-1} grad J`` with ``F = diag(1/sigma^2, 2/sigma^2)``."""
    gm, gs = grad_J(mu, sigma, mu_t, sigma_t)
    return sigma**2 * gm, 0.5 * sigma**2 * gs


def kl_gauss(mu_p, s_p, mu_q, s_q):
    """``KL(N(mu_p, s_p^2) || N(mu_q, s_q^2))``."""
    return np.log(s_q / s_p) + (s_p**2 + (mu_p - mu_q) ** 2) / (2 * s_q**2) - 0.5


def path(kind: str, lr: float, start, target, steps: int = 20000, tol: float = 0.01):
    """Iterates of gradient ascent; returns ``(points [n, 2], steps to KL < tol or None)``."""
    mu, s = start
    pts = [(mu, s)]
    hit = None
    kl = kl_gauss(target[0], target[1], mu, s)
    for i in range(steps):
        gm, gs = (grad_J if kind == "vanilla" else natural_grad_J)(mu, s, *target)
        mu, s = mu + lr * gm, s + lr * gs
        if not (np.isfinite(mu) and np.isfinite(s)) or s <= 1e-3:
            return np.array(pts), None
        new_kl = kl_gauss(target[0], target[1], mu, s)
        if new_kl > kl:  # a step size that overshoots is not a tuned one: require monotone progress
            return np.array(pts), None
        kl = new_kl
        pts.append((mu, s))
        if hit is None and kl_gauss(target[0], target[1], mu, s) < tol:
            hit = i + 1
            break
    return np.array(pts), hit


def best_lr(kind, start, target, grid=None):
    grid = grid if grid is not None else np.geomspace(1e-4, 1.0, 45)
    best = (None, None)
    for lr in grid:
        _, hit = path(kind, lr, start, target)
        if hit is not None and (best[1] is None or hit < best[1]):
            best = (lr, hit)
    return best


def make_figures(fig_dir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(fig_dir, exist_ok=True)
    # 1. Clipped objective
    r = np.linspace(0.0, 2.0, 401)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, A in zip(axes, (1.0, -1.0)):
        for eps in (0.1, 0.2, 0.3):
            ax.plot(r, clipped_objective(r, A, eps), label=f"clipped, eps={eps}")
        ax.plot(r, r * A, "k--", lw=1, label="unclipped r A")
        ax.axvline(1.0, color="gray", lw=0.8)
        ax.set_xlabel("probability ratio r = pi / pi_old")
        ax.set_ylabel("L per sample")
        ax.set_title(f"Advantage A = {A:+.0f}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("PPO clipped surrogate min(r A, clip(r, 1-eps, 1+eps) A)", fontsize=11)
    fig.tight_layout()
    clip_path = os.path.join(fig_dir, "ppo_clipped_objective.png")
    fig.savefig(clip_path, dpi=110)
    plt.close(fig)

    # 2. Gaussian manifold
    start, target = (-2.0, 2.0), (1.0, 0.3)
    lr_v, n_v = best_lr("vanilla", start, target)
    lr_n, n_n = best_lr("natural", start, target)
    pv, _ = path("vanilla", lr_v, start, target)
    pn, _ = path("natural", lr_n, start, target)
    mu = np.linspace(-3, 3, 200)
    sg = np.linspace(0.1, 2.5, 200)
    M, S = np.meshgrid(mu, sg)
    K = kl_gauss(target[0], target[1], M, S)
    fig, ax = plt.subplots(figsize=(7, 5))
    cs = ax.contour(M, S, np.log10(K + 1e-9), levels=15, cmap="viridis", linewidths=0.8)
    ax.clabel(cs, fmt="%.1f", fontsize=6)
    ax.plot(pv[:, 0], pv[:, 1], ".-", color="tab:red", ms=3, label=f"vanilla gradient (lr {lr_v:.3g}): {n_v} steps")
    ax.plot(pn[:, 0], pn[:, 1], ".-", color="tab:blue", ms=3, label=f"natural gradient (lr {lr_n:.3g}): {n_n} steps")
    ax.plot(*start, "ko")
    ax.plot(*target, "k*", ms=12, label=f"target N({target[0]:g}, {target[1]:g}^2)")
    ax.set_xlabel("mu")
    ax.set_ylabel("sigma")
    ax.set_title(f"Fitting N(mu, sigma^2) to N({target[0]:g}, {target[1]:g}^2): contours of log10 KL(target || p)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    man_path = os.path.join(fig_dir, "gaussian_manifold.png")
    fig.savefig(man_path, dpi=110)
    plt.close(fig)
    return {
        "clipped_objective": os.path.relpath(clip_path, HERE),
        "gaussian_manifold": os.path.relpath(man_path, HERE),
        "manifold": {"start": start, "target": target, "vanilla_lr": lr_v, "vanilla_steps": n_v,
                     "natural_lr": lr_n, "natural_steps": n_n, "tolerance_kl": 0.01},
    }


if __name__ == "__main__":
    out = make_figures(os.path.join(HERE, "figures"))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    from common import write_record

    write_record(os.path.join(HERE, "results", "theory_figures.json"), out)
    print(json.dumps(out["manifold"]))
