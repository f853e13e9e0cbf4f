"""`LoopbackFake`: serving over loopback or in process, faults, recorded calls."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socketserver
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self, cast
from urllib.parse import parse_qsl, urlencode

import httpx

from cloudkit.testing.fakes._kit._faults import (
    _MASK,
    Call,
    Fault,
    FaultBook,
    FaultKind,
    FaultMatch,
    mask_json,
)
from cloudkit.testing.fakes._kit._http import Reply, Request


# ================================================================================== serving
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


class _Server(ThreadingHTTPServer):
    """A threading HTTP server on ``127.0.0.1`` that hands each request to its fake."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: LoopbackFake, port: int) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", port), _Handler)

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


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with Nagle off and no access log; every method goes to the fake."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid the delayed-ACK stall

    def _serve(self) -> None:
        """Serve a request of any method: the fake decides what to answer."""
        cast("_Server", self.server).fake._on_socket(self)  # noqa: SLF001

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 - the base's names

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class signature)
        """Stay quiet: the fakes record their calls instead."""

    def read_body(self) -> bytes:
        """The request body (Content-Length framed; chunked when the client chose it)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, reply: Reply) -> None:
        """Write ``reply`` (no body for HEAD)."""
        self.send_response(reply.status)
        names = {name.lower() for name, _ in reply.headers}
        if "content-type" not in names:
            self.send_header("Content-Type", reply.content_type)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


class LoopbackFake:
    """The base of every fake (and of ``FaultProxy``): serving, faults, recorded calls.

    A subclass sets ``_what`` (for messages and the thread name) and ``_url_path`` (its endpoint below
    the root, if any), calls ``super().__init__(port=...)`` and implements `_answer` (called under
    ``self._lock``, unless it sets ``_serialize = False``). It may override `_classify` (fill
    ``service``/``func``/``params``), `_fault_reply` (its own error envelopes), `_is_write`, `_swallow`,
    `_record`, `_reset_state` and `_send` (how a reply is written to the socket).

    Example:
        >>> class Echo(LoopbackFake):
        ...     _what = "echo fake"
        ...     def _answer(self, request):
        ...         return Reply.text(200, request.path)
        >>> fake = Echo()
        >>> fake.inject(Fault.server_error(503), path="/down")
        >>> with httpx.Client(transport=fake.transport()) as http:
        ...     [http.get(f"http://echo.test{p}").status_code for p in ("/down", "/down", "/up")]
        [503, 200, 200]
        >>> [(c.path, c.status, c.fault) for c in fake.calls]
        [('/down', 503, 'error'), ('/down', 200, None), ('/up', 200, None)]
    """

    _what: ClassVar[str] = "fake"
    _url_path: ClassVar[str] = ""
    _secret_headers: ClassVar[frozenset[str]] = frozenset(
        {"x-auth-token", "x-subject-token", "authorization"}
    )
    _secret_keys: ClassVar[frozenset[str]] = frozenset({"password", "secret", "token"})
    _serialize: ClassVar[bool] = True  # False: `_answer` runs without the lock (a proxy forwarding)

    def __init__(self, *, port: int = 0) -> None:
        """Nothing listens until `start`; ``port`` 0 lets the OS choose."""
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
        self._faults = FaultBook()
        self._slow = SlowGate()
        self._calls: list[Call] = []

    # ------------------------------------------------------------------------------ lifecycle
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
        self._server = _Server(self, self._port)
        self._before_serving()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=self._what.replace(" ", "-"),
            daemon=True,
        )
        self._thread.start()
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
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._slow.close()
        self._after_stop()

    def __enter__(self) -> Self:
        """Start (see `start`)."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop (see `stop`)."""
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the fake is listening on a socket."""
        return self._server is not None

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

    @property
    def base_url(self) -> str:
        """The root the fake puts in the links it answers: the socket's while it runs, else a test host."""
        if self._server is None:
            return f"http://{self._what.replace(' ', '-')}.test"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reset(self) -> None:
        """Disarm every fault, forget the calls and released slow answers, and reset the state.

        Example:
            >>> class Nothing(LoopbackFake):
            ...     def _answer(self, request):
            ...         return Reply(204)
            >>> fake = Nothing(); fake.inject(Fault.drop_connection()); fake.reset()
            >>> fake.calls
            []
        """
        self._faults.clear()
        self._slow.reset()
        with self._lock:
            self._calls.clear()
            self._reset_state()

    # ------------------------------------------------------------------------------ faults and calls
    def inject(
        self,
        fault: Fault,
        match: FaultMatch | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        service: str | None = None,
        func: str | None = None,
        times: int = 1,
    ) -> None:
        """Give the next ``times`` matching requests this fault (see `FaultMatch` for matching).

        Pass a `FaultMatch` or its fields as keywords, not both.

        Example:
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> OpenStackFake().inject(Fault.wsrep(), method="POST", path="/servers", times=2)
        """
        fields = (method, path, service, func)
        if match is not None and any(f is not None for f in fields):
            raise TypeError("pass a FaultMatch or its fields as keywords, not both")
        self._faults.arm(fault, match or FaultMatch(method, path, service, func), times=times)

    def release_slow(self) -> None:
        """Let one held ``slow`` answer go (or the next one, if none is held yet).

        Example:
            >>> LoopbackFake().release_slow()
        """
        self._slow.release()

    def wait_until_held(self, timeout: float = 5.0) -> bool:
        """Block until a ``slow`` answer is being held (True) or ``timeout`` passes (False).

        Example:
            >>> LoopbackFake().wait_until_held(timeout=0.0)
            False
        """
        return self._slow.held.wait(timeout)

    @property
    def calls(self) -> list[Call]:
        """Every request received so far, in order (a copy), secrets masked."""
        with self._lock:
            return list(self._calls)

    # ------------------------------------------------------------------------------ in process
    def transport(self) -> httpx.MockTransport:
        """An ``httpx.MockTransport`` answered by this fake's handlers, no socket involved.

        A dropped connection is raised as ``httpx.RemoteProtocolError``, as httpx reports the socket
        closed without an answer; a ``slow`` fault holds the calling thread (use the socket when the
        client's own timeout is what the test is about).

        Example:
            >>> class Hello(LoopbackFake):
            ...     def _answer(self, request):
            ...         return Reply.json(200, {"hello": request.arg("who")})
            >>> fake = Hello()
            >>> fake.inject(Fault.drop_connection())
            >>> with httpx.Client(transport=fake.transport()) as http:
            ...     try:
            ...         http.get("http://hello.test/")
            ...     except httpx.RemoteProtocolError as exc:
            ...         print(exc)
            ...     print(http.get("http://hello.test/", params={"who": "you"}).json())
            Server disconnected without sending a response.
            {'hello': 'you'}
        """

        def answer(sent: httpx.Request) -> httpx.Response:
            target = sent.url.raw_path.decode("ascii")
            request = self._classify(
                Request.build(sent.method, target, sent.headers.multi_items(), sent.read())
            )
            reply = self.handle(request)
            if reply is None:
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=sent
                )
            headers = [("content-type", reply.content_type), *reply.headers]
            content = b"" if sent.method == "HEAD" else reply.body
            return httpx.Response(reply.status, headers=headers, content=content)

        return httpx.MockTransport(answer)

    # ------------------------------------------------------------------------------ the pipeline
    def handle(self, request: Request) -> Reply | None:
        """Apply a fault, answer, record; None means the connection closes without an answer."""
        fault = self._faults.take(request, writes=self._is_write(request))
        kind = fault.kind if fault is not None else None
        reply: Reply | None
        if fault is None or kind in ("slow", "drop_after_effect", "swallow_effect"):
            if fault is not None and kind == "slow":
                self._slow.hold(fault.timeout)
            with self._lock if self._serialize else contextlib.nullcontext():
                reply = self._swallow(request) if kind == "swallow_effect" else self._answer(request)
        elif kind == "error":
            reply = self._fault_reply(fault, request)
        else:  # drop_connection
            reply = None
        sent = None if kind == "drop_after_effect" else reply
        call = self._record(request, sent, kind)
        with self._lock:
            self._calls.append(call)
        return sent

    def _on_socket(self, handler: _Handler) -> None:
        """Serve one request that arrived on the socket."""
        request = self._classify(
            Request.build(handler.command, handler.path, handler.headers.items(), handler.read_body())
        )
        try:
            reply = self.handle(request)
        except Exception as exc:
            # A bug in the fake must not pass for a network fault: answer 500 naming it, then let
            # socketserver print the traceback.
            handler.send(Reply.text(500, f"{self._what} internal error: {type(exc).__name__}: {exc}\n"))
            raise
        if reply is None:
            handler.close_connection = True
            return
        self._send(handler, reply)

    # ------------------------------------------------------------------------------ hooks
    def _answer(self, request: Request) -> Reply:
        """The fake's answer to ``request``; called under ``self._lock`` (unless ``_serialize`` is off)."""
        raise NotImplementedError

    def _classify(self, request: Request) -> Request:
        """Fill in ``service``, ``func`` and ``params`` (default: no service, params from the query)."""
        params = {name: values[-1] for name, values in request.query.items()}
        return dataclasses.replace(request, params=params)

    def _fault_reply(self, fault: Fault, request: Request) -> Reply:  # noqa: ARG002 - a hook
        """The answer to an injected ``error``: its body, or a plain-text page for its status."""
        status = fault.status or 500
        if fault.body is not None:
            return Reply(status, fault.body, fault.content_type)
        return Reply.text(status, fault.message or f"{status} error\n")

    def _is_write(self, request: Request) -> bool:
        """Whether ``request`` changes state (only writes take ``swallow_effect``)."""
        return request.method not in ("GET", "HEAD", "OPTIONS")

    def _swallow(self, request: Request) -> Reply:
        """Answer as a success would without keeping the effect; fakes that support it override this."""
        raise ValueError(f"the {self._what} cannot swallow effects ({request.method} {request.path})")

    def _record(self, request: Request, reply: Reply | None, fault: FaultKind | None) -> Call:
        """The `Call` kept for ``request``: secret headers, query values and body fields masked."""
        headers = {k: _MASK if k in self._secret_headers else v for k, v in request.headers.items()}
        return Call(
            method=request.method,
            path=request.raw_path,
            query=self._mask_form(request.query_string),
            service=request.service,
            status=None if reply is None else reply.status,
            headers=types.MappingProxyType(headers),
            body=self._mask_body(request),
            fault=fault,
            func=request.func,
        )

    def _mask_form(self, text: str) -> str:
        """A query string or form body with the values of ``_secret_keys`` masked."""
        pairs = parse_qsl(text, keep_blank_values=True)
        if not any(name in self._secret_keys for name, _ in pairs):
            return text
        return urlencode([(k, _MASK if k in self._secret_keys else v) for k, v in pairs], safe="*")

    def _mask_body(self, request: Request) -> str:
        """A request body as text, the values of ``_secret_keys`` masked in JSON and in forms."""
        if not request.body:
            return ""
        text = request.body.decode("utf-8", errors="replace")
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return self._mask_form(text)
        try:
            doc = json.loads(request.body)
        except ValueError:
            return text
        return json.dumps(mask_json(doc, self._secret_keys))

    def _reset_state(self) -> None:
        """Go back to the seeded state; called by `reset` under ``self._lock``."""

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        """Write ``reply`` to the socket (a proxy overrides this to copy an upstream answer verbatim)."""
        cast("_Handler", handler).send(reply)

    def _before_serving(self) -> None:
        """Hook: the socket is bound (``url`` is valid), no request is served yet."""

    def _after_stop(self) -> None:
        """Hook: the server has stopped."""
