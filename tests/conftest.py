"""Test-session setup.

jaxlib 0.10.2's CPU runtime intermittently deadlocks (every worker parked, the
caller stuck in BlockUntilReady) on vmapped training programs when its thread pool
has more than one thread: tests/test_ppo.py's vmap tests hung in 1 of 3 runs on
this 2-core machine with XLA's defaults, with --xla_cpu_multi_thread_eigen=false,
with --xla_cpu_use_xnnpack=false and with async dispatch off, and in 0 of 6 pinned
to one core. XLA sizes its pool from the process's CPU affinity, so the test
session (and the subprocesses it starts, which inherit it) runs on one core, before
jax is imported. Set JAXPG_TEST_ALL_CORES=1 to use every core.
"""

import os

if not os.environ.get("JAXPG_TEST_ALL_CORES") and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
