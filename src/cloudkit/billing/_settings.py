"""Billing settings: frozen, validated before any I/O, read from the environment only by ``from_env``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

from cloudkit._core._secret import Secret
from cloudkit._core._settings import EnvReader, check_http_url, to_secret
from cloudkit.errors import ConfigError

__all__ = ["BillingFunctions", "BillingSettings"]


@attrs.frozen(kw_only=True)
class BillingFunctions:
    """The ``func`` names cloudkit calls. BILLmanager's names depend on the install (custom product
    types get their own prefix), so each one can be changed; defaults follow the public reference.

    Assumptions (no public source names them): ``promised_payment`` and its ``promised=on`` flag,
    ``balance`` (the user's sub-account list), ``services`` (the product type family, ``vds``) and
    ``user_settings`` (the form that changes the user's password).

    Example:
        >>> from cloudkit.billing import BillingFunctions
        >>> BillingFunctions(services="cloudproject").service_suspend
        'cloudproject.suspend'
    """  # noqa: D205 (the summary needs the reason)

    accounts: str = "account"
    balance: str = "subaccount"
    payments: str = "payment"
    promised_payment: str = "payment.add"
    expenses: str = "expense"
    invoices: str = "invoice"
    tickets: str = "clientticket"
    ticket_form: str = "clientticket.edit"
    services: str = "vds"
    running_operations: str = "runningoperation"
    user_settings: str = "usrparam"

    @property
    def service_suspend(self) -> str:
        """The suspend action of the service family."""
        return f"{self.services}.suspend"

    @property
    def service_resume(self) -> str:
        """The resume action of the service family."""
        return f"{self.services}.resume"

    @property
    def service_order(self) -> str:
        """The order form of the service family (billing.md W9: ``vds.order.param``)."""
        return f"{self.services}.order.param"

    @property
    def service_edit(self) -> str:
        """The edit form of the service family (its fields and item params)."""
        return f"{self.services}.edit"

    @property
    def service_delete(self) -> str:
        """The delete action of the service family."""
        return f"{self.services}.delete"


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ConfigError(f"BillingSettings.{attribute.name} must be > 0", system="billing")


@attrs.frozen(kw_only=True)
class BillingSettings:
    """How to reach and log in to billing.

    Attributes:
        url: the API endpoint, e.g. ``https://billing.example.com:1500/billmgr``.
        username: the login (an admin for a portal backend).
        password: a :class:`~cloudkit.Secret` (a plain str is wrapped); never printed.
        auth_mode: ``"session"`` (``func=auth`` once, then ``auth=<session id>``) or ``"authinfo"``
            (credentials on every request, no session).
        is_admin: whether the login is an admin. ``None`` learns it from the login reply (session mode)
            and assumes admin in authinfo mode.
        timeout: seconds for one HTTP request.
        page_size: rows per page when reading lists (``p_cnt``); a server may cap it lower, and the
            client follows the page size the server really used.
        max_pages: the most pages one list may take; a list that needs more raises
            ``ResponseDecodeError`` rather than loop.
        operation_wait: seconds to wait for a queued service operation to finish.
        functions: the ``func`` names to call.

    Example:
        >>> from cloudkit.billing import BillingSettings
        >>> s = BillingSettings(url="http://127.0.0.1:1500/billmgr", username="admin", password="secret")
        >>> s
        BillingSettings(url='http://127.0.0.1:1500/billmgr', username='admin', password=Secret('***'), ...)
    """

    url: str
    username: str
    password: Secret = attrs.field(converter=to_secret)
    auth_mode: Literal["session", "authinfo"] = "session"
    is_admin: bool | None = None
    timeout: float = attrs.field(default=30.0, validator=_positive)
    page_size: int = 1000
    max_pages: int = 10_000
    operation_wait: float = attrs.field(default=60.0, validator=_positive)
    functions: BillingFunctions = attrs.field(factory=BillingFunctions)

    def __attrs_post_init__(self) -> None:
        """Validate before any I/O."""
        check_http_url(self.url, system="billing")
        if not self.username:
            raise ConfigError("billing username is empty", system="billing")
        if not self.password:
            raise ConfigError("billing password is empty", system="billing")
        if self.auth_mode not in {"session", "authinfo"}:
            raise ConfigError(
                f"billing auth_mode must be 'session' or 'authinfo', got {self.auth_mode!r}",
                system="billing",
            )
        if self.page_size < 1:
            raise ConfigError("billing page_size must be >= 1", system="billing")
        if self.max_pages < 1:
            raise ConfigError("billing max_pages must be >= 1", system="billing")

    def __repr__(self) -> str:
        """Short and secret-free."""
        return (
            f"BillingSettings(url={self.url!r}, username={self.username!r}, password={self.password!r}, ...)"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BillingSettings:
        """Read ``CLOUDKIT_BILLING_URL``, ``_USERNAME``, ``_PASSWORD`` and optional ``_AUTH_MODE``,
        ``_TIMEOUT``, ``_PAGE_SIZE``, ``_MAX_PAGES``, ``_OPERATION_WAIT``, ``_SERVICES`` (the service
        ``func`` family).

        Example:
            >>> from cloudkit.billing import BillingSettings
            >>> env = {"CLOUDKIT_BILLING_URL": "http://b:1500/billmgr",
            ...        "CLOUDKIT_BILLING_USERNAME": "admin", "CLOUDKIT_BILLING_PASSWORD": "pw"}
            >>> BillingSettings.from_env(env).username
            'admin'
        """  # noqa: D205 (the list of variables is the summary)
        env = EnvReader.of("CLOUDKIT_BILLING_", environ, system="billing")
        mode = env.optional("AUTH_MODE", "session")
        if mode not in {"session", "authinfo"}:
            raise ConfigError(f"{env.source('AUTH_MODE')} must be session or authinfo", system="billing")
        return env.build(
            cls,
            url=env.required("URL"),
            username=env.required("USERNAME"),
            password=env.required_secret("PASSWORD"),
            auth_mode="session" if mode == "session" else "authinfo",
            timeout=env.optional_float("TIMEOUT", 30.0),
            page_size=env.optional_int("PAGE_SIZE", 1000),
            max_pages=env.optional_int("MAX_PAGES", 10_000),
            operation_wait=env.optional_float("OPERATION_WAIT", 60.0),
            functions=BillingFunctions(services=env.optional("SERVICES", "vds") or "vds"),
        )
