"""`RetryPolicy`: the one retry layer in cloudkit, on tenacity.

Only this layer retries: httpx transports and keystoneauth are built with retries off, so attempts never
multiply. A policy has a cap on attempts AND a deadline (both finite), exponential backoff with jitter,
an injectable ``sleep`` and ``clock`` for tests, and logs every retry with system, operation, attempt,
delay and the quirk that made the error retryable. When attempts run out the last cloudkit error is
re-raised with a note of attempts and time, never wrapped in a generic RetryError.

Waiting for a status transition is the same layer's other half: a :class:`Poller` decides when to look
again, within a finite budget, and learns from earlier waits of the same kind when the transition ends.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import attrs
import tenacity

from cloudkit.errors import CloudkitError, ConfigError, WaitTimeoutError

__all__ = ["Poller", "RetryPolicy"]

log = logging.getLogger("cloudkit.retry")
T = TypeVar("T")


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, CloudkitError) and exc.retryable


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ConfigError(f"RetryPolicy.{attribute.name} must be > 0, got {value!r}")


class _StopPastDeadline(tenacity.stop.stop_base):
    """Stop when the next attempt would start after the deadline, measured on the injected clock
    (tenacity's own stop_before_delay reads time.monotonic, which a fake sleep does not advance).
    """  # noqa: D205

    def __init__(self, clock: Callable[[], float], started: float, deadline: float) -> None:
        self.clock = clock
        self.started = started
        self.deadline = deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self.clock() - self.started + retry_state.upcoming_sleep > self.deadline


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how long to retry a call that failed for a retryable reason.

    Attributes:
        attempts: total attempts including the first (``1`` disables retrying).
        deadline: seconds from the first attempt after which no new attempt starts (a retry whose
            backoff would cross the deadline is not made).
        initial_delay: first backoff in seconds; doubles each retry up to ``max_delay``.
        max_delay: cap on one backoff.
        jitter: up to this many random seconds added to each backoff.
        sleep: how to wait (tests inject a fake that advances a fake clock).
        clock: monotonic seconds (tests inject the same fake clock).

    Example:
        >>> from cloudkit import RetryPolicy
        >>> from cloudkit.errors import ServerError
        >>> slept = []
        >>> policy = RetryPolicy(attempts=3, jitter=0, sleep=slept.append)
        >>> answers = iter([ServerError("flaky"), ServerError("flaky"), "ok"])
        >>> def call():
        ...     answer = next(answers)
        ...     if isinstance(answer, Exception):
        ...         raise answer
        ...     return answer
        >>> policy.call(call, system="billing", operation="list_accounts")
        'ok'
        >>> slept
        [0.2, 0.4]
    """

    attempts: int = attrs.field(default=4)
    deadline: float = attrs.field(default=30.0, validator=_positive)
    initial_delay: float = attrs.field(default=0.2, validator=_positive)
    max_delay: float = attrs.field(default=5.0, validator=_positive)
    jitter: float = 0.2
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, eq=False)
    clock: Callable[[], float] = attrs.field(default=time.monotonic, eq=False)

    @attempts.validator
    def _check_attempts(self, _: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ConfigError(f"RetryPolicy.attempts must be >= 1, got {value!r}")

    @classmethod
    def no_retry(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt.

        Example:
            >>> from cloudkit import RetryPolicy
            >>> RetryPolicy.no_retry().attempts
            1
        """
        return cls(attempts=1)

    def call(
        self,
        fn: Callable[[], T],
        *,
        system: str,
        operation: str,
        retry_on: Callable[[BaseException], bool] = _is_retryable,
    ) -> T:
        """Run ``fn``, retrying while ``retry_on(error)`` holds and attempts and deadline allow.

        Use only for idempotent calls; a non-idempotent write goes through :meth:`call_write`.

        Raises:
            CloudkitError: the last error, with a note of the attempts made and the time spent.
        """
        started = self.clock()
        past_deadline = _StopPastDeadline(self.clock, started, self.deadline)

        def log_retry(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "retrying %s %s: attempt %d failed with %s%s; next in %.2fs",
                system,
                operation,
                state.attempt_number,
                type(exc).__name__,
                f" (quirk {exc.quirk})" if isinstance(exc, CloudkitError) and exc.quirk else "",
                state.upcoming_sleep,
                extra={
                    "cloudkit_system": system,
                    "cloudkit_operation": operation,
                    "cloudkit_attempt": state.attempt_number,
                    "cloudkit_delay": state.upcoming_sleep,
                    "cloudkit_quirk": getattr(exc, "quirk", None),
                },
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_any(tenacity.stop_after_attempt(self.attempts), past_deadline),
            wait=self._backoff,
            retry=tenacity.retry_if_exception(retry_on),
            sleep=self.sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            return retrying(fn)
        except CloudkitError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            if attempts > 1:
                exc.add_note(
                    f"cloudkit: gave up on {system} {operation} after {attempts} attempts "
                    f"over {self.clock() - started:.1f}s"
                )
            raise

    def _backoff(self, state: tenacity.RetryCallState) -> float:
        # Written out rather than tenacity's wait_exponential_jitter, whose parameters were renamed
        # across 9.x releases: initial * 2**(n-1), capped, plus up to `jitter` random seconds.
        base = min(self.initial_delay * float(2 ** (state.attempt_number - 1)), self.max_delay)
        return base + (random.uniform(0, self.jitter) if self.jitter > 0 else 0.0)

    def call_write(
        self,
        fn: Callable[[], T],
        *,
        landed: Callable[[], T | None],
        system: str,
        operation: str,
    ) -> T:
        """Run a non-idempotent write; retry only after ``landed()`` shows the first try did not land.

        ``landed`` reads back and returns the created object if an earlier attempt took effect despite
        the error (the answer was lost), or ``None``. So a lost answer never produces a duplicate.

        Example:
            >>> from cloudkit import RetryPolicy
            >>> from cloudkit.errors import TransportError
            >>> store = []
            >>> def create():
            ...     store.append("payment")      # lands...
            ...     raise TransportError("reset") # ...but the answer is lost
            >>> policy = RetryPolicy(sleep=lambda s: None)
            >>> policy.call_write(create, landed=lambda: store[0] if store else None,
            ...                   system="billing", operation="create_promised_payment")
            'payment'
            >>> store
            ['payment']
        """

        def attempt() -> T:
            try:
                return fn()
            except CloudkitError as exc:
                if not exc.retryable:
                    raise
                found = landed()
                if found is None:
                    raise
                log.info("%s %s landed despite %s; not repeating it", system, operation, exc)
                return found

        return self.call(attempt, system=system, operation=operation)


# Where a learned wait makes its second poll while the learned bounds are wide: seven eighths of the way
# in, where it usually finds the transition over (two requests in all), and each such wait narrows them.
_LEAN = 0.875


def _knob(name: str, value: object) -> float:
    """A real number (a bool is not one), else a ConfigError naming the knob."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"Poller.{name} must be a number, got {value!r}")
    return float(value)


class Poller:
    """When to look again while waiting for a status transition; learns how long each kind takes.

    A wait of a kind it has not seen finish polls at once, then ``first`` seconds
    after the start and each later poll ``growth`` times as long after the start as the one before,
    never more than ``max_interval`` after it: so it ends at most ``growth`` times (or ``max_interval``
    seconds) after the transition.

    Each wait that ends records when, counted from its start, the transition ended: after its last poll
    that said "not yet" and before the end of the poll that said "done". What it learned is kept per
    place (``where``: the cloud, for instance its auth URL and region) and kind of wait, so clouds that
    share a poller never learn from each other. A wait of a kind seen before intersects those bounds
    over the ``memory`` most recent waits (newest first, stopping at the first that disagrees, so a
    change of pace forgets the old pace) and polls:

    - at the start of the bounds, so a transition that got faster is seen there (and learned at once);
    - while the bounds are wider than ``tail`` times their end, seven eighths of the way into them (each
      such wait that finds the transition over there narrows them);
    - at their end;
    - past it (the transition took longer this time) in steps starting at ``tail`` times the end and
      doubling, up to ``max_interval``.

    For transitions that take about as long each time, a wait ends within the bounds with two polls,
    and the bounds close in on the transition.

    The deadline is read on ``clock``: a wait never polls after ``budget`` seconds have passed since it
    began (:class:`~cloudkit.errors.WaitTimeoutError` instead), however long its polls took, but it
    always polls once, by the deadline at the latest. Poll times that went by while a slow poll was
    answered are skipped, not made back to back. The poller is thread-safe; share one between clients
    (for instance every client of a worker process) so that they learn together.

    Args:
        first: seconds from the start to the second poll of an unknown kind of wait.
        growth: how much later each poll of an unknown kind comes than the one before (> 1).
        max_interval: the longest gap between two polls.
        tail: the width, relative to the transition time, below which learned bounds are not narrowed
            further, and the first step past their end (0 < tail < 1).
        memory: waits remembered per place and kind (an int; 0: learn nothing, every wait polls as for
            an unknown kind).

    Example:
        >>> from cloudkit import Poller
        >>> from cloudkit.testing import FakeClock
        >>> clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
        >>> def build(seconds):  # a status check whose transition ends ``seconds`` after it is made
        ...     start = clock()
        ...     return lambda: (clock() - start >= seconds, "ACTIVE", "BUILD")
        >>> def wait(seconds=2.0):
        ...     clock.sleeps.clear()
        ...     return poller.until(build(seconds), kind="create_server", where="cloud-a", budget=60,
        ...                         clock=clock, sleep=clock.sleep, system="openstack",
        ...                         operation="create_server")
        >>> wait(), clock.sleeps  # polls at 0, 1, 1.5 and 2.25 s: the transition ended in (1.5, 2.25]
        ('ACTIVE', [1.0, 0.5, 0.75])
        >>> wait(), clock.sleeps  # at 1.5 s (not yet), then 7/8 into (1.5, 2.25]: 2.15625 s, done
        ('ACTIVE', [1.5, 0.65625])
        >>> poller.bounds("create_server", where="cloud-a")
        (1.5, 2.15625)
        >>> wait(0.5), clock.sleeps  # faster now: the poll at the start of the bounds finds it done
        ('ACTIVE', [1.5])
        >>> poller.bounds("create_server", where="cloud-a")
        (0.0, 1.5)
    """

    def __init__(
        self,
        *,
        first: float = 1.0,
        growth: float = 1.5,
        max_interval: float = 5.0,
        tail: float = 0.05,
        memory: int = 8,
    ) -> None:
        """Check the knobs (a bad one is a :class:`~cloudkit.errors.ConfigError`)."""
        self.first = _knob("first", first)
        self.growth = _knob("growth", growth)
        self.max_interval = _knob("max_interval", max_interval)
        self.tail = _knob("tail", tail)
        if not self.first > 0 or not self.max_interval > 0:
            raise ConfigError("Poller first and max_interval must be > 0")
        if not self.growth > 1:
            raise ConfigError(f"Poller.growth must be > 1, got {growth!r}")
        if not 0 < self.tail < 1:
            raise ConfigError(f"Poller.tail must be between 0 and 1, got {tail!r}")
        if isinstance(memory, bool) or not isinstance(memory, int):
            raise ConfigError(f"Poller.memory must be an int, got {memory!r}")
        if memory < 0:
            raise ConfigError(f"Poller.memory must be >= 0, got {memory!r}")
        self.memory = memory
        self._seen: dict[tuple[str, str], collections.deque[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        """The knobs and the places and kinds it has learned (``where: kind``)."""
        with self._lock:
            learned = sorted(f"{where}: {kind}" if where else kind for where, kind in self._seen)
        return (
            f"Poller(first={self.first!r}, growth={self.growth!r}, max_interval={self.max_interval!r}, "
            f"tail={self.tail!r}, memory={self.memory!r}, learned={learned!r})"
        )

    def bounds(self, kind: str, *, where: str = "") -> tuple[float, float] | None:
        """When a transition of ``kind`` at ``where`` ends as recent waits agree, in seconds from a start.

        ``None`` for a kind no wait has finished there yet.

        Example:
            >>> from cloudkit import Poller
            >>> poller = Poller()
            >>> poller.observe("attach", 1.5, 2.25); poller.observe("attach", 1.8, 2.4)
            >>> poller.bounds("attach")
            (1.8, 2.25)
            >>> poller.observe("attach", 6.0, 7.0)  # slower now: the older waits disagree, and are left out
            >>> poller.bounds("attach")
            (6.0, 7.0)
            >>> poller.bounds("attach", where="another cloud") is None
            True
        """
        with self._lock:
            seen = list(self._seen.get((where, kind), ()))
        if not seen:
            return None
        low, high = seen[-1]
        for before_low, before_high in reversed(seen[:-1]):
            if max(low, before_low) >= min(high, before_high):
                break
            low, high = max(low, before_low), min(high, before_high)
        return low, high

    def observe(self, kind: str, low: float, high: float, *, where: str = "") -> None:
        """Record that a transition of ``kind`` at ``where`` ended after ``low`` and by ``high`` seconds.

        Both are counted from the wait's start. :meth:`until` records every wait it finishes; call this
        for waits made elsewhere.
        """
        if self.memory == 0:
            return
        with self._lock:
            self._seen.setdefault((where, kind), collections.deque(maxlen=self.memory)).append((low, high))

    def plan(self, kind: str | None, *, where: str = "") -> Iterator[float]:
        """The poll times of the next wait of ``kind`` at ``where``, in seconds from its start.

        Increasing and endless; ``kind=None`` gives the schedule of a kind not seen before.

        Example:
            >>> from itertools import islice
            >>> from cloudkit import Poller
            >>> poller = Poller(first=1.0, growth=1.5, max_interval=5.0)
            >>> list(islice(poller.plan("boot"), 9))
            [0.0, 1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375, 11.390625, 16.390625]
            >>> poller.observe("boot", 1.5, 2.25)
            >>> list(islice(poller.plan("boot"), 6))  # the start, 7/8 in, the end, then steps from 5%
            [1.5, 2.15625, 2.25, 2.3625, 2.5875, 3.0375]
            >>> poller.observe("boot", 2.0, 2.05)  # bounds (2.0, 2.05]: narrower than 5% of 2.05
            >>> list(islice(poller.plan("boot"), 3))
            [2.0, 2.05, 2.1525]
        """
        bounds = self.bounds(kind, where=where) if kind is not None else None
        if bounds is None:
            yield 0.0
            at = self.first
            while True:
                yield at
                at += min(at * (self.growth - 1), self.max_interval)
        low, high = bounds
        yield low
        if high - low > self.tail * high:
            yield low + _LEAN * (high - low)
        if high > low:
            yield high
        at, step = high, max(self.tail * high, self.tail * self.first)
        while True:
            at += step
            yield at
            step = min(step * 2, self.max_interval)

    @staticmethod
    def doubling(first: float, max_interval: float) -> Iterator[float]:
        """At once, then gaps of ``first`` seconds doubling up to ``max_interval``; it learns nothing.

        For a wait that usually runs out its budget (a grace period), where fewer polls are better.

        Example:
            >>> from itertools import islice
            >>> from cloudkit import Poller
            >>> list(islice(Poller.doubling(1.0, 5.0), 6))
            [0.0, 1.0, 3.0, 7.0, 12.0, 17.0]
        """
        at, gap = 0.0, first
        while True:
            yield at
            at += gap
            gap = min(gap * 2, max_interval)

    def until(
        self,
        check: Callable[[], tuple[bool, T, str]],
        *,
        kind: str,
        where: str,
        budget: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        system: str,
        operation: str,
        plan: Iterable[float] | None = None,
    ) -> T:
        """Call ``check`` (``(done, value, status)``) on this poller's schedule until done; its value.

        ``kind`` and ``where`` name what is learned (a kind of wait, and the cloud or service it runs
        against). ``plan`` replaces the schedule (poll times from the start) and then nothing is learned.
        An exception from ``check`` ends the wait and is not caught.

        Raises:
            WaitTimeoutError: not done when ``budget`` seconds had passed on ``clock``; ``last_status`` is
                the last status seen.
        """
        start = clock()
        deadline = start + budget
        times = iter(plan) if plan is not None else self.plan(kind, where=where)
        low, status, looked, ready = 0.0, "unknown", False, start
        for planned in times:
            at = start + planned
            if not looked:
                at = min(at, deadline)  # a wait looks at least once, by its deadline
            elif at < ready:
                continue  # this poll time went by while the last poll was answered
            elif at > deadline:
                break
            now = clock()
            if looked and now > deadline:
                break
            if at > now:
                sleep(at - now)
            polled = clock() - start
            done, value, status = check()
            if done:
                if plan is None:
                    self.observe(kind, low, clock() - start, where=where)
                return value
            low, looked, ready = polled, True, clock()
        raise WaitTimeoutError(
            f"still {status} after {budget:g}s", last_status=status, system=system, operation=operation
        )
