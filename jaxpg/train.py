"""Compatibility names: the trainer and driver live in :mod:`jaxpg.runner`.

``from jaxpg.train import make_train, run`` keeps working for scripts and
notebooks written against the first layout.
"""

from jaxpg.algos.common import make_context
from jaxpg.runner.loop import RunResult, device_description, run
from jaxpg.runner.rundir import load_run_config, prepare_run_dir
from jaxpg.runner.trainer import Trainer, make_train, make_trainer

__all__ = ["make_train", "make_trainer", "make_context", "run", "RunResult", "Trainer",
           "device_description", "load_run_config", "prepare_run_dir"]  # fmt: skip
