"""JAX's persistent compilation cache, on by default for the ``jaxpg`` command.

A compiled program is written to a per-user directory and read back by the next
process that compiles the same program, so a rerun (another seed, a resume, a
sweep after a smoke test) skips XLA's compilation; tracing and lowering still run.

What makes this safe is JAX's own cache (``jax/_src/compilation_cache.py``,
``cache_key.py``, ``lru_cache.py``), configured here:

- the key hashes the lowered program, the jaxlib version, the backend's platform
  and version, the XLA flags, the compile options and the devices' kind and
  topology, so an entry is never used across jaxlib versions or devices;
- with a size bound set, every read and write holds a file lock (``filelock``)
  and the least recently used entries are evicted past the bound, so two
  processes compiling the same program at once write it once and never read a
  half-written file;
- a program is cached when it took at least :data:`MIN_COMPILE_S` to compile
  (JAX's default, 1 s, skipped most of ours on a GPU).

Precedence: ``--no-compile-cache`` > ``--compile-cache DIR`` > the environment
variable ``JAXPG_COMPILE_CACHE`` (a directory, or ``off``) > the default
``$XDG_CACHE_HOME/jaxpg/compile`` (``~/.cache/jaxpg/compile``). Library users opt
in with :func:`enable_compile_cache`. Clearing the cache is deleting the directory.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass


from jaxpg.errors import ConfigError

ENV_VAR = "JAXPG_COMPILE_CACHE"
OFF_VALUES = ("off", "0", "none", "false", "no")
# Least recently used entries are deleted past this size (a CartPole PPO chunk
# program is ~0.5 MB, a Brax one a few MB).
DEFAULT_MAX_BYTES = 2 * 1024**3
# Programs that compile faster than this are not written: below it reading the
# entry saves little, and every tiny op-by-op program would become a file.
MIN_COMPILE_S = 0.1

_EVENTS = {
    "/jax/compilation_cache/compile_requests_use_cache": "requests",
    "/jax/compilation_cache/cache_hits": "hits",
    "/jax/compilation_cache/cache_misses": "writes",
}
# JAX's time spans of its compilation stages (``jax/_src/dispatch.py``), every program
# of the process: a command's trace / lower / XLA-compile split without timing each
# program by hand (``jaxpg sweep``, ``jaxpg rlhf``).
_STAGES = {
    "/jax/core/compile/jaxpr_trace_duration": "trace_s",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower_s",
    "/jax/core/compile/backend_compile_duration": "compile_s",
}


@dataclass
class CacheCounts:
    """Compilations that looked in the cache, found their program there, wrote it."""

    requests: int = 0
    hits: int = 0
    writes: int = 0
    since: float = 0.0  # time.time() of the snapshot: stage spans are counted from it

    def minus(self, before: CacheCounts) -> CacheCounts:
        return CacheCounts(self.requests - before.requests, self.hits - before.hits, self.writes - before.writes,
                           before.since)  # fmt: skip


_counts = CacheCounts()
_lock = threading.Lock()
_spans: dict[str, list[tuple[float, float]]] = {name: [] for name in _STAGES.values()}
_listening = False
_directory: str | None = None


def _on_event(event: str, **_) -> None:
    name = _EVENTS.get(event)
    if name is not None:
        with _lock:
            setattr(_counts, name, getattr(_counts, name) + 1)


def _on_span(event: str, start: float, end: float, **_) -> None:
    name = _STAGES.get(event)
    if name is not None:
        with _lock:
            _spans[name].append((start, end))


def stage_seconds(since: float) -> dict[str, float]:
    """Wall seconds spent tracing, lowering and XLA-compiling since ``since``
    (``time.time()``): the union of JAX's spans, so a program traced inside another
    (a nested ``jit``) is not counted twice."""
    with _lock:
        spans = {name: sorted(s for s in v if s[0] >= since) for name, v in _spans.items()}
    out = {}
    for name, v in spans.items():
        total, end = 0.0, -float("inf")
        for a, b in v:
            total += max(0.0, b - max(a, end))
            end = max(end, b)
        out[name] = total
    return out


def counts() -> CacheCounts:
    """The counts since the process started (since :func:`enable_compile_cache`)."""
    with _lock:
        return CacheCounts(_counts.requests, _counts.hits, _counts.writes, time.time())


def default_directory() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxpg", "compile")


def resolve_directory(flag_dir: str | None = None, disabled: bool = False) -> str | None:
    """The cache directory the flags and ``JAXPG_COMPILE_CACHE`` ask for; ``None``: off."""
    if disabled:
        return None
    if flag_dir:
        return flag_dir
    env = os.environ.get(ENV_VAR)
    if env is not None and env.strip().lower() in OFF_VALUES + ("",):
        return None
    return env or default_directory()


def enable_compile_cache(directory: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Turn on JAX's persistent compilation cache in ``directory`` (default: the
    ``JAXPG_COMPILE_CACHE`` variable, else ``$XDG_CACHE_HOME/jaxpg/compile``).

    Call it before the first compilation you want cached. Returns the directory.
    ``max_bytes``: the least recently used entries are deleted past this size.
    """
    import jax  # here, not at import: `jaxpg` installs its signal handler first
    from jax.experimental.compilation_cache import compilation_cache as _jax_cache
    global _listening, _directory
    directory = os.path.abspath(os.path.expanduser(directory or resolve_directory() or default_directory()))
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ConfigError("max_bytes", max_bytes, "must be a positive number of bytes")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise ConfigError("compile_cache", directory, f"cannot create the directory ({e.strerror})") from None
    if not os.access(directory, os.W_OK):
        raise ConfigError("compile_cache", directory, "is not writable")
    if _directory is not None and _directory != directory:
        _jax_cache.reset_cache()  # JAX opens its cache once: reopen it at the new place
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_max_size", max_bytes)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_S)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # no size floor
    _directory = directory
    if not _listening:
        jax.monitoring.register_event_listener(_on_event)
        jax.monitoring.register_event_time_span_listener(_on_span)
        _listening = True
    return directory


def disable_compile_cache() -> None:
    """Stop using the persistent cache in this process (programs compile as usual)."""
    import jax  # here, not at import: `jaxpg` installs its signal handler first
    from jax.experimental.compilation_cache import compilation_cache as _jax_cache
    global _directory
    jax.config.update("jax_enable_compilation_cache", False)
    if _directory is not None:
        _jax_cache.reset_cache()
    _directory = None


def directory() -> str | None:
    """The cache directory in use, ``None`` when jaxpg did not turn the cache on."""
    return _directory


def summary(before: CacheCounts) -> dict:
    """``summary.json``'s ``compile_cache`` entry for what compiled since ``before``:
    how many compilations looked in the cache, how many found their program there
    and how many wrote a new entry (small programs, under :data:`MIN_COMPILE_S`,
    are looked up but never written), and the wall seconds all compilations spent
    tracing, lowering and in XLA (``stage_seconds``)."""
    now = counts().minus(before)
    return {"directory": _directory, "lookups": now.requests, "hits": now.hits, "written": now.writes,
            **stage_seconds(before.since)}  # fmt: skip


def compile_timed(jitted, *args) -> tuple[object, dict]:
    """``jitted.trace(*args).lower().compile()``, timing each stage.

    Returns the compiled program and ``{"trace_s", "lower_s", "compile_s",
    "from_cache"}``; ``from_cache`` is whether XLA's compilation was skipped because
    the persistent cache had the program.
    """
    before = counts()
    t0 = time.perf_counter()
    traced = jitted.trace(*args)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    hits = counts().minus(before).hits
    return compiled, {"trace_s": t1 - t0, "lower_s": t2 - t1, "compile_s": t3 - t2, "from_cache": hits > 0}
