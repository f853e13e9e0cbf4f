"""`BillingFake`: the facade over the billing state, on the shared fake kit."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import os
import time
import types
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from typing import ClassVar, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode

from cloudkit.testing.fakes._kit import (
    Call,
    Fault,
    FaultKind,
    LoopbackFake,
    Reply,
    Request,
    RouteMiss,
    Router,
)
from cloudkit.testing.fakes.billing._context import (
    SECRET_PARAMS,
    Doc,
    Options,
    WireError,
    doc_error,
    today,
    wrap_children,
)
from cloudkit.testing.fakes.billing._credit import CreditModel, fake_payment
from cloudkit.testing.fakes.billing._module import ModuleDriver
from cloudkit.testing.fakes.billing._routes import dispatch, route_of
from cloudkit.testing.fakes.billing._state import (
    ACTIVE,
    USER_LEVEL,
    AuthMode,
    Expense,
    FakeAttachment,
    FakeExpense,
    FakeModuleRun,
    FakeOperation,
    FakePayment,
    FakeTask,
    FakeTicket,
    FakeUser,
    cents,
    seeded_state,
)

_MASK = "***"

_PATH = "/billmgr"
# One endpoint: GET and POST reach the func dispatch, any other path is a 404, any other method a 405.
_HTTP: Router[str] = Router()
_HTTP.add("GET", _PATH, "billmgr")
_HTTP.add("POST", _PATH, "billmgr")


class _HasAccount(Protocol):
    @property
    def account_id(self) -> int: ...


_Owned = TypeVar("_Owned", bound=_HasAccount)  # a row of a table keyed by the owner's account


def _body_form(request: Request) -> tuple[dict[str, str], list[FakeAttachment]]:
    """The form fields and attachments of a request body (urlencoded or multipart)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return dict(parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True)), []
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message: Message = BytesParser(policy=HTTP).parsebytes(head + request.body)
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


def _masked(pairs: dict[str, str]) -> dict[str, str]:
    return {k: _MASK if k in SECRET_PARAMS else v for k, v in pairs.items()}


class BillingFake(CreditModel, LoopbackFake):
    """A BILLmanager-style billing server on ``127.0.0.1`` (an OS-chosen port), seeded and stateful.

    It serves the wire fixed in ``docs/billing-wire.md``: one ``/billmgr`` endpoint, ``func=``
    dispatch (from the query or a form or multipart body, the body winning), ``{"doc": ...}`` JSON
    replies, errors at HTTP 200, three ways to authenticate, ``su`` scoping, the ``sok`` rule, paged
    lists, money, tickets and services with running operations, and the upstream oddities cloudkit
    exists to handle: a user-level form called by an admin without ``su`` answers ``ok`` and changes
    nothing, a form without ``sok`` reads instead of writing, and (with ``wrap_single_children``)
    every single child object arrives wrapped in a one-element list. Guesses where the public sources
    are silent are marked ``# assumption:``.

    Seed (``seed=True``): the admin (user 1, level 28, no account); ``alice``/``alice-pass`` (user 2,
    account 1 "Alice Ltd", 150.00 EUR, services ``vm-1`` 301 and ``vm-2`` 302 active, invoice 201,
    paid charge 401); ``bob``/``bob-pass`` (user 3, account 2 "Bob GmbH", 0.00 EUR, service ``vm-3``
    303 suspended, unpaid charge 402 of 30.00 EUR). New ids grow from per-table bases.

    Faults (`inject`, ``func=`` matches billing's function): ``Fault.error(code, message, details=
    {"object": ..., <param>: ...})`` is a ``doc.error`` envelope at HTTP 200 (or at ``status`` if
    given); ``Fault.server_error(status, body)`` answers ``body`` verbatim, or an HTML error page
    without one; ``swallow_effect`` takes only writes (actions, and forms submitted with ``sok``).
    ``max_page_size`` caps every page the fake answers below what ``p_cnt`` asks, as real servers do.

    Processing module (opt-in, ``processing_module=``): orders, suspends, resumes and deletes run a
    BILLmanager processing module as a subprocess with the real arguments, as BILLmanager does, and
    wait for its ``service.post<cmd>``; tries, ``errorxml``, manual and the staff task follow the
    module's exit (see ``__init__`` and docs/testing.md).

    Example:
        >>> import httpx
        >>> with BillingFake() as fake, httpx.Client(trust_env=False) as http:
        ...     doc = http.get(fake.url, params={"func": "vds", "authinfo": "admin:secret"}).json()
        >>> doc["doc"]["p_elems"], fake.calls[0].params["authinfo"], fake.calls[0].auth_mode
        ({'$': '3'}, '***', 'authinfo')
        >>> with httpx.Client(transport=BillingFake(max_page_size=2).transport()) as http:
        ...     page = http.post("http://billing.test/billmgr", data={
        ...         "func": "vds", "authinfo": "admin:secret", "p_cnt": "100"}).json()["doc"]
        >>> page["p_elems"], page["p_cnt"], len(page["elem"])
        ({'$': '3'}, {'$': '2'}, 2)
    """

    _what = "billing fake"
    _url_path = _PATH
    _secret_headers: ClassVar[frozenset[str]] = frozenset(
        {"x-auth-token", "x-subject-token", "authorization", "cookie"}
    )
    _secret_keys: ClassVar[frozenset[str]] = SECRET_PARAMS

    def __init__(
        self,
        *,
        admin_login: str = "admin",
        admin_password: str = "secret",  # noqa: S107 - a fixture credential of a loopback fake
        session_idle_timeout: float = 3600.0,
        clock: Callable[[], float | dt.datetime] = time.monotonic,
        wrap_single_children: bool = False,
        complete_operations: bool = True,
        max_page_size: int | None = None,
        seed: bool = True,
        port: int = 0,
        processing_module: Sequence[str] | str | None = None,
        module_env: Mapping[str, str] | None = None,
        module_max_tries: int = 3,
        module_item_type: str = "cloudserver",
        module_auto_retry: bool = True,
        module_timeout: float = 120.0,
        client_suspend: bool = False,
    ) -> None:
        """Configure the fake; nothing listens until `start`.

        With ``processing_module`` (an argv prefix, or the path of one executable) the fake drives a
        BILLmanager processing module as BILLmanager does (``reference/lifecycle.md`` §1, billing.md
        §7.2): on first use it runs ``<module> --command features`` and remembers the item types and
        features declared; from then on an order (``vds.order.param`` with ``skipbasket=on``), a
        suspend, a resume or a delete of any service puts it "in progress" (status 5), creates a
        running operation (``open``, ``suspend``, ``resume``, ``close``) and runs ``<module> --command
        <cmd> --item <id> --runningoperation <ro>`` as a subprocess in a background thread, so the
        call that caused it answers at once. The service stays in progress until the module calls
        ``service.post<cmd>``; ``complete_operations`` does not apply to it. Each run adds one to the
        operation's ``trycount``. A run that exits non-zero gets its printed error document stored as
        ``errorxml`` (unless the module recorded one itself) and runs again, at once with
        ``module_auto_retry`` or on `run_pending_modules` without it, up to ``module_max_tries``
        tries; past that the operation is set manual and a staff task opened, unless the module did
        it. Every run is in `module_runs`; `wait_for_module_runs` waits for the background runs.

        The module's environment is ``os.environ`` without its ``CLOUDKIT_*`` variables (a developer's
        own settings, a broker or a config file, must not reach a test's module), then
        ``CLOUDKIT_BILLING_URL`` (this fake's `url`,
        when it listens), ``CLOUDKIT_BILLING_USERNAME``/``_PASSWORD`` (the admin) and
        ``CLOUDKIT_BILLING_SERVICES`` (``module_item_type``), then ``module_env``, which wins.
        assumption: BILLmanager's modules call back through ``mgrctl`` on the same host with no
        credentials; the fake hands its module a URL and the admin's credentials instead. The
        environment may hold passwords: it is never recorded, logged or shown in a repr.

        ``client_suspend`` is the product setting "allow clients to suspend/resume" (billing.md §8):
        with it a client (a user, or the admin with ``su``) may suspend an active service of their own
        (it shows "Suspended (by client)", status 6) and resume it; without it their ``vds.suspend`` and
        ``vds.resume`` are refused with an ``access`` error naming the setting. assumption: off by
        default (billing.md names the setting, not its default).

        ``module_item_type`` is the item type the module must declare; the services also answer
        under it as a function family (``cloudserver.edit`` is ``vds.edit``). ``module_timeout``
        bounds one run (a run killed by it is a failed try). Assumptions: the fake's fallbacks (a
        command the module did not declare is not run: the operation gets an ``errorxml`` saying so
        and goes manual, with no task; manual and a task past the limit when the module did not do
        it) and immediate retries, where BILLmanager retries on its own schedule.

        Example:
            >>> BillingFake(seed=False).balance_of("admin")
            Traceback (most recent call last):
            ...
            KeyError: "'admin' has no account"
            >>> BillingFake(max_page_size=0)
            Traceback (most recent call last):
            ...
            ValueError: max_page_size must be at least 1 (or None), got 0
        """
        if max_page_size is not None and max_page_size < 1:
            raise ValueError(f"max_page_size must be at least 1 (or None), got {max_page_size}")
        if module_max_tries < 1:
            raise ValueError(f"module_max_tries must be at least 1, got {module_max_tries}")
        argv = (processing_module,) if isinstance(processing_module, str) else tuple(processing_module or ())
        if processing_module is not None and not argv:
            raise ValueError("processing_module must name a program (an empty argv was given)")
        super().__init__(port=port)
        self._admin = (admin_login, admin_password)
        self._seed = seed
        self._switches = (wrap_single_children, complete_operations, max_page_size, client_suspend)
        self._timeout = session_idle_timeout
        self.clock = clock
        """The fake's clock; set it to move time. It returns monotonic seconds (session idle
        timeouts; dates are then the real UTC time) or an aware datetime, used for every date the
        fake writes (charges, payments, promises, tickets) and, as its timestamp, for sessions."""
        self.wrap_single_children = wrap_single_children
        """Wrap every child object of every reply in a one-element list; `reset` restores it."""
        self.complete_operations = complete_operations
        """Finish service operations at once (else: in progress until completed); `reset` restores it."""
        self.max_page_size = max_page_size
        """The most rows a page holds whatever ``p_cnt`` asks (None: no cap); `reset` restores it."""
        self.client_suspend = client_suspend
        """The product's "allow clients to suspend/resume"; `reset` restores it."""
        self._state = seeded_state(admin_login, admin_password, seed=seed)
        self._item_type = module_item_type
        self._module_env = dict(module_env or {})
        self._launching = True  # False while a swallowed write is answered: its effect never happened
        self._module: ModuleDriver | None = None
        if argv:
            self._module = ModuleDriver(
                argv,
                env=self._module_environment,
                lock=self._lock,
                state=lambda: self._state,
                item_type=module_item_type,
                max_tries=module_max_tries,
                auto_retry=module_auto_retry,
                timeout=module_timeout,
            )

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
            >>> user.id, user.account_id, user.level
            (4, 3, 16)
        """
        with self._lock:
            if self._state.user_by_login(login) is not None:
                raise ValueError(f"user {login!r} already exists")
            account = self._state.add_account(account_name, balance, currency)
            user = self._state.add_user(login, password, USER_LEVEL, account)
            return FakeUser(user.id, login, user.level, account.id, account.name)

    def add_service(
        self, owner_login: str, name: str, *, status: int = ACTIVE, params: Mapping[str, str] | None = None
    ) -> int:
        """Add a ``vds`` service for a client, with item ``params`` if given; returns its item id.

        Nothing runs: the service is there as if it had been ordered and opened long ago.

        Example:
            >>> fake = BillingFake()
            >>> fake.add_service("bob", "vm-4", params={"image": "img-1"})
            304
            >>> fake.service_params(304)
            {'image': 'img-1'}
        """
        with self._lock:
            account = self._state.account_of(owner_login)
            return self._state.add_item(account.id, name, status, dict(params or {})).id

    def set_tariff(self, tariff_id: int, price: Decimal) -> None:
        """Add a tariff (``pricelist``) or change its price: what an order paid at once is charged.

        Every fake starts with tariffs 1 and 12 (W9's example), free (assumption: a price is per
        order, whatever the period).

        Example:
            >>> fake = BillingFake()
            >>> fake.set_tariff(2, Decimal("12.50"))
            >>> fake.tariffs()
            {1: Decimal('0.00'), 12: Decimal('0.00'), 2: Decimal('12.50')}
        """
        if tariff_id < 1 or not price.is_finite() or price < 0:
            raise ValueError(f"a tariff needs an id >= 1 and a price >= 0, got {tariff_id}, {price}")
        with self._lock:
            self._state.tariffs[tariff_id] = cents(price)

    def tariffs(self) -> dict[int, Decimal]:
        """The tariffs an order may name, with their prices (see `set_tariff`)."""
        with self._lock:
            return dict(self._state.tariffs)

    def service_params(self, item_id: int) -> dict[str, str]:
        """The item params of a service (what an order stored; ``vds.edit`` shows them).

        Example:
            >>> BillingFake().service_params(301)
            {}
        """
        with self._lock:
            item = self._state.items.get(item_id)
            if item is None:
                raise KeyError(f"no service {item_id}")
            return dict(item.params)

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
            account = self._state.account_of(owner_login)
            amount = cents(amount)
            if notpayd is None:
                paid = max(Decimal(0), min(account.balance, amount))
                account.balance -= paid
                notpayd = amount - paid
            expense = Expense(
                self._state.next_id("expense"), account.id, amount, cents(notpayd), info, today(self._wall())
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
            return self._state.account_of(login).balance

    def payments_of(self, login: str) -> list[FakePayment]:
        """The payments of the user's account, oldest first.

        Example:
            >>> BillingFake().payments_of("bob")
            []
        """
        with self._lock:
            return [fake_payment(p) for p in self._owned(login, self._state.payments)]

    def expenses_of(self, login: str) -> list[FakeExpense]:
        """The charges of the user's account, oldest first.

        Example:
            >>> [e.id for e in BillingFake().expenses_of("alice")]
            [401]
        """
        with self._lock:
            expenses = self._owned(login, self._state.expenses)
            return [FakeExpense(e.id, e.amount, e.notpayd, e.info, e.create_date) for e in expenses]

    def tickets_of(self, login: str) -> list[FakeTicket]:
        """The tickets of the user's account with their messages, oldest first.

        Example:
            >>> BillingFake().tickets_of("bob")
            []
        """
        with self._lock:
            tickets = self._owned(login, self._state.tickets)
            return [FakeTicket(t.id, t.name, t.tstatus, tuple(t.messages)) for t in tickets]

    def _owned(self, login: str, table: Mapping[int, _Owned]) -> list[_Owned]:
        """The rows of ``table`` that belong to the user's account, oldest first."""
        account_id = self._state.account_of(login).id
        return [row for row in table.values() if row.account_id == account_id]

    def has_user(self, login: str) -> bool:
        """Whether billing has a user ``login`` (a client or staff, with an account or without).

        Example:
            >>> fake = BillingFake()
            >>> fake.has_user("alice"), fake.has_user("admin"), fake.has_user("nobody")
            (True, True, False)
        """
        with self._lock:
            return self._state.user_by_login(login) is not None

    def account_of(self, login: str) -> int | None:
        """The account id of the user ``login``, or ``None`` when billing has no such user.

        Example:
            >>> fake = BillingFake()
            >>> fake.account_of("alice"), fake.account_of("nobody")
            (1, None)
        """
        with self._lock:
            if self._state.user_by_login(login) is None:
                return None
            return self._state.account_of(login).id

    def service_status(self, item_id: int) -> int:
        """A service's status code (1 ordered, 2 active, 3 suspended, 4 deleted, 5 in progress, 6 by client).

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
            return [
                FakeOperation(o.id, o.item, o.name, o.trycount, o.errorxml, o.manual)
                for o in self._state.operations.values()
            ]

    def tasks(self) -> list[FakeTask]:
        """The staff tasks opened with ``task.edit``, oldest first.

        Example:
            >>> BillingFake().tasks()
            []
        """
        with self._lock:
            return [FakeTask(t.id, t.item, t.runningoperation, t.type) for t in self._state.tasks.values()]

    # ------------------------------------------------------------------------------ processing module
    @property
    def module_runs(self) -> list[FakeModuleRun]:
        """Every run of the processing module so far, oldest first (a copy; empty without a module).

        The first is the ``features`` handshake. Example: see `wait_for_module_runs`.
        """
        return [] if self._module is None else self._module.runs

    def wait_for_module_runs(self, timeout: float = 10.0) -> bool:
        """Block until no processing module run is under way (True) or ``timeout`` passes (False).

        A call that starts a run answers after the run is under way, so waiting right after it
        never misses the run. True at once without a module.

        Example:
            >>> import sys, httpx
            >>> module = [sys.executable, "-c", "print('<doc/>')"]  # declares nothing
            >>> suspend = {"func": "vds.suspend", "elid": "301", "authinfo": "admin:secret"}
            >>> with BillingFake(processing_module=module) as fake, httpx.Client(trust_env=False) as http:
            ...     _ = http.post(fake.url, data=suspend)
            ...     fake.wait_for_module_runs(timeout=30)
            True
            >>> [run.command for run in fake.module_runs], fake.running_operations()[0].errorxml[:40]
            (['features'], '<doc><error type="features" object="item')
        """
        return True if self._module is None else self._module.wait_idle(timeout)

    def run_pending_modules(self) -> list[int]:
        """Run the module again for every operation whose failed try waits (``module_auto_retry=False``).

        Returns the ids of the running operations it started again, in the background (wait with
        `wait_for_module_runs`).

        Example:
            >>> BillingFake().run_pending_modules()
            []
        """
        return [] if self._module is None else self._module.run_pending()

    def _module_environment(self) -> dict[str, str]:
        """os.environ without CLOUDKIT_*, then how to call this fake back, then ``module_env`` (it wins)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDKIT_")}
        if self.running:
            env["CLOUDKIT_BILLING_URL"] = self.url
        env["CLOUDKIT_BILLING_USERNAME"], env["CLOUDKIT_BILLING_PASSWORD"] = self._admin
        env["CLOUDKIT_BILLING_SERVICES"] = self._item_type
        env.update(self._module_env)
        return env

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

    # ------------------------------------------------------------------------------ kit hooks
    def _classify(self, request: Request) -> Request:
        """``func`` and ``params`` from the query and the form or multipart body (the body wins)."""
        params = {name: values[-1] for name, values in request.query.items()}
        params.update(_body_form(request)[0])
        return dataclasses.replace(request, service="billing", func=params.get("func") or None, params=params)

    def _answer(self, request: Request) -> Reply:
        """The ``{"doc": ...}`` answer to a call of ``/billmgr`` (a plain 404 or 405 elsewhere)."""
        try:
            _HTTP.resolve(request.method, request.path)
        except RouteMiss as miss:
            return Reply.text(miss.status, f"{miss.status} {HTTPStatus(miss.status).phrase}\n")
        files = _body_form(request)[1] if request.body else []
        options = Options(
            self._timeout,
            self._monotonic,
            self.complete_operations,
            self.max_page_size,
            processing_module=self._module is not None,
            client_suspend=self.client_suspend,
            item_type=self._item_type,
            wall_clock=self._wall,
        )
        reply = self._json(dispatch(self._state, options, request.params, files))
        launches, self._state.launches = self._state.launches, []
        if self._module is not None and self._launching:
            self._module.launch(launches)
        return reply

    def _json(self, doc: Doc) -> Reply:
        body = {"doc": wrap_children(doc) if self.wrap_single_children else doc}
        return Reply(200, json.dumps(body, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def _fault_reply(self, fault: Fault, request: Request) -> Reply:  # noqa: ARG002 - a hook
        """``body`` verbatim; a ``code``: a ``doc.error`` envelope (HTTP 200 unless ``status``); else HTML."""
        if fault.body is not None:
            return Reply(fault.status or 500, fault.body, fault.content_type)
        if fault.code is not None:
            details = dict(fault.details)
            obj = details.pop("object", None)
            reply = self._json(
                doc_error(WireError(fault.code, fault.message or "", obj=obj, params=details.items()))
            )
            return reply if fault.status is None else dataclasses.replace(reply, status=fault.status)
        status = fault.status or 500
        title = f"{status} {HTTPStatus(status).phrase}"
        extra = f"<p>{fault.message}</p>" if fault.message else ""
        return Reply.text(
            status, f"<html><body><h1>{title}</h1>{extra}</body></html>", "text/html; charset=utf-8"
        )

    def _is_write(self, request: Request) -> bool:
        """An action, or a form submitted with ``sok``; lists and form reads are not writes."""
        route = route_of(request.func or "", self._item_type)
        return route is not None and route.writes(request.params)

    def _swallow(self, request: Request) -> Reply:
        """Answer on a copy of the state and keep only the id counters (an id handed out stays used)."""
        before = copy.deepcopy(self._state)
        self._launching = False  # an operation the write queued is not kept, so nothing runs it
        try:
            reply = self._answer(request)
        finally:
            self._launching = True
        before.counters = self._state.counters
        self._state = before
        return reply

    def _record(self, request: Request, reply: Reply | None, fault: FaultKind | None) -> Call:
        """The call with its ``func``, ``su``, how it authenticated and its parameters, secrets masked."""
        params = request.params
        mode: AuthMode = "none"
        if "authinfo" in params:
            mode = "authinfo"
        elif "auth" in params:
            mode = "session"
        elif params.get("func") == "auth" and "key" in params:
            mode = "key"
        fields, files = _body_form(request) if request.body else ({}, [])
        named_files = {f.field: f.filename for f in files}
        return dataclasses.replace(
            super()._record(request, reply, fault),
            body=urlencode({**_masked(fields), **named_files}, safe="*"),
            params=types.MappingProxyType({**_masked(dict(params)), **named_files}),
            func=request.func or "",
            su=params.get("su") or None,
            auth_mode=mode,
        )

    def _monotonic(self) -> float:
        """Seconds for session idle timeouts: the clock's, or its datetime's timestamp."""
        value = self.clock()
        return value.timestamp() if isinstance(value, dt.datetime) else value

    def _reset_state(self) -> None:
        """The seeded state, the constructor's switches, no module runs (and features asked again)."""
        self._state = seeded_state(*self._admin, seed=self._seed)
        if self._module is not None:
            self._module.forget()
        (self.wrap_single_children, self.complete_operations, self.max_page_size, self.client_suspend) = (
            self._switches
        )
