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


def test_stage_seconds_count_nested_and_overlapping_spans_once(monkeypatch):
    """A jit traced inside another reports a span inside the outer one: the split is
    the union of JAX's spans, not their sum; spans before the snapshot do not count."""
    monkeypatch.setattr(compile_cache, "_spans", {name: [] for name in compile_cache._STAGES.values()})
    trace, compile_ = "/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/backend_compile_duration"
    compile_cache._on_span(trace, 5.0, 6.0)  # before the snapshot
    for start, end in [(11.0, 12.0), (10.0, 14.0), (13.0, 15.0), (20.0, 21.0)]:  # nested, overlapping
        compile_cache._on_span(trace, start, end)
    compile_cache._on_span(compile_, 15.0, 17.5)
    compile_cache._on_span("/jax/some/other_event", 10.0, 30.0)
    assert compile_cache.stage_seconds(since=10.0) == {"trace_s": 6.0, "lower_s": 0.0, "compile_s": 2.5}
