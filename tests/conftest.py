"""Session-wide test setup."""

import os

# The tests check code paths and numbers (to tolerances), not speed, and compiling is
# most of their time: XLA's CPU backend optimizations are turned down for this process
# and every subprocess it starts (about 40% less compile CPU time on a PPO program,
# programs run about 2x slower). Set before jax creates its CPU client, which reads
# XLA_FLAGS once. A test that sets XLA_FLAGS for a subprocess keeps these in it.
FAST_XLA = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
if FAST_XLA not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_XLA}".strip()

import pytest  # noqa: E402

from jaxpg.runner import compile_cache  # noqa: E402


def shared_temp_dir(tmp_path_factory, name: str):
    """A directory of this test session that every xdist worker shares (each worker's
    own base temp dir sits in one session directory): a program compiled by one worker
    is read back by the other. JAX's cache locks its files, so concurrent writers are safe."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        path = tmp_path_factory.getbasetemp().parent / name
        path.mkdir(exist_ok=True)
        return path
    return tmp_path_factory.mktemp(name)


@pytest.fixture(scope="session", autouse=True)
def compile_cache_in_a_temp_dir(tmp_path_factory):
    """The test processes and their ``jaxpg`` subprocesses cache their programs in a
    directory of this test session, never the user's ``~/.cache`` (a program compiled again by a
    later test, or by a subprocess, is then read back). No test relies on it being warm:
    the ones that check the cache give their own directory."""
    old = os.environ.get(compile_cache.ENV_VAR)
    directory = str(shared_temp_dir(tmp_path_factory, "compile-cache"))
    os.environ[compile_cache.ENV_VAR] = directory
    compile_cache.enable_compile_cache(directory)
    yield
    compile_cache.disable_compile_cache()
    if old is None:
        os.environ.pop(compile_cache.ENV_VAR, None)
    else:
        os.environ[compile_cache.ENV_VAR] = old
