"""keystonemiddleware's side of Keystone for the Tungsten fake: a service token, token validation, projects.

TF validates every caller's token on Keystone with its own service token (``X-Auth-Token``) and the
caller's in ``X-Subject-Token``; the identity (user, project, roles) comes only from that answer.
"""

# TODO(lead): use cloudkit._keystone once merged  # noqa: FIX002, TD003
# Its login-body builder replaces _service_login_body, its token parser the parsing in _identity.

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx


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
            self._http = httpx.Client(trust_env=False, timeout=10.0)
        return self._http

    def _issue_service_token(self) -> str:
        body = _service_login_body(*self._admin)
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
        return _identity(reply.json())

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


def _identity(doc: Mapping[str, Any]) -> Identity:
    """The identity in a token answer ``{"token": {...}}``."""
    body = doc["token"]
    project = body.get("project") or {}
    expires = dt.datetime.fromisoformat(str(body["expires_at"]))
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    return Identity(
        user_id=str(body["user"]["id"]),
        user=str(body["user"]["name"]),
        project_id=str(project["id"]) if project else None,
        project=str(project["name"]) if project else None,
        domain_id=str((project.get("domain") or {}).get("id", "default")) if project else None,
        roles=tuple(str(r["name"]) for r in body.get("roles") or ()),
        expires=expires.timestamp(),
    )


def _service_login_body(user: str, password: str, project: str) -> dict[str, Any]:
    """Keystone v3 password login scoped to a project, all in the ``default`` domain."""
    domain = {"id": "default"}
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": password, "domain": domain}},
            },
            "scope": {"project": {"name": project, "domain": domain}},
        }
    }
