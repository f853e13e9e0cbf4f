"""SagaStore on SQLite and PostgreSQL (``lifecycle_db_url`` runs every test on both)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from cloudkit.errors import (
    ConfigError,
    ConflictError,
    InvalidArgumentError,
    LeaseLostError,
    NotFoundError,
    TransportError,
)
from cloudkit.lifecycle import (
    Customer,
    ModuleCommand,
    SagaState,
    SagaStore,
    ServerPlan,
    StepState,
    SuspendReason,
)

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
PLAN = ServerPlan(image="img-1", flavor="m1.small", system_volume_gb=10)
OPEN_STEPS = ("customer", "network", "port", "server", "billing")


class Clock:
    """Injected "now": moves only when a test says so."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(lifecycle_db_url, clock):
    with SagaStore.open(lifecycle_db_url, clock=clock) as opened:
        yield opened


def new_saga(
    store, *, item=42, operation=ModuleCommand.OPEN, running_operation=None, plan=PLAN, steps=OPEN_STEPS
):
    return store.create_or_join(
        item=item,
        operation=operation,
        account=7,
        running_operation=running_operation,
        plan=plan if operation is ModuleCommand.OPEN else None,
        reason=SuspendReason.NONPAYMENT if operation is ModuleCommand.SUSPEND else None,
        steps=steps,
    )


def fail(store, saga_id, state=SagaState.FAILED):
    assert store.claim(saga_id, owner="w", lease=30) is not None
    return store.set_state(saga_id, state, owner="w", error="boom")


# ------------------------------------------------------------------------------------------- create/join
def test_new_saga_is_pending_with_every_step_in_order(store, clock):
    saga, created = new_saga(store, running_operation=900)
    assert created
    assert saga.state is SagaState.PENDING
    assert saga.operation is ModuleCommand.OPEN
    assert (saga.item, saga.account, saga.running_operation, saga.plan) == (42, 7, 900, PLAN)
    assert [s.name for s in saga.steps] == list(OPEN_STEPS)
    assert {s.state for s in saga.steps} == {StepState.PENDING}
    assert saga.attempts == 0
    assert saga.created_at == saga.updated_at == saga.next_attempt_at == clock.now
    assert store.get(saga.id) == saga


def test_same_running_operation_joins(store):
    first, _ = new_saga(store, running_operation=900)
    again, created = new_saga(store, running_operation=900)
    assert not created
    assert again.id == first.id
    other, created = new_saga(store, running_operation=901)
    assert created
    assert other.id != first.id


def test_running_operation_key_joins_even_a_failed_saga(store):
    first, _ = new_saga(store, running_operation=900)
    fail(store, first.id)
    again, created = new_saga(store, running_operation=900)
    assert (again.id, created, again.state) == (first.id, False, SagaState.FAILED)


def test_without_running_operation_joins_the_latest_saga_of_the_same_operation(store):
    first, _ = new_saga(store, operation=ModuleCommand.SUSPEND, steps=("server", "billing"))
    again, created = new_saga(store, operation=ModuleCommand.SUSPEND, steps=("server", "billing"))
    assert (again.id, created) == (first.id, False)
    assert again.reason is SuspendReason.NONPAYMENT
    fail(store, first.id, SagaState.DONE)
    done_again, created = new_saga(store, operation=ModuleCommand.SUSPEND, steps=("server", "billing"))
    assert (done_again.id, created) == (first.id, False)  # a done suspend is joined, not repeated


def test_without_running_operation_a_failed_saga_starts_a_new_one(store):
    first, _ = new_saga(store)
    fail(store, first.id)
    second, created = new_saga(store)
    assert created
    assert second.id != first.id
    assert second.state is SagaState.PENDING
    third, created = new_saga(store)
    assert (third.id, created) == (second.id, False)


def test_needs_operator_saga_is_joined_not_repeated(store):
    first, _ = new_saga(store)
    fail(store, first.id, SagaState.NEEDS_OPERATOR)
    again, created = new_saga(store)
    assert (again.id, created) == (first.id, False)


def test_another_operation_starts_a_new_saga_and_becomes_the_latest(store):
    opened, _ = new_saga(store)
    suspended, created = new_saga(store, operation=ModuleCommand.SUSPEND, steps=("server", "billing"))
    assert created
    reopened, created = new_saga(store)
    assert created  # the latest saga of the item is the suspend: a new open starts
    assert len({opened.id, suspended.id, reopened.id}) == 3


def test_other_items_do_not_join(store):
    first, _ = new_saga(store, item=1)
    second, created = new_saga(store, item=2)
    assert created
    assert second.id != first.id


def test_open_with_another_plan_is_a_conflict(store):
    first, _ = new_saga(store, running_operation=900)
    other = ServerPlan(image="img-2", flavor="m1.small", system_volume_gb=10)
    with pytest.raises(ConflictError) as caught:
        new_saga(store, running_operation=900, plan=other)
    assert caught.value.system == "lifecycle"
    assert first.id in str(caught.value)
    with pytest.raises(ConflictError):
        new_saga(store, plan=ServerPlan(image="img-1", flavor="m1.small", system_volume_gb=20))
    assert new_saga(store, running_operation=900)[0].id == first.id


@pytest.mark.parametrize("steps", [(), ("a", "a")])
def test_steps_must_be_distinct_and_present(store, steps):
    with pytest.raises(InvalidArgumentError):
        new_saga(store, steps=steps)


@pytest.mark.parametrize("running_operation", [900, None])
def test_concurrent_requests_end_in_one_saga(lifecycle_db_url, clock, running_operation):
    SagaStore.open(lifecycle_db_url).close()
    stores = [SagaStore(lifecycle_db_url, clock=clock) for _ in range(8)]
    barrier = threading.Barrier(len(stores), timeout=30)

    def request(store):
        barrier.wait()
        return new_saga(store, running_operation=running_operation)

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            results = list(pool.map(request, stores))
    finally:
        for one in stores:
            one.close()
    assert len({saga.id for saga, _ in results}) == 1
    assert sum(created for _, created in results) == 1


# ---------------------------------------------------------------------------------------------- get/find
def test_get_unknown_saga_is_not_found(store):
    with pytest.raises(NotFoundError) as caught:
        store.get("no-such-saga")
    assert caught.value.system == "lifecycle"


def test_find_filters_newest_first(store, clock):
    a, _ = new_saga(store, item=1)
    clock.advance(1)
    b, _ = new_saga(store, item=2)
    clock.advance(1)
    c, _ = new_saga(store, item=1, operation=ModuleCommand.SUSPEND, steps=("server",))
    fail(store, a.id)
    assert [s.id for s in store.find()] == [c.id, b.id, a.id]
    assert [s.id for s in store.find(item=1)] == [c.id, a.id]
    assert [s.id for s in store.find(state=SagaState.FAILED)] == [a.id]
    assert [s.id for s in store.find(operation=ModuleCommand.OPEN)] == [b.id, a.id]
    assert [s.id for s in store.find(limit=1)] == [c.id]
    assert store.find(item=3) == []
    assert [s.name for s in store.find(item=2)[0].steps] == list(OPEN_STEPS)


# ------------------------------------------------------------------------------------------------ leases
def test_claim_is_exclusive_until_the_lease_runs_out(store, clock):
    saga, _ = new_saga(store)
    claimed = store.claim(saga.id, owner="w1", lease=30)
    assert claimed is not None
    assert (claimed.state, claimed.attempts) == (SagaState.RUNNING, 1)
    assert store.claim(saga.id, owner="w2", lease=30) is None
    clock.advance(30)
    assert store.claim(saga.id, owner="w2", lease=30) is None  # not yet past the lease's end
    clock.advance(0.001)
    taken = store.claim(saga.id, owner="w2", lease=30)
    assert taken is not None
    assert taken.attempts == 2
    with pytest.raises(LeaseLostError):
        store.start_step(saga.id, "customer", owner="w1")


def test_the_same_owner_may_claim_again(store):
    saga, _ = new_saga(store)
    store.claim(saga.id, owner="w1", lease=30)
    again = store.claim(saga.id, owner="w1", lease=30)
    assert again is not None
    assert again.attempts == 2


def test_claim_keeps_a_compensating_state(store):
    saga, _ = new_saga(store)
    store.claim(saga.id, owner="w1", lease=30)
    store.set_state(saga.id, SagaState.COMPENSATING, owner="w1")
    store.release(saga.id, owner="w1")
    assert store.claim(saga.id, owner="w2", lease=30).state is SagaState.COMPENSATING


@pytest.mark.parametrize("state", [SagaState.DONE, SagaState.FAILED, SagaState.NEEDS_OPERATOR])
def test_final_saga_cannot_be_claimed(store, state):
    saga, _ = new_saga(store)
    fail(store, saga.id, state)
    assert store.claim(saga.id, owner="w", lease=30) is None


def test_claim_unknown_saga_is_not_found(store):
    with pytest.raises(NotFoundError):
        store.claim("no-such-saga", owner="w", lease=30)


@pytest.mark.parametrize(("owner", "lease"), [("", 30), ("w", 0), ("w", -1), ("w", True)])
def test_claim_checks_its_arguments(store, owner, lease):
    saga, _ = new_saga(store)
    with pytest.raises(InvalidArgumentError):
        store.claim(saga.id, owner=owner, lease=lease)


def test_twenty_stores_racing_for_one_saga_have_one_winner(lifecycle_db_url, clock):
    setup = SagaStore.open(lifecycle_db_url, clock=clock)
    saga, _ = new_saga(setup)
    setup.close()
    stores = [SagaStore(lifecycle_db_url, clock=clock) for _ in range(20)]
    barrier = threading.Barrier(len(stores), timeout=30)

    def race(index):
        barrier.wait()
        return stores[index].claim(saga.id, owner=f"w{index}", lease=60)

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            results = list(pool.map(race, range(len(stores))))
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        assert stores[0].get(saga.id).attempts == 1
    finally:
        for one in stores:
            one.close()


def test_renew_and_release(store, clock):
    saga, _ = new_saga(store)
    store.claim(saga.id, owner="w1", lease=10)
    clock.advance(8)
    assert store.renew(saga.id, owner="w1", lease=10)
    assert not store.renew(saga.id, owner="w2", lease=10)
    clock.advance(8)
    assert store.claim(saga.id, owner="w2", lease=10) is None  # renewed: still w1's
    store.release(saga.id, owner="w2")  # not w2's: nothing happens
    assert store.claim(saga.id, owner="w2", lease=10) is None
    store.release(saga.id, owner="w1")
    assert not store.renew(saga.id, owner="w1", lease=10)
    assert store.claim(saga.id, owner="w2", lease=10) is not None


def test_due_lists_sagas_without_a_live_lease_oldest_first(store, clock):
    a, _ = new_saga(store, item=1)
    clock.advance(1)
    b, _ = new_saga(store, item=2)
    clock.advance(1)
    c, _ = new_saga(store, item=3)
    assert store.due() == [a.id, b.id, c.id]
    assert store.due(limit=2) == [a.id, b.id]
    store.claim(b.id, owner="w", lease=10)
    assert store.due() == [a.id, c.id]
    fail(store, c.id, SagaState.DONE)
    store.claim(a.id, owner="w", lease=10)
    store.set_state(a.id, SagaState.RUNNING, owner="w", next_attempt_at=clock.now + dt.timedelta(seconds=60))
    store.release(a.id, owner="w")
    assert store.due() == []  # a waits for its next attempt, b is leased, c is done
    clock.advance(10.5)  # b's worker died: its lease ran out
    assert store.due() == [b.id]
    clock.advance(60)
    assert store.due() == [b.id, a.id]


# ------------------------------------------------------------------------------------------- bookkeeping
def test_step_bookkeeping(store, clock):
    saga, _ = new_saga(store)
    store.claim(saga.id, owner="w", lease=60)
    started = store.start_step(saga.id, "server", owner="w")
    assert (started.state, started.attempts, started.started_at, started.finished_at) == (
        StepState.STARTED,
        1,
        clock.now,
        None,
    )
    store.save_outside_ids(saga.id, "server", {"server": "s-1"}, owner="w")
    store.save_outside_ids(saga.id, "server", {"volume": "v-1"}, owner="w")
    clock.advance(5)
    store.finish_step(saga.id, "server", StepState.FAILED, owner="w", error="build ERROR")
    step = store.get(saga.id).step("server")
    assert dict(step.outside_ids) == {"server": "s-1", "volume": "v-1"}
    assert (step.state, step.last_error, step.finished_at) == (StepState.FAILED, "build ERROR", clock.now)
    again = store.start_step(saga.id, "server", owner="w")
    assert (again.attempts, again.finished_at, again.last_error) == (2, None, "build ERROR")
    store.finish_step(saga.id, "server", StepState.DONE, owner="w")
    assert store.get(saga.id).step("server").state is StepState.DONE
    assert store.get(saga.id).outside_ids["volume"] == "v-1"


def test_unknown_step_is_not_found(store):
    saga, _ = new_saga(store)
    store.claim(saga.id, owner="w", lease=60)
    with pytest.raises(NotFoundError):
        store.start_step(saga.id, "nope", owner="w")
    with pytest.raises(NotFoundError):
        store.save_outside_ids(saga.id, "nope", {"a": "b"}, owner="w")
    with pytest.raises(NotFoundError):
        store.finish_step(saga.id, "nope", StepState.DONE, owner="w")


def test_bookkeeping_without_the_lease_raises_lease_lost_and_writes_nothing(store):
    saga, _ = new_saga(store)
    calls = [
        lambda: store.start_step(saga.id, "server", owner="w2"),
        lambda: store.save_outside_ids(saga.id, "server", {"server": "x"}, owner="w2"),
        lambda: store.finish_step(saga.id, "server", StepState.DONE, owner="w2"),
        lambda: store.set_state(saga.id, SagaState.DONE, owner="w2"),
    ]
    for call in calls:  # never claimed
        with pytest.raises(LeaseLostError):
            call()
    store.claim(saga.id, owner="w1", lease=60)
    for call in calls:  # claimed by someone else
        with pytest.raises(LeaseLostError) as caught:
            call()
        assert caught.value.system == "lifecycle"
    assert store.get(saga.id).state is SagaState.RUNNING
    step = store.get(saga.id).step("server")
    assert (step.state, step.attempts, dict(step.outside_ids)) == (StepState.PENDING, 0, {})
    with pytest.raises(NotFoundError):
        store.start_step("no-such-saga", "server", owner="w1")


def test_set_state_final_clears_the_lease_and_next_attempt(store, clock):
    saga, _ = new_saga(store)
    store.claim(saga.id, owner="w", lease=60)
    later = clock.now + dt.timedelta(minutes=5)
    waiting = store.set_state(saga.id, SagaState.RUNNING, owner="w", error="nova 503", next_attempt_at=later)
    assert (waiting.last_error, waiting.next_attempt_at) == ("nova 503", later)
    done = store.set_state(saga.id, SagaState.DONE, owner="w")
    assert (done.state, done.next_attempt_at, done.last_error) == (SagaState.DONE, None, "nova 503")
    with pytest.raises(LeaseLostError):
        store.start_step(saga.id, "server", owner="w")
    assert not store.renew(saga.id, owner="w", lease=60)


def test_next_attempt_at_must_be_aware(store):
    saga, _ = new_saga(store)
    store.claim(saga.id, owner="w", lease=60)
    with pytest.raises(InvalidArgumentError):
        store.set_state(saga.id, SagaState.RUNNING, owner="w", next_attempt_at=dt.datetime(2025, 1, 1))  # noqa: DTZ001


# ------------------------------------------------------------------------------------------------ reopen
@pytest.mark.parametrize("state", [SagaState.FAILED, SagaState.NEEDS_OPERATOR])
def test_reopen_gives_a_failed_saga_another_run(store, clock, state):
    saga, _ = new_saga(store)
    store.claim(saga.id, owner="w", lease=60)
    store.start_step(saga.id, "customer", owner="w")
    store.finish_step(saga.id, "customer", StepState.DONE, owner="w")
    store.start_step(saga.id, "network", owner="w")
    store.finish_step(saga.id, "network", StepState.FAILED, owner="w", error="tf 500")
    store.set_state(saga.id, state, owner="w", error="tf 500")
    clock.advance(100)
    reopened = store.reopen(saga.id)
    assert (reopened.state, reopened.attempts, reopened.last_error) == (SagaState.PENDING, 0, "tf 500")
    assert reopened.next_attempt_at == clock.now
    assert reopened.step("customer").state is StepState.DONE
    assert reopened.step("network").state is StepState.PENDING
    assert reopened.step("network").attempts == 1
    assert store.due() == [saga.id]
    assert store.claim(saga.id, owner="w2", lease=60).state is SagaState.RUNNING


def test_reopen_refuses_a_done_or_running_saga(store):
    saga, _ = new_saga(store)
    with pytest.raises(ConflictError):
        store.reopen(saga.id)
    store.claim(saga.id, owner="w", lease=60)
    with pytest.raises(ConflictError):
        store.reopen(saga.id)
    store.set_state(saga.id, SagaState.DONE, owner="w")
    with pytest.raises(ConflictError) as caught:
        store.reopen(saga.id)
    assert "done" in str(caught.value)
    with pytest.raises(NotFoundError):
        store.reopen("no-such-saga")


# --------------------------------------------------------------------------------------------- customers
def test_customers_upsert_keeps_the_network(store):
    assert store.get_customer(7) is None
    bare = Customer(account=7, keystone_project_id="p1", keystone_user_id="u1", tungsten_project_id="p1")
    assert store.save_customer(bare) == bare
    with_net = store.save_customer(
        Customer(
            account=7,
            keystone_project_id="p1",
            keystone_user_id="u1",
            tungsten_project_id="p1",
            network_id="n1",
        )
    )
    assert with_net.network_id == "n1"
    assert store.save_customer(bare).network_id == "n1"  # None never erases a known network
    moved = store.save_customer(
        Customer(account=7, keystone_project_id="p2", keystone_user_id="u2", tungsten_project_id="p2")
    )
    assert (moved.keystone_project_id, moved.network_id) == ("p2", "n1")
    assert store.get_customer(7) == moved
    assert store.get_customer(8) is None


# ----------------------------------------------------------------------------------------------- time
def test_datetimes_come_back_aware_in_utc(lifecycle_db_url):
    plus3 = dt.timezone(dt.timedelta(hours=3))
    clock = Clock(dt.datetime(2025, 3, 1, 15, 0, tzinfo=plus3))
    with SagaStore.open(lifecycle_db_url, clock=clock) as store:
        saga, _ = new_saga(store)
        store.claim(saga.id, owner="w", lease=60)
        step = store.start_step(saga.id, "server", owner="w")
        for value in (saga.created_at, saga.updated_at, saga.next_attempt_at, step.started_at):
            assert value.tzinfo is dt.UTC
            assert value == dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def test_naive_clock_is_refused(lifecycle_db_url):
    naive = dt.datetime(2025, 1, 1)  # noqa: DTZ001 (the point of the test)
    with SagaStore.open(lifecycle_db_url, clock=lambda: naive) as store, pytest.raises(InvalidArgumentError):
        new_saga(store)


# ------------------------------------------------------------------------------------ open, urls, errors
def test_reopening_a_migrated_database_is_a_no_op(lifecycle_db_url):
    from alembic.migration import MigrationContext

    from cloudkit.lifecycle._tables import VERSION_TABLE

    with SagaStore.open(lifecycle_db_url) as store:
        saga, _ = new_saga(store)
    with SagaStore.open(lifecycle_db_url) as store:
        assert store.get(saga.id).id == saga.id
    engine = sa.create_engine(lifecycle_db_url)
    try:
        with engine.connect() as conn:
            heads = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE}
            ).get_current_heads()
    finally:
        engine.dispose()
    assert heads == ("0002",)


def test_migrations_match_the_table_metadata(lifecycle_db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from cloudkit.lifecycle._tables import VERSION_TABLE, metadata

    SagaStore.open(lifecycle_db_url).close()
    engine = sa.create_engine(lifecycle_db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={"version_table": VERSION_TABLE, "compare_type": True, "compare_server_default": True},
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_open_without_migrate_does_not_create_tables(lifecycle_db_url):
    with SagaStore.open(lifecycle_db_url, migrate=False) as store:
        assert store.dialect in {"sqlite", "postgresql"}
    engine = sa.create_engine(lifecycle_db_url)
    try:
        assert "sagas" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_concurrent_first_opens_by_processes_do_not_fail(lifecycle_db_url):
    code = "import sys; from cloudkit.lifecycle import SagaStore; SagaStore.open(sys.argv[1]).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, lifecycle_db_url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with SagaStore.open(lifecycle_db_url) as store:
        assert store.find() == []


def test_closed_store_refuses_calls(lifecycle_db_url):
    store = SagaStore.open(lifecycle_db_url)
    store.close()
    store.close()
    with pytest.raises(ConfigError):
        store.find()


def test_repr_hides_the_password():
    store = SagaStore("postgresql+psycopg://app:hunter2secret@db.example:5432/cloudkit")
    assert "hunter2secret" not in repr(store)
    assert repr(store) == "SagaStore(url='postgresql+psycopg://app:***@db.example:5432/cloudkit')"
    store.close()


def test_unreachable_database_fails_fast_without_the_password():
    url = "postgresql+psycopg://app:hunter2secret@127.0.0.1:1/cloudkit"
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        SagaStore.open(url)
    assert time.monotonic() - started < 5
    err = caught.value
    assert (err.system, err.operation, err.retryable) == ("lifecycle", "open_store", True)
    for text in (str(err), repr(err)):
        assert "hunter2secret" not in text
        assert "127.0.0.1" in text


def test_missing_sqlite_folder_is_a_transport_error(tmp_path):
    with pytest.raises(TransportError):
        SagaStore.open(f"sqlite:///{tmp_path}/missing/dir/lifecycle.db")


@pytest.mark.parametrize(
    "url",
    [
        "not a url :: hunter2secret",
        "mysql://app:hunter2secret@db/x",
        "postgresql+nodriver://a:hunter2secret@h/d",
    ],
)
def test_bad_urls_are_config_errors_without_the_password(url):
    with pytest.raises(ConfigError) as caught:
        SagaStore(url)
    assert "hunter2secret" not in str(caught.value)


# ------------------------------------------------------------------------------ leases against a model
def test_leases_follow_the_model(lifecycle_db_url):  # noqa: C901 (the machine's rules are nested)
    """claim/renew/release/set_state/expiry in any order agree with a few lines of model."""
    clock = Clock()
    store = SagaStore.open(lifecycle_db_url, clock=clock)
    owners = st.sampled_from(["w1", "w2", "w3"])
    leases = st.integers(min_value=1, max_value=20)

    class Leases(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.saga_id = store.create_or_join(
                item=int(clock.now.timestamp() * 1000),
                operation=ModuleCommand.CLOSE,
                account=1,
                running_operation=None,
                plan=None,
                reason=None,
                steps=["server"],
            )[0].id
            clock.advance(1)  # every example its own item
            self.owner: str | None = None
            self.until: dt.datetime | None = None
            self.final = False
            self.attempts = 0

        def _free_for(self, owner):
            return self.owner is None or self.until < clock.now or self.owner == owner

        @rule(owner=owners, lease=leases)
        def claim(self, owner, lease):
            got = store.claim(self.saga_id, owner=owner, lease=lease)
            if self.final or not self._free_for(owner):
                assert got is None
                return
            assert got is not None
            self.owner, self.until = owner, clock.now + dt.timedelta(seconds=lease)
            self.attempts += 1
            assert got.attempts == self.attempts

        @rule(owner=owners, lease=leases)
        def renew(self, owner, lease):
            held = not self.final and self.owner == owner
            assert store.renew(self.saga_id, owner=owner, lease=lease) is held
            if held:
                self.until = clock.now + dt.timedelta(seconds=lease)

        @rule(owner=owners)
        def release(self, owner):
            store.release(self.saga_id, owner=owner)
            if self.owner == owner:
                self.owner = self.until = None

        @rule(owner=owners)
        def step(self, owner):
            if self.owner == owner:
                assert store.start_step(self.saga_id, "server", owner=owner).state is StepState.STARTED
            else:
                with pytest.raises(LeaseLostError):
                    store.start_step(self.saga_id, "server", owner=owner)

        @rule(owner=owners)
        def finish(self, owner):
            if self.owner == owner:
                store.set_state(self.saga_id, SagaState.DONE, owner=owner)
                self.final, self.owner, self.until = True, None, None
            else:
                with pytest.raises(LeaseLostError):
                    store.set_state(self.saga_id, SagaState.DONE, owner=owner)

        @rule(seconds=st.sampled_from([0.5, 1, 5, 10, 25]))
        def wait(self, seconds):
            clock.advance(seconds)

        @invariant()
        def due_agrees(self):
            live = self.owner is not None and self.until >= clock.now
            assert (self.saga_id in store.due(limit=10_000)) is (not self.final and not live)

    try:
        run_state_machine_as_test(
            Leases, settings=settings(max_examples=25, stateful_step_count=15, deadline=None)
        )
    finally:
        store.close()


def test_a_schema_from_an_unknown_revision_is_a_config_error(tmp_path):
    import sqlalchemy as sa

    from cloudkit.errors import ConfigError
    from cloudkit.lifecycle import SagaStore

    url = f"sqlite:///{tmp_path / 'newer.db'}"
    SagaStore.open(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # as a newer cloudkit would leave it during a rolling upgrade
        conn.execute(sa.text("UPDATE cloudkit_lifecycle_version SET version_num = 'from-the-future'"))
    engine.dispose()
    with pytest.raises(ConfigError, match="from-the-future"):
        SagaStore.open(url)
