"""Tungsten Fabric models: frozen attrs classes with domain names (wire names live only in ``_wire.py``).

Ids are TF uuids in their dashed form. A TF project's uuid is its Keystone project id with dashes
inserted; every ``project_id`` argument accepts either form.
"""

from __future__ import annotations

import enum

import attrs

__all__ = [
    "AllocationPool",
    "DhcpOption",
    "FloatingIp",
    "FloatingIpPool",
    "InstanceIp",
    "LogicalRouter",
    "ObjectRef",
    "Port",
    "RuleDirection",
    "SecurityGroup",
    "SecurityGroupRule",
    "Subnet",
    "VirtualNetwork",
    "VrouterAgent",
]

_INTERFACE_MTU = ("26", "interface-mtu")  # DHCP option 26 by number or by name


@attrs.frozen(kw_only=True)
class ObjectRef:
    """A pointer to one TF object: its type (``virtual-machine-interface``), uuid and, when known, fq_name.

    Example:
        >>> from cloudkit.tungsten import ObjectRef
        >>> ObjectRef(type="virtual-machine-interface", uuid="6f1c0d3e-0000-4000-8000-000000000001")
        ObjectRef(type='virtual-machine-interface', uuid='6f1c0d3e-0000-4000-8000-000000000001', fq_name=())
    """

    type: str
    uuid: str
    fq_name: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class DhcpOption:
    """One DHCP option a subnet hands to guests (``name`` may be a number such as ``"26"``).

    Example:
        >>> from cloudkit.tungsten import DhcpOption
        >>> DhcpOption(name="26", value="1450").name
        '26'
    """

    name: str
    value: str


@attrs.frozen(kw_only=True)
class AllocationPool:
    """A range of addresses TF may hand out in a subnet.

    Example:
        >>> from cloudkit.tungsten import AllocationPool
        >>> AllocationPool(start="10.0.0.10", end="10.0.0.99").end
        '10.0.0.99'
    """

    start: str
    end: str


@attrs.frozen(kw_only=True)
class Subnet:
    """A subnet of a virtual network (an ``ipam_subnets`` entry on its network-ipam ref).

    Attributes:
        cidr: ``"10.0.0.0/24"``.
        uuid: the subnet uuid TF generated (``None`` before TF stored it).
        gateway: the default gateway address, when TF or the caller set one.
        dns_server: the DNS server address TF announces.
        dhcp_enabled: whether TF's vRouter answers DHCP in this subnet.
        dhcp_options: options handed to guests by DHCP, e.g. option 26 (interface MTU).
        allocation_pools: address ranges to allocate from (empty: the whole subnet).
        name: the subnet's name, if it has one.

    Example:
        >>> from cloudkit.tungsten import DhcpOption, Subnet
        >>> s = Subnet(cidr="10.0.0.0/24", dhcp_options=(DhcpOption(name="26", value="1450"),))
        >>> s.mtu
        1450
    """

    cidr: str
    uuid: str | None = None
    gateway: str | None = None
    dns_server: str | None = None
    dhcp_enabled: bool = True
    dhcp_options: tuple[DhcpOption, ...] = ()
    allocation_pools: tuple[AllocationPool, ...] = ()
    name: str | None = None

    @property
    def mtu(self) -> int | None:
        """The MTU guests receive by DHCP (option 26, ``interface-mtu``), or ``None`` when not set."""
        for option in self.dhcp_options:
            if option.name.strip().lower() in _INTERFACE_MTU and option.value.strip().isdigit():
                return int(option.value)
        return None


@attrs.frozen(kw_only=True)
class VirtualNetwork:
    """A virtual network and its subnets.

    Attributes:
        uuid: the network's uuid (Neutron's network id).
        name: the last element of ``fq_name``.
        fq_name: ``("default-domain", "<project>", "<name>")``.
        project_id: the project the network lives in (its parent).
        subnets: the subnets, in the order TF keeps them.
        mtu: the network MTU (``None``: TF's default for the project, usually 1500).
        external: ``router_external``: usable as a router gateway and floating-IP source.
        shared: ``is_shared``: visible to every project.
        owner: the project that owns it (``perms2.owner``), dashed.

    Example:
        >>> from cloudkit.tungsten import Subnet, VirtualNetwork
        >>> vn = VirtualNetwork(uuid="8c84ff8a-0000-4000-8000-000000000001", name="net-1",
        ...                     fq_name=("default-domain", "alice", "net-1"),
        ...                     subnets=(Subnet(cidr="10.0.0.0/24"),), mtu=1450)
        >>> vn.cidrs, vn.mtu
        (('10.0.0.0/24',), 1450)
    """

    uuid: str
    name: str
    fq_name: tuple[str, ...]
    project_id: str | None = None
    subnets: tuple[Subnet, ...] = ()
    mtu: int | None = None
    external: bool = False
    shared: bool = False
    owner: str | None = None

    @property
    def cidrs(self) -> tuple[str, ...]:
        """The CIDR of every subnet."""
        return tuple(subnet.cidr for subnet in self.subnets)


@attrs.frozen(kw_only=True)
class Port:
    """A virtual machine interface (Neutron's port) and the addresses it holds.

    Attributes:
        uuid: the port's uuid (Neutron's port id).
        name: the last element of ``fq_name``.
        fq_name: ``("default-domain", "<project>", "<name>")``.
        network_id: the virtual network it is plugged into.
        project_id: the project it lives in.
        mac_addresses: its MAC addresses (TF assigns one when none is given).
        ip_addresses: addresses of the instance IPs that point at it.
        instance_ip_ids: uuids of those instance IPs.
        security_group_ids: security groups applied to it.
        floating_ip_ids: floating IPs associated with it.
        device_owner: e.g. ``"network:router_interface"`` or ``"compute:nova"``.
        owner: the project that owns it (``perms2.owner``), dashed.

    Example:
        >>> from cloudkit.tungsten import Port
        >>> Port(uuid="1", name="p", fq_name=("d", "p", "p"), network_id="n").network_id
        'n'
    """

    uuid: str
    name: str
    fq_name: tuple[str, ...]
    network_id: str | None = None
    project_id: str | None = None
    mac_addresses: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    instance_ip_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    floating_ip_ids: tuple[str, ...] = ()
    device_owner: str | None = None
    owner: str | None = None


@attrs.frozen(kw_only=True)
class InstanceIp:
    """An address TF allocated from a network's subnet, usually for one port.

    ``instance-ip`` objects hang off the config root, not a project: without an explicit owner TF makes
    them owned by the caller's token project (quirk ``tungsten.admin-scope-capture``).

    Example:
        >>> from cloudkit.tungsten import InstanceIp
        >>> InstanceIp(uuid="1", name="1", address="10.0.0.3", network_id="n").address
        '10.0.0.3'
    """

    uuid: str
    name: str
    address: str | None
    network_id: str | None = None
    port_ids: tuple[str, ...] = ()
    family: str | None = None
    subnet_uuid: str | None = None
    owner: str | None = None


@attrs.frozen(kw_only=True)
class FloatingIpPool:
    """A pool of floating IPs on an (external) virtual network.

    Example:
        >>> from cloudkit.tungsten import FloatingIpPool
        >>> FloatingIpPool(uuid="1", name="public", fq_name=("d", "admin", "ext", "public"),
        ...                network_id="n").network_id
        'n'
    """

    uuid: str
    name: str
    fq_name: tuple[str, ...]
    network_id: str | None = None
    subnet_uuids: tuple[str, ...] = ()
    owner: str | None = None


@attrs.frozen(kw_only=True)
class FloatingIp:
    """A floating IP: an address from a pool, given to a project and optionally bound to a port.

    Example:
        >>> from cloudkit.tungsten import FloatingIp
        >>> FloatingIp(uuid="1", name="1", fq_name=("d", "a", "e", "p", "1"), address="203.0.113.5",
        ...            pool_id="p").port_ids
        ()
    """

    uuid: str
    name: str
    fq_name: tuple[str, ...]
    address: str | None
    pool_id: str | None = None
    project_ids: tuple[str, ...] = ()
    port_ids: tuple[str, ...] = ()
    fixed_ip_address: str | None = None
    owner: str | None = None


class RuleDirection(enum.Enum):
    """Which traffic a security-group rule admits, seen from the group's ports.

    Example:
        >>> from cloudkit.tungsten import RuleDirection
        >>> RuleDirection("ingress") is RuleDirection.INGRESS
        True
    """

    INGRESS = "ingress"
    EGRESS = "egress"


@attrs.frozen(kw_only=True)
class SecurityGroupRule:
    """One security-group rule, in Neutron's terms.

    TF stores each rule as a ``policy_rule`` with ``direction ">"``: an ingress rule has the remote side
    in ``src_addresses`` and ``{"security_group": "local"}`` (this group) in ``dst_addresses``; an egress
    rule the other way round. ``_wire`` converts both ways.

    Attributes:
        direction: ingress or egress.
        protocol: ``"any"``, ``"tcp"``, ``"udp"``, ``"icmp"``, ``"icmp6"`` or an IP protocol number.
        ethertype: ``"IPv4"`` or ``"IPv6"``.
        port_min, port_max: the remote-facing port range on our side (``0``-``65535`` for all).
        remote_cidr: the remote prefix, e.g. ``"0.0.0.0/0"``.
        remote_group: the remote security group's fq_name joined by ``:``, or ``"local"`` for this group.
        uuid: the rule's uuid (``rule_uuid``).

    Example:
        >>> from cloudkit.tungsten import RuleDirection, SecurityGroupRule
        >>> SecurityGroupRule(direction=RuleDirection.INGRESS, protocol="tcp", port_min=22, port_max=22,
        ...                   remote_cidr="0.0.0.0/0").port_max
        22
    """

    direction: RuleDirection
    protocol: str = "any"
    ethertype: str = "IPv4"
    port_min: int = 0
    port_max: int = 65535
    remote_cidr: str | None = None
    remote_group: str | None = None
    uuid: str | None = None


@attrs.frozen(kw_only=True)
class SecurityGroup:
    """A security group and its rules.

    Example:
        >>> from cloudkit.tungsten import SecurityGroup
        >>> SecurityGroup(uuid="1", name="web", fq_name=("d", "alice", "web")).rules
        ()
    """

    uuid: str
    name: str
    fq_name: tuple[str, ...]
    project_id: str | None = None
    rules: tuple[SecurityGroupRule, ...] = ()
    owner: str | None = None


@attrs.frozen(kw_only=True)
class LogicalRouter:
    """A logical router: its interface ports and, when set, its external gateway network.

    Example:
        >>> from cloudkit.tungsten import LogicalRouter
        >>> LogicalRouter(uuid="1", name="r1", fq_name=("d", "alice", "r1")).port_ids
        ()
    """

    uuid: str
    name: str
    fq_name: tuple[str, ...]
    project_id: str | None = None
    port_ids: tuple[str, ...] = ()
    gateway_network_ids: tuple[str, ...] = ()
    owner: str | None = None


@attrs.frozen(kw_only=True)
class VrouterAgent:
    """One vRouter agent as TF's analytics API reports it: its node, kernel, build and platform.

    ``kernel`` is ``None`` when the UVE carries no kernel at the field read (see
    :meth:`TungstenClient.vrouter_agents`): TF's own ``VrouterAgent`` UVE has no kernel field.

    Example:
        >>> from cloudkit.tungsten import VrouterAgent
        >>> VrouterAgent(name="cmp-7", kernel="5.15.0-91-generic", platform="HOST").kernel
        '5.15.0-91-generic'
    """

    name: str
    kernel: str | None
    build_version: str | None = None
    platform: str | None = None
