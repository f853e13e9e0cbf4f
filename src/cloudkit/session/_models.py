"""Session models: what a verified composite token holds, and what login hands back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from cloudkit._core._secret import Secret
from cloudkit.billing import BillingClient
from cloudkit.errors import ConfigError
from cloudkit.openstack import OpenStackClient

__all__ = ["IssuedToken", "Session"]


@attrs.frozen(kw_only=True, repr=False)
class Session:
    """A verified portal session: who, until when, and the upstream credentials it wraps.

    :meth:`SessionManager.verify` stamps where it logged in (``billing_url``, ``auth_url``; not secret),
    so the session alone makes the customer's own clients: :meth:`openstack` and :meth:`billing`.

    Example:
        >>> import datetime as dt
        >>> from cloudkit import Secret
        >>> from cloudkit.session import Session
        >>> s = Session(username="alice", expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC), jti="j1",
        ...             generation=0, keystone_token=Secret("t"), keystone_user_id="u", project_id="p",
        ...             billing_session=Secret("b"))
        >>> s
        Session(username='alice', jti='j1', expires_at=datetime.datetime(2030, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))
    """  # noqa: E501 (a doctest output line)

    username: str
    expires_at: dt.datetime
    jti: str
    generation: int
    keystone_token: Secret
    keystone_user_id: str
    project_id: str | None
    billing_session: Secret
    billing_url: str | None = None
    auth_url: str | None = None

    def __repr__(self) -> str:
        """Who and until when; never a credential."""
        return f"Session(username={self.username!r}, jti={self.jti!r}, expires_at={self.expires_at!r})"

    def openstack(self, **kwargs: Any) -> OpenStackClient:
        """The customer's OpenStack client, on this session's own token (no rescope; catalog and version
        discovery cached per session): :meth:`OpenStackClient.for_session` with ``kwargs``.

        Raises:
            ConfigError: the session does not say where Keystone is (pass ``settings=``).
            TokenExpiredError: Keystone no longer accepts the token; the customer logs in again.
        """  # noqa: D205 (two-line summary)
        return OpenStackClient.for_session(self, **kwargs)

    def billing(self, **kwargs: Any) -> BillingClient:
        """The customer's billing client on this session's own billing session: user level, never an admin,
        never logging in (:meth:`BillingClient.from_session` with ``kwargs``).

        Raises:
            ConfigError: the session does not say where billing is (verify it with a SessionManager).

        Example:
            >>> import datetime as dt
            >>> from cloudkit import Secret
            >>> from cloudkit.session import Session
            >>> s = Session(username="alice", expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC), jti="j1",
            ...             generation=0, keystone_token=Secret("t"), keystone_user_id="u", project_id="p",
            ...             billing_session=Secret("b"), billing_url="http://127.0.0.1:1/billmgr")
            >>> s.billing()
            BillingClient(url='http://127.0.0.1:1/billmgr', username='alice')
        """  # noqa: D205 (two-line summary)
        if not self.billing_url:
            raise ConfigError(
                "the session does not say where billing is: verify it with a SessionManager",
                system="session",
                operation="billing",
            )
        return BillingClient.from_session(
            self.billing_url, self.billing_session, username=self.username, **kwargs
        )


@attrs.frozen(kw_only=True, repr=False)
class IssuedToken:
    """A freshly issued composite token (hand ``token`` to the browser) and its expiry.

    Example:
        >>> import datetime as dt
        >>> from cloudkit.session import IssuedToken
        >>> IssuedToken(token="eyJ...", expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC), jti="j1")
        IssuedToken(jti='j1', expires_at=datetime.datetime(2030, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))
    """

    token: str
    expires_at: dt.datetime
    jti: str

    def __repr__(self) -> str:
        """The jti and expiry; the token itself is a bearer credential and stays out of logs."""
        return f"IssuedToken(jti={self.jti!r}, expires_at={self.expires_at!r})"
