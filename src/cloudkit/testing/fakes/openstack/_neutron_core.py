"""Neutron's core resources in the OpenStack fake: networks and subnets; the views, lists and errors.

Errors use Neutron's envelope ``{"NeutronError": {"type", "message", "detail"}}`` (the exception's
class name as ``type``); `_neutron` serves the table, `_neutron_ports` adds ports and security groups
to it, `_neutron_l3` routers, floating IPs, the auto-allocated topology, subnet pools, extensions and
quotas.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, Routes
from cloudkit.testing.fakes.openstack._neutron_state import (
    Json,
    NeutronState,
    carve,
    default_pools,
    network_doc,
    subnet_doc,
    touch,
)
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, ApiError, as_bool, iso

ROUTES = Routes()
_PAGING_ARGS = frozenset({"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"})
# Fields the default policy shows an admin only (neutron/conf/policies: provider:*, binding:*).
_ADMIN_ONLY = frozenset(
    {
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
        "binding:host_id",
        "binding:profile",
        "binding:vif_type",
        "binding:vif_details",
        "distributed",
        "ha",
    }
)
_SINGULAR = {
    "networks": "network",
    "subnets": "subnet",
    "ports": "port",
    "routers": "router",
    "floatingips": "floatingip",
    "subnetpools": "subnetpool",
    "security_groups": "security_group",
    "security_group_rules": "security_group_rule",
}
_NOT_FOUND = {
    "networks": ("NetworkNotFound", "Network {} could not be found."),
    "subnets": ("SubnetNotFound", "Subnet {} could not be found."),
    "ports": ("PortNotFound", "Port {} could not be found."),
    "routers": ("RouterNotFound", "Router {} could not be found"),
    "floatingips": ("FloatingIPNotFound", "Floating IP {} could not be found"),
    "subnetpools": ("SubnetPoolNotFound", "Subnet pool {} could not be found."),
    "security_groups": ("SecurityGroupNotFound", "Security group {} does not exist"),
    "security_group_rules": ("SecurityGroupRuleNotFound", "Security group rule {} does not exist"),
}


@dataclass(eq=False, kw_only=True)
class NeutronError(ApiError):
    """An error Neutron answers in its own envelope, with the exception's class name as ``type``."""

    kind: str

    def neutron_reply(self) -> Reply:
        doc = {"NeutronError": {"type": self.kind, "message": self.message, "detail": ""}}
        return Reply.json(self.status, doc, self.headers)


def fail(status: int, kind: str, message: str) -> NeutronError:
    """Neutron's ``kind`` exception (its class name) with ``message``, answered with ``status``."""
    return NeutronError(status, message, kind=kind)


def bad_request(message: str) -> NeutronError:
    return fail(400, "HTTPBadRequest", message)


def policy_refusal(rule: str) -> NeutronError:
    return fail(403, "PolicyNotAuthorized", f"rule:{rule} is disallowed by policy")


def not_found(kind: str, item_id: str) -> NeutronError:
    name, text = _NOT_FOUND[kind]
    return fail(404, name, text.format(item_id))


def state_of(cloud: Cloud) -> NeutronState:
    return cloud.state.neutron


def body_item(req: Request, single: str) -> Json:
    """The ``{"<single>": {...}}`` of a create or update; Neutron's 400 otherwise."""
    try:
        doc = req.json() if req.body else None
    except ValueError:
        raise bad_request("Malformed request body") from None
    item = doc.get(single) if isinstance(doc, dict) else None
    if not isinstance(item, dict):
        raise bad_request(f"Resource body required. Expected '{single}' in request body.")
    return item


# ================================================================================== views and lists
def view(cloud: Cloud, ctx: Ctx, record: Json, fields: list[str] | None = None) -> Json:
    """What the caller sees of a record: its public fields and times, minus admin-only ones."""
    doc = {k: v for k, v in record.items() if not k.startswith("_")}
    doc["created_at"] = iso(cloud.wall(record["_created"]), style="nova")
    doc["updated_at"] = iso(cloud.wall(record["_updated"]), style="nova")
    if not ctx.is_admin:
        for key in _ADMIN_ONLY & doc.keys():
            del doc[key]
    if fields:
        doc = {k: v for k, v in doc.items() if k in fields}
    return doc


def _fields(req: Request) -> list[str] | None:
    wanted = [f for value in req.query.get("fields", []) for f in value.split(",") if f]
    return wanted or None


def _matches(record: Json, key: str, wanted: list[str]) -> bool:
    """Neutron's list filter: the field equals one of the values given for it (tags: has them all)."""
    value = record.get(key)
    if key == "tags":
        return all(tag in (value or []) for want in wanted for tag in want.split(","))
    if key in ("fixed_ips", "security_group_rules"):
        return True  # assumption: the fake filters on scalar fields (and tags) only
    return any(_equals(value, want) for want in wanted)


def _equals(value: object, want: str) -> bool:
    if isinstance(value, bool):
        return as_bool(want) == value
    if value is None:
        return want in ("", "None")
    if isinstance(value, list):
        return want in [str(v) for v in value]
    return str(value) == want


def listing(cloud: Cloud, req: Request, ctx: Ctx, kind: str) -> Reply:
    """``GET /<kind>``: the visible records matching every filter, with Neutron's paging links."""
    filters = {k: v for k, v in req.query.items() if k not in _PAGING_ARGS}
    found = [
        r
        for r in state_of(cloud).table(kind).values()
        if visible_to(cloud, ctx, kind, r)
        and all(_matches(r, key, wanted) for key, wanted in filters.items())
    ]
    marker = req.arg("marker")
    if marker is not None:
        index = next((n for n, r in enumerate(found) if r["id"] == marker), None)
        found = found[index + 1 :] if index is not None else found
    doc: Json = {}
    limit_text = req.arg("limit")
    if limit_text is not None and limit_text.isdigit() and int(limit_text) > 0:
        limit = int(limit_text)
        if len(found) > limit:
            href = f"{cloud.base_url}{req.path}?limit={limit}&marker={found[limit - 1]['id']}"
            doc[f"{kind}_links"] = [{"rel": "next", "href": href}]
        found = found[:limit]
    fields = _fields(req)
    doc[kind] = [view(cloud, ctx, r, fields) for r in found]
    return Reply.json(STATUS_GOOD, doc)


def owns(ctx: Ctx, record: Json) -> bool:
    return ctx.is_admin or record.get("project_id") == ctx.project_id


def network_visible(ctx: Ctx, network: Json) -> bool:
    return owns(ctx, network) or bool(network["shared"]) or bool(network["router:external"])


def subnet_visible(cloud: Cloud, ctx: Ctx, subnet: Json) -> bool:
    network = state_of(cloud).table("networks").get(subnet["network_id"])
    shared = network is not None and (network["shared"] or network["router:external"])
    return owns(ctx, subnet) or bool(shared)


def port_visible(cloud: Cloud, ctx: Ctx, port: Json) -> bool:
    network = state_of(cloud).table("networks").get(port["network_id"])
    return owns(ctx, port) or (network is not None and owns(ctx, network))


def visible_to(cloud: Cloud, ctx: Ctx, kind: str, record: Json) -> bool:
    """Whether the caller sees the record: its own, or a shared or external network's (admins: all)."""
    if kind == "networks":
        return network_visible(ctx, record)
    if kind == "subnets":
        return subnet_visible(cloud, ctx, record)
    if kind == "ports":
        return port_visible(cloud, ctx, record)
    if kind == "subnetpools":
        return owns(ctx, record) or bool(record["shared"])
    return owns(ctx, record)


def find(cloud: Cloud, ctx: Ctx, kind: str, item_id: str) -> Json:
    """The record the caller may see; Neutron's 404 otherwise (a hidden record is not found)."""
    record = state_of(cloud).table(kind).get(item_id)
    if record is None or not visible_to(cloud, ctx, kind, record):
        raise not_found(kind, item_id)
    return record


def shown(
    cloud: Cloud, req: Request, ctx: Ctx, kind: str, record: Json, *, status: int = STATUS_GOOD
) -> Reply:
    return Reply.json(status, {_SINGULAR[kind]: view(cloud, ctx, record, _fields(req))})


def project_of(ctx: Ctx, item: Json, rule: str) -> str:
    """The project a create is for: the caller's, or (an admin only) the one named in the body."""
    project = str(item.get("project_id") or item.get("tenant_id") or ctx.project_id)
    if project != ctx.project_id and not ctx.is_admin:
        raise policy_refusal(rule)
    return project


def apply_update(item: Json, record: Json, allowed: tuple[str, ...], now: float) -> None:
    """Neutron's PUT: only the resource's updatable attributes (400 naming another one)."""
    for key, value in item.items():
        if key not in allowed:
            raise bad_request(f"Cannot update read-only attribute {key}")
        record[key] = value
    touch(record, now)


# ================================================================================== networks
@ROUTES.route("GET", "/networks")
def _list_networks(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    return listing(cloud, req, ctx, "networks")


@ROUTES.route("GET", "/networks/{id}")
def _show_network(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    return shown(cloud, req, ctx, "networks", find(cloud, ctx, "networks", params["id"]))


@ROUTES.route("POST", "/networks")
def _create_network(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    item = body_item(req, "network")
    project = project_of(ctx, item, "create_network")
    for key in ("router:external", "shared", "provider:network_type", "is_default"):
        if key in item and not ctx.is_admin:
            raise policy_refusal(f"create_network:{key}")
    record = network_doc(
        project,
        str(item.get("name", "")),
        external=as_bool(item.get("router:external", False)),
        shared=as_bool(item.get("shared", False)),
        is_default=as_bool(item.get("is_default", False)),
    )
    for key in ("admin_state_up", "description", "mtu", "port_security_enabled"):
        if key in item:
            record[key] = item[key]
    ensure_default_group(cloud, project)
    state_of(cloud).add("networks", record, cloud.now())
    return shown(cloud, req, ctx, "networks", record, status=201)


@ROUTES.route("PUT", "/networks/{id}")
def _update_network(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    record = find(cloud, ctx, "networks", params["id"])
    if not owns(ctx, record):
        raise policy_refusal("update_network")
    allowed = ("name", "description", "admin_state_up", "mtu", "port_security_enabled", "shared")
    apply_update(body_item(req, "network"), record, allowed, cloud.now())
    return shown(cloud, req, ctx, "networks", record)


@ROUTES.route("DELETE", "/networks/{id}")
def _delete_network(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    state = state_of(cloud)
    record = find(cloud, ctx, "networks", params["id"])
    if not owns(ctx, record):
        raise policy_refusal("delete_network")
    if any(p["network_id"] == record["id"] for p in state.table("ports").values()):
        raise fail(
            409,
            "NetworkInUse",
            f"Unable to complete operation on network {record['id']}. There are one or more ports still "
            "in use on the network.",
        )
    for subnet_id in record["subnets"]:
        state.table("subnets").pop(subnet_id, None)
    del state.table("networks")[record["id"]]
    state.topologies = {p: n for p, n in state.topologies.items() if n != record["id"]}
    return Reply(204)


# ================================================================================== subnets
@ROUTES.route("GET", "/subnets")
def _list_subnets(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    return listing(cloud, req, ctx, "subnets")


@ROUTES.route("GET", "/subnets/{id}")
def _show_subnet(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    return shown(cloud, req, ctx, "subnets", find(cloud, ctx, "subnets", params["id"]))


@ROUTES.route("POST", "/subnets")
def _create_subnet(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    item = body_item(req, "subnet")
    record = create_subnet(cloud, ctx, item)
    return shown(cloud, req, ctx, "subnets", record, status=201)


def create_subnet(cloud: Cloud, ctx: Ctx, item: Json) -> Json:
    """A subnet on a network the caller owns, from a CIDR or a subnet pool (Neutron's checks)."""
    state = state_of(cloud)
    network_id = str(item.get("network_id") or "")
    if not network_id:
        raise bad_request("Failed to parse request. Required attribute 'network_id' not specified")
    network = find(cloud, ctx, "networks", network_id)
    if not owns(ctx, network):
        raise policy_refusal("create_subnet")
    ip_version = int(item.get("ip_version") or 0)
    if ip_version not in (4, 6):
        raise bad_request("Failed to parse request. Required attribute 'ip_version' not specified")
    pool = _subnet_pool(cloud, ctx, item, ip_version)
    parsed = _subnet_cidr(state, item, network, ip_version, pool)
    record = subnet_doc(
        network["project_id"] if ctx.is_admin else ctx.project_id,
        network_id,
        str(item.get("name", "")),
        str(parsed),
        ip_version=ip_version,
    )
    record["subnetpool_id"] = pool["id"] if pool is not None else None
    record["router:external"] = network["router:external"]
    if "gateway_ip" in item:
        record["gateway_ip"] = item["gateway_ip"]
        record["allocation_pools"] = default_pools(str(parsed), item["gateway_ip"])
    for key in (
        "allocation_pools",
        "enable_dhcp",
        "dns_nameservers",
        "host_routes",
        "description",
        "ipv6_ra_mode",
        "ipv6_address_mode",
        "service_types",
    ):
        if key in item:
            record[key] = item[key]
    state.add("subnets", record, cloud.now())
    network["subnets"].append(record["id"])
    touch(network, cloud.now())
    return record


def _subnet_cidr(
    state: NeutronState, item: Json, network: Json, ip_version: int, pool: Json | None
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The subnet's CIDR: the one asked for, or the pool's next free block; it overlaps no other."""
    cidr = item.get("cidr")
    if pool is not None and not cidr:
        cidr = carve(state, pool, item.get("prefixlen"))
        if cidr is None:
            raise fail(
                409,
                "SubnetAllocationError",
                "Failed to allocate subnet: Insufficient prefix space to allocate subnet size /"
                f"{item.get('prefixlen') or pool['default_prefixlen']}.",
            )
    if not cidr:
        raise bad_request("Bad subnets request: a subnetpool must be specified in the absence of a cidr.")
    try:
        parsed = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        raise bad_request(f"Invalid input for cidr. Reason: '{cidr}' is not a valid IP subnet.") from None
    if parsed.version != ip_version:
        raise bad_request(
            "Invalid input for operation: Requested subnet with cidr: "
            f"{cidr} does not match the ip_version {ip_version}."
        )
    for other_id in network["subnets"]:
        other = state.table("subnets")[other_id]
        if parsed.overlaps(ipaddress.ip_network(other["cidr"])):
            raise bad_request(
                f"Invalid input for operation: Requested subnet with cidr: {parsed} for network: "
                f"{network['id']} overlaps with another subnet."
            )
    return parsed


def _subnet_pool(cloud: Cloud, ctx: Ctx, item: Json, ip_version: int) -> Json | None:
    pool_id = item.get("subnetpool_id")
    if pool_id:
        return find(cloud, ctx, "subnetpools", str(pool_id))
    if as_bool(item.get("use_default_subnetpool", False)) or not item.get("cidr"):
        return next(
            (
                p
                for p in state_of(cloud).table("subnetpools").values()
                if p["is_default"] and p["ip_version"] == ip_version
            ),
            None,
        )
    return None


@ROUTES.route("PUT", "/subnets/{id}")
def _update_subnet(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    record = find(cloud, ctx, "subnets", params["id"])
    if not owns(ctx, record):
        raise policy_refusal("update_subnet")
    allowed = (
        "name",
        "description",
        "enable_dhcp",
        "dns_nameservers",
        "host_routes",
        "gateway_ip",
        "allocation_pools",
        "service_types",
    )
    apply_update(body_item(req, "subnet"), record, allowed, cloud.now())
    return shown(cloud, req, ctx, "subnets", record)


@ROUTES.route("DELETE", "/subnets/{id}")
def _delete_subnet(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    state = state_of(cloud)
    record = find(cloud, ctx, "subnets", params["id"])
    if not owns(ctx, record):
        raise policy_refusal("delete_subnet")
    in_use = any(
        ip["subnet_id"] == record["id"] for p in state.table("ports").values() for ip in p["fixed_ips"]
    )
    if in_use:
        raise fail(
            409,
            "SubnetInUse",
            f"Unable to complete operation on subnet {record['id']}: One or more ports have an IP "
            "allocation from this subnet.",
        )
    del state.table("subnets")[record["id"]]
    network = state.table("networks").get(record["network_id"])
    if network is not None:
        network["subnets"].remove(record["id"])
        touch(network, cloud.now())
    return Reply(204)


# ================================================================================== default security groups
def ensure_default_group(cloud: Cloud, project_id: str) -> str:
    """The project's ``default`` security group, made on first use as Neutron does; its id."""
    state = state_of(cloud)
    if not project_id:
        return ""
    for group in state.table("security_groups").values():
        if group["project_id"] == project_id and group["name"] == "default":
            return str(group["id"])
    now = cloud.now()
    group = state.add(
        "security_groups",
        {
            "name": "default",
            "tenant_id": project_id,
            "project_id": project_id,
            "description": "Default security group",
            "security_group_rules": [],
            "stateful": True,
            "shared": False,
        },
        now,
    )
    for direction, ethertype in (
        ("egress", "IPv4"),
        ("egress", "IPv6"),
        ("ingress", "IPv4"),
        ("ingress", "IPv6"),
    ):
        remote = group["id"] if direction == "ingress" else None
        add_rule(cloud, group, {"direction": direction, "ethertype": ethertype, "remote_group_id": remote})
    return str(group["id"])


def add_rule(cloud: Cloud, group: Json, item: Json) -> Json:
    """A rule of ``group`` (its document is also embedded in the group's ``security_group_rules``)."""
    rule: Json = {
        "tenant_id": group["project_id"],
        "project_id": group["project_id"],
        "security_group_id": group["id"],
        "direction": item.get("direction"),
        "ethertype": item.get("ethertype") or "IPv4",
        "protocol": item.get("protocol"),
        "port_range_min": item.get("port_range_min"),
        "port_range_max": item.get("port_range_max"),
        "remote_ip_prefix": item.get("remote_ip_prefix"),
        "remote_group_id": item.get("remote_group_id"),
        "remote_address_group_id": item.get("remote_address_group_id"),
        "normalized_cidr": item.get("remote_ip_prefix"),
        "belongs_to_default_sg": group["name"] == "default",
        "description": str(item.get("description") or ""),
    }
    record = state_of(cloud).add("security_group_rules", rule, cloud.now())
    stamp = iso(cloud.wall(record["_created"]), style="nova")
    embedded = {k: v for k, v in record.items() if not k.startswith("_") and k != "tags"}
    group["security_group_rules"].append({**embedded, "created_at": stamp, "updated_at": stamp})
    return record
