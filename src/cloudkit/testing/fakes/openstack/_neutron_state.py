"""Neutron's records in the OpenStack fake: one table of documents per resource, the devstack seed, IPAM.

A record is the resource's own document (the fields Neutron shows) plus fake-private keys that start
with ``_``: ``_created``/``_updated`` (fake time, printed at view time) and ``_seq``. Real Neutron 29
with ML2, ``router`` and ``auto_allocate`` and no agents is the model: ports bind on the one compute
host, floating IPs stay ``DOWN`` (no L3 agent reports them).
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]
COMPUTE_HOST = "fake-compute-1"  # the one compute host, as Nova's views name it
PUBLIC_NETWORK_NAME = "public"
_NAMESPACE = uuid.UUID("9a0f3a4e-5c1b-4e0e-9a55-0c5d1e2b7f10")  # the same namespace as _state's seed ids


def _seed_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"neutron:{name}"))


@dataclass(slots=True)
class NeutronState:
    """Every Neutron resource by kind (``networks``, ``subnets``, ...), each table id → record."""

    tables: dict[str, dict[str, Json]] = field(
        default_factory=lambda: {
            kind: {}
            for kind in (
                "networks",
                "subnets",
                "ports",
                "routers",
                "floatingips",
                "subnetpools",
                "security_groups",
                "security_group_rules",
            )
        }
    )
    topologies: dict[str, str] = field(default_factory=dict)  # project id -> auto-allocated network id
    seq: int = 0

    def table(self, kind: str) -> dict[str, Json]:
        return self.tables[kind]

    def add(self, kind: str, record: Json, now: float) -> Json:
        """Store ``record`` (given an id when it has none) with its times and order; returns it."""
        self.seq += 1
        record.setdefault("id", str(uuid.uuid4()))
        record.update(_created=now, _updated=now, _seq=self.seq)
        record.setdefault("revision_number", 0)
        record.setdefault("tags", [])
        record.setdefault("description", "")
        self.tables[kind][record["id"]] = record
        return record


def touch(record: Json, now: float) -> None:
    """A change to ``record``: Neutron bumps its revision and update time."""
    record["_updated"] = now
    record["revision_number"] = int(record.get("revision_number", 0)) + 1


def new_mac() -> str:
    """An OpenStack MAC (Neutron's default ``base_mac`` fa:16:3e:00:00:00)."""
    return "fa:16:3e:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))


def used_addresses(state: NeutronState, subnet_id: str) -> set[str]:
    return {
        ip["ip_address"]
        for port in state.table("ports").values()
        for ip in port["fixed_ips"]
        if ip["subnet_id"] == subnet_id
    }


def next_address(state: NeutronState, subnet: Json) -> str | None:
    """The first free address of the subnet's allocation pools (Neutron's IPAM picks one; in order here)."""
    taken = used_addresses(state, subnet["id"])
    for pool in subnet["allocation_pools"]:
        first, last = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        for offset in range(int(last) - int(first) + 1):
            address = str(first + offset)
            if address not in taken:
                return address
    return None


def default_pools(cidr: str, gateway: str | None) -> list[Json]:
    """Neutron's allocation pool of a subnet: every host address but the gateway's."""
    network = ipaddress.ip_network(cidr, strict=False)
    hosts = list(network.hosts()) if network.num_addresses <= 65536 else []  # noqa: PLR2004
    if not hosts:
        first, last = network[1], network[-2]
        return [{"start": str(first), "end": str(last)}]
    pools: list[Json] = []
    start: Any = None
    previous: Any = None
    for host in hosts:
        if gateway is not None and str(host) == gateway:
            if start is not None:
                pools.append({"start": str(start), "end": str(previous)})
            start = None
            continue
        if start is None:
            start = host
        previous = host
    if start is not None:
        pools.append({"start": str(start), "end": str(previous)})
    return pools


def network_doc(
    project_id: str, name: str, *, external: bool = False, shared: bool = False, is_default: bool = False
) -> Json:
    """A network as ML2 makes it: a vxlan tenant network, or the flat provider network ``public``."""
    return {
        "name": name,
        "tenant_id": project_id,
        "project_id": project_id,
        "admin_state_up": True,
        "status": "ACTIVE",
        "subnets": [],
        "shared": shared,
        "availability_zone_hints": [],
        "availability_zones": [],  # no DHCP agent hosts the network
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "router:external": external,
        "is_default": is_default,
        "port_security_enabled": True,
        "l2_adjacency": True,
        "mtu": 1500 if external else 1450,  # flat on a 1500 MTU, vxlan takes 50 bytes
        "provider:network_type": "flat" if external else "vxlan",
        "provider:physical_network": PUBLIC_NETWORK_NAME if external else None,
        "provider:segmentation_id": None,
    }


def subnet_doc(project_id: str, network_id: str, name: str, cidr: str, *, ip_version: int = 4) -> Json:
    """A subnet with Neutron's defaults: the first host is the gateway, DHCP on."""
    network = ipaddress.ip_network(cidr, strict=False)
    gateway = str(network[1])
    return {
        "name": name,
        "tenant_id": project_id,
        "project_id": project_id,
        "network_id": network_id,
        "ip_version": ip_version,
        "subnetpool_id": None,
        "enable_dhcp": True,
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "gateway_ip": gateway,
        "cidr": str(network),
        "allocation_pools": default_pools(str(network), gateway),
        "host_routes": [],
        "dns_nameservers": [],
        "service_types": [],
        "router:external": False,
    }


def seed_neutron(state: NeutronState, admin_project: str, now: float) -> None:
    """Devstack's ``public`` (flat, ``router:external``, the default) with ``public-subnet`` 172.24.4.0/24,
    and the shared default IPv4 subnet pool ``shared-default-subnetpool-v4`` (10.0.0.0/16, /26 subnets).
    """  # noqa: D205 (the summary names what is seeded)
    public = network_doc(admin_project, PUBLIC_NETWORK_NAME, external=True, is_default=True)
    public["id"] = _seed_id("network:public")
    state.add("networks", public, now)
    subnet = subnet_doc(admin_project, public["id"], "public-subnet", "172.24.4.0/24")
    subnet["id"], subnet["enable_dhcp"], subnet["router:external"] = _seed_id("subnet:public"), False, True
    state.add("subnets", subnet, now)
    public["subnets"].append(subnet["id"])
    pool = {
        "id": _seed_id("subnetpool:v4"),
        "name": "shared-default-subnetpool-v4",
        "tenant_id": admin_project,
        "project_id": admin_project,
        "prefixes": ["10.0.0.0/16"],
        "default_prefixlen": 26,
        "min_prefixlen": 8,
        "max_prefixlen": 32,
        "default_quota": None,
        "shared": True,
        "is_default": True,
        "ip_version": 4,
        "address_scope_id": None,
    }
    state.add("subnetpools", pool, now)


def carve(state: NeutronState, pool: Json, prefixlen: int | None) -> str | None:
    """The first free ``prefixlen`` block of the pool's prefixes (Neutron's subnet allocation)."""
    length = int(prefixlen or pool["default_prefixlen"])
    used = [
        ipaddress.ip_network(s["cidr"])
        for s in state.table("subnets").values()
        if s.get("subnetpool_id") == pool["id"]
    ]
    for prefix in pool["prefixes"]:
        block = ipaddress.ip_network(prefix)
        if length < block.prefixlen:
            continue
        for candidate in block.subnets(new_prefix=length):
            if not any(candidate.overlaps(u) for u in used):
                return str(candidate)
    return None
