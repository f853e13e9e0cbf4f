"""`BillingClient`: the only billing module that does I/O.

Each public method is thin: it checks scope and arguments, asks ``_wire`` to build the request, sends
it through the one retry layer, asks ``_wire`` to parse the reply, and for mutating operations reads
back to prove the declared effect (quirk ``billing.silent-ok``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Self, TypeVar

import attrs
import httpx

from cloudkit._core._errors import scrub
from cloudkit._core._http import make_http_client, translate_transport_errors
from cloudkit._core._retry import Poller, RetryPolicy
from cloudkit._core._secret import Secret
from cloudkit.billing import _paging, _quirks, _wire
from cloudkit.billing._models import (
    Account,
    Expense,
    Invoice,
    ModuleCommand,
    ModuleError,
    OrderState,
    Payment,
    PaymentStatus,
    RunningOperation,
    Service,
    ServiceForm,
    ServiceId,
    ServiceOrder,
    ServiceStatus,
    StaffTask,
    Ticket,
    TicketId,
    TicketMessage,
)
from cloudkit.billing._settings import BillingFunctions, BillingSettings
from cloudkit.errors import (
    ApiError,
    AuthenticationError,
    CloudkitError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ScopeError,
    TokenExpiredError,
    WaitTimeoutError,
)

__all__ = ["BillingClient"]

log = logging.getLogger("cloudkit.billing")
T = TypeVar("T")
SYSTEM = "billing"
ParamValue = str | int | Decimal
_FIRST_POLL = 0.2  # a queued service operation is often done within a fraction of a second


@attrs.define
class _Connection:
    """What a client and its ``as_user`` views share: HTTP, retry policy, clock and the session."""

    settings: BillingSettings
    http: httpx.Client
    owns_http: bool
    retry: RetryPolicy
    poller: Poller
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    session_id: str | None = attrs.field(default=None, repr=False)
    session_is_admin: bool | None = None
    can_log_in: bool = True
    """False for a client on a session opened elsewhere (``from_session``): it holds no password."""

    def secrets(self) -> list[str]:
        password = self.settings.password.get_secret_value()
        found = [password, f"{self.settings.username}:{password}"]
        if self.session_id:
            found.append(self.session_id)
        return found


class BillingClient:
    """A typed client for a BILLmanager-style billing API.

    A client logged in as an admin acts in the admin's own scope; ``as_user(login)`` returns a view of
    the same connection whose every request carries ``su=<login>``. User-level operations (balance,
    promised payments, client tickets) refuse to run unscoped on an admin client, because billing
    would answer OK and do nothing (quirks ``billing.su-scope`` and ``billing.silent-ok``).

    Args:
        settings: where and how to log in.
        http: an ``httpx.Client`` to use (the caller keeps ownership); by default one is made.
        retry: the retry policy for idempotent calls and verified writes.
        poller: when a wait for a queued service operation polls, learned per operation and billing URL
            (see :class:`~cloudkit.Poller`); share one between clients so they learn together. Default:
            ``Poller(first=0.2)``.
        clock: monotonic seconds, for waits (tests inject a fake clock).
        sleep: how to wait between polls (tests inject the fake clock's sleep).

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit.billing import BillingClient, BillingSettings
        >>> from cloudkit.testing.fakes import BillingFake
        >>> with BillingFake() as fake, BillingClient(BillingSettings(
        ...         url=fake.url, username="admin", password="secret")) as billing:
        ...     alice = billing.as_user("alice")
        ...     payment = alice.create_promised_payment(Decimal("100"))
        ...     payment.status.name, alice.get_balance()
        ('PROMISED', Decimal('250.00'))
    """

    def __init__(
        self,
        settings: BillingSettings,
        *,
        http: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        poller: Poller | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Create a client; no request is sent until the first call."""
        owns_http = http is None
        if http is None:
            http = make_http_client(timeout=httpx.Timeout(settings.timeout, connect=5.0))
        self._conn = _Connection(
            settings=settings,
            http=http,
            owns_http=owns_http,
            retry=retry or RetryPolicy(),
            poller=poller or Poller(first=_FIRST_POLL),
            clock=clock,
            sleep=sleep,
        )
        self._su: str | None = None

    # ------------------------------------------------------------------------------ lifecycle, scope
    def __repr__(self) -> str:
        """URL, login and scope; never the password or session."""
        scope = f", as_user={self._su!r}" if self._su else ""
        s = self._conn.settings
        return f"BillingClient(url={s.url!r}, username={s.username!r}{scope})"

    def __enter__(self) -> Self:
        """Use as a context manager; the HTTP client is closed on exit if this client made it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on exit."""
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this client made it (``as_user`` views close nothing)."""
        if self._su is None and self._conn.owns_http:
            self._conn.http.close()

    @property
    def scope(self) -> str | None:
        """The login this client acts as (``su``), or ``None`` for the logged-in user's own scope."""
        return self._su

    def as_user(self, login: str) -> BillingClient:
        """A view of this client whose every request carries ``su=<login>``.

        Only an admin may act as another user: a client known to be logged in as a plain user raises
        :class:`~cloudkit.errors.ScopeError` (quirk ``billing.su-scope``).

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> billing = BillingClient(BillingSettings(url="http://127.0.0.1:1/billmgr",
            ...                                         username="admin", password="secret"))
            >>> billing.as_user("alice")
            BillingClient(url='http://127.0.0.1:1/billmgr', username='admin', as_user='alice')
        """
        if not login or login != login.strip():
            raise InvalidArgumentError(
                f"as_user needs a login without surrounding spaces, got {login!r}",
                system=SYSTEM,
                operation="as_user",
            )
        if self._su is not None:
            raise ScopeError(
                f"this client already acts as {self._su!r}; call as_user on the admin client",
                system=SYSTEM,
                operation="as_user",
                quirk=_quirks.SU_SCOPE.id,
            )
        if self._admin_known() is False:
            raise _quirks.refuse_su_from_user("as_user")
        view = object.__new__(BillingClient)
        view._conn = self._conn
        view._su = login
        return view

    def login(self) -> Secret:
        """Open a session now (``func=auth``) and return its id; normally the first call does it.

        In ``authinfo`` mode there is no session: this checks the credentials with one cheap call and
        returns an empty secret.

        Raises:
            AuthenticationError: the credentials were refused.
        """
        if self._conn.settings.auth_mode != "session":
            self._read(
                self._fn.balance if self._admin_known() is False else self._fn.accounts,
                {"p_cnt": "1"},
                operation="login",
            )
            return Secret("")
        self._conn.retry.call(self._login, system=SYSTEM, operation="login")
        return Secret(self._conn.session_id or "")

    def keepalive(self) -> None:
        """Keep the session from expiring (``func=keepalive``): sessions die after an idle hour."""
        self._send("keepalive", {}, operation="keepalive")

    @staticmethod
    def keepalive_session(
        url: str, session: Secret, *, http: httpx.Client, retry: RetryPolicy | None = None
    ) -> None:
        """Keep a session opened elsewhere alive (``func=keepalive``), knowing only its id.

        For a session kept by someone else, e.g. inside the portal's composite token; no credentials are
        needed and none are used: a dead session is not renewed.

        Raises:
            AuthenticationError: billing no longer knows the session (log in again).

        Example:
            >>> import httpx
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake() as fake, httpx.Client() as http:
            ...     session = BillingClient(BillingSettings(url=fake.url, username="alice",
            ...                                             password="alice-pass"), http=http).login()
            ...     BillingClient.keepalive_session(fake.url, session, http=http)
        """
        operation = "keepalive"
        value = session.get_secret_value()
        request = _wire.build_request(url, "keepalive", {"auth": value})
        (retry or RetryPolicy()).call(
            lambda: _exchange(http, request, operation, [value]), system=SYSTEM, operation=operation
        )

    @classmethod
    def from_session(
        cls,
        url: str,
        session_id: Secret,
        *,
        username: str = "session",
        http: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> BillingClient:
        """A user-level client on a billing session opened elsewhere (a portal customer's), knowing only its id.

        It never logs in: every call carries ``auth=<session_id>``, it is never an admin (``as_user`` is
        refused), and when billing says the session is dead it raises
        :class:`~cloudkit.errors.TokenExpiredError` ("billing session expired; log in again") instead of
        logging in, since it holds no password. ``username`` is only shown in its repr.

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake() as fake:
            ...     with BillingClient(BillingSettings(url=fake.url, username="alice",
            ...                                        password="alice-pass")) as own:
            ...         session_id = own.login()
            ...     with BillingClient.from_session(fake.url, session_id, username="alice") as alice:
            ...         balance = alice.get_balance()
            >>> balance, alice
            (Decimal('150.00'), BillingClient(url='http://127.0.0.1:.../billmgr', username='alice'))
        """  # noqa: E501 (the summary names both sides)
        value = session_id.get_secret_value()
        if not value:
            raise InvalidArgumentError(
                "the billing session id is empty", system=SYSTEM, operation="from_session"
            )
        # The session id stands in for the password: the settings need one, and the scrubbers then hide it.
        settings = BillingSettings(url=url, username=username, password=session_id, is_admin=False)
        client = cls(settings, http=http, retry=retry, clock=clock, sleep=sleep)
        client._conn.session_id = value
        client._conn.session_is_admin = False
        client._conn.can_log_in = False  # shared by every view of this client (as_user, unscoped)
        return client

    def change_password(self, new_password: Secret | str) -> None:
        """Change the password of the user this client acts for, verified by logging in with it.

        User level: on an admin client call it through ``as_user``. Billing ends the user's sessions;
        this client logs in again with the new password if it is the user's own client.

        Assumption: the form is ``usrparam`` with ``passwd`` and ``confirm`` (the COREmanager user
        settings form); change ``BillingFunctions.user_settings`` if your install differs.

        Raises:
            ScopeError: called on an admin client without ``as_user``.
            InvalidArgumentError: an empty password.
            SilentNoOpError: billing answered OK but the new password does not log in.
        """
        operation = "change_password"
        self._require_user_scope(operation)
        secret = new_password if isinstance(new_password, Secret) else Secret(new_password)
        if not secret.get_secret_value().strip():
            raise InvalidArgumentError("the new password is empty", system=SYSTEM, operation=operation)
        value = secret.get_secret_value()
        form = _quirks.submit({"passwd": value, "confirm": value})
        try:
            self._send(self._fn.user_settings, form, operation=operation)
        except CloudkitError as exc:  # billing may echo a refused value: never the new password
            scrub(exc, [value])
            raise
        login = self._su or self._conn.settings.username
        probe = _wire.build_request(self._conn.settings.url, "auth", {"username": login, "password": value})
        try:
            self._exchange(probe, operation, extra_secrets=(value,))
        except AuthenticationError as exc:
            raise _quirks.silent_no_op(operation, "the new password does not log in") from exc
        if self._su is None:
            self._conn.settings = attrs.evolve(self._conn.settings, password=secret)
            with self._conn.lock:
                self._conn.session_id = None

    # ------------------------------------------------------------------------------ raw
    def call(self, func: str, **params: ParamValue) -> _wire.Doc:
        """Call any billing function; the reply's ``doc`` object after the error-envelope check.

        The escape hatch for functions cloudkit does not model. Scope (``su``) and authentication are
        added as for every call; nothing else is: pass ``sok="ok"`` yourself to submit a form.
        It is not retried, since cloudkit cannot know whether ``func`` is safe to repeat.

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake() as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     doc = billing.call("account", p_cnt=10)
            ...     len(doc["elem"])
            2
        """
        if not func:
            raise InvalidArgumentError("func is empty", system=SYSTEM, operation="call")
        return self._send(func, {k: str(v) for k, v in params.items()}, operation="call")

    # ------------------------------------------------------------------------------ finance
    def iter_accounts(self) -> Iterator[Account]:
        """Every client account with its balance and credit limit (admin), read one page at a time.

        A generator: each page is requested when the one before it is used up, and only that page is
        held, so memory stays flat however many accounts billing has. Paging follows the replies as for
        every list (see :class:`~cloudkit.billing._paging.Pager`); a page whose rows do not decode
        raises :class:`~cloudkit.errors.ResponseDecodeError` when it is reached.

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake(max_page_size=1) as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     fake.set_credit_limit("bob", Decimal("50"))
            ...     [(a.name, a.credit_limit) for a in billing.iter_accounts()]
            [('Alice Ltd', None), ('Bob GmbH', Decimal('50.00'))]
        """
        return self._iter(self._fn.accounts, _wire.account, operation="list_accounts")

    def list_accounts(self) -> list[Account]:
        """Every client account with its balance (admin), all pages read (``list(iter_accounts())``).

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake() as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     [(a.name, a.balance) for a in billing.list_accounts()]
            [('Alice Ltd', Decimal('150.00')), ('Bob GmbH', Decimal('0.00'))]
        """
        return list(self.iter_accounts())

    def get_balance(self) -> Decimal:
        """The balance of the scoped user's (first) sub-account. User level: needs ``as_user``.

        Raises:
            ScopeError: called on an admin client without ``as_user``.
            NotFoundError: the user has no sub-account.
        """
        operation = "get_balance"
        self._require_user_scope(operation)
        balances = self._list(self._fn.balance, _wire.balance, operation=operation)
        if not balances:
            raise NotFoundError(
                "billing lists no sub-account for this user", system=SYSTEM, operation=operation
            )
        return balances[0]

    def iter_payments(self, *, promised_only: bool = False) -> Iterator[Payment]:
        """Payments visible in this scope, read one page at a time (see :meth:`iter_accounts`).

        With ``promised_only`` only promised payments (status ``PROMISED``) are yielded: the request
        asks billing to filter (``filter=on&status=3``) and every row is checked here as well, so a
        server that ignores the filter still gives the right answer (it only costs more pages).

        Example:
            >>> import datetime as dt
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake() as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     _ = fake.pay("alice", Decimal("10"))
            ...     promise = fake.promise("bob", Decimal("40"), until=dt.date(2024, 5, 8))
            ...     [(p.amount, p.promised_until, p.account_id) for p in billing.iter_payments(
            ...         promised_only=True)]
            [(Decimal('40.00'), datetime.date(2024, 5, 8), 2)]
        """
        operation = "list_payments"
        if not promised_only:
            return self._iter(self._fn.payments, _wire.payment, operation=operation)
        rows = self._iter(
            self._fn.payments, _wire.payment, operation=operation, criteria=_wire.promised_filter()
        )
        return (p for p in rows if p.status == PaymentStatus.PROMISED)

    def list_payments(self) -> list[Payment]:
        """Payments visible in this scope (a user's own with ``as_user``; all for an admin)."""
        return list(self.iter_payments())

    def create_promised_payment(self, amount: Decimal | int) -> Payment:
        """Create a promised payment for the scoped user, verified by reading it back.

        Not idempotent: after a lost answer it is repeated only if a read-back shows the first try did
        not land, so a retry never pays twice.

        Raises:
            ScopeError: called on an admin client without ``as_user`` (billing would answer OK and do
                nothing).
            InvalidArgumentError: ``amount`` is not a positive finite Decimal.
            SilentNoOpError: billing answered OK but no such payment appeared.
        """
        operation = "create_promised_payment"
        self._require_user_scope(operation)
        amount = _positive_amount(amount, operation)
        before = {p.id for p in self.list_payments()}

        def landed(id_hint: int | None = None) -> Payment | None:
            fresh = [p for p in self.list_payments() if p.id not in before and p.amount == amount]
            return next((p for p in fresh if p.id == id_hint), fresh[0] if fresh else None)

        def attempt() -> Payment:
            form = _quirks.submit({"amount": str(amount), "promised": "on"})
            doc = self._send(self._fn.promised_payment, form, operation=operation)
            found = landed(_wire.created_id(doc))
            if found is None:
                raise _quirks.silent_no_op(operation, f"no new payment of {amount} is listed")
            return found

        return self._conn.retry.call_write(attempt, landed=landed, system=SYSTEM, operation=operation)

    def iter_expenses(self, *, since: dt.datetime | None = None) -> Iterator[Expense]:
        """Charges in this scope, read one page at a time (see :meth:`iter_accounts`).

        With ``since`` (an aware datetime) only charges made at or after it are yielded: billing is
        asked to filter (``filter=on&create_date_from=<UTC time>``, an assumption) and every row is
        checked here as well (:func:`~cloudkit.billing._wire.expense_is_since`: by its time, else by its
        day), so a server that ignores the filter still gives the right answer.

        Raises:
            InvalidArgumentError: ``since`` is a naive datetime (no time zone: which moment is it?).

        Example:
            >>> import datetime as dt
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> clock = lambda: dt.datetime(2024, 5, 2, 12, 0, tzinfo=dt.UTC)
            >>> with BillingFake(clock=clock) as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     _ = fake.charge("alice", Decimal("2.50"), info="vm-1 hour")
            ...     since = dt.datetime(2024, 5, 2, tzinfo=dt.UTC)
            ...     [(e.info, e.created_at.hour, e.account_id) for e in billing.iter_expenses(since=since)]
            [('vm-1 hour', 12, 1)]
        """
        operation = "list_expenses"
        if since is None:
            return self._iter(self._fn.expenses, _wire.expense, operation=operation)
        if since.tzinfo is None or since.utcoffset() is None:
            raise InvalidArgumentError(
                "since must be an aware datetime (with a time zone)", system=SYSTEM, operation=operation
            )
        rows = self._iter(
            self._fn.expenses, _wire.expense, operation=operation, criteria=_wire.expenses_since_filter(since)
        )
        return (e for e in rows if _wire.expense_is_since(e, since))

    def list_expenses(self) -> list[Expense]:
        """Charges in this scope; ``Expense.unpaid`` is the debt still open."""
        return list(self.iter_expenses())

    def list_invoices(self) -> list[Invoice]:
        """Invoices (BILLmanager's "payment documents") in this scope."""
        return self._list(self._fn.invoices, _wire.invoice, operation="list_invoices")

    # ------------------------------------------------------------------------------ support
    def list_tickets(self) -> list[Ticket]:
        """The scoped user's support tickets. User level: needs ``as_user``."""
        self._require_user_scope("list_tickets")
        return self._list(self._fn.tickets, _wire.ticket, operation="list_tickets")

    def create_ticket(
        self,
        *,
        subject: str,
        message: str,
        department: int | None = None,
        attachments: Sequence[tuple[str, bytes]] = (),
    ) -> Ticket:
        """Open a ticket on the user's behalf (the portal proxies tickets), verified by reading back.

        Args:
            subject: the ticket's subject.
            message: the first message.
            department: the support department id, if the install has several.
            attachments: ``(file name, content)`` pairs, sent as ``file_1``, ``file_2``, ...

        Raises:
            ScopeError: called on an admin client without ``as_user``.
            InvalidArgumentError: empty subject or message.
            SilentNoOpError: billing answered OK but no such ticket appeared.
        """
        operation = "create_ticket"
        self._require_user_scope(operation)
        _require_text(subject=subject, message=message, operation=operation)
        before = {t.id for t in self.list_tickets()}

        def landed(id_hint: int | None = None) -> Ticket | None:
            fresh = [t for t in self.list_tickets() if t.id not in before and t.subject == subject]
            return next((t for t in fresh if t.id == id_hint), fresh[0] if fresh else None)

        def attempt() -> Ticket:
            fields = {"name": subject, "message": message}
            if department is not None:
                fields["client_department"] = str(department)
            doc = self._send(
                self._fn.ticket_form,
                _quirks.submit(fields),
                operation=operation,
                attachments=attachments,
            )
            found = landed(_wire.created_id(doc))
            if found is None:
                raise _quirks.silent_no_op(operation, f"no new ticket {subject!r} is listed")
            return found

        return self._conn.retry.call_write(attempt, landed=landed, system=SYSTEM, operation=operation)

    def list_ticket_messages(self, ticket_id: TicketId | int) -> list[TicketMessage]:
        """The conversation of one of the user's tickets, oldest first. User level."""
        operation = "list_ticket_messages"
        self._require_user_scope(operation)
        doc = self._read(self._fn.ticket_form, {"elid": str(ticket_id)}, operation=operation)
        return _wire.decode_rows(
            _wire.sub_rows(doc, "mlist", operation=operation), _wire.ticket_message, operation=operation
        )

    def reply_to_ticket(
        self,
        ticket_id: TicketId | int,
        message: str,
        *,
        attachments: Sequence[tuple[str, bytes]] = (),
    ) -> TicketMessage:
        """Add the user's message to a ticket, verified by reading the conversation back. User level.

        Raises:
            ScopeError: called on an admin client without ``as_user``.
            SilentNoOpError: billing answered OK but the message is not in the conversation.
        """
        operation = "reply_to_ticket"
        self._require_user_scope(operation)
        _require_text(message=message, operation=operation)
        before = {m.id for m in self.list_ticket_messages(ticket_id)}

        def landed() -> TicketMessage | None:
            fresh = self.list_ticket_messages(ticket_id)
            return next((m for m in fresh if m.id not in before and m.text == message), None)

        def attempt() -> TicketMessage:
            form = _quirks.submit({"elid": str(ticket_id), "message": message})
            self._send(self._fn.ticket_form, form, operation=operation, attachments=attachments)
            found = landed()
            if found is None:
                raise _quirks.silent_no_op(operation, "the reply is not in the ticket's messages")
            return found

        return self._conn.retry.call_write(attempt, landed=landed, system=SYSTEM, operation=operation)

    # ------------------------------------------------------------------------------ services
    def iter_services(self) -> Iterator[Service]:
        """Services in this scope, read one page at a time (see :meth:`iter_accounts`).

        An admin's rows carry each service's owner (``Service.account_id``).

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake(max_page_size=2) as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     [(s.id, s.account_id) for s in billing.iter_services()]
            [(301, 1), (302, 1), (303, 2)]
        """
        return self._iter(self._fn.services, _wire.service, operation="list_services")

    def list_services(self) -> list[Service]:
        """Services in this scope (the user's own with ``as_user``; all for an admin)."""
        return list(self.iter_services())

    def get_service(self, service_id: ServiceId | int) -> Service:
        """One service by id, read as a one-row filtered list (``filter=on&id=<id>``), not the whole list.

        A server that ignores the filter answers the list's pages instead; they are read until the
        service is found (or the list ends), so the answer is right either way.

        Raises:
            NotFoundError: no such service in this scope.

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake() as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     service = billing.get_service(303)
            ...     (service.name, service.status.name), fake.calls[-1].params["id"]
            (('vm-3', 'SUSPENDED'), '303')
        """
        found = self._find_service(service_id, operation="get_service")
        if found is None:
            raise NotFoundError(
                f"no service {service_id} in this scope", system=SYSTEM, operation="get_service"
            )
        return found

    def get_service_form(self, service_id: ServiceId | int) -> ServiceForm:
        """A service's edit form (``<services>.edit elid=<id>``): its owner and its item params.

        What a processing module reads to learn what to build and for whom. A read: retried like any.

        Raises:
            NotFoundError: no such service in this scope.
            ResponseDecodeError: the form names no owner account.

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake() as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     item = fake.add_service("alice", "vm-9", params={"flavor": "m1.small"})
            ...     form = billing.get_service_form(item)
            ...     form.account_id, dict(form.params)
            (1, {'flavor': 'm1.small'})
        """
        operation = "get_service_form"
        doc = self._read(self._fn.service_edit, {"elid": str(service_id)}, operation=operation)
        return _wire.service_form(doc, service_id=int(service_id), operation=operation)

    def order_service(
        self,
        tariff: int,
        *,
        period: int = 1,
        params: Mapping[str, str] | None = None,
        name: str | None = None,
        datacenter: int | None = None,
        addons: Mapping[int, str | int] | None = None,
        autoprolong: int | None = None,
        pay_now: bool = True,
    ) -> ServiceOrder:
        """Order a service for the scoped user (``<services>.order.param``, billing.md W9), verified by
        reading the new service back. User level: on an admin client call it through ``as_user``.

        With ``pay_now`` (``skipbasket=on``) billing charges the tariff at once and opens the service:
        a running operation ``open`` that the processing module, if any, completes; without it the
        order waits in the basket (``OrderState.IN_BASKET``). Not idempotent: after a lost answer it
        is sent again only if a read-back shows the first order did not land, so a retry never orders
        twice.

        Args:
            tariff: the tariff (``pricelist``) id.
            period: months; billing's specials are -100 trial, -50 day, 0 lifetime.
            params: the product type's own fields (for a cloud server ``image``, ``flavor``,
                ``system_volume_gb``), stored as the item params a processing module reads.
            name: the service's name (sent as ``domain``; an assumption, see docs/billing-wire.md).
            datacenter: the datacenter id, when the tariff asks for one.
            addons: add-on values by add-on id (``addon_<id>``).
            autoprolong: renew automatically for this many months.
            pay_now: charge at once (``skipbasket=on``) instead of ordering into the basket.

        Raises:
            ScopeError: called on an admin client without ``as_user``.
            InvalidArgumentError: a tariff below 1, an empty name, or a param that is an order field.
            NotFoundError: billing knows no such tariff.
            InsufficientFundsError: not enough money (and credit) to pay the order now.
            SilentNoOpError: billing answered OK but no new service is listed.

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake() as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     order = billing.as_user("alice").order_service(1, name="web-1", params={"flavor": "2"})
            ...     order.service_id, order.name, order.status.name, order.state.name
            (304, 'web-1', 'ACTIVE', 'PAID')
        """  # noqa: D205 (the summary needs the reference)
        operation = "order_service"
        self._require_user_scope(operation)
        if isinstance(tariff, bool) or tariff < 1:  # a bool is an int to Python, never a tariff
            raise InvalidArgumentError(
                f"tariff must be a tariff id (>= 1), got {tariff!r}", system=SYSTEM, operation=operation
            )
        if name is not None:
            _require_text(name=name, operation=operation)
        try:
            fields = _wire.order_params(
                tariff=tariff,
                period=period,
                datacenter=datacenter,
                autoprolong=autoprolong,
                pay_now=pay_now,
                name=name,
                addons={k: str(v) for k, v in (addons or {}).items()},
                params=params,
            )
        except ValueError as exc:
            raise InvalidArgumentError(str(exc), system=SYSTEM, operation=operation) from None
        state = OrderState.PAID if pay_now else OrderState.IN_BASKET
        before = {s.id for s in self.iter_services()}

        def landed(id_hint: int | None = None) -> ServiceOrder | None:
            fresh = [s for s in self.iter_services() if s.id not in before and name in (None, s.name)]
            found = next((s for s in fresh if s.id == id_hint), fresh[0] if fresh else None)
            if found is None:
                return None
            return ServiceOrder(service_id=found.id, name=found.name, status=found.status, state=state)

        def attempt() -> ServiceOrder:
            doc = self._send(self._fn.service_order, _quirks.submit(fields), operation=operation)
            found = landed(_wire.created_id(doc))
            if found is None:
                raise _quirks.silent_no_op(operation, f"no new service of tariff {tariff} is listed")
            return found

        return self._conn.retry.call_write(attempt, landed=landed, system=SYSTEM, operation=operation)

    def suspend_service(self, service_id: ServiceId | int, *, wait: float | None = None) -> Service:
        """Suspend a service and verify it: suspended, or queued and then suspended within ``wait``.

        On an admin client it is billing's (staff) suspension, ``ServiceStatus.SUSPENDED``. Through
        ``as_user`` (or on a user's own client) it is the client suspending their own service, which
        billing allows only when the product has "allow clients to suspend/resume": the service then
        shows ``ServiceStatus.SUSPENDED_BY_CLIENT``, which stop rules never lift.

        Args:
            service_id: the service.
            wait: seconds to wait for a queued operation (``None``: ``settings.operation_wait``;
                ``0``: return as soon as billing shows the operation queued).

        Raises:
            PermissionDeniedError: a client's suspend, refused: the product does not allow clients
                to suspend and resume their services (the message names the setting).
            SilentNoOpError: billing answered OK but the service is neither suspended nor queued.
            WaitTimeoutError: still in progress when ``wait`` ran out (``last_status`` says where).

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake(client_suspend=True) as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     billing.as_user("alice").suspend_service(301).status.name
            'SUSPENDED_BY_CLIENT'
        """
        target = ServiceStatus.SUSPENDED_BY_CLIENT if self._by_client() else ServiceStatus.SUSPENDED
        return self._service_action(service_id, self._fn.service_suspend, target, "suspend_service", wait)

    def resume_service(self, service_id: ServiceId | int, *, wait: float | None = None) -> Service:
        """Resume a service and verify it is active (see :meth:`suspend_service` for ``wait``).

        Through ``as_user`` it is the client resuming a service they suspended themselves (billing
        refuses a client's resume of a suspension by staff or for nonpayment).
        """
        return self._service_action(
            service_id, self._fn.service_resume, ServiceStatus.ACTIVE, "resume_service", wait
        )

    def delete_service(self, service_id: ServiceId | int, *, wait: float | None = None) -> None:
        """Delete a service and verify it is gone or marked deleted (``wait`` as for suspend)."""
        self._service_action(
            service_id, self._fn.service_delete, ServiceStatus.DELETED, "delete_service", wait
        )

    def list_running_operations(self) -> list[RunningOperation]:
        """Billing's internal job queue: lifecycle operations queued or stuck (admin)."""
        return self._list(
            self._fn.running_operations,
            _wire.running_operation,
            operation="list_running_operations",
        )

    # ------------------------------------------------------------------------------ processing module
    # What a processing module calls after billing ran it with --command/--item/--runningoperation
    # (reference/billing.md §7.2, reference/lifecycle.md §1; ISPsystem's own example module
    # pmregistrar.php). Admin level: refused on an as_user view before any request.
    def get_running_operation(self, running_operation: int) -> RunningOperation:
        """One running operation of billing's job queue, with its try count, stored error and manual flag.

        Raises:
            ScopeError: called on an ``as_user`` view or a user's client (admin only).
            NotFoundError: billing lists no such running operation (done, or never there).

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake(complete_operations=False) as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     queued = billing.suspend_service(301, wait=0)
            ...     (op,) = fake.running_operations()
            ...     found = billing.get_running_operation(op.id)
            ...     found.service_id, found.operation, found.attempts, found.manual
            (301, 'suspend', 0, False)
        """
        operation = "get_running_operation"
        self._require_admin_scope(operation)
        found = self._find_running_operation(running_operation, operation=operation)
        if found is None:
            raise NotFoundError(
                f"billing lists no running operation {running_operation}", system=SYSTEM, operation=operation
            )
        return found

    def complete_operation(self, service_id: ServiceId | int, command: ModuleCommand | str) -> Service:
        """Tell billing the module finished ``command`` on a service (``service.post<command>``), verified.

        One method for the four callbacks (``service.postopen``, ``postsuspend``, ``postresume``,
        ``postclose``): a saga holds the command it ran, and every callback is proven the same way. The
        read-back requires the service in the command's target status (gone or deleted for ``close``)
        and no running operation of that command left for it. A lost answer is followed by the read-back
        first; the callback is sent again only if billing shows it did not land.

        Returns:
            The service as billing now lists it (for ``close``, a ``DELETED`` stand-in if it is gone).

        Raises:
            ScopeError: called on an ``as_user`` view or a user's client (admin only).
            InvalidArgumentError: an unknown command.
            NotFoundError: no such service.
            SilentNoOpError: billing answered OK but the service or its running operation did not move.

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake(complete_operations=False) as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     billing.suspend_service(301, wait=0).status.name
            ...     billing.complete_operation(301, "suspend").status.name
            ...     fake.running_operations()
            'IN_PROGRESS'
            'SUSPENDED'
            []
        """
        operation = "complete_operation"
        self._require_admin_scope(operation)
        command = _module_command(command, operation)
        func = _wire.completion_func(command)

        def landed() -> Service | None:
            current = self._find_service(service_id, operation=operation)
            if current is not None and not command.reached(current.status):
                return None
            if self._pending_operation(service_id, command.value, operation) is not None:
                return None
            return current or Service(id=ServiceId(int(service_id)), name="", status=command.target)

        return self._verified_write(
            func,
            _quirks.submit({"elid": str(service_id)}),
            landed,
            operation=operation,
            not_landed=f"service {service_id} still waits for {command.value} to be reported",
        )

    def record_operation_error(self, running_operation: int, error: ModuleError | str) -> RunningOperation:
        """Store the module's error on a running operation (``runningoperation.edit errorxml=``), verified.

        ``error`` is a :class:`ModuleError` or a message (then of type ``processing``, an assumption:
        any type is accepted by billing's error envelope). What is stored is the same document
        :func:`module_error_xml` prints. Repeating it stores the same text, so a lost answer is retried.

        Raises:
            ScopeError: called on an ``as_user`` view or a user's client (admin only).
            NotFoundError: no such running operation.
            SilentNoOpError: billing answered OK but the operation does not carry the error.

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings, ModuleError
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake(complete_operations=False) as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     _ = billing.suspend_service(301, wait=0)
            ...     ro = fake.running_operations()[0].id
            ...     billing.record_operation_error(ro, ModuleError(type="timeout", message="nova")).error_xml
            '<doc><error type="timeout"><msg>nova</msg></error></doc>'
        """
        operation = "record_operation_error"
        self._require_admin_scope(operation)
        if isinstance(error, str):
            _require_text(error=error, operation=operation)
            error = ModuleError(type=_DEFAULT_ERROR_TYPE, message=error)
        xml = _wire.module_error_xml(error)

        def landed() -> RunningOperation | None:
            found = self._find_running_operation(running_operation, operation=operation)
            return found if found is not None and found.error_xml == xml else None

        return self._verified_write(
            _wire.RUNNING_OPERATION_EDIT,
            _quirks.submit({"elid": str(running_operation), "errorxml": xml}),
            landed,
            operation=operation,
            not_landed=f"running operation {running_operation} does not carry the error",
        )

    def set_operation_manual(self, running_operation: int) -> RunningOperation:
        """Switch a running operation to manual (``runningoperation.setmanual``), verified.

        Billing stops running the module for it by itself; staff retry it. Idempotent.

        Raises:
            ScopeError: called on an ``as_user`` view or a user's client (admin only).
            NotFoundError: no such running operation.
            SilentNoOpError: billing answered OK but the operation is not manual.

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake(complete_operations=False) as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     _ = billing.suspend_service(301, wait=0)
            ...     billing.set_operation_manual(fake.running_operations()[0].id).manual
            True
        """
        operation = "set_operation_manual"
        self._require_admin_scope(operation)

        def landed() -> RunningOperation | None:
            found = self._find_running_operation(running_operation, operation=operation)
            return found if found is not None and found.manual else None

        return self._verified_write(
            _wire.RUNNING_OPERATION_SET_MANUAL,
            {"elid": str(running_operation)},  # pmregistrar.php sends elid alone (no sok): an action
            landed,
            operation=operation,
            not_landed=f"running operation {running_operation} is not manual",
        )

    def list_staff_tasks(self) -> list[StaffTask]:
        """The staff "system of tasks" (assumption: ``func=task``, admin).

        Raises:
            ScopeError: called on an ``as_user`` view or a user's client (admin only).
        """
        operation = "list_staff_tasks"
        self._require_admin_scope(operation)
        return self._list(_wire.TASKS, _wire.staff_task, operation=operation)

    def open_staff_task(
        self, service_id: ServiceId | int, running_operation: int, command: ModuleCommand | str
    ) -> StaffTask | None:
        """Open a staff task for a failed operation, once per service and task type; verified.

        Asks billing which task type handles ``command`` (``task.gettype operation=<command>``), then
        looks before it creates: a task of that type already open for the service is returned as it is
        (ISPsystem's module base creates tasks "uniq"), so a retried failure path never opens a second
        one. Otherwise ``task.edit sok=ok item= runningoperation= type=`` creates it, and the read-back
        finds it; after a lost answer the read-back runs before any second attempt.

        Returns:
            The task, or ``None`` when billing has no task type for ``command`` (then, like ISPsystem's
            example module, no task is opened).

        Raises:
            ScopeError: called on an ``as_user`` view or a user's client (admin only).
            SilentNoOpError: billing answered OK but no such task is listed.

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake(complete_operations=False) as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     _ = billing.suspend_service(301, wait=0)
            ...     ro = fake.running_operations()[0].id
            ...     first = billing.open_staff_task(301, ro, "suspend")
            ...     again = billing.open_staff_task(301, ro, "suspend")
            ...     first == again, len(fake.tasks())
            (True, 1)
        """
        operation = "open_staff_task"
        self._require_admin_scope(operation)
        name = command.value if isinstance(command, ModuleCommand) else command
        _require_text(command=name, operation=operation)
        doc = self._read(_wire.TASK_TYPE, {"operation": name}, operation=operation)
        task_type = _wire.task_type_of(doc)
        if task_type is None:
            log.info("billing has no task type for %s; no staff task opened", name)
            return None

        def landed() -> StaffTask | None:
            tasks = self._list(_wire.TASKS, _wire.staff_task, operation=operation)
            return next((t for t in tasks if t.service_id == service_id and t.type == task_type), None)

        existing = landed()
        if existing is not None:
            return existing

        form = {"item": str(service_id), "runningoperation": str(running_operation), "type": task_type}
        return self._verified_write(
            _wire.TASK_FORM,
            _quirks.submit(form),
            landed,
            operation=operation,
            not_landed=f"no task of type {task_type} is listed for service {service_id}",
        )

    def set_service_status(self, service_id: ServiceId | int, status: ServiceStatus) -> Service:
        """Set a service active or suspended from the module's own view (``service.setstatus``), verified.

        For ``sync_item``: ``service_status=2`` is active, ``8`` suspended (ISPsystem's example module).
        Idempotent, so a lost answer is retried.

        Raises:
            ScopeError: called on an ``as_user`` view or a user's client (admin only).
            InvalidArgumentError: a status other than ``ACTIVE`` or ``SUSPENDED``.
            NotFoundError: no such service.
            SilentNoOpError: billing answered OK but the service is not in that status.

        Example:
            >>> from cloudkit.billing import BillingClient, BillingSettings, ServiceStatus
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake() as fake, BillingClient(BillingSettings(
            ...         url=fake.url, username="admin", password="secret")) as billing:
            ...     billing.set_service_status(303, ServiceStatus.ACTIVE).status.name
            'ACTIVE'
        """
        operation = "set_service_status"
        self._require_admin_scope(operation)
        try:
            code = _wire.service_status_code(status)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc), system=SYSTEM, operation=operation) from None

        def landed() -> Service | None:
            current = self._find_service(service_id, operation=operation)
            return current if current is not None and current.status == status else None

        return self._verified_write(
            _wire.SERVICE_SET_STATUS,
            {"elid": str(service_id), "service_status": code},
            landed,
            operation=operation,
            not_landed=f"service {service_id} is not {status.name.lower()}",
        )

    # ------------------------------------------------------------------------------ internals
    @property
    def _fn(self) -> BillingFunctions:
        return self._conn.settings.functions

    def _admin_known(self) -> bool | None:
        configured = self._conn.settings.is_admin
        return configured if configured is not None else self._conn.session_is_admin

    def _require_admin_scope(self, operation: str) -> None:
        # An admin function sent with su runs as that user and is refused by billing (access); a user's
        # own session is refused too. Say so before any request.
        if self._su is not None or self._admin_known() is False:
            raise _quirks.refuse_scoped(operation, self._su)

    def _by_client(self) -> bool:
        """Whether this client acts as a client (``as_user``, or a user's own login), not as staff."""
        return self._su is not None or self._admin_known() is False

    def _require_user_scope(self, operation: str) -> None:
        settings = self._conn.settings
        if (
            self._su is None
            and self._admin_known() is None
            and self._conn.session_id is None
            and settings.auth_mode == "session"  # only a session login's reply says the level
        ):
            # Not logged in yet: the login reply says whether this is a customer's own login (the call
            # needs the session anyway), so a customer's first call is not refused for want of it.
            self.login()
        # Unknown counts as admin: refusing costs a clear error, guessing wrong costs a silent no-op.
        if self._su is None and self._admin_known() is not False:
            raise _quirks.refuse_unscoped(operation)

    def _list(
        self,
        func: str,
        decode: _wire.RowDecoder[T],
        *,
        operation: str,
    ) -> list[T]:
        """Every row of a list function, decoded (``list`` of :meth:`_iter`)."""
        return list(self._iter(func, decode, operation=operation))

    def _iter(
        self,
        func: str,
        decode: _wire.RowDecoder[T],
        *,
        operation: str,
        criteria: Mapping[str, str] | None = None,
    ) -> Iterator[T]:
        """Read a list function page by page, yielding each page's decoded rows (see `_paging.Pager`).

        Pages follow the replies: until ``p_elems`` rows are read, whatever page size the server really
        used; without ``p_elems``, until the first empty or short page; never past
        ``settings.max_pages`` (``ResponseDecodeError``, as for pages that contradict each other).
        ``criteria`` (a filter) go with every page request. Nothing is sent until the first row is
        asked for, and only the current page is held.
        """
        settings = self._conn.settings
        pager = _paging.Pager(page_size=settings.page_size, max_pages=settings.max_pages, operation=operation)
        extra = dict(criteria or {})
        while (params := pager.next_params()) is not None:
            rows = pager.take(self._read(func, {**extra, **params}, operation=operation))
            yield from _wire.decode_rows(rows, decode, operation=operation)

    def _read(self, func: str, params: dict[str, str], *, operation: str) -> _wire.Doc:
        """An idempotent call, retried by the policy."""
        return self._conn.retry.call(
            lambda: self._send(func, params, operation=operation),
            system=SYSTEM,
            operation=operation,
        )

    def _verified_write(
        self,
        func: str,
        params: dict[str, str],
        landed: Callable[[], T | None],
        *,
        operation: str,
        not_landed: str,
    ) -> T:
        """Send a write billing may answer OK and not do (``billing.silent-ok``), verified by ``landed``.

        After a lost answer it is sent again only when ``landed`` finds nothing.
        """

        def attempt() -> T:
            self._send(func, params, operation=operation)
            found = landed()
            if found is None:
                raise _quirks.silent_no_op(operation, not_landed)
            return found

        return self._conn.retry.call_write(attempt, landed=landed, system=SYSTEM, operation=operation)

    def _send(
        self,
        func: str,
        params: dict[str, str],
        *,
        operation: str,
        attachments: Sequence[tuple[str, bytes]] = (),
    ) -> _wire.Doc:
        """One call: scope, authentication, one re-login if the session expired, typed errors."""
        had_session = self._conn.session_id is not None
        try:
            return self._send_once(func, params, operation=operation, attachments=attachments)
        except ApiError as exc:
            # Only a session that worked before can have expired; a refused login is final.
            renewable = (
                had_session
                and self._conn.settings.auth_mode == "session"
                and _quirks.is_session_expired(exc.code)
            )
            if not renewable:
                raise
            log.info("billing session expired during %s; logging in again", operation)
            _quirks.SESSION_EXPIRY.fired(operation)
            with self._conn.lock:
                self._conn.session_id = None
            return self._send_once(func, params, operation=operation, attachments=attachments)

    def _send_once(
        self,
        func: str,
        params: dict[str, str],
        *,
        operation: str,
        attachments: Sequence[tuple[str, bytes]],
    ) -> _wire.Doc:
        settings = self._conn.settings
        if settings.auth_mode == "session":
            credentials = {"auth": self._session()}
        else:
            credentials = {"authinfo": f"{settings.username}:{settings.password.get_secret_value()}"}
        request = _wire.build_request(
            settings.url,
            func,
            {**params, **_quirks.su_params(self._su), **credentials},
            attachments=attachments,
        )
        log.debug("billing %s: func=%s su=%s", operation, func, self._su or "-")
        return self._exchange(request, operation)

    def _exchange(
        self, request: httpx.Request, operation: str, extra_secrets: Sequence[str] = ()
    ) -> _wire.Doc:
        return _exchange(self._conn.http, request, operation, [*self._conn.secrets(), *extra_secrets])

    def _session(self) -> str:
        with self._conn.lock:
            if self._conn.session_id is None:
                self._login_locked()
            assert self._conn.session_id is not None  # noqa: S101 (set by _login_locked or it raised)
            return self._conn.session_id

    def _login(self) -> None:
        with self._conn.lock:
            self._login_locked()

    def _login_locked(self) -> None:
        if not self._conn.can_log_in:
            # Where a password client would log in (first call, or after billing ended the session).
            raise TokenExpiredError("billing session expired; log in again", system=SYSTEM, operation="login")
        settings = self._conn.settings
        request = _wire.build_request(
            settings.url,
            "auth",
            {"username": settings.username, "password": settings.password.get_secret_value()},
        )
        doc = self._exchange(request, "login")
        self._conn.session_id, self._conn.session_is_admin = _wire.session_of(doc)

    def _find_service(self, service_id: ServiceId | int, *, operation: str) -> Service | None:
        """One service by a filtered read; pages of the whole list only if billing ignored the filter.

        Every row is checked, so a server that answers unfiltered pages still gives the right service;
        the read stops at the first page that has it.
        """
        wanted = int(service_id)
        rows = self._iter(
            self._fn.services, _wire.service, operation=operation, criteria=_wire.service_filter(wanted)
        )
        return next((s for s in rows if s.id == wanted), None)

    def _find_running_operation(self, running_operation: int, *, operation: str) -> RunningOperation | None:
        queue = self._list(self._fn.running_operations, _wire.running_operation, operation=operation)
        return next((op for op in queue if op.id == running_operation), None)

    def _pending_operation(
        self, service_id: ServiceId | int, name: str, operation: str
    ) -> RunningOperation | None:
        queue = self._list(self._fn.running_operations, _wire.running_operation, operation=operation)
        return next((op for op in queue if op.service_id == service_id and op.operation == name), None)

    def _has_running_operation(self, service_id: ServiceId | int, operation: str) -> bool:
        admin = self if self._su is None else self._unscoped()
        try:
            queue = admin._list(  # noqa: SLF001 (same class)
                self._fn.running_operations, _wire.running_operation, operation=operation
            )
        except PermissionDeniedError:
            return False
        return any(op.service_id == service_id for op in queue)

    def _unscoped(self) -> BillingClient:
        view = object.__new__(BillingClient)
        view._conn = self._conn
        view._su = None
        return view

    def _service_action(
        self,
        service_id: ServiceId | int,
        func: str,
        target: ServiceStatus,
        operation: str,
        wait: float | None,
    ) -> Service:
        if wait is not None and wait < 0:
            raise InvalidArgumentError("wait must be >= 0", system=SYSTEM, operation=operation)
        self.get_service(service_id)  # NotFoundError before acting on a service that is not there
        try:
            self._read(func, {"elid": str(service_id)}, operation=operation)
        except PermissionDeniedError as exc:
            if not self._by_client() or operation == "delete_service":
                raise
            raise PermissionDeniedError(
                f"billing refused the client's {operation.removesuffix('_service')} of service "
                f"{service_id} (a client may suspend and resume their own services only when the "
                f"product setting 'allow clients to suspend/resume' is on, and resume only their own "
                f"suspension); billing said: {exc.detail or exc}",
                system=SYSTEM,
                operation=operation,
                status=exc.status,
                code=exc.code,
                detail=exc.detail,
            ) from exc
        budget = self._conn.settings.operation_wait if wait is None else wait
        last: list[Service] = []  # the service as the last poll saw it

        def check() -> tuple[bool, Service, str]:
            current = self._find_service(service_id, operation=operation)
            if current is None or current.status == target:
                if current is None and target is not ServiceStatus.DELETED:
                    raise NotFoundError(f"service {service_id} vanished", system=SYSTEM, operation=operation)
                return True, current or Service(id=ServiceId(int(service_id)), name="", status=target), "done"
            queued = current.status == ServiceStatus.IN_PROGRESS or self._has_running_operation(
                service_id, operation
            )
            if not queued:
                raise _quirks.silent_no_op(
                    operation, f"service {service_id} is still {current.status.name.lower()}"
                )
            last[:] = [current]
            return False, current, current.status.name

        try:
            return self._conn.poller.until(
                check,
                kind=operation,
                where=self._conn.settings.url,
                budget=budget,
                clock=self._conn.clock,
                sleep=self._conn.sleep,
                system=SYSTEM,
                operation=operation,
            )
        except WaitTimeoutError as exc:
            if budget == 0 and last:
                return last[0]  # wait=0: the queued service, as documented
            raise WaitTimeoutError(
                f"service {service_id} did not become {target.name.lower()} within {budget:g}s",
                last_status=exc.last_status,
                system=SYSTEM,
                operation=operation,
            ) from None


_DEFAULT_ERROR_TYPE = "processing"  # assumption: the type of an error given as a bare message


def _module_command(command: ModuleCommand | str, operation: str) -> ModuleCommand:
    try:
        return ModuleCommand(command)
    except ValueError:
        known = ", ".join(c.value for c in ModuleCommand)
        raise InvalidArgumentError(
            f"unknown command {command!r} (one of {known})", system=SYSTEM, operation=operation
        ) from None


def _positive_amount(amount: object, operation: str) -> Decimal:
    # Money is Decimal or int; a float would carry binary rounding into a payment.
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise InvalidArgumentError(
            f"amount must be a Decimal, got {type(amount).__name__}",
            system=SYSTEM,
            operation=operation,
        )
    value = Decimal(amount)
    if not value.is_finite() or value <= 0:
        raise InvalidArgumentError(
            f"amount must be positive and finite, got {value}", system=SYSTEM, operation=operation
        )
    return value


def _require_text(*, operation: str, **fields: object) -> None:
    for name, value in fields.items():
        if not isinstance(value, str) or not value.strip():
            raise InvalidArgumentError(f"{name} is empty", system=SYSTEM, operation=operation)


def _exchange(http: httpx.Client, request: httpx.Request, operation: str, secrets: list[str]) -> _wire.Doc:
    """Send one prebuilt request and parse the reply; no secret leaves in an error."""
    # A prebuilt request does not get the client's default headers (User-Agent): add them here.
    for name, value in http.headers.items():
        request.headers.setdefault(name, value)
    try:
        with translate_transport_errors(SYSTEM, operation):
            response = http.send(request)
        return _wire.parse_reply(response, operation=operation)
    except CloudkitError as exc:
        scrub(exc, secrets)
        raise
