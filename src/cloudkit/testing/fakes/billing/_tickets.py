"""Support ticket handlers: the client's tickets and the staff's view of all of them."""

from __future__ import annotations

from cloudkit.testing.fakes.billing._context import Ctx, Doc, WireError, listing, text
from cloudkit.testing.fakes.billing._state import (
    ASSIGNMENT_OFFSET,
    TICKET_AWAITING,
    TICKET_NEW,
    TICKET_UNDER_REVIEW,
    FakeMessage,
    Ticket,
)


def _messages(ticket: Ticket) -> list[Doc]:
    rows = [
        {
            "id": text(m.id),
            "message": text(m.text),
            "message_user": text(m.user),  # B6 ticket.message / ticket_all.message column name
            "date_post": text(m.date_post),
        }
        for m in ticket.messages
    ]
    mlist: Doc = {"$name": "mlist"}
    if rows:
        mlist["elem"] = rows
    return [mlist]


def _view(ctx: Ctx, ticket: Ticket) -> Doc:
    fields: Doc = {
        "id": text(ticket.id),
        "name": text(ticket.name),
        "tstatus": text(ticket.tstatus),
        "list": _messages(ticket),
    }
    if ctx.is_admin:
        fields["account"] = text(ctx.state.accounts[ticket.account_id].name)
    return ctx.form(fields)


def _post(ctx: Ctx, ticket: Ticket, tstatus: int) -> None:
    message = FakeMessage(
        ctx.state.next_id("message"),
        ctx.required("message"),
        ctx.principal.login if ctx.is_admin else ctx.actor.login,
        ctx.now(),
        tuple(ctx.files),
    )
    ticket.messages.append(message)
    ticket.tstatus = tstatus


def clientticket(ctx: Ctx) -> Doc:
    """``clientticket``: the client's tickets."""
    acc = ctx.account()
    rows = [
        {"id": text(t.id), "name": text(t.name), "tstatus": text(t.tstatus)}
        for t in ctx.state.tickets.values()
        if t.account_id == acc.id
    ]
    return listing(ctx, rows)


def clientticket_edit(ctx: Ctx) -> Doc:
    """``clientticket.edit``: open a ticket, or read one and reply to it (``elid``)."""
    if ctx.params.get("elid"):
        ticket = ctx.ticket(ctx.one_id())
        if not ctx.sok:
            return _view(ctx, ticket)
        _post(ctx, ticket, TICKET_UNDER_REVIEW)
        return ctx.ok(f"func=clientticket.edit&elid={ticket.id}")
    if not ctx.sok:
        return ctx.form({})
    name = ctx.required("name")
    ctx.required("message")
    ticket = Ticket(ctx.state.next_id("ticket"), ctx.account().id, name, TICKET_NEW, [])
    _post(ctx, ticket, TICKET_NEW)
    ctx.state.tickets[ticket.id] = ticket
    return ctx.created(ticket.id)


def ticket_all(ctx: Ctx) -> Doc:
    """``ticket_all``: every ticket (staff)."""
    rows = [
        {
            "id": text(t.id),
            "name": text(t.name),
            "tstatus": text(t.tstatus),
            "account": text(ctx.state.accounts[t.account_id].name),
        }
        for t in ctx.state.tickets.values()
    ]
    return listing(ctx, rows)


def ticket_all_edit(ctx: Ctx) -> Doc:
    """``ticket_all.edit``: read a ticket, or take it (and answer, with ``message``)."""
    ticket = ctx.ticket(ctx.one_id())
    if not ctx.sok:
        return _view(ctx, ticket)
    if ctx.params.get("message"):
        _post(ctx, ticket, TICKET_AWAITING)
    return ctx.ok(f"func=ticket.edit&elid={ticket.id + ASSIGNMENT_OFFSET}&plid={ticket.id}")


def ticket_edit(ctx: Ctx) -> Doc:
    """``ticket.edit``: a staff assignment of a ticket; answer it."""
    assignment = ctx.one_id()
    ticket_id = ctx.one_id("plid") if ctx.params.get("plid") else assignment - ASSIGNMENT_OFFSET
    if assignment != ticket_id + ASSIGNMENT_OFFSET:
        raise WireError("missed", f"assignment {assignment} not found", obj="elid")
    ticket = ctx.ticket(ticket_id)
    if not ctx.sok:
        return _view(ctx, ticket)
    _post(ctx, ticket, TICKET_AWAITING)
    return ctx.ok(f"func=ticket.edit&elid={assignment}&plid={ticket.id}")
