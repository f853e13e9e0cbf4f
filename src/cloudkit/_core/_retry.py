"""`RetryPolicy`: the one retry layer in cloudkit, on tenacity.

Only this layer retries: httpx transports and keystoneauth are built with retries off, so attempts never
multiply. A policy has a cap on attempts AND a deadline (both finite), exponential backoff with jitter,
an injectable ``sleep`` and ``clock`` for tests, and logs every retry with system, operation, attempt,
delay and the quirk that made the error retryable. When attempts run out the last cloudkit error is
re-raised with a note of attempts and time, never wrapped in a generic RetryError.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import attrs
import tenacity

from cloudkit.errors import CloudkitError, ConfigError

__all__ = ["RetryPolicy"]

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
