"""cloudkit: a typed SDK and test harness for cloud portals on billing, OpenStack and Tungsten Fabric.

``QUIRKS`` and ``Platform`` are loaded on first use: ``import cloudkit.billing`` (or the pytest plugin)
does not import openstacksdk or the other systems. Reading ``cloudkit.QUIRKS`` imports every system,
which registers their quirks.

Example:
    >>> import cloudkit
    >>> sorted(cloudkit.QUIRKS)[:2]
    ['billing.errors-at-http-200', 'billing.form-needs-sok']
"""

from typing import TYPE_CHECKING, Any

from cloudkit._core import Poller, Quirk, RetryPolicy, Secret, make_converter

if TYPE_CHECKING:
    from cloudkit._core import QUIRKS
    from cloudkit.platform import Platform

__all__ = ["QUIRKS", "Platform", "Poller", "Quirk", "RetryPolicy", "Secret", "make_converter"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``QUIRKS`` (with every system's quirks registered) and ``Platform``, imported on first use."""
    import importlib  # noqa: PLC0415 (only on first use of a lazy name)

    if name == "QUIRKS":
        for system in ("billing", "openstack", "session", "tungsten"):
            importlib.import_module(f"cloudkit.{system}")  # importing a system registers its quirks
        value: Any = importlib.import_module("cloudkit._core").QUIRKS
    elif name == "Platform":
        value = importlib.import_module("cloudkit.platform").Platform
    else:
        msg = f"module 'cloudkit' has no attribute {name!r}"
        raise AttributeError(msg)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, the lazily imported ones included."""
    return sorted(__all__)
