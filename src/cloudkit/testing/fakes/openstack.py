"""A stateful OpenStack (Keystone, Nova, Cinder, Glance) on loopback that openstacksdk talks to unchanged.

`OpenStackFake` serves subsets of Keystone v3, Nova (compute v2.1 with microversions), Cinder
(block-storage v3) and Glance (image v2) from one HTTP server, following the wire facts of
``research/openstack.md`` (the shared reference): JSON shapes, status codes, fault envelopes
(``{"badRequest": {...}}``, Keystone's ``{"error": {...}}``), ``x-openstack-request-id`` on every
answer. A token's catalog points every service at this same server::

    /identity            Keystone version list (300)     /identity/v3          Keystone v3
    /compute             Nova version list               /compute/v2.1         Nova v2.1
    /volume              Cinder version list (300)       /volume/v3/{project}  Cinder v3
    /image               Glance version list (300)       /image/v2             Glance v2

It reproduces the upstream behaviour cloudkit exists to handle: Cinder's ``os-attach`` only writes
Cinder's records (Nova never lists the volume) unless ``cinder_attach_reaches_guest=True``; the root
volume of a server cannot be detached (400); a locked server refuses a non-admin with 409; a
password change revokes every token of the user, including one issued in the same second after it.
Faults (5xx answers, the Galera ``WSREP`` 500, dropped connections, effects without an answer, held
answers) are injected per request. Status transitions (``BUILD`` → ``ACTIVE``, ``attaching`` →
``in-use``, ...) complete ``transition_seconds`` after they start on the fake's clock, at the first
request or state peek that comes later. Guesses where the reference is silent are marked
``# assumption:``.

Example:
    >>> import httpx
    >>> with OpenStackFake() as fake, httpx.Client(trust_env=False) as http:
    ...     reply = http.post(f"{fake.auth_url}/auth/tokens", json=fake.portal.token_request())
    >>> reply.status_code, reply.json()["token"]["project"]["name"]
    (201, 'alice')
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http
import json
import math
import re
import secrets
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast
from urllib.parse import parse_qs, urlencode, urlsplit

from cloudkit.testing.fakes._loopback import LoopbackServer, LoopbackService, QuietHandler, SlowGate

__all__ = [
    "FakeCredentials",
    "FakeServer",
    "FakeSnapshot",
    "FakeVolume",
    "FakeVolumeAttachment",
    "Fault",
    "OpenStackCall",
    "OpenStackFake",
    "OpenStackFault",
    "OpenStackFaultKind",
    "RecordedCall",
    "ServiceName",
]

_Json = dict[str, Any]
_T = TypeVar("_T")
ServiceName = Literal["identity", "compute", "volume", "image", "other"]
OpenStackFaultKind = Literal["server_error", "wsrep", "drop_connection", "drop_after_effect", "slow"]
_Envelope = Literal["keystone", "nova", "glance", "plain"]

_NAMESPACE = uuid.UUID("9a0f3a4e-5c1b-4e0e-9a55-0c5d1e2b7f10")  # seeds get uuid5 ids in it: fixed
_DOMAIN = {"id": "default", "name": "Default"}
_REGION = "RegionOne"
_GIB = 1024**3
_COMPUTE_MIN = (2, 1)
_VOLUME_MIN, _VOLUME_MAX = (3, 0), (3, 71)  # Cinder's maximum at the reference's snapshot
_GLANCE_LIMIT_DEFAULT, _GLANCE_LIMIT_MAX = 25, 1000
_GLANCE_NEWEST_MINOR = 17  # assumption: Glance 33 lists v2.0 ... v2.17, the newest CURRENT
_ROLE_NAMES = ("admin", "member", "reader", "service")
_IMPLIED = {"admin": ("member", "reader"), "member": ("reader",)}  # keystone-manage bootstrap's chain
_SECRET_HEADERS = frozenset({"x-auth-token", "x-subject-token", "x-service-token"})
_SECRET_KEYS = frozenset({"password", "original_password", "adminPass", "secret", "token"})
_POWER_RUNNING, _POWER_SHUTDOWN, _POWER_NOSTATE = 1, 4, 0
_STATUS_GOOD = 200
_STATUS_MULTIPLE = 300

# Nova and Cinder name their fault envelope after the status (nova/api/openstack/wsgi.py Fault).
_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}
_UNAUTHORIZED = "The request you have made requires authentication."
_NOVA_DB_ERROR = (
    "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API "
    "log if possible.\n<class 'oslo_db.exception.DBConnectionError'>"
)
# assumption: the text a service shows when it echoes the DB exception (reference §6: only some do).
_WSREP_ECHO = "(pymysql.err.OperationalError) (1047, 'WSREP has not yet prepared node for application use')"
# assumption: Cinder's FaultWrapper answers an unexpected error with webob's generic explanation.
_CINDER_500 = "The server has either erred or is incapable of performing the requested operation."
_KEYSTONE_500 = "An unexpected error prevented the server from fulfilling your request."
_VOLUME_DELETE_REFUSED = (
    "Invalid volume: Volume status must be available or error or error_restoring or error_extending or "
    "error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a "
    "transfer, or be disassociated from snapshots after volume transfer."
)
_DELETABLE_VOLUME = frozenset({"available", "error", "error_restoring", "error_extending", "error_managing"})


def _uuid5(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


def _hex5(name: str) -> str:
    return uuid.uuid5(_NAMESPACE, name).hex


# ================================================================================== public records
@dataclass(frozen=True, slots=True)
class OpenStackCall:
    """One request the fake received; token headers and passwords are replaced by ``"***"``.

    ``headers`` has lower-case names; ``status`` is None when no answer was sent (a dropped
    connection); ``fault`` names the injected fault that took the request, if any.

    Example:
        >>> call = OpenStackCall("GET", "/compute/v2.1/servers/detail", "", "compute", 200, {}, "", None)
        >>> call.service, call.status
        ('compute', 200)
    """

    method: str
    path: str
    query: str
    service: ServiceName
    status: int | None
    headers: Mapping[str, str]
    body: str
    fault: OpenStackFaultKind | None


RecordedCall = OpenStackCall
"""The name the brief and the billing fake use for a recorded request."""


@dataclass(frozen=True, slots=True)
class FakeCredentials:
    """A seeded or added Keystone user with its password and its one project (domain ``Default``).

    The password is the one given when the user was made; a change over the wire does not update
    this record.

    Example:
        >>> creds = OpenStackFake().portal
        >>> creds.username, creds.project_name
        ('portal', 'alice')
        >>> sorted(creds.auth("http://127.0.0.1:5000/identity/v3"))[:3]
        ['auth_url', 'password', 'project_domain_name']
    """

    username: str
    password: str
    project_name: str
    user_id: str
    project_id: str
    domain_name: str = "Default"

    def auth(self, auth_url: str) -> dict[str, str]:
        """The ``auth`` dict for ``openstack.connection.Connection(auth=...)`` (password, project scope).

        Example:
            >>> OpenStackFake().admin.auth("http://x/identity/v3")["project_name"]
            'admin'
        """
        return {
            "auth_url": auth_url,
            "username": self.username,
            "password": self.password,
            "project_name": self.project_name,
            "user_domain_name": self.domain_name,
            "project_domain_name": self.domain_name,
        }

    def token_request(self) -> _Json:
        """The body of ``POST /v3/auth/tokens`` for a project-scoped password token.

        Example:
            >>> body = OpenStackFake().portal.token_request()
            >>> body["auth"]["scope"]["project"]["name"]
            'alice'
        """
        domain = {"name": self.domain_name}
        user = {"name": self.username, "password": self.password, "domain": domain}
        return {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": {"name": self.project_name, "domain": domain}},
            }
        }


@dataclass(frozen=True, slots=True)
class FakeVolumeAttachment:
    """One attachment of a volume as the fake keeps it.

    ``in_guest`` is True when Nova knows it (a block device mapping: it shows in
    ``os-volume_attachments``); ``attached`` is False while it is still ``attaching``.

    Example:
        >>> FakeVolumeAttachment("a-1", "s-1", None, "/dev/vdb", True, True, False).in_guest
        True
    """

    attachment_id: str
    server_id: str | None
    host_name: str | None
    device: str
    attached: bool
    in_guest: bool
    delete_on_termination: bool


@dataclass(frozen=True, slots=True)
class FakeVolume:
    """A snapshot of one Cinder volume.

    Example:
        >>> fake = OpenStackFake()
        >>> fake.volumes()
        []
    """

    volume_id: str
    project_id: str
    name: str
    size: int
    status: str
    bootable: bool
    metadata: Mapping[str, str]
    attachments: tuple[FakeVolumeAttachment, ...]
    image_id: str | None


@dataclass(frozen=True, slots=True)
class FakeServer:
    """A snapshot of one Nova server; ``volume_ids`` are the volumes Nova has mapped, root first.

    Example:
        >>> OpenStackFake().servers()
        []
    """

    server_id: str
    project_id: str
    name: str
    status: str
    vm_state: str
    task_state: str | None
    power_state: int
    locked: bool
    locked_reason: str | None
    flavor_id: str
    root_volume_id: str
    volume_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FakeSnapshot:
    """A snapshot of one Cinder volume snapshot.

    Example:
        >>> OpenStackFake().snapshots()
        []
    """

    snapshot_id: str
    volume_id: str
    project_id: str
    name: str
    size: int
    status: str


@dataclass(frozen=True, slots=True)
class OpenStackFault:
    """A fault for `OpenStackFake.inject`; build one with the class methods.

    Example:
        >>> OpenStackFault.server_error(status=503).status
        503
        >>> OpenStackFault.wsrep().kind
        'wsrep'
    """

    kind: OpenStackFaultKind
    status: int = 500
    body: str | None = None
    content_type: str = "application/json"
    hold: float = 0.0
    echo: bool = False

    @classmethod
    def server_error(
        cls, *, status: int = 503, body: str | Mapping[str, Any] | None = None
    ) -> OpenStackFault:
        """An error answer. ``body``: text (HTML if it starts with ``<``), a JSON mapping, or None.

        With ``body=None`` the service's own envelope for that status is sent (Nova/Cinder
        ``{"serviceUnavailable": {...}}``, Keystone ``{"error": {...}}``, Glance an HTML page).

        Example:
            >>> OpenStackFault.server_error(status=502, body="<html>bad gateway</html>").content_type
            'text/html; charset=UTF-8'
            >>> OpenStackFault.server_error(body={"x": 1}).body
            '{"x": 1}'
        """
        if not 400 <= status < 600:  # noqa: PLR2004 - the HTTP error range
            raise ValueError(f"status must be an HTTP error code, got {status}")
        if body is None or isinstance(body, str):
            text = body
            kind = "text/html" if (body or "").lstrip().startswith("<") else "text/plain"
            content_type = "application/json" if body is None else f"{kind}; charset=UTF-8"
        else:
            text, content_type = json.dumps(dict(body)), "application/json"
        return cls(kind="server_error", status=status, body=text, content_type=content_type)

    @classmethod
    def wsrep(cls, *, echo: bool = False) -> OpenStackFault:
        """A 500 as a Galera node that is not ready gives it (reference §6 and "Wire examples").

        Nova answers the exact ``computeFault`` "Unexpected API Error ... DBConnectionError" body,
        Cinder its generic ``computeFault``, Keystone its ``{"error": ...}`` 500, Glance an HTML
        page. With ``echo=True`` the message is the DB error text itself (``... (1047, 'WSREP has
        not yet prepared node for application use')``), as a service that echoes exceptions shows it.

        Example:
            >>> OpenStackFault.wsrep(echo=True).echo
            True
        """
        return cls(kind="wsrep", status=500, echo=echo)

    @classmethod
    def drop_connection(cls) -> OpenStackFault:
        """Close the socket without any answer and without handling the request.

        Example:
            >>> OpenStackFault.drop_connection().kind
            'drop_connection'
        """
        return cls(kind="drop_connection")

    @classmethod
    def drop_after_effect(cls) -> OpenStackFault:
        """Handle the request (its effect lands), then close the socket without answering.

        Example:
            >>> OpenStackFault.drop_after_effect().kind
            'drop_after_effect'
        """
        return cls(kind="drop_after_effect")

    @classmethod
    def slow(cls, *, timeout: float = 5.0) -> OpenStackFault:
        """Hold the answer until `OpenStackFake.release_slow` or ``timeout`` seconds, then answer.

        Example:
            >>> OpenStackFault.slow(timeout=1.0).hold
            1.0
        """
        return cls(kind="slow", hold=timeout)


Fault = OpenStackFault
"""The name the brief and the billing fake use for a fault."""


# ================================================================================== state model
@dataclass(slots=True)
class _User:
    id: str
    name: str
    password: str = field(repr=False)
    default_project_id: str | None
    enabled: bool = True
    email: str | None = None


@dataclass(slots=True)
class _Project:
    id: str
    name: str
    description: str = ""
    enabled: bool = True


@dataclass(slots=True)
class _Token:
    id: str = field(repr=False)
    user_id: str
    project_id: str | None
    issued: float
    expires: float
    methods: tuple[str, ...]
    audit_id: str
    revoked: bool = False


@dataclass(slots=True)
class _Flavor:
    id: str
    name: str
    vcpus: int
    ram: int
    disk: int


@dataclass(slots=True)
class _Image:
    id: str
    name: str
    os_distro: str
    os_version: str
    min_disk: int
    owner: str
    visibility: str
    seq: int
    created: float
    size: int = 2 * 1024**2


@dataclass(slots=True)
class _Attachment:
    id: str
    volume_id: str
    server_id: str | None
    host_name: str | None
    device: str
    attached: bool
    in_guest: bool  # Nova has a block device mapping for it
    nova_owned: bool  # made through Nova: Cinder refuses a user's detach (bug 2004555)
    delete_on_termination: bool = False
    bdm_id: str = ""
    tag: str | None = None
    attached_at: float = 0.0


@dataclass(slots=True)
class _Volume:
    id: str
    project_id: str
    user_id: str
    name: str
    description: str | None
    size: int
    status: str
    bootable: bool
    seq: int
    created: float
    updated: float
    metadata: dict[str, str] = field(default_factory=dict)
    attachments: list[_Attachment] = field(default_factory=list)
    image_id: str | None = None
    snapshot_id: str | None = None
    source_volid: str | None = None


@dataclass(slots=True)
class _Server:
    id: str
    project_id: str
    user_id: str
    name: str
    flavor_id: str
    root_volume_id: str
    seq: int
    created: float
    updated: float
    admin_pass: str = field(repr=False)
    status: str = "BUILD"
    vm_state: str = "building"
    task_state: str | None = "scheduling"
    power_state: int = _POWER_NOSTATE
    locked: bool = False
    locked_reason: str | None = None
    locked_by: str | None = None
    launched: float | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, list[_Json]] = field(default_factory=dict)
    key_name: str | None = None


@dataclass(slots=True)
class _Snapshot:
    id: str
    project_id: str
    user_id: str
    volume_id: str
    name: str | None
    description: str | None
    size: int
    status: str
    seq: int
    created: float
    updated: float
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Pending:
    due: float
    seq: int
    apply: Callable[[], None]


@dataclass(slots=True)
class _State:
    users: dict[str, _User] = field(default_factory=dict)
    projects: dict[str, _Project] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # name -> id
    assignments: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (user, project) -> roles
    tokens: dict[str, _Token] = field(default_factory=dict)
    revocations: dict[str, list[float]] = field(default_factory=dict)  # user id -> change times
    flavors: dict[str, _Flavor] = field(default_factory=dict)
    images: dict[str, _Image] = field(default_factory=dict)
    servers: dict[str, _Server] = field(default_factory=dict)
    volumes: dict[str, _Volume] = field(default_factory=dict)
    snapshots: dict[str, _Snapshot] = field(default_factory=dict)
    pending: list[_Pending] = field(default_factory=list)
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def project_by_name(self, name: str) -> _Project | None:
        return next((p for p in self.projects.values() if p.name == name), None)

    def user_by_name(self, name: str) -> _User | None:
        return next((u for u in self.users.values() if u.name == name), None)

    def roles_of(self, user_id: str, project_id: str) -> list[str]:
        """The user's roles on the project with the implied ones (admin ⊃ member ⊃ reader)."""
        explicit = self.assignments.get((user_id, project_id), set())
        names = set(explicit)
        for role in explicit:
            names.update(_IMPLIED.get(role, ()))
        return [r for r in _ROLE_NAMES if r in names]


def _seeded_state(*, seed: bool, now: float) -> _State:
    state = _State()
    for role in _ROLE_NAMES:
        state.roles[role] = _hex5(f"role:{role}")
    _add_identity(state, "admin", "secret", "admin", ("admin",))
    _add_identity(state, "portal", "portal-pass", "alice", ("member",))
    if not seed:
        return state
    for flavor_id, name, vcpus, ram, disk in (
        ("1", "m1.tiny", 1, 512, 1),
        ("2", "m1.small", 1, 2048, 20),
        ("3", "m1.medium", 2, 4096, 40),
    ):
        state.flavors[flavor_id] = _Flavor(flavor_id, name, vcpus, ram, disk)
    admin_project = _hex5("project:admin")
    for name, distro, version, min_disk in (
        ("cirros-0.6.2", "cirros", "0.6.2", 1),
        ("debian-12", "debian", "12", 2),
        ("ubuntu-24.04", "ubuntu", "24.04", 3),
    ):
        _add_image(
            state, name, distro=distro, version=version, min_disk=min_disk, owner=admin_project, now=now
        )
    return state


def _add_identity(
    state: _State, name: str, password: str, project_name: str, roles: Iterable[str]
) -> FakeCredentials:
    project = state.project_by_name(project_name)
    if project is None:  # assumption: add_user makes the project when it does not exist yet
        project = _Project(_hex5(f"project:{project_name}"), project_name)
        state.projects[project.id] = project
    user = _User(_hex5(f"user:{name}"), name, password, project.id)
    state.users[user.id] = user
    unknown = set(roles) - set(_ROLE_NAMES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; the fake knows {list(_ROLE_NAMES)}")
    state.assignments[(user.id, project.id)] = set(roles)
    return FakeCredentials(name, password, project.name, user.id, project.id)


def _add_image(
    state: _State, name: str, *, distro: str, version: str, min_disk: int, owner: str, now: float
) -> str:
    seq = state.next_seq()
    image = _Image(_uuid5(f"image:{seq}:{name}"), name, distro, version, min_disk, owner, "public", seq, now)
    state.images[image.id] = image
    return image.id


# ================================================================================== wire plumbing
class _ApiError(Exception):
    """An error answer; the envelope follows the service unless given."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        envelope: _Envelope | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.envelope = envelope
        self.headers = tuple(headers)


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def _json_reply(status: int, doc: object, headers: Iterable[tuple[str, str]] = ()) -> _Reply:
    return _Reply(status, json.dumps(doc).encode(), "application/json", tuple(headers))


def _empty(status: int = 202, headers: Iterable[tuple[str, str]] = ()) -> _Reply:
    return _Reply(status, b"", "text/html; charset=UTF-8", tuple(headers))


def _error_reply(err: _ApiError, service: ServiceName) -> _Reply:
    envelope = err.envelope or _ENVELOPES[service]
    return _envelope_reply(envelope, err.status, err.message, err.headers)


_ENVELOPES: dict[ServiceName, _Envelope] = {
    "identity": "keystone",
    "compute": "nova",
    "volume": "nova",
    "image": "glance",
    "other": "plain",
}


def _envelope_reply(
    envelope: _Envelope, status: int, message: str, headers: Iterable[tuple[str, str]] = ()
) -> _Reply:
    phrase = http.HTTPStatus(status).phrase
    if envelope == "keystone":
        doc: _Json = {"error": {"code": status, "title": phrase, "message": message}}
        return _json_reply(status, doc, headers)
    if envelope == "nova":
        name = _FAULT_NAMES.get(status, "computeFault")
        return _json_reply(status, {name: {"code": status, "message": message}}, headers)
    if envelope == "glance":
        # assumption: Glance's webob error page as served for a client that accepts anything
        page = (
            f"<html>\n <head>\n  <title>{status} {phrase}</title>\n </head>\n <body>\n"
            f"  <h1>{status} {phrase}</h1>\n  {message}<br /><br />\n\n\n\n </body>\n</html>"
        )
        return _Reply(status, page.encode(), "text/html; charset=UTF-8", tuple(headers))
    return _Reply(status, f"{status} {phrase}\n".encode(), "text/plain; charset=utf-8", tuple(headers))


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str  # normalised: no query, no trailing slash, single slashes
    raw_path: str
    query: Mapping[str, list[str]]
    query_string: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    service: ServiceName

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self) -> _Json:
        try:
            doc = json.loads(self.body or b"null")
        except ValueError:
            raise _ApiError(400, "Malformed request body") from None
        if not isinstance(doc, dict):
            raise _ApiError(400, "Malformed request body")
        return doc


def _service_of(path: str) -> ServiceName:
    first = path.strip("/").split("/", 1)[0]
    if first in ("identity", "compute", "volume", "image"):
        return cast("ServiceName", first)
    return "other"


def _mask_json(value: object) -> object:
    if isinstance(value, dict):
        return {k: "***" if k in _SECRET_KEYS and v is not None else _mask_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    return value


def _mask_body(body: bytes) -> str:
    if not body:
        return ""
    try:
        return json.dumps(_mask_json(json.loads(body)))
    except ValueError:
        return f"<{len(body)} bytes, not JSON>"


def _iso(wall: float, *, style: Literal["nova", "cinder", "keystone"]) -> str:
    moment = dt.datetime.fromtimestamp(wall, dt.UTC)
    if style == "nova":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "cinder":  # MySQL DATETIME keeps whole seconds: the lab's Cinder shows ".000000"
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000000")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sanitize_hostname(name: str) -> str:
    """Nova's ``sanitize_hostname``: lower case, spaces and underscores to ``-``, only ``[a-z0-9.-]``."""
    text = re.sub(r"[ _]", "-", name.lower())
    text = re.sub(r"[^\w.-]+", "", text, flags=re.ASCII).strip(".-")
    return text[:63] or "server"


def _parse_version(text: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "t", "y")
    return bool(value)


def _as_int(value: object, name: str) -> int:
    try:
        number = int(cast("Any", value))
    except (TypeError, ValueError):
        raise _ApiError(400, f"Invalid input for field/attribute {name}. Value: {value}.") from None
    return number


# ================================================================================== the cloud
@dataclass(frozen=True, slots=True)
class _Ctx:
    """Who is calling, with the negotiated microversion (compute/volume only)."""

    token: _Token
    user: _User
    project: _Project | None
    roles: tuple[str, ...]
    microversion: tuple[int, int] = (0, 0)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def project_id(self) -> str:
        return self.project.id if self.project else ""

    def at_least(self, major: int, minor: int) -> bool:
        return self.microversion >= (major, minor)


_Handler = Callable[["_Request", "_Ctx", "re.Match[str]"], _Reply]


@dataclass(frozen=True, slots=True)
class _Options:
    transition_seconds: float
    token_ttl: float
    compute_max: tuple[int, int]


class _Cloud:
    """The state and every handler; the caller holds the fake's lock."""

    def __init__(self, state: _State, options: _Options, now: Callable[[], float], wall0: float) -> None:
        self.state = state
        self.options = options
        self.now = now
        self._wall0 = wall0  # wall time (epoch seconds) at fake time 0
        self.base_url = ""
        self.reaches_guest = False

    # ------------------------------------------------------------------------------ time
    def wall(self, t: float) -> float:
        return self._wall0 + t

    def later(self, apply: Callable[[], None]) -> None:
        due = self.now() + self.options.transition_seconds
        self.state.pending.append(_Pending(due, self.state.next_seq(), apply))

    def tick(self) -> None:
        """Complete every transition that is due, oldest first."""
        now = self.now()
        while True:
            due = [p for p in self.state.pending if p.due <= now]
            if not due:
                return
            first = min(due, key=lambda p: (p.due, p.seq))
            self.state.pending.remove(first)
            first.apply()

    # ------------------------------------------------------------------------------ dispatch
    def handle(self, req: _Request) -> _Reply:
        self.tick()
        try:
            return self._route(req)
        except _ApiError as err:
            return _error_reply(err, req.service)

    def _route(self, req: _Request) -> _Reply:
        service = req.service
        if service == "identity":
            return self._route_identity(req)
        if service == "compute":
            return self._route_compute(req)
        if service == "volume":
            return self._route_volume(req)
        if service == "image":
            return self._route_image(req)
        raise _ApiError(404, "not found", envelope="plain")

    def _dispatch(
        self, req: _Request, ctx: _Ctx, rest: str, routes: Iterable[tuple[str, re.Pattern[str], _Handler]]
    ) -> _Reply:
        allowed = False
        for method, pattern, handler in routes:
            match = pattern.fullmatch(rest)
            if match is None:
                continue
            if method == req.method or (method == "GET" and req.method == "HEAD"):
                return handler(req, ctx, match)
            allowed = True
        if allowed:
            raise _ApiError(405, "The method specified is not allowed for this resource.")
        raise _ApiError(404, "The resource could not be found.")

    # ------------------------------------------------------------------------------ tokens
    def token_problem(self, token_id: str | None) -> str | None:
        """Why the token is not valid now (None: it is valid)."""
        token = self.state.tokens.get(token_id or "")
        if token is None:
            return "Could not recognize Fernet token"
        user = self.state.users.get(token.user_id)
        # "Failed to validate token" is what a real Keystone 30 answered (real-keystone.md §2).
        if token.revoked or user is None or not user.enabled or self.now() >= token.expires:
            return "Failed to validate token"
        # keystone.same-second-revocation: a revocation event covers every token whose issued_at,
        # in whole seconds, is not after it (RevocationEvent.issued_before >= token.issued_at).
        issued = math.floor(token.issued)
        if any(event >= issued for event in self.state.revocations.get(user.id, ())):
            return "Failed to validate token"
        if token.project_id and not self.state.roles_of(user.id, token.project_id):
            return "Failed to validate token"
        return None

    def context(self, req: _Request, *, microversion: tuple[int, int] = (0, 0)) -> _Ctx:
        token_id = req.headers.get("x-auth-token")
        if not token_id or self.token_problem(token_id) is not None:
            identity = f"{self.base_url}/identity"
            raise _ApiError(
                401,
                _UNAUTHORIZED,
                envelope="keystone",
                headers=[("WWW-Authenticate", f'Keystone uri="{identity}"')],
            )
        token = self.state.tokens[token_id]
        user = self.state.users[token.user_id]
        project = self.state.projects.get(token.project_id or "")
        roles = tuple(self.state.roles_of(user.id, project.id)) if project else ()
        return _Ctx(token, user, project, roles, microversion)

    # ================================================================================ identity
    def _route_identity(self, req: _Request) -> _Reply:
        path = req.path
        if path == "/identity" and req.method in ("GET", "HEAD"):
            return _json_reply(_STATUS_MULTIPLE, {"versions": {"values": [self._keystone_version()]}})
        if path == "/identity/v3" and req.method in ("GET", "HEAD"):
            return _json_reply(_STATUS_GOOD, {"version": self._keystone_version()})
        rest = path.removeprefix("/identity/v3")
        if rest == path:
            raise _ApiError(404, "The resource could not be found.")
        if rest == "/auth/tokens" and req.method == "POST":
            return self._issue_token(req)
        password = re.fullmatch(r"/users/([^/]+)/password", rest)
        if password and req.method == "POST":
            return self._change_password(req, password.group(1))
        ctx = self.context(req)
        return self._dispatch(req, ctx, rest, self._identity_routes)

    def _keystone_version(self) -> _Json:
        return {
            "id": "v3.14",  # assumption: Keystone 30's version id
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{self.base_url}/identity/v3/"}],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
            ],
        }

    @property
    def _identity_routes(self) -> list[tuple[str, re.Pattern[str], _Handler]]:
        return [
            ("GET", re.compile(r"/auth/tokens"), self._validate_token),
            ("DELETE", re.compile(r"/auth/tokens"), self._revoke_token),
            ("GET", re.compile(r"/auth/projects"), self._auth_projects),
            ("GET", re.compile(r"/users"), self._list_users),
            ("POST", re.compile(r"/users"), self._create_user),
            ("GET", re.compile(r"/users/([^/]+)"), self._get_user),
            ("PATCH", re.compile(r"/users/([^/]+)"), self._update_user),
            ("GET", re.compile(r"/users/([^/]+)/projects"), self._user_projects),
            ("GET", re.compile(r"/projects"), self._list_projects),
            ("POST", re.compile(r"/projects"), self._create_project),
            ("GET", re.compile(r"/projects/([^/]+)"), self._get_project),
            ("GET", re.compile(r"/roles"), self._list_roles),
            ("GET", re.compile(r"/roles/([^/]+)"), self._get_role),
            ("PUT", re.compile(r"/projects/([^/]+)/users/([^/]+)/roles/([^/]+)"), self._assign_role),
        ]

    def _identity_user(self, identity: _Json) -> _User:
        methods = identity.get("methods") or []
        if "password" in methods:
            spec = (identity.get("password") or {}).get("user") or {}
            user = self.state.users.get(str(spec.get("id", "")))
            if user is None and spec.get("name"):
                self._check_domain(spec.get("domain") or {})
                user = self.state.user_by_name(str(spec["name"]))
            if user is None or not secrets.compare_digest(
                user.password.encode(), str(spec.get("password", "")).encode()
            ):
                raise _ApiError(401, _UNAUTHORIZED)
            return user
        if "token" in methods:
            token_id = str((identity.get("token") or {}).get("id", ""))
            if self.token_problem(token_id) is not None:
                raise _ApiError(401, _UNAUTHORIZED)
            return self.state.users[self.state.tokens[token_id].user_id]
        raise _ApiError(401, _UNAUTHORIZED)  # assumption: other methods are not served

    @staticmethod
    def _check_domain(domain: Mapping[str, Any]) -> None:
        if domain.get("id", "default") != "default" or domain.get("name", "Default") != "Default":
            raise _ApiError(401, _UNAUTHORIZED)  # assumption: only the Default domain exists

    def _scope_project(self, scope: _Json | None, user: _User) -> _Project | None:
        if not scope:
            # Keystone scopes a login without a scope to the user's default project, when the user
            # has a role there (keystone.auth: "default_project_id"); otherwise the token is unscoped.
            default = self.state.projects.get(user.default_project_id or "")
            if default is not None and default.enabled and self.state.roles_of(user.id, default.id):
                return default
            return None
        spec = scope.get("project")
        if not isinstance(spec, dict):
            # assumption: domain and system scope are not served; keystone would need roles there
            raise _ApiError(401, _UNAUTHORIZED)
        project = self.state.projects.get(str(spec.get("id", "")))
        if project is None and spec.get("name"):
            self._check_domain(spec.get("domain") or {})
            project = self.state.project_by_name(str(spec["name"]))
        if project is None:
            raise _ApiError(401, _UNAUTHORIZED)
        if not project.enabled or not self.state.roles_of(user.id, project.id):
            raise _ApiError(401, _UNAUTHORIZED)
        return project

    def _issue_token(self, req: _Request) -> _Reply:
        auth = req.json().get("auth")
        if not isinstance(auth, dict) or not isinstance(auth.get("identity"), dict):
            raise _ApiError(400, "Expecting to find identity in auth. The server could not comply.")
        user = self._identity_user(auth["identity"])
        if not user.enabled:
            raise _ApiError(401, _UNAUTHORIZED)
        project = self._scope_project(auth.get("scope"), user)
        now = self.now()
        token = _Token(
            id=f"gAAAAA{secrets.token_urlsafe(96)}",
            user_id=user.id,
            project_id=project.id if project else None,
            issued=now,
            expires=now + self.options.token_ttl,
            methods=tuple(auth["identity"].get("methods") or ("password",)),
            audit_id=secrets.token_urlsafe(16)[:22],
        )
        self.state.tokens[token.id] = token
        catalog = req.arg("nocatalog") is None
        headers = [("X-Subject-Token", token.id), ("Vary", "X-Auth-Token")]
        return _json_reply(201, self._token_body(token, catalog=catalog), headers)

    def _token_body(self, token: _Token, *, catalog: bool) -> _Json:
        user = self.state.users[token.user_id]
        issued = math.floor(token.issued)  # fernet tokens carry whole seconds
        body: _Json = {
            "methods": list(token.methods),
            "user": {"domain": dict(_DOMAIN), "id": user.id, "name": user.name, "password_expires_at": None},
            "audit_ids": [token.audit_id],
            "expires_at": _iso(self.wall(issued + self.options.token_ttl), style="keystone"),
            "issued_at": _iso(self.wall(issued), style="keystone"),
        }
        project = self.state.projects.get(token.project_id or "")
        if project is not None:
            body["project"] = {"domain": dict(_DOMAIN), "id": project.id, "name": project.name}
            body["is_domain"] = False
            body["roles"] = [
                {"id": self.state.roles[r], "name": r} for r in self.state.roles_of(user.id, project.id)
            ]
            if catalog:
                body["catalog"] = self._catalog(project.id)
        return {"token": body}

    def _catalog(self, project_id: str) -> list[_Json]:
        base = self.base_url
        services = (
            ("identity", "keystone", f"{base}/identity"),
            ("compute", "nova", f"{base}/compute/v2.1"),
            ("volumev3", "cinderv3", f"{base}/volume/v3/{project_id}"),
            ("block-storage", "cinder", f"{base}/volume/v3/{project_id}"),
            ("image", "glance", f"{base}/image"),
        )
        return [
            {
                "type": kind,
                "name": name,
                "id": _hex5(f"service:{kind}"),
                "endpoints": [
                    {
                        "id": _hex5(f"endpoint:{kind}:{interface}"),
                        "interface": interface,
                        "region": _REGION,
                        "region_id": _REGION,
                        "url": url,
                    }
                    for interface in ("public", "internal", "admin")
                ],
            }
            for kind, name, url in services
        ]

    def _validate_token(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        subject = req.headers.get("x-subject-token", "")
        problem = self.token_problem(subject)
        if problem is not None:
            raise _ApiError(404, problem)
        token = self.state.tokens[subject]
        if not ctx.is_admin and token.user_id != ctx.user.id:
            # assumption: policy lets the admin or the token's own user validate it
            raise _ApiError(
                403, "You are not authorized to perform the requested action: identity:validate_token."
            )
        headers = [("X-Subject-Token", subject), ("Vary", "X-Auth-Token")]
        return _json_reply(
            _STATUS_GOOD, self._token_body(token, catalog=req.arg("nocatalog") is None), headers
        )

    def _revoke_token(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        subject = req.headers.get("x-subject-token", "")
        problem = self.token_problem(subject)
        if problem is not None:
            raise _ApiError(404, problem)
        token = self.state.tokens[subject]
        if not ctx.is_admin and token.user_id != ctx.user.id:
            raise _ApiError(
                403, "You are not authorized to perform the requested action: identity:revoke_token."
            )
        token.revoked = True
        return _empty(204)

    def _revoke_user(self, user: _User) -> None:
        self.state.revocations.setdefault(user.id, []).append(self.now())

    def _change_password(self, req: _Request, user_id: str) -> _Reply:
        spec = req.json().get("user")
        if not isinstance(spec, dict) or "password" not in spec or "original_password" not in spec:
            raise _ApiError(400, "Invalid input for field 'user': 'password' is a required property")
        user = self.state.users.get(user_id)
        if user is None:
            raise _ApiError(404, f"Could not find user: {user_id}.")
        if not secrets.compare_digest(user.password.encode(), str(spec["original_password"]).encode()):
            raise _ApiError(401, _UNAUTHORIZED)
        user.password = str(spec["password"])
        self._revoke_user(user)  # quirk (e): every earlier token of the user is dead from now on
        return _empty(204)

    def _require_admin(self, ctx: _Ctx, action: str) -> None:
        if not ctx.is_admin:
            raise _ApiError(
                403, f"You are not authorized to perform the requested action: identity:{action}."
            )

    def _user_view(self, user: _User) -> _Json:
        view: _Json = {
            "id": user.id,
            "name": user.name,
            "domain_id": "default",
            "enabled": user.enabled,
            "password_expires_at": None,
            "options": {},
            "links": {"self": f"{self.base_url}/identity/v3/users/{user.id}"},
        }
        if user.default_project_id:
            view["default_project_id"] = user.default_project_id
        if user.email:
            view["email"] = user.email
        return view

    def _project_view(self, project: _Project) -> _Json:
        return {
            "id": project.id,
            "name": project.name,
            "domain_id": "default",
            "description": project.description,
            "enabled": project.enabled,
            "parent_id": "default",
            "is_domain": False,
            "tags": [],
            "options": {},
            "links": {"self": f"{self.base_url}/identity/v3/projects/{project.id}"},
        }

    def _list_links(self, collection: str) -> _Json:
        return {"self": f"{self.base_url}/identity/v3/{collection}", "previous": None, "next": None}

    def _find_user(self, ctx: _Ctx, user_id: str, action: str) -> _User:
        if not ctx.is_admin and user_id != ctx.user.id:
            self._require_admin(ctx, action)
        user = self.state.users.get(user_id)
        if user is None:
            raise _ApiError(404, f"Could not find user: {user_id}.")
        return user

    def _list_users(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        self._require_admin(ctx, "list_users")
        name = req.arg("name")
        users = [self._user_view(u) for u in self.state.users.values() if name in (None, u.name)]
        return _json_reply(_STATUS_GOOD, {"users": users, "links": self._list_links("users")})

    def _create_user(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        self._require_admin(ctx, "create_user")
        spec = req.json().get("user")
        if not isinstance(spec, dict) or not spec.get("name"):
            raise _ApiError(400, "Invalid input for field 'user': 'name' is a required property")
        name = str(spec["name"])
        if self.state.user_by_name(name) is not None:
            # assumption: Keystone's duplicate-entry text
            raise _ApiError(
                409,
                f"Conflict occurred attempting to store user - Duplicate entry found with name {name} "
                "at domain ID default.",
            )
        project_id = spec.get("default_project_id")
        user = _User(
            uuid.uuid4().hex,
            name,
            str(spec.get("password") or secrets.token_hex(16)),
            str(project_id) if project_id else None,
            _as_bool(spec.get("enabled", True)),
            spec.get("email"),
        )
        self.state.users[user.id] = user
        return _json_reply(201, {"user": self._user_view(user)})

    def _get_user(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        user = self._find_user(ctx, m.group(1), "get_user")
        return _json_reply(_STATUS_GOOD, {"user": self._user_view(user)})

    def _update_user(self, req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        self._require_admin(ctx, "update_user")
        user = self._find_user(ctx, m.group(1), "update_user")
        spec = req.json().get("user")
        if not isinstance(spec, dict):
            raise _ApiError(400, "Invalid input for field 'user'")
        revoke = False
        if "password" in spec:
            user.password, revoke = str(spec["password"]), True
        if "enabled" in spec:
            user.enabled = _as_bool(spec["enabled"])
            revoke = revoke or not user.enabled
        if spec.get("name"):
            user.name = str(spec["name"])
        if "email" in spec:
            user.email = spec["email"]
        if revoke:  # reference §5.2: an admin password reset or a disable revokes like a change
            self._revoke_user(user)
        return _json_reply(_STATUS_GOOD, {"user": self._user_view(user)})

    def _user_projects(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        user = self._find_user(ctx, m.group(1), "list_user_projects")
        projects = [
            self._project_view(p) for p in self.state.projects.values() if self.state.roles_of(user.id, p.id)
        ]
        return _json_reply(_STATUS_GOOD, {"projects": projects, "links": self._list_links("projects")})

    def _auth_projects(self, _req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        projects = [
            self._project_view(p)
            for p in self.state.projects.values()
            if self.state.roles_of(ctx.user.id, p.id)
        ]
        return _json_reply(_STATUS_GOOD, {"projects": projects, "links": self._list_links("auth/projects")})

    def _list_projects(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        self._require_admin(ctx, "list_projects")
        name = req.arg("name")
        projects = [self._project_view(p) for p in self.state.projects.values() if name in (None, p.name)]
        return _json_reply(_STATUS_GOOD, {"projects": projects, "links": self._list_links("projects")})

    def _create_project(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        self._require_admin(ctx, "create_project")
        spec = req.json().get("project")
        if not isinstance(spec, dict) or not spec.get("name"):
            raise _ApiError(400, "Invalid input for field 'project': 'name' is a required property")
        name = str(spec["name"])
        if self.state.project_by_name(name) is not None:
            # assumption: Keystone's duplicate-entry text
            raise _ApiError(
                409,
                f"Conflict occurred attempting to store project - it is not permitted to have two projects "
                f"with either the same name or same id in the same domain: name is {name}, project id "
                "is unknown.",
            )
        project = _Project(uuid.uuid4().hex, name, str(spec.get("description") or ""))
        project.enabled = _as_bool(spec.get("enabled", True))
        self.state.projects[project.id] = project
        return _json_reply(201, {"project": self._project_view(project)})

    def _get_project(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        project = self.state.projects.get(m.group(1))
        if project is not None and (ctx.is_admin or ctx.project_id == project.id):
            return _json_reply(_STATUS_GOOD, {"project": self._project_view(project)})
        if not ctx.is_admin:
            self._require_admin(ctx, "get_project")
        raise _ApiError(404, f"Could not find project: {m.group(1)}.")

    def _role_view(self, name: str) -> _Json:
        role_id = self.state.roles[name]
        return {
            "id": role_id,
            "name": name,
            "domain_id": None,
            "description": None,
            "options": {},
            "links": {"self": f"{self.base_url}/identity/v3/roles/{role_id}"},
        }

    def _list_roles(self, req: _Request, _ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        name = req.arg("name")
        roles = [self._role_view(r) for r in self.state.roles if name in (None, r)]
        return _json_reply(_STATUS_GOOD, {"roles": roles, "links": self._list_links("roles")})

    def _get_role(self, _req: _Request, _ctx: _Ctx, m: re.Match[str]) -> _Reply:
        name = next((n for n, i in self.state.roles.items() if i == m.group(1)), None)
        if name is None:
            raise _ApiError(404, f"Could not find role: {m.group(1)}.")
        return _json_reply(_STATUS_GOOD, {"role": self._role_view(name)})

    def _assign_role(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        self._require_admin(ctx, "create_grant")
        project_id, user_id, role_id = m.groups()
        if project_id not in self.state.projects:
            raise _ApiError(404, f"Could not find project: {project_id}.")
        if user_id not in self.state.users:
            raise _ApiError(404, f"Could not find user: {user_id}.")
        name = next((n for n, i in self.state.roles.items() if i == role_id), None)
        if name is None:
            raise _ApiError(404, f"Could not find role: {role_id}.")
        self.state.assignments.setdefault((user_id, project_id), set()).add(name)
        return _empty(204)

    # ================================================================================ compute
    def _compute_versions(self) -> list[_Json]:
        base = self.base_url
        described = {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
        return [
            {
                "id": "v2.0",
                "status": "SUPPORTED",
                "version": "",
                "min_version": "",
                "updated": "2011-01-21T11:33:21Z",
                "links": [{"rel": "self", "href": f"{base}/compute/v2/"}],
            },
            {
                "id": "v2.1",
                "status": "CURRENT",
                "version": _version_text(self.options.compute_max),
                "min_version": _version_text(_COMPUTE_MIN),
                "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": f"{base}/compute/v2.1/"}, described],
                "media-types": [
                    {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
                ],
            },
        ]

    def _microversion(self, req: _Request, service: Literal["compute", "volume"]) -> tuple[int, int]:
        low, high = (
            (_COMPUTE_MIN, self.options.compute_max) if service == "compute" else (_VOLUME_MIN, _VOLUME_MAX)
        )
        wanted: str | None = None
        for part in req.headers.get("openstack-api-version", "").split(","):
            words = part.split()
            if len(words) == 2 and words[0].lower() == service:  # noqa: PLR2004 - "service version"
                wanted = words[1]
        if wanted is None and service == "compute":
            wanted = req.headers.get("x-openstack-nova-api-version")
        if wanted is None and service == "volume":
            wanted = req.headers.get("openstack-volume-api-version")
        if wanted is None:
            return low
        if wanted.strip().lower() == "latest":
            return high
        version = _parse_version(wanted)
        if version is None:
            raise _ApiError(
                400, f"API Version String {wanted} is of invalid format. Must be of format MajorNum.MinorNum."
            )
        if not low <= version <= high:
            raise _ApiError(
                406,
                f"Version {wanted} is not supported by the API. Minimum is {_version_text(low)} and "
                f"maximum is {_version_text(high)}.",
            )
        return version

    def _route_compute(self, req: _Request) -> _Reply:
        path = req.path
        if path == "/compute" and req.method in ("GET", "HEAD"):
            return _json_reply(_STATUS_GOOD, {"versions": self._compute_versions()})
        if path in ("/compute/v2.1", "/compute/v2") and req.method in ("GET", "HEAD"):
            version = self._compute_versions()[1 if path.endswith("2.1") else 0]
            return _json_reply(_STATUS_GOOD, {"version": version})
        rest = path.removeprefix("/compute/v2.1")
        if rest == path:
            raise _ApiError(404, "The resource could not be found.")
        microversion = self._microversion(req, "compute")
        ctx = self.context(req, microversion=microversion)
        reply = self._dispatch(req, ctx, rest, self._compute_routes)
        text = _version_text(microversion)
        headers = (
            ("OpenStack-API-Version", f"compute {text}"),
            ("X-OpenStack-Nova-API-Version", text),
            ("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
        )
        return _Reply(reply.status, reply.body, reply.content_type, reply.headers + headers)

    @property
    def _compute_routes(self) -> list[tuple[str, re.Pattern[str], _Handler]]:
        sid = r"/servers/([^/]+)"
        return [
            ("GET", re.compile(r"/flavors"), self._list_flavors),
            ("GET", re.compile(r"/flavors/detail"), self._list_flavors),
            ("GET", re.compile(r"/flavors/([^/]+)"), self._get_flavor),
            ("GET", re.compile(r"/flavors/([^/]+)/os-extra_specs"), self._flavor_extra_specs),
            ("GET", re.compile(r"/servers"), self._list_servers),
            ("GET", re.compile(r"/servers/detail"), self._list_servers),
            ("POST", re.compile(r"/servers"), self._create_server),
            ("GET", re.compile(sid), self._get_server),
            ("DELETE", re.compile(sid), self._delete_server),
            ("POST", re.compile(sid + "/action"), self._server_action),
            ("GET", re.compile(sid + "/os-volume_attachments"), self._list_nova_attachments),
            ("POST", re.compile(sid + "/os-volume_attachments"), self._nova_attach),
            ("GET", re.compile(sid + "/os-volume_attachments/([^/]+)"), self._get_nova_attachment),
            ("DELETE", re.compile(sid + "/os-volume_attachments/([^/]+)"), self._nova_detach),
        ]

    # ------------------------------------------------------------------------------ flavors
    def _flavor_view(self, flavor: _Flavor, ctx: _Ctx, *, detail: bool) -> _Json:
        links = [
            {"rel": "self", "href": f"{self.base_url}/compute/v2.1/flavors/{flavor.id}"},
            {"rel": "bookmark", "href": f"{self.base_url}/compute/flavors/{flavor.id}"},
        ]
        view: _Json = {"id": flavor.id, "name": flavor.name, "links": links}
        if ctx.at_least(2, 55):
            view["description"] = None
        if not detail:
            return view
        view.update(
            {
                "ram": flavor.ram,
                "vcpus": flavor.vcpus,
                "disk": flavor.disk,
                "OS-FLV-EXT-DATA:ephemeral": 0,
                "OS-FLV-DISABLED:disabled": False,
                "swap": 0 if ctx.at_least(2, 75) else "",
                "rxtx_factor": 1.0,
                "os-flavor-access:is_public": True,
            }
        )
        if ctx.at_least(2, 61):
            view["extra_specs"] = {}
        return view

    def _list_flavors(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        detail = req.path.endswith("/detail")
        flavors = [self._flavor_view(f, ctx, detail=detail) for f in self.state.flavors.values()]
        return _json_reply(_STATUS_GOOD, {"flavors": flavors})

    def _flavor(self, flavor_id: str) -> _Flavor:
        flavor = self.state.flavors.get(flavor_id)
        if flavor is None:
            raise _ApiError(404, f"Flavor {flavor_id} could not be found.")
        return flavor

    def _get_flavor(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        flavor = self._flavor(m.group(1))
        return _json_reply(_STATUS_GOOD, {"flavor": self._flavor_view(flavor, ctx, detail=True)})

    def _flavor_extra_specs(self, _req: _Request, _ctx: _Ctx, m: re.Match[str]) -> _Reply:
        self._flavor(m.group(1))
        return _json_reply(_STATUS_GOOD, {"extra_specs": {}})

    # ------------------------------------------------------------------------------ servers
    def _server(self, ctx: _Ctx, server_id: str) -> _Server:
        # assumption: an admin token reaches any project's server by id (Nova's default admin policy);
        # lists stay within the token's project unless ``all_tenants`` is given.
        server = self.state.servers.get(server_id)
        if server is None or not (ctx.is_admin or server.project_id == ctx.project_id):
            raise _ApiError(404, f"Instance {server_id} could not be found.")
        return server

    def _guest_attachments(self, server: _Server) -> list[_Attachment]:
        """Nova's block device mappings of the server: root first, then in attach order."""
        found = [
            a
            for v in self.state.volumes.values()
            for a in v.attachments
            if a.in_guest and a.server_id == server.id
        ]
        return sorted(found, key=lambda a: (a.volume_id != server.root_volume_id, a.device))

    def _server_view(self, server: _Server, ctx: _Ctx, *, single: bool = False) -> _Json:
        flavor = self.state.flavors.get(server.flavor_id) or _Flavor(server.flavor_id, "deleted", 0, 0, 0)
        volumes: list[_Json] = []
        for attachment in self._guest_attachments(server):
            item: _Json = {"id": attachment.volume_id}
            if ctx.at_least(2, 3):
                item["delete_on_termination"] = attachment.delete_on_termination
            volumes.append(item)
        flavor_view: _Json
        if ctx.at_least(2, 47):
            flavor_view = {
                "vcpus": flavor.vcpus,
                "ram": flavor.ram,
                "disk": flavor.disk,
                "ephemeral": 0,
                "swap": 0,
                "original_name": flavor.name,
                "extra_specs": {},
            }
        else:
            flavor_view = {
                "id": flavor.id,
                "links": [{"rel": "bookmark", "href": f"{self.base_url}/compute/flavors/{flavor.id}"}],
            }
        view: _Json = {
            "id": server.id,
            "name": server.name,
            "status": server.status,
            "tenant_id": server.project_id,
            "user_id": server.user_id,
            "metadata": dict(server.metadata),
            "hostId": hashlib.sha224(f"{server.project_id}fake-compute-1".encode()).hexdigest(),
            "image": "",  # a volume-backed server has no image object (reference §2.2)
            "flavor": flavor_view,
            "created": _iso(self.wall(server.created), style="nova"),
            "updated": _iso(self.wall(server.updated), style="nova"),
            "addresses": {k: [dict(a) for a in v] for k, v in server.addresses.items()},
            "accessIPv4": "",
            "accessIPv6": "",
            "links": self._server_links(server.id),
            "OS-DCF:diskConfig": "MANUAL",
            "progress": 0,
            "OS-EXT-AZ:availability_zone": "nova",
            "config_drive": "",
            "key_name": server.key_name,
            "OS-SRV-USG:launched_at": (
                _iso(self.wall(server.launched), style="cinder") if server.launched is not None else None
            ),
            "OS-SRV-USG:terminated_at": None,
            "OS-EXT-STS:task_state": server.task_state,
            "OS-EXT-STS:vm_state": server.vm_state,
            "OS-EXT-STS:power_state": server.power_state,
            "os-extended-volumes:volumes_attached": volumes,
        }
        if server.addresses:
            view["security_groups"] = [{"name": "default"}]
        self._server_view_versioned(view, server, ctx)
        if single and ctx.at_least(2, 71):  # only GET /servers/{id} lists them, not /servers/detail (lab)
            view["server_groups"] = []
        return view

    @staticmethod
    def _server_view_versioned(view: _Json, server: _Server, ctx: _Ctx) -> None:
        for version, key, value in (
            ((2, 9), "locked", server.locked),
            ((2, 19), "description", server.description),
            ((2, 26), "tags", []),
            ((2, 63), "trusted_image_certificates", None),
            ((2, 73), "locked_reason", server.locked_reason),
            # every user sees the guest hostname from 2.90 (as the lab's Nova 34 shows it)
            ((2, 90), "OS-EXT-SRV-ATTR:hostname", _sanitize_hostname(server.name)),
            ((2, 96), "pinned_availability_zone", None),
        ):
            if ctx.at_least(*version):
                view[key] = value
        if ctx.is_admin:  # assumption: one fake hypervisor host
            view["OS-EXT-SRV-ATTR:host"] = "fake-compute-1"
            view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = "fake-compute-1"
            view["OS-EXT-SRV-ATTR:instance_name"] = f"instance-{server.seq:08x}"
            if ctx.at_least(2, 3):  # the admin-only extended attributes, as the lab's Nova 34 shows them
                view["OS-EXT-SRV-ATTR:reservation_id"] = f"r-{_hex5(server.id)[:8]}"
                view["OS-EXT-SRV-ATTR:launch_index"] = 0
                view["OS-EXT-SRV-ATTR:kernel_id"] = ""
                view["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
                view["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
                view["OS-EXT-SRV-ATTR:user_data"] = None

    def _server_links(self, server_id: str) -> list[_Json]:
        return [
            {"rel": "self", "href": f"{self.base_url}/compute/v2.1/servers/{server_id}"},
            {"rel": "bookmark", "href": f"{self.base_url}/compute/servers/{server_id}"},
        ]

    def _list_servers(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        detail = req.path.endswith("/detail")
        everyone = ctx.is_admin and _as_bool(req.arg("all_tenants") or "0")
        servers = sorted(
            (s for s in self.state.servers.values() if everyone or s.project_id == ctx.project_id),
            key=lambda s: -s.seq,  # Nova's default: newest first
        )
        name, status = req.arg("name"), req.arg("status")
        if name:
            servers = [s for s in servers if re.search(name, s.name)]
        if status:
            servers = [s for s in servers if s.status.lower() == status.lower()]
        page, next_marker = _page(servers, req, lambda s: s.id)
        views = [
            self._server_view(s, ctx)
            if detail
            else {"id": s.id, "name": s.name, "links": self._server_links(s.id)}
            for s in page
        ]
        doc: _Json = {"servers": views}
        if next_marker is not None:
            doc["servers_links"] = [{"rel": "next", "href": self._next_href(req, next_marker)}]
        return _json_reply(_STATUS_GOOD, doc)

    def _next_href(self, req: _Request, marker: str) -> str:
        params = {k: v[-1] for k, v in req.query.items() if k != "marker"}
        params["marker"] = marker
        return f"{self.base_url}{req.path}?{urlencode(params)}"

    def _get_server(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        return _json_reply(
            _STATUS_GOOD, {"server": self._server_view(self._server(ctx, m.group(1)), ctx, single=True)}
        )

    def _create_server(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        spec = req.json().get("server")
        if not isinstance(spec, dict):
            raise _ApiError(400, "Invalid input for field/attribute server. 'server' is a required property")
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _ApiError(400, f"Invalid input for field/attribute name. Value: {name}.")
        flavor_ref = str(spec.get("flavorRef") or "").rstrip("/").rsplit("/", 1)[-1]
        if flavor_ref not in self.state.flavors:
            raise _ApiError(400, f"Flavor {flavor_ref} could not be found.")
        addresses = self._server_networks(spec, ctx)
        plan = self._boot_plan(spec.get("block_device_mapping_v2"), ctx)
        now = self.now()
        server = _Server(
            id=str(uuid.uuid4()),
            project_id=ctx.project_id,
            user_id=ctx.user.id,
            name=name,
            flavor_id=flavor_ref,
            root_volume_id="",
            seq=self.state.next_seq(),
            created=now,
            updated=now,
            admin_pass=secrets.token_urlsafe(9),
            description=spec.get("description"),
            metadata={str(k): str(v) for k, v in (spec.get("metadata") or {}).items()},
            addresses=addresses,
            key_name=spec.get("key_name"),
        )
        server.root_volume_id = self._materialise(server, plan)
        self.state.servers[server.id] = server
        self.later(lambda: self._finish_build(server))
        body = {
            "server": {
                "id": server.id,
                "links": self._server_links(server.id),
                "OS-DCF:diskConfig": "MANUAL",
                "security_groups": [{"name": "default"}],
                "adminPass": server.admin_pass,
            }
        }
        location = f"{self.base_url}/compute/v2.1/servers/{server.id}"
        return _json_reply(202, body, [("Location", location)])

    def _server_networks(self, spec: _Json, ctx: _Ctx) -> dict[str, list[_Json]]:
        networks = spec.get("networks")
        if networks is None:
            if ctx.at_least(2, 37):
                raise _ApiError(
                    400, "Invalid input for field/attribute server. 'networks' is a required property"
                )
            networks = "auto"
        if isinstance(networks, str):
            if not ctx.at_least(2, 37) or networks not in ("none", "auto"):
                raise _ApiError(400, f"Invalid input for field/attribute networks. Value: {networks}.")
        elif not isinstance(networks, list):
            raise _ApiError(400, f"Invalid input for field/attribute networks. Value: {networks}.")
        if networks == "none":
            return {}
        # assumption: no Neutron here; "auto" or any network list gives one fixed private address
        host = 10 + len(self.state.servers) % 240
        return {"private": [{"addr": f"10.0.0.{host}", "version": 4, "OS-EXT-IPS:type": "fixed"}]}

    def _boot_plan(self, mappings: object, ctx: _Ctx) -> list[_Json]:
        """Validate ``block_device_mapping_v2``; return the mappings, root first."""
        if not isinstance(mappings, list) or not all(isinstance(m, dict) for m in mappings):
            mappings = []
        root = [m for m in mappings if str(m.get("boot_index")) == "0"]
        if len(root) != 1 or root[0].get("destination_type") != "volume":
            # assumption: this fake serves boot-from-volume servers only (the team's policy)
            raise _ApiError(
                400,
                "Block Device Mapping is Invalid: this cloud boots from volume only; give "
                "block_device_mapping_v2 with boot_index 0 and destination_type volume.",
            )
        ordered = root + [m for m in mappings if m is not root[0]]
        for mapping in ordered:
            self._check_mapping(mapping, ctx)
        return ordered

    def _check_mapping(self, mapping: _Json, ctx: _Ctx) -> None:
        source = mapping.get("source_type")
        if mapping.get("destination_type") != "volume" or source not in ("image", "volume", "blank"):
            raise _ApiError(400, "Block Device Mapping is Invalid: only volume destinations are served.")
        if source == "volume":
            volume = self._volume(ctx, str(mapping.get("uuid", "")))
            if volume.status != "available":
                raise _ApiError(400, f"Invalid volume: Volume {volume.id} status must be available.")
            return
        size = _as_int(mapping.get("volume_size") or 0, "volume_size")
        if size <= 0:
            raise _ApiError(
                400, "Images with destination_type 'volume' need to have a non-zero size specified"
            )
        if source == "image":
            image = self.state.images.get(str(mapping.get("uuid", "")))
            if image is None or not self._image_visible(image, ctx):
                raise _ApiError(400, f"Image {mapping.get('uuid')} could not be found.")
            if size < image.min_disk:
                raise _ApiError(
                    400,
                    "Volume is smaller than the minimum size specified in image metadata. Volume size is "
                    f"{size * _GIB} bytes, minimum size is {image.min_disk * _GIB} bytes.",
                )

    def _materialise(self, server: _Server, plan: list[_Json]) -> str:
        """Make or take the volumes of a new server; they attach while it builds. Returns the root id."""
        root_id = ""
        for index, mapping in enumerate(plan):
            if mapping.get("source_type") == "volume":
                volume = self.state.volumes[str(mapping["uuid"])]
            else:
                image_id = str(mapping["uuid"]) if mapping.get("source_type") == "image" else None
                size = _as_int(mapping["volume_size"], "volume_size")
                volume = self._new_volume(server.project_id, server.user_id, "", size, image_id=image_id)
            device = "/dev/vda" if index == 0 else self._next_device(server)
            volume.status = "attaching"
            volume.attachments.append(
                _Attachment(
                    id=str(uuid.uuid4()),
                    volume_id=volume.id,
                    server_id=server.id,
                    host_name=None,
                    device=device,
                    attached=False,
                    in_guest=True,
                    nova_owned=True,
                    delete_on_termination=_as_bool(mapping.get("delete_on_termination", False)),
                    bdm_id=str(uuid.uuid4()),
                    tag=mapping.get("tag"),
                )
            )
            if index == 0:
                root_id = volume.id
                self.state.servers[server.id] = server  # so _next_device sees the root device
        return root_id

    def _finish_build(self, server: _Server) -> None:
        if server.id not in self.state.servers or server.task_state != "scheduling":
            return
        now = self.now()
        server.status, server.vm_state, server.task_state = "ACTIVE", "active", None
        server.power_state, server.launched, server.updated = _POWER_RUNNING, now, now
        for attachment in self._guest_attachments(server):
            self._complete_attach(attachment)

    def _complete_attach(self, attachment: _Attachment) -> None:
        volume = self.state.volumes.get(attachment.volume_id)
        if volume is None or attachment not in volume.attachments:
            return
        attachment.attached, attachment.attached_at = True, self.now()
        volume.status, volume.updated = "in-use", self.now()

    def _next_device(self, server: _Server) -> str:
        used = {a.device for a in self._guest_attachments(server)}
        for letter in "bcdefghijklmnopqrstuvwxyz":
            if f"/dev/vd{letter}" not in used:
                return f"/dev/vd{letter}"
        raise _ApiError(
            403,
            "The maximum allowed number of disk devices (26) to attach to a single instance has been "
            "exceeded.",
        )

    def _ensure_unlocked(self, server: _Server, ctx: _Ctx) -> None:
        if server.locked and not ctx.is_admin:
            raise _ApiError(409, f"Instance {server.id} is locked")

    @staticmethod
    def _ensure_state(server: _Server, action: str, vm_states: Iterable[str]) -> None:
        if server.task_state is not None:
            raise _ApiError(
                409, f"Cannot '{action}' instance {server.id} while it is in task_state {server.task_state}"
            )
        if server.vm_state not in vm_states:
            raise _ApiError(
                409, f"Cannot '{action}' instance {server.id} while it is in vm_state {server.vm_state}"
            )

    def _delete_server(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        server = self._server(ctx, m.group(1))
        self._ensure_unlocked(server, ctx)
        if server.task_state == "deleting":
            return _empty(204)
        server.task_state, server.updated = "deleting", self.now()
        self.later(lambda: self._finish_delete(server))
        return _empty(204)

    def _finish_delete(self, server: _Server) -> None:
        if self.state.servers.pop(server.id, None) is None:
            return
        for attachment in self._guest_attachments_of_gone(server.id):
            volume = self.state.volumes[attachment.volume_id]
            volume.attachments.remove(attachment)
            volume.updated = self.now()
            if attachment.delete_on_termination:
                del self.state.volumes[volume.id]
            elif not volume.attachments:
                volume.status = "available"
        # Attachments Cinder alone recorded (os-attach) stay behind, pointing at a gone server: Nova
        # never knew them (realistic; see quirk a).

    def _guest_attachments_of_gone(self, server_id: str) -> list[_Attachment]:
        return [
            a
            for v in self.state.volumes.values()
            for a in v.attachments
            if a.in_guest and a.server_id == server_id
        ]

    def _server_action(self, req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        server = self._server(ctx, m.group(1))
        body = req.json()
        if len(body) != 1:
            raise _ApiError(400, "Malformed request body")
        action, args = next(iter(body.items()))
        handler = self._actions.get(action)
        if handler is None:
            raise _ApiError(400, f"There is no such action: {action}")
        handler(server, ctx, args)
        return _empty(202)

    @property
    def _actions(self) -> dict[str, Callable[[_Server, _Ctx, Any], None]]:
        return {
            "os-stop": self._stop,
            "os-start": self._start,
            "reboot": self._reboot,
            "lock": self._lock,
            "unlock": self._unlock,
            "shelve": self._shelve,
            "unshelve": self._unshelve,
        }

    def _transition(self, server: _Server, task: str, status: str, vm_state: str, power: int) -> None:
        server.task_state, server.updated = task, self.now()

        def finish() -> None:
            if server.task_state == task:
                server.status, server.vm_state, server.task_state = status, vm_state, None
                server.power_state, server.updated = power, self.now()

        self.later(finish)

    def _stop(self, server: _Server, ctx: _Ctx, _args: object) -> None:
        self._ensure_unlocked(server, ctx)
        self._ensure_state(server, "stop", ("active", "error"))
        self._transition(server, "powering-off", "SHUTOFF", "stopped", _POWER_SHUTDOWN)

    def _start(self, server: _Server, ctx: _Ctx, _args: object) -> None:
        self._ensure_unlocked(server, ctx)
        self._ensure_state(server, "start", ("stopped",))
        self._transition(server, "powering-on", "ACTIVE", "active", _POWER_RUNNING)

    def _reboot(self, server: _Server, ctx: _Ctx, args: object) -> None:
        self._ensure_unlocked(server, ctx)
        self._ensure_state(server, "reboot", ("active", "stopped", "error"))
        hard = isinstance(args, dict) and str(args.get("type", "")).upper() == "HARD"
        self._transition(
            server, "rebooting_hard" if hard else "rebooting", "ACTIVE", "active", _POWER_RUNNING
        )

    def _shelve(self, server: _Server, ctx: _Ctx, _args: object) -> None:
        self._ensure_unlocked(server, ctx)
        self._ensure_state(server, "shelve", ("active", "stopped", "paused", "suspended"))
        # Volume-backed: no snapshot, straight to SHELVED_OFFLOADED (reference §2.3).
        # assumption: the volumes keep their in-use state (real Cinder shows them reserved)
        self._transition(server, "shelving", "SHELVED_OFFLOADED", "shelved_offloaded", _POWER_SHUTDOWN)

    def _unshelve(self, server: _Server, ctx: _Ctx, _args: object) -> None:
        self._ensure_unlocked(server, ctx)
        self._ensure_state(server, "unshelve", ("shelved", "shelved_offloaded"))
        self._transition(server, "unshelving", "ACTIVE", "active", _POWER_RUNNING)

    def _lock(self, server: _Server, ctx: _Ctx, args: object) -> None:
        reason: str | None = None
        if isinstance(args, dict):
            if set(args) - {"locked_reason"} or not ctx.at_least(2, 73):
                raise _ApiError(400, f"Invalid input for field/attribute lock. Value: {json.dumps(args)}.")
            reason = args.get("locked_reason")
        elif args is not None:
            raise _ApiError(400, f"Invalid input for field/attribute lock. Value: {args}.")
        server.locked, server.locked_reason = True, reason
        server.locked_by = "owner" if ctx.project_id == server.project_id else "admin"
        server.updated = self.now()

    def _unlock(self, server: _Server, ctx: _Ctx, _args: object) -> None:
        if server.locked and server.locked_by == "admin" and not ctx.is_admin:
            # assumption: the PolicyNotAuthorized text of Nova's unlock_override rule
            raise _ApiError(
                403,
                "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed.",
            )
        server.locked, server.locked_reason, server.locked_by = False, None, None
        server.updated = self.now()

    # ------------------------------------------------------------------------------ Nova attachments
    def _nova_attachment_view(self, attachment: _Attachment, ctx: _Ctx) -> _Json:
        view: _Json = {
            "serverId": attachment.server_id,
            "volumeId": attachment.volume_id,
            "device": attachment.device,
        }
        if not ctx.at_least(2, 89):
            view["id"] = attachment.volume_id
        if ctx.at_least(2, 70):
            view["tag"] = attachment.tag
        if ctx.at_least(2, 79):
            view["delete_on_termination"] = attachment.delete_on_termination
        if ctx.at_least(2, 89):
            view["attachment_id"] = attachment.id
            view["bdm_uuid"] = attachment.bdm_id
        return view

    def _list_nova_attachments(self, req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        server = self._server(ctx, m.group(1))
        attachments = self._guest_attachments(server)
        offset = _as_int(req.arg("offset") or 0, "offset")
        limit = _as_int(req.arg("limit") or len(attachments), "limit")
        chosen = attachments[offset : offset + limit]
        return _json_reply(
            _STATUS_GOOD, {"volumeAttachments": [self._nova_attachment_view(a, ctx) for a in chosen]}
        )

    def _guest_attachment(self, server: _Server, volume_id: str) -> _Attachment:
        found = next((a for a in self._guest_attachments(server) if a.volume_id == volume_id), None)
        if found is None:
            # assumption: DELETE answers the 404 text the reference gives for GET
            raise _ApiError(404, f"Instance {server.id} is not attached to volume {volume_id}")
        return found

    def _get_nova_attachment(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        attachment = self._guest_attachment(self._server(ctx, m.group(1)), m.group(2))
        return _json_reply(_STATUS_GOOD, {"volumeAttachment": self._nova_attachment_view(attachment, ctx)})

    def _nova_attach(self, req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        server = self._server(ctx, m.group(1))
        spec = req.json().get("volumeAttachment")
        if not isinstance(spec, dict) or not spec.get("volumeId"):
            raise _ApiError(
                400, "Invalid input for field/attribute volumeAttachment. 'volumeId' is a required property"
            )
        for key, version in (("tag", (2, 49)), ("delete_on_termination", (2, 79))):
            if key in spec and not ctx.at_least(*version):
                raise _ApiError(
                    400,
                    "Invalid input for field/attribute volumeAttachment. Additional properties are not "
                    f"allowed ('{key}' was unexpected)",
                )
        self._ensure_unlocked(server, ctx)
        # assumption: the vm_states Nova allows an attach in (and no task_state)
        self._ensure_state(server, "attach_volume", ("active", "stopped", "paused", "suspended", "resized"))
        volume = self._volume(ctx, str(spec["volumeId"]))
        if volume.status != "available":
            # assumption: the text of Cinder's refusal to reserve, as Nova passes it on
            raise _ApiError(
                400,
                f"Invalid volume: Volume {volume.id} status must be available or downloading to reserve, "
                f"but the current status is {volume.status}.",
            )
        # assumption: like libvirt, the requested device name is ignored; the next free one is used
        attachment = _Attachment(
            id=str(uuid.uuid4()),
            volume_id=volume.id,
            server_id=server.id,
            host_name=None,
            device=self._next_device(server),
            attached=False,
            in_guest=True,
            nova_owned=True,
            delete_on_termination=_as_bool(spec.get("delete_on_termination", False)),
            bdm_id=str(uuid.uuid4()),
            tag=spec.get("tag"),
        )
        # assumption: the BDM shows in Nova's list at once (nova-api makes it before the attach ends);
        # Cinder lists the attachment only once attached. The volume is "attaching" meanwhile (the
        # reference's order; real Cinder passes through "reserved" first).
        volume.attachments.append(attachment)
        volume.status, volume.updated = "attaching", self.now()
        self.later(lambda: self._complete_attach(attachment))
        if ctx.at_least(2, 101):
            return _empty(202)  # Nova 2.101: 202 without a body
        view: _Json = {
            "id": volume.id,
            "serverId": server.id,
            "volumeId": volume.id,
            "device": attachment.device,
        }
        if ctx.at_least(2, 70):
            view["tag"] = attachment.tag
        if ctx.at_least(2, 79):
            view["delete_on_termination"] = attachment.delete_on_termination
        return _json_reply(_STATUS_GOOD, {"volumeAttachment": view})

    def _nova_detach(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        server = self._server(ctx, m.group(1))
        self._ensure_unlocked(server, ctx)
        attachment = self._guest_attachment(server, m.group(2))
        if attachment.volume_id == server.root_volume_id:
            raise _ApiError(400, "Cannot detach a root device volume")
        self._ensure_state(server, "detach_volume", ("active", "stopped", "paused", "suspended", "resized"))
        volume = self.state.volumes[attachment.volume_id]
        if volume.status == "detaching":
            raise _ApiError(400, f"Invalid volume: Volume {volume.id} is already detaching")
        volume.status, volume.updated = "detaching", self.now()
        self.later(lambda: self._complete_detach(attachment))
        return _empty(202)

    def _complete_detach(self, attachment: _Attachment) -> None:
        volume = self.state.volumes.get(attachment.volume_id)
        if volume is None or attachment not in volume.attachments:
            return
        volume.attachments.remove(attachment)
        volume.status = "in-use" if volume.attachments else "available"
        volume.updated = self.now()

    # ================================================================================ volume
    def _route_volume(self, req: _Request) -> _Reply:
        path = req.path
        if path in ("/volume", "/volume/v3") and req.method in ("GET", "HEAD"):
            status = _STATUS_MULTIPLE if path == "/volume" else _STATUS_GOOD
            return _json_reply(status, {"versions": [self._cinder_version()]})
        match = re.fullmatch(r"/volume/v3/([^/]+)(/.*)?", path)
        if match is None:
            raise _ApiError(404, "The resource could not be found.")
        if match.group(2) is None and req.method in ("GET", "HEAD"):
            return _json_reply(_STATUS_GOOD, {"versions": [self._cinder_version()]})
        microversion = self._microversion(req, "volume")
        ctx = self.context(req, microversion=microversion)
        if match.group(1) != ctx.project_id:
            raise _ApiError(400, "Malformed request url")  # assumption: Cinder's project-in-URL check
        reply = self._dispatch(req, ctx, match.group(2) or "", self._volume_routes)
        headers = (
            ("OpenStack-API-Version", f"volume {_version_text(microversion)}"),
            ("Vary", "OpenStack-API-Version"),
        )
        return _Reply(reply.status, reply.body, reply.content_type, reply.headers + headers)

    def _cinder_version(self) -> _Json:
        return {
            "id": "v3.0",
            "status": "CURRENT",
            "version": _version_text(_VOLUME_MAX),
            "min_version": _version_text(_VOLUME_MIN),
            "updated": "2023-08-31T00:00:00Z",
            "links": [
                {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
                {"rel": "self", "href": f"{self.base_url}/volume/v3/"},
            ],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
            ],
        }

    @property
    def _volume_routes(self) -> list[tuple[str, re.Pattern[str], _Handler]]:
        vid = r"/volumes/([^/]+)"
        sid = r"/snapshots/([^/]+)"
        return [
            ("GET", re.compile(r"/volumes"), self._list_volumes),
            ("GET", re.compile(r"/volumes/detail"), self._list_volumes),
            ("POST", re.compile(r"/volumes"), self._create_volume),
            ("GET", re.compile(vid), self._get_volume),
            ("PUT", re.compile(vid), self._update_volume),
            ("DELETE", re.compile(vid), self._delete_volume),
            ("POST", re.compile(vid + "/action"), self._volume_action),
            ("GET", re.compile(vid + "/metadata"), self._get_metadata),
            ("POST", re.compile(vid + "/metadata"), self._set_metadata),
            ("PUT", re.compile(vid + "/metadata"), self._set_metadata),
            ("DELETE", re.compile(vid + "/metadata/([^/]+)"), self._delete_metadata_key),
            ("GET", re.compile(r"/snapshots"), self._list_snapshots),
            ("GET", re.compile(r"/snapshots/detail"), self._list_snapshots),
            ("POST", re.compile(r"/snapshots"), self._create_snapshot),
            ("GET", re.compile(sid), self._get_snapshot),
            ("DELETE", re.compile(sid), self._delete_snapshot),
        ]

    def _volume(self, ctx: _Ctx, volume_id: str) -> _Volume:
        volume = self.state.volumes.get(volume_id)
        if volume is None or not (ctx.is_admin or volume.project_id == ctx.project_id):
            raise _ApiError(404, f"Volume {volume_id} could not be found.")
        return volume

    def _new_volume(
        self,
        project_id: str,
        user_id: str,
        name: str,
        size: int,
        *,
        image_id: str | None = None,
        description: str | None = None,
    ) -> _Volume:
        now = self.now()
        volume = _Volume(
            id=str(uuid.uuid4()),
            project_id=project_id,
            user_id=user_id,
            name=name,
            description=description,
            size=size,
            status="creating",
            bootable=image_id is not None,
            seq=self.state.next_seq(),
            created=now,
            updated=now,
            image_id=image_id,
        )
        self.state.volumes[volume.id] = volume
        return volume

    def _cinder_attachment_view(self, attachment: _Attachment, ctx: _Ctx) -> _Json:
        return {
            "id": attachment.volume_id,
            "attachment_id": attachment.id,
            "volume_id": attachment.volume_id,
            "server_id": attachment.server_id,
            "host_name": attachment.host_name if ctx.is_admin else None,
            "device": attachment.device,
            "attached_at": _iso(self.wall(attachment.attached_at), style="cinder"),
        }

    def _volume_view(self, volume: _Volume, ctx: _Ctx) -> _Json:
        view: _Json = {
            "id": volume.id,
            "name": volume.name,
            "description": volume.description,
            "status": volume.status,
            "size": volume.size,
            "availability_zone": "nova",
            "created_at": _iso(self.wall(volume.created), style="cinder"),
            "updated_at": _iso(self.wall(volume.updated), style="cinder"),
            "attachments": [self._cinder_attachment_view(a, ctx) for a in volume.attachments if a.attached],
            "bootable": "true" if volume.bootable else "false",
            "encrypted": False,
            "multiattach": False,
            "metadata": dict(volume.metadata),
            "volume_type": "__DEFAULT__",
            "snapshot_id": volume.snapshot_id,
            "source_volid": volume.source_volid,
            "user_id": volume.user_id,
            "os-vol-tenant-attr:tenant_id": volume.project_id,
            "replication_status": None,
            "consistencygroup_id": None,
            "links": self._volume_links("volumes", volume.id),
        }
        image = self.state.images.get(volume.image_id or "")
        if image is not None:
            view["volume_image_metadata"] = {
                "image_id": image.id,
                "image_name": image.name,
                "os_distro": image.os_distro,
                "os_version": image.os_version,
                "min_disk": str(image.min_disk),
                "min_ram": "0",
                "disk_format": "qcow2",
                "container_format": "bare",
            }
        # migration_status, provider_id and cluster_name are admin-only: the lab's Cinder 29 shows a member
        # none of them, and an admin all three.
        for version, key, value, admin_only in (
            ((3, 0), "migration_status", None, True),
            ((3, 13), "group_id", None, False),
            ((3, 21), "provider_id", None, True),
            ((3, 48), "shared_targets", False, False),
            ((3, 48), "service_uuid", _uuid5("service:cinder-volume"), False),
            ((3, 61), "cluster_name", None, True),
            ((3, 63), "volume_type_id", _uuid5("volume-type:__DEFAULT__"), False),
            ((3, 65), "consumes_quota", True, False),
        ):
            if ctx.at_least(*version) and (ctx.is_admin or not admin_only):
                view[key] = value
        if ctx.is_admin:
            view["os-vol-host-attr:host"] = "fake-cinder@lvm#lvm"  # assumption: one fake backend
            view["os-vol-mig-status-attr:migstat"] = None
            view["os-vol-mig-status-attr:name_id"] = None
        return view

    def _volume_links(self, collection: str, item_id: str) -> list[_Json]:
        return [
            {"rel": "self", "href": f"{self.base_url}/volume/v3/{{project}}/{collection}/{item_id}"},
            {"rel": "bookmark", "href": f"{self.base_url}/volume/{{project}}/{collection}/{item_id}"},
        ]

    def _list_volumes(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        detail = req.path.endswith("/detail")
        everyone = ctx.is_admin and _as_bool(req.arg("all_tenants") or "0")
        volumes = sorted(
            (v for v in self.state.volumes.values() if everyone or v.project_id == ctx.project_id),
            key=lambda v: -v.seq,
        )
        for key in ("name", "status"):
            wanted = req.arg(key)
            if wanted is not None:
                volumes = [v for v in volumes if getattr(v, key) == wanted]
        page, next_marker = _page(volumes, req, lambda v: v.id)
        views = [
            self._volume_view(v, ctx)
            if detail
            else {"id": v.id, "name": v.name, "links": self._volume_links("volumes", v.id)}
            for v in page
        ]
        doc: _Json = {"volumes": views}
        if next_marker is not None:
            doc["volumes_links"] = [{"rel": "next", "href": self._next_href(req, next_marker)}]
        return _json_reply(_STATUS_GOOD, doc)

    def _get_volume(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        return _json_reply(_STATUS_GOOD, {"volume": self._volume_view(self._volume(ctx, m.group(1)), ctx)})

    def _create_volume(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        spec = req.json().get("volume")
        if not isinstance(spec, dict):
            raise _ApiError(400, "Missing required element 'volume' in request body.")
        image = self._source_image(spec, ctx)
        snapshot = self._source_snapshot(spec, ctx)
        default = snapshot.size if snapshot else None
        size = _as_int(spec.get("size", default), "size")
        if size < 1:
            raise _ApiError(400, f"Invalid input for field/attribute size. Value: {size}.")
        if image is not None and size < image.min_disk:
            raise _ApiError(
                400,
                f"Invalid input received: Volume size {size}GB cannot be smaller than the image minDisk "
                f"size {image.min_disk}GB.",
            )
        if snapshot is not None and size < snapshot.size:
            raise _ApiError(
                400,
                f"Invalid input received: Volume size '{size}'GB cannot be smaller than the snapshot size "
                f"{snapshot.size}GB. They must be >= original snapshot size.",
            )
        volume = self._new_volume(
            ctx.project_id,
            ctx.user.id,
            str(spec.get("name") or ""),
            size,
            image_id=image.id if image else None,
            description=spec.get("description"),
        )
        volume.metadata = {str(k): str(v) for k, v in (spec.get("metadata") or {}).items()}
        volume.snapshot_id = snapshot.id if snapshot else None

        def finish() -> None:
            if volume.status == "creating":
                volume.status, volume.updated = "available", self.now()

        self.later(finish)
        return _json_reply(202, {"volume": self._volume_view(volume, ctx)})

    def _source_image(self, spec: _Json, ctx: _Ctx) -> _Image | None:
        image_ref = spec.get("imageRef")
        if not image_ref:
            return None
        image = self.state.images.get(str(image_ref))
        if image is None or not self._image_visible(image, ctx):
            raise _ApiError(
                404, f"Image {image_ref} could not be found."
            )  # assumption: Cinder's ImageNotFound
        return image

    def _source_snapshot(self, spec: _Json, ctx: _Ctx) -> _Snapshot | None:
        snapshot_id = spec.get("snapshot_id")
        if not snapshot_id:
            return None
        snapshot = self._snapshot(ctx, str(snapshot_id))
        if snapshot.status != "available":
            raise _ApiError(
                400, "Invalid snapshot: Originating snapshot status must be one of 'available' values"
            )
        return snapshot

    def _update_volume(self, req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        volume = self._volume(ctx, m.group(1))
        spec = req.json().get("volume")
        if not isinstance(spec, dict):
            raise _ApiError(400, "Missing required element 'volume' in request body.")
        if "name" in spec:
            volume.name = str(spec["name"] or "")
        if "description" in spec:
            volume.description = spec["description"]
        if isinstance(spec.get("metadata"), dict):
            volume.metadata = {str(k): str(v) for k, v in spec["metadata"].items()}
        volume.updated = self.now()
        return _json_reply(_STATUS_GOOD, {"volume": self._volume_view(volume, ctx)})

    def _delete_volume(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        volume = self._volume(ctx, m.group(1))
        has_snapshots = any(s.volume_id == volume.id for s in self.state.snapshots.values())
        if volume.status not in _DELETABLE_VOLUME or volume.attachments or has_snapshots:
            # Cinder's InvalidVolume for in-use, attached or snapshotted volumes; the reference is silent,
            # the text is the one real clients print (found in public pages).
            raise _ApiError(400, _VOLUME_DELETE_REFUSED)
        volume.status, volume.updated = "deleting", self.now()

        def finish() -> None:
            self.state.volumes.pop(volume.id, None)

        self.later(finish)
        return _empty(202)

    # ------------------------------------------------------------------------------ volume actions
    def _volume_action(self, req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        volume = self._volume(ctx, m.group(1))
        body = req.json()
        if len(body) != 1:
            raise _ApiError(400, "Malformed request body")
        action, args = next(iter(body.items()))
        handler = self._volume_actions.get(action)
        if handler is None:
            raise _ApiError(400, f"There is no such action: {action}")  # assumption: Cinder's text
        handler(volume, ctx, args if isinstance(args, dict) else {})
        volume.updated = self.now()
        return _empty(202)

    @property
    def _volume_actions(self) -> dict[str, Callable[[_Volume, _Ctx, _Json], None]]:
        return {
            "os-attach": self._cinder_attach,
            "os-detach": self._cinder_detach,
            "os-reserve": self._reserve,
            "os-unreserve": self._unreserve,
            "os-begin_detaching": self._begin_detaching,
            "os-roll_detaching": self._roll_detaching,
        }

    def _cinder_attach(self, volume: _Volume, _ctx: _Ctx, args: _Json) -> None:
        instance, host = args.get("instance_uuid"), args.get("host_name")
        if not instance and not host:
            raise _ApiError(400, "Invalid request to attach volume to an invalid target")
        if volume.status not in ("available", "attaching", "reserved"):
            # assumption: the text of Cinder's refusal
            raise _ApiError(
                400,
                f"Invalid volume: Volume {volume.id} status must be available or attaching to attach, "
                f"but the current status is {volume.status}.",
            )
        server = self.state.servers.get(str(instance or ""))
        # Quirk a: by default only Cinder's records change; Nova never learns of the attachment.
        in_guest = self.reaches_guest and server is not None
        volume.attachments.append(
            _Attachment(
                id=str(uuid.uuid4()),
                volume_id=volume.id,
                server_id=str(instance) if instance else None,
                host_name=str(host) if host else None,
                device=str(args.get("mountpoint") or ""),
                attached=True,
                in_guest=in_guest,
                nova_owned=False,
                bdm_id=str(uuid.uuid4()),
                attached_at=self.now(),
            )
        )
        volume.status = "in-use"

    def _cinder_detach(self, volume: _Volume, ctx: _Ctx, args: _Json) -> None:
        wanted = args.get("attachment_id")
        if wanted is None and len(volume.attachments) == 1:
            wanted = volume.attachments[0].id
        attachment = next((a for a in volume.attachments if a.id == wanted), None)
        if attachment is None:
            if not volume.attachments:
                # assumption: Cinder's text
                raise _ApiError(
                    400,
                    "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and "
                    "attach_status must be 'attached' to detach.",
                )
            # assumption: Cinder's VolumeAttachmentNotFound text
            raise _ApiError(
                404, f"Volume attachment could not be found with filter: attachment_id = {wanted}."
            )
        if attachment.nova_owned and "service" not in ctx.roles:
            # Cinder since the OSSA for bug 2004555 (reference §3.1, "Wire examples")
            # The lab (real Cinder 29) prefixes the exception class name: "ConflictNovaUsingAttachment: ...".
            raise _ApiError(
                409,
                f"ConflictNovaUsingAttachment: Detach volume from instance {attachment.server_id} using the "
                "Compute API",
            )
        volume.attachments.remove(attachment)
        volume.status = "in-use" if volume.attachments else "available"

    @staticmethod
    def _reserve(volume: _Volume, _ctx: _Ctx, _args: _Json) -> None:
        if volume.status != "available":
            raise _ApiError(
                400,
                "Invalid volume: Volume status must be available to reserve, but the status is "
                f"{volume.status}.",
            )
        volume.status = "attaching"  # the legacy reserve writes "attaching"

    @staticmethod
    def _unreserve(volume: _Volume, _ctx: _Ctx, _args: _Json) -> None:
        if volume.status == "attaching":
            volume.status = "in-use" if volume.attachments else "available"

    @staticmethod
    def _begin_detaching(volume: _Volume, _ctx: _Ctx, _args: _Json) -> None:
        if volume.status != "in-use" or not volume.attachments:
            # assumption: Cinder's text
            raise _ApiError(
                400,
                "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and "
                "attach_status must be 'attached' to detach.",
            )
        volume.status = "detaching"

    @staticmethod
    def _roll_detaching(volume: _Volume, _ctx: _Ctx, _args: _Json) -> None:
        if volume.status == "detaching":
            volume.status = "in-use" if volume.attachments else "available"

    # ------------------------------------------------------------------------------ metadata
    def _get_metadata(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        return _json_reply(_STATUS_GOOD, {"metadata": dict(self._volume(ctx, m.group(1)).metadata)})

    def _set_metadata(self, req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        volume = self._volume(ctx, m.group(1))
        metadata = req.json().get("metadata")
        if not isinstance(metadata, dict):
            raise _ApiError(400, "Malformed request body")
        given = {str(k): str(v) for k, v in metadata.items()}
        volume.metadata = given if req.method == "PUT" else {**volume.metadata, **given}
        volume.updated = self.now()
        return _json_reply(_STATUS_GOOD, {"metadata": dict(volume.metadata)})

    def _delete_metadata_key(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        volume = self._volume(ctx, m.group(1))
        if volume.metadata.pop(m.group(2), None) is None:
            # assumption: Cinder's text
            raise _ApiError(404, "Metadata item was not found")
        return _empty(200)

    # ------------------------------------------------------------------------------ snapshots
    def _snapshot(self, ctx: _Ctx, snapshot_id: str) -> _Snapshot:
        snapshot = self.state.snapshots.get(snapshot_id)
        if snapshot is None or not (ctx.is_admin or snapshot.project_id == ctx.project_id):
            raise _ApiError(404, f"Snapshot {snapshot_id} could not be found.")
        return snapshot

    def _snapshot_view(self, snapshot: _Snapshot, ctx: _Ctx) -> _Json:
        view: _Json = {
            "id": snapshot.id,
            "name": snapshot.name,
            "description": snapshot.description,
            "status": snapshot.status,
            "size": snapshot.size,
            "volume_id": snapshot.volume_id,
            "created_at": _iso(self.wall(snapshot.created), style="cinder"),
            "updated_at": _iso(self.wall(snapshot.updated), style="cinder"),
            "metadata": dict(snapshot.metadata),
            "os-extended-snapshot-attributes:project_id": snapshot.project_id,
            "os-extended-snapshot-attributes:progress": "100%" if snapshot.status == "available" else "0%",
        }
        if ctx.at_least(3, 14):
            view["group_snapshot_id"] = None
        if ctx.at_least(3, 41):
            view["user_id"] = snapshot.user_id
        if ctx.at_least(3, 65):
            view["consumes_quota"] = True
        return view

    def _list_snapshots(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        everyone = ctx.is_admin and _as_bool(req.arg("all_tenants") or "0")
        snapshots = sorted(
            (s for s in self.state.snapshots.values() if everyone or s.project_id == ctx.project_id),
            key=lambda s: -s.seq,
        )
        volume_id = req.arg("volume_id")
        if volume_id:
            snapshots = [s for s in snapshots if s.volume_id == volume_id]
        page, next_marker = _page(snapshots, req, lambda s: s.id)
        doc: _Json = {"snapshots": [self._snapshot_view(s, ctx) for s in page]}
        if next_marker is not None:
            doc["snapshots_links"] = [{"rel": "next", "href": self._next_href(req, next_marker)}]
        return _json_reply(_STATUS_GOOD, doc)

    def _get_snapshot(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        return _json_reply(
            _STATUS_GOOD, {"snapshot": self._snapshot_view(self._snapshot(ctx, m.group(1)), ctx)}
        )

    def _create_snapshot(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        spec = req.json().get("snapshot")
        if not isinstance(spec, dict) or not spec.get("volume_id"):
            raise _ApiError(
                400, "Invalid input for field/attribute snapshot. 'volume_id' is a required property"
            )
        volume = self._volume(ctx, str(spec["volume_id"]))
        force = _as_bool(spec.get("force", False))
        allowed = ("available", "in-use") if force else ("available",)
        if volume.status not in allowed:
            # assumption: Cinder's text (cinder/volume/api.py _create_snapshot_in_db_validate)
            raise _ApiError(
                400,
                f"Invalid volume: Volume {volume.id} status must be available, but current status is: "
                f"{volume.status}.",
            )
        now = self.now()
        snapshot = _Snapshot(
            id=str(uuid.uuid4()),
            project_id=volume.project_id,
            user_id=ctx.user.id,
            volume_id=volume.id,
            name=spec.get("name"),
            description=spec.get("description"),
            size=volume.size,
            status="creating",
            seq=self.state.next_seq(),
            created=now,
            updated=now,
            metadata={str(k): str(v) for k, v in (spec.get("metadata") or {}).items()},
        )
        self.state.snapshots[snapshot.id] = snapshot

        def finish() -> None:
            if snapshot.status == "creating":
                snapshot.status, snapshot.updated = "available", self.now()

        self.later(finish)
        return _json_reply(202, {"snapshot": self._snapshot_view(snapshot, ctx)})

    def _delete_snapshot(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        snapshot = self._snapshot(ctx, m.group(1))
        if snapshot.status not in ("available", "error"):
            raise _ApiError(400, "Invalid snapshot: Volume Snapshot status must be available or error.")
        snapshot.status, snapshot.updated = "deleting", self.now()

        def finish() -> None:
            self.state.snapshots.pop(snapshot.id, None)

        self.later(finish)
        return _empty(202)

    # ================================================================================ image
    def _route_image(self, req: _Request) -> _Reply:
        path = req.path
        if path in ("/image", "/image/v2") and req.method in ("GET", "HEAD"):
            return _json_reply(_STATUS_MULTIPLE, {"versions": self._glance_versions()})
        rest = path.removeprefix("/image/v2")
        if rest == path:
            raise _ApiError(404, "The resource could not be found.")
        ctx = self.context(req)
        routes = [
            ("GET", re.compile(r"/images"), self._list_images),
            ("GET", re.compile(r"/images/([^/]+)"), self._get_image),
        ]
        return self._dispatch(req, ctx, rest, routes)

    def _glance_versions(self) -> list[_Json]:
        href = f"{self.base_url}/image/v2/"
        return [
            {
                "id": f"v2.{minor}",
                "status": "CURRENT" if minor == _GLANCE_NEWEST_MINOR else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for minor in range(_GLANCE_NEWEST_MINOR, -1, -1)
        ]

    def _image_visible(self, image: _Image, ctx: _Ctx) -> bool:
        return ctx.is_admin or image.visibility in ("public", "community") or image.owner == ctx.project_id

    def _image_view(self, image: _Image) -> _Json:
        created = _iso(self.wall(image.created), style="nova")
        digest = hashlib.sha512(image.id.encode()).hexdigest()
        return {
            "id": image.id,
            "name": image.name,
            "status": "active",
            "visibility": image.visibility,
            "protected": False,
            "os_hidden": False,
            "disk_format": "qcow2",
            "container_format": "bare",
            "size": image.size,
            "virtual_size": None,
            "min_disk": image.min_disk,
            "min_ram": 0,
            "owner": image.owner,
            "checksum": digest[:32],
            "os_hash_algo": "sha512",
            "os_hash_value": digest,
            "tags": [],
            "created_at": created,
            "updated_at": created,
            "self": f"/v2/images/{image.id}",
            "file": f"/v2/images/{image.id}/file",
            "schema": "/v2/schemas/image",
            "os_distro": image.os_distro,
            "os_version": image.os_version,
        }

    def _list_images(self, req: _Request, ctx: _Ctx, _m: re.Match[str]) -> _Reply:
        limit_text = req.arg("limit")
        limit = _GLANCE_LIMIT_DEFAULT if limit_text is None else _as_int(limit_text, "limit")
        if limit < 0:
            raise _ApiError(400, "limit param must be positive")
        limit = min(limit, _GLANCE_LIMIT_MAX)
        images = sorted(
            (i for i in self.state.images.values() if self._image_visible(i, ctx)),
            key=lambda i: (-i.created, -i.seq),  # Glance's default: created_at desc, then id
        )
        reserved = {"limit", "marker", "sort_key", "sort_dir", "sort"}
        views = [self._image_view(i) for i in images]
        for key, values in req.query.items():
            if key not in reserved:
                views = [v for v in views if str(v.get(key)) == values[-1]]
        marker = req.arg("marker")
        if marker is not None:
            index = next((n for n, v in enumerate(views) if v["id"] == marker), None)
            if index is None:
                raise _ApiError(400, f"Invalid marker. Image {marker} could not be found.")  # assumption
            views = views[index + 1 :]
        page = views[:limit]
        params = [(k, v[-1]) for k, v in req.query.items() if k != "marker"]
        query = urlencode(params)
        doc: _Json = {
            "images": page,
            "schema": "/v2/schemas/images",
            "first": "/v2/images" + (f"?{query}" if query else ""),
        }
        if page and len(page) == limit:  # Glance: a full page gets a next link (the next may be empty)
            doc["next"] = "/v2/images?" + urlencode([*params, ("marker", page[-1]["id"])])
        return _json_reply(_STATUS_GOOD, doc)

    def _get_image(self, _req: _Request, ctx: _Ctx, m: re.Match[str]) -> _Reply:
        image = self.state.images.get(m.group(1))
        if image is None or not self._image_visible(image, ctx):
            # assumption: Glance's text
            raise _ApiError(404, f"No image found with ID {m.group(1)}")
        return _json_reply(_STATUS_GOOD, self._image_view(image))


def _page(items: list[_T], req: _Request, key: Callable[[_T], str]) -> tuple[list[_T], str | None]:
    """Nova/Cinder paging: ``marker`` (an id) and ``limit``; a full page names the next marker."""
    marker = req.arg("marker")
    if marker is not None:
        index = next((n for n, item in enumerate(items) if key(item) == marker), None)
        if index is None:
            # assumption: Nova's MarkerNotFound text
            raise _ApiError(400, f"marker [{marker}] not found")
        items = items[index + 1 :]
    limit_text = req.arg("limit")
    if limit_text is None:
        return items, None
    limit = _as_int(limit_text, "limit")
    if limit < 0:
        raise _ApiError(400, "limit param must be positive")
    page = items[:limit]
    return page, (key(page[-1]) if page and len(page) == limit and len(items) > limit else None)


# ================================================================================== HTTP
class _HttpHandler(QuietHandler):
    def serve(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        path = re.sub(r"/+", "/", parts.path).rstrip("/") or "/"
        request = _Request(
            method=self.command,
            path=path,
            raw_path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            query_string=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            service=_service_of(path),
        )
        try:
            reply = cast("LoopbackServer", self.server).fake._serve(request)  # noqa: SLF001
        except Exception as exc:
            # A bug in the fake must not pass for a network fault: answer 500 naming it, then let
            # socketserver print the traceback.
            text = f"openstack fake internal error: {type(exc).__name__}: {exc}\n"
            self._send(_Reply(500, text.encode(), "text/plain; charset=utf-8"))
            raise
        if reply is None:  # the faults that close the socket without an answer
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("x-openstack-request-id", f"req-{uuid.uuid4()}")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


# ================================================================================== facade
@dataclass(slots=True)
class _ArmedFault:
    fault: OpenStackFault
    method: str | None
    path: str | None
    pattern: re.Pattern[str] | None
    service: ServiceName | None
    remaining: int

    def matches(self, request: _Request) -> bool:
        if self.method is not None and self.method.upper() != request.method:
            return False
        if self.service is not None and self.service != request.service:
            return False
        if self.path is None:
            return True
        found = self.path in request.raw_path
        return found or (self.pattern is not None and self.pattern.search(request.raw_path) is not None)


class _FaultBook:
    """Armed faults, matched in arming order and used up under one lock.

    Shared by `OpenStackFake` and ``cloudkit.testing.FaultProxy`` so both read ``inject`` the same way.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_ArmedFault] = []

    def arm(
        self,
        fault: OpenStackFault,
        *,
        method: str | None,
        path: str | None,
        service: ServiceName | None,
        times: int,
    ) -> None:
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        try:
            pattern = re.compile(path) if path is not None else None
        except re.error:
            pattern = None
        with self._lock:
            self._armed.append(_ArmedFault(fault, method, path, pattern, service, times))

    def take(self, request: _Request) -> OpenStackFault | None:
        with self._lock:
            for armed in self._armed:
                if armed.matches(request):
                    armed.remaining -= 1
                    if armed.remaining == 0:
                        self._armed.remove(armed)
                    return armed.fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()


class OpenStackFake(LoopbackService):
    """Keystone, Nova, Cinder and Glance subsets on ``127.0.0.1`` (an OS-chosen port), in memory.

    Seed: domain ``Default``; roles ``admin`` ⊃ ``member`` ⊃ ``reader`` and ``service``; user
    ``admin``/``secret`` (role admin on project ``admin``) and user ``portal``/``portal-pass`` (member of
    project ``alice``). With ``seed=True`` (the default) also flavors ``1`` m1.tiny, ``2`` m1.small,
    ``3`` m1.medium and public images cirros-0.6.2, debian-12, ubuntu-24.04 (``min_disk`` 1, 2, 3).
    Seed ids are fixed (uuid5); resources made over the wire get uuid4 ids.

    Time: the fake's time is ``clock()`` plus everything given to `advance`. A transition
    (``BUILD`` → ``ACTIVE``, ``creating`` → ``available``, ``attaching`` → ``in-use``, ...) completes
    ``transition_seconds`` after the request that started it, at the first later request or state
    peek; with 0 it completes at the next one. Tokens live ``token_ttl_seconds``.

    Example:
        >>> import httpx
        >>> with OpenStackFake() as fake, httpx.Client(trust_env=False) as http:
        ...     token = http.post(f"{fake.auth_url}/auth/tokens", json=fake.portal.token_request())
        ...     images = http.get(f"{fake.url}/image/v2/images?limit=2",
        ...                       headers={"X-Auth-Token": token.headers["X-Subject-Token"]}).json()
        >>> [i["name"] for i in images["images"]], images["next"].startswith("/v2/images?limit=2&marker=")
        (['ubuntu-24.04', 'debian-12'], True)
        >>> fake.requests[0].headers.get("x-auth-token"), fake.requests[1].headers["x-auth-token"]
        (None, '***')
    """

    _what = "openstack fake"
    _handler = _HttpHandler

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        transition_seconds: float = 0.0,
        cinder_attach_reaches_guest: bool = False,
        seed: bool = True,
        port: int = 0,
        token_ttl_seconds: float = 3600.0,
        compute_max_microversion: str = "2.100",
    ) -> None:
        """Configure the fake; nothing listens until `start`.

        ``compute_max_microversion`` is what Nova's version document announces (2.101 makes a
        volume attach answer 202 without a body).

        Example:
            >>> OpenStackFake(transition_seconds=2.0).cinder_attach_reaches_guest
            False
        """
        compute_max = _parse_version(compute_max_microversion)
        if compute_max is None or compute_max < _COMPUTE_MIN:
            raise ValueError(
                f"compute_max_microversion must look like 2.NN, got {compute_max_microversion!r}"
            )
        if transition_seconds < 0 or token_ttl_seconds <= 0:
            raise ValueError("transition_seconds must be >= 0 and token_ttl_seconds > 0")
        self._clock = clock
        self._offset = 0.0
        self._seed = seed
        self._port = port  # 0: the OS picks a free port
        self._switch = cinder_attach_reaches_guest
        self._options = _Options(transition_seconds, token_ttl_seconds, compute_max)
        self._lock = threading.RLock()
        self._faults = _FaultBook()
        self._slow = SlowGate()
        self._server: LoopbackServer | None = None
        self._cloud = self._new_cloud()
        self.requests: list[OpenStackCall] = []
        """Every request received, in the order the answers were decided, secrets replaced by ``"***"``."""
        admin = self._cloud.state.user_by_name("admin")
        portal = self._cloud.state.user_by_name("portal")
        assert admin is not None  # noqa: S101 - seeded just above
        assert portal is not None  # noqa: S101 - seeded just above
        self.admin = FakeCredentials("admin", "secret", "admin", admin.id, _hex5("project:admin"))
        """The seeded administrator (role ``admin`` on project ``admin``)."""
        self.portal = FakeCredentials("portal", "portal-pass", "alice", portal.id, _hex5("project:alice"))
        """The seeded portal user (role ``member`` on project ``alice``)."""

    def _now(self) -> float:
        return self._clock() + self._offset

    def _new_cloud(self) -> _Cloud:
        state = _seeded_state(seed=self._seed, now=self._now())
        now = self._now()
        # Whole seconds of fake time map to whole seconds of wall time (token times are whole).
        wall0 = float(math.floor(time.time()) - math.floor(now))
        cloud = _Cloud(state, self._options, self._now, wall0)
        cloud.reaches_guest = self._switch
        if self._server is not None:
            cloud.base_url = self.url
        return cloud

    # ------------------------------------------------------------------------------ lifecycle
    def _before_serving(self) -> None:
        self._cloud.base_url = self.url  # links in answers name the fake's own address

    @property
    def auth_url(self) -> str:
        """Keystone v3 for openstacksdk's ``auth_url``: `url` + ``/identity/v3``.

        Example:
            >>> with OpenStackFake() as fake:
            ...     fake.auth_url.endswith("/identity/v3")
            True
        """
        return f"{self.url}/identity/v3"

    def reset(self) -> None:
        """Go back to the seeded state and the constructor's switches; forget requests, faults, tokens.

        Time offsets given to `advance` are forgotten too.

        Example:
            >>> fake = OpenStackFake()
            >>> image_id = fake.add_image("extra")
            >>> fake.reset()
            >>> fake.image_ids()[-1] == image_id
            False
        """
        with self._lock:
            self._offset = 0.0
            self._cloud = self._new_cloud()
            self._faults.clear()
            self.requests.clear()
        self._slow.reset()

    @property
    def cinder_attach_reaches_guest(self) -> bool:
        """Whether Cinder's ``os-attach`` also shows in Nova (False: only Cinder's records change).

        Example:
            >>> fake = OpenStackFake()
            >>> fake.cinder_attach_reaches_guest = True
            >>> fake.cinder_attach_reaches_guest
            True
        """
        return self._cloud.reaches_guest

    @cinder_attach_reaches_guest.setter
    def cinder_attach_reaches_guest(self, value: bool) -> None:
        with self._lock:
            self._cloud.reaches_guest = value

    def advance(self, seconds: float) -> None:
        """Move the fake's time forward (pending transitions then complete at the next observation).

        Works with any clock: the fake's time is ``clock()`` plus the sum of every advance.

        Example:
            >>> fake = OpenStackFake(clock=lambda: 100.0)
            >>> fake.advance(2.5)
            >>> fake.now()
            102.5
        """
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += seconds

    def now(self) -> float:
        """The fake's current time in seconds (``clock()`` plus the `advance` offset).

        Example:
            >>> OpenStackFake(clock=lambda: 7.0).now()
            7.0
        """
        return self._now()

    # ------------------------------------------------------------------------------ seeding
    def add_user(
        self, name: str, password: str, *, project: str, roles: Iterable[str] = ("member",)
    ) -> FakeCredentials:
        """Add a user with roles on a project (made if missing); returns its credentials.

        Example:
            >>> bob = OpenStackFake().add_user("bob", "bob-pass", project="bob")
            >>> bob.project_name, len(bob.user_id)
            ('bob', 32)
        """
        with self._lock:
            if self._cloud.state.user_by_name(name) is not None:
                raise ValueError(f"user {name!r} already exists")
            return _add_identity(self._cloud.state, name, password, project, tuple(roles))

    def add_image(
        self, name: str, *, os_distro: str = "ubuntu", os_version: str = "24.04", min_disk: int = 1
    ) -> str:
        """Add a public image owned by project ``admin``; returns its id (newest in listings).

        Example:
            >>> fake = OpenStackFake(seed=False)
            >>> fake.add_image("ubuntu") in fake.image_ids()
            True
        """
        with self._lock:
            owner = _hex5("project:admin")
            state, now = self._cloud.state, self._now()
            return _add_image(
                state, name, distro=os_distro, version=os_version, min_disk=min_disk, owner=owner, now=now
            )

    def add_flavor(self, flavor_id: str, name: str, *, vcpus: int = 1, ram: int = 512, disk: int = 1) -> None:
        """Add a flavor (useful with ``seed=False``).

        Example:
            >>> OpenStackFake(seed=False).add_flavor("42", "m1.custom")
        """
        with self._lock:
            self._cloud.state.flavors[flavor_id] = _Flavor(flavor_id, name, vcpus, ram, disk)

    def image_ids(self) -> list[str]:
        """The ids of every image, oldest first.

        Example:
            >>> len(OpenStackFake().image_ids())
            3
        """
        with self._lock:
            return [i.id for i in sorted(self._cloud.state.images.values(), key=lambda i: i.seq)]

    # ------------------------------------------------------------------------------ state peeking
    def server(self, server_id: str) -> FakeServer | None:
        """The server as it is now (due transitions applied), or None once deleted.

        Example:
            >>> OpenStackFake().server("nope") is None
            True
        """
        with self._lock:
            self._cloud.tick()
            server = self._cloud.state.servers.get(server_id)
            return None if server is None else self._server_record(server)

    def servers(self) -> list[FakeServer]:
        """Every server, oldest first.

        Example:
            >>> OpenStackFake().servers()
            []
        """
        with self._lock:
            self._cloud.tick()
            found = sorted(self._cloud.state.servers.values(), key=lambda s: s.seq)
            return [self._server_record(s) for s in found]

    def volume(self, volume_id: str) -> FakeVolume | None:
        """The volume as it is now (due transitions applied), or None once deleted.

        Example:
            >>> OpenStackFake().volume("nope") is None
            True
        """
        with self._lock:
            self._cloud.tick()
            volume = self._cloud.state.volumes.get(volume_id)
            return None if volume is None else _volume_record(volume)

    def volumes(self) -> list[FakeVolume]:
        """Every volume, oldest first.

        Example:
            >>> OpenStackFake().volumes()
            []
        """
        with self._lock:
            self._cloud.tick()
            return [
                _volume_record(v) for v in sorted(self._cloud.state.volumes.values(), key=lambda v: v.seq)
            ]

    def snapshots(self) -> list[FakeSnapshot]:
        """Every volume snapshot, oldest first.

        Example:
            >>> OpenStackFake().snapshots()
            []
        """
        with self._lock:
            self._cloud.tick()
            found = sorted(self._cloud.state.snapshots.values(), key=lambda s: s.seq)
            return [
                FakeSnapshot(s.id, s.volume_id, s.project_id, s.name or "", s.size, s.status) for s in found
            ]

    def _server_record(self, server: _Server) -> FakeServer:
        volume_ids = tuple(a.volume_id for a in self._cloud._guest_attachments(server))  # noqa: SLF001
        return FakeServer(
            server.id,
            server.project_id,
            server.name,
            server.status,
            server.vm_state,
            server.task_state,
            server.power_state,
            server.locked,
            server.locked_reason,
            server.flavor_id,
            server.root_volume_id,
            volume_ids,
        )

    # ------------------------------------------------------------------------------ faults
    def inject(
        self,
        fault: OpenStackFault,
        *,
        method: str | None = None,
        path: str | None = None,
        service: ServiceName | None = None,
        times: int = 1,
    ) -> None:
        """Give the next ``times`` matching requests this fault.

        ``path`` matches the request path (without the query) as a substring or, failing that, as a
        regular expression (``re.search``); ``method`` is compared case-insensitively; ``service`` is
        ``"identity"``, ``"compute"``, ``"volume"`` or ``"image"``.

        Example:
            >>> OpenStackFake().inject(OpenStackFault.wsrep(), method="POST", path="/servers", times=2)
        """
        self._faults.arm(fault, method=method, path=path, service=service, times=times)

    def release_slow(self) -> None:
        """Let one held ``slow`` answer go (or the next one, if none is held yet).

        Example:
            >>> OpenStackFake().release_slow()
        """
        self._slow.release()

    def wait_until_held(self, timeout: float = 5.0) -> bool:
        """Block until a ``slow`` answer is being held (True) or ``timeout`` passes (False).

        Example:
            >>> OpenStackFake().wait_until_held(timeout=0.0)
            False
        """
        return self._slow.wait_until_held(timeout)

    # ------------------------------------------------------------------------------ serving
    def _take_fault(self, request: _Request) -> OpenStackFault | None:
        return self._faults.take(request)

    def _hold(self, fault: OpenStackFault) -> None:
        self._slow.hold(fault.hold)

    def _serve(self, request: _Request) -> _Reply | None:
        """One HTTP request: apply a fault, handle it, record it; None means close without answer."""
        fault = self._take_fault(request)
        kind = fault.kind if fault is not None else None
        reply: _Reply | None
        if fault is not None and kind == "drop_connection":
            reply = None
        elif fault is not None and kind == "server_error":
            reply = _fault_reply(fault, request.service)
        elif fault is not None and kind == "wsrep":
            reply = _wsrep_reply(request.service, echo=fault.echo)
        else:
            if fault is not None and kind == "slow":
                self._hold(fault)
            with self._lock:
                reply = self._cloud.handle(request)
        sent = None if kind == "drop_after_effect" else reply
        self._record(request, sent, kind)
        return sent

    def _record(self, request: _Request, reply: _Reply | None, fault: OpenStackFaultKind | None) -> None:
        headers = {k: "***" if k in _SECRET_HEADERS else v for k, v in request.headers.items()}
        call = OpenStackCall(
            method=request.method,
            path=request.raw_path,
            query=request.query_string,
            service=request.service,
            status=None if reply is None else reply.status,
            headers=types.MappingProxyType(headers),
            body=_mask_body(request.body),
            fault=fault,
        )
        with self._lock:
            self.requests.append(call)


def _fault_reply(fault: OpenStackFault, service: ServiceName) -> _Reply:
    """The answer of an injected ``server_error``: its body, or the service's envelope for its status."""
    if fault.body is None:
        message = (
            "The server is currently unavailable. Please try again at a later time."
            if fault.status == 503  # noqa: PLR2004 - webob's text for 503
            else http.HTTPStatus(fault.status).phrase
        )
        return _envelope_reply(_ENVELOPES[service], fault.status, message)
    return _Reply(fault.status, fault.body.encode(), fault.content_type)


def _wsrep_reply(service: ServiceName, *, echo: bool) -> _Reply:
    """The answer of an injected ``wsrep`` fault, as the service gives it."""
    if service == "identity":
        return _envelope_reply("keystone", 500, _WSREP_ECHO if echo else _KEYSTONE_500)
    if service == "image":
        return _envelope_reply("glance", 500, _WSREP_ECHO if echo else _CINDER_500)
    if service == "volume":
        return _envelope_reply("nova", 500, _WSREP_ECHO if echo else _CINDER_500)
    return _envelope_reply("nova", 500, _WSREP_ECHO if echo else _NOVA_DB_ERROR)


def _volume_record(volume: _Volume) -> FakeVolume:
    attachments = tuple(
        FakeVolumeAttachment(
            a.id, a.server_id, a.host_name, a.device, a.attached, a.in_guest, a.delete_on_termination
        )
        for a in volume.attachments
    )
    return FakeVolume(
        volume.id,
        volume.project_id,
        volume.name,
        volume.size,
        volume.status,
        volume.bootable,
        types.MappingProxyType(dict(volume.metadata)),
        attachments,
        volume.image_id,
    )
