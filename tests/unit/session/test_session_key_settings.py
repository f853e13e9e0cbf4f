"""CLOUDKIT_SESSION_KEYS: a malformed value is refused without echoing any part of a key."""

import base64

import pytest

from cloudkit.errors import ConfigError
from cloudkit.session import SessionSettings

BASE = {"CLOUDKIT_SESSION_BILLING_URL": "http://b/billmgr", "CLOUDKIT_SESSION_AUTH_URL": "http://ks/v3"}


@pytest.mark.parametrize(
    "keys",
    [
        base64.urlsafe_b64encode(b"0123456789abcdef").decode(),  # a bare key with == padding, no kid
        base64.urlsafe_b64encode(b"0123456789abcde").decode(),  # ... with one =
        "k1",
    ],
)
def test_a_key_without_a_kid_is_malformed_and_never_echoed(keys):
    with pytest.raises(ConfigError, match="kid=base64url pairs") as info:
        SessionSettings.from_env({**BASE, "CLOUDKIT_SESSION_KEYS": keys})
    assert keys.rstrip("=") not in str(info.value)
