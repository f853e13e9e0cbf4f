"""What every fake shares: requests and replies, a router, one fault vocabulary, a loopback base.

A fake is a `LoopbackFake` subclass that answers `Request` objects with `Reply` objects, usually by
looking the request up in a `Router` built once at import from ``@router.route("GET", "/servers/{id}")``
handlers. Everything else is here, once, for every fake and for ``cloudkit.testing.FaultProxy``:

- one `Fault` (an error answer with a chosen status and body, a connection dropped before or after
  the effect, a slow answer held until released, an effect swallowed behind a success answer),
  matched by one `FaultMatch` (method, path template, service, billing function) and used up in
  arming order by a `FaultBook`;
- one `Call`, the record of a request as received (secrets masked) and of what it was answered;
- serving over a real loopback socket (openstacksdk speaks ``requests``), or in process through
  `LoopbackFake.transport`, an ``httpx.MockTransport`` over the same handlers for unit tests where the
  wire is not the point.

Example:
    >>> router = Router()
    >>> @router.route("GET", "/things/{id}")
    ... def show(request, params):
    ...     return Reply.json(200, {"id": params["id"]})
    >>> handler, params = router.resolve("GET", "/things/7")
    >>> handler(None, params).body
    b'{"id": "7"}'
    >>> router.resolve("DELETE", "/things/7")
    Traceback (most recent call last):
    ...
    cloudkit.testing.fakes._kit._http.RouteMiss: 405 DELETE /things/7
"""

from cloudkit.testing.fakes._kit._fake import LoopbackFake
from cloudkit.testing.fakes._kit._faults import Call, Fault, FaultBook, FaultKind, FaultMatch
from cloudkit.testing.fakes._kit._http import HttpError, Reply, Request, RouteMiss, Router

__all__ = [
    "Call",
    "Fault",
    "FaultBook",
    "FaultKind",
    "FaultMatch",
    "HttpError",
    "LoopbackFake",
    "Reply",
    "Request",
    "RouteMiss",
    "Router",
]
