"""Population-based training (Jaderberg et al. 2017) inside one compiled program.

``P`` members of one algorithm on one env train as ``vmap`` over the train state
(sharded over devices, as a sweep's agents are); every ``interval`` updates a
*ready step* in ``lax`` ops scores each member (the mean return of the episodes it
finished in the interval), lets the bottom ``fraction`` copy the parameters,
optimizer states and observation statistics of a member drawn from the top
``fraction`` (a gather on the population axis) and perturbs the copied
hyperparameters within the ``--explore`` bounds. The population never leaves the
device between log lines.

* :mod:`~jaxpg.pbt.space`: the search space (``--explore``, the sweep grammar) and
  :class:`PBTConfig`.
* :mod:`~jaxpg.pbt.ready`: score, select, exploit, explore (pure, ``lax``).
* :mod:`~jaxpg.pbt.population`: rounds of updates + ready step as compiled chunks.
* :mod:`~jaxpg.pbt.driver`: the host loop, checkpoints, resume, signals.
* :mod:`~jaxpg.pbt.report`: lineage, schedules, ``pbt.json``, ``best.json``, figure.
"""

from jaxpg.pbt.driver import PBTResult, Record, run_pbt
from jaxpg.pbt.ready import Population, exploit, explore, interval_score, ready, select
from jaxpg.pbt.space import PBTConfig, check_space, initial_population, parse_explore

__all__ = [
    "PBTConfig", "PBTResult", "Population", "Record", "check_space", "exploit", "explore",
    "initial_population", "interval_score", "parse_explore", "ready", "run_pbt", "select",
]  # fmt: skip
