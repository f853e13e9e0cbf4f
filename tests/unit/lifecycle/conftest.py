"""The lifecycle tests' world: the billing, OpenStack and Tungsten fakes on one fake clock, the platform's
service accounts, and lifecycles on a fresh saga store (SQLite and PostgreSQL)."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# ================================================================================== the world
from cloudkit.billing import BillingSettings
from cloudkit.lifecycle import Lifecycle, LifecycleSettings, Runner, Saga, SagaStore, ServerPlan
from cloudkit.openstack import OpenStackSettings
from cloudkit.platform import Platform
from cloudkit.testing import FakeClock
from cloudkit.testing._celery_workers import CeleryProcess, beat_command, worker_command
from cloudkit.testing.fakes import BillingFake, OpenStackFake, TungstenFake
from cloudkit.testing.fakes.billing._state import IN_PROGRESS, ORDERED, Operation
from cloudkit.tungsten import TungstenSettings

START = 1_750_000_000.0
TF_USER = ("svc-tf", "svc-tf-pass")


@dataclasses.dataclass
class World:
    """The three fakes on one fake clock, the platform's service accounts, and a lifecycle factory."""

    clock: FakeClock
    billing: BillingFake
    cloud: OpenStackFake
    tf: TungstenFake
    platform: Platform
    made: list[Lifecycle] = dataclasses.field(default_factory=list)
    db_url: str = "sqlite://"
    store: SagaStore | None = None

    def reset(self) -> None:
        """The fakes seeded again and the saga store emptied (a Hypothesis example starts from nothing)."""
        self.shutdown()
        _empty(self.db_url)
        for fake in (self.billing, self.cloud, self.tf):
            fake.reset()
        self.cloud.add_user(*TF_USER, project="service", roles=("admin",))

    def shutdown(self) -> None:
        for lifecycle in self.made:
            lifecycle.shutdown()
        self.made.clear()
        if self.store is not None:
            self.store.close()
        self.store = None

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def lifecycle(self, *, runner: Runner | None = None, **settings: object) -> Lifecycle:
        """A lifecycle (an InlineRunner unless ``runner``) on the fake clock; every lifecycle of a test
        shares one store."""
        if self.store is None:
            self.store = SagaStore.open(self.db_url, clock=self.now)
        defaults: dict[str, object] = {
            "db_url": self.db_url,
            "max_attempts": 3,
            "lease_seconds": 900,
            "step_wait": 600,
        }
        lifecycle = Lifecycle(
            self.platform,
            runner=runner,
            settings=LifecycleSettings(**{**defaults, **settings}),
            clock=self.clock,
            sleep=self.clock.sleep,
            store=self.store,
        )
        self.made.append(lifecycle)
        return lifecycle

    def customer(self, login: str = "carol") -> int:
        """A billing account; its id."""
        return self.billing.add_user(login, f"{login}-pass", account_name=f"{login} Ltd").account_id

    def service(self, login: str = "carol") -> int:
        """An ordered service of the account; its item id."""
        return self.billing.add_service(login, "cloud server", status=ORDERED)

    def queue(self, item: int, name: str) -> int:
        """A running operation for ``item``, as billing makes one before it runs the module; its id."""
        with self.billing._lock:
            state = self.billing._state
            op = Operation(state.next_id("operation"), item, name)
            state.operations[op.id] = op
            state.items[item].status = IN_PROGRESS
            return op.id

    def callbacks(self, name: str, item: int) -> int:
        """Billing completion callbacks that took effect for ``item`` (answered or answer lost)."""
        return sum(
            1
            for c in self.billing.calls
            if c.func == f"service.post{name}"
            and c.params.get("elid") == str(item)
            and c.fault in (None, "drop_after_effect", "slow")
        )

    def lift_faults(self) -> None:
        for fake in (self.billing, self.cloud, self.tf):
            fake._faults.clear()

    def image(self, distro: str = "cirros") -> str:
        with self.cloud._lock:
            images = self.cloud._cloud.state.images.values()
            return next(i.id for i in images if distro in i.name)


def _op_tables() -> tuple[object, ...]:
    from cloudkit.lifecycle import _tables

    return (
        _tables.leases,
        _tables.stoprule_accounts,
        _tables.stoprule_items,
        _tables.sweeps,
        _tables.sweep_decisions,
        _tables.notices,
        _tables.sweep_scratch,
        _tables.reconcile_runs,
        _tables.reconcile_findings,
    )


def _empty(url: str) -> None:
    import sqlalchemy as sa

    from cloudkit.lifecycle import _tables

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if sa.inspect(conn).has_table("sagas"):
                for table in (_tables.saga_steps, _tables.sagas, _tables.customers):
                    conn.execute(table.delete())
            if sa.inspect(conn).has_table("leases"):  # the operations store (stop rules, reconcile)
                for table in _op_tables():
                    conn.execute(table.delete())
    finally:
        engine.dispose()


def _platform(billing: BillingFake, cloud: OpenStackFake, tf: TungstenFake) -> Platform:
    return Platform(
        billing=BillingSettings(url=billing.url, username="admin", password="secret"),
        openstack=OpenStackSettings(
            auth_url=cloud.auth_url, username="admin", password="secret", project_name="admin"
        ),
        tungsten=TungstenSettings(
            url=tf.url,
            auth_url=cloud.auth_url,
            username=TF_USER[0],
            password=TF_USER[1],
            project_name="service",
            timeout=0.5,  # a "slow" fault holds an answer past this (real seconds, so kept short)
        ),
    )


@pytest.fixture(scope="module")
def _fakes():
    clock = FakeClock(start=START)
    with (
        BillingFake(complete_operations=False) as billing,
        OpenStackFake(clock=clock, token_ttl_seconds=10**9) as cloud,
        TungstenFake(keystone_url=cloud.auth_url, clock=clock, token_cache_seconds=10**9) as tf,
    ):
        yield World(clock, billing, cloud, tf, _platform(billing, cloud, tf))


@pytest.fixture
def world(_fakes: World, lifecycle_db_url: str):
    """The three fakes reset (seeded, the TF service account added), on one fake clock; a fresh saga
    store on SQLite and on PostgreSQL."""
    _fakes.db_url = lifecycle_db_url
    _fakes.reset()
    try:
        yield _fakes
    finally:
        _fakes.shutdown()


# ================================================================================== real Celery workers
# For test_celery_workers.py and test_stoprules_workers.py: real ``celery worker`` processes on a real
# RabbitMQ, the fakes in this process on loopback.
_OWN_VARIABLES = ("CLOUDKIT_CONFIG", "CLOUDKIT_LIFECYCLE_", "CLOUDKIT_CELERY_", "CLOUDKIT_BILLING_",
                  "CLOUDKIT_OPENSTACK_", "CLOUDKIT_TUNGSTEN_", "CLOUDKIT_STOPRULES_")  # fmt: skip


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
        assert {v.id for v in volumes} == roots
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

    def customers(self, n: int, *, start: int = 0) -> list[tuple[str, int]]:
        """``n`` billing customers ``cust<k>``: (login, account id)."""
        out = []
        for k in range(start, start + n):
            login = f"cust{k}"
            account = self.billing.add_user(login, f"{login}-pass", account_name=f"{login} Ltd").account_id
            out.append((login, account))
        return out

    def until(self, what: str, check: Callable[[], object], timeout: float) -> object:
        """Poll ``check`` until it returns something truthy (the workers are other processes)."""
        deadline = time.monotonic() + timeout
        while not (found := check()):
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not after {timeout:g}s\n{self.logs()}")
            time.sleep(0.05)
        return found

    def close(self) -> None:
        for proc in self.processes:
            proc.stop()
        if self.lifecycle is not None:
            self.lifecycle.shutdown()


@pytest.fixture
def celery_world(tmp_path: Path) -> Iterator[CeleryWorld]:
    """The fakes on real loopback ports (real time: the workers are other processes), no worker yet."""
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
