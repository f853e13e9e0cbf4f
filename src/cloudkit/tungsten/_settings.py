"""Tungsten Fabric settings: frozen, validated before any I/O, read from the environment only by ``from_env``.

The credentials are those of a **dedicated TF service account** (quirk ``tungsten.admin-scope-capture``):
its own Keystone user and project, holding the ``admin`` role there. Never the portal's OpenStack
identity, never a customer's token.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from cloudkit._core._secret import Secret
from cloudkit._core._settings import EnvReader, check_http_url, to_secret
from cloudkit._keystone import KeystoneIdentity
from cloudkit.errors import ConfigError

__all__ = ["TungstenSettings"]

SYSTEM = "tungsten"
DEFAULT_IPAM = ("default-domain", "default-project", "default-network-ipam")


def _optional_secret(value: str | Secret | None) -> Secret | None:
    return None if value is None else to_secret(value)


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ConfigError(f"TungstenSettings.{attribute.name} must be > 0", system=SYSTEM)


@attrs.frozen(kw_only=True)
class TungstenSettings:
    """How to reach the TF config API and log in to Keystone as the dedicated TF service account.

    Either a password (``username``, ``password``, ``project_name``) or an application credential
    (``application_credential_id`` and ``application_credential_secret``; the credential is bound to
    its project) authenticates.

    Attributes:
        url: the TF config API (contrail-api), e.g. ``http://tf-config:8082``.
        auth_url: Keystone v3, e.g. ``http://keystone:5000/v3``.
        username, password: the service account (the password is a :class:`~cloudkit.Secret`).
        project_name: the service account's own project (e.g. ``service``).
        user_domain_name, project_domain_name: Keystone domains (``Default``).
        application_credential_id, application_credential_secret: the alternative to a password.
        timeout: seconds for one HTTP request.
        page_size: objects per page when listing (``page_limit``; TF's own default is 256).
        token_renew_margin: renew the Keystone token this many seconds before it expires.
        ipam_fq_name: the network-ipam new subnets are attached through.
        verify_tls: verify TLS certificates.

    Example:
        >>> from cloudkit.tungsten import TungstenSettings
        >>> TungstenSettings(url="http://127.0.0.1:8082", auth_url="http://127.0.0.1:5000/v3",
        ...                  username="svc-tf", password="secret", project_name="service")
        TungstenSettings(url='http://127.0.0.1:8082', auth_url='http://127.0.0.1:5000/v3', username='svc-tf', password=Secret('***'), project_name='service', ...)
    """  # noqa: E501 (a doctest output line)

    url: str
    auth_url: str
    username: str | None = None
    password: Secret | None = attrs.field(default=None, converter=_optional_secret)
    project_name: str | None = None
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    application_credential_id: str | None = None
    application_credential_secret: Secret | None = attrs.field(default=None, converter=_optional_secret)
    timeout: float = attrs.field(default=30.0, validator=_positive)
    page_size: int = 256
    token_renew_margin: float = attrs.field(default=120.0, validator=_positive)
    ipam_fq_name: tuple[str, ...] = attrs.field(default=DEFAULT_IPAM, converter=tuple)
    verify_tls: bool = True

    def __attrs_post_init__(self) -> None:
        """Validate before any I/O."""
        check_http_url(self.url, system=SYSTEM)
        check_http_url(self.auth_url, system=SYSTEM)
        app_cred = self.application_credential_id is not None or self.application_credential_secret
        if app_cred:
            if not self.application_credential_id or not self.application_credential_secret:
                raise ConfigError(
                    "tungsten application credentials need both an id and a secret", system=SYSTEM
                )
            if self.password:
                raise ConfigError(
                    "tungsten settings give both a password and an application credential; choose one",
                    system=SYSTEM,
                )
        else:
            for name in ("username", "password", "project_name"):
                if not getattr(self, name):
                    raise ConfigError(
                        f"tungsten {name} is empty (or give an application credential)", system=SYSTEM
                    )
        if not self.user_domain_name or not self.project_domain_name:
            raise ConfigError("tungsten user and project domains must not be empty", system=SYSTEM)
        if self.page_size < 1:
            raise ConfigError("tungsten page_size must be >= 1", system=SYSTEM)
        if not self.ipam_fq_name or not all(self.ipam_fq_name):
            raise ConfigError("tungsten ipam_fq_name must name a network-ipam", system=SYSTEM)

    def __repr__(self) -> str:
        """Short and secret-free."""
        who = (
            f"application_credential_id={self.application_credential_id!r}"
            if self.application_credential_id
            else f"username={self.username!r}, password={self.password!r}, project_name={self.project_name!r}"
        )
        return f"TungstenSettings(url={self.url!r}, auth_url={self.auth_url!r}, {who}, ...)"

    @property
    def uses_application_credential(self) -> bool:
        """Whether the service account logs in with an application credential.

        Example:
            >>> from cloudkit.tungsten import TungstenSettings
            >>> TungstenSettings(url="http://tf:8082", auth_url="http://ks:5000/v3",
            ...     application_credential_id="ac1", application_credential_secret="s").uses_application_credential
            True
        """  # noqa: E501 (a doctest line)
        return self.application_credential_id is not None

    def keystone_identity(self) -> KeystoneIdentity | None:
        """The identity these settings log in as, or ``None`` when only Keystone knows it.

        An application credential given by id names no user: only a live check (``cloudkit doctor``)
        can tell whose it is.

        Example:
            >>> from cloudkit.tungsten import TungstenSettings
            >>> s = TungstenSettings(url="http://tf:8082", auth_url="http://ks:5000/v3",
            ...                      username="svc-tf", password="pw", project_name="service")
            >>> s.keystone_identity().user_name
            'svc-tf'
        """
        if self.username is None:
            return None
        return KeystoneIdentity.of(self.auth_url, self.username, self.user_domain_name)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TungstenSettings:
        """Read ``CLOUDKIT_TUNGSTEN_URL``, ``_AUTH_URL`` and either ``_USERNAME``, ``_PASSWORD``,
        ``_PROJECT_NAME`` or ``_APPLICATION_CREDENTIAL_ID`` and ``_APPLICATION_CREDENTIAL_SECRET``; optional
        ``_USER_DOMAIN_NAME``, ``_PROJECT_DOMAIN_NAME``, ``_TIMEOUT``, ``_PAGE_SIZE``, ``_VERIFY_TLS``.

        Example:
            >>> from cloudkit.tungsten import TungstenSettings
            >>> env = {"CLOUDKIT_TUNGSTEN_URL": "http://tf:8082", "CLOUDKIT_TUNGSTEN_AUTH_URL": "http://ks:5000/v3",
            ...        "CLOUDKIT_TUNGSTEN_USERNAME": "svc-tf", "CLOUDKIT_TUNGSTEN_PASSWORD": "pw",
            ...        "CLOUDKIT_TUNGSTEN_PROJECT_NAME": "service"}
            >>> TungstenSettings.from_env(env).username
            'svc-tf'
        """  # noqa: D205 (the list of variables is the summary; a doctest line)
        env = EnvReader.of("CLOUDKIT_TUNGSTEN_", environ, system=SYSTEM)
        url, auth_url = env.required("URL"), env.required("AUTH_URL")
        user_domain = env.optional("USER_DOMAIN_NAME", "Default") or "Default"
        project_domain = env.optional("PROJECT_DOMAIN_NAME", "Default") or "Default"
        timeout = env.optional_float("TIMEOUT", 30.0)
        page_size = env.optional_int("PAGE_SIZE", 256)
        verify_tls = env.optional_bool("VERIFY_TLS", default=True)
        app_id = env.optional("APPLICATION_CREDENTIAL_ID")
        if app_id:
            return env.build(
                cls,
                url=url,
                auth_url=auth_url,
                application_credential_id=app_id,
                application_credential_secret=env.required_secret("APPLICATION_CREDENTIAL_SECRET"),
                username=env.optional("USERNAME"),
                project_name=env.optional("PROJECT_NAME"),
                user_domain_name=user_domain,
                project_domain_name=project_domain,
                timeout=timeout,
                page_size=page_size,
                verify_tls=verify_tls,
            )
        return env.build(
            cls,
            url=url,
            auth_url=auth_url,
            username=env.required("USERNAME"),
            password=env.required_secret("PASSWORD"),
            project_name=env.required("PROJECT_NAME"),
            user_domain_name=user_domain,
            project_domain_name=project_domain,
            timeout=timeout,
            page_size=page_size,
            verify_tls=verify_tls,
        )
