"""BillingClient against the live fake: exact call sequences, scope guards, faults, secrets."""

import logging
from decimal import Decimal

import pytest

from cloudkit import Poller
from cloudkit.billing import BillingClient, BillingSettings, PaymentStatus, ServiceStatus
from cloudkit.errors import (
    AuthenticationError,
    CloudkitError,
    InvalidArgumentError,
    NotFoundError,
    RequestTimeoutError,
    ScopeError,
    ServerError,
    SilentNoOpError,
    TransportError,
    WaitTimeoutError,
)
from cloudkit.testing.fakes import Fault
from cloudkit.testing.plugin import CallLog, make_billing_client


@pytest.mark.quirk("billing.su-scope")
def test_promised_payment_exact_call_sequence(billing, billing_calls, billing_fake):
    alice = billing.as_user("alice")
    payment = alice.create_promised_payment(Decimal(100))
    assert (payment.amount, payment.status) == (Decimal(100), PaymentStatus.PROMISED)
    assert billing_calls.calls == [
        ("auth", None),
        ("payment", "alice"),  # read-back baseline
        ("payment.add", "alice"),  # the form, submitted with sok=ok, scoped with su
        ("payment", "alice"),  # post-condition: the new promised payment is listed
    ]
    form = billing_fake.calls[2]
    assert (form.func, form.su, form.params["sok"], form.params["promised"]) == (
        "payment.add",
        "alice",
        "ok",
        "on",
    )
    assert billing_fake.balance_of("alice") == Decimal("250.00")


@pytest.mark.quirk("billing.su-scope")
@pytest.mark.parametrize(
    "operation",
    [
        lambda b: b.create_promised_payment(Decimal(1)),
        lambda b: b.get_balance(),
        lambda b: b.list_tickets(),
        lambda b: b.create_ticket(subject="s", message="m"),
        lambda b: b.reply_to_ticket(1, "m"),
        lambda b: b.list_ticket_messages(1),
    ],
)
def test_user_level_operations_unscoped_are_refused_before_any_request(billing, billing_calls, operation):
    with pytest.raises(ScopeError) as info:
        operation(billing)
    assert info.value.quirk == "billing.su-scope"
    # only the login that tells an admin from a customer; the user-level request never went out
    assert billing_calls.funcs() == ["auth"]
    billing_calls.clear()
    with pytest.raises(ScopeError):
        operation(billing)  # now known to be an admin: refused before any request at all
    assert billing_calls.funcs() == []


@pytest.mark.quirk("billing.su-scope")
def test_as_user_from_a_user_session_is_refused(make_billing):
    calls = CallLog()
    alice = make_billing(calls=calls, username="alice", password="alice-pass")
    alice.login()
    with pytest.raises(ScopeError):
        alice.as_user("bob")
    # a user's own client may call user-level functions without as_user
    assert alice.get_balance() == Decimal("150.00")
    assert calls.calls == [("auth", None), ("subaccount", None)]


def test_as_user_validation(billing):
    with pytest.raises(InvalidArgumentError):
        billing.as_user(" alice")
    with pytest.raises(ScopeError):
        billing.as_user("alice").as_user("bob")


@pytest.mark.parametrize("amount", [Decimal(0), Decimal(-5), Decimal("NaN"), 1.5, "10"])
def test_bad_amounts_are_refused_before_any_request(billing, billing_fake, amount):
    with pytest.raises(InvalidArgumentError):
        billing.as_user("alice").create_promised_payment(amount)
    assert billing_fake.calls == []


@pytest.mark.quirk("billing.silent-ok")
def test_swallowed_promised_payment_raises_silent_no_op(billing, billing_fake):
    billing_fake.inject(Fault.swallow_effect(), func="payment.add")
    with pytest.raises(SilentNoOpError) as info:
        billing.as_user("alice").create_promised_payment(Decimal(5))
    assert info.value.quirk == "billing.silent-ok"
    assert billing_fake.balance_of("alice") == Decimal("150.00")


@pytest.mark.quirk("billing.silent-ok")
def test_swallowed_ticket_and_reply_raise_silent_no_op(billing, billing_fake):
    alice = billing.as_user("alice")
    billing_fake.inject(Fault.swallow_effect(), func="clientticket.edit")
    with pytest.raises(SilentNoOpError):
        alice.create_ticket(subject="Disk", message="slow")
    ticket = alice.create_ticket(subject="Disk", message="slow")
    # the read-back view is a clientticket.edit call too: swallow it and the submitted reply
    billing_fake.inject(Fault.swallow_effect(), func="clientticket.edit", times=2)
    with pytest.raises(SilentNoOpError):
        alice.reply_to_ticket(ticket.id, "still slow")


@pytest.mark.quirk("billing.form-needs-sok")
def test_every_form_cloudkit_submits_carries_sok(billing, billing_fake):
    alice = billing.as_user("alice")
    ticket = alice.create_ticket(subject="Disk", message="slow", attachments=[("dmesg.txt", b"io error")])
    alice.reply_to_ticket(ticket.id, "more")
    alice.create_promised_payment(Decimal(1))
    forms = [
        r
        for r in billing_fake.calls
        if (r.func.endswith((".edit", ".add")) and "message" in r.params) or r.func == "payment.add"
    ]
    submitted = [r for r in forms if "elid" not in r.params or "message" in r.params]
    assert submitted
    assert all(r.params.get("sok") == "ok" for r in submitted)
    messages = alice.list_ticket_messages(ticket.id)
    assert [m.text for m in messages] == ["slow", "more"]


def test_form_without_sok_is_a_silent_view(billing, billing_fake):
    """The quirk itself, shown through the raw escape hatch: no sok, no effect, no error."""
    doc = billing.as_user("alice").call("clientticket.edit", name="Disk", message="slow")
    assert "ok" not in doc
    assert billing_fake.tickets_of("alice") == []


@pytest.mark.quirk("billing.session-expiry")
def test_expired_session_is_renewed_once(billing, billing_calls, billing_fake):
    billing.list_accounts()
    billing_fake.expire_sessions()
    billing.list_accounts()
    assert billing_calls.funcs() == ["auth", "account", "account", "auth", "account"]


def test_bad_password_is_authentication_error_without_secrets(make_billing, billing_fake, caplog):
    client = make_billing(password="wrong-Pa55word")
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as info:
        client.list_accounts()
    text = f"{info.value} {info.value!r} {info.value.detail} {client!r} {caplog.text}"
    assert "wrong-Pa55word" not in text
    assert len([c for c in billing_fake.calls if c.func == "auth"]) == 1


def test_session_id_never_reaches_logs_or_reprs(billing, billing_fake, caplog):
    with caplog.at_level(logging.DEBUG):
        billing.list_accounts()
        billing_fake.inject(Fault.error("value", "bad thing", details={"object": "name"}))
        with pytest.raises(CloudkitError) as info:
            billing.list_services()
    sid = billing._conn.session_id
    assert sid
    for text in (caplog.text, repr(billing), str(info.value), repr(info.value), repr(billing._conn)):
        assert sid not in text
        assert "secret" not in text.replace("Secret(", "")


def test_authinfo_mode_sends_credentials_each_call_and_never_logs_in(make_billing, billing_fake):
    calls = CallLog()
    client = make_billing(calls=calls, auth_mode="authinfo")
    assert len(client.list_accounts()) == 2
    assert calls.funcs() == ["account"]
    assert billing_fake.calls[0].auth_mode == "authinfo"


def test_paging_reads_every_page(make_billing, billing_fake):
    for i in range(25):
        billing_fake.add_service("alice", f"extra-{i}")
    client = make_billing(page_size=10)
    services = client.list_services()
    assert len(services) == 28
    assert len({s.id for s in services}) == 28
    assert [(r.params["p_num"], r.params["p_cnt"]) for r in billing_fake.calls if r.func == "vds"] == [
        ("1", "10"),
        ("2", "10"),
        ("3", "10"),
    ]


@pytest.mark.parametrize("fault", [Fault.server_error(status=503), Fault.drop_connection()])
def test_reads_are_retried_after_transient_faults(billing, billing_fake, fake_clock, fault):
    billing.list_accounts()
    billing_fake.inject(fault, func="account")
    assert len(billing.list_accounts()) == 2
    assert fake_clock.sleeps == [0.2]


def test_reads_give_up_after_the_policy_attempts(billing, billing_fake):
    billing.login()
    billing_fake.inject(Fault.server_error(status=500), func="vds", times=10)
    with pytest.raises(ServerError) as info:
        billing.list_services()
    assert "after 4 attempts" in info.value.__notes__[0]


def test_promised_payment_is_not_duplicated_when_retried(billing, billing_fake):
    alice = billing.as_user("alice")
    billing_fake.inject(Fault.drop_connection(), func="payment.add")
    payment = alice.create_promised_payment(Decimal(7))
    promised = [p for p in billing_fake.payments_of("alice") if p.amount == Decimal(7)]
    assert [p.id for p in promised] == [payment.id]


def test_slow_answer_is_a_request_timeout(make_billing, billing_fake):
    client = make_billing(timeout=0.05)
    client._conn.retry = client._conn.retry.__class__(attempts=1)
    client.login()
    billing_fake.inject(Fault.slow(), func="account")
    try:
        with pytest.raises(RequestTimeoutError):
            client.list_accounts()
    finally:
        billing_fake.release_slow()


def test_transport_error_when_nothing_listens(fake_clock):
    with make_billing_client("http://127.0.0.1:9/billmgr", fake_clock, CallLog()) as client:
        client._conn.owns_http = True
        with pytest.raises(TransportError):
            client.list_accounts()


def test_suspend_and_resume_are_verified(billing, billing_calls):
    suspended = billing.suspend_service(301)
    assert suspended.status is ServiceStatus.SUSPENDED
    assert billing_calls.funcs() == ["auth", "vds", "vds.suspend", "vds"]
    assert billing.resume_service(301).status is ServiceStatus.ACTIVE


@pytest.mark.quirk("billing.silent-ok")
def test_swallowed_suspend_is_a_silent_no_op(billing, billing_fake, billing_calls):
    billing_fake.inject(Fault.swallow_effect(), func="vds.suspend")
    with pytest.raises(SilentNoOpError):
        billing.suspend_service(301)
    assert billing_calls.funcs()[-2:] == ["vds", "runningoperation"]


def test_queued_suspend_waits_then_times_out_naming_the_status(billing, billing_fake, fake_clock):
    billing_fake.complete_operations = False
    with pytest.raises(WaitTimeoutError) as info:
        billing.suspend_service(301, wait=3)
    assert info.value.last_status == "IN_PROGRESS"
    assert "did not become suspended within 3s" in str(info.value)
    # the Poller's first schedule: at once, then 0.2 s after the start, each poll 1.5 times as late
    assert fake_clock.sleeps[:3] == pytest.approx([0.2, 0.1, 0.15])
    assert fake_clock() <= 3  # the deadline is kept on the clock


def test_queued_operation_waits_learn_when_the_operation_ends(billing_fake, fake_clock):
    """The same Poller as OpenStack's waits: a later suspend polls where earlier ones ended."""
    billing_fake.complete_operations = False
    started = [0.0]

    def sleep(seconds):  # the processing module reports back 1 s after the operation was queued
        fake_clock.sleep(seconds)
        if fake_clock() - started[0] >= 1.0:
            billing_fake.complete_running_operations()

    poller = Poller(first=0.2)
    settings = BillingSettings(url=billing_fake.url, username="admin", password="secret")
    with BillingClient(settings, poller=poller, clock=fake_clock, sleep=sleep) as billing:
        billing.login()
        started[0] = fake_clock()
        assert billing.suspend_service(301).status is ServiceStatus.SUSPENDED
        first = fake_clock() - started[0]
        assert first == pytest.approx(1.0125)  # polls at 0, 0.2, 0.3, 0.45, 0.675 and 1.0125 s
        bounds = poller.bounds("suspend_service", where=billing_fake.url)
        assert bounds == pytest.approx((0.675, 1.0125))
        started[0] = fake_clock()
        fake_clock.sleeps.clear()
        assert billing.resume_service(301).status is ServiceStatus.ACTIVE  # another kind: not learned
        assert len(fake_clock.sleeps) == 5
        started[0] = fake_clock()
        fake_clock.sleeps.clear()
        assert billing.suspend_service(302).status is ServiceStatus.SUSPENDED
        # at the start of the bounds, 7/8 into them, at their end: done 1.0125 s after the start
        assert fake_clock.sleeps == pytest.approx([0.675, 0.2953125, 0.0421875])
    assert poller.bounds("suspend_service", where="http://another.invalid/billmgr") is None


def test_queued_suspend_with_no_wait_returns_the_queued_service(billing, billing_fake):
    billing_fake.complete_operations = False
    assert billing.suspend_service(301, wait=0).status is ServiceStatus.IN_PROGRESS
    (operation,) = billing.list_running_operations()
    assert (operation.service_id, operation.operation) == (301, "suspend")
    billing_fake.complete_running_operations()
    assert billing.get_service(301).status is ServiceStatus.SUSPENDED


def test_delete_service(billing):
    billing.delete_service(302)
    with pytest.raises(NotFoundError):
        billing.get_service(302)


def test_unknown_service_is_not_found_before_acting(billing, billing_calls):
    with pytest.raises(NotFoundError):
        billing.suspend_service(999)
    assert "vds.suspend" not in billing_calls.funcs()


def test_user_scope_sees_only_own_objects(billing):
    alice, bob = billing.as_user("alice"), billing.as_user("bob")
    assert {s.name for s in alice.list_services()} == {"vm-1", "vm-2"}
    assert {s.name for s in bob.list_services()} == {"vm-3"}
    (debt,) = [e for e in bob.list_expenses() if e.unpaid > 0]
    assert debt.unpaid == Decimal("30.00")
    assert len(alice.list_invoices()) == 1


def test_client_owns_and_closes_its_http_client(billing_fake):
    with BillingClient(BillingSettings(url=billing_fake.url, username="admin", password="secret")) as client:
        view = client.as_user("alice")
        view.close()  # a view closes nothing
        assert client.list_accounts()
    assert client._conn.http.is_closed


def test_change_password_as_the_user_verifies_the_new_one(make_billing, billing_fake, billing_calls):
    alice = make_billing(username="alice", password="alice-pass", is_admin=False)
    old_session = alice.login()
    alice.change_password("alice-new-pass")
    assert billing_calls.funcs() == ["auth", "usrparam", "auth"]
    assert alice.get_balance() == Decimal("150.00")  # logs in again with the new password
    assert alice.login().get_secret_value() != old_session.get_secret_value()
    form = next(r for r in billing_fake.calls if r.func == "usrparam")
    assert form.params["passwd"] == "***"


def test_change_password_unscoped_admin_is_refused(billing, billing_calls):
    with pytest.raises(ScopeError):
        billing.change_password("x-new-pass")
    assert billing_calls.funcs() == ["auth"]  # the login that told an admin; no password form sent


def test_requests_carry_the_cloudkit_user_agent(billing):
    seen = []
    billing._conn.http.event_hooks["request"].append(
        lambda request: seen.append(request.headers["user-agent"])
    )
    billing.list_accounts()
    assert seen
    assert all(agent.startswith("cloudkit/") for agent in seen)
