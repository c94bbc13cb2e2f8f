"""SIGINT/SIGTERM end a run at the next chunk boundary (with a checkpoint), not mid-chunk."""

from __future__ import annotations

import os
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


class StartupExit:
    """Until a command has done work worth saving, SIGINT/SIGTERM end the process at
    once with one line (exit 128 + signal), whatever the main thread is doing.

    Why not Python's default handler: a KeyboardInterrupt raised at an arbitrary
    bytecode during start-up lands inside ``import jax`` (an ``ImportError`` about the
    extension), inside jax's ``gc`` callback (printed as "Exception ignored" and
    dropped: the run went on and exited 0), or unwinds the main thread while XLA's
    threads are still compiling; the interpreter then finalizes and C++ static
    destructors run under those threads ("pure virtual method called", "free():
    corrupted unsorted chunks", SIGSEGV). And a Python handler only runs between
    bytecodes of the main thread, so not before a minute-long compile returns.

    So the handler only records the signal, and its wake-up byte (``set_wakeup_fd``)
    reaches a small thread that writes the line and calls ``os._exit``: no unwinding,
    no finalizers, no destructors racing XLA's threads. Nothing is lost: until
    :meth:`done_starting` there is nothing a checkpoint would keep, and the run
    directory's lock dies with the process. Commands that write as they go (a sweep's
    finished groups) update :attr:`hint` so the line says how to continue.
    """

    def __init__(self, prog: str):
        self.prog = prog
        self.hint = "nothing was saved; run the command again"
        self.when = " while starting"
        self.request = StopRequest()
        self._active = True

    def install(self) -> bool:
        """Install for SIGINT/SIGTERM (main thread only); returns whether it did."""
        if threading.current_thread() is not threading.main_thread():
            return False
        r, self._w = os.pipe()
        os.set_blocking(self._w, False)
        self._previous_fd = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        self._previous = {s: signal.signal(s, self.request) for s in (signal.SIGINT, signal.SIGTERM)}
        threading.Thread(target=self._watch, args=(r,), name="jaxpg-startup-exit", daemon=True).start()
        return True

    def uninstall(self) -> None:
        """Put back the previous handlers (a command run in-process, e.g. by a test)."""
        self._active = False
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._w)  # the watcher reads end-of-file and returns

    def done_starting(self) -> None:
        """From now on a signal is the driver's to handle (stop at a chunk boundary)."""
        self._active = False

    def _watch(self, fd: int) -> None:
        while data := os.read(fd, 16):
            for signum in data:
                if self._active and signum in (signal.SIGINT, signal.SIGTERM):
                    name = signal.Signals(signum).name
                    try:
                        os.write(2, f"{self.prog}: interrupted by {name}{self.when}; {self.hint}\n".encode())
                    except OSError:  # stderr gone (its reader died): exit all the same
                        pass
                    os._exit(128 + signum)
        os.close(fd)


_startup: StartupExit | None = None


@contextmanager
def exit_while_starting(prog: str):
    """:class:`StartupExit` installed for the block (the ``jaxpg`` command's whole run;
    it is installed before jax is imported)."""
    global _startup
    guard = StartupExit(prog)
    if not guard.install():
        yield None
        return
    _startup = guard
    try:
        yield guard
    finally:
        _startup = None
        guard.uninstall()


def startup_hint(text: str, when: str = " while starting") -> None:
    """What the one line on an early signal tells the user to do (no-op without the guard)."""
    if _startup is not None:
        _startup.hint, _startup.when = text, when


def done_starting() -> None:
    """The driver has work worth saving: signals now stop it at the next chunk boundary."""
    if _startup is not None:
        _startup.done_starting()
