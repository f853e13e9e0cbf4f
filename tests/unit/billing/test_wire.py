"""Pure build/parse tests on small golden payloads (the reference's wire examples)."""

from decimal import Decimal
from urllib.parse import parse_qsl

import httpx
import pytest

from cloudkit.billing import PaymentStatus, ServiceStatus
from cloudkit.billing import _wire as wire
from cloudkit.errors import (
    ApiError,
    AuthenticationError,
    BillingApiError,
    ConflictError,
    InsufficientFundsError,
    NotFoundError,
    PermissionDeniedError,
    ResponseDecodeError,
    ServerError,
)


def reply(payload, status=200):
    return (
        httpx.Response(status, json=payload)
        if not isinstance(payload, str)
        else httpx.Response(status, text=payload)
    )


def test_request_is_a_form_post_with_func_and_out_json():
    request = wire.build_request("http://b/billmgr", "payment", {"su": "alice", "p_cnt": "5"})
    assert request.method == "POST"
    assert str(request.url) == "http://b/billmgr"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(request.content.decode())) == {
        "func": "payment",
        "out": "json",
        "su": "alice",
        "p_cnt": "5",
    }


def test_attachments_go_as_multipart_file_n():
    request = wire.build_request(
        "http://b/billmgr", "clientticket.edit", {"sok": "ok"}, attachments=[("a.txt", b"A"), ("b.log", b"B")]
    )
    body = request.read()
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file_1"; filename="a.txt"' in body
    assert b'name="file_2"; filename="b.log"' in body


def test_login_reply_w1():
    doc = wire.parse_reply(
        reply({"doc": {"auth": {"$id": "4f2ce1", "$level": "28", "$": "4f2ce1"}}}), operation="login"
    )
    assert wire.session_of(doc) == ("4f2ce1", True)
    assert wire.session_of({"auth": {"$": "abc", "$level": "16"}}) == ("abc", False)
    assert wire.session_of({"auth": [{"$id": "abc"}]}) == ("abc", None)


def test_payment_list_w2_with_subaccountamount_iso():
    doc = wire.parse_payload(
        {
            "doc": {
                "p_elems": {"$": "2"},
                "elem": [
                    {
                        "id": {"$": "101"},
                        "create_date": {"$": "2020-06-05"},
                        "subaccountamount_iso": {"$": "100.00 EUR"},
                        "status": {"$": "1"},
                    },
                    {"id": {"$": "102"}, "subaccountamount_iso": {"$": "5.50 EUR"}, "status": {"$": "3"}},
                ],
            }
        },
        operation="list_payments",
    )
    payments = wire.decode_rows(wire.rows_of(doc), wire.payment, operation="list_payments")
    assert [(p.id, p.amount, p.status) for p in payments] == [
        (101, Decimal("100.00"), PaymentStatus.NEW),
        (102, Decimal("5.50"), PaymentStatus.PROMISED),
    ]
    assert str(payments[0].created) == "2020-06-05"
    assert wire.total_rows(doc) == 2


def test_orig_wins_over_formatted_text():
    doc = {
        "elem": {"id": {"$": "1"}, "name": {"$": "A"}, "balance": {"$": "1 234,50 RUB", "$orig": "1234.5"}}
    }
    (account,) = wire.decode_rows(wire.rows_of(doc), wire.account, operation="list_accounts")
    assert account.balance == Decimal("1234.5")


@pytest.mark.quirk("billing.one-element-lists")
def test_one_element_list_variants_decode_like_plain_children():
    plain = {"doc": {"elem": [{"id": {"$": "7"}, "name": {"$": "vm"}, "status": {"$": "2"}}]}}
    wrapped = {"doc": [{"elem": [{"id": [{"$": "7"}], "name": [{"$": "vm"}], "status": [{"$": "2"}]}]}]}
    for payload in (plain, wrapped):
        rows = wire.rows_of(wire.parse_payload(payload, operation="list_services"))
        (service,) = wire.decode_rows(rows, wire.service, operation="list_services")
        assert (service.id, service.status) == (7, ServiceStatus.ACTIVE)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("3", ServiceStatus.SUSPENDED),
        ("Suspended by administrator", ServiceStatus.SUSPENDED),
        ("In progress (activation)", ServiceStatus.IN_PROGRESS),
    ],
)
def test_service_status_codes_and_words(raw, status):
    row = {"id": {"$": "1"}, "name": {"$": "x"}, "status": {"$": raw}}
    assert wire.decode_rows([row], wire.service, operation="s")[0].status is status


@pytest.mark.quirk("billing.errors-at-http-200")
@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ({"$type": "auth"}, AuthenticationError),
        ({"$type": "access"}, PermissionDeniedError),
        ({"$type": "exists", "$object": "name"}, ConflictError),
        ({"$type": "missed", "$object": "elid"}, NotFoundError),
        ({"$type": "missed", "$object": "message"}, ApiError),
        ({"$type": "value", "$object": "name"}, ApiError),
        ({"$type": "unknown"}, ApiError),
    ],
)
def test_error_envelope_at_http_200_maps_to_typed_errors(error, cls):
    with pytest.raises(cls) as info:
        wire.parse_reply(reply({"doc": {"error": {**error, "msg": {"$": "no"}}}}), operation="op")
    exc = info.value
    assert isinstance(exc, BillingApiError)  # billing's fields, on the class of the tree that fits
    assert [c for c in type(exc).__mro__ if c.__module__ == "cloudkit.errors"][1] is cls
    assert (exc.status, exc.code, exc.object_name) == (200, error["$type"], error.get("$object"))
    assert exc.quirk == "billing.errors-at-http-200"


def test_not_enough_money_w7_carries_decimal_amounts():
    error = {
        "$type": "not_enough_money",
        "param": [
            {"$name": "amount", "$": "0.1048"},
            {"$name": "have", "$": "0.00"},
            {"$name": "currency", "$": "EUR"},
            {"$name": "deficit", "$": "0.1048"},
            {"$name": "limit", "$": "0.00"},
        ],
        "stack": {"action": {"$level": "30", "$user": "root", "$": "service.billdaily"}},
        "msg": {"$": "insufficient funds to complete the operation."},
    }
    with pytest.raises(InsufficientFundsError) as info:
        wire.parse_payload({"doc": {"error": error}}, operation="order")
    exc = info.value
    assert (exc.amount, exc.have, exc.deficit, exc.limit, exc.currency) == (
        Decimal("0.1048"),
        Decimal("0.00"),
        Decimal("0.1048"),
        Decimal("0.00"),
        "EUR",
    )


@pytest.mark.parametrize(
    ("status", "cls"), [(500, ServerError), (503, ServerError), (404, NotFoundError), (400, ApiError)]
)
def test_non_200_answers(status, cls):
    with pytest.raises(cls) as info:
        wire.parse_reply(reply("<html>Bad Gateway</html>", status), operation="op")
    assert info.value.status == status
    assert info.value.retryable is (status >= 500)


@pytest.mark.parametrize("payload", ["not json", "[]", '{"doc": 5}', "{}", '{"doc": {"elem": 3}}'])
def test_shapes_that_are_not_a_doc_envelope(payload):
    with pytest.raises(ResponseDecodeError) as info:
        doc = wire.parse_reply(reply(payload), operation="op")
        wire.rows_of(doc)
    assert info.value.problems[0].startswith("$")


def test_decode_errors_name_every_bad_path():
    rows = [
        {"id": {"$": "1"}, "name": {"$": "a"}, "balance": {"$": "1.00"}},
        {"id": {"$": "x"}, "name": {"$": "b"}, "balance": {"$": "1.00"}},
        {"id": {"$": "3"}, "balance": {"$": "lots"}},
    ]
    with pytest.raises(ResponseDecodeError) as info:
        wire.decode_rows(rows, wire.account, operation="list_accounts")
    assert info.value.problems == (
        "$.doc.elem[1].id: expected an integer, got 'x'",
        "$.doc.elem[2].name: missing",
    )


def test_ticket_messages_come_from_the_mlist_sub_list():
    doc = {
        "name": {"$": "Disk"},
        "list": [
            {"$name": "other", "elem": []},
            {"$name": "mlist", "elem": [{"id": {"$": "1"}, "message": {"$": "hi"}, "user": {"$": "alice"}}]},
        ],
    }
    (message,) = wire.decode_rows(wire.sub_rows(doc, "mlist"), wire.ticket_message, operation="m")
    assert (message.id, message.text, message.author) == (1, "hi", "alice")
    assert wire.sub_rows({"list": {"$name": "mlist"}}, "mlist") == []


def test_decode_errors_name_every_bad_column_of_a_row_through_cattrs():
    rows = [{"elid": {"$": "x"}, "name": {"$": "b"}, "balance": {"$": "lots", "$orig": "lots"}}]
    with pytest.raises(ResponseDecodeError) as info:
        wire.decode_rows(rows, wire.account, operation="list_accounts")
    assert info.value.problems == (
        "$.doc.elem[0].elid: expected an integer, got 'x'",
        "$.doc.elem[0].balance: expected an amount, got 'lots'",
    )
