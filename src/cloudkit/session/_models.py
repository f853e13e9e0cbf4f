"""Session models: what a verified composite token holds, and what login hands back."""

from __future__ import annotations

import datetime as dt

import attrs

from cloudkit._core._secret import Secret

__all__ = ["IssuedToken", "Session"]


@attrs.frozen(kw_only=True, repr=False)
class Session:
    """A verified portal session: who, until when, and the upstream credentials it wraps.

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

    def __repr__(self) -> str:
        """Who and until when; never a credential."""
        return f"Session(username={self.username!r}, jti={self.jti!r}, expires_at={self.expires_at!r})"


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
