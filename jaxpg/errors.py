class JaxpgError(Exception):
    """A user-facing error: one line saying what is wrong and how to fix it."""
