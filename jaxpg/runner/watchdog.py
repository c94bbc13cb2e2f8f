"""A progress watchdog for the chunked driver: never let a user stare at a silent terminal.

A compiled chunk gives no sign of life until it returns. If one runs far longer than
the chunks before it (a deadlock, a machine swapping, a device that stopped), the
watchdog prints one line naming the chunk and how long it has run, and repeats at
doubling intervals while it keeps running. It only reports; it never interrupts.

The rule (documented in the README): a chunk is late after
``max(min_seconds, factor * median(recent chunk times))``, default ``max(60 s, 10x)``;
the first chunk, with nothing to compare against, after ``first_chunk_seconds``
(default 600 s). Compilation happens before a chunk is timed and never counts.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Callable, Iterator


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class ChunkWatchdog:
    """Times chunks and warns, from a timer thread, about one that is late."""

    def __init__(
        self,
        factor: float = 10.0,
        min_seconds: float = 60.0,
        first_chunk_seconds: float = 600.0,
        emit: Callable[[str], None] = _stderr,
        window: int = 20,
    ):
        self.factor = factor
        self.min_seconds = min_seconds
        self.first_chunk_seconds = first_chunk_seconds
        self.emit = emit
        self.durations: deque[float] = deque(maxlen=window)
        self.warnings: list[str] = []

    def deadline(self) -> float:
        """Seconds after which the next chunk counts as late."""
        if not self.durations:
            return self.first_chunk_seconds
        return max(self.min_seconds, self.factor * statistics.median(self.durations))

    def _message(self, label: str, elapsed: float) -> str:
        if self.durations:
            usual = statistics.median(self.durations)
            ratio = f"{elapsed / max(usual, 1e-9):.0f}x the median of the previous chunks ({usual:.3g} s)"
        else:
            ratio = "and it is the first"
        return (
            f"jaxpg: {label} has been running for {elapsed:.0f} s, {ratio}; still waiting. "
            "If it never finishes, a thread dump (py-spy dump --native --pid PID) shows where."
        )

    @contextmanager
    def watch(self, label: str) -> Iterator[None]:
        """Time the block; warn each time it outlives the deadline, then twice as long."""
        start = time.perf_counter()
        done = threading.Event()

        def monitor(wait: float) -> None:
            while not done.wait(wait):
                line = self._message(label, time.perf_counter() - start)
                self.warnings.append(line)
                self.emit(line)
                wait *= 2

        thread = threading.Thread(target=monitor, args=(self.deadline(),), daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
            self.durations.append(time.perf_counter() - start)
