"""The action endpoints (fqname-to-id, ref-update, chmod, aaa-mode, ...), the Neutron proxy, the DHCP view."""

from __future__ import annotations

import copy
import ipaddress
import json
import uuid
from collections.abc import (
    Mapping,
)
from typing import (
    Any,
    cast,
)

from cloudkit.testing.fakes._kit import (
    Reply,
)
from cloudkit.testing.fakes.tungsten import _hooks as hooks
from cloudkit.testing.fakes.tungsten import _lists as lists
from cloudkit.testing.fakes.tungsten import _rbac as rbac
from cloudkit.testing.fakes.tungsten._rbac import (
    Caller,
)
from cloudkit.testing.fakes.tungsten._schema import (
    AAA_MODES,
    ACTIONS,
    BOTTLE_TEXT,
    KINDS,
    NEUTRON,
    PERMS_R,
    PERMS_RWX,
    PERMS_W,
    PERMS_X,
    AaaMode,
    Json,
    TfError,
    bare,
    check_vn_subnets,
    fmt,
    json_dict,
    parse_ip,
    subnet_network,
)
from cloudkit.testing.fakes.tungsten._store import (
    Obj,
    Store,
)


def aaa_mode_get(st: Store) -> Json:
    """``GET /aaa-mode``."""
    return {"aaa-mode": st.aaa_mode}


def aaa_mode_put(st: Store, caller: Caller, body: object) -> Json:
    """``PUT /aaa-mode``: an admin switches the mode."""
    mode = body.get("aaa-mode") if isinstance(body, dict) else None
    if mode not in AAA_MODES:
        # assumption: the real handler raises ValueError (a 500); a 400 with its text here
        raise TfError(400, f"Invalid aaa-mode {mode}")
    if not caller.admin:
        raise TfError(403, " Permission denied")
    st.aaa_mode = cast("AaaMode", mode)
    return {"aaa-mode": st.aaa_mode}


def home(st: Store) -> Json:
    """The home page: links to every collection, resource base and action."""
    base = st.base_url()
    links: list[Json] = [{"link": {"href": base, "name": "root", "rel": "root"}}]
    for name in KINDS:
        links.append({"link": {"href": f"{base}/{name}s", "name": name, "rel": "collection"}})
        links.append({"link": {"href": f"{base}/{name}", "name": name, "rel": "resource-base"}})
    links.extend(
        {"link": {"href": f"{base}/{action}", "name": action, "rel": "action"}} for action in ACTIONS
    )
    return {"href": base, "links": links}


def fq_name_to_id(st: Store, caller: Caller, body: Json) -> Json:
    kind = str(body.get("type") or "").replace("_", "-")
    if kind not in KINDS:
        raise TfError(404, f"Resource type '{body.get('type')}' not found")
    fq_name = body.get("fq_name")
    if not isinstance(fq_name, list):
        raise TfError(400, "Bad Request, fq_name must be a list")  # assumption: the real one raises KeyError
    found = st.find(kind, [str(p) for p in fq_name])
    if found is None and kind == "project" and len(fq_name) == 2:  # noqa: PLR2004 - [domain, project]
        found = hooks.project_from_keystone(st, name=str(fq_name[1]))
    if found is None:
        raise TfError(404, f"Name {fmt(fq_name)} not found")
    rbac.check(st, caller, found.uuid, found.perms2, PERMS_R)
    return {"uuid": found.uuid}


def id_to_fq_name(st: Store, caller: Caller, body: Json) -> Json:
    obj_uuid = str(body.get("uuid"))
    obj = st.objs.get(obj_uuid)
    if obj is not None:
        rbac.check(st, caller, obj.uuid, obj.perms2, PERMS_R)
    if obj is None:
        raise TfError(404, f"UUID {obj_uuid} not found")
    return {"fq_name": list(obj.fq_name), "type": obj.kind}


def ref_update(st: Store, caller: Caller, body: Json) -> Json:
    """ref_update_http_post: add (or re-attr) or delete one ref of one object."""
    kind, obj_uuid, ref_kind, operation = ref_update_fields(body)
    ref_field = f"{ref_kind.replace('-', '_')}_refs"
    if ref_field not in KINDS[kind].refs:
        raise TfError(400, f"Bad Request: {kind} has no reference field {ref_field}")  # assumption
    target_uuid, target = _ref_target(st, body, ref_kind, operation)
    obj = st.objs.get(obj_uuid)
    if obj is None or obj.kind != kind:
        raise TfError(404, f"Unknown id: {obj_uuid}")
    rbac.check(st, caller, obj.uuid, obj.perms2, PERMS_W)
    refs = [r for r in copy.deepcopy(obj.refs(ref_field)) if r["uuid"] != target_uuid or operation == "ADD"]
    if target is not None and operation == "ADD":
        rbac.check(st, caller, target.uuid, target.perms2, PERMS_X)
        attr = copy.deepcopy(body.get("attr"))
        if ref_field == "network_ipam_refs" and kind == "virtual-network" and attr is not None:
            try:
                check_vn_subnets(attr)
            except (TypeError, ValueError) as exc:
                raise TfError(400, f"Bad reference in ref-update: {exc}") from None
        existing = next((r for r in refs if r["uuid"] == target_uuid), None)
        if existing is None:
            refs.append({"to": list(target.fq_name), "uuid": target.uuid, "attr": attr})
        else:
            existing["attr"] = attr
    if kind == "virtual-network" and ref_field == "network_ipam_refs":
        candidate = obj.copy_with({ref_field: refs})
        hooks.vn_update(st, obj, candidate, {ref_field: refs})
        refs = candidate.refs(ref_field)
    obj.data[ref_field] = refs
    if body.get("relax_ref_for_delete") and operation == "ADD":
        obj.relaxed.add(target_uuid)
    return {"uuid": obj.uuid}


def _ref_target(st: Store, body: Json, ref_kind: str, operation: str) -> tuple[str, Obj | None]:
    """The ref's target by ``ref-uuid`` or ``ref-fq-name`` (a DELETE may name a gone uuid)."""
    ref_uuid, ref_fq = body.get("ref-uuid"), body.get("ref-fq-name")
    if not ref_uuid and not ref_fq:
        raise TfError(400, "Bad Request: ref-uuid or ref-fq-name must be specified")
    if not ref_uuid:
        target = st.find(ref_kind, [str(p) for p in cast("list[object]", ref_fq)])
        if target is None:
            raise TfError(404, f"Name {fmt(ref_fq)} not found")
        return target.uuid, target
    target = st.objs.get(str(ref_uuid))
    if target is None and operation == "ADD":
        raise TfError(404, f"Unknown id: {ref_uuid}")
    return str(ref_uuid), target


def ref_relax(st: Store, _caller: Caller, body: Json) -> Json:
    obj_uuid, ref_uuid = body.get("uuid"), body.get("ref-uuid")
    if None in (obj_uuid, ref_uuid):
        raise TfError(
            400, f"Bad Request: Both uuid and ref-uuid should be specified: {obj_uuid}, {ref_uuid}."
        )
    obj = st.objs.get(str(obj_uuid))
    if obj is None or str(ref_uuid) not in st.objs:
        raise TfError(404, f"uuid {obj_uuid} not found")
    obj.relaxed.add(str(ref_uuid))
    return {"uuid": obj.uuid}


def _perms_rw(st: Store, caller: Caller, obj: Obj) -> None:
    """obj_perms must include ``RW`` (chown, chmod)."""
    rw = PERMS_R | PERMS_W
    if rbac.rbac_on(st, caller) and rbac.granted(caller, obj.perms2, PERMS_RWX) & rw != rw:
        raise TfError(403, " Permission denied")


def _owned(st: Store, body: Json) -> Obj:
    obj_uuid = body.get("uuid")
    if not isinstance(obj_uuid, str):
        raise TfError(400, "'uuid'")
    try:
        uuid.UUID(obj_uuid)
    except ValueError:
        raise TfError(400, "Bad Request, invalid object id") from None
    obj = st.objs.get(obj_uuid)
    if obj is None:
        raise TfError(404, f"Unknown id: {obj_uuid}")
    return obj


def chown(st: Store, caller: Caller, body: Json) -> Json:
    obj = _owned(st, body)
    owner = body.get("owner")
    try:
        uuid.UUID(str(owner))
    except ValueError:
        raise TfError(400, "Bad Request, invalid owner") from None
    _perms_rw(st, caller, obj)
    obj.perms2["owner"] = str(owner)
    return {}


def chmod(st: Store, caller: Caller, body: Json) -> Json:
    """obj_chmod_http_post: owner, owner_access, global_access and share of one object."""
    obj = _owned(st, body)
    _perms_rw(st, caller, obj)
    perms2 = dict(obj.perms2)
    if body.get("owner"):
        try:
            uuid.UUID(str(body["owner"]))
        except ValueError:
            raise TfError(400, "Bad Request, invalid owner") from None
        perms2["owner"] = bare(str(body["owner"]))
    for key in ("owner_access", "global_access"):
        if body.get(key) is not None:
            if not valid_access(body[key]):
                raise TfError(400, f"Bad Request, invalid {key} value")
            perms2[key] = body[key]
    if body.get("share") is not None:
        check_share(body["share"])
        perms2["share"] = copy.deepcopy(body["share"])
    obj.data["perms2"] = perms2
    if obj.kind == "virtual-network" and body.get("global_access") is not None:
        obj.data["is_shared"] = body["global_access"] != 0
    return {}


def neutron(st: Store, caller: Caller, resource: str, body: object) -> Reply:
    """vnc_openstack's ``POST /neutron/<resource>``, read side only, run with the caller's identity.

    The Contrail neutron plugin forwards the end user's token, and the in-process VNC calls reuse
    the incoming identity (reference §2.5): what a READALL returns is what that token may read.
    """
    context, data = neutron_body(body)
    kind, not_found, id_key = NEUTRON[resource]
    operation = context.get("operation")
    if operation == "READ":
        obj = st.objs.get(str(data.get("id")))
        if obj is None or obj.kind != kind or not lists.listable(st, caller, obj):
            raise neutron_error(not_found, **{id_key: data.get("id")})
        return Reply.json(200, _neutron_view(st, obj))
    if operation != "READALL":
        # assumption: the fake serves reads only; writes go through the VNC API
        raise neutron_error("BadRequest", resource=resource, msg=f"operation {operation} is not simulated")
    tenant = str(context.get("tenant") or context.get("tenant_id") or "")
    filters = json_dict(data.get("filters"))
    found = []
    for obj in st.of_kind(kind):
        view = _neutron_view(st, obj)
        mine = view["tenant_id"] == tenant or view.get("shared") or view.get("router:external")
        if not lists.listable(st, caller, obj) or not (context.get("is_admin") or mine):
            continue
        if all(view.get(key) in values for key, values in filters.items() if isinstance(values, list)):
            found.append(view)
    return Reply(200, json.dumps(found).encode(), BOTTLE_TEXT)  # a str from the handler: bottle's type


def _neutron_view(st: Store, obj: Obj) -> Json:
    enabled = bool(obj.data["id_perms"].get("enable", True))
    tenant = bare(obj.parent_uuid or "")
    view: Json = {
        "id": obj.uuid,
        "name": obj.data.get("display_name") or obj.fq_name[-1],
        "tenant_id": tenant,
        "project_id": tenant,
        "admin_state_up": enabled,
    }
    if obj.kind == "virtual-network":
        view.update(
            {
                "shared": bool(obj.data.get("is_shared")),
                "status": "ACTIVE" if enabled else "DOWN",
                "router:external": bool(obj.data.get("router_external")),
                "mtu": obj.data.get("mtu"),
                "subnets": [s["subnet_uuid"] for s in st.subnets(obj)],
            }
        )
        return view
    gateway = next(iter(obj.refs("virtual_network_refs")), None)
    view.update(
        {
            "shared": False,
            "status": "ACTIVE",
            "gw_port_id": None,
            "external_gateway_info": {"network_id": gateway["uuid"], "enable_snat": True}
            if gateway
            else None,
        }
    )
    return view


def guest_dhcp_options(st: Store, vmi_uuid: str) -> dict[str, str]:
    """The DHCP options a guest on this port gets: VMI over subnet over IPAM (agent precedence)."""
    vmi = st.lookup("virtual-machine-interface", vmi_uuid)
    vn_refs = vmi.refs("virtual_network_refs")
    vn = st.objs.get(vn_refs[0]["uuid"]) if vn_refs else None
    address = _port_address(st, vmi)
    layers: list[object] = []
    if vn is not None:
        ipams = [st.objs.get(ref["uuid"]) for ref in vn.refs("network_ipam_refs")]
        layers.extend(json_dict(i.data.get("network_ipam_mgmt")).get("dhcp_option_list") for i in ipams if i)
        layers.extend(
            s.get("dhcp_option_list")
            for s in st.subnets(vn)
            if address is not None and address in subnet_network(s)
        )
    layers.append(vmi.data.get("virtual_machine_interface_dhcp_option_list"))
    options: dict[str, str] = {}
    for layer in layers:
        for option in json_dict(layer).get("dhcp_option") or []:
            name = str(option.get("dhcp_option_name"))
            options[DHCP_NAMES.get(name, name)] = str(option.get("dhcp_option_value"))
    return options


def _port_address(st: Store, vmi: Obj) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    for iip in st.of_kind("instance-ip"):
        if any(r["uuid"] == vmi.uuid for r in iip.refs("virtual_machine_interface_refs")):
            return parse_ip(iip.data.get("instance_ip_address"))
    return None


def ref_update_fields(body: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """type, uuid, ref-type and operation of a ref-update, with contrail-api's 404/400 texts."""
    kind, obj_uuid, ref_kind, operation = (body.get(k) for k in ("type", "uuid", "ref-type", "operation"))
    for name in (kind, ref_kind):
        if name is not None and name not in KINDS:
            raise TfError(404, f"Resource type '{name}' not found")
    if None in (kind, obj_uuid, ref_kind, operation):
        fields = f"{kind}, {obj_uuid}, {ref_kind}, {operation}"
        raise TfError(400, f"Bad Request: type/uuid/ref-type/operation is null: {fields}.")
    operation = str(operation).upper()
    if operation not in ("ADD", "DELETE"):
        raise TfError(400, f"Bad Request: operation should be add or delete: {operation}")
    return str(kind), str(obj_uuid), str(ref_kind), operation


def valid_access(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= PERMS_RWX


def check_share(share: object) -> None:
    """The share list of chmod: ``[{"tenant": "[tenant:|domain:]<uuid>", "tenant_access": 0-7}]``."""
    if not isinstance(share, list):
        raise TfError(400, "Bad Request, invalid share list")
    for item in share:
        share_type, _, share_id = str(json_dict(item).get("tenant", "")).rpartition(":")
        try:
            uuid.UUID(share_id)
        except ValueError:
            raise TfError(400, "Bad Request, invalid share list") from None
        access = json_dict(item).get("tenant_access")
        if share_type not in ("", "tenant", "domain") or not valid_access(access):
            raise TfError(400, "Bad Request, invalid share list")


def neutron_body(body: object) -> tuple[Json, Json]:
    """``{"context": {...}, "data": {...}}``; tenant and tenant_id must agree (_get_requests_data)."""
    if not isinstance(body, dict) or not isinstance(body.get("context"), dict) or "data" not in body:
        raise TfError(400, "Unable to parse request data: 'context'")
    context = dict(body["context"])
    if context.get("tenant") and context.get("tenant_id") and context["tenant"] != context["tenant_id"]:
        raise TfError(400, "Unable to parse request data")
    return context, json_dict(body["data"])


def neutron_error(exception: str, **kwargs: object) -> TfError:
    """vnc_openstack's errors: 400 with a JSON body naming the Neutron exception."""
    return TfError(400, json.dumps({"exception": exception, **kwargs}))


DHCP_NAMES = {
    "26": "interface-mtu",
    "6": "domain-name-servers",
    "15": "domain-name",
}
