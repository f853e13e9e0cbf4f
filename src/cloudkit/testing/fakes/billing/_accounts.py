"""Finance handlers: accounts, balance, payments, charges and invoices."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from cloudkit.testing.fakes.billing._context import Ctx, Doc, WireError, listing, money, text, today
from cloudkit.testing.fakes.billing._state import (
    INVOICE_NEW,
    PAYMENT_NEW,
    PAYMENT_PROMISED,
    Invoice,
    Payment,
    cents,
)


def account(ctx: Ctx) -> Doc:
    """``account``: every client account with its balance (admin)."""
    rows = [
        {"id": text(a.id), "name": text(a.name), "balance": money(a.balance, a.currency)}
        for a in ctx.state.accounts.values()
    ]
    return listing(ctx, rows)


def subaccount(ctx: Ctx) -> Doc:
    """``subaccount``: the client's own balance."""
    # assumption: one sub-account per client, with the account's id
    acc = ctx.account()
    row = {"id": text(acc.id), "balance": money(acc.balance, acc.currency), "currency": text(acc.currency)}
    return listing(ctx, [row])


def _document_rows(ctx: Ctx, records: Iterable[Payment | Invoice], *, amount_column: str = "amount") -> Doc:
    """Payments and invoices share their columns: id, number, create_date, amount, status.

    The B6 reference names a payment's amount column ``subaccountamount_iso`` ("amount credited to
    the client's account"); invoices keep ``amount`` (assumption).
    """
    rows = []
    for r in records:
        if ctx.visible(r.account_id):
            currency = ctx.state.accounts[r.account_id].currency
            row = {
                "id": text(r.id),
                "number": text(r.id),
                "create_date": text(r.create_date),
                amount_column: money(r.amount, currency),
                "status": text(r.status),
            }
            rows.append(ctx.with_account(row, r.account_id))
    return listing(ctx, rows)


def payment(ctx: Ctx) -> Doc:
    """``payment``: the payments in scope."""
    return _document_rows(ctx, ctx.state.payments.values(), amount_column="subaccountamount_iso")


def payment_add(ctx: Ctx) -> Doc:
    """``payment.add``: a new payment (``promised=on``: credited at once)."""
    if not ctx.sok:
        return ctx.form({})
    amount = ctx.amount()
    acc = ctx.account()
    promised = ctx.params.get("promised") == "on"
    new = Payment(
        ctx.state.next_id("payment"), acc.id, amount, PAYMENT_PROMISED if promised else PAYMENT_NEW, today()
    )
    ctx.state.payments[new.id] = new
    if promised:  # a promised payment is credited at once
        ctx.state.credit(acc, amount)
    return ctx.created(new.id, "payment.edit")


def expense(ctx: Ctx) -> Doc:
    """``expense``: the charges in scope."""
    rows = []
    for e in ctx.state.expenses.values():
        if ctx.visible(e.account_id):
            currency = ctx.state.accounts[e.account_id].currency
            row = {
                "id": text(e.id),
                "create_date": text(e.create_date),
                "amount": money(e.amount, currency),
                "notpayd": money(e.notpayd, currency),
                "info": text(e.info),
            }
            rows.append(ctx.with_account(row, e.account_id))
    return listing(ctx, rows)


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
    new = Invoice(ctx.state.next_id("invoice"), account_id, cents(amount), INVOICE_NEW, today())
    ctx.state.invoices[new.id] = new
    return ctx.created(new.id, "invoice.edit")
