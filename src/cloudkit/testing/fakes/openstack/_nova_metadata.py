"""Server metadata of the OpenStack fake's Nova: ``/servers/{id}/metadata`` and its items.

As nova/api/openstack/compute/server_metadata.py: a change needs an unlocked server in ``active``,
``paused``, ``suspended`` or ``stopped`` with no task (409 otherwise); ``POST`` merges, ``PUT`` replaces.
"""

from __future__ import annotations

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack import _nova_actions as actions
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx
from cloudkit.testing.fakes.openstack._nova_tags import checked_metadata
from cloudkit.testing.fakes.openstack._state import Server
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, body_of, empty

_CHANGEABLE = ("active", "paused", "suspended", "stopped")


def _changeable(cloud: Cloud, ctx: Ctx, server_id: str, action: str) -> Server:
    server = cloud.server(ctx, server_id)
    actions.ensure_unlocked(server, ctx)
    actions.ensure_state(server, action, _CHANGEABLE)
    return server


def server_metadata(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET``, ``POST`` (merge) and ``PUT`` (replace) ``/servers/{id}/metadata``."""
    if req.method == "GET":
        server = cloud.server(ctx, params["id"])
        return Reply.json(STATUS_GOOD, {"metadata": dict(server.metadata)})
    body = body_of(req)
    if "metadata" not in body:
        raise ApiError(400, "Invalid input for field/attribute metadata. 'metadata' is a required property")
    given = checked_metadata(body["metadata"])
    server = _changeable(cloud, ctx, params["id"], "update metadata")
    server.metadata = given if req.method == "PUT" else {**server.metadata, **given}
    server.updated = cloud.now()
    return Reply.json(STATUS_GOOD, {"metadata": dict(server.metadata)})


def server_metadata_item(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET``, ``PUT`` and ``DELETE`` ``/servers/{id}/metadata/{key}``."""
    key = params["key"]
    if req.method == "GET":
        server = cloud.server(ctx, params["id"])
        if key not in server.metadata:
            raise ApiError(404, "Metadata item was not found")
        return Reply.json(STATUS_GOOD, {"meta": {key: server.metadata[key]}})
    if req.method == "PUT":
        meta = checked_metadata(body_of(req).get("meta"))
        if key not in meta:
            raise ApiError(400, "Request body and URI mismatch")
        if len(meta) > 1:
            raise ApiError(400, "Request body contains too many items")
        server = _changeable(cloud, ctx, params["id"], "update metadata")
        server.metadata[key], server.updated = meta[key], cloud.now()
        return Reply.json(STATUS_GOOD, {"meta": meta})
    server = cloud.server(ctx, params["id"])
    if key not in server.metadata:
        raise ApiError(404, "Metadata item was not found")
    server = _changeable(cloud, ctx, params["id"], "delete metadata")
    del server.metadata[key]
    server.updated = cloud.now()
    return empty(204)
