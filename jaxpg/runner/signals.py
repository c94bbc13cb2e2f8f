"""SIGINT/SIGTERM end a run at the next chunk boundary (with a checkpoint), not mid-chunk."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class StopRequest:
    """Signal handler that asks the driver to stop at the next chunk boundary.

    The first SIGINT/SIGTERM sets ``signum``; a second one sets ``forced``, and the
    driver then raises KeyboardInterrupt (:meth:`check`) so an impatient user can
    still abort, without the final checkpoint.

    The handler itself never raises. Python runs it between any two bytecodes of
    the main thread, also inside a ``gc`` callback (jax registers one that runs on
    every collection), a ``__del__`` or a weakref callback; an exception raised
    there cannot propagate: Python prints it as "unraisable" and drops it, and the
    abort would be lost. So the handler only records, and the driver raises from
    its own code, where nothing can swallow it.
    """

    def __init__(self):
        self.signum: int | None = None
        self.forced = False

    def __call__(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        else:
            self.forced = True

    def check(self) -> None:
        """Raise KeyboardInterrupt if a second signal came (call from driver code only)."""
        if self.forced:
            raise KeyboardInterrupt("aborted by a second signal")


@contextmanager
def stop_on_signals(enabled: bool):
    """Yield a :class:`StopRequest` installed for SIGINT and SIGTERM (main thread only).

    On a normal exit a second signal that came in the block (or while the previous
    handlers were put back) raises KeyboardInterrupt here, after the handlers are
    restored."""
    request = StopRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {s: signal.signal(s, request) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        # signal.signal runs pending handlers first, so no signal meant for
        # ``request`` reaches the restored handler instead.
        for s, handler in previous.items():
            signal.signal(s, handler)
    request.check()


def signal_name(signum: int | None) -> str | None:
    return signal.Signals(signum).name if signum else None
