"""Create, read, update and delete of one object (http_resource_create and friends)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import (
    Callable,
    Mapping,
)
from typing import (
    Any,
    cast,
)

from cloudkit.testing.fakes._kit import (
    Request,
)
from cloudkit.testing.fakes.tungsten import _hooks as hooks
from cloudkit.testing.fakes.tungsten import _rbac as rbac
from cloudkit.testing.fakes.tungsten._rbac import (
    Caller,
)
from cloudkit.testing.fakes.tungsten._schema import (
    CLOUD_ADMIN,
    KINDS,
    PERMS_R,
    PERMS_W,
    PERMS_X,
    SYSTEM_VNS,
    Json,
    Kind,
    TfError,
    as_list,
    bare,
    check_prop,
    check_vn_subnets,
    fmt,
    json_dict,
    now_iso,
    post_body,
    post_fq_name,
)
from cloudkit.testing.fakes.tungsten._store import (
    Obj,
    Shape,
    Store,
)


def read(st: Store, req: Request, caller: Caller, kind: str, obj_uuid: str) -> Json:
    if obj_uuid not in st.objs and kind == "project":
        try:
            project_id = uuid.UUID(obj_uuid).hex
        except ValueError:
            project_id = None
        if project_id is not None:
            hooks.project_from_keystone(st, project_id=project_id)  # pre_project_read: the keystone sync
    obj = st.lookup(kind, obj_uuid)
    rbac.check(st, caller, obj.uuid, obj.perms2, PERMS_R)
    if not obj.data["id_perms"].get("user_visible", True) and not caller.admin:
        raise TfError(404, f"This object is not visible by users: {obj_uuid}")
    fields_arg = req.arg("fields")
    fields = frozenset(fields_arg.split(",")) if fields_arg is not None else None
    shape = Shape(
        fields=fields,
        children=fields is not None or "exclude_children" not in req.query,
        back_refs=fields is not None or "exclude_back_refs" not in req.query,
        hrefs="exclude_hrefs" not in req.query,
    )
    return st.view(obj, shape)


def create(st: Store, caller: Caller, kind: str, body: object) -> Json:
    """http_resource_create, in contrail-api's order of checks."""
    info = KINDS[kind]
    obj_dict = post_body(kind, body)
    request_repr = repr(copy.deepcopy(obj_dict))
    fq_name = post_fq_name(obj_dict)
    id_perms_in = json_dict(obj_dict.get("id_perms"))
    if id_perms_in.get("user_visible", True) is False and not caller.admin:
        raise TfError(400, "This object is not visible by users")
    _validate_props(info, obj_dict, "create")
    _validate_refs(info, obj_dict, "create")
    existing = st.find(kind, fq_name)
    if existing is not None:
        raise TfError(409, f"{fmt(fq_name)} already exists with uuid: {existing.uuid}")
    parent_type = _parent_type(info, obj_dict, fq_name)
    perms2 = _new_perms2(st, caller, info, obj_dict, fq_name=fq_name, parent_type=parent_type)
    obj_uuid = _new_uuid(st, obj_dict)
    parent = _parent_for_create(st, caller, parent_type, fq_name)
    refs = _link_refs(
        st, caller, info, obj_dict, lambda: f"Unknown reference in resource create {request_repr}."
    )
    data: Json = {k: v for k, v in obj_dict.items() if k in info.props}
    data.update(refs)
    data["perms2"] = perms2
    data["id_perms"] = st.id_perms(
        obj_uuid,
        user_visible=id_perms_in.get("user_visible", True) is not False,
        description=cast("str | None", id_perms_in.get("description")),
    )
    if "enable" in id_perms_in:
        data["id_perms"]["enable"] = bool(id_perms_in["enable"])
    if data.get("display_name") is None:
        data["display_name"] = fq_name[-1]
    obj = Obj(
        kind, obj_uuid, fq_name, parent.kind if parent else None, parent.uuid if parent else None, data, 0
    )
    hook = hooks.PRE_CREATE.get(kind)
    if hook is not None:
        hook(st, obj)
    obj.seq = st.next_seq()
    st.put(obj)
    hooks.post_create(st, obj)
    reply = st.link(kind, obj_uuid, fq_name, hrefs=True)
    reply["name"] = fq_name[-1]
    del reply["to"]
    reply["fq_name"] = fq_name
    if parent is not None:
        reply.update(
            parent_type=parent.kind,
            parent_uuid=parent.uuid,
            parent_href=st.href(parent.kind, parent.uuid),
        )
    return {kind: reply}


def _new_uuid(st: Store, obj_dict: Mapping[str, Any]) -> str:
    """A client-supplied uuid must be canonical and unused; otherwise a fresh uuid4."""
    obj_uuid = obj_dict.get("uuid")
    if obj_uuid is None:
        return str(uuid.uuid4())
    try:
        canonical = str(uuid.UUID(str(obj_uuid)))
    except ValueError:
        canonical = ""
    if canonical != obj_uuid:
        raise TfError(400, f"Invalid UUID format: {obj_uuid}")
    if obj_uuid in st.objs:
        raise TfError(409, f"{obj_uuid} already exists with fq_name: {fmt(st.objs[obj_uuid].fq_name)}")
    return canonical


def _parent_for_create(st: Store, caller: Caller, parent_type: str | None, fq_name: list[str]) -> Obj | None:
    """The parent must exist (400) and the caller needs write permission on it."""
    if parent_type is None:
        return None
    parent = _parent(st, parent_type, fq_name)
    if parent is None:
        raise TfError(400, f"Parent {fmt(fq_name[:-1])} type {parent_type} does not exist")
    rbac.check(st, caller, parent.uuid, parent.perms2, PERMS_W)
    return parent


def _parent(st: Store, parent_type: str, fq_name: list[str]) -> Obj | None:
    parent = st.find(parent_type, fq_name[:-1])
    if parent is None and parent_type == "project" and len(fq_name) == 3:  # noqa: PLR2004 - d:p:name
        parent = hooks.project_from_keystone(st, name=fq_name[1])  # assumption: the keystone poll has run
    return parent


def _parent_type(info: Kind, obj_dict: Mapping[str, Any], fq_name: list[str]) -> str | None:
    """validate_parent_type, with contrail-api's messages."""
    allowed = list(info.parents) or ["config-root"]
    parent_type = obj_dict.get("parent_type")
    if parent_type == "config-root":
        parent_type = None
    if parent_type:
        if parent_type not in allowed:
            raise TfError(400, f"Invalid parent type: {parent_type}. Allowed types: {allowed}")
    elif len(allowed) > 1:
        raise TfError(400, f"Missing parent type: {parent_type}. Allowed types: {allowed}")
    elif allowed != ["config-root"]:
        parent_type = allowed[0]
    if parent_type is None:
        if len(fq_name) != 1:
            raise TfError(400, f"Invalid fq-name of an object with no parent: {fq_name}")
    elif len(fq_name) < 2:  # noqa: PLR2004 - parent and name
        raise TfError(400, f"Invalid fq-name for object with parent_type {parent_type}: {fq_name}")
    return cast("str | None", parent_type)


def _new_perms2(
    st: Store,
    caller: Caller,
    info: Kind,
    obj_dict: Mapping[str, Any],
    *,
    fq_name: list[str],
    parent_type: str | None,
) -> Json:
    """_ensure_perms2_present: who owns a new object (reference §2.4)."""
    perms2 = st.perms2(CLOUD_ADMIN)
    requested = obj_dict.get("perms2")
    if info.name == "project" and "uuid" in obj_dict:
        perms2["owner"] = bare(str(obj_dict["uuid"]))
    elif isinstance(requested, dict) and requested.get("owner"):
        perms2["owner"] = requested["owner"]
    elif parent_type is not None and parent_type != "domain":
        perms2["owner"] = _parent_owner(st, parent_type, obj_dict, fq_name)
    else:  # a domain's child or a config-root object: the caller's project
        perms2["owner"] = caller.project_id or CLOUD_ADMIN
    if isinstance(requested, dict):
        perms2.update(copy.deepcopy(requested))
    return perms2


def _parent_owner(st: Store, parent_type: str, obj_dict: Mapping[str, Any], fq_name: list[str]) -> str:
    """A child of a project, VN or pool is owned like its parent, whoever asks."""
    parent_uuid = obj_dict.get("parent_uuid")
    if parent_uuid is None:
        parent = _parent(st, parent_type, fq_name)
        if parent is None:
            # contrail-api looks the parent up here, before its own parent check: 404, not 400
            raise TfError(404, f"Name{fmt(fq_name[:-1])} not found")
    else:
        parent = st.objs.get(str(parent_uuid))
        if parent is None:
            snake = parent_type.replace("-", "_")
            raise TfError(404, f"Parent {snake} cannot be found: Unknown id: {parent_uuid}")
    return str(parent.perms2["owner"])


def _validate_props(info: Kind, obj_dict: Json, operation: str) -> None:
    """_validate_props_in_request for the simple properties and a few complex ones."""
    where = "Bad property in create: " if operation == "create" else "Bad property in http_put: "
    for name in sorted(info.props & obj_dict.keys()):
        value = obj_dict[name]
        if value is None or value in ("", [], {}, 0, False):
            continue
        simple = name in info.ints or name in info.bools or name in info.strings
        if not simple and not isinstance(value, dict):
            raise TfError(400, f"{where}Error in property {name} type {name} value of {value} ")
        try:
            obj_dict[name] = check_prop(info, name, value)
        except (TypeError, ValueError) as exc:
            detail = str(exc) if simple else f"{name} value {value} {exc}"
            raise TfError(400, f"{where}Error validating property {detail}") from None


def _validate_refs(info: Kind, obj_dict: Json, operation: str) -> None:
    where = "Bad reference in create: " if operation == "create" else "Bad reference in http_put: "
    for ref_field in info.refs:
        refs = obj_dict.get(ref_field)
        if refs is None:
            continue
        if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
            raise TfError(400, f"{where}{ref_field} must be a list of references")  # assumption
        subnet_refs = ref_field == "network_ipam_refs" and info.name == "virtual-network"
        for ref in refs if subnet_refs else []:
            try:
                if ref.get("attr") is not None:
                    check_vn_subnets(ref["attr"])
            except (TypeError, ValueError) as exc:
                raise TfError(
                    400, f"{where}Error validating reference {ref_field} value {ref} {exc}"
                ) from None


def _link_refs(
    st: Store, caller: Caller, info: Kind, obj_dict: Mapping[str, Any], unknown: Callable[[], str]
) -> Json:
    """Resolve every ref of the body (uuid or fq_name), checking link permission on each target."""
    refs: Json = {}
    for ref_field, target in info.refs.items():
        given = obj_dict.get(ref_field)
        if given is None:
            continue
        resolved = []
        for ref in cast("list[object]", given):
            found = _resolve_ref(st, target, ref)
            if found is None:
                raise TfError(400, unknown())
            rbac.check(st, caller, found.uuid, found.perms2, PERMS_X)
            attr = cast("Json", ref).get("attr")
            resolved.append({"to": list(found.fq_name), "uuid": found.uuid, "attr": copy.deepcopy(attr)})
        refs[ref_field] = resolved
    return refs


def _resolve_ref(st: Store, target: str, ref: object) -> Obj | None:
    if not isinstance(ref, dict):
        return None
    ref_uuid = ref.get("uuid")
    if isinstance(ref_uuid, str) and ref_uuid:
        found = st.objs.get(ref_uuid)
        return found if found is not None and found.kind == target else None
    fq = as_list(ref.get("to"))
    if fq is None:
        return None
    found = st.find(target, fq)
    if found is None and target == "project" and len(fq) == 2:  # noqa: PLR2004 - [domain, project]
        found = hooks.project_from_keystone(st, name=fq[1])
    return found


def update(st: Store, caller: Caller, kind: str, obj_uuid: str, body: object) -> Json | None:
    """http_resource_update: only the given fields change; a given ref list replaces the stored one."""
    info = KINDS[kind]
    if not body or not isinstance(body, dict) or not body.get(kind):
        return None
    if not isinstance(body[kind], dict):
        raise TfError(400, f"Bad Request, {kind} must be a JSON object")  # assumption
    obj_dict: Json = copy.deepcopy(body[kind])
    if "perms2" in obj_dict and "owner" not in json_dict(obj_dict["perms2"]):
        raise TfError(400, "owner in perms2 must be present")
    obj = st.lookup(kind, obj_uuid)
    if not obj.data["id_perms"].get("user_visible", True) and not caller.admin:
        raise TfError(404, f"This object is not visible by users: {obj_uuid}")
    _validate_props(info, obj_dict, "update")
    _validate_refs(info, obj_dict, "update")
    rbac.check(st, caller, obj.uuid, obj.perms2, PERMS_W)
    refs = _link_refs(st, caller, info, obj_dict, lambda: f"Unknown reference in resource update {obj_dict}.")
    changes = {k: v for k, v in obj_dict.items() if k in info.props and k not in ("id_perms", "perms2")}
    hooks.pre_update(kind, obj, changes)
    candidate = obj.copy_with({**changes, **refs})
    if "perms2" in obj_dict:
        candidate.data["perms2"] = {**obj.perms2, **copy.deepcopy(obj_dict["perms2"])}
    id_perms_in = json_dict(obj_dict.get("id_perms"))
    candidate.data["id_perms"].update(
        {k: v for k, v in id_perms_in.items() if k in ("enable", "description")}
    )
    if kind == "virtual-network":
        hooks.vn_update(st, obj, candidate, obj_dict)
    candidate.data["id_perms"]["last_modified"] = now_iso()
    obj.data = candidate.data
    return {kind: {"uuid": obj.uuid, "href": st.href(kind, obj.uuid)}}


def delete(st: Store, caller: Caller, kind: str, obj_uuid: str) -> None:
    """http_resource_delete: 409 while non-default children or unrelaxed back-refs exist."""
    obj = st.objs.get(obj_uuid)
    if obj is None:
        raise TfError(404, f"ID {obj_uuid} does not exist")
    if obj.kind != kind:
        raise TfError(404, f"No {kind} object found for id {obj_uuid}")
    if not obj.data["id_perms"].get("user_visible", True) and not caller.admin:
        raise TfError(404, f"This object is not visible by users: {obj_uuid}")
    owner = str(obj.perms2.get("owner", ""))
    rbac.check(st, caller, obj.parent_uuid, obj.perms2, PERMS_W, owner_for_delete=owner)
    if kind == "virtual-network" and tuple(obj.fq_name[-1:]) in SYSTEM_VNS:
        # assumption: virtual_network_http_delete's text for the system VNs
        raise TfError(409, f"Cannot delete system virtual network {obj.fq_name[-1]}")
    children = [c for members in st.children(obj).values() for c in members]
    blocking = [st.href(c.kind, c.uuid) for c in children if not hooks.auto_child(obj, c)]
    if blocking:
        raise TfError(409, f"Delete when children still present: {blocking}")
    referrers = [st.href(o.kind, o.uuid) for o, _ref in st.back_refs(obj) if obj.uuid not in o.relaxed]
    if referrers:
        raise TfError(409, f"Delete when resource still referred: {referrers}")
    for child in children:
        st.drop(child)
    st.drop(obj)
    _forget_refs_to(st, obj)


def _forget_refs_to(st: Store, gone: Obj) -> None:
    """Refs relaxed for delete go with the object they pointed at."""
    for other in st.objs.values():
        for ref_field in KINDS[other.kind].refs:
            if any(r["uuid"] == gone.uuid for r in other.refs(ref_field)):
                other.data[ref_field] = [r for r in other.refs(ref_field) if r["uuid"] != gone.uuid]
        other.relaxed.discard(gone.uuid)
