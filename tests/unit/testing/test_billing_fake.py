"""Raw-wire tests of the billing fake: plain httpx, no cloudkit client involved."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from cloudkit.testing import FakeClock
from cloudkit.testing.fakes import BillingFake, Fault

ADMIN = "admin:secret"
ALICE = "alice:alice-pass"
BOB = "bob:bob-pass"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1000.0)


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[BillingFake]:
    with BillingFake(clock=clock, session_idle_timeout=60.0) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:  # one client: building its TLS context is the slow part
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        yield client


@pytest.fixture
def wire(fake: BillingFake, http: httpx.Client):
    """POST form-encoded parameters; assert HTTP 200; return ``doc``."""

    def send(**params: str) -> dict[str, Any]:
        response = http.post(fake.url, data=params)
        assert response.status_code == 200
        doc: dict[str, Any] = response.json()["doc"]
        return doc

    return send


def login(wire, username: str, password: str) -> str:
    auth = wire(func="auth", username=username, password=password)["auth"]
    assert auth["$id"] == auth["$"]
    return str(auth["$id"])


def ids(doc: dict[str, Any]) -> list[str]:
    return [row["id"]["$"] for row in doc.get("elem", [])]


# ---------------------------------------------------------------------------------------------- transport
def test_other_paths_are_plain_404(fake, http):
    response = http.get(fake.url.replace("/billmgr", "/other"))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")


def test_get_with_query_and_body_wins_over_query(fake, http):
    doc = http.get(fake.url, params={"func": "subaccount", "authinfo": ALICE}).json()["doc"]
    assert doc["elem"][0]["balance"] == {"$": "150.00 EUR", "$orig": "150.00"}
    response = http.post(
        f"{fake.url}?func=account&authinfo={BOB}", data={"func": "subaccount", "authinfo": ALICE}
    )
    assert response.json()["doc"]["elem"][0]["id"] == {"$": "1"}


@pytest.mark.parametrize("params", [{"func": "no.such.func"}, {}])
def test_unknown_or_missing_func_is_an_error_at_200(wire, params):
    error = wire(authinfo=ADMIN, **params)["error"]
    assert error["$type"] == "unknown"
    assert "msg" in error


def test_recorded_calls_are_secret_free(fake, wire):
    sid = login(wire, "alice", "alice-pass")
    wire(func="subaccount", auth=sid)
    wire(func="vds", authinfo=ADMIN, su="bob")
    first, second, third = fake.calls
    assert (first.func, first.auth_mode, first.params["password"]) == ("auth", "none", "***")
    assert (second.auth_mode, second.params["auth"], second.method) == ("session", "***", "POST")
    assert (third.auth_mode, third.su, third.params["authinfo"]) == ("authinfo", "bob", "***")
    assert all(sid not in str(call) and "alice-pass" not in str(call) for call in fake.calls)


# ---------------------------------------------------------------------------------------------- auth
def test_login_levels_and_session_use(wire):
    assert wire(func="auth", username="admin", password="secret")["auth"]["$level"] == "28"
    assert wire(func="auth", username="alice", password="alice-pass")["auth"]["$level"] == "16"
    sid = login(wire, "alice", "alice-pass")
    assert len(sid) == 32
    assert wire(func="subaccount", auth=sid)["elem"][0]["id"] == {"$": "1"}


def test_bad_credentials_are_auth_errors_without_secrets(wire):
    error = wire(func="auth", username="alice", password="wrong-pass")["error"]
    assert error["$type"] == "auth"
    assert "wrong-pass" not in str(error)
    assert wire(func="vds", authinfo="alice:nope")["error"]["$type"] == "auth"
    assert wire(func="vds", authinfo="garbage")["error"]["$type"] == "auth"
    assert wire(func="vds")["error"]["$type"] == "auth"


def test_session_expires_after_idle_timeout_on_the_injected_clock(wire, clock):
    sid = login(wire, "alice", "alice-pass")
    clock.advance(59)
    assert "elem" in wire(func="vds", auth=sid)  # the use refreshes the idle timer
    clock.advance(59)
    assert "elem" in wire(func="vds", auth=sid)
    clock.advance(61)
    error = wire(func="vds", auth=sid)["error"]
    assert error["$type"] == "auth"
    assert sid not in str(error)
    assert wire(func="vds", auth="0" * 32)["error"]["$type"] == "auth"


def test_expire_sessions(fake, wire):
    sid = login(wire, "admin", "secret")
    fake.expire_sessions()
    assert wire(func="vds", auth=sid)["error"]["$type"] == "auth"


def test_one_time_key_login(wire, fake):
    key = "k" * 16
    assert wire(func="session.newkey", authinfo=ADMIN, username="bob", key=key) == {"ok": {}}
    auth = wire(func="auth", key=key)["auth"]
    assert auth["$level"] == "16"
    assert wire(func="subaccount", auth=auth["$id"])["elem"][0]["id"] == {"$": "2"}
    assert wire(func="auth", key=key)["error"]["$type"] == "auth"  # one-time
    assert fake.calls[1].auth_mode == "key"
    short = wire(func="session.newkey", authinfo=ADMIN, username="bob", key="short")["error"]
    assert (short["$type"], short["$object"]) == ("value", "key")
    denied = wire(func="session.newkey", authinfo=ALICE, username="bob", key=key)["error"]
    assert denied["$type"] == "access"


# ---------------------------------------------------------------------------------------------- scope
def test_admin_function_called_by_a_user_is_an_access_error(wire):
    assert wire(func="account", authinfo=ALICE)["error"]["$type"] == "access"
    assert wire(func="vds.suspend", authinfo=ALICE, elid="301")["error"]["$type"] == "access"


def test_su_per_request(wire):
    doc = wire(func="subaccount", authinfo=ADMIN, su="bob")
    assert doc["elem"][0]["balance"]["$orig"] == "0.00"
    missed = wire(func="subaccount", authinfo=ADMIN, su="nobody")["error"]
    assert (missed["$type"], missed["$object"]) == ("missed", "su")


def test_su_from_a_user_is_an_access_error(wire):
    assert wire(func="subaccount", authinfo=ALICE, su="bob")["error"]["$type"] == "access"
    sid = login(wire, "alice", "alice-pass")
    assert wire(func="subaccount", auth=sid, su="bob")["error"]["$type"] == "access"


def test_su_function_and_chlevel(wire):
    admin_sid = login(wire, "admin", "secret")
    doc = wire(func="su", auth=admin_sid, elid="2")
    assert doc["ok"] == {}
    user_sid = doc["auth"]["$"]
    assert wire(func="subaccount", auth=user_sid)["elem"][0]["id"] == {"$": "1"}
    assert wire(func="account", auth=user_sid)["error"]["$type"] == "access"
    assert wire(func="chlevel", auth=user_sid, lp="1") == {"ok": {}}
    assert wire(func="subaccount", auth=user_sid)["error"]["$type"] == "auth"
    assert wire(func="account", auth=admin_sid)["p_elems"] == {"$": "2"}
    assert wire(func="su", auth=admin_sid, elid="99")["error"]["$object"] == "elid"


def test_admin_without_su_gets_the_silent_ok_and_nothing_changes(fake, wire):
    doc = wire(func="payment.add", authinfo=ADMIN, sok="ok", amount="40", promised="on")
    assert doc["ok"] == {}
    assert doc["id"]["$"].isdigit()
    assert "error" not in doc
    assert fake.balance_of("alice") == Decimal("150.00")
    assert fake.payments_of("alice") == []
    assert fake.payments_of("bob") == []
    assert wire(func="subaccount", authinfo=ADMIN) == {"p_elems": {"$": "0"}}
    assert wire(func="clientticket", authinfo=ADMIN) == {"p_elems": {"$": "0"}}


def test_promised_payment_with_su_is_credited_at_once(fake, wire):
    doc = wire(func="payment.add", authinfo=ADMIN, su="alice", sok="ok", amount="40", promised="on")
    new_id = int(doc["id"]["$"])
    (payment,) = fake.payments_of("alice")
    assert (payment.id, payment.status, payment.amount) == (new_id, 3, Decimal("40.00"))
    assert fake.balance_of("alice") == Decimal("190.00")
    row = wire(func="payment", authinfo=ALICE)["elem"][0]
    assert row["status"] == {"$": "3"}
    assert row["subaccountamount_iso"] == {"$": "40.00 EUR", "$orig": "40.00"}


def test_credited_payment_settles_debt_first(fake, wire):
    wire(func="payment.add", authinfo=BOB, sok="ok", amount="50", promised="on")
    assert fake.expenses_of("bob")[0].notpayd == Decimal("0.00")
    assert fake.balance_of("bob") == Decimal("20.00")


def test_payment_without_promised_is_new_and_not_credited(fake, wire):
    wire(func="payment.add", authinfo=ALICE, sok="ok", amount="10")
    assert fake.payments_of("alice")[0].status == 1
    assert fake.balance_of("alice") == Decimal("150.00")


# ---------------------------------------------------------------------------------------------- forms
def test_form_without_sok_echoes_and_changes_nothing(fake, wire):
    doc = wire(func="payment.add", authinfo=ALICE, amount="10", promised="on", sok="")
    assert "ok" not in doc
    assert "error" not in doc
    assert doc["amount"] == {"$": "10"}
    assert "authinfo" not in doc
    assert fake.payments_of("alice") == []
    view = wire(func="clientticket.edit", authinfo=ALICE, name="Down", message="help")
    assert (view["name"], view["message"]) == ({"$": "Down"}, {"$": "help"})
    assert fake.tickets_of("alice") == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ("missed", "amount")),
        ({"amount": "-5"}, ("value", "amount")),
        ({"amount": "lots"}, ("value", "amount")),
    ],
)
def test_form_validation_errors(wire, params, expected):
    error = wire(func="payment.add", authinfo=ALICE, sok="ok", **params)["error"]
    assert (error["$type"], error["$object"]) == expected


def test_ok_get_carries_a_redirect(wire):
    doc = wire(
        func="clientticket.edit", authinfo=ALICE, sok="ok", name="Down", message="help",
        clicked_button="ok_get",
    )  # fmt: skip
    assert doc["ok"] == {"$": f"func=clientticket.edit&elid={doc['id']['$']}"}
    staff = wire(
        func="ticket_all.edit", authinfo=ADMIN, elid=doc["id"]["$"], plid=doc["id"]["$"],
        sok="ok", clicked_button="ok_get",
    )  # fmt: skip
    assert staff["ok"] == {"$": "func=ticket.edit&elid=10501&plid=501"}


# ---------------------------------------------------------------------------------------------- lists
def test_lists_are_scoped_to_the_caller(wire):
    assert ids(wire(func="vds", authinfo=ALICE)) == ["301", "302"]
    admin_rows = wire(func="vds", authinfo=ADMIN)["elem"]
    assert [r["account"]["$"] for r in admin_rows] == ["Alice Ltd", "Alice Ltd", "Bob GmbH"]
    assert ids(wire(func="vds", authinfo=ADMIN, su="bob")) == ["303"]
    expense = wire(func="expense", authinfo=BOB)["elem"][0]
    assert expense["notpayd"] == {"$": "30.00 EUR", "$orig": "30.00"}
    assert ids(wire(func="invoice", authinfo=ALICE)) == ["201"]
    accounts = wire(func="account", authinfo=ADMIN)["elem"]
    assert accounts[0]["balance"] == {"$": "150.00 EUR", "$orig": "150.00"}


def test_paging(fake, wire):
    for n in range(25):
        fake.add_service("alice", f"extra-{n}")
    pages = [wire(func="vds", authinfo=ALICE, p_cnt="10", p_num=str(n)) for n in (1, 2, 3)]
    assert [len(p["elem"]) for p in pages] == [10, 10, 7]
    assert all(p["p_elems"] == {"$": "27"} and p["p_cnt"] == {"$": "10"} for p in pages)
    assert [p["p_num"]["$"] for p in pages] == ["1", "2", "3"]
    seen = [row_id for page in pages for row_id in ids(page)]
    assert seen == ["301", "302"] + [str(i) for i in range(304, 329)]
    beyond = wire(func="vds", authinfo=ALICE, p_cnt="10", p_num="4")
    assert "elem" not in beyond
    assert beyond["p_elems"] == {"$": "27"}
    unpaged = wire(func="vds", authinfo=ALICE)
    assert len(unpaged["elem"]) == 27
    assert "p_cnt" not in unpaged
    assert wire(func="vds", authinfo=ALICE, p_cnt="0")["error"]["$object"] == "p_cnt"


def test_max_page_size_caps_every_page_whatever_p_cnt_asks(fake, wire):
    for n in range(10):
        fake.add_service("alice", f"extra-{n}")
    fake.max_page_size = 5
    pages = [wire(func="vds", authinfo=ALICE, p_cnt="100", p_num=str(n)) for n in (1, 2, 3)]
    assert [len(p["elem"]) for p in pages] == [5, 5, 2]
    assert all(p["p_elems"] == {"$": "12"} and p["p_cnt"] == {"$": "5"} for p in pages)
    assert ids(wire(func="vds", authinfo=ALICE, p_cnt="3", p_num="2")) == ["305", "306", "307"]
    unpaged = wire(func="vds", authinfo=ALICE)  # no p_cnt: the first page of the cap
    assert (len(unpaged["elem"]), unpaged["p_cnt"], unpaged["p_num"]) == (5, {"$": "5"}, {"$": "1"})
    fake.reset()
    assert len(wire(func="vds", authinfo=ALICE)["elem"]) == 2


def test_filter(wire):
    doc = wire(func="vds", authinfo=ADMIN, filter="on", status="3")
    assert ids(doc) == ["303"]
    assert doc["p_elems"] == {"$": "1"}
    assert len(wire(func="vds", authinfo=ADMIN, status="3")["elem"]) == 3  # no filter=on
    assert ids(wire(func="account", authinfo=ADMIN, filter="on", balance="150.00")) == ["1"]


def test_wrap_single_children(clock, http):
    with BillingFake(clock=clock, wrap_single_children=True) as fake:
        doc = http.post(fake.url, data={"func": "vds", "authinfo": ALICE}).json()["doc"]
        assert doc["p_elems"] == [{"$": "2"}]
        assert doc["elem"][0]["id"] == [{"$": "301"}]
        auth = http.post(fake.url, data={"func": "auth", "username": "bob", "password": "bob-pass"}).json()[
            "doc"
        ]["auth"]
        assert isinstance(auth, list)
        assert auth[0]["$level"] == "16"
        error = http.post(fake.url, data={"func": "nope", "authinfo": ALICE}).json()["doc"]["error"]
        assert error[0]["msg"] == [{"$": "unknown function 'nope'"}]


# ---------------------------------------------------------------------------------------------- services
def test_group_actions_split_elid_on_comma_space(fake, wire):
    assert wire(func="vds.suspend", authinfo=ADMIN, elid="301, 302") == {"ok": {}}
    assert (fake.service_status(301), fake.service_status(302)) == (3, 3)
    assert wire(func="vds.resume", authinfo=ADMIN, elid="301,302") == {"ok": {}}
    assert (fake.service_status(301), fake.service_status(302)) == (2, 2)


def test_suspend_and_resume_are_idempotent(fake, wire):
    assert wire(func="vds.suspend", authinfo=ADMIN, elid="303") == {"ok": {}}
    assert wire(func="vds.resume", authinfo=ADMIN, elid="301") == {"ok": {}}
    assert (fake.service_status(303), fake.service_status(301)) == (3, 2)


def test_unknown_elid_is_missed_and_nothing_changes(fake, wire):
    error = wire(func="vds.suspend", authinfo=ADMIN, elid="301, 999")["error"]
    assert (error["$type"], error["$object"]) == ("missed", "elid")
    assert fake.service_status(301) == 2


def test_deleted_services_vanish(fake, wire):
    assert wire(func="vds.delete", authinfo=ADMIN, elid="302") == {"ok": {}}
    assert fake.service_status(302) == 4
    assert ids(wire(func="vds", authinfo=ALICE)) == ["301"]
    assert wire(func="vds.delete", authinfo=ADMIN, elid="302")["error"]["$type"] == "missed"


def test_running_operations_until_completed(clock, http):
    with BillingFake(clock=clock, complete_operations=False) as fake:

        def send(**params: str) -> dict[str, Any]:
            return dict(http.post(fake.url, data={"authinfo": ADMIN, **params}).json()["doc"])

        assert send(func="vds.suspend", elid="301, 302") == {"ok": {}}
        assert fake.service_status(301) == 5
        rows = send(func="runningoperation")["elem"]
        assert [(r["item"]["$"], r["name"]["$"], r["trycount"]["$"]) for r in rows] == [
            ("301", "suspend", "0"),
            ("302", "suspend", "0"),
        ]
        assert send(func="vds.suspend", elid="301") == {"ok": {}}  # a retry is an ok no-op
        assert len(fake.running_operations()) == 2
        assert send(func="vds.resume", elid="301")["error"]["$type"] == "value"
        assert send(func="service.postsuspend", elid="301", sok="ok") == {"ok": {}}
        assert fake.service_status(301) == 3
        fake.complete_running_operations()
        assert fake.service_status(302) == 3
        assert "elem" not in send(func="runningoperation")


# ---------------------------------------------------------------------------------------------- tickets
def test_ticket_lifecycle(fake, wire):
    created = wire(func="clientticket.edit", authinfo=ALICE, sok="ok", name="Down", message="help")
    ticket_id = created["id"]["$"]
    assert created["ok"] == {}
    assert wire(func="clientticket", authinfo=ALICE)["elem"][0]["tstatus"] == {"$": "0"}
    staff = wire(
        func="ticket.edit", authinfo=ADMIN, elid=str(int(ticket_id) + 10000), plid=ticket_id,
        sok="ok", clicked_button="ok", message="Looking into it",
    )  # fmt: skip
    assert staff == {"ok": {}}
    assert fake.tickets_of("alice")[0].tstatus == 2
    wire(func="clientticket.edit", authinfo=ALICE, sok="ok", elid=ticket_id, message="thanks")
    view = wire(func="clientticket.edit", authinfo=ALICE, elid=ticket_id)
    assert "ok" not in view
    assert view["tstatus"] == {"$": "1"}
    (mlist,) = view["list"]
    assert mlist["$name"] == "mlist"
    assert [(m["message"]["$"], m["message_user"]["$"]) for m in mlist["elem"]] == [
        ("help", "alice"),
        ("Looking into it", "admin"),
        ("thanks", "alice"),
    ]
    all_rows = wire(func="ticket_all", authinfo=ADMIN)["elem"]
    assert all_rows[0]["account"] == {"$": "Alice Ltd"}
    assert wire(func="clientticket.edit", authinfo=BOB, elid=ticket_id)["error"]["$type"] == "missed"
    missing = wire(func="clientticket.edit", authinfo=ALICE, sok="ok", name="x")["error"]
    assert (missing["$type"], missing["$object"]) == ("missed", "message")


def test_multipart_attachments_are_stored_on_the_message(fake, http):
    data = bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
    response = http.post(
        fake.url,
        data={"func": "clientticket.edit", "authinfo": ALICE, "sok": "ok", "name": "Logs",
              "message": "see attached"},
        files={"file_1": ("log.bin", data, "application/octet-stream"),
               "file_2": ("note.txt", b"hello", "text/plain")},
    )  # fmt: skip
    assert response.json()["doc"]["ok"] == {}
    (message,) = fake.tickets_of("alice")[0].messages
    assert message.text == "see attached"
    assert [(a.field, a.filename, a.data) for a in message.attachments] == [
        ("file_1", "log.bin", data),
        ("file_2", "note.txt", b"hello"),
    ]
    assert fake.calls[-1].params["file_1"] == "log.bin"
    assert fake.calls[-1].params["authinfo"] == "***"


# ---------------------------------------------------------------------------------------------- money
def test_invoice_generate(fake, wire):
    doc = wire(func="invoice.generate", authinfo=ADMIN, sok="ok", account="2")
    row = wire(func="invoice", authinfo=BOB)["elem"][0]
    assert row["id"] == doc["id"]
    assert row["amount"]["$orig"] == "30.00"
    assert wire(func="invoice.generate", authinfo=ALICE, sok="ok", account="2")["error"]["$type"] == (
        "access"
    )


def test_add_user_and_expense_helpers(fake, wire):
    user = fake.add_user("carol", "carol-pass", account_name="Carol SA", balance=Decimal(5))
    assert (user.id, user.account_id) == (4, 3)
    fake.add_expense("carol", Decimal(8))
    assert fake.balance_of("carol") == Decimal("0.00")
    assert fake.expenses_of("carol")[0].notpayd == Decimal("3.00")
    assert wire(func="subaccount", authinfo="carol:carol-pass")["elem"][0]["id"] == {"$": "3"}
    with pytest.raises(ValueError, match="already exists"):
        fake.add_user("carol", "x", account_name="Again")


def test_reset_restores_the_seed(fake, wire):
    sid = login(wire, "alice", "alice-pass")
    fake.complete_operations = False
    fake.wrap_single_children = True
    assert wire(func="vds.suspend", authinfo=ADMIN, elid="301") == {"ok": [{}]}
    assert fake.service_status(301) == 5
    wire(func="payment.add", authinfo=ALICE, sok="ok", amount="10", promised="on")
    fake.inject(Fault.drop_connection())
    fake.reset()
    assert fake.calls == []
    assert fake.balance_of("alice") == Decimal("150.00")
    assert fake.service_status(301) == 2
    assert (fake.complete_operations, fake.wrap_single_children) == (True, False)
    assert wire(func="vds", auth=sid)["error"]["$type"] == "auth"  # no fault left, no session left


# ---------------------------------------------------------------------------------------------- faults
def test_server_error_fault(fake, http):
    fake.inject(Fault.server_error(status=503, body="Service Unavailable"), times=2)
    for _ in range(2):
        response = http.post(fake.url, data={"func": "vds", "authinfo": ALICE})
        assert response.status_code == 503
        assert response.text == "Service Unavailable"
        assert response.headers["content-type"].startswith("text/plain")
    assert http.post(fake.url, data={"func": "vds", "authinfo": ALICE}).status_code == 200
    fake.inject(Fault.server_error(502))
    html = http.post(fake.url, data={"func": "vds", "authinfo": ALICE})
    assert (html.status_code, html.headers["content-type"][:9]) == (502, "text/html")
    assert len(fake.calls) == 4


def test_fault_matching_a_func_only_hits_that_func(fake, http, wire):
    fake.inject(Fault.server_error(status=500), func="payment")
    assert "elem" in wire(func="vds", authinfo=ALICE)
    assert http.post(fake.url, data={"func": "payment", "authinfo": ALICE}).status_code == 500
    assert http.post(fake.url, data={"func": "payment", "authinfo": ALICE}).status_code == 200


def test_drop_connection_fault(fake, http, wire):
    fake.inject(Fault.drop_connection())
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(fake.url, data={"func": "vds", "authinfo": ALICE})
    assert "elem" in wire(func="vds", authinfo=ALICE)


def test_slow_fault_holds_until_released(fake, http):
    fake.inject(Fault.slow())
    answers: list[httpx.Response] = []
    worker = threading.Thread(
        target=lambda: answers.append(http.post(fake.url, data={"func": "vds", "authinfo": ALICE}))
    )
    worker.start()
    assert fake.wait_until_held(timeout=5)
    assert answers == []
    fake.release_slow()
    worker.join(timeout=5)
    assert answers[0].status_code == 200
    assert answers[0].json()["doc"]["p_elems"] == {"$": "2"}


def test_swallow_effect_answers_like_success_and_changes_nothing(fake, wire):
    fake.inject(Fault.swallow_effect(), func="payment.add")
    doc = wire(func="payment.add", authinfo=ALICE, sok="ok", amount="40", promised="on")
    assert doc["ok"] == {}
    assert doc["id"]["$"] == "101"
    assert fake.payments_of("alice") == []
    assert fake.balance_of("alice") == Decimal("150.00")
    fake.inject(Fault.swallow_effect())
    assert wire(func="vds.suspend", authinfo=ADMIN, elid="301") == {"ok": {}}
    assert fake.service_status(301) == 2
    real = wire(func="payment.add", authinfo=ALICE, sok="ok", amount="40", promised="on")
    assert real["id"]["$"] == "102"  # the swallowed id is never handed out again


def test_swallow_effect_passes_reads_by(fake, wire):
    created = wire(func="clientticket.edit", authinfo=ALICE, sok="ok", name="Disk", message="slow")
    ticket_id = created["id"]["$"]
    fake.inject(Fault.swallow_effect(), func="clientticket.edit")
    assert wire(func="clientticket.edit", authinfo=ALICE, elid=ticket_id)["tstatus"] == {"$": "0"}
    reply = wire(func="clientticket.edit", authinfo=ALICE, sok="ok", elid=ticket_id, message="more")
    assert reply == {"ok": {}}
    assert len(fake.tickets_of("alice")[0].messages) == 1  # the write took the fault
    wire(func="clientticket.edit", authinfo=ALICE, sok="ok", elid=ticket_id, message="again")
    assert len(fake.tickets_of("alice")[0].messages) == 2


def test_error_fault_is_an_envelope_at_200(fake, wire):
    params = {"amount": "40.00", "have": "0.00", "currency": "EUR", "deficit": "40.00", "limit": "0"}
    fake.inject(Fault.error("not_enough_money", "insufficient funds", details=params))
    error = wire(func="payment.add", authinfo=ALICE, sok="ok", amount="40")["error"]
    assert error["$type"] == "not_enough_money"
    assert error["msg"] == {"$": "insufficient funds"}
    assert {p["$name"]: p["$"] for p in error["param"]} == params
    assert fake.payments_of("alice") == []
    fake.inject(Fault.error("value", "bad name", details={"object": "name"}))
    assert wire(func="vds", authinfo=ALICE)["error"]["$object"] == "name"


def test_error_fault_at_another_status_and_the_default_error_page(fake, http, wire):
    fake.inject(Fault.error("value", "bad name", status=500, details={"object": "name"}))
    reply = http.post(fake.url, data={"func": "vds", "authinfo": ALICE})
    assert reply.status_code == 500
    assert reply.json()["doc"]["error"] == {"$type": "value", "$object": "name", "msg": {"$": "bad name"}}
    fake.inject(Fault.server_error(504, message="upstream timed out"))
    page = http.post(fake.url, data={"func": "vds", "authinfo": ALICE})
    assert (page.status_code, page.headers["content-type"][:9]) == (504, "text/html")
    assert page.text == "<html><body><h1>504 Gateway Timeout</h1><p>upstream timed out</p></body></html>"
    assert [(c.func, c.status, c.fault) for c in fake.calls] == [("vds", 500, "error"), ("vds", 504, "error")]


def test_drop_after_effect_keeps_the_effect(fake, http):
    fake.inject(Fault.drop_after_effect(), func="payment.add")
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(fake.url, data={"func": "payment.add", "authinfo": ALICE, "sok": "ok", "amount": "5"})
    assert [p.amount for p in fake.payments_of("alice")] == [Decimal("5.00")]
    assert [(c.func, c.status, c.fault) for c in fake.calls] == [("payment.add", None, "drop_after_effect")]


def test_calls_mask_secrets_in_the_query_and_body_too(fake, http):
    http.get(fake.url, params={"func": "vds", "authinfo": ALICE})
    http.post(fake.url, data={"func": "auth", "username": "bob", "password": "bob-pass"})
    get, post = fake.calls
    assert (get.method, get.service, get.func, get.query) == (
        "GET",
        "billing",
        "vds",
        "func=vds&authinfo=***",
    )
    assert (post.body, post.auth_mode) == ("func=auth&username=bob&password=***", "none")
    assert "alice-pass" not in repr(fake.calls)
    assert "bob-pass" not in repr(fake.calls)


def test_other_methods_are_405(fake, http):
    response = http.put(fake.url, data={"func": "vds"})
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("text/plain")


def test_in_process_transport_serves_the_same_answers():
    fake = BillingFake(max_page_size=1)
    fake.inject(Fault.error("not_enough_money", "insufficient funds"), func="payment.add")
    with httpx.Client(transport=fake.transport(), base_url="http://billing.test") as http:
        doc = http.post("/billmgr", data={"func": "vds", "authinfo": ALICE}).json()["doc"]
        error = http.post("/billmgr", data={"func": "payment.add", "authinfo": ALICE, "sok": "ok"}).json()
    assert (doc["p_elems"], len(doc["elem"])) == ({"$": "2"}, 1)
    assert error["doc"]["error"]["$type"] == "not_enough_money"
    assert [c.func for c in fake.calls] == ["vds", "payment.add"]


def test_fault_validation():
    with pytest.raises(ValueError, match="HTTP error code"):
        Fault.server_error(status=200)
    with pytest.raises(ValueError, match="at least 1"):
        BillingFake().inject(Fault.slow(), times=0)


def test_a_password_change_is_masked_in_the_calls(billing_fake, billing):
    billing.as_user("alice").change_password("N3w-Alice-Passw0rd")
    change = next(c for c in billing_fake.calls if c.func == "usrparam")
    assert change.params["passwd"] == change.params["confirm"] == "***"
    assert "N3w-Alice-Passw0rd" not in repr(billing_fake.calls)


# ---------------------------------------------------------------------------------- processing-module calls
def test_processing_module_callbacks_on_a_running_operation(clock, http):
    with BillingFake(clock=clock, complete_operations=False) as fake:

        def send(**params: str) -> dict[str, Any]:
            return dict(http.post(fake.url, data={"authinfo": ADMIN, **params}).json()["doc"])

        send(func="vds.suspend", elid="301")
        (op,) = fake.running_operations()
        ro = str(op.id)
        row = send(func="runningoperation")["elem"][0]
        assert (row["manual"]["$"], "errorxml" in row) == ("off", False)
        # without sok the form is a view: nothing stored
        view = send(func="runningoperation.edit", elid=ro, errorxml="<doc/>")
        assert ("ok" not in view, view["item"]["$"], fake.running_operations()[0].errorxml) == (
            True,
            "301",
            "",
        )
        assert send(func="runningoperation.edit", elid=ro, sok="ok", errorxml="<doc/>") == {"ok": {}}
        assert send(func="runningoperation.setmanual", elid=ro) == {"ok": {}}
        row = send(func="runningoperation")["elem"][0]
        assert (row["manual"]["$"], row["errorxml"]["$"]) == ("on", "<doc/>")
        assert send(func="runningoperation.setmanual", elid="999")["error"]["$type"] == "missed"
        assert send(func="runningoperation.edit", elid="999", sok="ok")["error"]["$object"] == "elid"

        assert send(func="task.gettype", operation="suspend") == {"task_type": {"$": "2"}}
        assert send(func="task.gettype", operation="sync_item") == {"task_type": {}}
        created = send(func="task.edit", sok="ok", item="301", runningoperation=ro, type="2")
        assert created["id"] == {"$": "801"}
        # billing does not dedupe tasks itself (assumption): the module looks before it creates
        send(func="task.edit", sok="ok", item="301", type="2")
        rows = send(func="task")["elem"]
        assert [(r["id"]["$"], r["item"]["$"], r["type"]["$"], "runningoperation" in r) for r in rows] == [
            ("801", "301", "2", True),
            ("802", "301", "2", False),
        ]
        assert send(func="task.edit", sok="ok", item="301")["error"]["$object"] == "type"
        assert send(func="task.edit", sok="ok", item="999", type="2")["error"]["$type"] == "missed"
        assert len(fake.tasks()) == 2


def test_service_setstatus(fake, wire):
    assert wire(func="service.setstatus", authinfo=ADMIN, elid="303", service_status="2") == {"ok": {}}
    assert fake.service_status(303) == 2
    assert wire(func="service.setstatus", authinfo=ADMIN, elid="303", service_status="8") == {"ok": {}}
    assert fake.service_status(303) == 3
    bad = wire(func="service.setstatus", authinfo=ADMIN, elid="303", service_status="4")
    assert (bad["error"]["$type"], bad["error"]["$object"]) == ("value", "service_status")


@pytest.mark.parametrize(
    "func", ["runningoperation.edit", "runningoperation.setmanual", "task", "task.gettype", "task.edit"]
)
def test_processing_module_functions_are_admin_only(wire, func):
    assert wire(func=func, authinfo="alice:alice-pass", elid="701")["error"]["$type"] == "access"
