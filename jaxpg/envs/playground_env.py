"""MuJoCo Playground environments behind the jaxpg interface (``playground/<Name>``).

An optional extra: ``pip install -e '.[playground]'`` (the PyPI package
``playground==0.2.0``, which ships the DeepMind Control Suite with its assets; its
locomotion and manipulation envs need assets it downloads, so only the Control
Suite names are listed here, though :func:`jaxpg.envs.adapters.from_playground`
takes any Playground env instance).

We use the raw env, not Playground's training wrappers: its ``done`` is a real
termination (e.g. NaN physics, a fallen robot), and the time limit is ours, so a
cut is reported as *truncation*, with the true pre-reset observation in
``info["final_obs"]`` (Playground's own auto-reset wrapper discards it). As with
Brax, auto-reset returns each env slot to the first state it was reset to, which
keeps a reset out of every step's cost.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg.envs.core import Box
from jaxpg.errors import JaxpgError

PLAYGROUND_PREFIX = "playground/"
CONTROL_SUITE = (
    "AcrobotSwingup", "AcrobotSwingupSparse", "BallInCup", "CartpoleBalance",
    "CartpoleBalanceSparse", "CartpoleSwingup", "CartpoleSwingupSparse", "CheetahRun",
    "FingerSpin", "FingerTurnEasy", "FingerTurnHard", "FishSwim", "HopperHop", "HopperStand",
    "HumanoidRun", "HumanoidStand", "HumanoidWalk", "PendulumSwingup", "PointMass",
    "ReacherEasy", "ReacherHard", "WalkerRun", "WalkerStand", "WalkerWalk",
)  # fmt: skip
DEFAULT_EPISODE_LENGTH = 1000


def installed() -> bool:
    return importlib.util.find_spec("mujoco_playground") is not None


def playground_names() -> list[str]:
    """``playground/<Name>`` for the Control Suite envs, if Playground is installed."""
    return [PLAYGROUND_PREFIX + n for n in CONTROL_SUITE] if installed() else []


def _flat_obs(obs) -> jax.Array:
    """A flat float32 vector; dict observations use their ``"state"`` entry."""
    if isinstance(obs, Mapping):
        obs = obs["state"]
    return jnp.reshape(jnp.asarray(obs, jnp.float32), (-1,))


@struct.dataclass
class PlaygroundState:
    inner: tuple  # the non-empty leaves of the mujoco_playground State (see _Packer)
    first: tuple  # the same for the state this slot resets to
    time: jax.Array


class _Packer:
    """A Playground ``State`` as the tuple of its non-empty leaves, and back.

    MJX ``Data`` has zero-size arrays (e.g. ``act`` without actuator state), which
    orbax cannot checkpoint; they carry nothing, so the train state leaves them out.
    """

    def __init__(self, env):
        abstract = jax.eval_shape(env.reset, jax.random.PRNGKey(0))
        leaves, self.treedef = jax.tree.flatten(abstract)
        self.specs = [(leaf.shape, leaf.dtype) for leaf in leaves]

    def pack(self, state) -> tuple:
        return tuple(x for x, (shape, _) in zip(jax.tree.leaves(state), self.specs) if _size(shape))

    def unpack(self, packed: tuple):
        it = iter(packed)
        leaves = [next(it) if _size(shape) else jnp.zeros(shape, dtype) for shape, dtype in self.specs]
        return jax.tree.unflatten(self.treedef, leaves)


def _size(shape) -> int:
    out = 1
    for d in shape:
        out *= d
    return out


class PlaygroundEnv:
    """A Playground env: Box(-1, 1) actions, termination from ``done``, our time limit."""

    def __init__(self, name: str, episode_length: int | None = None, env=None):
        self.name = PLAYGROUND_PREFIX + name
        if env is None:
            env = _load(name)
        self._env = env
        config = getattr(env, "_config", None)
        default = getattr(config, "episode_length", None) if config is not None else None
        self.max_episode_steps = int(episode_length or default or DEFAULT_EPISODE_LENGTH)
        size = env.observation_size
        if isinstance(size, Mapping):
            size = size["state"]
        self.obs_size = int(jnp.prod(jnp.asarray(size))) if not isinstance(size, int) else size
        n = int(env.action_size)
        self.action_space = Box((n,), (-1.0,) * n, (1.0,) * n)
        self._packer = _Packer(env)

    @property
    def playground_env(self):
        return self._env

    def reset(self, key):
        s = self._packer.pack(self._env.reset(key))
        return _flat_obs(self._packer.unpack(s).obs), PlaygroundState(s, s, jnp.zeros((), jnp.int32))

    def step(self, key, state: PlaygroundState, action):
        del key  # the dynamics are deterministic
        action = jnp.clip(action, -1.0, 1.0)
        nxt = self._env.step(self._packer.unpack(state.inner), action)
        time = state.time + 1
        terminated = jnp.asarray(nxt.done) > 0.5
        truncated = jnp.logical_and(time >= self.max_episode_steps, jnp.logical_not(terminated))
        done = jnp.logical_or(terminated, truncated)
        final_obs = _flat_obs(nxt.obs)
        new_inner = jax.tree.map(lambda a, b: jnp.where(done, a, b), state.first, self._packer.pack(nxt))
        new_state = PlaygroundState(new_inner, state.first, jnp.where(done, 0, time))
        reward = jnp.asarray(nxt.reward, jnp.float32)
        obs = _flat_obs(self._packer.unpack(new_inner).obs)
        return obs, new_state, reward, terminated, truncated, {"final_obs": final_obs}


def _load(name: str):
    """``registry.load(name)`` on MJX's pure-JAX implementation, made LAPACK-free."""
    if not installed():
        raise JaxpgError(
            f"env playground/{name} needs MuJoCo Playground: pip install -e '.[playground]'"
        )
    from mujoco_playground import registry

    try:
        env = registry.load(name, config_overrides={"impl": "jax"})
    except Exception as e:  # noqa: BLE001 - its loaders raise many kinds
        raise JaxpgError(f"cannot load playground/{name}: {type(e).__name__}: {e}") from None
    return make_lapack_free(env)


def make_lapack_free(env):
    """Switch ``env``'s MJX model to the CG solver and the sparse Jacobian, in place.

    Playground 0.2.0 defaults to ``impl="warp"`` (its GPU kernels; on CPU, under our
    vmapped scan, it leaked a tracer) and, on MJX's JAX implementation, the Newton
    solver and dense mass-matrix factorization, which lower to LAPACK ``potrf``/``trsm``
    custom calls on CPU -- batched LAPACK kernels can deadlock XLA's CPU pool. With
    ``mjSOL_CG`` and ``mjJAC_SPARSE`` the step is matmuls and loops only (checked by
    ``experiments/playground_cartpole.py`` and a test). Uses the env's private
    ``_mjx_model`` (Playground has no public setter).
    """
    import mujoco
    from mujoco import mjx

    model = env.mj_model
    model.opt.solver = mujoco.mjtSolver.mjSOL_CG
    model.opt.jacobian = mujoco.mjtJacobian.mjJAC_SPARSE
    env._mjx_model = mjx.put_model(model, impl="jax")
    return env
