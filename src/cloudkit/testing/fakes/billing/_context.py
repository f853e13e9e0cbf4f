"""What every billing handler works with: the call context, the ``doc`` renderers and wire errors."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, cast

from cloudkit.testing.fakes.billing._state import (
    ADMIN_LEVEL,
    DELETED,
    Account,
    FakeAttachment,
    Item,
    Session,
    State,
    Ticket,
    User,
    cents,
)

Doc = dict[str, Any]
Cell = dict[str, str]
Row = dict[str, Cell]

SECRET_PARAMS = frozenset({"password", "authinfo", "auth", "passwd", "confirm", "key"})
# Parameters that steer the request rather than fill a form: never echoed, never list filters.
_CONTROL_PARAMS = SECRET_PARAMS | {
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


# ================================================================================== rendering
def text(value: object) -> Cell:
    """A text cell.

    Example:
        >>> text(5)
        {'$': '5'}
    """
    return {"$": str(value)}


def money(amount: Decimal, currency: str) -> Cell:
    """A money cell: display text and the raw amount.

    Example:
        >>> money(Decimal("1.5"), "EUR")
        {'$': '1.50 EUR', '$orig': '1.50'}
    """
    orig = str(cents(amount))
    return {"$": f"{orig} {currency}", "$orig": orig}


def doc_ok(redirect: str | None = None) -> Doc:
    """``ok``, with a follow-up query if given."""
    return {"ok": text(redirect) if redirect else {}}


def doc_error(err: WireError) -> Doc:
    """The ``doc.error`` envelope of ``err``.

    Example:
        >>> doc_error(WireError("value", "bad", obj="name"))
        {'error': {'$type': 'value', '$object': 'name', 'msg': {'$': 'bad'}}}
    """
    body: dict[str, Any] = {"$type": err.type}
    if err.obj is not None:
        body["$object"] = err.obj
    if err.value is not None:
        body["$value"] = err.value
    if err.params:
        body["param"] = [{"$name": name, "$": value} for name, value in err.params]
    body["msg"] = text(err.msg)
    return {"error": body}


def wrap_children(node: Mapping[str, Any]) -> Doc:
    """Every child object becomes a one-element list, at every depth (``"id": [{"$": "5"}]``).

    Example:
        >>> wrap_children({"ok": {}, "elem": [{"id": {"$": "1"}}]})
        {'ok': [{}], 'elem': [{'id': [{'$': '1'}]}]}
    """
    out: Doc = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out[key] = [wrap_children(value)]
        elif isinstance(value, list):
            out[key] = [wrap_children(v) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def utc_now() -> dt.datetime:
    """The real time, aware, in UTC: the billing fake's default wall clock."""
    return dt.datetime.now(dt.UTC)


def today(moment: dt.datetime | None = None) -> str:
    """The date of ``moment`` (default: now), in UTC, as billing writes it.

    Example:
        >>> today(dt.datetime(2024, 5, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2))))
        '2024-05-02'
    """
    return (moment or utc_now()).astimezone(dt.UTC).strftime("%Y-%m-%d")


def now(moment: dt.datetime | None = None) -> str:
    """The time of ``moment`` (default: now), in UTC, as billing writes it (assumption: UTC, no offset).

    Example:
        >>> now(dt.datetime(2024, 5, 1, 12, 0, 5, tzinfo=dt.UTC))
        '2024-05-01 12:00:05'
    """
    # assumption: billing writes its times in UTC, without an offset
    return (moment or utc_now()).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


class WireError(Exception):
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
        """Describe the error as billing would."""
        super().__init__(msg)
        self.type = type_
        self.msg = msg
        self.obj = obj
        self.value = value
        self.params = tuple(params)


# ================================================================================== one call
@dataclass(frozen=True, slots=True)
class Options:
    """The fake's switches a handler may need."""

    session_idle_timeout: float
    clock: Callable[[], float]
    complete_operations: bool
    max_page_size: int | None
    processing_module: bool = False  # a processing module runs every service operation
    client_suspend: bool = False  # the product's "allow clients to suspend/resume"
    item_type: str = "cloudserver"  # the module's item type: its function family answers as ``vds``'s
    wall_clock: Callable[[], dt.datetime] = field(default=utc_now)  # every date the fake writes


@dataclass(slots=True)
class Ctx:
    """The parsed request plus who is acting; handlers read parameters through it."""

    state: State
    options: Options
    func: str
    params: Mapping[str, str]
    files: list[FakeAttachment]
    principal: User
    actor: User
    session: Session | None

    def today(self) -> str:
        """Today's date by the fake's wall clock."""
        return today(self.options.wall_clock())

    def now(self) -> str:
        """The time by the fake's wall clock."""
        return now(self.options.wall_clock())

    @property
    def sok(self) -> bool:
        return bool(self.params.get("sok"))

    @property
    def is_admin(self) -> bool:
        return self.actor.level >= ADMIN_LEVEL

    def scope(self) -> int | None:
        """The actor's account id, or None for the admin (who sees every account)."""
        return None if self.is_admin else self.actor.account_id

    def visible(self, account_id: int) -> bool:
        return self.scope() in (None, account_id)

    def account(self) -> Account:
        assert self.actor.account_id is not None  # noqa: S101 - user-level handlers run for users only
        return self.state.accounts[self.actor.account_id]

    def required(self, name: str) -> str:
        value = self.params.get(name, "").strip()
        if not value:
            raise WireError("missed", f"the field '{name}' is required", obj=name)
        return value

    def ids(self, name: str = "elid") -> list[int]:
        """An id list joined by ", " (a bare "," is tolerated)."""
        raw = self.required(name)
        try:
            return [int(part) for part in re.split(r",\s*", raw) if part.strip()]
        except ValueError:
            raise WireError("value", f"invalid value of '{name}'", obj=name, value=raw) from None

    def one_id(self, name: str = "elid") -> int:
        found = self.ids(name)
        if len(found) != 1:
            raise WireError("value", f"'{name}' must name one element", obj=name)
        return found[0]

    def amount(self, name: str = "amount") -> Decimal:
        raw = self.required(name)
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal(0)
        if not value.is_finite() or value <= 0:
            raise WireError("value", f"invalid value of '{name}'", obj=name, value=raw)
        return cents(value)

    def form(self, fields: Mapping[str, Any]) -> Doc:
        """A form view: the echoed parameters overlaid with the object's own fields. No ok."""
        doc: Doc = {k: text(v) for k, v in self.params.items() if k not in _CONTROL_PARAMS}
        if "elid" in self.params:
            doc["elid"] = text(self.params["elid"])
        doc.update(fields)
        return doc

    def ok(self, target: str | None = None) -> Doc:
        """``ok``; with ``clicked_button=ok_get`` it carries ``target`` (a follow-up query)."""
        return doc_ok(target if self.params.get("clicked_button") == "ok_get" else None)

    def created(self, new_id: int, func: str | None = None) -> Doc:
        doc = self.ok(f"func={func or self.func}&elid={new_id}")
        doc["id"] = text(new_id)
        return doc

    def new_session(self, user: User, parent: str | None = None) -> str:
        sid = secrets.token_hex(16)
        self.state.sessions[sid] = Session(sid, user.id, self.options.clock(), parent)
        return sid

    def with_account(self, row: Row, account_id: int) -> Row:
        """``row`` with the account's name and id when the admin reads it."""
        if self.is_admin:
            row["account"] = text(self.state.accounts[account_id].name)
            row["account_id"] = text(account_id)  # assumption: the owner's id next to its name
        return row

    def item(self, item_id: int) -> Item:
        item = self.state.items.get(item_id)
        if item is None or item.status == DELETED or not self.visible(item.account_id):
            raise WireError("missed", f"service {item_id} not found", obj="elid", value=str(item_id))
        return item

    def ticket(self, ticket_id: int) -> Ticket:
        ticket = self.state.tickets.get(ticket_id)
        if ticket is None or not self.visible(ticket.account_id):
            raise WireError("missed", f"ticket {ticket_id} not found", obj="elid", value=str(ticket_id))
        return ticket


# ================================================================================== lists
_R = TypeVar("_R")


def listing(
    ctx: Ctx,
    records: Sequence[_R],
    render: Callable[[_R], Row] | None = None,
    *,
    handled: frozenset[str] = frozenset(),
) -> Doc:
    """A list reply: filter (``filter=on``), count (``p_elems``), page (``p_cnt``/``p_num``).

    ``records`` are rows already, or state records that ``render`` turns into rows. Without a filter
    only the rows of the page asked are rendered (a list of 20,000 services answers a page of 1,000
    by building 1,000 rows); with one, every record is rendered to be matched, unless the handler
    already narrowed ``records`` by every criterion asked (``handled`` names those it applied). With
    ``max_page_size`` set, a page never holds more rows than that, whatever ``p_cnt`` asked (and a
    request without ``p_cnt`` gets the first page of that size); ``p_cnt`` in the reply is the size
    the page was cut to.

    Example:
        >>> from cloudkit.testing.fakes.billing._state import State, USER_LEVEL
        >>> state = State()
        >>> admin = state.add_user("admin", "pw", 28, None)
        >>> ctx = Ctx(state, Options(3600.0, lambda: 0.0, True, None), "x",
        ...           {"p_cnt": "2", "p_num": "2"}, [], admin, admin, None)
        >>> built = []
        >>> doc = listing(ctx, range(1, 6), lambda n: built.append(n) or {"id": text(n)})
        >>> doc["p_elems"], [row["id"]["$"] for row in doc["elem"]], built
        ({'$': '5'}, ['3', '4'], [3, 4])
    """
    params = ctx.params
    build = render if render is not None else cast("Callable[[_R], Row]", _same)
    rows: Sequence[Row] | None = None
    if params.get("filter") == "on":
        criteria = {k: v for k, v in params.items() if k not in _CONTROL_PARAMS and k not in handled and v}
        # assumption: a filter on a column the list does not have is ignored, as the panel ignores
        # unknown parameters; a cell matches on its text or on its raw "$orig" value.
        if criteria:
            rows = [r for r in map(build, records) if all(_matches(r, k, v) for k, v in criteria.items())]
    total = len(rows) if rows is not None else len(records)
    doc: Doc = {"p_elems": text(total)}
    cap = ctx.options.max_page_size
    start, stop = 0, total
    if params.get("p_cnt") or cap is not None:
        asked = _positive(params, "p_cnt", "0") if params.get("p_cnt") else None
        size = min(s for s in (asked, cap) if s is not None)
        page = _positive(params, "p_num", "1")
        start, stop = (page - 1) * size, page * size
        doc["p_cnt"], doc["p_num"] = text(size), text(page)
    page_rows = list(rows[start:stop]) if rows is not None else [build(r) for r in records[start:stop]]
    if page_rows:  # assumption: like the XML it maps, an empty list has no "elem" key at all
        doc["elem"] = page_rows
    return doc


def _same(row: Row) -> Row:
    return row


def _matches(row: Row, column: str, wanted: str) -> bool:
    return column not in row or wanted in (row[column]["$"], row[column].get("$orig"))


def _positive(params: Mapping[str, str], name: str, default: str) -> int:
    raw = params.get(name) or default
    if not raw.isdigit() or int(raw) < 1:
        raise WireError("value", f"invalid value of '{name}'", obj=name, value=raw)
    return int(raw)
