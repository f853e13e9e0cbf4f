"""The saga engine: one attempt of one saga, under a lease, step by step, recorded before and after.

An attempt claims the saga (a lease in the store: two workers never run it at once), then for each step
not yet done: ``start_step`` (recorded before anything is sent), ``look`` and, if nothing is found,
``act``, the outside ids saved, ``finish_step``. What happens on an error depends on what the caller
should do next (:func:`classify`):

- **retry** (``CloudkitError.retryable``: transport errors, 5xx, rate limits; waits that ran out;
  post-conditions not met yet; anything that is not a cloudkit error): the attempt ends, the saga is
  due again after a backoff; past ``max_attempts`` it stops in ``NEEDS_OPERATOR``.
- **permanent** (the system said no: not found, conflict, permission, a server that went to ERROR;
  a bad plan): up to the pivot step (``server``) the done steps are compensated in reverse and the
  saga ends ``FAILED``; after the pivot (billing, clean-up) nothing is undone and the saga stops in
  ``NEEDS_OPERATOR``.
- ``LeaseLostError``: another worker owns the saga now; stop quietly.

Billing is told here and only here: every failed attempt of a saga with a running operation stores the
error on it (``runningoperation.edit``); a saga that stops in ``NEEDS_OPERATOR`` or ``FAILED`` sets it
manual and opens one staff task, as BILLmanager's own modules do.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs

from cloudkit.errors import CloudkitError, ConflictError, LeaseLostError, OutcomeError, ResponseDecodeError
from cloudkit.lifecycle._models import Saga, SagaState, StepState
from cloudkit.lifecycle._steps import OPERATIONS, PIVOT, Step, StepContext, Systems

if TYPE_CHECKING:
    from cloudkit.billing import ModuleCommand
    from cloudkit.lifecycle._store import SagaStore

__all__ = ["Attempt", "Engine", "ErrorKind", "classify", "describe"]

log = logging.getLogger("cloudkit.lifecycle")
_MAX_ERROR = 800


class ErrorKind(enum.Enum):
    """What the engine does after an error: retry the saga later, or stop going forward."""

    RETRY = "retry"
    PERMANENT = "permanent"


def classify(exc: BaseException) -> ErrorKind:
    """Whether an error is worth another attempt.

    Example:
        >>> from cloudkit.errors import NotFoundError, ServerError, WaitTimeoutError
        >>> from cloudkit.lifecycle._engine import classify
        >>> [classify(e).value for e in (ServerError("wsrep"), WaitTimeoutError("slow"),
        ...                              NotFoundError("no image"), KeyError("bug"))]
        ['retry', 'retry', 'permanent', 'retry']
        >>> from cloudkit.errors import ConflictError
        >>> classify(ConflictError("Cannot 'stop' instance while it is in task_state powering-on",
        ...                        system="openstack", operation="suspend_server")).value
        'retry'
    """
    if isinstance(exc, CloudkitError):
        if exc.retryable or isinstance(exc, OutcomeError | ResponseDecodeError):
            return ErrorKind.RETRY
        if isinstance(exc, ConflictError) and exc.operation in _SERVER_ACTIONS:
            # Nova answers 409 "Cannot '<action>' instance ... while it is in <state>" while another
            # task runs on the server (reference/openstack: api/openstack/common.py): transient; the
            # next attempt looks at the server again before acting.
            return ErrorKind.RETRY
        return ErrorKind.PERMANENT
    # Not a cloudkit error: a bug or something unforeseen. Retried (bounded by max_attempts), never
    # compensated on a guess.
    return ErrorKind.RETRY


_SERVER_ACTIONS = frozenset({"suspend_server", "resume_server"})


def describe(exc: BaseException) -> str:
    """The text stored as a step's and a saga's last error: secret-free, bounded.

    Example:
        >>> from cloudkit.errors import ServerError
        >>> from cloudkit.lifecycle._engine import describe
        >>> describe(ServerError("wsrep not ready", system="openstack", operation="create_server"))
        'ServerError: wsrep not ready [openstack create_server]'
    """
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 3] + "..."


def default_owner() -> str:
    """A worker id: host, process and a random part (two engines in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@attrs.frozen
class Attempt:
    """What :meth:`Engine.attempt` did: the saga afterwards, and whether this call ran it at all."""

    saga: Saga
    ran: bool


class Engine:
    """Runs attempts of sagas; what a worker (inline or Celery) calls with a saga id.

    Args:
        store: the saga store.
        systems: the clients the steps use.
        clock: epoch seconds (the store's "now" uses its own clock; this one dates backoffs).
        sleep: how runners wait between attempts.
        owner: this worker's lease owner id (default: host, pid and a random part).
        steps: the steps of each operation (tests wrap them).
    """

    def __init__(
        self,
        store: SagaStore,
        systems: Systems,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        owner: str | None = None,
        steps: Mapping[ModuleCommand, tuple[Step, ...]] = OPERATIONS,
    ) -> None:
        """Keep the parts; nothing is sent."""
        self.store = store
        self.systems = systems
        self.settings = systems.settings
        self.clock = clock
        self.sleep = sleep
        self.owner = owner or default_owner()
        self.steps = steps

    def now(self) -> dt.datetime:
        """The engine's clock as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def step_names(self, operation: ModuleCommand) -> list[str]:
        """The step names of an operation, in order (what a new saga is created with)."""
        return [step.name for step in self.steps[operation]]

    # ------------------------------------------------------------------------------ one attempt
    def run(self, saga_id: str, *, owner: str | None = None) -> Saga:
        """Run one attempt of a saga (if no one else holds it and it is not final); the saga afterwards."""
        return self.attempt(saga_id, owner=owner).saga

    def attempt(self, saga_id: str, *, owner: str | None = None) -> Attempt:
        """Like :meth:`run`, also saying whether this call ran the saga (False: final or leased).

        Each attempt claims the lease under its own token (this engine's id plus a random part), so two
        threads sharing one engine never both hold a saga: the store lets an owner re-claim its own
        lease, which must mean this attempt, not a sibling thread's.
        """
        owner = owner or f"{self.owner}:{uuid.uuid4().hex[:8]}"
        saga = self.store.claim(saga_id, owner=owner, lease=self.settings.lease_seconds)
        if saga is None:
            return Attempt(self.store.get(saga_id), ran=False)
        try:
            if saga.attempts > self.settings.max_attempts:  # killed workers count too
                text = saga.last_error or "no attempt finished"
                return Attempt(self._stop(saga, SagaState.NEEDS_OPERATOR, text, owner), ran=True)
            if saga.state is SagaState.COMPENSATING:
                return Attempt(self._compensate(saga, owner, saga.last_error or "compensating"), ran=True)
            return Attempt(self._forward(saga, owner), ran=True)
        except LeaseLostError:
            log.info("saga %s: lease lost by %s; another worker runs it", saga_id, owner)
            return Attempt(self.store.get(saga_id), ran=False)

    # ------------------------------------------------------------------------------ internals
    def _definitions(self, saga: Saga) -> dict[str, Step]:
        return {step.name: step for step in self.steps[saga.operation]}

    def _context(self, saga_id: str, name: str, owner: str) -> StepContext:
        return StepContext(self.store.get(saga_id), name, self.systems, self.store, owner)

    def _forward(self, saga: Saga, owner: str) -> Saga:
        steps = self._definitions(saga)
        for record in saga.steps:
            if record.state is StepState.DONE:
                continue
            step = steps[record.name]
            if not self.store.renew(saga.id, owner=owner, lease=self.settings.lease_seconds):
                raise LeaseLostError(f"lease of saga {saga.id} lost", system="lifecycle", operation="renew")
            self.store.start_step(saga.id, record.name, owner=owner)
            ctx = self._context(saga.id, record.name, owner)
            try:
                ids = step.look(ctx)
                if ids is None:
                    log.info("saga %s step %s: acting", saga.id, record.name)
                    ids = step.act(ctx)
                else:
                    log.info("saga %s step %s: found done", saga.id, record.name)
                ctx.save(ids)
            except LeaseLostError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is classified; BaseException passes
                return self._failed(saga, record.name, exc, owner)
            self.store.finish_step(saga.id, record.name, StepState.DONE, owner=owner)
        return self.store.set_state(saga.id, SagaState.DONE, owner=owner)

    def _failed(self, saga: Saga, step: str, exc: Exception, owner: str) -> Saga:
        text = describe(exc)
        log.warning("saga %s step %s failed: %s", saga.id, step, text)
        self.store.finish_step(saga.id, step, StepState.FAILED, owner=owner, error=text)
        current = self.store.get(saga.id)
        self._report_error(current, text)
        if classify(exc) is ErrorKind.RETRY:
            return self._later(current, SagaState.RUNNING, text, owner)
        names = [s.name for s in current.steps]
        before_pivot = PIVOT in names and names.index(step) <= names.index(PIVOT)
        if not before_pivot:
            return self._stop(current, SagaState.NEEDS_OPERATOR, text, owner)
        steps = self._definitions(current)
        if any(
            steps[s.name].compensate is not None for s in current.steps if s.state is not StepState.PENDING
        ):
            self.store.set_state(saga.id, SagaState.COMPENSATING, owner=owner, error=text)
            return self._compensate(self.store.get(saga.id), owner, text)
        return self._stop(current, SagaState.FAILED, text, owner)

    def _compensate(self, saga: Saga, owner: str, error: str) -> Saga:
        steps = self._definitions(saga)
        for record in reversed(saga.steps):
            step = steps[record.name]
            if step.compensate is None or record.state in (StepState.PENDING, StepState.COMPENSATED):
                continue
            if not self.store.renew(saga.id, owner=owner, lease=self.settings.lease_seconds):
                raise LeaseLostError(f"lease of saga {saga.id} lost", system="lifecycle", operation="renew")
            ctx = self._context(saga.id, record.name, owner)
            try:
                step.compensate(ctx)
            except LeaseLostError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below
                text = f"compensating {record.name}: {describe(exc)}"
                log.warning("saga %s: %s", saga.id, text)
                current = self.store.get(saga.id)
                self._report_error(current, text)
                if classify(exc) is ErrorKind.RETRY:
                    return self._later(current, SagaState.COMPENSATING, text, owner)
                return self._stop(current, SagaState.NEEDS_OPERATOR, text, owner)
            self.store.finish_step(saga.id, record.name, StepState.COMPENSATED, owner=owner, error=error)
        return self._stop(self.store.get(saga.id), SagaState.FAILED, error, owner)

    def _later(self, saga: Saga, state: SagaState, text: str, owner: str) -> Saga:
        """End this attempt: due again after the backoff, or stopped when the attempts are used up."""
        if saga.attempts >= self.settings.max_attempts:
            return self._stop(saga, SagaState.NEEDS_OPERATOR, text, owner)
        due = self.now() + dt.timedelta(seconds=self.settings.backoff(saga.attempts))
        self.store.set_state(saga.id, state, owner=owner, error=text, next_attempt_at=due)
        self.store.release(saga.id, owner=owner)
        return self.store.get(saga.id)

    def _stop(self, saga: Saga, state: SagaState, text: str, owner: str) -> Saga:
        """A final state other than DONE, written first (under the lease); then billing is told (manual, one
        staff task), so a lost lease never leaves billing told about a saga another worker finishes.
        """  # noqa: D205 (the summary needs the order)
        stopped = self.store.set_state(saga.id, state, owner=owner, error=text)
        log.error("saga %s (%s item %s) stops %s: %s", saga.id, saga.operation, saga.item, state, text)
        self._report_stopped(saga)
        return stopped

    # ------------------------------------------------------------------------------ billing
    def _report_error(self, saga: Saga, text: str) -> None:
        billing = self.systems.billing()
        if billing is None or saga.running_operation is None:
            return
        try:
            billing.record_operation_error(saga.running_operation, text)
        except Exception as exc:  # noqa: BLE001 - reporting must not hide the step's own error
            log.warning("saga %s: could not store the error on running operation %s: %s",
                        saga.id, saga.running_operation, describe(exc))  # fmt: skip

    def _report_stopped(self, saga: Saga) -> None:
        billing = self.systems.billing()
        if billing is None or saga.running_operation is None:
            return
        try:
            billing.set_operation_manual(saga.running_operation)
            billing.open_staff_task(saga.item, saga.running_operation, saga.operation)
        except Exception as exc:  # noqa: BLE001 - the saga stops either way; the log says what is missing
            log.error("saga %s: billing not told it needs an operator: %s", saga.id, describe(exc))  # noqa: TRY400 - no traceback: the text says it
