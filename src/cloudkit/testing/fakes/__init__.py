"""Stateful simulators of the systems cloudkit talks to, served over loopback HTTP.

Example:
    >>> from cloudkit.testing.fakes import BillingFake
    >>> with BillingFake() as fake:
    ...     fake.url.startswith("http://127.0.0.1:")
    True
"""

from cloudkit.testing.fakes.billing import (
    AuthMode,
    BillingFake,
    FakeAttachment,
    FakeExpense,
    FakeMessage,
    FakeOperation,
    FakePayment,
    FakeTicket,
    FakeUser,
    Fault,
    FaultKind,
    RecordedCall,
)

__all__ = [
    "AuthMode",
    "BillingFake",
    "FakeAttachment",
    "FakeExpense",
    "FakeMessage",
    "FakeOperation",
    "FakePayment",
    "FakeTicket",
    "FakeUser",
    "Fault",
    "FaultKind",
    "RecordedCall",
]
