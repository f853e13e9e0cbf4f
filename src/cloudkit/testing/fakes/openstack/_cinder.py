"""Cinder (block-storage v3 with microversions) of the OpenStack fake: volumes, actions, snapshots.

Volume types are in ``_cinder_types``, limits, quotas and what Cinder tells about itself in
``_cinder_info``, the attachments API in ``_cinder_attachments``, groups in ``_cinder_groups``, the
volume summary, default types and transfers in ``_cinder_more``; every route is in the table at the
end (but ``/volumes/summary``, which must come before ``/volumes/{id}``).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import uuid
from collections.abc import Callable

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack import _cinder_attachments as attachments
from cloudkit.testing.fakes.openstack import _cinder_groups as groups
from cloudkit.testing.fakes.openstack import _cinder_info as info
from cloudkit.testing.fakes.openstack import _cinder_more as more
from cloudkit.testing.fakes.openstack import _cinder_types as types
from cloudkit.testing.fakes.openstack._cloud import (
    VOLUME_MAX,
    VOLUME_MIN,
    Cloud,
    Ctx,
    Routes,
    dispatch,
    pick_action,
)
from cloudkit.testing.fakes.openstack._state import Attachment, Image, Json, Snapshot, Volume, uuid5
from cloudkit.testing.fakes.openstack._wire import (
    STATUS_GOOD,
    STATUS_MULTIPLE,
    ApiError,
    as_bool,
    as_int,
    body_of,
    empty,
    iso,
    version_text,
)

_VOLUME_DELETE_REFUSED = (
    "Invalid volume: Volume status must be available or error or error_restoring or error_extending or "
    "error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a "
    "transfer, or be disassociated from snapshots after volume transfer."
)
_DELETABLE = frozenset({"available", "error", "error_restoring", "error_extending", "error_managing"})
_NOT_ATTACHED = (
    "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be "
    "'attached' to detach."
)
ROUTES = Routes()


def serve(cloud: Cloud, req: Request) -> Reply:
    """Answer a request below ``/volume``."""
    path = req.path
    if path in ("/volume", "/volume/v3") and req.method in ("GET", "HEAD"):
        status = STATUS_MULTIPLE if path == "/volume" else STATUS_GOOD
        return Reply.json(status, {"versions": [_version(cloud)]})
    match = re.fullmatch(r"/volume/v3/([^/]+)(/.*)?", path)
    if match is None:
        raise ApiError(404, "The resource could not be found.")
    if match.group(2) is None and req.method in ("GET", "HEAD"):
        return Reply.json(STATUS_GOOD, {"versions": [_version(cloud)]})
    microversion = cloud.microversion(req, "volume")
    ctx = cloud.context(req, microversion=microversion)
    if match.group(1) != ctx.project_id:
        raise ApiError(400, "Malformed request url")  # assumption: Cinder's project-in-URL check
    reply = dispatch(ROUTES, cloud, req, ctx, match.group(2) or "")
    headers = (
        ("OpenStack-API-Version", f"volume {version_text(microversion)}"),
        ("Vary", "OpenStack-API-Version"),
    )
    return dataclasses.replace(reply, headers=reply.headers + headers)


def _version(cloud: Cloud) -> Json:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": version_text(VOLUME_MAX),
        "min_version": version_text(VOLUME_MIN),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": f"{cloud.base_url}/volume/v3/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


def _links(cloud: Cloud, collection: str, item_id: str) -> list[Json]:
    return [
        {"rel": "self", "href": f"{cloud.base_url}/volume/v3/{{project}}/{collection}/{item_id}"},
        {"rel": "bookmark", "href": f"{cloud.base_url}/volume/{{project}}/{collection}/{item_id}"},
    ]


# ================================================================================== volumes
def _attachment_view(cloud: Cloud, attachment: Attachment, ctx: Ctx) -> Json:
    return {
        "id": attachment.volume_id,
        "attachment_id": attachment.id,
        "volume_id": attachment.volume_id,
        "server_id": attachment.server_id,
        "host_name": attachment.host_name if ctx.is_admin else None,
        "device": attachment.device,
        "attached_at": iso(cloud.wall(attachment.attached_at), style="cinder"),
    }


def _volume_view(cloud: Cloud, volume: Volume, ctx: Ctx) -> Json:
    vtype = cloud.state.volume_types.get(volume.volume_type_id)
    view: Json = {
        "id": volume.id,
        "name": volume.name,
        "description": volume.description,
        "status": volume.status,
        "size": volume.size,
        "availability_zone": "nova",
        "created_at": iso(cloud.wall(volume.created), style="cinder"),
        "updated_at": iso(cloud.wall(volume.updated), style="cinder"),
        "attachments": [_attachment_view(cloud, a, ctx) for a in volume.attachments if a.attached],
        "bootable": "true" if volume.bootable else "false",
        "encrypted": False,
        "multiattach": False,
        "metadata": dict(volume.metadata),
        "volume_type": vtype.name if vtype else None,
        "snapshot_id": volume.snapshot_id,
        "source_volid": volume.source_volid,
        "user_id": volume.user_id,
        "os-vol-tenant-attr:tenant_id": volume.project_id,
        "replication_status": None,
        "consistencygroup_id": None,
        "links": _links(cloud, "volumes", volume.id),
    }
    image = cloud.state.images.get(volume.image_id or "")
    if image is not None:
        view["volume_image_metadata"] = {
            "image_id": image.id,
            "image_name": image.name,
            "os_distro": image.os_distro,
            "os_version": image.os_version,
            "min_disk": str(image.min_disk),
            "min_ram": "0",
            "disk_format": "qcow2",
            "container_format": "bare",
        }
    # migration_status, provider_id and cluster_name are admin-only: the lab's Cinder 29 shows a member
    # none of them, and an admin all three.
    for version, key, value, admin_only in (
        ((3, 0), "migration_status", None, True),
        ((3, 13), "group_id", volume.group_id, False),
        ((3, 21), "provider_id", None, True),
        ((3, 48), "shared_targets", False, False),
        ((3, 48), "service_uuid", uuid5("service:cinder-volume"), False),
        ((3, 61), "cluster_name", None, True),
        ((3, 63), "volume_type_id", volume.volume_type_id, False),
        ((3, 65), "consumes_quota", True, False),
    ):
        if ctx.at_least(*version) and (ctx.is_admin or not admin_only):
            view[key] = value
    if ctx.is_admin:
        view["os-vol-host-attr:host"] = "fake-cinder@lvm#lvm"  # assumption: one fake backend
        view["os-vol-mig-status-attr:migstat"] = None
        view["os-vol-mig-status-attr:name_id"] = None
    return view


@ROUTES.route("GET", "/volumes")
@ROUTES.route("GET", "/volumes/detail")
def _list_volumes(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    volumes = cloud.visible(req, ctx, cloud.state.volumes.values())
    for key in ("name", "status"):
        wanted = req.arg(key)
        if wanted is not None:
            volumes = [v for v in volumes if getattr(v, key) == wanted]
    view = functools.partial(_volume_view, cloud, ctx=ctx)
    return cloud.paged(req, "volumes", volumes, view, functools.partial(_links, cloud, "volumes"))


@ROUTES.route("POST", "/volumes")
def _create_volume(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    spec = body_of(req).get("volume")
    if not isinstance(spec, dict):
        raise ApiError(400, "Missing required element 'volume' in request body.")
    image = _source_image(cloud, spec, ctx)
    snapshot = _source_snapshot(cloud, spec, ctx)
    wanted_type = spec.get("volume_type")
    vtype = types.type_by_name_or_id(cloud, ctx, str(wanted_type)) if wanted_type else None
    group_id = spec.get("group_id") if ctx.at_least(3, 13) else None
    group = groups.group_for_new_volume(cloud, ctx, str(group_id), vtype) if group_id else None
    default = snapshot.size if snapshot else None
    size = as_int(spec.get("size", default), "size")
    if size < 1:
        raise ApiError(400, f"Invalid input for field/attribute size. Value: {size}.")
    if image is not None and size < image.min_disk:
        raise ApiError(
            400,
            f"Invalid input received: Volume size {size}GB cannot be smaller than the image minDisk "
            f"size {image.min_disk}GB.",
        )
    if snapshot is not None and size < snapshot.size:
        raise ApiError(
            400,
            f"Invalid input received: Volume size '{size}'GB cannot be smaller than the snapshot size "
            f"{snapshot.size}GB. They must be >= original snapshot size.",
        )
    volume = cloud.new_volume(
        ctx.project_id,
        ctx.user.id,
        str(spec.get("name") or ""),
        size,
        image_id=image.id if image else None,
        description=spec.get("description"),
    )
    volume.metadata = {str(k): str(v) for k, v in (spec.get("metadata") or {}).items()}
    volume.snapshot_id = snapshot.id if snapshot else None
    # without a type Cinder takes the project's default type (3.62 overrides) or __DEFAULT__
    volume.volume_type_id = vtype.id if vtype else types.default_type_id(cloud, ctx)
    volume.group_id = group

    def finish() -> None:
        if volume.status == "creating":
            volume.status, volume.updated = "available", cloud.now()

    cloud.later(finish)
    return Reply.json(202, {"volume": _volume_view(cloud, volume, ctx)})


def _source_image(cloud: Cloud, spec: Json, ctx: Ctx) -> Image | None:
    image_ref = spec.get("imageRef")
    if not image_ref:
        return None
    image = cloud.state.images.get(str(image_ref))
    if image is None or not cloud.image_visible(image, ctx):
        raise ApiError(404, f"Image {image_ref} could not be found.")  # assumption: Cinder's ImageNotFound
    return image


def _source_snapshot(cloud: Cloud, spec: Json, ctx: Ctx) -> Snapshot | None:
    snapshot_id = spec.get("snapshot_id")
    if not snapshot_id:
        return None
    snapshot = cloud.snapshot(ctx, str(snapshot_id))
    if snapshot.status != "available":
        raise ApiError(400, "Invalid snapshot: Originating snapshot status must be one of 'available' values")
    return snapshot


ROUTES.add("GET", "/volumes/summary", more.volume_summary)


@ROUTES.route("GET", "/volumes/{id}")
def _get_volume(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    return Reply.json(STATUS_GOOD, {"volume": _volume_view(cloud, cloud.volume(ctx, params["id"]), ctx)})


@ROUTES.route("PUT", "/volumes/{id}")
def _update_volume(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    volume = cloud.volume(ctx, params["id"])
    spec = body_of(req).get("volume")
    if not isinstance(spec, dict):
        raise ApiError(400, "Missing required element 'volume' in request body.")
    if "name" in spec:
        volume.name = str(spec["name"] or "")
    if "description" in spec:
        volume.description = spec["description"]
    if isinstance(spec.get("metadata"), dict):
        volume.metadata = {str(k): str(v) for k, v in spec["metadata"].items()}
    volume.updated = cloud.now()
    return Reply.json(STATUS_GOOD, {"volume": _volume_view(cloud, volume, ctx)})


@ROUTES.route("DELETE", "/volumes/{id}")
def _delete_volume(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    volume = cloud.volume(ctx, params["id"])
    has_snapshots = any(s.volume_id == volume.id for s in cloud.state.snapshots.values())
    if volume.status not in _DELETABLE or volume.attachments or has_snapshots or volume.group_id:
        # Cinder's InvalidVolume for in-use, attached or snapshotted volumes; the reference is silent,
        # the text is the one real clients print (found in public pages).
        raise ApiError(400, _VOLUME_DELETE_REFUSED)
    volume.status, volume.updated = "deleting", cloud.now()

    def finish() -> None:
        cloud.state.volumes.pop(volume.id, None)

    cloud.later(finish)
    return empty(202)


# ================================================================================== volume actions
@ROUTES.route("POST", "/volumes/{id}/action")
def _volume_action(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    volume = cloud.volume(ctx, params["id"])
    handler, args = pick_action(req, _ACTIONS)
    handler(cloud, volume, ctx, args if isinstance(args, dict) else {})
    volume.updated = cloud.now()
    return empty(202)


def _attach(cloud: Cloud, volume: Volume, _ctx: Ctx, args: Json) -> None:
    instance, host = args.get("instance_uuid"), args.get("host_name")
    if not instance and not host:
        raise ApiError(400, "Invalid request to attach volume to an invalid target")
    if volume.status not in ("available", "attaching", "reserved"):
        # assumption: the text of Cinder's refusal
        raise ApiError(
            400,
            f"Invalid volume: Volume {volume.id} status must be available or attaching to attach, "
            f"but the current status is {volume.status}.",
        )
    server = cloud.state.servers.get(str(instance or ""))
    # Quirk a: by default only Cinder's records change; Nova never learns of the attachment.
    in_guest = cloud.reaches_guest and server is not None
    volume.attachments.append(
        Attachment(
            id=str(uuid.uuid4()),
            volume_id=volume.id,
            server_id=str(instance) if instance else None,
            host_name=str(host) if host else None,
            device=str(args.get("mountpoint") or ""),
            attached=True,
            in_guest=in_guest,
            nova_owned=False,
            bdm_id=str(uuid.uuid4()),
            attached_at=cloud.now(),
        )
    )
    volume.status = "in-use"


def _detach(_cloud: Cloud, volume: Volume, ctx: Ctx, args: Json) -> None:
    wanted = args.get("attachment_id")
    if wanted is None and len(volume.attachments) == 1:
        wanted = volume.attachments[0].id
    attachment = next((a for a in volume.attachments if a.id == wanted), None)
    if attachment is None:
        if not volume.attachments:
            raise ApiError(400, _NOT_ATTACHED)  # assumption: Cinder's text
        # assumption: Cinder's VolumeAttachmentNotFound text
        raise ApiError(404, f"Volume attachment could not be found with filter: attachment_id = {wanted}.")
    if attachment.nova_owned and "service" not in ctx.roles:
        # Cinder since the OSSA for bug 2004555 (reference §3.1, "Wire examples")
        # The lab (real Cinder 29) prefixes the exception class name: "ConflictNovaUsingAttachment: ...".
        raise ApiError(
            409,
            f"ConflictNovaUsingAttachment: Detach volume from instance {attachment.server_id} using the "
            "Compute API",
        )
    volume.attachments.remove(attachment)
    volume.status = "in-use" if volume.attachments else "available"


def _reserve(_cloud: Cloud, volume: Volume, _ctx: Ctx, _args: Json) -> None:
    if volume.status != "available":
        raise ApiError(
            400,
            f"Invalid volume: Volume status must be available to reserve, but the status is {volume.status}.",
        )
    volume.status = "attaching"  # the legacy reserve writes "attaching"


def _unreserve(_cloud: Cloud, volume: Volume, _ctx: Ctx, _args: Json) -> None:
    if volume.status == "attaching":
        volume.status = "in-use" if volume.attachments else "available"


def _begin_detaching(_cloud: Cloud, volume: Volume, _ctx: Ctx, _args: Json) -> None:
    if volume.status != "in-use" or not volume.attachments:
        raise ApiError(400, _NOT_ATTACHED)  # assumption: Cinder's text
    volume.status = "detaching"


def _roll_detaching(_cloud: Cloud, volume: Volume, _ctx: Ctx, _args: Json) -> None:
    if volume.status == "detaching":
        volume.status = "in-use" if volume.attachments else "available"


_ACTIONS: dict[str, Callable[[Cloud, Volume, Ctx, Json], None]] = {
    "os-attach": _attach,
    "os-detach": _detach,
    "os-reserve": _reserve,
    "os-unreserve": _unreserve,
    "os-begin_detaching": _begin_detaching,
    "os-roll_detaching": _roll_detaching,
}


# ================================================================================== metadata
@ROUTES.route("GET", "/volumes/{id}/metadata")
def _get_metadata(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    return Reply.json(STATUS_GOOD, {"metadata": dict(cloud.volume(ctx, params["id"]).metadata)})


@ROUTES.route("POST", "/volumes/{id}/metadata")
@ROUTES.route("PUT", "/volumes/{id}/metadata")
def _set_metadata(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    volume = cloud.volume(ctx, params["id"])
    metadata = body_of(req).get("metadata")
    if not isinstance(metadata, dict):
        raise ApiError(400, "Malformed request body")
    given = {str(k): str(v) for k, v in metadata.items()}
    volume.metadata = given if req.method == "PUT" else {**volume.metadata, **given}
    volume.updated = cloud.now()
    return Reply.json(STATUS_GOOD, {"metadata": dict(volume.metadata)})


@ROUTES.route("DELETE", "/volumes/{id}/metadata/{key}")
def _delete_metadata_key(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    volume = cloud.volume(ctx, params["id"])
    if volume.metadata.pop(params["key"], None) is None:
        raise ApiError(404, "Metadata item was not found")  # assumption: Cinder's text
    return empty(200)


# ================================================================================== snapshots
def _snapshot_view(cloud: Cloud, snapshot: Snapshot, ctx: Ctx) -> Json:
    view: Json = {
        "id": snapshot.id,
        "name": snapshot.name,
        "description": snapshot.description,
        "status": snapshot.status,
        "size": snapshot.size,
        "volume_id": snapshot.volume_id,
        "created_at": iso(cloud.wall(snapshot.created), style="cinder"),
        "updated_at": iso(cloud.wall(snapshot.updated), style="cinder"),
        "metadata": dict(snapshot.metadata),
        "os-extended-snapshot-attributes:project_id": snapshot.project_id,
        "os-extended-snapshot-attributes:progress": "100%" if snapshot.status == "available" else "0%",
    }
    if ctx.at_least(3, 14):
        view["group_snapshot_id"] = snapshot.group_snapshot_id
    if ctx.at_least(3, 41):
        view["user_id"] = snapshot.user_id
    if ctx.at_least(3, 65):
        view["consumes_quota"] = True
    return view


@ROUTES.route("GET", "/snapshots")
@ROUTES.route("GET", "/snapshots/detail")
def _list_snapshots(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    snapshots = cloud.visible(req, ctx, cloud.state.snapshots.values())
    volume_id = req.arg("volume_id")
    if volume_id:
        snapshots = [s for s in snapshots if s.volume_id == volume_id]
    return cloud.paged(req, "snapshots", snapshots, functools.partial(_snapshot_view, cloud, ctx=ctx))


@ROUTES.route("POST", "/snapshots")
def _create_snapshot(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    spec = body_of(req).get("snapshot")
    if not isinstance(spec, dict) or not spec.get("volume_id"):
        raise ApiError(400, "Invalid input for field/attribute snapshot. 'volume_id' is a required property")
    volume = cloud.volume(ctx, str(spec["volume_id"]))
    force = as_bool(spec.get("force", False))
    allowed = ("available", "in-use") if force else ("available",)
    if volume.status not in allowed:
        # assumption: Cinder's text (cinder/volume/api.py _create_snapshot_in_db_validate)
        raise ApiError(
            400,
            f"Invalid volume: Volume {volume.id} status must be available, but current status is: "
            f"{volume.status}.",
        )
    now = cloud.now()
    snapshot = Snapshot(
        id=str(uuid.uuid4()),
        project_id=volume.project_id,
        user_id=ctx.user.id,
        volume_id=volume.id,
        name=spec.get("name"),
        description=spec.get("description"),
        size=volume.size,
        status="creating",
        seq=cloud.state.next_seq(),
        created=now,
        updated=now,
        metadata={str(k): str(v) for k, v in (spec.get("metadata") or {}).items()},
    )
    cloud.state.snapshots[snapshot.id] = snapshot

    def finish() -> None:
        if snapshot.status == "creating":
            snapshot.status, snapshot.updated = "available", cloud.now()

    cloud.later(finish)
    return Reply.json(202, {"snapshot": _snapshot_view(cloud, snapshot, ctx)})


@ROUTES.route("GET", "/snapshots/{id}")
def _get_snapshot(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    snapshot = cloud.snapshot(ctx, params["id"])
    return Reply.json(STATUS_GOOD, {"snapshot": _snapshot_view(cloud, snapshot, ctx)})


@ROUTES.route("DELETE", "/snapshots/{id}")
def _delete_snapshot(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    snapshot = cloud.snapshot(ctx, params["id"])
    if snapshot.status not in ("available", "error"):
        raise ApiError(400, "Invalid snapshot: Volume Snapshot status must be available or error.")
    snapshot.status, snapshot.updated = "deleting", cloud.now()

    def finish() -> None:
        cloud.state.snapshots.pop(snapshot.id, None)

    cloud.later(finish)
    return empty(202)


ROUTES.add("GET", "/types", types.list_types)
ROUTES.add("POST", "/types", types.create_type)
ROUTES.add("GET", "/types/{id}", types.get_type)
ROUTES.add("PUT", "/types/{id}", types.update_type)
ROUTES.add("DELETE", "/types/{id}", types.delete_type)
ROUTES.add("POST", "/types/{id}/action", types.type_action)
ROUTES.add("GET", "/types/{id}/os-volume-type-access", types.list_type_access)
ROUTES.add("GET", "/types/{id}/extra_specs", types.list_extra_specs)
ROUTES.add("POST", "/types/{id}/extra_specs", types.set_extra_specs)
ROUTES.add("GET", "/types/{id}/extra_specs/{key}", types.get_extra_spec)
ROUTES.add("PUT", "/types/{id}/extra_specs/{key}", types.put_extra_spec)
ROUTES.add("DELETE", "/types/{id}/extra_specs/{key}", types.delete_extra_spec)
ROUTES.add("GET", "/limits", info.get_limits)
ROUTES.add("GET", "/os-quota-sets/{project}", info.show_quota_set)
ROUTES.add("PUT", "/os-quota-sets/{project}", info.update_quota_set)
ROUTES.add("DELETE", "/os-quota-sets/{project}", info.delete_quota_set)
ROUTES.add("GET", "/os-quota-sets/{project}/defaults", info.quota_defaults)
ROUTES.add("GET", "/os-availability-zone", info.list_availability_zones)
ROUTES.add("GET", "/resource_filters", info.list_resource_filters)
ROUTES.add("GET", "/extensions", info.list_extensions)
ROUTES.add("GET", "/os-services", info.list_services)
ROUTES.add("GET", "/capabilities/{host}", info.get_capabilities)
ROUTES.add("POST", "/attachments", attachments.create_attachment)
ROUTES.add("GET", "/attachments", attachments.list_attachments)
ROUTES.add("GET", "/attachments/detail", attachments.list_attachments)
ROUTES.add("GET", "/attachments/{id}", attachments.get_attachment)
ROUTES.add("PUT", "/attachments/{id}", attachments.update_attachment)
ROUTES.add("DELETE", "/attachments/{id}", attachments.delete_attachment)
ROUTES.add("POST", "/attachments/{id}/action", attachments.attachment_action)
ROUTES.add("GET", "/group_types", groups.list_group_types)
ROUTES.add("POST", "/group_types", groups.create_group_type)
ROUTES.add("GET", "/group_types/{id}", groups.get_group_type)
ROUTES.add("PUT", "/group_types/{id}", groups.update_group_type)
ROUTES.add("DELETE", "/group_types/{id}", groups.delete_group_type)
ROUTES.add("GET", "/group_types/{id}/group_specs", groups.list_group_specs)
ROUTES.add("POST", "/group_types/{id}/group_specs", groups.create_group_specs)
ROUTES.add("GET", "/group_types/{id}/group_specs/{key}", groups.get_group_spec)
ROUTES.add("PUT", "/group_types/{id}/group_specs/{key}", groups.update_group_spec)
ROUTES.add("DELETE", "/group_types/{id}/group_specs/{key}", groups.delete_group_spec)
ROUTES.add("GET", "/groups", groups.list_groups)
ROUTES.add("GET", "/groups/detail", groups.list_groups)
ROUTES.add("POST", "/groups", groups.create_group)
ROUTES.add("GET", "/groups/{id}", groups.get_group)
ROUTES.add("PUT", "/groups/{id}", groups.update_group)
ROUTES.add("POST", "/groups/{id}/action", groups.group_action)
ROUTES.add("GET", "/group_snapshots", groups.list_group_snapshots)
ROUTES.add("GET", "/group_snapshots/detail", groups.list_group_snapshots)
ROUTES.add("POST", "/group_snapshots", groups.create_group_snapshot)
ROUTES.add("GET", "/group_snapshots/{id}", groups.get_group_snapshot)
ROUTES.add("DELETE", "/group_snapshots/{id}", groups.delete_group_snapshot)
ROUTES.add("GET", "/default-types", more.list_default_types)
ROUTES.add("PUT", "/default-types/{project}", more.set_default_type)
ROUTES.add("GET", "/default-types/{project}", more.get_default_type)
ROUTES.add("DELETE", "/default-types/{project}", more.unset_default_type)
for _transfers in ("/volume-transfers", "/os-volume-transfer"):
    ROUTES.add("POST", _transfers, more.create_transfer)
    ROUTES.add("GET", _transfers, more.list_transfers)
    ROUTES.add("GET", f"{_transfers}/detail", more.list_transfers)
    ROUTES.add("GET", f"{_transfers}/{{id}}", more.get_transfer)
    ROUTES.add("DELETE", f"{_transfers}/{{id}}", more.delete_transfer)
    ROUTES.add("POST", f"{_transfers}/{{id}}/accept", more.accept_transfer)
