"""Cinder's generic volume groups: group types and their specs (3.11+), groups (3.13+), group snapshots.

Follows Cinder 29 (cinder/api/v3/group_types.py, group_specs.py, groups.py, group_snapshots.py, their
views, group/api.py, with the default policies): only an admin manages group types and their specs
and sees the specs in a type's view; any member makes groups of its project. ``default_cgsnapshot_type``
(Cinder's migration seeds it) is listed but refused for groups. A group goes ``creating`` →
``available`` and is deleted, with its volumes when asked, ``transition_seconds`` later, as a group
snapshot (one volume snapshot per volume) is made. The routes are registered in ``_cinder``.
"""

from __future__ import annotations

import functools
import uuid

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cinder_attachments import since
from cloudkit.testing.fakes.openstack._cinder_types import refuse_unless_admin, type_by_name_or_id
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, pick_action
from cloudkit.testing.fakes.openstack._state import (
    DEFAULT_CGSNAPSHOT_TYPE_ID,
    GroupSnapshot,
    GroupType,
    Json,
    Snapshot,
    VolumeGroup,
    VolumeType,
)
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, as_bool, body_of, empty, iso, page

_GROUP_TYPE = (3, 11)
_GROUP_VOLUME = (3, 13)
_GROUP_SNAPSHOTS = (3, 14)
_GROUP_REPLICATION = (3, 38)
_PROJECT_ID_SHOWN = (3, 58)  # mv.GROUP_GROUPSNAPSHOT_PROJECT_ID, to an admin only


def _schema_error(name: str, problem: str) -> ApiError:
    # assumption: the shape of Cinder's jsonschema message (cinder/api/validation/validators.py)
    return ApiError(400, f"Invalid input for field/attribute {name}. {problem}")


def _spec(req: Request, key: str) -> Json:
    spec = body_of(req).get(key)
    if not isinstance(spec, dict):
        raise _schema_error(key, f"'{key}' is a required property")
    return spec


def _name(value: object, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > 255 or (required and not value.strip()):  # noqa: PLR2004 - schema's maxLength
        raise _schema_error("name", f"Value: {value}.")
    return value.strip()


# ================================================================================== group types
def _find_type(cloud: Cloud, ctx: Ctx, type_id: str) -> GroupType:
    gtype = cloud.state.group_types.get(type_id)
    if gtype is None or not (ctx.is_admin or gtype.is_public):
        raise ApiError(404, f"Group type {type_id} could not be found.")
    return gtype


def _type_by_name_or_id(cloud: Cloud, ctx: Ctx, wanted: str) -> GroupType:
    if wanted in cloud.state.group_types:
        return _find_type(cloud, ctx, wanted)
    found = next((t for t in cloud.state.group_types.values() if t.name == wanted), None)
    if found is None or not (ctx.is_admin or found.is_public):
        raise ApiError(404, f"Group type with name {wanted} could not be found.")
    return found


def _type_view(gtype: GroupType, ctx: Ctx) -> Json:
    view: Json = {
        "id": gtype.id,
        "name": gtype.name,
        "description": gtype.description,
        "is_public": gtype.is_public,
    }
    if ctx.is_admin:  # group:access_group_types_specs is admin_api
        view["group_specs"] = dict(gtype.group_specs)
    return view


def _string_specs(specs: object) -> dict[str, str]:
    if not isinstance(specs, dict) or not all(isinstance(v, str) for v in specs.values()):
        raise _schema_error("group_specs", "Value: must be strings.")
    return {str(k): v for k, v in specs.items()}


def _public_flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("1", "0", "true", "false", "yes", "no", "on", "off", "t", "f", "y", "n"):
        # strutils.bool_from_string(strict=True)'s ValueError, as the API passes it on
        raise ApiError(400, f"Invalid input for field/attribute is_public. Value: {value}.")
    return as_bool(text)


def list_group_types(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_TYPE)
    wanted = req.arg("is_public") if ctx.is_admin else None
    public: bool | None = True if wanted is None else (None if wanted.lower() == "none" else as_bool(wanted))
    types = sorted(
        (t for t in cloud.state.group_types.values() if public is None or t.is_public == public),
        key=lambda t: -t.seq,  # Cinder sorts by created_at, newest first
    )
    chosen, _marker = page(types, req, lambda t: t.id)
    return Reply.json(STATUS_GOOD, {"group_types": [_type_view(t, ctx) for t in chosen]})


def create_group_type(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_TYPE)
    refuse_unless_admin(ctx, "group:group_types:create")
    spec = _spec(req, "group_type")
    name = _name(spec.get("name"), required=True) or ""
    if any(t.name == name for t in cloud.state.group_types.values()):
        raise ApiError(409, f"Group Type {name} already exists.")
    gtype = GroupType(
        id=str(uuid.uuid4()),
        name=name,
        description=spec.get("description"),
        is_public=_public_flag(spec.get("is_public", True)),
        seq=cloud.state.next_seq(),
        group_specs=_string_specs(spec.get("group_specs") or {}),
    )
    cloud.state.group_types[gtype.id] = gtype
    return Reply.json(202, {"group_type": _type_view(gtype, ctx)})


def get_group_type(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_TYPE)
    if params["id"] == "default":  # Cinder's default_group_type option is unset by default
        raise ApiError(404, "Default group type can not be found.")
    return Reply.json(STATUS_GOOD, {"group_type": _type_view(_find_type(cloud, ctx, params["id"]), ctx)})


def update_group_type(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_TYPE)
    refuse_unless_admin(ctx, "group:group_types:update")
    spec = _spec(req, "group_type")
    name, description, is_public = spec.get("name"), spec.get("description"), spec.get("is_public")
    if isinstance(name, str) and not name.strip():
        raise ApiError(400, "Group type name can not be empty.")
    if name is None and description is None and is_public is None:
        raise ApiError(400, "Specify group type name, description or a combination thereof.")
    gtype = _find_type(cloud, ctx, params["id"])
    if name is not None and any(
        t.name == name and t.id != gtype.id for t in cloud.state.group_types.values()
    ):
        raise ApiError(409, f"Group Type {name} already exists.")
    gtype.name = _name(name, required=False) or gtype.name
    gtype.description = description if description is not None else gtype.description
    gtype.is_public = _public_flag(is_public) if is_public is not None else gtype.is_public
    return Reply.json(STATUS_GOOD, {"group_type": _type_view(gtype, ctx)})


def delete_group_type(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_TYPE)
    refuse_unless_admin(ctx, "group:group_types:delete")
    gtype = _find_type(cloud, ctx, params["id"])
    if any(g.group_type_id == gtype.id for g in cloud.state.volume_groups.values()):
        raise ApiError(400, "Target group type is still in use.")
    del cloud.state.group_types[gtype.id]
    return empty(202)


# ================================================================================== group specs
def list_group_specs(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_TYPE)
    refuse_unless_admin(ctx, "group:group_types_specs:get_all")
    gtype = _find_type(cloud, ctx, params["id"])
    return Reply.json(STATUS_GOOD, {"group_specs": dict(gtype.group_specs)})


def create_group_specs(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_TYPE)
    refuse_unless_admin(ctx, "group:group_types_specs:create")
    gtype = _find_type(cloud, ctx, params["id"])
    body = body_of(req)
    gtype.group_specs.update(_string_specs(body.get("group_specs")))
    return Reply.json(202, body)


def get_group_spec(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_TYPE)
    refuse_unless_admin(ctx, "group:group_types_specs:get")
    gtype, key = _find_type(cloud, ctx, params["id"]), params["key"]
    if key not in gtype.group_specs:
        raise ApiError(404, f"Group Type {gtype.id} has no extra spec with key {key}.")
    return Reply.json(STATUS_GOOD, {key: gtype.group_specs[key]})


def update_group_spec(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_TYPE)
    refuse_unless_admin(ctx, "group:group_types_specs:update")
    gtype = _find_type(cloud, ctx, params["id"])
    body = body_of(req)
    if params["key"] not in body:
        raise ApiError(400, "Request body and URI mismatch")
    gtype.group_specs.update(_string_specs(body))
    return Reply.json(STATUS_GOOD, body)


def delete_group_spec(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_TYPE)
    refuse_unless_admin(ctx, "group:group_types_specs:delete")
    gtype, key = _find_type(cloud, ctx, params["id"]), params["key"]
    if gtype.group_specs.pop(key, None) is None:
        raise ApiError(404, f"Group Type {gtype.id} has no specs with key {key}.")
    return empty(202)


# ================================================================================== groups
def _refuse_cgsnapshot_type(group_type_id: str) -> None:
    if group_type_id == DEFAULT_CGSNAPSHOT_TYPE_ID:
        raise ApiError(
            400,
            f"Group_type {group_type_id} is reserved for migrating CGs to groups. Migrated group can "
            "only be operated by CG APIs.",
        )


def find_group(cloud: Cloud, ctx: Ctx, group_id: str) -> VolumeGroup:
    """The group by id, as its project or an admin sees it; Cinder's 404 otherwise."""
    group = cloud.state.volume_groups.get(group_id)
    if group is None or not (ctx.is_admin or group.project_id == ctx.project_id):
        raise ApiError(404, f"Group {group_id} could not be found.")
    return group


def group_for_new_volume(cloud: Cloud, ctx: Ctx, group_id: str, vtype: VolumeType | None) -> str:
    """The group a volume create names (3.13+): the type must be given and be one of the group's."""
    group = find_group(cloud, ctx, group_id)
    if vtype is None:
        raise ApiError(
            400, "Invalid input received: volume_type must be provided when creating a volume in a group."
        )
    if vtype.id not in group.volume_type_ids:
        raise ApiError(
            400,
            f"Invalid input received: Invalid volume_type provided: {vtype.name} (requested type must be "
            "supported by this group).",
        )
    return group.id


def _group_view(cloud: Cloud, group: VolumeGroup, ctx: Ctx, req: Request) -> Json:
    view: Json = {
        "id": group.id,
        "status": group.status,
        "availability_zone": "nova",
        "created_at": iso(cloud.wall(group.created), style="cinder"),
        "name": group.name,
        "description": group.description,
        "group_type": group.group_type_id,
        "volume_types": list(group.volume_type_ids),
    }
    if ctx.at_least(*_GROUP_SNAPSHOTS):
        view["group_snapshot_id"] = group.group_snapshot_id
        view["source_group_id"] = group.source_group_id
    if ctx.at_least(3, 25) and as_bool(req.arg("list_volume") or "0"):  # mv.GROUP_VOLUME_LIST
        view["volumes"] = [v.id for v in cloud.state.volumes.values() if v.group_id == group.id]
    if ctx.at_least(*_GROUP_REPLICATION):
        view["replication_status"] = "disabled"
    if ctx.at_least(*_PROJECT_ID_SHOWN) and ctx.is_admin:
        view["project_id"] = group.project_id
    return view


def list_groups(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_VOLUME)
    groups = [
        g
        for g in cloud.visible(req, ctx, cloud.state.volume_groups.values())
        if g.group_type_id != DEFAULT_CGSNAPSHOT_TYPE_ID  # migrated CGs are not listed
    ]
    view = functools.partial(_group_view, cloud, ctx=ctx, req=req)
    chosen, _marker = page(groups, req, lambda g: g.id)
    if req.path.endswith("/detail"):
        return Reply.json(STATUS_GOOD, {"groups": [view(g) for g in chosen]})
    return Reply.json(STATUS_GOOD, {"groups": [{"id": g.id, "name": g.name} for g in chosen]})


def create_group(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_VOLUME)
    spec = _spec(req, "group")
    for key in ("group_type", "volume_types"):
        if key not in spec:
            raise _schema_error("group", f"'{key}' is a required property")
    wanted_types = spec["volume_types"]
    if not isinstance(wanted_types, list) or not wanted_types:
        raise _schema_error("volume_types", f"Value: {wanted_types}. {wanted_types!r} is too short")
    gtype = _type_by_name_or_id(cloud, ctx, str(spec["group_type"]))
    _refuse_cgsnapshot_type(gtype.id)
    vtypes = [type_by_name_or_id(cloud, ctx, str(t)) for t in wanted_types]
    now = cloud.now()
    group = VolumeGroup(
        id=str(uuid.uuid4()),
        project_id=ctx.project_id,
        user_id=ctx.user.id,
        name=_name(spec.get("name"), required=False),
        description=(spec.get("description") or "").strip() or spec.get("description"),
        group_type_id=gtype.id,
        volume_type_ids=[t.id for t in vtypes],
        seq=cloud.state.next_seq(),
        created=now,
    )
    cloud.state.volume_groups[group.id] = group

    def finish() -> None:
        if group.status == "creating":
            group.status = "available"

    cloud.later(finish)
    return Reply.json(202, {"group": {"id": group.id, "name": group.name}})


def get_group(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_VOLUME)
    group = find_group(cloud, ctx, params["id"])
    _refuse_cgsnapshot_type(group.group_type_id)
    return Reply.json(STATUS_GOOD, {"group": _group_view(cloud, group, ctx, req)})


def update_group(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_VOLUME)
    spec = _spec(req, "group")
    keys = ("name", "description", "add_volumes", "remove_volumes")
    if not any(k in spec for k in keys):
        raise _schema_error("group", f"{spec} is not valid under any of the given schemas")
    group = find_group(cloud, ctx, params["id"])
    _refuse_cgsnapshot_type(group.group_type_id)
    add = [v for v in str(spec.get("add_volumes") or "").split(",") if v.strip()]
    remove = [v for v in str(spec.get("remove_volumes") or "").split(",") if v.strip()]
    both = sorted(set(add) & set(remove))
    if both:
        raise ApiError(
            400, f"Invalid volume: UUIDs {both} are in both add and remove volume list."
        )  # assumption: the list prints as Python's
    for volume_id in add:
        volume = cloud.volume(ctx, volume_id.strip())
        if volume.volume_type_id not in group.volume_type_ids or volume.group_id not in (None, group.id):
            # assumption: one text for the checks of group/api.py _validate_add_volumes
            raise ApiError(
                400,
                f"Invalid volume: Cannot add volume {volume.id} to group {group.id} because volume type "
                f"{volume.volume_type_id} is not supported by the group.",
            )
        volume.group_id = group.id
    for volume_id in remove:
        volume = cloud.volume(ctx, volume_id.strip())
        if volume.group_id == group.id:
            volume.group_id = None
    if "name" in spec:
        group.name = _name(spec["name"], required=False)
    if "description" in spec:
        group.description = spec["description"]
    return empty(202)


def group_action(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /groups/{id}/action``: the fake knows ``delete`` and ``reset_status`` (an admin's)."""
    since(ctx, _GROUP_VOLUME)
    action, args = pick_action(req, {"delete": "delete", "reset_status": "reset_status"})
    group = find_group(cloud, ctx, params["id"])
    args = args if isinstance(args, dict) else {}
    if action == "reset_status":
        since(ctx, (3, 20))
        refuse_unless_admin(ctx, "group:reset_status")
        group.status = str(args.get("status") or group.status).lower()
        return empty(202)
    _refuse_cgsnapshot_type(group.group_type_id)
    _delete_group(cloud, group, as_bool(args.get("delete-volumes", False)))
    return empty(202)


def _delete_group(cloud: Cloud, group: VolumeGroup, delete_volumes: bool) -> None:
    if not delete_volumes and group.status not in ("available", "error"):
        raise ApiError(
            400,
            f"Invalid Group: Group status must be available or error, but current status is: {group.status}",
        )
    if any(s.group_id == group.id for s in cloud.state.group_snapshots.values()):
        raise ApiError(400, "Invalid Group: Group has existing snapshots.")
    volumes = [v for v in cloud.state.volumes.values() if v.group_id == group.id]
    if volumes and not delete_volumes:
        raise ApiError(
            400,
            f"Invalid Group: Group {group.id} still contains volumes. The delete-volumes flag is "
            "required to delete it.",
        )
    for volume in volumes:
        if any(a.attached for a in volume.attachments):
            raise ApiError(
                400, f"Invalid Group: Volume in group {group.id} is attached. Need to detach first."
            )
        if any(s.volume_id == volume.id for s in cloud.state.snapshots.values()):
            raise ApiError(400, "Invalid Group: Volume in group still has dependent snapshots.")
    for volume in volumes:
        volume.status, volume.updated = "deleting", cloud.now()
    group.status = "deleting"

    def finish() -> None:
        for volume in volumes:
            cloud.state.volumes.pop(volume.id, None)
        cloud.state.volume_groups.pop(group.id, None)

    cloud.later(finish)


# ================================================================================== group snapshots
def _find_group_snapshot(cloud: Cloud, ctx: Ctx, snapshot_id: str) -> GroupSnapshot:
    found = cloud.state.group_snapshots.get(snapshot_id)
    if found is None or not (ctx.is_admin or found.project_id == ctx.project_id):
        raise ApiError(404, f"GroupSnapshot {snapshot_id} could not be found.")
    return found


def _group_snapshot_view(cloud: Cloud, found: GroupSnapshot, ctx: Ctx) -> Json:
    view: Json = {
        "id": found.id,
        "group_id": found.group_id,
        "group_type_id": found.group_type_id,
        "status": found.status,
        "created_at": iso(cloud.wall(found.created), style="cinder"),
        "name": found.name,
        "description": found.description,
    }
    if ctx.at_least(*_PROJECT_ID_SHOWN) and ctx.is_admin:
        view["project_id"] = found.project_id
    return view


def list_group_snapshots(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_SNAPSHOTS)
    found = [
        s
        for s in cloud.visible(req, ctx, cloud.state.group_snapshots.values())
        if s.group_type_id != DEFAULT_CGSNAPSHOT_TYPE_ID
    ]
    chosen, _marker = page(found, req, lambda s: s.id)
    if req.path.endswith("/detail"):
        views = [_group_snapshot_view(cloud, s, ctx) for s in chosen]
    else:
        views = [{"id": s.id, "name": s.name, "group_type_id": s.group_type_id} for s in chosen]
    return Reply.json(STATUS_GOOD, {"group_snapshots": views})


def create_group_snapshot(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_SNAPSHOTS)
    spec = _spec(req, "group_snapshot")
    if "group_id" not in spec:
        raise _schema_error("group_snapshot", "'group_id' is a required property")
    group = find_group(cloud, ctx, str(spec["group_id"]))
    _refuse_cgsnapshot_type(group.group_type_id)
    volumes = sorted((v for v in cloud.state.volumes.values() if v.group_id == group.id), key=lambda v: v.seq)
    if group.status != "available":
        # assumption: the text of Cinder's check (the volume manager's status rules)
        raise ApiError(400, f"Invalid Group: Group {group.id} status must be available.")
    for volume in volumes:
        if volume.status not in ("available", "in-use"):
            raise ApiError(
                400,
                f"Invalid volume: Volume {volume.id} status must be available or in-use, but current "
                f"status is: {volume.status}.",
            )  # assumption: Cinder's text
    now = cloud.now()
    made = GroupSnapshot(
        id=str(uuid.uuid4()),
        project_id=ctx.project_id,
        user_id=ctx.user.id,
        group_id=group.id,
        group_type_id=group.group_type_id,
        name=_name(spec.get("name"), required=False),
        description=spec.get("description"),
        seq=cloud.state.next_seq(),
        created=now,
    )
    cloud.state.group_snapshots[made.id] = made
    members = [
        Snapshot(
            id=str(uuid.uuid4()),
            project_id=volume.project_id,
            user_id=ctx.user.id,
            volume_id=volume.id,
            name=f"snapshot-{made.id}",  # assumption: the name Cinder gives member snapshots
            description=made.description,
            size=volume.size,
            status="creating",
            seq=cloud.state.next_seq(),
            created=now,
            updated=now,
            group_snapshot_id=made.id,
        )
        for volume in volumes
    ]
    for member in members:
        cloud.state.snapshots[member.id] = member

    def finish() -> None:
        if made.status == "creating":
            made.status = "available"
        for member in members:
            if member.status == "creating":
                member.status, member.updated = "available", cloud.now()

    cloud.later(finish)
    return Reply.json(
        202, {"group_snapshot": {"id": made.id, "name": made.name, "group_type_id": made.group_type_id}}
    )


def get_group_snapshot(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_SNAPSHOTS)
    found = _find_group_snapshot(cloud, ctx, params["id"])
    _refuse_cgsnapshot_type(found.group_type_id)
    return Reply.json(STATUS_GOOD, {"group_snapshot": _group_snapshot_view(cloud, found, ctx)})


def delete_group_snapshot(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    since(ctx, _GROUP_SNAPSHOTS)
    found = _find_group_snapshot(cloud, ctx, params["id"])
    _refuse_cgsnapshot_type(found.group_type_id)
    if found.status not in ("available", "error"):
        raise ApiError(
            400,
            "Invalid GroupSnapshot: GroupSnapshot status must be available or error, and no Group can be "
            "currently using it as source for its creation.",
        )
    found.status = "deleting"
    members = [s for s in cloud.state.snapshots.values() if s.group_snapshot_id == found.id]
    for member in members:
        member.status, member.updated = "deleting", cloud.now()

    def finish() -> None:
        for member in members:
            cloud.state.snapshots.pop(member.id, None)
        cloud.state.group_snapshots.pop(found.id, None)

    cloud.later(finish)
    return empty(202)
