"""Cinder's volume summary (3.12+), per-project default volume types (3.62+) and volume transfers.

Follows Cinder 29 (cinder/api/v3/volumes.py ``summary`` with db ``get_volume_summary``,
api/v3/default_types.py, api/contrib/volume_transfer.py with its v3 successor ``/volume-transfers``
from 3.55, transfer/api.py, with the default policies): default types are an admin's business; a
transfer is made by the volume's project (or an admin), which sees and deletes it, and accepted by
any project that has its ``auth_key``, which then owns the volume (and its snapshots unless
``no_snapshots``). The routes are registered in ``_cinder``.
"""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cinder_attachments import since
from cloudkit.testing.fakes.openstack._cinder_types import type_by_name_or_id
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx
from cloudkit.testing.fakes.openstack._state import Json, Transfer
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, as_bool, body_of, empty, iso, page

_VOLUME_SUMMARY = (3, 12)
_VOLUME_SUMMARY_METADATA = (3, 36)
_DEFAULT_TYPE_OVERRIDES = (3, 62)
_TRANSFER_WITH_SNAPSHOTS = (3, 55)
_TRANSFER_WITH_HISTORY = (3, 57)
_NOT_AUTHORIZED = "You are not authorized to perform this operation."


# ================================================================================== volume summary
def volume_summary(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    """``GET /volumes/summary``: count, total size and (3.36+) every metadata value per key."""
    since(ctx, _VOLUME_SUMMARY)
    everyone = ctx.is_admin and as_bool(req.arg("all_tenants") or "0")
    volumes = [v for v in cloud.state.volumes.values() if everyone or v.project_id == ctx.project_id]
    summary: Json = {"total_count": len(volumes), "total_size": sum(v.size for v in volumes)}
    if ctx.at_least(*_VOLUME_SUMMARY_METADATA):
        metadata: defaultdict[str, list[str]] = defaultdict(list)
        for volume in sorted(volumes, key=lambda v: v.seq):
            for key, value in volume.metadata.items():
                if value not in metadata[key]:  # the query asks for distinct (key, value) pairs
                    metadata[key].append(value)
        summary["metadata"] = dict(metadata)
    return Reply.json(STATUS_GOOD, {"volume-summary": summary})


# ================================================================================== default types
def _project_checked(cloud: Cloud, ctx: Ctx, project_id: str) -> None:
    """``validate_project_and_authorize``: the project must exist in Keystone, the caller be an admin."""
    if project_id not in cloud.state.projects:
        raise ApiError(404, f"Project with id {project_id} not found.")
    if not ctx.is_admin:
        # assumption: a member also gets this 403 for another project (Keystone refuses Cinder's
        # lookup of it before the policy is asked)
        raise ApiError(403, _NOT_AUTHORIZED)


def _default_view(project_id: str, type_id: str) -> Json:
    return {"project_id": project_id, "volume_type_id": type_id}


def set_default_type(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _DEFAULT_TYPE_OVERRIDES)
    spec = body_of(req).get("default_type")
    wanted = spec.get("volume_type") if isinstance(spec, dict) else None
    if not isinstance(wanted, str) or not wanted.strip() or len(wanted) > 255:  # noqa: PLR2004 - schema's maxLength
        # assumption: the shape of Cinder's jsonschema message
        raise ApiError(400, f"Invalid input for field/attribute volume_type. Value: {wanted}.")
    project_id = params["project"]
    _project_checked(cloud, ctx, project_id)
    try:
        vtype = type_by_name_or_id(cloud, ctx, wanted)
    except ApiError as missing:  # VolumeTypeNotFound becomes a 400 here
        raise ApiError(400, missing.message) from None
    cloud.state.default_volume_types[project_id] = vtype.id
    return Reply.json(STATUS_GOOD, {"default_type": _default_view(project_id, vtype.id)})


def get_default_type(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _DEFAULT_TYPE_OVERRIDES)
    project_id = params["project"]
    _project_checked(cloud, ctx, project_id)
    type_id = cloud.state.default_volume_types.get(project_id)
    if type_id is None:
        raise ApiError(404, f"Default type for project {project_id} not found.")
    return Reply.json(STATUS_GOOD, {"default_type": _default_view(project_id, type_id)})


def list_default_types(cloud: Cloud, _req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    since(ctx, _DEFAULT_TYPE_OVERRIDES)
    if not ctx.is_admin:
        raise ApiError(403, _NOT_AUTHORIZED)
    defaults = [_default_view(p, t) for p, t in cloud.state.default_volume_types.items()]
    return Reply.json(STATUS_GOOD, {"default_types": defaults})


def unset_default_type(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _DEFAULT_TYPE_OVERRIDES)
    project_id = params["project"]
    try:
        _project_checked(cloud, ctx, project_id)
    except ApiError as refused:
        if refused.status != 404:  # noqa: PLR2004 - a deleted project's default is unset anyway
            raise
    cloud.state.default_volume_types.pop(project_id, None)
    return empty(204)


# ================================================================================== transfers
def _transfer_links(cloud: Cloud, project_id: str, transfer_id: str) -> list[Json]:
    # the view builder names the legacy collection whichever path was asked
    return [
        {"href": f"{cloud.base_url}/volume/v3/{project_id}/os-volume-transfer/{transfer_id}", "rel": "self"},
        {"href": f"{cloud.base_url}/volume/{project_id}/os-volume-transfer/{transfer_id}", "rel": "bookmark"},
    ]


def _transfer_view(cloud: Cloud, transfer: Transfer, ctx: Ctx, *, detail: bool) -> Json:
    view: Json = {"id": transfer.id}
    if detail:
        view["created_at"] = iso(cloud.wall(transfer.created), style="cinder")
    view |= {"name": transfer.name, "volume_id": transfer.volume_id}
    view["links"] = _transfer_links(cloud, ctx.project_id, transfer.id)
    if detail and ctx.at_least(*_TRANSFER_WITH_SNAPSHOTS):
        view["no_snapshots"] = transfer.no_snapshots
    if detail and ctx.at_least(*_TRANSFER_WITH_HISTORY):
        view |= {
            "destination_project_id": None,
            "source_project_id": transfer.source_project_id,
            "accepted": False,
        }
    return view


def _project_of(cloud: Cloud, transfer: Transfer) -> str | None:
    # a transfer has no project: Cinder filters by its volume's (db/api.py _transfer_get)
    volume = cloud.state.volumes.get(transfer.volume_id)
    return volume.project_id if volume else None


def _find_transfer(cloud: Cloud, ctx: Ctx, transfer_id: str, *, anyone: bool = False) -> Transfer:
    transfer = cloud.state.transfers.get(transfer_id)
    if transfer is None or not (anyone or ctx.is_admin or _project_of(cloud, transfer) == ctx.project_id):
        raise ApiError(404, f"Transfer {transfer_id} could not be found.")
    return transfer


def _new_path(req: Request, ctx: Ctx) -> None:
    """``/volume-transfers`` is the 3.55 successor of ``/os-volume-transfer``."""
    if "/volume-transfers" in req.path:
        since(ctx, _TRANSFER_WITH_SNAPSHOTS)


def create_transfer(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    _new_path(req, ctx)
    spec = body_of(req).get("transfer")
    if not isinstance(spec, dict) or "volume_id" not in spec:
        # assumption: the shape of Cinder's jsonschema message
        raise ApiError(400, "Invalid input for field/attribute transfer. 'volume_id' is a required property")
    if "no_snapshots" in spec and not ctx.at_least(*_TRANSFER_WITH_SNAPSHOTS):
        raise ApiError(
            400,
            "Invalid input for field/attribute transfer. Additional properties are not allowed "
            "('no_snapshots' was unexpected)",
        )
    volume = cloud.volume(ctx, str(spec["volume_id"]))
    if volume.status != "available":
        raise ApiError(400, "Invalid volume: status must be available")
    no_snapshots = as_bool(spec.get("no_snapshots", False))
    if not no_snapshots:
        for snapshot in cloud.state.snapshots.values():
            if snapshot.volume_id == volume.id and snapshot.status != "available":
                raise ApiError(400, f"Invalid snapshot: snapshot: {snapshot.id} status must be available")
    name = spec.get("name")
    transfer = Transfer(
        id=str(uuid.uuid4()),
        volume_id=volume.id,
        name=name.strip() if isinstance(name, str) else None,
        auth_key=secrets.token_hex(8),  # volume_transfer_key_length: 16 hex digits
        source_project_id=volume.project_id,
        no_snapshots=no_snapshots,
        seq=cloud.state.next_seq(),
        created=cloud.now(),
    )
    cloud.state.transfers[transfer.id] = transfer
    volume.status, volume.updated = "awaiting-transfer", cloud.now()
    view = _transfer_view(cloud, transfer, ctx, detail=True)
    view["auth_key"] = transfer.auth_key
    return Reply.json(202, {"transfer": view})


def list_transfers(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    _new_path(req, ctx)
    everyone = ctx.is_admin and as_bool(req.arg("all_tenants") or "0")
    found = sorted(
        (t for t in cloud.state.transfers.values() if everyone or _project_of(cloud, t) == ctx.project_id),
        key=lambda t: t.seq,  # created_at, id ascending
    )
    name = req.arg("name")
    if name is not None:
        found = [t for t in found if t.name == name]
    chosen, _marker = page(found, req, lambda t: t.id)
    detail = req.path.endswith("/detail")
    return Reply.json(
        STATUS_GOOD, {"transfers": [_transfer_view(cloud, t, ctx, detail=detail) for t in chosen]}
    )


def get_transfer(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    _new_path(req, ctx)
    transfer = _find_transfer(cloud, ctx, params["id"])
    return Reply.json(STATUS_GOOD, {"transfer": _transfer_view(cloud, transfer, ctx, detail=True)})


def delete_transfer(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    _new_path(req, ctx)
    transfer = _find_transfer(cloud, ctx, params["id"])
    del cloud.state.transfers[transfer.id]
    volume = cloud.state.volumes.get(transfer.volume_id)
    if volume is not None and volume.status == "awaiting-transfer":
        volume.status, volume.updated = "available", cloud.now()
    return empty(202)


def accept_transfer(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    _new_path(req, ctx)
    spec = body_of(req).get("accept")
    if not isinstance(spec, dict) or not isinstance(spec.get("auth_key"), str):
        raise ApiError(400, "Invalid input for field/attribute accept. 'auth_key' is a required property")
    # an elevated lookup: the accepting project does not own the volume yet
    transfer = _find_transfer(cloud, ctx, params["id"], anyone=True)
    if not secrets.compare_digest(spec["auth_key"], transfer.auth_key):
        raise ApiError(400, f"Invalid auth key: Attempt to transfer {transfer.id} with invalid auth key.")
    volume = cloud.state.volumes.get(transfer.volume_id)
    if volume is None or volume.status != "awaiting-transfer":
        # assumption: the text of volume/api.py accept_transfer's check
        status = volume.status if volume else "deleted"
        raise ApiError(400, f"Invalid volume: Transfer {transfer.id} failed: Volume status is {status}.")
    view = _transfer_view(cloud, transfer, ctx, detail=False)
    volume.project_id, volume.user_id = ctx.project_id, ctx.user.id
    volume.status, volume.updated = "available", cloud.now()
    if not transfer.no_snapshots:
        for snapshot in cloud.state.snapshots.values():
            if snapshot.volume_id == volume.id:
                snapshot.project_id, snapshot.user_id = ctx.project_id, ctx.user.id
    del cloud.state.transfers[transfer.id]
    return Reply.json(202, {"transfer": view})
