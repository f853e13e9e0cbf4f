"""The stop-rule sweep as Celery runs it: REAL worker processes, REAL RabbitMQ, PostgreSQL.

``cloudkit.stoprules.sweep`` is sent to the queue as beat sends it; one worker runs the sweep (it reads
and decides), and every suspend it starts is a ``run_saga`` message that any worker takes: the fan-out.
The resume is left to a real ``celery beat`` with ``CLOUDKIT_STOPRULES_SECONDS=1``. Waiting is polling
the store with a deadline (the work happens in other processes). Fixtures: conftest.py.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from celery import Celery

from cloudkit.lifecycle import ModuleCommand, SagaState, SuspendReason
from cloudkit.lifecycle._opstore import OpStore
from cloudkit.lifecycle.celery import STOPRULES_SWEEP, CelerySettings, configure
from cloudkit.testing._celery_workers import wait_until_ready

ACTIVE, SUSPENDED = 2, 3
ACCOUNTS, SERVICES = 3, 2


def test_beat_runs_the_stoprule_sweep_every_cloudkit_stoprules_seconds(monkeypatch):
    monkeypatch.delenv("CLOUDKIT_CONFIG", raising=False)
    monkeypatch.setenv("CLOUDKIT_STOPRULES_SECONDS", "42")
    schedule = configure(Celery("t"), CelerySettings(broker="amqp://mq//")).conf.beat_schedule
    assert schedule["cloudkit-stoprules-sweep"] == {"task": STOPRULES_SWEEP, "schedule": 42.0}


def test_the_sweep_fans_out_over_two_workers_and_beat_resumes(celery_world, broker_url, queue, postgres_db):
    world = celery_world
    world.configure(db=postgres_db, broker=broker_url, queue=queue)
    workers = [world.worker("w1"), world.worker("w2")]
    lifecycle = world.lifecycle
    assert lifecycle is not None
    # the servers are built by the workers too (an order each, as billing makes them)
    owners: dict[int, int] = {}
    opened = []
    customers = world.customers(ACCOUNTS + 1)  # the last one has money
    for login, account in customers:
        for _ in range(SERVICES):
            item, ro = world.order(login)
            owners[item] = account
            opened.append(lifecycle.provision(item, account, world.plan(), running_operation=ro).id)
    sagas = world.wait_all_final(opened, 60)
    assert {s.state for s in sagas} == {SagaState.DONE}, [s.last_error for s in sagas]
    poor, rich = [a for _, a in customers[:ACCOUNTS]], customers[-1][1]
    for k in range(ACCOUNTS):
        world.billing.charge(f"cust{k}", Decimal(10))
    world.billing.pay(f"cust{ACCOUNTS}", Decimal(100))
    suspended = sorted(i for i, a in owners.items() if a in poor)
    spared = sorted(i for i, a in owners.items() if a == rich)
    wait_until_ready(workers)  # both consume before the sweep publishes: the fan-out can use both
    ops = OpStore(lifecycle.store)

    lifecycle.runner.app.send_task(STOPRULES_SWEEP, queue=queue)  # what beat sends

    latest = world.until("every suspend saga done", lambda: done(lifecycle, suspended, "suspend"), 60)
    (sweep,) = world.until("the sweep recorded done", lambda: finished(ops, 1), 30)
    assert (sweep.counts["suspend"], sweep.counts["items_suspended"]) == (ACCOUNTS, ACCOUNTS * SERVICES)
    assert {s.reason for s in latest} == {SuspendReason.NONPAYMENT}

    # one worker swept; the sagas ran as tasks of their own, and on both workers
    def logs():
        return {w.name: w.log_path.read_text(encoding="utf-8", errors="replace") for w in workers}

    swept = re.compile(rf"{re.escape(STOPRULES_SWEEP)}\[\S+\] succeeded")
    # (the task's log line comes just after the sweep's row is done: polled too)
    (sweeper,) = world.until(
        "the sweep task logged", lambda: [n for n, t in logs().items() if swept.search(t)], 30
    )
    now = logs()
    ran_by = {
        s.id: {n for n, text in now.items() if f"saga {s.id} step server: acting" in text} for s in latest
    }
    assert all(len(names) == 1 for names in ran_by.values()), ran_by
    assert set().union(*ran_by.values()) == {"w1", "w2"}, (sweeper, ran_by)
    for item in suspended:
        assert server(world, item) == ("SHUTOFF", True)
        assert world.billing.service_status(item) == SUSPENDED
    for item in spared:
        assert server(world, item) == ("ACTIVE", False)
        assert world.billing.service_status(item) == ACTIVE
        assert lifecycle.sagas(item=item, limit=1)[0].operation is ModuleCommand.OPEN
    assert {r.suspended_by for r in ops.accounts(poor).values()} == {"default"}

    for k in range(ACCOUNTS):
        world.billing.pay(f"cust{k}", Decimal(20))
    world.env["CLOUDKIT_STOPRULES_SECONDS"] = "1"
    world.beat()  # the beat entry, for real: the next sweeps come from it

    world.until("every resume saga done", lambda: done(lifecycle, suspended, "resume"), 60)
    for item in suspended + spared:
        assert server(world, item) == ("ACTIVE", False)
        assert world.billing.service_status(item) == ACTIVE
    # each item stays listed until a sweep after its resume sees it done (beat brings one each second)
    world.until("the resumed items let go", lambda: all(ops.items(a) == [] for a in poor), 60)
    assert {r.suspended_at for r in ops.accounts(poor).values()} == {None}
    assert all(w.alive() for w in workers)


def done(lifecycle, items, operation):
    """The items' latest sagas once each is a done ``operation`` (else None); fails on a broken one."""
    latest = [lifecycle.sagas(item=item, limit=1)[0] for item in items]
    broken = [s for s in latest if s.state in (SagaState.FAILED, SagaState.NEEDS_OPERATOR)]
    if broken:
        pytest.fail(f"{operation}: {[(s.id, s.state, s.last_error) for s in broken]}")
    if all(s.operation == operation and s.state is SagaState.DONE for s in latest):
        return latest
    return None


def finished(ops, n):
    """The last ``n`` sweeps once they are all done (else None)."""
    sweeps = ops.sweeps(limit=n)
    return sweeps if len(sweeps) == n and all(s.state == "done" for s in sweeps) else None


def server(world, item):
    (found,) = [s for s in world.cloud.servers() if f"cloudkit-item:{item}" in s.tags]
    return found.status, found.locked
