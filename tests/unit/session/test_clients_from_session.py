"""From a verified session to the customer's clients, on the fakes: request sequences, caching, expiry."""

import time

import attrs
import pytest

from cloudkit import Secret
from cloudkit.billing import BillingClient
from cloudkit.errors import ConfigError, InvalidArgumentError, ScopeError, TokenExpiredError
from cloudkit.openstack import OpenStackClient, OpenStackSettings, SessionAuthCache
from cloudkit.platform import Platform
from cloudkit.session import CustomerNetwork, SessionSettings
from cloudkit.testing import FakeClock
from cloudkit.testing._tungsten_fixtures import SERVICE_ACCOUNT
from cloudkit.testing.fakes import OpenStackFake
from cloudkit.testing.plugin import SESSION_KEY, SessionBackend, fast_retry
from cloudkit.tungsten import TungstenSettings

TOKENS = "/identity/v3/auth/tokens"


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


def _session(live, **options):
    manager = live.make_manager(**options)
    return manager, manager.verify(manager.login("alice", "alice-pass").token)


def _calls_since(cloud, start):
    return [(c.method, c.path) for c in cloud.calls[start:]]


def test_verify_stamps_the_endpoints(live):
    _, session = _session(live)
    assert (session.billing_url, session.auth_url) == (live.billing_url, live.auth_url)
    assert "billmgr" not in repr(session)  # the repr stays who and until when


def test_first_client_fetches_the_token_once_and_a_second_sends_no_identity_or_discovery(live):
    manager, session = _session(live)
    start = len(live.cloud.calls)
    with manager.openstack(session) as client:
        assert client.list_servers() == []
    assert _calls_since(live.cloud, start) == [
        ("GET", TOKENS),  # the token's own body and catalog, once: no POST (no rescope)
        ("GET", "/compute/v2.1"),  # version discovery, once per session
        ("GET", "/compute/v2.1/servers/detail"),
    ]
    start = len(live.cloud.calls)
    with manager.openstack(session) as again:
        assert again.list_servers() == []
    assert _calls_since(live.cloud, start) == [("GET", "/compute/v2.1/servers/detail")]


def test_session_openstack_uses_the_process_cache_and_sends_no_post(live):
    _, session = _session(live)
    session = attrs.evolve(session, jti=f"{session.jti}-own")  # its own entry in the process-wide cache
    start = len(live.cloud.calls)
    for _ in range(2):
        with session.openstack() as client:
            client.list_flavors()
    calls = _calls_since(live.cloud, start)
    assert calls.count(("GET", TOKENS)) == 1
    assert calls.count(("GET", "/compute/v2.1")) == 1
    assert ("POST", TOKENS) not in calls


def test_the_entry_is_dropped_at_the_tokens_expiry(live):
    now = [time.time()]
    cache = SessionAuthCache(clock=lambda: now[0])
    manager, session = _session(live, auth_cache=cache)
    with manager.openstack(session):
        pass
    assert len(cache) == 1
    now[0] = session.expires_at.timestamp() + 3600  # past the Keystone token's own expiry too
    assert len(cache) == 0


def test_the_cache_is_bounded_least_recently_used_first(live):
    cache = SessionAuthCache(maxsize=1)
    manager, first = _session(live, auth_cache=cache)
    second = manager.verify(manager.login("alice", "alice-pass").token)
    for session in (first, second, first):
        start = len(live.cloud.calls)
        with manager.openstack(session):
            pass
        assert _calls_since(live.cloud, start) == [("GET", TOKENS)]  # evicted each time: fetched again
    assert len(cache) == 1


def test_cache_refuses_a_bad_size():
    with pytest.raises(ConfigError, match="maxsize"):
        SessionAuthCache(maxsize=0)


def test_a_revoked_token_is_token_expired_and_never_echoed(live):
    manager = live.make_manager()
    issued = manager.login("alice", "alice-pass")
    session = manager.verify(issued.token)
    with manager.openstack(session):
        pass
    manager.logout(issued.token)  # revokes the session's Keystone token and forgets its cache entry
    with pytest.raises(TokenExpiredError) as info:
        manager.openstack(session)
    assert session.keystone_token.get_secret_value() not in f"{info.value} {info.value!r}"


def test_settings_give_options_never_credentials(live):
    _, session = _session(live)
    platform_settings = OpenStackSettings(
        auth_url=live.auth_url, username="portal", password="portal-pass", project_name="alice", timeout=7.0
    )
    start = len(live.cloud.calls)
    with OpenStackClient.for_session(session, settings=platform_settings, cache=SessionAuthCache()) as client:
        client.list_servers()
        assert "portal" not in repr(client)
        assert client._settings.auth_type == "token"
        assert client._settings.timeout == 7.0
    assert ("POST", TOKENS) not in _calls_since(live.cloud, start)


def test_without_an_auth_url_for_session_says_what_is_missing(live):
    _, session = _session(live)
    with pytest.raises(ConfigError, match="Keystone's URL"):
        OpenStackClient.for_session(attrs.evolve(session, auth_url=None))


def test_billing_from_the_session_is_user_level_and_never_logs_in(live):
    manager, session = _session(live)
    start = len(live.billing.calls)
    with manager.billing(session) as billing:
        balance = billing.get_balance()
        with pytest.raises(ScopeError):
            billing.as_user("bob")
    assert balance > 0
    funcs = [c.func for c in live.billing.calls[start:]]
    assert "auth" not in funcs
    assert repr(billing) == f"BillingClient(url={live.billing_url!r}, username='alice')"


def test_a_dead_billing_session_is_token_expired_not_a_login(live):
    _, session = _session(live)
    billing = session.billing(retry=fast_retry(live.clock), sleep=live.clock.sleep)
    live.billing.expire_sessions()
    start = len(live.billing.calls)
    with pytest.raises(TokenExpiredError, match="billing session expired; log in again") as info:
        billing.get_balance()
    assert "auth" not in [c.func for c in live.billing.calls[start:]]
    assert session.billing_session.get_secret_value() not in f"{info.value} {info.value!r}"
    billing.close()


def test_from_session_refuses_an_empty_session_id():
    with pytest.raises(InvalidArgumentError):
        BillingClient.from_session("http://127.0.0.1:9/billmgr", Secret(""))


def test_a_session_without_a_billing_url_says_so(live):
    _, session = _session(live)
    with pytest.raises(ConfigError, match="where billing is"):
        attrs.evolve(session, billing_url=None).billing()


def test_tungsten_without_settings_is_a_config_error(live):
    manager, session = _session(live)
    with pytest.raises(ConfigError, match="no Tungsten Fabric settings"):
        manager.tungsten(session)


def test_tungsten_is_the_service_account_bound_to_the_customer_project(
    billing_fake, openstack_fake, tungsten_fake
):
    openstack_fake.add_user("alice", "alice-pass", project="alice")
    user, password, project = SERVICE_ACCOUNT
    tf = TungstenSettings(
        url=tungsten_fake.url,
        auth_url=openstack_fake.auth_url,
        username=user,
        password=password,
        project_name=project,
    )
    platform = Platform(
        session=SessionSettings(
            billing_url=billing_fake.url, auth_url=openstack_fake.auth_url, keys={"k1": SESSION_KEY}
        ),
        tungsten=tf,
    )
    manager = platform.session_manager()
    try:
        session = manager.verify(manager.login("alice", "alice-pass").token)
        network = manager.tungsten(session)
        assert isinstance(network, CustomerNetwork)
        assert network.project_id == session.project_id
        made = network.create_virtual_network("alice-net", subnets=["10.0.0.0/24"])
        assert [n.uuid for n in network.list_virtual_networks()] == [made.uuid]
        assert network.list_ports() == []
        assert manager.tungsten(session).client is network.client  # one TF client per manager
        assert "svc-tf-pass" not in repr(network)
    finally:
        manager.close()


def test_platform_without_session_settings_says_which_variable():
    with pytest.raises(ConfigError, match="CLOUDKIT_SESSION_KEYS"):
        Platform().session_manager()
