"""Every session workaround, each registered as a :class:`~cloudkit.Quirk` with one handler."""

from __future__ import annotations

import math
from collections.abc import Callable

from cloudkit._core._quirks import Quirk, quirk

SAME_SECOND_REVOCATION = Quirk(
    id="keystone.same-second-revocation",
    system="keystone",
    summary=(
        "After a password change Keystone revokes the user's tokens by time with one-second granularity: "
        "a token issued in the same second as the change is revoked too (8-9 times in 10 in a tight loop)."
    ),
    handling=(
        "After changing the password, SessionManager starts the re-authentication in the next whole "
        "second, validates the new token, and if Keystone still refuses it waits another second and "
        "logs in again (bounded attempts)."
    ),
    evidence="upstream-source",
    sources=(
        "cassettes/session/change_password__as_user.yaml",
        "reference/real-keystone.md §0 and §2 (measured: waiting 1 s fixed it 10 of 10)",
        "openstack/keystone keystone/models/revoke_model.py (revocation by issued_before)",
    ),
)


@quirk(SAME_SECOND_REVOCATION)
def wait_for_next_second(clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
    """Sleep until just past the next whole second of ``clock`` (epoch seconds)."""
    now = clock()
    delay = math.floor(now) + 1 - now + 0.05
    SAME_SECOND_REVOCATION.fired(f"waiting {delay:.2f}s before logging in again")
    sleep(delay)
