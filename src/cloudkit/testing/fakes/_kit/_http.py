"""Requests, replies and the router of the fake kit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import parse_qs, urlsplit

_H = TypeVar("_H")


# ================================================================================== requests, replies
@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request as a fake sees it.

    ``path`` is normalised (no query, single slashes, no trailing slash); ``raw_path`` is as sent.
    ``service`` is the fake's name for the upstream service the path belongs to (``"compute"``,
    ``"billing"``, ...); ``func`` is billing's function name (None elsewhere). ``params`` holds the
    query string merged with a form body (the body wins), as billing reads them.

    Example:
        >>> r = Request.build("GET", "/compute/v2.1//servers/?limit=2", {"X-Auth-Token": "t"}, b"")
        >>> r.path, r.arg("limit"), r.headers["x-auth-token"]
        ('/compute/v2.1/servers', '2', 't')
    """

    method: str
    path: str
    raw_path: str
    query_string: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    service: str = ""
    func: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls, method: str, target: str, headers: Iterable[tuple[str, str]] | Mapping[str, str], body: bytes
    ) -> Request:
        """A request from its method, request target (path and query), headers and body.

        Example:
            >>> Request.build("post", "/x?a=1", [], b"").method
            'POST'
        """
        parts = urlsplit(target)
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        return cls(
            method=method.upper(),
            path=re.sub(r"/+", "/", parts.path).rstrip("/") or "/",
            raw_path=parts.path,
            query_string=parts.query,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in pairs},
            body=body,
        )

    def arg(self, name: str) -> str | None:
        """The last value of query parameter ``name``, or None.

        Example:
            >>> Request.build("GET", "/x?a=1&a=2", [], b"").arg("a")
            '2'
        """
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        """The body as JSON (an empty body is None); ValueError when it is not JSON.

        Example:
            >>> Request.build("POST", "/x", [], b'{"a": 1}').json()
            {'a': 1}
        """
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer.

    Example:
        >>> Reply.json(201, {"id": 1}).status, Reply.text(404, "gone").content_type
        (201, 'text/plain; charset=utf-8')
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, doc: object, headers: Iterable[tuple[str, str]] = ()) -> Reply:
        """A JSON answer.

        Example:
            >>> Reply.json(200, [1]).body
            b'[1]'
        """
        return cls(status, json.dumps(doc).encode(), "application/json", tuple(headers))

    @classmethod
    def text(
        cls,
        status: int,
        text: str,
        content_type: str = "text/plain; charset=utf-8",
        headers: Iterable[tuple[str, str]] = (),
    ) -> Reply:
        """A text answer (plain by default).

        Example:
            >>> Reply.text(500, "<html/>", "text/html").body
            b'<html/>'
        """
        return cls(status, text.encode(), content_type, tuple(headers))


@dataclass(eq=False)
class HttpError(Exception):
    """An error answer a handler raises: its ``status``, the upstream's ``message``, extra ``headers``.

    Each fake subclasses it (adding how its upstream shapes the answer) and turns it into a `Reply`.

    Example:
        >>> err = HttpError(409, "in use", headers=(("Retry-After", "1"),))
        >>> str(err), err.status, err.headers
        ('in use', 409, (('Retry-After', '1'),))
    """

    status: int
    message: str
    _: KW_ONLY
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        """The message is the exception's text."""
        super().__init__(self.message)


# ================================================================================== routing
class RouteMiss(Exception):  # noqa: N818 - a routing outcome, not a failure of the fake
    """No route for a request: ``status`` 404 (no such path) or 405 (path known, method not).

    Example:
        >>> RouteMiss(404, "GET", "/nope").status
        404
    """

    def __init__(self, status: Literal[404, 405], method: str, path: str) -> None:
        """Record what missed."""
        super().__init__(f"{status} {method} {path}")
        self.status = status


def _template_pattern(template: str) -> str:
    """``/servers/{id}`` → a regex; ``{name}`` is one path segment, ``{name:path}`` one or more."""
    if not template.startswith("/"):
        raise ValueError(f"a path template starts with '/': {template!r}")
    out, pos = [], 0
    for hole in re.finditer(r"\{(\w+)(:path)?\}", template):
        out.append(re.escape(template[pos : hole.start()]))
        out.append(f"(?P<{hole.group(1)}>{'.+' if hole.group(2) else '[^/]+'})")
        pos = hole.end()
    out.append(re.escape(template[pos:]))
    return "".join(out)


class Router(Generic[_H]):
    """Path templates to handlers, compiled once; HEAD falls back to GET.

    Example:
        >>> router: Router[str] = Router()
        >>> router.add("GET", "/v3/{project}/volumes/{id}", "show")
        >>> router.resolve("HEAD", "/v3/p1/volumes/v9")
        ('show', {'project': 'p1', 'id': 'v9'})
    """

    def __init__(self) -> None:
        """An empty table."""
        self._routes: list[tuple[str, re.Pattern[str], _H]] = []

    def add(self, method: str, template: str, handler: _H) -> None:
        """Route ``method`` on paths matching ``template`` to ``handler``.

        Example:
            >>> Router().add("GET", "no-slash", "h")
            Traceback (most recent call last):
            ...
            ValueError: a path template starts with '/': 'no-slash'
        """
        self._routes.append((method.upper(), re.compile(_template_pattern(template)), handler))

    def route(self, method: str, template: str) -> Callable[[_H], _H]:
        """Decorator form of `add`.

        Example:
            >>> router: Router[Callable[[], int]] = Router()
            >>> @router.route("GET", "/")
            ... def root() -> int:
            ...     return 1
            >>> router.resolve("GET", "/")[0]()
            1
        """

        def register(handler: _H) -> _H:
            self.add(method, template, handler)
            return handler

        return register

    def resolve(self, method: str, path: str) -> tuple[_H, dict[str, str]]:
        """The handler for ``method`` on ``path`` and the path's parameters; `RouteMiss` otherwise.

        Example:
            >>> Router().resolve("GET", "/x")
            Traceback (most recent call last):
            ...
            cloudkit.testing.fakes._kit._http.RouteMiss: 404 GET /x
        """
        method = method.upper()
        path_known = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method or (route_method == "GET" and method == "HEAD"):
                return handler, match.groupdict()
            path_known = True
        raise RouteMiss(405 if path_known else 404, method, path)
