"""Session contract tests: each runs against its cassette and against the billing and Keystone fakes."""

import base64

import pytest

from cloudkit.errors import AuthenticationError, TokenRevokedError


def _segments_decoded(token: str) -> str:
    return " ".join(
        base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode("latin-1") for p in token.split(".")
    )


def test_login__alice(session_backend):
    manager = session_backend.make_manager()
    issued = manager.login("alice", "alice-pass")
    session = manager.verify(issued.token)
    assert (session.username, session.generation) == ("alice", 0)
    assert session.expires_at == issued.expires_at
    visible = _segments_decoded(issued.token)
    for secret in (session.keystone_token.get_secret_value(), session.billing_session.get_secret_value()):
        assert secret not in issued.token
        assert secret not in visible  # encrypted, not merely encoded


def test_login__wrong_password(session_backend):
    manager = session_backend.make_manager()
    with pytest.raises(AuthenticationError) as info:
        manager.login("alice", "not-the-Passw0rd")
    assert "not-the-Passw0rd" not in f"{info.value} {info.value!r}"


@pytest.mark.quirk("keystone.same-second-revocation")
def test_change_password__as_user(session_backend):
    manager = session_backend.make_manager()
    issued = manager.login("alice", "alice-pass")
    old = manager.verify(issued.token)
    new = manager.change_password(issued.token, "alice-pass", "alice-pass-2")
    fresh = manager.verify(new.token)
    assert (fresh.username, fresh.generation) == ("alice", old.generation + 1)
    with pytest.raises(TokenRevokedError):
        manager.verify(issued.token)
    # re-authentication started in the next whole second (Keystone's same-second revocation)
    assert any(0 < s < 1.1 for s in session_backend.clock.sleeps)
    if session_backend.cloud:  # live only: replayed tokens are all "REDACTED"
        assert fresh.keystone_token.get_secret_value() != old.keystone_token.get_secret_value()
        assert manager.login("alice", "alice-pass-2").token
        with pytest.raises(AuthenticationError):
            manager.login("alice", "alice-pass")


def test_logout__alice(session_backend):
    manager = session_backend.make_manager()
    issued = manager.login("alice", "alice-pass")
    manager.logout(issued.token)
    with pytest.raises(TokenRevokedError):
        manager.verify(issued.token)


def test_refresh__alice(session_backend):
    manager = session_backend.make_manager()
    issued = manager.login("alice", "alice-pass")
    renewed = manager.refresh(issued.token)
    assert manager.verify(renewed.token).username == "alice"
    with pytest.raises(TokenRevokedError):
        manager.verify(issued.token)
