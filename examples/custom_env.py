"""Train PPO on your own JAX environment with one call (shown in the README)."""

import jax
import jax.numpy as jnp

from jaxpg import HParams, RunOptions, TrainConfig, run
from jaxpg.envs import Box


class Reach:
    """Push a point to the origin: obs x, action a in [-1, 1], x += 0.1 a, reward -|x|."""

    name = "Reach"
    obs_size = 1
    action_space = Box(shape=(1,), low=-1.0, high=1.0)
    max_episode_steps = 50

    def reset(self, key):
        x = jax.random.uniform(key, (1,), minval=-1.0, maxval=1.0)
        return x, (x, jnp.zeros((), jnp.int32))

    def step(self, key, state, action):
        x, t = state
        x, t = jnp.clip(x + 0.1 * jnp.clip(action, -1.0, 1.0), -2.0, 2.0), t + 1
        terminated = jnp.abs(x[0]) < 0.05  # reached the goal
        truncated = jnp.logical_and(t >= self.max_episode_steps, ~terminated)
        done = jnp.logical_or(terminated, truncated)
        obs0, state0 = self.reset(key)  # auto-reset; keep the reached x as final_obs
        state = jax.tree.map(lambda new, old: jnp.where(done, new, old), state0, (x, t))
        obs = jnp.where(done, obs0, x)
        return obs, state, -jnp.abs(x[0]), terminated, truncated, {"final_obs": x}


if __name__ == "__main__":
    config = TrainConfig(env="Reach", total_timesteps=100_000, policy="tanh-gaussian")
    result = run(config, HParams(lr=1e-3, critic_lr=1e-3), RunOptions(out_dir="runs/reach"), env=Reach())
    print(result.summary["eval_return"])  # about -1 (tests/test_evaluation.py: > -5; random -25)
