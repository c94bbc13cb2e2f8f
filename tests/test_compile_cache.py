"""The persistent compilation cache's flags and variable (a second process finding
the first one's programs: the cold_warm part of tests/test_gpu_suite.py, counted by
JAX's cache-hit events)."""

import pytest

from jaxpg.cli import setup_compile_cache, split_cache_flags
from jaxpg.errors import JaxpgError
from jaxpg.runner import compile_cache

def test_directory_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv(compile_cache.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.resolve_directory() == str(tmp_path / "xdg" / "jaxpg" / "compile")
    monkeypatch.setenv(compile_cache.ENV_VAR, "/env/dir")
    assert compile_cache.resolve_directory() == "/env/dir"
    assert compile_cache.resolve_directory("/flag/dir") == "/flag/dir"
    assert compile_cache.resolve_directory("/flag/dir", disabled=True) is None
    monkeypatch.setenv(compile_cache.ENV_VAR, "off")
    assert compile_cache.resolve_directory() is None


def test_cache_flags_are_taken_out_of_the_subcommand_flags():
    assert split_cache_flags(["--seed", "1", "--compile-cache", "/c", "--quiet"]) == (["--seed", "1", "--quiet"], "/c", False)
    assert split_cache_flags(["--compile-cache=/c"]) == ([], "/c", False)
    assert split_cache_flags(["--no-compile-cache", "--seed", "2"]) == (["--seed", "2"], None, True)
    with pytest.raises(JaxpgError, match="needs a directory"):
        split_cache_flags(["--compile-cache", "--quiet"])
    with pytest.raises(JaxpgError, match="not both"):
        split_cache_flags(["--compile-cache", "/c", "--no-compile-cache"])


def test_no_compile_cache_leaves_jax_alone(monkeypatch):
    monkeypatch.setenv(compile_cache.ENV_VAR, "/not/used")
    before = compile_cache.directory()
    assert setup_compile_cache(["--no-compile-cache", "--seed", "1"]) == ["--seed", "1"]
    assert compile_cache.directory() == before
