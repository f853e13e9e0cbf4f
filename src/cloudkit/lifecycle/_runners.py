"""Runners: who runs a saga's attempts. A runner only wakes a worker; the store is the truth.

:class:`InlineRunner` (the default) runs the attempts in the calling process until the saga is final,
waiting between attempts with the lifecycle's sleep. ``CeleryRunner`` (``cloudkit.lifecycle.celery``)
publishes the saga id to the workers after the saga is committed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from cloudkit.lifecycle._engine import Engine

__all__ = ["InlineRunner", "Runner"]

log = logging.getLogger("cloudkit.lifecycle")


@runtime_checkable
class Runner(Protocol):
    """Hands a saga to whoever runs it. ``submit`` is called after the saga is committed.

    Example:
        >>> from cloudkit.lifecycle import InlineRunner, Runner
        >>> isinstance(InlineRunner(), Runner)
        True
    """

    def submit(self, engine: Engine, saga_id: str) -> None:
        """Have the saga run (now or soon); may return before it is final."""
        ...


class InlineRunner:
    """Runs a saga in the calling process, attempt after attempt, until it is final.

    Between attempts it sleeps until the saga is due (the engine's sleep: tests inject one that
    advances a fake clock). It returns early when another worker holds the saga's lease: that worker
    runs it. ``max_attempts_per_submit`` bounds one call (``None``: until final; the engine's
    ``max_attempts`` bounds it anyway).

    Example:
        >>> from cloudkit.lifecycle import InlineRunner
        >>> InlineRunner()
        InlineRunner(max_attempts_per_submit=None)
    """

    def __init__(self, *, max_attempts_per_submit: int | None = None) -> None:
        """Configure the runner."""
        self.max_attempts_per_submit = max_attempts_per_submit

    def __repr__(self) -> str:
        """The bound on attempts per call."""
        return f"InlineRunner(max_attempts_per_submit={self.max_attempts_per_submit})"

    def submit(self, engine: Engine, saga_id: str) -> None:
        """Run attempts of ``saga_id`` until it is final (or leased elsewhere, or the bound is hit)."""
        done = 0
        while self.max_attempts_per_submit is None or done < self.max_attempts_per_submit:
            result = engine.attempt(saga_id)
            done += 1
            saga = result.saga
            if saga.state.final or not result.ran:
                return
            if saga.next_attempt_at is not None:
                wait = (saga.next_attempt_at - engine.now()).total_seconds()
                if wait > 0:
                    log.info("saga %s: next attempt in %.1fs", saga_id, wait)
                    engine.sleep(wait)
