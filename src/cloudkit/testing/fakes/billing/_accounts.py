"""Finance handlers: accounts, balance, payments, charges and invoices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import TypeVar

from cloudkit.testing.fakes.billing._context import Ctx, Doc, Row, WireError, listing, money, text
from cloudkit.testing.fakes.billing._state import (
    INVOICE_NEW,
    PAYMENT_NEW,
    PAYMENT_PROMISED,
    PROMISE_DAYS,
    Account,
    Expense,
    Invoice,
    Payment,
    cents,
)


def _account_row(a: Account) -> Row:
    row = {"id": text(a.id), "name": text(a.name), "balance": money(a.balance, a.currency)}
    if a.credit_limit is not None:  # assumption: the column is left out when billing sets no limit
        row["credit_limit"] = money(a.credit_limit, a.currency)
    return row


def account(ctx: Ctx) -> Doc:
    """``account``: every client account with its balance and credit limit (admin)."""
    return listing(ctx, list(ctx.state.accounts.values()), _account_row)


def subaccount(ctx: Ctx) -> Doc:
    """``subaccount``: the client's own balance."""
    # assumption: one sub-account per client, with the account's id
    acc = ctx.account()
    row = {"id": text(acc.id), "balance": money(acc.balance, acc.currency), "currency": text(acc.currency)}
    return listing(ctx, [row])


def _document_rows(
    ctx: Ctx,
    records: Iterable[Payment | Invoice],
    *,
    amount_column: str = "amount",
    handled: frozenset[str] = frozenset(),
) -> Doc:
    """Payments and invoices share their columns: id, number, create_date, amount, status.

    The B6 reference names a payment's amount column ``subaccountamount_iso`` ("amount credited to
    the client's account"); invoices keep ``amount`` (assumption).
    """

    def render(r: Payment | Invoice) -> Row:
        currency = ctx.state.accounts[r.account_id].currency
        row = {
            "id": text(r.id),
            "number": text(r.id),
            "create_date": text(r.create_date),
            amount_column: money(r.amount, currency),
            "status": text(r.status),
        }
        if isinstance(r, Payment) and r.promise_until:
            row["promise_until"] = text(r.promise_until)  # assumption: the column's name
        return ctx.with_account(row, r.account_id)

    return listing(ctx, _in_scope(ctx, records), render, handled=handled)


_Owned = TypeVar("_Owned", Payment | Invoice, Expense)


def _in_scope(ctx: Ctx, records: Iterable[_Owned]) -> list[_Owned]:
    scope = ctx.scope()
    return list(records) if scope is None else [r for r in records if r.account_id == scope]


def payment(ctx: Ctx) -> Doc:
    """``payment``: the payments in scope (``filter=on&status=3``: the promised ones)."""
    records: Iterable[Payment] = ctx.state.payments.values()
    wanted = ctx.params.get("status", "") if ctx.params.get("filter") == "on" else ""
    if wanted:  # the same narrowing the generic filter does, on the records (no row built to drop it)
        records = [p for p in records if str(p.status) == wanted]
    return _document_rows(ctx, records, amount_column="subaccountamount_iso", handled=_STATUS)


_STATUS = frozenset({"status"})
_SINCE = frozenset({"create_date_from"})


def payment_add(ctx: Ctx) -> Doc:
    """``payment.add``: a new payment (``promised=on``: credited at once, due ``PROMISE_DAYS`` later)."""
    if not ctx.sok:
        return ctx.form({})
    amount = ctx.amount()
    acc = ctx.account()
    promised = ctx.params.get("promised") == "on"
    moment = ctx.options.wall_clock()
    # assumption: a promised payment ordered through the form is due PROMISE_DAYS after it is made
    # (BILLmanager sets the term per install)
    due = moment.astimezone(dt.UTC).date() + dt.timedelta(days=PROMISE_DAYS)
    until = due.isoformat() if promised else ""
    new = Payment(
        ctx.state.next_id("payment"),
        acc.id,
        amount,
        PAYMENT_PROMISED if promised else PAYMENT_NEW,
        ctx.today(),
        until,
    )
    ctx.state.payments[new.id] = new
    if promised:  # a promised payment is credited at once
        ctx.state.credit(acc, amount)
    return ctx.created(new.id, "payment.edit")


def expense(ctx: Ctx) -> Doc:
    """``expense``: the charges in scope (``filter=on&create_date_from=<time>``: made at or after it)."""
    records: Iterable[Expense] = ctx.state.expenses.values()
    since = ctx.params.get("create_date_from", "") if ctx.params.get("filter") == "on" else ""
    if since:
        # assumption: create_date_from compares as text with the cell; a date-only cell against the day
        # of the time asked (a charge of that day is kept)
        records = [e for e in records if e.create_date >= since[: len(e.create_date)]]

    def render(e: Expense) -> Row:
        currency = ctx.state.accounts[e.account_id].currency
        row = {
            "id": text(e.id),
            "create_date": text(e.create_date),
            "amount": money(e.amount, currency),
            "notpayd": money(e.notpayd, currency),
            "info": text(e.info),
        }
        return ctx.with_account(row, e.account_id)

    return listing(ctx, _in_scope(ctx, records), render, handled=_SINCE if since else frozenset())


def invoice(ctx: Ctx) -> Doc:
    """``invoice``: the invoices in scope."""
    return _document_rows(ctx, ctx.state.invoices.values())


def invoice_generate(ctx: Ctx) -> Doc:
    """``invoice.generate``: an invoice for a client (admin)."""
    if not ctx.sok:
        return ctx.form({})
    # assumption: the client is named by `account` (its id); the amount defaults to the unpaid charges
    account_id = ctx.one_id("account")
    if account_id not in ctx.state.accounts:
        raise WireError("missed", f"client {account_id} not found", obj="account")
    if ctx.params.get("amount"):
        amount = ctx.amount()
    else:
        amount = sum(
            (e.notpayd for e in ctx.state.expenses.values() if e.account_id == account_id), Decimal(0)
        )
    new = Invoice(ctx.state.next_id("invoice"), account_id, cents(amount), INVOICE_NEW, ctx.today())
    ctx.state.invoices[new.id] = new
    return ctx.created(new.id, "invoice.edit")
