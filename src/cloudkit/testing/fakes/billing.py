"""A stateful BILLmanager-style billing server on loopback, for tests, ``cloudkit sim`` and demos.

`BillingFake` serves the wire fixed in ``docs/billing-wire.md``: one ``/billmgr`` endpoint, ``func=``
dispatch, ``{"doc": ...}`` JSON replies, errors at HTTP 200, three ways to authenticate, ``su``
scoping, the ``sok`` rule, paged lists, money, tickets and services with running operations. It also
reproduces the upstream oddities cloudkit exists to handle: a user-level form called by an admin
without ``su`` answers ``ok`` and changes nothing, a form without ``sok`` reads instead of writing,
and (optionally) every single child object arrives wrapped in a one-element list. Faults (5xx
answers, dropped connections, held answers, swallowed effects, error envelopes) are injected per
call. Guesses where the public sources are silent are marked ``# assumption:``.

Example:
    >>> import httpx
    >>> with BillingFake() as fake, httpx.Client(trust_env=False) as http:
    ...     reply = http.post(fake.url, data={"func": "subaccount", "authinfo": "alice:alice-pass"})
    >>> reply.json()["doc"]["elem"][0]["balance"]
    {'$': '150.00 EUR', '$orig': '150.00'}
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import secrets
import threading
import time
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, urlsplit

from cloudkit.testing.fakes._loopback import LoopbackServer, LoopbackService, QuietHandler, SlowGate

__all__ = [
    "AuthMode",
    "BillingFake",
    "FakeAttachment",
    "FakeExpense",
    "FakeMessage",
    "FakeOperation",
    "FakePayment",
    "FakeTicket",
    "FakeUser",
    "Fault",
    "FaultKind",
    "RecordedCall",
]

_Doc = dict[str, Any]
_Cell = dict[str, str]
_Row = dict[str, _Cell]
AuthMode = Literal["session", "authinfo", "key", "none"]
FaultKind = Literal["server_error", "drop_connection", "slow", "swallow_effect", "error"]

_PATH = "/billmgr"
_ADMIN_LEVEL = 28
_USER_LEVEL = 16
_ASSIGNMENT_OFFSET = 10000  # assumption: a staff assignment id is the ticket id + 10000
_SECRET_PARAMS = frozenset({"password", "authinfo", "auth", "passwd", "key"})
# Parameters that steer the request rather than fill a form: never echoed, never list filters.
_CONTROL_PARAMS = _SECRET_PARAMS | {
    "func",
    "out",
    "lang",
    "theme",
    "su",
    "sok",
    "clicked_button",
    "sv_field",
    "p_cnt",
    "p_num",
    "filter",
    "elid",
    "plid",
}

# Item (service) statuses. assumption: the numeric codes (the docs list only the UI words).
_ORDERED, _ACTIVE, _SUSPENDED, _DELETED, _IN_PROGRESS = 1, 2, 3, 4, 5
# Payment statuses (B6 payments-payment): 1 new, 3 promised payment, 4 credited.
_PAYMENT_NEW, _PAYMENT_PROMISED, _PAYMENT_CREDITED = 1, 3, 4
# Ticket statuses (B6 clientticket): 0 new, 1 under review, 2 awaiting response.
_TICKET_NEW, _TICKET_UNDER_REVIEW, _TICKET_AWAITING = 0, 1, 2
_INVOICE_NEW, _INVOICE_PAID = "1", "2"  # assumption: invoice_status codes
_OPERATION_RUNNING = 1  # assumption: the runningoperation status code of a queued operation
_OPERATION_TARGET = {"open": _ACTIVE, "suspend": _SUSPENDED, "resume": _ACTIVE, "close": _DELETED}
_ID_BASES = {
    "user": 1,
    "account": 1,
    "payment": 101,
    "invoice": 201,
    "item": 301,
    "expense": 401,
    "ticket": 501,
    "message": 601,
    "operation": 701,
}
_CENT = Decimal("0.01")


# ================================================================================== public records
@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One call the fake received, with every secret parameter replaced by ``"***"``.

    Example:
        >>> call = RecordedCall(func="auth", su=None, auth_mode="none", params={}, method="POST")
        >>> call.func, call.auth_mode
        ('auth', 'none')
    """

    func: str
    su: str | None
    auth_mode: AuthMode
    params: Mapping[str, str]
    method: str


@dataclass(frozen=True, slots=True)
class FakeUser:
    """A user of the fake billing (the admin has no account).

    Example:
        >>> BillingFake().add_user("carol", "carol-pass", account_name="Carol SA").user_id
        4
    """

    user_id: int
    login: str
    level: int
    account_id: int | None
    account_name: str | None


@dataclass(frozen=True, slots=True)
class FakePayment:
    """A payment row of the fake billing.

    Example:
        >>> BillingFake().payments_of("alice")
        []
    """

    payment_id: int
    number: str
    amount: Decimal
    status: int
    create_date: str


@dataclass(frozen=True, slots=True)
class FakeExpense:
    """A charge (``expense``) row; ``notpayd`` above zero is debt.

    Example:
        >>> BillingFake().expenses_of("bob")[0].notpayd
        Decimal('30.00')
    """

    expense_id: int
    amount: Decimal
    notpayd: Decimal
    info: str
    create_date: str


@dataclass(frozen=True, slots=True)
class FakeAttachment:
    """A file sent with a ticket message as a multipart ``file_N`` part.

    Example:
        >>> FakeAttachment(field="file_1", filename="a.txt", content_type="text/plain", data=b"hi").data
        b'hi'
    """

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class FakeMessage:
    """A message of a ticket.

    Example:
        >>> FakeMessage(message_id=601, text="help", user="alice", date_post="", attachments=()).user
        'alice'
    """

    message_id: int
    text: str
    user: str
    date_post: str
    attachments: tuple[FakeAttachment, ...]


@dataclass(frozen=True, slots=True)
class FakeTicket:
    """A support ticket with its messages, oldest first.

    Example:
        >>> BillingFake().tickets_of("alice")
        []
    """

    ticket_id: int
    name: str
    tstatus: int
    messages: tuple[FakeMessage, ...]


@dataclass(frozen=True, slots=True)
class FakeOperation:
    """A running operation waiting for the processing module (``service.post<op>``).

    Example:
        >>> BillingFake().running_operations()
        []
    """

    operation_id: int
    item_id: int
    name: str
    trycount: int


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault for `BillingFake.inject`; build one with the class methods.

    Example:
        >>> Fault.server_error(status=503).status
        503
        >>> Fault.error("not_enough_money", "insufficient funds").kind
        'error'
    """

    kind: FaultKind
    status: int = 200
    body: str = ""
    hold: float = 0.0
    error_type: str = ""
    error_msg: str = ""
    error_object: str | None = None
    error_params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def server_error(
        cls, *, status: int = 502, body: str = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    ) -> Fault:
        """A non-200 answer with a plain text or HTML body (a proxy or a crashed panel).

        Example:
            >>> Fault.server_error(status=500, body="oops").body
            'oops'
        """
        if not 400 <= status < 600:  # noqa: PLR2004 - the HTTP error range
            raise ValueError(f"status must be an HTTP error code, got {status}")
        return cls(kind="server_error", status=status, body=body)

    @classmethod
    def drop_connection(cls) -> Fault:
        """Close the socket without any answer.

        Example:
            >>> Fault.drop_connection().kind
            'drop_connection'
        """
        return cls(kind="drop_connection")

    @classmethod
    def slow(cls, *, timeout: float = 5.0) -> Fault:
        """Hold the answer until `BillingFake.release_slow` or ``timeout`` seconds, then answer.

        Example:
            >>> Fault.slow().hold
            5.0
        """
        return cls(kind="slow", hold=timeout)

    @classmethod
    def swallow_effect(cls) -> Fault:
        """Answer exactly as a success would (with an ``id`` for creates) but change nothing.

        Only a call that writes (an action, or a form with ``sok``) takes this fault; reads such as
        the read-back before a write pass it by, since there is no effect to swallow.

        Example:
            >>> Fault.swallow_effect().kind
            'swallow_effect'
        """
        return cls(kind="swallow_effect")

    @classmethod
    def error(
        cls,
        type: str,  # noqa: A002 - the public name the wire contract uses
        msg: str,
        obj: str | None = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> Fault:
        """A ``doc.error`` envelope at HTTP 200, e.g. ``not_enough_money`` with its params.

        Example:
            >>> Fault.error("value", "bad name", "name").error_object
            'name'
        """
        pairs = tuple((params or {}).items())
        return cls(kind="error", error_type=type, error_msg=msg, error_object=obj, error_params=pairs)


# ================================================================================== state model
@dataclass(slots=True)
class _Account:
    id: int
    name: str
    balance: Decimal
    currency: str


@dataclass(slots=True)
class _User:
    id: int
    login: str
    password: str = field(repr=False)
    level: int
    account_id: int | None


@dataclass(slots=True)
class _Item:
    id: int
    account_id: int
    name: str
    status: int


@dataclass(slots=True)
class _Expense:
    id: int
    account_id: int
    amount: Decimal
    notpayd: Decimal
    info: str
    create_date: str


@dataclass(slots=True)
class _Payment:
    id: int
    account_id: int
    amount: Decimal
    status: int
    create_date: str


@dataclass(slots=True)
class _Invoice:
    id: int
    account_id: int
    amount: Decimal
    status: str
    create_date: str


@dataclass(slots=True)
class _Ticket:
    id: int
    account_id: int
    name: str
    tstatus: int
    messages: list[FakeMessage]


@dataclass(slots=True)
class _Operation:
    id: int
    item: int
    name: str
    trycount: int = 0


@dataclass(slots=True)
class _Session:
    sid: str = field(repr=False)
    user_id: int
    last_seen: float
    parent: str | None = field(default=None, repr=False)
    expired: bool = False


@dataclass(slots=True)
class _State:
    counters: dict[str, int] = field(default_factory=lambda: dict(_ID_BASES))
    accounts: dict[int, _Account] = field(default_factory=dict)
    users: dict[int, _User] = field(default_factory=dict)
    items: dict[int, _Item] = field(default_factory=dict)
    expenses: dict[int, _Expense] = field(default_factory=dict)
    payments: dict[int, _Payment] = field(default_factory=dict)
    invoices: dict[int, _Invoice] = field(default_factory=dict)
    tickets: dict[int, _Ticket] = field(default_factory=dict)
    operations: dict[int, _Operation] = field(default_factory=dict)
    sessions: dict[str, _Session] = field(default_factory=dict)
    keys: dict[str, tuple[int, float]] = field(default_factory=dict)

    def next_id(self, table: str) -> int:
        value = self.counters[table]
        self.counters[table] = value + 1
        return value

    def user_by_login(self, login: str) -> _User | None:
        return next((u for u in self.users.values() if u.login == login), None)

    def add_user(self, login: str, password: str, level: int, account: _Account | None) -> _User:
        user = _User(self.next_id("user"), login, password, level, account.id if account else None)
        self.users[user.id] = user
        return user

    def add_account(self, name: str, balance: Decimal, currency: str) -> _Account:
        account = _Account(self.next_id("account"), name, _cents(balance), currency)
        self.accounts[account.id] = account
        return account

    def credit(self, account: _Account, amount: Decimal) -> None:
        """An incoming credited payment pays off debt (oldest charge first), then raises the balance."""
        left = amount
        for expense in sorted(self.expenses.values(), key=lambda e: e.id):
            if expense.account_id == account.id and expense.notpayd > 0 and left > 0:
                paid = min(expense.notpayd, left)
                expense.notpayd -= paid
                left -= paid
        account.balance += left

    def complete(self, operation: _Operation) -> None:
        self.items[operation.item].status = _OPERATION_TARGET[operation.name]
        del self.operations[operation.id]


def _seeded_state(admin_login: str, admin_password: str, *, seed: bool) -> _State:
    state = _State()
    state.add_user(admin_login, admin_password, _ADMIN_LEVEL, None)
    if not seed:
        return state
    alice_acc = state.add_account("Alice Ltd", Decimal(150), "EUR")
    bob_acc = state.add_account("Bob GmbH", Decimal(0), "EUR")
    state.add_user("alice", "alice-pass", _USER_LEVEL, alice_acc)
    state.add_user("bob", "bob-pass", _USER_LEVEL, bob_acc)
    for account, name, status in (
        (alice_acc, "vm-1", _ACTIVE),
        (alice_acc, "vm-2", _ACTIVE),
        (bob_acc, "vm-3", _SUSPENDED),
    ):
        item = _Item(state.next_id("item"), account.id, name, status)
        state.items[item.id] = item
    invoice = _Invoice(state.next_id("invoice"), alice_acc.id, Decimal("25.00"), _INVOICE_PAID, "2024-05-01")
    state.invoices[invoice.id] = invoice
    for account, amount, notpayd, info in (
        (alice_acc, Decimal("25.00"), Decimal(0), "vm-1 daily charge"),
        (bob_acc, Decimal("30.00"), Decimal("30.00"), "vm-3 daily charge"),
    ):
        expense = _Expense(state.next_id("expense"), account.id, amount, notpayd, info, "2024-05-01")
        state.expenses[expense.id] = expense
    return state


# ================================================================================== rendering
def _text(value: object) -> _Cell:
    return {"$": str(value)}


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT)


def _money(amount: Decimal, currency: str) -> _Cell:
    orig = str(_cents(amount))
    return {"$": f"{orig} {currency}", "$orig": orig}


def _doc_ok(redirect: str | None = None) -> _Doc:
    return {"ok": _text(redirect) if redirect else {}}


def _doc_error(err: _WireError) -> _Doc:
    body: dict[str, Any] = {"$type": err.type}
    if err.obj is not None:
        body["$object"] = err.obj
    if err.value is not None:
        body["$value"] = err.value
    if err.params:
        body["param"] = [{"$name": name, "$": value} for name, value in err.params]
    body["msg"] = _text(err.msg)
    return {"error": body}


def _wrap_children(node: Mapping[str, Any]) -> _Doc:
    """Every child object becomes a one-element list, at every depth (``"id": [{"$": "5"}]``)."""
    out: _Doc = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out[key] = [_wrap_children(value)]
        elif isinstance(value, list):
            out[key] = [_wrap_children(v) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def _today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


class _WireError(Exception):
    """A ``doc.error`` answer; the message must never carry a password or a session id."""

    def __init__(
        self,
        type_: str,
        msg: str,
        *,
        obj: str | None = None,
        value: str | None = None,
        params: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(msg)
        self.type = type_
        self.msg = msg
        self.obj = obj
        self.value = value
        self.params = tuple(params)


# ================================================================================== one call
@dataclass(frozen=True, slots=True)
class _Options:
    session_idle_timeout: float
    clock: Callable[[], float]
    complete_operations: bool


@dataclass(slots=True)
class _Call:
    """The parsed request plus who is acting; handlers read parameters through it."""

    state: _State
    options: _Options
    func: str
    params: dict[str, str]
    files: list[FakeAttachment]
    principal: _User
    actor: _User
    session: _Session | None

    @property
    def sok(self) -> bool:
        return bool(self.params.get("sok"))

    @property
    def is_admin(self) -> bool:
        return self.actor.level >= _ADMIN_LEVEL

    def scope(self) -> int | None:
        """The actor's account id, or None for the admin (who sees every account)."""
        return None if self.is_admin else self.actor.account_id

    def account(self) -> _Account:
        assert self.actor.account_id is not None  # noqa: S101 - user-level handlers run for users only
        return self.state.accounts[self.actor.account_id]

    def required(self, name: str) -> str:
        value = self.params.get(name, "").strip()
        if not value:
            raise _WireError("missed", f"the field '{name}' is required", obj=name)
        return value

    def ids(self, name: str = "elid") -> list[int]:
        """An id list joined by ", " (a bare "," is tolerated)."""
        raw = self.required(name)
        try:
            return [int(part) for part in re.split(r",\s*", raw) if part.strip()]
        except ValueError:
            raise _WireError("value", f"invalid value of '{name}'", obj=name, value=raw) from None

    def one_id(self, name: str = "elid") -> int:
        found = self.ids(name)
        if len(found) != 1:
            raise _WireError("value", f"'{name}' must name one element", obj=name)
        return found[0]

    def amount(self, name: str = "amount") -> Decimal:
        raw = self.required(name)
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal(0)
        if not value.is_finite() or value <= 0:
            raise _WireError("value", f"invalid value of '{name}'", obj=name, value=raw)
        return _cents(value)

    def form(self, fields: Mapping[str, Any]) -> _Doc:
        """A form view: the echoed parameters overlaid with the object's own fields. No ok."""
        doc: _Doc = {k: _text(v) for k, v in self.params.items() if k not in _CONTROL_PARAMS}
        if "elid" in self.params:
            doc["elid"] = _text(self.params["elid"])
        doc.update(fields)
        return doc

    def ok(self, target: str | None = None) -> _Doc:
        """``ok``; with ``clicked_button=ok_get`` it carries ``target`` (a follow-up query)."""
        return _doc_ok(target if self.params.get("clicked_button") == "ok_get" else None)

    def created(self, new_id: int, func: str | None = None) -> _Doc:
        doc = self.ok(f"func={func or self.func}&elid={new_id}")
        doc["id"] = _text(new_id)
        return doc

    def new_session(self, user: _User, parent: str | None = None) -> str:
        sid = secrets.token_hex(16)
        self.state.sessions[sid] = _Session(sid, user.id, self.options.clock(), parent)
        return sid


def _list(call: _Call, rows: list[_Row]) -> _Doc:
    """A list reply: filter (``filter=on``), count (``p_elems``), page (``p_cnt``/``p_num``)."""
    params = call.params
    if params.get("filter") == "on":
        criteria = {k: v for k, v in params.items() if k not in _CONTROL_PARAMS and v}
        # assumption: a filter on a column the list does not have is ignored, as the panel ignores
        # unknown parameters; a cell matches on its text or on its raw "$orig" value.
        rows = [r for r in rows if all(_matches(r, k, v) for k, v in criteria.items())]
    doc: _Doc = {"p_elems": _text(len(rows))}
    if params.get("p_cnt"):
        size, page = _positive(params, "p_cnt", "0"), _positive(params, "p_num", "1")
        rows = rows[(page - 1) * size : page * size]
        doc["p_cnt"], doc["p_num"] = _text(size), _text(page)
    if rows:  # assumption: like the XML it maps, an empty list has no "elem" key at all
        doc["elem"] = rows
    return doc


def _matches(row: _Row, column: str, wanted: str) -> bool:
    return column not in row or wanted in (row[column]["$"], row[column].get("$orig"))


def _positive(params: Mapping[str, str], name: str, default: str) -> int:
    raw = params.get(name) or default
    if not raw.isdigit() or int(raw) < 1:
        raise _WireError("value", f"invalid value of '{name}'", obj=name, value=raw)
    return int(raw)


def _item(call: _Call, item_id: int) -> _Item:
    item = call.state.items.get(item_id)
    if item is None or item.status == _DELETED or call.scope() not in (None, item.account_id):
        raise _WireError("missed", f"service {item_id} not found", obj="elid", value=str(item_id))
    return item


def _ticket(call: _Call, ticket_id: int) -> _Ticket:
    ticket = call.state.tickets.get(ticket_id)
    if ticket is None or call.scope() not in (None, ticket.account_id):
        raise _WireError("missed", f"ticket {ticket_id} not found", obj="elid", value=str(ticket_id))
    return ticket


def _with_account(call: _Call, row: _Row, account_id: int) -> _Row:
    if call.is_admin:
        row["account"] = _text(call.state.accounts[account_id].name)
    return row


def _visible(call: _Call, account_id: int) -> bool:
    return call.scope() in (None, account_id)


# ================================================================================== handlers: money
def _h_account(call: _Call) -> _Doc:
    rows = [
        {"id": _text(a.id), "name": _text(a.name), "balance": _money(a.balance, a.currency)}
        for a in call.state.accounts.values()
    ]
    return _list(call, rows)


def _h_subaccount(call: _Call) -> _Doc:
    # assumption: one sub-account per client, with the account's id
    acc = call.account()
    row = {"id": _text(acc.id), "balance": _money(acc.balance, acc.currency), "currency": _text(acc.currency)}
    return _list(call, [row])


def _document_rows(
    call: _Call, records: Iterable[_Payment | _Invoice], *, amount_column: str = "amount"
) -> _Doc:
    """Payments and invoices share their columns: id, number, create_date, amount, status.

    The B6 reference names a payment's amount column ``subaccountamount_iso`` ("amount credited to
    the client's account"); invoices keep ``amount`` (assumption).
    """
    rows = []
    for r in records:
        if _visible(call, r.account_id):
            currency = call.state.accounts[r.account_id].currency
            row = {
                "id": _text(r.id),
                "number": _text(r.id),
                "create_date": _text(r.create_date),
                amount_column: _money(r.amount, currency),
                "status": _text(r.status),
            }
            rows.append(_with_account(call, row, r.account_id))
    return _list(call, rows)


def _h_payment(call: _Call) -> _Doc:
    return _document_rows(call, call.state.payments.values(), amount_column="subaccountamount_iso")


def _h_payment_add(call: _Call) -> _Doc:
    if not call.sok:
        return call.form({})
    amount = call.amount()
    acc = call.account()
    promised = call.params.get("promised") == "on"
    payment = _Payment(
        call.state.next_id("payment"),
        acc.id,
        amount,
        _PAYMENT_PROMISED if promised else _PAYMENT_NEW,
        _today(),
    )
    call.state.payments[payment.id] = payment
    if promised:  # a promised payment is credited at once
        call.state.credit(acc, amount)
    return call.created(payment.id, "payment.edit")


def _h_expense(call: _Call) -> _Doc:
    rows = []
    for e in call.state.expenses.values():
        if _visible(call, e.account_id):
            currency = call.state.accounts[e.account_id].currency
            row = {
                "id": _text(e.id),
                "create_date": _text(e.create_date),
                "amount": _money(e.amount, currency),
                "notpayd": _money(e.notpayd, currency),
                "info": _text(e.info),
            }
            rows.append(_with_account(call, row, e.account_id))
    return _list(call, rows)


def _h_invoice(call: _Call) -> _Doc:
    return _document_rows(call, call.state.invoices.values())


def _h_invoice_generate(call: _Call) -> _Doc:
    if not call.sok:
        return call.form({})
    # assumption: the client is named by `account` (its id); the amount defaults to the unpaid charges
    account_id = call.one_id("account")
    if account_id not in call.state.accounts:
        raise _WireError("missed", f"client {account_id} not found", obj="account")
    if call.params.get("amount"):
        amount = call.amount()
    else:
        amount = sum(
            (e.notpayd for e in call.state.expenses.values() if e.account_id == account_id), Decimal(0)
        )
    invoice = _Invoice(call.state.next_id("invoice"), account_id, _cents(amount), _INVOICE_NEW, _today())
    call.state.invoices[invoice.id] = invoice
    return call.created(invoice.id, "invoice.edit")


# ================================================================================== handlers: tickets
def _messages(ticket: _Ticket) -> list[_Doc]:
    rows = [
        {
            "id": _text(m.message_id),
            "message": _text(m.text),
            "message_user": _text(m.user),  # B6 ticket.message / ticket_all.message column name
            "date_post": _text(m.date_post),
        }
        for m in ticket.messages
    ]
    mlist: _Doc = {"$name": "mlist"}
    if rows:
        mlist["elem"] = rows
    return [mlist]


def _ticket_view(call: _Call, ticket: _Ticket) -> _Doc:
    fields: _Doc = {
        "id": _text(ticket.id),
        "name": _text(ticket.name),
        "tstatus": _text(ticket.tstatus),
        "list": _messages(ticket),
    }
    if call.is_admin:
        fields["account"] = _text(call.state.accounts[ticket.account_id].name)
    return call.form(fields)


def _post(call: _Call, ticket: _Ticket, tstatus: int) -> None:
    message = FakeMessage(
        call.state.next_id("message"),
        call.required("message"),
        call.principal.login if call.is_admin else call.actor.login,
        _now(),
        tuple(call.files),
    )
    ticket.messages.append(message)
    ticket.tstatus = tstatus


def _h_clientticket(call: _Call) -> _Doc:
    acc = call.account()
    rows = [
        {"id": _text(t.id), "name": _text(t.name), "tstatus": _text(t.tstatus)}
        for t in call.state.tickets.values()
        if t.account_id == acc.id
    ]
    return _list(call, rows)


def _h_clientticket_edit(call: _Call) -> _Doc:
    if call.params.get("elid"):
        ticket = _ticket(call, call.one_id())
        if not call.sok:
            return _ticket_view(call, ticket)
        _post(call, ticket, _TICKET_UNDER_REVIEW)
        return call.ok(f"func=clientticket.edit&elid={ticket.id}")
    if not call.sok:
        return call.form({})
    name = call.required("name")
    call.required("message")
    ticket = _Ticket(call.state.next_id("ticket"), call.account().id, name, _TICKET_NEW, [])
    _post(call, ticket, _TICKET_NEW)
    call.state.tickets[ticket.id] = ticket
    return call.created(ticket.id)


def _h_ticket_all(call: _Call) -> _Doc:
    rows = [
        {
            "id": _text(t.id),
            "name": _text(t.name),
            "tstatus": _text(t.tstatus),
            "account": _text(call.state.accounts[t.account_id].name),
        }
        for t in call.state.tickets.values()
    ]
    return _list(call, rows)


def _h_ticket_all_edit(call: _Call) -> _Doc:
    ticket = _ticket(call, call.one_id())
    if not call.sok:
        return _ticket_view(call, ticket)
    if call.params.get("message"):
        _post(call, ticket, _TICKET_AWAITING)
    return call.ok(f"func=ticket.edit&elid={ticket.id + _ASSIGNMENT_OFFSET}&plid={ticket.id}")


def _h_ticket_edit(call: _Call) -> _Doc:
    assignment = call.one_id()
    ticket_id = call.one_id("plid") if call.params.get("plid") else assignment - _ASSIGNMENT_OFFSET
    if assignment != ticket_id + _ASSIGNMENT_OFFSET:
        raise _WireError("missed", f"assignment {assignment} not found", obj="elid")
    ticket = _ticket(call, ticket_id)
    if not call.sok:
        return _ticket_view(call, ticket)
    _post(call, ticket, _TICKET_AWAITING)
    return call.ok(f"func=ticket.edit&elid={assignment}&plid={ticket.id}")


# ================================================================================== handlers: services
def _h_vds(call: _Call) -> _Doc:
    rows = [
        _with_account(
            call, {"id": _text(i.id), "name": _text(i.name), "status": _text(i.status)}, i.account_id
        )
        for i in call.state.items.values()
        if i.status != _DELETED and _visible(call, i.account_id)
    ]
    return _list(call, rows)


def _vds_operation(name: str) -> Callable[[_Call], _Doc]:
    target = _OPERATION_TARGET[name]

    def handle(call: _Call) -> _Doc:
        items = [_item(call, item_id) for item_id in call.ids()]
        pending = {op.item: op for op in call.state.operations.values()}
        for item in items:  # validate every id before touching any (a group action is all or none)
            if item.id in pending and pending[item.id].name != name:
                raise _WireError(
                    "value", f"service {item.id} has an operation in progress", obj="elid", value=str(item.id)
                )
        for item in items:
            if item.id in pending or item.status == target:
                continue  # already there or already on its way: an idempotent ok
            if call.options.complete_operations:
                item.status = target
            else:
                item.status = _IN_PROGRESS
                op = _Operation(call.state.next_id("operation"), item.id, name)
                call.state.operations[op.id] = op
        return _doc_ok()

    return handle


def _service_post(name: str) -> Callable[[_Call], _Doc]:
    """``service.post<op>``: the processing module reports that ``name`` finished on ``elid``."""

    def handle(call: _Call) -> _Doc:
        for item_id in call.ids():
            item = _item(call, item_id)
            op = next((o for o in call.state.operations.values() if o.item == item.id), None)
            if op is not None and op.name == name:
                call.state.complete(op)
            else:
                item.status = _OPERATION_TARGET[name]
        return _doc_ok()

    return handle


def _h_runningoperation(call: _Call) -> _Doc:
    rows = [
        {
            "id": _text(o.id),
            "item": _text(o.item),
            "name": _text(o.name),
            "trycount": _text(o.trycount),
            "status": _text(_OPERATION_RUNNING),
        }
        for o in call.state.operations.values()
    ]
    return _list(call, rows)


# ================================================================================== handlers: sessions
def _h_su(call: _Call) -> _Doc:
    user_id = call.one_id()
    user = call.state.users.get(user_id)
    if user is None:
        raise _WireError("missed", f"user {user_id} not found", obj="elid", value=str(user_id))
    sid = call.new_session(user, parent=call.session.sid if call.session else None)
    return {"ok": {}, "auth": _text(sid)}


def _h_chlevel(call: _Call) -> _Doc:
    if call.session is not None and call.session.parent is not None:
        del call.state.sessions[call.session.sid]
    return _doc_ok()


def _h_usrparam(call: _Call) -> _Doc:
    """The user's own settings form; with ``passwd`` and ``confirm`` it changes the password.

    assumption: BILLmanager's user settings form is ``usrparam`` with ``passwd``/``confirm`` (the
    COREmanager convention); the public docs do not name it. Changing the password ends every session
    of that user (the field notes: the wrapped billing session dies on password change).
    """
    if not call.sok:
        return call.form({"passwd": ""})
    new = call.required("passwd")
    if call.params.get("confirm", "") != new:
        raise _WireError("value", "The passwords do not match", obj="confirm")
    call.actor.password = new
    for sid, session in list(call.state.sessions.items()):
        if session.user_id == call.actor.id:
            del call.state.sessions[sid]
    return _doc_ok()


def _h_keepalive(call: _Call) -> _Doc:  # noqa: ARG001 - every handler takes the call
    return _doc_ok()


def _h_session_newkey(call: _Call) -> _Doc:
    login = call.required("username")
    key = call.required("key")
    user = call.state.user_by_login(login)
    if user is None:
        raise _WireError("missed", "user not found", obj="username", value=login)
    if len(key) < 16:  # noqa: PLR2004 - the documented minimum key length
        raise _WireError("value", "the key must be at least 16 characters", obj="key")
    call.state.keys[key] = (user.id, call.options.clock())
    return _doc_ok()


# ================================================================================== router
@dataclass(frozen=True, slots=True)
class _Route:
    level: Literal["admin", "user", "both"]
    kind: Literal["list", "form", "action"]
    handler: Callable[[_Call], _Doc]
    creates: str | None = None  # the id table of a create form (for silent-ok and swallowed ids)


_ROUTES: Mapping[str, _Route] = types.MappingProxyType(
    {
        "account": _Route("admin", "list", _h_account),
        "subaccount": _Route("user", "list", _h_subaccount),
        "usrparam": _Route("user", "form", _h_usrparam),
        "payment": _Route("both", "list", _h_payment),
        "payment.add": _Route("user", "form", _h_payment_add, creates="payment"),
        "expense": _Route("both", "list", _h_expense),
        "invoice": _Route("both", "list", _h_invoice),
        "invoice.generate": _Route("admin", "form", _h_invoice_generate, creates="invoice"),
        "clientticket": _Route("user", "list", _h_clientticket),
        "clientticket.edit": _Route("user", "form", _h_clientticket_edit, creates="ticket"),
        "ticket_all": _Route("admin", "list", _h_ticket_all),
        "ticket_all.edit": _Route("admin", "form", _h_ticket_all_edit),
        "ticket.edit": _Route("admin", "form", _h_ticket_edit),
        "vds": _Route("both", "list", _h_vds),
        "vds.suspend": _Route("admin", "action", _vds_operation("suspend")),
        "vds.resume": _Route("admin", "action", _vds_operation("resume")),
        "vds.delete": _Route("admin", "action", _vds_operation("close")),
        "service.postopen": _Route("admin", "action", _service_post("open")),
        "service.postsuspend": _Route("admin", "action", _service_post("suspend")),
        "service.postresume": _Route("admin", "action", _service_post("resume")),
        "service.postclose": _Route("admin", "action", _service_post("close")),
        "runningoperation": _Route("admin", "list", _h_runningoperation),
        "su": _Route("admin", "action", _h_su),
        "chlevel": _Route("both", "action", _h_chlevel),
        "keepalive": _Route("both", "action", _h_keepalive),
        "session.newkey": _Route("admin", "action", _h_session_newkey),
    }
)


def _in_admin_context(route: _Route, call: _Call) -> _Doc:
    """A user-level function run by an admin without su: the silent no-op (``billing.silent-ok``).

    The admin has no account, so lists are empty and forms answer ok (with a plausible, never used
    id for creates) and change nothing.
    """
    if route.kind == "list":
        return _list(call, [])
    if route.kind == "form" and not call.sok:
        return call.form({})
    if route.creates and not call.params.get("elid"):
        return call.created(call.state.next_id(route.creates))
    return _doc_ok()


# ================================================================================== HTTP
@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes
    content_type: str


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], list[FakeAttachment]]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message: Message = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: list[FakeAttachment] = []
    if not message.is_multipart():
        return fields, files
    for part in message.get_payload():
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None or name.startswith("file_"):
            files.append(FakeAttachment(name, filename or name, part.get_content_type(), data))
        else:
            fields[name] = data.decode(part.get_content_charset() or "utf-8", errors="replace")
    return fields, files


class _Handler(QuietHandler):
    def serve(self) -> None:
        if self.command not in {"GET", "POST"}:
            self.send_error(501, "Unsupported method")
            return
        self._serve(self.command)

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        if parts.path != _PATH:
            self._send(_Reply(404, b"404 Not Found\n", "text/plain; charset=utf-8"))
            return
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        files: list[FakeAttachment] = []
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            fields, files = _parse_multipart(content_type, body)
        else:
            fields = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        params.update(fields)  # the body wins over the query string
        try:
            reply = cast("LoopbackServer", self.server).fake._serve(method, params, files)  # noqa: SLF001
        except Exception as exc:
            # A bug in the fake must not pass for a network fault: answer 500 naming it, then let
            # socketserver print the traceback.
            text = f"billing fake internal error: {type(exc).__name__}: {exc}\n"
            self._send(_Reply(500, text.encode(), "text/plain; charset=utf-8"))
            raise
        if reply is None:  # the fault "close the socket without an answer"
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


# ================================================================================== facade
@dataclass(slots=True)
class _ArmedFault:
    fault: Fault
    func: str | None
    remaining: int


class BillingFake(LoopbackService):
    """A BILLmanager-style billing server on ``127.0.0.1`` (an OS-chosen port), seeded and stateful.

    Seed (``seed=True``): the admin (user 1, level 28, no account); ``alice``/``alice-pass`` (user 2,
    account 1 "Alice Ltd", 150.00 EUR, services ``vm-1`` 301 and ``vm-2`` 302 active, invoice 201,
    paid charge 401); ``bob``/``bob-pass`` (user 3, account 2 "Bob GmbH", 0.00 EUR, service ``vm-3``
    303 suspended, unpaid charge 402 of 30.00 EUR). New ids grow from per-table bases.

    Example:
        >>> import httpx
        >>> with BillingFake() as fake, httpx.Client(trust_env=False) as http:
        ...     doc = http.get(fake.url, params={"func": "vds", "authinfo": "admin:secret"}).json()
        >>> doc["doc"]["p_elems"], fake.requests[0].params["authinfo"]
        ({'$': '3'}, '***')
    """

    _what = "billing fake"
    _handler = _Handler
    _url_path = "/billmgr"

    def __init__(
        self,
        *,
        admin_login: str = "admin",
        admin_password: str = "secret",  # noqa: S107 - a fixture credential of a loopback fake
        session_idle_timeout: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        wrap_single_children: bool = False,
        complete_operations: bool = True,
        seed: bool = True,
        port: int = 0,
    ) -> None:
        """Configure the fake; nothing listens until `start`.

        Example:
            >>> BillingFake(seed=False).balance_of("admin")
            Traceback (most recent call last):
            ...
            KeyError: "'admin' has no account"
        """
        self._admin = (admin_login, admin_password)
        self._seed = seed
        self._port = port  # 0: the OS picks a free port
        self._switches = (wrap_single_children, complete_operations)
        self._timeout = session_idle_timeout
        self._clock = clock
        self.wrap_single_children = wrap_single_children
        """Wrap every child object of every reply in a one-element list; `reset` restores it."""
        self.complete_operations = complete_operations
        """Finish service operations at once (else: in progress until completed); `reset` restores it."""
        self._lock = threading.RLock()
        self._state = _seeded_state(admin_login, admin_password, seed=seed)
        self._faults: list[_ArmedFault] = []
        self._slow = SlowGate()
        self._server: LoopbackServer | None = None
        self.requests: list[RecordedCall] = []
        """Every call received, in order, secrets replaced by ``"***"``."""

    # ------------------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Go back to the seeded state and the constructor's switches; forget requests, faults, sessions.

        Example:
            >>> fake = BillingFake()
            >>> _ = fake.add_service("alice", "extra")
            >>> fake.reset()
            >>> fake.service_status(304)
            Traceback (most recent call last):
            ...
            KeyError: 'no service 304'
        """
        with self._lock:
            self._state = _seeded_state(*self._admin, seed=self._seed)
            self.wrap_single_children, self.complete_operations = self._switches
            self._faults.clear()
            self.requests.clear()
        self._slow.reset()

    # ------------------------------------------------------------------------------ state helpers
    def add_user(
        self,
        login: str,
        password: str,
        *,
        account_name: str,
        balance: Decimal = Decimal(0),
        currency: str = "EUR",
    ) -> FakeUser:
        """Add a client account with its first user (level 16).

        Example:
            >>> user = BillingFake().add_user("carol", "pw", account_name="Carol SA")
            >>> user.user_id, user.account_id, user.level
            (4, 3, 16)
        """
        with self._lock:
            if self._state.user_by_login(login) is not None:
                raise ValueError(f"user {login!r} already exists")
            account = self._state.add_account(account_name, balance, currency)
            user = self._state.add_user(login, password, _USER_LEVEL, account)
            return FakeUser(user.id, login, user.level, account.id, account.name)

    def add_service(self, owner_login: str, name: str, *, status: int = _ACTIVE) -> int:
        """Add a ``vds`` service for a client; returns its item id.

        Example:
            >>> BillingFake().add_service("bob", "vm-4")
            304
        """
        with self._lock:
            item = _Item(self._state.next_id("item"), self._account_of(owner_login).id, name, status)
            self._state.items[item.id] = item
            return item.id

    def add_expense(
        self,
        owner_login: str,
        amount: Decimal,
        *,
        info: str = "manual charge",
        notpayd: Decimal | None = None,
    ) -> int:
        """Charge a client; returns the expense id.

        assumption: a charge is paid from the balance as far as it goes and the rest is debt
        (``notpayd``); pass ``notpayd`` to set the debt directly and leave the balance alone.

        Example:
            >>> fake = BillingFake()
            >>> fake.add_expense("alice", Decimal("200"))
            403
            >>> fake.balance_of("alice"), fake.expenses_of("alice")[-1].notpayd
            (Decimal('0.00'), Decimal('50.00'))
        """
        with self._lock:
            account = self._account_of(owner_login)
            amount = _cents(amount)
            if notpayd is None:
                paid = max(Decimal(0), min(account.balance, amount))
                account.balance -= paid
                notpayd = amount - paid
            expense = _Expense(
                self._state.next_id("expense"), account.id, amount, _cents(notpayd), info, _today()
            )
            self._state.expenses[expense.id] = expense
            return expense.id

    def balance_of(self, login: str) -> Decimal:
        """The balance of the user's account.

        Example:
            >>> BillingFake().balance_of("alice")
            Decimal('150.00')
        """
        with self._lock:
            return self._account_of(login).balance

    def payments_of(self, login: str) -> list[FakePayment]:
        """The payments of the user's account, oldest first.

        Example:
            >>> BillingFake().payments_of("bob")
            []
        """
        with self._lock:
            account_id = self._account_of(login).id
            return [
                FakePayment(p.id, str(p.id), p.amount, p.status, p.create_date)
                for p in self._state.payments.values()
                if p.account_id == account_id
            ]

    def expenses_of(self, login: str) -> list[FakeExpense]:
        """The charges of the user's account, oldest first.

        Example:
            >>> [e.expense_id for e in BillingFake().expenses_of("alice")]
            [401]
        """
        with self._lock:
            account_id = self._account_of(login).id
            return [
                FakeExpense(e.id, e.amount, e.notpayd, e.info, e.create_date)
                for e in self._state.expenses.values()
                if e.account_id == account_id
            ]

    def tickets_of(self, login: str) -> list[FakeTicket]:
        """The tickets of the user's account with their messages, oldest first.

        Example:
            >>> BillingFake().tickets_of("bob")
            []
        """
        with self._lock:
            account_id = self._account_of(login).id
            return [
                FakeTicket(t.id, t.name, t.tstatus, tuple(t.messages))
                for t in self._state.tickets.values()
                if t.account_id == account_id
            ]

    def service_status(self, item_id: int) -> int:
        """The status code of a service (1 ordered, 2 active, 3 suspended, 4 deleted, 5 in progress).

        Example:
            >>> BillingFake().service_status(303)
            3
        """
        with self._lock:
            item = self._state.items.get(item_id)
            if item is None:
                raise KeyError(f"no service {item_id}")
            return item.status

    def running_operations(self) -> list[FakeOperation]:
        """The operations waiting for the processing module (with ``complete_operations=False``).

        Example:
            >>> BillingFake(complete_operations=False).running_operations()
            []
        """
        with self._lock:
            return [FakeOperation(o.id, o.item, o.name, o.trycount) for o in self._state.operations.values()]

    def expire_sessions(self) -> None:
        """Make every open session expired (the next call with one gets an ``auth`` error).

        Example:
            >>> BillingFake().expire_sessions()
        """
        with self._lock:
            for session in self._state.sessions.values():
                session.expired = True

    def complete_running_operations(self) -> None:
        """Finish every running operation, as the processing module calling ``service.post<op>``.

        Example:
            >>> BillingFake(complete_operations=False).complete_running_operations()
        """
        with self._lock:
            for operation in list(self._state.operations.values()):
                self._state.complete(operation)

    # ------------------------------------------------------------------------------ faults
    def inject(self, fault: Fault, *, func: str | None = None, times: int = 1) -> None:
        """Give the next ``times`` calls (of ``func`` only, if given) this fault.

        Example:
            >>> BillingFake().inject(Fault.server_error(status=503), func="vds", times=2)
        """
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        with self._lock:
            self._faults.append(_ArmedFault(fault, func, times))

    def release_slow(self) -> None:
        """Let one held ``slow`` answer go (or the next one, if none is held yet).

        Example:
            >>> BillingFake().release_slow()
        """
        self._slow.release()

    # ------------------------------------------------------------------------------ internals
    def _account_of(self, login: str) -> _Account:
        user = self._state.user_by_login(login)
        if user is None:
            raise KeyError(f"no user {login!r}")
        if user.account_id is None:
            raise KeyError(f"{login!r} has no account")
        return self._state.accounts[user.account_id]

    def _take_fault(self, params: Mapping[str, str]) -> Fault | None:
        func = params.get("func", "")
        route = _ROUTES.get(func)
        writes = route is not None and (
            route.kind == "action" or (route.kind == "form" and bool(params.get("sok")))
        )
        with self._lock:
            for armed in self._faults:
                if armed.func in (None, func) and (writes or armed.fault.kind != "swallow_effect"):
                    armed.remaining -= 1
                    if armed.remaining == 0:
                        self._faults.remove(armed)
                    return armed.fault
        return None

    def _hold(self, fault: Fault) -> None:
        self._slow.hold(fault.hold)

    def _record(self, method: str, params: Mapping[str, str], files: list[FakeAttachment]) -> None:
        shown = {k: "***" if k in _SECRET_PARAMS else v for k, v in params.items()}
        shown.update({f.field: f.filename for f in files})
        mode: AuthMode = "none"
        if "authinfo" in params:
            mode = "authinfo"
        elif "auth" in params:
            mode = "session"
        elif params.get("func") == "auth" and "key" in params:
            mode = "key"
        call = RecordedCall(
            params.get("func", ""), params.get("su") or None, mode, types.MappingProxyType(shown), method
        )
        with self._lock:
            self.requests.append(call)

    def _serve(self, method: str, params: dict[str, str], files: list[FakeAttachment]) -> _Reply | None:
        """One HTTP call: record it, apply a fault, handle it; None means drop the connection."""
        self._record(method, params, files)
        fault = self._take_fault(params)
        if fault is not None and fault.kind == "server_error":
            kind = "text/html" if fault.body.lstrip().startswith("<") else "text/plain"
            return _Reply(fault.status, fault.body.encode(), f"{kind}; charset=utf-8")
        if fault is not None and fault.kind == "drop_connection":
            return None
        if fault is not None and fault.kind == "error":
            err = _WireError(
                fault.error_type, fault.error_msg, obj=fault.error_object, params=fault.error_params
            )
            return self._json(_doc_error(err))
        if fault is not None and fault.kind == "slow":
            self._hold(fault)
        with self._lock:
            if fault is not None and fault.kind == "swallow_effect":
                before = copy.deepcopy(self._state)
                doc = self._handle(params, files)
                before.counters = self._state.counters  # an id handed out stays used
                self._state = before
            else:
                doc = self._handle(params, files)
        return self._json(doc)

    def _json(self, doc: _Doc) -> _Reply:
        body = {"doc": _wrap_children(doc) if self.wrap_single_children else doc}
        payload = json.dumps(body, ensure_ascii=False).encode()
        return _Reply(200, payload, "application/json; charset=utf-8")

    def _handle(self, params: dict[str, str], files: list[FakeAttachment]) -> _Doc:
        try:
            return self._dispatch(params, files)
        except _WireError as err:
            return _doc_error(err)

    def _dispatch(self, params: dict[str, str], files: list[FakeAttachment]) -> _Doc:
        func = params.get("func", "")
        if func == "auth":
            return self._login(params)
        route = _ROUTES.get(func)
        if route is None:
            # assumption: the error type for an unknown function is "unknown"
            raise _WireError("unknown", f"unknown function '{func}'", obj="func", value=func)
        call = self._authenticate(func, params, files)
        if route.level == "admin" and not call.is_admin:
            raise _WireError("access", "access denied: this function needs an administrator")
        if route.level == "user" and call.is_admin:
            return _in_admin_context(route, call)
        return route.handler(call)

    def _login(self, params: Mapping[str, str]) -> _Doc:
        state, now = self._state, self._clock()
        if params.get("key"):
            entry = state.keys.pop(params["key"], None)  # a key works once
            if entry is None or now - entry[1] > self._timeout:
                raise _WireError("auth", "invalid or expired key")
            user = state.users[entry[0]]
        else:
            user = self._check_password(params.get("username", ""), params.get("password", ""))
        sid = secrets.token_hex(16)
        state.sessions[sid] = _Session(sid, user.id, now)
        return {"auth": {"$id": sid, "$level": str(user.level), "$": sid}}

    def _check_password(self, login: str, password: str) -> _User:
        user = self._state.user_by_login(login)
        if user is None or not secrets.compare_digest(user.password.encode(), password.encode()):
            raise _WireError("auth", "invalid username or password")
        return user

    def _authenticate(self, func: str, params: dict[str, str], files: list[FakeAttachment]) -> _Call:
        session: _Session | None = None
        if "authinfo" in params:
            login, _, password = params["authinfo"].partition(":")
            principal = self._check_password(login, password)
        elif params.get("auth"):
            session = self._session(params["auth"])
            principal = self._state.users[session.user_id]
        else:
            raise _WireError("auth", "authorization required")
        actor = principal
        if params.get("su"):
            if principal.level < _ADMIN_LEVEL:
                raise _WireError("access", "access denied: only an administrator may use su")
            target = self._state.user_by_login(params["su"])
            if target is None:
                raise _WireError("missed", "no such user for su", obj="su", value=params["su"])
            actor = target
        options = _Options(self._timeout, self._clock, self.complete_operations)
        return _Call(self._state, options, func, params, files, principal, actor, session)

    def _session(self, sid: str) -> _Session:
        session = self._state.sessions.get(sid)
        now = self._clock()
        if session is not None and (session.expired or now - session.last_seen > self._timeout):
            del self._state.sessions[sid]
            session = None
        if session is None:
            raise _WireError("auth", "the session is invalid or has expired; log in again")
        session.last_seen = now
        return session
