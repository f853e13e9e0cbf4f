"""`Lifecycle`: the facade a portal, the processing module and the workers use."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from cloudkit._core._secret import Secret
from cloudkit.errors import ConfigError, NotFoundError, PlanError, WaitTimeoutError
from cloudkit.lifecycle._engine import Engine
from cloudkit.lifecycle._models import Customer, ModuleCommand, Saga, SagaState, ServerPlan, SuspendReason
from cloudkit.lifecycle._runners import InlineRunner, Runner
from cloudkit.lifecycle._settings import LifecycleSettings, config_environ, redact_url
from cloudkit.lifecycle._steps import Systems, onboard_customer
from cloudkit.platform import Platform

if TYPE_CHECKING:
    from cloudkit.lifecycle._reconcile import ReconcileReport
    from cloudkit.lifecycle._stoprules import Notice, StopPolicy
    from cloudkit.lifecycle._store import SagaStore
    from cloudkit.lifecycle._sweep import SweepReport

__all__ = ["Lifecycle"]

log = logging.getLogger("cloudkit.lifecycle")
SYSTEM = "lifecycle"


class Lifecycle:
    """Service lifecycle as durable sagas: provision, suspend, resume and close billing items.

    Every command becomes a saga in the SQL store (the truth), keyed by (item, command, running
    operation): asking twice joins the first. The runner runs it (inline by default: the call returns
    when the saga is final). Every step looks before it acts, so a retry, a second worker or a worker
    killed half-way never makes a second server.

    Args:
        platform: the systems (billing optional: without it nothing is reported).
        db_url: the saga store's URL (default: ``settings.db_url``).
        runner: who runs sagas (default :class:`InlineRunner`).
        settings: :class:`LifecycleSettings` (default: the defaults).
        clock: epoch seconds (tests inject a fake clock; the store's "now" follows it).
        sleep: how to wait (tests inject one that advances the fake clock).
        store: an open store to use instead of opening ``db_url`` (the caller keeps ownership).

    Example:
        >>> from cloudkit.lifecycle import Lifecycle, LifecycleSettings
        >>> from cloudkit.platform import Platform
        >>> with Lifecycle(Platform(), db_url="sqlite://") as lifecycle:
        ...     lifecycle.sagas()
        []
    """

    def __init__(
        self,
        platform: Platform,
        *,
        db_url: str | None = None,
        runner: Runner | None = None,
        settings: LifecycleSettings | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        store: SagaStore | None = None,
    ) -> None:
        """Open the store (migrating it); no system is contacted."""
        self.settings = settings or LifecycleSettings()
        self.platform = platform
        self.runner: Runner = runner or InlineRunner()
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep
        url = db_url or self.settings.db_url
        self._owns_store = store is None
        if store is None:
            from cloudkit.lifecycle._store import SagaStore  # noqa: PLC0415 (SQLAlchemy loads with it)

            _make_sqlite_dir(url)
            store = SagaStore.open(url, clock=self._store_now)
        self.store = store
        self.systems = Systems(platform, self.settings, clock=clock, sleep=sleep)
        self.engine = Engine(self.store, self.systems, clock=self._clock, sleep=self._sleep)
        self._url = url
        self._owns_runner = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, runner: Runner | None = None) -> Lifecycle:
        """A lifecycle from ``CLOUDKIT_*`` variables and ``cloudkit.toml`` (``CLOUDKIT_CONFIG``, else ``./``).

        The platform comes from :meth:`Platform.from_env <cloudkit.Platform.from_env>` over the
        environment with the file's ``[billing]``, ``[openstack]``, ``[tungsten]`` and ``[session]``
        tables folded in (OpenStack also from ``clouds.yaml`` / ``OS_*``, see ``docs/configuration.md``);
        the lifecycle settings from :meth:`LifecycleSettings.from_env`. The environment wins.
        With ``CLOUDKIT_CELERY_BROKER`` set and no ``runner`` given, sagas go to the Celery workers
        (:class:`~cloudkit.lifecycle.celery.CeleryRunner`, closed by :meth:`shutdown`).

        Example:
            >>> from cloudkit.lifecycle import Lifecycle
            >>> with Lifecycle.from_env({"CLOUDKIT_LIFECYCLE_DB": "sqlite://"}) as lifecycle:
            ...     lifecycle
            Lifecycle(db='sqlite://', platform=Platform(billing=None, openstack=None, tungsten=None), ...)
        """
        env = config_environ(environ)
        settings = LifecycleSettings.from_env(env)
        owns_runner = False
        if runner is None and env.get("CLOUDKIT_CELERY_BROKER"):  # the Celery runner (lc-celery)
            try:
                from cloudkit.lifecycle.celery import CeleryRunner, CelerySettings  # noqa: PLC0415 (optional)
            except ModuleNotFoundError as exc:
                raise ConfigError(
                    "CLOUDKIT_CELERY_BROKER is set but Celery is not installed "
                    "(pip install 'cloudkit[celery]')",
                    system=SYSTEM,
                    operation="from_env",
                ) from exc

            celery_settings = CelerySettings.from_env(env)
            runner, owns_runner = CeleryRunner(celery_settings.broker, settings=celery_settings), True
        lifecycle = cls(Platform.from_env(env), settings=settings, runner=runner)
        lifecycle._owns_runner = owns_runner
        return lifecycle

    def __repr__(self) -> str:
        """Store (password hidden), platform and runner."""
        return f"Lifecycle(db={redact_url(self._url)!r}, platform={self.platform!r}, runner={self.runner!r})"

    def __enter__(self) -> Self:
        """Use as a context manager: :meth:`shutdown` on exit."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Shut down."""
        self.shutdown()

    def shutdown(self) -> None:
        """Close the clients and (if opened here) the store. Sagas stay in the store."""
        self.systems.close()
        if self._owns_store:
            self.store.close()
        close_runner = getattr(self.runner, "close", None)
        if self._owns_runner and close_runner is not None:  # a runner from_env made (lc-celery)
            close_runner()

    # ------------------------------------------------------------------------------ commands
    def onboard(self, account: int, *, password: Secret | str | None = None) -> Customer:
        """The customer's Keystone project and user role, the lifecycle account's role, and their TF
        project, made by the service accounts; idempotent (a re-run only reads).

        ``provision`` onboards by itself; call this to prepare a customer before their first order.
        """  # noqa: D205 (the summary needs every part)
        secret = Secret(password) if isinstance(password, str) else password
        return onboard_customer(self.systems, self.store, account, password=secret)

    def provision(
        self, item: int, account: int, plan: ServerPlan, *, running_operation: int | None = None
    ) -> Saga:
        """Provision billing item ``item``: a server booted from a new system volume on the customer's
        network, then billing told the service is open.

        The image and flavor are checked first (reads only): an unknown one is a
        :class:`~cloudkit.errors.PlanError` and no saga is made. Asking again joins the saga there.

        Raises:
            PlanError: the image or flavor does not exist.
            ConflictError: the item's open saga has another plan.
        """  # noqa: D205 (the summary needs the billing half)
        self._check_plan(plan)
        return self._start(item, ModuleCommand.OPEN, account, running_operation, plan=plan)

    def suspend(
        self,
        item: int,
        reason: SuspendReason | str,
        *,
        running_operation: int | None = None,
        account: int | None = None,
    ) -> Saga:
        """Stop and lock the item's server (the customer cannot start it), then tell billing.

        ``account`` defaults to the account of the item's earlier sagas.
        """
        return self._start(
            item,
            ModuleCommand.SUSPEND,
            account,
            running_operation,
            reason=SuspendReason(reason),
        )

    def resume(self, item: int, *, running_operation: int | None = None, account: int | None = None) -> Saga:
        """Unlock and start the item's server, then tell billing."""
        return self._start(item, ModuleCommand.RESUME, account, running_operation)

    def close(self, item: int, *, running_operation: int | None = None, account: int | None = None) -> Saga:
        """Delete the item's server with its system volume and its addresses (data volumes per
        ``settings.data_volumes``), then tell billing.
        """  # noqa: D205 (the summary names what goes)
        return self._start(item, ModuleCommand.CLOSE, account, running_operation)

    # ------------------------------------------------------------------------------ sagas
    def saga(self, saga_id: str) -> Saga:
        """One saga with every step.

        Raises:
            NotFoundError: no such saga.
        """
        return self.store.get(saga_id)

    def sagas(
        self, state: SagaState | None = None, item: int | None = None, *, limit: int = 100
    ) -> list[Saga]:
        """Sagas, newest first, optionally of one state or one item."""
        return self.store.find(state=state, item=item, limit=limit)

    def retry(self, saga_id: str) -> Saga:
        """Run a ``NEEDS_OPERATOR`` or ``FAILED`` saga again from where it stopped (attempts reset).

        Raises:
            ConflictError: the saga is done or still running.
        """
        saga = self.store.reopen(saga_id)
        self.runner.submit(self.engine, saga.id)
        return self.store.get(saga.id)

    def wait(self, saga_id: str, timeout: float) -> Saga:
        """The saga once it is final.

        With the inline runner, a saga that is due while this waits (its retry time came, or the lease
        of a process killed half-way ran out) is run here: nobody else would run it. With Celery the
        workers' sweep does that.

        Raises:
            WaitTimeoutError: still not final after ``timeout`` seconds.
        """
        deadline = self._clock() + timeout
        delay = 0.2
        while True:
            saga = self.store.get(saga_id)
            if saga.state.final:
                return saga
            due = saga.next_attempt_at is not None and saga.next_attempt_at.timestamp() <= self._clock()
            if due and isinstance(self.runner, InlineRunner):
                self.runner.submit(self.engine, saga_id)  # claims only a free or expired lease
                saga = self.store.get(saga_id)
                if saga.state.final:
                    return saga
            if self._clock() + delay > deadline:
                raise WaitTimeoutError(
                    f"saga {saga_id} still {saga.state} after {timeout:g}s",
                    last_status=saga.state.value,
                    system=SYSTEM,
                    operation="wait",
                )
            self._sleep(delay)
            delay = min(delay * 2, 5.0)

    def run(self, saga_id: str, *, owner: str | None = None) -> Saga:
        """One attempt of a saga, as a worker runs it (nothing if final or leased elsewhere)."""
        return self.engine.run(saga_id, owner=owner)

    def sweep(
        self,
        policy: StopPolicy,
        *,
        dry_run: bool = False,
        notify: Callable[[Notice], None] | None = None,
        progress: Callable[[str, int], None] | None = None,
    ) -> SweepReport:
        """Apply the stop rules to every billing account: notify, suspend, resume, delete when due.

        Reads accounts, the window's expenses and the promised payments page by page (memory flat in
        the number of accounts), asks :func:`~cloudkit.lifecycle.decide` for each account, records
        every decision that is not a plain unchanged ``ok`` (with its reason and amounts) and acts
        through the sagas: suspend stops and admin-locks every active server of the account and marks
        billing; resume unlocks and starts only what a sweep suspended; ``notify`` gets each
        :class:`~cloudkit.lifecycle.Notice` at most once per level. ``dry_run`` decides and records
        (flagged dry) and changes nothing else. ``progress(phase, count)`` follows the reading.

        Raises:
            ConflictError: another sweep is running (a database lease keeps sweeps apart).
            ConfigError: no billing is configured.

        Example:
            >>> from cloudkit.lifecycle import Lifecycle, StopPolicy
            >>> from cloudkit.testing.lifecycle import LifecycleWorld
            >>> with LifecycleWorld() as world, Lifecycle(world.platform, db_url="sqlite://") as lifecycle:
            ...     report = lifecycle.sweep(StopPolicy(), dry_run=True)
            ...     report.state, report["accounts"]
            ('done', 2)
        """
        from cloudkit.lifecycle._sweep import run_sweep  # noqa: PLC0415 (billing models load with it)

        return run_sweep(self, policy, dry_run=dry_run, notify=notify, progress=progress)

    def run_due(self, *, limit: int = 100) -> list[str]:
        """Hand every due saga to the runner (retries whose time came, sagas of killed workers whose
        lease ran out); the ids handed over.
        """  # noqa: D205 (the summary says what is due)
        due = self.store.due(limit=limit)
        for saga_id in due:
            self.runner.submit(self.engine, saga_id)
        return due

    def reconcile(self, *, fix: bool = False, stuck_after: float | None = None) -> ReconcileReport:
        """What drifted between billing, the clouds and the store; with ``fix``, repaired (docs/stoprules.md).

        A dry run (the default) only reads outside; every run is recorded for the console.

        Raises:
            ConflictError: ``fix`` while another fixing run holds the ``reconcile`` lease.

        Example:
            >>> from cloudkit.lifecycle import Lifecycle
            >>> from cloudkit.platform import Platform
            >>> with Lifecycle(Platform(), db_url="sqlite://") as lifecycle:
            ...     lifecycle.reconcile().clean
            True
        """
        from cloudkit.lifecycle._reconcile import reconcile  # noqa: PLC0415 (kept off the import path)

        return reconcile(self, fix=fix, stuck_after=stuck_after)

    # ------------------------------------------------------------------------------ internals
    def _store_now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    def _check_plan(self, plan: ServerPlan) -> None:
        cloud = self.systems.cloud()
        try:
            image = cloud.get_image(plan.image)
        except NotFoundError:
            raise PlanError(f"no image {plan.image!r}", system=SYSTEM, operation="provision") from None
        try:
            cloud.get_flavor(plan.flavor)
        except NotFoundError:
            raise PlanError(f"no flavor {plan.flavor!r}", system=SYSTEM, operation="provision") from None
        if image.min_disk > plan.system_volume_gb:
            raise PlanError(
                f"image {plan.image!r} needs a system volume of at least {image.min_disk} GiB, "
                f"not {plan.system_volume_gb}",
                system=SYSTEM,
                operation="provision",
            )

    def _start(
        self,
        item: int,
        operation: ModuleCommand,
        account: int | None,
        running_operation: int | None,
        *,
        plan: ServerPlan | None = None,
        reason: SuspendReason | None = None,
    ) -> Saga:
        if account is None:
            earlier = self.store.find(item=item, limit=1)
            if not earlier:
                raise NotFoundError(
                    f"billing item {item} has no saga to take its account from; pass account=",
                    system=SYSTEM,
                    operation=operation.value,
                )
            account = earlier[0].account
        saga, created = self.store.create_or_join(
            item=item,
            operation=operation,
            account=account,
            running_operation=running_operation,
            plan=plan,
            reason=reason,
            steps=self.engine.step_names(operation),
        )
        log.info("%s saga %s for item %s (%s)", "new" if created else "joined", saga.id, item, operation)
        if not saga.state.final:
            self.runner.submit(self.engine, saga.id)
        return self.store.get(saga.id)


def _make_sqlite_dir(url: str) -> None:
    """Create the directory of an SQLite file URL (the default lives in a state dir that may not exist)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and len(url) > len(prefix) and ":memory:" not in url:
        Path(url[len(prefix) :].split("?", 1)[0]).parent.mkdir(parents=True, exist_ok=True)
