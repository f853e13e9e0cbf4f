"""A stateful BILLmanager-style billing server on loopback, for tests, ``cloudkit sim`` and demos.

Laid out like the upstream: ``_state`` (models and seed), one handler module per function family
(``_accounts`` money, ``_tickets`` support, ``_services`` services and operations, ``_session`` login,
``su``, sessions and keys), ``_routes`` (the ``func`` table, built once), ``_fake`` (`BillingFake`,
on the shared fake kit: faults, recorded calls, loopback or in-process serving) and ``_credit`` (the
credit model the fake inherits: limits, charges, payments, promises, a seeded population).

Example:
    >>> import httpx
    >>> with BillingFake() as fake, httpx.Client(trust_env=False) as http:
    ...     reply = http.post(fake.url, data={"func": "subaccount", "authinfo": "alice:alice-pass"})
    >>> reply.json()["doc"]["elem"][0]["balance"]
    {'$': '150.00 EUR', '$orig': '150.00'}
"""

from cloudkit.testing.fakes.billing._fake import BillingFake
from cloudkit.testing.fakes.billing._state import (
    AuthMode,
    FakeAttachment,
    FakeExpense,
    FakeMessage,
    FakeModuleRun,
    FakeOperation,
    FakePayment,
    FakeTask,
    FakeTicket,
    FakeUser,
)

__all__ = [
    "AuthMode",
    "BillingFake",
    "FakeAttachment",
    "FakeExpense",
    "FakeMessage",
    "FakeModuleRun",
    "FakeOperation",
    "FakePayment",
    "FakeTask",
    "FakeTicket",
    "FakeUser",
]
