"""Stateful simulators of the systems cloudkit talks to, served over loopback HTTP.

Example:
    >>> from cloudkit.testing.fakes import BillingFake
    >>> with BillingFake() as fake:
    ...     fake.url.startswith("http://127.0.0.1:")
    True
"""

from cloudkit.testing.fakes._kit import (
    Call,
    Fault,
    FaultMatch,
    LoopbackFake,
    Reply,
    Request,
    RouteMiss,
    Router,
)
from cloudkit.testing.fakes.billing import (
    AuthMode,
    BillingFake,
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
from cloudkit.testing.fakes.openstack import (
    FakeCredentials,
    FakeServer,
    FakeSnapshot,
    FakeVolume,
    FakeVolumeAttachment,
    OpenStackFake,
)
from cloudkit.testing.fakes.tungsten import TungstenFake, TungstenScopeCapture

__all__ = [
    "AuthMode",
    "BillingFake",
    "Call",
    "FakeAttachment",
    "FakeCredentials",
    "FakeExpense",
    "FakeMessage",
    "FakeModuleRun",
    "FakeOperation",
    "FakePayment",
    "FakeServer",
    "FakeSnapshot",
    "FakeTask",
    "FakeTicket",
    "FakeUser",
    "FakeVolume",
    "FakeVolumeAttachment",
    "Fault",
    "FaultMatch",
    "LoopbackFake",
    "OpenStackFake",
    "Reply",
    "Request",
    "RouteMiss",
    "Router",
    "TungstenFake",
    "TungstenScopeCapture",
]
