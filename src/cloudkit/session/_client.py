"""`SessionManager`: the portal's composite token over billing and Keystone (the only session I/O).

A token wraps the user's billing session and project-scoped Keystone token, encrypted (JWE, ``dir`` +
``A256GCM``) so a browser can neither read nor reuse them. Its expiry is the earliest of its parts;
it carries a ``jti`` and the user's generation, so one token (logout) or all of a user's tokens
(password change) can be revoked through the :class:`TokenStore`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs
import httpx

from cloudkit._core._errors import scrub
from cloudkit._core._http import make_http_client, translate_transport_errors
from cloudkit._core._retry import RetryPolicy
from cloudkit._core._secret import Secret
from cloudkit._keystone import KeystoneIdentity, KeystoneToken, keystone_error, login_body, read_token
from cloudkit.billing import BillingClient, BillingSettings
from cloudkit.errors import (
    AuthenticationError,
    CloudkitError,
    ConfigError,
    InvalidArgumentError,
    PasswordChangeError,
    TokenExpiredError,
    TokenInvalidError,
    TokenRevokedError,
)
from cloudkit.openstack import OpenStackClient, OpenStackSettings, SessionAuthCache
from cloudkit.session import _quirks, _wire
from cloudkit.session._models import IssuedToken, Session
from cloudkit.session._network import CustomerNetwork
from cloudkit.session._settings import SessionSettings
from cloudkit.session._store import MemoryTokenStore, TokenStore
from cloudkit.tungsten import TungstenClient, TungstenSettings

__all__ = ["SessionManager", "same_name_identity"]

log = logging.getLogger("cloudkit.session")
SYSTEM = "session"
_REAUTH_ATTEMPTS = 3


def same_name_identity(username: str) -> KeystoneIdentity:
    """The default mapping: the Keystone user of the same name in Default, in their default project.

    Example:
        >>> from cloudkit.session import same_name_identity
        >>> same_name_identity("alice").user_name
        'alice'
    """
    return KeystoneIdentity(user_name=username)


class SessionManager:
    """Issues, verifies, refreshes and revokes the portal's composite tokens.

    Args:
        settings: endpoints, keys and lifetimes (:meth:`SessionSettings.from_env` reads them); or give
            them one by one:
        billing_url: the billing API endpoint (``.../billmgr``).
        auth_url: Keystone v3 (``.../v3``).
        key: the 32-byte token key; or ``keys`` (kid to key) with ``current_kid`` for rotation: tokens
            are issued with ``current_kid`` and verified with any key in ``keys``.
        store: revocations (default: in memory; :class:`SqliteTokenStore` across processes).
        identity: maps a billing login to a Keystone identity (default :func:`same_name_identity`).
        max_lifetime: upper bound of a token's life in seconds, whatever its parts allow.
        billing_idle: billing's idle session timeout (one hour in BILLmanager).
        http: an ``httpx.Client`` for billing and Keystone (the caller keeps ownership).
        retry: the retry policy; clock/sleep: epoch seconds and waiting (tests inject a fake clock).
        openstack: region, interface, timeouts and endpoint overrides for the customers' OpenStack
            clients (:meth:`openstack`); their credentials are never used for a customer.
        tungsten: the platform's TF service account, for :meth:`tungsten`.
        auth_cache: token bodies and version discovery per session (default: a cache of this manager's
            own, 128 sessions).

    Example:
        >>> from cloudkit.session import SessionManager
        >>> from cloudkit.testing.fakes import BillingFake, OpenStackFake
        >>> with BillingFake() as billing, OpenStackFake() as cloud:
        ...     _ = cloud.add_user("alice", "alice-pass", project="alice")
        ...     manager = SessionManager(billing_url=billing.url, auth_url=cloud.auth_url, key=bytes(32))
        ...     issued = manager.login("alice", "alice-pass")
        ...     session = manager.verify(issued.token)
        ...     manager.close()
        >>> session.username, session.keystone_token
        ('alice', Secret('***'))
    """

    def __init__(
        self,
        settings: SessionSettings | None = None,
        *,
        billing_url: str | None = None,
        auth_url: str | None = None,
        key: bytes | None = None,
        keys: Mapping[str, bytes] | None = None,
        current_kid: str = "k1",
        store: TokenStore | None = None,
        identity: Callable[[str], KeystoneIdentity] = same_name_identity,
        max_lifetime: float = 8 * 3600.0,
        billing_idle: float = 3600.0,
        http: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        openstack: OpenStackSettings | None = None,
        tungsten: TungstenSettings | None = None,
        auth_cache: SessionAuthCache | None = None,
    ) -> None:
        """Configure the manager; nothing is sent until the first call."""
        if settings is None:
            if billing_url is None or auth_url is None:
                raise ConfigError("SessionManager needs settings, or billing_url and auth_url", system=SYSTEM)
            if (key is None) == (keys is None):
                raise ConfigError("SessionManager needs key or keys (not both)", system=SYSTEM)
            settings = SessionSettings(
                billing_url=billing_url,
                auth_url=auth_url,
                keys={current_kid: key} if key is not None else dict(keys or {}),
                current_kid=current_kid,
                max_lifetime=max_lifetime,
                billing_idle=billing_idle,
            )
        self._keys = {kid: _wire.oct_key(raw) for kid, raw in settings.keys.items()}
        self._kid = settings.current_kid
        self._billing_url = settings.billing_url
        self._auth_url = settings.auth_url.rstrip("/")
        self._max_lifetime = settings.max_lifetime
        self._billing_idle = settings.billing_idle
        self._store: TokenStore = store if store is not None else MemoryTokenStore()
        self._identity = identity
        self._owns_http = http is None
        self._http = http or make_http_client()
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._openstack = openstack
        self._tungsten_settings = tungsten
        self._tungsten: TungstenClient | None = None
        self._auth_cache = auth_cache if auth_cache is not None else SessionAuthCache(clock=clock)

    def __repr__(self) -> str:
        """Endpoints and the current key id; never a key."""
        urls = f"billing_url={self._billing_url!r}, auth_url={self._auth_url!r}"
        return f"SessionManager({urls}, kid={self._kid!r})"

    def close(self) -> None:
        """Close the HTTP client if this manager made it, and the TF client it made."""
        if self._tungsten is not None:
            self._tungsten.close()
        if self._owns_http:
            self._http.close()

    # ------------------------------------------------------------------------------ clients
    def openstack(self, session: Session, **kwargs: Any) -> OpenStackClient:
        """The customer's OpenStack client on the session's own token (no rescope, no login).

        Token bodies and version discovery are cached per session in this manager's cache, so only the
        first client of a session asks Keystone (one ``GET /v3/auth/tokens``) and discovers versions;
        the manager's ``openstack`` settings give region, interface, timeouts and endpoint overrides.
        ``kwargs`` pass to :meth:`OpenStackClient.for_session`. Close the client when done.

        Raises:
            TokenExpiredError: Keystone no longer accepts the session's token; log in again.
        """
        options: dict[str, Any] = {
            "settings": self._openstack,
            "cache": self._auth_cache,
            "retry": self._retry,
        }
        return OpenStackClient.for_session(self._stamped(session), **{**options, **kwargs})

    def billing(self, session: Session, **kwargs: Any) -> BillingClient:
        """The customer's billing client on the session's own billing session: user level, no login.

        It shares the manager's HTTP client (closing it closes nothing the manager needs). ``kwargs``
        pass to :meth:`BillingClient.from_session`.

        Raises:
            TokenExpiredError: (on a call) billing ended the session; log in again.
        """
        options: dict[str, Any] = {"http": self._http, "retry": self._retry, "sleep": self._sleep}
        return self._stamped(session).billing(**{**options, **kwargs})

    def tungsten(self, session: Session) -> CustomerNetwork:
        """Tungsten Fabric for the customer's network: the platform's TF service account bound to the
        session's project (the customer's token never reaches TF).

        The TF client is made once per manager and closed by :meth:`close`.

        Raises:
            ConfigError: the manager has no TF settings (pass ``tungsten=``), or the session names no
                project.
        """  # noqa: D205 (two-line summary)
        if self._tungsten_settings is None:
            raise ConfigError(
                "SessionManager has no Tungsten Fabric settings (pass tungsten=TungstenSettings(...) or "
                "configure CLOUDKIT_TUNGSTEN_* in the Platform)",
                system=SYSTEM,
                operation="tungsten",
            )
        if not session.project_id:
            raise ConfigError("the session names no Keystone project", system=SYSTEM, operation="tungsten")
        if self._tungsten is None:
            self._tungsten = TungstenClient(self._tungsten_settings, retry=self._retry)
        return CustomerNetwork(client=self._tungsten, project_id=session.project_id)

    def _stamped(self, session: Session) -> Session:
        """The session with this manager's endpoints (a session built by hand may lack them)."""
        if session.billing_url and session.auth_url:
            return session
        return attrs.evolve(session, billing_url=self._billing_url, auth_url=self._auth_url)

    # ------------------------------------------------------------------------------ public
    def login(self, username: str, password: str) -> IssuedToken:
        """Authenticate against billing (session) and Keystone (project-scoped token); issue a token.

        Raises:
            AuthenticationError: billing or Keystone refused the credentials.
        """
        if not username or not password:
            raise InvalidArgumentError("username and password are required", system=SYSTEM, operation="login")
        billing_session = self._billing(username, password).login()
        keystone = self._keystone_login(self._identity(username), password)
        return self._issue(username, billing_session, keystone)

    def verify(self, token: str) -> Session:
        """The session a token stands for.

        Raises:
            TokenInvalidError: malformed, tampered, wrong key, ``alg: none`` or any other algorithm.
            TokenExpiredError: past its expiry (the earliest of its parts).
            TokenRevokedError: logged out, or issued before the user's last password change.
        """
        claims = _wire.decode(token, keys=self._keys)
        session = attrs.evolve(_session_from(claims), billing_url=self._billing_url, auth_url=self._auth_url)
        if self._clock() >= session.expires_at.timestamp():
            raise TokenExpiredError("session token has expired", system=SYSTEM, operation="verify")
        revoked, generation = self._store.status(session.jti, session.username)
        if revoked or session.generation < generation:
            raise TokenRevokedError("session token was revoked", system=SYSTEM, operation="verify")
        return session

    def change_password(self, token: str, old_password: str, new_password: str) -> IssuedToken:
        """Change the password in billing and in Keystone as the user, then re-issue the token.

        Order: the old password is proven on Keystone (nothing changed yet if it is wrong); billing
        changes first (verified by logging in with the new one); then Keystone (self-service). If
        Keystone's change fails, billing's is undone. Both are re-authenticated with the new password
        (waiting out Keystone's same-second revocation), every earlier token of the user is revoked, and
        a new token is issued.

        Raises:
            AuthenticationError: the old password is wrong (nothing was changed).
            PasswordChangeError: a step failed and could not be undone: the error says which system holds
                which password.
        """
        operation = "change_password"
        session = self.verify(token)
        if not new_password or new_password == old_password:
            raise InvalidArgumentError(
                "the new password must differ from the old one", system=SYSTEM, operation=operation
            )
        identity = self._identity(session.username)
        acting = self._keystone_login(identity, old_password)
        self._billing(session.username, old_password).change_password(new_password)
        try:
            self._keystone_change_password(acting, identity, old_password, new_password)
        except CloudkitError as exc:
            self._undo_billing_change(session.username, new_password, old_password, exc)
            raise
        keystone = self._keystone_login_after_change(identity, new_password)
        billing_session = self._billing(session.username, new_password).login()
        self._store.bump_generation(session.username)
        self._store.revoke(session.jti, session.expires_at)
        return self._issue(session.username, billing_session, keystone)

    def refresh(self, token: str) -> IssuedToken:
        """A new token for the same session: billing's idle timer is reset and Keystone's token checked.

        The old token is revoked. A Keystone token cannot be extended without the password, so the new
        token still expires no later than it.

        Raises:
            TokenExpiredError: billing's session or Keystone's token died; the user must log in again.
        """
        session = self.verify(token)
        try:
            self._billing_keepalive(session.billing_session)
        except AuthenticationError as exc:
            raise TokenExpiredError(
                "billing session expired; log in again", system=SYSTEM, operation="refresh"
            ) from exc
        keystone = self._keystone_validate(session.keystone_token)
        self._store.revoke(session.jti, session.expires_at)
        return self._issue(session.username, session.billing_session, keystone)

    def logout(self, token: str) -> None:
        """Revoke the token and release Keystone's token (billing has no documented logout: it idles out)."""
        session = self.verify(token)
        self._store.revoke(session.jti, session.expires_at)
        self._auth_cache.forget(session.jti)
        OpenStackClient.forget_session(session.jti)  # Session.openstack() without a manager caches there
        with self._translate("logout"):
            response = self._http.delete(
                f"{self._auth_url}/auth/tokens",
                headers=self._token_headers(session.keystone_token, subject=session.keystone_token),
            )
        if response.status_code not in {204, 404}:
            log.warning("Keystone answered %s to revoking a token at logout", response.status_code)

    # ------------------------------------------------------------------------------ tokens
    def _issue(self, username: str, billing_session: Secret, keystone: KeystoneToken) -> IssuedToken:
        now = self._clock()
        expires = min(keystone.expires_at.timestamp(), now + self._billing_idle, now + self._max_lifetime)
        me = keystone.identity
        jti = uuid.uuid4().hex
        claims: dict[str, Any] = {
            "sub": username,
            "jti": jti,
            "gen": self._store.generation(username),
            "iat": int(now),
            "exp": int(expires),
            "ks": {"tok": keystone.value.get_secret_value(), "uid": me.user_id, "pid": me.project_id},
            "bl": {"sid": billing_session.get_secret_value()},
        }
        token = _wire.encode(claims, key=self._keys[self._kid], kid=self._kid)
        return IssuedToken(token=token, expires_at=dt.datetime.fromtimestamp(int(expires), dt.UTC), jti=jti)

    # ------------------------------------------------------------------------------ billing
    def _billing(self, username: str, password: str) -> BillingClient:
        settings = BillingSettings(
            url=self._billing_url, username=username, password=password, is_admin=False
        )
        return BillingClient(
            settings, http=self._http, retry=self._retry, clock=self._clock, sleep=self._sleep
        )

    def _billing_keepalive(self, billing_session: Secret) -> None:
        BillingClient.keepalive_session(
            self._billing_url, billing_session, http=self._http, retry=self._retry
        )

    def _undo_billing_change(self, username: str, new: str, old: str, cause: CloudkitError) -> None:
        try:
            self._billing(username, new).change_password(old)
        except CloudkitError as undo:
            msg = (
                "Keystone refused the new password and billing's change could not be undone: billing has the "
                "new password, Keystone the old one"
            )
            raise PasswordChangeError(msg, billing_changed=True, keystone_changed=False) from undo
        log.warning(
            "Keystone refused the password change (%s); billing's change was undone", type(cause).__name__
        )

    # ------------------------------------------------------------------------------ keystone
    def _keystone_login(self, identity: KeystoneIdentity, password: str) -> KeystoneToken:
        body = login_body(
            user_name=identity.user_name,
            password=password,
            user_domain=identity.user_domain or "Default",
            project_name=identity.project_name,
            project_domain=identity.project_domain or "Default",
            project_id=identity.project_id,
        )

        def attempt() -> KeystoneToken:
            with self._translate("login", password):
                response = self._http.post(f"{self._auth_url}/auth/tokens", json=body)
                token = read_token(response, system=SYSTEM, operation="login")
            if token.identity.project_id is None:
                raise ConfigError(
                    f"Keystone gave {identity.user_name} an unscoped token: the user has no default project; "
                    "map the login to a project with SessionManager(identity=...)",
                    system=SYSTEM,
                    operation="login",
                )
            return token

        return self._retry.call(attempt, system=SYSTEM, operation="login")

    def _keystone_change_password(
        self, acting: KeystoneToken, identity: KeystoneIdentity, old: str, new: str
    ) -> None:
        body = {"user": {"password": new, "original_password": old}}

        def attempt() -> bool:
            with self._translate("change_password", old, new):
                response = self._http.post(
                    f"{self._auth_url}/users/{acting.identity.user_id}/password",
                    json=body,
                    headers=self._token_headers(acting.value),
                )
                if response.is_error:
                    raise keystone_error(
                        response.status_code,
                        response.headers,
                        response.content,
                        system=SYSTEM,
                        operation="change_password",
                    )
            return True

        def landed() -> bool | None:
            # The answer was lost: if the new password logs in, the change took effect.
            try:
                self._keystone_login(identity, new)
            except AuthenticationError:
                return None
            return True

        self._retry.call_write(attempt, landed=landed, system=SYSTEM, operation="change_password")

    def _keystone_login_after_change(self, identity: KeystoneIdentity, password: str) -> KeystoneToken:
        for attempt in range(1, _REAUTH_ATTEMPTS + 1):
            _quirks.wait_for_next_second(self._clock, self._sleep)
            keystone = self._keystone_login(identity, password)
            try:
                self._keystone_validate(keystone.value)
            except TokenRevokedError:
                log.info("new Keystone token revoked with the old ones (attempt %d); trying again", attempt)
                continue
            return keystone
        raise TokenRevokedError(
            "Keystone kept revoking the new token after the password change",
            system=SYSTEM,
            operation="change_password",
            quirk=_quirks.SAME_SECOND_REVOCATION.id,
        )

    def _keystone_validate(self, token: Secret) -> KeystoneToken:
        with self._translate("validate", token.get_secret_value()):
            response = self._http.get(
                f"{self._auth_url}/auth/tokens", headers=self._token_headers(token, subject=token)
            )
            if response.status_code in {401, 404}:
                raise TokenRevokedError(
                    "Keystone no longer accepts the token", system=SYSTEM, operation="validate"
                )
            return read_token(response, system=SYSTEM, operation="validate", subject=token)

    @staticmethod
    def _token_headers(token: Secret, *, subject: Secret | None = None) -> dict[str, str]:
        headers = {"X-Auth-Token": token.get_secret_value()}
        if subject is not None:
            headers["X-Subject-Token"] = subject.get_secret_value()
        return headers

    @contextmanager
    def _translate(self, operation: str, *secrets: str) -> Iterator[None]:
        """Transport errors become cloudkit's; no error leaves holding one of ``secrets``."""
        try:
            with translate_transport_errors(SYSTEM, operation):
                yield
        except CloudkitError as exc:
            scrub(exc, secrets)
            raise


def _session_from(claims: Mapping[str, Any]) -> Session:
    """A :class:`Session` from decrypted claims; anything missing or mistyped is an invalid token."""
    ks, bl = claims.get("ks"), claims.get("bl")
    username, jti, gen, exp = claims.get("sub"), claims.get("jti"), claims.get("gen"), claims.get("exp")
    if not (
        isinstance(username, str)
        and username
        and isinstance(jti, str)
        and jti
        and isinstance(gen, int)
        and not isinstance(gen, bool)
        and isinstance(exp, int)
        and not isinstance(exp, bool)
        and isinstance(ks, dict)
        and isinstance(ks.get("tok"), str)
        and isinstance(ks.get("uid"), str)
        and isinstance(bl, dict)
        and isinstance(bl.get("sid"), str)
    ):
        raise TokenInvalidError("invalid session token: claims", system=SYSTEM, operation="verify")
    try:
        expires_at = dt.datetime.fromtimestamp(exp, dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise TokenInvalidError("invalid session token: expiry", system=SYSTEM, operation="verify") from None
    project_id = ks.get("pid")
    return Session(
        username=username,
        expires_at=expires_at,
        jti=jti,
        generation=gen,
        keystone_token=Secret(ks["tok"]),
        keystone_user_id=ks["uid"],
        project_id=project_id if isinstance(project_id, str) else None,
        billing_session=Secret(bl["sid"]),
    )
