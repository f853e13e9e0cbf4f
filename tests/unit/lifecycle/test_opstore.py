"""OpStore on SQLite and PostgreSQL: leases, account and item rows, notices, sweeps, scratch, decisions,
reconcile runs and the console's read API."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import attrs
import pytest

from cloudkit.errors import InvalidArgumentError
from cloudkit.lifecycle import SagaStore
from cloudkit.lifecycle._opstore import AccountRecord, OpStore, ScratchRow

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ops(lifecycle_db_url, clock):
    with SagaStore.open(lifecycle_db_url, clock=clock) as store:
        yield OpStore(store)


@attrs.frozen
class D:
    account: int
    action: str = "suspend"
    code: str = "grace_hours_over"
    reason: str = "credit -12.00 below the limit 50.00 for 26h (grace 24h)"
    balance: Decimal = Decimal("-62.00")
    credit_limit: Decimal = Decimal("50.00")
    credit: Decimal = Decimal("-12.00")
    promised_counted: Decimal = Decimal(0)
    hourly_spend: Decimal = Decimal("0.0417")
    hours_left: Decimal | None = None
    notice_level: int | None = None


@attrs.frozen
class F:
    kind: str
    subject: str
    detail: str
    saga_id: str | None = None


def test_lease_is_exclusive_until_it_runs_out(ops, clock):
    assert ops.acquire_lease("stoprules", "a", 60)
    assert not ops.acquire_lease("stoprules", "b", 60)
    assert ops.acquire_lease("stoprules", "a", 60)  # the owner again
    assert ops.renew_lease("stoprules", "a", 60)
    assert not ops.renew_lease("stoprules", "b", 60)
    clock.advance(61)
    assert ops.acquire_lease("stoprules", "b", 60)
    assert not ops.renew_lease("stoprules", "a", 60)
    ops.release_lease("stoprules", "a")  # not a's: no-op
    assert ops.lease("stoprules").owner == "b"
    ops.release_lease("stoprules", "b")
    assert ops.lease("stoprules") is None
    assert ops.acquire_lease("reconcile", "c", 1)  # leases are per name
    assert ops.acquire_lease("stoprules", "c", 1)


def test_lease_race_has_one_winner(lifecycle_db_url, clock):
    with SagaStore.open(lifecycle_db_url, clock=clock) as store:
        ops = OpStore(store)
        with ThreadPoolExecutor(8) as pool:
            won = list(pool.map(lambda n: ops.acquire_lease("stoprules", f"w{n}", 60), range(16)))
    assert won.count(True) == 1


@pytest.mark.parametrize(("owner", "seconds"), [("", 60), ("a", 0), ("a", True)])
def test_lease_arguments_are_checked(ops, owner, seconds):
    with pytest.raises(InvalidArgumentError):
        ops.acquire_lease("stoprules", owner, seconds)


def test_account_rows_upsert(ops, clock):
    assert ops.account(7) is None
    saved = ops.save_account(AccountRecord(account=7, below_limit_since=T0, notified_level=0))
    assert saved.updated_at == T0
    clock.advance(10)
    ops.save_account(
        attrs.evolve(saved, suspended_at=clock.now, suspended_reason="nonpayment", suspended_by="p")
    )
    rows = ops.accounts([7, 8])
    assert list(rows) == [7]
    assert rows[7].below_limit_since == T0
    assert rows[7].suspended_by == "p"
    assert rows[7].updated_at == clock.now


def test_items_and_notices(ops):
    ops.add_item(7, 42, "saga-1")
    ops.add_item(7, 41, None)
    ops.add_item(7, 42, "saga-2")
    assert [(i.item, i.saga_id) for i in ops.items(7)] == [(41, None), (42, "saga-2")]
    ops.remove_item(7, 41)
    assert [i.item for i in ops.items(7)] == [42]
    assert ops.claim_notice(7, 24, T0)
    assert not ops.claim_notice(7, 24, T0)
    assert ops.claim_notice(7, 0, T0)
    ops.unclaim_notice(7, 0, T0)
    assert ops.claim_notice(7, 0, T0)
    assert sorted(ops.notice_levels(7)) == [(0, T0), (24, T0)]


def test_sweeps_scratch_and_decisions(ops, clock):
    stale = ops.start_sweep("default", owner="dead", dry_run=False)
    ops.add_scratch(stale.id, [ScratchRow(account=7, kind="spend", amount=Decimal("1.00"))])
    clock.advance(1)
    sweep = ops.start_sweep("default", owner="me", dry_run=False)
    assert ops.abandon_stale_sweeps(keep=sweep.id) == [stale.id]
    assert ops.sweep(stale.id).state == "abandoned"
    assert ops.scratch(stale.id, [7]) == {}
    ops.add_scratch(
        sweep.id,
        [
            ScratchRow(account=7, kind="spend", amount=Decimal("1.25")),
            ScratchRow(account=7, kind="spend", amount=Decimal("2.10")),
            ScratchRow(account=7, kind="promise", amount=Decimal(30), until=dt.date(2025, 3, 5)),
            ScratchRow(account=8, kind="spend", amount=Decimal("0.01")),
        ],
    )
    scratch = ops.scratch(sweep.id, [7, 9])
    assert scratch == {
        7: [
            ScratchRow(account=7, kind="spend", amount=Decimal("3.35")),
            ScratchRow(account=7, kind="promise", amount=Decimal("30.00"), until=dt.date(2025, 3, 5)),
        ]
    }
    assert (
        ops.record_decisions(
            sweep.id,
            [D(7), D(8, action="notify", notice_level=24, hours_left=Decimal("20.5"))],
            dry_run=False,
        )
        == 2
    )
    ops.update_sweep_counts(sweep.id, {"accounts": 2})
    assert ops.sweep(sweep.id).counts == {"accounts": 2}
    done = ops.finish_sweep(sweep.id, "done", counts={"accounts": 2, "suspend": 1})
    assert (done.state, done.finished_at, done.counts) == ("done", clock.now, {"accounts": 2, "suspend": 1})
    assert ops.scratch(sweep.id, [7]) == {}
    assert [s.id for s in ops.sweeps()] == [sweep.id, stale.id]
    decisions = ops.recent_decisions()
    assert [d.account for d in decisions] == [8, 7]
    assert decisions[1].balance == Decimal("-62.00")
    assert decisions[1].hourly_spend == Decimal("0.0417")
    assert decisions[0].hours_left == Decimal("20.50")
    assert decisions[0].notice_level == 24
    assert ops.recent_decisions(1)[0].account == 8
    assert ops.recent_decisions(sweep_id=stale.id) == []


def test_latest_findings_come_from_the_latest_finished_run(ops, clock):
    assert ops.latest_findings() == []
    first = ops.start_reconcile_run(fix=False)
    ops.add_findings(first.id, [F("orphan_server", "server a", "item 1 is gone")])
    ops.finish_reconcile_run(first.id, "done", counts={"orphan_server": 1})
    clock.advance(5)
    running = ops.start_reconcile_run(fix=True)
    ops.add_findings(running.id, [F("stuck_saga", "saga x", "<b>stuck</b>", "x")])
    assert [f.subject for f in ops.latest_findings()] == ["server a"]
    clock.advance(5)
    ops.finish_reconcile_run(running.id, "done", counts={"stuck_saga": 1})
    latest = ops.latest_findings()
    assert [(f.kind, f.detail, f.saga_id) for f in latest] == [("stuck_saga", "<b>stuck</b>", "x")]
    assert [r.id for r in ops.reconcile_runs()] == [running.id, first.id]
    assert ops.reconcile_runs()[0].counts == {"stuck_saga": 1}
