"""An in-memory SagaStore following the spec'd API: lets the engine tests run before (and beside) the SQL
store. The SQL store replaces it in the fixtures once merged; both must pass the same engine tests."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence

import attrs

from cloudkit.errors import ConflictError, LeaseLostError, NotFoundError
from cloudkit.lifecycle import (
    Customer,
    ModuleCommand,
    Saga,
    SagaState,
    ServerPlan,
    StepRecord,
    StepState,
    SuspendReason,
)


class MemoryStore:
    def __init__(self, *, clock: Callable[[], dt.datetime]) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._sagas: dict[str, Saga] = {}
        self._keys: dict[tuple, str] = {}
        self._leases: dict[str, tuple[str, dt.datetime]] = {}
        self._customers: dict[int, Customer] = {}

    def close(self) -> None:
        pass

    # sagas
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
        with self._lock:
            operation = ModuleCommand(operation)
            if running_operation is not None:
                key = (item, operation, str(running_operation))
                if key in self._keys:
                    return self._joined(self._sagas[self._keys[key]], plan), False
            else:
                mine = sorted(
                    (s for s in self._sagas.values() if s.item == item), key=lambda s: s.created_at
                )
                if mine and mine[-1].operation is operation and mine[-1].state is not SagaState.FAILED:
                    return self._joined(mine[-1], plan), False
                key = (item, operation, f"n{len(mine)}")
            now = self._clock()
            saga = Saga(
                id=str(uuid.uuid4()),
                item=item,
                operation=operation,
                account=account,
                state=SagaState.PENDING,
                running_operation=running_operation,
                plan=plan,
                reason=reason,
                steps=tuple(StepRecord(name=n, state=StepState.PENDING) for n in steps),
                created_at=now + dt.timedelta(microseconds=len(self._sagas)),
                updated_at=now,
                next_attempt_at=now,
            )
            self._sagas[saga.id] = saga
            self._keys[key] = saga.id
            return saga, True

    def _joined(self, saga: Saga, plan: ServerPlan | None) -> Saga:
        if saga.operation is ModuleCommand.OPEN and plan is not None and saga.plan != plan:
            raise ConflictError(
                f"item {saga.item} is being opened with another plan", system="lifecycle", operation="open"
            )
        return saga

    def get(self, saga_id: str) -> Saga:
        with self._lock:
            try:
                return self._sagas[saga_id]
            except KeyError:
                raise NotFoundError(f"no saga {saga_id}", system="lifecycle") from None

    def find(self, *, state=None, item=None, operation=None, limit: int = 100) -> list[Saga]:
        with self._lock:
            found = [
                s
                for s in self._sagas.values()
                if (state is None or s.state is state)
                and (item is None or s.item == item)
                and (operation is None or s.operation is operation)
            ]
            return sorted(found, key=lambda s: s.created_at, reverse=True)[:limit]

    # leases
    def _live(self, saga_id: str) -> tuple[str, dt.datetime] | None:
        lease = self._leases.get(saga_id)
        if lease is None or lease[1] < self._clock():
            return None
        return lease

    def claim(self, saga_id: str, *, owner: str, lease: float) -> Saga | None:
        with self._lock:
            saga = self.get(saga_id)
            live = self._live(saga_id)
            if saga.state.final or (live is not None and live[0] != owner):
                return None
            self._leases[saga_id] = (owner, self._clock() + dt.timedelta(seconds=lease))
            state = SagaState.RUNNING if saga.state is SagaState.PENDING else saga.state
            return self._put(attrs.evolve(saga, attempts=saga.attempts + 1, state=state))

    def renew(self, saga_id: str, *, owner: str, lease: float) -> bool:
        with self._lock:
            live = self._live(saga_id)
            if live is None or live[0] != owner:
                return False
            self._leases[saga_id] = (owner, self._clock() + dt.timedelta(seconds=lease))
            return True

    def release(self, saga_id: str, *, owner: str) -> None:
        with self._lock:
            live = self._leases.get(saga_id)
            if live is not None and live[0] == owner:
                del self._leases[saga_id]

    def due(self, *, limit: int = 100) -> list[str]:
        with self._lock:
            now = self._clock()
            found = [
                s
                for s in self._sagas.values()
                if not s.state.final
                and s.next_attempt_at is not None
                and s.next_attempt_at <= now
                and self._live(s.id) is None
            ]
            return [s.id for s in sorted(found, key=lambda s: s.created_at)][:limit]

    # bookkeeping
    def _held(self, saga_id: str, owner: str) -> Saga:
        live = self._live(saga_id)
        if live is None or live[0] != owner:
            raise LeaseLostError(f"{owner} does not hold saga {saga_id}", system="lifecycle")
        return self.get(saga_id)

    def _put(self, saga: Saga) -> Saga:
        saga = attrs.evolve(saga, updated_at=self._clock())
        self._sagas[saga.id] = saga
        return saga

    def _step(self, saga: Saga, name: str, **changes) -> Saga:
        steps = tuple(attrs.evolve(s, **changes) if s.name == name else s for s in saga.steps)
        return self._put(attrs.evolve(saga, steps=steps))

    def start_step(self, saga_id: str, name: str, *, owner: str) -> StepRecord:
        with self._lock:
            saga = self._held(saga_id, owner)
            record = saga.step(name)
            assert record is not None
            saga = self._step(
                saga, name, state=StepState.STARTED, attempts=record.attempts + 1, started_at=self._clock()
            )
            return saga.step(name)

    def save_outside_ids(self, saga_id: str, name: str, ids: Mapping[str, str], *, owner: str) -> None:
        with self._lock:
            saga = self._held(saga_id, owner)
            record = saga.step(name)
            assert record is not None
            self._step(saga, name, outside_ids={**record.outside_ids, **ids})

    def finish_step(self, saga_id, name, state, *, owner, error=None) -> None:
        with self._lock:
            saga = self._held(saga_id, owner)
            self._step(saga, name, state=state, last_error=error, finished_at=self._clock())

    def set_state(self, saga_id, state, *, owner, error=None, next_attempt_at=None) -> Saga:
        with self._lock:
            saga = self._held(saga_id, owner)
            saga = attrs.evolve(
                saga,
                state=state,
                last_error=error if error is not None else saga.last_error,
                next_attempt_at=None if state.final else (next_attempt_at or saga.next_attempt_at),
            )
            if state.final:
                self._leases.pop(saga_id, None)
            return self._put(saga)

    def reopen(self, saga_id: str) -> Saga:
        with self._lock:
            saga = self.get(saga_id)
            if saga.state not in (SagaState.FAILED, SagaState.NEEDS_OPERATOR):
                raise ConflictError(f"saga {saga_id} is {saga.state}", system="lifecycle", operation="retry")
            steps = tuple(
                attrs.evolve(s, state=StepState.PENDING) if s.state is StepState.FAILED else s for s in saga.steps
            )
            return self._put(
                attrs.evolve(saga, state=SagaState.PENDING, attempts=0, steps=steps, next_attempt_at=self._clock())
            )

    # customers
    def get_customer(self, account: int) -> Customer | None:
        with self._lock:
            return self._customers.get(account)

    def save_customer(self, customer: Customer) -> Customer:
        with self._lock:
            old = self._customers.get(customer.account)
            if old is not None and old.network_id and customer.network_id is None:
                customer = attrs.evolve(customer, network_id=old.network_id)
            self._customers[customer.account] = customer
            return customer


# ================================================================================== the world
import dataclasses  # noqa: E402

import pytest  # noqa: E402

from cloudkit.billing import BillingSettings  # noqa: E402
from cloudkit.lifecycle import Lifecycle, LifecycleSettings  # noqa: E402
from cloudkit.openstack import OpenStackSettings  # noqa: E402
from cloudkit.platform import Platform  # noqa: E402
from cloudkit.testing import FakeClock  # noqa: E402
from cloudkit.testing.fakes import BillingFake, OpenStackFake, TungstenFake  # noqa: E402
from cloudkit.testing.fakes.billing._state import IN_PROGRESS, ORDERED, Operation  # noqa: E402
from cloudkit.tungsten import TungstenSettings  # noqa: E402

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
    store: MemoryStore | None = None

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def lifecycle(self, **settings: object) -> Lifecycle:
        """A lifecycle with an InlineRunner on the fake clock; every lifecycle of a test shares one store."""
        if self.store is None:
            self.store = MemoryStore(clock=self.now)
        defaults: dict[str, object] = {"db_url": "sqlite://", "max_attempts": 3, "lease_seconds": 900, "step_wait": 600}
        lifecycle = Lifecycle(
            self.platform,
            settings=LifecycleSettings(**{**defaults, **settings}),
            clock=self.clock,
            sleep=self.clock.sleep,
            store=self.store,  # type: ignore[arg-type]
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
        with self.billing._lock:  # noqa: SLF001 - the fake has no public way to queue an open yet
            state = self.billing._state  # noqa: SLF001
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
            fake._faults.clear()  # noqa: SLF001 - armed faults stay until used; tests end them here

    def image(self, distro: str = "cirros") -> str:
        with self.cloud._lock:  # noqa: SLF001
            images = self.cloud._cloud.state.images.values()  # noqa: SLF001
            return next(i.id for i in images if distro in i.name)


@pytest.fixture
def world():
    clock = FakeClock(start=START)
    with (
        BillingFake() as billing,
        OpenStackFake(clock=clock, token_ttl_seconds=10**9) as cloud,
        TungstenFake(keystone_url=cloud.auth_url, clock=clock, token_cache_seconds=10**9) as tf,
    ):
        billing.complete_operations = False
        cloud.add_user(*TF_USER, project="service", roles=("admin",))
        platform = Platform(
            billing=BillingSettings(url=billing.url, username="admin", password="secret"),
            openstack=OpenStackSettings(
                auth_url=cloud.auth_url, username="admin", password="secret", project_name="admin"
            ),
            tungsten=TungstenSettings(
                url=tf.url, auth_url=cloud.auth_url, username=TF_USER[0], password=TF_USER[1], project_name="service"
            ),
        )
        w = World(clock, billing, cloud, tf, platform)
        try:
            yield w
        finally:
            for lifecycle in w.made:
                lifecycle.shutdown()
