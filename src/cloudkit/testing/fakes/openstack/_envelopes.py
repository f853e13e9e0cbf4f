"""How each OpenStack service shapes an error, shared by `OpenStackFake` and ``FaultProxy``.

Nova and Cinder answer ``{"<faultName>": {"code": ..., "message": ...}}`` (nova/api/openstack/wsgi.py
Fault), Keystone ``{"error": {"code", "title", "message"}}``, Glance webob's HTML page, Neutron
``{"NeutronError": {"type", "message", "detail"}}``. `fault_reply`
answers an injected ``error`` `Fault` as the service would, including the Galera ``WSREP`` 500
(``Fault.wsrep``) each service shows in its own way (reference §6 and "Wire examples").

Example:
    >>> from cloudkit.testing import Fault
    >>> fault_reply(Fault.server_error(503), "compute").body[:40]
    b'{"serviceUnavailable": {"code": 503, "me'
    >>> fault_reply(Fault.wsrep(), "identity").status
    500
"""

from __future__ import annotations

import dataclasses
import html
import http
import uuid
from collections.abc import Iterable
from typing import Literal

from cloudkit.testing.fakes._kit import Fault, Reply

__all__ = [
    "SECRET_HEADERS",
    "SECRET_KEYS",
    "Envelope",
    "ServiceName",
    "envelope_of",
    "envelope_reply",
    "fault_reply",
    "with_request_id",
]

ServiceName = Literal["identity", "compute", "volume", "image", "network", "placement", "other"]
"""The service a request belongs to, from its first path segment (``other``: none of them)."""

Envelope = Literal["keystone", "nova", "glance", "neutron", "plain"]
"""The shape of an error body."""

SECRET_HEADERS = frozenset({"x-auth-token", "x-subject-token", "x-service-token", "authorization"})
"""Request headers a recorded call masks."""

SECRET_KEYS = frozenset({"password", "original_password", "adminPass", "secret", "token", "auth_key"})
"""JSON keys (at any depth) a recorded call masks in a request body (``auth_key``: a volume transfer's)."""

_ENVELOPES: dict[str, Envelope] = {
    "identity": "keystone",
    "compute": "nova",
    "volume": "nova",
    "image": "glance",
    "network": "neutron",
}
# Nova and Cinder name their fault envelope after the status (nova/api/openstack/wsgi.py Fault).
_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}
_NOVA_DB_ERROR = (
    "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API "
    "log if possible.\n<class 'oslo_db.exception.DBConnectionError'>"
)
# assumption: Cinder's FaultWrapper answers an unexpected error with webob's generic explanation.
_CINDER_500 = "The server has either erred or is incapable of performing the requested operation."
_NEUTRON_500 = (
    "Request Failed: internal server error while processing your request."  # neutron/api/v2/base.py
)
_KEYSTONE_500 = "An unexpected error prevented the server from fulfilling your request."
_UNAVAILABLE = "The server is currently unavailable. Please try again at a later time."  # webob's 503 text


def envelope_of(service: str) -> Envelope:
    """The error envelope of ``service`` (``plain`` for a path no service owns).

    Example:
        >>> envelope_of("volume"), envelope_of("other")
        ('nova', 'plain')
    """
    return _ENVELOPES.get(service, "plain")


def envelope_reply(
    envelope: Envelope, status: int, message: str, headers: Iterable[tuple[str, str]] = ()
) -> Reply:
    """An error answer with ``message`` in ``envelope``.

    Example:
        >>> envelope_reply("keystone", 401, "no").body
        b'{"error": {"code": 401, "title": "Unauthorized", "message": "no"}}'
    """
    phrase = http.HTTPStatus(status).phrase
    if envelope == "keystone":
        doc = {"error": {"code": status, "title": phrase, "message": message}}
        return Reply.json(status, doc, headers)
    if envelope == "nova":
        name = _FAULT_NAMES.get(status, "computeFault")
        return Reply.json(status, {name: {"code": status, "message": message}}, headers)
    if envelope == "neutron":
        # Neutron names the webob exception it raised (HTTPNotFound, HTTPInternalServerError, ...).
        kind = "HTTP" + phrase.replace(" ", "").replace("-", "")
        return Reply.json(status, {"NeutronError": {"type": kind, "message": message, "detail": ""}}, headers)
    if envelope == "glance":
        # assumption: Glance's webob error page as served for a client that accepts anything; webob
        # escapes the explanation (a real Glance 33 shows ``Attribute &#x27;status&#x27; is read-only.``)
        page = (
            f"<html>\n <head>\n  <title>{status} {phrase}</title>\n </head>\n <body>\n"
            f"  <h1>{status} {phrase}</h1>\n  {html.escape(message)}<br /><br />\n\n\n\n </body>\n</html>"
        )
        return Reply.text(status, page, "text/html; charset=UTF-8", headers)
    return Reply.text(status, f"{status} {phrase}\n", headers=headers)


def fault_reply(fault: Fault, service: str) -> Reply:
    """The answer ``service`` gives to an injected ``error`` fault, with an ``x-openstack-request-id``.

    A fault with a body answers it verbatim; ``Fault.wsrep`` answers as a Galera node that is not ready
    makes the service answer (Nova its exact ``computeFault`` "Unexpected API Error ...
    DBConnectionError", Cinder its generic ``computeFault``, Keystone its ``{"error": ...}`` 500, Glance
    an HTML page; ``echo=True``: the DB error text itself); any other error is the service's envelope
    for its status, with its ``message`` or the status's standard text.

    Example:
        >>> from cloudkit.testing import Fault
        >>> fault_reply(Fault.wsrep(), "volume").body
        b'{"computeFault": {"code": 500, "message": "The server has either erred or is incapable of performing the requested operation."}}'
        >>> fault_reply(Fault.server_error(502, "<html/>"), "image").content_type
        'text/html; charset=utf-8'
    """  # noqa: E501 - a wire body is one line
    status = fault.status or 500
    if fault.body is not None:
        reply = Reply(status, fault.body, fault.content_type)
    elif fault.code == "wsrep":
        default = {
            "identity": _KEYSTONE_500,
            "image": _CINDER_500,
            "volume": _CINDER_500,
            "network": _NEUTRON_500,
        }
        envelope = envelope_of(service) if service in default else "nova"
        reply = envelope_reply(envelope, status, fault.message or default.get(service, _NOVA_DB_ERROR))
    else:
        message = fault.message or (_UNAVAILABLE if status == 503 else http.HTTPStatus(status).phrase)  # noqa: PLR2004
        reply = envelope_reply(envelope_of(service), status, message)
    return with_request_id(reply)


def with_request_id(reply: Reply) -> Reply:
    """``reply`` with a fresh ``x-openstack-request-id`` first among its headers, as every service sends.

    Example:
        >>> with_request_id(Reply(204)).headers[0][1].startswith("req-")
        True
    """
    return dataclasses.replace(
        reply, headers=(("x-openstack-request-id", f"req-{uuid.uuid4()}"), *reply.headers)
    )
