"""Trust region policy optimization (Schulman et al. 2015), compiled.

The NPG direction (:mod:`jaxpg.algos.npg`) scaled to the KL radius ``delta``,
then a backtracking line search over ``backtrack^k`` fractions of that step
(``k < ls_steps``) that accepts the largest one whose mean
``KL(pi_old || pi_new) <= delta`` *and* whose surrogate improves; if none
qualifies the policy is left unchanged (``step_fraction`` 0 in the metrics).
The critic is fitted by several Adam epochs per batch. ``delta`` defaults to 0.01.
"""

from __future__ import annotations

from jaxpg.algos.npg import init, natural_update
from jaxpg.algos.state import Context, TrainState
from jaxpg.algos.update import gae_policy_gradient
from jaxpg.config import HParams

policy_gradient = gae_policy_gradient
__all__ = ["init", "update", "policy_gradient"]


def update(ctx: Context, state: TrainState, hparams: HParams):
    """One TRPO iteration: natural direction, KL-constrained line search, critic fit."""
    return natural_update(ctx, state, hparams, line_search=True)


