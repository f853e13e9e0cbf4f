"""OpenStack settings: frozen, validated before any I/O, read from the environment only by ``from_env``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from cloudkit._core._secret import Secret
from cloudkit._core._settings import EnvReader, check_http_url, to_secret
from cloudkit.errors import ConfigError

__all__ = ["OpenStackSettings"]


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ConfigError(f"OpenStackSettings.{attribute.name} must be > 0", system="openstack")


@attrs.frozen(kw_only=True)
class OpenStackSettings:
    """How to reach Keystone and act in one project.

    Attributes:
        auth_url: Keystone v3, e.g. ``https://keystone.example.com:5000/v3``.
        username, password: the user (password is a :class:`~cloudkit.Secret`; a str is wrapped).
        project_name: the project to scope the token to.
        user_domain_name, project_domain_name: Keystone domains (``Default``).
        region_name: the catalog region, if the cloud has several.
        interface: catalog interface (``public``, ``internal``).
        timeout: seconds for one HTTP request.
        wait_timeout: default budget in seconds for waits (server ACTIVE, volume in-use, ...).
        poll_interval: first delay between status polls; doubles up to 5 s.
        cinder_attach_verify_seconds: how long ``AttachStrategy.CINDER_THEN_NOVA`` waits for Nova to see a
            Cinder-side attach before undoing it and attaching through Nova.
        verify_tls: verify TLS certificates.

    Example:
        >>> from cloudkit.openstack import OpenStackSettings
        >>> OpenStackSettings(auth_url="http://127.0.0.1:5000/v3", username="portal",
        ...                   password="secret", project_name="alice")
        OpenStackSettings(auth_url='http://127.0.0.1:5000/v3', username='portal', password=Secret('***'), project_name='alice', ...)
    """  # noqa: E501 (a doctest output line)

    auth_url: str
    username: str
    password: Secret = attrs.field(converter=to_secret)
    project_name: str
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    region_name: str | None = None
    interface: str = "public"
    timeout: float = attrs.field(default=30.0, validator=_positive)
    wait_timeout: float = attrs.field(default=300.0, validator=_positive)
    poll_interval: float = attrs.field(default=1.0, validator=_positive)
    cinder_attach_verify_seconds: float = attrs.field(default=10.0, validator=_positive)
    verify_tls: bool = True

    def __attrs_post_init__(self) -> None:
        """Validate before any I/O."""
        check_http_url(self.auth_url, system="openstack")
        for name in ("username", "project_name", "user_domain_name", "project_domain_name"):
            if not getattr(self, name):
                raise ConfigError(f"openstack {name} is empty", system="openstack")
        if not self.password:
            raise ConfigError("openstack password is empty", system="openstack")

    def __repr__(self) -> str:
        """Short and secret-free."""
        return (
            f"OpenStackSettings(auth_url={self.auth_url!r}, username={self.username!r}, "
            f"password={self.password!r}, project_name={self.project_name!r}, ...)"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OpenStackSettings:
        """Read ``CLOUDKIT_OPENSTACK_AUTH_URL``, ``_USERNAME``, ``_PASSWORD``, ``_PROJECT_NAME`` and
        optional ``_USER_DOMAIN_NAME``, ``_PROJECT_DOMAIN_NAME``, ``_REGION_NAME``, ``_INTERFACE``,
        ``_TIMEOUT``, ``_WAIT_TIMEOUT``.

        Example:
            >>> from cloudkit.openstack import OpenStackSettings
            >>> env = {"CLOUDKIT_OPENSTACK_AUTH_URL": "http://ks:5000/v3", "CLOUDKIT_OPENSTACK_USERNAME": "p",
            ...        "CLOUDKIT_OPENSTACK_PASSWORD": "pw", "CLOUDKIT_OPENSTACK_PROJECT_NAME": "alice"}
            >>> OpenStackSettings.from_env(env).project_name
            'alice'
        """  # noqa: D205 (the list of variables is the summary)
        env = EnvReader.of("CLOUDKIT_OPENSTACK_", environ, system="openstack")
        return cls(
            auth_url=env.required("AUTH_URL"),
            username=env.required("USERNAME"),
            password=env.required_secret("PASSWORD"),
            project_name=env.required("PROJECT_NAME"),
            user_domain_name=env.optional("USER_DOMAIN_NAME", "Default") or "Default",
            project_domain_name=env.optional("PROJECT_DOMAIN_NAME", "Default") or "Default",
            region_name=env.optional("REGION_NAME"),
            interface=env.optional("INTERFACE", "public") or "public",
            timeout=env.optional_float("TIMEOUT", 30.0),
            wait_timeout=env.optional_float("WAIT_TIMEOUT", 300.0),
        )

    def connection_config(self) -> dict[str, Any]:
        """Keyword arguments for ``openstack.connection.Connection``: retries off, finite timeouts.

        cloudkit's RetryPolicy is the one retry layer, so keystoneauth's connect and status retries
        stay at 0 (a connect retry after a read timeout could re-send a POST and duplicate a server).
        """
        config: dict[str, Any] = {
            "auth_type": "password",
            "auth": {
                "auth_url": self.auth_url,
                "username": self.username,
                "password": self.password.get_secret_value(),
                "project_name": self.project_name,
                "user_domain_name": self.user_domain_name,
                "project_domain_name": self.project_domain_name,
            },
            "interface": self.interface,
            "api_timeout": self.timeout,
            "verify": self.verify_tls,
            "connect_retries": 0,
            "status_code_retries": 0,
            "image_status_code_retries": 0,
            "compute_api_version": "2",
            "block_storage_api_version": "3",
        }
        if self.region_name:
            config["region_name"] = self.region_name
        return config
