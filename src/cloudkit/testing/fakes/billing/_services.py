"""Service handlers: the ``vds`` list, its operations and the processing module's reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from cloudkit.testing.fakes.billing._context import Ctx, Doc, Row, WireError, doc_ok, listing, text
from cloudkit.testing.fakes.billing._state import (
    ACTIVE,
    DELETED,
    IN_PROGRESS,
    MODULE_ID,
    OPERATION_RUNNING,
    OPERATION_TARGET,
    ORDERED,
    SET_STATUS_CODES,
    SUSPENDED_BY_CLIENT,
    TASK_TYPES,
    Expense,
    Item,
    Operation,
    Task,
)


def vds(ctx: Ctx) -> Doc:
    """``vds``: the services in scope (deleted ones are gone); an admin's rows name the owner.

    ``filter=on&id=<id>`` looks the one service up by id instead of scanning the list (the generic
    filter then still checks every other criterion).
    """
    scope = ctx.scope()
    items: Iterable[Item] = ctx.state.items.values()
    wanted = ctx.params.get("id", "").strip() if ctx.params.get("filter") == "on" else ""
    if wanted:
        found = ctx.state.items.get(int(wanted)) if wanted.isdigit() else None
        items = [found] if found is not None else []
    records = [i for i in items if i.status != DELETED and (scope is None or i.account_id == scope)]

    def render(i: Item) -> Row:
        row = {"id": text(i.id), "name": text(i.name), "status": text(i.status)}
        return ctx.with_account(row, i.account_id)

    return listing(ctx, records, render, handled=_BY_ID if wanted else frozenset())


_BY_ID = frozenset({"id"})


def operation(name: str) -> Callable[[Ctx], Doc]:
    """``vds.<op>``: start ``name`` on every ``elid`` (all or none), or finish it at once.

    Staff (the admin) may do anything. A client (a user, or the admin with ``su``) may suspend an
    active service of their own and resume one they suspended themselves, and only when the product
    allows it (``client_suspend``, the product setting "allow clients to suspend/resume"; assumption:
    off unless a test turns it on, and the refusals are ``access`` errors); a client's suspension shows
    "Suspended (by client)" (status 6).
    """

    def handle(ctx: Ctx) -> Doc:
        by_client = not ctx.is_admin
        items = [ctx.item(item_id) for item_id in ctx.ids()]
        pending = {op.item: op for op in ctx.state.operations.values()}
        for item in items:  # validate every id before touching any (a group action is all or none)
            if item.id in pending and pending[item.id].name != name:
                raise WireError(
                    "value", f"service {item.id} has an operation in progress", obj="elid", value=str(item.id)
                )
            if by_client:
                _client_may(ctx, item, name)
        target = SUSPENDED_BY_CLIENT if by_client and name == "suspend" else OPERATION_TARGET[name]
        for item in items:
            if item.id in pending or item.status == target:
                continue  # already there or already on its way: an idempotent ok
            _start(ctx, item, name, by_client=by_client)
        return doc_ok()

    return handle


def _client_may(ctx: Ctx, item: Item, name: str) -> None:
    """Refuse a client's suspend or resume the product or the service's state does not allow."""
    if not ctx.options.client_suspend:
        raise WireError(
            "access",
            "access denied: the product does not let clients suspend or resume their services "
            "(setting 'allow clients to suspend/resume' is off)",
        )
    if name == "suspend" and item.status not in (ACTIVE, SUSPENDED_BY_CLIENT):
        raise WireError("access", f"access denied: service {item.id} is not active", obj="elid")
    if name == "resume" and item.status not in (SUSPENDED_BY_CLIENT, ACTIVE):
        raise WireError(
            "access", f"access denied: service {item.id} was not suspended by the client", obj="elid"
        )


def _start(ctx: Ctx, item: Item, name: str, *, by_client: bool = False) -> None:
    """Start ``name`` on ``item``: at once, or a running operation (run by the module, if there is one)."""
    if ctx.options.complete_operations and not ctx.options.processing_module:
        item.status = SUSPENDED_BY_CLIENT if by_client and name == "suspend" else OPERATION_TARGET[name]
        return
    item.status = IN_PROGRESS
    op = Operation(ctx.state.next_id("operation"), item.id, name, by_client=by_client)
    ctx.state.operations[op.id] = op
    if ctx.options.processing_module:
        ctx.state.launches.append(op.id)


# assumption: what an order stores as item params. BILLmanager keeps the order's fields (tariff,
# period, add-ons, the product type's own params) on the item; the fake keeps every field of the
# order but its flags, so ``image``, ``flavor`` and ``system_volume_gb`` read back through ``.edit``.
_ORDER_FLAGS = frozenset({"skipbasket", "domain"})
# the item's own fields in its ``.edit`` form: an update with ``sok`` never overwrites them
_ITEM_FIELDS = frozenset({"id", "name", "status", "account_id", "processingmodule"})


def order_param(ctx: Ctx) -> Doc:
    """``vds.order.param``: order a service (user; the admin with ``su``), W9 in billing.md.

    ``pricelist`` (a tariff the fake knows, else ``missed`` about ``pricelist``) and ``period`` are
    required, ``sok=ok`` submits. With ``skipbasket=on`` the tariff's price is charged at once
    (``not_enough_money`` with W7's params when balance plus credit limit do not cover it) and the
    service opens: a running operation ``open`` (run by the processing module when there is one, else
    finished at once or left in progress as ``complete_operations`` says). assumptions: without
    ``skipbasket`` the basket is not simulated: nothing is charged, the service stays ordered (status
    1) and nothing runs; a tariff's price is the price of one order whatever the period; the name is
    ``domain`` when given, else ``vm-<id>``; the reply carries the new item's ``id``, as a create form
    does.
    """
    if not ctx.sok:
        return ctx.form({})
    raw_tariff = ctx.required("pricelist")
    price = ctx.state.tariffs.get(int(raw_tariff)) if raw_tariff.isdigit() else None
    if price is None:
        raise WireError("missed", f"tariff {raw_tariff} not found", obj="pricelist", value=raw_tariff)
    period = ctx.required("period")
    if not period.lstrip("-").isdigit():
        raise WireError("value", "invalid value of 'period'", obj="period", value=period)
    paid_now = ctx.params.get("skipbasket") == "on"
    if paid_now and price > 0:
        _charge_order(ctx, price)
    params = {k: v for k, v in ctx.form({}).items() if k not in _ORDER_FLAGS and k != "elid"}
    item = ctx.state.add_item(ctx.account().id, "", ORDERED, {k: v["$"] for k, v in params.items()})
    item.name = ctx.params.get("domain", "").strip() or f"vm-{item.id}"
    if paid_now:
        _start(ctx, item, "open")
    return ctx.created(item.id)


def _charge_order(ctx: Ctx, price: Decimal) -> None:
    """Take an order's price from the balance, or refuse with W7's ``not_enough_money``."""
    account = ctx.account()
    limit = account.credit_limit or Decimal(0)
    deficit = price - (account.balance + limit)
    if deficit > 0:
        raise WireError(
            "not_enough_money",
            "insufficient funds to complete the operation",
            params=[
                ("amount", str(price)),
                ("have", str(account.balance)),
                ("currency", account.currency),
                ("deficit", str(deficit)),
                ("limit", str(limit)),
            ],
        )
    covered = max(Decimal(0), min(account.balance, price))
    account.balance -= price
    expense_id = ctx.state.next_id("expense")
    ctx.state.expenses[expense_id] = Expense(
        expense_id, account.id, price, price - covered, "order", ctx.now(), debited=True
    )


def edit(ctx: Ctx) -> Doc:
    """``vds.edit elid=<item>``: the service's form (its fields and item params); ``sok`` updates params.

    assumption: the form's field names (``account_id`` for the owner's account id, ``processingmodule``
    when a module runs the service, then every item param by name); an update changes item params
    only and starts no ``setparam`` operation.
    """
    item = ctx.item(ctx.one_id())
    if ctx.sok:
        for name, value in ctx.form({}).items():
            if name not in _ITEM_FIELDS and name != "elid":
                item.params[name] = value["$"]
        return ctx.ok()
    fields: Doc = {
        "id": text(item.id),
        "name": text(item.name),
        "status": text(item.status),
        "account_id": text(item.account_id),
    }
    if ctx.options.processing_module:
        fields["processingmodule"] = text(MODULE_ID)
    fields.update({name: text(value) for name, value in item.params.items() if name not in _ITEM_FIELDS})
    return ctx.form(fields)


def service_post(name: str) -> Callable[[Ctx], Doc]:
    """``service.post<op>``: the processing module reports that ``name`` finished on ``elid``."""

    def handle(ctx: Ctx) -> Doc:
        for item_id in ctx.ids():
            item = ctx.item(item_id)
            op = next((o for o in ctx.state.operations.values() if o.item == item.id), None)
            if op is not None and op.name == name:
                ctx.state.complete(op)  # a client's suspend ends "Suspended (by client)"
            else:
                item.status = OPERATION_TARGET[name]
        return doc_ok()

    return handle


def _operation_row(o: Operation) -> Doc:
    row: Doc = {
        "id": text(o.id),
        "item": text(o.item),
        "name": text(o.name),
        "trycount": text(o.trycount),
        "status": text(OPERATION_RUNNING),
        # assumption: the manual switch as an on/off column, the stored error as "errorxml" (left out
        # when there is none, as the XML it maps leaves out an empty element)
        "manual": text("on" if o.manual else "off"),
    }
    if o.errorxml:
        row["errorxml"] = text(o.errorxml)
    return row


def runningoperation(ctx: Ctx) -> Doc:
    """``runningoperation``: operations waiting for the processing module (admin)."""
    return listing(ctx, [_operation_row(o) for o in ctx.state.operations.values()])


def _operation(ctx: Ctx, op_id: int) -> Operation:
    op = ctx.state.operations.get(op_id)
    if op is None:
        raise WireError("missed", f"running operation {op_id} not found", obj="elid", value=str(op_id))
    return op


def runningoperation_edit(ctx: Ctx) -> Doc:
    """``runningoperation.edit``: the operation's form; with ``sok`` it stores ``errorxml``.

    pmregistrar.php's catch block: ``runningoperation.edit sok=ok elid=<ro> errorxml=<error>``.
    """
    op = _operation(ctx, ctx.one_id())
    if not ctx.sok:
        return ctx.form(_operation_row(op))
    if "errorxml" in ctx.params:
        op.errorxml = ctx.params["errorxml"]
    return ctx.ok()


def runningoperation_setmanual(ctx: Ctx) -> Doc:
    """``runningoperation.setmanual elid=<ro>``: billing stops retrying; staff take over."""
    for op in [_operation(ctx, op_id) for op_id in ctx.ids()]:  # all or none
        op.manual = True
    return doc_ok()


def task_gettype(ctx: Ctx) -> Doc:
    """``task.gettype operation=<cmd>``: the staff task type of a command (``doc.task_type``, or empty)."""
    task_type = TASK_TYPES.get(ctx.params.get("operation", ""), "")
    return {"task_type": text(task_type) if task_type else {}}


def task_edit(ctx: Ctx) -> Doc:
    """``task.edit``: the new-task form; with ``sok`` a task for ``item`` (and ``runningoperation``).

    assumption: billing itself does not refuse a second task of the same type for an item; ISPsystem's
    module base checks before it creates (``CreateTask(..., uniq)``), so the fake does not dedupe.
    """
    if not ctx.sok:
        return ctx.form({})
    item_id = ctx.one_id("item")
    ctx.item(item_id)  # missed elid for an unknown service
    task_type = ctx.required("type")
    raw_op = ctx.params.get("runningoperation", "").strip()
    op_id = int(raw_op) if raw_op.isdigit() else None
    task = Task(ctx.state.next_id("task"), item_id, op_id, task_type)
    ctx.state.tasks[task.id] = task
    return ctx.created(task.id)


def task(ctx: Ctx) -> Doc:
    """``task``: the staff task list (admin). assumption: the function name and its columns."""
    rows = []
    for t in ctx.state.tasks.values():
        row: Doc = {"id": text(t.id), "item": text(t.item), "type": text(t.type)}
        if t.runningoperation is not None:
            row["runningoperation"] = text(t.runningoperation)
        rows.append(row)
    return listing(ctx, rows)


def service_setstatus(ctx: Ctx) -> Doc:
    """``service.setstatus elid=<item> service_status=2|8`` (a module's ``sync_item``)."""
    raw = ctx.required("service_status")
    status = SET_STATUS_CODES.get(raw)
    if status is None:
        raise WireError("value", "invalid value of 'service_status'", obj="service_status", value=raw)
    for item_id in ctx.ids():
        ctx.item(item_id).status = status
    return doc_ok()
