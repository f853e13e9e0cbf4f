"""A small threaded HTTP server for the console: werkzeug's ``make_server`` in a background thread."""

from __future__ import annotations

import ipaddress
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Self

from werkzeug.serving import BaseWSGIServer, make_server

from cloudkit._core._secret import Secret
from cloudkit.errors import ConfigError
from cloudkit.lifecycle.console.app import LOOPBACK_HOSTS, create_app

if TYPE_CHECKING:
    from flask import Flask

    from cloudkit.lifecycle._lifecycle import Lifecycle

__all__ = ["ConsoleServer", "is_loopback", "serve"]

SYSTEM = "lifecycle"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1).

    Example:
        >>> from cloudkit.lifecycle.console.server import is_loopback
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ConsoleServer:
    """The console served on a loopback port by a thread (one more thread per request).

    Args:
        app: the Flask application (:func:`~cloudkit.lifecycle.console.create_app`).
        host: the loopback address to listen on.
        port: the port (0: any free one; :attr:`port` says which).

    Example:
        >>> from cloudkit import Secret
        >>> from cloudkit.lifecycle import Lifecycle
        >>> from cloudkit.lifecycle.console import ConsoleServer, create_app
        >>> from cloudkit.platform import Platform
        >>> with Lifecycle(Platform(), db_url="sqlite://") as lifecycle:
        ...     app = create_app(lifecycle, token=Secret("a-long-operator-token-1234"))
        ...     with ConsoleServer(app, host="127.0.0.1", port=0) as server:
        ...         server.url.startswith("http://127.0.0.1:")
        True
    """

    def __init__(self, app: Flask, *, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind the port; nothing is served until :meth:`start` (or ``with``)."""
        self.host = host
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.port: int = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"cloudkit-console-{self.port}", daemon=True
        )

    @property
    def url(self) -> str:
        """The console's address, such as ``http://127.0.0.1:8470``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        """The address (no token: the server holds none)."""
        return f"ConsoleServer(url={self.url!r})"

    def start(self) -> Self:
        """Serve in the background thread."""
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> None:
        """Block until the server stops (or ``timeout`` seconds pass)."""
        self._thread.join(timeout)

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the thread."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> Self:
        """Start; stop on exit."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop."""
        self.stop()


def serve(lifecycle: Lifecycle, *, host: str = "127.0.0.1", port: int = 0, token: Secret) -> ConsoleServer:
    """Start the console for ``lifecycle`` on a loopback ``host``: the running server.

    The console speaks plain HTTP and is meant for the operator's own machine: reach it from
    elsewhere through an SSH tunnel, not by listening on another address.

    Raises:
        ConfigError: ``host`` is not a loopback address, or the token is too short.

    Example:
        >>> from cloudkit import Secret
        >>> from cloudkit.lifecycle import Lifecycle
        >>> from cloudkit.lifecycle.console import serve
        >>> from cloudkit.platform import Platform
        >>> with Lifecycle(Platform(), db_url="sqlite://") as lifecycle:
        ...     server = serve(lifecycle, token=Secret("a-long-operator-token-1234"))
        ...     server.stop()
        >>> serve(None, host="0.0.0.0", token=Secret("a-long-operator-token-1234"))  # type: ignore[arg-type]
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: console host '0.0.0.0' is not a loopback address...
    """
    if not is_loopback(host):
        raise ConfigError(
            f"console host {host!r} is not a loopback address: the console speaks plain HTTP; "
            "reach it through an SSH tunnel (ssh -L 8470:127.0.0.1:8470 ...)",
            system=SYSTEM,
            operation="console",
        )
    hosts = (*LOOPBACK_HOSTS, host)
    return ConsoleServer(
        create_app(lifecycle, token=token, allowed_hosts=hosts), host=host, port=port
    ).start()
