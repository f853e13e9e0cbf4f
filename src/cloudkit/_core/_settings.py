"""Reading settings from the environment and ``cloudkit.toml``: the one place that reads ``os.environ``.

Each system's settings class has a ``from_env()`` that uses :class:`EnvReader`; nothing else reads the
environment, and there are no module globals. The reader folds ``cloudkit.toml`` in under the
environment (:mod:`cloudkit._core._config`), and each error names the setting and where it came from:
``CLOUDKIT_BILLING_TIMEOUT (environment)`` or ``[billing] timeout (cloudkit.toml: /abs/path)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs

from cloudkit._core._config import SourcedEnviron, layered_environ
from cloudkit._core._secret import Secret
from cloudkit.errors import ConfigError

__all__ = ["EnvReader", "check_http_url", "to_secret"]

_T = TypeVar("_T")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def to_secret(value: str | Secret) -> Secret:
    """Accept a plain string where a secret is expected; settings store only :class:`Secret`."""
    return value if isinstance(value, Secret) else Secret(value)


def check_http_url(url: str, *, system: str) -> None:
    """Raise :class:`ConfigError` unless ``url`` is an absolute http(s) URL without credentials."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"{system} url must be http(s)://host/path, got scheme {parts.scheme!r}", system=system
        )
    if parts.username or parts.password:
        raise ConfigError(f"{system} url must not carry credentials", system=system)


@attrs.frozen
class EnvReader:
    """Typed access to ``<PREFIX>NAME`` environment variables; errors name the variable, never a value.

    Example:
        >>> from cloudkit._core._settings import EnvReader
        >>> env = EnvReader("CLOUDKIT_BILLING_", {"CLOUDKIT_BILLING_URL": "http://b/billmgr"})
        >>> env.required("URL")
        'http://b/billmgr'
        >>> env.optional_float("TIMEOUT", 30.0)
        30.0
    """

    prefix: str
    environ: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ), repr=False)
    system: str = "cloudkit"

    @classmethod
    def of(cls, prefix: str, environ: Mapping[str, str] | None, *, system: str) -> EnvReader:
        """A reader over ``environ`` (the process environment when ``None``) with ``cloudkit.toml`` folded in.

        The file is the one ``CLOUDKIT_CONFIG`` names, else ``./cloudkit.toml`` for the process
        environment; see :func:`~cloudkit._core._config.layered_environ`.
        """
        return cls(prefix, layered_environ(environ), system)

    def name(self, key: str) -> str:
        """Full variable name for ``key``."""
        return f"{self.prefix}{key}"

    def source(self, key: str) -> str:
        """The setting and where its value came from, for messages: ``CLOUDKIT_X_Y (environment)``.

        Example:
            >>> from cloudkit._core._settings import EnvReader
            >>> EnvReader("CLOUDKIT_BILLING_", {}).source("URL")
            'CLOUDKIT_BILLING_URL (environment)'
        """
        if isinstance(self.environ, SourcedEnviron):
            return self.environ.source_of(self.name(key))
        return f"{self.name(key)} (environment)"

    def sources(self) -> str:
        """Where this reader's settings come from: ``environment`` and, if any, ``cloudkit.toml: /path``."""
        config = self.environ.config if isinstance(self.environ, SourcedEnviron) else None
        if config is None:
            return "environment"
        return f"environment, {config.source}"

    def build(self, factory: Callable[..., _T], /, **fields: Any) -> _T:
        """``factory(**fields)``; a :class:`ConfigError` it raises gets the sources appended.

        A bad value caught by the settings class itself (a URL without a scheme) then says where the
        settings were read: ``(settings from environment, cloudkit.toml: /abs/path)``.

        Example:
            >>> from cloudkit._core._settings import EnvReader
            >>> from cloudkit.billing import BillingSettings
            >>> EnvReader("CLOUDKIT_BILLING_", {}).build(BillingSettings, url="ftp://b", username="a",
            ...                                        password="pw")
            Traceback (most recent call last):
            ...
            cloudkit.errors.ConfigError: billing url must be ... (settings from environment) [billing]
        """
        try:
            return factory(**fields)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc.message} (settings from {self.sources()})",
                system=exc.system,
                operation=exc.operation,
                quirk=exc.quirk,
            ) from None

    def is_set(self, key: str) -> bool:
        """Whether ``key`` has a non-empty value in the environment or the file."""
        return bool(self.environ.get(self.name(key)))

    def optional(self, key: str, default: str | None = None) -> str | None:
        """The value, or ``default`` when unset."""
        return self.environ.get(self.name(key), default)

    def required(self, key: str) -> str:
        """The value; :class:`ConfigError` when unset or empty."""
        value = self.environ.get(self.name(key))
        if not value:
            if isinstance(self.environ, SourcedEnviron):
                looked = self.environ.where_unset(self.name(key))
                raise ConfigError(f"{looked} is not set", system=self.system)
            raise ConfigError(f"environment variable {self.name(key)} is not set", system=self.system)
        return value

    def required_secret(self, key: str) -> Secret:
        """The value as a :class:`Secret`."""
        return Secret(self.required(key))

    def optional_float(self, key: str, default: float) -> float:
        """The value as a float."""
        raw = self.optional(key)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{self.source(key)} must be a number", system=self.system) from None

    def optional_int(self, key: str, default: int) -> int:
        """The value as an int."""
        raw = self.optional(key)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{self.source(key)} must be an integer", system=self.system) from None

    def optional_bool(self, key: str, default: bool) -> bool:
        """The value as a bool (1/true/yes/on, 0/false/no/off)."""
        raw = self.optional(key)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(f"{self.source(key)} must be true or false", system=self.system)
