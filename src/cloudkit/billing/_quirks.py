"""Every billing workaround, each registered as a :class:`~cloudkit.Quirk` with one handler.

``_wire.py`` and ``_client.py`` call these handlers by name, so ``grep quirk`` finds every workaround
and errors raised here carry ``.quirk``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloudkit._core._quirks import Quirk, quirk
from cloudkit.errors import (
    AuthenticationError,
    BillingApiError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ScopeError,
    SilentNoOpError,
)

SYSTEM = "billing"
_REF = "reference/billing.md"

SU_SCOPE = Quirk(
    id="billing.su-scope",
    system="billing",
    summary=(
        "User-level functions (promised payment, client tickets, orders, balance) run in the caller's "
        "own context: called by an admin they do not act for any client. Billing's own UI switches "
        "scope with su=<login>."
    ),
    handling=(
        "BillingClient.as_user(login) returns a client whose every request carries su=<login>; only an "
        "admin session may do that (ScopeError otherwise). User-level operations on an admin client "
        "without as_user raise ScopeError before the user-level request is sent (a client that has not "
        "logged in yet logs in first: the login reply tells an admin from a customer's own login, "
        "which may call them)."
    ),
    evidence="upstream-source",
    sources=(
        "cassettes/billing/create_promised_payment__as_user.yaml",
        "cassettes/billing/as_user__from_user_session.yaml",
        f"{_REF} §4 (su in three forms; gwjabber su=<login>)",
        "FIELD-NOTES.md Billing 3 (promised payments as admin did nothing)",
        (
            "https://ispsystem.com/docs/b6c/developer-section/guide-to-ispsystem-software-api "
            "(acting on behalf of users; admin calls give an error or incomplete data)"
        ),
        (
            "https://ispsystem.com/docs/b6c/developer-section/billmanager-api/expenses-expense "
            "(<list>.su functions)"
        ),
    ),
)

SILENT_OK = Quirk(
    id="billing.silent-ok",
    system="billing",
    summary="Some requests answer OK and change nothing (e.g. a promised payment made in the wrong scope).",
    handling=(
        "Every mutating operation declares a post-condition and reads back to check it; an OK without "
        "the effect raises SilentNoOpError carrying this quirk id."
    ),
    evidence="assumption",
    sources=(
        "cassettes/billing/create_promised_payment__swallowed.yaml",
        "cassettes/billing/suspend_service__swallowed.yaml",
        "cassettes/billing/complete_operation__swallowed.yaml",
        f"{_REF} §4 Consequences, §10 gotcha 2",
    ),
)

FORM_NEEDS_SOK = Quirk(
    id="billing.form-needs-sok",
    system="billing",
    summary="A form call without sok=ok only returns the form: nothing is saved, and no error is given.",
    handling="Every form submission cloudkit makes carries sok=ok; raw call() leaves it to the caller.",
    evidence="upstream-source",
    sources=(
        "cassettes/billing/create_ticket__as_user.yaml",
        (
            f"{_REF} §1 Reserved parameters (B6 register page: "
            "'Without this parameter, changes will not be applied')"
        ),
        (
            "https://www.ispsystem.com/docs/b6c/developer-section/billmanager-api/clients-account-subaccount "
            "(sok)"
        ),
    ),
)

ERRORS_AT_HTTP_200 = Quirk(
    id="billing.errors-at-http-200",
    system="billing",
    summary="Errors arrive with HTTP 200 as a doc.error object (type, object, value, params, msg).",
    handling=(
        "Every reply is checked for doc.error before decoding and mapped to a typed ApiError subclass "
        "carrying type, object, value and message; not_enough_money becomes InsufficientFundsError "
        "with Decimal amounts."
    ),
    evidence="upstream-source",
    sources=(
        "cassettes/billing/call__ticket_without_message.yaml",
        "cassettes/billing/call__unknown_func.yaml",
        f"{_REF} §2 ('Errors come back with HTTP 200'), §5.3, wire examples W7 and W8",
        (
            "https://ispsystem.com/docs/b6c/developer-section/guide-to-ispsystem-software-api (doc.error "
            "in the reply body)"
        ),
    ),
)

SESSION_EXPIRY = Quirk(
    id="billing.session-expiry",
    system="billing",
    summary="A session expires after an idle hour and then every call fails with an auth error.",
    handling=(
        "On an auth error for a session request, log in again once and repeat the call; "
        "a second failure raises."
    ),
    evidence="upstream-source",
    sources=(
        "cassettes/billing/list_accounts__session_expired.yaml",
        f"{_REF} §3 (session lasts 1 hour from the last request)",
        (
            "https://www.ispsystem.com/docs/billmanager/preliminary-setup/authorization-settings "
            "(session lifetime)"
        ),
    ),
)

ONE_ELEMENT_LISTS = Quirk(
    id="billing.one-element-lists",
    system="billing",
    summary=(
        "JSON output wraps some single children in one-element lists ({'id': [{'$': '5'}]}), not uniformly."
    ),
    handling="The decoder accepts a dict or a one-element list at every level of the doc envelope.",
    evidence="assumption",
    sources=(
        "cassettes/billing/list_services__wrapped_children.yaml",
        f"{_REF} §2 (sjson vs json), gotcha 9",
    ),
)


@quirk(SU_SCOPE)
def refuse_unscoped(operation: str) -> ScopeError:
    """The error for a user-level operation on an admin client without ``as_user``."""
    SU_SCOPE.fired(operation)
    return ScopeError(
        f"{operation} is a user-level billing function: call it on billing.as_user(<login>); "
        "as admin it would answer OK and do nothing",
        system=SYSTEM,
        operation=operation,
        quirk=SU_SCOPE.id,
    )


@quirk(SU_SCOPE)
def refuse_scoped(operation: str, login: str | None) -> ScopeError:
    """The error for an admin-level operation on an ``as_user`` view or on a user's own client."""
    SU_SCOPE.fired(operation)
    who = f"acts as {login!r}" if login else "is logged in as a user"
    return ScopeError(
        f"{operation} is an admin-level billing function and this client {who}: "
        "call it on the admin client (billing would refuse it with an access error)",
        system=SYSTEM,
        operation=operation,
        quirk=SU_SCOPE.id,
    )


@quirk(SU_SCOPE)
def refuse_su_from_user(operation: str) -> ScopeError:
    """The error for ``as_user`` on a session that is not an admin's."""
    SU_SCOPE.fired(operation)
    return ScopeError(
        "only an admin session may act as another user (su)",
        system=SYSTEM,
        operation=operation,
        quirk=SU_SCOPE.id,
    )


@quirk(SU_SCOPE)
def su_params(login: str | None) -> dict[str, str]:
    """The parameter that scopes one request to ``login``; empty for an unscoped client."""
    return {} if login is None else {"su": login}


@quirk(FORM_NEEDS_SOK)
def submit(params: Mapping[str, str]) -> dict[str, str]:
    """Form parameters with ``sok=ok`` so the form is saved, not merely shown."""
    return {**params, "sok": "ok"}


@quirk(SILENT_OK)
def silent_no_op(operation: str, expectation: str) -> SilentNoOpError:
    """The error for an OK whose declared effect did not happen."""
    SILENT_OK.fired(operation)
    return SilentNoOpError(
        f"billing answered OK but {expectation}",
        system=SYSTEM,
        operation=operation,
        quirk=SILENT_OK.id,
    )


class BillingAuthenticationError(BillingApiError, AuthenticationError):
    """Billing's ``auth`` envelope error: an :class:`AuthenticationError` with billing's fields."""


class BillingPermissionDeniedError(BillingApiError, PermissionDeniedError):
    """Billing's ``access`` envelope error: a :class:`PermissionDeniedError` with billing's fields."""


class BillingConflictError(BillingApiError, ConflictError):
    """Billing's ``exists`` envelope error: a :class:`ConflictError` with billing's fields."""


class BillingNotFoundError(BillingApiError, NotFoundError):
    """Billing's ``notexist`` envelope error: a :class:`NotFoundError` with billing's fields."""


_ERROR_TYPES: dict[str, type[BillingApiError]] = {
    "auth": BillingAuthenticationError,
    "access": BillingPermissionDeniedError,
    "exists": BillingConflictError,
    "exist": BillingConflictError,
    "notexist": BillingNotFoundError,
    "not_exists": BillingNotFoundError,
}
# assumption: an order's unknown tariff is ``missed`` about ``pricelist``, as an unknown element is
_REFERENCE_FIELDS = frozenset({"elid", "plid", "su", "item", "id", "pricelist"})


@quirk(ERRORS_AT_HTTP_200)
def error_class(kind: str, obj: str | None) -> type[BillingApiError]:
    """The error class for a ``doc.error`` of type ``kind`` about ``obj`` (the error came with HTTP 200).

    COREmanager's ``missed`` names an element that was not found when the object is a reference
    (``elid``, ``su``, ...); for a form field it means the field is missing: a plain invalid request.
    """
    if kind == "missed":
        return BillingNotFoundError if obj in _REFERENCE_FIELDS else BillingApiError
    return _ERROR_TYPES.get(kind, BillingApiError)


@quirk(SESSION_EXPIRY)
def is_session_expired(error_type: str | None) -> bool:
    """Whether an error type means the session has to be renewed (``auth``, inferred from docs)."""
    return error_type == "auth"


@quirk(ONE_ELEMENT_LISTS)
def unwrap(node: Any) -> Any:
    """``node`` itself, or its only element when it arrived wrapped in a one-element list."""
    while isinstance(node, list) and len(node) == 1:
        node = node[0]
    return node
