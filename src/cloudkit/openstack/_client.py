"""`OpenStackClient`: the only OpenStack module that does I/O, over openstacksdk's proxy layer.

Every SDK call runs inside :func:`_translate` (no openstacksdk, keystoneauth or requests exception
reaches a caller), reads go through the one retry layer, creates carry a client-side marker and are
repeated only when a read-back shows the first attempt did not land, and every wait has a finite
budget, backs off between polls and names the last status it saw.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import stat
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self, TypeVar

import attrs
import keystoneauth1.exceptions as ks_exc
import openstack.connection
import openstack.exceptions as os_exc
import openstack.warnings as os_warnings
import requests
from openstack.compute.v2 import server as _sdk_server
from openstack.image.v2 import image as _sdk_image

from cloudkit._core._errors import error_for_status, request_id_from, scrub
from cloudkit._core._retry import Poller, RetryPolicy
from cloudkit._core._secret import Secret
from cloudkit._keystone import KeystoneIdentity, KeystoneToken, read_token
from cloudkit.errors import (
    ApiError,
    AuthenticationError,
    CloudkitError,
    ConfigError,
    InvalidArgumentError,
    NotFoundError,
    OutcomeError,
    PolicyError,
    RequestTimeoutError,
    ResponseDecodeError,
    SilentNoOpError,
    TransportError,
    VolumeAttachError,
    WaitTimeoutError,
)
from cloudkit.openstack import _placement, _quirks, _wire
from cloudkit.openstack._models import (
    AggregateCapacity,
    AttachStrategy,
    BuildFailure,
    ComputeLimits,
    Flavor,
    Image,
    Keypair,
    Server,
    Snapshot,
    Volume,
    VolumeAttachment,
    VolumeLimits,
)
from cloudkit.openstack._session_auth import (
    DEFAULT_CACHE,
    SessionAuthCache,
    SessionCredentials,
    keystoneauth_session,
)
from cloudkit.openstack._settings import OpenStackSettings

__all__ = ["OpenStackClient"]

log = logging.getLogger("cloudkit.openstack")
T = TypeVar("T")
SYSTEM = "openstack"
_CINDER_MOUNTPOINT = "/dev/vdb"  # os-attach needs one; it only lands in Cinder's records anyway
_VOLUME_FAILURES = frozenset({"error", "error_attaching", "error_detaching", "error_deleting"})
_IMAGE_FAILURES = frozenset({"killed", "deleted", "pending_delete", "deactivated"})
_UPLOAD_CHUNK = 1024 * 1024  # what the reader hands out at most per read, whatever the HTTP stack asks
ProgressCallback = Callable[[int, int], None]


def _hush_sdk_deprecations() -> None:
    """Ignore openstacksdk's own removal warnings, raised inside openstacksdk on ordinary use.

    openstacksdk 4.x warns from its own code paths (``cloud_region.py`` about InfluxDB for an all-None
    metrics config, ``Resource.__init__``, ``Proxy._extract_name``; ``RemovedFieldWarning`` when Nova's
    ``GET /limits`` carries ``maxPersonality``, as it does below microversion 2.57, while openstacksdk
    reads the answer) whatever the caller does, which fails a portal's ``-W error`` run. The filter is
    narrow: those three categories, only when openstacksdk's
    own module is the one warning, so a deprecated call made by cloudkit still shows. It is (re)inserted
    where cloudkit calls openstacksdk, because pytest's per-test ``catch_warnings`` puts ``-W error``
    in front of filters set earlier; ``filterwarnings`` drops an identical entry first, so the list
    never grows.
    """
    with _HUSH_LOCK:
        if warnings.filters[: len(_SDK_CATEGORIES)] == _hushed:  # already in front: the common case
            return
        for category in _SDK_CATEGORIES:
            warnings.filterwarnings("ignore", category=category, module=_SDK_MODULE)
        _hushed[:] = warnings.filters[: len(_SDK_CATEGORIES)]


_SDK_CATEGORIES = (
    os_warnings.RemovedInSDK60Warning,
    os_warnings.RemovedInSDK50Warning,
    os_warnings.RemovedFieldWarning,
)
_SDK_MODULE = r"openstack(\.|$)"
_HUSH_LOCK = threading.Lock()  # filters are process-wide: one thread at a time changes them
_hushed: list[Any] = []  # the filter entries as last inserted, to see whether they are still in front


@contextlib.contextmanager
def _translate(operation: str) -> Iterator[None]:
    """The one boundary where openstacksdk, keystoneauth and requests exceptions become cloudkit's.

    openstacksdk's own removal warnings are silenced here too (:func:`_hush_sdk_deprecations`).
    """
    _hush_sdk_deprecations()
    try:
        yield
    except CloudkitError:
        raise
    except os_exc.ResourceTimeout as exc:
        raise WaitTimeoutError(f"timed out ({exc})", system=SYSTEM, operation=operation) from exc
    except os_exc.HttpException as exc:
        raise _http_error(
            exc.status_code, str(exc.details or exc.message or ""), exc.request_id, exc.response, operation
        ) from exc
    except ks_exc.ConnectTimeout as exc:
        raise RequestTimeoutError("request timed out", system=SYSTEM, operation=operation) from exc
    except ks_exc.ConnectFailure as exc:
        raise TransportError("connection failed", system=SYSTEM, operation=operation) from exc
    except ks_exc.HttpError as exc:  # keystoneauth's own HTTP errors (auth requests)
        raise _http_error(
            exc.http_status, str(exc.message or ""), exc.request_id, exc.response, operation
        ) from exc
    except (ks_exc.ClientException, requests.RequestException) as exc:
        raise TransportError(
            f"no usable answer ({type(exc).__name__})", system=SYSTEM, operation=operation
        ) from exc
    except os_exc.SDKException as exc:
        raise ApiError(f"openstacksdk: {exc}", system=SYSTEM, operation=operation) from exc


def _http_error(
    status: int | None, details: str, request_id: str | None, response: Any, operation: str
) -> CloudkitError:
    details = " ".join(details.split())[:300]
    if _quirks.is_root_device_refusal(status, details):
        refused = _quirks.refuse_system_volume(operation, "(root device)", None)
        refused.add_note(f"Nova refused: HTTP {status}: {details}")
        return refused
    cls = error_for_status(status, system=SYSTEM)
    return cls(
        f"HTTP {status}: {details}" if details else f"HTTP {status}",
        system=SYSTEM,
        operation=operation,
        quirk=_quirks.transient_quirk(status, details),
        status=status,
        code=_wire.fault_code(_json_body(response)),
        detail=details or None,
        request_id=request_id or request_id_from(getattr(response, "headers", None)),
    )


def _json_body(response: Any) -> Any:
    """The decoded JSON body of a requests response, or ``None``."""
    try:
        return response.json() if response is not None else None
    except ValueError:
        return None


_DEFAULT_WAITS = OpenStackSettings(
    auth_url="http://unused.invalid/v3",
    username="unused",
    password="unused",  # noqa: S106 (placeholder settings that only carry the default budgets)
    project_name="unused",
)


def _cloud_of(settings: OpenStackSettings | None, connection: openstack.connection.Connection) -> str:
    """The cloud a client talks to, as its poller keys what it learns: Keystone's URL and the region.

    A client on a given connection whose auth URL cannot be read is its own cloud (it shares nothing it
    learns; a fresh name, since an ``id()`` may be reused by a later connection to another cloud).
    """
    if settings is not None:
        return f"{settings.auth_url} {settings.region_name or ''}".rstrip()
    config = getattr(connection, "config", None)
    auth = getattr(config, "auth", None)
    auth_url = auth.get("auth_url") if isinstance(auth, dict) else None
    if not isinstance(auth_url, str) or not auth_url:
        return f"connection {uuid.uuid4().hex}"
    region = getattr(config, "region_name", None)
    return f"{auth_url} {region if isinstance(region, str) else ''}".rstrip()


class _Connected:
    """An openstacksdk connection: made from settings (then owned, and closed by `close`) or given.

    The lifecycle `OpenStackClient` and `IdentityAdmin` share: repr, context manager, close.
    """

    def __init__(
        self,
        settings: OpenStackSettings | None,
        *,
        connection: openstack.connection.Connection | None,
        retry: RetryPolicy | None,
    ) -> None:
        """Keep ``connection``, or make one from ``settings``; authentication happens on the first call."""
        if settings is None and connection is None:
            raise ConfigError(f"{type(self).__name__} needs settings or a connection", system=SYSTEM)
        self._settings = settings
        self._owns_connection = connection is None
        if connection is None:
            assert settings is not None  # noqa: S101 (checked above)
            with _translate("connect"):
                connection = openstack.connection.Connection(**settings.connection_config())
        self._conn = connection
        self._retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        """Where and as whom; never the password or token."""
        name = type(self).__name__
        if self._settings is None:
            return f"{name}(connection=...)"
        s = self._settings
        if s.auth_type == "password":
            return f"{name}(auth_url={s.auth_url!r}, username={s.username!r}, project={s.project_name!r})"
        return f"{name}(auth_url={s.auth_url!r}, {s.principal})"

    def __enter__(self) -> Self:
        """Use as a context manager; the connection is closed on exit if this object made it."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close on exit."""
        self.close()

    def close(self) -> None:
        """Close the connection if this object made it."""
        if self._owns_connection:
            self._conn.close()


class OpenStackClient(_Connected):
    """A typed client for Nova, Cinder, Glance and Keystone, over openstacksdk.

    Servers boot from a new system volume that lives and dies with them; volume attach is verified on
    both sides (quirk ``openstack.cinder-attach-no-device``); transient 5xx such as Galera's WSREP are
    retried safely (``openstack.wsrep-not-ready``).

    Args:
        settings: credentials and budgets; or pass ``connection``.
        connection: an existing ``openstack.connection.Connection`` (the caller keeps ownership).
        retry: the retry policy for reads and verified creates.
        poller: when waits poll, learned per kind of wait (``create_server:ACTIVE``, ...); share one
            between clients so they learn together. Default: a new one from the settings' ``poll_*``.
        clock: monotonic seconds, for waits (tests inject a fake clock).
        sleep: how to wait between polls.
        new_marker: makes the client-side marker a create carries (tests make it deterministic).

    Example:
        >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
        >>> from cloudkit.testing.fakes import OpenStackFake
        >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
        ...         auth_url=fake.auth_url, username="portal", password="portal-pass",
        ...         project_name="alice")) as client:
        ...     sorted(image.os_distro for image in client.list_images())[-1]
        'ubuntu'
    """

    def __init__(
        self,
        settings: OpenStackSettings | None = None,
        *,
        connection: openstack.connection.Connection | None = None,
        retry: RetryPolicy | None = None,
        poller: Poller | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        new_marker: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        """Create a client; authentication happens on the first call."""
        super().__init__(settings, connection=connection, retry=retry)
        # Budgets come from the settings; a client built from a bare connection uses the defaults.
        self._waits = settings or _DEFAULT_WAITS
        w = self._waits
        self._poller = poller or Poller(
            first=w.poll_interval,
            growth=w.poll_growth,
            max_interval=w.poll_max_interval,
            tail=w.poll_tail,
            memory=w.poll_memory,
        )
        self._cloud = _cloud_of(settings, self._conn)  # what the poller learns is kept per cloud
        self._clock = clock
        self._sleep = sleep
        self._new_marker = new_marker
        self._lock = threading.Lock()
        self._system_volumes: dict[str, str] = {}  # system volume id -> its server id

    @classmethod
    def for_session(
        cls,
        session: SessionCredentials,
        *,
        settings: OpenStackSettings | None = None,
        cache: SessionAuthCache | None = None,
        **kwargs: Any,
    ) -> OpenStackClient:
        """A client acting as a portal customer, with their session's own project-scoped Keystone token.

        No rescope and no login: the first client of a session fetches the token's body with its catalog
        once (``GET /v3/auth/tokens``, the token validating itself) and hands it to keystoneauth as is, so
        no ``POST /v3/auth/tokens`` is ever sent; version discovery is kept per session too. A second
        client of the same session sends neither an identity request nor a discovery request: only its
        own calls. Both live in ``cache`` (default: one process-wide :class:`SessionAuthCache` of 128
        sessions), keyed by the session's ``jti`` and dropped at the token's expiry.

        Args:
            session: a verified :class:`cloudkit.session.Session` (anything with ``jti``,
                ``keystone_token``, ``project_id`` and ``auth_url``).
            settings: region, interface, timeouts, wait budgets and endpoint overrides (e.g. the
                platform's OpenStack settings); their credentials are not used. Default: those of the
                session's ``auth_url``.
            cache: where token bodies and discovery are kept.
            kwargs: passed to the constructor (``retry``, ``poller``, ``clock``, ``sleep``, ...).

        Raises:
            ConfigError: neither the settings nor the session say where Keystone is.
            TokenExpiredError: Keystone no longer accepts the session's token; the customer logs in again.

        Example:
            >>> from cloudkit.openstack import OpenStackClient
            >>> from cloudkit.session import SessionManager
            >>> from cloudkit.testing.fakes import BillingFake, OpenStackFake
            >>> with BillingFake() as billing, OpenStackFake() as cloud:
            ...     _ = cloud.add_user("alice", "alice-pass", project="alice")
            ...     manager = SessionManager(billing_url=billing.url, auth_url=cloud.auth_url, key=bytes(32))
            ...     session = manager.verify(manager.login("alice", "alice-pass").token)
            ...     with OpenStackClient.for_session(session) as client:
            ...         servers = client.list_servers()
            ...     manager.close()
            >>> servers, client
            ([], OpenStackClient(auth_url='http://127.0.0.1:.../v3', token of project ...))
        """
        auth_url = settings.auth_url if settings is not None else session.auth_url
        if not auth_url:
            raise ConfigError(
                "for_session needs Keystone's URL: give settings, or a session verified by a SessionManager",
                system=SYSTEM,
                operation="for_session",
            )
        retry = kwargs.get("retry") or RetryPolicy()
        auth, project_id = keystoneauth_session(
            session,
            auth_url=auth_url,
            verify=settings.tls_verify if settings is not None else True,
            timeout=settings.timeout if settings is not None else 30.0,
            cache=cache if cache is not None else DEFAULT_CACHE,
            retry=retry,
        )
        # The settings say what the client really uses: this session's token, in its project.
        base = settings or OpenStackSettings(
            auth_url=auth_url, auth_type="token", token=session.keystone_token, project_id=project_id
        )
        scoped = attrs.evolve(
            base,
            auth_type="token",
            token=session.keystone_token,
            project_id=project_id,
            username="",
            password=None,
            application_credential_id=None,
            application_credential_secret=None,
        )
        options = {
            key: value
            for key, value in scoped.connection_config().items()
            if key not in {"auth_type", "auth", "verify"}  # the keystoneauth session carries them
        }
        with _translate("connect"):
            connection = openstack.connection.Connection(session=auth, **options)
        client = cls(scoped, connection=connection, **kwargs)
        client._owns_connection = True  # made here for this client alone: closed with it
        return client

    @staticmethod
    def forget_session(jti: str, *, cache: SessionAuthCache | None = None) -> None:
        """Drop what :meth:`for_session` kept for one session (its token body and discovery), e.g. at logout.

        Args:
            jti: the session's id.
            cache: the cache given to :meth:`for_session` (default: the process-wide one).

        Example:
            >>> from cloudkit.openstack import OpenStackClient
            >>> OpenStackClient.forget_session("a-session-that-was-never-cached")
        """
        (cache if cache is not None else DEFAULT_CACHE).forget(jti)

    # ------------------------------------------------------------------------------ identity
    def token(self) -> Secret:
        """The project-scoped Keystone token this client uses (authenticating if needed).

        Raises:
            AuthenticationError: Keystone refused the credentials.
        """
        with _translate("token"):
            return Secret(str(self._conn.session.get_token()))

    def token_info(self) -> KeystoneIdentity:
        """Who this client is in Keystone: user, project, roles and expiry (its own token, validated)."""
        return self.validate_token(self.token())

    def validate_token(self, token: Secret | str) -> KeystoneIdentity:
        """Ask Keystone about a token (``GET /v3/auth/tokens``); any user may validate their own.

        Raises:
            AuthenticationError: the token is unknown, expired or revoked (Keystone's 404 or 401).
        """
        operation = "validate_token"
        subject = token if isinstance(token, Secret) else Secret(token)
        headers = {"x-subject-token": subject.get_secret_value()}

        def fetch() -> KeystoneToken:
            with _translate(operation):
                reply = self._conn.identity.get("/auth/tokens", headers=headers, raise_exc=False)
            try:
                return read_token(reply, system=SYSTEM, operation=operation, subject=subject)
            except CloudkitError as exc:
                raise scrub(exc, [subject.get_secret_value()]) from None

        try:
            validated = self._retry.call(fetch, system=SYSTEM, operation=operation)
        except NotFoundError as exc:
            raise AuthenticationError(
                "Keystone does not accept this token (unknown, expired or revoked)",
                system=SYSTEM,
                operation=operation,
                status=exc.status,
                request_id=exc.request_id,
            ) from exc
        return validated.identity

    # ------------------------------------------------------------------------------ servers
    def create_server(
        self,
        name: str,
        *,
        image: str,
        flavor: str,
        system_volume_size: int,
        networks: str | list[str] = "none",
        ports: Iterable[str] = (),
        tags: Iterable[str] = (),
        metadata: Mapping[str, str] | None = None,
        wait: float | None = None,
    ) -> Server:
        """Create a server booting from a new system volume, and wait until it is ACTIVE.

        The system volume is created from ``image`` with ``delete_on_termination``: it lives and dies with
        the server. The create carries a client-side marker; after a lost answer it is repeated only if
        no server with that marker exists (never a duplicate server).

        Nova has no idempotency key, so ``tags`` and ``metadata`` are the handles a caller finds its
        server by after a crash (``list_servers(tags=...)`` before creating again). With ``tags``, the
        read-back after a lost answer asks Nova only for servers carrying all of them (``GET
        /servers/detail?tags=...``) instead of reading every server of the project.

        Tags and metadata are checked before any request, against Nova's own rules (50 tags of 1 to 60
        characters without ``/`` or ``,``; metadata keys of 1 to 255 characters from
        ``[a-zA-Z0-9-_:. ]``, values of at most 255): a bad one is an :class:`InvalidArgumentError`, the
        ``PolicyError`` for a bad argument, because it is refused before anything is sent.

        Args:
            name: server name.
            image: Glance image id for the system volume.
            flavor: flavor id.
            system_volume_size: size of the system volume in GiB.
            networks: ``"none"``, ``"auto"`` or a list of network ids.
            ports: ids of existing ports to plug the server into (``{"port": id}``), e.g. a Tungsten
                Fabric port made beforehand; with ports, a string ``networks`` is not sent.
            tags: Nova server tags (microversion 2.52); duplicates are dropped, as Nova drops them.
            metadata: server metadata; the key ``cloudkit_request`` is cloudkit's own marker.
            wait: seconds to wait for ACTIVE (``None``: ``settings.wait_timeout``).

        Raises:
            InvalidArgumentError: empty name, ids, a size below 1, or a tag or metadata item Nova would
                refuse.
            PolicyError: ``tags`` given but the cloud's Nova is older than microversion 2.52 (it would
                refuse the create); found by version discovery, before the create is sent.
            WaitTimeoutError: not ACTIVE within ``wait``; ``last_status`` says where it stopped.
            ApiError: the server went to ERROR or the cloud refused.
        """
        operation = "create_server"
        _require(name=name, image=image, flavor=flavor, operation=operation)
        _require_size(system_volume_size, "system_volume_size", operation)
        wanted_tags = _wire.check_tags(tags, operation=operation)
        extra_metadata = _wire.check_metadata(metadata, operation=operation)
        if wanted_tags:
            self._require_microversion(_wire.TAGS_AT_CREATE, "tags at create", operation)
        marker = self._new_marker()
        nets: Any = networks if isinstance(networks, str) else [{"uuid": n} for n in networks]
        plugged = [{"port": p} for p in ports]
        if plugged:
            nets = [*([] if isinstance(networks, str) else nets), *plugged]
        tagged: dict[str, Any] = {"tags": list(wanted_tags)} if wanted_tags else {}

        def attempt() -> str:
            with _translate(operation):
                created = self._conn.compute.create_server(
                    name=name,
                    flavor_id=flavor,
                    networks=nets,
                    metadata={**extra_metadata, _wire.MARKER_KEY: marker},
                    **tagged,
                    block_device_mapping=[
                        {
                            "boot_index": 0,
                            "uuid": image,
                            "source_type": "image",
                            "destination_type": "volume",
                            "volume_size": system_volume_size,
                            "delete_on_termination": True,
                        }
                    ],
                )
            return str(created.id)

        def landed() -> str | None:
            with _translate(operation):
                # No server-side name filter: Nova reads it as a regex, other servers may not. The tags,
                # when given, narrow the read to this caller's servers; the marker decides. This read
                # happens only after a failed create.
                query: dict[str, Any] = _wire.tag_query({"tags": wanted_tags})
                found = self._conn.compute.servers(details=True, **query)
                return next((str(s.id) for s in found if _wire.has_marker(s, marker)), None)

        server_id = self._retry.call_write(attempt, landed=landed, system=SYSTEM, operation=operation)
        raw = self._wait_server_status(server_id, "ACTIVE", operation, wait)
        # A boot-from-volume server fresh from create_server has exactly one volume: its system volume.
        attached = _wire.attached_volume_ids(raw)
        system_volume = attached[0] if len(attached) == 1 else self._system_volume_of(raw, operation)
        self._remember(raw, system_volume)
        return _wire.server(raw, system_volume=system_volume, operation=operation)

    def get_server(self, server_id: str) -> Server:
        """One server, with its system volume identified.

        Raises:
            NotFoundError: no such server in this project.
        """
        operation = "get_server"
        raw = self._read(operation, lambda: self._conn.compute.get_server(server_id))
        return _wire.server(raw, system_volume=self._system_volume_of(raw, operation), operation=operation)

    def list_servers(
        self,
        *,
        tags: Iterable[str] | None = None,
        tags_any: Iterable[str] | None = None,
        not_tags: Iterable[str] | None = None,
        not_tags_any: Iterable[str] | None = None,
    ) -> list[Server]:
        """Servers of the project, each with its system volume identified, optionally filtered by tag.

        The filters are Nova's (microversion 2.26), applied by Nova: ``tags`` keeps servers with all of
        the tags, ``tags_any`` with at least one, ``not_tags`` drops servers with all of them,
        ``not_tags_any`` servers with any of them. Given together, a server must pass every filter.
        cloudkit re-checks Nova's answer exactly, because a Nova on MySQL or MariaDB compares tags
        case-insensitively (``tags=["alpha"]`` would list a server tagged ``Alpha``; quirk
        ``openstack.tag-filter-ignores-case``).

        Raises:
            InvalidArgumentError: a filter tag Nova could never store (see :meth:`create_server`).
            PolicyError: a filter is given but the cloud's Nova is older than 2.26, which would ignore
                it and list every server.

        Example:
            >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
            ...         auth_url=fake.auth_url, username="portal", password="portal-pass",
            ...         project_name="alice")) as client:
            ...     client.list_servers(tags=["saga:42"])
            []
        """
        operation = "list_servers"
        filters = {
            name: _wire.check_tags(value, name=name, operation=operation)
            for name, value in (
                ("tags", tags),
                ("tags_any", tags_any),
                ("not_tags", not_tags),
                ("not_tags_any", not_tags_any),
            )
            if value is not None
        }
        query: dict[str, Any] = _wire.tag_query(filters)
        if query:
            self._require_microversion(_wire.TAGS_IN_LISTS, "tag filters", operation)
        raws = self._read(operation, lambda: list(self._conn.compute.servers(details=True, **query)))
        if query:
            raws = _quirks.exact_tag_matches(raws, filters, operation)
        unknown = [s for s in raws if self._cached_system_volume(s) is None and _wire.attached_volume_ids(s)]
        volumes = (
            self._read(operation, lambda: list(self._conn.block_storage.volumes(details=True)))
            if unknown
            else []
        )
        result = []
        for raw in raws:
            system_volume = self._cached_system_volume(raw) or _wire.system_volume_id(raw, volumes)
            self._remember(raw, system_volume)
            result.append(_wire.server(raw, system_volume=system_volume, operation=operation))
        return result

    def delete_server(self, server_id: str, *, unlock: bool = False, wait: float | None = None) -> None:
        """Delete a server together with its system volume, and wait until both are gone.

        Nova refuses to delete a locked server (``suspend_server`` locks it) for anyone but an admin, with
        a 409 "Instance ... is locked"; the lab's real Nova 34 does. So a locked server is refused here,
        after reading it and before any change, unless ``unlock=True``: then the lock is lifted first, as
        its owner may.

        Raises:
            NotFoundError: no such server.
            PolicyError: the server is locked and ``unlock`` is False (the message names the lock's
                reason); nothing was sent but the read.
            WaitTimeoutError: the server or its system volume did not go within ``wait``.
        """
        operation = "delete_server"
        server = self.get_server(server_id)
        if server.locked and not unlock:
            raise PolicyError(
                f"server {server_id} is locked ({server.locked_reason or 'no reason given'}): resume it, "
                "or delete it with unlock=True",
                system=SYSTEM,
                operation=operation,
            )
        if server.locked:
            self._read(operation, lambda: self._conn.compute.unlock_server(server_id))
        self._read(operation, lambda: self._conn.compute.delete_server(server_id, ignore_missing=True))
        self._wait_gone(operation, lambda: self._conn.compute.get_server(server_id), wait, what="server")
        if server.system_volume_id:
            volume_id = server.system_volume_id
            # delete_on_termination removes it; a volume created otherwise is removed here once released.
            remaining = self._wait_volume_released(volume_id, operation, wait)
            if remaining is not None:
                self._read(
                    operation, lambda: self._conn.block_storage.delete_volume(volume_id, ignore_missing=True)
                )
                self._wait_gone(
                    operation, lambda: self._conn.block_storage.get_volume(volume_id), wait, what="volume"
                )
            with self._lock:
                self._system_volumes.pop(volume_id, None)

    def suspend_server(self, server_id: str, *, reason: str, wait: float | None = None) -> Server:
        """Suspend a customer's server: stop it, then lock it with ``reason``; verified by reading back.

        A locked server refuses start, stop and delete from the customer's own (non-admin) token.

        Raises:
            InvalidArgumentError: empty reason.
            SilentNoOpError: Nova accepted the lock but the server is not locked.
        """
        operation = "suspend_server"
        _require(reason=reason, operation=operation)
        server = self.get_server(server_id)
        if server.status != "SHUTOFF":
            if server.locked:
                self._read(operation, lambda: self._conn.compute.unlock_server(server_id))
            self._read(operation, lambda: self._conn.compute.stop_server(server_id))
            self._wait_server_status(server_id, "SHUTOFF", operation, wait)
        self._read(operation, lambda: self._conn.compute.lock_server(server_id, locked_reason=reason))
        server = self.get_server(server_id)
        if not server.locked:
            raise SilentNoOpError(
                f"Nova accepted the lock but server {server_id} is not locked",
                system=SYSTEM,
                operation=operation,
            )
        return server

    def resume_server(self, server_id: str, *, wait: float | None = None) -> Server:
        """Resume a suspended server: unlock it, start it and wait until ACTIVE."""
        operation = "resume_server"
        server = self.get_server(server_id)
        if server.locked:
            self._read(operation, lambda: self._conn.compute.unlock_server(server_id))
        if server.status != "ACTIVE":
            self._read(operation, lambda: self._conn.compute.start_server(server_id))
            self._wait_server_status(server_id, "ACTIVE", operation, wait)
        return self.get_server(server_id)

    # ------------------------------------------------------------------------------ volumes
    def create_volume(self, name: str, *, size: int, wait: float | None = None) -> Volume:
        """Create a volume and wait until it is available (never a duplicate, as for servers)."""
        operation = "create_volume"
        _require(name=name, operation=operation)
        _require_size(size, "size", operation)
        marker = self._new_marker()

        def attempt() -> str:
            with _translate(operation):
                created = self._conn.block_storage.create_volume(
                    name=name, size=size, metadata={_wire.MARKER_KEY: marker}
                )
            return str(created.id)

        def landed() -> str | None:
            with _translate(operation):
                # No server-side name filter: a Cinder without resource_filters.json refuses every filter
                # from a non-admin with a 400 (seen on the lab); the marker decides, after a failed create.
                found = self._conn.block_storage.volumes(details=True)
                return next((str(v.id) for v in found if _wire.has_marker(v, marker)), None)

        volume_id = self._retry.call_write(attempt, landed=landed, system=SYSTEM, operation=operation)
        return self._wait_volume_status(volume_id, "available", operation, wait)

    def get_volume(self, volume_id: str) -> Volume:
        """One volume.

        Raises:
            NotFoundError: no such volume in this project.
        """
        operation = "get_volume"
        raw = self._read(operation, lambda: self._conn.block_storage.get_volume(volume_id))
        return _wire.volume(raw, operation=operation)

    def list_volumes(self) -> list[Volume]:
        """Volumes of the project."""
        operation = "list_volumes"
        raws = self._read(operation, lambda: list(self._conn.block_storage.volumes(details=True)))
        return [_wire.volume(v, operation=operation) for v in raws]

    def delete_volume(self, volume_id: str, *, wait: float | None = None) -> None:
        """Delete a volume that is not a system volume, and wait until it is gone.

        Raises:
            SystemVolumeError: ``volume_id`` is a server's system volume (no request is sent when this
                client has seen that server; otherwise after one read and before any delete).
        """
        operation = "delete_volume"
        self._refuse_if_system_volume(volume_id, None, operation)
        raw = self._read(operation, lambda: self._conn.block_storage.get_volume(volume_id))
        for server_id in _wire.volume_server_ids(raw):
            if _wire.volume_device_on(raw, server_id) in _wire.ROOT_DEVICES:
                raise _quirks.refuse_system_volume(operation, volume_id, server_id)
        self._read(operation, lambda: self._conn.block_storage.delete_volume(volume_id, ignore_missing=False))
        self._wait_gone(
            operation, lambda: self._conn.block_storage.get_volume(volume_id), wait, what="volume"
        )

    def attach_volume(
        self,
        server_id: str,
        volume_id: str,
        *,
        strategy: AttachStrategy = AttachStrategy.NOVA,
        wait: float | None = None,
    ) -> VolumeAttachment:
        """Attach a volume to a server and verify it on both sides (Nova lists it, Cinder shows in-use).

        Args:
            server_id: the server.
            volume_id: an available volume.
            strategy: ``AttachStrategy.NOVA`` (default) or ``AttachStrategy.CINDER_THEN_NOVA``; see
                :class:`AttachStrategy` and quirk ``openstack.cinder-attach-no-device``.
            wait: seconds to wait for the attachment (``None``: ``settings.wait_timeout``).

        Raises:
            VolumeAttachError: the volume fell back to available or went to an error state.
            WaitTimeoutError: not attached within ``wait``.
        """
        operation = "attach_volume"
        _require(server_id=server_id, volume_id=volume_id, operation=operation)
        if strategy is AttachStrategy.CINDER_THEN_NOVA:
            found = self._attach_via_cinder_then_verify(server_id, volume_id, operation)
            if found is not None:
                return found
        return self._attach_via_nova(server_id, volume_id, operation, wait)

    def list_volume_attachments(self, server_id: str) -> list[VolumeAttachment]:
        """The volumes Nova lists as attached to a server (the system volume included)."""
        operation = "list_volume_attachments"
        raws = self._read(operation, lambda: list(self._conn.compute.volume_attachments(server_id)))
        return [_wire.attachment(a, operation=operation) for a in raws]

    def detach_volume(self, server_id: str, volume_id: str, *, wait: float | None = None) -> None:
        """Detach a data volume through Nova and wait until it is available again.

        Raises:
            SystemVolumeError: ``volume_id`` is the server's system volume (refused before any request
                when this client has seen the server; Nova's own 400/403 maps here too).
        """
        operation = "detach_volume"
        _require(server_id=server_id, volume_id=volume_id, operation=operation)
        self._refuse_if_system_volume(volume_id, server_id, operation)
        if volume_id not in self._system_volumes and self.get_server(server_id).system_volume_id == volume_id:
            raise _quirks.refuse_system_volume(operation, volume_id, server_id)
        with _translate(operation):
            self._conn.compute.delete_volume_attachment(server_id, volume_id, ignore_missing=False)

        def check() -> tuple[bool, None, str]:
            listed = self._nova_lists(server_id, volume_id, operation)
            volume = self.get_volume(volume_id)
            return (not listed and volume.status == "available"), None, volume.status

        self._poll(operation, check, wait)

    # ------------------------------------------------------------------------------ snapshots
    def create_snapshot(self, volume_id: str, *, name: str, wait: float | None = None) -> Snapshot:
        """Snapshot a volume and wait until the snapshot is available (never a duplicate)."""
        operation = "create_snapshot"
        _require(volume_id=volume_id, name=name, operation=operation)
        marker = self._new_marker()

        def attempt() -> str:
            with _translate(operation):
                created = self._conn.block_storage.create_snapshot(
                    volume_id=volume_id, name=name, force=True, metadata={_wire.MARKER_KEY: marker}
                )
            return str(created.id)

        def landed() -> str | None:
            with _translate(operation):
                found = self._conn.block_storage.snapshots(details=True)  # no filter: see create_volume
                return next((str(s.id) for s in found if _wire.has_marker(s, marker)), None)

        snapshot_id = self._retry.call_write(attempt, landed=landed, system=SYSTEM, operation=operation)

        def check() -> tuple[bool, Snapshot, str]:
            raw = self._read(operation, lambda: self._conn.block_storage.get_snapshot(snapshot_id))
            snap = _wire.snapshot(raw, operation=operation)
            if snap.status in _VOLUME_FAILURES:
                raise ApiError(
                    f"snapshot {snapshot_id} went to {snap.status}", system=SYSTEM, operation=operation
                )
            return snap.status == "available", snap, snap.status

        return self._poll(operation, check, wait)

    def list_snapshots(self) -> list[Snapshot]:
        """Snapshots of the project."""
        operation = "list_snapshots"
        raws = self._read(operation, lambda: list(self._conn.block_storage.snapshots(details=True)))
        return [_wire.snapshot(s, operation=operation) for s in raws]

    def delete_snapshot(self, snapshot_id: str, *, wait: float | None = None) -> None:
        """Delete a snapshot and wait until it is gone."""
        operation = "delete_snapshot"
        self._read(
            operation, lambda: self._conn.block_storage.delete_snapshot(snapshot_id, ignore_missing=False)
        )
        self._wait_gone(
            operation, lambda: self._conn.block_storage.get_snapshot(snapshot_id), wait, what="snapshot"
        )

    # ------------------------------------------------------------------------------ images, flavors
    def list_images(self) -> list[Image]:
        """Images visible to the project, every page read (Glance's ``next`` links followed)."""
        operation = "list_images"
        raws = self._read(operation, lambda: list(self._conn.image.images()))
        return [_wire.image(i, operation=operation) for i in raws]

    def get_image(self, image_id: str) -> Image:
        """One image with its OS metadata."""
        operation = "get_image"
        return _wire.image(
            self._read(operation, lambda: self._conn.image.get_image(image_id)), operation=operation
        )

    def list_flavors(self) -> list[Flavor]:
        """Flavors visible to the project."""
        operation = "list_flavors"
        raws = self._read(operation, lambda: list(self._conn.compute.flavors(details=True)))
        return [_wire.flavor(f, operation=operation) for f in raws]

    def get_flavor(self, flavor_id: str) -> Flavor:
        """One flavor."""
        operation = "get_flavor"
        return _wire.flavor(
            self._read(operation, lambda: self._conn.compute.get_flavor(flavor_id)), operation=operation
        )

    # ------------------------------------------------------------------------------ keypairs
    def list_keypairs(self) -> list[Keypair]:
        """The user's keypairs (Nova keypairs belong to the user, in every project), without private keys.

        Example:
            >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
            ...         auth_url=fake.auth_url, username="portal", password="portal-pass",
            ...         project_name="alice")) as client:
            ...     client.list_keypairs()
            []
        """
        operation = "list_keypairs"
        raws = self._read_parsed(operation, lambda: list(self._conn.compute.keypairs()))
        return [_wire.keypair(k, operation=operation) for k in raws]

    def create_keypair(self, name: str, *, public_key: str | None = None) -> Keypair:
        """Import ``public_key`` as keypair ``name``; without one, Nova generates the pair.

        A generated pair's private key is in the answer's ``private_key`` (a :class:`Secret`), this once:
        Nova keeps only the public half. openstacksdk asks Nova for keypairs at microversion 2.10, where
        Nova still generates keys (2.92 stopped that).

        An import repeated after a lost answer is not sent twice: the read-back finds the key. A
        generation is sent once and never repeated, because a repeat could not return the first private
        key; after a lost answer, delete the pair and create it again.

        Args:
            name: 1 to 255 of ``a-z A-Z 0-9 _ - space``.
            public_key: one OpenSSH public key line (``ssh-ed25519 AAAA... comment``).

        Raises:
            InvalidArgumentError: a bad name or public key (a private key is refused, and never shown),
                before any request.
            ConflictError: the user already has a keypair of that name.

        Example:
            >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
            ...         auth_url=fake.auth_url, username="portal", password="portal-pass",
            ...         project_name="alice")) as client:
            ...     pair = client.create_keypair("laptop")
            ...     client.delete_keypair("laptop")
            >>> pair.name, pair.private_key, pair.private_key.get_secret_value().startswith("-----BEGIN")
            ('laptop', Secret('***'), True)
        """
        operation = "create_keypair"
        _wire.check_keypair_name(name, operation=operation)
        if public_key is None:
            with _translate(operation):
                created = self._conn.compute.create_keypair(name=name)
            return _wire.keypair(created, operation=operation)
        key = _wire.check_public_key(public_key, operation=operation)

        def attempt() -> Any:
            with _translate(operation):
                return self._conn.compute.create_keypair(name=name, public_key=key)

        def landed() -> Any | None:
            try:
                found = self._read(operation, lambda: self._conn.compute.get_keypair(name))
            except NotFoundError:
                return None
            return found if str(getattr(found, "public_key", "") or "").strip() == key else None

        created = self._retry.call_write(attempt, landed=landed, system=SYSTEM, operation=operation)
        return _wire.keypair(created, operation=operation)

    def delete_keypair(self, name: str) -> None:
        """Delete one of the user's keypairs (servers booted with it keep the key they got).

        Raises:
            InvalidArgumentError: a name Nova could never have stored, before any request.
            NotFoundError: the user has no keypair of that name.

        Example:
            >>> from cloudkit.errors import NotFoundError
            >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
            ...         auth_url=fake.auth_url, username="portal", password="portal-pass",
            ...         project_name="alice")) as client:
            ...     try:
            ...         client.delete_keypair("never-made")
            ...     except NotFoundError as exc:
            ...         print(exc.status)
            404
        """
        operation = "delete_keypair"
        _wire.check_keypair_name(name, operation=operation)
        self._read(operation, lambda: self._conn.compute.delete_keypair(name, ignore_missing=False))

    # ------------------------------------------------------------------------------ limits, zones
    def compute_limits(self) -> ComputeLimits:
        """The project's compute quotas and their use: instances, cores, RAM (Nova's ``GET /limits``).

        Example:
            >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
            ...         auth_url=fake.auth_url, username="portal", password="portal-pass",
            ...         project_name="alice")) as client:
            ...     limits = client.compute_limits()
            >>> limits.instances.used, limits.instances.left == limits.instances.limit
            (0, True)
        """
        operation = "compute_limits"
        raw = self._read_parsed(operation, self._conn.compute.get_limits)
        return _wire.compute_limits(raw, operation=operation)

    def volume_limits(self) -> VolumeLimits:
        """The project's block-storage quotas and their use: volumes, gigabytes, snapshots (Cinder's
        ``GET /limits``).

        Example:
            >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
            ...         auth_url=fake.auth_url, username="portal", password="portal-pass",
            ...         project_name="alice")) as client:
            ...     limits = client.volume_limits()
            >>> limits.volumes.used, limits.gigabytes.used
            (0, 0)
        """  # noqa: D205 (two-line summary)
        operation = "volume_limits"
        raw = self._read_parsed(operation, self._conn.block_storage.get_limits)
        return _wire.volume_limits(raw, operation=operation)

    def placement_capacity(self) -> list[AggregateCapacity]:
        """Free and used vCPU, RAM and disk per host aggregate, from Placement (admin only).

        Reads every resource provider's inventories, usages and aggregates (microversion 1.19) and sums
        them per aggregate; capacity is Placement's ``(total - reserved) * allocation_ratio``. Aggregates
        are named as Nova names them (``os-aggregates``, when readable).

        Raises:
            PermissionDeniedError: the identity is not an admin (Placement's default policy).

        Example:
            >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
            ...         auth_url=fake.auth_url, username="admin", password="secret",
            ...         project_name="admin")) as client:
            ...     (everything,) = client.placement_capacity()
            >>> everything.label, everything.providers, everything.resource("VCPU").capacity
            ('(no aggregate)', ('fake-compute-1',), 256)
        """
        operation = "placement_capacity"
        providers = []
        listed = self._placement_get("/resource_providers", operation)
        for uuid_, name in _placement.providers_of(listed, operation=operation):
            base = f"/resource_providers/{uuid_}"
            providers.append(
                _placement.Provider(
                    uuid=uuid_,
                    name=name,
                    inventories=_placement.inventories_of(
                        self._placement_get(f"{base}/inventories", operation), operation=operation
                    ),
                    usages=_placement.usages_of(
                        self._placement_get(f"{base}/usages", operation), operation=operation
                    ),
                    aggregates=_placement.aggregates_of(
                        self._placement_get(f"{base}/aggregates", operation), operation=operation
                    ),
                )
            )
        return _placement.by_aggregate(providers, self._aggregate_names(operation))

    def build_failures(self, *, since: dt.datetime) -> list[BuildFailure]:
        """Servers of every project whose build failed with a fault at or after ``since`` (admin only).

        Lists ``servers/detail?all_tenants=1&status=ERROR&changes-since=<since>`` and keeps those whose
        fault was created since then (the scheduler's refusals say "No valid host was found": quirk
        ``openstack.capacity``).

        Raises:
            InvalidArgumentError: ``since`` has no time zone.
            PermissionDeniedError: the identity is not an admin (Nova's ``all_tenants`` policy).

        Example:
            >>> import datetime as dt
            >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
            ...         auth_url=fake.auth_url, username="admin", password="secret",
            ...         project_name="admin")) as client:
            ...     client.build_failures(since=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            []
        """
        operation = "build_failures"
        if since.tzinfo is None:
            raise InvalidArgumentError("since must carry a time zone", system=SYSTEM, operation=operation)
        stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raws = self._read(
            operation,
            lambda: list(
                self._conn.compute.servers(
                    details=True, all_projects=True, status="ERROR", changes_since=stamp
                )
            ),
        )
        return _placement.build_failures((_wire.failure_view(r) for r in raws), since=since)

    def _placement_get(self, path: str, operation: str) -> Any:
        """One Placement read at :data:`_placement.PLACEMENT_MICROVERSION`, through the retry policy."""

        def once() -> Any:
            with _translate(operation):
                response = self._conn.placement.get(
                    path, microversion=_placement.PLACEMENT_MICROVERSION, raise_exc=False
                )
            if response.status_code >= 400:  # noqa: PLR2004
                raise _http_error(
                    response.status_code,
                    response.text,
                    response.headers.get("x-openstack-request-id"),
                    response,
                    operation,
                )
            body = _json_body(response)
            if body is None:
                raise ResponseDecodeError(
                    "Placement answered without JSON",
                    problems=("$: not JSON",),
                    system=SYSTEM,
                    operation=operation,
                )
            return body

        return self._retry.call(once, system=SYSTEM, operation=operation)

    def _aggregate_names(self, operation: str) -> dict[str, str]:
        """Nova's aggregate names by uuid (microversion 2.41+); empty when Nova will not say."""
        try:
            raws = self._read(operation, lambda: list(self._conn.compute.aggregates()))
        except CloudkitError as exc:
            log.info("openstack %s: aggregate names not readable (%s)", operation, exc.message)
            return {}
        return _wire.aggregate_names(raws)

    def list_availability_zones(self, service: Literal["compute", "volume"] = "compute") -> list[str]:
        """The names of the available zones of Nova (``"compute"``) or Cinder (``"volume"``).

        Zones the service reports unavailable are left out, and so is Nova's ``internal`` zone, which only
        an admin's detailed list shows.

        Raises:
            InvalidArgumentError: ``service`` is neither ``"compute"`` nor ``"volume"``.

        Example:
            >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
            ...         auth_url=fake.auth_url, username="portal", password="portal-pass",
            ...         project_name="alice")) as client:
            ...     client.list_availability_zones(), client.list_availability_zones("volume")
            (['nova'], ['nova'])
        """
        operation = "list_availability_zones"
        raws: list[Any]
        if service == "compute":
            raws = self._read_parsed(operation, lambda: list(self._conn.compute.availability_zones()))
        elif service == "volume":
            volume: Any = self._conn.block_storage  # v3 (the only Cinder API openstacksdk is given here)
            raws = self._read_parsed(operation, lambda: list(volume.availability_zones()))
        else:
            raise InvalidArgumentError(
                f"service must be 'compute' or 'volume', not {str(service)[:40]!r}",
                system=SYSTEM,
                operation=operation,
            )
        return _wire.available_zones(raws, operation=operation)

    # ------------------------------------------------------------------------------ console
    def console_output(self, server_id: str, *, length: int | None = None) -> str:
        """The server's console log (Nova's ``os-getConsoleOutput``): the last ``length`` lines, or all.

        Raises:
            InvalidArgumentError: an empty server id, or ``length`` not an int >= 0, before any request.
            NotFoundError: no such server in this project.
            ConflictError: Nova cannot read the console of the server in its state.

        Example:
            >>> from cloudkit.errors import InvalidArgumentError
            >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
            ...         auth_url=fake.auth_url, username="portal", password="portal-pass",
            ...         project_name="alice")) as client:
            ...     try:
            ...         client.console_output("any-server", length=-1)
            ...     except InvalidArgumentError as exc:
            ...         print(exc)
            length must be an int >= 0 (lines), or None for the whole log [openstack console_output]
        """
        operation = "console_output"
        _require(server_id=server_id, operation=operation)
        if length is not None and not _is_count(length):
            raise InvalidArgumentError(
                "length must be an int >= 0 (lines), or None for the whole log",
                system=SYSTEM,
                operation=operation,
            )
        body = self._read(
            operation, lambda: self._conn.compute.get_server_console_output(server_id, length=length)
        )
        return _wire.console_output(body, operation=operation)

    # ------------------------------------------------------------------------------ image upload
    def upload_image(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        disk_format: str = "qcow2",
        container_format: str = "bare",
        min_disk: int = 0,
        progress: ProgressCallback | None = None,
        wait: float | None = None,
    ) -> Image:
        """Create a private image from a local file: the image record, then its data streamed from disk.

        The data goes in one ``PUT /v2/images/{id}/file``, read from the file in chunks (the file is never
        held in memory whole), with ``Content-Type: application/octet-stream`` (quirk
        ``openstack.glance-upload-octet-stream``). ``progress(sent_bytes, total_bytes)`` is called with
        ``0`` first and after each chunk; an upload repeated after a transient failure starts again at 0.

        The create carries a client-side marker (an image property) and is repeated only when a read-back
        shows the first attempt did not land; the upload is repeated only when Glance does not show the
        data stored. Then it waits until the image is ``active`` and checks that Glance stored as many
        bytes as the file holds. All or nothing: when anything after the create fails (or the upload is
        cancelled), the image record is deleted before the error is raised.

        Args:
            name: the image's name (1 to 255 characters).
            path: a regular, readable, non-empty file.
            disk_format: Glance's disk format (``qcow2``, ``raw``, ``iso``, ...).
            container_format: Glance's container format (``bare`` for a plain disk image).
            min_disk: the smallest disk, in GiB, a server booting from the image needs.
            progress: called as ``progress(sent_bytes, total_bytes)`` while the data is sent.
            wait: seconds to wait for ``active`` after the data is sent (``None``: ``settings.wait_timeout``).

        Raises:
            InvalidArgumentError: a bad name, format or ``min_disk``; a missing, unreadable, empty or
                non-regular file; all before any request.
            ApiError: Glance refused (a quota, a format the cloud does not take) or the image went to
                ``killed``.
            SilentNoOpError: Glance answered the upload with success but the image is still ``queued``.
            OutcomeError: Glance stored a different number of bytes than the file holds.
            WaitTimeoutError: not ``active`` within ``wait``.

        Example:
            >>> import pathlib, tempfile
            >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> disk = pathlib.Path(tempfile.mkdtemp()) / "tiny.raw"
            >>> _ = disk.write_bytes(b"x" * 3000)
            >>> seen = []
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(
            ...         auth_url=fake.auth_url, username="portal", password="portal-pass",
            ...         project_name="alice")) as client:
            ...     image = client.upload_image("tiny", disk, disk_format="raw",
            ...                                 progress=lambda sent, total: seen.append((sent, total)))
            >>> image.name, image.status, seen[0], seen[-1]
            ('tiny', 'active', (0, 3000), (3000, 3000))
        """
        operation = "upload_image"
        _wire.check_image_spec(name, disk_format, container_format, min_disk, operation=operation)
        if progress is not None and not callable(progress):
            raise InvalidArgumentError("progress must be callable", system=SYSTEM, operation=operation)
        file = _readable_file(path, operation)
        total = file.stat().st_size
        budget = self._budget(wait)
        marker = self._new_marker()

        def create() -> str:
            with _translate(operation):
                spec = _sdk_image.Image.new(
                    name=name,
                    disk_format=disk_format,
                    container_format=container_format,
                    min_disk=min_disk,
                    visibility="private",
                    **{_wire.MARKER_KEY: marker},
                )
                return str(spec.create(self._conn.image).id)

        def created() -> str | None:
            with _translate(operation):
                # Read only after a failed create; the marker, an extra property, decides.
                found = self._conn.image.images()
                return next((str(i.id) for i in found if _wire.image_has_marker(i, marker)), None)

        image_id = self._retry.call_write(create, landed=created, system=SYSTEM, operation=operation)
        try:
            self._upload_data(image_id, file, total, progress, operation)
            return self._wait_image_stored(image_id, total, budget, operation)
        except BaseException:  # a cancelled upload too (Ctrl-C, a progress callback that raises)
            # All or nothing: the caller never learns this image's id, so nothing may be left behind.
            with contextlib.suppress(CloudkitError):  # the upload's own error is the one to see
                self._read(operation, lambda: self._conn.image.delete_image(image_id, ignore_missing=True))
            raise

    def _wait_image_stored(self, image_id: str, total: int, budget: float, operation: str) -> Image:
        """Poll until the image is ``active``; then Glance must hold as many bytes as were sent."""

        def check() -> tuple[bool, Any, str]:
            raw = self._read(operation, lambda: self._conn.image.get_image(image_id))
            status = str(getattr(raw, "status", "") or "unknown").lower()
            if status in _IMAGE_FAILURES:
                raise ApiError(f"image {image_id} went to {status}", system=SYSTEM, operation=operation)
            if status == "queued":  # back where it was before the data: Glance stored nothing
                raise SilentNoOpError(
                    f"Glance accepted the data of image {image_id} but holds none (still queued)",
                    system=SYSTEM,
                    operation=operation,
                )
            return status == "active", raw, status

        raw = self._poll(operation, check, budget)
        stored = _wire.image_size(raw)
        if stored is not None and stored != total:
            raise OutcomeError(
                f"Glance stored {stored} bytes of image {image_id}; the file holds {total}",
                system=SYSTEM,
                operation=operation,
            )
        return _wire.image(raw, operation=operation)

    def _upload_data(
        self, image_id: str, file: Path, total: int, progress: ProgressCallback | None, operation: str
    ) -> None:
        """``PUT /images/{id}/file`` streaming ``file``; repeated only when Glance shows no data stored."""

        def attempt() -> bool:
            with _translate(operation), file.open("rb") as handle:
                response = self._conn.image.put(
                    f"/images/{image_id}/file",
                    data=_ProgressReader(handle, total, progress),
                    headers=_quirks.upload_headers(total),
                    raise_exc=False,
                )
                os_exc.raise_from_response(response)
            return True

        def stored() -> bool | None:
            raw = self._read(operation, lambda: self._conn.image.get_image(image_id))
            status = str(getattr(raw, "status", "") or "").lower()
            return True if status == "active" and _wire.image_size(raw) == total else None

        self._retry.call_write(attempt, landed=stored, system=SYSTEM, operation=operation)

    # ------------------------------------------------------------------------------ internals
    def _require_microversion(self, minimum: tuple[int, int], what: str, operation: str) -> None:
        """Refuse, before the call, what the compute microversion openstacksdk will send cannot carry."""
        with _translate(operation):
            # The version openstacksdk sends for servers: a pinned default, else min(SDK max, Nova max)
            # from version discovery (cached by the session; the first compute call reads it anyway).
            version = _sdk_server.Server._get_microversion(self._conn.compute)  # noqa: SLF001
        found = _wire.parse_microversion(version)
        if found is None or found < minimum:
            need = "{}.{}".format(*minimum)
            raise PolicyError(
                f"{what} need compute microversion {need}; this cloud's Nova offers {version or 'none'}",
                system=SYSTEM,
                operation=operation,
            )

    def _read(self, operation: str, fn: Callable[[], T]) -> T:
        """An idempotent SDK call: translated errors, retried by the policy."""

        def call() -> T:
            with _translate(operation):
                return fn()

        return self._retry.call(call, system=SYSTEM, operation=operation)

    def _read_parsed(self, operation: str, fn: Callable[[], T]) -> T:
        """:meth:`_read` of a call whose answer openstacksdk converts into typed fields (`_sdk_parsed`)."""
        return self._read(operation, lambda: _sdk_parsed(operation, fn))

    def _budget(self, wait: float | None) -> float:
        if wait is None:
            return self._waits.wait_timeout
        if wait < 0:
            raise InvalidArgumentError("wait must be >= 0", system=SYSTEM)
        return wait

    def _poll(
        self,
        operation: str,
        check: Callable[[], tuple[bool, T, str]],
        wait: float | None,
        *,
        kind: str | None = None,
        plan: Iterable[float] | None = None,
    ) -> T:
        """Call ``check`` until it reports done, on the poller's schedule for ``kind``, within the budget."""
        return self._poller.until(
            check,
            kind=kind or operation,
            where=self._cloud,
            budget=self._budget(wait),
            clock=self._clock,
            sleep=self._sleep,
            system=SYSTEM,
            operation=operation,
            plan=plan,
        )

    def _wait_server_status(self, server_id: str, target: str, operation: str, wait: float | None) -> Any:
        """Poll until the server reaches ``target`` with no task in progress; the last SDK server read."""

        def check() -> tuple[bool, Any, str]:
            raw = self._read(operation, lambda: self._conn.compute.get_server(server_id))
            status = str(getattr(raw, "status", "") or "UNKNOWN").upper()
            if status == "ERROR":
                fault = getattr(raw, "fault", None) or {}
                message = fault.get("message", "") if isinstance(fault, dict) else ""
                raise ApiError(
                    f"server {server_id} went to ERROR {message}".strip(), system=SYSTEM, operation=operation
                )
            return status == target and not getattr(raw, "task_state", None), raw, status

        return self._poll(operation, check, wait, kind=f"{operation}:{target}")

    def _wait_volume_status(self, volume_id: str, target: str, operation: str, wait: float | None) -> Volume:
        def check() -> tuple[bool, Volume, str]:
            volume = self.get_volume(volume_id)
            if volume.status in _VOLUME_FAILURES:
                raise ApiError(
                    f"volume {volume_id} went to {volume.status}", system=SYSTEM, operation=operation
                )
            return volume.status == target, volume, volume.status

        return self._poll(operation, check, wait, kind=f"{operation}:{target}")

    def _wait_gone(self, operation: str, fetch: Callable[[], Any], wait: float | None, *, what: str) -> None:
        def check() -> tuple[bool, None, str]:
            try:
                raw = self._read(operation, fetch)
            except NotFoundError:
                return True, None, "gone"
            status = str(getattr(raw, "status", "") or "unknown")
            # SOFT_DELETED stays until Nova reclaims it (reclaim_instance_interval): gone for a portal.
            # DELETED is not yet gone: Nova answers it for the moment between the instance's vm_state
            # becoming deleted and its row being deleted, while server lists still show it (seen on the
            # lab's real Nova: a list right after a DELETED answer still held the server).
            if status.lower() == "soft_deleted":
                return True, None, status
            if status.lower() in _VOLUME_FAILURES or status == "ERROR":
                raise ApiError(f"{what} went to {status} while deleting", system=SYSTEM, operation=operation)
            return False, None, status

        self._poll(operation, check, wait, kind=f"{operation}:{what} gone")

    def _wait_volume_released(self, volume_id: str, operation: str, wait: float | None) -> Volume | None:
        """After its server is deleted: ``None`` once the volume is gone, or the volume once available."""

        def check() -> tuple[bool, Volume | None, str]:
            try:
                volume = self.get_volume(volume_id)
            except NotFoundError:
                return True, None, "gone"
            return volume.status == "available", volume, volume.status

        return self._poll(operation, check, wait, kind=f"{operation}:volume released")

    def _nova_lists(self, server_id: str, volume_id: str, operation: str) -> bool:
        attachments = self._read(operation, lambda: list(self._conn.compute.volume_attachments(server_id)))
        return any(str(getattr(a, "volume_id", "")) == volume_id for a in attachments)

    def _attach_via_nova(
        self, server_id: str, volume_id: str, operation: str, wait: float | None
    ) -> VolumeAttachment:
        def attempt() -> bool:
            with _translate(operation):
                self._conn.compute.create_volume_attachment(server_id, volume_id)
            return True

        def landed() -> bool | None:
            return True if self._nova_lists(server_id, volume_id, operation) else None

        self._retry.call_write(attempt, landed=landed, system=SYSTEM, operation=operation)
        left_available = False

        def check() -> tuple[bool, VolumeAttachment, str]:
            nonlocal left_available
            raw = self._read(operation, lambda: self._conn.block_storage.get_volume(volume_id))
            volume = _wire.volume(raw, operation=operation)
            if volume.status in _VOLUME_FAILURES:
                raise VolumeAttachError(
                    f"volume {volume_id} went to {volume.status} while attaching",
                    system=SYSTEM,
                    operation=operation,
                    quirk=_quirks.CINDER_ATTACH_NO_DEVICE.id,
                )
            if volume.status != "available":
                left_available = True
            elif left_available:
                raise VolumeAttachError(
                    f"volume {volume_id} fell back to available: the attach to {server_id} failed",
                    system=SYSTEM,
                    operation=operation,
                    quirk=_quirks.CINDER_ATTACH_NO_DEVICE.id,
                )
            # Nova's list is read only once Cinder shows the volume in use here: one read per poll until then.
            cinder_done = volume.status == "in-use" and server_id in volume.server_ids
            done = cinder_done and self._nova_lists(server_id, volume_id, operation)
            device = _wire.volume_device_on(raw, server_id)
            return (
                done,
                VolumeAttachment(server_id=server_id, volume_id=volume_id, device=device),
                volume.status,
            )

        return self._poll(operation, check, wait)

    def _attach_via_cinder_then_verify(
        self, server_id: str, volume_id: str, operation: str
    ) -> VolumeAttachment | None:
        """Cinder's os-attach, then Nova must list the disk within the verify budget; else undo it."""
        with _translate(operation):
            self._conn.block_storage.attach_volume(volume_id, _CINDER_MOUNTPOINT, instance=server_id)
        verify = self._waits.cinder_attach_verify_seconds
        # A grace period that usually runs out (the quirk): plain doubling gaps, nothing to learn from.
        grace = Poller.doubling(self._waits.poll_interval, self._waits.poll_max_interval)

        def check() -> tuple[bool, bool, str]:
            return self._nova_lists(server_id, volume_id, operation), True, "not listed by Nova"

        try:
            self._poll(operation, check, verify, plan=grace)
        except WaitTimeoutError:
            _quirks.cinder_attach_not_seen(server_id, volume_id)
            self._undo_cinder_attach(server_id, volume_id, operation)
            return None
        raw = self._read(operation, lambda: self._conn.block_storage.get_volume(volume_id))
        return VolumeAttachment(
            server_id=server_id, volume_id=volume_id, device=_wire.volume_device_on(raw, server_id)
        )

    def _undo_cinder_attach(self, server_id: str, volume_id: str, operation: str) -> None:
        raw = self._read(operation, lambda: self._conn.block_storage.get_volume(volume_id))
        attachment_id = _wire.volume_attachment_id_on(raw, server_id)
        if attachment_id is not None:
            with _translate(operation):
                self._conn.block_storage.detach_volume(volume_id, attachment_id)
        self._wait_volume_status(volume_id, "available", operation, None)

    def _cached_system_volume(self, raw: Any) -> str | None:
        attached = _wire.attached_volume_ids(raw)
        with self._lock:
            return next((v for v in attached if self._system_volumes.get(v) == raw.id), None)

    def _remember(self, raw: Any, system_volume: str | None) -> None:
        if system_volume:
            with self._lock:
                self._system_volumes[system_volume] = str(raw.id)

    def _system_volume_of(self, raw: Any, operation: str) -> str | None:
        cached = self._cached_system_volume(raw)
        if cached is not None:
            return cached
        attached = _wire.attached_volume_ids(raw)
        volumes = [self._fetch_volume(volume_id, operation) for volume_id in attached]
        system_volume = _wire.system_volume_id(raw, volumes)
        self._remember(raw, system_volume)
        return system_volume

    def _fetch_volume(self, volume_id: str, operation: str) -> Any:
        return self._read(operation, lambda: self._conn.block_storage.get_volume(volume_id))

    def _refuse_if_system_volume(self, volume_id: str, server_id: str | None, operation: str) -> None:
        with self._lock:
            owner = self._system_volumes.get(volume_id)
        if owner is not None and (server_id is None or owner == server_id):
            raise _quirks.refuse_system_volume(operation, volume_id, owner)


class _ProgressReader:
    """A file handed to requests as a body: read in chunks, reporting progress; its length is the size.

    ``__len__`` makes requests send ``Content-Length`` (not chunked transfer encoding, which not every
    WSGI server in front of Glance takes); http.client then calls ``read`` block by block.
    """

    def __init__(self, handle: IO[bytes], total: int, progress: ProgressCallback | None) -> None:
        self._handle = handle
        self._total = total
        self._sent = 0
        self._progress = progress
        self._report()

    def __len__(self) -> int:
        return self._total

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:  # "all of it" (vcrpy asks so when recording): still chunk by chunk
            chunks = []
            while chunk := self._handle.read(_UPLOAD_CHUNK):
                chunks.append(chunk)
                self._advance(len(chunk))
            return b"".join(chunks)
        chunk = self._handle.read(min(size, _UPLOAD_CHUNK))
        self._advance(len(chunk))
        return chunk

    def _advance(self, count: int) -> None:
        if count:
            self._sent += count
            self._report()

    def _report(self) -> None:
        if self._progress is not None:
            self._progress(self._sent, self._total)


def _readable_file(path: object, operation: str) -> Path:
    """``path`` as a regular, readable, non-empty file, or an InvalidArgumentError naming what is wrong."""
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise InvalidArgumentError("path must be a file path", system=SYSTEM, operation=operation)
    file = Path(path)
    try:
        info = file.stat()
        if not stat.S_ISREG(info.st_mode):
            raise InvalidArgumentError(f"{file} is not a regular file", system=SYSTEM, operation=operation)
        with file.open("rb"):
            pass
    except FileNotFoundError:
        raise InvalidArgumentError(f"no such file: {file}", system=SYSTEM, operation=operation) from None
    except OSError as exc:
        raise InvalidArgumentError(
            f"cannot read {file}: {exc.strerror or type(exc).__name__}", system=SYSTEM, operation=operation
        ) from None
    if info.st_size == 0:
        raise InvalidArgumentError(f"{file} is empty: no image to upload", system=SYSTEM, operation=operation)
    return file


def _sdk_parsed(operation: str, fn: Callable[[], T]) -> T:
    """``fn()``, an openstacksdk call that builds resources from an answer; a value its typed fields
    cannot convert (``int("x")``, ``int(inf)``, ``dict("x")``) is a :class:`ResponseDecodeError`.
    """  # noqa: D205 (two-line summary)
    try:
        return fn()
    except (CloudkitError, requests.RequestException, ks_exc.ClientException, os_exc.SDKException):
        raise  # requests' InvalidURL is a ValueError too: errors of the call stay what they are
    except (ValueError, TypeError, OverflowError) as exc:
        raise ResponseDecodeError(
            f"openstack {operation} reply has a value openstacksdk cannot convert",
            problems=(f"$: {type(exc).__name__}: {str(exc)[:120]}",),
            system=SYSTEM,
            operation=operation,
        ) from None


def _is_count(value: object) -> bool:
    """Whether ``value`` is an int >= 0 (a bool is not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _require_size(value: object, name: str, operation: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{name} must be an int >= 1 (GiB)", system=SYSTEM, operation=operation)


def _require(*, operation: str, **fields: object) -> None:
    for name, value in fields.items():
        if not isinstance(value, str) or not value.strip():
            raise InvalidArgumentError(
                f"{name} must be a non-empty string", system=SYSTEM, operation=operation
            )
