"""The ``func`` table of the billing fake and the dispatch of one call, built once at import."""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from cloudkit.testing.fakes.billing import _accounts, _services, _session, _tickets
from cloudkit.testing.fakes.billing._context import Ctx, Doc, Options, WireError, doc_error, doc_ok, listing
from cloudkit.testing.fakes.billing._state import FakeAttachment, State


@dataclass(frozen=True, slots=True)
class Route:
    """Who may call a function, what kind it is (a read, a form, an action) and its handler."""

    level: Literal["admin", "user", "both"]
    kind: Literal["list", "read", "form", "action"]  # "read": a lookup that is neither list nor form
    handler: Callable[[Ctx], Doc]
    creates: str | None = None  # the id table of a create form (for silent-ok and swallowed ids)

    def writes(self, params: Mapping[str, str]) -> bool:
        """Whether a call with ``params`` changes state: an action, or a form submitted with ``sok``."""
        return self.kind == "action" or (self.kind == "form" and bool(params.get("sok")))


ROUTES: Mapping[str, Route] = types.MappingProxyType(
    {
        "account": Route("admin", "list", _accounts.account),
        "subaccount": Route("user", "list", _accounts.subaccount),
        "usrparam": Route("user", "form", _session.usrparam),
        "payment": Route("both", "list", _accounts.payment),
        "payment.add": Route("user", "form", _accounts.payment_add, creates="payment"),
        "expense": Route("both", "list", _accounts.expense),
        "invoice": Route("both", "list", _accounts.invoice),
        "invoice.generate": Route("admin", "form", _accounts.invoice_generate, creates="invoice"),
        "clientticket": Route("user", "list", _tickets.clientticket),
        "clientticket.edit": Route("user", "form", _tickets.clientticket_edit, creates="ticket"),
        "ticket_all": Route("admin", "list", _tickets.ticket_all),
        "ticket_all.edit": Route("admin", "form", _tickets.ticket_all_edit),
        "ticket.edit": Route("admin", "form", _tickets.ticket_edit),
        "vds": Route("both", "list", _services.vds),
        "vds.order.param": Route("user", "form", _services.order_param, creates="item"),
        "vds.edit": Route("both", "form", _services.edit),
        "vds.suspend": Route("both", "action", _services.operation("suspend")),
        "vds.resume": Route("both", "action", _services.operation("resume")),
        "vds.delete": Route("admin", "action", _services.operation("close")),
        "service.postopen": Route("admin", "action", _services.service_post("open")),
        "service.postsuspend": Route("admin", "action", _services.service_post("suspend")),
        "service.postresume": Route("admin", "action", _services.service_post("resume")),
        "service.postclose": Route("admin", "action", _services.service_post("close")),
        "runningoperation": Route("admin", "list", _services.runningoperation),
        "runningoperation.edit": Route("admin", "form", _services.runningoperation_edit),
        "runningoperation.setmanual": Route("admin", "action", _services.runningoperation_setmanual),
        "service.setstatus": Route("admin", "action", _services.service_setstatus),
        "task": Route("admin", "list", _services.task),
        "task.gettype": Route("admin", "read", _services.task_gettype),
        "task.edit": Route("admin", "form", _services.task_edit, creates="task"),
        "su": Route("admin", "action", _session.su),
        "chlevel": Route("both", "action", _session.chlevel),
        "keepalive": Route("both", "action", _session.keepalive),
        "session.newkey": Route("admin", "action", _session.session_newkey),
    }
)


_FAMILY = "vds"  # the product type family of the fake's services


def route_of(func: str, item_type: str) -> Route | None:
    """The route of ``func``; the module's item type ``<item_type>[.<action>]`` answers as ``vds``'s.

    assumption: the fake has one product type, so its services answer under ``vds`` and under the
    processing module's item type alike (BILLmanager names a custom type's functions after it).

    Example:
        >>> route_of("cloudserver.edit", "cloudserver") is ROUTES["vds.edit"], route_of("x", "vds")
        (True, None)
    """
    route = ROUTES.get(func)
    if route is None and item_type and (func == item_type or func.startswith(f"{item_type}.")):
        route = ROUTES.get(_FAMILY + func[len(item_type) :])
    return route


def dispatch(state: State, options: Options, params: Mapping[str, str], files: list[FakeAttachment]) -> Doc:
    """The ``doc`` answering one call: a login, a function's answer, or a ``doc.error``."""
    try:
        return _dispatch(state, options, params, files)
    except WireError as err:
        return doc_error(err)


def _dispatch(state: State, options: Options, params: Mapping[str, str], files: list[FakeAttachment]) -> Doc:
    func = params.get("func", "")
    if func == "auth":
        return _session.login(state, options, params)
    route = route_of(func, options.item_type)
    if route is None:
        # assumption: the error type for an unknown function is "unknown"
        raise WireError("unknown", f"unknown function '{func}'", obj="func", value=func)
    ctx = _session.authenticate(state, options, func, params, files)
    if route.level == "admin" and not ctx.is_admin:
        raise WireError("access", "access denied: this function needs an administrator")
    if route.level == "user" and ctx.is_admin:
        return _in_admin_context(route, ctx)
    return route.handler(ctx)


def _in_admin_context(route: Route, ctx: Ctx) -> Doc:
    """A user-level function run by an admin without su: the silent no-op (``billing.silent-ok``).

    The admin has no account, so lists are empty and forms answer ok (with a plausible, never used
    id for creates) and change nothing.
    """
    if route.kind == "list":
        return listing(ctx, [])
    if route.kind == "form" and not ctx.sok:
        return ctx.form({})
    if route.creates and not ctx.params.get("elid"):
        return ctx.created(ctx.state.next_id(route.creates))
    return doc_ok()
