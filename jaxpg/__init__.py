"""jaxpg: policy-gradient training (REINFORCE, A2C, NPG, TRPO, PPO) compiled with JAX.

The public API, one import path::

    from jaxpg import HParams, RunOptions, TrainConfig, make_train, preset, run

``make_train(config)`` returns the pure ``train(key, hparams)`` (jit/vmap it);
``run(config, hparams, RunOptions(...))`` is the chunked driver that writes a run
directory; ``preset(algo, env)`` the tuned defaults; ``validate`` the one check of
a run's inputs; ``envs.make`` / ``envs.adapt`` make or wrap environments.
"""

from jaxpg import envs
from jaxpg.config import HParams, TrainConfig
from jaxpg.errors import ConfigError, JaxpgError
from jaxpg.presets import preset
from jaxpg.runner.compile_cache import disable_compile_cache, enable_compile_cache
from jaxpg.runner.loop import RunResult, run
from jaxpg.runner.options import RunOptions
from jaxpg.runner.trainer import Trainer, make_train, make_trainer
from jaxpg.validate import validate

__all__ = ["ConfigError", "disable_compile_cache", "enable_compile_cache", "HParams", "JaxpgError", "RunOptions", "RunResult", "TrainConfig", "Trainer",
           "envs", "make_train", "make_trainer", "preset", "run", "validate"]  # fmt: skip
