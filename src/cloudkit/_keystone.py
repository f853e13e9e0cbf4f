"""The one place that speaks Keystone v3: the login body, the token reply, the identity and the errors.

OpenStack (through keystoneauth), Tungsten Fabric, the portal session and the lab all log in to the same
Keystone; they build the ``POST /v3/auth/tokens`` body with :func:`login_body`, read the answer with
:func:`parse_token` and turn a refusal into a cloudkit error with :func:`keystone_error`. "Who am I"
is one :class:`KeystoneIdentity` everywhere.

Pure: no I/O here; callers send the request and hand back status, headers and bytes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import attrs

from cloudkit._core._errors import error_for_status, request_id_from
from cloudkit._core._secret import Secret
from cloudkit.errors import ApiError, ResponseDecodeError

__all__ = [
    "TOKEN_HEADER",
    "KeystoneIdentity",
    "KeystoneProject",
    "KeystoneToken",
    "KeystoneUser",
    "keystone_error",
    "login_body",
    "parse_entity",
    "parse_listing",
    "parse_project",
    "parse_token",
    "parse_user",
    "project_body",
    "read_token",
    "user_body",
]

TOKEN_HEADER = "X-Subject-Token"  # noqa: S105 (a header name)
_DETAIL_LIMIT = 300


@attrs.frozen(kw_only=True)
class KeystoneIdentity:
    """A Keystone identity: a user in a domain, optionally scoped to a project.

    Built by hand it says whom to log in as (``user_name``, ``user_domain``, ``project_name`` or
    ``project_id``; no project: the user's default project). Read from a token it also says who Keystone
    saw: ids, role names on the project and when the token expires. Built with :meth:`of` it is the
    spelling-independent key that tells whether two settings log in as the same user.

    Attributes:
        user_name: the user (the id, when a token gives no name).
        user_domain, project_domain: domain names (or ids when a token gives no name); ``"Default"``.
        project_name, project_id: the project scope, or ``None``.
        user_id: the user's id, when read from a token.
        roles: role names on the project, when read from a token.
        expires_at: when the token this identity was read from expires.
        host: the Keystone host (lower case), when built with :meth:`of`.

    Example:
        >>> from cloudkit.openstack import KeystoneIdentity
        >>> me = KeystoneIdentity(user_name="svc-tf", project_name="service", roles=("admin",))
        >>> me.user_domain, me.is_admin
        ('Default', True)
    """

    user_name: str
    user_domain: str | None = "Default"
    project_name: str | None = None
    project_domain: str | None = "Default"
    project_id: str | None = None
    user_id: str | None = None
    roles: tuple[str, ...] = ()
    expires_at: dt.datetime | None = None
    host: str | None = None

    @classmethod
    def of(cls, auth_url: str, user_name: str, user_domain: str) -> KeystoneIdentity:
        """The user settings log in as, normalised: host, user and domain compared case-insensitively.

        Example:
            >>> from cloudkit.openstack import KeystoneIdentity
            >>> a = KeystoneIdentity.of("http://KS:5000/v3", "admin", "Default")
            >>> a == KeystoneIdentity.of("http://ks:35357/v3", "Admin", "default"), a.host
            (True, 'ks')
        """
        host = (urlsplit(auth_url).hostname or "").lower()
        return cls(
            host=host, user_name=user_name.casefold(), user_domain=user_domain.casefold(), project_domain=None
        )

    @property
    def is_admin(self) -> bool:
        """Whether the roles include ``admin`` (case-insensitive, as TF's cloud-admin check).

        Example:
            >>> from cloudkit.openstack import KeystoneIdentity
            >>> KeystoneIdentity(user_name="alice", roles=("member",)).is_admin
            False
        """
        return any(role.lower() == "admin" for role in self.roles)


@attrs.frozen(kw_only=True)
class KeystoneToken:
    """A token Keystone issued or validated: the value (a :class:`~cloudkit.Secret`) and whose it is.

    Example:
        >>> import datetime as dt
        >>> from cloudkit import Secret
        >>> from cloudkit._keystone import KeystoneIdentity, KeystoneToken
        >>> t = KeystoneToken(value=Secret("gAAAA"), identity=KeystoneIdentity(user_name="svc"),
        ...                   issued_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        ...                   expires_at=dt.datetime(2030, 1, 1, 1, tzinfo=dt.UTC))
        >>> t.lifetime, t.value
        (3600.0, Secret('***'))
    """

    value: Secret
    identity: KeystoneIdentity
    issued_at: dt.datetime | None
    expires_at: dt.datetime

    @property
    def lifetime(self) -> float | None:
        """Seconds from issue to expiry, or ``None`` when Keystone did not say when it issued it."""
        return (self.expires_at - self.issued_at).total_seconds() if self.issued_at else None


def login_body(
    *,
    user_name: str | None = None,
    password: str | None = None,
    user_domain: str = "Default",
    project_name: str | None = None,
    project_domain: str = "Default",
    project_id: str | None = None,
    application_credential_id: str | None = None,
    application_credential_secret: str | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /v3/auth/tokens``: a password login or an application credential.

    A password login is scoped to ``project_id``, else to ``project_name`` in ``project_domain``, else
    left unscoped (Keystone then scopes it to the user's default project, if any). An application
    credential carries its own project. Built as a JSON document, never by string concatenation, so any
    password survives.

    Example:
        >>> from cloudkit._keystone import login_body
        >>> body = login_body(user_name="svc-tf", password='p"w', project_name="service")
        >>> body["auth"]["identity"]["password"]["user"]["name"], body["auth"]["scope"]["project"]["name"]
        ('svc-tf', 'service')
        >>> login_body(application_credential_id="ac1", application_credential_secret="s")["auth"]
        {'identity': {'methods': ['application_credential'], 'application_credential': {'id': 'ac1', 'secret': 's'}}}
    """  # noqa: E501 (a doctest output line)
    if application_credential_id is not None:
        method = "application_credential"
        credential: dict[str, Any] = {
            "id": application_credential_id,
            "secret": application_credential_secret,
        }
    else:
        method = "password"
        user = {"name": user_name, "domain": {"name": user_domain}, "password": password}
        credential = {"user": user}
    auth: dict[str, Any] = {"identity": {"methods": [method], method: credential}}
    if method == "password" and project_id:
        auth["scope"] = {"project": {"id": project_id}}
    elif method == "password" and project_name:
        auth["scope"] = {"project": {"name": project_name, "domain": {"name": project_domain}}}
    return {"auth": auth}


def parse_token(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    system: str,
    operation: str,
    subject: Secret | None = None,
) -> KeystoneToken:
    """The token of a ``POST`` (issue) or ``GET`` (validate, pass ``subject``) ``/v3/auth/tokens`` answer.

    Raises:
        AuthenticationError, ApiError: Keystone refused (see :func:`keystone_error`).
        ResponseDecodeError: no ``X-Subject-Token`` on an issue, or a body without user or expiry.

    Example:
        >>> from cloudkit._keystone import parse_token
        >>> body = (b'{"token": {"user": {"id": "u1", "name": "svc-tf", "domain": {"name": "Default"}},'
        ...         b' "project": {"id": "p1", "name": "service"}, "roles": [{"name": "admin"}],'
        ...         b' "issued_at": "2030-01-01T00:00:00.000000Z",'
        ...         b' "expires_at": "2030-01-01T01:00:00.000000Z"}}')
        >>> token = parse_token(201, {"x-subject-token": "gAAAA-t"}, body, system="tungsten",
        ...                     operation="login")
        >>> token.lifetime, token.identity.roles, token.identity.project_id
        (3600.0, ('admin',), 'p1')
    """
    if not 200 <= status < 300:  # noqa: PLR2004
        raise keystone_error(status, headers, content, system=system, operation=operation)
    value = next((v for k, v in headers.items() if k.lower() == TOKEN_HEADER.lower()), "")
    if not value and subject is None:
        raise _decode_error(system, operation, f"{TOKEN_HEADER}: missing from Keystone's answer")
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        body = None
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, dict):
        raise _decode_error(system, operation, "$.token: missing")
    user, project = _object(token, "user"), _object(token, "project")
    user_id = user.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise _decode_error(system, operation, "$.token.user.id: missing")
    expires_at = _time(token.get("expires_at"), "$.token.expires_at", system, operation)
    if expires_at is None:
        raise _decode_error(system, operation, "$.token.expires_at: missing")
    identity = KeystoneIdentity(
        user_id=user_id,
        user_name=_text(user, "name") or user_id,
        user_domain=_domain(user),
        project_id=_text(project, "id"),
        project_name=_text(project, "name"),
        project_domain=_domain(project) if project else None,
        roles=tuple(r["name"] for r in _list(token, "roles") if isinstance(r, dict) and _text(r, "name")),
        expires_at=expires_at,
    )
    return KeystoneToken(
        value=subject if subject is not None and not value else Secret(value),
        identity=identity,
        issued_at=_time(token.get("issued_at"), "$.token.issued_at", system, operation),
        expires_at=expires_at,
    )


class Reply(Protocol):
    """What :func:`read_token` reads of an HTTP answer (``httpx`` and ``requests`` responses both fit)."""

    @property
    def status_code(self) -> int:
        """The HTTP status."""

    @property
    def headers(self) -> Mapping[str, str]:
        """The reply headers."""

    @property
    def content(self) -> bytes:
        """The raw body."""


def read_token(reply: Reply, *, system: str, operation: str, subject: Secret | None = None) -> KeystoneToken:
    """:func:`parse_token` of a whole HTTP answer.

    Example:
        >>> from types import SimpleNamespace
        >>> from cloudkit._keystone import read_token
        >>> answer = SimpleNamespace(status_code=401, headers={}, content=b"")  # an httpx or requests reply
        >>> read_token(answer, system="session", operation="login")
        Traceback (most recent call last):
        ...
        cloudkit.errors.AuthenticationError: Keystone answered HTTP 401 [session login]
    """
    return parse_token(
        reply.status_code, reply.headers, reply.content, system=system, operation=operation, subject=subject
    )


def keystone_error(
    status: int, headers: Mapping[str, str] | None, content: bytes, *, system: str, operation: str
) -> ApiError:
    """The cloudkit error for a Keystone refusal (the one status map); never repeats what we sent.

    Keystone's ``{"error": {"code", "title", "message"}}`` carries no code beyond its status, so
    ``code`` is ``None``; ``request_id`` comes from ``x-openstack-request-id``.

    Example:
        >>> from cloudkit._keystone import keystone_error
        >>> err = keystone_error(401, {"x-openstack-request-id": "req-1"}, b'{"error": {"code": 401, '
        ...     b'"message": "The request you have made requires authentication.", "title": "Unauthorized"}}',
        ...     system="tungsten", operation="authenticate")
        >>> err
        AuthenticationError('Keystone refused: The request you have made requires authentication. [tungsten authenticate]')
        >>> err.status, err.code, err.request_id
        (401, None, 'req-1')
    """  # noqa: E501 (a doctest output line)
    detail = ""
    try:
        payload = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        message = payload["error"].get("message")
        detail = message if isinstance(message, str) else ""
    if not detail:
        detail = content.decode("utf-8", "replace")
    detail = " ".join(detail.split())[:_DETAIL_LIMIT]
    cls = error_for_status(status, system=system)
    return cls(
        f"Keystone refused: {detail}" if detail else f"Keystone answered HTTP {status}",
        system=system,
        operation=operation,
        status=status,
        detail=detail or None,
        request_id=request_id_from(headers),
    )


# ================================================================================== admin resources
@attrs.frozen(kw_only=True)
class KeystoneProject:
    """A Keystone project (``GET /v3/projects/{id}``): a customer's tenant.

    Attributes:
        id: Keystone's id (32 hex digits; Tungsten Fabric's project uuid is the same with dashes).
        name: unique within its domain.
        domain_id: the owning domain's id (``default`` for the ``Default`` domain).
        description: free text.
        enabled: a disabled project accepts no new scoped logins.
        tags: Keystone project tags (at most 80 of 1 to 255 characters, no ``/`` or ``,``).

    Example:
        >>> from cloudkit.openstack import KeystoneProject
        >>> KeystoneProject(id="9f3b", name="cust-42", domain_id="default", tags=("cloudkit",)).enabled
        True
    """

    id: str
    name: str
    domain_id: str
    description: str = ""
    enabled: bool = True
    tags: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class KeystoneUser:
    """A Keystone user (``GET /v3/users/{id}``); Keystone never returns a password, nor does this.

    Attributes:
        id: Keystone's id.
        name: unique within its domain.
        domain_id: the owning domain's id.
        default_project_id: the project an unscoped login is scoped to, or ``None``.
        enabled: a disabled user cannot log in.

    Example:
        >>> from cloudkit.openstack import KeystoneUser
        >>> KeystoneUser(id="u1", name="cust-42", domain_id="default")
        KeystoneUser(id='u1', name='cust-42', domain_id='default', default_project_id=None, enabled=True)
    """

    id: str
    name: str
    domain_id: str
    default_project_id: str | None = None
    enabled: bool = True


def project_body(
    name: str, *, domain_id: str, description: str = "", tags: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The JSON body of ``POST /v3/projects``.

    Example:
        >>> from cloudkit._keystone import project_body
        >>> project_body("cust-42", domain_id="default", tags=("cloudkit",))
        {'project': {'name': 'cust-42', 'domain_id': 'default', 'description': '', 'enabled': True, 'tags': ['cloudkit']}}
    """  # noqa: E501 (a doctest output line)
    project: dict[str, Any] = {
        "name": name,
        "domain_id": domain_id,
        "description": description,
        "enabled": True,
    }
    if tags:
        project["tags"] = list(tags)
    return {"project": project}


def user_body(
    name: str, *, password: Secret, domain_id: str, default_project_id: str | None
) -> dict[str, Any]:
    """The JSON body of ``POST /v3/users``; the only place the password is revealed, into the body.

    Example:
        >>> from cloudkit import Secret
        >>> from cloudkit._keystone import user_body
        >>> body = user_body("cust-42", password=Secret("pw"), domain_id="default", default_project_id="p1")
        >>> sorted(body["user"])
        ['default_project_id', 'domain_id', 'enabled', 'name', 'password']
    """
    user: dict[str, Any] = {
        "name": name,
        "domain_id": domain_id,
        "enabled": True,
        "password": password.get_secret_value(),
    }
    if default_project_id:
        user["default_project_id"] = default_project_id
    return {"user": user}


def parse_entity(content: bytes, key: str, *, system: str, operation: str) -> Mapping[str, Any]:
    """The ``{key: {...}}`` object of a Keystone answer (``project``, ``user``, ``role``, ``domain``)."""
    node = _json_object(content).get(key)
    if not isinstance(node, dict):
        raise _decode_error(system, operation, f"$.{key}: missing", what="answer")
    return node


def parse_listing(content: bytes, key: str, *, system: str, operation: str) -> list[Mapping[str, Any]]:
    """The ``{key: [...]}`` list of a Keystone answer (``projects``, ``users``, ``roles``, ``domains``).

    Example:
        >>> from cloudkit._keystone import parse_listing
        >>> parse_listing(b'{"roles": [{"id": "r1", "name": "member"}]}', "roles", system="openstack",
        ...               operation="grant_role")
        [{'id': 'r1', 'name': 'member'}]
    """
    items = _json_object(content).get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _decode_error(system, operation, f"$.{key}: not a list of objects", what="answer")
    return items


def parse_project(node: Mapping[str, Any], *, system: str, operation: str) -> KeystoneProject:
    """A :class:`KeystoneProject` from Keystone's project object.

    Example:
        >>> from cloudkit._keystone import parse_project
        >>> parse_project({"id": "p1", "name": "cust-42", "domain_id": "default", "enabled": True,
        ...                "tags": ["cloudkit"], "description": ""}, system="openstack", operation="x").tags
        ('cloudkit',)
    """
    ident, name, domain_id = _required(node, ("id", "name", "domain_id"), "project", system, operation)
    tags = node.get("tags") or []
    return KeystoneProject(
        id=ident,
        name=name,
        domain_id=domain_id,
        description=node.get("description") or "",
        enabled=node.get("enabled", True) is not False,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
    )


def parse_user(node: Mapping[str, Any], *, system: str, operation: str) -> KeystoneUser:
    """A :class:`KeystoneUser` from Keystone's user object.

    Example:
        >>> from cloudkit._keystone import parse_user
        >>> parse_user({"id": "u1", "name": "cust-42", "domain_id": "default"}, system="openstack",
        ...            operation="x").default_project_id is None
        True
    """
    ident, name, domain_id = _required(node, ("id", "name", "domain_id"), "user", system, operation)
    return KeystoneUser(
        id=ident,
        name=name,
        domain_id=domain_id,
        default_project_id=_text(node, "default_project_id"),
        enabled=node.get("enabled", True) is not False,
    )


def _json_object(content: bytes) -> Mapping[str, Any]:
    try:
        payload = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        payload = None
    return payload if isinstance(payload, dict) else {}


def _required(
    node: Mapping[str, Any], names: tuple[str, ...], key: str, system: str, operation: str
) -> tuple[str, ...]:
    missing = [f"$.{key}.{n}: missing" for n in names if not _text(node, n)]
    if missing:
        raise ResponseDecodeError(
            f"Keystone's {key} is not what cloudkit expects",
            problems=tuple(missing),
            system=system,
            operation=operation,
        )
    return tuple(str(node[n]) for n in names)


def _decode_error(
    system: str, operation: str, problem: str, *, what: str = "token answer"
) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"Keystone's {what} is not what cloudkit expects",
        problems=(problem,),
        system=system,
        operation=operation,
    )


def _object(node: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = node.get(name)
    return value if isinstance(value, dict) else {}


def _list(node: Mapping[str, Any], name: str) -> list[Any]:
    value = node.get(name)
    return value if isinstance(value, list) else []


def _text(node: Mapping[str, Any], name: str) -> str | None:
    value = node.get(name)
    return value if isinstance(value, str) and value else None


def _domain(owner: Mapping[str, Any]) -> str | None:
    domain = _object(owner, "domain")
    return _text(domain, "name") or _text(domain, "id")


def _time(value: object, path: str, system: str, operation: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))  # 3.11 reads the trailing Z
    except ValueError:
        raise _decode_error(system, operation, f"{path}: not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
