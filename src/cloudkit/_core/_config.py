"""The one ``cloudkit.toml``: found, parsed and folded under the environment for every ``from_env``.

Where the file is: the path in ``CLOUDKIT_CONFIG`` (a missing file named there is an error, a typo must
not silently configure nothing), else ``./cloudkit.toml`` when the process environment is read (an
explicit ``environ`` mapping names its file in its own ``CLOUDKIT_CONFIG`` or has none, so a test never
picks up a file from the working directory).

Its tables (``[billing]``, ``[openstack]``, ``[tungsten]``, ``[session]``, ``[lifecycle]``) hold the keys
of the ``CLOUDKIT_<TABLE>_*`` variables, lower case and without the prefix; ``[stoprules]`` is read whole
by its own parser. A variable that is set wins over the file, key by key. An unknown table or key is a
:class:`~cloudkit.errors.ConfigError` naming it and the file; no error shows a value.

:class:`SourcedEnviron` is the environment with the file folded in, remembering where each value came
from, so :class:`~cloudkit._core._settings.EnvReader` can name the source of a bad or missing setting:
``(environment)`` or ``(cloudkit.toml: /abs/path)``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import attrs

from cloudkit._core._secret import Secret
from cloudkit.errors import ConfigError

__all__ = [
    "CONFIG_VARIABLE",
    "OWN_TABLES",
    "TABLE_KEYS",
    "ConfigFile",
    "SourcedEnviron",
    "config_table",
    "find_config_file",
    "layered_environ",
    "load_config_file",
]

CONFIG_VARIABLE = "CLOUDKIT_CONFIG"
DEFAULT_FILE_NAME = "cloudkit.toml"
ENVIRONMENT = "environment"

# The keys each table may hold: the variables each ``from_env`` reads, without the
# ``CLOUDKIT_<TABLE>_`` prefix. Tests compare each set with what its ``from_env`` reads, so a new
# variable cannot be forgotten here. (Data only: _core knows no system's code.)
TABLE_KEYS: Mapping[str, frozenset[str]] = {
    "billing": frozenset(
        {"url", "username", "password", "auth_mode", "timeout", "page_size", "max_pages", "operation_wait",
         "services"}
    ),
    "openstack": frozenset(
        {"cloud", "auth_url", "username", "password", "project_name", "user_domain_name",
         "project_domain_name", "user_domain_id", "project_domain_id", "region_name", "interface",
         "timeout", "wait_timeout", "endpoint_overrides", "auth_type", "token", "project_id",
         "application_credential_id", "application_credential_secret", "verify_tls", "cacert"}
    ),
    "tungsten": frozenset(
        {"url", "auth_url", "username", "password", "project_name", "user_domain_name",
         "project_domain_name", "timeout", "page_size", "verify_tls", "application_credential_id",
         "application_credential_secret"}
    ),
    "session": frozenset({"billing_url", "auth_url", "keys", "current_kid", "max_lifetime", "billing_idle"}),
    "lifecycle": frozenset(
        {"db", "max_attempts", "backoff_base", "backoff_max", "lease_seconds", "step_wait", "data_volumes",
         "network_name", "project_prefix", "project_tag", "customer_role", "service_role",
         "server_network"}
    ),
    "doctor": frozenset(
        {"min_free_percent", "no_valid_host_window", "no_valid_host_max", "tf_release",
         "tf_supported_kernels",
         "tf_kernel_field", "tf_analytics_url"}
    ),
}  # fmt: skip
OWN_TABLES = frozenset({"stoprules"})
"""Tables read whole by their own parser (``[stoprules]``: ``StopPolicy.from_mapping``)."""
_SECRET_KEYS = frozenset({"password", "token", "application_credential_secret", "keys"})


@attrs.frozen
class ConfigFile:
    r"""A parsed, checked ``cloudkit.toml``.

    Attributes:
        path: its absolute path.
        variables: each key of a known table as the variable it stands for (``[billing] url`` as
            ``CLOUDKIT_BILLING_URL``); secrets held as :class:`~cloudkit.Secret`.
        tables: the tables read whole by their own parser (:data:`OWN_TABLES`).

    Example:
        >>> import pathlib, tempfile
        >>> from cloudkit._core._config import load_config_file
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cloudkit.toml"
        >>> _ = path.write_text('[billing]\nurl = "http://b/billmgr"\npassword = "pw"\n')
        >>> config = load_config_file(path)
        >>> dict(config.variables)
        {'CLOUDKIT_BILLING_URL': 'http://b/billmgr', 'CLOUDKIT_BILLING_PASSWORD': Secret('***')}
        >>> config.source == f"cloudkit.toml: {path}"
        True
    """

    path: Path
    variables: Mapping[str, str | Secret] = attrs.field(repr=False)
    tables: Mapping[str, Mapping[str, object]] = attrs.field(factory=dict, repr=False)

    @property
    def source(self) -> str:
        """How errors name this file: ``cloudkit.toml: /abs/path``."""
        return f"{DEFAULT_FILE_NAME}: {self.path}"

    def key_of(self, variable: str) -> str:
        """The table and key a ``CLOUDKIT_*`` variable is spelled as in the file: ``[billing] url``.

        Example:
            >>> import pathlib
            >>> from cloudkit._core._config import ConfigFile
            >>> ConfigFile(pathlib.Path("/etc/cloudkit.toml"), {}).key_of("CLOUDKIT_OPENSTACK_AUTH_URL")
            '[openstack] auth_url'
        """
        rest = variable.removeprefix("CLOUDKIT_").lower()
        for table in sorted(TABLE_KEYS, key=len, reverse=True):
            if rest.startswith(f"{table}_"):
                return f"[{table}] {rest.removeprefix(f'{table}_')}"
        return variable


class SourcedEnviron(dict[str, str]):
    """The environment with ``cloudkit.toml`` folded in: variables first, the file's keys where unset.

    ``sources`` names where each value from the file came from; a value without an entry came from the
    environment. ``config`` is the file, or ``None``. Built by :func:`layered_environ`; passing one to a
    ``from_env`` reads the file once for every system.

    Example:
        >>> from cloudkit._core._config import SourcedEnviron
        >>> env = SourcedEnviron({"CLOUDKIT_BILLING_URL": "http://b/bill", "CLOUDKIT_BILLING_PASSWORD": "p"})
        >>> env.source_of("CLOUDKIT_BILLING_URL")
        'CLOUDKIT_BILLING_URL (environment)'
        >>> env
        SourcedEnviron(<2 variables>)
    """

    def __init__(
        self,
        values: Mapping[str, str],
        *,
        sources: Mapping[str, str] | None = None,
        config: ConfigFile | None = None,
        from_process: bool = False,
    ) -> None:
        """Hold ``values`` with the ``sources`` of those from the file ``config``.

        ``from_process`` says the values are the process environment's (so a reader that must see
        ``os.environ`` itself, such as openstacksdk's loader, may).
        """
        super().__init__(values)
        self.sources = dict(sources or {})
        self.config = config
        self.from_process = from_process

    def __repr__(self) -> str:
        """How many variables and which file; never a value (the environment holds secrets)."""
        shown = f", config={self.config.source!r}" if self.config is not None else ""
        return f"SourcedEnviron(<{len(self)} variables>{shown})"

    def source_of(self, variable: str) -> str:
        """``NAME (environment)`` or ``[table] key (cloudkit.toml: /abs/path)``, never the value."""
        if variable in self.sources and self.config is not None:
            return f"{self.config.key_of(variable)} ({self.sources[variable]})"
        return f"{variable} ({ENVIRONMENT})"

    def where_unset(self, variable: str) -> str:
        """Where a missing setting was looked for: the variable, and the file's key when there is a file."""
        looked = f"{variable} ({ENVIRONMENT})"
        if self.config is not None:
            looked += f" nor {self.config.key_of(variable)} ({self.config.source})"
        return looked


def find_config_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """The ``cloudkit.toml`` to read: ``CLOUDKIT_CONFIG``'s path, else ``./cloudkit.toml`` (process environment only).

    Raises:
        ConfigError: ``CLOUDKIT_CONFIG`` names a file that does not exist.

    Example:
        >>> from cloudkit._core._config import find_config_file
        >>> find_config_file({}) is None
        True
        >>> find_config_file({"CLOUDKIT_CONFIG": "/nonexistent/cloudkit.toml"})
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: CLOUDKIT_CONFIG (environment) names /nonexistent/cloudkit.toml, which is not a file [cloudkit]
    """  # noqa: E501 (a doctest output line)
    env = os.environ if environ is None else environ
    named = env.get(CONFIG_VARIABLE)
    if named:
        path = Path(named).expanduser().absolute()
        if not path.is_file():
            raise ConfigError(
                f"{CONFIG_VARIABLE} ({ENVIRONMENT}) names {path}, which is not a file", system="cloudkit"
            )
        return path
    if environ is None:
        local = Path.cwd() / DEFAULT_FILE_NAME
        if local.is_file():
            return local
    return None


def load_config_file(path: Path) -> ConfigFile:
    r"""Parse and check ``path``: every table and key known, values strings, numbers or booleans.

    Raises:
        ConfigError: the file cannot be read or is not TOML, or holds an unknown table or key (named
            with the file, never with a value).

    Example:
        >>> import pathlib, tempfile
        >>> from cloudkit._core._config import load_config_file
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cloudkit.toml"
        >>> _ = path.write_text('[openstak]\nauth_url = "http://ks:5000/v3"\n')
        >>> load_config_file(path)
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: unknown table [openstak] in cloudkit.toml: ... (known: billing, ...
    """
    path = path.absolute()
    source = f"{DEFAULT_FILE_NAME}: {path}"
    try:
        with path.open("rb") as handle:
            doc = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc.strerror}", system="cloudkit") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message gives line and column, never the offending text.
        raise ConfigError(f"{source} is not TOML: {exc}", system="cloudkit") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source} is not UTF-8 text (TOML must be)", system="cloudkit") from None
    known = sorted({*TABLE_KEYS, *OWN_TABLES})
    variables: dict[str, str | Secret] = {}
    own: dict[str, Mapping[str, object]] = {}
    for table, content in doc.items():
        if table not in TABLE_KEYS and table not in OWN_TABLES:
            raise ConfigError(
                f"unknown table [{table}] in {source} (known: {', '.join(known)})", system="cloudkit"
            )
        if not isinstance(content, dict):
            raise ConfigError(f"{table} in {source} must be a table: [{table}]", system="cloudkit")
        if table in OWN_TABLES:
            own[table] = dict(content)
            continue
        unknown = sorted(set(content) - TABLE_KEYS[table])
        if unknown:
            raise ConfigError(
                f"unknown key in [{table}] of {source}: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(TABLE_KEYS[table]))})",
                system=table,
            )
        for key, value in content.items():
            variables[f"CLOUDKIT_{table.upper()}_{key.upper()}"] = _as_text(value, table, key, source)
    return ConfigFile(path, variables, own)


def _as_text(value: object, table: str, key: str, source: str) -> str | Secret:
    """A value as the variable's text; secrets kept as :class:`Secret` so no later error shows them."""
    if key in _SECRET_KEYS:
        if not isinstance(value, str):
            raise ConfigError(f"[{table}] {key} ({source}) must be a string", system=table)
        return Secret(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dict) and key == "endpoint_overrides":
        return ",".join(f"{k}={v}" for k, v in value.items())
    raise ConfigError(f"[{table}] {key} ({source}) must be a string, number or boolean", system=table)


def layered_environ(environ: Mapping[str, str] | None = None) -> SourcedEnviron:
    r"""The environment (``os.environ`` when ``None``) with ``cloudkit.toml`` folded in under it.

    A :class:`SourcedEnviron` is returned as it is, so the file is read once however many ``from_env``
    calls share it.

    Example:
        >>> import pathlib, tempfile
        >>> from cloudkit._core._config import layered_environ
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cloudkit.toml"
        >>> _ = path.write_text('[billing]\nurl = "http://b/billmgr"\ntimeout = 10\n')
        >>> env = layered_environ({"CLOUDKIT_CONFIG": str(path), "CLOUDKIT_BILLING_TIMEOUT": "5"})
        >>> env["CLOUDKIT_BILLING_URL"], env["CLOUDKIT_BILLING_TIMEOUT"]
        ('http://b/billmgr', '5')
        >>> env.source_of("CLOUDKIT_BILLING_URL") == f"[billing] url (cloudkit.toml: {path})"
        True
    """
    if isinstance(environ, SourcedEnviron):
        return environ
    values = dict(os.environ if environ is None else environ)
    path = find_config_file(environ)
    if path is None:
        return SourcedEnviron(values, from_process=environ is None)
    config = load_config_file(path)
    sources: dict[str, str] = {}
    for name, value in config.variables.items():
        if not values.get(name):  # an empty variable counts as unset (as EnvReader.is_set says), not as ""
            values[name] = value.get_secret_value() if isinstance(value, Secret) else value
            sources[name] = config.source
    return SourcedEnviron(values, sources=sources, config=config, from_process=environ is None)


def config_table(table: str, environ: Mapping[str, str] | None = None) -> dict[str, object]:
    r"""A table read whole by its own parser (``[stoprules]``), ``{}`` without a file or the table.

    Example:
        >>> import pathlib, tempfile
        >>> from cloudkit._core._config import config_table
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cloudkit.toml"
        >>> _ = path.write_text('[stoprules]\ngrace_hours = 24\n')
        >>> config_table("stoprules", {"CLOUDKIT_CONFIG": str(path)})
        {'grace_hours': 24}
        >>> config_table("stoprules", {})
        {}
    """
    config = layered_environ(environ).config
    if config is None:
        return {}
    return dict(config.tables.get(table, {}))
