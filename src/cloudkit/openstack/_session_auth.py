"""OpenStack from a portal session's own Keystone token: no rescope, catalog and discovery cached per session.

keystoneauth's ``v3token`` plugin exchanges the token it is given for a new one (``POST /v3/auth/tokens``)
and a new ``Connection`` discovers every service's versions again. For a customer's request both are waste:
the session already holds a project-scoped token. Here the token's own body, catalog included, is fetched
once (``GET /v3/auth/tokens``, the token validating itself) and handed to keystoneauth as an
``AccessInfoPlugin``, which never asks Keystone for a token; version discovery is kept in a dict shared by
every client of the session. Both live in a :class:`SessionAuthCache` entry keyed by the session's
``jti`` and dropped at the token's expiry.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import attrs
from keystoneauth1 import access
from keystoneauth1 import session as ks_session
from keystoneauth1.identity.access import AccessInfoPlugin

from cloudkit._core._errors import scrub
from cloudkit._core._retry import RetryPolicy
from cloudkit._core._secret import Secret
from cloudkit._keystone import KeystoneToken, read_token
from cloudkit.errors import (
    AuthenticationError,
    CloudkitError,
    ConfigError,
    NotFoundError,
    TokenExpiredError,
)

__all__ = ["DEFAULT_CACHE", "SessionAuthCache", "SessionCredentials", "keystoneauth_session"]

SYSTEM = "openstack"
OPERATION = "for_session"
DEFAULT_CACHE_SIZE = 128


class SessionCredentials(Protocol):
    """What :meth:`OpenStackClient.for_session` reads of a session (a :class:`cloudkit.session.Session`)."""

    @property
    def jti(self) -> str:
        """The session's unique id: the cache key."""

    @property
    def keystone_token(self) -> Secret:
        """The project-scoped Keystone token the session wraps."""

    @property
    def project_id(self) -> str | None:
        """The Keystone project the token is scoped to."""

    @property
    def auth_url(self) -> str | None:
        """Keystone v3, as the session manager that issued the session knows it."""


@attrs.frozen(kw_only=True, repr=False)
class _Entry:
    access_info: access.AccessInfoV3
    discovery: dict[str, Any]  # keystoneauth's discovery cache, shared by every client of the session
    expires_at: float  # epoch seconds: the token's expiry

    def __repr__(self) -> str:
        return f"_Entry(expires_at={self.expires_at!r})"  # the access info holds the token


class SessionAuthCache:
    """Token bodies (with their catalog) and version discovery per session: an LRU keyed by the ``jti``.

    Bounded (``maxsize`` sessions, the least recently used dropped first); an entry is dropped at its
    token's expiry, so a dead token is fetched again (and refused) rather than served from here. Safe to
    share between threads. :meth:`OpenStackClient.for_session` uses one process-wide cache unless given
    another.

    Example:
        >>> from cloudkit.openstack import SessionAuthCache
        >>> cache = SessionAuthCache(maxsize=2)
        >>> cache
        SessionAuthCache(size=0, maxsize=2)
        >>> cache.clear()
    """

    def __init__(self, maxsize: int = DEFAULT_CACHE_SIZE, *, clock: Callable[[], float] = time.time) -> None:
        """Keep at most ``maxsize`` sessions; ``clock`` is epoch seconds (tests inject a fake clock)."""
        if isinstance(maxsize, bool) or maxsize < 1:
            raise ConfigError("SessionAuthCache maxsize must be an int >= 1", system=SYSTEM)
        self._maxsize = maxsize
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        """Size and bound; never a token."""
        return f"SessionAuthCache(size={len(self)}, maxsize={self._maxsize})"

    def __len__(self) -> int:
        """Sessions held now (expired ones are dropped first)."""
        with self._lock:
            self._drop_expired()
            return len(self._entries)

    def clear(self) -> None:
        """Forget every session."""
        with self._lock:
            self._entries.clear()

    def forget(self, jti: str) -> None:
        """Forget one session (e.g. at logout), whatever Keystone it was fetched from."""
        with self._lock:
            for key in [k for k in self._entries if k[1] == jti]:
                del self._entries[key]

    def _get(self, key: tuple[str, str]) -> _Entry | None:
        with self._lock:
            self._drop_expired()
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def _put(self, key: tuple[str, str], entry: _Entry) -> _Entry:
        with self._lock:
            self._drop_expired()
            # Two threads may fetch the same session at once: the first stored entry wins, so every
            # client of the session shares one discovery cache.
            kept = self._entries.setdefault(key, entry)
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)
            return kept

    def _drop_expired(self) -> None:
        now = self._clock()
        for key in [k for k, e in self._entries.items() if e.expires_at <= now]:
            del self._entries[key]


def _fetch(
    http: ks_session.Session, auth_url: str, token: Secret, retry: RetryPolicy
) -> tuple[KeystoneToken, dict[str, Any]]:
    """``GET /v3/auth/tokens`` with the token as both caller and subject: its identity and its body."""
    value = token.get_secret_value()
    headers = {"X-Auth-Token": value, "X-Subject-Token": value}

    def once() -> tuple[KeystoneToken, dict[str, Any]]:
        # Imported here: the one translation boundary lives in the client module, which imports this one.
        from cloudkit.openstack._client import _translate  # noqa: PLC0415

        try:
            with _translate(OPERATION):
                reply = http.get(
                    f"{auth_url}/auth/tokens",
                    headers=headers,
                    authenticated=False,
                    raise_exc=False,
                    connect_retries=0,
                )
            parsed = read_token(reply, system=SYSTEM, operation=OPERATION, subject=token)
            body = reply.json()  # read_token proved it is a JSON object with a token
        except CloudkitError as exc:
            raise scrub(exc, [value]) from None
        return parsed, body

    try:
        return retry.call(once, system=SYSTEM, operation=OPERATION)
    except (NotFoundError, AuthenticationError) as exc:
        raise TokenExpiredError(
            "Keystone no longer accepts the session's token (expired or revoked); log in again",
            system=SYSTEM,
            operation=OPERATION,
        ) from exc


def keystoneauth_session(
    session: SessionCredentials,
    *,
    auth_url: str,
    verify: bool | str,
    timeout: float,
    cache: SessionAuthCache,
    retry: RetryPolicy,
) -> tuple[ks_session.Session, str]:
    """A keystoneauth session on the session's own token (from ``cache`` when it can be), and its project.

    Raises:
        TokenExpiredError: Keystone refused the token (expired, revoked): the customer logs in again.
        AuthenticationError: the token is not scoped to the session's project.
    """
    auth_url = auth_url.rstrip("/")
    key = (auth_url, session.jti)
    entry = cache._get(key)  # noqa: SLF001 (the cache's own module)
    if entry is None:
        fetcher = ks_session.Session(verify=verify, timeout=timeout)
        try:
            parsed, body = _fetch(fetcher, auth_url, session.keystone_token, retry)
        finally:
            fetcher.session.close()
        project = parsed.identity.project_id
        if project is None or (session.project_id is not None and project != session.project_id):
            raise AuthenticationError(
                "the session's Keystone token is not scoped to the session's project",
                system=SYSTEM,
                operation=OPERATION,
            )
        info = access.create(body=body, auth_token=session.keystone_token.get_secret_value())
        assert isinstance(info, access.AccessInfoV3)  # noqa: S101 (a v3 body makes a v3 access info)
        entry = cache._put(  # noqa: SLF001 (the cache's own module)
            key, _Entry(access_info=info, discovery={}, expires_at=parsed.expires_at.timestamp())
        )
    plugin = AccessInfoPlugin(auth_ref=entry.access_info, auth_url=auth_url)
    made = ks_session.Session(auth=plugin, verify=verify, timeout=timeout, discovery_cache=entry.discovery)
    return made, str(entry.access_info.project_id)


# The process-wide cache ``OpenStackClient.for_session`` uses unless given one: what makes a second client
# of the same session free is that it finds the first one's entry here.
DEFAULT_CACHE = SessionAuthCache()
