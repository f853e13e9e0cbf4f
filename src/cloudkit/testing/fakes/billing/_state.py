"""The billing fake's models: public records, the state tables and the seed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

AuthMode = Literal["session", "authinfo", "key", "none"]
"""How a call authenticated: a session id, ``authinfo`` credentials, a one-time key, or not at all."""

ADMIN_LEVEL = 28
USER_LEVEL = 16
ASSIGNMENT_OFFSET = 10000  # assumption: a staff assignment id is the ticket id + 10000

# Item (service) statuses. assumption: the numeric codes (the docs list only the UI words).
ORDERED, ACTIVE, SUSPENDED, DELETED, IN_PROGRESS = 1, 2, 3, 4, 5
SUSPENDED_BY_CLIENT = 6  # the UI's "Suspended (by client)"; assumption: its code
# assumption: the tariffs (pricelist id -> price of one order) every fake starts with: 1, and 12 (the id
# of billing.md W9's example), both free, so an order in a test needs no money unless the test sets a
# price with BillingFake.set_tariff
TARIFFS = {1: Decimal("0.00"), 12: Decimal("0.00")}
# Payment statuses (B6 payments-payment): 1 new, 3 promised payment, 4 credited.
PAYMENT_NEW, PAYMENT_PROMISED, PAYMENT_CREDITED = 1, 3, 4
# Ticket statuses (B6 clientticket): 0 new, 1 under review, 2 awaiting response.
TICKET_NEW, TICKET_UNDER_REVIEW, TICKET_AWAITING = 0, 1, 2
INVOICE_NEW, INVOICE_PAID = "1", "2"  # assumption: invoice_status codes
PROMISE_DAYS = 7  # assumption: the term of a promised payment made through the form (set per install)
MODULE_ID = 1  # assumption: the id of the one processing module the fake runs
OPERATION_RUNNING = 1  # assumption: the runningoperation status code of a queued operation
OPERATION_TARGET = {"open": ACTIVE, "suspend": SUSPENDED, "resume": ACTIVE, "close": DELETED}
# service.setstatus codes (pmregistrar.php sync_item: 2 active, 8 suspended) -> item status.
# assumption: 8 is shown as the item's suspended status.
SET_STATUS_CODES = {"2": ACTIVE, "8": SUSPENDED}
# assumption: the staff task type task.gettype answers per operation (types are configured per install;
# an operation without one answers an empty task_type).
TASK_TYPES = {"open": "1", "suspend": "2", "resume": "3", "close": "4", "setparam": "5", "prolong": "6"}
_ID_BASES = {
    "user": 1,
    "account": 1,
    "payment": 101,
    "invoice": 201,
    "item": 301,
    "expense": 401,
    "ticket": 501,
    "message": 601,
    "operation": 701,
    "task": 801,
}
_CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    """``amount`` rounded to cents.

    Example:
        >>> cents(Decimal("1.005"))
        Decimal('1.00')
    """
    return amount.quantize(_CENT)


# ================================================================================== public records
@dataclass(frozen=True, slots=True)
class FakeUser:
    """A user of the fake billing (the admin has no account).

    Example:
        >>> from cloudkit.testing.fakes import BillingFake
        >>> BillingFake().add_user("carol", "carol-pass", account_name="Carol SA").id
        4
    """

    id: int
    login: str
    level: int
    account_id: int | None
    account_name: str | None


@dataclass(frozen=True, slots=True)
class FakePayment:
    """A payment row of the fake billing.

    Example:
        >>> from cloudkit.testing.fakes import BillingFake
        >>> BillingFake().payments_of("alice")
        []
    """

    id: int
    number: str
    amount: Decimal
    status: int
    create_date: str
    promise_until: dt.date | None = None


@dataclass(frozen=True, slots=True)
class FakeExpense:
    """A charge (``expense``) row; ``notpayd`` above zero is debt.

    Example:
        >>> from cloudkit.testing.fakes import BillingFake
        >>> BillingFake().expenses_of("bob")[0].notpayd
        Decimal('30.00')
    """

    id: int
    amount: Decimal
    notpayd: Decimal
    info: str
    create_date: str


@dataclass(frozen=True, slots=True)
class FakeAttachment:
    """A file sent with a ticket message as a multipart ``file_N`` part.

    Example:
        >>> FakeAttachment(field="file_1", filename="a.txt", content_type="text/plain", data=b"hi").data
        b'hi'
    """

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class FakeMessage:
    """A message of a ticket.

    Example:
        >>> FakeMessage(id=601, text="help", user="alice", date_post="", attachments=()).user
        'alice'
    """

    id: int
    text: str
    user: str
    date_post: str
    attachments: tuple[FakeAttachment, ...]


@dataclass(frozen=True, slots=True)
class FakeTicket:
    """A support ticket with its messages, oldest first.

    Example:
        >>> from cloudkit.testing.fakes import BillingFake
        >>> BillingFake().tickets_of("alice")
        []
    """

    id: int
    name: str
    tstatus: int
    messages: tuple[FakeMessage, ...]


@dataclass(frozen=True, slots=True)
class FakeOperation:
    """A running operation waiting for the processing module (``service.post<op>``).

    ``errorxml`` is what the module stored with ``runningoperation.edit`` (empty: none), ``manual``
    whether ``runningoperation.setmanual`` switched it to manual.

    Example:
        >>> from cloudkit.testing.fakes import BillingFake
        >>> BillingFake().running_operations()
        []
    """

    id: int
    service_id: int
    name: str
    trycount: int
    errorxml: str = ""
    manual: bool = False


@dataclass(frozen=True, slots=True)
class FakeTask:
    """A task in the staff "system of tasks" (``task.edit``).

    Example:
        >>> from cloudkit.testing.fakes import BillingFake
        >>> BillingFake().tasks()
        []
    """

    id: int
    service_id: int
    running_operation: int | None
    type: str


@dataclass(frozen=True, slots=True)
class FakeModuleRun:
    """One run of the processing module by the billing fake: what it was given and what it answered.

    ``command`` is ``features`` for the handshake (no item, no running operation); ``exit_code`` is
    None when the run did not finish (the program could not start, or outlived ``module_timeout``;
    ``stderr`` then says which). The environment is never recorded: it may hold passwords.

    Example:
        >>> run = FakeModuleRun(("pm", "--command", "features"), "features", None, None, 0, "<doc/>", "")
        >>> run.argv[1:], run.exit_code
        (('--command', 'features'), 0)
    """

    argv: tuple[str, ...]
    command: str
    item_id: int | None
    running_operation: int | None
    exit_code: int | None
    stdout: str
    stderr: str


# ================================================================================== state tables
@dataclass(slots=True)
class Account:
    id: int
    name: str
    balance: Decimal
    currency: str
    credit_limit: Decimal | None = None  # how far below zero the balance may go; None: billing sets none


@dataclass(slots=True)
class User:
    id: int
    login: str
    password: str = field(repr=False)
    level: int
    account_id: int | None


@dataclass(slots=True)
class Item:
    id: int
    account_id: int
    name: str
    status: int
    params: dict[str, str] = field(default_factory=dict)  # item params (``itemparam``): the order's fields


@dataclass(slots=True)
class Expense:
    id: int
    account_id: int
    amount: Decimal
    notpayd: Decimal
    info: str
    create_date: str
    # True when the whole amount was taken from the balance (``charge``: the balance may go negative),
    # so paying the debt raises the balance too; False for a debt kept beside a balance left at zero
    # (``add_expense``, the seed).
    debited: bool = False


@dataclass(slots=True)
class Payment:
    id: int
    account_id: int
    amount: Decimal
    status: int
    create_date: str
    promise_until: str = ""  # a promised payment's last day (YYYY-MM-DD); "" for none


@dataclass(slots=True)
class Invoice:
    id: int
    account_id: int
    amount: Decimal
    status: str
    create_date: str


@dataclass(slots=True)
class Ticket:
    id: int
    account_id: int
    name: str
    tstatus: int
    messages: list[FakeMessage]


@dataclass(slots=True)
class Operation:
    id: int
    item: int
    name: str
    trycount: int = 0
    errorxml: str = ""
    manual: bool = False
    by_client: bool = False  # a client's own suspend or resume (the product allows it)

    @property
    def target(self) -> int:
        """The item status once done: a client's suspend ends "Suspended (by client)"."""
        return (
            SUSPENDED_BY_CLIENT if self.by_client and self.name == "suspend" else OPERATION_TARGET[self.name]
        )


@dataclass(slots=True)
class Task:
    id: int
    item: int
    runningoperation: int | None
    type: str


@dataclass(slots=True)
class Session:
    sid: str = field(repr=False)
    user_id: int
    last_seen: float
    parent: str | None = field(default=None, repr=False)
    expired: bool = False


@dataclass(slots=True)
class State:
    """Every table of the fake billing; ids grow from per-table bases."""

    counters: dict[str, int] = field(default_factory=lambda: dict(_ID_BASES))
    tariffs: dict[int, Decimal] = field(default_factory=lambda: dict(TARIFFS))
    accounts: dict[int, Account] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    items: dict[int, Item] = field(default_factory=dict)
    expenses: dict[int, Expense] = field(default_factory=dict)
    payments: dict[int, Payment] = field(default_factory=dict)
    invoices: dict[int, Invoice] = field(default_factory=dict)
    tickets: dict[int, Ticket] = field(default_factory=dict)
    operations: dict[int, Operation] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    keys: dict[str, tuple[int, float]] = field(default_factory=dict)
    launches: list[int] = field(default_factory=list)  # operations the processing module is to run next
    logins: dict[str, int] = field(default_factory=dict)  # login -> user id (a population has thousands)

    def next_id(self, table: str) -> int:
        value = self.counters[table]
        self.counters[table] = value + 1
        return value

    def user_by_login(self, login: str) -> User | None:
        user_id = self.logins.get(login)
        return None if user_id is None else self.users.get(user_id)

    def add_user(self, login: str, password: str, level: int, account: Account | None) -> User:
        user = User(self.next_id("user"), login, password, level, account.id if account else None)
        self.users[user.id] = user
        self.logins[login] = user.id
        return user

    def add_account(self, name: str, balance: Decimal, currency: str) -> Account:
        account = Account(self.next_id("account"), name, cents(balance), currency)
        self.accounts[account.id] = account
        return account

    def add_item(self, account_id: int, name: str, status: int, params: dict[str, str] | None = None) -> Item:
        item = Item(self.next_id("item"), account_id, name, status, dict(params or {}))
        self.items[item.id] = item
        return item

    def account_of(self, login: str) -> Account:
        user = self.user_by_login(login)
        if user is None:
            raise KeyError(f"no user {login!r}")
        if user.account_id is None:
            raise KeyError(f"{login!r} has no account")
        return self.accounts[user.account_id]

    def credit(self, account: Account, amount: Decimal) -> None:
        """An incoming credited payment pays off debt (oldest charge first), then raises the balance.

        Debt a charge already took from the balance (``debited``) raises the balance as it is paid;
        debt kept beside the balance does not (it was never subtracted).
        """
        left = amount
        for expense in self.expenses.values():  # oldest first: ids grow and rows are inserted in order
            if left <= 0:
                break
            if expense.account_id == account.id and expense.notpayd > 0:
                paid = min(expense.notpayd, left)
                expense.notpayd -= paid
                left -= paid
                if expense.debited:
                    account.balance += paid
        account.balance += left

    def complete(self, operation: Operation) -> None:
        self.items[operation.item].status = operation.target
        del self.operations[operation.id]


def seeded_state(admin_login: str, admin_password: str, *, seed: bool) -> State:
    """The admin, and with ``seed`` alice and bob with their services, invoice and charges."""
    state = State()
    state.add_user(admin_login, admin_password, ADMIN_LEVEL, None)
    if not seed:
        return state
    alice_acc = state.add_account("Alice Ltd", Decimal(150), "EUR")
    bob_acc = state.add_account("Bob GmbH", Decimal(0), "EUR")
    state.add_user("alice", "alice-pass", USER_LEVEL, alice_acc)
    state.add_user("bob", "bob-pass", USER_LEVEL, bob_acc)
    state.add_item(alice_acc.id, "vm-1", ACTIVE)
    state.add_item(alice_acc.id, "vm-2", ACTIVE)
    state.add_item(bob_acc.id, "vm-3", SUSPENDED)
    invoice = Invoice(state.next_id("invoice"), alice_acc.id, Decimal("25.00"), INVOICE_PAID, "2024-05-01")
    state.invoices[invoice.id] = invoice
    for account, amount, notpayd, info in (
        (alice_acc, Decimal("25.00"), Decimal(0), "vm-1 daily charge"),
        (bob_acc, Decimal("30.00"), Decimal("30.00"), "vm-3 daily charge"),
    ):
        expense = Expense(state.next_id("expense"), account.id, amount, notpayd, info, "2024-05-01")
        state.expenses[expense.id] = expense
    return state
