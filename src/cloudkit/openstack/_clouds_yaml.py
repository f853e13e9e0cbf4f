"""OpenStack settings as the ``openstack`` CLI finds them: clouds.yaml, secure.yaml, ``OS_CLOUD``, ``OS_*``.

openstacksdk's own loader (:class:`openstack.config.loader.OpenStackConfig`) does the finding, so search
paths, ``OS_CLIENT_CONFIG_FILE``, ``secure.yaml`` merging, ``OS_CLOUD`` and the ``OS_*`` variables mean
what they mean to the CLI. This module turns the cloud it picks into :class:`OpenStackSettings` fields
and names each missing or unsupported field with its source: ``auth.auth_url of cloud 'devstack'
(clouds.yaml: /abs/path, cloud 'devstack')`` or ``OS_AUTH_URL (environment)``.

The loader is asked for the cloud's configuration and its keystoneauth plugin is built (that is how
openstacksdk moves ``OS_USERNAME`` and friends into ``auth``), but nothing logs in: building a plugin
sends no request.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keystoneauth1.exceptions as ks_exc
import openstack.exceptions as os_exc
import openstack.warnings as os_warnings
from openstack.config import loader

from cloudkit.errors import ConfigError

__all__ = ["CLOUDS_AUTH_TYPES", "CloudsYamlCloud", "os_cloud_selected", "read_cloud"]

SYSTEM = "openstack"

# keystoneauth plugin names (as clouds.yaml's ``auth_type`` spells them) to cloudkit's auth types.
CLOUDS_AUTH_TYPES: Mapping[str, str] = {
    "password": "password",
    "v3password": "password",
    "token": "token",
    "v3token": "token",
    "v3applicationcredential": "application_credential",
}
# What each cloudkit auth type needs from the cloud's ``auth`` (project checked on its own).
_NEEDED = {
    "password": ("auth_url", "username", "password"),
    "token": ("auth_url", "token"),
    "application_credential": ("auth_url", "application_credential_id", "application_credential_secret"),
}
# Variables that make openstacksdk build its ``envvars`` cloud, or pick a cloud from clouds.yaml.
_SELECTORS = ("OS_CLOUD", "OS_AUTH_URL")


def os_cloud_selected(environ: Mapping[str, str]) -> bool:
    """Whether ``environ`` asks for an OpenStack cloud the CLI's way: ``OS_CLOUD`` or ``OS_AUTH_URL`` set.

    Example:
        >>> from cloudkit.openstack._clouds_yaml import os_cloud_selected
        >>> os_cloud_selected({"OS_CLOUD": "devstack"}), os_cloud_selected({"OS_REGION_NAME": "r"})
        (True, False)
    """
    return any(environ.get(name) for name in _SELECTORS)


class _MappingConfig(loader.OpenStackConfig):
    """openstacksdk's loader over a given mapping instead of ``os.environ`` (for ``environ=...``).

    openstacksdk reads variables in exactly two methods; both are re-pointed at the mapping, with the
    same rules (``OS_`` prefix, the CI and oslotest variables skipped, selectors alone make no cloud).
    A test compares it with the stock loader over the real environment.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = dict(environ)
        super().__init__()

    def _get_envvar(self, key: str, default: str | None = None) -> str | None:
        if not self._load_envvars:
            return default
        return self._environ.get(key, default)

    def _get_os_environ(
        self,
        envvar_prefix: str | None = None,  # noqa: ARG002 (only OS_, openstacksdk's default)
    ) -> dict[str, Any] | None:
        found: dict[str, Any] = self._defaults_module.get_defaults()
        keys = [
            key
            for key in self._environ
            if key.startswith("OS_") and not key.startswith(("OS_TEST", "OS_STD", "OS_LOG"))
        ]
        for key in keys:
            found[key.split("_", 1)[-1].lower()] = self._environ[key]
        selectors = {
            "OS_CLOUD",
            "OS_REGION_NAME",
            "OS_CLIENT_CONFIG_FILE",
            "OS_CLIENT_SECURE_FILE",
            "OS_CLOUD_NAME",
        }
        return found if set(keys) - selectors else None


@contextmanager
def _sdk_boundary(where: str) -> Iterator[None]:
    """The loader's errors as :class:`ConfigError`; openstacksdk's own deprecations hushed."""
    with warnings.catch_warnings():
        # CloudRegion warns about its all-None InfluxDB config on every construction (openstacksdk 4.x).
        warnings.filterwarnings("ignore", category=os_warnings.RemovedInSDK60Warning, module="openstack")
        try:
            yield
        except os_exc.ConfigException as exc:
            # openstacksdk's texts name clouds and files, never a value.
            raise ConfigError(f"{exc} ({where})", system=SYSTEM) from None
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            # A clouds.yaml of the wrong shape (a cloud given as a string, auth as a list, a number where
            # a URL belongs) fails deep inside openstacksdk's loader with Python's own errors; their texts
            # may quote a value, so only the kind is said.
            raise ConfigError(
                f"malformed OpenStack configuration ({type(exc).__name__} in openstacksdk's loader) "
                f"({where})",
                system=SYSTEM,
            ) from None


class CloudsYamlCloud:
    """One cloud as openstacksdk's loader resolved it, and where it came from.

    Example:
        >>> from cloudkit.openstack._clouds_yaml import CloudsYamlCloud
        >>> cloud = CloudsYamlCloud("envvars", {"auth_type": "password", "auth": {}}, from_environment=True)
        >>> cloud.source, cloud.field("auth.auth_url")
        ('environment', 'OS_AUTH_URL (environment)')
    """

    def __init__(
        self,
        name: str,
        config: Mapping[str, Any],
        *,
        from_environment: bool = False,
        files: tuple[str, ...] = (),
    ) -> None:
        """Hold the cloud ``name``'s resolved ``config``, read from the environment or ``files``."""
        self.name = name
        self.config = config
        self.from_environment = from_environment
        self.files = files

    def __repr__(self) -> str:
        """Which cloud and where from; never its configuration (it holds secrets)."""
        return f"CloudsYamlCloud({self.name!r}, source={self.source!r})"

    @property
    def source(self) -> str:
        """``environment``, ``clouds.yaml: /abs/path, cloud 'x'``, or that no file was found."""
        if self.from_environment:
            return "environment"
        if not self.files:
            return f"no clouds.yaml found, no OS_* variables; cloud {self.name!r}"
        named = "; ".join(_named(path) for path in self.files)
        return f"{named}, cloud {self.name!r}"

    def field(self, dotted: str) -> str:
        """A field as the user wrote it, with its source: ``OS_AUTH_URL (environment)`` or
        ``auth.auth_url of cloud 'x' (clouds.yaml: /abs/path, cloud 'x')``."""  # noqa: D205, D209
        if self.from_environment:
            return f"OS_{dotted.rsplit('.', 1)[-1].upper()} (environment)"
        return f"{dotted} of cloud {self.name!r} ({self.source})"

    def settings_fields(self) -> dict[str, Any]:
        """The :class:`OpenStackSettings` keyword arguments this cloud gives.

        Raises:
            ConfigError: an auth type cloudkit does not speak, or a field it needs is missing (named
                with its source, never with a value).
        """
        auth_type, wanted = self._auth_type()
        auth: Mapping[str, Any] = self.config.get("auth") or {}
        self._check_auth(auth, auth_type, wanted)
        fields: dict[str, Any] = {"auth_type": auth_type, "auth_url": auth["auth_url"]}
        for name in (
            "username",
            "password",
            "token",
            "project_name",
            "project_id",
            "application_credential_id",
            "application_credential_secret",
            "user_domain_name",
            "project_domain_name",
            "user_domain_id",
            "project_domain_id",
        ):
            if auth.get(name):
                fields[name] = str(auth[name])
        # keystoneauth's ``domain_*`` fills both user and project domain when those are not given.
        for kind in ("name", "id"):
            if auth.get(f"domain_{kind}"):
                fields.setdefault(f"user_domain_{kind}", str(auth[f"domain_{kind}"]))
                fields.setdefault(f"project_domain_{kind}", str(auth[f"domain_{kind}"]))
        fields.update(self._transport_fields())
        return fields

    def _auth_type(self) -> tuple[str, str]:
        """Cloudkit's auth type and the cloud's own spelling of it; unsupported ones refused."""
        wanted = str(self.config.get("auth_type") or "password")
        auth_type = CLOUDS_AUTH_TYPES.get(wanted.replace("-", ""))
        if auth_type is None:
            raise ConfigError(
                f"{self.field('auth_type')} is {wanted!r}, which cloudkit does not support "
                f"(supported: {', '.join(CLOUDS_AUTH_TYPES)})",
                system=SYSTEM,
            )
        return auth_type, wanted

    def _check_auth(self, auth: Mapping[str, Any], auth_type: str, wanted: str) -> None:
        """Each field the auth type needs is there; a project for password and token."""
        for name in _NEEDED[auth_type]:
            if not auth.get(name):
                raise ConfigError(
                    f"{self.field(f'auth.{name}')} is not set (auth_type {wanted!r} needs it)", system=SYSTEM
                )
        if auth_type != "application_credential" and not (auth.get("project_id") or auth.get("project_name")):
            raise ConfigError(
                f"{self.field('auth.project_name')} is not set, nor {self.field('auth.project_id')} "
                f"(auth_type {wanted!r} needs a project)",
                system=SYSTEM,
            )

    def _transport_fields(self) -> dict[str, Any]:
        """Region, interface, TLS verification and timeout."""
        fields: dict[str, Any] = {}
        if self.config.get("region_name"):
            fields["region_name"] = str(self.config["region_name"])
        if self.config.get("interface"):
            fields["interface"] = str(self.config["interface"])
        # As openstacksdk's CloudRegion.get_requests_verify_args: insecure wins, then verify, then cacert.
        verify = bool(self.config.get("verify", True)) and not self.config.get("insecure")
        fields["verify_tls"] = verify
        if verify and self.config.get("cacert"):
            fields["cacert"] = str(self.config["cacert"])
        if self.config.get("api_timeout"):
            try:
                fields["timeout"] = float(self.config["api_timeout"])
            except (TypeError, ValueError):
                raise ConfigError(f"{self.field('api_timeout')} must be a number", system=SYSTEM) from None
        return fields


def _named(path: str) -> str:
    """``clouds.yaml: /abs/path`` (or ``secure.yaml: ...``): a file as errors name it."""
    return f"{Path(path).name}: {Path(path).absolute()}"


def read_cloud(cloud: str | None = None, environ: Mapping[str, str] | None = None) -> CloudsYamlCloud:
    """The cloud ``cloud`` (else ``OS_CLOUD``, else the ``OS_*`` variables, else the only cloud) as the CLI reads it.

    ``environ`` ``None`` reads the process environment with openstacksdk's loader unchanged.

    Raises:
        ConfigError: the cloud is not found, a file is not YAML, or the cloud's auth plugin cannot be
            built (a missing field named with its source).
    """  # noqa: E501 (the summary says the whole order)
    with _sdk_boundary("clouds.yaml, secure.yaml, OS_* (environment)"):
        config = loader.OpenStackConfig() if environ is None else _MappingConfig(environ)
    files = tuple(p for p in (config.config_filename, config.secure_config_filename) if p)
    where = "; ".join(_named(path) for path in files) or "no clouds.yaml found"
    with _sdk_boundary(where):
        # First without the auth plugin, to refuse an auth type cloudkit does not speak before
        # keystoneauth tries to load it.
        region = config.get_one(cloud=cloud, validate=False)
    found = CloudsYamlCloud(
        region.name, region.config, from_environment=region.name == config.envvar_key, files=files
    )
    wanted = str(found.config.get("auth_type") or "password")
    if wanted.replace("-", "") not in CLOUDS_AUTH_TYPES:
        found.settings_fields()  # raises the unsupported auth type, named with its source
    with _sdk_boundary(found.source):
        try:
            # The plugin's options are how openstacksdk moves OS_USERNAME & co. into ``auth``; building
            # the plugin sends no request.
            region = config.get_one(cloud=cloud, validate=True)
        except ks_exc.MissingRequiredOptions as exc:
            missing = ", ".join(found.field(f"auth.{opt.dest}") for opt in exc.options)
            raise ConfigError(f"{missing} is not set", system=SYSTEM) from None
        except ks_exc.AuthPluginException as exc:
            raise ConfigError(
                f"{found.field('auth')} cannot be used: {type(exc).__name__}", system=SYSTEM
            ) from None
    return CloudsYamlCloud(region.name, region.config, from_environment=found.from_environment, files=files)
