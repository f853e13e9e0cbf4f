"""The one fault vocabulary of every fake and of FaultProxy, and the record of a call."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cloudkit.testing.fakes._kit._http import Request, _template_pattern

FaultKind = Literal["error", "drop_connection", "drop_after_effect", "slow", "swallow_effect"]
"""What a `Fault` does to the request it takes."""

_MASK = "***"


# ================================================================================== faults
@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to a request instead of (or besides) answering it; build one with the class methods.

    Every fake and ``FaultProxy`` take the same faults. An ``error`` is answered without any effect:
    with ``body`` verbatim if given, otherwise in the service's own error envelope for ``status``
    (with ``message`` and the upstream's ``code``, if given). Billing answers its errors at HTTP 200
    (``status=None`` there means that).

    Example:
        >>> Fault.server_error(503).status, Fault.slow(timeout=1.0).timeout
        (503, 1.0)
        >>> Fault.wsrep().code
        'wsrep'
    """

    kind: FaultKind
    status: int | None = None
    message: str | None = None
    code: str | None = None
    body: bytes | None = None
    content_type: str = "text/plain; charset=utf-8"
    details: tuple[tuple[str, str], ...] = ()
    timeout: float = 5.0

    @classmethod
    def server_error(
        cls, status: int = 503, body: str | Mapping[str, Any] | None = None, *, message: str | None = None
    ) -> Fault:
        """An error answer: ``body`` text (HTML if it starts with ``<``), a JSON mapping, or None.

        With ``body=None`` the fake answers in the service's own envelope for ``status`` (carrying
        ``message`` if given).

        Example:
            >>> Fault.server_error(502, "<html>bad gateway</html>").content_type
            'text/html; charset=utf-8'
            >>> Fault.server_error(500, {"x": 1}).body
            b'{"x": 1}'
            >>> Fault.server_error(200)
            Traceback (most recent call last):
            ...
            ValueError: status must be an HTTP error code, got 200
        """
        if not 400 <= status < 600:  # noqa: PLR2004 - the HTTP error range
            raise ValueError(f"status must be an HTTP error code, got {status}")
        if body is None:
            return cls(kind="error", status=status, message=message)
        if isinstance(body, str):
            kind = "text/html" if body.lstrip().startswith("<") else "text/plain"
            return cls(kind="error", status=status, body=body.encode(), content_type=f"{kind}; charset=utf-8")
        return cls(
            kind="error", status=status, body=json.dumps(dict(body)).encode(), content_type="application/json"
        )

    @classmethod
    def error(
        cls, code: str, message: str, *, status: int | None = None, details: Mapping[str, str] | None = None
    ) -> Fault:
        """An upstream error with its own ``code`` (billing's ``not_enough_money``, ...) in its envelope.

        Example:
            >>> Fault.error("value", "bad name", details={"object": "name"}).details
            (('object', 'name'),)
        """
        return cls(
            kind="error", status=status, code=code, message=message, details=tuple((details or {}).items())
        )

    @classmethod
    def wsrep(cls, *, echo: bool = False) -> Fault:
        """A 500 from a Galera node not ready yet, as each service shows it (``echo``: the DB text itself).

        Example:
            >>> Fault.wsrep(echo=True).message
            "(pymysql.err.OperationalError) (1047, 'WSREP has not yet prepared node for application use')"
        """
        return cls(kind="error", status=500, code="wsrep", message=WSREP_ECHO if echo else None)

    @classmethod
    def drop_connection(cls) -> Fault:
        """Close the socket without an answer and without handling the request.

        Example:
            >>> Fault.drop_connection().kind
            'drop_connection'
        """
        return cls(kind="drop_connection")

    @classmethod
    def drop_after_effect(cls) -> Fault:
        """Handle the request (its effect lands), then close the socket without answering.

        Example:
            >>> Fault.drop_after_effect().kind
            'drop_after_effect'
        """
        return cls(kind="drop_after_effect")

    @classmethod
    def slow(cls, *, timeout: float = 5.0) -> Fault:
        """Hold the request until `LoopbackFake.release_slow` (or ``timeout`` seconds), then handle it.

        Example:
            >>> Fault.slow().timeout
            5.0
        """
        return cls(kind="slow", timeout=timeout)

    @classmethod
    def swallow_effect(cls) -> Fault:
        """Answer exactly as a success would, but change nothing; only writes take it.

        Example:
            >>> Fault.swallow_effect().kind
            'swallow_effect'
        """
        return cls(kind="swallow_effect")


WSREP_ECHO = "(pymysql.err.OperationalError) (1047, 'WSREP has not yet prepared node for application use')"
"""The DB error text a service that echoes exceptions shows for a Galera node that is not ready."""


@dataclass(frozen=True, slots=True)
class FaultMatch:
    """Which requests a fault takes; every field left None matches anything.

    ``path`` is a path template matched against the end of the request path, whole segments only:
    ``"/servers"`` takes ``POST /compute/v2.1/servers`` but not ``/servers/{id}/action``, which
    ``"/servers/{id}/action"`` takes. ``service`` is the fake's service name (``"compute"``,
    ``"volume"``, ...), ``func`` billing's function.

    Example:
        >>> m = FaultMatch(method="post", path="/servers")
        >>> m.matches(Request.build("POST", "/compute/v2.1/servers", [], b""))
        True
        >>> m.matches(Request.build("POST", "/compute/v2.1/servers/1/action", [], b""))
        False
    """

    method: str | None = None
    path: str | None = None
    service: str | None = None
    func: str | None = None
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Compile the path template once."""
        if self.path is not None:  # request paths are matched without a trailing slash; so is the template
            template = self.path.rstrip("/") or "/"
            object.__setattr__(self, "_pattern", re.compile(".*" + _template_pattern(template)))

    def matches(self, request: Request) -> bool:
        """Whether ``request`` is one this match takes.

        Example:
            >>> FaultMatch(func="vds").matches(Request.build("GET", "/billmgr", [], b""))
            False
        """
        if self.method is not None and self.method.upper() != request.method:
            return False
        if self.service is not None and self.service != request.service:
            return False
        if self.func is not None and self.func != request.func:
            return False
        return self._pattern is None or self._pattern.fullmatch(request.path) is not None


@dataclass(slots=True)
class _Armed:
    fault: Fault
    match: FaultMatch
    remaining: int


class FaultBook:
    """Armed faults, matched in arming order and used up under one lock.

    Example:
        >>> book = FaultBook()
        >>> book.arm(Fault.drop_connection(), FaultMatch(method="GET"), times=1)
        >>> request = Request.build("GET", "/", [], b"")
        >>> book.take(request, writes=False).kind, book.take(request, writes=False)
        ('drop_connection', None)
    """

    def __init__(self) -> None:
        """No fault armed."""
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def arm(self, fault: Fault, match: FaultMatch, *, times: int) -> None:
        """Give the next ``times`` requests ``match`` takes this fault."""
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        with self._lock:
            self._armed.append(_Armed(fault, match, times))

    def take(self, request: Request, *, writes: bool) -> Fault | None:
        """The fault for ``request`` (used up), or None; ``swallow_effect`` passes non-writes by."""
        with self._lock:
            for armed in self._armed:
                if not armed.match.matches(request):
                    continue
                if armed.fault.kind == "swallow_effect" and not writes:
                    continue
                armed.remaining -= 1
                if armed.remaining == 0:
                    self._armed.remove(armed)
                return armed.fault
        return None

    def clear(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._armed.clear()


# ================================================================================== calls
@dataclass(frozen=True, slots=True)
class Call:
    """One request a fake (or ``FaultProxy``) received and what it answered; secrets are ``"***"``.

    ``path`` is the path as sent, ``status`` None when no answer was sent (a dropped connection),
    ``fault`` the kind of the injected fault that took the request. Billing calls carry ``func``, ``su``
    and ``auth_mode``; Tungsten calls the identity Keystone resolved their token to (``user``,
    ``project``, ``project_id``, ``roles``) and ``note``; proxied calls ``upstream_status``.

    Example:
        >>> call = Call("GET", "/billmgr", "func=vds", "billing", 200, params={"func": "vds"}, func="vds")
        >>> call.func, call.su, call.fault
        ('vds', None, None)
    """

    method: str
    path: str
    query: str
    service: str
    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    fault: FaultKind | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    func: str | None = None
    su: str | None = None
    auth_mode: str | None = None
    token: str | None = None
    user: str | None = None
    project: str | None = None
    project_id: str | None = None
    roles: tuple[str, ...] = ()
    note: str | None = None
    upstream_status: int | None = None


def mask_json(value: object, secret_keys: frozenset[str]) -> object:
    """``value`` with the values of ``secret_keys`` (at any depth) replaced by ``"***"``.

    Example:
        >>> mask_json({"auth": {"password": "pw", "user": "u"}}, frozenset({"password"}))
        {'auth': {'password': '***', 'user': 'u'}}
    """
    if isinstance(value, dict):
        return {
            k: _MASK if k in secret_keys and v is not None else mask_json(v, secret_keys)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_json(v, secret_keys) for v in value]
    return value
