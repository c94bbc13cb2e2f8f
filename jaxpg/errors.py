"""User-facing errors.

A :class:`JaxpgError` is something the *user* can fix (a typo, an impossible batch
size, a missing file). The CLI prints its message as one line and exits with
status 2; everything else is a bug and keeps its traceback.
"""


class JaxpgError(Exception):
    """A user-facing error: one line saying what is wrong and how to fix it."""

    exit_status = 2


class WriteFailed(JaxpgError):
    """A file of the run could not be written (disk full, quota, read-only, I/O error):
    the environment's fault, not the input's, so the CLI exits 1."""

    exit_status = 1

    def __init__(self, path: str, e: BaseException, free: str):
        self.path = path
        reason = getattr(e, "strerror", None) or _short(str(e)) or type(e).__name__
        super().__init__(f"cannot write {path}: {reason} ({free} free on its disk)")


class ConfigError(JaxpgError):
    """A configuration field has an invalid value."""

    def __init__(self, field: str, value, fix: str):
        self.field, self.value, self.fix = field, value, fix
        super().__init__(f"invalid {field}={value!r}: {fix}")


def _short(text: str, limit: int = 160) -> str:
    """The first line of an error message, at most ``limit`` characters; tensorstore's
    "No space left on device" sits at the end of a long line, so keep the end too."""
    first = (text.strip().splitlines() or [""])[0]
    return first if len(first) <= limit else f"{first[:80]} ... {first[-(limit - 85):]}"
