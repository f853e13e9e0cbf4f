"""Session settings: frozen, validated before any I/O, read from the environment only by ``from_env``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

import attrs

from cloudkit._core._settings import EnvReader, check_http_url
from cloudkit.errors import ConfigError

__all__ = ["SessionSettings"]

SYSTEM = "session"
_KEY_BYTES = 32


def _copy_keys(keys: Mapping[str, bytes]) -> dict[str, bytes]:
    return dict(keys)


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ConfigError(f"SessionSettings.{attribute.name} must be > 0", system=SYSTEM)


@attrs.frozen(kw_only=True, repr=False)
class SessionSettings:
    """Where the portal session logs in (billing, Keystone) and the keys its tokens are sealed with.

    Attributes:
        billing_url: the billing API endpoint (``.../billmgr``).
        auth_url: Keystone v3 (``.../v3``).
        keys: key id to 32-byte key; tokens are issued with ``current_kid`` and verified with any key.
        current_kid: the key id new tokens are sealed with.
        max_lifetime: upper bound of a token's life in seconds, whatever its parts allow.
        billing_idle: billing's idle session timeout (one hour in BILLmanager).

    Example:
        >>> from cloudkit.session import SessionSettings
        >>> SessionSettings(billing_url="http://b/billmgr", auth_url="http://k/v3", keys={"k1": bytes(32)})
        SessionSettings(billing_url='http://b/billmgr', auth_url='http://k/v3', current_kid='k1', keys=['k1'])
    """

    billing_url: str
    auth_url: str
    keys: Mapping[str, bytes] = attrs.field(converter=_copy_keys)
    current_kid: str = "k1"
    max_lifetime: float = attrs.field(default=8 * 3600.0, validator=_positive)
    billing_idle: float = attrs.field(default=3600.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        """Validate before any I/O."""
        check_http_url(self.billing_url, system=SYSTEM)
        check_http_url(self.auth_url, system=SYSTEM)
        if self.current_kid not in self.keys:
            raise ConfigError(f"current_kid {self.current_kid!r} is not among the keys", system=SYSTEM)
        for kid, key in self.keys.items():
            if len(key) != _KEY_BYTES:
                raise ConfigError(
                    f"session key {kid!r} must be exactly {_KEY_BYTES} bytes, got {len(key)}", system=SYSTEM
                )

    def __repr__(self) -> str:
        """Endpoints and key ids; never a key."""
        return (
            f"SessionSettings(billing_url={self.billing_url!r}, auth_url={self.auth_url!r}, "
            f"current_kid={self.current_kid!r}, keys={sorted(self.keys)!r})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SessionSettings:
        """Read ``CLOUDKIT_SESSION_BILLING_URL``, ``_AUTH_URL`` and ``_KEYS`` (``kid=base64url,...``, the
        first one current unless ``_CURRENT_KID`` says otherwise); optional ``_MAX_LIFETIME``,
        ``_BILLING_IDLE`` (seconds).

        Example:
            >>> import base64
            >>> from cloudkit.session import SessionSettings
            >>> key = base64.urlsafe_b64encode(bytes(32)).decode()
            >>> env = {"CLOUDKIT_SESSION_BILLING_URL": "http://b/billmgr",
            ...        "CLOUDKIT_SESSION_AUTH_URL": "http://k/v3",
            ...        "CLOUDKIT_SESSION_KEYS": f"k2={key},k1={key}"}
            >>> SessionSettings.from_env(env).current_kid
            'k2'
        """  # noqa: D205 (the list of variables is the summary)
        env = EnvReader.of("CLOUDKIT_SESSION_", environ, system=SYSTEM)
        keys = _parse_keys(env.required_secret("KEYS").get_secret_value(), env.source("KEYS"))
        return env.build(
            cls,
            billing_url=env.required("BILLING_URL"),
            auth_url=env.required("AUTH_URL"),
            keys=keys,
            current_kid=env.optional("CURRENT_KID") or next(iter(keys)),
            max_lifetime=env.optional_float("MAX_LIFETIME", 8 * 3600.0),
            billing_idle=env.optional_float("BILLING_IDLE", 3600.0),
        )


def _parse_keys(text: str, variable: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    malformed = ConfigError(f"{variable} must be kid=base64url pairs separated by commas", system=SYSTEM)
    for part in filter(None, (p.strip() for p in text.split(","))):
        kid, sep, encoded = (x.strip() for x in part.partition("="))
        if not sep or not kid or not encoded.strip("="):
            # never echo the value: it is a key (a bare padded key, "AbC...Zg==", would otherwise read as
            # kid "AbC...Zg" with the value "=", and the length error would name that kid)
            raise malformed
        try:
            keys[kid] = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (ValueError, binascii.Error):
            raise malformed from None
    if not keys:
        raise ConfigError(f"{variable} names no key", system=SYSTEM)
    return keys
