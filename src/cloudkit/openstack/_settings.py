"""OpenStack settings: frozen, checked before any I/O; read from CLOUDKIT_*, cloudkit.toml or clouds.yaml."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from cloudkit._core._config import SourcedEnviron
from cloudkit._core._secret import Secret
from cloudkit._core._settings import EnvReader, check_http_url, to_secret
from cloudkit.errors import ConfigError
from cloudkit.openstack._clouds_yaml import os_cloud_selected, read_cloud

__all__ = ["AuthType", "OpenStackSettings"]

AuthType = Literal["password", "token", "application_credential"]
"""How ``OpenStackSettings`` authenticates: a password, an existing token, or an application credential."""
_AUTH_TYPES: tuple[AuthType, ...] = ("password", "token", "application_credential")

# openstacksdk reads ``<service type, "-" as "_">_endpoint_override`` (openstack/config/cloud_region.py).
_OVERRIDABLE = ("block_storage", "compute", "image")
# What each kind of authentication needs (a token also needs a project: its id or its name).
_REQUIRED: dict[str, tuple[str, ...]] = {
    "password": ("username", "password"),
    "token": ("token",),
    "application_credential": ("application_credential_id", "application_credential_secret"),
}
_SECRETS = ("password", "token", "application_credential_secret")


def _optional_secret(value: str | Secret | None) -> Secret | None:
    return None if value is None else to_secret(value)


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ConfigError(f"OpenStackSettings.{attribute.name} must be > 0", system="openstack")


def _above_one(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 1:
        raise ConfigError(f"OpenStackSettings.{attribute.name} must be > 1", system="openstack")


def _fraction(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 < value < 1:
        raise ConfigError(f"OpenStackSettings.{attribute.name} must be between 0 and 1", system="openstack")


def _count(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    """An int >= 0; a bool or a float is refused (``poll_memory=True`` or ``8.5`` is a mistake)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"OpenStackSettings.{attribute.name} must be an int, got {type(value).__name__}",
            system="openstack",
        )
    if value < 0:
        raise ConfigError(f"OpenStackSettings.{attribute.name} must be >= 0", system="openstack")


def _frozen_overrides(value: Mapping[str, str] | None) -> types.MappingProxyType[str, str]:
    """A read-only copy, sorted by service key (so equal overrides print and compare alike)."""
    if value is None:
        return types.MappingProxyType({})
    if not isinstance(value, Mapping):
        raise ConfigError(
            "openstack endpoint_overrides must be a mapping of service key to URL", system="openstack"
        )
    return types.MappingProxyType({key: value[key] for key in sorted(value)})


def _check_overrides(_: object, __: attrs.Attribute[Mapping[str, str]], value: Mapping[str, str]) -> None:
    for key, url in value.items():
        if key not in _OVERRIDABLE:
            raise ConfigError(
                f"openstack endpoint_overrides key {key!r} is not one of {', '.join(_OVERRIDABLE)}",
                system="openstack",
            )
        if not isinstance(url, str):
            raise ConfigError(
                f"openstack endpoint_overrides[{key!r}] must be a URL string", system="openstack"
            )
        try:
            check_http_url(url, system="openstack")
        except ConfigError as exc:
            raise ConfigError(
                f"openstack endpoint_overrides[{key!r}] is not usable: {exc.message}", system="openstack"
            ) from exc


def _parse_overrides(text: str | None, variable: str) -> dict[str, str]:
    """``compute=http://a/v2.1,image=http://b`` as a dict; errors name the variable, never a value."""
    overrides: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, url = item.partition("=")
        if not sep or not key.strip() or not url.strip():
            raise ConfigError(f"{variable} must look like 'compute=URL,image=URL'", system="openstack")
        overrides[key.strip()] = url.strip()
    return overrides


_NAME_ID_PAIRS = (
    ("project_name", "project_id"),
    ("user_domain_name", "user_domain_id"),
    ("project_domain_name", "project_domain_id"),
)
"""Settings that name one thing two ways: Keystone takes the id when both are given."""


@attrs.frozen(kw_only=True)
class OpenStackSettings:
    """How to reach Keystone and act in one project.

    Three kinds of authentication (``auth_type``), each validated before any I/O; a missing field is a
    :class:`~cloudkit.errors.ConfigError` naming it:

    - ``"password"`` (the default): ``username``, ``password`` and ``project_name``;
    - ``"token"``: an existing Keystone ``token`` and the project (``project_id``, or ``project_name``
      in ``project_domain_name``) it is rescoped to (keystoneauth's ``v3token``: one ``POST
      /v3/auth/tokens`` on first use). For a portal customer's own session, prefer
      :meth:`OpenStackClient.for_session`, which sends no rescope at all;
    - ``"application_credential"``: ``application_credential_id`` and ``application_credential_secret``
      (the credential carries its project).

    Attributes:
        auth_url: Keystone v3, e.g. ``https://keystone.example.com:5000/v3``.
        username, password: the user (password is a :class:`~cloudkit.Secret`; a str is wrapped).
        project_name: the project to scope the token to (``""``: not given).
        auth_type: ``"password"``, ``"token"`` or ``"application_credential"``.
        token: the Keystone token for ``auth_type="token"`` (a :class:`~cloudkit.Secret`).
        project_id: the project by id (``auth_type="token"``; wins over ``project_name``).
        application_credential_id, application_credential_secret: for
            ``auth_type="application_credential"`` (the secret is a :class:`~cloudkit.Secret`).
        user_domain_name, project_domain_name: Keystone domains (``Default``).
        user_domain_id, project_domain_id: the same domains by id (Keystone then ignores the names).
        region_name: the catalog region, if the cloud has several.
        interface: catalog interface (``public``, ``internal``).
        timeout: seconds for one HTTP request.
        wait_timeout: default budget in seconds for waits (server ACTIVE, volume in-use, ...).
        poll_interval: a wait polls at once, then this many seconds after it started; while the kind of
            wait (``create_server:ACTIVE``, ``attach_volume``, ...) is new to the client, each later poll
            comes ``poll_growth`` times as long after the start as the one before.
        poll_growth: that factor (> 1): such a wait ends at most this many times the transition time
            (or ``poll_max_interval`` seconds) after it.
        poll_max_interval: the longest gap between two polls.
        poll_tail: once a kind of wait has ended on this cloud before, the client polls at the start
            of the bounds earlier waits agree on, inside them while they are wider than this fraction of
            the transition time, and at their end (see :class:`~cloudkit.Poller`); a transition slower
            than them is polled in steps starting at this fraction (0 < ``poll_tail`` < 1).
        poll_memory: how many recent waits of each kind the client learns from (an int; 0: none).
        cinder_attach_verify_seconds: how long ``AttachStrategy.CINDER_THEN_NOVA`` waits for Nova to see a
            Cinder-side attach before undoing it and attaching through Nova.
        verify_tls: verify TLS certificates.
        cacert: a CA bundle file to verify them with (``None``: the system's).
        endpoint_overrides: service URLs to use instead of the catalog's, keyed ``compute``,
            ``block_storage`` or ``image`` (openstacksdk's ``<key>_endpoint_override``): for a portal that
            reaches services at other addresses than the catalog names, or a test that puts a
            :class:`~cloudkit.testing.FaultProxy` in front of one. Give the versioned URL the catalog
            would give (``.../v2.1``; Cinder's with the project id itself, ``.../v3/<project id>``, or
            ``.../v3`` where Cinder takes URLs without it) or the service root (version discovery then
            runs there). A ``%(project_id)s`` template is not filled in for version discovery. openstacksdk
            still asks the URL for its version document (microversions); links in that document that name
            another host are followed on the override's host. Stored read-only, sorted by key.

    Example:
        >>> from cloudkit.openstack import OpenStackSettings
        >>> OpenStackSettings(auth_url="http://127.0.0.1:5000/v3", username="portal",
        ...                   password="secret", project_name="alice")
        OpenStackSettings(auth_url='http://127.0.0.1:5000/v3', username='portal', password=Secret('***'), project_name='alice', ...)
        >>> settings = OpenStackSettings(auth_url="http://127.0.0.1:5000/v3", username="portal",
        ...     password="secret", project_name="alice",
        ...     endpoint_overrides={"compute": "http://127.0.0.1:18774/v2.1", "image": "http://127.0.0.1:19292"})
        >>> settings.connection_config()["compute_endpoint_override"]
        'http://127.0.0.1:18774/v2.1'
        >>> dict(settings.endpoint_overrides)
        {'compute': 'http://127.0.0.1:18774/v2.1', 'image': 'http://127.0.0.1:19292'}
    """  # noqa: E501 (a doctest output line)

    auth_url: str
    username: str = ""
    password: Secret | None = attrs.field(default=None, converter=_optional_secret)
    project_name: str = ""
    auth_type: AuthType = "password"
    token: Secret | None = attrs.field(default=None, converter=_optional_secret)
    project_id: str | None = None
    application_credential_id: str | None = None
    application_credential_secret: Secret | None = attrs.field(default=None, converter=_optional_secret)
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    user_domain_id: str | None = None
    project_domain_id: str | None = None
    region_name: str | None = None
    interface: str = "public"
    timeout: float = attrs.field(default=30.0, validator=_positive)
    wait_timeout: float = attrs.field(default=300.0, validator=_positive)
    poll_interval: float = attrs.field(default=1.0, validator=_positive)
    poll_growth: float = attrs.field(default=1.5, validator=_above_one)
    poll_max_interval: float = attrs.field(default=5.0, validator=_positive)
    poll_tail: float = attrs.field(default=0.05, validator=_fraction)
    poll_memory: int = attrs.field(default=8, validator=_count)
    cinder_attach_verify_seconds: float = attrs.field(default=10.0, validator=_positive)
    verify_tls: bool = True
    cacert: str | None = None
    # Left out of the hash (a read-only mapping is not hashable); equality still compares it.
    endpoint_overrides: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_overrides, validator=_check_overrides, hash=False
    )

    def __attrs_post_init__(self) -> None:
        """Validate before any I/O: each ``auth_type`` needs its own fields, and only those."""
        check_http_url(self.auth_url, system="openstack")
        if self.auth_type not in _AUTH_TYPES:
            raise ConfigError(
                f"openstack auth_type must be one of {', '.join(_AUTH_TYPES)}, got {self.auth_type!r}",
                system="openstack",
            )
        for name in ("user_domain_name", "project_domain_name"):
            if not getattr(self, name):
                raise ConfigError(f"openstack {name} is empty", system="openstack")
        for name in _REQUIRED[self.auth_type]:
            if not getattr(self, name):
                raise ConfigError(
                    f"openstack {name} is empty (auth_type {self.auth_type!r} needs it)", system="openstack"
                )
        if self.auth_type == "password" and not (self.project_id or self.project_name):
            raise ConfigError(
                "openstack project_name is empty (auth_type 'password' needs it, or project_id)",
                system="openstack",
            )
        if self.auth_type == "token" and not (self.project_id or self.project_name):
            raise ConfigError(
                "openstack project_id is empty (auth_type 'token' needs project_id or project_name)",
                system="openstack",
            )
        # A secret of another kind is a mistake (which one did the caller mean?): refuse it.
        stray = [name for name in _SECRETS if getattr(self, name) and name not in _REQUIRED[self.auth_type]]
        if stray:
            raise ConfigError(
                f"openstack settings give {stray[0]} but auth_type is {self.auth_type!r}; choose one",
                system="openstack",
            )

    def __repr__(self) -> str:
        """Short and secret-free: whom it logs in as, never the password, token or credential secret."""
        if self.auth_type == "password":
            who = (
                f"username={self.username!r}, password={self.password!r}, project_name={self.project_name!r}"
            )
        elif self.auth_type == "token":
            project = (
                f"project_id={self.project_id!r}"
                if self.project_id
                else f"project_name={self.project_name!r}"
            )
            who = f"auth_type='token', token={self.token!r}, {project}"
        else:
            credential = self.application_credential_id
            who = f"auth_type='application_credential', application_credential_id={credential!r}"
        return f"OpenStackSettings(auth_url={self.auth_url!r}, {who}, ...)"

    @property
    def principal(self) -> str:
        """Whom these settings act as, for reprs and messages: a user, a project's token, a credential.

        Example:
            >>> from cloudkit.openstack import OpenStackSettings
            >>> OpenStackSettings(auth_url="http://ks:5000/v3", auth_type="token", token="t",
            ...                   project_id="p1").principal
            'token of project p1'
        """
        if self.auth_type == "password":
            return self.username
        if self.auth_type == "token":
            return f"token of project {self.project_id or self.project_name}"
        return f"application credential {self.application_credential_id}"

    @property
    def tls_verify(self) -> bool | str:
        """What requests' and keystoneauth's ``verify=`` take: ``False``, ``True`` or the CA bundle path.

        Example:
            >>> from cloudkit.openstack import OpenStackSettings
            >>> OpenStackSettings(auth_url="https://ks:5000/v3", username="p", password="pw",
            ...                   project_name="alice", cacert="/etc/ssl/ca.pem").tls_verify
            '/etc/ssl/ca.pem'
        """
        return self.cacert if self.verify_tls and self.cacert else self.verify_tls

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OpenStackSettings:
        """Settings from ``CLOUDKIT_OPENSTACK_*``, ``cloudkit.toml``'s ``[openstack]``, or the
        ``openstack`` CLI's own ``clouds.yaml`` / ``OS_CLOUD`` / ``OS_*`` (see ``docs/configuration.md``).

        The rule, field by field, first found wins:

        1. a ``CLOUDKIT_OPENSTACK_<FIELD>`` variable;
        2. ``<field>`` in the ``[openstack]`` table of ``cloudkit.toml``;
        3. the cloud openstacksdk's loader picks (:meth:`from_clouds_yaml`): the one named by
           ``CLOUDKIT_OPENSTACK_CLOUD`` / ``[openstack] cloud``, else ``OS_CLOUD``, else the ``OS_*``
           variables. Step 3 is skipped when cloudkit's own settings (1 or 2) give ``auth_url`` and
           name no ``cloud``: explicit cloudkit configuration is never mixed with a shell's ``OS_*``.

        Without step 3, ``CLOUDKIT_OPENSTACK_AUTH_URL`` is required, and ``_AUTH_TYPE``
        (``password``, the default; ``token``; ``application_credential``) says which credentials are
        read: ``_USERNAME``, ``_PASSWORD``, ``_PROJECT_NAME`` (or ``_PROJECT_ID``); or ``_TOKEN`` with
        ``_PROJECT_ID`` or ``_PROJECT_NAME``; or ``_APPLICATION_CREDENTIAL_ID`` and ``_SECRET``.
        Optional: ``_USER_DOMAIN_NAME``, ``_PROJECT_DOMAIN_NAME``, ``_USER_DOMAIN_ID``,
        ``_PROJECT_DOMAIN_ID``, ``_REGION_NAME``, ``_INTERFACE``, ``_TIMEOUT``, ``_WAIT_TIMEOUT``,
        ``_VERIFY_TLS``, ``_CACERT`` and ``_ENDPOINT_OVERRIDES`` (``compute=URL,image=URL``, comma
        separated ``key=URL`` pairs; see ``endpoint_overrides``).

        Raises:
            ConfigError: a missing or bad setting, named with its source: ``CLOUDKIT_OPENSTACK_TIMEOUT
                (environment)``, ``[openstack] timeout (cloudkit.toml: /abs/path)``, ``OS_AUTH_URL
                (environment)`` or ``auth.auth_url of cloud 'devstack' (clouds.yaml: /abs/path, ...)``.

        Example:
            >>> from cloudkit.openstack import OpenStackSettings
            >>> env = {"CLOUDKIT_OPENSTACK_AUTH_URL": "http://ks:5000/v3", "CLOUDKIT_OPENSTACK_USERNAME": "p",
            ...        "CLOUDKIT_OPENSTACK_PASSWORD": "pw", "CLOUDKIT_OPENSTACK_PROJECT_NAME": "alice"}
            >>> OpenStackSettings.from_env(env).project_name
            'alice'
            >>> env["CLOUDKIT_OPENSTACK_ENDPOINT_OVERRIDES"] = "compute=http://nova:18774/v2.1"
            >>> dict(OpenStackSettings.from_env(env).endpoint_overrides)
            {'compute': 'http://nova:18774/v2.1'}
            >>> OpenStackSettings.from_env({"CLOUDKIT_OPENSTACK_AUTH_URL": "http://ks:5000/v3",
            ...     "CLOUDKIT_OPENSTACK_AUTH_TYPE": "application_credential",
            ...     "CLOUDKIT_OPENSTACK_APPLICATION_CREDENTIAL_ID": "ac1",
            ...     "CLOUDKIT_OPENSTACK_APPLICATION_CREDENTIAL_SECRET": "s"})
            OpenStackSettings(auth_url='http://ks:5000/v3', auth_type='application_credential', application_credential_id='ac1', ...)
            >>> OpenStackSettings.from_env({"CLOUDKIT_OPENSTACK_USERNAME": "p"})
            Traceback (most recent call last):
            ...
            cloudkit.errors.ConfigError: CLOUDKIT_OPENSTACK_AUTH_URL (environment) is not set ...
        """  # noqa: D205, E501 (the sources are the summary; a doctest output line)
        env = EnvReader.of("CLOUDKIT_OPENSTACK_", environ, system="openstack")
        cloud = env.optional("CLOUD") or None
        if cloud is None and (env.is_set("AUTH_URL") or not os_cloud_selected(env.environ)):
            return cls._from_cloudkit_settings(env)
        process = isinstance(env.environ, SourcedEnviron) and env.environ.from_process
        found = read_cloud(cloud, None if process else env.environ)
        own = _cloudkit_fields(env)
        fields = {**found.settings_fields(), **own}
        for name, id_ in _NAME_ID_PAIRS:
            # cloudkit's own setting of one half (a project name, say) replaces the cloud's whole pair: the
            # cloud's id beside it would win at Keystone and silently ignore the name given.
            if name in own and id_ not in own:
                fields.pop(id_, None)
            elif id_ in own and name not in own:
                fields.pop(name, None)
        try:
            return cls(**fields)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc.message} (settings from {found.source}; {env.sources()})", system="openstack"
            ) from None

    @classmethod
    def from_clouds_yaml(
        cls, cloud: str | None = None, *, environ: Mapping[str, str] | None = None
    ) -> OpenStackSettings:
        """Settings for ``cloud`` exactly as the ``openstack`` CLI finds it, through openstacksdk's loader.

        ``clouds.yaml`` (``OS_CLIENT_CONFIG_FILE``, then ``./``, ``~/.config/openstack/``,
        ``/etc/openstack/``), ``secure.yaml`` merged in, and ``cloud`` chosen as the CLI does: the name
        given, else ``OS_CLOUD``, else a cloud made of the ``OS_*`` variables, else the file's only cloud.
        Auth types ``password``/``v3password``, ``token``/``v3token`` and ``v3applicationcredential``
        map to cloudkit's; region, interface, ``verify``/``insecure``/``cacert``, ``api_timeout``,
        project and domain names and ids are carried over. Nothing is sent over the network.

        Args:
            cloud: the cloud's name in ``clouds.yaml`` (``None``: the CLI's choice).
            environ: variables to read instead of the process environment (``OS_*``,
                ``OS_CLIENT_CONFIG_FILE``); ``None`` runs openstacksdk's loader unchanged.

        Raises:
            ConfigError: the cloud is not found, its auth type is not supported or a field it needs is
                missing, named with its source: ``auth.auth_url of cloud 'devstack' (clouds.yaml:
                /abs/path, cloud 'devstack')`` or ``OS_AUTH_URL (environment)``.

        Example:
            >>> import pathlib, tempfile
            >>> from cloudkit.openstack import OpenStackSettings
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "clouds.yaml"
            >>> _ = path.write_text('''
            ... clouds:
            ...   devstack:
            ...     auth: {auth_url: "http://ks:5000/v3", username: demo, password: pw, project_name: demo}
            ...     region_name: RegionOne
            ... ''')
            >>> env = {"OS_CLIENT_CONFIG_FILE": str(path), "OS_CLIENT_SECURE_FILE": str(path) + ".none"}
            >>> settings = OpenStackSettings.from_clouds_yaml("devstack", environ=env)
            >>> settings, settings.region_name
            (OpenStackSettings(auth_url='http://ks:5000/v3', username='demo', password=Secret('***'), project_name='demo', ...), 'RegionOne')
            >>> OpenStackSettings.from_clouds_yaml(environ={"OS_AUTH_URL": "http://ks:5000/v3",
            ...     "OS_CLIENT_CONFIG_FILE": str(path) + ".none", "OS_USERNAME": "demo", "OS_PASSWORD": "pw"})
            Traceback (most recent call last):
            ...
            cloudkit.errors.ConfigError: OS_PROJECT_NAME (environment) is not set, nor OS_PROJECT_ID ...
        """  # noqa: E501 (doctest lines)
        found = read_cloud(cloud, environ)
        fields = found.settings_fields()
        try:
            return cls(**fields)
        except ConfigError as exc:
            raise ConfigError(f"{exc.message} (settings from {found.source})", system="openstack") from None

    @classmethod
    def _from_cloudkit_settings(cls, env: EnvReader) -> OpenStackSettings:
        """Only cloudkit's own settings (variables over ``cloudkit.toml``); ``AUTH_URL`` required."""
        env.required("AUTH_URL")
        fields = _cloudkit_fields(env)
        auth_type = fields.get("auth_type", "password")
        # Each kind of authentication requires its own variables; the error names the one missing.
        if auth_type == "password":
            env.required("USERNAME")
            env.required_secret("PASSWORD")
            if not env.is_set("PROJECT_ID"):
                env.required("PROJECT_NAME")
        elif auth_type == "token":
            env.required_secret("TOKEN")
            if not env.is_set("PROJECT_ID"):
                env.required("PROJECT_NAME")
        else:
            env.required("APPLICATION_CREDENTIAL_ID")
            env.required_secret("APPLICATION_CREDENTIAL_SECRET")
        return env.build(cls, **fields)

    def connection_config(self) -> dict[str, Any]:
        """Keyword arguments for ``openstack.connection.Connection``: retries off, finite timeouts.

        cloudkit's RetryPolicy is the one retry layer, so keystoneauth's connect and status retries
        stay at 0 (a connect retry after a read timeout could re-send a POST and duplicate a server).
        Each of ``endpoint_overrides`` becomes ``<key>_endpoint_override``.

        Example:
            >>> from cloudkit.openstack import OpenStackSettings
            >>> settings = OpenStackSettings(auth_url="http://ks:5000/v3", username="p", password="pw",
            ...     project_name="alice", endpoint_overrides={"block_storage": "http://cinder:8776/v3/abc"})
            >>> sorted(k for k in settings.connection_config() if k.endswith("_endpoint_override"))
            ['block_storage_endpoint_override']
        """
        config: dict[str, Any] = {
            **self._auth_config(),
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
        if self.cacert:
            config["cacert"] = self.cacert
        for key, url in self.endpoint_overrides.items():
            config[f"{key}_endpoint_override"] = url
        return config

    def _auth_config(self) -> dict[str, Any]:
        """``auth_type`` and ``auth`` for openstacksdk: keystoneauth's password, v3token or
        v3applicationcredential plugin (the only place the secrets are revealed)."""  # noqa: D205, D209
        auth: dict[str, Any] = {"auth_url": self.auth_url}
        if self.auth_type == "application_credential":
            assert self.application_credential_secret is not None  # noqa: S101 (validated)
            auth["application_credential_id"] = self.application_credential_id
            auth["application_credential_secret"] = self.application_credential_secret.get_secret_value()
            return {"auth_type": "v3applicationcredential", "auth": auth}
        if self.project_id:
            auth["project_id"] = self.project_id
        else:
            auth["project_name"] = self.project_name
            auth["project_domain_name"] = self.project_domain_name
            if self.project_domain_id:
                auth["project_domain_id"] = self.project_domain_id
        if self.auth_type == "token":
            assert self.token is not None  # noqa: S101 (validated)
            auth["token"] = self.token.get_secret_value()
            return {"auth_type": "v3token", "auth": auth}
        assert self.password is not None  # noqa: S101 (validated)
        auth["username"] = self.username
        auth["password"] = self.password.get_secret_value()
        auth["user_domain_name"] = self.user_domain_name
        if self.user_domain_id:
            auth["user_domain_id"] = self.user_domain_id
        return {"auth_type": "password", "auth": auth}


def _cloudkit_fields(env: EnvReader) -> dict[str, Any]:
    """The fields cloudkit's own settings give (``CLOUDKIT_OPENSTACK_*`` over ``[openstack]``), typed.

    Only what is set: the rest comes from defaults or from the clouds.yaml cloud.
    """
    fields: dict[str, Any] = {}
    wanted = env.optional("AUTH_TYPE")
    if wanted:
        auth_type = next((kind for kind in _AUTH_TYPES if kind == wanted.strip().lower()), None)
        if auth_type is None:
            raise ConfigError(
                f"{env.source('AUTH_TYPE')} must be one of {', '.join(_AUTH_TYPES)}", system="openstack"
            )
        fields["auth_type"] = auth_type
    texts = {
        "auth_url": env.optional("AUTH_URL"),
        "username": env.optional("USERNAME"),
        "project_name": env.optional("PROJECT_NAME"),
        "project_id": env.optional("PROJECT_ID"),
        "application_credential_id": env.optional("APPLICATION_CREDENTIAL_ID"),
        "user_domain_name": env.optional("USER_DOMAIN_NAME"),
        "project_domain_name": env.optional("PROJECT_DOMAIN_NAME"),
        "user_domain_id": env.optional("USER_DOMAIN_ID"),
        "project_domain_id": env.optional("PROJECT_DOMAIN_ID"),
        "region_name": env.optional("REGION_NAME"),
        "interface": env.optional("INTERFACE"),
        "cacert": env.optional("CACERT"),
    }
    fields.update({name: value for name, value in texts.items() if value})
    secrets = {
        "password": env.optional("PASSWORD"),
        "token": env.optional("TOKEN"),
        "application_credential_secret": env.optional("APPLICATION_CREDENTIAL_SECRET"),
    }
    fields.update({name: Secret(value) for name, value in secrets.items() if value})
    if env.is_set("TIMEOUT"):
        fields["timeout"] = env.optional_float("TIMEOUT", 30.0)
    if env.is_set("WAIT_TIMEOUT"):
        fields["wait_timeout"] = env.optional_float("WAIT_TIMEOUT", 300.0)
    if env.is_set("VERIFY_TLS"):
        fields["verify_tls"] = env.optional_bool("VERIFY_TLS", default=True)
    if env.is_set("ENDPOINT_OVERRIDES"):
        fields["endpoint_overrides"] = _parse_overrides(
            env.optional("ENDPOINT_OVERRIDES"), env.source("ENDPOINT_OVERRIDES")
        )
    return fields
