"""SIGINT/SIGTERM end a run at the next chunk boundary (with a checkpoint), not mid-chunk."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class StopRequest:
    """Signal handler that asks the driver to stop at the next chunk boundary.

    The first SIGINT/SIGTERM only sets ``signum``; a second one raises
    KeyboardInterrupt so an impatient user can still abort at once.
    """

    def __init__(self):
        self.signum: int | None = None

    def __call__(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum


@contextmanager
def stop_on_signals(enabled: bool):
    """Yield a :class:`StopRequest` installed for SIGINT and SIGTERM (main thread only)."""
    request = StopRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {s: signal.signal(s, request) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def signal_name(signum: int | None) -> str | None:
    return signal.Signals(signum).name if signum else None
