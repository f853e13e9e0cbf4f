"""contrail-api's per-kind rules (the ``pre_dbe_*``/``post_dbe_*`` hooks of vnc_cfg_types) and Keystone sync.

Projects come from Keystone (vnc_openstack's sync, with a ``default`` security group); a virtual
network gets its network id, sharing and subnets checked (and a routing instance after create); ports
get a MAC; instance and floating IPs get addresses from the network's subnets; security groups their
id and checked rules. Updates may not change system ids or create-only addresses.
"""

from __future__ import annotations

import copy
import ipaddress
import uuid
from collections.abc import Callable, Mapping
from typing import Any, cast

from cloudkit.testing.fakes.tungsten import _ipam as ipam
from cloudkit.testing.fakes.tungsten._keystone_client import KeystoneUnavailableError
from cloudkit.testing.fakes.tungsten._schema import (
    DOMAIN,
    PERMS_RWX,
    PERMS_RX,
    SYSTEM_VNS,
    Json,
    TfError,
    check_policy_rules,
    cidr,
    dashed,
    subnet_network,
)
from cloudkit.testing.fakes.tungsten._store import Obj, Store


def sync_project(st: Store, project_id: str, name: str) -> Obj:
    """vnc_openstack's keystone sync: the TF project for a Keystone project (made if missing)."""
    obj = st.objs.get(dashed(project_id))
    if obj is not None:
        return obj
    if st.find("project", [DOMAIN, name]) is not None:
        # assumption: a same-named stale project stays; the real resync may rename (name-<uuid>)
        return cast("Obj", st.find("project", [DOMAIN, name]))
    domain = st.find("domain", [DOMAIN])
    assert domain is not None  # noqa: S101 - always seeded
    obj_uuid = dashed(project_id)
    data: Json = {
        "display_name": name,
        "id_perms": st.id_perms(obj_uuid),
        "perms2": st.perms2(project_id),  # a project owns itself (reference §2.4)
        "quota": {},
    }
    obj = st.put(Obj("project", obj_uuid, [DOMAIN, name], "domain", domain.uuid, data, st.next_seq()))
    _default_security_group(st, obj)
    return obj


def _default_security_group(st: Store, project: Obj) -> None:
    """The ``default`` SG vnc_openstack makes for a project synced from Keystone."""
    sg_fq = [*project.fq_name, "default"]
    # assumption: vnc_openstack's default rules (ingress from the group itself, egress anywhere)
    rules = []
    for ethertype, anywhere in (("IPv4", str(ipaddress.IPv4Address(0))), ("IPv6", "::")):
        ports = [{"start_port": 0, "end_port": 65535}]
        rules.append(
            {
                "rule_uuid": str(uuid.uuid4()),
                "direction": ">",
                "protocol": "any",
                "ethertype": ethertype,
                "src_addresses": [{"security_group": ":".join(sg_fq)}],
                "src_ports": ports,
                "dst_addresses": [{"security_group": "local"}],
                "dst_ports": ports,
            }
        )
        rules.append(
            {
                "rule_uuid": str(uuid.uuid4()),
                "direction": ">",
                "protocol": "any",
                "ethertype": ethertype,
                "src_addresses": [{"security_group": "local"}],
                "src_ports": ports,
                "dst_addresses": [{"subnet": {"ip_prefix": anywhere, "ip_prefix_len": 0}}],
                "dst_ports": ports,
            }
        )
    obj_uuid = str(uuid.uuid4())
    data: Json = {
        "display_name": "default",
        "id_perms": st.id_perms(obj_uuid, description="Default security group"),
        "perms2": st.perms2(project.perms2["owner"]),
        "security_group_entries": {"policy_rule": rules},
        "security_group_id": st.next_sg_id(),
    }
    st.put(Obj("security-group", obj_uuid, sg_fq, "project", project.uuid, data, st.next_seq()))


def project_from_keystone(st: Store, *, project_id: str | None = None, name: str | None = None) -> Obj | None:
    """The on-demand sync hook (pre_project_read / pre_project_read_fqname)."""
    try:
        found = st.keystone.project(project_id=project_id, name=name)
    except KeystoneUnavailableError:
        return None
    return sync_project(st, *found) if found else None


def _pre_create_virtual_network(st: Store, obj: Obj) -> None:
    data = obj.data
    if data.get("virtual_network_network_id") is not None:
        raise TfError(403, "Cannot set the virtual network ID")
    if data["perms2"].get("global_access", 0) == PERMS_RWX:
        data["is_shared"] = True
    elif data.get("is_shared"):
        data["perms2"]["global_access"] = PERMS_RWX
    else:
        data["is_shared"] = False
    ipam.prepare_subnets(st, obj, None)
    used = [
        int(o.data.get("virtual_network_network_id") or 0)
        for o in st.objs.values()
        if o.kind == "virtual-network"
    ]
    data["virtual_network_network_id"] = max([*used, 4]) + 1


def _pre_create_instance_ip(st: Store, obj: Obj) -> None:
    vn_refs = obj.refs("virtual_network_refs")
    if not vn_refs:
        # assumption: the real hook reads refs it never checked; a VN ref is required here
        raise TfError(400, "Instance IP must have a virtual-network reference")
    if tuple(vn_refs[0]["to"][-1:]) in SYSTEM_VNS:
        return
    vn = st.objs[vn_refs[0]["uuid"]]
    requested = obj.data.get("instance_ip_address")
    address, subnet = ipam.allocate(
        st,
        vn,
        requested=str(requested) if requested else None,
        subnet_uuid=cast("str | None", obj.data.get("subnet_uuid")),
        family=cast("str | None", obj.data.get("instance_ip_family")),
    )
    obj.data["instance_ip_address"] = address
    obj.data["subnet_uuid"] = subnet["subnet_uuid"]
    obj.data["instance_ip_subnet"] = copy.deepcopy(subnet["subnet"])
    obj.data.setdefault("instance_ip_family", f"v{subnet_network(subnet).version}")


def _pre_create_floating_ip(st: Store, obj: Obj) -> None:
    pool = st.objs.get(obj.parent_uuid or "")
    if pool is None or pool.kind != "floating-ip-pool":
        return
    vn = st.objs[str(pool.parent_uuid)]
    requested = obj.data.get("floating_ip_address")
    only = cast("list[str] | None", (pool.data.get("floating_ip_pool_subnets") or {}).get("subnet_uuid"))
    try:
        address, subnet = ipam.allocate(
            st,
            vn,
            requested=str(requested) if requested else None,
            subnet_uuid=None,
            family=cast("str | None", obj.data.get("floating_ip_address_family")),
            only=only,
        )
    except TfError as err:
        # floating_ip.py answers allocation failures other than "in use" with 500
        raise TfError(err.status if err.status == 409 else 500, err.message) from None  # noqa: PLR2004
    obj.data["floating_ip_address"] = address
    obj.data.setdefault("floating_ip_address_family", f"v{subnet_network(subnet).version}")


def _pre_create_virtual_machine_interface(_st: Store, obj: Obj) -> None:
    if not obj.refs("virtual_network_refs"):
        raise TfError(400, "Virtual Machine Interface must have valide Virtual Network reference")
    if not (obj.data.get("virtual_machine_interface_mac_addresses") or {}).get("mac_address"):
        u = obj.uuid
        mac = f"02:{u[0:2]}:{u[2:4]}:{u[4:6]}:{u[6:8]}:{u[9:11]}"
        obj.data["virtual_machine_interface_mac_addresses"] = {"mac_address": [mac]}


def _pre_create_security_group(st: Store, obj: Obj) -> None:
    if obj.data.get("security_group_id") is not None:
        raise TfError(403, "Cannot set the security group ID")
    check_policy_rules(obj.data.get("security_group_entries"))
    obj.data["security_group_id"] = st.next_sg_id()


def _pre_create_network_policy(_st: Store, obj: Obj) -> None:
    check_policy_rules(obj.data.get("network_policy_entries"), network_policy=True)


def vn_update(st: Store, old: Obj, new: Obj, obj_dict: Mapping[str, Any]) -> None:
    global_access = (obj_dict.get("perms2") or {}).get("global_access")
    is_shared = obj_dict.get("is_shared")
    external = obj_dict.get("router_external")
    # each flag must agree with global_access (shared: rwx, external: rx) unless the other flag is set
    for name, flag, implied, other in (
        ("is_shared", is_shared, PERMS_RWX, external),
        ("router_external", external, PERMS_RX, is_shared),
    ):
        if (
            global_access is not None
            and flag is not None
            and flag != (global_access == implied)
            and not other
        ):
            raise TfError(400, f"Inconsistent {name} ({flag}) and global_access ({global_access})")
    if global_access is not None:
        new.data["is_shared"] = global_access != 0
    elif is_shared is not None or external is not None:
        new.data["perms2"]["global_access"] = PERMS_RWX if is_shared else PERMS_RX if external else 0
    if "network_ipam_refs" in obj_dict:
        ipam.prepare_subnets(st, new, old)
        kept = {cidr(s) for s in st.subnets(new)}
        for address in sorted(ipam.in_use(st, old)):
            ip = ipaddress.ip_address(address)
            for subnet in st.subnets(old):
                if ip in subnet_network(subnet) and cidr(subnet) not in kept:
                    raise TfError(409, f"Cannot Delete IP Block, IP({address}) is in use")


def auto_child(parent: Obj, child: Obj) -> bool:
    """Children that do not block a delete (and go with their parent).

    These are ``default-<type>`` children, the VN's routing instance and a project's
    keystone-made ``default`` SG (vnc_openstack's pre_project_delete removes it).
    """
    if child.fq_name[-1] == f"default-{child.kind}":
        return True
    if parent.kind == "virtual-network" and child.kind == "routing-instance":
        return True
    return parent.kind == "project" and child.kind == "security-group" and child.fq_name[-1] == "default"


def pre_update(kind: str, obj: Obj, changes: Mapping[str, Any]) -> None:
    """The type hooks' refusals on update: system ids and create-only addresses stay as they are."""
    if kind == "virtual-network" and changes.get("virtual_network_network_id") not in (
        None,
        obj.data.get("virtual_network_network_id"),
    ):
        raise TfError(403, "Cannot update the virtual network ID")  # assumption: the text
    if kind == "security-group":
        new_id = changes.get("security_group_id")
        if new_id is not None and new_id != obj.data.get("security_group_id"):
            raise TfError(403, "Cannot update the security group ID")  # assumption: the text
        if "security_group_entries" in changes:
            check_policy_rules(changes["security_group_entries"])
    if kind == "network-policy" and "network_policy_entries" in changes:
        check_policy_rules(changes["network_policy_entries"], network_policy=True)
    address_field = {"instance-ip": "instance_ip_address", "floating-ip": "floating_ip_address"}.get(kind)
    if address_field and changes.get(address_field) not in (None, obj.data.get(address_field)):
        raise TfError(400, f"{address_field} cannot be updated")  # assumption: a create-only property


def post_create(st: Store, obj: Obj) -> None:
    """post_dbe_create: a virtual network gets its own routing instance."""
    if obj.kind == "virtual-network":
        name = obj.fq_name[-1]
        st.system(
            "routing-instance",
            [*obj.fq_name, name],
            owner=obj.perms2["owner"],
            routing_instance_is_default=True,
        )


PRE_CREATE: Mapping[str, Callable[[Store, Obj], None]] = {
    "virtual-network": _pre_create_virtual_network,
    "instance-ip": _pre_create_instance_ip,
    "floating-ip": _pre_create_floating_ip,
    "virtual-machine-interface": _pre_create_virtual_machine_interface,
    "security-group": _pre_create_security_group,
    "network-policy": _pre_create_network_policy,
}
"""pre_dbe_create per kind: fill system fields, refuse what the type refuses."""
