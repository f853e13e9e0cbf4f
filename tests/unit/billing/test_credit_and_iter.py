"""Stop-rule inputs: credit limits, promised payments, timed charges, owners; page-by-page reads.

The ``iter_*`` reads ask billing to filter and check every row themselves, so each is run against the
fake as it is and against the fake behind a proxy that drops ``filter`` (a server ignoring it): the
answers must be the same.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudkit.billing import BillingClient, BillingSettings, PaymentStatus, ServiceStatus
from cloudkit.errors import InvalidArgumentError, NotFoundError
from cloudkit.testing.fakes import BillingFake
from cloudkit.testing.plugin import CallLog

URL = "http://billing.test/billmgr"
T0 = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)


class IgnoresFilters(httpx.BaseTransport):
    """A billing that ignores list filters: ``filter`` is dropped before the fake sees the request."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        form = [(k, v) for k, v in parse_qsl(request.content.decode()) if k != "filter"]
        return self.inner.handle_request(httpx.Request(request.method, request.url, data=dict(form)))


def client_on(
    fake: BillingFake, *, ignore_filters: bool = False, calls: CallLog | None = None, **options: Any
) -> BillingClient:
    transport = fake.transport()
    if ignore_filters:
        transport = IgnoresFilters(transport)
    hooks = {"request": [calls]} if calls is not None else {}
    http = httpx.Client(transport=transport, event_hooks=hooks)
    settings_ = BillingSettings(url=URL, username="admin", password="secret", auth_mode="authinfo", **options)
    return BillingClient(settings_, http=http)


class Clock:
    """A wall clock the test moves."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


# ---------------------------------------------------------------------------------------------- fake: credit
def test_charge_takes_the_whole_amount_and_the_uncovered_part_is_debt():
    fake = BillingFake(clock=Clock())
    first = fake.charge("alice", Decimal(100), info="vm-1 day")
    second = fake.charge("alice", Decimal(80))
    assert (first.notpayd, second.notpayd) == (Decimal("0.00"), Decimal("30.00"))
    assert fake.balance_of("alice") == Decimal("-30.00")
    assert first.create_date == "2024-05-10 12:00:00"
    at = T0 - dt.timedelta(hours=5)
    assert fake.charge("alice", Decimal(1), at=at).create_date == "2024-05-10 07:00:00"


def test_pay_covers_the_debt_first_then_raises_the_balance():
    fake = BillingFake()
    fake.charge("alice", Decimal(200))  # 150 covered, 50 debt, balance -50
    payment = fake.pay("alice", Decimal(20))
    assert payment.status == PaymentStatus.CREDITED
    assert fake.balance_of("alice") == Decimal("-30.00")
    assert fake.expenses_of("alice")[-1].notpayd == Decimal("30.00")
    fake.pay("alice", Decimal(100))
    assert fake.balance_of("alice") == Decimal("70.00")
    assert fake.expenses_of("alice")[-1].notpayd == Decimal("0.00")


def test_the_seeded_debt_beside_a_zero_balance_keeps_its_old_meaning():
    fake = BillingFake()  # bob: balance 0.00 and a charge of 30.00 not paid (kept beside the balance)
    fake.pay("bob", Decimal(40))
    assert fake.balance_of("bob") == Decimal("10.00")
    assert fake.expenses_of("bob")[0].notpayd == Decimal("0.00")


def test_a_promise_is_credited_at_once_and_settling_it_leaves_the_balance():
    fake = BillingFake(clock=Clock())
    fake.charge("alice", Decimal(200))
    promised = fake.promise("alice", Decimal(60), until=dt.date(2024, 5, 17))
    assert (promised.status, promised.promise_until) == (PaymentStatus.PROMISED, dt.date(2024, 5, 17))
    assert fake.balance_of("alice") == Decimal("10.00")
    settled = fake.settle_promise(promised.id)
    assert settled.status == PaymentStatus.CREDITED
    assert fake.balance_of("alice") == Decimal("10.00")
    with pytest.raises(ValueError, match="not a promised payment"):
        fake.settle_promise(promised.id)
    with pytest.raises(KeyError):
        fake.settle_promise(99999)
    with pytest.raises(TypeError):
        fake.promise("alice", Decimal(1), until=T0)  # a moment is not a day


def test_credit_limits_are_set_cleared_and_validated():
    fake = BillingFake()
    fake.set_credit_limit("alice", Decimal("25.5"))
    assert fake.credit_limit_of("alice") == Decimal("25.50")
    fake.set_credit_limit("alice", None)
    assert fake.credit_limit_of("alice") is None
    with pytest.raises(ValueError, match="credit limit"):
        fake.set_credit_limit("alice", Decimal(-1))
    with pytest.raises(ValueError, match="positive"):
        fake.charge("alice", Decimal(0))


def test_the_clock_dates_everything_the_fake_writes_and_must_be_aware():
    clock = Clock()
    fake = BillingFake(clock=clock)
    clock.now = T0 + dt.timedelta(days=1)
    assert fake.pay("alice", Decimal(1)).create_date == "2024-05-11"
    fake.clock = lambda: dt.datetime(2024, 1, 1)  # noqa: DTZ001 - the mistake under test
    with pytest.raises(ValueError, match="aware"):
        fake.charge("alice", Decimal(1))


def test_a_promise_ordered_through_the_form_is_due_a_week_later():
    fake = BillingFake(clock=Clock())
    with client_on(fake) as billing:
        billing.as_user("alice").create_promised_payment(Decimal(10))
    (payment,) = fake.payments_of("alice")
    assert payment.promise_until == dt.date(2024, 5, 17)


# ---------------------------------------------------------------------------------------------- population
def test_seed_population_seeds_accounts_services_charges_and_promises_deterministically():
    fake = BillingFake(seed=False, clock=Clock())
    logins = fake.seed_population(200, services_per_account=3, seed=7, days=2)
    assert logins[:2] == ["cust-1", "cust-2"]
    assert len(logins) == 200
    other = BillingFake(seed=False, clock=Clock())
    other.seed_population(200, services_per_account=3, seed=7, days=2)
    assert [fake.balance_of(x) for x in logins] == [other.balance_of(x) for x in logins]
    with client_on(fake) as billing:
        accounts = billing.list_accounts()
        services = billing.list_services()
        promised = list(billing.iter_payments(promised_only=True))
        expenses = billing.list_expenses()
    assert len(accounts) == 200
    assert len(services) == 600
    assert len(expenses) == 400
    assert {s.status for s in services} == {ServiceStatus.ACTIVE}
    assert {s.account_id for s in services} == {a.id for a in accounts}
    assert {a.credit_limit for a in accounts} == {None, Decimal(0), Decimal(50), Decimal(100)}
    assert promised
    assert all(p.promised_until is not None for p in promised)
    assert any(p.promised_until < T0.date() for p in promised)  # some are past their date
    assert {e.created_at for e in expenses} == {T0 - dt.timedelta(days=2), T0 - dt.timedelta(days=1)}
    with pytest.raises(ValueError, match="already exist"):
        fake.seed_population(1)
    with client_on(fake) as billing:  # every seeded client can log in with the derivable password
        own = BillingSettings(url=URL, username="cust-5", password="cust-5-pass", is_admin=False)
        assert BillingClient(own, http=billing._conn.http).get_balance() == fake.balance_of("cust-5")


def test_seed_population_continues_the_numbering_with_first():
    fake = BillingFake(seed=False)
    fake.seed_population(2)
    assert fake.seed_population(2, first=3, services_per_account=0) == ["cust-3", "cust-4"]


# ---------------------------------------------------------------------------------------------- iter_*
def test_iter_reads_a_page_only_when_the_one_before_is_used_up():
    fake = BillingFake(seed=False, max_page_size=2)
    fake.seed_population(5, services_per_account=0)
    with client_on(fake) as billing:
        accounts = billing.iter_accounts()
        assert [c.func for c in fake.calls] == []  # nothing sent before the first row is asked for
        next(accounts), next(accounts)
        assert len(fake.calls) == 1
        next(accounts)
        assert len(fake.calls) == 2
        assert len(list(accounts)) == 2
    assert [(c.params["p_cnt"], c.params["p_num"]) for c in fake.calls] == [
        ("1000", "1"),
        ("2", "2"),
        ("2", "3"),
    ]


def test_list_methods_are_the_iterators_read_out():
    fake = BillingFake(max_page_size=1, clock=Clock())
    fake.set_credit_limit("bob", Decimal(50))
    fake.charge("alice", Decimal(5))
    fake.promise("bob", Decimal(9), until=dt.date(2024, 5, 12))
    with client_on(fake) as billing:
        assert billing.list_accounts() == list(billing.iter_accounts())
        assert billing.list_services() == list(billing.iter_services())
        assert billing.list_payments() == list(billing.iter_payments())
        assert billing.list_expenses() == list(billing.iter_expenses())
        bob = billing.list_accounts()[1]
        assert (bob.credit_limit, bob.balance) == (Decimal("50.00"), Decimal("0.00"))  # 9 paid 9 of 30 debt


@pytest.mark.parametrize("ignore_filters", [False, True], ids=["filtered", "server-ignores-filter"])
def test_iter_expenses_since_gives_the_same_charges_whether_or_not_billing_filters(ignore_filters):
    clock = Clock()
    fake = BillingFake(clock=clock, max_page_size=2)
    for hours in (30, 10, 3, 1):
        fake.charge("alice", Decimal(hours), at=T0 - dt.timedelta(hours=hours))
    since = T0 - dt.timedelta(hours=10)
    with client_on(fake, ignore_filters=ignore_filters) as billing:
        found = list(billing.iter_expenses(since=since))
    assert [e.amount for e in found] == [Decimal(10), Decimal(3), Decimal(1)]
    assert all(e.account_id == 1 for e in found)
    sent = [c.params for c in fake.calls]
    assert all(("filter" in p) is not ignore_filters for p in sent)
    if not ignore_filters:
        assert sent[0]["create_date_from"] == "2024-05-10 02:00:00"
        assert len(sent) == 2  # three rows in pages of two: only the window was answered


def test_iter_expenses_keeps_a_charge_dated_by_its_day_only_when_it_may_be_in_the_window():
    fake = BillingFake(clock=Clock())  # the seed's charges are dated 2024-05-01, without a time
    with client_on(fake) as billing:
        assert len(list(billing.iter_expenses(since=dt.datetime(2024, 5, 1, 23, tzinfo=dt.UTC)))) == 2
        assert list(billing.iter_expenses(since=dt.datetime(2024, 5, 2, tzinfo=dt.UTC))) == []


def test_iter_expenses_refuses_a_naive_since_before_any_request():
    fake = BillingFake()
    with client_on(fake) as billing, pytest.raises(InvalidArgumentError, match="aware"):
        billing.iter_expenses(since=dt.datetime(2024, 5, 1))  # noqa: DTZ001 - the mistake under test
    assert fake.calls == []


@pytest.mark.parametrize("ignore_filters", [False, True], ids=["filtered", "server-ignores-filter"])
def test_iter_payments_promised_only(ignore_filters):
    fake = BillingFake(max_page_size=1)
    fake.pay("alice", Decimal(5))
    promised = fake.promise("bob", Decimal(7), until=dt.date(2024, 5, 12))
    fake.pay("bob", Decimal(3))
    with client_on(fake, ignore_filters=ignore_filters) as billing:
        found = list(billing.iter_payments(promised_only=True))
    assert [(p.id, p.account_id, p.promised_until) for p in found] == [(promised.id, 2, dt.date(2024, 5, 12))]
    assert len(fake.calls) == (3 if ignore_filters else 1)


# ---------------------------------------------------------------------------------------------- get_service
def test_get_service_is_one_filtered_request_for_one_row():
    fake = BillingFake(seed=False)
    fake.seed_population(300, services_per_account=2)
    with client_on(fake, page_size=100) as billing:
        service = billing.get_service(900)
    assert (service.id, service.name, service.account_id) == (900, "cust-300-vm-2", 300)
    (call,) = fake.calls
    assert (call.params["filter"], call.params["id"]) == ("on", "900")


def test_get_service_finds_the_row_when_billing_ignores_the_filter():
    fake = BillingFake(seed=False)
    fake.seed_population(300, services_per_account=2)
    with client_on(fake, ignore_filters=True, page_size=100) as billing:
        assert billing.get_service(650).name == "cust-175-vm-2"
        assert len(fake.calls) == 4  # pages of 100 up to the one that has it, no further
        with pytest.raises(NotFoundError):
            billing.get_service(5)
        with pytest.raises(NotFoundError):
            billing.as_user("cust-1").get_service(650)  # not in that client's scope


def test_get_service_in_a_users_scope():
    fake = BillingFake()
    with client_on(fake) as billing:
        assert billing.as_user("alice").get_service(302).name == "vm-2"
        with pytest.raises(NotFoundError):
            billing.as_user("alice").get_service(303)


# ---------------------------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 72 * 60), max_size=12),
    since_minutes=st.integers(0, 80 * 60),
    cap=st.none() | st.integers(1, 5),
    ignore_filters=st.booleans(),
)
def test_iter_expenses_since_is_exactly_the_charges_in_the_window(
    offsets, since_minutes, cap, ignore_filters
):
    fake = BillingFake(seed=False, clock=Clock(), max_page_size=cap)
    fake.seed_population(2, services_per_account=0, days=0)
    for i, minutes in enumerate(offsets):
        fake.charge(f"cust-{1 + i % 2}", Decimal(i + 1), at=T0 - dt.timedelta(minutes=minutes))
    since = T0 - dt.timedelta(minutes=since_minutes)
    with client_on(fake, ignore_filters=ignore_filters, page_size=3) as billing:
        found = [e.amount for e in billing.iter_expenses(since=since)]
    expected = [Decimal(i + 1) for i, minutes in enumerate(offsets) if minutes <= since_minutes]
    assert found == expected
