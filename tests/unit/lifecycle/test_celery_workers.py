"""The Celery runner with REAL worker processes on a REAL RabbitMQ (never eager mode, never memory://).

The three fakes run in this process on loopback; the workers (``python -m celery -A
cloudkit.lifecycle.celery worker``) reach them over HTTP through the ``CLOUDKIT_*`` variables, and share
the saga store (an SQLite file for the one-worker smoke test, PostgreSQL for the two-worker test) with
this process, which publishes through ``Lifecycle.from_env`` (``CLOUDKIT_CELERY_BROKER`` set: a
``CeleryRunner``). Waiting here is polling the store (or a worker's log) with a deadline: the work happens
in other processes. The world and the service fixtures (``celery_world``, ``broker_url``, ``queue``,
``postgres_db``) are in conftest.py, shared with test_stoprules_workers.py.

Services: ``CLOUDKIT_TEST_AMQP_URL`` (RabbitMQ) and ``CLOUDKIT_TEST_POSTGRES_URL`` (PostgreSQL, a
database the tests may create databases next to). Missing or unreachable: skipped, or failed when
``CLOUDKIT_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import collections
import datetime as dt
from typing import Any

import pytest

from cloudkit.lifecycle import Saga, SagaState
from cloudkit.testing.fakes import Fault


@pytest.fixture
def world(celery_world):
    return celery_world


# ---------------------------------------------------------------------------------------------- tests
def test_one_worker_on_sqlite_runs_sagas_and_retries_by_countdown(world, broker_url, queue, tmp_path):
    """A failed attempt re-publishes the saga with a countdown (no sweep runs here: it is 600 s away)."""
    world.configure(db=f"sqlite:///{tmp_path / 'sagas.sqlite3'}", broker=broker_url, queue=queue)
    worker = world.worker("solo")
    world.cloud.inject(Fault.wsrep(), method="POST", path="/servers", times=4)  # the client tries 4 times
    assert world.lifecycle is not None
    ((login, account),) = world.customers(1)
    items, ids = [], []
    for _ in range(3):
        item, ro = world.order(login)
        items.append(item)
        ids.append(world.lifecycle.provision(item, account, world.plan(), running_operation=ro).id)
    sagas = world.wait_all_final(ids, 45)
    assert [s.state for s in sagas] == [SagaState.DONE] * 3, [s.last_error for s in sagas]
    assert sorted(s.attempts for s in sagas) == [1, 1, 2]  # 4 refusals end attempt 1; attempt 2 by countdown
    world.check_no_duplicates(items, accounts=1)
    assert worker.alive()


def test_two_workers_one_killed_mid_saga_everything_converges(world, broker_url, queue, postgres_db):
    """50 provisions on two workers; the worker holding a saga's lease is SIGKILLed (main process and
    pool child); beat's sweep hands its saga to the other once the lease runs out. No duplicates."""
    import sqlalchemy as sa

    world.configure(db=postgres_db, broker=broker_url, queue=queue, sweep_seconds=1, grace=2)
    workers = {w.pid: w for w in (world.worker("w1"), world.worker("w2"))}
    world.beat()
    assert world.lifecycle is not None
    customers = world.customers(10)
    items, ids = [], []
    for k in range(50):
        login, account = customers[k % len(customers)]
        item, ro = world.order(login)
        items.append(item)
        ids.append(world.lifecycle.provision(item, account, world.plan(), running_operation=ro).id)

    db = sa.create_engine(postgres_db)
    killed: dict[str, Any] = {}

    def live_leases() -> list[tuple[str, str]]:
        with db.connect() as conn:
            return [
                (row[0], row[1])
                for row in conn.execute(
                    sa.text(
                        "SELECT id, lease_owner FROM sagas"
                        " WHERE lease_owner IS NOT NULL AND lease_until > :now"
                    ),
                    {"now": dt.datetime.now(dt.UTC)},
                )
            ]

    def kill_a_leaseholder(sagas: list[Saga]) -> None:
        """Once some sagas are done, freeze the worker that holds a live lease, check it still holds
        it, and SIGKILL the worker's whole process group (else let it go on and try again later)."""
        if killed or sum(s.state is SagaState.DONE for s in sagas) < 15:
            return
        for _, owner in live_leases():
            child = int(owner.split(":")[1])  # host:pid:random, the pool child's pid
            worker = next((w for w in workers.values() if child in w.pool()), None)
            if worker is None:
                continue
            worker.pause()
            held = [saga_id for saga_id, o in live_leases() if o == owner]
            if held:
                worker.kill()
                killed.update(worker=worker.name, sagas=held)
                return
            worker.resume()

    try:
        sagas = world.wait_all_final(ids, 60, on_poll=kill_a_leaseholder)
    finally:
        db.dispose()
    assert killed, "no worker was caught holding a lease"
    assert [s.state for s in sagas] == [SagaState.DONE] * 50, collections.Counter(s.last_error for s in sagas)
    for saga_id in killed["sagas"]:  # claimed by the killed worker, then again by the survivor
        assert world.lifecycle.saga(saga_id).attempts >= 2
    world.check_no_duplicates(items, accounts=len(customers))
    assert sum(w.alive() for w in workers.values()) == 1
