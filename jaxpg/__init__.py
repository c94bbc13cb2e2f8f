"""jaxpg: policy-gradient methods compiled end to end in JAX."""

from jaxpg.runner.compile_cache import disable_compile_cache, enable_compile_cache

__all__ = ["enable_compile_cache", "disable_compile_cache"]
