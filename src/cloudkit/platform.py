"""`Platform`: one object composing the systems' settings and building their clients.

It also checks the identities across systems before any I/O: Tungsten Fabric must not log in as the
OpenStack identity that acts in users' scope (quirk ``tungsten.admin-scope-capture``). The session and
lifecycle parts join it later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from cloudkit._core._settings import EnvReader
from cloudkit._keystone import KeystoneIdentity
from cloudkit.billing import BillingClient, BillingSettings
from cloudkit.errors import ConfigError
from cloudkit.openstack import OpenStackClient, OpenStackSettings
from cloudkit.openstack._clouds_yaml import os_cloud_selected
from cloudkit.session import SessionManager, SessionSettings
from cloudkit.tungsten import TungstenClient, TungstenSettings
from cloudkit.tungsten import _quirks as tungsten_quirks

__all__ = ["Platform", "openstack_identity", "settings_from_env"]


def openstack_identity(settings: OpenStackSettings) -> KeystoneIdentity | None:
    """The Keystone identity the OpenStack settings log in as (host, user, user domain).

    ``None`` for a token or an application credential: they name no user, so only a live check
    (``cloudkit doctor``) can tell whose they are.

    Example:
        >>> from cloudkit.openstack import OpenStackSettings
        >>> from cloudkit.platform import openstack_identity
        >>> openstack_identity(OpenStackSettings(auth_url="http://ks:5000/v3", username="portal",
        ...                                      password="pw", project_name="alice")).user_name
        'portal'
    """
    if settings.auth_type != "password":
        return None
    return KeystoneIdentity.of(settings.auth_url, settings.username, settings.user_domain_name)


@attrs.frozen(kw_only=True)
class Platform:
    """The portal's systems: billing, OpenStack, Tungsten Fabric and session settings, each optional.

    Creating a platform checks the identities before any I/O: when the TF service account is the same
    Keystone user as the OpenStack identity that acts in users' scope (same Keystone host, same user and
    user domain), it raises :class:`~cloudkit.errors.ConfigError` with quirk
    ``tungsten.admin-scope-capture`` and the fix. ``cloudkit doctor`` checks a live deployment for the
    same trap (an application credential names no user, so only a live check sees whose it is).

    Attributes:
        billing: billing settings, or ``None``.
        openstack: OpenStack settings (the identity that acts in users' scope), or ``None``.
        tungsten: TF settings (the dedicated service account), or ``None``.
        session: the portal session's settings (endpoints, token keys), or ``None``; see
            :meth:`session_manager`.

    Example:
        >>> from cloudkit.platform import Platform
        >>> from cloudkit.openstack import OpenStackSettings
        >>> from cloudkit.tungsten import TungstenSettings
        >>> os_settings = OpenStackSettings(auth_url="http://ks:5000/v3", username="admin",
        ...                                 password="secret", project_name="admin")
        >>> Platform(openstack=os_settings, tungsten=TungstenSettings(url="http://tf:8082",
        ...     auth_url="http://ks:5000/v3", username="admin", password="secret", project_name="admin"))
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: Tungsten Fabric and OpenStack log in as the same Keystone user ...
        >>> Platform(openstack=os_settings, tungsten=TungstenSettings(url="http://tf:8082",
        ...     auth_url="http://ks:5000/v3", username="svc-tf", password="pw", project_name="service"))
        Platform(billing=None, openstack=OpenStackSettings(...), tungsten=TungstenSettings(...))
    """

    billing: BillingSettings | None = None
    openstack: OpenStackSettings | None = None
    tungsten: TungstenSettings | None = None
    session: SessionSettings | None = None

    def __attrs_post_init__(self) -> None:
        """Check the identities across systems, before any I/O."""
        problem = self.identity_problem()
        if problem is not None:
            raise problem

    def __repr__(self) -> str:
        """Which systems are configured (the session only when it is); never a secret."""
        parts = []
        for name in ("billing", "openstack", "tungsten", "session"):
            settings = getattr(self, name)
            if name == "session" and settings is None:
                continue
            shown = "None" if settings is None else f"{type(settings).__name__}(...)"
            parts.append(f"{name}={shown}")
        return f"Platform({', '.join(parts)})"

    def identity_problem(self) -> ConfigError | None:
        """The ConfigError of sharing one Keystone user between TF and OpenStack, or ``None``.

        Example:
            >>> from cloudkit.platform import Platform
            >>> Platform().identity_problem() is None
            True
        """
        if self.tungsten is None or self.openstack is None:
            return None
        return tungsten_quirks.shared_identity(
            self.tungsten.keystone_identity(), openstack_identity(self.openstack)
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Platform:
        """Settings of every system whose main setting is given (``CLOUDKIT_BILLING_URL``,
        ``CLOUDKIT_OPENSTACK_AUTH_URL``, ``CLOUDKIT_TUNGSTEN_URL``, ``CLOUDKIT_SESSION_KEYS``, or their
        keys in ``cloudkit.toml``; for OpenStack also ``CLOUDKIT_OPENSTACK_CLOUD``, ``OS_CLOUD`` or
        ``OS_AUTH_URL`` with ``clouds.yaml``), each read by its own ``from_env``; see
        :func:`settings_from_env` and ``docs/configuration.md``.

        Example:
            >>> from cloudkit.platform import Platform
            >>> env = {"CLOUDKIT_TUNGSTEN_URL": "http://tf:8082", "CLOUDKIT_TUNGSTEN_AUTH_URL": "http://ks:5000/v3",
            ...        "CLOUDKIT_TUNGSTEN_USERNAME": "svc-tf", "CLOUDKIT_TUNGSTEN_PASSWORD": "pw",
            ...        "CLOUDKIT_TUNGSTEN_PROJECT_NAME": "service"}
            >>> Platform.from_env(env)
            Platform(billing=None, openstack=None, tungsten=TungstenSettings(...))
        """  # noqa: D205 (the variables are the summary; a doctest line)
        return cls(**settings_from_env(environ))

    def billing_client(self, **kwargs: Any) -> BillingClient:
        """A :class:`~cloudkit.billing.BillingClient` (keyword arguments pass through).

        Raises:
            ConfigError: billing is not configured.

        Example:
            >>> from cloudkit.platform import Platform
            >>> Platform().billing_client()
            Traceback (most recent call last):
            ...
            cloudkit.errors.ConfigError: billing is not configured (set CLOUDKIT_BILLING_URL ...) [billing]
        """
        if self.billing is None:
            raise _not_configured("billing", "CLOUDKIT_BILLING_URL")
        return BillingClient(self.billing, **kwargs)

    def openstack_client(self, **kwargs: Any) -> OpenStackClient:
        """An :class:`~cloudkit.openstack.OpenStackClient` (keyword arguments pass through).

        Raises:
            ConfigError: OpenStack is not configured.
        """
        if self.openstack is None:
            raise _not_configured("openstack", "CLOUDKIT_OPENSTACK_AUTH_URL or OS_CLOUD")
        return OpenStackClient(self.openstack, **kwargs)

    def tungsten_client(self, **kwargs: Any) -> TungstenClient:
        """A :class:`~cloudkit.tungsten.TungstenClient` as the TF service account (keyword arguments pass through).

        Raises:
            ConfigError: Tungsten Fabric is not configured.

        Example:
            >>> from cloudkit.platform import Platform
            >>> from cloudkit.tungsten import TungstenSettings
            >>> platform = Platform(tungsten=TungstenSettings(url="http://tf:8082",
            ...     auth_url="http://ks:5000/v3", username="svc-tf", password="pw", project_name="service"))
            >>> with platform.tungsten_client() as tf:
            ...     tf
            TungstenClient(url='http://tf:8082', account='svc-tf')
        """  # noqa: E501 (the summary names the class)
        if self.tungsten is None:
            raise _not_configured("tungsten", "CLOUDKIT_TUNGSTEN_URL")
        return TungstenClient(self.tungsten, **kwargs)

    def session_manager(self, **kwargs: Any) -> SessionManager:
        """The portal's :class:`~cloudkit.session.SessionManager`, knowing every system of the platform.

        Its customers' OpenStack clients take region, interface, timeouts and endpoint overrides from
        the OpenStack settings (never their credentials), and :meth:`SessionManager.tungsten` uses the TF
        service account. Keyword arguments pass through (``store=``, ``identity=``, ``http=``, ...).

        Raises:
            ConfigError: the session is not configured.

        Example:
            >>> import base64
            >>> from cloudkit.platform import Platform
            >>> key = base64.urlsafe_b64encode(bytes(32)).decode()
            >>> platform = Platform.from_env({"CLOUDKIT_SESSION_BILLING_URL": "http://b:1500/billmgr",
            ...     "CLOUDKIT_SESSION_AUTH_URL": "http://ks:5000/v3", "CLOUDKIT_SESSION_KEYS": f"k1={key}"})
            >>> manager = platform.session_manager()
            >>> manager
            SessionManager(billing_url='http://b:1500/billmgr', auth_url='http://ks:5000/v3', kid='k1')
            >>> manager.close()
        """
        if self.session is None:
            raise _not_configured("session", "CLOUDKIT_SESSION_KEYS")
        options: dict[str, Any] = {"openstack": self.openstack, "tungsten": self.tungsten}
        return SessionManager(self.session, **{**options, **kwargs})


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``billing``, ``openstack``, ``tungsten`` and ``session`` settings from the environment and
    ``cloudkit.toml``, without the cross-system check (``cloudkit doctor`` reports that check instead of
    stopping at it).

    A system is configured when its main setting is given, as a ``CLOUDKIT_*`` variable or its key in
    ``cloudkit.toml`` (``CLOUDKIT_CONFIG``, else ``./cloudkit.toml`` for the process environment):
    ``CLOUDKIT_BILLING_URL``, ``CLOUDKIT_TUNGSTEN_URL``, ``CLOUDKIT_SESSION_KEYS``; OpenStack also when
    ``CLOUDKIT_OPENSTACK_CLOUD`` names a cloud of ``clouds.yaml`` or the ``openstack`` CLI's
    ``OS_CLOUD`` or ``OS_AUTH_URL`` is set (see :meth:`OpenStackSettings.from_env
    <cloudkit.openstack.OpenStackSettings.from_env>` for the precedence). The file is read once.

    Example:
        >>> from cloudkit.platform import settings_from_env
        >>> settings_from_env({})
        {'billing': None, 'openstack': None, 'tungsten': None, 'session': None}
    """  # noqa: D205 (the summary needs the reason)
    env = EnvReader.of("CLOUDKIT_", environ, system="cloudkit")
    openstack = any(env.is_set(key) for key in ("OPENSTACK_AUTH_URL", "OPENSTACK_CLOUD"))
    return {
        "billing": BillingSettings.from_env(env.environ) if env.is_set("BILLING_URL") else None,
        "openstack": OpenStackSettings.from_env(env.environ)
        if openstack or os_cloud_selected(env.environ)
        else None,
        "tungsten": TungstenSettings.from_env(env.environ) if env.is_set("TUNGSTEN_URL") else None,
        "session": SessionSettings.from_env(env.environ) if env.is_set("SESSION_KEYS") else None,
    }


def _not_configured(system: str, variable: str) -> ConfigError:
    return ConfigError(
        f"{system} is not configured (set {variable} and the rest, or pass settings)", system=system
    )
