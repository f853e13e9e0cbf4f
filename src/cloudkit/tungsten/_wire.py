"""Pure building and parsing of Keystone and TF config API (VNC API) payloads; raw payloads live only here.

Requests are :class:`WireRequest` values (method, URL, query, JSON body); ``_client`` turns them into
HTTP. Replies come in as status, content type and bytes. TF's error bodies are plain text (quirk
``tungsten.plain-text-errors``); everything else is JSON with the object under its hyphenated type
name (``{"virtual-network": {...}}``). Decoding failures raise
:class:`~cloudkit.errors.ResponseDecodeError` naming the path, e.g.
``$.virtual-network.network_ipam_refs[0].attr.ipam_subnets[1].subnet.ip_prefix_len``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from cloudkit._keystone import login_body
from cloudkit.errors import (
    ApiError,
    CloudkitError,
    InvalidArgumentError,
    ResponseDecodeError,
)
from cloudkit.tungsten import _quirks
from cloudkit.tungsten._models import (
    AllocationPool,
    DhcpOption,
    FloatingIp,
    FloatingIpPool,
    InstanceIp,
    LogicalRouter,
    ObjectRef,
    Port,
    RuleDirection,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    VirtualNetwork,
    VrouterAgent,
)
from cloudkit.tungsten._settings import TungstenSettings

__all__ = ["WireRequest"]

SYSTEM = "tungsten"
Json = dict[str, Any]

VIRTUAL_NETWORK = "virtual-network"
PORT = "virtual-machine-interface"
INSTANCE_IP = "instance-ip"
FLOATING_IP_POOL = "floating-ip-pool"
FLOATING_IP = "floating-ip"
SECURITY_GROUP = "security-group"
LOGICAL_ROUTER = "logical-router"
PROJECT = "project"
NETWORK_IPAM = "network-ipam"

ROUTER_INTERFACE_OWNER = "network:router_interface"
MTU_RANGE = (68, 9216)  # DHCP option 26 minimum (RFC 2132) .. TF schema maximum
_DETAIL_LIMIT = 2000
_ALL_PORTS = {"start_port": 0, "end_port": 65535}
_LOCAL = {"security_group": "local"}
_INTEGER = re.compile(r"-?[0-9]{1,18}")


@attrs.frozen(kw_only=True)
class WireRequest:
    """One HTTP request, before it becomes an ``httpx.Request``: method, URL, query and JSON body.

    Example:
        >>> from cloudkit.tungsten._wire import get_request
        >>> get_request("http://tf:8082", "virtual-network", "8c84ff8a-0000-4000-8000-000000000001").url
        'http://tf:8082/virtual-network/8c84ff8a-0000-4000-8000-000000000001'
    """

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    body: Json | None = None


def _url(base: str, path: str) -> str:
    return f"{base.rstrip('/')}{path}"


# ================================================================================= Keystone
def token_request(settings: TungstenSettings) -> WireRequest:
    """``POST <auth_url>/auth/tokens`` for the service account (body from :func:`cloudkit._keystone.login_body`):
    password with project scope, or an application credential (which carries its own project).

    Example:
        >>> from cloudkit.tungsten import TungstenSettings
        >>> from cloudkit.tungsten._wire import token_request
        >>> r = token_request(TungstenSettings(url="http://tf:8082", auth_url="http://ks:5000/v3",
        ...                                    username="svc-tf", password='p"w', project_name="service"))
        >>> r.url, r.body["auth"]["scope"]["project"]["name"]
        ('http://ks:5000/v3/auth/tokens', 'service')
    """  # noqa: D205, E501 (the summary names both methods)
    password, app_secret = settings.password, settings.application_credential_secret
    body = login_body(
        user_name=settings.username,
        password=password.get_secret_value() if password else None,
        user_domain=settings.user_domain_name,
        project_name=settings.project_name,
        project_domain=settings.project_domain_name,
        application_credential_id=settings.application_credential_id,
        application_credential_secret=app_secret.get_secret_value() if app_secret else None,
    )
    return WireRequest(
        method="POST", url=_url(settings.auth_url, "/auth/tokens"), params=(("nocatalog", ""),), body=body
    )


# ================================================================================= TF requests
def get_request(
    base: str, obj_type: str, uuid: str, *, fields: Sequence[str] = (), back_refs: bool = False
) -> WireRequest:
    """``GET /<type>/<uuid>``; children are left out, back-refs too unless ``back_refs``."""
    params: list[tuple[str, str]] = [("exclude_children", "True")]
    if not back_refs:
        params.append(("exclude_back_refs", "True"))
    if fields:
        params.append(("fields", ",".join(fields)))
    return WireRequest(method="GET", url=_url(base, f"/{obj_type}/{uuid}"), params=tuple(params))


def list_request(
    base: str,
    obj_type: str,
    *,
    parent_id: str | None = None,
    back_ref_id: str | None = None,
    filters: Mapping[str, object] | None = None,
    detail: bool = True,
    page_limit: int | None = None,
    page_marker: str | None = None,
) -> WireRequest:
    """``GET /<type>s`` with TF's filters and paging (``page_marker=None`` starts at the beginning).

    Filter values are JSON-encoded, as the server JSON-decodes them (``filters=router_external==true``).

    Example:
        >>> from cloudkit.tungsten._wire import list_request
        >>> r = list_request("http://tf:8082", "virtual-network", parent_id="p1", page_limit=2,
        ...                  filters={"router_external": True})
        >>> r.url, r.params
        ('http://tf:8082/virtual-networks', (('detail', 'True'), ('parent_id', 'p1'), ('filters', 'router_external==true'), ('page_limit', '2'), ('page_marker', 'None')))
    """  # noqa: E501 (a doctest line)
    params: list[tuple[str, str]] = []
    if detail:
        params.append(("detail", "True"))
    if parent_id:
        params.append(("parent_id", parent_id))
    if back_ref_id:
        params.append(("back_ref_id", back_ref_id))
    if filters:
        params.append(("filters", ",".join(f"{k}=={json.dumps(v)}" for k, v in filters.items())))
    if page_limit is not None:
        params.append(("page_limit", str(page_limit)))
        params.append(("page_marker", page_marker or "None"))
    return WireRequest(method="GET", url=_url(base, _quirks.collection_path(obj_type)), params=tuple(params))


def create_request(base: str, obj_type: str, obj: Json) -> WireRequest:
    """``POST /<type>s`` with ``{"<type>": obj}``."""
    return WireRequest(method="POST", url=_url(base, _quirks.collection_path(obj_type)), body={obj_type: obj})


def update_request(base: str, obj_type: str, uuid: str, changes: Json) -> WireRequest:
    """``PUT /<type>/<uuid>`` with only the changed fields."""
    return WireRequest(method="PUT", url=_url(base, f"/{obj_type}/{uuid}"), body={obj_type: changes})


def delete_request(base: str, obj_type: str, uuid: str) -> WireRequest:
    """``DELETE /<type>/<uuid>``."""
    return WireRequest(method="DELETE", url=_url(base, f"/{obj_type}/{uuid}"))


def action_request(base: str, action: str, body: Json) -> WireRequest:
    """``POST /<action>`` (``fqname-to-id``, ``id-to-fqname``, ``ref-update``, ``chown`` ...)."""
    return WireRequest(method="POST", url=_url(base, f"/{action}"), body=body)


def aaa_mode_request(base: str) -> WireRequest:
    """``GET /aaa-mode``: the server's authorisation mode."""
    return WireRequest(method="GET", url=_url(base, "/aaa-mode"))


# ================================================================================= TF bodies
def _ref(fq_name: Sequence[str], uuid: str, attr: Any = None) -> Json:
    return {"to": list(fq_name), "uuid": uuid, "attr": attr}


def _check_mtu(mtu: object, operation: str) -> None:
    if mtu is None:
        return
    low, high = MTU_RANGE
    if isinstance(mtu, bool) or not isinstance(mtu, int) or not low <= mtu <= high:
        raise InvalidArgumentError(
            f"mtu must be an int in {low}..{high}, got {mtu!r}", system=SYSTEM, operation=operation
        )


def subnet_spec(subnet: str | Subnet, *, operation: str) -> Subnet:
    """A caller's subnet (a CIDR string or a :class:`Subnet`) checked and in canonical form.

    Raises:
        InvalidArgumentError: not a network address in CIDR notation.

    Example:
        >>> from cloudkit.tungsten._wire import subnet_spec
        >>> subnet_spec("10.0.0.0/24", operation="x").cidr
        '10.0.0.0/24'
    """
    spec = subnet if isinstance(subnet, Subnet) else Subnet(cidr=subnet)
    try:
        network = ipaddress.ip_network(spec.cidr, strict=True)
    except (ValueError, TypeError):
        raise InvalidArgumentError(
            f"subnet {spec.cidr!r} is not a network in CIDR notation (e.g. 10.0.0.0/24)",
            system=SYSTEM,
            operation=operation,
        ) from None
    return attrs.evolve(spec, cidr=str(network))


def ipam_subnet(subnet: Subnet, mtu: int | None) -> Json:
    """One ``IpamSubnetType`` entry; a v4 subnet gets DHCP option 26 = ``mtu`` (``tungsten.mtu-not-in-dhcp``).

    Example:
        >>> from cloudkit.tungsten import Subnet
        >>> from cloudkit.tungsten._wire import ipam_subnet
        >>> ipam_subnet(Subnet(cidr="10.0.0.0/24"), 1450)
        {'subnet': {'ip_prefix': '10.0.0.0', 'ip_prefix_len': 24}, 'enable_dhcp': True, 'dhcp_option_list': {'dhcp_option': [{'dhcp_option_name': '26', 'dhcp_option_value': '1450'}]}}
    """  # noqa: E501 (a doctest line)
    network = ipaddress.ip_network(subnet.cidr, strict=False)
    entry: Json = {
        "subnet": {"ip_prefix": str(network.network_address), "ip_prefix_len": network.prefixlen},
        "enable_dhcp": subnet.dhcp_enabled,
    }
    if subnet.uuid:
        entry["subnet_uuid"] = subnet.uuid
    if subnet.gateway:
        entry["default_gateway"] = subnet.gateway
    if subnet.dns_server:
        entry["dns_server_address"] = subnet.dns_server
    if subnet.name:
        entry["subnet_name"] = subnet.name
    if subnet.allocation_pools:
        entry["allocation_pools"] = [{"start": p.start, "end": p.end} for p in subnet.allocation_pools]
    options = [{"dhcp_option_name": o.name, "dhcp_option_value": o.value} for o in subnet.dhcp_options]
    options = _quirks.with_interface_mtu(options, mtu if network.version == 4 else None)  # noqa: PLR2004
    if options:
        entry["dhcp_option_list"] = {"dhcp_option": options}
    return entry


def virtual_network_body(
    *,
    uuid: str,
    project_fq_name: Sequence[str],
    project_id: str,
    name: str,
    subnets: Sequence[Subnet],
    mtu: int | None,
    ipam_fq_name: Sequence[str],
    external: bool = False,
    shared: bool = False,
    operation: str = "create_virtual_network",
) -> Json:
    """The ``virtual-network`` object for a create: under the customer's project, owned by it.

    Example:
        >>> from cloudkit.tungsten import Subnet
        >>> from cloudkit.tungsten._wire import virtual_network_body
        >>> body = virtual_network_body(uuid="u1", project_fq_name=["default-domain", "alice"],
        ...     project_id="0123456789abcdef0123456789abcdef", name="net-1",
        ...     subnets=[Subnet(cidr="10.0.0.0/24")], mtu=1450,
        ...     ipam_fq_name=["default-domain", "default-project", "default-network-ipam"])
        >>> body["fq_name"], body["mtu"], body["perms2"]["owner"]
        (['default-domain', 'alice', 'net-1'], 1450, '0123456789abcdef0123456789abcdef')
    """
    _check_mtu(mtu, operation)
    _check_name(name, operation)
    body: Json = {
        "uuid": uuid,
        "parent_type": PROJECT,
        "fq_name": [*project_fq_name, name],
        "display_name": name,
        "perms2": _quirks.ownership(project_id, global_access=5 if external or shared else 0),
    }
    if subnets:
        body["network_ipam_refs"] = [
            {"to": list(ipam_fq_name), "attr": {"ipam_subnets": [ipam_subnet(s, mtu) for s in subnets]}}
        ]
    if mtu is not None:
        body["mtu"] = mtu
    if external:
        body["router_external"] = True
    if shared:
        body["is_shared"] = True
    return body


def network_update(
    current: Json, *, mtu: int | None, subnets: Sequence[Subnet] | None, operation: str
) -> Json:
    """The PUT body that sets a network's MTU and/or subnets, from the network as read.

    The complete ``network_ipam_refs`` list goes in the PUT (quirk ``tungsten.put-replaces-refs``);
    existing subnets keep their uuids and options; option 26 follows the MTU (``tungsten.mtu-not-in-dhcp``).
    ``subnets=None`` keeps the subnets; ``mtu=None`` keeps the MTU.
    """
    _check_mtu(mtu, operation)
    node = _Node(current, f"$.{VIRTUAL_NETWORK}", operation)
    refs = [
        dict(r)
        for r in _quirks.complete_ref_list([ref.mapping() for ref in node.key("network_ipam_refs").items()])
    ]
    effective_mtu = mtu if mtu is not None else node.key("mtu").opt_int() or None
    wanted = {s.cidr: s for s in subnets} if subnets is not None else None
    kept: set[str] = set()
    for i, ref in enumerate(refs):
        entries = node.key("network_ipam_refs").index(i).key("attr").key("ipam_subnets").items()
        new_entries: list[Json] = []
        for entry in entries:
            stored = _subnet(entry)
            if wanted is not None and stored.cidr not in wanted:
                continue
            kept.add(stored.cidr)
            raw = dict(entry.mapping())
            if stored.version == 4:  # noqa: PLR2004
                options = raw.get("dhcp_option_list") or {}
                listed = options.get("dhcp_option") if isinstance(options, dict) else None
                raw["dhcp_option_list"] = {
                    "dhcp_option": _quirks.with_interface_mtu(list(listed or []), effective_mtu)
                }
            new_entries.append(raw)
        attr = dict(ref.get("attr") or {})
        attr["ipam_subnets"] = new_entries
        ref["attr"] = attr
    if wanted is not None:
        added = [ipam_subnet(s, effective_mtu) for cidr, s in wanted.items() if cidr not in kept]
        if added and refs:
            refs[0]["attr"]["ipam_subnets"].extend(added)
        elif added:
            raise InvalidArgumentError(
                "the network has no network-ipam ref to add subnets to", system=SYSTEM, operation=operation
            )
    changes: Json = {"network_ipam_refs": refs}
    if mtu is not None:
        changes["mtu"] = mtu
    return changes


def port_body(
    *,
    uuid: str,
    project_fq_name: Sequence[str],
    project_id: str,
    name: str,
    network: ObjectRef,
    security_groups: Sequence[ObjectRef] = (),
    mac_address: str | None = None,
    device_owner: str | None = None,
    operation: str = "create_port",
) -> Json:
    """The ``virtual-machine-interface`` object for a create, owned by the customer's project."""
    _check_name(name, operation)
    body: Json = {
        "uuid": uuid,
        "parent_type": PROJECT,
        "fq_name": [*project_fq_name, name],
        "display_name": name,
        "virtual_network_refs": [_ref(network.fq_name, network.uuid)],
        "perms2": _quirks.ownership(project_id),
    }
    if security_groups:
        body["security_group_refs"] = [_ref(sg.fq_name, sg.uuid) for sg in security_groups]
    if mac_address:
        body["virtual_machine_interface_mac_addresses"] = {"mac_address": [mac_address]}
    if device_owner:
        body["virtual_machine_interface_device_owner"] = device_owner
    return body


def instance_ip_body(
    *,
    uuid: str,
    project_id: str,
    network: ObjectRef,
    port: ObjectRef | None = None,
    address: str | None = None,
    operation: str = "create_instance_ip",
) -> Json:
    """The ``instance-ip`` object for a create (config-root child: the owner must be explicit).

    Example:
        >>> from cloudkit.tungsten import ObjectRef
        >>> from cloudkit.tungsten._wire import instance_ip_body
        >>> body = instance_ip_body(uuid="i1", project_id="p1", address="10.0.0.5",
        ...     network=ObjectRef(type="virtual-network", uuid="n1", fq_name=("d", "p", "n")))
        >>> body["fq_name"], body["perms2"]["owner"], body["instance_ip_address"]
        (['i1'], 'p1', '10.0.0.5')
    """
    body: Json = {
        "uuid": uuid,
        "fq_name": [uuid],
        "display_name": uuid,
        "virtual_network_refs": [_ref(network.fq_name, network.uuid)],
        "perms2": _quirks.ownership(project_id),
    }
    if port is not None:
        body["virtual_machine_interface_refs"] = [_ref(port.fq_name, port.uuid)]
    if address is not None:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise InvalidArgumentError(
                f"{address!r} is not an IP address", system=SYSTEM, operation=operation
            ) from None
        body["instance_ip_address"] = str(parsed)
        body["instance_ip_family"] = f"v{parsed.version}"
    return body


def floating_ip_pool_body(
    *,
    uuid: str,
    network: ObjectRef,
    owner_project_id: str,
    name: str,
    subnet_uuids: Sequence[str] = (),
    operation: str = "create_floating_ip_pool",
) -> Json:
    """The ``floating-ip-pool`` object for a create: a child of the (external) network."""
    _check_name(name, operation)
    body: Json = {
        "uuid": uuid,
        "parent_type": VIRTUAL_NETWORK,
        "fq_name": [*network.fq_name, name],
        "display_name": name,
        "perms2": _quirks.ownership(owner_project_id, global_access=5),
    }
    if subnet_uuids:
        body["floating_ip_pool_subnets"] = {"subnet_uuid": list(subnet_uuids)}
    return body


def floating_ip_body(
    *,
    uuid: str,
    pool: ObjectRef,
    project: ObjectRef,
    port: ObjectRef | None = None,
    address: str | None = None,
    operation: str = "create_floating_ip",
) -> Json:
    """The ``floating-ip`` object for a create: from ``pool``, given to and owned by ``project``."""
    body: Json = {
        "uuid": uuid,
        "parent_type": FLOATING_IP_POOL,
        "fq_name": [*pool.fq_name, uuid],
        "display_name": uuid,
        "project_refs": [_ref(project.fq_name, project.uuid)],
        "perms2": _quirks.ownership(project.uuid),
    }
    if port is not None:
        body["virtual_machine_interface_refs"] = [_ref(port.fq_name, port.uuid)]
    if address is not None:
        try:
            body["floating_ip_address"] = str(ipaddress.ip_address(address))
        except ValueError:
            raise InvalidArgumentError(
                f"{address!r} is not an IP address", system=SYSTEM, operation=operation
            ) from None
    return body


def _address(cidr: str | None, group: str | None, ethertype: str) -> Json:
    if group is not None:
        return {"security_group": group}
    default = "0.0.0.0/0" if ethertype == "IPv4" else "::/0"
    network = ipaddress.ip_network(cidr or default, strict=False)
    return {"subnet": {"ip_prefix": str(network.network_address), "ip_prefix_len": network.prefixlen}}


def security_group_rule(
    rule: SecurityGroupRule, *, rule_uuid: str, operation: str = "create_security_group"
) -> Json:
    """A ``policy_rule`` entry as vnc_openstack writes Neutron rules (``direction ">"``, ``local`` side).

    Example:
        >>> from cloudkit.tungsten import RuleDirection, SecurityGroupRule
        >>> from cloudkit.tungsten._wire import security_group_rule
        >>> r = security_group_rule(SecurityGroupRule(direction=RuleDirection.INGRESS, protocol="tcp",
        ...     port_min=22, port_max=22, remote_cidr="0.0.0.0/0"), rule_uuid="r1")
        >>> r["src_addresses"], r["dst_addresses"], r["dst_ports"]
        ([{'subnet': {'ip_prefix': '0.0.0.0', 'ip_prefix_len': 0}}], [{'security_group': 'local'}], [{'start_port': 22, 'end_port': 22}])
    """  # noqa: E501 (a doctest line)
    if rule.ethertype not in {"IPv4", "IPv6"}:
        raise InvalidArgumentError(
            f"ethertype must be IPv4 or IPv6, got {rule.ethertype!r}", system=SYSTEM, operation=operation
        )
    if not 0 <= rule.port_min <= rule.port_max <= 65535:  # noqa: PLR2004
        raise InvalidArgumentError(
            f"ports must satisfy 0 <= port_min <= port_max <= 65535, got {rule.port_min}..{rule.port_max}",
            system=SYSTEM,
            operation=operation,
        )
    if rule.remote_cidr is not None and rule.remote_group is not None:
        raise InvalidArgumentError(
            "a rule has a remote_cidr or a remote_group, not both", system=SYSTEM, operation=operation
        )
    if rule.remote_cidr is not None:
        try:
            ipaddress.ip_network(rule.remote_cidr, strict=False)
        except ValueError:
            raise InvalidArgumentError(
                f"{rule.remote_cidr!r} is not a CIDR", system=SYSTEM, operation=operation
            ) from None
    remote = _address(rule.remote_cidr, rule.remote_group, rule.ethertype)
    ingress = rule.direction is RuleDirection.INGRESS
    return {
        "rule_uuid": rule.uuid or rule_uuid,
        "direction": ">",
        "protocol": rule.protocol,
        "ethertype": rule.ethertype,
        "src_addresses": [remote if ingress else dict(_LOCAL)],
        "dst_addresses": [dict(_LOCAL) if ingress else remote],
        "src_ports": [dict(_ALL_PORTS)],
        "dst_ports": [{"start_port": rule.port_min, "end_port": rule.port_max}],
    }


def security_group_body(
    *,
    uuid: str,
    project_fq_name: Sequence[str],
    project_id: str,
    name: str,
    rules: Sequence[Json],
    operation: str = "create_security_group",
) -> Json:
    """The ``security-group`` object for a create, owned by the customer's project."""
    _check_name(name, operation)
    return {
        "uuid": uuid,
        "parent_type": PROJECT,
        "fq_name": [*project_fq_name, name],
        "display_name": name,
        "security_group_entries": {"policy_rule": list(rules)},
        "perms2": _quirks.ownership(project_id),
    }


def security_group_entries(rules: Sequence[Json]) -> Json:
    """The PUT body that replaces a group's rules (a property, not a ref list: replacing is the intent)."""
    return {"security_group_entries": {"policy_rule": list(rules)}}


def logical_router_body(
    *,
    uuid: str,
    project_fq_name: Sequence[str],
    project_id: str,
    name: str,
    gateway: ObjectRef | None = None,
    operation: str = "create_logical_router",
) -> Json:
    """The ``logical-router`` object for a create, owned by the customer's project."""
    _check_name(name, operation)
    body: Json = {
        "uuid": uuid,
        "parent_type": PROJECT,
        "fq_name": [*project_fq_name, name],
        "display_name": name,
        "perms2": _quirks.ownership(project_id),
    }
    if gateway is not None:
        body["virtual_network_refs"] = [_ref(gateway.fq_name, gateway.uuid)]
    return body


def _check_name(name: object, operation: str) -> None:
    if not isinstance(name, str) or not name.strip() or ":" in name or name != name.strip():
        raise InvalidArgumentError(
            f"name must be non-empty text without ':' or surrounding spaces, got {name!r}",
            system=SYSTEM,
            operation=operation,
        )


# ================================================================================= TF answers
def parse_reply(
    status: int, content_type: str, content: bytes, *, operation: str, subject: ObjectRef | None = None
) -> Any:
    """The decoded JSON of a 2xx answer (``None`` for an empty body), or the typed error of another.

    Raises:
        ApiError: a refusal, typed by status and message (quirk ``tungsten.plain-text-errors``).
        ResponseDecodeError: a 2xx answer that is not JSON.
    """
    if not 200 <= status < 300:  # noqa: PLR2004
        raise error_from(status, content_type, content, operation=operation, subject=subject)
    if not content.strip():
        return None
    return _load_json(content, operation)


def error_from(
    status: int, content_type: str, content: bytes, *, operation: str, subject: ObjectRef | None = None
) -> ApiError:
    """The typed error for a TF refusal; plain-text bodies are the norm, Neutron-proxy JSON is understood.

    A 409 on a delete names the objects that block it.

    Example:
        >>> from cloudkit.tungsten import ObjectRef
        >>> from cloudkit.tungsten._wire import error_from
        >>> err = error_from(409, "text/plain", b"Delete when resource still referred: "
        ...     b"['http://h:8082/virtual-machine-interface/6f1c0d3e-0000-4000-8000-000000000001']",
        ...     operation="delete_virtual_network",
        ...     subject=ObjectRef(type="virtual-network", uuid="8c84ff8a-0000-4000-8000-000000000001"))
        >>> print(err.message)
        cannot delete virtual-network 8c84ff8a-0000-4000-8000-000000000001: still referred to by virtual-machine-interface 6f1c0d3e-0000-4000-8000-000000000001
        >>> type(err).__name__, err.code, err.quirk
        ('ConflictError', None, 'tungsten.plain-text-errors')
    """  # noqa: E501 (a doctest line)
    text = content.decode("utf-8", "replace").strip()
    neutron = _neutron_exception(text) if "json" in content_type.lower() or text.startswith("{") else None
    code: str | None = None
    if neutron is not None:
        cls, code = _quirks.classify_neutron(neutron[0])
        message = f"TF (neutron) {neutron[0]}: {neutron[1]}" if neutron[1] else f"TF (neutron) {neutron[0]}"
    else:
        cls, kind = _quirks.classify(status, text)
        message = _message(status, kind, text, subject)
    return cls(
        message,
        system=SYSTEM,
        operation=operation,
        quirk=_quirks.PLAIN_TEXT_ERRORS.id,
        status=status,
        code=code,
        detail=text[:_DETAIL_LIMIT] or None,
    )


def _message(status: int, kind: str | None, text: str, subject: ObjectRef | None) -> str:
    what = f"{subject.type} {subject.uuid}" if subject else "object"
    blocking = _quirks.refs_in_text(text)
    named = ", ".join(f"{ref.type} {ref.uuid}" for ref in blocking)
    if kind == "still-referred":
        return f"cannot delete {what}: still referred to by {named or _excerpt(text)}"
    if kind == "children-present":
        return f"cannot delete {what}: it still has children {named or _excerpt(text)}"
    excerpt = _excerpt(text)
    return f"TF answered {status}: {excerpt}" if excerpt else f"TF answered {status}"


def _neutron_exception(text: str) -> tuple[str, str] | None:
    try:
        payload = json.loads(text)
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("exception"), str):
        return None
    message = payload.get("msg") or payload.get("message") or ""
    return payload["exception"], _excerpt(message if isinstance(message, str) else "")


def blocking_objects(error: CloudkitError) -> tuple[ObjectRef, ...]:
    """The objects a refused delete named (from the error's detail), or ``()``.

    Example:
        >>> from cloudkit.errors import ConflictError
        >>> from cloudkit.tungsten import blocking_objects
        >>> err = ConflictError("in use", detail="Delete when children still present: "
        ...     "['http://h:8082/floating-ip/0a1b2c3d-0000-4000-8000-00000000000a']")
        >>> [(ref.type, ref.uuid) for ref in blocking_objects(err)]
        [('floating-ip', '0a1b2c3d-0000-4000-8000-00000000000a')]
    """
    if not isinstance(error, ApiError) or not error.detail:
        return ()
    return _quirks.refs_in_text(error.detail)


def created_uuid(payload: Any, obj_type: str, *, operation: str) -> str:
    """The uuid of a create answer ``{"<type>": {"uuid": ...}}``.

    Example:
        >>> from cloudkit.tungsten._wire import created_uuid
        >>> created_uuid({"virtual-network": {"uuid": "u1", "fq_name": ["d", "p", "n"]}}, "virtual-network",
        ...              operation="x")
        'u1'
    """
    return _Node(payload, "$", operation).key(obj_type).key("uuid").text()


def fq_name_of(payload: Any, *, operation: str) -> tuple[str, tuple[str, ...]]:
    """``(type, fq_name)`` of an ``/id-to-fqname`` answer.

    Example:
        >>> from cloudkit.tungsten._wire import fq_name_of
        >>> fq_name_of({"type": "project", "fq_name": ["default-domain", "alice"]}, operation="x")
        ('project', ('default-domain', 'alice'))
    """
    node = _Node(payload, "$", operation)
    return node.key("type").text(), node.key("fq_name").fq_name()


def uuid_of(payload: Any, *, operation: str) -> str:
    """The uuid of an ``/fqname-to-id`` answer ``{"uuid": ...}``."""
    return _Node(payload, "$", operation).key("uuid").text()


def aaa_mode_of(payload: Any, *, operation: str) -> str:
    """The mode of a ``GET /aaa-mode`` answer ``{"aaa-mode": "rbac"}``."""
    return _Node(payload, "$", operation).key("aaa-mode").text()


def object_of(payload: Any, obj_type: str, *, operation: str) -> Json:
    """The object of a read answer ``{"<type>": {...}}``."""
    return dict(_Node(payload, "$", operation).key(obj_type).mapping())


@attrs.frozen(kw_only=True)
class Page:
    """One page of a list: the objects (unwrapped) and the marker of the next page (``None``: last)."""

    objects: tuple[Json, ...]
    marker: str | None
    paged: bool


def list_page(payload: Any, obj_type: str, *, detail: bool, operation: str) -> Page:
    """One page of ``GET /<type>s``: ``{"<type>s": [...], "marker": ...}``; detail items are wrapped.

    Example:
        >>> from cloudkit.tungsten._wire import list_page
        >>> page = list_page({"virtual-networks": [{"virtual-network": {"uuid": "u1"}}], "marker": None},
        ...                  "virtual-network", detail=True, operation="x")
        >>> page.objects, page.marker
        (({'uuid': 'u1'},), None)
    """
    root = _Node(payload, "$", operation)
    items = root.key(_quirks.collection_path(obj_type)[1:]).items()
    objects = tuple(dict((item.key(obj_type) if detail else item).mapping()) for item in items)
    mapping = root.mapping()
    marker = root.key("marker").opt_text() if "marker" in mapping else None
    return Page(objects=objects, marker=marker or None, paged="marker" in mapping)


# ================================================================================= models
def _owner(node: _Node) -> str | None:
    owner = node.key("perms2").key("owner").opt_text()
    return _quirks.dashed(owner) if owner else None


def _identity(node: _Node) -> tuple[str, tuple[str, ...], str]:
    uuid = node.key("uuid").text()
    fq_name = node.key("fq_name").fq_name()
    name = node.key("name").opt_text() or fq_name[-1]
    return uuid, fq_name, name


def _ref_uuids(node: _Node, field: str) -> tuple[str, ...]:
    return tuple(ref.key("uuid").text() for ref in node.key(field).items())


def _parent(node: _Node, parent_type: str) -> str | None:
    kind = node.key("parent_type").opt_text()
    if kind is not None and kind != parent_type:
        return None
    return node.key("parent_uuid").opt_text()


@attrs.frozen
class _StoredSubnet:
    subnet: Subnet
    version: int

    @property
    def cidr(self) -> str:
        return self.subnet.cidr


def _subnet(node: _Node) -> _StoredSubnet:
    prefix_node = node.key("subnet")
    prefix = prefix_node.key("ip_prefix").text()
    length = prefix_node.key("ip_prefix_len").integer()
    try:
        network = ipaddress.ip_network(f"{prefix}/{length}", strict=False)
    except ValueError:
        raise _decode_error(
            node.operation, f"{prefix_node.path}: {prefix}/{length} is not a network"
        ) from None
    options = tuple(
        DhcpOption(name=o.key("dhcp_option_name").text(), value=o.key("dhcp_option_value").opt_text() or "")
        for o in node.key("dhcp_option_list").key("dhcp_option").items()
    )
    pools = tuple(
        AllocationPool(start=p.key("start").text(), end=p.key("end").text())
        for p in node.key("allocation_pools").items()
    )
    subnet = Subnet(
        cidr=str(network),
        uuid=node.key("subnet_uuid").opt_text(),
        gateway=node.key("default_gateway").opt_text(),
        dns_server=node.key("dns_server_address").opt_text(),
        dhcp_enabled=node.key("enable_dhcp").flag(default=True),
        dhcp_options=options,
        allocation_pools=pools,
        name=node.key("subnet_name").opt_text(),
    )
    return _StoredSubnet(subnet, network.version)


def virtual_network(obj: Any, *, operation: str) -> VirtualNetwork:
    """A :class:`VirtualNetwork` from a ``virtual-network`` object.

    Example:
        >>> from cloudkit.tungsten._wire import virtual_network
        >>> vn = virtual_network({"uuid": "u1", "fq_name": ["default-domain", "alice", "net-1"], "mtu": 1450,
        ...     "parent_type": "project", "parent_uuid": "p1",
        ...     "network_ipam_refs": [{"to": ["default-domain", "default-project", "default-network-ipam"],
        ...       "attr": {"ipam_subnets": [{"subnet": {"ip_prefix": "10.0.0.0", "ip_prefix_len": 24}}]}}]},
        ...     operation="x")
        >>> vn.name, vn.cidrs, vn.mtu, vn.project_id
        ('net-1', ('10.0.0.0/24',), 1450, 'p1')
    """
    node = _Node(obj, f"$.{VIRTUAL_NETWORK}", operation)
    uuid, fq_name, name = _identity(node)
    subnets = tuple(
        _subnet(entry).subnet
        for ref in node.key("network_ipam_refs").items()
        for entry in ref.key("attr").key("ipam_subnets").items()
    )
    mtu = node.key("mtu").opt_int() or node.key("virtual_network_properties").key("mtu").opt_int() or None
    return VirtualNetwork(
        uuid=uuid,
        name=name,
        fq_name=fq_name,
        project_id=_parent(node, PROJECT),
        subnets=subnets,
        mtu=mtu,
        external=node.key("router_external").flag(default=False),
        shared=node.key("is_shared").flag(default=False),
        owner=_owner(node),
    )


def port(obj: Any, *, operation: str, addresses: Iterable[str] = ()) -> Port:
    """A :class:`Port` from a ``virtual-machine-interface`` object (``addresses`` from its instance IPs)."""
    node = _Node(obj, f"$.{PORT}", operation)
    uuid, fq_name, name = _identity(node)
    networks = _ref_uuids(node, "virtual_network_refs")
    macs = node.key("virtual_machine_interface_mac_addresses").key("mac_address").items()
    return Port(
        uuid=uuid,
        name=name,
        fq_name=fq_name,
        network_id=networks[0] if networks else None,
        project_id=_parent(node, PROJECT),
        mac_addresses=tuple(mac.text() for mac in macs),
        ip_addresses=tuple(addresses),
        instance_ip_ids=_ref_uuids(node, "instance_ip_back_refs"),
        security_group_ids=_ref_uuids(node, "security_group_refs"),
        floating_ip_ids=_ref_uuids(node, "floating_ip_back_refs"),
        device_owner=node.key("virtual_machine_interface_device_owner").opt_text() or None,
        owner=_owner(node),
    )


def instance_ip(obj: Any, *, operation: str) -> InstanceIp:
    """An :class:`InstanceIp` from an ``instance-ip`` object."""
    node = _Node(obj, f"$.{INSTANCE_IP}", operation)
    uuid = node.key("uuid").text()
    fq_name = node.key("fq_name").opt_fq_name()
    networks = _ref_uuids(node, "virtual_network_refs")
    return InstanceIp(
        uuid=uuid,
        name=node.key("name").opt_text() or (fq_name[-1] if fq_name else uuid),
        address=node.key("instance_ip_address").opt_text(),
        network_id=networks[0] if networks else None,
        port_ids=_ref_uuids(node, "virtual_machine_interface_refs"),
        family=node.key("instance_ip_family").opt_text(),
        subnet_uuid=node.key("subnet_uuid").opt_text(),
        owner=_owner(node),
    )


def floating_ip_pool(obj: Any, *, operation: str) -> FloatingIpPool:
    """A :class:`FloatingIpPool` from a ``floating-ip-pool`` object."""
    node = _Node(obj, f"$.{FLOATING_IP_POOL}", operation)
    uuid, fq_name, name = _identity(node)
    subnets = node.key("floating_ip_pool_subnets").key("subnet_uuid").items()
    return FloatingIpPool(
        uuid=uuid,
        name=name,
        fq_name=fq_name,
        network_id=_parent(node, VIRTUAL_NETWORK),
        subnet_uuids=tuple(s.text() for s in subnets),
        owner=_owner(node),
    )


def floating_ip(obj: Any, *, operation: str) -> FloatingIp:
    """A :class:`FloatingIp` from a ``floating-ip`` object."""
    node = _Node(obj, f"$.{FLOATING_IP}", operation)
    uuid, fq_name, name = _identity(node)
    return FloatingIp(
        uuid=uuid,
        name=name,
        fq_name=fq_name,
        address=node.key("floating_ip_address").opt_text(),
        pool_id=_parent(node, FLOATING_IP_POOL),
        project_ids=_ref_uuids(node, "project_refs"),
        port_ids=_ref_uuids(node, "virtual_machine_interface_refs"),
        fixed_ip_address=node.key("floating_ip_fixed_ip_address").opt_text(),
        owner=_owner(node),
    )


def _remote(node: _Node) -> tuple[str | None, str | None, bool]:
    """``(cidr, group, is_local)`` of an ``AddressType`` list's first entry."""
    entries = node.items()
    if not entries:
        return None, None, False
    first = entries[0]
    group = first.key("security_group").opt_text()
    if group == "local":
        return None, None, True
    subnet = first.key("subnet")
    if subnet.value is not None:
        prefix, length = subnet.key("ip_prefix").text(), subnet.key("ip_prefix_len").integer()
        try:
            return str(ipaddress.ip_network(f"{prefix}/{length}", strict=False)), None, False
        except ValueError:
            raise _decode_error(
                node.operation, f"{subnet.path}: {prefix}/{length} is not a network"
            ) from None
    return None, group, False


def security_group_rule_of(node: _Node) -> SecurityGroupRule:
    """A :class:`SecurityGroupRule` from a ``policy_rule`` entry (inverse of :func:`security_group_rule`)."""
    src_cidr, src_group, src_local = _remote(node.key("src_addresses"))
    dst_cidr, dst_group, dst_local = _remote(node.key("dst_addresses"))
    egress = src_local and not dst_local
    ports = node.key("dst_ports").items()
    port_min = ports[0].key("start_port").integer() if ports else 0
    port_max = ports[0].key("end_port").integer() if ports else 65535
    if port_min < 0 or port_max < 0:  # TF writes -1 for "any"
        port_min, port_max = 0, 65535
    return SecurityGroupRule(
        direction=RuleDirection.EGRESS if egress else RuleDirection.INGRESS,
        protocol=node.key("protocol").opt_text() or "any",
        ethertype=node.key("ethertype").opt_text() or "IPv4",
        port_min=port_min,
        port_max=port_max,
        remote_cidr=dst_cidr if egress else src_cidr,
        remote_group=dst_group if egress else src_group,
        uuid=node.key("rule_uuid").opt_text(),
    )


def security_group(obj: Any, *, operation: str) -> SecurityGroup:
    """A :class:`SecurityGroup` from a ``security-group`` object."""
    node = _Node(obj, f"$.{SECURITY_GROUP}", operation)
    uuid, fq_name, name = _identity(node)
    rules = node.key("security_group_entries").key("policy_rule").items()
    return SecurityGroup(
        uuid=uuid,
        name=name,
        fq_name=fq_name,
        project_id=_parent(node, PROJECT),
        rules=tuple(security_group_rule_of(rule) for rule in rules),
        owner=_owner(node),
    )


def security_group_rules(obj: Any, *, operation: str) -> list[Json]:
    """The raw ``policy_rule`` entries of a ``security-group`` object, to edit and PUT back."""
    node = _Node(obj, f"$.{SECURITY_GROUP}", operation)
    return [dict(rule.mapping()) for rule in node.key("security_group_entries").key("policy_rule").items()]


def logical_router(obj: Any, *, operation: str) -> LogicalRouter:
    """A :class:`LogicalRouter` from a ``logical-router`` object."""
    node = _Node(obj, f"$.{LOGICAL_ROUTER}", operation)
    uuid, fq_name, name = _identity(node)
    return LogicalRouter(
        uuid=uuid,
        name=name,
        fq_name=fq_name,
        project_id=_parent(node, PROJECT),
        port_ids=_ref_uuids(node, "virtual_machine_interface_refs"),
        gateway_network_ids=_ref_uuids(node, "virtual_network_refs"),
        owner=_owner(node),
    )


def port_blockers(obj: Any, *, operation: str) -> tuple[ObjectRef, ...]:
    """What still refers to a port besides its own instance IPs (floating IPs, routers, ...).

    Example:
        >>> from cloudkit.tungsten._wire import port_blockers
        >>> port_blockers({"instance_ip_back_refs": [{"uuid": "i1"}],
        ...                "floating_ip_back_refs": [{"uuid": "f1", "to": ["d", "p", "n", "pool", "f1"]}]},
        ...               operation="x")
        (ObjectRef(type='floating-ip', uuid='f1', fq_name=('d', 'p', 'n', 'pool', 'f1')),)
    """
    node = _Node(obj, f"$.{PORT}", operation)
    found: list[ObjectRef] = []
    for field in sorted(node.mapping()):
        if not field.endswith("_back_refs") or field == "instance_ip_back_refs":
            continue
        kind = field.removesuffix("_back_refs").replace("_", "-")
        found.extend(
            ObjectRef(type=kind, uuid=ref.key("uuid").text(), fq_name=ref.key("to").opt_fq_name())
            for ref in node.key(field).items()
        )
    return tuple(found)


def object_ref(obj: Any, obj_type: str, *, operation: str) -> ObjectRef:
    """An :class:`ObjectRef` from any object (or plain list item) with ``uuid`` and ``fq_name``."""
    node = _Node(obj, f"$.{obj_type}", operation)
    return ObjectRef(type=obj_type, uuid=node.key("uuid").text(), fq_name=node.key("fq_name").fq_name())


# ================================================================================= analytics (UVEs)
ANALYTICS_PORT = 8081
"""contrail-analytics-api's default REST port (Juniper, "Contrail Analytics APIs and UVEs")."""
KERNEL_FIELD = "VrouterAgent.kernel_version"
"""Where :func:`vrouter_agent_of` looks for a node's kernel by default.

# assumption: TF's own sandesh definitions carry no kernel anywhere in the vrouter UVE (tf-controller
src/vnsw/agent/uve/vrouter.sandesh ``VrouterAgent``; nodemgr's NodeStatus, linux_sys_data.py, sends
CPU, memory and disk only), so a deployment that wants the check publishes ``uname -r`` itself (a
nodemgr patch, an exporter) under a field it names; this name is cloudkit's default, not TF's.
"""


def analytics_base(config_url: str) -> str:
    """The analytics API next to a config API: same scheme and host, port 8081.

    Example:
        >>> from cloudkit.tungsten._wire import analytics_base
        >>> analytics_base("https://tf-config.example:8082/")
        'https://tf-config.example:8081'
    """
    scheme, _, rest = config_url.partition("://")
    host = (
        rest.split("/", 1)[0].rsplit(":", 1)[0] if not rest.startswith("[") else rest.split("]", 1)[0] + "]"
    )
    return f"{scheme}://{host}:{ANALYTICS_PORT}"


def vrouters_request(base: str) -> WireRequest:
    """``GET /analytics/uves/vrouters``: every vRouter UVE as ``[{"name", "href"}]``."""
    return WireRequest(method="GET", url=_url(base, "/analytics/uves/vrouters"))


def vrouter_request(base: str, name: str) -> WireRequest:
    """``GET /analytics/uves/vrouter/<name>?flat``: one vRouter's UVE, keyed by struct name."""
    return WireRequest(
        method="GET",
        url=_url(base, f"/analytics/uves/vrouter/{quote(name, safe='')}?flat"),  # bare, as TF's docs write it
    )


def vrouter_names_of(payload: Any, *, operation: str) -> list[str]:
    """The node names of a ``GET /analytics/uves/vrouters`` answer ``[{"name": ..., "href": ...}]``.

    Example:
        >>> from cloudkit.tungsten._wire import vrouter_names_of
        >>> vrouter_names_of([{"name": "cmp-1", "href": "http://a:8081/analytics/uves/vrouter/cmp-1?flat"}],
        ...                  operation="vrouter_agents")
        ['cmp-1']
    """
    return [item.key("name").text() for item in _Node(payload, "$", operation).items()]


def vrouter_agent_of(
    payload: Any, name: str, *, operation: str, kernel_field: str = KERNEL_FIELD
) -> VrouterAgent:
    """A :class:`VrouterAgent` from one vRouter UVE (``?flat``), its kernel read at ``kernel_field``.

    ``VrouterAgent.build_info`` is a JSON text; its ``build-info[0].build-version`` is the agent's
    release (assumption: the shape of contrail's MiscUtils build info; unreadable text gives ``None``).

    Example:
        >>> from cloudkit.tungsten._wire import vrouter_agent_of
        >>> uve = {"VrouterAgent": {"platform": "HOST", "kernel_version": "5.4.0-92-generic",
        ...        "build_info": '{"build-info": [{"build-version": "21.12"}]}'}}
        >>> vrouter_agent_of(uve, "cmp-1", operation="vrouter_agents")
        VrouterAgent(name='cmp-1', kernel='5.4.0-92-generic', build_version='21.12', platform='HOST')
    """
    root = _Node(payload, "$", operation)
    root.mapping()
    agent = root.key("VrouterAgent")
    node = root
    for part in kernel_field.split("."):
        node = node.key(part)
    return VrouterAgent(
        name=name,
        kernel=(node.opt_text() or "").strip() or None,
        build_version=_build_version(agent.key("build_info").opt_text()),
        platform=agent.key("platform").opt_text(),
    )


def _build_version(text: str | None) -> str | None:
    # assumption: contrail's MiscUtils build info, {"build-info": [{"build-version": ...}]}; informational,
    # so text of another shape gives None rather than a decode error
    try:
        info: Any = json.loads(text) if text else {}
        version = info["build-info"][0]["build-version"]
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return version if isinstance(version, str) and version else None


# ================================================================================= decoding helpers
class _Node:
    """A JSON value and its path, with typed accessors that raise ResponseDecodeError naming the path."""

    __slots__ = ("operation", "path", "value")

    def __init__(self, value: Any, path: str, operation: str) -> None:
        self.value = value
        self.path = path
        self.operation = operation

    def _fail(self, expected: str) -> ResponseDecodeError:
        return _decode_error(self.operation, f"{self.path}: expected {expected}, got {_kind(self.value)}")

    def mapping(self) -> Mapping[str, Any]:
        if not isinstance(self.value, dict):
            raise self._fail("an object")
        return self.value

    def key(self, name: str) -> _Node:
        if self.value is None:
            return _Node(None, f"{self.path}.{name}", self.operation)
        return _Node(self.mapping().get(name), f"{self.path}.{name}", self.operation)

    def items(self) -> list[_Node]:
        if self.value is None:
            return []
        if not isinstance(self.value, list):
            raise self._fail("a list")
        return [_Node(v, f"{self.path}[{i}]", self.operation) for i, v in enumerate(self.value)]

    def index(self, i: int) -> _Node:
        return self.items()[i]

    def text(self) -> str:
        if not isinstance(self.value, str) or not self.value:
            raise self._fail("non-empty text")
        return self.value

    def opt_text(self) -> str | None:
        if self.value is None:
            return None
        if not isinstance(self.value, str):
            raise self._fail("text")
        return self.value

    def integer(self) -> int:
        value = self.opt_int()
        if value is None:
            raise self._fail("an integer")
        return value

    def opt_int(self) -> int | None:
        value = self.value
        if value is None:
            return None
        if isinstance(value, bool):
            raise self._fail("an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and _INTEGER.fullmatch(value):
            return int(value)
        raise self._fail("an integer")

    def flag(self, *, default: bool) -> bool:
        value = self.value
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise self._fail("true or false")

    def fq_name(self) -> tuple[str, ...]:
        found = self.opt_fq_name()
        if not found:
            raise self._fail("a non-empty fq_name")
        return found

    def opt_fq_name(self) -> tuple[str, ...]:
        if self.value is None:
            return ()
        if not isinstance(self.value, list) or not all(isinstance(p, str) and p for p in self.value):
            raise self._fail("a list of names")
        return tuple(self.value)


def _load_json(content: bytes, operation: str) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise _decode_error(
            operation, f"$: not JSON ({_excerpt(content.decode('utf-8', 'replace'))!r})"
        ) from None


def _decode_error(operation: str | None, problem: str) -> ResponseDecodeError:
    return ResponseDecodeError(
        "TF answered in an unexpected shape", problems=(problem,), system=SYSTEM, operation=operation
    )


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _excerpt(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else f"{flat[:limit]}..."
