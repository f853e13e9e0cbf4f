"""`FaultProxy`: the fakes' faults, injected in front of a real OpenStack service.

A proxy on ``127.0.0.1`` forwards every request unchanged (path, query, headers, body) to one upstream
service (Nova, Cinder, Glance, Keystone) and copies its answer back, except for the requests an
injected `Fault` takes. The faults are the very objects every fake's ``inject`` takes, with the same
matching (`FaultMatch`) and the same answers as `OpenStackFake`: an ``error`` (``Fault.server_error``,
``Fault.wsrep``) is answered locally in the service's own envelope and never reaches the upstream;
``drop_connection`` closes the socket without forwarding; ``drop_after_effect`` forwards, reads the
whole upstream answer (the effect has landed), then closes the socket without answering; ``slow``
holds the request until `FaultProxy.release_slow` (or its timeout), then forwards it.

Point a client at `FaultProxy.url` instead of the service, for instance through
``OpenStackSettings(endpoint_overrides={"compute": proxy.url + "/v2.1"})``.

Example:
    >>> from cloudkit.testing.fakes import OpenStackFake
    >>> with OpenStackFake() as fake, FaultProxy(fake.url, service="compute") as proxy:
    ...     proxy.inject(Fault.wsrep(), path="/compute/v2.1")
    ...     conn = _HTTP_CONNECTION(proxy.url.removeprefix("http://"), timeout=10)
    ...     for _ in range(2):
    ...         conn.request("GET", "/compute/v2.1")
    ...         print(conn.getresponse().read()[:18])
    ...     conn.close()
    b'{"computeFault": {'
    b'{"version": {"id":'
    >>> [(call.status, call.upstream_status, call.fault) for call in proxy.calls]
    [(500, None, 'error'), (200, 200, None)]
"""

from __future__ import annotations

import dataclasses
import http.client
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from cloudkit.testing.fakes._kit import Call, Fault, FaultKind, LoopbackFake, Reply, Request
from cloudkit.testing.fakes.openstack._envelopes import SECRET_HEADERS, SECRET_KEYS, fault_reply

# The proxy's own leg to the upstream is plumbing, not traffic under test: a cassette being recorded or
# replayed in the same process (vcrpy swaps http.client's classes while it is active) must never record it
# or answer it. These are the genuine classes, taken when cloudkit.testing is imported at plugin load.
_HTTP_CONNECTION = http.client.HTTPConnection
_HTTPS_CONNECTION = http.client.HTTPSConnection

__all__ = ["FaultProxy", "ProxiedService"]

ProxiedService = Literal["identity", "compute", "volume", "image"]
"""The service behind a proxy; it decides the envelope of injected ``error`` answers."""

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
class _Upstream(Reply):
    """The upstream's answer: ``raw_headers`` as received, ``headers`` its end-to-end fields."""

    reason: str = ""
    raw_headers: tuple[tuple[str, str], ...] = ()


class FaultProxy(LoopbackFake):
    """Forward requests to ``upstream`` from ``127.0.0.1``, giving matching ones an injected fault.

    ``upstream`` is the service's root, such as ``http://127.0.0.1:28774``: the proxy sends each
    request's path and query unchanged to that host and port (after the upstream's own path, if it has
    one), so a caller uses ``proxy.url + "/v2.1"`` where it used ``upstream + "/v2.1"``. Hop-by-hop
    headers are dropped both ways, ``Host`` names the upstream and ``Content-Length`` is recomputed.
    Links in the upstream's answers are not rewritten (a service builds them from its own idea of its
    URL). An upstream that cannot be reached (refused, reset, ``timeout`` seconds without an answer)
    gets a ``502`` with a short plain-text body.

    `inject`, `release_slow`, `wait_until_held`, `reset` and `calls` are the fakes' own; each `Call`
    also carries ``upstream_status`` (None: the request was not forwarded, or the upstream could not be
    reached) and has the proxy's ``service``.

    Example:
        >>> from cloudkit.testing.fakes import OpenStackFake
        >>> with OpenStackFake() as fake, FaultProxy(fake.url, service="image") as proxy:
        ...     proxy.url.startswith("http://127.0.0.1:") and proxy.url != fake.url
        True
        >>> FaultProxy("http://127.0.0.1:9292", service="image")
        FaultProxy(upstream='http://127.0.0.1:9292', url=None)
    """

    _what = "fault proxy"
    _serialize = False  # forwarding must not wait for another request's upstream leg
    _secret_headers: ClassVar[frozenset[str]] = SECRET_HEADERS
    _secret_keys: ClassVar[frozenset[str]] = SECRET_KEYS

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
        super().__init__(port=port)
        self._upstream = upstream.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port_upstream = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self._host_header = parts.netloc
        self.service: ProxiedService = service
        """The service behind the proxy (decides the envelope of injected ``error`` answers)."""
        self._timeout = timeout
        self._leg = threading.local()  # the upstream status of the request this thread serves

    def __repr__(self) -> str:
        """The upstream and the proxy's own URL (None while stopped).

        Example:
            >>> FaultProxy("http://127.0.0.1:5000/", service="identity")
            FaultProxy(upstream='http://127.0.0.1:5000', url=None)
        """
        url = self.url if self.running else None
        return f"FaultProxy(upstream={self._upstream!r}, url={url!r})"

    @property
    def upstream(self) -> str:
        """The service the proxy forwards to.

        Example:
            >>> FaultProxy("http://127.0.0.1:8774/", service="compute").upstream
            'http://127.0.0.1:8774'
        """
        return self._upstream

    # ------------------------------------------------------------------------------ kit hooks
    def _classify(self, request: Request) -> Request:
        return dataclasses.replace(super()._classify(request), service=self.service)

    def _fault_reply(self, fault: Fault, request: Request) -> Reply:  # noqa: ARG002 - the hook's signature
        return fault_reply(fault, self.service)

    def _answer(self, request: Request) -> Reply:
        """The upstream's whole answer, or a 502 when it cannot be had."""
        try:
            answer = self._forward(request)
        except (OSError, http.client.HTTPException) as exc:
            text = f"fault proxy: no answer from {self._upstream} ({type(exc).__name__})\n"
            return Reply.text(_BAD_GATEWAY, text)
        self._leg.status = answer.status
        return answer

    def _record(self, request: Request, reply: Reply | None, fault: FaultKind | None) -> Call:
        upstream_status, self._leg.status = getattr(self._leg, "status", None), None
        return dataclasses.replace(super()._record(request, reply, fault), upstream_status=upstream_status)

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if isinstance(reply, _Upstream):
            _send_upstream(handler, reply)
        else:
            super()._send(handler, reply)

    # ------------------------------------------------------------------------------ forwarding
    def _forward(self, request: Request) -> _Upstream:
        """The upstream's whole answer; OSError or HTTPException when it cannot be had."""
        query = f"?{request.query_string}" if request.query_string else ""
        target = f"{self._prefix}{request.raw_path}{query}"
        received = list(request.headers.items())
        listed = _connection_tokens(received)
        headers = [(k, v) for k, v in received if k not in _NOT_FORWARDED | listed]
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
            raw = tuple(answer.getheaders())
        finally:
            conn.close()
        listed = _connection_tokens(raw)
        end_to_end = tuple(
            (k, v)
            for k, v in raw
            if k.lower() not in _HOP_BY_HOP | listed | {"content-type", "content-length"}
        )
        content_type = answer.getheader("Content-Type") or ""
        return _Upstream(answer.status, body, content_type, end_to_end, answer.reason, raw)


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The fields a ``Connection`` header names: hop-by-hop too (RFC 9110 §7.6.1)."""
    return frozenset(
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    )


def _send_upstream(handler: BaseHTTPRequestHandler, answer: _Upstream) -> None:
    """Copy the upstream's status, end-to-end headers and body (``Date``/``Server`` are the upstream's)."""
    listed = _connection_tokens(answer.raw_headers)
    handler.send_response_only(answer.status, answer.reason)
    length: str | None = None
    for name, value in answer.raw_headers:
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
