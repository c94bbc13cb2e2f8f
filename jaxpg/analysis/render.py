"""Render a finished run's policy: ``jaxpg render DIR``.

gymnax envs become an animated GIF (gymnax's ``Visualizer``, matplotlib's Pillow
writer); Brax envs become a self-contained HTML page (``brax.io.html.render``).
One episode is played with the saved parameters; the env states are collected in
one ``lax.scan`` and then handed to the renderer on the host.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.algos.state import make_context
from jaxpg.errors import JaxpgError
from jaxpg.evaluation import eval_carry, max_eval_steps, policy_act
from jaxpg.runner.rundir import load_run, run_env


def play_episode(ctx, params, obs_stats, key, deterministic: bool, max_steps: int):
    """Unbatched episode: returns ``(states[T], rewards[T], dones[T])``, states pre-step.

    ``states[t]`` is the (wrapper) env state the policy acted in at step ``t``; the
    scan keeps running after the episode ends and the caller truncates at the first
    done, so shapes stay static.
    """
    env = ctx.env
    act = policy_act(ctx, params, obs_stats, deterministic)
    k_reset, k_run = jax.random.split(key)
    obs, state = env.reset(k_reset)

    def step(carry, k_t):
        obs, state, pc, t = carry
        k_act, k_env = jax.random.split(k_t)
        if pc is None:
            action = act(k_act, obs)
        else:  # a recurrent policy acts on a batch of one, carrying its state
            one = jax.tree.map(lambda x: x[None], obs)
            action, pc = act(k_act, one, pc, jnp.full((1,), t == 0))
            action = action[0]
        nobs, nstate, reward, term, trunc, _ = env.step(k_env, state, action)
        return (nobs, nstate, pc, t + 1), (state, reward, jnp.logical_or(term, trunc))

    init = (obs, state, eval_carry(ctx, 1), jnp.zeros((), jnp.int32))
    _, (states, rewards, dones) = jax.jit(
        lambda c, ks: jax.lax.scan(step, c, ks)
    )(init, jax.random.split(k_run, max_steps))
    return states, np.asarray(rewards), np.asarray(dones)


def _episode_len(dones: np.ndarray) -> int:
    idx = np.flatnonzero(dones)
    return int(idx[0]) + 1 if idx.size else int(dones.shape[0])


def _unstack(tree, n: int) -> list:
    return [jax.tree.map(lambda x, i=i: x[i], tree) for i in range(n)]


def render_run(
    run_dir: str,
    out: str | None = None,
    seed: int = 0,
    deterministic: bool = True,
    max_steps: int | None = None,
    env_obj: Any = None,
) -> str:
    """Play one episode of the saved policy and write a GIF (gymnax) or HTML (Brax).

    ``env_obj``: the user env (or ``module:callable`` factory) of a run trained on one."""
    run = load_run(run_dir)
    ctx = make_context(run.config, run_env(run_dir, env_obj))
    env = ctx.env.env  # inside EpisodeStats
    is_brax = run.config.env.startswith("brax/")
    if not is_brax and not hasattr(env, "gymnax_env"):
        raise JaxpgError(f"cannot render {run.config.env!r}: only gymnax and Brax envs render")
    max_steps = max_steps or min(max_eval_steps(ctx.env), 1000)
    states, rewards, dones = play_episode(
        ctx, run.params, run.obs_stats, jax.random.PRNGKey(seed), deterministic, max_steps
    )
    n = _episode_len(dones)
    inner = states.inner  # EpisodeStats -> the wrapped env's state
    if out is None:
        out = os.path.join(run_dir, "episode.html" if is_brax else "episode.gif")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if is_brax:
        from brax.io import html

        pipeline = _unstack(inner.inner.pipeline_state, n)  # BraxState -> brax State
        page = html.render(env.brax_env.sys, pipeline, colab=False)  # standalone page (viewer JS from a CDN)
        with open(out, "w") as f:
            f.write(page)
    else:
        import matplotlib

        matplotlib.use("Agg")
        from gymnax.visualize import Visualizer

        if not out.lower().endswith(".gif"):
            raise JaxpgError(f"invalid out={out!r}: gymnax envs render to a .gif file")
        if run.config.env in CLASSIC_DRAWERS:
            # gymnax draws classic control through gymnasium + pygame; ours needs matplotlib only
            frames = [CLASSIC_DRAWERS[run.config.env](inner, t) for t in range(n)]
            write_gif(out, frames, rewards[:n])
        else:
            seq = _unstack(inner, n)
            vis = Visualizer(env.gymnax_env, env.gymnax_params, seq, np.cumsum(rewards[:n]))
            vis.animate(out)
    return out


def _cartpole(s, t):
    x, th = float(s.x[t]), float(s.theta[t])
    pole = 1.0  # drawn length (2 * half-length 0.5)
    return [("line", [-2.4, 2.4], [0, 0], "k"), ("rect", x, 0.0),
            ("line", [x, x + pole * np.sin(th)], [0.0, pole * np.cos(th)], "tab:orange")]


def _pendulum(s, t):
    th = float(s.theta[t])  # 0 is upright
    return [("line", [0, np.sin(th)], [0, np.cos(th)], "tab:red"), ("dot", 0.0, 0.0)]


def _acrobot(s, t):
    a1, a2 = float(s.joint_angle1[t]), float(s.joint_angle2[t])
    p1 = (np.sin(a1), -np.cos(a1))
    p2 = (p1[0] + np.sin(a1 + a2), p1[1] - np.cos(a1 + a2))
    return [("line", [-2.2, 2.2], [1, 1], "k"), ("line", [0, p1[0], p2[0]], [0, p1[1], p2[1]], "tab:blue")]


def _mountain_car(s, t):
    xs = np.linspace(-1.2, 0.6, 100)
    p = float(s.position[t])
    return [("line", xs, 0.45 * np.sin(3 * xs) + 0.55, "k"), ("dot", p, 0.45 * np.sin(3 * p) + 0.55),
            ("line", [0.5, 0.5], [0.45 * np.sin(1.5) + 0.55, 1.2], "g")]


CLASSIC_DRAWERS = {
    "CartPole-v1": _cartpole,
    "Pendulum-v1": _pendulum,
    "Acrobot-v1": _acrobot,
    "MountainCar-v0": _mountain_car,
    "MountainCarContinuous-v0": _mountain_car,
}


def write_gif(path: str, frames: list, rewards: np.ndarray, fps: int = 25) -> None:
    """Draw each frame's primitives with matplotlib and save them as one GIF (Pillow)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    xs = np.concatenate([np.ravel(np.asarray(p[1], float)) for f in frames for p in f])
    ys = np.concatenate([np.ravel(np.asarray(p[2], float)) for f in frames for p in f])
    lim = (xs.min() - 0.5, xs.max() + 0.5, ys.min() - 0.5, ys.max() + 0.5)
    fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
    images = []
    ret = np.cumsum(rewards)
    for t, prims in enumerate(frames):
        ax.clear()
        ax.set_xlim(lim[0], lim[1])
        ax.set_ylim(lim[2], lim[3])
        ax.set_aspect("equal")
        ax.axis("off")
        for kind, a, b, *c in prims:
            if kind == "line":
                ax.plot(a, b, color=c[0], lw=3)
            elif kind == "dot":
                ax.plot([a], [b], "o", color="k", ms=8)
            elif kind == "rect":
                ax.add_patch(plt.Rectangle((a - 0.25, b - 0.15), 0.5, 0.3, color="tab:blue"))
        ax.set_title(f"t={t}  return={ret[t]:.1f}", fontsize=9)
        fig.canvas.draw()
        images.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()))
    plt.close(fig)
    images[0].save(path, save_all=True, append_images=images[1:], duration=1000 // fps, loop=0)
