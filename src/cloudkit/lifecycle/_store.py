"""The saga store: the SQL tables that are the truth about every saga, behind SQLAlchemy 2 Core.

Each public method is one short committed transaction on a connection from the engine's pool; no
connection, session or engine leaves this module, so the store is safe to share between threads.
Leases are taken with one conditional ``UPDATE`` whose row count says who won: on PostgreSQL two
processes claiming the same saga cannot both win (the second ``UPDATE`` waits for the first one's row
lock, then re-checks its ``WHERE``), and on SQLite every transaction starts with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.resources
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Self

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError as AlembicCommandError
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, RowMapping, make_url

from cloudkit.errors import (
    ConfigError,
    ConflictError,
    InvalidArgumentError,
    LeaseLostError,
    NotFoundError,
    ServerError,
    TransportError,
)
from cloudkit.lifecycle._models import (
    Customer,
    ModuleCommand,
    Saga,
    SagaState,
    ServerPlan,
    StepRecord,
    StepState,
    SuspendReason,
)
from cloudkit.lifecycle._tables import VERSION_TABLE, customers, saga_steps, sagas

__all__ = ["SagaStore", "alembic_config"]

SYSTEM = "lifecycle"
CONNECT_TIMEOUT = 5  # seconds: an unreachable database fails fast, it does not hang a worker
SQLITE_BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for another one
_FINAL = tuple(state.value for state in SagaState if state.final)
# Any fixed 64-bit number: the key of PostgreSQL's advisory lock that serializes concurrent migrations.
_MIGRATION_LOCK_KEY = 0x636B_6C69_6665_6331  # "cklifec1"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def alembic_config(url: str | URL, connection: Connection | None = None) -> Config:
    """An Alembic configuration for the shipped migrations, built in code (no ``alembic.ini``).

    Example:
        >>> from cloudkit.lifecycle._store import alembic_config
        >>> alembic_config("sqlite://").get_main_option("script_location")
        'cloudkit.lifecycle:migrations'
    """
    config = Config()
    config.set_main_option("script_location", "cloudkit.lifecycle:migrations")
    config.set_main_option("version_table", VERSION_TABLE)
    # ConfigParser interpolation would choke on a "%" in a password: the URL travels as an attribute.
    config.attributes["url"] = url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _migrations_present() -> bool:
    return importlib.resources.files("cloudkit.lifecycle.migrations").joinpath("env.py").is_file()


class SagaStore:
    """The SQL saga table is the truth; this is its only door. Thread-safe; SQLAlchemy 2 Core inside.

    ``SagaStore(url)`` does no I/O; :meth:`open` connects and migrates. URLs: an SQLite file
    (``sqlite:///path/lifecycle.db``, the default of the lifecycle) or PostgreSQL with psycopg 3
    (``postgresql+psycopg://user:password@host/db``, extra ``cloudkit[postgres]``). The password never
    appears in a repr or a message.

    ``clock`` (returns an aware UTC ``datetime``) decides "now" for leases, due sagas and timestamps, so
    tests move time instead of sleeping.

    Example:
        >>> import datetime as dt, tempfile, pathlib
        >>> from cloudkit.lifecycle import ModuleCommand, SagaState, SagaStore, ServerPlan
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "sagas.db"
        >>> with SagaStore.open(f"sqlite:///{path}") as store:
        ...     saga, created = store.create_or_join(
        ...         item=42, operation=ModuleCommand.OPEN, account=7, running_operation=900,
        ...         plan=ServerPlan(image="img", flavor="m1", system_volume_gb=10), reason=None,
        ...         steps=["customer", "server", "billing"])
        ...     again, created_again = store.create_or_join(
        ...         item=42, operation=ModuleCommand.OPEN, account=7, running_operation=900,
        ...         plan=ServerPlan(image="img", flavor="m1", system_volume_gb=10), reason=None,
        ...         steps=["customer", "server", "billing"])
        ...     claimed = store.claim(saga.id, owner="worker-1", lease=60)
        ...     print(created, created_again, again.id == saga.id, claimed.state, claimed.attempts,
        ...           store.claim(saga.id, owner="worker-2", lease=60))
        True False True running 1 None
        >>> SagaStore("postgresql+psycopg://app:s3cret@db.example/cloudkit")
        SagaStore(url='postgresql+psycopg://app:***@db.example/cloudkit')
    """

    def __init__(self, url: str, *, clock: Callable[[], dt.datetime] | None = None) -> None:
        """Prepare an engine for ``url`` (no connection yet). Raises ``ConfigError`` for a bad URL."""
        self._url = _parse_url(url)
        self._shown_url = self._url.render_as_string(hide_password=True)
        self._password = self._url.password if isinstance(self._url.password, str) else None
        self._clock = clock or _utc_now
        self._lock = threading.Lock()
        self._closed = False
        self._engine = _make_engine(self._url)

    @classmethod
    def open(
        cls, url: str, *, clock: Callable[[], dt.datetime] | None = None, migrate: bool = True
    ) -> SagaStore:
        """Connect to ``url`` and bring its schema to the newest revision (unless ``migrate=False``).

        Migrating twice is a no-op; two processes opening a fresh PostgreSQL database at once are
        serialized by an advisory lock (SQLite: by its write lock).

        Raises:
            ConfigError: the URL is not a database URL or names a driver that is not installed.
            TransportError: the database cannot be reached (within ``CONNECT_TIMEOUT`` seconds).
        """
        store = cls(url, clock=clock)
        try:
            with store._transaction("open_store") as conn:
                if migrate:
                    store._migrate(conn)
                else:
                    conn.execute(sa.text("SELECT 1"))
        except BaseException:
            store.close()
            raise
        return store

    def _migrate(self, conn: Connection) -> None:
        if not _migrations_present():  # pragma: no cover - a broken install, not a test case
            raise ConfigError(
                "the saga store's migrations are missing from the installed package",
                system=SYSTEM,
                operation="open_store",
            )
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
        try:
            command.upgrade(alembic_config(self._url, conn), "head")
        except AlembicCommandError as exc:  # e.g. stamped by a newer cloudkit: an unknown revision
            raise ConfigError(
                f"the saga store's schema cannot be migrated by this cloudkit: {exc}",
                system=SYSTEM,
                operation="open_store",
            ) from exc

    def close(self) -> None:
        """Close every pooled connection; the store cannot be used afterwards. Safe to call twice."""
        with self._lock:
            self._closed = True
            self._engine.dispose()

    def __enter__(self) -> Self:
        """The store itself."""
        return self

    def __exit__(self, *_: object) -> None:
        """Close the store."""
        self.close()

    def __repr__(self) -> str:
        """The URL with its password masked."""
        return f"SagaStore(url={self._shown_url!r})"

    @property
    def dialect(self) -> str:
        """The database kind: ``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    # ---------------------------------------------------------------------------------------- sagas
    def create_or_join(
        self,
        *,
        item: int,
        operation: ModuleCommand,
        account: int,
        running_operation: int | None,
        plan: ServerPlan | None,
        reason: SuspendReason | None,
        steps: Sequence[str],
    ) -> tuple[Saga, bool]:
        """The saga for this request and whether it was created now (``False``: joined).

        With a running operation the key is (item, operation, running operation). Without one, the
        item's latest saga is joined when it has the same operation and did not fail; otherwise a new
        saga starts. Two requests racing for the same key end up in one saga.

        Raises:
            ConflictError: the saga to join is an ``open`` with a different plan.
            InvalidArgumentError: no steps, or two steps of the same name.
        """
        operation = ModuleCommand(operation)
        names = list(steps)
        if not names or len(set(names)) != len(names):
            raise InvalidArgumentError(
                f"a saga needs distinct step names, got {names!r}", system=SYSTEM, operation="create_saga"
            )
        for _ in range(5):  # each lost race re-reads; five losses in a row would be a bug
            with self._transaction("create_saga") as conn:
                key, existing, seq = self._request_key(conn, item, operation, running_operation)
                if existing is not None:
                    saga = self._load(conn, existing)
                    _check_same_plan(saga, plan)
                    return saga, False
                saga_id = str(uuid.uuid4())
                try:
                    with conn.begin_nested():
                        self._insert(
                            conn,
                            saga_id=saga_id,
                            key=key,
                            seq=seq,
                            item=item,
                            operation=operation,
                            account=account,
                            running_operation=running_operation,
                            plan=plan,
                            reason=reason,
                            names=names,
                        )
                except sa_exc.IntegrityError:
                    continue  # someone else inserted the same key first: read it again and join
                return self._load(conn, saga_id), True
        raise ServerError(  # pragma: no cover - see the loop's comment
            "could not create or join the saga after five tries", system=SYSTEM, operation="create_saga"
        )

    def _request_key(
        self, conn: Connection, item: int, operation: ModuleCommand, running_operation: int | None
    ) -> tuple[str, str | None, int]:
        """The request key, the id of the saga to join (or None) and the new saga's ``item_seq``."""
        count = conn.execute(sa.select(sa.func.count()).where(sagas.c.item == item)).scalar_one()
        if running_operation is not None:
            key = f"{item}/{operation.value}/ro{running_operation}"
            found = conn.execute(sa.select(sagas.c.id).where(sagas.c.request_key == key)).scalar()
            return key, found, count
        latest = conn.execute(
            sa.select(sagas.c.id, sagas.c.operation, sagas.c.state)
            .where(sagas.c.item == item)
            .order_by(sagas.c.item_seq.desc(), sagas.c.created_at.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.operation == operation.value and latest.state != SagaState.FAILED:
            return "", latest.id, count
        return f"{item}/{operation.value}/n{count}", None, count

    def _insert(
        self,
        conn: Connection,
        *,
        saga_id: str,
        key: str,
        seq: int,
        item: int,
        operation: ModuleCommand,
        account: int,
        running_operation: int | None,
        plan: ServerPlan | None,
        reason: SuspendReason | None,
        names: list[str],
    ) -> None:
        now = self._now()
        conn.execute(
            sagas.insert().values(
                id=saga_id,
                request_key=key,
                item=item,
                item_seq=seq,
                operation=operation.value,
                account=account,
                running_operation=running_operation,
                state=SagaState.PENDING.value,
                plan=_dump_plan(plan),
                reason=None if reason is None else SuspendReason(reason).value,
                attempts=0,
                created_at=now,
                updated_at=now,
                next_attempt_at=now,
            )
        )
        conn.execute(
            saga_steps.insert(),
            [
                {
                    "saga_id": saga_id,
                    "name": name,
                    "position": position,
                    "state": StepState.PENDING.value,
                    "attempts": 0,
                    "outside_ids": "{}",
                }
                for position, name in enumerate(names)
            ],
        )

    def get(self, saga_id: str) -> Saga:
        """The saga with this id.

        Raises:
            NotFoundError: no such saga.
        """
        with self._transaction("get_saga") as conn:
            return self._load(conn, saga_id)

    def find(
        self,
        *,
        state: SagaState | None = None,
        item: int | None = None,
        operation: ModuleCommand | None = None,
        limit: int = 100,
    ) -> list[Saga]:
        """Sagas matching every filter given, newest first, at most ``limit``."""
        query = sa.select(sagas)
        if state is not None:
            query = query.where(sagas.c.state == SagaState(state).value)
        if item is not None:
            query = query.where(sagas.c.item == item)
        if operation is not None:
            query = query.where(sagas.c.operation == ModuleCommand(operation).value)
        query = query.order_by(sagas.c.created_at.desc(), sagas.c.item_seq.desc(), sagas.c.id).limit(limit)
        with self._transaction("find_sagas") as conn:
            rows = conn.execute(query).mappings().all()
            steps = self._steps_of(conn, [row["id"] for row in rows])
            return [_saga(row, steps.get(row["id"], ())) for row in rows]

    # --------------------------------------------------------------------------------------- leases
    def claim(self, saga_id: str, *, owner: str, lease: float) -> Saga | None:
        """Take the saga's lease for ``lease`` seconds: the claimed saga, or ``None``.

        ``None`` when the saga is final or another owner holds a lease that has not run out. A claim
        counts an attempt and moves a ``PENDING`` saga to ``RUNNING``; the same owner may claim again.

        Raises:
            NotFoundError: no such saga.
        """
        _check_owner(owner, "claim")
        now = self._now()
        until = now + _lease_span(lease, "claim")
        with self._transaction("claim") as conn:
            won = conn.execute(
                sagas.update()
                .where(
                    sagas.c.id == saga_id,
                    sagas.c.state.not_in(_FINAL),
                    sa.or_(
                        sagas.c.lease_until.is_(None), sagas.c.lease_until < now, sagas.c.lease_owner == owner
                    ),
                )
                .values(
                    lease_owner=owner,
                    lease_until=until,
                    attempts=sagas.c.attempts + 1,
                    state=sa.case(
                        (sagas.c.state == SagaState.PENDING.value, SagaState.RUNNING.value),
                        else_=sagas.c.state,
                    ),
                    updated_at=now,
                )
            ).rowcount
            if won == 1:
                return self._load(conn, saga_id)
            self._load(conn, saga_id)  # NotFoundError when there is no such saga
            return None

    def renew(self, saga_id: str, *, owner: str, lease: float) -> bool:
        """Extend ``owner``'s lease to now + ``lease`` seconds; ``False`` when ``owner`` lost it.

        A lease that ran out is still ``owner``'s until someone else claims the saga.
        """
        _check_owner(owner, "renew")
        now = self._now()
        until = now + _lease_span(lease, "renew")
        with self._transaction("renew") as conn:
            return (
                conn.execute(
                    sagas.update()
                    .where(sagas.c.id == saga_id, sagas.c.lease_owner == owner, sagas.c.state.not_in(_FINAL))
                    .values(lease_until=until)
                ).rowcount
                == 1
            )

    def release(self, saga_id: str, *, owner: str) -> None:
        """Give the lease back (no-op when ``owner`` does not hold it), so the saga is due at once."""
        with self._transaction("release") as conn:
            conn.execute(
                sagas.update()
                .where(sagas.c.id == saga_id, sagas.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def due(self, *, limit: int = 100) -> list[str]:
        """Ids of sagas a worker should run now: not final, next attempt due, no live lease; oldest first.

        A worker that died leaves its lease to run out; its saga is due again afterwards.
        """
        now = self._now()
        with self._transaction("due") as conn:
            return list(
                conn.execute(
                    sa.select(sagas.c.id)
                    .where(
                        sagas.c.state.not_in(_FINAL),
                        sagas.c.next_attempt_at <= now,
                        sa.or_(sagas.c.lease_until.is_(None), sagas.c.lease_until < now),
                    )
                    .order_by(sagas.c.next_attempt_at, sagas.c.created_at, sagas.c.id)
                    .limit(limit)
                ).scalars()
            )

    # ---------------------------------------------------------------------------------- bookkeeping
    def start_step(self, saga_id: str, name: str, *, owner: str) -> StepRecord:
        """Record that step ``name`` starts now (``STARTED``, one more attempt) before it acts.

        Raises:
            LeaseLostError: ``owner`` no longer holds the saga's lease.
            NotFoundError: no such saga or step.
        """
        with self._transaction("start_step") as conn:
            now = self._fence(conn, saga_id, owner, "start_step")
            self._update_step(
                conn,
                saga_id,
                name,
                "start_step",
                attempts=saga_steps.c.attempts + 1,
                state=StepState.STARTED.value,
                started_at=now,
                finished_at=None,
            )
            return self._load_step(conn, saga_id, name)

    def save_outside_ids(self, saga_id: str, name: str, ids: Mapping[str, str], *, owner: str) -> None:
        """Merge ``ids`` into step ``name``'s outside ids, as soon as an outside system told them.

        Raises:
            LeaseLostError: ``owner`` no longer holds the saga's lease.
            NotFoundError: no such saga or step.
        """
        with self._transaction("save_outside_ids") as conn:
            self._fence(conn, saga_id, owner, "save_outside_ids")
            merged = dict(self._load_step(conn, saga_id, name).outside_ids)
            merged.update({str(k): str(v) for k, v in ids.items()})
            self._update_step(
                conn, saga_id, name, "save_outside_ids", outside_ids=json.dumps(merged, sort_keys=True)
            )

    def finish_step(
        self, saga_id: str, name: str, state: StepState, *, owner: str, error: str | None = None
    ) -> None:
        """Record how step ``name`` ended (``DONE``, ``FAILED``, ``COMPENSATED``...) and its error.

        Raises:
            LeaseLostError: ``owner`` no longer holds the saga's lease.
            NotFoundError: no such saga or step.
        """
        values: dict[str, Any] = {"state": StepState(state).value}
        if error is not None:
            values["last_error"] = error
        with self._transaction("finish_step") as conn:
            values["finished_at"] = self._fence(conn, saga_id, owner, "finish_step")
            self._update_step(conn, saga_id, name, "finish_step", **values)

    def set_state(
        self,
        saga_id: str,
        state: SagaState,
        *,
        owner: str,
        error: str | None = None,
        next_attempt_at: dt.datetime | None = None,
    ) -> Saga:
        """Move the saga to ``state``; a final state clears ``next_attempt_at`` and the lease.

        ``error`` (when given) becomes ``last_error``; ``next_attempt_at`` (when given) is when the
        sweep may pick the saga up again.

        Raises:
            LeaseLostError: ``owner`` no longer holds the saga's lease.
            NotFoundError: no such saga.
        """
        state = SagaState(state)
        with self._transaction("set_state") as conn:
            now = self._fence(conn, saga_id, owner, "set_state")
            values: dict[str, Any] = {"state": state.value, "updated_at": now}
            if error is not None:
                values["last_error"] = error
            if state.final:
                values.update(next_attempt_at=None, lease_owner=None, lease_until=None)
            elif next_attempt_at is not None:
                values["next_attempt_at"] = _aware(next_attempt_at, "next_attempt_at")
            conn.execute(sagas.update().where(sagas.c.id == saga_id).values(**values))
            return self._load(conn, saga_id)

    def reopen(self, saga_id: str) -> Saga:
        """Give a ``FAILED`` or ``NEEDS_OPERATOR`` saga another run (for ``Lifecycle.retry``).

        The saga becomes ``PENDING`` with no attempts counted, its ``FAILED`` steps ``PENDING``, due
        now; ``last_error`` is kept for the record.

        Raises:
            ConflictError: the saga is ``DONE`` or not final (a worker may be running it).
            NotFoundError: no such saga.
        """
        with self._transaction("reopen") as conn:
            now = self._now()
            reopened = conn.execute(
                sagas.update()
                .where(
                    sagas.c.id == saga_id,
                    sagas.c.state.in_([SagaState.FAILED.value, SagaState.NEEDS_OPERATOR.value]),
                )
                .values(
                    state=SagaState.PENDING.value,
                    attempts=0,
                    next_attempt_at=now,
                    updated_at=now,
                    lease_owner=None,
                    lease_until=None,
                )
            ).rowcount
            if reopened != 1:
                saga = self._load(conn, saga_id)
                raise ConflictError(
                    f"saga {saga_id} is {saga.state.value}: only a failed saga or one that needs an "
                    "operator can be retried",
                    system=SYSTEM,
                    operation="retry",
                )
            conn.execute(
                saga_steps.update()
                .where(saga_steps.c.saga_id == saga_id, saga_steps.c.state == StepState.FAILED.value)
                .values(state=StepState.PENDING.value)
            )
            return self._load(conn, saga_id)

    # ------------------------------------------------------------------------------------ customers
    def get_customer(self, account: int) -> Customer | None:
        """The account's customer record, or ``None`` before ``onboard``."""
        with self._transaction("get_customer") as conn:
            row = conn.execute(sa.select(customers).where(customers.c.account == account)).mappings().first()
            return None if row is None else _customer(row)

    def save_customer(self, customer: Customer) -> Customer:
        """Insert or update the customer; a stored ``network_id`` is never replaced by ``None``."""
        for _ in range(3):
            with self._transaction("save_customer") as conn:
                now = self._now()
                values = {
                    "keystone_project_id": customer.keystone_project_id,
                    "keystone_user_id": customer.keystone_user_id,
                    "tungsten_project_id": customer.tungsten_project_id,
                    "updated_at": now,
                }
                if customer.network_id is not None:
                    values["network_id"] = customer.network_id
                updated = conn.execute(
                    customers.update().where(customers.c.account == customer.account).values(**values)
                ).rowcount
                if updated != 1:
                    try:
                        with conn.begin_nested():
                            conn.execute(
                                customers.insert().values(
                                    account=customer.account,
                                    network_id=customer.network_id,
                                    created_at=now,
                                    **values,
                                )
                            )
                    except sa_exc.IntegrityError:
                        continue  # inserted by someone else meanwhile: update theirs
                row = conn.execute(
                    sa.select(customers).where(customers.c.account == customer.account)
                ).mappings()
                return _customer(row.one())
        raise ServerError(  # pragma: no cover - an insert race lost three times is a bug
            "could not save the customer", system=SYSTEM, operation="save_customer"
        )

    # ------------------------------------------------------------------------------ for the OpStore
    def now(self) -> dt.datetime:
        """The store's "now" (its injected clock), aware and in UTC."""
        return self._now()

    @contextlib.contextmanager
    def transaction(self, operation: str) -> Iterator[Connection]:
        """One committed transaction on the store's engine, for the operations store that shares it.

        Database failures become cloudkit errors naming ``operation``, without the password.
        """
        with self._transaction(operation) as conn:
            yield conn

    # -------------------------------------------------------------------------------------- helpers
    def _now(self) -> dt.datetime:
        return _aware(self._clock(), "clock()")

    @contextlib.contextmanager
    def _transaction(self, operation: str) -> Iterator[Connection]:
        """One committed transaction; database failures become cloudkit errors without the password."""
        with self._lock:
            if self._closed:
                raise ConfigError("the saga store is closed", system=SYSTEM, operation=operation)
        try:
            with self._engine.begin() as conn:
                yield conn
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
            raise TransportError(
                f"the saga database {self._shown_url} did not answer: {self._scrub(exc)}",
                system=SYSTEM,
                operation=operation,
            ) from None
        except sa_exc.NoSuchModuleError as exc:
            raise ConfigError(
                f"no database driver for {self._shown_url} (PostgreSQL needs cloudkit[postgres])",
                system=SYSTEM,
                operation=operation,
            ) from exc
        except sa_exc.SQLAlchemyError as exc:
            raise ServerError(
                f"the saga database {self._shown_url} failed: {self._scrub(exc)}",
                system=SYSTEM,
                operation=operation,
            ) from None

    def _scrub(self, exc: BaseException) -> str:
        cause = getattr(exc, "orig", None) or exc
        text = " ".join(str(cause).split())[:300]
        if self._password:
            text = text.replace(self._password, "***")
        return f"{type(cause).__name__}: {text}"

    def _fence(self, conn: Connection, saga_id: str, owner: str, operation: str) -> dt.datetime:
        """Check (and lock, on PostgreSQL) that ``owner`` holds the lease; returns now."""
        now = self._now()
        held = conn.execute(
            sagas.update().where(sagas.c.id == saga_id, sagas.c.lease_owner == owner).values(updated_at=now)
        ).rowcount
        if held != 1:
            self._load(conn, saga_id)  # NotFoundError first
            raise LeaseLostError(
                f"saga {saga_id} is no longer leased to {owner!r}", system=SYSTEM, operation=operation
            )
        return now

    def _update_step(self, conn: Connection, saga_id: str, name: str, operation: str, **values: Any) -> None:
        changed = conn.execute(
            saga_steps.update()
            .where(saga_steps.c.saga_id == saga_id, saga_steps.c.name == name)
            .values(**values)
        ).rowcount
        if changed != 1:
            raise NotFoundError(f"saga {saga_id} has no step {name!r}", system=SYSTEM, operation=operation)

    def _load(self, conn: Connection, saga_id: str) -> Saga:
        row = conn.execute(sa.select(sagas).where(sagas.c.id == saga_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no saga {saga_id}", system=SYSTEM, operation="get_saga")
        return _saga(row, self._steps_of(conn, [saga_id]).get(saga_id, ()))

    def _load_step(self, conn: Connection, saga_id: str, name: str) -> StepRecord:
        row = (
            conn.execute(
                sa.select(saga_steps).where(saga_steps.c.saga_id == saga_id, saga_steps.c.name == name)
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFoundError(f"saga {saga_id} has no step {name!r}", system=SYSTEM, operation="get_step")
        return _step(row)

    def _steps_of(self, conn: Connection, ids: Sequence[str]) -> dict[str, tuple[StepRecord, ...]]:
        found: dict[str, list[StepRecord]] = {}
        if not ids:
            return {}
        rows = conn.execute(
            sa.select(saga_steps)
            .where(saga_steps.c.saga_id.in_(list(ids)))
            .order_by(saga_steps.c.saga_id, saga_steps.c.position)
        ).mappings()
        for row in rows:
            found.setdefault(row["saga_id"], []).append(_step(row))
        return {key: tuple(value) for key, value in found.items()}


# ------------------------------------------------------------------------------------------ module
def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError, TypeError):
        raise ConfigError(  # the text holds the URL and so maybe its password: none of it is shown
            "the saga store URL is not a database URL such as sqlite:///path/lifecycle.db or "
            "postgresql+psycopg://user@host/db",
            system=SYSTEM,
            operation="open_store",
        ) from None
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(
            f"the saga store runs on SQLite or PostgreSQL, not {parsed.get_backend_name()!r}",
            system=SYSTEM,
            operation="open_store",
        )
    return parsed


def _make_engine(url: URL) -> Engine:
    try:
        if url.get_backend_name() == "sqlite":
            engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
            sa.event.listen(engine, "connect", _sqlite_connect)
            sa.event.listen(engine, "begin", _sqlite_begin)
            return engine
        connect_args: dict[str, Any] = {}
        if url.get_driver_name() in {"psycopg", "psycopg2"}:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT
        return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    except (sa_exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"no database driver for {url.render_as_string(hide_password=True)} "
            "(PostgreSQL needs the extra cloudkit[postgres])",
            system=SYSTEM,
            operation="open_store",
        ) from exc


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    # pysqlite's own transaction handling would start transactions late and deferred; take it over so
    # that every transaction takes the write lock up front (no upgrade deadlock between two writers).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _aware(value: object, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(
            f"{what} must be a timezone-aware datetime, not {value!r}", system=SYSTEM, operation="clock"
        )
    return value.astimezone(dt.UTC)


def _lease_span(lease: object, operation: str) -> dt.timedelta:
    if isinstance(lease, bool) or not isinstance(lease, int | float) or not lease > 0:
        raise InvalidArgumentError(
            f"a lease lasts a positive number of seconds, not {lease!r}", system=SYSTEM, operation=operation
        )
    return dt.timedelta(seconds=lease)


def _check_owner(owner: object, operation: str) -> None:
    if not isinstance(owner, str) or not owner.strip():
        raise InvalidArgumentError("a lease owner is a non-empty name", system=SYSTEM, operation=operation)


def _check_same_plan(saga: Saga, plan: ServerPlan | None) -> None:
    if plan is not None and saga.operation is ModuleCommand.OPEN and saga.plan != plan:
        raise ConflictError(
            f"item {saga.item} already has open saga {saga.id} with another plan "
            f"({saga.plan!r}, asked {plan!r})",
            system=SYSTEM,
            operation="provision",
        )


def _dump_plan(plan: ServerPlan | None) -> str | None:
    if plan is None:
        return None
    return json.dumps(
        {
            "image": plan.image,
            "flavor": plan.flavor,
            "system_volume_gb": plan.system_volume_gb,
            "network_cidr": plan.network_cidr,
        },
        sort_keys=True,
    )


def _saga(row: RowMapping, steps: tuple[StepRecord, ...]) -> Saga:
    plan = row["plan"]
    return Saga(
        id=row["id"],
        item=row["item"],
        operation=row["operation"],
        account=row["account"],
        state=row["state"],
        running_operation=row["running_operation"],
        plan=None if plan is None else ServerPlan(**json.loads(plan)),
        reason=None if row["reason"] is None else SuspendReason(row["reason"]),
        steps=steps,
        attempts=row["attempts"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        next_attempt_at=row["next_attempt_at"],
    )


def _step(row: RowMapping) -> StepRecord:
    return StepRecord(
        name=row["name"],
        state=StepState(row["state"]),
        attempts=row["attempts"],
        outside_ids=json.loads(row["outside_ids"]),
        last_error=row["last_error"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _customer(row: RowMapping) -> Customer:
    return Customer(
        account=row["account"],
        keystone_project_id=row["keystone_project_id"],
        keystone_user_id=row["keystone_user_id"],
        tungsten_project_id=row["tungsten_project_id"],
        network_id=row["network_id"],
    )
