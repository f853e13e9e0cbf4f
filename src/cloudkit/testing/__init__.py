"""cloudkit's public test harness: fakes, cassette configuration, a fake clock and hypothesis strategies.

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
from cloudkit.testing._clock import FakeClock

__all__ = [
    "CassetteSecretError",
    "FakeClock",
    "GuardedPersister",
    "SecretRegistry",
    "billing_vcr_config",
    "billmgr_matcher",
    "openstack_matcher",
    "openstack_vcr_config",
    "session_matcher",
    "session_vcr_config",
]
