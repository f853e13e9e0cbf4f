"""The schema subset the Tungsten fake serves: resource kinds, their properties and the property checks.

Each `Kind` names its parents (none: config-root), its ref fields (field to target type) and its
properties, with the simple ones (ints with bounds, bools, strings with allowed values) checked as
contrail-api's generated types check them. Errors are `TfError`: a status and contrail-api's text.
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import pprint
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from cloudkit.testing.fakes._kit import HttpError, Reply

Json = dict[str, Any]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
AaaMode = Literal["cloud-admin", "rbac", "no-auth"]

AAA_MODES: tuple[AaaMode, ...] = ("cloud-admin", "rbac", "no-auth")
NAMESPACE = uuid.UUID("5b7c0c52-8d1e-4f63-9a3e-2f1d6c4b8a90")  # seeds get uuid5 ids in it: fixed
DOMAIN = "default-domain"
DEFAULT_PROJECT = "default-project"
CLOUD_ADMIN = "cloud-admin"  # the owner of objects made without a project scope
CLOUD_ADMIN_ROLE = "admin"  # contrail-api's cloud_admin_role default
PERMS_R, PERMS_W, PERMS_X = 4, 2, 1
PERMS_RWX, PERMS_RX = 7, 5
MODE_WORDS = {
    4: "read",
    2: "write",
    1: "link",
    3: "write,link",
    5: "read,link",
    6: "read,write",
    7: "read,write,link",
}
PAGINATE_COUNT = 256  # contrail-api's paginate_count default
SG_ID_FIRST = 8000001  # assumption: SGID_MIN_ALLOC is 8000000 and __no_rule__ takes the first
SYSTEM_VNS = (("ip-fabric",), ("__link_local__",))
BOTTLE_TEXT = "text/html; charset=UTF-8"  # bottle's default content type, used for its error bodies
IP_PROTOCOLS = frozenset(
    # assumption: the names cfgm_common.protocols.IP_PROTOCOL_NAMES accepts besides numbers
    {"any", "icmp", "igmp", "tcp", "udp", "icmp6", "ipv6-icmp", "gre", "esp", "ah", "sctp", "vrrp", "ospf"}
)


@dataclass(eq=False, kw_only=True)
class TfError(HttpError):
    """An error contrail-api answers: ``status`` and its plain-text ``message`` (bottle's content type)."""

    content_type: str = BOTTLE_TEXT

    def reply(self) -> Reply:
        """The answer that carries this error."""
        return Reply(self.status, self.message.encode(), self.content_type, self.headers)


def uuid5(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


def fmt(value: object) -> str:
    """Python's ``pprint.pformat``, which contrail-api uses for fq_names in its messages."""
    return pprint.pformat(value)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()


def dashed(project_id: str) -> str:
    """Keystone's hex project id as the TF project uuid (dashes inserted)."""
    return str(uuid.UUID(project_id))


def bare(owner: str) -> str:
    return owner.replace("-", "")


def as_list(value: object) -> list[str] | None:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    return None


def parse_ip(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(text))
    except ValueError:
        return None


def json_dict(value: object) -> Json:
    return cast("Json", value) if isinstance(value, dict) else {}


# ================================================================================== schema subset
@dataclass(frozen=True, slots=True)
class Kind:
    """One resource type: parents (empty: config-root), refs (field -> target type), properties."""

    name: str
    parents: tuple[str, ...]
    refs: Mapping[str, str]
    props: frozenset[str]
    ints: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    bools: frozenset[str] = frozenset()
    strings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # value -> allowed (empty: any)

    @property
    def snake(self) -> str:
        return self.name.replace("-", "_")


BASE_PROPS = frozenset({"id_perms", "perms2", "display_name", "annotations"})


def _kind(
    name: str,
    parents: tuple[str, ...],
    refs: Mapping[str, str],
    complex_props: Iterable[str] = (),
    *,
    ints: Mapping[str, tuple[int, int]] | None = None,
    bools: Iterable[str] = (),
    strings: Mapping[str, tuple[str, ...]] | None = None,
) -> Kind:
    ints = dict(ints or {})
    strings = {"display_name": (), **(strings or {})}
    props = BASE_PROPS | set(complex_props) | set(ints) | set(bools) | set(strings)
    return Kind(name, parents, dict(refs), frozenset(props), ints, frozenset(bools), strings)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        _kind("domain", (), {}, ["domain_limits"]),
        _kind(
            "global-system-config",
            (),
            {},
            ["ip_fabric_subnets"],
            ints={"autonomous_system": (1, 4294967295)},
            strings={"config_version": ()},
        ),
        _kind(
            "project",
            ("domain",),
            {"floating_ip_pool_refs": "floating-ip-pool"},
            ["quota"],
            bools=["vxlan_routing", "alarm_enable", "enable_security_policy_draft"],
        ),
        _kind(
            "network-ipam",
            ("project",),
            {},
            ["network_ipam_mgmt", "ipam_subnets"],
            bools=["ipam_subnetting"],
            strings={"ipam_subnet_method": ("user-defined-subnet", "flat-subnet", "auto-subnet")},
        ),
        _kind(
            "virtual-network",
            ("project",),
            {
                "network_ipam_refs": "network-ipam",
                "network_policy_refs": "network-policy",
                "route_table_refs": "route-table",
            },
            [
                "virtual_network_properties",
                "route_target_list",
                "import_route_target_list",
                "export_route_target_list",
                "provider_properties",
                "ecmp_hashing_include_fields",
                "mac_limit_control",
                "mac_move_control",
                "virtual_network_fat_flow_protocols",
                "virtual_network_routed_properties",
            ],
            ints={
                "mtu": (0, 9216),
                "virtual_network_network_id": (0, 4294967295),
                "mac_aging_time": (0, 86400),
            },
            bools=[
                "router_external",
                "is_shared",
                "port_security_enabled",
                "flood_unknown_unicast",
                "external_ipam",
                "fabric_snat",
                "igmp_enable",
                "layer2_control_word",
                "mac_learning_enabled",
                "mac_ip_learning_enable",
                "pbb_etree_enable",
                "pbb_evpn_enable",
                "is_provider_network",
                "multi_policy_service_chains_enabled",
            ],
            strings={
                "address_allocation_mode": (
                    "user-defined-subnet-preferred",
                    "user-defined-subnet-only",
                    "flat-subnet-preferred",
                    "flat-subnet-only",
                ),
                "virtual_network_category": (),
            },
        ),
        _kind(
            "routing-instance",
            ("virtual-network",),
            {},
            ["static_route_entries", "service_chain_information"],
            bools=["routing_instance_is_default", "routing_instance_fabric_snat", "routing_instance_has_pnf"],
        ),
        _kind("virtual-machine", (), {}, strings={"server_type": ()}),
        _kind(
            "virtual-machine-interface",
            ("project", "virtual-machine", "virtual-router"),
            {
                "virtual_network_refs": "virtual-network",
                "security_group_refs": "security-group",
                "virtual_machine_refs": "virtual-machine",
            },
            [
                "virtual_machine_interface_mac_addresses",
                "virtual_machine_interface_bindings",
                "virtual_machine_interface_dhcp_option_list",
                "virtual_machine_interface_allowed_address_pairs",
                "virtual_machine_interface_host_routes",
                "virtual_machine_interface_properties",
                "virtual_machine_interface_fat_flow_protocols",
                "ecmp_hashing_include_fields",
                "vrf_assign_table",
            ],
            bools=[
                "port_security_enabled",
                "virtual_machine_interface_disable_policy",
                "igmp_enable",
                "vlan_tag_based_bridge_domain",
            ],
            strings={"virtual_machine_interface_device_owner": ()},
        ),
        _kind(
            "instance-ip",
            (),
            {
                "virtual_network_refs": "virtual-network",
                "virtual_machine_interface_refs": "virtual-machine-interface",
                "network_ipam_refs": "network-ipam",
            },
            ["instance_ip_subnet", "secondary_ip_tracking_ip"],
            bools=[
                "instance_ip_local_ip",
                "instance_ip_secondary",
                "service_health_check_ip",
                "service_instance_ip",
            ],
            strings={
                "instance_ip_address": (),
                "instance_ip_family": ("v4", "v6"),
                "instance_ip_mode": ("active-active", "active-standby"),
                "instance_ip_subscriber_tag": (),
                "subnet_uuid": (),
            },
        ),
        _kind("floating-ip-pool", ("virtual-network",), {}, ["floating_ip_pool_subnets"]),
        _kind(
            "floating-ip",
            ("floating-ip-pool", "instance-ip"),
            {"project_refs": "project", "virtual_machine_interface_refs": "virtual-machine-interface"},
            ["floating_ip_port_mappings"],
            bools=["floating_ip_is_virtual_ip", "floating_ip_port_mappings_enable"],
            strings={
                "floating_ip_address": (),
                "floating_ip_address_family": ("v4", "v6"),
                "floating_ip_fixed_ip_address": (),
                "floating_ip_traffic_direction": ("ingress", "egress", "both"),
            },
        ),
        _kind(
            "security-group",
            ("project",),
            {},
            ["security_group_entries"],
            ints={"security_group_id": (0, 4294967295), "configured_security_group_id": (0, 4294967295)},
        ),
        _kind(
            "logical-router",
            ("project",),
            {
                "virtual_machine_interface_refs": "virtual-machine-interface",
                "virtual_network_refs": "virtual-network",
                "route_table_refs": "route-table",
            },
            ["configured_route_target_list", "logical_router_dhcp_relay_server"],
            bools=["logical_router_gateway_external"],
            strings={
                "logical_router_type": ("snat-routing", "vxlan-routing"),
                "vxlan_network_identifier": (),
            },
        ),
        _kind("route-table", ("project",), {}, ["routes"]),
        _kind("network-policy", ("project",), {}, ["network_policy_entries"]),
    )
}
PLURALS = {f"{name}s": name for name in KINDS}
NEUTRON = {  # resource -> (VNC type, Neutron's not-found exception, its id keyword)
    "network": ("virtual-network", "NetworkNotFound", "net_id"),
    "router": ("logical-router", "RouterNotFound", "router_id"),
}
ACTIONS = (
    "fqname-to-id",
    "id-to-fqname",
    "ref-update",
    "ref-relax-for-delete",
    "chown",
    "chmod",
    "aaa-mode",
)
VN_PROPERTIES_INTS = {
    "vxlan_network_identifier": (1, 16777215),
    "mtu": (0, 9216),
    "max_flows": (0, 4294967295),
}
VN_PROPERTIES_CHOICES = {"forwarding_mode": ("l2_l3", "l2", "l3"), "rpf": ("enable", "disable")}
VN_PROPERTIES_FIELDS = frozenset(
    {"allow_transit", "network_id", "mirror_destination", *VN_PROPERTIES_INTS, *VN_PROPERTIES_CHOICES}
)


# ================================================================================== state model


def post_body(kind: str, body: object) -> Json:
    if not isinstance(body, dict) or not isinstance(body.get(kind), dict):
        # assumption: the real server fails on the missing key (KeyError, 500); a clean 400 here
        raise TfError(400, f"Bad Request, no {kind} in POST body")
    return copy.deepcopy(cast("Json", body[kind]))


def post_fq_name(obj_dict: Mapping[str, Any]) -> list[str]:
    """_post_validate: fq_name present, a list of strings, no ``:`` in the name."""
    given = obj_dict.get("fq_name")
    if not given:
        raise TfError(400, "Bad Request, no fq_name in POST body")
    fq_name = as_list(given)
    if fq_name is None:
        raise TfError(400, f"Bad Request, fq_name must be a list of strings: {given!r}")  # assumption
    if ":" in fq_name[-1]:
        raise TfError(400, "Bad Request, name has one of invalid chars {':'}")
    return fq_name


def check_prop(info: Kind, name: str, value: object) -> object:
    """One property's value (ints normalised); TypeError/ValueError with contrail-api's texts."""
    if name in info.ints:
        return check_int(name, value, info.ints[name])
    if name in info.bools:
        if not isinstance(value, bool):
            raise TypeError(f"{name}: true/false expected instead of {value}")
        return value
    if name in info.strings:
        check_string(name, value, info.strings[name])
        return value
    check_complex(name, cast("Mapping[str, Any]", value))
    return value


def check_int(name: str, value: object, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(cast("Any", value))
        except (TypeError, ValueError):
            raise ValueError(f"{name}: integer value expected instead of {value}") from None
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(f"{name}: value must be between {low} and {high}")
    return value


def check_string(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name}: string value expected instead of {value}")
    if allowed and value not in allowed:
        raise ValueError(f"{name}: value must be one of {list(allowed)}")


def check_complex(name: str, value: Mapping[str, Any]) -> None:
    if name == "virtual_network_properties":
        for key, item in value.items():
            if key not in VN_PROPERTIES_FIELDS:
                raise ValueError(f"class VirtualNetworkType does not have field {key}")
            if item in (None, "", 0):
                continue
            if key in VN_PROPERTIES_INTS:
                check_int(key, item, VN_PROPERTIES_INTS[key])
            elif key in VN_PROPERTIES_CHOICES:
                check_string(key, item, VN_PROPERTIES_CHOICES[key])
    elif name.endswith("dhcp_option_list"):
        check_dhcp_options(value)


def check_dhcp_options(value: object) -> None:
    if not isinstance(value, dict):
        raise TypeError("DhcpOptionsListType must be an object")
    options = value.get("dhcp_option") or []
    if not isinstance(options, list):
        raise TypeError(f"Field dhcp_option must be a list. Received value: {options}")
    for option in options:
        if not isinstance(option, dict) or not option.get("dhcp_option_name"):
            raise TypeError(f"dhcp_option needs dhcp_option_name: {option}")  # assumption


def subnet_network(subnet: Mapping[str, Any]) -> Network:
    spec = subnet.get("subnet")
    if not isinstance(spec, dict):
        raise TypeError("Subnet type is invalid")
    cidr = f"{spec.get('ip_prefix')}/{spec.get('ip_prefix_len')}"
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ValueError(f"Subnet type '{cidr}' is invalid") from None


def cidr(subnet: Mapping[str, Any]) -> str:
    network = subnet_network(subnet)
    return f"{network.network_address}/{network.prefixlen}"


def check_vn_subnets(attr: object) -> None:
    if not isinstance(attr, dict):
        raise TypeError("VnSubnetsType must be an object")
    subnets = attr.get("ipam_subnets") or []
    if not isinstance(subnets, list):
        raise TypeError(f"Field ipam_subnets must be a list. Received value: {subnets}")
    for subnet in subnets:
        if not isinstance(subnet, dict):
            raise TypeError("IpamSubnetType must be an object")
        subnet_network(subnet)
        if subnet.get("dhcp_option_list") is not None:
            check_dhcp_options(subnet["dhcp_option_list"])


def check_policy_rules(entries: object, *, network_policy: bool = False) -> None:
    """_policy_base.check_policy_rules: duplicates, rule_uuid, protocol, ethertype, 'local'."""
    if not entries:
        return
    rules = json_dict(entries).get("policy_rule") or []
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise TfError(400, "Bad Request, policy_rule must be a list of rules")  # assumption
    ignore = ("rule_uuid", "created", "last_modified")
    bare = [{k: v for k, v in r.items() if k not in ignore} for r in rules]
    for index, rule in enumerate(bare):
        if rule in bare[:index] + bare[index + 1 :]:
            raise TfError(409, f"Rule already exists : {rules[index].get('rule_uuid')}")
    for rule in rules:
        if not rule.get("rule_uuid"):
            rule["rule_uuid"] = str(uuid.uuid4())
        protocol = str(rule.get("protocol", ""))
        if protocol.isdigit() and not 0 <= int(protocol) <= 255:  # noqa: PLR2004 - IP protocol numbers
            raise TfError(400, f"Rule with invalid protocol : {protocol}")
        if not protocol.isdigit() and protocol.lower() not in IP_PROTOCOLS:
            raise TfError(400, f"Rule with invalid protocol : {protocol.lower()}")
        if network_policy:
            check_network_policy_rule(rule)
        else:
            check_security_group_rule(rule)


def check_network_policy_rule(rule: Mapping[str, Any]) -> None:
    if rule.get("action_list") is None:
        raise TfError(400, "Action is required")
    addresses = [*(rule.get("src_addresses") or []), *(rule.get("dst_addresses") or [])]
    if any(a.get("security_group") is not None for a in addresses):
        raise TfError(400, "Config Error: policy rule refering to security group is not allowed")


def check_security_group_rule(rule: Mapping[str, Any]) -> None:
    sources = rule.get("src_addresses") or []
    destinations = rule.get("dst_addresses") or []
    ethertype = rule.get("ethertype")
    for address in [*sources, *destinations] if ethertype is not None else []:
        if address.get("subnet") is None:
            continue
        try:
            network = subnet_network(address)
        except (TypeError, ValueError) as exc:
            raise TfError(400, str(exc)) from None
        if ethertype != f"IPv{network.version}":
            raise TfError(400, f"Rule subnet {network} doesn't match ethertype {ethertype}")
    groups = {a.get("security_group") for a in [*sources, *destinations]}
    if "local" not in groups:
        raise TfError(400, "At least one of source or destination addresses must be 'local'")
