"""Session-wide test setup."""

import os

import pytest

from jaxpg.runner.compile_cache import ENV_VAR


@pytest.fixture(scope="session", autouse=True)
def compile_cache_in_a_temp_dir(tmp_path_factory):
    """``jaxpg`` subprocesses cache their programs in a directory of this test session,
    never the user's ``~/.cache``; no test relies on it being warm (the ones that
    check the cache give their own ``--compile-cache``)."""
    old = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(tmp_path_factory.mktemp("compile-cache"))
    yield
    if old is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = old
