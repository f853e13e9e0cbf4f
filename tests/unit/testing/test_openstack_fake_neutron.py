"""The OpenStack fake's Neutron as Neutron 29 (ML2, router, auto_allocate, no agents) answers; Nova on it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openstack
import pytest

from cloudkit.testing import FakeClock, Fault
from cloudkit.testing.fakes import FakeCredentials, OpenStackFake

NEWEST = "compute 2.100"


@pytest.fixture
def fake() -> Iterator[OpenStackFake]:
    with OpenStackFake(clock=FakeClock(start=1000.0)) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        yield client


class Caller:
    """One user's requests to the fake's Neutron and Nova."""

    def __init__(self, http: httpx.Client, fake: OpenStackFake, creds: FakeCredentials) -> None:
        reply = http.post(f"{fake.auth_url}/auth/tokens", json=creds.token_request())
        self.http, self.fake, self.token = http, fake, reply.headers["X-Subject-Token"]
        self.project_id = creds.project_id

    def net(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.token}
        return self.http.request(method, f"{self.fake.url}/networking/v2.0{path}", headers=headers, **kwargs)

    def nova(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.token, "OpenStack-API-Version": NEWEST}
        return self.http.request(method, f"{self.fake.url}/compute/v2.1{path}", headers=headers, **kwargs)

    def make(self, kind: str, **item: Any) -> dict[str, Any]:
        single = {"floatingips": "floatingip"}.get(kind, kind[:-1])
        reply = self.net("POST", f"/{kind}", json={single: item})
        assert reply.status_code == 201, reply.text
        return dict(reply.json()[single])

    def boot(self, networks: Any) -> str:
        body = {"name": "vm", "flavorRef": "1", "imageRef": self.fake.image_ids()[0], "networks": networks}
        reply = self.nova("POST", "/servers", json={"server": body})
        assert reply.status_code == 202, reply.text
        return str(reply.json()["server"]["id"])


@pytest.fixture
def member(http, fake) -> Caller:
    return Caller(http, fake, fake.portal)


@pytest.fixture
def admin(http, fake) -> Caller:
    return Caller(http, fake, fake.admin)


def public_id(caller: Caller) -> str:
    return str(caller.net("GET", "/networks?name=public").json()["networks"][0]["id"])


# ---------------------------------------------------------------------------------------------- discovery
def test_catalog_names_neutron_and_the_version_document_points_at_v2(fake, http):
    versions = http.get(f"{fake.url}/networking").json()["versions"]
    assert versions == [
        {
            "id": "v2.0",
            "status": "CURRENT",
            "links": [{"href": f"{fake.url}/networking/v2.0/", "rel": "self"}],
        }
    ]


def test_extensions_are_what_ml2_router_and_auto_allocate_announce(member):
    aliases = {e["alias"] for e in member.net("GET", "/extensions").json()["extensions"]}
    assert {"router", "external-net", "auto-allocated-topology", "security-group", "binding"} <= aliases
    assert {"default-subnetpools", "fip-port-details", "standard-attr-tag", "port-security"} <= aliases
    assert "qos" not in aliases
    assert "vlan-transparent" not in aliases
    one = member.net("GET", "/extensions/router").json()["extension"]
    assert (one["name"], one["links"]) == ("Neutron L3 Router", [])


def test_seed_is_devstacks_public_network_and_default_pool(member, admin):
    public = member.net("GET", "/networks").json()["networks"]
    assert [(n["name"], n["router:external"], n["is_default"], n["shared"]) for n in public] == [
        ("public", True, True, False)
    ]
    assert "provider:network_type" not in public[0]  # admin-only by policy
    seen_by_admin = admin.net("GET", f"/networks/{public[0]['id']}").json()["network"]
    assert (seen_by_admin["provider:network_type"], seen_by_admin["provider:physical_network"]) == (
        "flat",
        "public",
    )
    subnet = member.net("GET", f"/subnets/{public[0]['subnets'][0]}").json()["subnet"]
    assert (subnet["cidr"], subnet["gateway_ip"]) == ("172.24.4.0/24", "172.24.4.1")
    pools = member.net("GET", "/subnetpools").json()["subnetpools"]
    assert [(p["name"], p["is_default"], p["shared"]) for p in pools] == [
        ("shared-default-subnetpool-v4", True, True)
    ]


# ---------------------------------------------------------------------------------------------- networks
def test_network_subnet_port_lifecycle_and_in_use_conflicts(member):
    network = member.make("networks", name="n1")
    assert (network["status"], network["mtu"], network["project_id"]) == ("ACTIVE", 1450, member.project_id)
    subnet = member.make("subnets", network_id=network["id"], ip_version=4, cidr="10.99.99.0/16", name="n1")
    assert (subnet["cidr"], subnet["gateway_ip"]) == ("10.99.0.0/16", "10.99.0.1")
    assert subnet["allocation_pools"] == [{"start": "10.99.0.2", "end": "10.99.255.254"}]
    port = member.make("ports", network_id=network["id"])
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.99.0.2"}]
    assert (port["status"], port["mac_address"][:8]) == ("DOWN", "fa:16:3e")
    groups = member.net("GET", "/security_groups?name=default").json()["security_groups"]
    assert port["security_groups"] == [groups[0]["id"]]
    assert len(groups[0]["security_group_rules"]) == 4

    in_use = member.net("DELETE", f"/networks/{network['id']}")
    assert in_use.status_code == 409
    assert in_use.json() == {
        "NeutronError": {
            "type": "NetworkInUse",
            "message": f"Unable to complete operation on network {network['id']}. There are one or more "
            "ports still in use on the network.",
            "detail": "",
        }
    }
    assert member.net("DELETE", f"/subnets/{subnet['id']}").json()["NeutronError"]["type"] == "SubnetInUse"
    assert member.net("DELETE", f"/ports/{port['id']}").status_code == 204
    assert member.net("DELETE", f"/networks/{network['id']}").status_code == 204
    gone = member.net("GET", f"/subnets/{subnet['id']}")
    assert (gone.status_code, gone.json()["NeutronError"]["type"]) == (404, "SubnetNotFound")


def test_a_member_may_not_make_an_external_network_and_sees_no_other_projects(member, admin):
    refused = member.net("POST", "/networks", json={"network": {"name": "x", "router:external": True}})
    assert (refused.status_code, refused.json()["NeutronError"]["type"]) == (403, "PolicyNotAuthorized")
    private = admin.make("networks", name="admins")
    assert member.net("GET", f"/networks/{private['id']}").status_code == 404
    assert [n["name"] for n in member.net("GET", "/networks").json()["networks"]] == ["public"]


def test_overlapping_subnet_and_list_filters_and_fields(member):
    network = member.make("networks", name="n")
    member.make("subnets", network_id=network["id"], ip_version=4, cidr="10.1.0.0/24")
    overlap = member.net(
        "POST",
        "/subnets",
        json={"subnet": {"network_id": network["id"], "ip_version": 4, "cidr": "10.1.0.0/25"}},
    )
    assert overlap.status_code == 400
    assert "overlaps with another subnet" in overlap.json()["NeutronError"]["message"]
    found = member.net("GET", "/networks?router:external=False&fields=id&fields=name").json()["networks"]
    assert found == [{"id": network["id"], "name": "n"}]


# ------------------------------------------------------------------------------ routers and floating IPs
def test_floating_ip_needs_a_router_and_stays_down(member):
    network = member.make("networks", name="n")
    subnet = member.make("subnets", network_id=network["id"], ip_version=4, cidr="10.2.0.0/24")
    port = member.make("ports", network_id=network["id"])
    external = public_id(member)
    unreachable = member.net(
        "POST", "/floatingips", json={"floatingip": {"floating_network_id": external, "port_id": port["id"]}}
    )
    assert unreachable.status_code == 404
    assert unreachable.json()["NeutronError"]["type"] == "ExternalGatewayForFloatingIPNotFound"
    assert member.net("GET", "/floatingips").json()["floatingips"] == []  # nothing left behind

    router = member.make("routers", name="r", external_gateway_info={"network_id": external})
    assert router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == "172.24.4.2"
    joined = member.net(
        "PUT", f"/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]}
    )
    assert joined.status_code == 200
    assert joined.json()["subnet_ids"] == [subnet["id"]]
    fip = member.make("floatingips", floating_network_id=external, port_id=port["id"])
    assert (fip["status"], fip["fixed_ip_address"], fip["router_id"]) == ("DOWN", "10.2.0.2", router["id"])
    assert fip["port_details"]["mac_address"] == port["mac_address"]
    busy = member.net(
        "PUT", f"/routers/{router['id']}/remove_router_interface", json={"subnet_id": subnet["id"]}
    )
    assert busy.json()["NeutronError"]["type"] == "RouterInterfaceInUseByFloatingIP"
    assert member.net("DELETE", f"/routers/{router['id']}").json()["NeutronError"]["type"] == "RouterInUse"
    member.net("DELETE", f"/ports/{port['id']}")
    left = member.net("GET", f"/floatingips/{fip['id']}").json()["floatingip"]
    assert (left["port_id"], left["fixed_ip_address"], left["router_id"]) == (None, None, None)


def test_auto_allocated_topology_is_made_once_per_project(member):
    dry = member.net("GET", f"/auto-allocated-topology/{member.project_id}?fields=dry-run").json()
    assert dry == {"auto_allocated_topology": {"id": "dry-run=pass", "project_id": member.project_id}}
    first = member.net("GET", f"/auto-allocated-topology/{member.project_id}").json()[
        "auto_allocated_topology"
    ]
    again = member.net("GET", "/auto-allocated-topology/None").json()["auto_allocated_topology"]
    assert first["id"] == again["id"]
    network = member.net("GET", f"/networks/{first['id']}").json()["network"]
    assert network["name"] == "auto_allocated_network"
    subnet = member.net("GET", f"/subnets/{network['subnets'][0]}").json()["subnet"]
    assert (subnet["name"], subnet["cidr"]) == ("auto_allocated_subnet_v4", "10.0.0.0/26")
    routers = member.net("GET", "/routers").json()["routers"]
    assert [r["name"] for r in routers] == ["auto_allocated_router"]


def test_auto_allocation_needs_a_default_external_network():
    with OpenStackFake(seed=False) as bare, httpx.Client(trust_env=False) as http:
        caller = Caller(http, bare, bare.portal)
        refused = caller.net("GET", f"/auto-allocated-topology/{caller.project_id}")
    assert refused.status_code == 409
    assert refused.json()["NeutronError"] == {
        "type": "AutoAllocationFailure",
        "message": "Deployment error: No default router:external network.",
        "detail": "",
    }


def test_an_injected_fault_answers_in_neutrons_envelope(fake, member):
    fake.inject(Fault.server_error(503))
    reply = member.net("GET", "/networks")
    assert reply.status_code == 503
    assert reply.json()["NeutronError"]["type"] == "HTTPServiceUnavailable"


# ------------------------------------------------------------------------------------- Nova on Neutron
def test_a_server_on_a_network_gets_a_bound_port_and_loses_it_when_deleted(fake, member, admin):
    network = member.make("networks", name="web")
    member.make("subnets", network_id=network["id"], ip_version=4, cidr="10.3.0.0/24")
    server_id = member.boot([{"uuid": network["id"]}])
    server = member.nova("GET", f"/servers/{server_id}").json()["server"]
    port = admin.net("GET", f"/ports?device_id={server_id}").json()["ports"][0]
    assert (port["device_owner"], port["status"], port["binding:host_id"]) == (
        "compute:nova",
        "ACTIVE",
        "fake-compute-1",
    )
    assert server["addresses"] == {
        "web": [
            {
                "version": 4,
                "addr": "10.3.0.2",
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
            }
        ]
    }
    assert server["security_groups"] == [{"name": "default"}]
    assert member.nova("DELETE", f"/servers/{server_id}").status_code == 204
    assert fake.servers() == []
    assert member.net("GET", f"/ports?device_id={server_id}").json()["ports"] == []
    assert member.net("DELETE", f"/networks/{network['id']}").status_code == 204  # no port holds it now


def test_a_given_port_is_bound_then_released_not_deleted(member):
    network = member.make("networks", name="n")
    member.make("subnets", network_id=network["id"], ip_version=4, cidr="10.4.0.0/24")
    port = member.make("ports", network_id=network["id"], name="mine")
    server_id = member.boot([{"port": port["id"]}])
    assert member.net("GET", f"/ports/{port['id']}").json()["port"]["device_id"] == server_id
    taken = member.nova(
        "POST",
        "/servers",
        json={
            "server": {
                "name": "b",
                "flavorRef": "1",
                "imageRef": member.fake.image_ids()[0],
                "networks": [{"port": port["id"]}],
            }
        },
    )
    assert (taken.status_code, taken.json()["conflictingRequest"]["message"]) == (
        409,
        f"Port {port['id']} is still in use.",
    )
    member.nova("DELETE", f"/servers/{server_id}")
    member.nova("GET", "/servers")
    released = member.net("GET", f"/ports/{port['id']}").json()["port"]
    assert (released["device_id"], released["device_owner"], released["status"]) == ("", "", "DOWN")


def test_unknown_network_is_refused_and_none_makes_no_port(member):
    refused = member.nova(
        "POST",
        "/servers",
        json={
            "server": {
                "name": "x",
                "flavorRef": "1",
                "imageRef": member.fake.image_ids()[0],
                "networks": [{"uuid": "nope"}],
            }
        },
    )
    assert (refused.status_code, refused.json()["badRequest"]["message"]) == (
        400,
        "Network nope could not be found.",
    )
    server_id = member.boot("none")
    assert member.nova("GET", f"/servers/{server_id}").json()["server"]["addresses"] == {}
    assert member.net("GET", "/ports").json()["ports"] == []


# the cloud layer reads server["accessIPv4"] itself, which openstacksdk 4.22 warns about
@pytest.mark.filterwarnings("ignore::openstack.warnings.LegacyAPIWarning")
def test_openstacksdk_cloud_layer_adds_a_floating_ip_to_an_auto_server(fake):
    demo = fake.add_user("demo", "pw", project="demo")
    conn = openstack.connection.Connection(auth=demo.auth(fake.auth_url), region_name="RegionOne")
    server = conn.create_server(name="s", image=fake.image_ids()[0], flavor="m1.tiny", wait=True, timeout=10)
    addresses = server["addresses"]["auto_allocated_network"]
    assert [a["OS-EXT-IPS:type"] for a in addresses] == ["fixed", "floating"]
    assert addresses[1]["addr"].startswith("172.24.4.")
    assert [ip.status for ip in conn.network.ips()] == ["DOWN"]
    assert conn.delete_server("s", wait=True, delete_ips=True)
    assert list(conn.network.ips()) == []


def test_the_default_group_is_made_on_first_network_or_group_use_only(member, admin):
    def default_groups() -> list[str]:
        groups = admin.net("GET", f"/security_groups?project_id={admin.project_id}").json()["security_groups"]
        everyone = admin.net("GET", "/security_groups?name=default").json()["security_groups"]
        assert [g["project_id"] for g in groups] == [admin.project_id]
        return [g["project_id"] for g in everyone]

    member.net("GET", "/networks")  # a read of networks makes nothing
    assert default_groups() == [admin.project_id]
    member.make("networks", name="n")  # a network create does (Neutron's BEFORE_CREATE handler)
    assert sorted(default_groups()) == sorted([admin.project_id, member.project_id])


def test_auto_takes_the_one_project_network_and_refuses_two(member):
    network = member.make("networks", name="only")
    member.make("subnets", network_id=network["id"], ip_version=4, cidr="10.5.0.0/24")
    server_id = member.boot("auto")
    assert list(member.nova("GET", f"/servers/{server_id}").json()["server"]["addresses"]) == ["only"]
    member.make("networks", name="second")
    body = {"name": "x", "flavorRef": "1", "imageRef": member.fake.image_ids()[0], "networks": "auto"}
    ambiguous = member.nova("POST", "/servers", json={"server": body})
    assert ambiguous.status_code == 409
    assert ambiguous.json()["conflictingRequest"]["message"].startswith(
        "More than one possible network found."
    )


def test_before_2_37_a_server_without_networks_and_no_project_network_gets_none(member):
    body = {"name": "old", "flavorRef": "1", "imageRef": member.fake.image_ids()[0]}
    headers = {"X-Auth-Token": member.token, "OpenStack-API-Version": "compute 2.36"}
    reply = member.http.post(
        f"{member.fake.url}/compute/v2.1/servers", json={"server": body}, headers=headers
    )
    assert reply.status_code == 202
    server_id = reply.json()["server"]["id"]
    assert member.nova("GET", f"/servers/{server_id}").json()["server"]["addresses"] == {}
    assert member.net("GET", "/networks?name=auto_allocated_network").json()["networks"] == []


def test_a_member_may_not_pick_a_floating_address(member, admin):
    asked = {"floating_network_id": public_id(member), "floating_ip_address": "172.24.4.77"}
    refused = member.net("POST", "/floatingips", json={"floatingip": asked})
    assert (refused.status_code, refused.json()["NeutronError"]["type"]) == (403, "PolicyNotAuthorized")
    assert admin.make("floatingips", **asked)["floating_ip_address"] == "172.24.4.77"
