"""User-facing errors.

A :class:`JaxpgError` is something the *user* can fix (a typo, an impossible batch
size, a missing file). The CLI prints its message as one line and exits with
status 2; everything else is a bug and keeps its traceback.
"""


class JaxpgError(Exception):
    """A user-facing error: one line saying what is wrong and how to fix it."""


class ConfigError(JaxpgError):
    """A configuration field has an invalid value."""

    def __init__(self, field: str, value, fix: str):
        self.field, self.value, self.fix = field, value, fix
        super().__init__(f"invalid {field}={value!r}: {fix}")
