"""The stop-rule sweep: read every account page by page, :func:`decide`, record, act through the sagas.

One sweep at a time (a database lease, ``"stoprules"``); memory flat in the number of accounts (the
window's expenses and the promised payments go to ``sweep_scratch`` page by page, and each page of
accounts reads back only its own rows). What it does per account:

- **notify**: the notice is recorded in ``notices`` *before* the hook is called (a sweep killed right
  after the hook never sends it again: at most once); a hook that raises has its row deleted, so the
  next sweep tries again.
- **suspend**: every ``ACTIVE`` service of the account (found by one more page-by-page pass over the
  services, for the suspending accounts only) gets a ``NONPAYMENT`` suspend saga (stop + admin lock
  with the reason, then billing marked by the saga's billing step); each item is written to
  ``stoprule_items`` before its saga starts. The account is recorded as suspended by the policy only
  after its sagas started without failing, so a failed one is tried again by the next sweep.
- **resume**: only the items in ``stoprule_items`` whose latest saga is still the sweep's nonpayment
  suspend (a staff or abuse suspension made since then is left alone).
- **delete_due**: a close saga for each of those same items.
- **broken suspends**: with a runner that returns before the saga ends (Celery), an account is
  recorded suspended while its sagas still run. So each sweep looks at the accounts this policy
  suspended and not resuming or closing now: an item whose recorded saga is still its latest and ended
  ``failed`` or ``needs_operator`` is counted (``items_broken``) and named in the report's errors; a
  ``failed`` one (undone, nothing half-way) gets a new suspend saga (``items_retried``), a
  ``needs_operator`` one waits for an operator's retry (``Lifecycle.retry``, the console).

A sweep killed half-way leaves its lease until it runs out (``LifecycleSettings.lease_seconds``) and
its row ``running``; the next sweep marks that row ``abandoned`` and starts over, and every step above
is safe to repeat (sagas join, notices are keyed, account rows are written last).
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

import attrs

from cloudkit.billing import Account, ServiceStatus
from cloudkit.errors import CloudkitError, ConfigError, ConflictError
from cloudkit.lifecycle._models import ModuleCommand, Saga, SagaState, SuspendReason
from cloudkit.lifecycle._opstore import AccountRecord, ItemRecord, OpStore, ScratchRow
from cloudkit.lifecycle._settings import config_section
from cloudkit.lifecycle._stoprules import (
    AccountState,
    Action,
    Decision,
    Notice,
    PromisedPayment,
    StopPolicy,
    Suspension,
    apply,
    decide,
)

if TYPE_CHECKING:
    from cloudkit.billing import BillingClient
    from cloudkit.lifecycle._lifecycle import Lifecycle

__all__ = ["LEASE", "PAGE", "SweepReport", "policy_from_env", "run_sweep"]

log = logging.getLogger("cloudkit.lifecycle.sweep")
SYSTEM = "lifecycle"
LEASE = "stoprules"
"""The name of the database lease two sweeps compete for."""
PAGE = 500
"""Accounts (and scratch rows, and services) handled per page: the sweep's memory bound."""
_RATE = Decimal("0.0001")
_MAX_ERRORS = 20
_SCRATCH_BATCH = 1000
"""Accounts whose window spend is held in memory before it goes to ``sweep_scratch`` in one commit."""
_COUNTS_EVERY = 10.0
"""Seconds (store clock) between two writes of a running sweep's counts (the console shows them)."""
_BROKEN = (SagaState.FAILED, SagaState.NEEDS_OPERATOR)
_T = TypeVar("_T")

Progress = Callable[[str, int], None]
"""``progress(phase, count)``: phase ``expenses``, ``payments``, ``accounts`` or ``services``; how many
rows of it have been read so far."""


def _counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return dict(value)


@attrs.frozen(kw_only=True)
class SweepReport:
    """What one sweep did.

    Attributes:
        sweep_id: the ``sweeps`` row (its decisions: ``OpStore.recent_decisions(sweep_id=...)``).
        policy: the policy's name.
        dry_run: decided and recorded only; nothing was sent or changed.
        state: ``done`` or ``failed``.
        started_at, finished_at: the store's clock.
        counts: ``accounts`` read; one count per action decided (``ok``, ``notify``, ``suspend``,
            ``resume``, ``delete_due``); ``recorded`` decisions; ``notices_sent``,
            ``notices_failed`` (hook raised; retried next sweep), ``notices_skipped`` (recorded by an
            earlier, killed sweep); ``items_suspended``, ``items_resumed``, ``items_closed``,
            ``items_not_ours`` (left alone: their latest saga is not the sweep's), ``item_errors``;
            ``items_resuming`` (resumes handed to the workers, not done yet: their items stay listed
            until a later sweep sees them done, or starts them again when they failed);
            ``items_broken`` (a suspended account's item whose suspend saga ended failed or
            needs_operator), ``items_retried`` (of those, the failed ones given a new suspend saga);
            ``leftovers`` (accounts in good standing with items a killed sweep suspended before it
            recorded the account: resumed); ``abandoned`` stale sweeps.
        errors: the first errors met (type and message), at most 20.

    Example:
        >>> import datetime as dt
        >>> from cloudkit.lifecycle import SweepReport
        >>> at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        >>> report = SweepReport(sweep_id="s1", policy="default", dry_run=False, state="done",
        ...                      started_at=at, finished_at=at, counts={"accounts": 3, "suspend": 1})
        >>> report["suspend"], report["resume"]
        (1, 0)
    """

    sweep_id: str
    policy: str
    dry_run: bool
    state: str
    started_at: dt.datetime
    finished_at: dt.datetime
    counts: Mapping[str, int] = attrs.field(factory=dict, converter=_counts)
    errors: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> int:
        """A count by name; 0 when nothing of that kind happened."""
        return self.counts.get(key, 0)


def policy_from_env(environ: Mapping[str, str] | None = None) -> StopPolicy:
    """The policy in the ``[stoprules]`` table of ``cloudkit.toml`` (defaults without the file or table).

    The file is the one ``CLOUDKIT_CONFIG`` names, else ``./cloudkit.toml``.

    Raises:
        ConfigError: a bad or unknown policy field (named).

    Example:
        >>> from cloudkit.lifecycle._sweep import policy_from_env
        >>> policy_from_env({}).name
        'default'
    """
    return StopPolicy.from_mapping(config_section("stoprules", environ))


def run_sweep(
    lifecycle: Lifecycle,
    policy: StopPolicy,
    *,
    dry_run: bool = False,
    notify: Callable[[Notice], None] | None = None,
    progress: Progress | None = None,
    page_size: int = PAGE,
) -> SweepReport:
    """One sweep under the ``"stoprules"`` lease (what :meth:`Lifecycle.sweep` runs).

    Raises:
        ConflictError: another sweep holds the lease ("another sweep is running").
        ConfigError: the lifecycle has no billing to read accounts from.
    """
    billing = lifecycle.systems.billing()
    if billing is None:
        raise ConfigError(
            "the stop-rule sweep reads accounts from billing: configure CLOUDKIT_BILLING_URL",
            system=SYSTEM,
            operation="sweep",
        )
    ops = OpStore(lifecycle.store)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lease_seconds = lifecycle.settings.lease_seconds
    if not ops.acquire_lease(LEASE, owner, lease_seconds):
        holder = ops.lease(LEASE)
        until = "" if holder is None else f" (lease held by {holder.owner} until {holder.until:%H:%M:%S} UTC)"
        raise ConflictError(f"another sweep is running{until}", system=SYSTEM, operation="sweep")
    run = _Run(lifecycle, billing, ops, policy, owner, dry_run=dry_run, notify=notify, progress=progress)
    run.page_size = max(int(page_size), 1)
    # Only Exception is handled: a BaseException (a killed worker, Ctrl-C) leaves the lease to run out
    # and the row running, as a real kill would; the next sweep abandons that row.
    try:
        run.counts["abandoned"] = len(ops.abandon_stale_sweeps())
        run.start()
        run.execute()
    except Exception as exc:
        run.error(exc)
        try:
            run.finish("failed", f"{type(exc).__name__}: {exc}")
            ops.release_lease(LEASE, owner)
        except CloudkitError:  # the database itself failed: the lease runs out by itself
            log.exception("sweep %s: could not record its failure", run.sweep_id)
        raise
    report = run.finish("done", None)
    ops.release_lease(LEASE, owner)
    log.info("sweep %s done: %s", report.sweep_id, dict(report.counts))
    return report


class _Run:
    """One sweep's state: counters, the suspends waiting for the services pass, the lease."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        billing: BillingClient,
        ops: OpStore,
        policy: StopPolicy,
        owner: str,
        *,
        dry_run: bool,
        notify: Callable[[Notice], None] | None,
        progress: Progress | None,
    ) -> None:
        self.lifecycle = lifecycle
        self.billing = billing
        self.ops = ops
        self.policy = policy
        self.owner = owner
        self.dry_run = dry_run
        self.notify = notify
        self.progress = progress
        self.page_size = PAGE
        self.counts: collections.Counter[str] = collections.Counter()
        self.errors: list[str] = []
        self.sweep_id = ""
        self.started_at = ops.now()
        self.renewed_at = self.counted_at = self.started_at  # the lease was just taken
        self.now = self.started_at
        # account -> (row to store once its services are suspended, the decision): only the accounts
        # suspending in this sweep, never every account
        self.pending: dict[int, AccountRecord] = {}

    # ------------------------------------------------------------------------------ frame
    def start(self) -> None:
        record = self.ops.start_sweep(self.policy.name, owner=self.owner, dry_run=self.dry_run)
        self.sweep_id = record.id
        self.started_at = self.now = record.started_at

    def finish(self, state: str, error: str | None) -> SweepReport:
        counts = {k: v for k, v in sorted(self.counts.items()) if v}
        finished = self.ops.now()
        if self.sweep_id:
            finished = (
                self.ops.finish_sweep(self.sweep_id, state, counts=counts, error=error).finished_at
                or finished
            )
        return SweepReport(
            sweep_id=self.sweep_id,
            policy=self.policy.name,
            dry_run=self.dry_run,
            state=state,
            started_at=self.started_at,
            finished_at=finished,
            counts=counts,
            errors=tuple(self.errors),
        )

    def error(self, exc: BaseException, where: str = "") -> None:
        self.counts["errors"] += 1
        if len(self.errors) < _MAX_ERRORS:
            prefix = f"{where}: " if where else ""
            self.errors.append(f"{prefix}{type(exc).__name__}: {exc}")

    def note(self, text: str) -> None:
        """An error that is not an exception (a saga that ended broken), kept among the first 20."""
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(text)

    def renew(self, *, counts: bool = False) -> None:
        """Renew the lease once a quarter of ``lease_seconds`` has passed; store the counts every 10 s.

        Not after every page: each is a commit, and on SQLite on disk one commit per page was a tenth of a
        no-change sweep (benchmarks/bench_sweep.py). A quarter of the lease leaves three quarters of
        margin before another sweep could take it over.
        """
        now = self.ops.now()
        if counts and (now - self.counted_at).total_seconds() >= _COUNTS_EVERY:
            self.counted_at = now  # the console's progress: fresh enough, and not a commit per page
            self.ops.update_sweep_counts(self.sweep_id, self.counts)
        if (now - self.renewed_at).total_seconds() < self.lifecycle.settings.lease_seconds / 4:
            return
        self.renewed_at = now
        if not self.ops.renew_lease(LEASE, self.owner, self.lifecycle.settings.lease_seconds):
            raise ConflictError(
                "the sweep lost its lease (it ran past lease_seconds and another sweep took over)",
                system=SYSTEM,
                operation="sweep",
            )

    def tick(self, phase: str, count: int) -> None:
        if self.progress is not None:
            self.progress(phase, count)

    # ------------------------------------------------------------------------------ passes
    def execute(self) -> None:
        self.read_scratch()
        seen = 0
        for page in _pages(self.billing.iter_accounts(), self.page_size):
            self.account_page(page)
            seen += len(page)
            self.counts["accounts"] = seen
            self.tick("accounts", seen)
            self.renew(counts=True)
        if self.pending:
            self.suspend_pending()

    def read_scratch(self) -> None:
        """The window's spend per account and the unpaid promises, into ``sweep_scratch``, page by page."""
        since = self.now - dt.timedelta(hours=self.policy.spend_window_hours)
        read = 0
        # Summed per account over several pages and written when _SCRATCH_BATCH accounts are held: a
        # bounded dict (memory stays flat) and a few commits instead of one per page. The scratch may
        # hold several spend rows of one account; reading it back sums them.
        spend: dict[int, Decimal] = collections.defaultdict(Decimal)
        for page in _pages(self.billing.iter_expenses(since=since), self.page_size):
            for expense in page:
                if expense.account_id is not None:
                    spend[expense.account_id] += expense.amount
            if len(spend) >= _SCRATCH_BATCH:
                self.flush_spend(spend)
            read += len(page)
            self.tick("expenses", read)
            self.renew()
        self.flush_spend(spend)
        read = 0
        for payments in _pages(self.billing.iter_payments(promised_only=True), self.page_size):
            self.ops.add_scratch(
                self.sweep_id,
                (
                    ScratchRow(account=p.account_id, kind="promise", amount=p.amount, until=p.promised_until)
                    for p in payments
                    if p.account_id is not None
                ),
            )
            read += len(payments)
            self.tick("payments", read)
            self.renew()

    def flush_spend(self, spend: dict[int, Decimal]) -> None:
        self.ops.add_scratch(
            self.sweep_id,
            (ScratchRow(account=a, kind="spend", amount=amount) for a, amount in spend.items()),
        )
        spend.clear()

    def account_page(self, page: list[Account]) -> None:
        ids = [int(account.id) for account in page]
        rows = self.ops.accounts(ids)
        scratch = self.ops.scratch(self.sweep_id, ids)
        leftovers = set() if self.dry_run else self.ops.accounts_with_items(ids)
        broken = self.broken_items(rows.values())
        recorded: list[Decision] = []
        for account in page:
            aid = int(account.id)
            row = rows.get(aid)
            state = self.state_of(account, row, scratch.get(aid, []))
            decision = decide(state, self.policy, self.now)
            after = apply(state, decision, self.policy, self.now)
            self.counts[str(decision.action)] += 1
            if (
                aid in leftovers
                and state.suspension is None
                and decision.action in (Action.OK, Action.NOTIFY)
            ):
                # a sweep killed between suspending these items and recording the account: the account
                # is in good standing now, so what that sweep stopped comes back
                self.counts["leftovers"] += 1
                try:
                    self.resume_items(aid)
                except CloudkitError as exc:
                    self.error(exc, f"account {aid}")
            if aid in broken and decision.action not in (Action.RESUME, Action.DELETE_DUE):
                self.repair(aid, broken[aid])  # (resume and close handle a broken suspend themselves)
            if decision.action is Action.OK and decision.notice_level is None and after == state:
                continue  # a plain, unchanged ok: nothing to record, nothing to do
            recorded.append(decision)
            if self.dry_run:
                continue
            try:
                self.carry_out(row or AccountRecord(account=aid), state, decision, after)
            except CloudkitError as exc:  # one account's trouble does not stop the sweep
                self.error(exc, f"account {aid}")
        self.counts["recorded"] += self.ops.record_decisions(self.sweep_id, recorded, dry_run=self.dry_run)

    def state_of(
        self, account: Account, row: AccountRecord | None, scratch: Iterable[ScratchRow]
    ) -> AccountState:
        spend = Decimal(0)
        promised: list[PromisedPayment] = []
        for item in scratch:
            if item.kind == "spend":
                spend += item.amount
            else:
                promised.append(PromisedPayment(amount=item.amount, until=item.until or dt.date.max))
        hours = Decimal(str(self.policy.spend_window_hours))
        suspension = None
        if row is not None and row.suspended_at is not None:
            suspension = Suspension(
                at=row.suspended_at,
                reason=SuspendReason(row.suspended_reason or SuspendReason.STAFF),
                policy=row.suspended_by,
                deleted_at=row.deleted_at,
            )
        return AccountState(
            account=int(account.id),
            balance=account.balance,
            credit_limit=account.credit_limit,
            promised=promised,  # type: ignore[arg-type]  # attrs types converter=tuple as Iterable[_T_co]
            hourly_spend=(max(spend, Decimal(0)) / hours).quantize(_RATE) if spend else Decimal(0),
            below_limit_since=None if row is None else row.below_limit_since,
            notified_level=None if row is None else row.notified_level,
            suspension=suspension,
        )

    def broken_items(self, rows: Iterable[AccountRecord]) -> dict[int, list[ItemRecord]]:
        """The page's accounts this policy suspended whose items' suspend sagas ended broken."""
        ours = [
            r.account
            for r in rows
            if r.suspended_by == self.policy.name
            and r.suspended_reason == SuspendReason.NONPAYMENT.value
            and r.deleted_at is None
        ]
        found: dict[int, list[ItemRecord]] = collections.defaultdict(list)
        for record in self.ops.broken_items(ours) if ours else ():
            found[record.account].append(record)
        return found

    def repair(self, account: int, records: list[ItemRecord]) -> None:
        """Report each broken suspend; start a failed one again (an operator takes needs_operator)."""
        for record in records:
            item = record.item
            try:
                latest = self.lifecycle.store.find(item=item, limit=1)
                if not latest or latest[0].id != record.saga_id:
                    continue  # a newer saga (staff, an operator) decides this item now
                saga = latest[0]
                self.counts["items_broken"] += 1
                text = f"suspend item {item} of account {account}: saga {saga.id} {saga.state}"
                text += f": {saga.last_error}"
                log.warning("sweep %s: %s", self.sweep_id, text)  # the Celery task keeps only the counts
                self.note(text)
                if saga.state is not SagaState.FAILED or self.dry_run:
                    continue
                # the latest saga failed, so this is a new saga, not a join of the failed one
                again = self.lifecycle.suspend(item, SuspendReason.NONPAYMENT, account=account)
                self.ops.add_item(account, item, again.id)
            except CloudkitError as exc:
                self.counts["item_errors"] += 1
                self.error(exc, f"suspend item {item} again")
                continue
            self.counts["items_retried"] += 1
            if again.state in _BROKEN:  # an inline runner: the next sweep reports it again
                self.counts["item_errors"] += 1

    # ------------------------------------------------------------------------------ acting
    def carry_out(
        self, row: AccountRecord, state: AccountState, decision: Decision, after: AccountState
    ) -> None:
        notified = after.notified_level
        notices_since = row.notices_since
        notice = decision.notice()
        if notice is not None:
            notices_since, sent = self.send(row, notice)
            if not sent:
                notified = state.notified_level  # the next sweep tries again
        if notified is None and notice is None:
            notices_since = None  # the notices' run is over: the next low credit is a new one
        base = attrs.evolve(
            row,
            below_limit_since=after.below_limit_since,
            notified_level=notified,
            notices_since=notices_since,
        )
        action = decision.action
        if action is Action.SUSPEND:
            # stored after the services pass: only then is the account really suspended
            self.pending[row.account] = base
            return
        if action is Action.RESUME:
            # The account is stored active *before* its items resume: a sweep killed half-way leaves
            # items of an active account, which the next sweep resumes (leftovers) or, if the money ran
            # out again, suspends with the rest; never a "suspended" account with running servers.
            base = attrs.evolve(
                base, suspended_at=None, suspended_reason=None, suspended_by=None, deleted_at=None
            )
            self.ops.save_account(base)
            self.resume_items(row.account)
            return
        if action is Action.DELETE_DUE and self.close_items(row.account):
            base = attrs.evolve(base, deleted_at=self.now)
        if base != row:
            self.ops.save_account(base)

    def send(self, row: AccountRecord, notice: Notice) -> tuple[dt.datetime, bool]:
        """Send one notice at most once; (the notices' run key, whether it counts as sent)."""
        since = row.notices_since
        if since is None:
            since = self.now
            # stored before the notice, so a sweep killed after the hook finds the same key
            self.ops.save_account(attrs.evolve(row, notices_since=since))
        if not self.ops.claim_notice(notice.account, notice.level, since):
            self.counts["notices_skipped"] += 1
            return since, True
        if self.notify is not None:
            try:
                self.notify(notice)
            except Exception as exc:  # noqa: BLE001 - any hook failure: unrecord, so it is sent next time
                self.ops.unclaim_notice(notice.account, notice.level, since)
                self.counts["notices_failed"] += 1
                self.error(exc, f"notice to account {notice.account}")
                return since, False
        self.counts["notices_sent"] += 1
        return since, True

    def suspend_pending(self) -> None:
        """The services pass: suspend every ACTIVE service of the suspending accounts, then store them."""
        failed: set[int] = set()
        read = 0
        for page in _pages(self.billing.iter_services(), self.page_size):
            for service in page:
                account = service.account_id
                if account is None or account not in self.pending or service.status != ServiceStatus.ACTIVE:
                    continue
                if not self.suspend_item(account, int(service.id)):
                    failed.add(account)
            read += len(page)
            self.tick("services", read)
            self.renew()
        for account, base in self.pending.items():
            record = base
            if account not in failed:
                record = attrs.evolve(
                    base,
                    suspended_at=self.now,
                    suspended_reason=SuspendReason.NONPAYMENT.value,
                    suspended_by=self.policy.name,
                    deleted_at=None,
                )
            self.ops.save_account(record)

    def suspend_item(self, account: int, item: int) -> bool:
        try:
            self.ops.add_item(account, item, None)  # before the saga: what the sweep stopped is never lost
            saga = self.lifecycle.suspend(item, SuspendReason.NONPAYMENT, account=account)
            self.ops.add_item(account, item, saga.id)
        except CloudkitError as exc:
            self.counts["item_errors"] += 1
            self.error(exc, f"suspend item {item}")
            return False
        if saga.state in _BROKEN:
            self.counts["item_errors"] += 1
            self.note(f"suspend item {item}: saga {saga.id} {saga.state}: {saga.last_error}")
            return False
        self.counts["items_suspended"] += 1
        return True

    def resume_items(self, account: int) -> bool:
        return self._each_item(account, ModuleCommand.RESUME, "items_resumed")

    def close_items(self, account: int) -> bool:
        return self._each_item(account, ModuleCommand.CLOSE, "items_closed")

    def _each_item(self, account: int, command: ModuleCommand, counter: str) -> bool:
        """Resume or close what the sweep suspended; True when every item is done or on its way."""
        ok = True
        for record in self.ops.items(account):
            item = record.item
            try:
                latest = self.lifecycle.store.find(item=item, limit=1)
                if not latest or not _ours_or(latest[0], command):
                    # staff or abuse suspended it since, or it was closed: not the sweep's any more
                    self.counts["items_not_ours"] += 1
                    self.ops.remove_item(account, item)
                    continue
                if command is ModuleCommand.RESUME:
                    saga = self.lifecycle.resume(item, account=account)
                else:
                    saga = self.lifecycle.close(item, account=account)
            except CloudkitError as exc:
                self.counts["item_errors"] += 1
                self.error(exc, f"{command} item {item}")
                ok = False
                continue
            if saga.state in _BROKEN:
                self.counts["item_errors"] += 1
                self.note(f"{command} item {item}: saga {saga.id} {saga.state}: {saga.last_error}")
                ok = False
                continue
            if command is ModuleCommand.RESUME and saga.state is not SagaState.DONE:
                # On its way (a worker runs it): the item stays listed, so the next sweep finds the
                # account's leftovers, joins this resume and drops the item only once it is DONE, or
                # starts a new one if it FAILED. A resume is never forgotten before the server runs.
                self.counts["items_resuming"] += 1
                continue
            self.ops.remove_item(account, item)
            self.counts[counter] += 1
        return ok


def _ours_or(saga: Saga, command: ModuleCommand) -> bool:
    """The item's latest saga is the sweep's nonpayment suspend, or already the command (a rerun joins)."""
    ours = saga.operation is ModuleCommand.SUSPEND and saga.reason is SuspendReason.NONPAYMENT
    return ours or saga.operation is command


def _pages(rows: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(rows)
    while page := list(itertools.islice(iterator, size)):
        yield page
