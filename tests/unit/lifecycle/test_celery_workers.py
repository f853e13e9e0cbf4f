"""The Celery runner with REAL worker processes on a REAL RabbitMQ (never eager mode, never memory://).

The three fakes run in this process on loopback; the workers (``python -m celery -A
cloudkit.lifecycle.celery worker``) reach them over HTTP through the ``CLOUDKIT_*`` variables, and share
the saga store (an SQLite file for the one-worker smoke test, PostgreSQL for the two-worker test) with
this process, which publishes through ``Lifecycle.from_env`` (``CLOUDKIT_CELERY_BROKER`` set: a
``CeleryRunner``). Waiting here is polling the store (or a worker's log) with a deadline: the work happens
in other processes.

Services: ``CLOUDKIT_TEST_AMQP_URL`` (RabbitMQ) and ``CLOUDKIT_TEST_POSTGRES_URL`` (PostgreSQL, a
database the tests may create databases next to). Missing or unreachable: skipped, or failed when
``CLOUDKIT_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudkit.lifecycle import Lifecycle, Saga, SagaState, ServerPlan
from cloudkit.testing._celery_workers import CeleryProcess, beat_command, worker_command
from cloudkit.testing.fakes import BillingFake, Fault, OpenStackFake, TungstenFake
from cloudkit.testing.fakes.billing._state import IN_PROGRESS, ORDERED, Operation

TF_USER = ("svc-tf", "svc-tf-pass")
_OWN_VARIABLES = ("CLOUDKIT_CONFIG", "CLOUDKIT_LIFECYCLE_", "CLOUDKIT_CELERY_", "CLOUDKIT_BILLING_",
                  "CLOUDKIT_OPENSTACK_", "CLOUDKIT_TUNGSTEN_")  # fmt: skip


# ---------------------------------------------------------------------------------------------- services
# ``amqp_url`` and ``postgres_server_url`` come from cloudkit.testing's plugin (the STORE fixtures): the
# servers of CLOUDKIT_TEST_AMQP_URL / CLOUDKIT_TEST_POSTGRES_URL, or private ones; skipped when impossible,
# failed when CLOUDKIT_REQUIRE_SERVICES=1.
@pytest.fixture
def broker_url(amqp_url: str) -> str:
    return amqp_url


@pytest.fixture
def queue(broker_url: str) -> Iterator[str]:
    """A queue of this test's own (deleted afterwards): nothing left over reaches its workers."""
    import kombu

    name = f"cloudkit-test-{uuid.uuid4().hex[:8]}"
    yield name
    with kombu.Connection(broker_url) as conn:
        conn.default_channel.queue_delete(name)


@pytest.fixture
def postgres_db(postgres_server_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test (dropped afterwards); its SQLAlchemy URL."""
    import sqlalchemy as sa

    name = f"cloudkit_celery_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# ---------------------------------------------------------------------------------------------- the world
class CeleryWorld:
    """The fakes on loopback, the variables a worker needs, the workers started, a publishing lifecycle."""

    def __init__(self, billing: BillingFake, cloud: OpenStackFake, tf: TungstenFake, tmp: Path) -> None:
        self.billing, self.cloud, self.tf, self.tmp = billing, cloud, tf, tmp
        self.processes: list[CeleryProcess] = []
        self.lifecycle: Lifecycle | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_VARIABLES)}
        self.env.update({
            "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[3] / "src"),
                                                        os.environ.get("PYTHONPATH")])),
            "CLOUDKIT_BILLING_URL": billing.url,
            "CLOUDKIT_BILLING_USERNAME": "admin",
            "CLOUDKIT_BILLING_PASSWORD": "secret",
            "CLOUDKIT_OPENSTACK_AUTH_URL": cloud.auth_url,
            "CLOUDKIT_OPENSTACK_USERNAME": "admin",
            "CLOUDKIT_OPENSTACK_PASSWORD": "secret",
            "CLOUDKIT_OPENSTACK_PROJECT_NAME": "admin",
            "CLOUDKIT_TUNGSTEN_URL": tf.url,
            "CLOUDKIT_TUNGSTEN_AUTH_URL": cloud.auth_url,
            "CLOUDKIT_TUNGSTEN_USERNAME": TF_USER[0],
            "CLOUDKIT_TUNGSTEN_PASSWORD": TF_USER[1],
            "CLOUDKIT_TUNGSTEN_PROJECT_NAME": "service",
            # a killed worker's saga is due again 5 s after its last renewal; retries come quickly
            "CLOUDKIT_LIFECYCLE_LEASE_SECONDS": "5",
            "CLOUDKIT_LIFECYCLE_STEP_WAIT": "4",
            "CLOUDKIT_LIFECYCLE_BACKOFF_BASE": "0.2",
            "CLOUDKIT_LIFECYCLE_BACKOFF_MAX": "1",
            "CLOUDKIT_LIFECYCLE_MAX_ATTEMPTS": "8",
        })  # fmt: skip

    def configure(
        self, *, db: str, broker: str, queue: str, sweep_seconds: float = 600, grace: float = 60
    ) -> None:
        self.env.update({
            "CLOUDKIT_LIFECYCLE_DB": db,
            "CLOUDKIT_CELERY_BROKER": broker,
            "CLOUDKIT_CELERY_QUEUE": queue,
            "CLOUDKIT_CELERY_SWEEP_SECONDS": str(sweep_seconds),
            "CLOUDKIT_CELERY_SWEEP_GRACE": str(grace),
        })  # fmt: skip
        # this process publishes; it opens (and migrates) the store before any worker does
        self.lifecycle = Lifecycle.from_env(self.env)

    def worker(self, name: str) -> CeleryProcess:
        proc = CeleryProcess(name, worker_command(name), self.env, self.tmp / f"{name}.log")
        self.processes.append(proc)
        return proc

    def beat(self) -> CeleryProcess:
        command = beat_command(self.tmp / "beat-schedule")
        proc = CeleryProcess("beat", command, self.env, self.tmp / "beat.log")
        self.processes.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(f"---- {p.name}\n{p.tail()}" for p in self.processes)

    def order(self, login: str) -> tuple[int, int]:
        """A service of ``login`` ordered in billing with its open running operation: (item, operation)."""
        item = self.billing.add_service(login, "cloud server", status=ORDERED)
        with self.billing._lock:
            state = self.billing._state
            op = Operation(state.next_id("operation"), item, "open")
            state.operations[op.id] = op
            state.items[item].status = IN_PROGRESS
        return item, op.id

    def plan(self) -> ServerPlan:
        with self.cloud._lock:
            images = self.cloud._cloud.state.images.values()
            image = next(i.id for i in images if "cirros" in i.name)
        return ServerPlan(image=image, flavor="2", system_volume_gb=1)

    def wait_all_final(
        self, ids: list[str], timeout: float, *, on_poll: Callable[[list[Saga]], None] | None = None
    ):
        """Poll the store until every saga is final (the workers are other processes)."""
        assert self.lifecycle is not None
        deadline = time.monotonic() + timeout
        while True:
            sagas = [self.lifecycle.saga(i) for i in ids]
            if on_poll is not None:
                on_poll(sagas)
            if all(s.state.final for s in sagas):
                return sagas
            if time.monotonic() > deadline:
                states = collections.Counter(s.state.value for s in sagas)
                pytest.fail(f"not final after {timeout:g}s: {dict(states)}\n{self.logs()}")
            time.sleep(0.05)

    def check_no_duplicates(self, items: list[int], accounts: int) -> None:
        servers = self.cloud.servers()
        per_item = collections.Counter(t for s in servers for t in s.tags if t.startswith("cloudkit-item:"))
        assert sorted(per_item) == sorted(f"cloudkit-item:{i}" for i in items), per_item
        assert set(per_item.values()) == {1}, [t for t, n in per_item.items() if n > 1]
        assert len(servers) == len(items)
        assert {s.status for s in servers} == {"ACTIVE"}
        volumes = self.cloud.volumes()
        roots = {s.root_volume_id for s in servers}
        assert len(volumes) == len(items)
        assert {v.volume_id for v in volumes} == roots
        networks = [n for n in self.tf.objects("virtual-network") if n["name"] == "cloudkit-net"]
        assert len(networks) == accounts, [n["fq_name"] for n in networks]
        assert len({tuple(n["fq_name"]) for n in networks}) == accounts
        assert len(self.tf.objects("virtual-machine-interface")) == len(items)
        assert len(self.tf.objects("instance-ip")) == len(items)
        for item in items:
            opened = [
                c for c in self.billing.calls
                if c.func == "service.postopen" and c.params.get("elid") == str(item) and c.fault is None
            ]  # fmt: skip
            assert len(opened) == 1, (item, len(opened))
            assert self.billing.service_status(item) == 2
        assert self.billing.running_operations() == []

    def close(self) -> None:
        for proc in self.processes:
            proc.stop()
        if self.lifecycle is not None:
            self.lifecycle.shutdown()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[CeleryWorld]:
    with (
        BillingFake(complete_operations=False) as billing,
        OpenStackFake(token_ttl_seconds=10**9, transition_seconds=0.05) as cloud,
        TungstenFake(keystone_url=cloud.auth_url, token_cache_seconds=10**9) as tf,
    ):
        cloud.add_user(*TF_USER, project="service", roles=("admin",))
        w = CeleryWorld(billing, cloud, tf, tmp_path)
        try:
            yield w
        finally:
            w.close()


def _customers(world: CeleryWorld, n: int) -> list[tuple[str, int]]:
    out = []
    for k in range(n):
        login = f"cust{k}"
        out.append(
            (login, world.billing.add_user(login, f"{login}-pass", account_name=f"{login} Ltd").account_id)
        )
    return out


# ---------------------------------------------------------------------------------------------- tests
def test_one_worker_on_sqlite_runs_sagas_and_retries_by_countdown(world, broker_url, queue, tmp_path):
    """A failed attempt re-publishes the saga with a countdown (no sweep runs here: it is 600 s away)."""
    world.configure(db=f"sqlite:///{tmp_path / 'sagas.sqlite3'}", broker=broker_url, queue=queue)
    worker = world.worker("solo")
    world.cloud.inject(Fault.wsrep(), method="POST", path="/servers", times=4)  # the client tries 4 times
    assert world.lifecycle is not None
    ((login, account),) = _customers(world, 1)
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
    customers = _customers(world, 10)
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
