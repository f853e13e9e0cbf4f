"""Paged lists follow the replies: the reported total, the page size the server really used, a hard cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudkit.billing import BillingClient, BillingSettings
from cloudkit.errors import ConfigError, ResponseDecodeError
from cloudkit.testing.fakes import BillingFake
from cloudkit.testing.plugin import CallLog

URL = "http://billing.test/billmgr"


def client_on(transport: httpx.BaseTransport, calls: CallLog | None = None, **options: Any) -> BillingClient:
    """A client over an in-process transport (the socket is not the point here)."""
    hooks = {"request": [calls]} if calls is not None else {}
    http = httpx.Client(transport=transport, event_hooks=hooks)
    return BillingClient(BillingSettings(url=URL, username="admin", password="secret", **options), http=http)


def fake_with_accounts(count: int, **options: Any) -> BillingFake:
    fake = BillingFake(seed=False, **options)
    for i in range(count):
        fake.add_user(f"user{i}", "pw", account_name=f"Account {i}")
    return fake


# ---------------------------------------------------------------------------------------------- on the fake
def test_list_accounts_reads_12_of_12_when_the_server_caps_pages_at_5():
    fake = BillingFake(max_page_size=5)
    for i in range(10):
        fake.add_user(f"user{i}", "pw", account_name=f"Account {i}")
    calls = CallLog()
    with client_on(fake.transport(), calls, page_size=100) as billing:
        accounts = billing.list_accounts()
    assert [a.id for a in accounts] == list(range(1, 13))
    assert calls.calls == [("auth", None), ("account", None), ("account", None), ("account", None)]
    pages = [(c.params["p_cnt"], c.params["p_num"]) for c in fake.calls if c.func == "account"]
    assert pages == [("100", "1"), ("5", "2"), ("5", "3")]  # then asks the size the server used


def test_scoped_lists_follow_the_cap_too():
    fake = BillingFake(max_page_size=5)
    for i in range(10):
        fake.add_service("alice", f"extra-{i}")
    calls = CallLog()
    with client_on(fake.transport(), calls, page_size=7) as billing:
        services = billing.as_user("alice").list_services()
    assert len({s.id for s in services}) == len(services) == 12
    assert calls.calls == [("auth", None), ("vds", "alice"), ("vds", "alice"), ("vds", "alice")]


def test_an_exact_multiple_of_the_cap_takes_no_extra_request():
    fake = fake_with_accounts(10, max_page_size=5)
    calls = CallLog()
    with client_on(fake.transport(), calls, page_size=100, auth_mode="authinfo") as billing:
        assert len(billing.list_accounts()) == 10
    assert calls.funcs() == ["account", "account"]


def test_max_page_size_is_a_switch_that_reset_restores():
    fake = BillingFake(max_page_size=5)
    fake.max_page_size = 1
    fake.reset()
    assert fake.max_page_size == 5
    with pytest.raises(ValueError, match="max_page_size"):
        BillingFake(max_page_size=0)


@settings(max_examples=60, deadline=None)
@given(
    total=st.integers(0, 40),
    cap=st.none() | st.integers(1, 15),
    page_size=st.integers(1, 20),
)
def test_every_row_exactly_once_whatever_the_total_cap_and_page_size(total, cap, page_size):
    fake = fake_with_accounts(total, max_page_size=cap)
    with client_on(fake.transport(), page_size=page_size, auth_mode="authinfo") as billing:
        accounts = billing.list_accounts()
    assert [a.id for a in accounts] == list(range(1, total + 1))


# ---------------------------------------------------------------------------------------------- odd servers
def scripted(answer: Callable[[int], dict[str, Any]], asked: list[tuple[int, int]]) -> httpx.MockTransport:
    """A server whose ``doc`` for page ``p_num`` is ``answer``'s; records the (p_cnt, p_num) asked."""

    def handle(request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.content.decode()))
        size, number = int(params["p_cnt"]), int(params["p_num"])
        asked.append((size, number))
        return httpx.Response(200, json={"doc": answer(number)})

    return httpx.MockTransport(handle)


def rows(first: int, count: int) -> list[dict[str, Any]]:
    return [
        {"id": {"$": str(i)}, "name": {"$": f"a{i}"}, "balance": {"$": "0.00 EUR", "$orig": "0.00"}}
        for i in range(first, first + count)
    ]


def list_accounts(answer: Callable[[int], dict[str, Any]], **options: Any) -> tuple[Any, list[Any]]:
    asked: list[tuple[int, int]] = []
    with client_on(scripted(answer, asked), auth_mode="authinfo", **options) as billing:
        try:
            return billing.list_accounts(), asked
        except ResponseDecodeError as exc:
            return exc, asked


def test_an_empty_page_before_the_reported_total_raises():
    result, asked = list_accounts(
        lambda n: {"p_elems": {"$": "12"}, "elem": rows(1, 5)} if n == 1 else {"p_elems": {"$": "12"}},
        page_size=100,
    )
    assert isinstance(result, ResponseDecodeError)
    assert "page 2 is empty, but $.doc.p_elems says 12 rows and 5 were read" in str(result)
    assert asked == [(100, 1), (5, 2)]


def test_a_server_ignoring_p_num_with_a_total_raises_rather_than_duplicating():
    result, asked = list_accounts(lambda _n: {"p_elems": {"$": "12"}, "elem": rows(1, 5)}, page_size=5)
    assert isinstance(result, ResponseDecodeError)
    assert result.problems[0].startswith("$.doc.p_num: page 2 was asked and an earlier page answered")
    assert asked == [(5, 1), (5, 2)]


def test_a_server_answering_another_p_num_raises():
    result, _ = list_accounts(
        lambda n: {"p_elems": {"$": "12"}, "p_num": {"$": "1"}, "elem": rows(1 + 5 * (n - 1), 5)},
        page_size=5,
    )
    assert isinstance(result, ResponseDecodeError)
    assert "page 2 was asked and 1 answered" in str(result)


def test_a_middle_page_of_another_size_raises():
    result, _ = list_accounts(
        lambda n: {"p_elems": {"$": "12"}, "elem": rows(1, 5) if n == 1 else rows(6, 3)}, page_size=5
    )
    assert isinstance(result, ResponseDecodeError)
    assert "page 2 has 3 rows where earlier pages had 5" in str(result)


def test_a_total_never_reached_stops_at_the_page_cap():
    result, asked = list_accounts(
        lambda n: {"p_elems": {"$": "1000000"}, "elem": rows(1 + 5 * (n - 1), 5)},
        page_size=5,
        max_pages=3,
    )
    assert isinstance(result, ResponseDecodeError)
    assert "did not end within 3 pages (15 rows read)" in str(result)
    assert "max_pages" in str(result)
    assert asked == [(5, 1), (5, 2), (5, 3)]


def test_without_a_total_a_short_page_ends_the_list():
    result, asked = list_accounts(lambda _n: {"elem": rows(1, 3)}, page_size=10)
    assert [a.id for a in result] == [1, 2, 3]
    assert asked == [(10, 1)]


def test_without_a_total_an_empty_page_ends_the_list():
    result, asked = list_accounts(lambda n: {"elem": rows(1 + 5 * (n - 1), 5)} if n < 3 else {}, page_size=5)
    assert len(result) == 10
    assert asked == [(5, 1), (5, 2), (5, 3)]


def test_without_a_total_a_reported_smaller_p_cnt_is_the_page_size():
    def answer(n: int) -> dict[str, Any]:
        start = 1 + 4 * (n - 1)
        return {"p_cnt": {"$": "4"}, "p_num": {"$": str(n)}, "elem": rows(start, min(4, 10 - start + 1))}

    result, asked = list_accounts(answer, page_size=50)
    assert [a.id for a in result] == list(range(1, 11))
    assert asked == [(50, 1), (4, 2), (4, 3)]


def test_without_a_total_a_server_ignoring_p_num_gives_each_row_once():
    result, asked = list_accounts(lambda _n: {"elem": rows(1, 5)}, page_size=5)
    assert [a.id for a in result] == [1, 2, 3, 4, 5]
    assert asked == [(5, 1), (5, 2)]


def test_max_pages_is_validated():
    with pytest.raises(ConfigError, match="max_pages"):
        BillingSettings(url=URL, username="admin", password="secret", max_pages=0)
    env = {
        "CLOUDKIT_BILLING_URL": URL,
        "CLOUDKIT_BILLING_USERNAME": "admin",
        "CLOUDKIT_BILLING_PASSWORD": "pw",
        "CLOUDKIT_BILLING_MAX_PAGES": "7",
    }
    assert BillingSettings.from_env(env).max_pages == 7
