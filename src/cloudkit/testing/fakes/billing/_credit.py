"""The credit model of `BillingFake`: limits, charges, payments and promises, a seeded population.

Stop rules read these: how far below zero an account may go (``credit_limit``), what it was charged
and when, what it paid or promised to pay by a date. `CreditModel` is a mixin over the fake's lock,
state and clock; `BillingFake` inherits it, so the methods are the fake's own.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable, Sequence
from decimal import Decimal

from cloudkit.testing.fakes.billing._context import now, today, utc_now
from cloudkit.testing.fakes.billing._state import (
    ACTIVE,
    PAYMENT_CREDITED,
    PAYMENT_PROMISED,
    USER_LEVEL,
    Account,
    Expense,
    FakeExpense,
    FakePayment,
    Item,
    Payment,
    State,
    User,
    cents,
)

_ZERO = Decimal("0.00")


class CreditModel:
    """The credit model's methods, mixed into `BillingFake` (which provides what is declared here).

    Example:
        >>> from cloudkit.testing.fakes.billing import BillingFake
        >>> fake = BillingFake()
        >>> _ = fake.charge("bob", Decimal("10"))
        >>> fake.balance_of("bob")
        Decimal('-10.00')
    """

    clock: Callable[[], float | dt.datetime]
    _lock: threading.RLock
    _state: State

    def set_credit_limit(self, login: str, amount: Decimal | None) -> None:
        """Set (or with ``None`` clear) how far below zero the account's balance may go.

        The ``account`` list shows it as ``credit_limit``. assumption: the fake never refuses a
        charge past the limit (BILLmanager's post-paid mode does not block either); stopping an
        account that is past it is the stop rules' job.

        Example:
            >>> from cloudkit.testing.fakes.billing import BillingFake
            >>> fake = BillingFake()
            >>> fake.set_credit_limit("bob", Decimal("50"))
            >>> fake.credit_limit_of("bob")
            Decimal('50.00')
        """
        # assumption: billing never refuses a charge past the limit (post-paid mode does not block)
        if amount is not None and (not amount.is_finite() or amount < 0):
            raise ValueError(f"a credit limit is a finite amount >= 0 (or None), got {amount}")
        with self._lock:
            self._state.account_of(login).credit_limit = None if amount is None else cents(amount)

    def credit_limit_of(self, login: str) -> Decimal | None:
        """The account's credit limit, or ``None`` when it has none.

        Example:
            >>> from cloudkit.testing.fakes.billing import BillingFake
            >>> BillingFake().credit_limit_of("alice") is None
            True
        """
        with self._lock:
            return self._state.account_of(login).credit_limit

    def charge(
        self, login: str, amount: Decimal, *, info: str = "usage", at: dt.datetime | None = None
    ) -> FakeExpense:
        """Charge the account ``amount`` at ``at`` (default: the clock's now), debiting its balance.

        The whole amount is taken from the balance, which may go below zero (down to the credit
        limit and past it); ``notpayd`` is the part a positive balance did not cover, the debt a
        later payment pays first.

        Example:
            >>> from cloudkit.testing.fakes.billing import BillingFake
            >>> import datetime as dt
            >>> fake = BillingFake(clock=lambda: dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC))
            >>> charged = fake.charge("alice", Decimal("200"), info="vm-1 day")
            >>> charged.notpayd, charged.create_date, fake.balance_of("alice")
            (Decimal('50.00'), '2024-05-01 09:30:00', Decimal('-50.00'))
        """
        amount = _positive(amount, "amount")
        moment = self._wall() if at is None else _aware(at, "at")
        with self._lock:
            account = self._state.account_of(login)
            covered = max(Decimal(0), min(account.balance, amount))
            account.balance -= amount
            expense = Expense(
                self._state.next_id("expense"),
                account.id,
                amount,
                amount - covered,
                info,
                now(moment),
                debited=True,
            )
            self._state.expenses[expense.id] = expense
            return FakeExpense(expense.id, expense.amount, expense.notpayd, expense.info, expense.create_date)

    def pay(self, login: str, amount: Decimal) -> FakePayment:
        """A credited payment: it pays the debt first (oldest charge first), and raises the balance.

        Example:
            >>> from cloudkit.testing.fakes.billing import BillingFake
            >>> fake = BillingFake()
            >>> _ = fake.charge("alice", Decimal("200"))
            >>> fake.pay("alice", Decimal("80")).status, fake.balance_of("alice")
            (4, Decimal('30.00'))
            >>> fake.expenses_of("alice")[-1].notpayd
            Decimal('0.00')
        """
        return self._payment(login, _positive(amount, "amount"), PAYMENT_CREDITED, None)

    def promise(self, login: str, amount: Decimal, *, until: dt.date) -> FakePayment:
        """A promised payment due by ``until``: credited at once (as BILLmanager does), status promised.

        The balance rises at once; whether an unpaid promise past its date still counts is the stop
        policy's call (the fake takes nothing back). `settle_promise` records it paid.

        Example:
            >>> from cloudkit.testing.fakes.billing import BillingFake
            >>> import datetime as dt
            >>> fake = BillingFake()
            >>> promised = fake.promise("bob", Decimal("40"), until=dt.date(2024, 5, 8))
            >>> promised.status, promised.promise_until, fake.balance_of("bob")
            (3, datetime.date(2024, 5, 8), Decimal('10.00'))
        """
        if isinstance(until, dt.datetime):  # a moment is not a day: say so rather than cut it
            raise TypeError(f"until is a date, got {type(until).__name__}")
        return self._payment(login, _positive(amount, "amount"), PAYMENT_PROMISED, until)

    def settle_promise(self, payment_id: int) -> FakePayment:
        """The promised payment ``payment_id`` was paid: it becomes a credited one; the balance stays.

        Example:
            >>> from cloudkit.testing.fakes.billing import BillingFake
            >>> import datetime as dt
            >>> fake = BillingFake()
            >>> promised = fake.promise("bob", Decimal("40"), until=dt.date(2024, 5, 8))
            >>> fake.settle_promise(promised.id).status, fake.balance_of("bob")
            (4, Decimal('10.00'))
        """
        with self._lock:
            payment = self._state.payments.get(payment_id)
            if payment is None:
                raise KeyError(f"no payment {payment_id}")
            if payment.status != PAYMENT_PROMISED:
                raise ValueError(f"payment {payment_id} is not a promised payment (status {payment.status})")
            payment.status = PAYMENT_CREDITED
            return fake_payment(payment)

    def _payment(self, login: str, amount: Decimal, status: int, until: dt.date | None) -> FakePayment:
        day = today(self._wall())
        with self._lock:
            account = self._state.account_of(login)
            payment = Payment(
                self._state.next_id("payment"),
                account.id,
                amount,
                status,
                day,
                until.isoformat() if until is not None else "",
            )
            self._state.payments[payment.id] = payment
            self._state.credit(account, amount)
            return fake_payment(payment)

    def seed_population(
        self,
        accounts: int,
        *,
        services_per_account: int = 2,
        seed: int = 0,
        days: int = 3,
        balance: tuple[Decimal, Decimal] = (Decimal(-100), Decimal(1000)),
        credit_limits: Sequence[Decimal | None] = (None, Decimal(0), Decimal(50), Decimal(100)),
        hourly: tuple[Decimal, Decimal] = (Decimal("0.01"), Decimal("0.50")),
        promised_share: float = 0.05,
        first: int = 1,
    ) -> list[str]:
        """Seed ``accounts`` clients at once, straight into the state (no HTTP); their logins.

        Client ``n`` (``first``, ``first + 1``, ...) is login ``cust-<n>``, password ``cust-<n>-pass``,
        account ``Customer <n>``, with ``services_per_account`` ACTIVE services ``cust-<n>-vm-<k>``;
        a balance drawn from ``balance`` (inclusive, in cents) and a credit limit from
        ``credit_limits``; one paid charge a day for each of the last ``days`` days (at the clock's
        time of day), of 24 hours at an hourly rate per service drawn from ``hourly``; and, for about
        ``promised_share`` of them, a promised payment due between 2 days ago and 7 days ahead (some
        past their date), already part of the drawn balance. Everything is drawn from
        ``random.Random(seed)``, so the same arguments seed the same population.

        Example:
            >>> from cloudkit.testing.fakes.billing import BillingFake
            >>> fake = BillingFake(seed=False)
            >>> logins = fake.seed_population(3, seed=1)
            >>> logins, len(fake.expenses_of("cust-2")), fake.service_status(301)
            (['cust-1', 'cust-2', 'cust-3'], 3, 2)
        """
        if accounts < 0 or services_per_account < 0 or days < 0:
            raise ValueError("accounts, services_per_account and days must be >= 0")
        if not 0 <= promised_share <= 1:
            raise ValueError(f"promised_share is between 0 and 1, got {promised_share}")
        if not credit_limits:
            raise ValueError("credit_limits names at least one limit (or None)")
        rng = random.Random(seed)
        low, high = (int(cents(b) * 100) for b in balance)
        rate_low, rate_high = (int(cents(r) * 100) for r in hourly)
        limits = [None if c is None else cents(c) for c in credit_limits]
        moment = self._wall().astimezone(dt.UTC)
        stamps = [now(moment - dt.timedelta(days=d)) for d in range(days, 0, -1)]
        this_day = moment.date()
        logins = [f"cust-{n}" for n in range(first, first + accounts)]
        with self._lock:
            state = self._state
            taken = [login for login in logins if login in state.logins]
            if taken:
                raise ValueError(f"users already exist: {', '.join(taken[:3])}")
            for n, login in zip(range(first, first + accounts), logins, strict=True):
                account = Account(
                    state.next_id("account"),
                    f"Customer {n}",
                    Decimal(rng.randint(low, high)).scaleb(-2),
                    "EUR",
                    rng.choice(limits),
                )
                state.accounts[account.id] = account
                user = User(state.next_id("user"), login, f"{login}-pass", USER_LEVEL, account.id)
                state.users[user.id] = user
                state.logins[login] = user.id
                daily = Decimal(0)
                for k in range(1, services_per_account + 1):
                    item = Item(state.next_id("item"), account.id, f"{login}-vm-{k}", ACTIVE)
                    state.items[item.id] = item
                    daily += Decimal(rng.randint(rate_low, rate_high) * 24).scaleb(-2)
                for stamp in stamps:
                    expense = Expense(state.next_id("expense"), account.id, daily, _ZERO, "usage", stamp)
                    state.expenses[expense.id] = expense
                if rng.random() < promised_share:
                    until = this_day + dt.timedelta(days=rng.randint(-2, 7))
                    payment = Payment(
                        state.next_id("payment"),
                        account.id,
                        Decimal(rng.randint(10, 100)).quantize(Decimal("0.01")),
                        PAYMENT_PROMISED,
                        (until - dt.timedelta(days=7)).isoformat(),
                        until.isoformat(),
                    )
                    state.payments[payment.id] = payment
        return logins

    # ------------------------------------------------------------------------------ clock
    def _wall(self) -> dt.datetime:
        """The time every written date uses: the clock's datetime, or the real UTC time."""
        value = self.clock()
        if isinstance(value, dt.datetime):
            return _aware(value, "clock()")
        return utc_now()


def fake_payment(p: Payment) -> FakePayment:
    until = dt.date.fromisoformat(p.promise_until) if p.promise_until else None
    return FakePayment(p.id, str(p.id), p.amount, p.status, p.create_date, until)


def _positive(amount: Decimal, name: str) -> Decimal:
    value = Decimal(amount)
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return cents(value)


def _aware(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone)")
    return moment
