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
from typing import Any, Generic, TypeVar, cast
from xml.sax.saxutils import escape, quoteattr

import attrs
import cattrs
import httpx

from cloudkit._core import make_converter
from cloudkit._core._errors import error_for_status
from cloudkit.billing import _quirks
from cloudkit.billing._models import (
    Account,
    AccountId,
    Expense,
    Invoice,
    ModuleCommand,
    ModuleError,
    Payment,
    PaymentStatus,
    RunningOperation,
    Service,
    ServiceForm,
    ServiceId,
    ServiceStatus,
    StaffTask,
    Ticket,
    TicketMessage,
    TicketStatus,
)
from cloudkit.errors import ApiError, InsufficientFundsError, ResponseDecodeError

__all__ = [
    "Doc",
    "Row",
    "build_request",
    "decode_rows",
    "module_error_xml",
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


# ---------------------------------------------------------------------------------------------- filters
# A list narrowed by the server: ``filter=on`` plus column criteria on the list function itself
# (docs/billing-wire.md "Lists"). A server may ignore any of them, so every caller also checks each row.
_FILTER = "filter"
_BILLING_TIME = "%Y-%m-%d %H:%M:%S"


def service_filter(service_id: int) -> dict[str, str]:
    """The criteria of a one-service read: ``filter=on&id=<id>``.

    assumption: the services list filters on its ``id`` column (``elid`` names a form's element and
    is not a list filter).

    Example:
        >>> service_filter(301)
        {'filter': 'on', 'id': '301'}
    """
    return {_FILTER: "on", "id": str(service_id)}  # assumption: the list filters on its id column


def expenses_since_filter(since: dt.datetime) -> dict[str, str]:
    """The criteria of the charges made at or after ``since``: ``filter=on&create_date_from=<UTC time>``.

    assumption: the parameter name ``create_date_from`` and billing's UTC ``YYYY-MM-DD HH:MM:SS``.

    Example:
        >>> import datetime as dt
        >>> expenses_since_filter(dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))))
        {'filter': 'on', 'create_date_from': '2024-05-01 10:00:00'}
    """
    # assumption: the filter's name, and billing's times in UTC
    return {_FILTER: "on", "create_date_from": since.astimezone(dt.UTC).strftime(_BILLING_TIME)}


def promised_filter() -> dict[str, str]:
    """The criteria of the promised payments: ``filter=on&status=3`` (the payments list's status column).

    Example:
        >>> promised_filter()
        {'filter': 'on', 'status': '3'}
    """
    return {_FILTER: "on", "status": str(int(PaymentStatus.PROMISED))}  # assumption: status filters


def expense_is_since(expense: Expense, since: dt.datetime) -> bool:
    """Whether a charge may be at or after ``since``: by its time, else by its day; kept when undated.

    A charge that carries only its day counts when that day is ``since``'s day or later (it may be
    later that day); one without any date is kept, since nothing shows it is older.

    Example:
        >>> import datetime as dt
        >>> from decimal import Decimal
        >>> since = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
        >>> e = Expense(id=1, amount=Decimal(1), unpaid=Decimal(0), info="", created=dt.date(2024, 5, 1))
        >>> expense_is_since(e, since), expense_is_since(attrs.evolve(e, created_at=since
        ...     - dt.timedelta(seconds=1)), since)
        (True, False)
    """
    if expense.created_at is not None:
        return expense.created_at >= since
    if expense.created is not None:
        return expense.created >= since.astimezone(dt.UTC).date()
    return True


# ------------------------------------------------------------------------- processing-module callbacks
# The functions a processing module calls back, as ISPsystem's own example module calls them
# (ISPsystemLLC/billmanager processing/registrar/processing/pmregistrar.php; reference/billing.md §7.2,
# reference/lifecycle.md §1). They are core BILLmanager functions, not a product type's family, so they
# are not in BillingFunctions.
RUNNING_OPERATION_EDIT = "runningoperation.edit"  # sok=ok, elid=<ro>, errorxml=<xml>
RUNNING_OPERATION_SET_MANUAL = "runningoperation.setmanual"  # elid=<ro>
TASK_TYPE = "task.gettype"  # operation=<command> -> doc.task_type
TASK_FORM = "task.edit"  # sok=ok, item, runningoperation, type
TASKS = "task"  # assumption: the staff task list is func=task (admin), rows id/item/runningoperation/type
SERVICE_SET_STATUS = "service.setstatus"  # elid=<item>, service_status=2|8 (no sok in pmregistrar.php)
_SERVICE_STATUS_CODES = {ServiceStatus.ACTIVE: "2", ServiceStatus.SUSPENDED: "8"}


def completion_func(command: ModuleCommand) -> str:
    """The callback that reports ``command`` done: ``service.post<command>``.

    Example:
        >>> from cloudkit.billing import ModuleCommand
        >>> completion_func(ModuleCommand.OPEN)
        'service.postopen'
    """
    return f"service.post{command.value}"


# The form's own fields; every other field is an item param (assumption: billing.md §7 names the
# item table's params but not the edit form's field names; the fake follows this).
_SERVICE_FORM_FIELDS = frozenset({"id", "elid", "name", "status", "account_id", "processingmodule"})


def service_form(doc: Doc, *, service_id: int, operation: str) -> ServiceForm:
    """A service's edit form: its owner (``account_id``) and every other field as an item param.

    Example:
        >>> from cloudkit.billing._wire import service_form
        >>> form = service_form({"account_id": {"$": "7"}, "image": {"$": "img-1"}, "name": {"$": "vm"}},
        ...                     service_id=301, operation="get_service_form")
        >>> form.account_id, dict(form.params)
        (7, {'image': 'img-1'})
    """
    owner = text_of(doc.get("account_id"))
    if owner is None or not owner.strip().isdigit():
        raise ResponseDecodeError(
            f"the form of service {service_id} names no owner account",
            problems=("$.doc.account_id",),
            system=SYSTEM,
            operation=operation,
        )
    params = {}
    for name, node in doc.items():
        value = text_of(node)
        if name not in _SERVICE_FORM_FIELDS and not name.startswith(("$", "_")) and value is not None:
            params[name] = value
    return ServiceForm(id=ServiceId(service_id), account_id=AccountId(int(owner)), params=params)


# The order form's own fields (billing.md §7 "Ordering", W9); every other order field is the product
# type's own param and goes as given.
_ORDER_FIELDS = frozenset(
    {"pricelist", "period", "datacenter", "autoprolong", "skipbasket", "domain", "sok", "elid", "func"}
)


def order_params(
    *,
    tariff: int,
    period: int,
    datacenter: int | None = None,
    autoprolong: int | None = None,
    pay_now: bool = True,
    name: str | None = None,
    addons: Mapping[int, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The fields of ``<type>.order.param`` (W9), without ``sok`` (the caller submits).

    ``pricelist`` is the tariff, ``period`` months (billing's specials: trial -100, day -50, lifetime
    0), ``skipbasket=on`` charges at once instead of filling the basket, ``addon_<id>`` the add-ons.
    assumption: ``domain`` carries the service's name (billing.md lists it among the optional fields;
    for a server billing shows it as the name), and the product type's own params (``image``,
    ``flavor``...) go as fields of the same name (the item params a processing module reads back).

    Example:
        >>> order_params(tariff=12, period=1, addons={10: "6"}, params={"image": "i-1"})
        {'pricelist': '12', 'period': '1', 'skipbasket': 'on', 'addon_10': '6', 'image': 'i-1'}
        >>> order_params(tariff=1, period=-50, pay_now=False, name="web-1")
        {'pricelist': '1', 'period': '-50', 'domain': 'web-1'}
    """
    fields = {"pricelist": str(tariff), "period": str(period)}
    if pay_now:
        fields["skipbasket"] = "on"
    optional = {"datacenter": datacenter, "autoprolong": autoprolong, "domain": name}
    fields.update({key: str(value) for key, value in optional.items() if value is not None})
    fields.update({f"addon_{addon}": str(value) for addon, value in (addons or {}).items()})
    for key, value in (params or {}).items():
        if key in _ORDER_FIELDS or key.startswith("addon_"):
            raise ValueError(f"{key!r} is a field of the order form itself, not a service param")
        fields[key] = value
    return fields


def service_status_code(status: ServiceStatus) -> str:
    """The ``service_status`` of ``service.setstatus``: ``2`` active, ``8`` suspended (pmregistrar sync_item).

    Example:
        >>> service_status_code(ServiceStatus.SUSPENDED)
        '8'
    """
    code = _SERVICE_STATUS_CODES.get(status)
    if code is None:
        raise ValueError(f"service.setstatus sets ACTIVE or SUSPENDED, not {status.name}")
    return code


def module_error_xml(error: ModuleError) -> str:
    """The error document of a processing module: what it prints and what ``errorxml`` stores.

    The shape is billing's own error envelope (reference/billing.md §5.3; ISPsystem's PHP helper
    ``ISPErrorException::__toString`` writes ``type`` and ``object`` attributes and a ``msg``).

    Example:
        >>> from cloudkit.billing import ModuleError, module_error_xml
        >>> module_error_xml(ModuleError(type="exist", object="server", message="vm-1 & co exists"))
        '<doc><error type="exist" object="server"><msg>vm-1 &amp; co exists</msg></error></doc>'
    """
    obj = f" object={quoteattr(error.object)}" if error.object else ""
    msg = f"<msg>{escape(error.message)}</msg>" if error.message else ""
    return f"<doc><error type={quoteattr(error.type)}{obj}>{msg}</error></doc>"


def task_type_of(doc: Doc) -> str | None:
    """The staff task type ``task.gettype`` answered (``doc.task_type``), or None when it has none.

    ISPsystem's example module opens no task when the type is empty.

    Example:
        >>> task_type_of({"task_type": {"$": "3"}}), task_type_of({"task_type": {}})
        ('3', None)
    """
    return text_of(doc.get("task_type")) or None


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


_SECRET_FIELDS = ("pass", "auth", "key", "token", "secret", "confirm")


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


@attrs.frozen
class Page:
    """One page of a list reply: its rows and what the reply says about paging.

    ``total`` is ``p_elems`` (rows across all pages), ``number`` is ``p_num`` (the page the server
    answered) and ``size`` is ``p_cnt`` (the page size it reports); each is None when the reply does
    not carry it (or carries no plain number).

    Example:
        >>> page = page_of({"p_elems": {"$": "12"}, "p_num": {"$": "1"}, "elem": [{"id": {"$": "1"}}]})
        >>> len(page.rows), page.total, page.number, page.size
        (1, 12, 1, None)
    """

    rows: list[Row]
    total: int | None
    number: int | None
    size: int | None


def page_of(doc: Doc, *, operation: str | None = None) -> Page:
    """The rows of a list reply with its ``p_elems``, ``p_num`` and ``p_cnt``."""
    return Page(
        rows=rows_of(doc, operation=operation),
        total=total_rows(doc),
        number=_digits(text_of(doc.get("p_num"))),
        size=_digits(text_of(doc.get("p_cnt"))),
    )


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


# ------------------------------------------------------------------------------------------ rows -> models
# A row is first read into the text of each model field (the wire columns, aliases and defaults below),
# then structured into its model by one cattrs converter built at import. cattrs' per-field errors become
# problems naming the row and the wire column: "$.doc.elem[3].balance: expected an amount, got 'abc'".
def _structure_integer(raw: object, _: type) -> int:
    if type(raw) is str and raw.isdigit() and raw.isascii():  # the common case, "42"
        return int(raw)
    text = str(raw).strip()
    number = _digits(text.removeprefix("-"))
    if number is None:
        raise ValueError("expected an integer")
    return -number if text.startswith("-") else number


def _structure_text(raw: object, _: type) -> str:
    return raw if type(raw) is str else str(raw)  # cells are text already: no str() call per cell


def _structure_money(raw: object, _: type) -> Decimal:
    try:
        return parse_money(str(raw))
    except (ValueError, InvalidOperation):
        raise ValueError("expected an amount") from None


def _structure_date(raw: object, _: object) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        raise ValueError("expected a date") from None


def _structure_moment(raw: object, _: object) -> dt.datetime | None:
    """A ``YYYY-MM-DD HH:MM:SS`` cell as an aware UTC datetime; ``None`` for a date alone or nothing.

    assumption: billing writes its times in UTC without an offset (an offset, if present, is honoured).
    """
    text = str(raw).strip() if raw is not None else ""
    if len(text) <= _DATE_ONLY:
        if text:
            _structure_date(text, None)  # a date alone must still be a date
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected a date and time") from None
    if moment.tzinfo is None:  # assumption: billing's times without an offset are UTC
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


_DATE_ONLY = len("YYYY-MM-DD")


def _structure_optional_integer(raw: object, _: object) -> int | None:
    """An id cell that may be absent or empty (``None``)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return _structure_integer(raw, int)


def _structure_optional_money(raw: object, _: object) -> Decimal | None:
    """An amount cell that may be absent or empty (``None``: billing sets no value)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return _structure_money(raw, Decimal)


_SERVICE_WORDS = {  # the first word that starts the text wins: the client's suspension before "suspended"
    "ordered": ServiceStatus.ORDERED,
    "active": ServiceStatus.ACTIVE,
    "suspended (by client)": ServiceStatus.SUSPENDED_BY_CLIENT,
    "suspended by client": ServiceStatus.SUSPENDED_BY_CLIENT,
    "suspended": ServiceStatus.SUSPENDED,
    "deleted": ServiceStatus.DELETED,
    "in progress": ServiceStatus.IN_PROGRESS,
}


def _structure_service_status(raw: object, _: type) -> ServiceStatus:
    """A status code, or the UI's English word (assumption: both are seen)."""
    text = str(raw).strip()
    code = _digits(text)
    if code is not None and code in ServiceStatus._value2member_map_:
        return ServiceStatus(code)
    lowered = text.lower()
    for word, status in _SERVICE_WORDS.items():
        if code is None and lowered.startswith(word):
            return status
    raise ValueError("unknown service status")


_FLAG_WORDS = {"on": True, "yes": True, "1": True, "off": False, "no": False, "0": False, "": False}


def _structure_flag(raw: object, _: type) -> bool:
    """A check-box cell: ``on``/``off`` (``yes``/``no`` and ``1``/``0`` tolerated)."""
    flag = _FLAG_WORDS.get(str(raw).strip().lower())
    if flag is None:
        raise ValueError("expected on or off")
    return flag


def _enum_hook(enum: type[PaymentStatus | TicketStatus], what: str) -> Callable[[object, type], Any]:
    def structure(raw: object, _: type) -> Any:
        code = _structure_integer(raw, int)
        if code not in enum._value2member_map_:
            raise ValueError(f"unknown {what}")
        return enum(code)

    return structure


def _row_converter(*, detailed: bool) -> cattrs.Converter:
    """Cloudkit's converter with the row hooks; ``detailed``: per-field errors (slower, for reporting)."""
    converter = make_converter() if detailed else cattrs.Converter(detailed_validation=False)
    converter.register_structure_hook(int, _structure_integer)
    converter.register_structure_hook(str, _structure_text)
    converter.register_structure_hook(bool, _structure_flag)
    converter.register_structure_hook(Decimal, _structure_money)
    converter.register_structure_hook_func(lambda t: t == (dt.date | None), _structure_date)
    converter.register_structure_hook_func(lambda t: t == (dt.datetime | None), _structure_moment)
    converter.register_structure_hook_func(lambda t: t == (int | None), _structure_optional_integer)
    converter.register_structure_hook_func(lambda t: t == (Decimal | None), _structure_optional_money)
    converter.register_structure_hook(ServiceStatus, _structure_service_status)
    converter.register_structure_hook(PaymentStatus, _enum_hook(PaymentStatus, "payment status"))
    converter.register_structure_hook(TicketStatus, _enum_hook(TicketStatus, "ticket status"))
    return converter


# Rows go through the fast converter; only a row that fails is structured again by the detailed one,
# which names every bad field.
_ROWS_FAST = _row_converter(detailed=False)
_ROWS = _row_converter(detailed=True)


_REQUIRED = object()  # a column default meaning "no default: the row must have it"
_Columns = Mapping[str, tuple[tuple[str, ...], object]]


class RowDecoder(Generic[T]):
    """Decodes one kind of row: which wire columns feed which model field, then cattrs.

    ``columns`` maps each model field to its wire columns (the first with text wins) and a default for
    when none has any. ``pick`` returns one field of the model instead of the model.
    """

    __slots__ = ("_fast", "_plan", "_structure", "columns", "model", "pick")

    def __init__(self, model: type[Any], columns: _Columns, *, pick: str | None = None) -> None:
        """Describe the row; the structure function is cattrs', looked up once."""
        self.model = model
        self.columns = columns
        self.pick = pick
        self._structure = _ROWS.get_structure_hook(model)
        self._fast = _ROWS_FAST.get_structure_hook(model)
        self._plan = tuple(
            (field, names[0], names[1:], default) for field, (names, default) in columns.items()
        )

    def decode(self, row: Row, path: str) -> T:
        """The model of ``row``; ``ValueError`` listing every problem (``path.column: what``)."""
        cells: dict[str, Any] = {}
        missing: list[str] = []
        for field, first, others, default in self._plan:
            text = _cell_text(row.get(first))
            if others and not text:
                text = next((t for t in map(_cell_text, map(row.get, others)) if t), text)
            if text is not None:
                cells[field] = text
            elif default is _REQUIRED:
                missing.append(f"{path}.{first}: missing")
            else:
                cells[field] = default
        if missing:
            raise ValueError("; ".join(missing))
        try:
            value = self._fast(cells, self.model)
        except Exception:  # noqa: BLE001 - any failure: structure again, naming every bad field
            try:
                value = self._structure(cells, self.model)
            except cattrs.ClassValidationError as group:
                raise ValueError("; ".join(self._problems(group, row, cells, path))) from None
        return cast("T", getattr(value, self.pick) if self.pick else value)

    def _problems(
        self, group: cattrs.ClassValidationError, row: Row, cells: Mapping[str, Any], path: str
    ) -> list[str]:
        noted, other = group.group_exceptions()
        problems = [f"{path}: {exc}" for exc in other]
        for exc, note in noted:
            names = self.columns[note.name][0]
            column = next((n for n in names if _cell_text(row.get(n))), names[0])
            problems.append(f"{path}.{column}: {exc}, got {cells.get(note.name)!r}")
        return problems


def _cell_text(node: Any) -> str | None:
    """A cell's text; a money cell's ``$orig`` (the unformatted amount) when it has one."""
    if type(node) is dict:
        orig = node.get("$orig")
        if type(orig) is str:
            return orig
        value = node.get("$")
        if type(value) is str:
            return value
    if node is None:
        return None
    node = _quirks.unwrap(node)
    if isinstance(node, dict) and isinstance(node.get("$orig"), str):
        return str(node["$orig"])
    return text_of(node)


def _c(*names: str, default: object = _REQUIRED) -> tuple[tuple[str, ...], object]:
    return names, default


@attrs.frozen
class _Balance:
    balance: Decimal


account: RowDecoder[Account] = RowDecoder(
    # the B6 reference lists the account list's id column as "elid"
    Account,
    {
        "id": _c("id", "elid"),
        "name": _c("name"),
        "balance": _c("balance"),
        # assumption: the client's credit limit is the list's "credit_limit" column; absent or empty: none
        "credit_limit": _c("credit_limit", default=None),
    },
)
balance: RowDecoder[Decimal] = RowDecoder(_Balance, {"balance": _c("balance")}, pick="balance")
payment: RowDecoder[Payment] = RowDecoder(
    # W2: the amount column is "amount" or "subaccountamount_iso"
    Payment,
    {
        "id": _c("id"),
        "amount": _c("amount", "subaccountamount_iso"),
        "status": _c("status"),
        "created": _c("create_date", default=""),
        # assumption: a promised payment's due date is the "promise_until" column (YYYY-MM-DD)
        "promised_until": _c("promise_until", default=None),
        # assumption: an admin's rows carry the owner's id as "account_id" next to its name ("account")
        "account_id": _c("account_id", default=None),
    },
)
expense: RowDecoder[Expense] = RowDecoder(
    Expense,
    {
        "id": _c("id"),
        "amount": _c("amount"),
        "unpaid": _c("notpayd", default="0"),
        "info": _c("info", default=""),
        "created": _c("create_date", default=""),
        "created_at": _c("create_date", default=None),  # when the cell has the time of day too
        "account_id": _c("account_id", default=None),  # assumption: as for payments
    },
)
invoice: RowDecoder[Invoice] = RowDecoder(
    Invoice,
    {
        "id": _c("id"),
        "number": _c("number", "id"),  # an invoice without a number is shown by its id
        "amount": _c("amount"),
        "status": _c("status", default=""),
        "created": _c("create_date", default=""),
    },
)
ticket: RowDecoder[Ticket] = RowDecoder(
    Ticket, {"id": _c("id"), "subject": _c("name"), "status": _c("tstatus", default="0")}
)
ticket_message: RowDecoder[TicketMessage] = RowDecoder(
    TicketMessage,
    {
        "id": _c("id"),
        "text": _c("message"),
        "author": _c("message_user", "user", default=""),
        "posted": _c("date_post", default=None),
    },
)
service: RowDecoder[Service] = RowDecoder(
    Service,
    {
        "id": _c("id"),
        "name": _c("name"),
        "status": _c("status"),
        # assumption: the admin list carries the owner's id as "account_id" next to its name
        "account_id": _c("account_id", default=None),
    },
)
running_operation: RowDecoder[RunningOperation] = RowDecoder(
    RunningOperation,
    {
        "id": _c("id"),
        "service_id": _c("item"),
        "operation": _c("name", default=""),
        "attempts": _c("trycount", default="0"),
        # assumption: the stored error is the "errorxml" column and the manual switch a "manual" on/off
        # column; the B6 list names neither (its columns: id, desc, item, ..., trycount, task, status).
        "error_xml": _c("errorxml", default=None),
        "manual": _c("manual", default="off"),
    },
)
staff_task: RowDecoder[StaffTask] = RowDecoder(
    # assumption: columns of the staff task list (no public reference lists them)
    StaffTask,
    {
        "id": _c("id"),
        "service_id": _c("item"),
        "running_operation": _c("runningoperation", default=None),
        "type": _c("type"),
    },
)


def decode_rows(rows: Sequence[Row], decoder: RowDecoder[T], *, operation: str) -> list[T]:
    """Decode every row; collect the problems of all rows into one :class:`ResponseDecodeError`."""
    out: list[T] = []
    problems: list[str] = []
    for i, row in enumerate(rows):
        try:
            out.append(decoder.decode(row, f"$.doc.elem[{i}]"))
        except ValueError as exc:
            problems.extend(str(exc).split("; "))
    if problems:
        raise ResponseDecodeError(
            f"billing {operation} reply does not match the model",
            problems=tuple(problems),
            system=SYSTEM,
            operation=operation,
        )
    return out


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
