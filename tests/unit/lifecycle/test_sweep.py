"""The stop-rule sweep on the three fakes (SQLite, PostgreSQL): suspend, resume, notices, leases, dry run."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest

from cloudkit.errors import ConflictError
from cloudkit.lifecycle import Notice, SagaState, ServerPlan, StopPolicy, SuspendReason
from cloudkit.lifecycle._opstore import OpStore
from cloudkit.testing.fakes import Fault

ACTIVE, SUSPENDED, DELETED = 2, 3, 4


class Killed(BaseException):
    """A worker killed mid-sweep: a BaseException, so the sweep neither records a failure nor unlocks."""


@pytest.fixture
def sw(world):
    """The world with billing's dates on the fake clock too (charges, promises, the spend window)."""
    before = world.billing.clock
    world.billing.clock = world.now
    try:
        yield world
    finally:
        world.billing.clock = before


def plan(world):
    return ServerPlan(image=world.image(), flavor="2", system_volume_gb=1)


def provisioned(world, lifecycle, login, *, services=1):
    account = world.billing.account_of(login) or world.customer(login)
    items = []
    for _ in range(services):
        item = world.service(login)
        saga = lifecycle.provision(item, account, plan(world), running_operation=world.queue(item, "open"))
        assert saga.state is SagaState.DONE, saga.last_error
        items.append(item)
    return account, items


def server(world, item):
    found = [s for s in world.cloud.servers() if f"cloudkit-item:{item}" in s.tags]
    assert len(found) == 1, found
    return found[0].status, found[0].locked


def ops_of(world):
    return OpStore(world.store)


def test_suspend_stops_and_locks_marks_billing_and_resume_restores_only_that(sw):
    lifecycle = sw.lifecycle()
    account, (item,) = provisioned(sw, lifecycle, "carol")
    _, (rich,) = provisioned(sw, lifecycle, "dave")
    sw.billing.pay("dave", Decimal(100))
    sw.billing.charge("carol", Decimal("10.00"), at=sw.now() - dt.timedelta(hours=1))
    notices: list[Notice] = []
    policy = StopPolicy()

    start = len(sw.cloud.calls)
    report = lifecycle.sweep(policy, notify=notices.append)

    assert report.state == "done"
    assert (report["suspend"], report["items_suspended"], report["resume"]) == (1, 1, 0)
    assert server(sw, item) == ("SHUTOFF", True)
    assert sw.billing.service_status(item) == SUSPENDED
    assert server(sw, rich) == ("ACTIVE", False)
    assert sw.billing.service_status(rich) == ACTIVE
    # the server was stopped, then locked with the reason (the owner cannot start it again)
    posts = sw.cloud.calls[start:]
    actions = [json.loads(c.body) for c in posts if c.method == "POST" and c.path.endswith("/action")]
    assert [next(iter(a)) for a in actions] == ["os-stop", "lock"]
    assert actions[1]["lock"] == {"locked_reason": "cloudkit: nonpayment"}
    (suspend,) = lifecycle.sagas(item=item, limit=1)
    assert (suspend.operation, suspend.reason) == ("suspend", SuspendReason.NONPAYMENT)
    assert [i.item for i in ops_of(sw).items(account)] == [item]
    assert [(n.account, n.level) for n in notices] == [(account, 0)]
    (decision,) = [d for d in ops_of(sw).recent_decisions(sweep_id=report.sweep_id) if d.account == account]
    assert (decision.action, decision.code, decision.credit) == (
        "suspend",
        "grace_hours_over",
        Decimal("-10.00"),
    )
    assert decision.hourly_spend == Decimal("0.1389")  # 10.00 over the 72 h window

    again = lifecycle.sweep(policy, notify=notices.append)
    assert (again["suspend"], again["items_suspended"], again["recorded"]) == (0, 0, 0)
    assert len(notices) == 1
    assert len(lifecycle.sagas(item=item)) == 2  # open, suspend: never suspended twice

    sw.billing.pay("carol", Decimal("15.00"))
    resumed = lifecycle.sweep(policy, notify=notices.append)
    assert (resumed["resume"], resumed["items_resumed"]) == (1, 1)
    assert server(sw, item) == ("ACTIVE", False)
    assert sw.billing.service_status(item) == ACTIVE
    assert ops_of(sw).items(account) == []
    assert ops_of(sw).account(account).suspended_at is None
    assert lifecycle.sweep(policy)["recorded"] == 0


def test_staff_and_abuse_suspensions_are_never_resumed(sw):
    lifecycle = sw.lifecycle()
    account, (abused, plain, later) = provisioned(sw, lifecycle, "carol", services=3)
    staff = lifecycle.suspend(abused, SuspendReason.ABUSE, running_operation=sw.queue(abused, "suspend"))
    assert staff.state is SagaState.DONE
    sw.billing.charge("carol", Decimal(5))

    report = lifecycle.sweep(StopPolicy())
    assert report["items_suspended"] == 2  # the abused one was not active any more
    assert {i.item for i in ops_of(sw).items(account)} == {plain, later}
    # staff suspends one of the sweep's items again, for abuse, after the sweep did
    again = lifecycle.suspend(later, SuspendReason.ABUSE, running_operation=sw.queue(later, "suspend"))
    assert again.state is SagaState.DONE

    sw.billing.pay("carol", Decimal(10))
    resumed = lifecycle.sweep(StopPolicy())
    assert (resumed["items_resumed"], resumed["items_not_ours"]) == (1, 1)
    assert server(sw, plain) == ("ACTIVE", False)
    assert server(sw, abused) == ("SHUTOFF", True)
    assert server(sw, later) == ("SHUTOFF", True)
    assert sw.billing.service_status(abused) == SUSPENDED
    assert sw.billing.service_status(later) == SUSPENDED


def test_grace_then_suspend_then_delete_when_due(sw):
    lifecycle = sw.lifecycle()
    account, (item,) = provisioned(sw, lifecycle, "carol")
    policy = StopPolicy(grace_hours=24, delete_after_days=2)
    sw.billing.charge("carol", Decimal(3))
    notices: list[Notice] = []

    first = lifecycle.sweep(policy, notify=notices.append)
    assert (first["notify"], first["suspend"]) == (1, 0)
    assert server(sw, item) == ("ACTIVE", False)
    assert ops_of(sw).account(account).below_limit_since == sw.now()
    sw.clock.advance(23 * 3600)
    assert lifecycle.sweep(policy, notify=notices.append)["suspend"] == 0
    sw.clock.advance(3600)
    assert lifecycle.sweep(policy, notify=notices.append)["items_suspended"] == 1
    assert [n.level for n in notices] == [0]  # the limit notice, once
    sw.clock.advance(2 * 86400)
    deleted = lifecycle.sweep(policy)
    assert (deleted["delete_due"], deleted["items_closed"]) == (1, 1)
    assert not [s for s in sw.cloud.servers() if f"cloudkit-item:{item}" in s.tags]
    assert sw.billing.service_status(item) == DELETED
    assert lifecycle.sweep(policy)["delete_due"] == 0


def test_notices_once_per_level_and_a_failed_hook_is_retried(sw):
    lifecycle = sw.lifecycle()
    account, _ = provisioned(sw, lifecycle, "carol")
    sw.billing.pay("carol", Decimal(100))
    sw.billing.charge("carol", Decimal(72), at=sw.now() - dt.timedelta(hours=2))  # 1.00/h, 28 h left
    policy = StopPolicy(grace_hours=48)
    sent: list[int] = []
    fail = [True]

    def hook(notice: Notice) -> None:
        if fail[0]:
            fail[0] = False
            raise RuntimeError("mail server down")
        sent.append(notice.level)

    failed = lifecycle.sweep(policy, notify=hook)
    assert (failed["notices_failed"], failed["notices_sent"]) == (1, 0)
    assert lifecycle.sweep(policy, notify=hook)["notices_sent"] == 1
    assert lifecycle.sweep(policy, notify=hook)["notify"] == 0
    sw.billing.charge("carol", Decimal(8), at=sw.now())  # 20 h left at 1.11/h: the 24 h level
    lifecycle.sweep(policy, notify=hook)
    lifecycle.sweep(policy, notify=hook)
    sw.billing.charge("carol", Decimal(30), at=sw.now())  # below the limit: level 0, in grace
    lifecycle.sweep(policy, notify=hook)
    lifecycle.sweep(policy, notify=hook)
    assert sent == [72, 24, 0]
    assert sorted(level for level, _ in ops_of(sw).notice_levels(account)) == [0, 24, 72]
    sw.billing.pay("carol", Decimal(500))  # recovered: the next dip notifies again
    lifecycle.sweep(policy, notify=hook)
    sw.clock.advance(3600)
    sw.billing.charge("carol", Decimal(480), at=sw.now())
    lifecycle.sweep(policy, notify=hook)
    assert sent[3:] == [24]  # 10.00 left at 8.19/h: a new run of notices, at the level due


def test_two_sweeps_never_overlap_and_a_killed_sweep_is_abandoned(sw):
    lifecycle = sw.lifecycle()
    account, (item,) = provisioned(sw, lifecycle, "carol")
    sw.billing.charge("carol", Decimal(1))
    inner: list[BaseException] = []

    def overlapping(_: Notice) -> None:
        try:
            sw.lifecycle().sweep(StopPolicy())
        except ConflictError as exc:
            inner.append(exc)

    lifecycle.sweep(StopPolicy(), notify=overlapping)
    assert len(inner) == 1
    assert "another sweep is running" in str(inner[0])

    sw.billing.pay("carol", Decimal(5))

    def killed(_: str, __: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        lifecycle.sweep(StopPolicy(), progress=killed)
    (stale,) = [s for s in ops_of(sw).sweeps() if s.state == "running"]
    with pytest.raises(ConflictError, match="another sweep is running"):
        lifecycle.sweep(StopPolicy())
    sw.clock.advance(lifecycle.settings.lease_seconds + 1)
    report = lifecycle.sweep(StopPolicy())
    assert (report["abandoned"], report["items_resumed"]) == (1, 1)
    assert ops_of(sw).sweep(stale.id).state == "abandoned"
    assert server(sw, item) == ("ACTIVE", False)
    assert ops_of(sw).account(account).suspended_at is None


def test_a_failing_sweep_is_recorded_and_frees_the_lease(sw):
    lifecycle = sw.lifecycle()
    provisioned(sw, lifecycle, "carol")

    def broken(_: str, __: int) -> None:
        raise RuntimeError("progress bar crashed")

    with pytest.raises(RuntimeError):
        lifecycle.sweep(StopPolicy(), progress=broken)
    (failed,) = ops_of(sw).sweeps()
    assert (failed.state, failed.error) == ("failed", "RuntimeError: progress bar crashed")
    assert lifecycle.sweep(StopPolicy()).state == "done"  # no lease left behind


def test_dry_run_changes_nothing(sw):
    lifecycle = sw.lifecycle()
    account, (item,) = provisioned(sw, lifecycle, "carol")
    sw.billing.charge("carol", Decimal(10))
    notices: list[Notice] = []
    before = len(sw.billing.calls)

    report = lifecycle.sweep(StopPolicy(), dry_run=True, notify=notices.append)

    assert (report.dry_run, report["suspend"], report["recorded"]) == (True, 1, 1)
    assert report["items_suspended"] == 0
    assert notices == []
    assert server(sw, item) == ("ACTIVE", False)
    assert sw.billing.service_status(item) == ACTIVE
    assert all(not re.search(r"\.(edit|post|suspend)", c.func or "") for c in sw.billing.calls[before:])
    assert ops_of(sw).account(account) is None
    assert ops_of(sw).items(account) == []
    assert ops_of(sw).notice_levels(account) == []
    (decision,) = ops_of(sw).recent_decisions()
    assert (decision.dry_run, decision.action) == (True, "suspend")
    assert ops_of(sw).sweeps()[0].dry_run
    assert len(lifecycle.sagas(item=item)) == 1  # only the open


def test_promised_payment_counts_until_its_date(sw):
    lifecycle = sw.lifecycle()
    _, (item,) = provisioned(sw, lifecycle, "carol")
    sw.billing.charge("carol", Decimal(30))
    sw.billing.promise("carol", Decimal(40), until=(sw.now() + dt.timedelta(days=2)).date())
    assert lifecycle.sweep(StopPolicy())["suspend"] == 0
    sw.clock.advance(3 * 86400)
    report = lifecycle.sweep(StopPolicy())
    assert report["items_suspended"] == 1
    assert server(sw, item) == ("SHUTOFF", True)


def test_a_sweep_killed_after_a_resume_leaves_no_running_server_on_a_suspended_account(sw):
    # found by test_sweep_stateful: a resume killed half-way, then the money runs out again
    lifecycle = sw.lifecycle()
    account, (item,) = provisioned(sw, lifecycle, "carol")
    sw.billing.charge("carol", Decimal(12))
    assert lifecycle.sweep(StopPolicy())["items_suspended"] == 1
    sw.billing.pay("carol", Decimal(15))
    real = lifecycle.resume

    def killed_after(*args, **kwargs):
        real(*args, **kwargs)
        raise Killed

    lifecycle.resume = killed_after
    with pytest.raises(Killed):
        lifecycle.sweep(StopPolicy())
    del lifecycle.resume
    assert server(sw, item) == ("ACTIVE", False)
    sw.billing.charge("carol", Decimal(5))
    sw.clock.advance(lifecycle.settings.lease_seconds + 1)
    report = lifecycle.sweep(StopPolicy())
    assert report["items_suspended"] == 1
    assert server(sw, item) == ("SHUTOFF", True)
    assert ops_of(sw).account(account).suspended_by == "default"


class Recorder:
    """A runner that only records what it is handed: a Celery runner whose workers have not run yet."""

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, engine, saga_id: str) -> None:  # noqa: ARG002 - the Runner protocol
        self.submitted.append(saga_id)


def sweep_without_running(sw, services=2):
    """carol's services suspended by a sweep whose sagas nobody ran yet: (inline, queued, account,
    {item: saga id})."""
    inline = sw.lifecycle()
    account, items = provisioned(sw, inline, "carol", services=services)
    recorder = Recorder()
    queued = sw.lifecycle(runner=recorder)
    sw.billing.charge("carol", Decimal(10))
    report = queued.sweep(StopPolicy())
    assert report["items_suspended"] == services
    # recorded suspended as soon as its sagas started: with Celery they end later, elsewhere
    assert ops_of(sw).account(account).suspended_by == "default"
    sagas = {i: queued.sagas(item=i, limit=1)[0] for i in items}
    assert sorted(recorder.submitted) == sorted(s.id for s in sagas.values())
    assert {s.state for s in sagas.values()} == {SagaState.PENDING}
    return inline, queued, recorder, account, {i: s.id for i, s in sagas.items()}


def test_a_suspend_that_fails_after_the_sweep_is_reported_and_started_again(sw):
    inline, queued, recorder, account, sagas = sweep_without_running(sw)
    (item, failing), (fine, done) = sagas.items()
    # a worker runs each: Nova refuses one stop for good (403, permanent: nothing to undo, failed)
    sw.cloud.inject(Fault.server_error(403), method="POST", path="/servers/{id}/action")
    assert inline.engine.run(failing).state is SagaState.FAILED
    assert inline.engine.run(done).state is SagaState.DONE
    assert server(sw, item) == ("ACTIVE", False)  # the gap: "suspended", and the server runs

    report = queued.sweep(StopPolicy())

    assert (report["items_broken"], report["items_retried"], report["suspend"]) == (1, 1, 0)
    assert [e for e in report.errors if failing in e and "failed" in e]
    again = recorder.submitted[-1]
    assert again not in sagas.values()
    assert {i.item: i.saga_id for i in ops_of(sw).items(account)} == {item: again, fine: done}
    assert inline.engine.run(again).state is SagaState.DONE
    assert server(sw, item) == ("SHUTOFF", True)
    assert sw.billing.service_status(item) == SUSPENDED
    submitted = len(recorder.submitted)
    assert queued.sweep(StopPolicy())["items_broken"] == 0
    assert len(recorder.submitted) == submitted


def test_a_suspend_that_needs_an_operator_is_reported_every_sweep_and_left_to_the_operator(sw):
    inline, queued, recorder, account, sagas = sweep_without_running(sw, services=1)
    ((item, stuck),) = sagas.items()
    sw.cloud.inject(Fault.wsrep(), method="POST", path="/servers/{id}/action", times=1000)
    while not (saga := inline.engine.run(stuck)).state.final:  # a worker's attempts, retries apart
        sw.clock.advance(3600)
    assert saga.state is SagaState.NEEDS_OPERATOR
    submitted = len(recorder.submitted)

    for _ in range(2):  # not started again (a human looks first), but never forgotten
        report = queued.sweep(StopPolicy())
        assert (report["items_broken"], report["items_retried"]) == (1, 0)
        assert [e for e in report.errors if stuck in e and "needs_operator" in e]
    assert len(recorder.submitted) == submitted

    sw.lift_faults()
    assert inline.retry(stuck).state is SagaState.DONE  # the operator's retry (console)
    assert server(sw, item) == ("SHUTOFF", True)
    assert queued.sweep(StopPolicy())["items_broken"] == 0
    assert ops_of(sw).account(account).suspended_by == "default"


def test_a_resume_that_fails_after_the_sweep_is_kept_and_started_again(sw):
    inline, queued, recorder, account, sagas = sweep_without_running(sw, services=1)
    ((item, suspend),) = sagas.items()
    assert inline.engine.run(suspend).state is SagaState.DONE
    sw.billing.pay("carol", Decimal(50))

    report = queued.sweep(StopPolicy())  # the resume is handed to a worker, not run yet
    assert (report["resume"], report["items_resuming"], report["items_resumed"]) == (1, 1, 0)
    resume = recorder.submitted[-1]
    # the item is not forgotten while its resume is on its way
    assert [i.item for i in ops_of(sw).items(account)] == [item]
    # a worker runs it: Nova refuses the start for good (403, permanent: the saga fails)
    sw.cloud.inject(Fault.server_error(403), method="POST", path="/servers/{id}/action")
    assert inline.engine.run(resume).state is SagaState.FAILED
    assert server(sw, item) == ("SHUTOFF", True)  # paid, and still stopped: what must not last

    report = queued.sweep(StopPolicy())  # the next sweep finds the leftover and starts a new resume
    assert report["leftovers"] == 1
    again = recorder.submitted[-1]
    assert again != resume
    assert inline.engine.run(again).state is SagaState.DONE
    assert server(sw, item) == ("ACTIVE", False)
    report = queued.sweep(StopPolicy())  # joins the done resume and lets the item go
    assert report["items_resumed"] == 1
    assert ops_of(sw).items(account) == []
    assert queued.sweep(StopPolicy())["leftovers"] == 0
