"""Hypothesis strategies for the billing models, their wire rows, and payloads that are valid or broken.

Three kinds of strategy live here:

* **models**: one function per billing model (:func:`accounts`, :func:`payments`, ...). Money is a
  finite ``Decimal`` with exactly two places, dates lie between 2000 and 2099, enums are sampled.
* **wire**: :func:`wire_row` renders a model as a BILLmanager-style list row the way
  ``docs/billing-wire.md`` describes (``{"id": {"$": "7"}, "balance": {"$": "150.00 EUR", "$orig":
  "150.00"}}``); :func:`billing_rows` draws a model together with one of the many renderings the client
  must accept (localised money text, numbers in ``"$"``, bare strings, one-element-list wrapping);
  :func:`list_payloads` builds whole ``{"doc": {...}}`` replies.
* **fuzz**: :func:`json_values` (arbitrary JSON), :func:`wire_payloads` (envelope-shaped junk that
  reaches deep into the decoders) and :func:`mutated` (broken variants of a valid payload).

hypothesis is a ``cloudkit[test]`` dependency; import this module from test code only.

Example:
    >>> from hypothesis import given, settings
    >>> from cloudkit.billing import _wire
    >>> from cloudkit.testing.strategies import billing_rows
    >>> from cloudkit.billing import Account
    >>> @settings(max_examples=10, database=None, deadline=None)
    ... @given(billing_rows(Account))
    ... def test_round_trip(pair):
    ...     account, row = pair
    ...     assert _wire.decode_rows([row], _wire.account, operation="x") == [account]
    >>> test_round_trip()
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeAlias, TypeVar, cast

from hypothesis import strategies as st

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
    StaffTask,
    Ticket,
    TicketId,
    TicketMessage,
    TicketStatus,
)

__all__ = [
    "MODEL_TYPES",
    "BillingModel",
    "accounts",
    "billing_models",
    "billing_rows",
    "dates",
    "expenses",
    "invoices",
    "json_values",
    "list_payloads",
    "moments",
    "money",
    "money_cell",
    "money_texts",
    "mutated",
    "payments",
    "running_operations",
    "services",
    "staff_tasks",
    "ticket_messages",
    "tickets",
    "wire_payloads",
    "wire_row",
    "wrap_children",
]

BillingModel: TypeAlias = (
    Account | Payment | Expense | Invoice | Ticket | TicketMessage | Service | RunningOperation | StaffTask
)
M = TypeVar(
    "M", Account, Payment, Expense, Invoice, Ticket, TicketMessage, Service, RunningOperation, StaffTask
)

#: Every billing model class, in a stable order (for parametrised tests).
MODEL_TYPES: tuple[type[BillingModel], ...] = (
    Account,
    Payment,
    Expense,
    Invoice,
    Ticket,
    TicketMessage,
    Service,
    RunningOperation,
    StaffTask,
)

_MONEY_LIMIT = 10**9
_MAX_ID = 2**31 - 1
_CENT = Decimal("0.01")
_CURRENCIES = ("EUR", "RUB", "USD", "₽", "€")
_GROUP_SEPARATORS = (" ", "\u00a0", "\u202f", "'")
_SERVICE_WORDS = {
    ServiceStatus.ORDERED: "Ordered",
    ServiceStatus.ACTIVE: "Active",
    ServiceStatus.SUSPENDED: "Suspended",
    ServiceStatus.DELETED: "Deleted",
    ServiceStatus.IN_PROGRESS: "In progress",
    ServiceStatus.SUSPENDED_BY_CLIENT: "Suspended (by client)",
}


# ================================================================================== models
def money() -> st.SearchStrategy[Decimal]:
    """Finite amounts with exactly two places, between minus and plus one billion.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import money
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(money())
        ... def test(amount):
        ...     assert amount.is_finite() and amount.as_tuple().exponent == -2
        >>> test()
    """
    return st.decimals(
        allow_nan=False,
        allow_infinity=False,
        places=2,
        min_value=-_MONEY_LIMIT,
        max_value=_MONEY_LIMIT,
    )


def dates() -> st.SearchStrategy[dt.date]:
    """Calendar dates between 2000-01-01 and 2099-12-31 (billing's ``create_date`` range).

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import dates
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(dates())
        ... def test(day):
        ...     assert 2000 <= day.year <= 2099
        >>> test()
    """
    return st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))


def _ids() -> st.SearchStrategy[int]:
    return st.integers(min_value=1, max_value=_MAX_ID)


def accounts() -> st.SearchStrategy[Account]:
    """Billing clients with any name, a two-place balance (possibly negative: a debt), maybe a credit limit.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import accounts
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(accounts())
        ... def test(account):
        ...     assert account.id >= 1
        >>> test()
    """
    return st.builds(
        Account,
        id=_ids().map(AccountId),
        name=st.text(),
        balance=money(),
        credit_limit=st.none() | money().map(abs),
    )


def moments() -> st.SearchStrategy[dt.datetime]:
    """Aware UTC times to the second between 2000 and 2099 (billing's ``YYYY-MM-DD HH:MM:SS``).

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import moments
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(moments())
        ... def test(moment):
        ...     assert moment.tzinfo is dt.UTC and moment.microsecond == 0
        >>> test()
    """
    # hypothesis bounds are naive; the zone is set on each drawn value
    return st.datetimes(
        min_value=dt.datetime(2000, 1, 1),  # noqa: DTZ001
        max_value=dt.datetime(2099, 12, 31, 23, 59, 59),  # noqa: DTZ001
    ).map(lambda moment: moment.replace(microsecond=0, tzinfo=dt.UTC))


def payments() -> st.SearchStrategy[Payment]:
    """Payments in every status, with or without a creation date.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.billing import PaymentStatus
        >>> from cloudkit.testing.strategies import payments
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(payments())
        ... def test(payment):
        ...     assert isinstance(payment.status, PaymentStatus)
        >>> test()
    """
    return st.builds(
        Payment,
        id=_ids().map(PaymentId),
        amount=money(),
        status=st.sampled_from(PaymentStatus),
        created=st.none() | dates(),
        promised_until=st.none() | dates(),
        account_id=st.none() | _ids(),
    )


def expenses() -> st.SearchStrategy[Expense]:
    """Charges; ``unpaid`` is an independent two-place amount (zero when the charge is covered).

    A charge with a time (``created_at``) has its day as ``created``; one without may have a day only.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import expenses
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(expenses())
        ... def test(expense):
        ...     assert expense.unpaid.as_tuple().exponent == -2
        >>> test()
    """
    dated = st.one_of(
        st.tuples(st.none() | dates(), st.none()),
        moments().map(lambda moment: (moment.date(), moment)),
    )
    return st.builds(
        lambda when, **fields: Expense(created=when[0], created_at=when[1], **fields),
        dated,
        id=_ids(),
        amount=money(),
        unpaid=st.just(Decimal("0.00")) | money(),
        info=st.text(),
        account_id=st.none() | _ids(),
    )


def invoices() -> st.SearchStrategy[Invoice]:
    """Invoices with a non-empty number (billing always numbers them; an empty one reads as the id).

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import invoices
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(invoices())
        ... def test(invoice):
        ...     assert invoice.number != ""
        >>> test()
    """
    return st.builds(
        Invoice,
        id=_ids(),
        number=st.text(min_size=1),
        amount=money(),
        status=st.sampled_from(("", "1", "2", "3", "4")) | st.text(),
        created=st.none() | dates(),
    )


def tickets() -> st.SearchStrategy[Ticket]:
    """Support tickets in every status.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.billing import TicketStatus
        >>> from cloudkit.testing.strategies import tickets
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(tickets())
        ... def test(ticket):
        ...     assert ticket.status in TicketStatus
        >>> test()
    """
    return st.builds(Ticket, id=_ids().map(TicketId), subject=st.text(), status=st.sampled_from(TicketStatus))


def ticket_messages() -> st.SearchStrategy[TicketMessage]:
    """Ticket messages; ``posted`` is ``None`` or a ``YYYY-MM-DD HH:MM:SS`` timestamp text.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import ticket_messages
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(ticket_messages())
        ... def test(message):
        ...     assert message.posted is None or len(message.posted) == 19
        >>> test()
    """
    posted = st.builds(lambda day, moment: f"{day.isoformat()} {moment:%H:%M:%S}", dates(), st.times())
    return st.builds(TicketMessage, id=_ids(), text=st.text(), author=st.text(), posted=st.none() | posted)


def services() -> st.SearchStrategy[Service]:
    """Billed services in every status.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.billing import ServiceStatus
        >>> from cloudkit.testing.strategies import services
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(services())
        ... def test(service):
        ...     assert isinstance(service.status, ServiceStatus)
        >>> test()
    """
    return st.builds(
        Service,
        id=_ids().map(ServiceId),
        name=st.text(),
        status=st.sampled_from(ServiceStatus),
        account_id=st.none() | _ids(),
    )


def running_operations() -> st.SearchStrategy[RunningOperation]:
    """Queued lifecycle operations with a non-negative attempt count.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import running_operations
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(running_operations())
        ... def test(operation):
        ...     assert operation.attempts >= 0
        >>> test()
    """
    return st.builds(
        RunningOperation,
        id=_ids(),
        service_id=_ids().map(ServiceId),
        operation=st.sampled_from(("suspend", "resume", "delete", "open")) | st.text(),
        attempts=st.integers(min_value=0, max_value=1000),
        error_xml=st.none() | st.text(min_size=1),
        manual=st.booleans(),
    )


def staff_tasks() -> st.SearchStrategy[StaffTask]:
    """Staff tasks, with or without the running operation they were opened for.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import staff_tasks
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(staff_tasks())
        ... def test(task):
        ...     assert task.type
        >>> test()
    """
    return st.builds(
        StaffTask,
        id=_ids(),
        service_id=_ids().map(ServiceId),
        running_operation=st.none() | _ids(),
        type=st.text(min_size=1),
    )


_MODEL_STRATEGIES: dict[type[BillingModel], Callable[[], st.SearchStrategy[Any]]] = {
    Account: accounts,
    Payment: payments,
    Expense: expenses,
    Invoice: invoices,
    Ticket: tickets,
    TicketMessage: ticket_messages,
    Service: services,
    RunningOperation: running_operations,
    StaffTask: staff_tasks,
}


def billing_models() -> st.SearchStrategy[BillingModel]:
    """Any billing model, drawn from the per-model strategies.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import MODEL_TYPES, billing_models
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(billing_models())
        ... def test(model):
        ...     assert type(model) in MODEL_TYPES
        >>> test()
    """
    return st.one_of([_MODEL_STRATEGIES[cls]() for cls in MODEL_TYPES])


# ================================================================================== wire rendering
def _text(value: object) -> dict[str, Any]:
    return {"$": str(value)}


def money_cell(amount: Decimal, currency: str = "EUR") -> dict[str, str]:
    """A formatted money cell: text with the currency plus the raw amount in ``$orig``.

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit.testing.strategies import money_cell
        >>> money_cell(Decimal("150"))
        {'$': '150.00 EUR', '$orig': '150.00'}
    """
    orig = str(amount.quantize(_CENT))
    return {"$": f"{orig} {currency}", "$orig": orig}


def wire_row(model: BillingModel, *, currency: str = "EUR") -> dict[str, Any]:
    """The canonical list row of ``model``, as the billing fake renders it (no wrapping).

    Rows use the wire's column names: an ``Expense``'s ``unpaid`` is ``notpayd``, a ``Ticket``'s
    subject is ``name``, a ``RunningOperation``'s service is ``item`` and so on. Optional fields that
    are ``None`` are left out.

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit.billing import Account
        >>> from cloudkit.testing.strategies import wire_row
        >>> wire_row(Account(id=7, name="Alice Ltd", balance=Decimal("150.00")))
        {'id': {'$': '7'}, 'name': {'$': 'Alice Ltd'}, 'balance': {'$': '150.00 EUR', '$orig': '150.00'}}
    """
    row: dict[str, Any] = {"id": _text(model.id)}
    if isinstance(model, Account | Payment | Invoice | Expense):
        row |= _finance_row(model, currency)
    elif isinstance(model, Ticket):
        row |= {"name": _text(model.subject), "tstatus": _text(int(model.status))}
    elif isinstance(model, TicketMessage):
        row |= {"message": _text(model.text), "user": _text(model.author)}
        if model.posted is not None:
            row["date_post"] = _text(model.posted)
    elif isinstance(model, Service):
        row |= {"name": _text(model.name), "status": _text(int(model.status))}
    else:
        row |= _queue_row(model)
    if isinstance(model, Payment | Expense | Service) and model.account_id is not None:
        row["account_id"] = _text(model.account_id)
    return row


def _finance_row(model: Account | Payment | Invoice | Expense, currency: str) -> dict[str, Any]:
    """The columns of an account, a payment, an invoice or a charge (all but ``id``)."""
    row: dict[str, Any] = {}
    if isinstance(model, Account):
        row |= {"name": _text(model.name), "balance": money_cell(model.balance, currency)}
        if model.credit_limit is not None:
            row["credit_limit"] = money_cell(model.credit_limit, currency)
    elif isinstance(model, Payment | Invoice):
        number = model.number if isinstance(model, Invoice) else str(model.id)
        row |= {"number": _text(number), "amount": money_cell(model.amount, currency)}
        row["status"] = _text(int(model.status) if isinstance(model, Payment) else model.status)
        if model.created is not None:
            row["create_date"] = _text(model.created.isoformat())
        if isinstance(model, Payment) and model.promised_until is not None:
            row["promise_until"] = _text(model.promised_until.isoformat())
    else:
        row |= {
            "amount": money_cell(model.amount, currency),
            "notpayd": money_cell(model.unpaid, currency),
            "info": _text(model.info),
        }
        if model.created_at is not None:
            row["create_date"] = _text(f"{model.created_at:%Y-%m-%d %H:%M:%S}")
        elif model.created is not None:
            row["create_date"] = _text(model.created.isoformat())
    return row


def _empty_columns(model: BillingModel) -> list[str]:
    """The optional columns of ``model`` that are ``None``: a row may carry them as empty cells."""
    empty = []
    if isinstance(model, Account) and model.credit_limit is None:
        empty.append("credit_limit")
    if isinstance(model, Payment) and model.promised_until is None:
        empty.append("promise_until")
    if isinstance(model, Payment | Expense | Service) and model.account_id is None:
        empty.append("account_id")
    return empty


def _queue_row(model: RunningOperation | StaffTask) -> dict[str, Any]:
    """The columns of a running operation or a staff task (both point at a service with ``item``)."""
    row: dict[str, Any] = {"item": _text(model.service_id)}
    if isinstance(model, StaffTask):
        row["type"] = _text(model.type)
        if model.running_operation is not None:
            row["runningoperation"] = _text(model.running_operation)
        return row
    row |= {
        "name": _text(model.operation),
        "trycount": _text(model.attempts),
        "manual": _text("on" if model.manual else "off"),
    }
    if model.error_xml is not None:
        row["errorxml"] = _text(model.error_xml)
    return row


def wrap_children(node: Any, depth: int = 1) -> Any:
    """Wrap every object below ``node`` in ``depth`` one-element lists, as billing may send them.

    List items stay in place (a list is already a list); the node itself is not wrapped.

    Example:
        >>> from cloudkit.testing.strategies import wrap_children
        >>> wrap_children({"id": {"$": "5"}, "elem": [{"a": {"$": "x"}}]})
        {'id': [{'$': '5'}], 'elem': [{'a': [{'$': 'x'}]}]}
    """
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            child = wrap_children(value, depth)
            if isinstance(value, dict):
                for _ in range(depth):
                    child = [child]
            out[key] = child
        return out
    if isinstance(node, list):
        return [wrap_children(item, depth) for item in node]
    return node


def _format_money(amount: Decimal, *, group: str, decimal_sep: str, currency: str) -> str:
    sign = "-" if amount < 0 else ""
    whole, fraction = f"{abs(amount):.2f}".split(".")
    if group:
        chunks: list[str] = []
        while len(whole) > 3:  # noqa: PLR2004 (thousands)
            chunks.insert(0, whole[-3:])
            whole = whole[:-3]
        whole = group.join([whole, *chunks])
    text = f"{sign}{whole}{decimal_sep}{fraction}"
    return f"{text} {currency}" if currency else text


@st.composite
def _money_text_of(draw: st.DrawFn, amount: Decimal) -> str:
    style = draw(st.sampled_from(("plain", "signed", "localised")))
    if style == "plain":
        return str(amount)
    if style == "signed":
        return f"+{amount}" if amount >= 0 else str(amount)
    return _format_money(
        amount,
        group=draw(st.sampled_from(("", *_GROUP_SEPARATORS))),
        decimal_sep=draw(st.sampled_from((".", ","))),
        currency=draw(st.sampled_from(("", *_CURRENCIES))),
    )


def money_texts() -> st.SearchStrategy[tuple[Decimal, str]]:
    """Pairs of an amount and a money text billing may show for it.

    Texts are Decimal strings (``"-12.50"``, ``"+7.00"``) or localised: thousands grouped by a
    space, no-break space, narrow no-break space or apostrophe, ``.`` or ``,`` before the cents, and
    an optional currency after (``"1 234,50 RUB"``).

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.billing._wire import parse_money
        >>> from cloudkit.testing.strategies import money_texts
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(money_texts())
        ... def test(pair):
        ...     amount, text = pair
        ...     assert parse_money(text) == amount
        >>> test()
    """
    return money().flatmap(lambda amount: st.tuples(st.just(amount), _money_text_of(amount)))


def _is_plain_int(text: str) -> bool:
    """Whether ``text`` is exactly what ``str(int(text))`` gives back (so a JSON number can carry it)."""
    digits = text.removeprefix("-")
    return 0 < len(digits) < 19 and digits.isascii() and digits.isdigit() and str(int(text)) == text  # noqa: PLR2004


def _vary_dates(draw: st.DrawFn, model: BillingModel, row: dict[str, Any]) -> None:
    """A time of day on a payment's or invoice's date; a charge's time in ISO form with its offset."""
    if isinstance(model, Payment | Invoice) and "create_date" in row and draw(st.booleans()):
        row["create_date"] = {"$": f"{row['create_date']['$']} {draw(st.times()):%H:%M:%S}"}
    if isinstance(model, Expense) and model.created_at is not None and draw(st.booleans()):
        row["create_date"] = {"$": model.created_at.isoformat(sep=draw(st.sampled_from(("T", " "))))}


@st.composite
def _render(draw: st.DrawFn, model: BillingModel, wrapped: bool | None) -> dict[str, Any]:  # noqa: C901
    """One of the renderings of ``model`` the client must decode back to ``model``."""
    currency = draw(st.sampled_from(_CURRENCIES))
    row = wire_row(model, currency=currency)

    def money_variant(amount: Decimal) -> Any:
        style = draw(st.sampled_from(("cell", "text-only", "orig-only", "bare")))
        if style == "cell":
            return money_cell(amount, currency)
        text = draw(_money_text_of(amount))
        if style == "text-only":
            return {"$": text}
        if style == "orig-only":
            return {"$orig": str(amount)}
        return text

    _vary_dates(draw, model, row)
    for column in _empty_columns(model):
        if draw(st.booleans()):
            row[column] = {"$": ""}  # an empty cell means none, as a missing one does
    if isinstance(model, Payment) and draw(st.booleans()):
        row["subaccountamount_iso"] = row.pop("amount")  # W2: the other amount column
    if isinstance(model, Expense) and model.unpaid == 0 and draw(st.booleans()):
        del row["notpayd"]  # no debt column means no debt
    if isinstance(model, Ticket) and model.status is TicketStatus.NEW and draw(st.booleans()):
        del row["tstatus"]  # a new ticket may come without a status
    if isinstance(model, Service) and draw(st.booleans()):
        word = _SERVICE_WORDS[model.status]
        word = draw(st.sampled_from((word, word.lower(), word.upper(), f" {word} (since 2024-05-01)")))
        row["status"] = {"$": word}
    if draw(st.booleans()):
        row["account"] = {"$": draw(st.text())}  # an extra column an admin sees
    for key, cell in list(row.items()):
        if "$orig" in cell:
            row[key] = money_variant(Decimal(cell["$orig"]))
        elif _is_plain_int(cell["$"]) and draw(st.booleans()):
            row[key] = {"$": int(cell["$"])}  # a number where text is expected
        elif draw(st.integers(0, 9)) == 9:  # noqa: PLR2004 (one in ten; shrinks towards an element)
            row[key] = cell["$"]  # a bare string instead of an element
    depth = 0 if wrapped is False else draw(st.integers(min_value=1 if wrapped else 0, max_value=2))
    return cast("dict[str, Any]", wrap_children(row, depth))


def billing_rows(
    model: type[M], *, wrapped: bool | None = None
) -> st.SearchStrategy[tuple[M, dict[str, Any]]]:
    """Pairs ``(instance, row)`` where ``row`` is a wire rendering the client must decode to ``instance``.

    Renderings vary the way billing installs do: money as a ``$``/``$orig`` cell, as localised text
    only, as ``$orig`` only or as a bare string; integers as JSON numbers; dates with a time; the
    payment amount under ``subaccountamount_iso``; service statuses as UI words; extra columns. With
    ``wrapped=True`` every cell is wrapped in one or two one-element lists, with ``wrapped=False``
    never, and by default either.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.billing import Payment, _wire
        >>> from cloudkit.testing.strategies import billing_rows
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(billing_rows(Payment, wrapped=True))
        ... def test(pair):
        ...     payment, row = pair
        ...     assert _wire.decode_rows([row], _wire.payment, operation="x") == [payment]
        >>> test()
    """
    models = cast("st.SearchStrategy[M]", _MODEL_STRATEGIES[model]())
    return models.flatmap(lambda instance: st.tuples(st.just(instance), _render(instance, wrapped)))


_SUB_LIST_MODELS: frozenset[type[BillingModel]] = frozenset({TicketMessage})


def list_payloads(
    model: type[M], *, max_rows: int = 4, wrapped: bool | None = None
) -> st.SearchStrategy[tuple[list[M], dict[str, Any]]]:
    """Pairs ``(instances, payload)``: a whole ``{"doc": {...}}`` list reply carrying ``instances``.

    Rows sit under ``doc.elem`` (a single row may be sent as a bare object) with ``p_elems``; ticket
    messages sit in the ``mlist`` sub-list (``doc.list[$name=mlist].elem``) as the ticket form sends
    them. An empty list has no ``elem`` key.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.billing import Service, _wire
        >>> from cloudkit.testing.strategies import list_payloads
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(list_payloads(Service))
        ... def test(pair):
        ...     services, payload = pair
        ...     doc = _wire.parse_payload(payload, operation="x")
        ...     assert _wire.decode_rows(_wire.rows_of(doc), _wire.service, operation="x") == services
        >>> test()
    """
    pairs = st.lists(billing_rows(model, wrapped=wrapped), max_size=max_rows)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[list[M], dict[str, Any]]:
        drawn = draw(pairs)
        instances = [instance for instance, _ in drawn]
        rows = [row for _, row in drawn]
        body: dict[str, Any] = {}
        if rows:
            body["elem"] = rows[0] if len(rows) == 1 and draw(st.booleans()) else rows
        if model in _SUB_LIST_MODELS:
            body = {"elid": {"$": "1"}, "list": [{"$name": "mlist", **body}]}
        else:
            body["p_elems"] = {"$": str(len(rows))}
        return instances, {"doc": body}

    return build()


# ================================================================================== fuzz
def json_values(
    *,
    keys: st.SearchStrategy[str] | None = None,
    max_leaves: int = 20,
    allow_infinity: bool = False,
) -> st.SearchStrategy[Any]:
    """Arbitrary JSON: ``None``, booleans, integers, floats (never NaN), text, and lists/objects of them.

    Args:
        keys: strategy for object keys (any text by default); pass wire names to reach deeper.
        max_leaves: bound on the number of scalars in one value.
        allow_infinity: also draw ``inf``/``-inf`` (which Python's ``json`` accepts, strict JSON not).

    Example:
        >>> import json
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import json_values
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(json_values())
        ... def test(value):
        ...     assert json.loads(json.dumps(value)) == value
        >>> test()
    """
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=allow_infinity)
        | st.text()
    )
    key_strategy = st.text() if keys is None else keys
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(key_strategy, children, max_size=4),
        max_leaves=max_leaves,
    )


_ROW_KEYS = (
    "id",
    "name",
    "balance",
    "amount",
    "subaccountamount_iso",
    "notpayd",
    "status",
    "tstatus",
    "create_date",
    "number",
    "info",
    "message",
    "user",
    "date_post",
    "item",
    "trycount",
    "currency",
    "credit_limit",
    "promise_until",
    "account_id",
)
_DOC_KEYS = ("doc", "elem", "error", "p_elems", "id", "ok", "auth", "list", "$", "$orig", "$name")
_TRICKY_TEXTS = (
    "",
    " ",
    "0",
    "-1",
    "+7",
    "007",
    "1.5",
    "1,5",
    "1e3",
    "1E+3",
    "1e999999999999999999999",
    "NaN",
    "sNaN",
    "-Infinity",
    "inf",
    "\u00b2",  # superscript two: str.isdigit() is true, int() refuses it
    "\u0663",  # Arabic-Indic three: a decimal digit int() accepts
    "\u00b9\u00b2\u00b3",
    "1 234,50 RUB",
    "-12.5 EUR",
    "12.50 EUR",
    "1,234.50 USD",
    "1_000",
    "2024-05-01",
    "2024-13-45",
    "2024-05-01 12:00:00",
    "Active",
    "in progress",
    "suspended!",
    "3",
    "100",
    "10",
    "99999999999999999999999",
    "-",
    ".",
    ",",
    "\u00a0",
    "\x00",
    "mlist",
)


def _tricky_texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(_TRICKY_TEXTS),
        st.text(max_size=12),
        st.integers().map(str),
        money().map(str),
    )


def wire_payloads() -> st.SearchStrategy[Any]:
    """Envelope-shaped junk: ``{"doc": ...}`` with rows, counters, errors, sessions and sub-lists.

    The shape is mostly right and the cells are mostly wrong (tricky numbers, unicode digits, wrong
    types, wrapped lists), so fuzzing reaches the cell decoders instead of stopping at the envelope.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.billing._wire import parse_payload
        >>> from cloudkit.errors import CloudkitError
        >>> from cloudkit.testing.strategies import wire_payloads
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(wire_payloads())
        ... def test(payload):
        ...     try:
        ...         parse_payload(payload, operation="fuzz")
        ...     except CloudkitError:
        ...         pass  # the only kind of error a reply may cause
        >>> test()
    """
    texts = _tricky_texts()
    junk = json_values(
        keys=st.sampled_from(_DOC_KEYS) | st.text(max_size=4), max_leaves=4, allow_infinity=True
    )
    cells = st.one_of(
        texts.map(lambda text: {"$": text}),
        st.fixed_dictionaries({}, optional={"$": texts | junk, "$orig": texts | junk}),
        texts,
        st.integers().map(lambda number: {"$": number}),
        junk,
    )
    cells = cells | cells.map(lambda cell: [cell])
    rows = st.dictionaries(st.sampled_from(_ROW_KEYS), cells, max_size=len(_ROW_KEYS))
    elem = st.lists(rows, max_size=3) | rows | junk
    error = st.fixed_dictionaries(
        {},
        optional={
            "$type": st.sampled_from(("value", "exists", "missed", "access", "auth", "not_enough_money"))
            | texts,
            "$object": st.sampled_from(("elid", "name", "password")) | texts,
            "$value": texts,
            "param": st.lists(
                st.fixed_dictionaries(
                    {}, optional={"$name": st.sampled_from(("amount", "have", "currency")), "$": texts}
                ),
                max_size=3,
            )
            | cells,
            "msg": cells,
        },
    )
    auth = st.fixed_dictionaries({}, optional={"$id": texts, "$level": texts, "$": texts})
    sub_list = st.fixed_dictionaries({"$name": st.just("mlist") | texts}, optional={"elem": elem})
    doc = st.fixed_dictionaries(
        {},
        optional={
            "elem": elem,
            "p_elems": cells,
            "id": cells,
            "ok": st.just({}) | junk,
            "auth": auth | cells,
            "list": sub_list | st.lists(sub_list | junk, max_size=2) | junk,
            "error": error | junk,
        },
    )
    envelope = st.one_of(
        doc.map(lambda body: {"doc": body}),
        doc.map(lambda body: {"doc": [body]}),
        doc.map(lambda body: [{"doc": body}]),
        junk.map(lambda body: {"doc": body}),
    )
    return envelope | junk


_Path = tuple[str | int, ...]
_MUTATIONS = ("drop", "replace", "wrap", "unwrap", "stringify", "rename", "duplicate", "empty")


def _paths(node: Any, prefix: _Path = ()) -> list[_Path]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _get(node: Any, path: _Path) -> Any:
    for step in path:
        node = node[step]
    return node


def _stringify(node: Any) -> Any:
    return node.get("$") if isinstance(node, dict) and "$" in node else json.dumps(node)


_SIMPLE_EDITS: dict[str, Callable[[Any], Any]] = {
    "wrap": lambda node: [node],
    "stringify": _stringify,
    "duplicate": lambda node: [node, copy.deepcopy(node)],
}


def _edit(draw: st.DrawFn, node: Any, kind: str) -> Any:
    """``node`` after one edit of ``kind`` (edits that do not apply replace it with arbitrary JSON)."""
    if kind == "rename" and isinstance(node, dict) and node:
        renamed = dict(node)
        new_key = draw(st.text(max_size=6))
        while new_key in node:
            new_key += "~"
        renamed[new_key] = renamed.pop(draw(st.sampled_from(sorted(node))))
        return renamed
    if kind in _SIMPLE_EDITS:
        return _SIMPLE_EDITS[kind](node)
    if kind == "unwrap" and isinstance(node, list):
        return node[0] if node else None
    if kind == "empty":
        return copy.deepcopy(draw(st.sampled_from(({}, [], "", None, 0))))
    return draw(json_values(max_leaves=4))


@st.composite
def _mutate(draw: st.DrawFn, payload: Any, max_mutations: int) -> Any:
    doc = copy.deepcopy(payload)
    for _ in range(draw(st.integers(min_value=1, max_value=max_mutations))):
        path = draw(st.sampled_from(_paths(doc)))
        kind = draw(st.sampled_from(_MUTATIONS))
        if not path:
            doc = _edit(draw, doc, kind)
        elif kind == "drop":
            del _get(doc, path[:-1])[path[-1]]
        else:
            parent = _get(doc, path[:-1])
            parent[path[-1]] = _edit(draw, parent[path[-1]], kind)
    return doc


def mutated(payload: Any, *, max_mutations: int = 3) -> st.SearchStrategy[Any]:
    """Broken variants of a valid JSON ``payload``: one to ``max_mutations`` edits at random places.

    Each edit drops a key or item, replaces a value with arbitrary JSON (swapping its type), wraps a
    value in a one-element list, unwraps a list, turns a node into a string, renames a key, duplicates
    a value into a two-element list, or empties it. ``payload`` itself is never modified. Some edits
    leave the payload valid (billing may wrap anything), so a test must accept success too.

    Example:
        >>> from hypothesis import given, settings
        >>> from cloudkit.testing.strategies import mutated
        >>> valid = {"doc": {"elem": [{"id": {"$": "7"}}]}}
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(mutated(valid))
        ... def test(broken):
        ...     assert valid == {"doc": {"elem": [{"id": {"$": "7"}}]}}
        >>> test()
    """
    return _mutate(payload, max_mutations)
