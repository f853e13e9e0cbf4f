"""keystonemiddleware's side of Keystone for the Tungsten fake: a service token, token validation, projects.

TF validates every caller's token on Keystone with its own service token (``X-Auth-Token``) and the
caller's in ``X-Subject-Token``; the identity (user, project, roles) comes only from that answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from cloudkit._core import Secret
from cloudkit._keystone import login_body, read_token

USER_AGENT = "cloudkit-tungsten-fake/keystonemiddleware"
"""The agent of the TF fake's own Keystone calls (token validation, project sync), which recorders drop."""


@dataclass(frozen=True, slots=True)
class Identity:
    """What keystonemiddleware puts in the environ: from the token only."""

    user_id: str
    user: str
    project_id: str | None  # Keystone's hex id
    project: str | None
    domain_id: str | None
    roles: tuple[str, ...]
    expires: float  # epoch seconds


class KeystoneUnavailableError(Exception):
    """Keystone could not be asked (unreachable, or the service login failed)."""


class KeystoneClient:
    """keystonemiddleware's view of Keystone: a service token, token validation, project lookups."""

    def __init__(self, url: str, admin: tuple[str, str, str]) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/v3") else f"{base}/v3"
        self.www_authenticate = self.url.removesuffix("/v3")
        self._admin = admin
        self._service_token: str | None = None
        self._http: httpx.Client | None = None

    def close(self) -> None:
        client, self._http = self._http, None
        if client is not None:
            client.close()
        self._service_token = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            # Its own agent: a recorder drops these calls (the fake's business, not the client's).
            self._http = httpx.Client(trust_env=False, timeout=10.0, headers={"User-Agent": USER_AGENT})
        return self._http

    def _issue_service_token(self) -> str:
        user, password, project = self._admin
        body = login_body(user_name=user, password=password, project_name=project)
        try:
            reply = self._client().post(f"{self.url}/auth/tokens?nocatalog", json=body)
        except httpx.HTTPError as exc:
            raise KeystoneUnavailableError(str(exc)) from exc
        if reply.status_code != 201:  # noqa: PLR2004 - Keystone's token-issued status
            raise KeystoneUnavailableError(f"service login answered {reply.status_code}")
        self._service_token = reply.headers["X-Subject-Token"]
        return self._service_token

    def _get(self, path: str, headers: Mapping[str, str] | None = None) -> httpx.Response:
        for attempt in (1, 2):
            token = self._service_token or self._issue_service_token()
            try:
                reply = self._client().get(
                    f"{self.url}{path}", headers={"X-Auth-Token": token, **(headers or {})}
                )
            except httpx.HTTPError as exc:
                raise KeystoneUnavailableError(str(exc)) from exc
            if reply.status_code == 401 and attempt == 1:  # noqa: PLR2004 - the service token expired
                self._service_token = None
                continue
            return reply
        raise KeystoneUnavailableError("unreachable")  # pragma: no cover - the loop returns

    def validate(self, token: str) -> Identity | None:
        """The identity behind a token, or None when Keystone says it is not valid (404)."""
        reply = self._get("/auth/tokens?nocatalog", {"X-Subject-Token": token})
        if reply.status_code in (401, 403, 404):
            return None
        if reply.status_code != 200:  # noqa: PLR2004 - Keystone's success
            raise KeystoneUnavailableError(f"token validation answered {reply.status_code}")
        return _identity(reply, token)

    def project(self, *, project_id: str | None = None, name: str | None = None) -> tuple[str, str] | None:
        """``(hex id, name)`` of a Keystone project, found by id or by name; None when unknown."""
        if project_id is not None:
            reply = self._get(f"/projects/{project_id}")
            if reply.status_code != 200:  # noqa: PLR2004 - Keystone's success
                return None
            found = reply.json()["project"]
            return str(found["id"]), str(found["name"])
        reply = self._get(f"/projects?{urlencode({'name': name or ''})}")
        if reply.status_code != 200:  # noqa: PLR2004 - Keystone's success
            return None
        projects = reply.json().get("projects") or []
        return (str(projects[0]["id"]), str(projects[0]["name"])) if projects else None


def _identity(reply: httpx.Response, token: str) -> Identity:
    """The identity in a token answer, read by cloudkit's one Keystone token parser."""
    found = read_token(reply, system="tungsten", operation="validate", subject=Secret(token)).identity
    project = (reply.json()["token"].get("project") or {}) if found.project_id else {}
    return Identity(
        user_id=str(found.user_id),
        user=found.user_name,
        project_id=found.project_id,
        project=found.project_name,
        domain_id=str((project.get("domain") or {}).get("id", "default")) if project else None,
        roles=found.roles,
        expires=found.expires_at.timestamp() if found.expires_at else 0.0,
    )
