"""SessionManager against the billing and Keystone fakes: failures, compensation, expiry, rotation."""

import time

import pytest

from cloudkit.billing import BillingClient
from cloudkit.errors import (
    AuthenticationError,
    ConfigError,
    PasswordChangeError,
    ServerError,
    TokenExpiredError,
    TokenInvalidError,
    TokenRevokedError,
)
from cloudkit.session import KeystoneIdentity, SqliteTokenStore
from cloudkit.testing import FakeClock
from cloudkit.testing import Fault as KeystoneFault
from cloudkit.testing.fakes import Fault as BillingFault
from cloudkit.testing.fakes import OpenStackFake
from cloudkit.testing.plugin import SessionBackend


@pytest.fixture
def live(billing_fake):
    """The billing fake and a Keystone fake on one fake clock, with alice in both."""
    clock = FakeClock(start=float(int(time.time())))
    with OpenStackFake(clock=clock) as cloud:
        cloud.add_user("alice", "alice-pass", project="alice")
        backend = SessionBackend("fake", billing_fake, cloud, clock, billing_fake.url, cloud.auth_url)
        yield backend
        for manager in backend.managers:
            manager.close()


def test_old_keystone_token_is_refused_by_keystone_after_the_change(live):
    manager = live.make_manager()
    issued = manager.login("alice", "alice-pass")
    old = manager.verify(issued.token)
    new = manager.change_password(issued.token, "alice-pass", "alice-pass-2")
    with pytest.raises(TokenRevokedError):
        manager._keystone_validate(old.keystone_token)
    manager._keystone_validate(manager.verify(new.token).keystone_token)
    funcs = [r.func for r in live.billing.calls]
    assert funcs == [
        "auth",
        "auth",
        "usrparam",
        "auth",
        "auth",
    ]  # login, old-proof, change, verify, new login


def test_wrong_old_password_changes_nothing(live):
    manager = live.make_manager()
    issued = manager.login("alice", "alice-pass")
    with pytest.raises(AuthenticationError):
        manager.change_password(issued.token, "wrong-old-pass", "alice-pass-2")
    assert "usrparam" not in [r.func for r in live.billing.calls]
    assert manager.verify(issued.token).username == "alice"


def test_keystone_refusal_undoes_the_billing_change(live):
    manager = live.make_manager()
    issued = manager.login("alice", "alice-pass")
    live.cloud.inject(KeystoneFault.server_error(status=500), method="POST", path="/password", times=10)
    with pytest.raises(ServerError):
        manager.change_password(issued.token, "alice-pass", "alice-pass-2")
    assert [r.func for r in live.billing.calls].count("usrparam") == 2  # changed, then changed back
    assert manager.login("alice", "alice-pass").token  # both systems still take the old password


def test_a_failed_undo_is_reported_with_the_state_of_each_system(live, monkeypatch):
    manager = live.make_manager()
    issued = manager.login("alice", "alice-pass")
    live.cloud.inject(KeystoneFault.server_error(status=500), method="POST", path="/password", times=10)
    real_change = BillingClient.change_password
    calls = []

    def change_then_fail(self, new_password):
        calls.append(1)
        if len(calls) == 2:  # the undo: billing refuses to take the old password back
            live.billing.inject(BillingFault.error("value", "password was used recently"), func="usrparam")
        return real_change(self, new_password)

    monkeypatch.setattr(BillingClient, "change_password", change_then_fail)
    with pytest.raises(PasswordChangeError) as info:
        manager.change_password(issued.token, "alice-pass", "alice-pass-2")
    assert (info.value.billing_changed, info.value.keystone_changed) == (True, False)
    assert "alice-pass" not in str(info.value)


def test_expired_token(live):
    manager = live.make_manager(max_lifetime=60)
    issued = manager.login("alice", "alice-pass")
    live.clock.advance(61)
    with pytest.raises(TokenExpiredError):
        manager.verify(issued.token)


def test_refresh_after_billing_session_died_asks_for_a_new_login(live):
    manager = live.make_manager()
    issued = manager.login("alice", "alice-pass")
    live.billing.expire_sessions()
    with pytest.raises(TokenExpiredError):
        manager.refresh(issued.token)


def test_key_rotation_accepts_old_keys_and_issues_with_the_new(live):
    old_key, new_key = b"o" * 32, b"n" * 32
    before = live.make_manager(keys={"2026-10": old_key}, current_kid="2026-10")
    token = before.login("alice", "alice-pass").token
    after = live.make_manager(keys={"2026-10": old_key, "2026-11": new_key}, current_kid="2026-11")
    assert after.verify(token).username == "alice"
    only_new = live.make_manager(keys={"2026-11": new_key}, current_kid="2026-11")
    with pytest.raises(TokenInvalidError):
        only_new.verify(token)


def test_revocation_is_shared_through_a_sqlite_store(live, tmp_path):
    path = tmp_path / "tokens.db"
    one = live.make_manager(store=SqliteTokenStore(path))
    two = live.make_manager(store=SqliteTokenStore(path))  # another worker process would do the same
    issued = one.login("alice", "alice-pass")
    assert two.verify(issued.token).username == "alice"
    one.logout(issued.token)
    with pytest.raises(TokenRevokedError):
        two.verify(issued.token)


def test_identity_mapping_is_pluggable(live):
    live.cloud.add_user("kc-alice", "alice-pass", project="alice-cloud")
    manager = live.make_manager(
        identity=lambda login: KeystoneIdentity(user_name=f"kc-{login}", project_name="alice-cloud")
    )
    session = manager.verify(manager.login("alice", "alice-pass").token)
    assert session.project_id is not None


def test_bad_configuration():
    with pytest.raises(ConfigError):
        from cloudkit.session import SessionManager

        SessionManager(billing_url="http://b/billmgr", auth_url="http://k/v3", key=b"short")
