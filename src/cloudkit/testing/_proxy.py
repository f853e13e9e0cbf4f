"""`FaultProxy`: the embedded fake's faults, injected in front of a real OpenStack service.

A proxy on ``127.0.0.1`` forwards every request unchanged (path, query, headers, body) to one upstream
service (Nova, Cinder, Glance, Keystone) and copies its answer back, except for the requests an
injected `OpenStackFault` takes. The faults are the very objects `OpenStackFake.inject` takes, with the
same matching and the same answers: ``server_error`` and ``wsrep`` answer locally in the service's own
envelope and never reach the upstream; ``drop_connection`` closes the socket without forwarding;
``drop_after_effect`` forwards, reads the whole upstream answer (the effect has landed), then closes
the socket without answering; ``slow`` holds the request until `FaultProxy.release_slow` (or its
timeout), then forwards it.

Point a client at `FaultProxy.url` instead of the service, for instance through
``OpenStackSettings(endpoint_overrides={"compute": proxy.url + "/v2.1"})``.

Example:
    >>> from cloudkit.testing.fakes import OpenStackFake, OpenStackFault
    >>> with OpenStackFake() as fake, FaultProxy(fake.url, service="compute") as proxy:
    ...     proxy.inject(OpenStackFault.wsrep(), path="/compute/v2.1")
    ...     conn = _HTTP_CONNECTION(proxy.url.removeprefix("http://"), timeout=10)
    ...     for _ in range(2):
    ...         conn.request("GET", "/compute/v2.1")
    ...         print(conn.getresponse().read()[:18])
    ...     conn.close()
    b'{"computeFault": {'
    b'{"version": {"id":'
    >>> [(call.status, call.upstream_status, call.fault) for call in proxy.requests]
    [(500, None, 'wsrep'), (200, 200, None)]
"""

from __future__ import annotations

import http.client
import re
import ssl
import threading
import types
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast
from urllib.parse import parse_qs, urlsplit

from cloudkit.testing.fakes._loopback import LoopbackServer, LoopbackService, QuietHandler, SlowGate
from cloudkit.testing.fakes.openstack import (
    _SECRET_HEADERS,
    OpenStackFault,
    OpenStackFaultKind,
    _fault_reply,
    _FaultBook,
    _mask_body,
    _Reply,
    _Request,
    _wsrep_reply,
)

# The proxy's own leg to the upstream is plumbing, not traffic under test: a cassette being recorded or
# replayed in the same process (vcrpy swaps http.client's classes while it is active) must never record it
# or answer it. These are the genuine classes, taken when cloudkit.testing is imported at plugin load.
_HTTP_CONNECTION = http.client.HTTPConnection
_HTTPS_CONNECTION = http.client.HTTPSConnection

__all__ = ["FaultProxy", "ProxiedService", "ProxyCall"]

ProxiedService = Literal["identity", "compute", "volume", "image"]
"""The service behind a proxy; it decides the envelope of ``server_error`` and ``wsrep`` answers."""

_SERVICES: frozenset[str] = frozenset({"identity", "compute", "volume", "image"})
# RFC 9110 §7.6.1 hop-by-hop fields, plus ``expect`` (the proxy has already read the whole body) and
# the framing fields it recomputes.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED = _HOP_BY_HOP | {"host", "content-length", "expect"}
_BAD_GATEWAY = 502


@dataclass(frozen=True, slots=True)
class ProxyCall:
    """One request the proxy received; token headers and passwords are replaced by ``"***"``.

    ``status`` is what the client got (None: the socket was closed without an answer);
    ``upstream_status`` is what the upstream answered (None: the request was not forwarded, or the
    upstream could not be reached); ``fault`` names the injected fault that took the request, if any.
    ``headers`` has lower-case names.

    Example:
        >>> call = ProxyCall("POST", "/v3/volumes", "", None, 202, "drop_after_effect", {}, "")
        >>> call.status is None, call.upstream_status
        (True, 202)
    """

    method: str
    path: str
    query: str
    status: int | None
    upstream_status: int | None
    fault: OpenStackFaultKind | None
    headers: Mapping[str, str]
    body: str


@dataclass(frozen=True, slots=True)
class _Upstream:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


class _ProxyHandler(QuietHandler):
    def serve(self) -> None:
        cast("FaultProxy", cast("LoopbackServer", self.server).fake)._handle(self)  # noqa: SLF001


class FaultProxy(LoopbackService):
    """Forward requests to ``upstream`` from ``127.0.0.1``, giving matching ones an injected fault.

    ``upstream`` is the service's root, such as ``http://127.0.0.1:28774``: the proxy sends each
    request's path and query unchanged to that host and port (after the upstream's own path, if it has
    one), so a caller uses ``proxy.url + "/v2.1"`` where it used ``upstream + "/v2.1"``. Hop-by-hop
    headers are dropped both ways, ``Host`` names the upstream and ``Content-Length`` is recomputed.
    Links in the upstream's answers are not rewritten (a service builds them from its own idea of its
    URL). An upstream that cannot be reached (refused, reset, ``timeout`` seconds without an answer)
    gets a ``502`` with a short plain-text body.

    Example:
        >>> from cloudkit.testing.fakes import OpenStackFake
        >>> with OpenStackFake() as fake, FaultProxy(fake.url, service="image") as proxy:
        ...     proxy.url.startswith("http://127.0.0.1:") and proxy.url != fake.url
        True
        >>> FaultProxy("http://127.0.0.1:9292", service="image")
        FaultProxy(upstream='http://127.0.0.1:9292', url=None)
    """

    _what = "fault proxy"
    _handler = _ProxyHandler

    def __init__(
        self, upstream: str, *, service: ProxiedService, port: int = 0, timeout: float = 120.0
    ) -> None:
        """Configure the proxy; nothing listens until `start`. ``port`` 0 picks a free port.

        Example:
            >>> FaultProxy("http://127.0.0.1:8776", service="volume").service
            'volume'
        """
        parts = urlsplit(upstream)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"upstream must be an http(s)://host:port URL, got {upstream!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("upstream must not carry credentials, a query or a fragment")
        if service not in _SERVICES:
            raise ValueError(f"service must be one of {sorted(_SERVICES)}, got {service!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self._upstream = upstream.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port_upstream = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self._host_header = parts.netloc
        self.service: ProxiedService = service
        """The service behind the proxy (decides the envelope of ``server_error`` and ``wsrep``)."""
        self._port = port
        self._timeout = timeout
        self._lock = threading.Lock()
        self._faults = _FaultBook()
        self._slow = SlowGate()
        self._server: LoopbackServer | None = None
        self.requests: list[ProxyCall] = []
        """Every request received, in the order the answers were decided, secrets replaced by ``"***"``."""

    def __repr__(self) -> str:
        """The upstream and the proxy's own URL (None while stopped).

        Example:
            >>> FaultProxy("http://127.0.0.1:5000/", service="identity")
            FaultProxy(upstream='http://127.0.0.1:5000', url=None)
        """
        url = None if self._server is None else self.url
        return f"FaultProxy(upstream={self._upstream!r}, url={url!r})"

    # ------------------------------------------------------------------------------ lifecycle
    @property
    def upstream(self) -> str:
        """The service the proxy forwards to.

        Example:
            >>> FaultProxy("http://127.0.0.1:8774/", service="compute").upstream
            'http://127.0.0.1:8774'
        """
        return self._upstream

    def reset(self) -> None:
        """Forget armed faults, recorded requests and releases made in advance.

        Example:
            >>> proxy = FaultProxy("http://127.0.0.1:8774", service="compute")
            >>> proxy.inject(OpenStackFault.wsrep())
            >>> proxy.reset()
        """
        self._faults.clear()
        with self._lock:
            self.requests.clear()
        self._slow.reset()

    # ------------------------------------------------------------------------------ faults
    def inject(
        self,
        fault: OpenStackFault,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        """Give the next ``times`` matching requests this fault, as `OpenStackFake.inject` does.

        ``path`` matches the request path (without the query) as a substring or, failing that, as a
        regular expression (``re.search``); ``method`` is compared case-insensitively.

        Example:
            >>> proxy = FaultProxy("http://127.0.0.1:8774", service="compute")
            >>> proxy.inject(OpenStackFault.wsrep(), method="get", path="/servers/detail", times=2)
        """
        self._faults.arm(fault, method=method, path=path, service=None, times=times)

    def release_slow(self) -> None:
        """Let one held ``slow`` request go on (or the next one, if none is held yet).

        Example:
            >>> FaultProxy("http://127.0.0.1:8774", service="compute").release_slow()
        """
        self._slow.release()

    def wait_until_held(self, timeout: float = 5.0) -> bool:
        """Block until a ``slow`` request is being held (True) or ``timeout`` passes (False).

        Example:
            >>> FaultProxy("http://127.0.0.1:8774", service="compute").wait_until_held(timeout=0.0)
            False
        """
        return self._slow.wait_until_held(timeout)

    # ------------------------------------------------------------------------------ serving
    def _handle(self, handler: _ProxyHandler) -> None:
        """One request: take a fault, answer locally, drop, or forward; record it."""
        request = _read_request(handler, self.service)
        fault = self._faults.take(request)
        kind = fault.kind if fault is not None else None
        upstream: _Upstream | None = None
        reply: _Reply | _Upstream | None
        if fault is not None and kind == "drop_connection":
            reply = None
        elif fault is not None and kind == "server_error":
            reply = _fault_reply(fault, self.service)
        elif fault is not None and kind == "wsrep":
            reply = _wsrep_reply(self.service, echo=fault.echo)
        else:
            if fault is not None and kind == "slow":
                self._slow.hold(fault.hold)
            try:
                upstream = self._forward(request, handler.headers.items())
            except (OSError, http.client.HTTPException) as exc:
                reply = self._bad_gateway(exc)
            else:
                reply = upstream
            if kind == "drop_after_effect":
                reply = None
        self._record(request, reply, upstream, kind)
        if reply is None:
            handler.close_connection = True
        elif isinstance(reply, _Upstream):
            _send_upstream(handler, reply)
        else:
            _send_local(handler, reply, request_id=fault is not None)

    def _forward(self, request: _Request, received: Sequence[tuple[str, str]]) -> _Upstream:
        """The upstream's whole answer; OSError or HTTPException when it cannot be had."""
        query = f"?{request.query_string}" if request.query_string else ""
        target = f"{self._prefix}{request.raw_path}{query}"
        listed = _connection_tokens(received)
        headers = [(k, v) for k, v in received if k.lower() not in _NOT_FORWARDED | listed]
        headers.append(("Host", self._host_header))
        if request.body or request.method in {"POST", "PUT", "PATCH"}:
            headers.append(("Content-Length", str(len(request.body))))
        conn: http.client.HTTPConnection
        if self._scheme == "https":
            conn = _HTTPS_CONNECTION(
                self._host, self._port_upstream, timeout=self._timeout, context=ssl.create_default_context()
            )
        else:
            conn = _HTTP_CONNECTION(self._host, self._port_upstream, timeout=self._timeout)
        try:
            conn.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders(request.body or None)
            answer = conn.getresponse()
            body = answer.read()
            return _Upstream(answer.status, answer.reason, tuple(answer.getheaders()), body)
        finally:
            conn.close()

    def _bad_gateway(self, exc: Exception) -> _Reply:
        text = f"fault proxy: no answer from {self._upstream} ({type(exc).__name__})\n"
        return _Reply(_BAD_GATEWAY, text.encode(), "text/plain; charset=utf-8")

    def _record(
        self,
        request: _Request,
        reply: _Reply | _Upstream | None,
        upstream: _Upstream | None,
        fault: OpenStackFaultKind | None,
    ) -> None:
        headers = {k: "***" if k in _SECRET_HEADERS else v for k, v in request.headers.items()}
        call = ProxyCall(
            method=request.method,
            path=request.raw_path,
            query=request.query_string,
            status=None if reply is None else reply.status,
            upstream_status=None if upstream is None else upstream.status,
            fault=fault,
            headers=types.MappingProxyType(headers),
            body=_mask_body(request.body),
        )
        with self._lock:
            self.requests.append(call)


def _read_request(handler: _ProxyHandler, service: ProxiedService) -> _Request:
    """The request as the fake's fault matching sees it, its body read whole."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        body = _read_chunked(handler)
    else:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length > 0 else b""
    parts = urlsplit(handler.path)
    return _Request(
        method=handler.command,
        path=re.sub(r"/+", "/", parts.path).rstrip("/") or "/",
        raw_path=parts.path,
        query=parse_qs(parts.query, keep_blank_values=True),
        query_string=parts.query,
        headers={k.lower(): v for k, v in handler.headers.items()},
        body=body,
        service=service,
    )


def _read_chunked(handler: _ProxyHandler) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int(handler.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while handler.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailer fields: dropped
                pass
            return b"".join(chunks)
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()  # the CRLF after the chunk


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The fields a ``Connection`` header names: hop-by-hop too (RFC 9110 §7.6.1)."""
    return frozenset(
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    )


def _send_upstream(handler: _ProxyHandler, answer: _Upstream) -> None:
    """Copy the upstream's status, end-to-end headers and body (``Date``/``Server`` are the upstream's)."""
    listed = _connection_tokens(answer.headers)
    handler.send_response_only(answer.status, answer.reason)
    length: str | None = None
    for name, value in answer.headers:
        lower = name.lower()
        if lower == "content-length":
            length = value
        elif lower not in _HOP_BY_HOP and lower not in listed:
            handler.send_header(name, value)
    if handler.command == "HEAD":
        if length is not None:  # a HEAD answer announces the size of the GET's body
            handler.send_header("Content-Length", length)
    else:
        handler.send_header("Content-Length", str(len(answer.body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(answer.body)


def _send_local(handler: _ProxyHandler, reply: _Reply, *, request_id: bool) -> None:
    """An answer the proxy makes itself: an injected error (with a request id, as the fake's), or the 502."""
    handler.send_response(reply.status)
    handler.send_header("Content-Type", reply.content_type)
    handler.send_header("Content-Length", str(len(reply.body)))
    if request_id:
        handler.send_header("x-openstack-request-id", f"req-{uuid.uuid4()}")
    for name, value in reply.headers:
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(reply.body)
