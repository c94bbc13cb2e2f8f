"""Static configuration (``TrainConfig``) and traced hyperparameters (``HParams``).

``TrainConfig`` holds the choices that change the compiled program (algorithm,
env, shapes, loop counts); changing one recompiles. ``HParams`` holds floats only,
so a batch of them can be ``vmap``-ed: ``jax.vmap(train)(keys, hparams_batch)``.
"""

from __future__ import annotations

import dataclasses
import decimal
import math
from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxpg.errors import ConfigError

# The vocabularies of the string-valued static choices. The registries that map
# them to code (jaxpg.algos.ALGORITHMS, jaxpg.networks.ACTIVATION_FNS, the Brax env
# wrapper) key on these names, so checking a config needs none of those modules.
ALGOS = ("ppo", "a2c", "reinforce", "npg", "trpo")
ACTIVATIONS = ("tanh", "relu", "elu", "gelu", "swish")
BRAX_BACKENDS = ("generalized", "positional", "spring", "mjx")
POLICIES = ("gaussian", "tanh-gaussian")
"""Continuous policy heads (discrete action spaces always get a softmax)."""
ENCODERS = ("mlp", "cnn")
"""Observation encoders (jaxpg.nn.encoders)."""
RECURRENT = ("none", "gru", "lstm")
"""Recurrent cores (jaxpg.nn.recurrent); none: a feed-forward policy."""
RECURRENT_ALGOS = ("ppo", "a2c", "reinforce", "npg", "trpo")
"""Algorithms whose updates replay a recurrent policy over each env's sequence."""


@dataclass(frozen=True)
class TrainConfig:
    """Static choices of a training run (changing one recompiles)."""

    algo: str = "ppo"
    """Algorithm: ppo, a2c, reinforce, npg, trpo (see `jaxpg.algos.ALGORITHMS`)."""
    env: str = "CartPole-v1"
    """Environment: a gymnax id (CartPole-v1, Pendulum-v1, ...), brax/<name>, or a probe."""
    backend: str = "positional"
    """Brax physics backend (generalized, positional, spring, mjx); Brax envs only."""
    episode_length: int | None = None
    """Time limit in steps (a cut is truncation, not termination); None: the env's own."""
    total_timesteps: int = 400_000
    """Environment steps to train for (across all envs)."""
    num_envs: int = 8
    """Parallel environments (vmapped)."""
    num_steps: int = 128
    """Rollout length per env per update (reinforce: the episode cap H, see its docstring)."""
    update_epochs: int = 4
    """Passes over each batch: PPO's policy+value epochs; the critic's Adam epochs of
    npg, trpo and reinforce (value baseline). A2C makes one step per rollout."""
    num_minibatches: int = 4
    """Minibatches per epoch; num_envs * num_steps must divide by it."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor MLP (and of the critic unless critic_hidden_sizes)."""
    critic_hidden_sizes: tuple[int, ...] | None = None
    """Hidden layer widths of the critic MLP; None: same as hidden_sizes."""
    activation: str = "tanh"
    """Hidden activation: tanh, relu, elu, gelu, swish."""
    log_std_init: float = 0.0
    """Initial log standard deviation of Gaussian policies."""
    policy: str = "gaussian"
    """Continuous-action policy head: gaussian (unbounded; the env clips actions) or
    tanh-gaussian (Brax's squashed Gaussian; the env maps tanh(u) to the bounds).
    Discrete action spaces always use a softmax."""
    state_dependent_std: bool = False
    """Gaussian std from the policy network, softplus(raw) + min_std (Brax), instead
    of a learned state-independent log-std."""
    min_std: float = 1e-3
    """Lower bound added to a state-dependent std."""
    actor_out_scale: float = 0.01
    """Orthogonal-init gain of the policy's last layer: 0.01 starts near-uniform /
    zero-mean (Andrychowicz et al. 2021); ~1 starts from a random state-dependent policy."""
    encoder: str = "mlp"
    """Observation encoder: mlp (observation leaves flattened into the MLP) or cnn
    (convolutions over [H, W, C] observation leaves, then the MLP; the env keeps the
    image shape). MinAtar's network: --encoder cnn --hidden-sizes 128 --activation relu."""
    cnn_channels: tuple[int, ...] = (16,)
    """Filters of each convolution of the cnn encoder (MinAtar paper: one of 16)."""
    cnn_kernels: tuple[int, ...] = (3,)
    """Square kernel size of each convolution (one per entry of cnn_channels)."""
    cnn_strides: tuple[int, ...] = (1,)
    """Stride of each convolution (one per entry of cnn_channels)."""
    recurrent: str = "none"
    """Recurrent core after the encoder: none, gru or lstm (every algorithm). Actor and critic
    each have their own; the state resets where an episode starts; updates replay each
    env's rollout segment from the state stored at its start (minibatches of envs)."""
    rnn_size: int = 128
    """Units of the recurrent core (and of the dense embedding before it)."""
    eval_every: int | None = None
    """Evaluate the policy every this many updates inside the compiled chunk (logged as
    eval_return); None: about 10 times a run; 0: never."""
    num_eval_envs: int = 16
    """Separate envs evaluated, one complete episode each (the 95% interval is over them)."""
    eval_stochastic: bool = False
    """Also evaluate the stochastic policy (eval_return_stochastic)."""
    normalize_obs: bool = False
    """Keep running observation mean/variance in the train state and whiten observations."""
    normalize_advantages: bool = True
    """Whiten advantages per minibatch."""
    clip_value: bool = True
    """PPO value clipping (value loss uses max of clipped and unclipped errors)."""
    anneal_lr: bool = True
    """Linearly decay learning rates to 0 over training."""
    ent_schedule: Literal["constant", "linear", "cosine"] = "constant"
    """Entropy coefficient schedule from ent_coef to ent_coef_final."""
    baseline: Literal["none", "value", "linear"] = "value"
    """REINFORCE baseline: none, value (learned critic), linear (ridge fit, Duan et al. 2016)."""
    ppo_objective: Literal["clip", "kl_penalty"] = "clip"
    """PPO surrogate: clip (L^CLIP) or kl_penalty (adaptive-beta KL penalty, PPO paper sec. 4)."""
    cg_iters: int = 10
    """Conjugate-gradient iterations for the natural-gradient direction (NPG, TRPO)."""
    ls_steps: int = 10
    """Backtracking line-search trials (TRPO); step sizes shrink by ls_backtrack each."""
    updates_per_chunk: int | None = None
    """Updates compiled into one chunk between host-side logs (None: about 25 logs a run)."""

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        return self.total_timesteps // self.batch_size

    @property
    def eval_interval(self) -> int:
        """Updates between evaluations (0: never); see ``eval_every``."""
        if self.eval_every is None:
            return max(1, self.num_updates // 10)
        return self.eval_every

    @property
    def chunk(self) -> int:
        if self.updates_per_chunk:
            return max(1, min(self.updates_per_chunk, self.num_updates))
        return max(1, self.num_updates // 25)

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> "TrainConfig":
        """Check every field before compiling; raise a one-line :class:`ConfigError`.

        Types first (so no check below can crash on, say, a string width), then
        ranges and the relations between fields. A field without a specific check
        must at least have the type of its default. The env name is checked where
        envs are made (:func:`jaxpg.envs.make`), before anything is written.
        """
        _check_types(self)
        if self.algo not in ALGOS:
            raise ConfigError("algo", self.algo, f"choose one of {', '.join(sorted(ALGOS))}")
        if self.backend not in BRAX_BACKENDS:
            raise ConfigError("backend", self.backend, f"use one of {', '.join(BRAX_BACKENDS)}")
        for name in ("total_timesteps", "num_envs", "num_steps", "update_epochs", "num_minibatches"):
            value = getattr(self, name)
            if value < 1:
                raise ConfigError(name, value, "must be a positive integer")
        if self.batch_size % self.num_minibatches:
            raise ConfigError(
                "num_minibatches",
                self.num_minibatches,
                f"num_envs * num_steps = {self.batch_size} must be divisible by it",
            )
        if self.total_timesteps < self.batch_size:
            raise ConfigError(
                "total_timesteps",
                self.total_timesteps,
                f"must be at least num_envs * num_steps = {self.batch_size} (one update)",
            )
        if self.total_timesteps > MAX_STEPS:
            # the step counter in the train state is int32
            raise ConfigError("total_timesteps", self.total_timesteps, f"must be <= {MAX_STEPS:,}")
        if self.episode_length is not None and self.episode_length < 1:
            raise ConfigError("episode_length", self.episode_length, "must be >= 1 or None")
        if not self.hidden_sizes or any(h < 1 for h in self.hidden_sizes):
            raise ConfigError("hidden_sizes", self.hidden_sizes, "give positive layer widths")
        if self.critic_hidden_sizes is not None and (
            not self.critic_hidden_sizes or any(h < 1 for h in self.critic_hidden_sizes)
        ):
            raise ConfigError(
                "critic_hidden_sizes", self.critic_hidden_sizes, "give positive layer widths"
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError("activation", self.activation, f"use one of {', '.join(ACTIVATIONS)}")
        if not math.isfinite(self.log_std_init) or abs(self.log_std_init) > 20:
            raise ConfigError("log_std_init", self.log_std_init, "use a finite value in [-20, 20]")
        if self.policy not in POLICIES:
            raise ConfigError("policy", self.policy, f"use one of {', '.join(POLICIES)}")
        if not math.isfinite(self.min_std) or not 0 < self.min_std < 1:
            raise ConfigError("min_std", self.min_std, "use a value in (0, 1), e.g. 0.001")
        if not math.isfinite(self.actor_out_scale) or self.actor_out_scale <= 0:
            raise ConfigError("actor_out_scale", self.actor_out_scale, "use a positive gain, e.g. 0.01")
        self._check_policy_layer()
        if self.eval_every is not None and self.eval_every < 0:
            raise ConfigError("eval_every", self.eval_every, "must be >= 0 (0: no evaluation) or None")
        if self.num_eval_envs < 1:
            raise ConfigError("num_eval_envs", self.num_eval_envs, "must be a positive integer")
        if self.ent_schedule not in ("constant", "linear", "cosine"):
            raise ConfigError("ent_schedule", self.ent_schedule, "use constant, linear or cosine")
        if self.baseline not in ("none", "value", "linear"):
            raise ConfigError("baseline", self.baseline, "use none, value or linear")
        if self.ppo_objective not in ("clip", "kl_penalty"):
            raise ConfigError("ppo_objective", self.ppo_objective, "use clip or kl_penalty")
        for name in ("cg_iters", "ls_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(name, value, "must be a positive integer")
        if self.updates_per_chunk is not None and self.updates_per_chunk < 1:
            raise ConfigError("updates_per_chunk", self.updates_per_chunk, "must be >= 1 or None")
        return self

    def _check_policy_layer(self) -> None:
        """Encoder and recurrent-core fields (:mod:`jaxpg.nn`)."""
        if self.encoder not in ENCODERS:
            raise ConfigError("encoder", self.encoder, f"use one of {', '.join(ENCODERS)}")
        cnn = (self.cnn_channels, self.cnn_kernels, self.cnn_strides)
        for name, value in zip(("cnn_channels", "cnn_kernels", "cnn_strides"), cnn):
            if not value or any(v < 1 for v in value):
                raise ConfigError(name, value, "give positive integers, one per convolution")
        if len({len(v) for v in cnn}) != 1:
            raise ConfigError("cnn_kernels", self.cnn_kernels,
                              "cnn_channels, cnn_kernels and cnn_strides need one entry per convolution")
        if self.recurrent not in RECURRENT:
            raise ConfigError("recurrent", self.recurrent, f"use one of {', '.join(RECURRENT)}")
        if self.rnn_size < 1:
            raise ConfigError("rnn_size", self.rnn_size, "must be a positive integer")
        if self.recurrent != "none" and self.algo not in RECURRENT_ALGOS:
            raise ConfigError("recurrent", self.recurrent,
                              f"is implemented for {', '.join(RECURRENT_ALGOS)} only so far")
        # minibatches of whole env sequences: ppo's policy and critic, npg/trpo's and
        # REINFORCE's critic fit (a2c steps on the whole batch; REINFORCE's other baselines fit none)
        splits = self.algo in ("ppo", "npg", "trpo") or (self.algo == "reinforce" and self.baseline == "value")
        if self.recurrent != "none" and splits and self.num_envs % self.num_minibatches:
            raise ConfigError("num_minibatches", self.num_minibatches,
                              f"a recurrent policy's minibatches are whole env sequences: "
                              f"num_envs = {self.num_envs} must be divisible by it")


MAX_STEPS = 2**31 - 2**24

# Fields whose default is None: (element type, is a tuple of them).
_OPTIONAL = {
    "episode_length": (int, False),
    "updates_per_chunk": (int, False),
    "eval_every": (int, False),
    "critic_hidden_sizes": (int, True),
}


def _type_fix(kind: type, tuple_of: bool) -> str:
    name = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[kind]
    return "must be a tuple of integers, e.g. (64, 64)" if tuple_of else f"must be {name}"


def _is(value, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def _check_types(config: "TrainConfig") -> None:
    """Each field has the type of its default (or, for None defaults, see ``_OPTIONAL``)."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name in _OPTIONAL:
            if value is None:
                continue
            kind, tuple_of = _OPTIONAL[f.name]
        elif isinstance(f.default, tuple):
            kind, tuple_of = int, True
        elif f.default is None or f.default is dataclasses.MISSING:
            continue
        else:
            kind, tuple_of = type(f.default), False
        if tuple_of:
            ok = isinstance(value, (tuple, list)) and all(_is(v, kind) for v in value)
        else:
            ok = _is(value, kind)
        if not ok:
            fix = _type_fix(kind, tuple_of)
            raise ConfigError(f.name, value, fix + (" or None" if f.name in _OPTIONAL else ""))


def parse_int(text: str) -> int:
    """An integer as people type it: ``1000000``, ``1_000_000``, ``1e6``, ``5E7``, ``2.5e5``.

    Scientific notation is accepted when the value is a whole number; ``1.5`` or
    ``1e-3`` raise ``ValueError`` with a message that says so. Exact for any size
    (``decimal``, not float).
    """
    shown = text if len(text) <= 40 else text[:37] + "..."
    try:
        value = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        raise ValueError(f"{shown!r} is not a number (write an integer such as 1000000 or 1e6)") from None
    # Bounded before any conversion: int(Decimal("1e10000000")) would build a
    # ten-million-digit integer (minutes of CPU), and printing one past 4300 digits raises.
    if value.is_finite() and value.adjusted() >= MAX_INT_DIGITS:
        raise ValueError(f"{shown!r} is too large (at most {MAX_INT_DIGITS} digits)")
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"{shown!r} is not a whole number (write an integer such as 1000000 or 1e6)")
    return int(value)


# Integer flags hold at most this many digits (any field's real bound is far
# smaller and checked by ``validate``); the cap only keeps the parse cheap.
MAX_INT_DIGITS = 30


# jax.random.PRNGKey keeps the low 32 bits of a seed (2**32 and 0 give the same key;
# 2**64 overflows), so a seed is one of 2**32 values.
MAX_SEED = 2**32 - 1


def check_seed(seed, count: int = 1) -> None:
    """One-line :class:`ConfigError` unless ``seed .. seed + count - 1`` are valid seeds."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError("seed", seed, "must be a non-negative integer")
    if seed + count - 1 > MAX_SEED:
        fix = f"must be at most {MAX_SEED:,} (jax keys hold 32 bits of a seed)"
        raise ConfigError("seed", seed, fix if count == 1 else f"seed + seeds - 1 {fix}")


# Smallest CG damping accepted (NPG/TRPO): below it, float32 round-off in the singular
# Fisher dominates the direction and a step's true KL leaves max_kl far behind
# (measured on CartPole: see tests/test_natural.py).
MIN_CG_DAMPING = 1e-2


@struct.dataclass
class HParams:
    """Float hyperparameters: traced, so a batch of them can be vmapped."""

    lr: float = 2.5e-4
    """Learning rate of the policy (actor) optimizer (Adam)."""
    critic_lr: float = 2.5e-4
    """Learning rate of the value (critic) optimizer (Adam)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda (1: Monte Carlo-like, 0: one-step TD)."""
    clip_eps: float = 0.2
    """PPO ratio clip epsilon (also the value-clip range)."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient (start of its schedule)."""
    ent_coef_final: float = 0.01
    """Entropy coefficient at the end of the schedule (non-constant schedules)."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip (per network)."""
    target_kl: float = 0.0
    """Stop an update's epochs once approx-KL exceeds this (0 disables)."""
    reward_scale: float = 1.0
    """Multiply rewards by this before computing returns."""
    max_kl: float = 0.01
    """KL radius delta of NPG/TRPO: a step's quadratic KL model 0.5 s'Fs (undamped F) is delta; TRPO's line search also keeps the true mean KL(old || new) <= delta."""
    cg_damping: float = 0.1
    """Damping lambda > 0 of the Fisher-vector product (F + lambda I) v used by CG (NPG/TRPO); it shapes the direction only."""
    ls_backtrack: float = 0.8
    """TRPO line search: each trial step is this fraction of the previous one."""
    kl_coef: float = 1.0
    """Initial KL-penalty coefficient beta (PPO kl_penalty; adapted each update)."""
    kl_penalty_target: float = 0.01
    """Target KL d_targ of the adaptive penalty: beta *= 2 if KL > 1.5 d, /= 2 if KL < d / 1.5."""
    linear_baseline_reg: float = 1e-5
    """Ridge coefficient of REINFORCE's linear baseline (relative to the mean feature scale)."""

    def replace(self, **changes) -> "HParams":  # flax struct provides it; typed here
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def as_arrays(self) -> "HParams":
        return jax_tree_float32(self)

    def validate(self) -> "HParams":
        """Check types (real numbers or float arrays, finite) and ranges; one-line errors.

        Works on a batch of hyperparameters too (every element is checked).
        """
        d = self.to_dict()
        for name, value in d.items():
            arr = _as_real_array(value)
            if arr is None:
                raise ConfigError(name, value, "must be a real number")
            if not np.all(np.isfinite(arr)):
                raise ConfigError(name, value, "must be finite")
            d[name] = arr
        for name in ("lr", "critic_lr", "max_grad_norm", "reward_scale", "max_kl",
                     "kl_coef", "kl_penalty_target"):
            if not np.all(d[name] > 0):
                raise ConfigError(name, getattr(self, name), "must be > 0")
        if not np.all(d["cg_damping"] >= MIN_CG_DAMPING):
            raise ConfigError(
                "cg_damping", self.cg_damping,
                f"must be >= {MIN_CG_DAMPING:g}: the float32 Fisher is singular, and with less "
                "damping NPG steps overshoot max_kl several-fold (measured)",
            )  # fmt: skip
        for name in ("ent_coef", "ent_coef_final", "vf_coef", "target_kl", "clip_eps",
                     "linear_baseline_reg"):
            if name in d and not np.all(d[name] >= 0):
                raise ConfigError(name, getattr(self, name), "must be >= 0")
        if not np.all((d["ls_backtrack"] > 0) & (d["ls_backtrack"] < 1)):
            raise ConfigError("ls_backtrack", self.ls_backtrack, "must be in (0, 1)")
        for name in ("gamma", "gae_lambda"):
            if not np.all((d[name] >= 0) & (d[name] <= 1)):
                raise ConfigError(name, getattr(self, name), "must be in [0, 1]")
        return self


def _as_real_array(value) -> np.ndarray | None:
    """``value`` as a float array, or None if it is not real-valued (bool, str, complex...)."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        return None
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything that is not array-like
        return None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        return None
    if arr.dtype == np.bool_ or arr.size == 0:
        return None
    return arr.astype(np.float64)


def stack_hparams(hparams) -> "HParams":
    """``[HParams] * A -> HParams`` of float32 ``[A]`` arrays: a vmappable batch (a sweep)."""
    return jax.tree.map(lambda *xs: np.asarray(xs, np.float32), *hparams)


def jax_tree_float32(tree):
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)

