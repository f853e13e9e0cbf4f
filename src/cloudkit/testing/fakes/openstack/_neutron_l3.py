"""Neutron's router plugin and friends in the OpenStack fake: routers, floating IPs, auto-allocation,
subnet pools, the extension list and quotas.

No L3 agent runs (as in the lab): routers answer ``ACTIVE`` and floating IPs stay ``DOWN``, but an
association still needs a router that joins the port's subnet to the floating network, as Neutron checks.
"""  # noqa: D205 (the summary needs the list)

from __future__ import annotations

import functools
import importlib.resources
import json

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, Routes
from cloudkit.testing.fakes.openstack._neutron_core import (
    apply_update,
    body_item,
    create_subnet,
    fail,
    find,
    listing,
    network_visible,
    policy_refusal,
    project_of,
    shown,
    state_of,
)
from cloudkit.testing.fakes.openstack._neutron_ports import create_port, delete_port
from cloudkit.testing.fakes.openstack._neutron_state import Json, network_doc, touch
from cloudkit.testing.fakes.openstack._wire import STATUS_GOOD, as_bool

# Neutron's default quotas (neutron/conf/quota.py); the fake does not enforce them.
_QUOTAS = {
    "network": 100,
    "subnet": 100,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
    "subnetpool": -1,
    "rbac_policy": 10,
}


@functools.cache
def _extensions() -> list[Json]:
    # The extensions Neutron 29 announces with ML2 (port_security), router, auto_allocate and its
    # default service plugins, with their own names, descriptions and dates (neutron_lib definitions).
    text = importlib.resources.files(__package__).joinpath("_neutron_extensions.json").read_text()
    return [{**e, "links": []} for e in json.loads(text)]


# ================================================================================== routers
def _router_view_fields(router: Json) -> None:
    router.setdefault("routes", [])
    router.setdefault("availability_zone_hints", [])
    router.setdefault("availability_zones", [])


def _gateway(cloud: Cloud, ctx: Ctx, router: Json, info: object) -> None:
    """Set (or clear, with None) the router's gateway: a port on the external network."""
    state = state_of(cloud)
    old = [
        p
        for p in state.table("ports").values()
        if p["device_id"] == router["id"] and p["device_owner"] == "network:router_gateway"
    ]
    for port in old:
        delete_port(cloud, port)
    if not isinstance(info, dict) or not info.get("network_id"):
        router["external_gateway_info"] = None
        return
    network = find(cloud, ctx, "networks", str(info["network_id"]))
    if not network["router:external"]:
        raise fail(
            400, "BadRequest", f"Bad router request: Network {network['id']} is not an external network."
        )
    if "enable_snat" in info and not ctx.is_admin:
        raise policy_refusal("create_router:external_gateway_info:enable_snat")
    port = create_port(
        cloud, network, "", {"device_owner": "network:router_gateway", "device_id": router["id"]}
    )
    router["external_gateway_info"] = {
        "network_id": network["id"],
        "enable_snat": as_bool(info.get("enable_snat", True)),
        "external_fixed_ips": [dict(ip) for ip in port["fixed_ips"]],
    }


def _create_router(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    item = body_item(req, "router")
    record = create_router(cloud, ctx, item)
    return shown(cloud, req, ctx, "routers", record, status=201)


def create_router(cloud: Cloud, ctx: Ctx, item: Json) -> Json:
    project = project_of(ctx, item, "create_router")
    record: Json = {
        "name": str(item.get("name", "")),
        "tenant_id": project,
        "project_id": project,
        "admin_state_up": bool(item.get("admin_state_up", True)),
        "status": "ACTIVE",
        "external_gateway_info": None,
        "distributed": False,
        "ha": False,
        "flavor_id": None,
        "description": str(item.get("description", "")),
    }
    _router_view_fields(record)
    state_of(cloud).add("routers", record, cloud.now())
    _gateway(cloud, ctx, record, item.get("external_gateway_info"))
    return record


def _update_router(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    record = find(cloud, ctx, "routers", params["id"])
    item = body_item(req, "router")
    if "external_gateway_info" in item:
        _gateway(cloud, ctx, record, item.pop("external_gateway_info"))
    apply_update(item, record, ("name", "description", "admin_state_up", "routes"), cloud.now())
    return shown(cloud, req, ctx, "routers", record)


def _interfaces(cloud: Cloud, router_id: str) -> list[Json]:
    return [
        p
        for p in state_of(cloud).table("ports").values()
        if p["device_id"] == router_id and p["device_owner"] == "network:router_interface"
    ]


def _delete_router(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    record = find(cloud, ctx, "routers", params["id"])
    if _interfaces(cloud, record["id"]):
        raise fail(409, "RouterInUse", f"Router {record['id']} still has ports")
    _gateway(cloud, ctx, record, None)
    del state_of(cloud).table("routers")[record["id"]]
    return Reply(204)


def _interface_answer(router: Json, port: Json) -> Reply:
    subnet_ids = [ip["subnet_id"] for ip in port["fixed_ips"]]
    doc = {
        "id": router["id"],
        "tenant_id": router["project_id"],
        "project_id": router["project_id"],
        "port_id": port["id"],
        "network_id": port["network_id"],
        "subnet_id": subnet_ids[0] if subnet_ids else None,
        "subnet_ids": subnet_ids,
    }
    return Reply.json(STATUS_GOOD, doc)


def _interface_request(req: Request) -> Json:
    """The body of add_router_interface / remove_router_interface: a subnet_id or a port_id."""
    try:
        item = req.json() if req.body else {}
    except ValueError:
        item = None
    if not isinstance(item, dict) or not (item.get("subnet_id") or item.get("port_id")):
        raise fail(400, "BadRequest", "Bad router request: Either subnet_id or port_id must be specified.")
    return item


def _add_interface(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    router = find(cloud, ctx, "routers", params["id"])
    return _interface_answer(router, add_interface(cloud, ctx, router, _interface_request(req)))


def add_interface(cloud: Cloud, ctx: Ctx, router: Json, item: Json) -> Json:
    """Join a subnet (a new port on its gateway address) or an existing port to the router."""
    if item.get("port_id"):
        port = find(cloud, ctx, "ports", str(item["port_id"]))
        if port["device_id"]:
            raise fail(
                409,
                "PortInUse",
                f"Unable to complete operation on port {port['id']} for network {port['network_id']}. "
                f"Port already has an attached device {port['device_id']}.",
            )
        port.update(device_id=router["id"], device_owner="network:router_interface")
        touch(port, cloud.now())
        return port
    subnet = find(cloud, ctx, "subnets", str(item["subnet_id"]))
    if not subnet["gateway_ip"]:
        raise fail(
            400, "BadRequest", "Bad router request: Subnet for router interface must have a gateway IP."
        )
    for port in _interfaces(cloud, router["id"]):
        if any(ip["subnet_id"] == subnet["id"] for ip in port["fixed_ips"]):
            raise fail(
                400, "BadRequest", f"Bad router request: Router already has a port on subnet {subnet['id']}."
            )
    network = find(cloud, ctx, "networks", subnet["network_id"])
    spec = {
        "device_owner": "network:router_interface",
        "device_id": router["id"],
        "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": subnet["gateway_ip"]}],
    }
    return create_port(cloud, network, router["project_id"], spec)


def _remove_interface(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    router = find(cloud, ctx, "routers", params["id"])
    item = _interface_request(req)
    for port in _interfaces(cloud, router["id"]):
        subnets = {ip["subnet_id"] for ip in port["fixed_ips"]}
        if port["id"] == item.get("port_id") or item.get("subnet_id") in subnets:
            for subnet_id in subnets:
                if _floating_ips_behind(cloud, router["id"], subnet_id):
                    raise fail(
                        409,
                        "RouterInterfaceInUseByFloatingIP",
                        f"Router interface for subnet {subnet_id} on router {router['id']} cannot be "
                        "deleted, as it is required by one or more floating IPs.",
                    )
            answer = _interface_answer(router, port)
            delete_port(cloud, port)
            return answer
    if item.get("port_id"):
        raise fail(
            404,
            "RouterInterfaceNotFound",
            f"Router {router['id']} does not have an interface with id {item['port_id']}",
        )
    raise fail(
        404,
        "RouterInterfaceNotFoundForSubnet",
        f"Router {router['id']} has no interface on subnet {item.get('subnet_id')}",
    )


def _floating_ips_behind(cloud: Cloud, router_id: str, subnet_id: str) -> bool:
    ports = state_of(cloud).table("ports")
    return any(
        fip["router_id"] == router_id
        and fip["port_id"] in ports
        and any(ip["subnet_id"] == subnet_id for ip in ports[fip["port_id"]]["fixed_ips"])
        for fip in state_of(cloud).table("floatingips").values()
    )


# ================================================================================== floating IPs
def _create_floating_ip(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    item = body_item(req, "floatingip")
    state = state_of(cloud)
    network_id = str(item.get("floating_network_id") or "")
    network = state.table("networks").get(network_id)
    if network is None or not network_visible(ctx, network):
        raise fail(404, "NetworkNotFound", f"Network {network_id} could not be found.")
    if not network["router:external"]:
        raise fail(
            400,
            "BadRequest",
            f"Bad floatingip request: Network {network_id} is not a valid external network.",
        )
    project = project_of(ctx, item, "create_floatingip")
    if item.get("floating_ip_address") and not ctx.is_admin:
        raise policy_refusal("create_floatingip:floating_ip_address")
    record: Json = {
        "tenant_id": project,
        "project_id": project,
        "floating_network_id": network_id,
        "router_id": None,
        "port_id": None,
        "fixed_ip_address": None,
        "status": "DOWN",  # no L3 agent reports it ACTIVE
        "port_details": None,
        "description": str(item.get("description", "")),
    }
    asked = [{"ip_address": item["floating_ip_address"]}] if item.get("floating_ip_address") else None
    if item.get("subnet_id"):
        asked = [{"subnet_id": item["subnet_id"], **(asked[0] if asked else {})}]
    state.add("floatingips", record, cloud.now())
    try:
        port = create_port(
            cloud,
            network,
            "",
            {"device_owner": "network:floatingip", "device_id": record["id"], "fixed_ips": asked},
        )
        record["floating_ip_address"] = port["fixed_ips"][0]["ip_address"]
        if item.get("port_id"):
            _associate(cloud, ctx, record, str(item["port_id"]), item.get("fixed_ip_address"))
    except Exception:
        state.table("floatingips").pop(record["id"], None)
        for port in [p for p in state.table("ports").values() if p["device_id"] == record["id"]]:
            delete_port(cloud, port)
        raise
    return shown(cloud, req, ctx, "floatingips", record, status=201)


def _associate(cloud: Cloud, ctx: Ctx, fip: Json, port_id: str, fixed: object) -> None:
    """Point the floating IP at a port's fixed address through a router that reaches it (Neutron's check)."""
    port = find(cloud, ctx, "ports", port_id)
    ips = [ip for ip in port["fixed_ips"] if fixed is None or ip["ip_address"] == fixed]
    ipv4 = [ip for ip in ips if ":" not in ip["ip_address"]]
    if not ipv4:
        raise fail(
            400, "BadRequest", f"Bad floatingip request: Port {port_id} does not have fixed ip {fixed}."
        )
    chosen = ipv4[0]
    router = _router_between(cloud, fip["floating_network_id"], chosen["subnet_id"])
    if router is None:
        raise fail(
            404,
            "ExternalGatewayForFloatingIPNotFound",
            f"External network {fip['floating_network_id']} is not reachable from subnet "
            f"{chosen['subnet_id']}.  "
            f"Therefore, cannot associate Port {port_id} with a Floating IP.",
        )
    for other in state_of(cloud).table("floatingips").values():
        if (
            other is not fip
            and other["port_id"] == port_id
            and other["fixed_ip_address"] == chosen["ip_address"]
        ):
            raise fail(
                409,
                "FloatingIPPortAlreadyAssociated",
                f"Cannot associate floating IP {fip['floating_ip_address']} ({fip['id']}) with port "
                f"{port_id} using fixed IP {chosen['ip_address']}, as that fixed IP already has a "
                "floating IP on external "
                f"network {fip['floating_network_id']}.",
            )
    fip.update(port_id=port_id, fixed_ip_address=chosen["ip_address"], router_id=router["id"])
    fip["port_details"] = {
        key: port[key]
        for key in (
            "name",
            "network_id",
            "mac_address",
            "admin_state_up",
            "status",
            "device_id",
            "device_owner",
        )
    }


def _router_between(cloud: Cloud, external_id: str, subnet_id: str) -> Json | None:
    for router in state_of(cloud).table("routers").values():
        gateway = router["external_gateway_info"] or {}
        if gateway.get("network_id") != external_id:
            continue
        if any(
            any(ip["subnet_id"] == subnet_id for ip in p["fixed_ips"])
            for p in _interfaces(cloud, router["id"])
        ):
            return router
    return None


def _update_floating_ip(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    record = find(cloud, ctx, "floatingips", params["id"])
    item = body_item(req, "floatingip")
    if "port_id" in item:
        if item["port_id"]:
            _associate(cloud, ctx, record, str(item["port_id"]), item.get("fixed_ip_address"))
        else:
            record.update(port_id=None, fixed_ip_address=None, router_id=None, port_details=None)
    if "description" in item:
        record["description"] = item["description"]
    touch(record, cloud.now())
    return shown(cloud, req, ctx, "floatingips", record)


def _delete_floating_ip(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    record = find(cloud, ctx, "floatingips", params["id"])
    state = state_of(cloud)
    for port in [p for p in state.table("ports").values() if p["device_id"] == record["id"]]:
        delete_port(cloud, port)
    del state.table("floatingips")[record["id"]]
    return Reply(204)


# ================================================================================== auto-allocated topology
def _topology(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    project = params["project"]
    if project == "None":  # the client sent no project: the caller's
        project = ctx.project_id
    if not ctx.is_admin and project != ctx.project_id:
        raise fail(403, "NotAuthorized", "Not authorized.")
    fields = [f for value in req.query.get("fields", []) for f in value.split(",")]
    if "dry-run" in fields:
        _requirements(cloud)
        return Reply.json(
            STATUS_GOOD, {"auto_allocated_topology": {"id": "dry-run=pass", "project_id": project}}
        )
    network_id = auto_allocate(cloud, ctx, project)
    return Reply.json(STATUS_GOOD, {"auto_allocated_topology": {"id": network_id, "project_id": project}})


def _requirements(cloud: Cloud) -> tuple[Json, list[Json]]:
    state = state_of(cloud)
    external = next(
        (n for n in state.table("networks").values() if n["router:external"] and n["is_default"]), None
    )
    if external is None:
        raise fail(409, "AutoAllocationFailure", "Deployment error: No default router:external network.")
    pools = [p for p in state.table("subnetpools").values() if p["is_default"]]
    if not pools:
        raise fail(409, "AutoAllocationFailure", "Deployment error: No default subnetpools defined.")
    return external, pools


def auto_allocate(cloud: Cloud, ctx: Ctx, project: str) -> str:
    """The project's auto-allocated network, made on first use: a network, a subnet per default pool and
    a router to the default external network (neutron/services/auto_allocate/db.py).
    """  # noqa: D205 (the summary needs the parts)
    state = state_of(cloud)
    known = state.topologies.get(project)
    if known is not None and known in state.table("networks"):
        return known
    external, pools = _requirements(cloud)
    network = network_doc(project, "auto_allocated_network")
    state.add("networks", network, cloud.now())
    subnets = [
        create_subnet(
            cloud,
            ctx,
            {
                "network_id": network["id"],
                "name": f"auto_allocated_subnet_v{p['ip_version']}",
                "ip_version": p["ip_version"],
                "subnetpool_id": p["id"],
                "project_id": project,
            },
        )
        for p in pools
    ]
    router = create_router(
        cloud,
        ctx,
        {
            "name": "auto_allocated_router",
            "project_id": project,
            "external_gateway_info": {"network_id": external["id"]},
        },
    )
    for subnet in subnets:
        add_interface(cloud, ctx, router, {"subnet_id": subnet["id"]})
    state.topologies[project] = network["id"]
    return str(network["id"])


# ================================================================================== pools, extensions, quotas
def _create_pool(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    item = body_item(req, "subnetpool")
    project = project_of(ctx, item, "create_subnetpool")
    if ("shared" in item or "is_default" in item) and not ctx.is_admin:
        raise policy_refusal("create_subnetpool:shared")
    prefixes = item.get("prefixes")
    if not isinstance(prefixes, list) or not prefixes:
        raise fail(
            400, "HTTPBadRequest", "Failed to parse request. Required attribute 'prefixes' not specified"
        )
    version = 6 if ":" in str(prefixes[0]) else 4
    record: Json = {
        "name": str(item.get("name", "")),
        "tenant_id": project,
        "project_id": project,
        "prefixes": [str(p) for p in prefixes],
        "default_prefixlen": int(item.get("default_prefixlen") or item.get("min_prefixlen") or 8),
        "min_prefixlen": int(item.get("min_prefixlen") or 8),
        "max_prefixlen": int(item.get("max_prefixlen") or (32 if version == 4 else 128)),  # noqa: PLR2004
        "default_quota": item.get("default_quota"),
        "shared": as_bool(item.get("shared", False)),
        "is_default": as_bool(item.get("is_default", False)),
        "ip_version": version,
        "address_scope_id": item.get("address_scope_id"),
        "description": str(item.get("description", "")),
    }
    state_of(cloud).add("subnetpools", record, cloud.now())
    return shown(cloud, req, ctx, "subnetpools", record, status=201)


def _delete_pool(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    record = find(cloud, ctx, "subnetpools", params["id"])
    state = state_of(cloud)
    if any(s.get("subnetpool_id") == record["id"] for s in state.table("subnets").values()):
        raise fail(
            409,
            "SubnetPoolDeleteError",
            "Unable to delete subnet pool: Subnet pool has existing allocations.",
        )
    del state.table("subnetpools")[record["id"]]
    return Reply(204)


def _list_extensions(_cloud: Cloud, _req: Request, _ctx: Ctx, _params: dict[str, str]) -> Reply:
    return Reply.json(STATUS_GOOD, {"extensions": _extensions()})


def _show_extension(_cloud: Cloud, _req: Request, _ctx: Ctx, params: dict[str, str]) -> Reply:
    found = next((e for e in _extensions() if e["alias"] == params["alias"]), None)
    if found is None:
        raise fail(404, "HTTPNotFound", f"Extension with alias {params['alias']} does not exist")
    return Reply.json(STATUS_GOOD, {"extension": found})


def _show_quota(_cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    if not ctx.is_admin and params["project"] != ctx.project_id:
        raise fail(403, "NotAuthorized", "Not authorized.")
    return Reply.json(STATUS_GOOD, {"quota": dict(_QUOTAS)})


def register(routes: Routes) -> None:
    """Add this module's resources to Neutron's route table."""
    for kind, create, update, delete in (
        ("routers", _create_router, _update_router, _delete_router),
        ("floatingips", _create_floating_ip, _update_floating_ip, _delete_floating_ip),
        ("subnetpools", _create_pool, None, _delete_pool),
    ):
        routes.add("GET", f"/{kind}", functools.partial(_list, kind))
        routes.add("GET", f"/{kind}/{{id}}", functools.partial(_show, kind))
        routes.add("POST", f"/{kind}", create)
        routes.add("DELETE", f"/{kind}/{{id}}", delete)
        if update is not None:
            routes.add("PUT", f"/{kind}/{{id}}", update)
    routes.add("PUT", "/routers/{id}/add_router_interface", _add_interface)
    routes.add("PUT", "/routers/{id}/remove_router_interface", _remove_interface)
    routes.add("GET", "/auto-allocated-topology/{project}", _topology)
    routes.add("GET", "/extensions", _list_extensions)
    routes.add("GET", "/extensions/{alias}", _show_extension)
    routes.add("GET", "/quotas/{project}", _show_quota)


def _list(kind: str, cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    return listing(cloud, req, ctx, kind)


def _show(kind: str, cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    return shown(cloud, req, ctx, kind, find(cloud, ctx, kind, params["id"]))
