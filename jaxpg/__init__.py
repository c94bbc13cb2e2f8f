"""jaxpg: policy-gradient training (REINFORCE, A2C, NPG, TRPO, PPO) compiled with JAX.

The public API, one import path::

    from jaxpg import HParams, RunOptions, TrainConfig, make_train, preset, run

``make_train(config)`` returns the pure ``train(key, hparams)`` (jit/vmap it);
``run(config, hparams, RunOptions(...))`` is the chunked driver that writes a run
directory; ``preset(algo, env)`` the tuned defaults (a ``Preset``); ``validate`` the one check of
a run's inputs; ``envs.make`` / ``envs.adapt`` make or wrap environments.
"""

import importlib

# Where each public name lives. They load on first use (PEP 562), so `import jaxpg.cli`
# does not import jax: the `jaxpg` command installs its signal handling first (a
# Ctrl-C during `import jax` would otherwise land inside the import, see
# jaxpg.runner.signals.StartupExit).
_PUBLIC = {
    "envs": "jaxpg.envs",
    "HParams": "jaxpg.config",
    "TrainConfig": "jaxpg.config",
    "ConfigError": "jaxpg.errors",
    "JaxpgError": "jaxpg.errors",
    "Preset": "jaxpg.presets",
    "preset": "jaxpg.presets",
    "disable_compile_cache": "jaxpg.runner.compile_cache",
    "enable_compile_cache": "jaxpg.runner.compile_cache",
    "RunResult": "jaxpg.runner.loop",
    "run": "jaxpg.runner.loop",
    "RunOptions": "jaxpg.runner.options",
    "Trainer": "jaxpg.runner.trainer",
    "make_train": "jaxpg.runner.trainer",
    "make_trainer": "jaxpg.runner.trainer",
    "validate": "jaxpg.validation",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'jaxpg' has no attribute {name!r}")
    module = importlib.import_module(_PUBLIC[name])
    value = module if module.__name__ == f"jaxpg.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
