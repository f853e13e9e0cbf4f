"""Stateful simulators of the systems cloudkit talks to, served over loopback HTTP.

Example:
    >>> from cloudkit.testing.fakes import BillingFake
    >>> with BillingFake() as fake:
    ...     fake.url.startswith("http://127.0.0.1:")
    True
"""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
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

# Each system's fake is imported on first use of one of its names: a test that needs only the billing
# fake (and the pytest plugin, loaded into every downstream run) does not pay for the OpenStack one.
_SYSTEM_OF = {
    **dict.fromkeys(
        [
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
        ],
        "billing",
    ),
    **dict.fromkeys(
        [
            "FakeCredentials",
            "FakeServer",
            "FakeSnapshot",
            "FakeVolume",
            "FakeVolumeAttachment",
            "OpenStackFake",
        ],
        "openstack",
    ),
    **dict.fromkeys(["TungstenFake", "TungstenScopeCapture"], "tungsten"),
}

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


def __getattr__(name: str) -> Any:
    """A system fake's names, imported with that system's fake on first use."""
    system = _SYSTEM_OF.get(name)
    if system is None:
        msg = f"module 'cloudkit.testing.fakes' has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib  # noqa: PLC0415 (only on first use of a lazy name)

    value = getattr(importlib.import_module(f"cloudkit.testing.fakes.{system}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, the lazily imported ones included."""
    return sorted(__all__)
