"""`LifecycleSettings`: how the sagas run, read from ``CLOUDKIT_LIFECYCLE_*`` and a TOML file.

The ``cloudkit.toml`` file (named by ``CLOUDKIT_CONFIG``, else ``./cloudkit.toml``) may also carry the
settings of the systems (tables ``[billing]``, ``[openstack]``, ``[tungsten]``, ``[session]``, keys named
as the ``CLOUDKIT_<SYSTEM>_*`` variables without the prefix, in lower case), so a processing module
started by billing with no environment but that one variable has everything. The environment wins over
the file, key by key. The loader is :mod:`cloudkit._core._config`, shared by every ``from_env``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from cloudkit._core._config import config_table, layered_environ
from cloudkit._core._settings import EnvReader
from cloudkit.errors import ConfigError

__all__ = ["LifecycleSettings", "config_environ", "default_db_url"]

SYSTEM = "lifecycle"
DataVolumePolicy = Literal["keep", "delete"]
ServerNetworkMode = Literal["port", "none"]


def default_db_url(environ: Mapping[str, str] | None = None) -> str:
    """The default saga database: an SQLite file under the user's state directory.

    ``$XDG_STATE_HOME/cloudkit/lifecycle.sqlite3``, else ``~/.local/state/cloudkit/lifecycle.sqlite3``
    (the XDG base-directory default): one per user, independent of the working directory, which a
    processing module started by billing does not choose.

    Example:
        >>> from cloudkit.lifecycle import default_db_url
        >>> default_db_url({"XDG_STATE_HOME": "/var/lib/portal"})
        'sqlite:////var/lib/portal/cloudkit/lifecycle.sqlite3'
    """
    env = dict(os.environ) if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return f"sqlite:///{Path(base) / 'cloudkit' / 'lifecycle.sqlite3'}"


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ``***``.

    Example:
        >>> from cloudkit.lifecycle._settings import redact_url
        >>> redact_url("postgresql+psycopg://saga:hunter2@db:5432/cloudkit")
        'postgresql+psycopg://saga:***@db:5432/cloudkit'
        >>> redact_url("postgresql+psycopg://saga:a/b@c@db/cloudkit")  # "/" and "@" in the password
        'postgresql+psycopg://saga:***@db/cloudkit'
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    # The host part follows the LAST "@" (a password may hold "@" and "/"); the user ends at the first ":".
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def _positive(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"LifecycleSettings.{attribute.name} must be > 0, not {value!r}", system=SYSTEM)


def _one_of(*allowed: str) -> Any:
    def check(_: object, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in allowed:
            raise ConfigError(
                f"LifecycleSettings.{attribute.name} must be one of {', '.join(allowed)}, not {value!r}",
                system=SYSTEM,
            )

    return check


def _non_empty(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"LifecycleSettings.{attribute.name} is empty", system=SYSTEM)


@attrs.frozen(kw_only=True, repr=False)
class LifecycleSettings:
    """How the lifecycle runs its sagas.

    Attributes:
        db_url: SQLAlchemy URL of the saga store (SQLite file by default, see :func:`default_db_url`;
            ``postgresql+psycopg://...`` for several workers on several machines). Its password never
            shows in a repr.
        max_attempts: attempts of one saga before it stops in ``NEEDS_OPERATOR``.
        backoff_base, backoff_max: seconds before the next attempt: ``base * 2**(attempt-1)``, capped
            at ``max`` (kept below RabbitMQ's 30-minute consumer timeout).
        lease_seconds: how long a worker owns a saga without renewing; a killed worker's saga is due
            again this long after its last renewal. Must exceed ``step_wait``.
        step_wait: the budget of one waiting step (server ACTIVE, SHUTOFF, gone).
        data_volumes: what ``close`` does with the server's data volumes: ``keep`` (default;
            Assumption: a customer's data outlives the service until staff delete it) or ``delete``.
        network_name: the customer's TF network name (one per customer, made on first use).
        project_prefix: Keystone project and user of a customer are ``<prefix><account>``.
        project_tag: the tag the customer's Keystone project carries (a project of that name without
            it is never adopted).
        customer_role: the role the customer's user gets on their project.
        service_role: the role the lifecycle's own OpenStack account gets on each customer project,
            so it can scope to it and build servers there.
        server_network: ``port`` boots the server on the TF port; ``none`` boots it without a network
            and only records the TF port (for a Nova without a Neutron that knows TF, such as the
            lab's real Nova with its Neutron stub).

    Example:
        >>> from cloudkit.lifecycle import LifecycleSettings
        >>> LifecycleSettings(db_url="postgresql+psycopg://saga:pw@db/cloudkit", max_attempts=3)
        LifecycleSettings(db_url='postgresql+psycopg://saga:***@db/cloudkit', max_attempts=3, ...)
        >>> LifecycleSettings(lease_seconds=10, step_wait=60)
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: lease_seconds (10) must exceed step_wait (60)...[lifecycle]
    """

    db_url: str = attrs.field(factory=default_db_url, validator=_non_empty)
    max_attempts: int = attrs.field(default=5, validator=_positive)
    backoff_base: float = attrs.field(default=2.0, validator=_positive)
    backoff_max: float = attrs.field(default=300.0, validator=_positive)
    lease_seconds: float = attrs.field(default=900.0, validator=_positive)
    step_wait: float = attrs.field(default=600.0, validator=_positive)
    data_volumes: DataVolumePolicy = attrs.field(default="keep", validator=_one_of("keep", "delete"))
    network_name: str = attrs.field(default="cloudkit-net", validator=_non_empty)
    project_prefix: str = attrs.field(default="customer-", validator=_non_empty)
    project_tag: str = attrs.field(default="cloudkit-customer", validator=_non_empty)
    customer_role: str = attrs.field(default="member", validator=_non_empty)
    service_role: str = attrs.field(default="member", validator=_non_empty)
    server_network: ServerNetworkMode = attrs.field(default="port", validator=_one_of("port", "none"))

    def __attrs_post_init__(self) -> None:
        """Check what one field cannot check alone."""
        if self.lease_seconds <= self.step_wait:
            raise ConfigError(
                f"lease_seconds ({self.lease_seconds:g}) must exceed step_wait ({self.step_wait:g}): "
                "a worker waiting for a server would lose its saga to another",
                system=SYSTEM,
            )
        if self.backoff_max < self.backoff_base:
            raise ConfigError("backoff_max must be at least backoff_base", system=SYSTEM)

    def __repr__(self) -> str:
        """The database (password hidden) and the attempt limit."""
        return f"LifecycleSettings(db_url={redact_url(self.db_url)!r}, max_attempts={self.max_attempts}, ...)"

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        Example:
            >>> from cloudkit.lifecycle import LifecycleSettings
            >>> s = LifecycleSettings(backoff_base=2, backoff_max=10)
            >>> [s.backoff(n) for n in (1, 2, 3, 4)]
            [2.0, 4.0, 8.0, 10.0]
        """
        return float(min(self.backoff_base * 2 ** max(attempt - 1, 0), self.backoff_max))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LifecycleSettings:
        """Read ``CLOUDKIT_LIFECYCLE_DB`` and ``CLOUDKIT_LIFECYCLE_<FIELD>`` (``MAX_ATTEMPTS``,
        ``BACKOFF_BASE``, ``LEASE_SECONDS``, ``DATA_VOLUMES``, ...), over the ``[lifecycle]`` section of
        the TOML file named by ``CLOUDKIT_CONFIG`` (keys: the field names, ``db`` for ``db_url``).

        Raises:
            ConfigError: an unreadable file, an unknown key (named), a bad value.

        Example:
            >>> from cloudkit.lifecycle import LifecycleSettings
            >>> s = LifecycleSettings.from_env({"CLOUDKIT_LIFECYCLE_DB": "sqlite:///x.db",
            ...                                 "CLOUDKIT_LIFECYCLE_DATA_VOLUMES": "delete"})
            >>> s.db_url, s.data_volumes
            ('sqlite:///x.db', 'delete')
        """  # noqa: D205 (the variables are the summary)
        env = EnvReader.of("CLOUDKIT_LIFECYCLE_", config_environ(environ), system=SYSTEM)
        defaults = cls(db_url="sqlite://")
        given: dict[str, Any] = {}
        db = env.optional("DB")
        given["db_url"] = db or default_db_url(env.environ)
        for field in attrs.fields(cls):
            if field.name == "db_url":
                continue
            key = field.name.upper()
            default = getattr(defaults, field.name)
            if isinstance(default, int):
                given[field.name] = env.optional_int(key, default)
            elif isinstance(default, float):
                given[field.name] = env.optional_float(key, default)
            else:
                given[field.name] = env.optional(key, default)
        return cls(**given)


def config_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    r"""The environment with ``cloudkit.toml`` folded in as variables (see ``docs/configuration.md``).

    The file is the one ``CLOUDKIT_CONFIG`` names, else ``./cloudkit.toml`` when ``environ`` is
    ``None``. ``[lifecycle] max_attempts = 3`` becomes ``CLOUDKIT_LIFECYCLE_MAX_ATTEMPTS``,
    ``[lifecycle] db`` ``CLOUDKIT_LIFECYCLE_DB``, ``[billing] url`` ``CLOUDKIT_BILLING_URL``, and so on;
    a variable already set wins. Secrets (``password``, ``token``, ``application_credential_secret``,
    ``keys``) are held as :class:`~cloudkit.Secret` while the file is read, so no error shows them.
    What it returns remembers where each value came from, so errors name the file.

    Raises:
        ConfigError: the file cannot be read or parsed, or holds an unknown table or key (named,
            never with its value).

    Example:
        >>> import pathlib, tempfile
        >>> from cloudkit.lifecycle import config_environ
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cloudkit.toml"
        >>> _ = path.write_text('[lifecycle]\nmax_attempts = 3\n[billing]\nurl = "http://b/billmgr"\n')
        >>> env = config_environ({"CLOUDKIT_CONFIG": str(path), "CLOUDKIT_LIFECYCLE_MAX_ATTEMPTS": "7"})
        >>> env["CLOUDKIT_LIFECYCLE_MAX_ATTEMPTS"], env["CLOUDKIT_BILLING_URL"]
        ('7', 'http://b/billmgr')
        >>> _ = path.write_text('[lifecycle]\nmax_attempt = 3\n')
        >>> config_environ({"CLOUDKIT_CONFIG": str(path)})
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: unknown key in [lifecycle] of cloudkit.toml: ...: max_attempt (known: ...
    """
    return layered_environ(environ)


def config_section(section: str, environ: Mapping[str, str] | None = None) -> dict[str, object]:
    r"""The table ``[section]`` of ``cloudkit.toml`` (``{}`` without one), for a table with its own parser.

    Raises:
        ConfigError: the file cannot be read or parsed, or holds an unknown table or key.

    Example:
        >>> import pathlib, tempfile
        >>> from cloudkit.lifecycle._settings import config_section
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cloudkit.toml"
        >>> _ = path.write_text('[stoprules]\ngrace_hours = 24\n')
        >>> config_section("stoprules", {"CLOUDKIT_CONFIG": str(path)})
        {'grace_hours': 24}
        >>> config_section("stoprules", {})
        {}
    """
    return config_table(section, environ)
