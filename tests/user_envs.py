"""Small user envs for the adapter tests (importable as ``tests.user_envs:<factory>``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg.envs import Discrete


@struct.dataclass
class OldState:
    pos: jax.Array
    time: jax.Array


@struct.dataclass
class OldParams:
    max_steps_in_episode: int = 6
    cliff: int = 3  # walking right onto this cell ends the episode (a termination)


class Space:
    def __init__(self, n):
        self.n = n


class OldApiWalk:
    """A corridor with gymnax's *older* API (``step`` returns five values, ``done``
    mixing a fall off the cliff with the time limit), as Craftax keeps it. Action 1
    walks right (reward 1), action 0 stays (reward 0); obs = [pos, time]."""

    @property
    def default_params(self):
        return OldParams()

    def action_space(self, params=None):
        return Space(2)

    def reset_env(self, key, params):
        state = OldState(jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))
        return self._obs(state), state

    def step_env(self, key, state, action, params):
        pos = state.pos + action
        state = OldState(pos, state.time + 1)
        done = jnp.logical_or(pos >= params.cliff, state.time >= params.max_steps_in_episode)
        return self._obs(state), state, action.astype(jnp.float32), done, {}

    def reset(self, key, params=None):
        return self.reset_env(key, params or self.default_params)

    def step(self, key, state, action, params=None):
        params = params or self.default_params
        obs, new, reward, done, info = self.step_env(key, state, action, params)
        fresh_obs, fresh = self.reset_env(key, params)
        pick = lambda a, b: jnp.where(done, a, b)
        return pick(fresh_obs, obs), jax.tree.map(pick, fresh, new), reward, done, info

    @staticmethod
    def _obs(state):
        return jnp.stack([state.pos, state.time]).astype(jnp.float32)


@struct.dataclass
class KinetixLikeParams:
    max_timesteps: int = 5


@struct.dataclass
class KinetixLikeState:
    pos: jax.Array
    timestep: jax.Array


class KinetixMultiDiscrete:
    """Kinetix's multi-discrete action space: choices per component."""

    def __init__(self, per_component):
        self.number_of_dims_per_distribution = jnp.asarray(per_component, jnp.int32)
        self.n = int(sum(per_component))  # Kinetix's "n-hot" size: not a Discrete(n)
        self.shape = (len(per_component),)


class KinetixLike:
    """Kinetix's API as kinetix-env 3.0.2 has it (it cannot be installed beside our jax):
    ``reset_env(rng, env_params, override_reset_state)`` (the level from
    ``reset_function``), a five-value ``step_env`` whose ``done`` folds in the goal and
    ``timestep >= max_timesteps``, a physics engine, static params and a multi-discrete
    action space (one motor: 3 choices, one thruster: 2). The motor's choice 1 moves
    right: pos 3 is the goal (reward 1); obs = [pos, timestep]."""

    physics_engine = None
    static_env_params = None

    def __init__(self):
        self.reset_function = lambda rng: KinetixLikeState(jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    @property
    def default_params(self):
        return KinetixLikeParams()

    def action_space(self, env_params=None):
        return KinetixMultiDiscrete((3, 2))

    def reset_env(self, rng, env_params, override_reset_state):
        state = self.reset_function(rng) if override_reset_state is None else override_reset_state
        return self._obs(state), state

    def step_env(self, rng, state, action, env_params):
        state = KinetixLikeState(state.pos + (action[0] == 1), state.timestep + 1)
        goal = state.pos >= 3
        done = goal | (state.timestep >= env_params.max_timesteps)
        return self._obs(state), state, goal.astype(jnp.float32), done, {"GoalR": goal}

    @staticmethod
    def _obs(state):
        return jnp.stack([state.pos, state.timestep]).astype(jnp.float32)


class CoinFlip:
    """jaxpg's own interface: obs is a random sign, reward +1 for the matching action."""

    name = "CoinFlip"
    obs_size = 1
    action_space = Discrete(2)
    max_episode_steps = None

    def reset(self, key):
        sign = jnp.where(jax.random.bernoulli(key), 1.0, -1.0)
        return jnp.reshape(sign, (1,)), sign

    def step(self, key, state, action):
        reward = jnp.where((action == 1) == (state > 0), 1.0, -1.0)
        obs, new = self.reset(key)
        return obs, new, reward, jnp.asarray(True), jnp.asarray(False), {"final_obs": obs}


class NoFinalObs(CoinFlip):
    def step(self, key, state, action):
        obs, new, reward, term, trunc, _ = super().step(key, state, action)
        return obs, new, reward, term, trunc, {}


class WrongObsShape(CoinFlip):
    def reset(self, key):
        obs, state = super().reset(key)
        return jnp.concatenate([obs, obs]), state


def coin_flip():
    return CoinFlip()


def old_api_walk():
    return OldApiWalk()
