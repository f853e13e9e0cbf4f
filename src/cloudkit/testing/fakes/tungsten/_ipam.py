"""Address management of the Tungsten fake (vnc_addr_mgmt): subnets checked and filled, addresses allocated.

Subnets get a ``subnet_uuid``, a default gateway and a DNS address (from the end of the range unless
``addr_from_start``); addresses are taken from allocation pools (default: the whole subnet), the
network, broadcast, gateway and DNS addresses excluded; a requested address already used is a 409.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from cloudkit.testing.fakes.tungsten._schema import Json, Network, TfError, cidr, parse_ip, subnet_network
from cloudkit.testing.fakes.tungsten._store import Obj, Store


def prepare_subnets(st: Store, obj: Obj, old: Obj | None) -> None:
    """vnc_addr_mgmt: normalise, check, give subnet_uuid, default_gateway and dns_server_address."""
    old_subnets = {cidr(s): s for s in st.subnets(old)}
    cidrs = []
    for subnet in st.subnets(obj):
        network = subnet_network(subnet)
        cidrs.append(network)
        prepare_subnet(subnet, network, old_subnets.get(f"{network.network_address}/{network.prefixlen}"))
    for index, first in enumerate(cidrs):
        for second in cidrs[index + 1 :]:
            if overlap(first, second):
                raise TfError(400, f"Overlapping addresses: [IPNetwork('{first}'), IPNetwork('{second}')]")


def in_use(st: Store, vn: Obj) -> set[str]:
    used: set[str] = set()
    for obj in st.objs.values():
        if obj.kind == "instance-ip" and any(r["uuid"] == vn.uuid for r in obj.refs("virtual_network_refs")):
            used.add(str(obj.data.get("instance_ip_address")))
        elif obj.kind == "floating-ip":
            pool = st.objs.get(obj.parent_uuid or "")
            if pool is not None and pool.kind == "floating-ip-pool" and pool.parent_uuid == vn.uuid:
                used.add(str(obj.data.get("floating_ip_address")))
    return used


def allocate(
    st: Store,
    vn: Obj,
    *,
    requested: str | None,
    subnet_uuid: str | None,
    family: str | None,
    only: Sequence[str] | None = None,
) -> tuple[str, Json]:
    """Address allocation from the VN's subnets (from the end unless addr_from_start)."""
    subnets = st.subnets(vn)
    if not subnets:
        raise TfError(400, f"Virtual-Network({vn.fq_name}) has no defined subnet(s)")
    subnets = [
        s
        for s in subnets
        if (not subnet_uuid or s.get("subnet_uuid") == subnet_uuid)
        and (not only or s.get("subnet_uuid") in only)
        and (family not in ("v4", "v6") or f"v{subnet_network(s).version}" == family)
    ]
    used = in_use(st, vn)
    if requested is not None:
        return claim(vn, subnets, requested, used)
    for subnet in subnets:
        found = first_free(subnet, used)
        if found is not None:
            return found, subnet
    names = [cidr(s) for s in subnets]
    raise TfError(400, f"Virtual-Network({[str(p) for p in vn.fq_name]}) has exhausted subnet({names})")


def overlap(first: Network, second: Network) -> bool:
    if isinstance(first, ipaddress.IPv4Network) and isinstance(second, ipaddress.IPv4Network):
        return first.subnet_of(second) or second.subnet_of(first)
    if isinstance(first, ipaddress.IPv6Network) and isinstance(second, ipaddress.IPv6Network):
        return first.subnet_of(second) or second.subnet_of(first)
    return False


def prepare_subnet(subnet: Json, network: Network, previous: Mapping[str, Any] | None) -> None:
    """One IpamSubnetType: pools, gateway and DNS checked; system fields filled (kept on update)."""
    name = f"{network.network_address}/{network.prefixlen}"
    for pool in subnet.get("allocation_pools") or []:
        start, end = parse_ip(pool.get("start")), parse_ip(pool.get("end"))
        if start is None or end is None:
            text = f"start:{pool.get('start')}, end:{pool.get('end')} in subnet:{name}"
            raise TfError(400, f"Invalid allocation Pool {text}")
        if start not in network or end not in network:
            raise TfError(400, f"allocation pool start:{start}, end:{end} out of cidr:{name}")
    gateway = subnet.get("default_gateway")
    check_gateway(gateway, network, name)
    if previous is not None and gateway not in (None, "none", previous.get("default_gateway")):
        old = previous.get("default_gateway")
        raise TfError(400, f"default gateway change is not allowed orig:{old}, new: {gateway}")
    dns = subnet.get("dns_server_address")
    if dns and dns != "None" and parse_ip(dns) is None:
        raise TfError(400, f"Invalid Dns Server Ip address:{dns}")
    from_start = bool(subnet.get("addr_from_start"))
    old = previous or {}
    low, high = network.network_address, network.broadcast_address
    subnet_uuid = subnet.get("subnet_uuid") or old.get("subnet_uuid") or str(uuid.uuid4())
    try:
        uuid.UUID(str(subnet_uuid))
    except ValueError:
        raise TfError(400, f"Invalid subnet-uuid {subnet_uuid} in subnet:{name}") from None
    subnet["subnet"] = {"ip_prefix": str(low), "ip_prefix_len": network.prefixlen}
    subnet["default_gateway"] = (
        gateway or old.get("default_gateway") or str(low + 1 if from_start else high - 1)
    )
    subnet["dns_server_address"] = (
        dns or old.get("dns_server_address") or str(low + 2 if from_start else high - 2)
    )
    subnet["subnet_uuid"] = subnet_uuid
    subnet.setdefault("enable_dhcp", True)
    subnet.setdefault("addr_from_start", from_start)


def check_gateway(gateway: object, network: Network, name: str) -> None:
    if not gateway or gateway == "None":
        return
    gw = parse_ip(gateway)
    if gw is None:
        raise TfError(400, f"Invalid gateway Ip address:{gateway}")
    unset = int(gw) == 0  # 0.0.0.0 or :: means "no gateway"
    if not unset and not int(network.network_address) + 1 <= int(gw) <= int(network.broadcast_address) - 1:
        raise TfError(400, f"gateway Ip {gateway} out of cidr: {name}")


def claim(vn: Obj, subnets: list[Json], requested: str, used: set[str]) -> tuple[str, Json]:
    """A requested address: 409 when taken (the gateway may go to a router port)."""
    address = parse_ip(requested)
    if address is None:
        raise TfError(400, f"Invalid IP address: {requested}")  # assumption
    for subnet in subnets:
        network = subnet_network(subnet)
        if address in network:
            reserved = {str(network.network_address), str(network.broadcast_address)}
            reserved.add(str(subnet.get("dns_server_address")))
            if requested in used or requested in reserved:
                raise TfError(409, "IP address already in use")
            return requested, subnet
    # assumption: the text for an address outside every subnet of the VN
    raise TfError(400, f"Virtual-Network({vn.fq_name}) has no subnet for requested IP {requested}")


def first_free(subnet: Mapping[str, Any], used: set[str]) -> str | None:
    """The next address: pools (default: the whole subnet), network/broadcast/gateway/DNS excluded."""
    network = subnet_network(subnet)
    first, last = int(network.network_address), int(network.broadcast_address)
    excluded = {first, last}
    for key in ("default_gateway", "dns_server_address"):
        address = parse_ip(subnet.get(key))
        if address is not None:
            excluded.add(int(address))
    pools = [
        (int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
        for p in subnet.get("allocation_pools") or []
    ] or [(first, last - 1)]
    from_start = bool(subnet.get("addr_from_start"))
    make = ipaddress.IPv4Address if network.version == 4 else ipaddress.IPv6Address  # noqa: PLR2004
    for start, end in pools if from_start else list(reversed(pools)):
        candidates = range(start, end + 1) if from_start else range(end, start - 1, -1)
        for number in candidates:
            text = str(make(number))
            if number not in excluded and text not in used:
                return text
    return None
