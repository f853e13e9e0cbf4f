"""Service handlers: the ``vds`` list, its operations and the processing module's reports."""

from __future__ import annotations

from collections.abc import Callable

from cloudkit.testing.fakes.billing._context import Ctx, Doc, WireError, doc_ok, listing, text
from cloudkit.testing.fakes.billing._state import (
    DELETED,
    IN_PROGRESS,
    OPERATION_RUNNING,
    OPERATION_TARGET,
    Operation,
)


def vds(ctx: Ctx) -> Doc:
    """``vds``: the services in scope (deleted ones are gone)."""
    rows = [
        ctx.with_account({"id": text(i.id), "name": text(i.name), "status": text(i.status)}, i.account_id)
        for i in ctx.state.items.values()
        if i.status != DELETED and ctx.visible(i.account_id)
    ]
    return listing(ctx, rows)


def operation(name: str) -> Callable[[Ctx], Doc]:
    """``vds.<op>``: start ``name`` on every ``elid`` (all or none), or finish it at once."""
    target = OPERATION_TARGET[name]

    def handle(ctx: Ctx) -> Doc:
        items = [ctx.item(item_id) for item_id in ctx.ids()]
        pending = {op.item: op for op in ctx.state.operations.values()}
        for item in items:  # validate every id before touching any (a group action is all or none)
            if item.id in pending and pending[item.id].name != name:
                raise WireError(
                    "value", f"service {item.id} has an operation in progress", obj="elid", value=str(item.id)
                )
        for item in items:
            if item.id in pending or item.status == target:
                continue  # already there or already on its way: an idempotent ok
            if ctx.options.complete_operations:
                item.status = target
            else:
                item.status = IN_PROGRESS
                op = Operation(ctx.state.next_id("operation"), item.id, name)
                ctx.state.operations[op.id] = op
        return doc_ok()

    return handle


def service_post(name: str) -> Callable[[Ctx], Doc]:
    """``service.post<op>``: the processing module reports that ``name`` finished on ``elid``."""

    def handle(ctx: Ctx) -> Doc:
        for item_id in ctx.ids():
            item = ctx.item(item_id)
            op = next((o for o in ctx.state.operations.values() if o.item == item.id), None)
            if op is not None and op.name == name:
                ctx.state.complete(op)
            else:
                item.status = OPERATION_TARGET[name]
        return doc_ok()

    return handle


def runningoperation(ctx: Ctx) -> Doc:
    """``runningoperation``: operations waiting for the processing module (admin)."""
    rows = [
        {
            "id": text(o.id),
            "item": text(o.item),
            "name": text(o.name),
            "trycount": text(o.trycount),
            "status": text(OPERATION_RUNNING),
        }
        for o in ctx.state.operations.values()
    ]
    return listing(ctx, rows)
