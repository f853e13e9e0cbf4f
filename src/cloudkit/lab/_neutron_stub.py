"""A stand-in for Neutron, NOT a Neutron: every list is empty, everything else is 404.

Nova asks Neutron even for servers booted with ``networks="none"``: ``GET /servers/{id}`` lists the
server's ports to fill in security groups, and a delete lists them again (reference
``real-openstack-lab.md`` §6, pitfall 5). Empty lists are all those calls need. Anything that needs a
real network (ports, floating IPs, ``networks="auto"``) fails against the lab, by design.

Run as ``python -m cloudkit.lab._neutron_stub PORT [LOGFILE]``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

__all__ = ["EMPTY_COLLECTIONS", "make_app"]

EMPTY_COLLECTIONS = frozenset(
    {"ports", "networks", "subnets", "security-groups", "floatingips", "extensions", "trunks", "qos/policies"}
)
_StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def make_app(port: int, log: TextIO) -> Callable[[dict[str, Any], _StartResponse], Iterable[bytes]]:
    """The WSGI app: version document at ``/``, empty lists under ``/v2.0``, 404 for the rest.

    Example:
        >>> import io
        >>> app = make_app(29696, io.StringIO())
        >>> seen = []
        >>> request = {"PATH_INFO": "/v2.0/ports.json", "REQUEST_METHOD": "GET"}
        >>> body = app(request, lambda status, headers: seen.append(status))
        >>> seen, b"".join(body)
        (['200 OK'], b'{"ports": []}')
    """

    def app(environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", "/")).rstrip("/")
        method = str(environ["REQUEST_METHOD"])
        log.write(f"{method} {path}?{environ.get('QUERY_STRING', '')}\n")
        status, body = "404 Not Found", None  # type: str, dict[str, Any] | None
        if path == "" and method == "GET":
            href = f"http://127.0.0.1:{port}/v2.0/"
            body = {
                "versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}]
            }
            status = "200 OK"
        elif path.startswith("/v2.0/") and method == "GET":
            collection = path.removeprefix("/v2.0/").removesuffix(".json")
            if collection in EMPTY_COLLECTIONS:
                body = {collection.replace("-", "_").split("/")[-1]: []}
                status = "200 OK"
        if body is None:
            body = {
                "NeutronError": {"type": "HTTPNotFound", "message": "lab stub: not a Neutron", "detail": ""}
            }
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    return app


class _Server(ThreadingHTTPServer, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class signature)
        """The app logs requests itself."""


def main(argv: list[str]) -> None:  # pragma: no cover (runs as the lab's stub process)
    """Serve on ``127.0.0.1:PORT`` until killed."""
    port = int(argv[0])
    log = Path(argv[1]).open("a", buffering=1, encoding="utf-8") if len(argv) > 1 else sys.stderr  # noqa: SIM115
    make_server("127.0.0.1", port, make_app(port, log), _Server, _QuietHandler).serve_forever()


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
