"""Nova's side of Neutron in the OpenStack fake: a server's ports, its ``addresses`` and security groups.

A create names ``networks``: ``"none"`` (no port), ``"auto"`` (the project's one network, or the
auto-allocated topology when it has none), or a list of ``{"uuid": network}`` / ``{"port": id}``.
Nova makes a port per network (``device_owner`` ``compute:nova``) and binds every port on the compute
host when the build ends; deleting the server deletes the ports it made and releases the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cloudkit.testing.fakes.openstack._cloud import Cloud, Ctx
from cloudkit.testing.fakes.openstack._neutron_core import (
    NeutronError,
    network_visible,
    port_visible,
    state_of,
)
from cloudkit.testing.fakes.openstack._neutron_l3 import auto_allocate
from cloudkit.testing.fakes.openstack._neutron_ports import bind_port, create_port, delete_port
from cloudkit.testing.fakes.openstack._neutron_state import COMPUTE_HOST, Json, touch
from cloudkit.testing.fakes.openstack._state import Server
from cloudkit.testing.fakes.openstack._wire import ApiError


@dataclass(slots=True)
class NetworkPlan:
    """What a create asked for, checked: networks to get a port on (with a fixed address or None),
    existing ports to use, whether to auto-allocate, and the addresses of ports Neutron does not know.
    """  # noqa: D205 (the summary needs the parts)

    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # ("network"|"port", id, ip)
    auto: bool = False
    foreign: dict[str, list[Json]] = field(default_factory=dict)


def plan_networks(cloud: Cloud, spec: Json, ctx: Ctx) -> NetworkPlan:
    """Check ``networks`` as Nova's API does (before anything is made); Nova's 400/403/409 otherwise."""
    networks = spec.get("networks")
    if networks is None:
        if ctx.at_least(2, 37):
            raise ApiError(400, "Invalid input for field/attribute server. 'networks' is a required property")
        # before 2.37 Nova takes the project's one network, and boots without a network when it has
        # none (auto-allocation needs an explicit "auto")
        return _plan_auto(cloud, ctx, NetworkPlan(), allocate=False)
    if isinstance(networks, str):
        if not ctx.at_least(2, 37) or networks not in ("none", "auto"):
            raise ApiError(400, f"Invalid input for field/attribute networks. Value: {networks}.")
    elif not isinstance(networks, list) or not all(isinstance(n, dict) for n in networks):
        raise ApiError(400, f"Invalid input for field/attribute networks. Value: {networks}.")
    plan = NetworkPlan()
    if networks == "none":
        return plan
    if networks == "auto":
        return _plan_auto(cloud, ctx, plan)
    for entry in networks if isinstance(networks, list) else []:
        if entry.get("port"):
            _plan_port(cloud, ctx, plan, str(entry["port"]))
        else:
            plan.requests.append(("network", _network_id(cloud, ctx, entry), entry.get("fixed_ip")))
    return plan


def _plan_auto(cloud: Cloud, ctx: Ctx, plan: NetworkPlan, *, allocate: bool = True) -> NetworkPlan:
    # nova/network/neutron.py: the project's own networks and the shared ones, external ones aside
    available = [
        n
        for n in state_of(cloud).table("networks").values()
        if not n["router:external"] and (n["project_id"] == ctx.project_id or n["shared"])
    ]
    if len(available) > 1:
        raise ApiError(
            409,
            "More than one possible network found. Specify network ID(s) to select which one(s) to "
            "connect to.",
        )
    if available or not allocate:
        plan.requests.extend(("network", n["id"], None) for n in available)
        return plan
    defaults = state_of(cloud).table("networks").values()
    has_default = any(n["router:external"] and n["is_default"] for n in defaults)
    if not has_default or not any(p["is_default"] for p in state_of(cloud).table("subnetpools").values()):
        # Nova asks Neutron for a dry run of the auto-allocation first
        raise ApiError(400, f"Unable to automatically allocate a network for project {ctx.project_id}")
    plan.auto = True
    return plan


def _network_id(cloud: Cloud, ctx: Ctx, entry: Json) -> str:
    network_id = str(entry.get("uuid") or "")
    network = state_of(cloud).table("networks").get(network_id)
    if network is None or not network_visible(ctx, network):
        raise ApiError(400, f"Network {network_id} could not be found.")
    if network["router:external"] and not network["shared"] and not ctx.is_admin:
        raise ApiError(403, f"It is not allowed to create an interface on external network {network_id}")
    return network_id


def _plan_port(cloud: Cloud, ctx: Ctx, plan: NetworkPlan, port_id: str) -> None:
    port = state_of(cloud).table("ports").get(port_id)
    if port is None:
        # assumption: a port this Neutron does not hold was made by another network service the
        # fake does not see (a Tungsten Fabric fake): the server gets one fixed address on "private"
        host = 10 + len(cloud.state.servers) % 240
        plan.foreign = {"private": [{"addr": f"10.0.0.{host}", "version": 4, "OS-EXT-IPS:type": "fixed"}]}
        return
    if not port_visible(cloud, ctx, port):
        raise ApiError(400, f"Port id {port_id} could not be found.")
    if port["device_id"]:
        raise ApiError(409, f"Port {port_id} is still in use.")
    plan.requests.append(("port", port_id, None))


def plug(cloud: Cloud, server: Server, plan: NetworkPlan, ctx: Ctx) -> None:
    """Make or take the server's ports (unbound until the build ends), in the order asked."""
    # assumption: made when the create is accepted (a real Nova's compute makes them during the
    # build); with the fake's build this is not observable before the server leaves BUILD
    state = state_of(cloud)
    requests = list(plan.requests)
    try:
        if plan.auto:
            requests.append(("network", auto_allocate(cloud, ctx, server.project_id), None))
        for kind, item_id, address in requests:
            if kind == "port":
                port = state.table("ports")[item_id]
                port.update(device_id=server.id, device_owner="compute:nova")
                touch(port, cloud.now())
            else:
                network = state.table("networks")[item_id]
                asked = {
                    "device_id": server.id,
                    "device_owner": "compute:nova",
                    "fixed_ips": [{"ip_address": address}] if address else None,
                }
                port = create_port(cloud, network, server.project_id, asked)
                server.nova_ports.append(port["id"])
            server.port_ids.append(port["id"])
    except NeutronError as err:
        unplug(cloud, server)
        raise ApiError(err.status if err.status in (400, 409) else 400, err.message) from None
    server.addresses = dict(plan.foreign)


def bind(cloud: Cloud, server: Server) -> None:
    """The build ended on the compute host: ML2 binds every port there."""
    for port_id in server.port_ids:
        port = state_of(cloud).table("ports").get(port_id)
        if port is not None:
            bind_port(port, COMPUTE_HOST, cloud.now())


def unplug(cloud: Cloud, server: Server) -> None:
    """The server is gone (or its build failed): delete the ports Nova made, release the others."""
    ports = state_of(cloud).table("ports")
    for port_id in server.port_ids:
        port = ports.get(port_id)
        if port is None:
            continue
        if port_id in server.nova_ports:
            delete_port(cloud, port)
        else:
            port.update(device_id="", device_owner="", status="DOWN")
            port.update({"binding:host_id": "", "binding:vif_type": "unbound", "binding:vif_details": {}})
            touch(port, cloud.now())
    server.port_ids.clear()
    server.nova_ports.clear()


def addresses(cloud: Cloud, server: Server) -> Json:
    """Nova's ``addresses``: per network name, each port's fixed IPs, then its floating IPs, with the MAC."""
    state = state_of(cloud)
    found: Json = {}
    for port_id in server.port_ids:
        port = state.table("ports").get(port_id)
        network = state.table("networks").get(port["network_id"]) if port is not None else None
        if port is None or network is None:
            continue
        entries = found.setdefault(network["name"], [])
        mac = port["mac_address"]
        for ip in port["fixed_ips"]:
            entries.append(_address(ip["ip_address"], "fixed", mac))
        for fip in state.table("floatingips").values():
            if fip["port_id"] == port_id:
                entries.append(_address(fip["floating_ip_address"], "floating", mac))
    for name, legacy in server.addresses.items():
        found.setdefault(name, []).extend(dict(a) for a in legacy)
    return found


def _address(address: str, kind: str, mac: str) -> Json:
    version = 6 if ":" in address else 4
    return {"version": version, "addr": address, "OS-EXT-IPS:type": kind, "OS-EXT-IPS-MAC:mac_addr": mac}


def security_groups(cloud: Cloud, server: Server) -> list[Json]:
    """The names of the groups of the server's ports, as Nova shows them (``default`` for a foreign port)."""
    state = state_of(cloud)
    names: list[str] = []
    for port_id in server.port_ids:
        port = state.table("ports").get(port_id)
        for group_id in port["security_groups"] if port is not None else []:
            group = state.table("security_groups").get(group_id)
            if group is not None and group["name"] not in names:
                names.append(group["name"])
    if server.addresses and "default" not in names:
        names.append("default")
    return [{"name": name} for name in names]
