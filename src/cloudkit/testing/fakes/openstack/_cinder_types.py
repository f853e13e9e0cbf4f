"""Cinder's volume types: the types, their extra specs and who may use a private one.

Follows Cinder 29 (cinder/api/v3/types.py, api/contrib/types_manage.py, types_extra_specs.py and
volume_type_access.py, with the default policies): anyone reads the types they may use, only an admin
changes them; a member sees only the user-visible extra specs. ``__DEFAULT__`` is always there and
cannot be deleted. The routes are registered in ``_cinder``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, pick_action
from cloudkit.testing.fakes.openstack._state import DEFAULT_VOLUME_TYPE_ID, Json, VolumeType
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, as_bool, body_of, empty, page

# cinder/policies/type_extra_specs.py: what a caller without read_sensitive (a non-admin) is shown
_USER_VISIBLE_SPECS = ("RESKEY:availability_zones", "multiattach", "replication_enabled")
_ACCESS_KEY = "os-volume-type-access:is_public"


def refuse_unless_admin(ctx: Ctx, policy: str) -> None:
    """Cinder's PolicyNotAuthorized for a rule whose default is ``admin_api``."""
    if not ctx.is_admin:
        raise ApiError(403, f"Policy doesn't allow {policy} to be performed.")


def usable(vtype: VolumeType, ctx: Ctx) -> bool:
    """Whether the caller sees the type (cinder/db/api.py ``_volume_type_get_query``)."""
    return ctx.is_admin or vtype.is_public or ctx.project_id in vtype.projects


def find_type(cloud: Cloud, ctx: Ctx, type_id: str) -> VolumeType:
    """The type by id; Cinder's 404 when the caller cannot see it."""
    vtype = cloud.state.volume_types.get(type_id)
    if vtype is None or not usable(vtype, ctx):
        raise ApiError(404, f"Volume type {type_id} could not be found.")
    return vtype


def type_by_name_or_id(cloud: Cloud, ctx: Ctx, wanted: str) -> VolumeType:
    """The type a volume create names (``volume_types.get_by_name_or_id``); 404 otherwise."""
    vtype = cloud.state.volume_types.get(wanted)
    if vtype is not None and usable(vtype, ctx):
        return vtype
    for candidate in cloud.state.volume_types.values():
        if candidate.name == wanted and usable(candidate, ctx):
            return candidate
    raise ApiError(404, f"Volume type with name {wanted} could not be found.")


def default_type_id(cloud: Cloud, ctx: Ctx) -> str:
    """The caller's project's default type (``volume_types.get_default_volume_type``)."""
    return cloud.state.default_volume_types.get(ctx.project_id, DEFAULT_VOLUME_TYPE_ID)


def _visible_specs(vtype: VolumeType, ctx: Ctx) -> dict[str, str]:
    if ctx.is_admin:
        return dict(vtype.extra_specs)
    return {k: v for k, v in vtype.extra_specs.items() if k in _USER_VISIBLE_SPECS}


def _type_view(vtype: VolumeType, ctx: Ctx) -> Json:
    """The v3 show/list view with the access extension's key (every member may see it)."""
    view: Json = {
        "id": vtype.id,
        "name": vtype.name,
        "is_public": vtype.is_public,
        "description": vtype.description,
        "extra_specs": _visible_specs(vtype, ctx),
    }
    if ctx.is_admin:
        view["qos_specs_id"] = None
    view[_ACCESS_KEY] = vtype.is_public
    return view


def _manage_view(vtype: VolumeType) -> Json:
    """types_manage's (older) view for create and update: every extra spec, no qos_specs_id."""
    return {
        "id": vtype.id,
        "name": vtype.name,
        "is_public": vtype.is_public,
        "extra_specs": dict(vtype.extra_specs),
        "description": vtype.description,
    }


def _spec_of(req: Request) -> Json:
    spec = body_of(req).get("volume_type")
    if not isinstance(spec, dict):
        # assumption: the jsonschema text Cinder's validation prints
        raise ApiError(
            400, "Invalid input for field/attribute volume_type. 'volume_type' is a required property"
        )
    return spec


def _string_specs(specs: object) -> dict[str, str]:
    if not isinstance(specs, dict) or not all(isinstance(v, str) for v in specs.values()):
        # assumption: the jsonschema text Cinder's validation prints
        raise ApiError(400, "Invalid input for field/attribute extra_specs. Value: must be strings.")
    return {str(k): v for k, v in specs.items()}


# ================================================================================== types
def list_types(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    wanted = req.arg("is_public")
    if not ctx.is_admin or wanted is None:
        public: bool | None = True  # Cinder's default: public types and the caller's private ones
    elif wanted.strip().lower() == "none":
        public = None
    elif wanted.strip().lower() in ("true", "false", "1", "0", "yes", "no", "on", "off", "t", "f", "y", "n"):
        public = as_bool(wanted)
    else:
        raise ApiError(400, f"Invalid is_public filter [{wanted}]")
    types = sorted(
        (
            t
            for t in cloud.state.volume_types.values()
            if usable(t, ctx)
            and (public is None or t.is_public == public or (public and ctx.project_id in t.projects))
        ),
        key=lambda t: -t.seq,  # Cinder sorts by created_at, newest first
    )
    chosen, _marker = page(types, req, lambda t: t.id)
    return Reply.json(STATUS_GOOD, {"volume_types": [_type_view(t, ctx) for t in chosen]})


def create_type(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    refuse_unless_admin(ctx, "volume_extension:type_create")
    spec = _spec_of(req)
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:  # noqa: PLR2004 - schema's maxLength
        raise ApiError(400, f"Invalid input for field/attribute name. Value: {name}.")
    if any(t.name == name for t in cloud.state.volume_types.values()):
        raise ApiError(409, f"Volume Type {name} already exists.")
    vtype = VolumeType(
        id=str(uuid.uuid4()),
        name=name,
        description=spec.get("description"),
        is_public=as_bool(spec.get(_ACCESS_KEY, True)),
        seq=cloud.state.next_seq(),
        extra_specs=_string_specs(spec.get("extra_specs") or {}),
    )
    cloud.state.volume_types[vtype.id] = vtype
    view = _manage_view(vtype)
    view[_ACCESS_KEY] = vtype.is_public  # the access extension extends create too
    return Reply.json(STATUS_GOOD, {"volume_type": view})


def get_type(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    type_id = params["id"]
    if type_id == "default":
        type_id = default_type_id(cloud, ctx)
    return Reply.json(STATUS_GOOD, {"volume_type": _type_view(find_type(cloud, ctx, type_id), ctx)})


def update_type(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    refuse_unless_admin(ctx, "volume_extension:type_update")
    vtype = find_type(cloud, ctx, params["id"])
    spec = _spec_of(req)
    name, description, is_public = spec.get("name"), spec.get("description"), spec.get("is_public")
    if isinstance(name, str) and not name.strip():
        raise ApiError(400, "Volume type name can not be empty.")
    if name is None and description is None and is_public is None:
        raise ApiError(400, "Specify volume type name, description, is_public or a combination thereof.")
    if name is not None and any(
        t.name == name and t.id != vtype.id for t in cloud.state.volume_types.values()
    ):
        raise ApiError(409, f"Volume Type {name} already exists.")
    if vtype.id == DEFAULT_VOLUME_TYPE_ID and name not in (None, vtype.name):
        # assumption: Cinder's VolumeTypeUpdateFailed for renaming the default type
        raise ApiError(500, f"Cannot update volume_type {vtype.id}")
    vtype.name = name if name is not None else vtype.name
    vtype.description = description if description is not None else vtype.description
    vtype.is_public = as_bool(is_public) if is_public is not None else vtype.is_public
    return Reply.json(STATUS_GOOD, {"volume_type": _manage_view(vtype)})


def delete_type(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    refuse_unless_admin(ctx, "volume_extension:type_delete")
    vtype = find_type(cloud, ctx, params["id"])
    # __DEFAULT__ and any project's default type stay (volume_types.destroy)
    if vtype.id == DEFAULT_VOLUME_TYPE_ID or vtype.id in cloud.state.default_volume_types.values():
        raise ApiError(400, f"The volume type {vtype.id} is a default volume type and cannot be deleted.")
    in_groups = any(vtype.id in g.volume_type_ids for g in cloud.state.volume_groups.values())
    if in_groups or any(v.volume_type_id == vtype.id for v in cloud.state.volumes.values()):
        raise ApiError(400, "Target volume type is still in use.")
    del cloud.state.volume_types[vtype.id]
    return empty(202)


# ================================================================================== extra specs
def _refuse_if_in_use(cloud: Cloud, vtype: VolumeType) -> None:
    if any(v.volume_type_id == vtype.id for v in cloud.state.volumes.values()):
        raise ApiError(400, "Volume Type is currently in use.")


def list_extra_specs(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    vtype = find_type(cloud, ctx, params["id"])
    return Reply.json(STATUS_GOOD, {"extra_specs": _visible_specs(vtype, ctx)})


def set_extra_specs(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    refuse_unless_admin(ctx, "volume_extension:types_extra_specs:create")
    vtype = find_type(cloud, ctx, params["id"])
    _refuse_if_in_use(cloud, vtype)
    body = body_of(req)
    specs = _string_specs(body.get("extra_specs"))
    vtype.extra_specs.update(specs)
    return Reply.json(STATUS_GOOD, body)


def get_extra_spec(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    vtype = find_type(cloud, ctx, params["id"])
    key = params["key"]
    specs = _visible_specs(vtype, ctx)
    if key not in specs:
        raise ApiError(404, f"Volume Type {vtype.id} has no extra specs with key {key}.")
    return Reply.json(STATUS_GOOD, {key: specs[key]})


def put_extra_spec(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    refuse_unless_admin(ctx, "volume_extension:types_extra_specs:update")
    vtype = find_type(cloud, ctx, params["id"])
    _refuse_if_in_use(cloud, vtype)
    body = body_of(req)
    if params["key"] not in body:
        raise ApiError(400, "Request body and URI mismatch")
    vtype.extra_specs.update(_string_specs(body))
    return Reply.json(STATUS_GOOD, body)


def delete_extra_spec(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    vtype = find_type(cloud, ctx, params["id"])
    refuse_unless_admin(ctx, "volume_extension:types_extra_specs:delete")
    _refuse_if_in_use(cloud, vtype)
    if vtype.extra_specs.pop(params["key"], None) is None:
        raise ApiError(404, f"Volume Type {vtype.id} has no extra specs with key {params['key']}.")
    return empty(202)


# ================================================================================== type access
def list_type_access(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    refuse_unless_admin(ctx, "volume_extension:volume_type_access:get_all_for_type")
    vtype = find_type(cloud, ctx, params["id"])
    if vtype.is_public:
        raise ApiError(404, "Access list not available for public volume types.")
    access = [{"volume_type_id": vtype.id, "project_id": p} for p in vtype.projects]
    return Reply.json(STATUS_GOOD, {"volume_type_access": access})


def _add_access(vtype: VolumeType, project_id: str) -> None:
    if project_id in vtype.projects:
        raise ApiError(409, f"Volume type access for {vtype.id} / {project_id} combination already exists.")
    vtype.projects.append(project_id)  # Cinder does not check that the project exists


def _remove_access(vtype: VolumeType, project_id: str) -> None:
    if project_id not in vtype.projects:
        raise ApiError(404, f"Volume type access not found for {vtype.id} / {project_id} combination.")
    vtype.projects.remove(project_id)


_ACCESS_ACTIONS: dict[str, tuple[str, Callable[[VolumeType, str], None]]] = {
    "addProjectAccess": ("addProjectAccess", _add_access),
    "removeProjectAccess": ("removeProjectAccess", _remove_access),
}


def type_action(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    (policy_name, change), args = pick_action(req, _ACCESS_ACTIONS)
    refuse_unless_admin(ctx, f"volume_extension:volume_type_access:{policy_name}")
    project = args.get("project") if isinstance(args, dict) else None
    if not isinstance(project, str) or not 1 <= len(project) <= 255:  # noqa: PLR2004 - schema's maxLength
        raise ApiError(400, f"Invalid input for field/attribute project. Value: {project}.")
    vtype = find_type(cloud, ctx, params["id"])
    if vtype.is_public:
        raise ApiError(
            400, "Invalid volume type: Type access modification is not applicable to public volume type."
        )
    change(vtype, project)
    return empty(202)
