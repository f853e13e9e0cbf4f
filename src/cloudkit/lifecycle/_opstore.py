"""The operations store: what the stop-rule sweep and reconciliation keep, next to the sagas.

Shares the :class:`~cloudkit.lifecycle.SagaStore`'s engine and clock (one database, one "now"); each
public method is one short committed transaction, so the store is safe to share between threads. The
sweep keeps its per-run figures in ``sweep_scratch`` instead of in memory, so its memory stays flat in
the number of accounts.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

import attrs
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, RowMapping

from cloudkit.errors import InvalidArgumentError
from cloudkit.lifecycle._models import SagaState
from cloudkit.lifecycle._store import SagaStore
from cloudkit.lifecycle._tables import (
    MONEY as _MONEY,
)
from cloudkit.lifecycle._tables import (
    leases,
    notices,
    reconcile_findings,
    reconcile_runs,
    sagas,
    stoprule_accounts,
    stoprule_items,
    sweep_decisions,
    sweep_scratch,
    sweeps,
)

__all__ = [
    "AccountRecord",
    "DecisionLike",
    "DecisionRecord",
    "FindingLike",
    "FindingRecord",
    "ItemRecord",
    "LeaseRecord",
    "OpStore",
    "ReconcileRunRecord",
    "ScratchRow",
    "SweepRecord",
]

SYSTEM = "lifecycle"
# how many ids go into one ``IN (...)``: under SQLite's 999-parameter floor, and one page of accounts
_CHUNK = 500


# ------------------------------------------------------------------------------------------ records
def _counts(value: Mapping[str, int] | None) -> Mapping[str, int]:
    return dict(value or {})


@attrs.frozen(kw_only=True)
class LeaseRecord:
    """Who holds a named lease and until when.

    Example:
        >>> import datetime as dt
        >>> from cloudkit.lifecycle._opstore import LeaseRecord
        >>> LeaseRecord(name="stoprules", owner="host:1", until=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)).name
        'stoprules'
    """

    name: str
    owner: str
    until: dt.datetime


@attrs.frozen(kw_only=True)
class AccountRecord:
    """The sweep's memory of one billing account (``stoprule_accounts``).

    ``suspended_by`` names the :class:`StopPolicy` that suspended the account (``None``: not a sweep);
    ``notices_since`` keys the current run of notices so a notice is never sent twice.

    Example:
        >>> from cloudkit.lifecycle._opstore import AccountRecord
        >>> AccountRecord(account=7).notified_level is None
        True
    """

    account: int
    below_limit_since: dt.datetime | None = None
    notified_level: int | None = None
    notices_since: dt.datetime | None = None
    suspended_at: dt.datetime | None = None
    suspended_reason: str | None = None
    suspended_by: str | None = None
    deleted_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@attrs.frozen(kw_only=True)
class ItemRecord:
    """A billing item the sweep suspended (``stoprule_items``): only these are resumed.

    Example:
        >>> import datetime as dt
        >>> from cloudkit.lifecycle._opstore import ItemRecord
        >>> when = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        >>> ItemRecord(account=7, item=42, saga_id=None, stopped_at=when).item
        42
    """

    account: int
    item: int
    saga_id: str | None
    stopped_at: dt.datetime


@attrs.frozen(kw_only=True)
class SweepRecord:
    """One stop-rule sweep (``sweeps``). ``state``: running, done, failed or abandoned.

    Example:
        >>> import datetime as dt
        >>> from cloudkit.lifecycle._opstore import SweepRecord
        >>> SweepRecord(id="s1", policy="default", dry_run=False, state="done", owner="w",
        ...             started_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), counts={"suspend": 2}).counts
        {'suspend': 2}
    """

    id: str
    policy: str
    dry_run: bool
    state: str
    owner: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    counts: Mapping[str, int] = attrs.field(factory=dict, converter=_counts)
    error: str | None = None


@attrs.frozen(kw_only=True)
class DecisionRecord:
    """One recorded decision of a sweep (``sweep_decisions``), with its reason and amounts.

    Example:
        >>> import datetime as dt
        >>> from decimal import Decimal
        >>> from cloudkit.lifecycle._opstore import DecisionRecord
        >>> DecisionRecord(id=1, sweep_id="s1", account=7, action="suspend", code="grace_hours_over",
        ...     reason="credit -12.00 below the limit", balance=Decimal("-62.00"),
        ...     credit_limit=Decimal("50.00"), credit=Decimal("-12.00"), promised=Decimal(0),
        ...     hourly_spend=Decimal("0.5"), hours_left=None, notice_level=None, dry_run=False,
        ...     decided_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)).action
        'suspend'
    """

    id: int
    sweep_id: str
    account: int
    action: str
    code: str
    reason: str
    balance: Decimal
    credit_limit: Decimal
    credit: Decimal
    promised: Decimal
    hourly_spend: Decimal
    hours_left: Decimal | None
    notice_level: int | None
    dry_run: bool
    decided_at: dt.datetime


@attrs.frozen(kw_only=True)
class ReconcileRunRecord:
    """One reconciliation run (``reconcile_runs``). ``state``: running, done or failed.

    Example:
        >>> import datetime as dt
        >>> from cloudkit.lifecycle._opstore import ReconcileRunRecord
        >>> ReconcileRunRecord(id="r1", fix=False, state="done",
        ...                    started_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)).fix
        False
    """

    id: str
    fix: bool
    state: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    counts: Mapping[str, int] = attrs.field(factory=dict, converter=_counts)
    error: str | None = None


@attrs.frozen(kw_only=True)
class FindingRecord:
    """One finding of a reconciliation run (``reconcile_findings``).

    Example:
        >>> import datetime as dt
        >>> from cloudkit.lifecycle._opstore import FindingRecord
        >>> FindingRecord(id=1, run_id="r1", kind="orphan_server", subject="server abc",
        ...               detail="item 42 is closed", saga_id=None,
        ...               found_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)).kind
        'orphan_server'
    """

    id: int
    run_id: str
    kind: str
    subject: str
    detail: str
    saga_id: str | None
    found_at: dt.datetime


@attrs.frozen(kw_only=True)
class ScratchRow:
    """One per-sweep figure of an account: ``kind`` ``"spend"`` (expenses in the window) or
    ``"promise"`` (an unpaid promised payment, ``until`` its date).

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit.lifecycle._opstore import ScratchRow
        >>> ScratchRow(account=7, kind="spend", amount=Decimal("3.20")).until is None
        True
    """  # noqa: D205 (the kinds belong in the summary)

    account: int
    kind: str
    amount: Decimal
    until: dt.date | None = None


class DecisionLike(Protocol):
    """What :meth:`OpStore.record_decisions` reads of a decision (``cloudkit.lifecycle.Decision`` fits)."""

    @property
    def account(self) -> int:
        """The billing account."""

    @property
    def action(self) -> str:
        """ok, notify, suspend, resume, delete_due."""

    @property
    def code(self) -> str:
        """The machine reason."""

    @property
    def reason(self) -> str:
        """The human sentence."""

    @property
    def balance(self) -> Decimal:
        """Billing's balance."""

    @property
    def credit_limit(self) -> Decimal:
        """The limit used."""

    @property
    def credit(self) -> Decimal:
        """What is left before the limit."""

    @property
    def promised_counted(self) -> Decimal:
        """Promised payments counted."""

    @property
    def hourly_spend(self) -> Decimal:
        """Projected spend per hour."""

    @property
    def hours_left(self) -> Decimal | None:
        """Hours of credit left (None: no spend)."""

    @property
    def notice_level(self) -> int | None:
        """The notice level sent."""


class FindingLike(Protocol):
    """What :meth:`OpStore.add_findings` reads of a finding (``Finding(kind, subject, detail, saga_id)``)."""

    @property
    def kind(self) -> str:
        """The finding's kind."""

    @property
    def subject(self) -> str:
        """What it is about."""

    @property
    def detail(self) -> str:
        """The human detail."""

    @property
    def saga_id(self) -> str | None:
        """The saga involved, if any."""


# -------------------------------------------------------------------------------------------- store
class OpStore:
    """Leases, the sweep's account and item rows, sweeps, decisions, notices, scratch, reconcile runs.

    Built on an open :class:`~cloudkit.lifecycle.SagaStore` (its engine, its clock); the tables come
    with the saga store's migrations.

    Example:
        >>> from cloudkit.lifecycle import SagaStore
        >>> from cloudkit.lifecycle._opstore import OpStore
        >>> with SagaStore.open("sqlite://") as saga_store:
        ...     ops = OpStore(saga_store)
        ...     first = ops.acquire_lease("stoprules", "worker-1", 60)
        ...     second = ops.acquire_lease("stoprules", "worker-2", 60)
        ...     sweep = ops.start_sweep("default", owner="worker-1", dry_run=True)
        ...     _ = ops.finish_sweep(sweep.id, "done", counts={"accounts": 0})
        ...     print(first, second, [s.state for s in ops.sweeps()], ops.recent_decisions())
        True False ['done'] []
    """

    def __init__(self, saga_store: SagaStore) -> None:
        """Use ``saga_store``'s engine and clock (the caller keeps ownership of the store)."""
        self.saga_store = saga_store

    def __repr__(self) -> str:
        """The store it shares."""
        return f"OpStore({self.saga_store!r})"

    def now(self) -> dt.datetime:
        """The shared clock's "now"."""
        return self.saga_store.now()

    # ------------------------------------------------------------------------------------ leases
    def acquire_lease(self, name: str, owner: str, seconds: float) -> bool:
        """Take lease ``name`` for ``seconds``: ``True`` when taken (free, run out, or already ours).

        Two callers racing for a free lease: one insert wins, the other one's update finds a live lease.
        """
        _check_name(owner, "owner", "acquire_lease")
        until = self.now() + _span(seconds, "acquire_lease")
        for _ in range(3):
            with self.saga_store.transaction("acquire_lease") as conn:
                now = self.now()
                won = conn.execute(
                    leases.update()
                    .where(leases.c.name == name, sa.or_(leases.c.until < now, leases.c.owner == owner))
                    .values(owner=owner, until=until)
                ).rowcount
                if won == 1:
                    return True
                if conn.execute(sa.select(leases.c.name).where(leases.c.name == name)).first() is not None:
                    return False
                try:
                    with conn.begin_nested():
                        conn.execute(leases.insert().values(name=name, owner=owner, until=until))
                except sa_exc.IntegrityError:
                    continue  # someone inserted it first: look again
                return True
        return False  # pragma: no cover - three lost insert races in a row

    def renew_lease(self, name: str, owner: str, seconds: float) -> bool:
        """Extend ``owner``'s lease to now + ``seconds``; ``False`` when someone else took it."""
        until = self.now() + _span(seconds, "renew_lease")
        with self.saga_store.transaction("renew_lease") as conn:
            return (
                conn.execute(
                    leases.update().where(leases.c.name == name, leases.c.owner == owner).values(until=until)
                ).rowcount
                == 1
            )

    def release_lease(self, name: str, owner: str) -> None:
        """Give lease ``name`` back (no-op when ``owner`` does not hold it)."""
        with self.saga_store.transaction("release_lease") as conn:
            conn.execute(leases.delete().where(leases.c.name == name, leases.c.owner == owner))

    def lease(self, name: str) -> LeaseRecord | None:
        """Lease ``name`` as stored (it may have run out), or ``None``."""
        with self.saga_store.transaction("get_lease") as conn:
            row = conn.execute(sa.select(leases).where(leases.c.name == name)).mappings().first()
            return (
                None if row is None else LeaseRecord(name=row["name"], owner=row["owner"], until=row["until"])
            )

    # ---------------------------------------------------------------------------------- accounts
    def accounts(self, accounts: Iterable[int]) -> dict[int, AccountRecord]:
        """The stored rows of these accounts (accounts without a row are left out)."""
        found: dict[int, AccountRecord] = {}
        with self.saga_store.transaction("get_accounts") as conn:
            for chunk in _chunks(accounts):
                rows = conn.execute(
                    sa.select(stoprule_accounts).where(stoprule_accounts.c.account.in_(chunk))
                ).mappings()
                for row in rows:
                    found[row["account"]] = _account(row)
        return found

    def account(self, account: int) -> AccountRecord | None:
        """One account's row, or ``None``."""
        return self.accounts([account]).get(account)

    def save_account(self, record: AccountRecord) -> AccountRecord:
        """Insert or replace the account's row (``updated_at`` is now)."""
        now = self.now()
        values = {
            "below_limit_since": record.below_limit_since,
            "notified_level": record.notified_level,
            "notices_since": record.notices_since,
            "suspended_at": record.suspended_at,
            "suspended_reason": record.suspended_reason,
            "suspended_by": record.suspended_by,
            "deleted_at": record.deleted_at,
            "updated_at": now,
        }
        for _ in range(3):
            with self.saga_store.transaction("save_account") as conn:
                updated = conn.execute(
                    stoprule_accounts.update()
                    .where(stoprule_accounts.c.account == record.account)
                    .values(**values)
                ).rowcount
                if updated != 1:
                    try:
                        with conn.begin_nested():
                            conn.execute(stoprule_accounts.insert().values(account=record.account, **values))
                    except sa_exc.IntegrityError:
                        continue
                return attrs.evolve(record, updated_at=now)
        return record  # pragma: no cover - three lost insert races in a row

    # ------------------------------------------------------------------------------------- items
    def add_item(self, account: int, item: int, saga_id: str | None) -> None:
        """Record that the sweep suspended ``item`` of ``account`` (again: the saga id is updated)."""
        now = self.now()
        with self.saga_store.transaction("add_item") as conn:
            updated = conn.execute(
                stoprule_items.update()
                .where(stoprule_items.c.account == account, stoprule_items.c.item == item)
                .values(saga_id=saga_id)
            ).rowcount
            if updated != 1:
                conn.execute(
                    stoprule_items.insert().values(
                        account=account, item=item, saga_id=saga_id, stopped_at=now
                    )
                )

    def items(self, account: int) -> list[ItemRecord]:
        """The items the sweep suspended of ``account``, by item."""
        with self.saga_store.transaction("get_items") as conn:
            rows = conn.execute(
                sa.select(stoprule_items)
                .where(stoprule_items.c.account == account)
                .order_by(stoprule_items.c.item)
            ).mappings()
            return [_item(row) for row in rows]

    def accounts_with_items(self, accounts: Iterable[int]) -> set[int]:
        """Which of these accounts have items the sweep suspended."""
        found: set[int] = set()
        with self.saga_store.transaction("accounts_with_items") as conn:
            for chunk in _chunks(accounts):
                found.update(
                    conn.execute(
                        sa.select(stoprule_items.c.account)
                        .where(stoprule_items.c.account.in_(chunk))
                        .distinct()
                    ).scalars()
                )
        return found

    def broken_items(self, accounts: Iterable[int]) -> list[ItemRecord]:
        """The items of these accounts whose recorded saga ended ``failed`` or ``needs_operator``.

        One query per 500 accounts; the sweep asks it once per page, for the accounts it suspended.
        """
        found: list[ItemRecord] = []
        with self.saga_store.transaction("broken_items") as conn:
            for chunk in _chunks(accounts):
                rows = conn.execute(
                    sa.select(stoprule_items)
                    .join(sagas, sagas.c.id == stoprule_items.c.saga_id)
                    .where(
                        stoprule_items.c.account.in_(chunk),
                        sagas.c.state.in_((SagaState.FAILED.value, SagaState.NEEDS_OPERATOR.value)),
                    )
                    .order_by(stoprule_items.c.account, stoprule_items.c.item)
                ).mappings()
                found.extend(_item(row) for row in rows)
        return found

    def remove_item(self, account: int, item: int) -> None:
        """Forget ``item`` (resumed or closed)."""
        with self.saga_store.transaction("remove_item") as conn:
            conn.execute(
                stoprule_items.delete().where(
                    stoprule_items.c.account == account, stoprule_items.c.item == item
                )
            )

    # ----------------------------------------------------------------------------------- notices
    def claim_notice(self, account: int, level: int, dip_started: dt.datetime) -> bool:
        """Record a notice before sending it: ``False`` when it was recorded already (never send twice)."""
        with self.saga_store.transaction("claim_notice") as conn:
            try:
                with conn.begin_nested():
                    conn.execute(
                        notices.insert().values(
                            account=account, level=level, dip_started=dip_started, sent_at=self.now()
                        )
                    )
            except sa_exc.IntegrityError:
                return False
            return True

    def unclaim_notice(self, account: int, level: int, dip_started: dt.datetime) -> None:
        """Forget a notice whose sending failed, so the next sweep sends it."""
        with self.saga_store.transaction("unclaim_notice") as conn:
            conn.execute(
                notices.delete().where(
                    notices.c.account == account,
                    notices.c.level == level,
                    notices.c.dip_started == dip_started,
                )
            )

    def notice_levels(self, account: int) -> list[tuple[int, dt.datetime]]:
        """The account's recorded notices as (level, dip started), oldest first."""
        with self.saga_store.transaction("get_notices") as conn:
            rows = conn.execute(
                sa.select(notices.c.level, notices.c.dip_started)
                .where(notices.c.account == account)
                .order_by(notices.c.sent_at, notices.c.level.desc())
            )
            return [(row.level, row.dip_started) for row in rows]

    # ------------------------------------------------------------------------------------ sweeps
    def start_sweep(self, policy: str, *, owner: str, dry_run: bool) -> SweepRecord:
        """A new ``running`` sweep row."""
        record = SweepRecord(
            id=str(uuid.uuid4()),
            policy=policy,
            dry_run=dry_run,
            state="running",
            owner=owner,
            started_at=self.now(),
        )
        with self.saga_store.transaction("start_sweep") as conn:
            conn.execute(
                sweeps.insert().values(
                    id=record.id,
                    policy=policy,
                    dry_run=dry_run,
                    state=record.state,
                    owner=owner,
                    started_at=record.started_at,
                    counts="{}",
                )
            )
        return record

    def update_sweep_counts(self, sweep_id: str, counts: Mapping[str, int]) -> None:
        """Store the running sweep's counts so far (the console shows progress)."""
        with self.saga_store.transaction("update_sweep") as conn:
            conn.execute(sweeps.update().where(sweeps.c.id == sweep_id).values(counts=_dump(counts)))

    def finish_sweep(
        self, sweep_id: str, state: str, *, counts: Mapping[str, int], error: str | None = None
    ) -> SweepRecord:
        """End a sweep (``done`` or ``failed``) and drop its scratch rows."""
        with self.saga_store.transaction("finish_sweep") as conn:
            conn.execute(
                sweeps.update()
                .where(sweeps.c.id == sweep_id)
                .values(state=state, finished_at=self.now(), counts=_dump(counts), error=error)
            )
            conn.execute(sweep_scratch.delete().where(sweep_scratch.c.sweep_id == sweep_id))
            return _sweep(conn.execute(sa.select(sweeps).where(sweeps.c.id == sweep_id)).mappings().one())

    def abandon_stale_sweeps(self, *, keep: str | None = None) -> list[str]:
        """Mark every ``running`` sweep but ``keep`` abandoned and drop its scratch; their ids.

        Call only while holding the sweep lease: then no other sweep is running.
        """
        with self.saga_store.transaction("abandon_sweeps") as conn:
            query = sa.select(sweeps.c.id).where(sweeps.c.state == "running")
            if keep is not None:
                query = query.where(sweeps.c.id != keep)
            stale = list(conn.execute(query).scalars())
            if stale:
                conn.execute(
                    sweeps.update()
                    .where(sweeps.c.id.in_(stale))
                    .values(state="abandoned", finished_at=self.now())
                )
                conn.execute(sweep_scratch.delete().where(sweep_scratch.c.sweep_id.in_(stale)))
            return stale

    def sweep(self, sweep_id: str) -> SweepRecord | None:
        """One sweep, or ``None``."""
        with self.saga_store.transaction("get_sweep") as conn:
            row = conn.execute(sa.select(sweeps).where(sweeps.c.id == sweep_id)).mappings().first()
            return None if row is None else _sweep(row)

    def sweeps(self, limit: int = 20) -> list[SweepRecord]:
        """The latest sweeps, newest first."""
        with self.saga_store.transaction("list_sweeps") as conn:
            rows = conn.execute(
                sa.select(sweeps).order_by(sweeps.c.started_at.desc(), sweeps.c.id).limit(limit)
            ).mappings()
            return [_sweep(row) for row in rows]

    # ----------------------------------------------------------------------------------- scratch
    def add_scratch(self, sweep_id: str, rows: Iterable[ScratchRow]) -> int:
        """Store per-sweep figures (one page at a time); how many rows."""
        values = [
            {"sweep_id": sweep_id, "account": r.account, "kind": r.kind, "amount": r.amount, "until": r.until}
            for r in rows
        ]
        if values:
            with self.saga_store.transaction("add_scratch") as conn:
                conn.execute(sweep_scratch.insert(), values)
        return len(values)

    def scratch(self, sweep_id: str, accounts: Iterable[int]) -> dict[int, list[ScratchRow]]:
        """These accounts' scratch rows (spend summed per account into one row; promises one by one)."""
        found: dict[int, list[ScratchRow]] = {}
        with self.saga_store.transaction("get_scratch") as conn:
            for chunk in _chunks(accounts):
                spend = conn.execute(
                    sa.select(sweep_scratch.c.account, sa.func.sum(sweep_scratch.c.amount).label("amount"))
                    .where(
                        sweep_scratch.c.sweep_id == sweep_id,
                        sweep_scratch.c.kind == "spend",
                        sweep_scratch.c.account.in_(chunk),
                    )
                    .group_by(sweep_scratch.c.account)
                )
                for row in spend:
                    amount = _MONEY.process_result_value(row.amount, conn.dialect) or Decimal(0)
                    found.setdefault(row.account, []).append(
                        ScratchRow(account=row.account, kind="spend", amount=amount)
                    )
                promises = conn.execute(
                    sa.select(sweep_scratch)
                    .where(
                        sweep_scratch.c.sweep_id == sweep_id,
                        sweep_scratch.c.kind != "spend",
                        sweep_scratch.c.account.in_(chunk),
                    )
                    .order_by(sweep_scratch.c.account, sweep_scratch.c.until)
                ).mappings()
                for promise in promises:
                    found.setdefault(promise["account"], []).append(
                        ScratchRow(
                            account=promise["account"],
                            kind=promise["kind"],
                            amount=promise["amount"],
                            until=promise["until"],
                        )
                    )
        return found

    def clear_scratch(self, sweep_id: str) -> None:
        """Drop a sweep's scratch rows."""
        with self.saga_store.transaction("clear_scratch") as conn:
            conn.execute(sweep_scratch.delete().where(sweep_scratch.c.sweep_id == sweep_id))

    # --------------------------------------------------------------------------------- decisions
    def record_decisions(self, sweep_id: str, decisions: Iterable[DecisionLike], *, dry_run: bool) -> int:
        """Store decisions with their reasons and amounts; how many."""
        now = self.now()
        values = [
            {
                "sweep_id": sweep_id,
                "account": d.account,
                "action": str(d.action),
                "code": d.code,
                "reason": d.reason,
                "balance": d.balance,
                "credit_limit": d.credit_limit,
                "credit": d.credit,
                "promised": d.promised_counted,
                "hourly_spend": d.hourly_spend,
                "hours_left": d.hours_left,
                "notice_level": d.notice_level,
                "dry_run": dry_run,
                "decided_at": now,
            }
            for d in decisions
        ]
        if values:
            with self.saga_store.transaction("record_decisions") as conn:
                conn.execute(sweep_decisions.insert(), values)
        return len(values)

    def recent_decisions(self, limit: int = 50, *, sweep_id: str | None = None) -> list[DecisionRecord]:
        """The latest recorded decisions (of one sweep when ``sweep_id`` is given), newest first."""
        query = sa.select(sweep_decisions)
        if sweep_id is not None:
            query = query.where(sweep_decisions.c.sweep_id == sweep_id)
        query = query.order_by(sweep_decisions.c.decided_at.desc(), sweep_decisions.c.id.desc()).limit(limit)
        with self.saga_store.transaction("recent_decisions") as conn:
            return [_decision(row) for row in conn.execute(query).mappings()]

    # --------------------------------------------------------------------------------- reconcile
    def start_reconcile_run(self, *, fix: bool) -> ReconcileRunRecord:
        """A new ``running`` reconciliation run."""
        record = ReconcileRunRecord(id=str(uuid.uuid4()), fix=fix, state="running", started_at=self.now())
        with self.saga_store.transaction("start_reconcile") as conn:
            conn.execute(
                reconcile_runs.insert().values(
                    id=record.id, fix=fix, state=record.state, started_at=record.started_at, counts="{}"
                )
            )
        return record

    def add_findings(self, run_id: str, findings: Iterable[FindingLike]) -> int:
        """Store a run's findings; how many."""
        now = self.now()
        values = [
            {
                "run_id": run_id,
                "kind": str(f.kind),
                "subject": f.subject,
                "detail": f.detail,
                "saga_id": f.saga_id,
                "found_at": now,
            }
            for f in findings
        ]
        if values:
            with self.saga_store.transaction("add_findings") as conn:
                conn.execute(reconcile_findings.insert(), values)
        return len(values)

    def finish_reconcile_run(
        self, run_id: str, state: str, *, counts: Mapping[str, int], error: str | None = None
    ) -> ReconcileRunRecord:
        """End a run (``done`` or ``failed``)."""
        with self.saga_store.transaction("finish_reconcile") as conn:
            conn.execute(
                reconcile_runs.update()
                .where(reconcile_runs.c.id == run_id)
                .values(state=state, finished_at=self.now(), counts=_dump(counts), error=error)
            )
            row = (
                conn.execute(sa.select(reconcile_runs).where(reconcile_runs.c.id == run_id)).mappings().one()
            )
            return _run(row)

    def reconcile_runs(self, limit: int = 20) -> list[ReconcileRunRecord]:
        """The latest reconciliation runs, newest first."""
        with self.saga_store.transaction("list_reconcile_runs") as conn:
            rows = conn.execute(
                sa.select(reconcile_runs)
                .order_by(reconcile_runs.c.started_at.desc(), reconcile_runs.c.id)
                .limit(limit)
            ).mappings()
            return [_run(row) for row in rows]

    def findings(self, run_id: str) -> list[FindingRecord]:
        """One run's findings, in the order found."""
        with self.saga_store.transaction("get_findings") as conn:
            return self._findings(conn, run_id)

    def latest_findings(self) -> list[FindingRecord]:
        """The findings of the latest finished (``done``) reconciliation run; ``[]`` before any."""
        with self.saga_store.transaction("latest_findings") as conn:
            run_id = conn.execute(
                sa.select(reconcile_runs.c.id)
                .where(reconcile_runs.c.state == "done")
                .order_by(reconcile_runs.c.finished_at.desc(), reconcile_runs.c.started_at.desc())
                .limit(1)
            ).scalar()
            return [] if run_id is None else self._findings(conn, run_id)

    def _findings(self, conn: Connection, run_id: str) -> list[FindingRecord]:
        rows = conn.execute(
            sa.select(reconcile_findings)
            .where(reconcile_findings.c.run_id == run_id)
            .order_by(reconcile_findings.c.id)
        ).mappings()
        return [
            FindingRecord(
                id=row["id"],
                run_id=row["run_id"],
                kind=row["kind"],
                subject=row["subject"],
                detail=row["detail"],
                saga_id=row["saga_id"],
                found_at=row["found_at"],
            )
            for row in rows
        ]


# ------------------------------------------------------------------------------------------ module
def _check_name(value: object, what: str, operation: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"a lease {what} is a non-empty name", system=SYSTEM, operation=operation)


def _span(seconds: object, operation: str) -> dt.timedelta:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise InvalidArgumentError(
            f"a lease lasts a positive number of seconds, not {seconds!r}", system=SYSTEM, operation=operation
        )
    return dt.timedelta(seconds=seconds)


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    batch: list[int] = []
    for value in ids:
        batch.append(value)
        if len(batch) >= _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _dump(counts: Mapping[str, int]) -> str:
    return json.dumps(dict(counts), sort_keys=True)


def _load_counts(text: str | None) -> dict[str, int]:
    if not text:
        return {}
    loaded: Any = json.loads(text)
    return {str(k): int(v) for k, v in loaded.items()}


def _account(row: RowMapping) -> AccountRecord:
    return AccountRecord(
        account=row["account"],
        below_limit_since=row["below_limit_since"],
        notified_level=row["notified_level"],
        notices_since=row["notices_since"],
        suspended_at=row["suspended_at"],
        suspended_reason=row["suspended_reason"],
        suspended_by=row["suspended_by"],
        deleted_at=row["deleted_at"],
        updated_at=row["updated_at"],
    )


def _item(row: RowMapping) -> ItemRecord:
    return ItemRecord(
        account=row["account"], item=row["item"], saga_id=row["saga_id"], stopped_at=row["stopped_at"]
    )


def _sweep(row: RowMapping) -> SweepRecord:
    return SweepRecord(
        id=row["id"],
        policy=row["policy"],
        dry_run=bool(row["dry_run"]),
        state=row["state"],
        owner=row["owner"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        counts=_load_counts(row["counts"]),
        error=row["error"],
    )


def _run(row: RowMapping) -> ReconcileRunRecord:
    return ReconcileRunRecord(
        id=row["id"],
        fix=bool(row["fix"]),
        state=row["state"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        counts=_load_counts(row["counts"]),
        error=row["error"],
    )


def _decision(row: RowMapping) -> DecisionRecord:
    return DecisionRecord(
        id=row["id"],
        sweep_id=row["sweep_id"],
        account=row["account"],
        action=row["action"],
        code=row["code"],
        reason=row["reason"],
        balance=row["balance"],
        credit_limit=row["credit_limit"],
        credit=row["credit"],
        promised=row["promised"],
        hourly_spend=row["hourly_spend"],
        hours_left=row["hours_left"],
        notice_level=row["notice_level"],
        dry_run=bool(row["dry_run"]),
        decided_at=row["decided_at"],
    )
