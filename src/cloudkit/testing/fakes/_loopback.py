"""HTTP plumbing the fakes share: a loopback server that binds fast and a quiet handler base.

Each fake keeps its own request parsing and answers; only the socket-level behaviour lives here, so a
fix (say, to binding or to Nagle's algorithm) is made once for all of them.
"""

from __future__ import annotations

import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

__all__ = ["LoopbackServer", "LoopbackService", "QuietHandler", "SlowGate"]


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server on ``127.0.0.1`` that hands each request to ``fake`` through its handler.

    Example:
        >>> server = LoopbackServer(object(), 0, QuietHandler)
        >>> server.server_address[0]
        '127.0.0.1'
        >>> server.server_close()
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: Any, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        """Bind to ``port`` on loopback (0: any free port)."""
        self.fake = fake
        super().__init__(("127.0.0.1", port), handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the address (slow on some hosts)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (timed out, or closed by a fault) is normal here; anything else is not."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError, ...
            return
        super().handle_error(request, client_address)

    def serve_in_background(self, name: str) -> None:
        """Serve from a daemon thread named ``name`` until :meth:`stop_serving`."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
        )
        self._thread.start()

    def stop_serving(self) -> None:
        """Stop serving, close the socket and wait for the serving thread."""
        self.shutdown()
        self.server_close()
        self._thread.join()


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with Nagle off and no access log; every method goes to :meth:`serve`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid the delayed-ACK stall

    def do_GET(self) -> None:
        """Serve a GET."""
        self.serve()

    def do_HEAD(self) -> None:
        """Serve a HEAD."""
        self.serve()

    def do_POST(self) -> None:
        """Serve a POST."""
        self.serve()

    def do_PUT(self) -> None:
        """Serve a PUT."""
        self.serve()

    def do_PATCH(self) -> None:
        """Serve a PATCH."""
        self.serve()

    def do_DELETE(self) -> None:
        """Serve a DELETE."""
        self.serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class signature)
        """Stay quiet: the fakes record their calls in ``requests`` instead."""

    def serve(self) -> None:
        """Answer the request; each fake's handler implements it."""
        self.send_error(501)


class SlowGate:
    """Holds "slow" answers until a test releases them (or a timeout passes); opens wide on stop.

    Example:
        >>> gate = SlowGate()
        >>> gate.release(); gate.hold(timeout=5.0)  # a release made in advance lets one answer through
        >>> gate.held.is_set()
        False
    """

    def __init__(self) -> None:
        """A closed gate with no releases pending."""
        self._cond = threading.Condition()
        self._releases = 0
        self._stopping = False
        self.held = threading.Event()  # set while an answer is held (tests wait on it)

    def hold(self, timeout: float) -> None:
        """Hold the calling request until released, the server stops, or ``timeout`` passes."""
        self.held.set()
        with self._cond:
            self._cond.wait_for(lambda: self._releases > 0 or self._stopping, timeout)
            if self._releases > 0:
                self._releases -= 1
        self.held.clear()

    def release(self) -> None:
        """Let one held (or the next) answer go."""
        with self._cond:
            self._releases += 1
            self._cond.notify_all()

    def wait_until_held(self, timeout: float) -> bool:
        """Wait until an answer is being held; whether one is."""
        return self.held.wait(timeout)

    def open_all(self) -> None:
        """Let everything go (the server is stopping)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def close(self) -> None:
        """Hold answers again (after a stop, for a later start)."""
        with self._cond:
            self._stopping = False

    def reset(self) -> None:
        """Forget releases made in advance."""
        with self._cond:
            self._releases = 0
        self.held.clear()


class LoopbackService:
    """Start, stop and address of an HTTP service on loopback: the fakes and the fault proxy.

    A subclass sets ``_what`` (for messages and the thread name), ``_handler`` and, if its endpoint is
    not the root, ``_url_path``; its ``__init__`` sets ``_port`` (0: any free port), ``_slow`` (a
    :class:`SlowGate`) and ``_server = None``. ``_before_serving`` and ``_after_stop`` are hooks.

    Example:
        >>> from cloudkit.testing.fakes import OpenStackFake
        >>> with OpenStackFake() as fake:
        ...     fake.url.startswith("http://127.0.0.1:")
        True
    """

    _what: ClassVar[str]
    _handler: ClassVar[type[BaseHTTPRequestHandler]]
    _url_path: ClassVar[str] = ""
    _port: int
    _slow: SlowGate
    _server: LoopbackServer | None

    def start(self) -> Self:
        """Listen on loopback in a daemon thread.

        Example:
            >>> from cloudkit.testing.fakes import BillingFake
            >>> fake = BillingFake().start()
            >>> fake.url.startswith("http://127.0.0.1:")
            True
            >>> fake.stop()
        """
        if self._server is not None:
            raise RuntimeError(f"the {self._what} is already running")
        self._server = LoopbackServer(self, self._port, self._handler)
        self._before_serving()
        self._server.serve_in_background(self._what.replace(" ", "-"))
        return self

    def stop(self) -> None:
        """Stop listening and let every held answer go. Safe to call twice.

        Example:
            >>> from cloudkit.testing.fakes import BillingFake
            >>> fake = BillingFake().start()
            >>> fake.stop(); fake.stop()
        """
        server, self._server = self._server, None
        if server is None:
            return
        self._slow.open_all()
        server.stop_serving()
        self._slow.close()
        self._after_stop()

    def __enter__(self) -> Self:
        """Start (see `start`)."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop (see `stop`)."""
        self.stop()

    @property
    def url(self) -> str:
        """The endpoint, ``http://127.0.0.1:<port>`` plus the service's path; valid after `start`.

        Example:
            >>> from cloudkit.testing.fakes import BillingFake
            >>> with BillingFake() as fake:
            ...     fake.url.endswith("/billmgr")
            True
        """
        if self._server is None:
            raise RuntimeError(f"the {self._what} is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self._url_path}"

    def _before_serving(self) -> None:
        """Hook: the socket is bound (``url`` is valid), no request is served yet."""

    def _after_stop(self) -> None:
        """Hook: the server has stopped."""
