"""Cinder's attachments API (3.27+, ``os-complete`` 3.44+): reserve, connect, complete and delete.

Follows Cinder 29 (cinder/api/v3/attachments.py, views/attachments.py, schemas/attachments.py and
``attachment_*`` in volume/api.py and volume/manager.py). An attachment made here is the same
`Attachment` record ``os-attach`` and Nova's attach write, so the volume view lists it once it is
attached and ``os-detach`` finds it too. Its state: ``reserved`` (no connector yet; the volume is
``reserved``), ``attaching`` once a connector gives it connection info (the volume is ``attaching``),
``attached`` after ``os-complete`` (the volume is ``in-use``). The routes are registered in ``_cinder``.
"""

from __future__ import annotations

import uuid

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, pick_action
from cloudkit.testing.fakes.openstack._state import Attachment, Json, Volume
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, as_bool, body_of, empty, iso, page

_NEW_ATTACH = (3, 27)
_NEW_ATTACH_COMPLETION = (3, 44)
_ATTACHMENT_CREATE_MODE_ARG = (3, 54)
# db/api.py ATTACH_STATUS_MAP and _get_statuses_from_attachments: the volume takes the status of its
# "first" attachment in alphabetical order (attached > attaching > detaching > reserved)
_VOLUME_STATUS_OF = {"attached": "in-use"}


def since(ctx: Ctx, version: tuple[int, int]) -> None:
    """A method Cinder serves from ``version`` only: below it webob's plain 404."""
    if not ctx.at_least(*version):
        raise ApiError(404, "The resource could not be found.")


def attach_status(attachment: Attachment) -> str:
    """The attachment's ``attach_status`` as Cinder stores it."""
    if attachment.attached:
        return "attached"
    return "reserved" if attachment.reserved else "attaching"


def settle_volume_status(volume: Volume) -> None:
    """The volume's status from its attachments, as Cinder's ``volume_detached`` sets it."""
    statuses = sorted(attach_status(a) for a in volume.attachments)
    first = statuses[0] if statuses else "detached"
    volume.status = _VOLUME_STATUS_OF.get(first, "available" if first == "detached" else first)


def _summary(attachment: Attachment) -> Json:
    return {
        "id": attachment.id,
        "status": attach_status(attachment),
        "instance": attachment.server_id,
        "volume_id": attachment.volume_id,
    }


def _detail(cloud: Cloud, attachment: Attachment) -> Json:
    view = _summary(attachment)
    # the view normalises a missing time to "" (views/attachments.py _normalize)
    attached = "" if attachment.reserved else iso(cloud.wall(attachment.attached_at), style="cinder")
    view |= {
        "attached_at": attached,
        "detached_at": "",
        "attach_mode": attachment.attach_mode,
        "connection_info": dict(attachment.connection_info),
    }
    return view


def _visible(ctx: Ctx, volume: Volume, everyone: bool) -> bool:
    # attachments have no project: Cinder filters them by their volume's (db/api.py model_query)
    return everyone or volume.project_id == ctx.project_id


def _find(cloud: Cloud, ctx: Ctx, attachment_id: str) -> tuple[Attachment, Volume]:
    for volume in cloud.state.volumes.values():
        for attachment in volume.attachments:
            if attachment.id == attachment_id and _visible(ctx, volume, ctx.is_admin):
                return attachment, volume
    raise ApiError(404, f"Volume attachment could not be found with filter: attachment_id = {attachment_id}.")


def _schema_error(name: str, problem: str) -> ApiError:
    # assumption: the shape of Cinder's jsonschema message (cinder/api/validation/validators.py)
    return ApiError(400, f"Invalid input for field/attribute {name}. {problem}")


def _connect(cloud: Cloud, volume: Volume, attachment: Attachment, connector: Json) -> None:
    """What ``attachment_update`` on the volume manager does: export the volume, record the connector."""
    mode = str(connector.get("mode") or "rw")
    if attachment.attach_mode != "null":
        mode = attachment.attach_mode
    # assumption: what an LVM backend with its iSCSI target answers; the fake has no real target
    attachment.connection_info = {
        "target_discovered": False,
        "target_portal": "127.0.0.1:3260",
        "target_iqn": f"iqn.2010-10.org.openstack:volume-{volume.id}",
        "target_lun": 0,
        "volume_id": volume.id,
        "auth_method": "CHAP",
        "qos_specs": None,
        "access_mode": mode,
        "encrypted": False,
        "cacheable": False,
        "driver_volume_type": "iscsi",
        "attachment_id": attachment.id,
        "enforce_multipath": as_bool(connector.get("enforce_multipath", False)),
    }
    attachment.connector = dict(connector)
    attachment.reserved, attachment.attach_mode = False, mode
    attachment.host_name = str(connector["host"]) if connector.get("host") else None
    attachment.device = str(connector.get("mountpoint") or "na")
    attachment.attached_at = cloud.now()
    volume.status, volume.updated = "attaching", cloud.now()


def create_attachment(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    since(ctx, _NEW_ATTACH)
    spec = body_of(req).get("attachment")
    if not isinstance(spec, dict):
        raise _schema_error("attachment", "'attachment' is a required property")
    allowed = {"instance_uuid", "connector", "volume_uuid"}
    allowed |= {"mode"} if ctx.at_least(*_ATTACHMENT_CREATE_MODE_ARG) else set()
    extra = sorted(set(spec) - allowed)
    if extra:
        raise _schema_error(
            "attachment", f"Additional properties are not allowed ('{extra[0]}' was unexpected)"
        )
    if "volume_uuid" not in spec:
        raise _schema_error("attachment", "'volume_uuid' is a required property")
    mode = spec.get("mode", "null")
    if mode not in ("null", "rw", "ro"):
        raise _schema_error("mode", f"Value: {mode}. '{mode}' is not one of ['rw', 'ro']")
    connector = spec.get("connector")
    if connector is not None and not isinstance(connector, dict):
        raise _schema_error("connector", f"Value: {connector}. {connector!r} is not of type 'object', 'null'")
    volume = cloud.volume(ctx, str(spec["volume_uuid"]))
    instance = spec.get("instance_uuid")
    if "error" in volume.status:
        raise ApiError(
            400,
            "Invalid volume: Volume attachments can not be created if the volume is in an error state. "
            f"The Volume {volume.id} currently has a status of: {volume.status} ",
        )
    # _attachment_reserve: only an available volume (the fake has no multiattach), unless the same
    # instance already holds it (a migration, LP bug 1694530)
    same_instance = instance and any(a.server_id == instance for a in volume.attachments)
    if volume.status not in ("available", "downloading") and not (
        same_instance and volume.status in ("in-use", "reserved")
    ):
        raise ApiError(
            400,
            f"Invalid volume: Volume {volume.id} status must be available or downloading to reserve, "
            f"but the current status is {volume.status}.",
        )
    attachment = Attachment(
        id=str(uuid.uuid4()),
        volume_id=volume.id,
        server_id=str(instance) if instance else None,
        host_name=None,
        device="",
        attached=False,
        in_guest=False,  # Cinder's record only: Nova has no block device mapping for it
        nova_owned=False,
        reserved=True,
        attach_mode=str(mode),
    )
    volume.attachments.append(attachment)
    volume.status, volume.updated = "reserved", cloud.now()
    if connector:
        _connect(cloud, volume, attachment, connector)
    return Reply.json(STATUS_GOOD, {"attachment": _detail(cloud, attachment)})


def list_attachments(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    since(ctx, _NEW_ATTACH)
    everyone = ctx.is_admin and req.arg("all_tenants") is not None
    volumes = sorted(cloud.state.volumes.values(), key=lambda v: -v.seq)
    found = [
        a
        for v in volumes
        if _visible(ctx, v, everyone)
        for a in reversed(v.attachments)  # assumption: newest first, as Cinder's created_at desc
    ]
    wanted = {
        "volume_id": req.arg("volume_id"),
        "status": req.arg("status") or req.arg("attach_status"),
        "instance": req.arg("instance_id"),
    }
    found = [
        a for a in found if all(value is None or _summary(a)[key] == value for key, value in wanted.items())
    ]
    chosen, _marker = page(found, req, lambda a: a.id)
    detail = req.path.endswith("/detail")
    return Reply.json(
        STATUS_GOOD, {"attachments": [_detail(cloud, a) if detail else _summary(a) for a in chosen]}
    )


def get_attachment(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _NEW_ATTACH)
    attachment, _volume = _find(cloud, ctx, params["id"])
    return Reply.json(STATUS_GOOD, {"attachment": _detail(cloud, attachment)})


def update_attachment(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _NEW_ATTACH)
    attachment, volume = _find(cloud, ctx, params["id"])
    spec = body_of(req).get("attachment")
    if not isinstance(spec, dict) or "connector" not in spec:
        raise _schema_error("attachment", "'connector' is a required property")
    connector = spec["connector"]
    if not isinstance(connector, dict) or not connector:
        raise _schema_error("connector", f"Value: {connector}. {connector!r} does not have enough properties")
    if "error" in volume.status:
        raise ApiError(
            409,
            "Resource conflict: Volume attachments can not be updated if the volume is in an error "
            f"state. The Volume {volume.id} currently has a status of: {volume.status} ",
        )
    others = [a for a in volume.attachments if a is not attachment and a.connection_info]
    if others:  # the fake's volumes are never multiattach
        raise ApiError(409, f"Resource conflict: duplicate connectors detected on volume {volume.id}")
    _connect(cloud, volume, attachment, connector)
    return Reply.json(STATUS_GOOD, {"attachment": _detail(cloud, attachment)})


def attachment_action(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _NEW_ATTACH_COMPLETION)
    pick_action(req, {"os-complete": "os-complete"})
    attachment, volume = _find(cloud, ctx, params["id"])
    attachment.attached, attachment.reserved = True, False
    volume.status, volume.updated = "in-use", cloud.now()
    return empty(204)


def delete_attachment(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _NEW_ATTACH)
    attachment, volume = _find(cloud, ctx, params["id"])
    # attachment_deletion_allowed (bug 2004555): a user may not pull an attachment Nova is using; Nova
    # knows it when it made it (the fake's Nova attachments are always connected)
    connected = bool(attachment.connection_info) or attachment.nova_owned
    if attachment.server_id and connected and attachment.in_guest and "service" not in ctx.roles:
        raise ApiError(
            409,
            f"ConflictNovaUsingAttachment: Detach volume from instance {attachment.server_id} using the "
            "Compute API",
        )
    volume.attachments.remove(attachment)
    settle_volume_status(volume)
    volume.updated = cloud.now()
    return Reply.json(STATUS_GOOD, {"attachments": [_summary(a) for a in volume.attachments]})
