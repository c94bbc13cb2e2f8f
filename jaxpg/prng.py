"""JAX's random-number hash (Threefry-2x32) compiled as straight-line code on the CPU.

Why: on the CPU, JAX lowers every Threefry hash -- each ``jax.random.split``,
``categorical``, ``uniform`` and each env reset's draw -- to a ``while`` loop of five
iterations ("rolled loops", to keep programs small); on GPU and TPU it emits the
twenty rounds unrolled. A training program hashes a few times per env step (the
rollout's key split, the action sample, the env's own reset draw), and on XLA's CPU
backend each of those loops runs as dozens of small kernels and loop-state copies,
and is compiled as its own loop body. Emitting the unrolled rounds instead, as on
the other backends, gives one fused elementwise kernel per hash. Measured at
``experiments/bench_peers.py``'s setting (PPO, CartPole, 16 envs; 2-core CPU, medians
of alternating processes): run 10.6 -> 8.7 s at 1 seed and 70.9 -> 59.0 s at 8 seeds,
compile 19.2 -> 16.5 and 30.2 -> 20.3 CPU s (``docs/compile-cache.md``).

The hash is the same function either way: every random number, and so every run,
is bit-for-bit what it was (``tests/test_prng.py`` checks it). The choice is
process-wide (it is JAX's lowering rule for the hash primitive) and touches only
programs compiled for the CPU after it is made; the modules that build jaxpg's
programs call :func:`unroll_threefry_on_cpu` when they are imported.
``JAXPG_ROLLED_THREEFRY=1`` in the environment keeps JAX's rolled loops.
"""

from __future__ import annotations

import os

ENV_VAR = "JAXPG_ROLLED_THREEFRY"

_state = {"unrolled": False}


def unroll_threefry_on_cpu(enabled: bool | None = None) -> bool:
    """Lower Threefry on the CPU unrolled (``enabled``; default: unless ``JAXPG_ROLLED_THREEFRY``
    is set to a non-empty value other than ``0``), or rolled as JAX does by default.

    Returns whether the unrolled lowering is now in effect. Idempotent. With a JAX
    whose internals moved (the rule is private), nothing changes and it returns False.
    """
    if enabled is None:
        enabled = os.environ.get(ENV_VAR, "") in ("", "0")
    if enabled == _state["unrolled"]:
        return _state["unrolled"]
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32 as threefry
    except ImportError:  # pragma: no cover - a JAX whose layout changed
        return False
    rule_name = "_threefry2x32_lowering_rule" if enabled else "_threefry2x32_cpu_lowering_rule"
    rule = getattr(threefry, rule_name, None)
    primitive = getattr(threefry, "threefry2x32_p", None)
    if rule is None or primitive is None:  # pragma: no cover - a JAX whose layout changed
        return False
    mlir.register_lowering(primitive, rule, platform="cpu")
    _state["unrolled"] = enabled
    return enabled


def threefry_unrolled() -> bool:
    """Whether :func:`unroll_threefry_on_cpu` has put the unrolled lowering in effect."""
    return _state["unrolled"]
