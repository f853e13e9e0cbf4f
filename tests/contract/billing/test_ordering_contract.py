"""Contract tests of ordering (``vds.order.param``, billing.md W9) and of a client suspending and
resuming their own service: each runs against its cassette and the live fake (see
test_billing_contract.py). Re-record with ``cloudkit record billing``.
"""

from decimal import Decimal

import pytest

from cloudkit.billing import OrderState, ServiceStatus
from cloudkit.errors import InsufficientFundsError, NotFoundError, PermissionDeniedError, SilentNoOpError
from cloudkit.testing.fakes import Fault


def test_order_service__as_user(billing_backend):
    alice = billing_backend.make_client().as_user("alice")
    order = alice.order_service(1, name="web-1", params={"flavor": "2", "image": "img-1"})
    assert (order.service_id, order.name, order.state) == (304, "web-1", OrderState.PAID)
    assert order.status is ServiceStatus.ACTIVE  # the fake opens at once without a processing module
    basket = alice.order_service(1, period=-50, pay_now=False)
    assert (basket.service_id, basket.status, basket.state) == (
        305,
        ServiceStatus.ORDERED,
        OrderState.IN_BASKET,
    )
    assert billing_backend.make_client().get_service_form(304).params["flavor"] == "2"
    assert billing_backend.make_client.calls.calls[:4] == [
        ("auth", None),
        ("vds", "alice"),
        ("vds.order.param", "alice"),
        ("vds", "alice"),
    ]


@pytest.mark.quirk("billing.silent-ok")
def test_order_service__swallowed(billing_backend):
    alice = billing_backend.make_client().as_user("alice")
    if billing_backend.fake:
        billing_backend.fake.inject(Fault.swallow_effect(), func="vds.order.param")
    with pytest.raises(SilentNoOpError, match="no new service of tariff 1"):
        alice.order_service(1)
    assert [s.id for s in alice.list_services()] == [301, 302]


def test_order_service__refused(billing_backend):
    alice = billing_backend.make_client().as_user("alice")
    if billing_backend.fake:
        billing_backend.fake.set_tariff(2, Decimal("500.00"))
    with pytest.raises(InsufficientFundsError) as info:
        alice.order_service(2)
    assert (info.value.amount, info.value.have, info.value.deficit) == (
        Decimal("500.00"),
        Decimal("150.00"),
        Decimal("350.00"),
    )
    with pytest.raises(NotFoundError, match="pricelist"):
        alice.order_service(99)
    assert alice.get_balance() == Decimal("150.00")
    assert [s.id for s in alice.list_services()] == [301, 302]


def test_suspend_service__by_client(billing_backend):
    if billing_backend.fake:
        billing_backend.fake.client_suspend = True
    admin = billing_backend.make_client()
    alice = admin.as_user("alice")
    assert alice.suspend_service(301).status is ServiceStatus.SUSPENDED_BY_CLIENT
    assert admin.get_service(301).status is ServiceStatus.SUSPENDED_BY_CLIENT  # staff see the same
    assert alice.resume_service(301).status is ServiceStatus.ACTIVE
    assert admin.suspend_service(302).status is ServiceStatus.SUSPENDED
    with pytest.raises(PermissionDeniedError, match="not suspended by the client"):
        alice.resume_service(302)  # a staff suspension is not the client's to lift
    assert admin.get_service(302).status is ServiceStatus.SUSPENDED


def test_suspend_service__by_client_not_allowed(billing_backend):
    alice = billing_backend.make_client().as_user("alice")
    with pytest.raises(PermissionDeniedError, match="allow clients to suspend/resume") as info:
        alice.suspend_service(301)
    assert info.value.code == "access"
    assert alice.get_service(301).status is ServiceStatus.ACTIVE
