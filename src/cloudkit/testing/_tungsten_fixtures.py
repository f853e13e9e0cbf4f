"""pytest fixtures for Tungsten Fabric: the TF fake next to the OpenStack fake's Keystone, clients, backends.

Fixtures:
    ``tungsten_fake``     the TF fake (cloud-admin mode) validating tokens on the ``openstack_fake``'s
                          Keystone, where the service account ``svc-tf`` (admin on project ``service``)
                          exists; started once per session and reset for every test
    ``tungsten_calls``    ``(method, path)`` of every request the test's TF clients sent, ids as ``{id}``
    ``make_tungsten``     makes ``TungstenClient`` s for the fake (fake clock, logged, deterministic uuids)
    ``tungsten``          a ``TungstenClient`` as ``svc-tf``
    ``tungsten_backend``  for contract tests: the same test body against a cassette and the live fakes

Cassettes of ``tests/contract/tungsten`` use :func:`tungsten_vcr_config` (JSON-aware scrubbing of
passwords, application-credential secrets and tokens; far-future token expiry). Customer projects are
the OpenStack fake's seeded ones, whose ids are fixed: :data:`ALICE_PROJECT_ID` is project ``alice``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
import pytest

from cloudkit._core._retry import RetryPolicy
from cloudkit.testing._cassettes import (
    OPENSTACK_HOST,
    CassetteSource,
    SecretRegistry,
    openstack_vcr_config,
)
from cloudkit.testing._clock import FakeClock
from cloudkit.testing.portal import TF_SERVICE_ACCOUNT, deterministic_uuids

if TYPE_CHECKING:  # imported by the fixtures: loading the plugin must not import the Tungsten stack
    from cloudkit.testing.fakes.openstack import OpenStackFake
    from cloudkit.testing.fakes.tungsten import TungstenFake
    from cloudkit.tungsten import TungstenClient

__all__ = [
    "ADMIN_PROJECT_ID",
    "ALICE_PROJECT_ID",
    "SERVICE_ACCOUNT",
    "TungstenBackend",
    "TungstenCallLog",
    "TungstenClientFactory",
    "deterministic_uuids",
    "make_tungsten",
    "tungsten",
    "tungsten_backend",
    "tungsten_calls",
    "tungsten_fake",
    "tungsten_vcr_config",
]

SERVICE_ACCOUNT = TF_SERVICE_ACCOUNT
"""``(user, password, project)`` of the dedicated TF service account the fixtures add to Keystone."""

ALICE_PROJECT_ID = "1651cf3e08b35e16b7847376503c81c8"
"""Keystone id of the OpenStack fake's seeded project ``alice`` (the fake's seed ids are fixed uuid5s)."""

ADMIN_PROJECT_ID = "4c020ce369f05ebda4e5ce91283d7d02"
"""Keystone id of the OpenStack fake's seeded project ``admin``."""

TUNGSTEN_HOST = "tungsten.cassette"
_REPLAY_TF_URL = "http://127.0.0.1:9"  # discard port: nothing answers but the cassette
_REPLAY_AUTH_URL = "http://127.0.0.1:9/identity/v3"
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)


def tungsten_vcr_config(
    registry: SecretRegistry, *, recorded_against: str, source: CassetteSource | None = None
) -> dict[str, Any]:
    """``vcr_config`` for TF cassettes: the OpenStack JSON scrubbing plus the service account's password.

    Only cloudkit's own requests are recorded: the TF fake validates tokens with Keystone over HTTP in
    the same process, and those calls (another User-Agent) pass through unrecorded.

    Example:
        >>> from cloudkit.testing import SecretRegistry
        >>> from cloudkit.testing._tungsten_fixtures import tungsten_vcr_config
        >>> tungsten_vcr_config(SecretRegistry(), recorded_against="TungstenFake")["match_on"]
        ['openstack']
    """
    registry.add(SERVICE_ACCOUNT[1])
    config = openstack_vcr_config(registry, recorded_against=recorded_against, source=source)
    scrub = config["before_record_request"]

    def cloudkit_only(request: Any) -> Any:
        # The scrubber drops User-Agent, and vcrpy filters a request twice: no agent means ours.
        agent = str(request.headers.get("User-Agent") or request.headers.get("user-agent") or "cloudkit/")
        if not agent.startswith("cloudkit/"):
            return None
        scrubbed = scrub(request)
        if not urlsplit(scrubbed.uri).path.startswith("/identity"):
            scrubbed.uri = scrubbed.uri.replace(f"http://{OPENSTACK_HOST}/", f"http://{TUNGSTEN_HOST}/", 1)
        return scrubbed

    config["before_record_request"] = cloudkit_only
    return config


@attrs.define
class TungstenCallLog:
    """``(method, path)`` of every request TF clients sent (an httpx request hook); ids become ``{id}``.

    Example:
        >>> from cloudkit.testing._tungsten_fixtures import TungstenCallLog
        >>> TungstenCallLog(calls=[("POST", "/identity/v3/auth/tokens"), ("GET", "/project/{id}")]).tf_calls()
        [('GET', '/project/{id}')]
    """

    calls: list[tuple[str, str]] = attrs.field(factory=list)

    def __call__(self, request: Any) -> None:
        """Record one request."""
        path = urlsplit(str(request.url)).path
        self.calls.append((str(request.method), _UUID.sub("{id}", path)))

    def tf_calls(self) -> list[tuple[str, str]]:
        """Calls to TF only (no Keystone)."""
        return [(method, path) for method, path in self.calls if not path.startswith("/identity")]

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self.calls.clear()


def _fast_retry(clock: FakeClock) -> RetryPolicy:
    return RetryPolicy(attempts=4, deadline=30.0, jitter=0.0, sleep=clock.sleep, clock=clock)


class TungstenClientFactory:
    """Makes TF test clients (fake clock, logged requests, deterministic uuids) and closes them all.

    Example:
        >>> from cloudkit.testing import FakeClock
        >>> from cloudkit.testing._tungsten_fixtures import TungstenCallLog, TungstenClientFactory
        >>> factory = TungstenClientFactory("http://127.0.0.1:9", "http://127.0.0.1:9/v3", FakeClock(),
        ...                                 TungstenCallLog())
        >>> factory(username="other", password="pw", project_name="p")
        TungstenClient(url='http://127.0.0.1:9', account='other')
        >>> factory.close()
    """

    def __init__(
        self, url: str, auth_url: str, clock: FakeClock, calls: TungstenCallLog, **defaults: Any
    ) -> None:
        """Clients use TF at ``url`` and Keystone at ``auth_url``, sleep on ``clock``, log to ``calls``;
        ``defaults`` (identity or settings) apply unless a call overrides them.
        """  # noqa: D205 (two-line summary)
        self.defaults = defaults
        self.url = url
        self.auth_url = auth_url
        self.clock = clock
        self.calls = calls
        self.new_uuid = deterministic_uuids()
        self._made: list[TungstenClient] = []

    def __call__(
        self,
        *,
        username: str | None = SERVICE_ACCOUNT[0],
        password: str | None = SERVICE_ACCOUNT[1],
        project_name: str | None = SERVICE_ACCOUNT[2],
        retry: RetryPolicy | None = None,
        **settings: Any,
    ) -> TungstenClient:
        """A client for the service account (or the given identity); settings pass through."""
        from cloudkit.tungsten import TungstenClient, TungstenSettings  # noqa: PLC0415 (heavy: imported on use)

        if (username, password, project_name) == SERVICE_ACCOUNT and self.defaults:
            # The service account asked for by default: the factory's own identity (a live deployment's).
            username = self.defaults.get("username", username)
            password = self.defaults.get("password", password)
            project_name = self.defaults.get("project_name", project_name)

        client = TungstenClient(
            TungstenSettings(
                url=self.url,
                auth_url=self.auth_url,
                username=username,
                password=password,
                project_name=project_name,
                **settings,
            ),
            retry=retry or _fast_retry(self.clock),
            clock=self.clock,
            new_uuid=self.new_uuid,
        )
        client._http.event_hooks["request"].append(self.calls)  # noqa: SLF001 (test seam)
        self._made.append(client)
        return client

    def close(self) -> None:
        """Close every client made."""
        for client in self._made:
            client.close()


@pytest.fixture(scope="session")
def _tungsten_fake_server(_openstack_fake_server: OpenStackFake) -> Iterator[TungstenFake]:
    from cloudkit.testing.fakes.tungsten import TungstenFake  # noqa: PLC0415 (imported on use)

    with TungstenFake(keystone_url=_openstack_fake_server.auth_url) as fake:
        yield fake


@pytest.fixture
def tungsten_fake(openstack_fake: OpenStackFake, _tungsten_fake_server: TungstenFake) -> TungstenFake:
    """The TF fake (cloud-admin) in its seeded state; Keystone has the service account ``svc-tf``."""
    user, password, project = SERVICE_ACCOUNT
    openstack_fake.add_user(user, password, project=project, roles=("admin",))
    _tungsten_fake_server.reset()
    return _tungsten_fake_server


@pytest.fixture
def tungsten_calls() -> TungstenCallLog:
    """The request log of the TF clients a test makes."""
    return TungstenCallLog()


@pytest.fixture
def make_tungsten(
    tungsten_fake: TungstenFake,
    openstack_fake: OpenStackFake,
    fake_clock: FakeClock,
    tungsten_calls: TungstenCallLog,
) -> Iterator[TungstenClientFactory]:
    """Make TF clients for the fakes; all closed at teardown."""
    factory = TungstenClientFactory(tungsten_fake.url, openstack_fake.auth_url, fake_clock, tungsten_calls)
    yield factory
    factory.close()


@pytest.fixture
def tungsten(make_tungsten: TungstenClientFactory) -> TungstenClient:
    """A ``TungstenClient`` as the service account ``svc-tf`` on the fakes."""
    return make_tungsten()


@attrs.define
class TungstenBackend:
    """What a TF contract test runs against: a replayed cassette, or the live fakes.

    ``fake`` and ``keystone`` are the live fakes (also while recording), or ``None`` during replay.

    Example:
        >>> from cloudkit.testing import FakeClock
        >>> from cloudkit.testing._tungsten_fixtures import (TungstenBackend, TungstenCallLog,
        ...     TungstenClientFactory)
        >>> factory = TungstenClientFactory("http://127.0.0.1:9", "http://127.0.0.1:9/v3", FakeClock(),
        ...                                 TungstenCallLog())
        >>> TungstenBackend("cassette", None, None, factory).kind
        'cassette'
    """

    kind: str
    fake: TungstenFake | None
    keystone: OpenStackFake | None
    make_client: TungstenClientFactory


@pytest.fixture(params=["cassette", "fake"])
def tungsten_backend(
    request: pytest.FixtureRequest,
    fake_clock: FakeClock,
    tungsten_calls: TungstenCallLog,
    record_mode: str,
) -> Iterator[TungstenBackend]:
    """The backend of a TF contract test: a replayed cassette or the live fakes.

    Recording with ``CLOUDKIT_RECORD_AGAINST=URL`` (``cloudkit record tungsten --against URL``), the
    ``[cassette]`` half talks to that TF API, logging in at ``CLOUDKIT_TUNGSTEN_AUTH_URL`` as
    ``CLOUDKIT_TUNGSTEN_USERNAME``, ``_PASSWORD``, ``_PROJECT_NAME``; tests needing the fakes skip.
    """
    from cloudkit.testing import _recording  # noqa: PLC0415 (no cycle: the plugin imports this module)
    from cloudkit.testing.fakes.openstack import OpenStackFake  # noqa: PLC0415
    from cloudkit.testing.fakes.tungsten import TungstenFake  # noqa: PLC0415

    live = _recording.live_url(record_mode) if request.param == "cassette" else None
    if live is not None:
        auth_url = os.environ.get("CLOUDKIT_TUNGSTEN_AUTH_URL", "")
        identity = _recording.live_credentials("CLOUDKIT_TUNGSTEN_")
        factory = TungstenClientFactory(live, auth_url, fake_clock, tungsten_calls, **identity)
        stand_ins = _recording.needs_fake(TungstenFake), _recording.needs_fake(OpenStackFake)
        yield TungstenBackend(request.param, *stand_ins, factory)
        factory.close()
        return
    fake: TungstenFake | None = None
    keystone: OpenStackFake | None = None
    if request.param == "fake" or record_mode != "none":
        fake = request.getfixturevalue("tungsten_fake")
        keystone = request.getfixturevalue("openstack_fake")
    url = fake.url if fake else _REPLAY_TF_URL
    auth_url = keystone.auth_url if keystone else _REPLAY_AUTH_URL
    factory = TungstenClientFactory(url, auth_url, fake_clock, tungsten_calls)
    yield TungstenBackend(request.param, fake, keystone, factory)
    factory.close()
