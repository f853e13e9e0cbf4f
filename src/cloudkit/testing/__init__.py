"""cloudkit's public test harness: fakes, a fault proxy, cassette configuration, a fake clock, strategies.

The pytest plugin (``cloudkit.testing.plugin``) is registered through the ``pytest11`` entry point, so
installing ``cloudkit[test]`` gives a project the fixtures ``billing_fake``, ``billing``,
``billing_backend``, ``portal_backend``, ``fake_clock`` and friends. :class:`PortalBackend` is the one
backend across billing, OpenStack and Tungsten Fabric for a portal's own tests.
:func:`load_scenario` reads a scenario file (customers, services, balances) that :func:`seed_scenario`
makes in a running :class:`PortalBackend`.

Example:
    >>> from cloudkit.testing import FakeClock
    >>> FakeClock()()
    0.0
"""

from typing import TYPE_CHECKING, Any

from cloudkit.testing._cassettes import (
    CASSETTE_SOURCES,
    CassetteSecretError,
    CassetteSource,
    GuardedPersister,
    SecretRegistry,
    billing_vcr_config,
    billmgr_matcher,
    cassette_source,
    openstack_matcher,
    openstack_vcr_config,
    safe_request_scrubber,
    safe_response_scrubber,
    session_matcher,
    session_vcr_config,
)
from cloudkit.testing._clock import FakeClock, PacedClock
from cloudkit.testing._drift import Drift, compare_recordings
from cloudkit.testing.fakes._kit import Call, Fault, FaultMatch
from cloudkit.testing.portal import (
    PortalBackend,
    PortalCustomer,
    PortalMode,
    deterministic_markers,
    deterministic_uuids,
)

if TYPE_CHECKING:
    from cloudkit.testing._proxy import FaultProxy, ProxiedService
    from cloudkit.testing.scenario import Scenario, load_scenario, seed_scenario

__all__ = [
    "CASSETTE_SOURCES",
    "Call",
    "CassetteSecretError",
    "CassetteSource",
    "Drift",
    "FakeClock",
    "Fault",
    "FaultMatch",
    "FaultProxy",
    "GuardedPersister",
    "PacedClock",
    "PortalBackend",
    "PortalCustomer",
    "PortalMode",
    "ProxiedService",
    "Scenario",
    "SecretRegistry",
    "billing_vcr_config",
    "billmgr_matcher",
    "cassette_source",
    "compare_recordings",
    "deterministic_markers",
    "deterministic_uuids",
    "load_scenario",
    "openstack_matcher",
    "openstack_vcr_config",
    "safe_request_scrubber",
    "safe_response_scrubber",
    "seed_scenario",
    "session_matcher",
    "session_vcr_config",
]

# Imported on first use: the fault proxy stack, and the scenario loader (which imports billing), are not
# needed to load the pytest plugin.
_LAZY = {
    "FaultProxy": "cloudkit.testing._proxy",
    "ProxiedService": "cloudkit.testing._proxy",
    "Scenario": "cloudkit.testing.scenario",
    "load_scenario": "cloudkit.testing.scenario",
    "seed_scenario": "cloudkit.testing.scenario",
}


def __getattr__(name: str) -> Any:
    """The fault proxy's and the scenario loader's names, imported on first use."""
    if name in _LAZY:
        import importlib  # noqa: PLC0415 (lazy on purpose)

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    msg = f"module 'cloudkit.testing' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    """The public names, the lazily imported ones included."""
    return sorted(__all__)
