"""The CPU's Threefry lowering (jaxpg.prng): straight-line code, the same bits."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxpg.algos.state  # noqa: F401  (importing it puts the unrolled lowering in effect)
from jaxpg import prng


def _draws(key):
    """A split, a uniform draw and a categorical sample: three uses of the hash."""
    return jax.random.split(key, 7), jax.random.uniform(key, (5, 3)), jax.random.categorical(key, jnp.zeros((4, 6)))


def _compile(key):
    # A new function each call: jit caches by function, and the lowering rule is
    # read when a function is lowered.
    return jax.jit(lambda k: _draws(k)).lower(key).compile()


def _has_loop(compiled) -> bool:
    return " while(" in compiled.as_text()


def test_building_programs_puts_the_unrolled_hash_in_effect():
    assert jax.default_backend() == "cpu"
    assert prng.threefry_unrolled()
    assert not _has_loop(_compile(jax.random.key(0)))


def test_unrolled_hash_draws_the_same_bits_as_jaxs_rolled_loops():
    key = jax.random.key(3)
    try:
        assert prng.unroll_threefry_on_cpu(False) is False
        rolled = _compile(key)
        assert prng.unroll_threefry_on_cpu(True) is True
        unrolled = _compile(key)
    finally:
        prng.unroll_threefry_on_cpu(True)
    assert _has_loop(rolled) and not _has_loop(unrolled)
    for a, b in zip(jax.tree.leaves(rolled(key)), jax.tree.leaves(unrolled(key)), strict=True):
        a = jax.random.key_data(a) if jnp.issubdtype(a.dtype, jax.dtypes.prng_key) else a
        b = jax.random.key_data(b) if jnp.issubdtype(b.dtype, jax.dtypes.prng_key) else b
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_environment_variable_keeps_jaxs_rolled_loops(monkeypatch):
    try:
        monkeypatch.setenv(prng.ENV_VAR, "1")
        assert prng.unroll_threefry_on_cpu() is False
        assert _has_loop(_compile(jax.random.key(0)))
        monkeypatch.setenv(prng.ENV_VAR, "0")
        assert prng.unroll_threefry_on_cpu() is True
    finally:
        prng.unroll_threefry_on_cpu(True)
