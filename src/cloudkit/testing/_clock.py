"""`FakeClock`: monotonic time that only moves when something sleeps on it (no test sleeps for real)."""

from __future__ import annotations

import threading
import time

__all__ = ["FakeClock", "PacedClock"]


class FakeClock:
    """A monotonic clock plus a ``sleep`` that advances it; records every sleep.

    Example:
        >>> from cloudkit.testing import FakeClock
        >>> clock = FakeClock()
        >>> clock.sleep(1.5); clock.sleep(0.5)
        >>> clock(), clock.sleeps
        (2.0, [1.5, 0.5])
    """

    def __init__(self, start: float = 0.0) -> None:
        """Start at ``start`` seconds."""
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        """The current time in seconds."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` at once."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep (time passing elsewhere)."""
        with self._lock:
            self._now += seconds


class PacedClock(FakeClock):
    """A :class:`FakeClock` whose sleeps also really pass: for tests against real services.

    Time is the sum of the sleeps, as on a ``FakeClock``, so a wait polls exactly as often against a real
    service as when its cassette is replayed on a ``FakeClock`` (request latency never costs a poll),
    while the real service gets real seconds to change state.

    Example:
        >>> from cloudkit.testing import PacedClock
        >>> clock = PacedClock()
        >>> clock.sleep(0.01)
        >>> clock(), clock.sleeps
        (0.01, [0.01])
    """

    def sleep(self, seconds: float) -> None:
        """Sleep for real, then advance the clock by ``seconds``."""
        time.sleep(seconds)
        super().sleep(seconds)
