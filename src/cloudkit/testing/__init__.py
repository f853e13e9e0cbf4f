"""cloudkit's public test harness: fakes, a fault proxy, cassette configuration, a fake clock, strategies.

The pytest plugin (``cloudkit.testing.plugin``) is registered through the ``pytest11`` entry point, so
installing ``cloudkit[test]`` gives a project the fixtures ``billing_fake``, ``billing``,
``billing_backend``, ``fake_clock`` and friends.

Example:
    >>> from cloudkit.testing import FakeClock
    >>> FakeClock()()
    0.0
"""

from cloudkit.testing._cassettes import (
    CassetteSecretError,
    GuardedPersister,
    SecretRegistry,
    billing_vcr_config,
    billmgr_matcher,
    openstack_matcher,
    openstack_vcr_config,
    session_matcher,
    session_vcr_config,
)
from cloudkit.testing._clock import FakeClock, PacedClock
from cloudkit.testing._proxy import FaultProxy, ProxiedService
from cloudkit.testing.fakes._kit import Call, Fault, FaultMatch

__all__ = [
    "Call",
    "CassetteSecretError",
    "FakeClock",
    "Fault",
    "FaultMatch",
    "FaultProxy",
    "GuardedPersister",
    "PacedClock",
    "ProxiedService",
    "SecretRegistry",
    "billing_vcr_config",
    "billmgr_matcher",
    "openstack_matcher",
    "openstack_vcr_config",
    "session_matcher",
    "session_vcr_config",
]
