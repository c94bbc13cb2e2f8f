"""The compile-profile helpers of ``experiments/bench_peers.py`` (HLO op counts, nested
jaxpr equations) on tiny programs whose answers are known."""

import os
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
from experiments.bench_peers import count_eqns, hlo_stats  # noqa: E402


def test_hlo_stats_counts_a_loop_only_where_there_is_one():
    straight = jax.jit(lambda x: jnp.sin(x) * 2.0).lower(1.0).compile().as_text()
    looped = jax.jit(lambda x: jax.lax.fori_loop(0, jnp.int32(x), lambda i, c: c * 1.5 + i, x))
    looped = looped.lower(3.0).compile().as_text()
    a, b = hlo_stats(straight), hlo_stats(looped)
    assert a["while"] == 0 and b["while"] == 1
    assert a["instructions"] > 0 and b["instructions"] > a["instructions"]
    assert a["chars"] == len(straight)


def test_count_eqns_includes_the_bodies_of_scans():
    def f(x):
        y = jnp.sin(x)  # 1
        body = lambda c, _: (jnp.cos(c) + 1.0, None)  # 2 inside the scan
        return jax.lax.scan(body, y, None, length=3)[0]  # 1: the scan itself

    assert count_eqns(jax.make_jaxpr(f)(1.0).jaxpr) == 4


def test_bench_peers_refuses_more_cpus_than_it_may_use(capsys):
    """``--cpus`` beyond this process's CPUs: exit 2 and one line, before any peer venv is built."""
    import os

    from experiments.bench_peers import main

    n = len(os.sched_getaffinity(0))
    assert main(["--cpus", str(n + 1), "--venv", "/nonexistent/venv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --cpus {n + 1}: this process may use {n} CPU(s); give 1 to {n}"]


def test_ablation_script_names_its_parts_on_a_typo(capsys):
    from experiments.ablate_peers_program import main

    assert main(["--variants", "nodiag+nodiags"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: unknown part(s) nodiags in --variants nodiag+nodiags; choose from "
                   "nodiag, nometrics, noflags, nooldsplit, gaeunroll"]


def test_pieces_profile_fits_a_step_cost_line_exactly():
    """The minibatch step's fixed and per-row cost from its times at several sizes."""
    from experiments.profile_peers_pieces import fit_line

    by_rows = {"32": {"us": 100.0}, "128": {"us": 292.0}, "512": {"us": 1060.0}}  # 36 + 2 us/row
    fixed, per_row = fit_line(by_rows)
    assert abs(fixed - 36.0) < 1e-9 and abs(per_row - 2.0) < 1e-12
    assert fit_line({"128": {"us": 292.0}}) is None


def test_pieces_profile_sorts_kernels_by_what_runs_them():
    """A dot and an elementwise loop: one ``xla dot`` or ``ynnpack`` kernel, and the
    bookkeeping instructions (parameters, tuples) not counted."""
    from experiments.profile_peers_pieces import kernel_kinds

    compiled = jax.jit(lambda a, b: jnp.tanh(a.T @ b) * 2.0).lower(jnp.ones((8, 4)), jnp.ones((8, 3))).compile()
    kinds = kernel_kinds(compiled)
    assert kinds and not any(k in ("parameter", "tuple", "get-tuple-element") for k in kinds.values())
    assert sum(k in ("xla dot", "ynnpack") for k in kinds.values()) >= 1


def test_pieces_profile_refuses_bad_input_in_one_line(capsys, tmp_path):
    from experiments.profile_peers_pieces import main

    n = len(os.sched_getaffinity(0))
    assert main(["--rows-sweep", "16", "0"]) == 2
    assert main(["--cpus", str(n + 1)]) == 2
    assert main(["--venv", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --rows-sweep 0: give 1 or more",
                   f"error: --cpus {n + 1}: this process may use {n} CPU(s); give 1 to {n}",
                   f"error: no rejax virtualenv at {tmp_path / 'none'}: run experiments/bench_peers.py once "
                   "(it builds one) or pass --venv"]


def test_a_worker_pins_itself_to_the_cpus_it_is_given():
    """bench_peers' and profile_peers_pieces' workers set their own CPUs (``--pin``) before
    jax starts, in place of a ``preexec_fn`` that would run in a fork of a process where
    jax's threads already run."""
    import subprocess

    first = min(os.sched_getaffinity(0))
    code = "import os; from experiments.bench_peers import pin_self; pin_self(%r); print(sorted(os.sched_getaffinity(0)))"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code % str(first)], capture_output=True, text=True, check=True,
                         cwd=root).stdout  # fmt: skip
    assert out.strip() == f"[{first}]"
