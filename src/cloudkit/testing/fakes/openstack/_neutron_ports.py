"""Neutron's ports and security groups in the OpenStack fake (ML2's port side, without agents).

A port takes an address from each subnet asked (or its network's first IPv4 subnet) and the project's
``default`` security group; bound on a host (``binding:host_id``) it is ``ACTIVE``, as the lab's
mechanism driver reports it. Deleting a port disassociates the floating IPs on it.
"""

from __future__ import annotations

import functools
import ipaddress

from cloudkit.testing.fakes._kit import Reply, Request
from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx, Routes
from cloudkit.testing.fakes.openstack._neutron_core import (
    add_rule,
    apply_update,
    bad_request,
    body_item,
    ensure_default_group,
    fail,
    find,
    listing,
    owns,
    policy_refusal,
    project_of,
    shown,
    state_of,
)
from cloudkit.testing.fakes.openstack._neutron_state import Json, new_mac, next_address, touch


# ================================================================================== ports
def _list_ports(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    return listing(cloud, req, ctx, "ports")


def _show_port(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    return shown(cloud, req, ctx, "ports", find(cloud, ctx, "ports", params["id"]))


def _create_port(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    item = body_item(req, "port")
    network_id = str(item.get("network_id") or "")
    if not network_id:
        raise bad_request("Failed to parse request. Required attribute 'network_id' not specified")
    network = find(cloud, ctx, "networks", network_id)
    project = project_of(ctx, item, "create_port")
    if not (owns(ctx, network) or network["shared"]):
        raise policy_refusal("create_port")
    record = create_port(cloud, network, project, item)
    return shown(cloud, req, ctx, "ports", record, status=201)


def create_port(cloud: Cloud, network: Json, project: str, item: Json) -> Json:
    """A port on ``network`` with an address from each asked subnet (or its first one), as ML2 makes it."""
    state = state_of(cloud)
    fixed_ips = _allocate(cloud, network, item.get("fixed_ips"))
    owner = str(item.get("device_owner") or "")
    groups = item.get("security_groups")
    if groups is None:
        groups = [] if owner.startswith("network:") or not project else [ensure_default_group(cloud, project)]
    record: Json = {
        "name": str(item.get("name", "")),
        "network_id": network["id"],
        "tenant_id": project,
        "project_id": project,
        "mac_address": str(item.get("mac_address") or new_mac()),
        "admin_state_up": bool(item.get("admin_state_up", True)),
        "status": "DOWN",
        "device_id": str(item.get("device_id") or ""),
        "device_owner": owner,
        "fixed_ips": fixed_ips,
        "allowed_address_pairs": item.get("allowed_address_pairs") or [],
        "extra_dhcp_opts": [],
        "security_groups": groups,
        "port_security_enabled": bool(item.get("port_security_enabled", network["port_security_enabled"])),
        "binding:vnic_type": str(item.get("binding:vnic_type") or "normal"),
        "binding:profile": item.get("binding:profile") or {},
        "binding:host_id": "",
        "binding:vif_type": "unbound",
        "binding:vif_details": {},
        "numa_affinity_policy": None,
        "device_profile": None,
    }
    if "description" in item:
        record["description"] = item["description"]
    state.add("ports", record, cloud.now())
    host = item.get("binding:host_id")
    if host:
        bind_port(record, str(host), cloud.now())
    return record


def bind_port(port: Json, host: str, now: float) -> None:
    """ML2 binds the port on ``host``; with no agents the lab's mechanism driver reports it ACTIVE."""
    # assumption: the lab's mechanism driver binds with vif_type "ovs" and marks the port up at once
    port.update({"binding:host_id": host, "binding:vif_type": "ovs", "status": "ACTIVE"})
    port["binding:vif_details"] = {"port_filter": True, "connectivity": "l2"}
    touch(port, now)


def _allocate(cloud: Cloud, network: Json, asked: object) -> list[Json]:
    state = state_of(cloud)
    subnets = [state.table("subnets")[s] for s in network["subnets"]]
    wanted = asked if isinstance(asked, list) else None
    if wanted is None:
        first = next((s for s in subnets if s["ip_version"] == 4), subnets[0] if subnets else None)  # noqa: PLR2004
        wanted = [{"subnet_id": first["id"]}] if first is not None else []
    chosen: list[Json] = []
    for entry in wanted:
        if not isinstance(entry, dict):
            raise bad_request(
                f"Invalid input for fixed_ips. Reason: Invalid data format for fixed IP: '{entry}'."
            )
        subnet = _subnet_for(subnets, entry, network["id"])
        address = entry.get("ip_address")
        if address is None:
            address = next_address(state, subnet)
            if address is None:
                raise fail(
                    409,
                    "IpAddressGenerationFailure",
                    f"No more IP addresses available on network {network['id']}.",
                )
        elif str(address) in {
            ip["ip_address"]
            for p in state.table("ports").values()
            for ip in p["fixed_ips"]
            if ip["subnet_id"] == subnet["id"]
        }:
            raise fail(
                409,
                "IpAddressAlreadyAllocated",
                f"IP address {address} already allocated in subnet {subnet['id']}",
            )
        chosen.append({"subnet_id": subnet["id"], "ip_address": str(address)})
    return chosen


def _subnet_for(subnets: list[Json], entry: Json, network_id: str) -> Json:
    subnet_id, address = entry.get("subnet_id"), entry.get("ip_address")
    for subnet in subnets:
        if subnet_id is not None and subnet["id"] == subnet_id:
            return subnet
        if (
            subnet_id is None
            and address is not None
            and ipaddress.ip_address(str(address)) in ipaddress.ip_network(subnet["cidr"])
        ):
            return subnet
    if subnet_id is not None:
        raise bad_request(
            f"Invalid input for operation: Failed to create port on network {network_id}, because "
            f"fixed_ips included invalid subnet {subnet_id}."
        )
    raise bad_request(
        f"Invalid input for operation: IP address {address} is not a valid IP for any of the subnets on "
        "the specified network."
    )


def _update_port(cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    record = find(cloud, ctx, "ports", params["id"])
    item = body_item(req, "port")
    ensure_default_group(cloud, record["project_id"])
    host = item.pop("binding:host_id", None)
    if host is not None and not ctx.is_admin:
        raise policy_refusal("update_port:binding:host_id")
    allowed = (
        "name",
        "description",
        "admin_state_up",
        "device_id",
        "device_owner",
        "security_groups",
        "allowed_address_pairs",
        "port_security_enabled",
        "binding:profile",
        "binding:vnic_type",
    )
    apply_update(item, record, allowed, cloud.now())
    if host:
        bind_port(record, str(host), cloud.now())
    return shown(cloud, req, ctx, "ports", record)


def _delete_port(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    record = find(cloud, ctx, "ports", params["id"])
    if record["device_owner"] in ("network:router_interface", "network:router_gateway", "network:floatingip"):
        raise fail(
            409,
            "ServicePortInUse",
            f"Port {record['id']} cannot be deleted directly via the port API: has device owner "
            f"{record['device_owner']}.",
        )
    delete_port(cloud, record)
    return Reply(204)


def delete_port(cloud: Cloud, port: Json) -> None:
    """Remove the port; a floating IP on it is disassociated (Neutron's ``disassociate_floatingips``)."""
    state = state_of(cloud)
    state.table("ports").pop(port["id"], None)
    for fip in state.table("floatingips").values():
        if fip["port_id"] == port["id"]:
            fip.update(port_id=None, fixed_ip_address=None, router_id=None, port_details=None)
            touch(fip, cloud.now())


# ================================================================================== security groups
def _create_group(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    item = body_item(req, "security_group")
    project = project_of(ctx, item, "create_security_group")
    ensure_default_group(cloud, project)
    record: Json = {
        "name": str(item.get("name", "")),
        "tenant_id": project,
        "project_id": project,
        "description": str(item.get("description", "")),
        "security_group_rules": [],
        "stateful": bool(item.get("stateful", True)),
        "shared": False,
    }
    state_of(cloud).add("security_groups", record, cloud.now())
    for ethertype in ("IPv4", "IPv6"):
        add_rule(cloud, record, {"direction": "egress", "ethertype": ethertype})
    return shown(cloud, req, ctx, "security_groups", record, status=201)


def _delete_group(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    record = find(cloud, ctx, "security_groups", params["id"])
    state = state_of(cloud)
    if any(record["id"] in p["security_groups"] for p in state.table("ports").values()):
        raise fail(409, "SecurityGroupInUse", f"Security Group {record['id']} in use.")
    if record["name"] == "default" and not ctx.is_admin:
        raise fail(
            409,
            "SecurityGroupCannotRemoveDefault",
            "Insufficient rights for removing default security group.",
        )
    for rule in record["security_group_rules"]:
        state.table("security_group_rules").pop(rule["id"], None)
    del state.table("security_groups")[record["id"]]
    return Reply(204)


def _create_rule(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    item = body_item(req, "security_group_rule")
    group = find(cloud, ctx, "security_groups", str(item.get("security_group_id") or ""))
    if item.get("direction") not in ("ingress", "egress"):
        raise fail(
            400,
            "HTTPBadRequest",
            f"Invalid input for direction. Reason: {item.get('direction')} is not in valid_values.",
        )
    record = add_rule(cloud, group, item)
    return shown(cloud, req, ctx, "security_group_rules", record, status=201)


def _delete_rule(cloud: Cloud, _req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    record = find(cloud, ctx, "security_group_rules", params["id"])
    state = state_of(cloud)
    group = state.table("security_groups").get(record["security_group_id"])
    if group is not None:
        group["security_group_rules"] = [r for r in group["security_group_rules"] if r["id"] != record["id"]]
    del state.table("security_group_rules")[record["id"]]
    return Reply(204)


def register(routes: Routes) -> None:
    """Add ports, security groups and their rules to Neutron's route table."""
    routes.add("GET", "/ports", _list_ports)
    routes.add("GET", "/ports/{id}", _show_port)
    routes.add("POST", "/ports", _create_port)
    routes.add("PUT", "/ports/{id}", _update_port)
    routes.add("DELETE", "/ports/{id}", _delete_port)
    routes.add("GET", "/security_groups", _list_groups)
    for kind, create, delete in (
        ("security_groups", _create_group, _delete_group),
        ("security_group_rules", _create_rule, _delete_rule),
    ):
        if kind != "security_groups":
            routes.add("GET", f"/{kind}", functools.partial(_list, kind))
        routes.add("GET", f"/{kind}/{{id}}", functools.partial(_show, kind))
        routes.add("POST", f"/{kind}", create)
        routes.add("DELETE", f"/{kind}/{{id}}", delete)


def _list_groups(cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    # Neutron makes the project's default group when its groups are listed (the filter's project or
    # the caller's), as on a network or port create
    ensure_default_group(cloud, req.arg("project_id") or req.arg("tenant_id") or ctx.project_id)
    return listing(cloud, req, ctx, "security_groups")


def _list(kind: str, cloud: Cloud, req: Request, ctx: Ctx, _params: dict[str, str]) -> Reply:
    return listing(cloud, req, ctx, kind)


def _show(kind: str, cloud: Cloud, req: Request, ctx: Ctx, params: dict[str, str]) -> Reply:
    return shown(cloud, req, ctx, kind, find(cloud, ctx, kind, params["id"]))
