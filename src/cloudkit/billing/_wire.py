"""Pure building and parsing of BILLmanager-style requests and replies: the only place raw payloads live.

Requests: one endpoint, ``func=<name>``, ``out=json``, parameters form-encoded in a POST body (never in
the URL, so no secret lands in an access log). Replies: the ``{"doc": {...}}`` envelope, where an
element's text is ``"$"``, an attribute ``a`` is ``"$a"`` and repeated elements are lists. Decoding
failures raise :class:`~cloudkit.errors.ResponseDecodeError` naming the path, e.g. ``$.doc.elem[3].balance``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import httpx

from cloudkit._core._errors import error_for_status
from cloudkit.billing import _quirks
from cloudkit.billing._models import (
    Account,
    AccountId,
    Expense,
    Invoice,
    Payment,
    PaymentId,
    PaymentStatus,
    RunningOperation,
    Service,
    ServiceId,
    ServiceStatus,
    Ticket,
    TicketId,
    TicketMessage,
    TicketStatus,
)
from cloudkit.errors import ApiError, InsufficientFundsError, ResponseDecodeError

__all__ = [
    "Doc",
    "Row",
    "build_request",
    "decode_rows",
    "parse_reply",
]

SYSTEM = "billing"
Doc = dict[str, Any]
Row = Mapping[str, Any]
Attachment = tuple[str, bytes]
T = TypeVar("T")

_DETAIL_LIMIT = 300
_ADMIN_LEVEL = 28  # assumption: COREmanager's admin access level; users are below it


# ---------------------------------------------------------------------------------------------- build
def build_request(
    url: str,
    func: str,
    params: Mapping[str, str],
    *,
    attachments: Sequence[Attachment] = (),
) -> httpx.Request:
    """A POST to the single endpoint with ``func`` and ``out=json`` in a form body.

    Attachments go as multipart ``file_1``, ``file_2``, ... as billing's ticket forms expect.

    Example:
        >>> from cloudkit.billing._wire import build_request
        >>> r = build_request("http://b/billmgr", "account", {"p_cnt": "10"})
        >>> r.method, r.content
        ('POST', b'func=account&out=json&p_cnt=10')
    """
    data = {"func": func, "out": "json", **params}
    if attachments:
        files = [(f"file_{i}", (name, body)) for i, (name, body) in enumerate(attachments, start=1)]
        return httpx.Request("POST", url, data=data, files=files)
    return httpx.Request("POST", url, data=data)


# ---------------------------------------------------------------------------------------------- parse
def parse_reply(response: httpx.Response, *, operation: str) -> Doc:
    """The ``doc`` object of a reply, after checking HTTP status and the ``doc.error`` envelope.

    Raises:
        ServerError: a 5xx answer (retryable for idempotent calls).
        ApiError: another non-200 answer, or a ``doc.error`` (a typed subclass, see :func:`error_from`).
        ResponseDecodeError: not JSON, or no ``doc`` object.
    """
    if response.status_code != httpx.codes.OK:
        raise _http_error(response, operation)
    try:
        payload = json.loads(response.content)
    except ValueError:
        raise ResponseDecodeError(
            "billing answered with something that is not JSON",
            problems=(f"$: not JSON ({_excerpt(response.text)!r})",),
            system=SYSTEM,
            operation=operation,
        ) from None
    return parse_payload(payload, operation=operation)


def parse_payload(payload: Any, *, operation: str) -> Doc:
    """The ``doc`` object of a decoded JSON payload; raises on ``doc.error`` or a bad shape.

    Example:
        >>> from cloudkit.billing._wire import parse_payload
        >>> parse_payload({"doc": {"ok": {}}}, operation="call")
        {'ok': {}}
        >>> parse_payload({"doc": {"error": {"$type": "value", "$object": "name",
        ...     "msg": {"$": "Invalid value of field 'Login'"}}}}, operation="call")
        Traceback (most recent call last):
        ...
        cloudkit.errors.BillingApiError: billing error value (name): Invalid value of field 'Login' [...]
    """
    payload = _quirks.unwrap(payload)
    if not isinstance(payload, dict):
        raise _decode_error(operation, f"$: expected an object, got {_kind(payload)}")
    doc = _quirks.unwrap(payload.get("doc"))
    if not isinstance(doc, dict):
        raise _decode_error(operation, f"$.doc: expected an object, got {_kind(doc)}")
    if "error" in doc:
        raise error_from(doc["error"], operation=operation)
    return doc


def error_from(node: Any, *, operation: str) -> ApiError:
    """Map a ``doc.error`` node to the typed error for its ``$type`` (``billing.errors-at-http-200``)."""
    node = _quirks.unwrap(node)
    if not isinstance(node, dict):
        node = {}
    kind = _attr(node, "type") or "unknown"
    obj = _attr(node, "object")
    value = None if _names_a_secret(obj) else _attr(node, "value")
    msg = _excerpt(text_of(node.get("msg")) or "")
    where = f" ({obj})" if obj else ""
    message = f"billing error {kind}{where}: {msg}" if msg else f"billing error {kind}{where}"
    context: dict[str, Any] = {
        "system": SYSTEM,
        "operation": operation,
        "quirk": _quirks.ERRORS_AT_HTTP_200.id,
        "status": 200,
        "code": kind,
        "detail": msg or None,
        "object_name": obj,
        "value": value,
    }
    if kind == "not_enough_money":
        params = _error_params(node)
        return InsufficientFundsError(
            message,
            amount=_decimal_or_none(params.get("amount")),
            have=_decimal_or_none(params.get("have")),
            deficit=_decimal_or_none(params.get("deficit")),
            limit=_decimal_or_none(params.get("limit")),
            currency=params.get("currency"),
            **context,
        )
    return _quirks.error_class(kind, obj)(message, **context)


_SECRET_FIELDS = ("pass", "auth", "key", "token", "secret")


def _names_a_secret(field: str | None) -> bool:
    return field is not None and any(word in field.lower() for word in _SECRET_FIELDS)


# A 413 from billing (or the web server in front of it) is a body too large, not a rate limit.
_STATUS_OVERRIDES: Mapping[int, type[ApiError]] = {httpx.codes.REQUEST_ENTITY_TOO_LARGE: ApiError}


def _http_error(response: httpx.Response, operation: str) -> ApiError:
    status = response.status_code
    cls = error_for_status(status, system=SYSTEM, overrides=_STATUS_OVERRIDES)
    detail = _excerpt(response.text)
    return cls(
        f"billing answered HTTP {status}",
        system=SYSTEM,
        operation=operation,
        status=status,
        detail=detail or None,
    )


# ---------------------------------------------------------------------------------------------- nodes
def text_of(node: Any) -> str | None:
    """The text of an element node (``{"$": "..."}``), tolerating bare strings and wrapped lists."""
    if type(node) is dict:
        value = node.get("$")
    else:
        node = _quirks.unwrap(node)
        value = node.get("$") if isinstance(node, dict) else node
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _attr(node: Mapping[str, Any], name: str) -> str | None:
    value = _quirks.unwrap(node.get(f"${name}"))
    return value if isinstance(value, str) else None


def rows_of(doc: Doc, *, operation: str | None = None, path: str = "$.doc") -> list[Row]:
    """The ``elem`` rows of a list reply (none, one object, or a list of objects)."""
    elem = doc.get("elem")
    if elem is None:
        return []
    if isinstance(elem, dict):
        return [elem]
    if not isinstance(elem, list):
        raise _decode_error(operation, f"{path}.elem: expected a list of rows, got {_kind(elem)}")
    for i, row in enumerate(elem):
        if not isinstance(row, dict):
            raise _decode_error(operation, f"{path}.elem[{i}]: expected a row object, got {_kind(row)}")
    return elem


def total_rows(doc: Doc) -> int | None:
    """``p_elems``: the number of rows across all pages, when the reply says."""
    raw = text_of(doc.get("p_elems"))
    return _digits(raw)


def sub_rows(doc: Doc, name: str, *, operation: str | None = None) -> list[Row]:
    """Rows of the named sub-list ``doc.list[$name=name].elem`` (e.g. a ticket's messages)."""
    lists = doc.get("list")
    candidates = lists if isinstance(lists, list) else [lists]
    for i, candidate in enumerate(candidates):
        node = _quirks.unwrap(candidate)
        if isinstance(node, dict) and _attr(node, "name") == name:
            return rows_of(node, operation=operation, path=f"$.doc.list[{i}]")
    return []


def created_id(doc: Doc) -> int | None:
    """The id a create form reported (``doc.id``), if any."""
    raw = text_of(doc.get("id"))
    return _digits(raw)


def is_ok(doc: Doc) -> bool:
    """Whether the reply carries ``ok`` (a submitted form or an action)."""
    return "ok" in doc


def session_of(doc: Doc) -> tuple[str, bool | None]:
    """The session id and whether it is an admin's, from a ``func=auth`` reply (W1).

    Example:
        >>> from cloudkit.billing._wire import session_of
        >>> session_of({"auth": {"$id": "4f2c", "$level": "28", "$": "4f2c"}})
        ('4f2c', True)
    """
    node = _quirks.unwrap(doc.get("auth"))
    if not isinstance(node, dict):
        raise _decode_error("login", "$.doc.auth: missing from the login reply")
    sid = _attr(node, "id") or text_of(node)
    if not sid:
        raise _decode_error("login", "$.doc.auth.$id: missing session id")
    level = _attr(node, "level")
    level_number = _digits(level)
    is_admin = level_number >= _ADMIN_LEVEL if level_number is not None else None
    return sid, is_admin


# ---------------------------------------------------------------------------------------------- values
_PLAIN_AMOUNT = re.compile(r"[-+]?\d+(?:\.\d+)?")
# An optional currency prefix or suffix (letters or symbols, no digits) around one number whose
# groups may be split by spaces or apostrophes and whose separators may be "," or ".".
_MONEY_CELL = re.compile(
    r"\s*(?:[^\d\s.,+-]{1,4}\s*)?([-+]?\d[\d\s\u00a0\u202f']*(?:[.,]\d[\d\s\u00a0\u202f']*)*)"
    r"\s*(?:[^\d\s.,+-]{1,4})?\s*"
)


def parse_money(raw: str) -> Decimal:
    """A Decimal from a money cell: ``"150.00"``, ``"150.00 EUR"``, ``"-1 234,50 RUB"``, ``"1,234.50"``.

    With both separators present the last one is the decimal point; a lone ``,`` is a decimal comma
    (BILLmanager's Russian locale). Exponents and anything but one number raise ``ValueError``.

    Example:
        >>> from cloudkit.billing._wire import parse_money
        >>> parse_money("1 234,50 RUB"), parse_money("-12.5 EUR"), parse_money("$1,234.50")
        (Decimal('1234.50'), Decimal('-12.5'), Decimal('1234.50'))
    """
    if _PLAIN_AMOUNT.fullmatch(raw):
        return Decimal(raw)
    match = _MONEY_CELL.fullmatch(raw)
    if match is None:
        raise ValueError(f"no amount in {raw!r}")
    number = re.sub(r"[\s\u00a0\u202f']", "", match.group(1))
    if "," in number and "." in number:
        decimal_point = max(number.rfind(","), number.rfind("."))
        whole = number[:decimal_point].replace(",", "").replace(".", "")
        number = f"{whole}.{number[decimal_point + 1 :]}"
    elif number.count(",") == 1:
        number = number.replace(",", ".")
    elif number.count(".") > 1 or number.count(",") > 1:
        number = number.replace(",", "").replace(".", "")  # "1.234.567" / "1,234,567": groups only
    try:
        return Decimal(number)
    except InvalidOperation:
        raise ValueError(f"no amount in {raw!r}") from None


def _digits(raw: str | None) -> int | None:
    """An ASCII digit string as int; ``None`` for anything else (``"²".isdigit()`` is true)."""
    return int(raw) if raw and raw.isascii() and raw.isdigit() else None


def _decimal_or_none(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    try:
        return parse_money(raw)
    except (ValueError, InvalidOperation):
        return None


def _error_params(node: Mapping[str, Any]) -> dict[str, str]:
    params = node.get("param")
    items = params if isinstance(params, list) else [params]
    found: dict[str, str] = {}
    for item in items:
        item_node = _quirks.unwrap(item)
        if isinstance(item_node, dict):
            name = _attr(item_node, "name")
            value = text_of(item_node)
            if name and value is not None:
                found[name] = value
    return found


class _RowReader:
    """Reads typed cells of one row and remembers the path for error messages."""

    __slots__ = ("path", "row")

    def __init__(self, row: Row, path: str) -> None:
        self.row = row
        self.path = path

    def text(self, key: str) -> str:
        value = text_of(self.row.get(key))
        if value is None:
            raise ValueError(f"{self.path}.{key}: missing")
        return value

    def optional_text(self, key: str) -> str | None:
        return text_of(self.row.get(key))

    def integer(self, key: str) -> int:
        if key == "id" and "id" not in self.row and "elid" in self.row:
            key = "elid"  # the B6 reference lists the account list's id column as "elid"
        value = self.text(key).strip()
        number = _digits(value.removeprefix("-"))
        if number is None:
            raise ValueError(f"{self.path}.{key}: expected an integer, got {value!r}")
        return -number if value.startswith("-") else number

    def money(self, key: str) -> Decimal:
        node = self.row.get(key)
        if type(node) is not dict:
            node = _quirks.unwrap(node)
        raw = node.get("$orig") if isinstance(node, dict) else None
        if not isinstance(raw, str):
            raw = text_of(node)
        if raw is None:
            raise ValueError(f"{self.path}.{key}: missing")
        try:
            return parse_money(raw)
        except (ValueError, InvalidOperation):
            raise ValueError(f"{self.path}.{key}: expected an amount, got {raw!r}") from None

    def date(self, key: str) -> dt.date | None:
        raw = self.optional_text(key)
        if not raw:
            return None
        try:
            return dt.date.fromisoformat(raw[:10])
        except ValueError:
            raise ValueError(f"{self.path}.{key}: expected a date, got {raw!r}") from None


def decode_rows(rows: Sequence[Row], decode: Callable[[_RowReader], T], *, operation: str) -> list[T]:
    """Decode every row; collect the problems of all rows into one :class:`ResponseDecodeError`."""
    out: list[T] = []
    problems: list[str] = []
    for i, row in enumerate(rows):
        try:
            out.append(decode(_RowReader(row, f"$.doc.elem[{i}]")))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ResponseDecodeError(
            f"billing {operation} reply does not match the model",
            problems=tuple(problems),
            system=SYSTEM,
            operation=operation,
        )
    return out


def account(r: _RowReader) -> Account:
    """Decode an ``account`` row."""
    return Account(id=AccountId(r.integer("id")), name=r.text("name"), balance=r.money("balance"))


def balance(r: _RowReader) -> Decimal:
    """Decode the balance of a ``subaccount`` row."""
    return r.money("balance")


def payment(r: _RowReader) -> Payment:
    """Decode a ``payment`` row (W2; the amount column is ``amount`` or ``subaccountamount_iso``)."""
    amount_key = "amount" if "amount" in r.row else "subaccountamount_iso"
    code = r.integer("status")
    try:
        status = PaymentStatus(code)
    except ValueError:
        raise ValueError(f"{r.path}.status: unknown payment status {code}") from None
    return Payment(
        id=PaymentId(r.integer("id")),
        amount=r.money(amount_key),
        status=status,
        created=r.date("create_date"),
    )


def expense(r: _RowReader) -> Expense:
    """Decode an ``expense`` row."""
    unpaid = r.money("notpayd") if "notpayd" in r.row else Decimal(0)
    return Expense(
        id=r.integer("id"),
        amount=r.money("amount"),
        unpaid=unpaid,
        info=r.optional_text("info") or "",
        created=r.date("create_date"),
    )


def invoice(r: _RowReader) -> Invoice:
    """Decode an ``invoice`` row."""
    return Invoice(
        id=r.integer("id"),
        number=r.optional_text("number") or r.text("id"),
        amount=r.money("amount"),
        status=r.optional_text("status") or "",
        created=r.date("create_date"),
    )


def ticket(r: _RowReader) -> Ticket:
    """Decode a ``clientticket`` row."""
    code = r.integer("tstatus") if r.optional_text("tstatus") is not None else 0
    try:
        status = TicketStatus(code)
    except ValueError:
        raise ValueError(f"{r.path}.tstatus: unknown ticket status {code}") from None
    return Ticket(id=TicketId(r.integer("id")), subject=r.text("name"), status=status)


def ticket_message(r: _RowReader) -> TicketMessage:
    """Decode a row of a ticket's ``mlist`` sub-list."""
    return TicketMessage(
        id=r.integer("id"),
        text=r.text("message"),
        author=r.optional_text("message_user") or r.optional_text("user") or "",
        posted=r.optional_text("date_post"),
    )


_SERVICE_WORDS = {
    "ordered": ServiceStatus.ORDERED,
    "active": ServiceStatus.ACTIVE,
    "suspended": ServiceStatus.SUSPENDED,
    "deleted": ServiceStatus.DELETED,
    "in progress": ServiceStatus.IN_PROGRESS,
}


def service(r: _RowReader) -> Service:
    """Decode a service row; the status is a code or the UI's English word (assumption)."""
    raw = r.text("status").strip()
    status: ServiceStatus | None
    code = _digits(raw)
    if code is not None:
        status = ServiceStatus(code) if code in ServiceStatus._value2member_map_ else None
    else:
        lowered = raw.lower()
        status = next((s for word, s in _SERVICE_WORDS.items() if lowered.startswith(word)), None)
    if status is None:
        raise ValueError(f"{r.path}.status: unknown service status {raw!r}")
    return Service(id=ServiceId(r.integer("id")), name=r.text("name"), status=status)


def running_operation(r: _RowReader) -> RunningOperation:
    """Decode a ``runningoperation`` row."""
    tries = r.optional_text("trycount")
    return RunningOperation(
        id=r.integer("id"),
        service_id=ServiceId(r.integer("item")),
        operation=r.optional_text("name") or "",
        attempts=_digits(tries) or 0,
    )


# ---------------------------------------------------------------------------------------------- helpers
def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[:_DETAIL_LIMIT] + "..."


def _decode_error(operation: str | None, problem: str) -> ResponseDecodeError:
    return ResponseDecodeError(
        "billing reply does not have the doc envelope shape",
        problems=(problem,),
        system=SYSTEM,
        operation=operation,
    )
