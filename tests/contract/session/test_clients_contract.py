"""From a session to the customer's clients: cassettes (recorded against the fakes), the fakes, the lab.

Replay proves the request sequence too: vcrpy answers each recorded request once (record mode ``none``,
no playback repeats), so an extra rescope, identity or discovery request fails the ``[cassette]`` run.
"""

import datetime as dt

from cloudkit.openstack import OpenStackClient, SessionAuthCache
from cloudkit.session import Session

TOKENS = "/identity/v3/auth/tokens"


def test_for_session__alice(session_backend):
    manager = session_backend.make_manager()
    session = manager.verify(manager.login("alice", "alice-pass").token)
    cloud = session_backend.cloud
    start = len(cloud.calls) if cloud else 0
    with manager.openstack(session) as first:
        assert first.list_servers() == []
    with manager.openstack(session) as second:
        assert second.list_servers() == []
    if cloud is not None:
        assert [(c.method, c.path) for c in cloud.calls[start:]] == [
            ("GET", TOKENS),
            ("GET", "/compute/v2.1"),
            ("GET", "/compute/v2.1/servers/detail"),
            ("GET", "/compute/v2.1/servers/detail"),  # the second client: its call only
        ]


def test_billing__alice(session_backend):
    manager = session_backend.make_manager()
    session = manager.verify(manager.login("alice", "alice-pass").token)
    with manager.billing(session) as billing:
        balance = billing.get_balance()
        services = billing.list_services()
    assert balance > 0
    assert all(service.id for service in services)
    if session_backend.billing is not None:
        assert [c.func for c in session_backend.billing.calls].count("auth") == 1  # the login, only


def test_for_session_keystone__portal(keystone_backend):
    """Against a real Keystone and Glance (lab) too: the token validates itself and carries its catalog."""
    with keystone_backend.make_client() as password_client:
        token = password_client.token()
        me = password_client.token_info()
    session = Session(
        username="portal",
        expires_at=me.expires_at or dt.datetime.now(dt.UTC),
        jti="keystone-contract",
        generation=0,
        keystone_token=token,
        keystone_user_id=me.user_id or "",
        project_id=me.project_id,
        billing_session=token,  # not used here
        auth_url=keystone_backend.make_client.auth_url,
    )
    keystone_backend.make_client.calls.clear()
    with OpenStackClient.for_session(session, cache=SessionAuthCache()) as client:
        images = client.list_images()
    assert images
    sent = keystone_backend.make_client.calls.calls
    assert all(method != "POST" for method, path in sent if "auth" in path)
