"""Stop rules: a pure :func:`decide` over one account's money, and :func:`apply` for the state after it.

No I/O here. The sweep (``_sweep.py``) builds an :class:`AccountState` per account from billing and its
own tables, asks :func:`decide`, carries the :class:`Decision` out through the sagas, and stores what
:func:`apply` returns. Everything a property test needs to prove the rules is in this module.

The money (all :class:`~decimal.Decimal`)::

    limit   = billing's credit limit if the policy uses it and billing has one, else the policy default
    credit  = balance + limit - promised payments whose date has passed and are still unpaid
              (billing credits a promise at once, as BILLmanager does, so an expired one is taken back)
    hours_left = max(credit, 0) / hourly_spend, rounded down to 0.01 h (None when nothing is spent)

``credit`` is what is left before the limit; negative means below it.

The rules, in the order :func:`decide` applies them:

1. Suspended, but not by this policy (another reason, or another policy name): ``ok`` /
   ``not_our_suspension``. Never resumed, never deleted from here (WHMCS lifts only "Overdue on
   Payment" suspensions; BILLmanager auto-deletes only automatic ones).
2. Suspended by this policy: ``resume`` / ``paid`` when ``auto_resume`` and ``credit >=
   resume_margin``; otherwise ``delete_due`` once ``delete_after_days`` have passed since the suspension
   and the credit is still short; otherwise ``ok`` (``still_short``, ``auto_resume_off``, ``deleted``).
3. Active and ``credit < 0``: the dip starts (``below_limit_since``); ``suspend`` /
   ``grace_hours_over`` once ``grace_hours`` have passed below the limit, or ``grace_amount_over`` when
   ``-credit >= grace_amount``; before that ``notify`` / ``limit_reached`` (level 0, once, if
   ``notice_at_limit``) or ``ok`` / ``in_grace``.
4. Active and ``credit >= 0``: no dip. ``notify`` / ``low_credit`` when ``hours_left`` is within a
   notice level more urgent than the one already sent, else ``ok`` (``low_credit``, ``credit_ok``).
   An active account with ``0 <= credit < resume_margin`` is never suspended: the margin is the gap
   between the line that suspends (0) and the line that resumes (``resume_margin``), so an account
   whose credit moves inside it does not flap.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Iterable, Mapping
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

import attrs

from cloudkit.errors import ConfigError, InvalidArgumentError
from cloudkit.lifecycle._models import SuspendReason

__all__ = [
    "AccountState",
    "Action",
    "Decision",
    "Notice",
    "PromisedPayment",
    "StopPolicy",
    "Suspension",
    "apply",
    "decide",
]

SYSTEM = "lifecycle"
_CENT = Decimal("0.01")


class Action(enum.StrEnum):
    """What the sweep does for one account.

    ``ok`` changes nothing outside (the sweep may still store a new ``below_limit_since`` or notice
    level: compare :func:`apply`'s result with the state); ``notify`` sends a notice; ``suspend``
    suspends every active service of the account; ``resume`` resumes what this policy suspended;
    ``delete_due`` closes what this policy suspended, ``delete_after_days`` after the suspension.

    Example:
        >>> from cloudkit.lifecycle import Action
        >>> Action("suspend") is Action.SUSPEND, str(Action.DELETE_DUE)
        (True, 'delete_due')
    """

    OK = "ok"
    NOTIFY = "notify"
    SUSPEND = "suspend"
    RESUME = "resume"
    DELETE_DUE = "delete_due"


# Severity of each code: the account's standing once the decision is carried out (see Decision.severity).
_SEVERITY: Mapping[str, int] = {
    "credit_ok": 0,
    "paid": 0,
    "low_credit": 1,
    "limit_reached": 2,
    "in_grace": 2,
    "grace_hours_over": 3,
    "grace_amount_over": 3,
    "still_short": 3,
    "auto_resume_off": 3,
    "not_our_suspension": 3,
    "delete_due": 4,
    "deleted": 4,
}
CODES: tuple[str, ...] = tuple(_SEVERITY)


# ====================================================================================== validation
def _fail(owner: str, field: str, message: str, value: object) -> ConfigError:
    # The value is shown: a policy holds no secret, and the operator must see what was wrong.
    return ConfigError(f"{owner}.{field} {message}, not {value!r}", system=SYSTEM)


def _to_decimal(value: object) -> Decimal | None:
    """A finite Decimal from an int, a float (via its shortest repr), a str or a Decimal; else None."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int | str):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        else:
            return None
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _amount(field: str, value: object) -> Decimal:
    number = _to_decimal(value)
    if number is None or number < 0:
        raise _fail("StopPolicy", field, "must be an amount >= 0", value)
    return number


def _hours(field: str, value: object, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        bad = True
    else:
        bad = value <= 0 if positive else value < 0
    if bad:
        bound = "> 0" if positive else ">= 0"
        raise _fail("StopPolicy", field, f"must be a finite number of hours {bound}", value)
    return float(value)  # type: ignore[arg-type]  # checked just above: an int or a float


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _fail("StopPolicy", field, "must be true or false", value)
    return value


# One named converter per field: mypy's attrs plugin types only named functions as converters.
def _default_credit_limit(value: object) -> Decimal:
    return _amount("default_credit_limit", value)


def _grace_amount(value: object) -> Decimal | None:
    return None if value is None else _amount("grace_amount", value)


def _resume_margin(value: object) -> Decimal:
    return _amount("resume_margin", value)


def _grace_hours(value: object) -> float:
    return _hours("grace_hours", value, positive=False)


def _spend_window_hours(value: object) -> float:
    return _hours("spend_window_hours", value, positive=True)


def _use_billing_credit_limit(value: object) -> bool:
    return _flag("use_billing_credit_limit", value)


def _notice_at_limit(value: object) -> bool:
    return _flag("notice_at_limit", value)


def _auto_resume(value: object) -> bool:
    return _flag("auto_resume", value)


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise _fail("StopPolicy", "name", "must be a non-empty name without surrounding spaces", value)
    return value


def _levels(value: object) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise _fail("StopPolicy", "notice_hours", "must be a list of whole hours > 0", value)
    levels = tuple(value)
    if any(isinstance(level, bool) or not isinstance(level, int) or level <= 0 for level in levels):
        raise _fail("StopPolicy", "notice_hours", "must be a list of whole hours > 0", value)
    if len(set(levels)) != len(levels):
        raise _fail("StopPolicy", "notice_hours", "must not repeat a level", value)
    # Least urgent first, so the repr reads as the notices are sent (72h, then 24h).
    return tuple(sorted(levels, reverse=True))


def _days(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(
            "StopPolicy", "delete_after_days", "must be a whole number of days >= 1 (or absent)", value
        )
    return value


def _non_negative_spend(_: object, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    if not value >= 0:
        raise InvalidArgumentError(
            f"AccountState.{attribute.name} must be >= 0, not {value!r}", system=SYSTEM
        )


# ========================================================================================= models
@attrs.frozen(kw_only=True)
class PromisedPayment:
    """A promised payment billing credited at once and that is not paid yet.

    It counts (stays in the balance) while ``now.date() <= until``; after that date :func:`decide` takes
    its amount back out of the credit.

    Example:
        >>> import datetime as dt
        >>> from decimal import Decimal
        >>> from cloudkit.lifecycle import PromisedPayment
        >>> PromisedPayment(amount=Decimal("30"), until=dt.date(2025, 6, 1))
        PromisedPayment(amount=Decimal('30'), until=datetime.date(2025, 6, 1))
    """

    amount: Decimal
    until: dt.date


@attrs.frozen(kw_only=True)
class Suspension:
    """An account's suspension as the sweep recorded it.

    Attributes:
        at: when the suspension was decided.
        reason: why; only ``NONPAYMENT`` suspensions can be this policy's own.
        policy: the name of the :class:`StopPolicy` that made it; ``None`` for staff or anything else.
        deleted_at: when the sweep carried out ``delete_due`` (closed the services it had suspended);
            set by :func:`apply`, so ``delete_due`` is decided once.

    Example:
        >>> import datetime as dt
        >>> from cloudkit.lifecycle import Suspension, SuspendReason
        >>> at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        >>> Suspension(at=at, reason=SuspendReason.ABUSE, policy=None).reason
        <SuspendReason.ABUSE: 'abuse'>
    """

    at: dt.datetime
    reason: SuspendReason = attrs.field(converter=SuspendReason)
    policy: str | None
    deleted_at: dt.datetime | None = None


@attrs.frozen(kw_only=True)
class AccountState:
    """Everything :func:`decide` needs about one account; the sweep builds it from billing and its tables.

    Attributes:
        account: billing's account id.
        balance: billing's balance (promised payments already credited, as BILLmanager does).
        credit_limit: billing's credit limit; ``None`` falls back to the policy's default.
        promised: promised payments still unpaid.
        hourly_spend: spend per hour projected from the account's recent expenses (>= 0).
        below_limit_since: the first sweep that saw ``credit < 0`` in this dip (``None``: not in one).
        notified_level: the most urgent notice level already sent (hours; 0 = limit reached).
        suspension: the account's suspension, if any.

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit.lifecycle import AccountState
        >>> AccountState(account=7, balance=Decimal("12.50")).hourly_spend
        Decimal('0')
        >>> AccountState(account=7, balance=Decimal(0), hourly_spend=Decimal(-1))
        Traceback (most recent call last):
        ...
        cloudkit.errors.InvalidArgumentError: AccountState.hourly_spend must be >= 0, not Decimal('-1')...
    """

    account: int
    balance: Decimal
    credit_limit: Decimal | None = None
    promised: tuple[PromisedPayment, ...] = attrs.field(default=(), converter=tuple)
    hourly_spend: Decimal = attrs.field(default=Decimal(0), validator=_non_negative_spend)
    below_limit_since: dt.datetime | None = None
    notified_level: int | None = None
    suspension: Suspension | None = None


@attrs.frozen(kw_only=True)
class StopPolicy:
    """When an account is warned, suspended, resumed and its services deleted. Validated on creation.

    Attributes:
        name: recorded on every suspension it makes; it resumes only suspensions carrying its name.
        default_credit_limit: how far below zero the balance may go when billing has no limit (>= 0).
        use_billing_credit_limit: use billing's per-account limit where it has one.
        grace_hours: hours below the limit before suspending (>= 0; 0 suspends at the first sweep).
        grace_amount: suspend at once when the credit is this far below the limit (>= 0; ``None``: off).
        resume_margin: resume only when the credit is back to at least this (>= 0): limit + margin.
        notice_hours: notice levels in hours of credit left (whole, > 0, distinct; kept most
            distant first).
        notice_at_limit: send the level-0 notice when the limit is crossed (the grace starts).
        spend_window_hours: how far back the sweep reads expenses to project the hourly spend (> 0).
        auto_resume: resume this policy's own suspensions when paid; off, staff resume by hand.
        delete_after_days: ``delete_due`` this many days after the suspension if still short
            (>= 1; ``None``, the default: never).

    A bad value is a :class:`~cloudkit.errors.ConfigError` naming the field.

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit.lifecycle import StopPolicy
        >>> policy = StopPolicy(grace_hours=24, resume_margin="20", notice_hours=[24, 72])
        >>> policy.resume_margin, policy.notice_hours, policy.delete_after_days
        (Decimal('20'), (72, 24), None)
        >>> StopPolicy(grace_hours=-1)
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: StopPolicy.grace_hours must be a finite number of hours >= 0, not -1...
    """

    name: str = attrs.field(default="default", converter=_name)
    default_credit_limit: Decimal = attrs.field(default=Decimal(0), converter=_default_credit_limit)
    use_billing_credit_limit: bool = attrs.field(default=True, converter=_use_billing_credit_limit)
    grace_hours: float = attrs.field(default=0.0, converter=_grace_hours)
    grace_amount: Decimal | None = attrs.field(default=None, converter=_grace_amount)
    resume_margin: Decimal = attrs.field(default=Decimal(0), converter=_resume_margin)
    notice_hours: tuple[int, ...] = attrs.field(default=(72, 24), converter=_levels)
    notice_at_limit: bool = attrs.field(default=True, converter=_notice_at_limit)
    spend_window_hours: float = attrs.field(default=72.0, converter=_spend_window_hours)
    auto_resume: bool = attrs.field(default=True, converter=_auto_resume)
    delete_after_days: int | None = attrs.field(default=None, converter=_days)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> StopPolicy:
        """A policy from a TOML table such as ``[stoprules]``; an absent key keeps its default.

        Amounts may be written as numbers or strings (``"12.50"``, exact). An unknown key is a
        :class:`~cloudkit.errors.ConfigError` (a typo must not silently keep a default).

        Example:
            >>> import tomllib
            >>> from cloudkit.lifecycle import StopPolicy
            >>> table = tomllib.loads('''
            ... [stoprules]
            ... default_credit_limit = "50.00"
            ... grace_hours = 24
            ... notice_hours = [72, 24]
            ... delete_after_days = 30
            ... ''')["stoprules"]
            >>> policy = StopPolicy.from_mapping(table)
            >>> policy.default_credit_limit, policy.grace_hours, policy.delete_after_days
            (Decimal('50.00'), 24.0, 30)
            >>> StopPolicy.from_mapping({"grace_hour": 24})
            Traceback (most recent call last):
            ...
            cloudkit.errors.ConfigError: StopPolicy.grace_hour is not a policy field (known: name, ...
        """
        known = [field.name for field in attrs.fields(cls)]
        for key in data:
            if key not in known:
                raise ConfigError(
                    f"StopPolicy.{key} is not a policy field (known: {', '.join(known)})", system=SYSTEM
                )
        return cls(**{key: data[key] for key in known if key in data})

    def limit_for(self, state: AccountState) -> Decimal:
        """The credit limit this policy applies to ``state``: billing's where used and set, else the default.

        Example:
            >>> from decimal import Decimal
            >>> from cloudkit.lifecycle import AccountState, StopPolicy
            >>> state = AccountState(account=1, balance=Decimal(0), credit_limit=Decimal(80))
            >>> StopPolicy(default_credit_limit=10).limit_for(state)
            Decimal('80')
            >>> StopPolicy(default_credit_limit=10, use_billing_credit_limit=False).limit_for(state)
            Decimal('10')
        """
        if self.use_billing_credit_limit and state.credit_limit is not None:
            return state.credit_limit
        return self.default_credit_limit


@attrs.frozen(kw_only=True)
class Notice:
    """What the sweep passes to the ``notify`` hook: one notice level for one account.

    Attributes:
        account: billing's account id.
        level: hours of credit left that triggered it (one of ``notice_hours``), or 0: limit reached.
        hours_left: projected hours of credit left (``None`` when nothing is spent).
        credit: credit left before the limit (negative: below it).
        reason: the decision's sentence, with the amounts.

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit.lifecycle import Notice
        >>> notice = Notice(account=7, level=24, hours_left=Decimal(20), credit=Decimal(40), reason="...")
        >>> notice.level, notice.hours_left
        (24, Decimal('20'))
    """

    account: int
    level: int
    hours_left: Decimal | None
    credit: Decimal
    reason: str


@attrs.frozen(kw_only=True)
class Decision:
    """What :func:`decide` concluded for one account, with the amounts it used.

    Attributes:
        account: billing's account id.
        action: what to do (:class:`Action`).
        code: why, as a stable machine word (the table in ``docs/stoprules.md``).
        reason: the same as a sentence with the amounts.
        balance, credit_limit: the balance and the limit applied.
        promised_counted: promised payments still within their date (part of the balance).
        promised_expired: promised payments past their date and unpaid (taken out of the credit).
        credit: ``balance + credit_limit - promised_expired``; negative is below the limit.
        hourly_spend, hours_left: the projection (``hours_left`` is ``None`` when nothing is spent).
        notice_level: the notice the sweep sends with this decision, or ``None``. Always set for
            ``notify``; ``suspend`` may carry the limit notice (0) and ``resume`` a low-credit notice,
            so that one sweep says everything and the next has nothing new to say.
        notified_level: the notice level the sweep stores after this decision.
        below_limit_since: the ``below_limit_since`` the sweep stores after this decision.

    Example:
        >>> import datetime as dt
        >>> from decimal import Decimal
        >>> from cloudkit.lifecycle import AccountState, StopPolicy, decide
        >>> now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        >>> state = AccountState(account=7, balance=Decimal("40"), hourly_spend=Decimal(2))
        >>> decision = decide(state, StopPolicy(), now)
        >>> decision.action, decision.code, decision.notice_level, decision.severity
        (<Action.NOTIFY: 'notify'>, 'low_credit', 24, 1)
        >>> decision.reason
        'credit 40.00 lasts 20.00h at 2.00/h: notice at 24h'
    """

    account: int
    action: Action
    code: str
    reason: str
    balance: Decimal
    credit_limit: Decimal
    promised_counted: Decimal
    promised_expired: Decimal
    credit: Decimal
    hourly_spend: Decimal
    hours_left: Decimal | None
    notice_level: int | None
    notified_level: int | None
    below_limit_since: dt.datetime | None

    @property
    def severity(self) -> int:
        """The account's standing once this decision is carried out; higher is harsher.

        ====  ==========================================  =================================================
        rank  standing                                    codes
        ====  ==========================================  =================================================
        0     active, in good standing                    ``credit_ok``, ``paid`` (resumed)
        1     active, credit runs out within a level      ``low_credit``
        2     active, below the limit, in grace           ``limit_reached``, ``in_grace``
        3     suspended                                   ``grace_hours_over``, ``grace_amount_over``,
                                                          ``still_short``, ``auto_resume_off``,
                                                          ``not_our_suspension``
        4     suspended and its services due for          ``delete_due``, ``deleted``
              deletion (or deleted)
        ====  ==========================================  =================================================

        It ranks the *standing*, not the action: a ``notify`` and an ``ok`` with the same code rank the
        same, since whether a notice goes out depends on what was sent before, not on the money. With the
        suspension, the times and the notices already sent held fixed, more money (a higher balance or
        limit, a promise still in its date) never raises it, and a later ``now`` never lowers it.

        Example:
            >>> import datetime as dt
            >>> from decimal import Decimal
            >>> from cloudkit.lifecycle import AccountState, StopPolicy, decide
            >>> now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
            >>> [decide(AccountState(account=1, balance=Decimal(b)), StopPolicy(), now).severity
            ...  for b in ("-5", "0", "5")]
            [3, 0, 0]
        """
        return _SEVERITY[self.code]

    def notice(self) -> Notice | None:
        """The :class:`Notice` the sweep passes to the ``notify`` hook, or ``None`` when there is none.

        Example:
            >>> import datetime as dt
            >>> from decimal import Decimal
            >>> from cloudkit.lifecycle import AccountState, StopPolicy, decide
            >>> now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
            >>> short = AccountState(account=7, balance=Decimal("-1"))
            >>> decide(short, StopPolicy(grace_hours=24), now).notice()
            Notice(account=7, level=0, hours_left=None, credit=Decimal('-1'), reason='credit -1.00 below ...')
            >>> decide(AccountState(account=7, balance=Decimal("99")), StopPolicy(), now).notice() is None
            True
        """
        if self.notice_level is None:
            return None
        return Notice(
            account=self.account,
            level=self.notice_level,
            hours_left=self.hours_left,
            credit=self.credit,
            reason=self.reason,
        )


# ======================================================================================= the rules
def _fmt(amount: Decimal) -> str:
    return f"{amount.quantize(_CENT):f}"


def _hours_text(hours: float) -> str:
    return f"{round(hours, 2):g}h"


def _applicable_level(hours_left: Decimal | None, levels: tuple[int, ...]) -> int | None:
    """The most urgent notice level the projection is within, or None."""
    if hours_left is None:
        return None
    within = [level for level in levels if hours_left <= level]
    return min(within) if within else None


def _notice(notified: int | None, due: int | None, *, rearm: bool) -> tuple[int | None, int | None]:
    """(level to send now, level to store) for the level ``due`` given the level already ``notified``.

    ``rearm`` (the credit is at or above the resume margin) re-arms every level more urgent than the
    one now due: a customer who paid their way back past the 24h level gets the 24h notice again when
    they come down to it, but never the level they are still within.
    """
    if notified is not None and rearm:
        notified = None if due is None else max(notified, due)
    if due is not None and (notified is None or due < notified):
        return due, due
    return None, notified


@attrs.frozen
class _Money:
    """The amounts one decision used, computed once."""

    limit: Decimal
    counted: Decimal
    expired: Decimal
    credit: Decimal
    hours_left: Decimal | None


def _money_of(state: AccountState, policy: StopPolicy, now: dt.datetime) -> _Money:
    limit = policy.limit_for(state)
    today = now.date()
    counted = sum((p.amount for p in state.promised if today <= p.until), Decimal(0))
    expired = sum((p.amount for p in state.promised if today > p.until), Decimal(0))
    credit = state.balance + limit - expired
    spend = state.hourly_spend
    # Rounded down: a notice goes out a little early rather than a little late.
    hours_left = None if spend == 0 else (max(credit, Decimal(0)) / spend).quantize(_CENT, ROUND_FLOOR)
    return _Money(limit, counted, expired, credit, hours_left)


@attrs.frozen
class _Carry:
    """What a decision carries for the sweep to send and store besides its action."""

    notified_level: int | None
    below_limit_since: dt.datetime | None
    notice_level: int | None = None


def _made(
    state: AccountState, money: _Money, action: Action, code: str, reason: str, *, carry: _Carry
) -> Decision:
    if money.expired:
        reason += f" (promised {_fmt(money.expired)} past its date, not counted)"
    return Decision(
        account=state.account,
        action=action,
        code=code,
        reason=reason,
        balance=state.balance,
        credit_limit=money.limit,
        promised_counted=money.counted,
        promised_expired=money.expired,
        credit=money.credit,
        hourly_spend=state.hourly_spend,
        hours_left=money.hours_left,
        notice_level=carry.notice_level,
        notified_level=carry.notified_level,
        below_limit_since=carry.below_limit_since,
    )


def decide(state: AccountState, policy: StopPolicy, now: dt.datetime) -> Decision:
    """Decide what the sweep does for one account at ``now``. Pure: the same input, the same decision.

    See the module docstring for the rules and ``docs/stoprules.md`` for the codes and a worked
    timeline. ``now`` must be timezone-aware.

    Example:
        >>> import datetime as dt
        >>> from decimal import Decimal
        >>> from cloudkit.lifecycle import AccountState, StopPolicy, decide
        >>> policy = StopPolicy(default_credit_limit=50, grace_hours=24)
        >>> now = dt.datetime(2025, 6, 2, tzinfo=dt.UTC)
        >>> since = now - dt.timedelta(hours=26)
        >>> below = AccountState(account=7, balance=Decimal("-62"), below_limit_since=since)
        >>> decision = decide(below, policy, now)
        >>> decision.action, decision.code, decision.credit
        (<Action.SUSPEND: 'suspend'>, 'grace_hours_over', Decimal('-12'))
        >>> decision.reason
        'credit -12.00 below the limit 50.00 for 26h (grace 24h)'
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidArgumentError(f"decide needs an aware now, not {now!r}", system=SYSTEM)
    money = _money_of(state, policy, now)
    if state.suspension is not None:
        return _decide_suspended(state, state.suspension, money, policy, now)
    if money.credit < 0:
        return _decide_below_limit(state, money, policy, now)
    return _decide_active(state, money, policy)


def _decide_suspended(
    state: AccountState, suspension: Suspension, money: _Money, policy: StopPolicy, now: dt.datetime
) -> Decision:
    keep = _Carry(state.notified_level, state.below_limit_since)
    credit, margin = money.credit, policy.resume_margin
    if suspension.reason is not SuspendReason.NONPAYMENT or suspension.policy != policy.name:
        by = "staff or another tool" if suspension.policy is None else f"policy {suspension.policy!r}"
        reason = f"suspended ({suspension.reason}) by {by}, not by policy {policy.name!r}: never resumed here"
        return _made(state, money, Action.OK, "not_our_suspension", reason, carry=keep)
    back = f"credit {_fmt(credit)} is back to the resume margin {_fmt(margin)}"
    if credit >= margin and policy.auto_resume:
        due = _applicable_level(money.hours_left, policy.notice_hours)
        send, stored = _notice(state.notified_level, due, rearm=True)
        return _made(state, money, Action.RESUME, "paid", back, carry=_Carry(stored, None, send))
    if credit >= margin:
        reason = f"{back}, but auto_resume is off: staff resume"
        return _made(state, money, Action.OK, "auto_resume_off", reason, carry=keep)
    short = f"credit {_fmt(credit)} below the resume margin {_fmt(margin)}"
    if suspension.deleted_at is not None:
        reason = f"services closed {suspension.deleted_at:%Y-%m-%d %H:%M}; {short}"
        return _made(state, money, Action.OK, "deleted", reason, carry=keep)
    days = policy.delete_after_days
    if days is not None and now >= suspension.at + dt.timedelta(days=days):
        reason = f"suspended since {suspension.at:%Y-%m-%d %H:%M} (delete after {days} days); {short}"
        return _made(state, money, Action.DELETE_DUE, "delete_due", reason, carry=keep)
    reason = f"{short}; suspended since {suspension.at:%Y-%m-%d %H:%M}"
    return _made(state, money, Action.OK, "still_short", reason, carry=keep)


def _decide_below_limit(state: AccountState, money: _Money, policy: StopPolicy, now: dt.datetime) -> Decision:
    since = state.below_limit_since or now
    # A since in the future (clocks apart) counts as no time below, never as negative time.
    hours_below = max((now - since).total_seconds(), 0.0) / 3600
    where = f"credit {_fmt(money.credit)} below the limit {_fmt(money.limit)}"
    for_hours = f"{where} for {_hours_text(hours_below)} (grace {_hours_text(policy.grace_hours)})"
    send, stored = _notice(state.notified_level, 0 if policy.notice_at_limit else None, rearm=False)
    notices = _Carry(stored, since, send)
    if hours_below >= policy.grace_hours:
        return _made(state, money, Action.SUSPEND, "grace_hours_over", for_hours, carry=notices)
    if policy.grace_amount is not None and -money.credit >= policy.grace_amount:
        reason = f"{where} by {_fmt(-money.credit)} (grace amount {_fmt(policy.grace_amount)})"
        return _made(state, money, Action.SUSPEND, "grace_amount_over", reason, carry=notices)
    if send is not None:
        return _made(state, money, Action.NOTIFY, "limit_reached", for_hours, carry=notices)
    return _made(state, money, Action.OK, "in_grace", for_hours, carry=_Carry(stored, since))


def _decide_active(state: AccountState, money: _Money, policy: StopPolicy) -> Decision:
    due = _applicable_level(money.hours_left, policy.notice_hours)
    send, stored = _notice(state.notified_level, due, rearm=money.credit >= policy.resume_margin)
    lasts = (
        f"credit {_fmt(money.credit)}, nothing spent"
        if money.hours_left is None
        else f"credit {_fmt(money.credit)} lasts {money.hours_left:f}h at {_fmt(state.hourly_spend)}/h"
    )
    kept = _Carry(stored, None)
    if send is not None:
        reason = f"{lasts}: notice at {send}h"
        return _made(state, money, Action.NOTIFY, "low_credit", reason, carry=_Carry(stored, None, send))
    if due is not None:
        reason = f"{lasts} (notice at {stored}h already sent)"
        return _made(state, money, Action.OK, "low_credit", reason, carry=kept)
    return _made(state, money, Action.OK, "credit_ok", lasts, carry=kept)


def apply(state: AccountState, decision: Decision, policy: StopPolicy, now: dt.datetime) -> AccountState:
    """The account's state once the sweep carried ``decision`` out at ``now``: what the sweep stores.

    The notice level and ``below_limit_since`` are the decision's; ``suspend`` records a
    ``NONPAYMENT`` suspension under ``policy.name``; ``resume`` clears it; ``delete_due`` marks it
    deleted. Deciding again on the result decides nothing new: ``ok``, no notice, the same state.

    Example:
        >>> import datetime as dt
        >>> from decimal import Decimal
        >>> from cloudkit.lifecycle import AccountState, StopPolicy, apply, decide
        >>> policy, now = StopPolicy(), dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        >>> state = AccountState(account=7, balance=Decimal("-3"))
        >>> after = apply(state, decide(state, policy, now), policy, now)
        >>> after.suspension.policy, after.suspension.reason, after.notified_level
        ('default', <SuspendReason.NONPAYMENT: 'nonpayment'>, 0)
        >>> again = decide(after, policy, now)
        >>> again.action, again.code, again.notice_level
        (<Action.OK: 'ok'>, 'still_short', None)
    """
    if decision.account != state.account:
        raise InvalidArgumentError(
            f"decision for account {decision.account} applied to account {state.account}", system=SYSTEM
        )
    suspension = state.suspension
    if decision.action is Action.SUSPEND:
        suspension = Suspension(at=now, reason=SuspendReason.NONPAYMENT, policy=policy.name)
    elif decision.action is Action.RESUME:
        suspension = None
    elif decision.action is Action.DELETE_DUE and suspension is not None:
        suspension = attrs.evolve(suspension, deleted_at=now)
    return attrs.evolve(
        state,
        below_limit_since=decision.below_limit_since,
        notified_level=decision.notified_level,
        suspension=suspension,
    )
