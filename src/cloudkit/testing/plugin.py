"""cloudkit's pytest plugin (entry point ``pytest11``): fakes, clients, cassettes and call logs.

Fixtures:
    ``fake_clock``       a :class:`FakeClock` (retries and waits sleep on it, never for real)
    ``billing_fake``     the billing fake, started once per session and reset for every test
    ``billing``          a ``BillingClient`` logged in as the fake's admin, with fast retries
    ``billing_calls``    the ``(func, su)`` of every request ``billing`` sent, in order
    ``billing_backend``  for contract tests: the same test body against a cassette and the live fake
    ``portal_backend``   a :class:`~cloudkit.testing.PortalBackend` (billing, OpenStack and TF with
                         customers in all three): each test runs ``[replay]`` (its cassette, every fake
                         off) and ``[fake]`` (the live fakes), and ``[lab]`` with ``--cloudkit-lab``
    ``secret_registry``  secrets that must not reach a cassette
    ``lifecycle_db_url`` a fresh saga-store database, ``[sqlite]`` and ``[postgresql]`` (real server)
    ``amqp_url``         a real RabbitMQ broker for the run (see :mod:`cloudkit.testing._service_fixtures`)

Contract tests request ``billing_backend``; each runs twice, ``[cassette]`` (replayed with vcrpy,
record mode ``none`` unless ``--record-mode`` says otherwise) and ``[fake]`` (the live fake over
loopback HTTP). Cassettes live in ``cassettes/billing/<operation>__<scenario>.yaml`` where the test is
named ``test_<operation>__<scenario>``. Re-record with ``cloudkit record``.

Recording is safe whatever ``vcr_config`` is in force: through pytest-recording's
``pytest_recording_configure`` hook, cloudkit scrubs every recorded request and response (after the
project's own ``before_record_*`` hooks), refuses to write a known secret, and stamps each cassette's
``source`` (``fake``, ``lab``, ``live``); contract tests get cloudkit's matchers and cassette layout
unless the project configures its own. No ``conftest.py`` import is needed (see
:mod:`cloudkit.testing._recording`).

The lab (``cloudkit lab``) is used only when asked: ``--cloudkit-lab`` or ``CLOUDKIT_LAB=1``. Then the
``[lab]`` variants run and fail when no lab is running; otherwise they skip. ``CI`` plays no part.
OpenStack cassettes are recorded against the fake unless the lab was asked for.

Importing the plugin is light: the OpenStack, session, Tungsten and lab stacks are imported by the
fixtures that use them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit

import attrs
import httpx
import pytest

from cloudkit._core._http import make_http_client
from cloudkit._core._retry import RetryPolicy
from cloudkit.testing import _recording
from cloudkit.testing._cassettes import (
    SecretRegistry,
    billmgr_matcher,
    multipart_fields,
    openstack_lab_matcher,
    openstack_matcher,
    session_matcher,
)
from cloudkit.testing._clock import FakeClock, PacedClock
from cloudkit.testing._lab_fixtures import LAB_OPTION, lab_requested
from cloudkit.testing.fakes._kit import Fault, LoopbackFake
from cloudkit.testing.portal import TF_SERVICE_ACCOUNT, PortalBackend, deterministic_markers

if TYPE_CHECKING:  # every system's stack and fake, and the lab, are imported by the fixtures that use them
    from cloudkit.billing import BillingClient
    from cloudkit.lab import LabInfo
    from cloudkit.openstack import IdentityAdmin, OpenStackClient
    from cloudkit.session import SessionManager
    from cloudkit.testing._lab_fixtures import LabProxies, LabUsers
    from cloudkit.testing.fakes import BillingFake, OpenStackFake

_REPLAY_URL = "http://127.0.0.1:9/billmgr"  # discard port: a request vcrpy fails to replay is refused
ADMIN = ("admin", "secret")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--cloudkit-lab``: use the lab (as ``CLOUDKIT_LAB=1`` does)."""
    parser.getgroup("cloudkit").addoption(
        LAB_OPTION,
        action="store_true",
        default=False,
        help="run the [lab] variants and record OpenStack cassettes against `cloudkit lab` "
        "(fail when no lab runs); same as CLOUDKIT_LAB=1",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test using ``portal_backend`` in ``[replay]`` and ``[fake]``, and ``[lab]`` when asked."""
    if "portal_backend" in metafunc.fixturenames:
        modes = ["replay", "fake", *(["lab"] if lab_requested(metafunc.config) else [])]
        metafunc.parametrize("portal_backend", modes, indirect=True)


def pytest_configure(config: pytest.Config) -> None:
    """Register cloudkit's markers."""
    config.addinivalue_line("markers", "quirk(id): the test proves the handling of a registered quirk")
    config.addinivalue_line("markers", "cassette: run against a replayed cassette (set by cloudkit)")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Note the test being set up, for :func:`pytest_recording_configure`."""
    _recording.remember_item(item)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Register cloudkit's matchers and enforce scrubbing, the guard and the source stamp on every cassette.

    pytest-recording calls this for each cassette it opens, whichever ``vcr_config`` fixture won; see
    :mod:`cloudkit.testing._recording`.
    """
    vcr.register_matcher("billmgr", billmgr_matcher)
    vcr.register_matcher("openstack", openstack_matcher)
    vcr.register_matcher("openstack_lab", openstack_lab_matcher)
    vcr.register_matcher("session", session_matcher)
    _recording.enforce(config, vcr)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the ``[cassette]`` half of every contract test for vcrpy (pytest-recording's ``vcr``)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        backends = (
            "portal_backend",
            "billing_backend",
            "openstack_backend",
            "keystone_backend",
            "session_backend",
            "tungsten_backend",
        )
        if {"cassette", "replay"} & {callspec.params.get(name) for name in backends}:
            item.add_marker(pytest.mark.vcr)
            item.add_marker(pytest.mark.cassette)


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fake monotonic clock; its ``sleep`` advances it."""
    return FakeClock()


@pytest.fixture(scope="session")
def _billing_fake_server() -> Iterator[BillingFake]:
    from cloudkit.testing.fakes import BillingFake  # noqa: PLC0415 (the billing fake, when asked for)

    with BillingFake() as fake:
        yield fake


@pytest.fixture
def billing_fake(_billing_fake_server: BillingFake) -> BillingFake:
    """The billing fake in its seeded state (admin ``admin``/``secret``; users alice and bob)."""
    _billing_fake_server.reset()
    return _billing_fake_server


def fast_retry(clock: FakeClock) -> RetryPolicy:
    """The retry policy tests use: normal shape, sleeping on the fake clock."""
    return RetryPolicy(attempts=4, deadline=30.0, jitter=0.0, sleep=clock.sleep, clock=clock)


@attrs.define
class CallLog:
    """``(func, su)`` of every request a client sent, in order (an httpx request hook)."""

    calls: list[tuple[str, str | None]] = attrs.field(factory=list)

    def __call__(self, request: httpx.Request) -> None:
        """Record one request."""
        request.read()
        params = dict(parse_qsl(request.url.query.decode()))
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(request.content.decode()))
        elif content_type.startswith("multipart/form-data"):
            params.update(multipart_fields(request.content))
        self.calls.append((params.get("func", "?"), params.get("su")))

    def funcs(self) -> list[str]:
        """Just the func names."""
        return [func for func, _ in self.calls]

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self.calls.clear()


def make_billing_client(
    url: str,
    clock: FakeClock,
    calls: CallLog,
    *,
    username: str = ADMIN[0],
    password: str = ADMIN[1],
    **settings: Any,
) -> BillingClient:
    """A client for tests: fake clock for retries and waits, every request logged in ``calls``."""
    from cloudkit.billing import BillingClient, BillingSettings  # noqa: PLC0415 (billing, when asked for)

    billing_settings = BillingSettings(url=url, username=username, password=password, **settings)
    http = make_http_client(timeout=httpx.Timeout(billing_settings.timeout, connect=5.0))
    http.event_hooks["request"].append(calls)
    return BillingClient(
        billing_settings,
        http=http,
        retry=fast_retry(clock),
        clock=clock,
        sleep=clock.sleep,
    )


class ClientFactory:
    """Makes test clients for one URL and closes them all at teardown (no leaked sockets)."""

    def __init__(self, url: str, clock: FakeClock, calls: CallLog, **defaults: Any) -> None:
        """Clients will talk to ``url``, sleep on ``clock`` and log to ``calls``; ``defaults`` are settings
        every client gets unless a call overrides them.
        """  # noqa: D205 (two-line summary)
        self.url = url
        self.clock = clock
        self.calls = calls
        self.defaults = defaults
        self._made: list[BillingClient] = []

    def __call__(self, *, calls: CallLog | None = None, **settings: Any) -> BillingClient:
        """A client (admin unless ``username``/``password`` are given); settings pass through."""
        settings = {**self.defaults, **settings}
        client = make_billing_client(self.url, self.clock, calls or self.calls, **settings)
        self._made.append(client)
        return client

    def close(self) -> None:
        """Close every client made."""
        for client in self._made:
            client._conn.http.close()  # noqa: SLF001 (make_billing_client made the http client)


@pytest.fixture
def billing_calls() -> CallLog:
    """The request log of the ``billing`` fixture's client."""
    return CallLog()


@pytest.fixture
def make_billing(
    billing_fake: BillingFake, fake_clock: FakeClock, billing_calls: CallLog
) -> Iterator[ClientFactory]:
    """Make more clients for the fake (other logins, settings); all closed at teardown."""
    factory = ClientFactory(billing_fake.url, fake_clock, billing_calls)
    yield factory
    factory.close()


@pytest.fixture
def billing(make_billing: ClientFactory) -> BillingClient:
    """A ``BillingClient`` for the fake's admin (fast retries on ``fake_clock``)."""
    return make_billing()


@pytest.fixture
def secret_registry(request: pytest.FixtureRequest) -> SecretRegistry:
    """Secrets that must never reach this test's cassette: the fakes' passwords and secret ``CLOUDKIT_*``
    settings are known up front; add more with ``secret_registry.add(...)``.
    """  # noqa: D205 (two-line summary)
    return _recording.registry_for(request.node)


@attrs.define
class BillingBackend:
    """What a contract test runs against: a replayed cassette, or the live fake.

    ``fake`` is the live fake (also while recording), or ``None`` during replay, when only the cassette
    answers; ``make_client`` builds a logged client for either.
    """

    kind: str
    fake: BillingFake | None
    make_client: ClientFactory


@pytest.fixture(params=["cassette", "fake"])
def billing_backend(
    request: pytest.FixtureRequest,
    fake_clock: FakeClock,
    billing_calls: CallLog,
    record_mode: str,
) -> Iterator[BillingBackend]:
    """The backend of a contract test: a replayed cassette or the live fake (see module docs).

    Recording with ``CLOUDKIT_RECORD_AGAINST=URL`` (``cloudkit record billing --against URL``), the
    ``[cassette]`` half talks to that deployment as ``CLOUDKIT_BILLING_USERNAME``/``_PASSWORD``; a test
    that needs the fake (to arm a fault or flip a switch) is skipped there.
    """
    live = _recording.live_url(record_mode) if request.param == "cassette" else None
    if live is not None:
        env = _recording.live_credentials("CLOUDKIT_BILLING_")
        factory = ClientFactory(live, fake_clock, billing_calls, **env)
        from cloudkit.testing.fakes import BillingFake  # noqa: PLC0415 (the billing fake, when asked for)

        yield BillingBackend(request.param, _recording.needs_fake(BillingFake), factory)
        factory.close()
        return
    fake: BillingFake | None = None
    if request.param == "fake" or record_mode != "none":
        fake = request.getfixturevalue("billing_fake")
    factory = ClientFactory(fake.url if fake else _REPLAY_URL, fake_clock, billing_calls)
    yield BillingBackend(request.param, fake, factory)
    factory.close()


# ------------------------------------------------------------------------------------------ OpenStack
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)
# A service path prefix, version and (Cinder's) project id: what differs between the fake's and the lab's
# URLs for the same call.
_SERVICE_PREFIX = re.compile(r"^(/(compute|volume|image|identity|placement))?(/v\d+(\.\d+)?)?(/\{id\}(?=/))?")
_REPLAY_AUTH_URL = "http://127.0.0.1:9/identity/v3"  # discard port: nothing answers but the cassette
_IDENTITY_RESOURCES = ("/auth/", "/users", "/projects", "/roles", "/domains", "/role_assignments")


@attrs.define
class OpenStackCallLog:
    """``(method, path)`` of every HTTP request an OpenStack client sent; ids become ``{id}``."""

    calls: list[tuple[str, str]] = attrs.field(factory=list)

    def __call__(self, response: Any, *_args: Any, **_kwargs: Any) -> None:
        """A requests response hook: record one exchange."""
        path = urlsplit(response.request.url).path
        self.calls.append((response.request.method, _UUID.sub("{id}", path)))

    def api_calls(self) -> list[tuple[str, str]]:
        """Calls to Nova, Cinder, Glance and Placement resources, as paths within their service: no
        Keystone, no version discovery.

        The same call reads the same on every backend: the fake's ``/compute/v2.1/servers`` and the lab's
        ``/v2.1/servers`` are both ``/servers`` (the fake's ``/placement/resource_providers`` and the lab's
        ``/resource_providers`` alike); Cinder's project segment is dropped too.
        """  # noqa: D205 (two-line summary)
        calls = []
        for method, path in self.calls:
            resource = _SERVICE_PREFIX.sub("", path)
            if resource.rstrip("/") and not resource.startswith(_IDENTITY_RESOURCES):
                calls.append((method, resource))
        return calls

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self.calls.clear()


class OpenStackClientFactory:
    """Makes OpenStack test clients (fake clock, logged requests, deterministic markers); closes them all."""

    def __init__(self, auth_url: str, clock: FakeClock, calls: OpenStackCallLog, **defaults: Any) -> None:
        """Clients authenticate at ``auth_url``, sleep on ``clock`` and log to ``calls``.

        ``defaults`` are settings every client gets unless a call overrides them (``poll_interval`` is 1 s).
        """
        self.auth_url = auth_url
        self.clock = clock
        self.calls = calls
        self.defaults: dict[str, Any] = {"poll_interval": 1.0, **defaults}
        self._made: list[OpenStackClient] = []

    def __call__(
        self,
        *,
        username: str = "portal",
        password: str = "portal-pass",  # noqa: S107 (the fake's published fixture credentials)
        project_name: str = "alice",
        **settings: Any,
    ) -> OpenStackClient:
        """A client for ``username`` in ``project_name``; settings pass through."""
        from cloudkit.openstack import OpenStackClient, OpenStackSettings  # noqa: PLC0415 (heavy)

        client = OpenStackClient(
            OpenStackSettings(
                auth_url=self.auth_url,
                username=username,
                password=password,
                project_name=project_name,
                **{**self.defaults, **settings},
            ),
            retry=fast_retry(self.clock),
            clock=self.clock,
            sleep=self.clock.sleep,
            new_marker=deterministic_markers(),
        )
        client._conn.session.session.hooks["response"].append(self.calls)  # noqa: SLF001 (test seam)
        self._made.append(client)
        return client

    def close(self) -> None:
        """Close every client made."""
        for client in self._made:
            client.close()


@pytest.fixture(scope="session")
def _openstack_fake_server() -> Iterator[OpenStackFake]:
    from cloudkit.testing.fakes import OpenStackFake  # noqa: PLC0415 (only its fixtures need it)

    with OpenStackFake() as fake:
        yield fake


@pytest.fixture
def openstack_fake(_openstack_fake_server: OpenStackFake) -> OpenStackFake:
    """The OpenStack fake in its seeded state (admin/secret; portal/portal-pass in project alice)."""
    _openstack_fake_server.reset()
    return _openstack_fake_server


@pytest.fixture
def openstack_calls() -> OpenStackCallLog:
    """The request log of the OpenStack clients a test makes."""
    return OpenStackCallLog()


@pytest.fixture
def make_openstack(
    openstack_fake: OpenStackFake, fake_clock: FakeClock, openstack_calls: OpenStackCallLog
) -> Iterator[OpenStackClientFactory]:
    """Make OpenStack clients for the fake; all closed at teardown."""
    factory = OpenStackClientFactory(openstack_fake.auth_url, fake_clock, openstack_calls)
    yield factory
    factory.close()


@pytest.fixture
def openstack(make_openstack: OpenStackClientFactory) -> OpenStackClient:
    """An ``OpenStackClient`` for ``portal`` in project ``alice`` on the fake."""
    return make_openstack()


@attrs.define
class OpenStackBackend:
    """What an OpenStack contract test runs against: a replayed cassette, the live fake, or the lab.

    ``lab`` is a real Keystone, Nova, Cinder, Glance and Neutron (``cloudkit lab``) with a fresh project per
    test and a :class:`FaultProxy` in front of Nova and Cinder.
    """

    kind: str
    fake: OpenStackFake | None
    make_client: OpenStackClientFactory
    proxies: LabProxies | None = None
    users: LabUsers | None = None
    admin_password: str = "secret"  # noqa: S105 (the fake's published admin; the lab's is "adminpass")

    def make_identity_admin(self) -> IdentityAdmin:
        """An :class:`~cloudkit.openstack.IdentityAdmin` as the cloud admin (project ``admin``), logged."""
        from cloudkit.openstack import IdentityAdmin  # noqa: PLC0415 (heavy)

        client = self.make_client(username="admin", password=self.admin_password, project_name="admin")
        return IdentityAdmin.of(client)

    def add_user(self, name: str, password: str, *, project: str) -> None:
        """Add a member user in its own project on the live backend (fake or lab); a cassette has it."""
        if self.fake is not None:
            self.fake.add_user(name, password, project=project)
        elif self.users is not None:
            self.users.add(name, password, project=project)

    @property
    def live(self) -> bool:
        """Whether a service answers (fake or lab), as opposed to a cassette."""
        return self.fake is not None or self.proxies is not None

    def inject(
        self,
        fault: Fault,
        *,
        service: Literal["compute", "volume"] = "compute",
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        """Arm a fault in the fake, or in the lab's proxy for ``service``; a cassette already holds it."""
        if self.fake is not None:
            self.fake.inject(fault, method=method, path=path, service=service, times=times)
        elif self.proxies is not None:
            getattr(self.proxies, service).inject(fault, method=method, path=path, times=times)


# Settings every contract-test client gets, whatever the backend, so that a wait polls as often against the
# lab (on a PacedClock) as when its cassette is replayed (on a FakeClock).
_CONTRACT_DEFAULTS: dict[str, Any] = {"poll_interval": 0.25, "cinder_attach_verify_seconds": 2.0}

LAB_RECORDED = _recording.LAB_RECORDED


@pytest.fixture(params=["cassette", "fake", "lab"])
def openstack_backend(
    request: pytest.FixtureRequest,
    fake_clock: FakeClock,
    openstack_calls: OpenStackCallLog,
    record_mode: str,
) -> Iterator[OpenStackBackend]:
    """The backend of an OpenStack contract test: a cassette, the fake, the lab (only when asked).

    A cassette is recorded against the fake, or against the lab when the run asked for it
    (``--cloudkit-lab`` / ``CLOUDKIT_LAB=1``); replayed as its ``source`` line says it was recorded.
    """
    from cloudkit.lab import PORTS  # noqa: PLC0415 (only OpenStack contract tests need the lab)
    from cloudkit.testing._lab_fixtures import LabProxies  # noqa: PLC0415

    kind = request.param
    recording = record_mode != "none"
    if kind == "fake" or (recording and not lab_requested(request.config)):
        # The fake; also the cassette's recording, unless the run asked for the lab.
        fake: OpenStackFake = request.getfixturevalue("openstack_fake")
        factory = OpenStackClientFactory(fake.auth_url, fake_clock, openstack_calls, **_CONTRACT_DEFAULTS)
        yield OpenStackBackend(kind, fake, factory)
    elif kind == "lab" or recording:
        lab: LabInfo = request.getfixturevalue("openstack_lab")
        request.getfixturevalue("lab_tenant")
        proxies: LabProxies = request.getfixturevalue("lab_proxies")
        factory = OpenStackClientFactory(
            lab.auth_url,
            PacedClock(),
            openstack_calls,
            **_CONTRACT_DEFAULTS,
            endpoint_overrides=LabProxies.fixed_endpoint_overrides(),
        )
        yield OpenStackBackend(kind, None, factory, proxies)
    elif _recording.openstack_recorded_from_lab(request.node):
        # The lab's URLs as recorded (ports are matched); vcrpy answers, nothing needs to listen there.
        factory = OpenStackClientFactory(
            f"http://127.0.0.1:{PORTS.keystone}/v3",
            fake_clock,
            openstack_calls,
            **_CONTRACT_DEFAULTS,
            endpoint_overrides=LabProxies.fixed_endpoint_overrides(),
        )
        yield OpenStackBackend(kind, None, factory)
    else:  # a cassette recorded against the fake: nothing listens at the discard port
        factory = OpenStackClientFactory(_REPLAY_AUTH_URL, fake_clock, openstack_calls, **_CONTRACT_DEFAULTS)
        yield OpenStackBackend(kind, None, factory)
    factory.close()


# ------------------------------------------------------------------------------------------ identity
@pytest.fixture(params=["cassette", "fake", "lab"])
def keystone_backend(
    request: pytest.FixtureRequest,
    fake_clock: FakeClock,
    openstack_calls: OpenStackCallLog,
    record_mode: str,
) -> Iterator[OpenStackBackend]:
    """Identity and image contract tests: cassette (recorded from the lab's real Keystone and Glance, or
    from the fake), fake, lab.

    Each test gets user ``portal`` / ``portal-pass`` in project ``alice`` (role member) on every backend;
    ``backend.add_user`` adds another on the live ones.
    """  # noqa: D205 (two-line summary)
    fake: OpenStackFake | None = None
    users: LabUsers | None = None
    admin_password = "secret"  # noqa: S105 (the fake's published admin; a cassette has it scrubbed)
    recording = record_mode != "none"
    if request.param == "fake" or (recording and not lab_requested(request.config)):
        fake = request.getfixturevalue("openstack_fake")
        auth_url = fake.auth_url
    elif request.param == "lab" or recording:
        # Cassettes of these tests are recorded from the lab's real services, never from the fake.
        lab_info: LabInfo = request.getfixturevalue("openstack_lab")
        auth_url, admin_password = lab_info.auth_url, lab_info.admin_password.get_secret_value()
        request.getfixturevalue("lab_tenant")
        users = request.getfixturevalue("lab_users")
    elif _recording.openstack_recorded_from_lab(request.node):
        auth_url = "http://127.0.0.1:9/v3"  # real Keystone serves /v3 at the root, as when recorded
    else:
        auth_url = _REPLAY_AUTH_URL  # recorded against the fake, whose Keystone is at /identity/v3
    factory = OpenStackClientFactory(auth_url, fake_clock, openstack_calls)
    yield OpenStackBackend(request.param, fake, factory, users=users, admin_password=admin_password)
    factory.close()


# ------------------------------------------------------------------------------------------ session
SESSION_KEY = bytes(range(32))  # a fixed test key: tokens are never recorded, only upstream traffic


@attrs.define
class SessionBackend:
    """What a session test runs against: the fakes on the test's clock, or a replayed cassette.

    The Keystone fake shares the fake clock, so its same-second revocation follows the clock's seconds.
    """

    kind: str
    billing: BillingFake | None
    cloud: OpenStackFake | None
    clock: FakeClock
    billing_url: str
    auth_url: str
    managers: list[SessionManager] = attrs.field(factory=list)

    def make_manager(self, **options: Any) -> SessionManager:
        """A manager on this backend: fake clock, fast retries, the fixed test key (unless given)."""
        from cloudkit.session import SessionManager  # noqa: PLC0415 (only session tests need it)

        if "keys" not in options:
            options.setdefault("key", SESSION_KEY)
        manager = SessionManager(
            billing_url=self.billing_url,
            auth_url=self.auth_url,
            retry=fast_retry(self.clock),
            clock=self.clock,
            sleep=self.clock.sleep,
            **options,
        )
        self.managers.append(manager)
        return manager


@pytest.fixture(params=["cassette", "fake"])
def session_backend(request: pytest.FixtureRequest, record_mode: str) -> Iterator[SessionBackend]:
    """Billing and Keystone fakes on one fake clock (``alice``/``alice-pass`` in both), or a cassette."""
    clock = FakeClock(start=float(int(time.time())))
    if request.param == "cassette" and record_mode == "none":
        backend = SessionBackend("cassette", None, None, clock, _REPLAY_URL, _REPLAY_AUTH_URL)
        yield backend
    else:
        from cloudkit.testing.fakes import OpenStackFake  # noqa: PLC0415 (only session tests need it)

        billing = request.getfixturevalue("billing_fake")
        with OpenStackFake(clock=clock) as cloud:
            cloud.add_user("alice", "alice-pass", project="alice")
            backend = SessionBackend(request.param, billing, cloud, clock, billing.url, cloud.auth_url)
            yield backend
    for manager in backend.managers:
        manager.close()


# ------------------------------------------------------------------------------------------ portal
@pytest.fixture(scope="session")
def _portal_fakes() -> Iterator[PortalBackend]:
    with PortalBackend("fake") as backend:
        yield backend


@pytest.fixture
def portal_backend(request: pytest.FixtureRequest, record_mode: str) -> Iterator[PortalBackend]:
    """A :class:`~cloudkit.testing.PortalBackend` per test: ``[replay]`` (the test's cassette, every fake
    off; recorded against the fakes with ``--record-mode``), ``[fake]`` (the live fakes, reset for each
    test) and, with ``--cloudkit-lab``, ``[lab]``. Passwords of the customers added are secrets the
    recorder refuses to write.
    """  # noqa: D205 (two-line summary)
    mode = getattr(request, "param", "fake")
    registry = _recording.registry_for(request.node)
    registry.add(TF_SERVICE_ACCOUNT[1])  # in platform() and environ(): never in a cassette
    if mode == "lab":
        lab: LabInfo = request.getfixturevalue("openstack_lab")
        registry.add(lab.admin_password.get_secret_value())  # the TF account in lab mode
        with PortalBackend("lab", lab=lab, on_secret=registry.add) as backend:
            yield backend
    elif mode == "replay" and record_mode == "none":
        # Provably with every fake off: starting any cloudkit fake during a replayed test fails it.
        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setattr(LoopbackFake, "start", _refuse_start)
        with PortalBackend("replay", on_secret=registry.add) as backend:
            yield backend
    else:
        backend = request.getfixturevalue("_portal_fakes")
        backend.reset()
        backend.on_secret = registry.add
        yield backend
        backend.on_secret = lambda _secret: None


def _refuse_start(fake: LoopbackFake) -> LoopbackFake:
    msg = f"{type(fake).__name__} started in a replayed portal_backend test: replay runs with every fake off"
    raise AssertionError(msg)


# ------------------------------------------------------------------------------------------ Tungsten Fabric
# ------------------------------------------------------------------------------------------ lab
from cloudkit.testing._lab_fixtures import (  # noqa: E402
    _lab_proxy_servers,
    lab_proxies,
    lab_tenant,
    lab_users,
    openstack_lab,
)
from cloudkit.testing._service_fixtures import (  # noqa: E402 (real PostgreSQL and RabbitMQ)
    amqp_url,
    lifecycle_db_url,
    postgres_server_url,
)
from cloudkit.testing._tungsten_fixtures import (  # noqa: E402 (after the fixtures they build on)
    _tungsten_fake_server,
    make_tungsten,
    tungsten,
    tungsten_backend,
    tungsten_calls,
    tungsten_fake,
)

__all__ = [
    "_lab_proxy_servers",
    "_tungsten_fake_server",
    "amqp_url",
    "lab_proxies",
    "lab_tenant",
    "lab_users",
    "lifecycle_db_url",
    "make_tungsten",
    "openstack_lab",
    "postgres_server_url",
    "tungsten",
    "tungsten_backend",
    "tungsten_calls",
    "tungsten_fake",
]
