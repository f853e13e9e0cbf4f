"""Stop rules never lift a client's own suspension ("Suspended (by client)"), with money or without.

The client suspends their service through billing (the product allows it: ``client_suspend``); the
lifecycle runs billing's suspend operation as the processing module would (reason ``customer``), and
the service shows ``SUSPENDED_BY_CLIENT``. Sweeps then see the account rich, poor and rich again.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cloudkit.billing import BillingClient, BillingSettings, ServiceStatus
from cloudkit.lifecycle import SagaState, ServerPlan, StopPolicy, SuspendReason
from cloudkit.lifecycle._opstore import OpStore

ACTIVE, SUSPENDED, BY_CLIENT = 2, 3, int(ServiceStatus.SUSPENDED_BY_CLIENT)


@pytest.fixture
def sw(world):
    """The world with billing's dates on the fake clock and clients allowed to suspend/resume."""
    before = world.billing.clock
    world.billing.clock = world.now
    world.billing.client_suspend = True
    try:
        yield world
    finally:
        world.billing.clock = before
        world.billing.client_suspend = False


def _provisioned(world, lifecycle, login: str, services: int) -> tuple[int, list[int]]:
    account = world.customer(login)
    items = []
    for _ in range(services):
        item = world.service(login)
        plan = ServerPlan(image=world.image(), flavor="2", system_volume_gb=1)
        saga = lifecycle.provision(item, account, plan, running_operation=world.queue(item, "open"))
        assert saga.state is SagaState.DONE, saga.last_error
        items.append(item)
    return account, items


def _client_suspends(world, lifecycle, login: str, item: int) -> None:
    """The client suspends their own service; the lifecycle runs billing's operation (the module's job)."""
    with BillingClient(BillingSettings(url=world.billing.url, username="admin", password="secret")) as admin:
        queued = admin.as_user(login).suspend_service(item, wait=0)
        assert queued.status is ServiceStatus.IN_PROGRESS
        (op,) = [o for o in admin.list_running_operations() if o.service_id == item]
    saga = lifecycle.suspend(item, SuspendReason.CUSTOMER, running_operation=op.id)
    assert saga.state is SagaState.DONE, saga.last_error
    assert world.billing.service_status(item) == BY_CLIENT


def _server(world, item: int) -> tuple[str, bool]:
    (found,) = [s for s in world.cloud.servers() if f"cloudkit-item:{item}" in s.tags]
    return found.status, found.locked


def test_a_sweep_with_money_leaves_a_client_suspension_alone(sw):
    lifecycle = sw.lifecycle()
    _, (item,) = _provisioned(sw, lifecycle, "carol", 1)
    _client_suspends(sw, lifecycle, "carol", item)
    sw.billing.pay("carol", Decimal(100))

    for _ in range(2):
        report = lifecycle.sweep(StopPolicy())
        assert (report["suspend"], report["resume"], report["items_resumed"]) == (0, 0, 0)
        assert sw.billing.service_status(item) == BY_CLIENT
        assert _server(sw, item)[0] == "SHUTOFF"
    assert [s.operation for s in lifecycle.sagas(item=item)] == ["suspend", "open"]


def test_a_sweep_without_money_suspends_the_rest_and_never_resumes_the_clients_suspension(sw):
    lifecycle = sw.lifecycle()
    account, (own, other) = _provisioned(sw, lifecycle, "carol", 2)
    _client_suspends(sw, lifecycle, "carol", own)
    sw.billing.charge("carol", Decimal("10.00"), at=sw.now() - dt.timedelta(hours=1))

    poor = lifecycle.sweep(StopPolicy())
    assert (poor["suspend"], poor["items_suspended"]) == (1, 1)  # only the active one
    assert [i.item for i in OpStore(sw.store).items(account)] == [other]
    assert sw.billing.service_status(other) == SUSPENDED
    assert sw.billing.service_status(own) == BY_CLIENT

    sw.billing.pay("carol", Decimal("50.00"))
    rich = lifecycle.sweep(StopPolicy())
    assert (rich["resume"], rich["items_resumed"]) == (1, 1)
    assert sw.billing.service_status(other) == ACTIVE
    assert _server(sw, other) == ("ACTIVE", False)
    assert sw.billing.service_status(own) == BY_CLIENT  # the money came back; the client's stop stays
    assert _server(sw, own)[0] == "SHUTOFF"
    assert lifecycle.sweep(StopPolicy())["items_resumed"] == 0
    assert [s.operation for s in lifecycle.sagas(item=own)] == ["suspend", "open"]
