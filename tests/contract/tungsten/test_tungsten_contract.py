"""TF contract tests: each runs against its cassette (``[cassette]``) and the live fakes (``[fake]``).

Cassettes: ``cassettes/tungsten/<operation>__<scenario>.yaml``, recorded against the TF fake with the
OpenStack fake's Keystone. The client is the dedicated service account ``svc-tf``; customer projects
are the OpenStack fake's seeded ``alice`` and ``admin`` (fixed ids). Creates carry deterministic
client-side uuids, so a replay sends exactly the recorded bodies. Checks only the live fakes can make
(what TF stored, who every request was made as) are guarded by ``if backend.fake``.
"""

import uuid

import pytest

from cloudkit.errors import AuthenticationError, ConflictError, NotFoundError, PermissionDeniedError
from cloudkit.testing._tungsten_fixtures import ADMIN_PROJECT_ID, ALICE_PROJECT_ID, SERVICE_ACCOUNT
from cloudkit.tungsten import RuleDirection, SecurityGroupRule, blocking_objects

ALICE = str(uuid.UUID(ALICE_PROJECT_ID))
ADMIN = str(uuid.UUID(ADMIN_PROJECT_ID))
NET = ("GET", "/virtual-network/{id}")


def _only_service_account(backend):
    """Every TF request was made with the service account's token, never anyone else's."""
    if backend.fake is None:
        return
    assert backend.fake.calls
    assert {(r.user, r.project) for r in backend.fake.calls} == {(SERVICE_ACCOUNT[0], SERVICE_ACCOUNT[2])}


def _external_pool(client):
    ext = client.create_virtual_network(
        project_id=ADMIN, name="public", subnets=["203.0.113.0/24"], external=True
    )
    return ext, client.create_floating_ip_pool(network_id=ext.uuid, name="public-pool")


@pytest.mark.quirk("tungsten.admin-scope-capture")
def test_create_virtual_network__for_customer(tungsten_backend):
    client = tungsten_backend.make_client()
    calls = tungsten_backend.make_client.calls
    vn = client.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1", subnets=["10.0.0.0/24"])
    assert (vn.name, vn.fq_name) == ("net-1", ("default-domain", "alice", "net-1"))
    assert (vn.project_id, vn.owner) == (ALICE, ALICE)  # under the customer's project, owned by it
    assert vn.cidrs == ("10.0.0.0/24",)
    assert vn.subnets[0].uuid is not None  # TF generated it; the read-back shows it
    assert calls.tf_calls() == [("GET", "/project/{id}"), ("POST", "/virtual-networks"), NET]
    assert [c for c in calls.calls if c[1].startswith("/identity")] == [("POST", "/identity/v3/auth/tokens")]
    assert [n.uuid for n in client.list_virtual_networks(project_id=ALICE_PROJECT_ID)] == [vn.uuid]
    if tungsten_backend.fake:
        stored = tungsten_backend.fake.get("virtual-network", vn.uuid)
        assert stored["perms2"]["owner"] == ALICE_PROJECT_ID
    _only_service_account(tungsten_backend)


@pytest.mark.quirk("tungsten.admin-scope-capture")
def test_list_virtual_networks__service_account_without_admin(tungsten_backend):
    # The portal's own identity (member in its project): TF in cloud-admin mode refuses every call.
    client = tungsten_backend.make_client(username="portal", password="portal-pass", project_name="alice")
    with pytest.raises(PermissionDeniedError) as info:
        client.list_virtual_networks(project_id=ALICE_PROJECT_ID)
    err = info.value
    assert (err.status, err.quirk) == (403, "tungsten.admin-scope-capture")
    assert "never give it admin on a customer's project" in err.__notes__[0]
    assert "portal-pass" not in f"{err} {err!r} {err.__notes__}"


def test_authenticate__bad_password(tungsten_backend):
    client = tungsten_backend.make_client(password="not-the-Passw0rd")
    with pytest.raises(AuthenticationError) as info:
        client.list_virtual_networks()
    assert info.value.operation == "authenticate"
    assert "not-the-Passw0rd" not in f"{info.value} {info.value!r}"
    assert tungsten_backend.make_client.calls.tf_calls() == []  # nothing reached TF


@pytest.mark.quirk("tungsten.mtu-not-in-dhcp")
def test_create_virtual_network__mtu_dhcp_option(tungsten_backend):
    client = tungsten_backend.make_client()
    vn = client.create_virtual_network(
        project_id=ALICE_PROJECT_ID, name="net-mtu", subnets=["10.0.0.0/24", "fd00:1::/64"], mtu=1450
    )
    assert vn.mtu == 1450
    v4, v6 = vn.subnets
    assert (v4.mtu, v6.mtu) == (1450, None)  # option 26 is DHCPv4's
    port = client.create_port(project_id=ALICE_PROJECT_ID, network_id=vn.uuid, name="vm-1-eth0")
    if tungsten_backend.fake:
        assert tungsten_backend.fake.guest_mtu(port.uuid) == 1450  # what the guest would get by DHCP


@pytest.mark.quirk("tungsten.mtu-not-in-dhcp")
@pytest.mark.quirk("tungsten.put-replaces-refs")
def test_update_virtual_network__mtu(tungsten_backend):
    client = tungsten_backend.make_client()
    vn = client.create_virtual_network(
        project_id=ALICE_PROJECT_ID, name="net-2", subnets=["10.0.0.0/24", "10.0.1.0/24"]
    )
    calls = tungsten_backend.make_client.calls
    calls.clear()
    updated = client.update_virtual_network(vn.uuid, mtu=1400)
    assert calls.tf_calls() == [NET, ("PUT", "/virtual-network/{id}"), NET]
    assert updated.mtu == 1400
    assert [s.mtu for s in updated.subnets] == [1400, 1400]
    assert [s.uuid for s in updated.subnets] == [s.uuid for s in vn.subnets]  # the PUT kept every subnet
    grown = client.update_virtual_network(vn.uuid, subnets=["10.0.1.0/24", "10.0.2.0/24"])
    assert grown.cidrs == ("10.0.1.0/24", "10.0.2.0/24")
    assert grown.subnets[0].uuid == vn.subnets[1].uuid
    assert [s.mtu for s in grown.subnets] == [1400, 1400]


def test_get_virtual_network__by_fq_name(tungsten_backend):
    client = tungsten_backend.make_client()
    vn = client.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-3", subnets=["10.3.0.0/24"])
    calls = tungsten_backend.make_client.calls
    calls.clear()
    assert client.get_virtual_network(fq_name=vn.fq_name) == vn
    assert calls.tf_calls() == [("POST", "/fqname-to-id"), NET]
    assert client.get_virtual_network(vn.uuid) == vn


@pytest.mark.quirk("tungsten.plain-text-errors")
def test_get_virtual_network__wrong_type(tungsten_backend):
    client = tungsten_backend.make_client()
    sg = client.create_security_group(project_id=ALICE_PROJECT_ID, name="web")
    with pytest.raises(NotFoundError) as info:
        client.get_virtual_network(sg.uuid)
    assert (info.value.status, info.value.code) == (404, None)  # TF's plain text carries no code
    assert sg.uuid in info.value.detail
    with pytest.raises(NotFoundError):
        client.get_virtual_network(fq_name=("default-domain", "alice", "no-such-net"))


@pytest.mark.quirk("tungsten.plain-text-errors")
def test_create_virtual_network__duplicate_name(tungsten_backend):
    client = tungsten_backend.make_client()
    client.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1")
    with pytest.raises(ConflictError) as info:
        client.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1")
    assert (info.value.status, info.value.code) == (409, None)
    assert "already exists" in info.value.message


@pytest.mark.quirk("tungsten.plain-text-errors")
def test_delete_virtual_network__port_still_uses_it(tungsten_backend):
    client = tungsten_backend.make_client()
    vn = client.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1", subnets=["10.0.0.0/24"])
    port = client.create_port(project_id=ALICE_PROJECT_ID, network_id=vn.uuid, name="vm-1-eth0")
    calls = tungsten_backend.make_client.calls
    calls.clear()
    with pytest.raises(ConflictError) as info:
        client.delete_virtual_network(vn.uuid)
    assert calls.tf_calls() == [("DELETE", "/virtual-network/{id}")]
    err = info.value
    assert (err.status, err.code, err.quirk) == (409, None, "tungsten.plain-text-errors")
    assert "still referred to by" in err.message
    assert f"virtual-machine-interface {port.uuid}" in err.message
    assert port.uuid in {ref.uuid for ref in blocking_objects(err)}
    client.delete_port(port.uuid)
    client.delete_virtual_network(vn.uuid)
    assert client.list_virtual_networks(project_id=ALICE_PROJECT_ID) == []


@pytest.mark.quirk("tungsten.naive-plurals")
def test_list_virtual_networks__paged(tungsten_backend):
    client = tungsten_backend.make_client(page_size=2)
    made = [
        client.create_virtual_network(project_id=ALICE_PROJECT_ID, name=f"net-{i}").uuid for i in range(3)
    ]
    calls = tungsten_backend.make_client.calls
    calls.clear()
    listed = client.list_virtual_networks(project_id=ALICE_PROJECT_ID)
    assert sorted(vn.uuid for vn in listed) == sorted(made)
    pages = calls.tf_calls()
    assert len(pages) >= 2
    assert set(pages) == {("GET", "/virtual-networks")}


def test_create_port__with_address(tungsten_backend):
    client = tungsten_backend.make_client()
    vn = client.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1", subnets=["10.0.0.0/24"])
    calls = tungsten_backend.make_client.calls
    calls.clear()
    port = client.create_port(
        project_id=ALICE_PROJECT_ID, network_id=vn.uuid, name="vm-1-eth0", ip_address="10.0.0.10"
    )
    assert calls.tf_calls() == [
        ("GET", "/project/{id}"),
        ("POST", "/id-to-fqname"),
        ("POST", "/virtual-machine-interfaces"),
        ("POST", "/instance-ips"),
        ("GET", "/virtual-machine-interface/{id}"),
        ("GET", "/instance-ips"),
    ]
    assert (port.network_id, port.project_id, port.owner) == (vn.uuid, ALICE, ALICE)
    assert port.ip_addresses == ("10.0.0.10",)
    assert len(port.mac_addresses) == 1
    (iip,) = client.list_instance_ips(port_id=port.uuid)
    assert (iip.address, iip.owner, iip.network_id) == ("10.0.0.10", ALICE, vn.uuid)  # owner: not svc-tf's
    assert [p.uuid for p in client.list_ports(project_id=ALICE_PROJECT_ID)] == [port.uuid]
    assert client.list_ports(network_id=vn.uuid)[0].ip_addresses == ("10.0.0.10",)
    client.delete_port(port.uuid)
    assert client.list_instance_ips(network_id=vn.uuid) == []


@pytest.mark.quirk("tungsten.plain-text-errors")
def test_create_port__address_in_use(tungsten_backend):
    client = tungsten_backend.make_client()
    vn = client.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1", subnets=["10.0.0.0/24"])
    client.create_port(project_id=ALICE_PROJECT_ID, network_id=vn.uuid, name="a", ip_address="10.0.0.10")
    calls = tungsten_backend.make_client.calls
    calls.clear()
    with pytest.raises(ConflictError) as info:
        client.create_port(project_id=ALICE_PROJECT_ID, network_id=vn.uuid, name="b", ip_address="10.0.0.10")
    assert "already in use" in (info.value.detail or "")
    # the port made before the address was refused is deleted again
    assert calls.tf_calls()[-2:] == [("POST", "/instance-ips"), ("DELETE", "/virtual-machine-interface/{id}")]
    assert [p.name for p in client.list_ports(project_id=ALICE_PROJECT_ID)] == ["a"]


@pytest.mark.quirk("tungsten.put-replaces-refs")
def test_associate_floating_ip__ref_update(tungsten_backend):
    client = tungsten_backend.make_client()
    ext, pool = _external_pool(client)
    assert (ext.external, pool.network_id, pool.owner) == (True, ext.uuid, ADMIN)
    vn = client.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1", subnets=["10.0.0.0/24"])
    port = client.create_port(project_id=ALICE_PROJECT_ID, network_id=vn.uuid, name="vm-1-eth0")
    fip = client.create_floating_ip(pool_id=pool.uuid, project_id=ALICE_PROJECT_ID)
    assert (fip.pool_id, fip.project_ids, fip.owner, fip.port_ids) == (pool.uuid, (ALICE,), ALICE, ())
    assert fip.address is not None
    assert fip.address.startswith("203.0.113.")
    calls = tungsten_backend.make_client.calls
    calls.clear()
    bound = client.associate_floating_ip(fip.uuid, port_id=port.uuid)
    assert calls.tf_calls() == [
        ("POST", "/id-to-fqname"),
        ("POST", "/ref-update"),
        ("GET", "/floating-ip/{id}"),
    ]
    assert bound.port_ids == (port.uuid,)
    assert client.get_port(port.uuid).floating_ip_ids == (fip.uuid,)
    with pytest.raises(ConflictError) as info:
        client.delete_port(port.uuid)  # refused before anything is deleted
    assert f"floating-ip {fip.uuid}" in info.value.message
    assert client.disassociate_floating_ip(fip.uuid).port_ids == ()
    assert [f.uuid for f in client.list_floating_ips(project_id=ALICE_PROJECT_ID)] == [fip.uuid]
    client.delete_floating_ip(fip.uuid)
    client.delete_port(port.uuid)


def test_create_security_group__with_rules(tungsten_backend):
    client = tungsten_backend.make_client()
    ssh = SecurityGroupRule(
        direction=RuleDirection.INGRESS, protocol="tcp", port_min=22, port_max=22, remote_cidr="0.0.0.0/0"
    )
    out = SecurityGroupRule(direction=RuleDirection.EGRESS)
    sg = client.create_security_group(project_id=ALICE_PROJECT_ID, name="web", rules=[ssh, out])
    assert (sg.fq_name, sg.owner) == (("default-domain", "alice", "web"), ALICE)
    assert [(r.direction, r.protocol, r.port_min, r.remote_cidr) for r in sg.rules] == [
        (RuleDirection.INGRESS, "tcp", 22, "0.0.0.0/0"),
        (RuleDirection.EGRESS, "any", 0, "0.0.0.0/0"),
    ]
    https = SecurityGroupRule(direction=RuleDirection.INGRESS, protocol="tcp", port_min=443, port_max=443)
    grown = client.add_security_group_rule(sg.uuid, https)
    assert [r.port_min for r in grown.rules] == [22, 0, 443]
    shrunk = client.remove_security_group_rule(sg.uuid, grown.rules[0].uuid)
    assert [r.port_min for r in shrunk.rules] == [0, 443]
    with pytest.raises(NotFoundError):
        client.remove_security_group_rule(sg.uuid, "no-such-rule")
    vn = client.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1", subnets=["10.0.0.0/24"])
    port = client.create_port(
        project_id=ALICE_PROJECT_ID, network_id=vn.uuid, name="vm-1-eth0", security_group_ids=[sg.uuid]
    )
    assert port.security_group_ids == (sg.uuid,)
    with pytest.raises(ConflictError):
        client.delete_security_group(sg.uuid)
    client.delete_port(port.uuid)
    client.delete_security_group(sg.uuid)
    assert "web" not in [g.name for g in client.list_security_groups(project_id=ALICE_PROJECT_ID)]


def test_create_logical_router__interface_and_gateway(tungsten_backend):
    client = tungsten_backend.make_client()
    ext, _pool = _external_pool(client)
    vn = client.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1", subnets=["10.0.0.0/24"])
    router = client.create_logical_router(project_id=ALICE_PROJECT_ID, name="r1")
    assert (router.fq_name, router.owner, router.port_ids) == (("default-domain", "alice", "r1"), ALICE, ())
    interface = client.add_router_interface(router.uuid, network_id=vn.uuid)
    assert interface.device_owner == "network:router_interface"
    assert interface.ip_addresses == (vn.subnets[0].gateway,)
    routed = client.set_router_gateway(router.uuid, network_id=ext.uuid)
    assert (routed.port_ids, routed.gateway_network_ids) == ((interface.uuid,), (ext.uuid,))
    assert [r.uuid for r in client.list_logical_routers(project_id=ALICE_PROJECT_ID)] == [router.uuid]
    assert client.clear_router_gateway(router.uuid).gateway_network_ids == ()
    client.remove_router_interface(router.uuid, port_id=interface.uuid)
    assert client.get_logical_router(router.uuid).port_ids == ()
    client.delete_logical_router(router.uuid)
    client.delete_virtual_network(vn.uuid)
    _only_service_account(tungsten_backend)
