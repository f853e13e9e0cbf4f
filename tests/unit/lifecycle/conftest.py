"""The lifecycle tests' world: the billing, OpenStack and Tungsten fakes on one fake clock, the platform's
service accounts, and lifecycles on a fresh saga store (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

# ================================================================================== the world
from cloudkit.billing import BillingSettings
from cloudkit.lifecycle import Lifecycle, LifecycleSettings, Runner, SagaStore
from cloudkit.openstack import OpenStackSettings
from cloudkit.platform import Platform
from cloudkit.testing import FakeClock
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
