"""Names the benchmark scripts need, from either jaxpg layout.

Issue 11 moves the run-directory writers into ``jaxpg.runner``, ``make_batch`` into
``jaxpg.batch`` (taking the networks instead of the context) and the optimizers into
``jaxpg.optim``; the benchmarks import these from here so they run before and after
that change.
"""

from __future__ import annotations

try:  # the layout with the runner/ package
    from jaxpg.runner.logging import write_json
except ImportError:
    from jaxpg.logging import write_json

try:
    from jaxpg.batch import make_batch as _make_batch

    def make_batch(ctx, params, traj, hparams):
        """The PPO batch (values, GAE advantages, targets) of ``traj``."""
        return _make_batch(ctx.nets, params, traj, hparams)

except ImportError:
    from jaxpg.algos.ppo import make_batch

try:
    from jaxpg.optim import actor_critic as actor_critic_optimizers
except ImportError:
    from jaxpg.algos.common import hparams_opt as actor_critic_optimizers

__all__ = ["write_json", "make_batch", "actor_critic_optimizers"]
