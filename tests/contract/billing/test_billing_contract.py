"""Contract tests: each runs against its cassette (``[cassette]``) and the live fake (``[fake]``).

The cassette is ``cassettes/billing/<operation>__<scenario>.yaml`` for ``test_<operation>__<scenario>``.
Set-up that only the live fake can do (injecting a fault, expiring sessions) is guarded by
``if backend.fake``; during replay the cassette already holds what the fake answered.
Re-record with ``cloudkit record billing``.
"""

from decimal import Decimal

import pytest

from cloudkit.billing import PaymentStatus, ServiceStatus, TicketStatus
from cloudkit.errors import ApiError, AuthenticationError, ScopeError, ServerError, SilentNoOpError
from cloudkit.testing.fakes import Fault


def test_list_accounts__admin(billing_backend):
    billing = billing_backend.make_client()
    accounts = billing.list_accounts()
    assert [(a.id, a.name, a.balance) for a in accounts] == [
        (1, "Alice Ltd", Decimal("150.00")),
        (2, "Bob GmbH", Decimal("0.00")),
    ]
    assert billing_backend.make_client.calls.funcs() == ["auth", "account"]


def test_list_accounts__authinfo(billing_backend):
    billing = billing_backend.make_client(auth_mode="authinfo")
    assert len(billing.list_accounts()) == 2
    assert billing_backend.make_client.calls.funcs() == ["account"]


@pytest.mark.quirk("billing.session-expiry")
def test_list_accounts__session_expired(billing_backend):
    billing = billing_backend.make_client()
    billing.list_accounts()
    if billing_backend.fake:
        billing_backend.fake.expire_sessions()
    assert len(billing.list_accounts()) == 2
    assert billing_backend.make_client.calls.funcs() == ["auth", "account", "account", "auth", "account"]


def test_list_accounts__server_error_then_ok(billing_backend):
    billing = billing_backend.make_client()
    billing.login()
    if billing_backend.fake:
        billing_backend.fake.inject(Fault.server_error(status=503), func="account")
    assert len(billing.list_accounts()) == 2
    assert billing_backend.make_client.calls.funcs() == ["auth", "account", "account"]
    assert billing_backend.make_client.clock.sleeps == [0.2]


def test_login__bad_password(billing_backend):
    billing = billing_backend.make_client(password="not-the-Passw0rd")
    with pytest.raises(AuthenticationError) as info:
        billing.list_accounts()
    assert "not-the-Passw0rd" not in f"{info.value!s} {info.value!r} {info.value.detail}"


@pytest.mark.quirk("billing.su-scope")
def test_create_promised_payment__as_user(billing_backend):
    alice = billing_backend.make_client().as_user("alice")
    payment = alice.create_promised_payment(Decimal(100))
    assert (payment.amount, payment.status) == (Decimal("100.00"), PaymentStatus.PROMISED)
    assert alice.get_balance() == Decimal("250.00")
    assert billing_backend.make_client.calls.calls == [
        ("auth", None),
        ("payment", "alice"),
        ("payment.add", "alice"),
        ("payment", "alice"),
        ("subaccount", "alice"),
    ]


@pytest.mark.quirk("billing.silent-ok")
def test_create_promised_payment__swallowed(billing_backend):
    alice = billing_backend.make_client().as_user("alice")
    if billing_backend.fake:
        billing_backend.fake.inject(Fault.swallow_effect(), func="payment.add")
    with pytest.raises(SilentNoOpError) as info:
        alice.create_promised_payment(Decimal(5))
    assert info.value.quirk == "billing.silent-ok"
    assert alice.get_balance() == Decimal("150.00")


@pytest.mark.quirk("billing.su-scope")
def test_as_user__from_user_session(billing_backend):
    alice = billing_backend.make_client(username="alice", password="alice-pass")
    alice.login()
    with pytest.raises(ScopeError):
        alice.as_user("bob")
    assert alice.get_balance() == Decimal("150.00")


@pytest.mark.quirk("billing.form-needs-sok")
def test_create_ticket__as_user(billing_backend):
    alice = billing_backend.make_client().as_user("alice")
    ticket = alice.create_ticket(subject="Disk is slow", message="Since this morning")
    assert (ticket.subject, ticket.status) == ("Disk is slow", TicketStatus.NEW)
    assert [t.id for t in alice.list_tickets()] == [ticket.id]


def test_reply_to_ticket__as_user(billing_backend):
    alice = billing_backend.make_client().as_user("alice")
    ticket = alice.create_ticket(subject="Disk is slow", message="Since this morning")
    reply = alice.reply_to_ticket(ticket.id, "Still slow", attachments=[("iostat.txt", b"await 250ms")])
    assert (reply.text, reply.author) == ("Still slow", "alice")
    assert [m.text for m in alice.list_ticket_messages(ticket.id)] == ["Since this morning", "Still slow"]


@pytest.mark.quirk("billing.errors-at-http-200")
def test_call__ticket_without_message(billing_backend):
    alice = billing_backend.make_client().as_user("alice")
    with pytest.raises(ApiError) as info:
        alice.call("clientticket.edit", sok="ok", name="No message")
    assert (info.value.status, info.value.object_name) == (200, "message")


@pytest.mark.quirk("billing.errors-at-http-200")
def test_call__unknown_func(billing_backend):
    billing = billing_backend.make_client()
    with pytest.raises(ApiError) as info:
        billing.call("no.such.func")
    assert info.value.status == 200
    assert info.value.code


def test_list_services__paged(billing_backend):
    billing = billing_backend.make_client(page_size=2)
    services = billing.list_services()
    assert [(s.id, s.status) for s in services] == [
        (301, ServiceStatus.ACTIVE),
        (302, ServiceStatus.ACTIVE),
        (303, ServiceStatus.SUSPENDED),
    ]
    assert billing_backend.make_client.calls.funcs() == ["auth", "vds", "vds"]


@pytest.mark.quirk("billing.one-element-lists")
def test_list_services__wrapped_children(billing_backend):
    if billing_backend.fake:
        billing_backend.fake.wrap_single_children = True
    alice = billing_backend.make_client().as_user("alice")
    assert [s.name for s in alice.list_services()] == ["vm-1", "vm-2"]


def test_suspend_service__admin(billing_backend):
    billing = billing_backend.make_client()
    assert billing.suspend_service(301).status is ServiceStatus.SUSPENDED
    assert billing.resume_service(301).status is ServiceStatus.ACTIVE
    assert billing_backend.make_client.calls.funcs() == [
        "auth",
        "vds",
        "vds.suspend",
        "vds",
        "vds",
        "vds.resume",
        "vds",
    ]


@pytest.mark.quirk("billing.silent-ok")
def test_suspend_service__swallowed(billing_backend):
    billing = billing_backend.make_client()
    if billing_backend.fake:
        billing_backend.fake.inject(Fault.swallow_effect(), func="vds.suspend")
    with pytest.raises(SilentNoOpError):
        billing.suspend_service(301)
    assert billing_backend.make_client.calls.funcs() == [
        "auth",
        "vds",
        "vds.suspend",
        "vds",
        "runningoperation",
    ]


def test_delete_service__admin(billing_backend):
    billing = billing_backend.make_client()
    billing.delete_service(302)
    assert [s.id for s in billing.list_services()] == [301, 303]


def test_list_finance__as_user(billing_backend):
    bob = billing_backend.make_client().as_user("bob")
    assert bob.get_balance() == Decimal("0.00")
    (expense,) = bob.list_expenses()
    assert expense.unpaid == Decimal("30.00")
    assert bob.list_payments() == []
    alice = billing_backend.make_client().as_user("alice")
    (invoice,) = alice.list_invoices()
    assert invoice.amount > 0


def test_list_running_operations__empty(billing_backend):
    assert billing_backend.make_client().list_running_operations() == []


def test_list_services__server_keeps_failing(billing_backend):
    billing = billing_backend.make_client()
    billing.login()
    if billing_backend.fake:
        billing_backend.fake.inject(Fault.server_error(status=502), func="vds", times=4)
    with pytest.raises(ServerError):
        billing.list_services()
    assert billing_backend.make_client.calls.funcs() == ["auth", "vds", "vds", "vds", "vds"]
