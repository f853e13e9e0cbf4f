"""The Tungsten Fabric fake over raw httpx, with the OpenStack fake as its Keystone."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cloudkit.testing.fakes import OpenStackFake, TungstenFake
from cloudkit.testing.fakes.tungsten import Call, Fault

IPAM = ["default-domain", "default-project", "default-network-ipam"]
ANYWHERE = "0.0.0.0"  # noqa: S104 - a rule's source prefix, not a bind address


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def keystone_server() -> Iterator[OpenStackFake]:
    with OpenStackFake(seed=False) as running:
        yield running


@pytest.fixture(scope="module")
def tf_server(keystone_server: OpenStackFake) -> Iterator[TungstenFake]:
    with TungstenFake(keystone_url=keystone_server.auth_url) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        yield client


@pytest.fixture
def keystone(keystone_server: OpenStackFake) -> OpenStackFake:
    keystone_server.reset()
    keystone_server.add_user("svc-tf", "svc-pass", project="service", roles=("admin",))
    keystone_server.add_user("cust1-user", "c1-pass", project="cust1", roles=("member",))
    keystone_server.add_user("cust2-user", "c2-pass", project="cust2", roles=("member",))
    return keystone_server


@pytest.fixture
def tf(tf_server: TungstenFake, keystone: OpenStackFake) -> TungstenFake:
    tf_server.reset()
    return tf_server


class Api:
    """A TF client with one token (or none)."""

    def __init__(self, http: httpx.Client, base: str, token: str | None) -> None:
        self.http, self.base, self.token = http, base, token

    def _headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token} if self.token else {}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(f"{self.base}{path}", params=params, headers=self._headers())

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(f"{self.base}{path}", json=body, headers=self._headers())

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.http.put(f"{self.base}{path}", json=body, headers=self._headers())

    def delete(self, path: str) -> httpx.Response:
        return self.http.delete(f"{self.base}{path}", headers=self._headers())

    def create(self, kind: str, **body: Any) -> dict[str, Any]:
        reply = self.post(f"/{kind}s", {kind: body})
        assert reply.status_code == 200, reply.text
        return reply.json()[kind]

    def read(self, kind: str, uuid: str) -> dict[str, Any]:
        reply = self.get(f"/{kind}/{uuid}")
        assert reply.status_code == 200, reply.text
        return reply.json()[kind]


def token(http: httpx.Client, keystone: OpenStackFake, user: str, password: str, project: str) -> str:
    domain = {"id": "default"}
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": password, "domain": domain}},
            },
            "scope": {"project": {"name": project, "domain": domain}},
        }
    }
    reply = http.post(f"{keystone.auth_url}/auth/tokens", json=body)
    assert reply.status_code == 201, reply.text
    return reply.headers["X-Subject-Token"]


def api(
    http: httpx.Client, keystone: OpenStackFake, tf: TungstenFake, user: str, *, scope: tuple[str, str]
) -> Api:
    password, project = scope
    return Api(http, tf.url, token(http, keystone, user, password, project))


def grant(http: httpx.Client, keystone: OpenStackFake, user: str, project: str, role: str) -> None:
    admin = {"X-Auth-Token": token(http, keystone, "admin", "secret", "admin")}
    users = http.get(f"{keystone.auth_url}/users", params={"name": user}, headers=admin).json()["users"]
    projects = http.get(f"{keystone.auth_url}/projects", params={"name": project}, headers=admin).json()
    roles = http.get(f"{keystone.auth_url}/roles", headers=admin).json()["roles"]
    role_id = next(r["id"] for r in roles if r["name"] == role)
    path = f"/projects/{projects['projects'][0]['id']}/users/{users[0]['id']}/roles/{role_id}"
    assert http.put(f"{keystone.auth_url}{path}", headers=admin).status_code == 204


def project_hex(http: httpx.Client, keystone: OpenStackFake, name: str) -> str:
    admin = {"X-Auth-Token": token(http, keystone, "admin", "secret", "admin")}
    projects = http.get(f"{keystone.auth_url}/projects", params={"name": name}, headers=admin).json()
    return str(projects["projects"][0]["id"])


@pytest.fixture
def admin(http, keystone, tf) -> Api:
    return api(http, keystone, tf, "admin", scope=("secret", "admin"))


@pytest.fixture
def cust1(http, keystone, tf) -> Api:
    return api(http, keystone, tf, "cust1-user", scope=("c1-pass", "cust1"))


@pytest.fixture
def svc(http, keystone, tf) -> Api:
    return api(http, keystone, tf, "svc-tf", scope=("svc-pass", "service"))


def ipam_attr(prefix: str = "10.0.0.0", length: int = 24, **extra: Any) -> dict[str, Any]:
    return {"ipam_subnets": [{"subnet": {"ip_prefix": prefix, "ip_prefix_len": length}, **extra}]}


def make_vn(
    client: Api, project: str, name: str, *, prefix: str = "10.0.0.0", **extra: Any
) -> dict[str, Any]:
    return client.create(
        "virtual-network",
        parent_type="project",
        fq_name=["default-domain", project, name],
        network_ipam_refs=[{"to": IPAM, "attr": ipam_attr(prefix)}],
        **extra,
    )


def make_port(client: Api, project: str, name: str, vn: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return client.create(
        "virtual-machine-interface",
        parent_type="project",
        fq_name=["default-domain", project, name],
        virtual_network_refs=[{"to": vn["fq_name"], "uuid": vn["uuid"]}],
        **extra,
    )


def make_iip(client: Api, name: str, vn: dict[str, Any], vmi: dict[str, Any] | None = None, **extra: Any):
    refs: dict[str, Any] = {"virtual_network_refs": [{"to": vn["fq_name"]}]}
    if vmi is not None:
        refs["virtual_machine_interface_refs"] = [{"to": vmi["fq_name"], "uuid": vmi["uuid"]}]
    return client.post("/instance-ips", {"instance-ip": {"fq_name": [name], **refs, **extra}})


# ---------------------------------------------------------------------------------------------- auth
def test_home_page_needs_no_token(tf, http):
    reply = http.get(f"{tf.url}/")
    assert reply.status_code == 200
    links = {(link["link"]["rel"], link["link"]["name"]) for link in reply.json()["links"]}
    assert ("collection", "virtual-network") in links
    assert ("resource-base", "virtual-network") in links
    assert ("action", "fqname-to-id") in links
    assert reply.json()["href"] == tf.url


def test_missing_and_invalid_tokens_are_401_from_the_keystone_middleware(tf, http):
    missing = Api(http, tf.url, None).get("/virtual-networks")
    invalid = Api(http, tf.url, "gAAAAAnot-a-token").get("/virtual-networks")
    for reply in (missing, invalid):
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == 401
        assert reply.headers["WWW-Authenticate"].startswith('Keystone uri="http://127.0.0.1:')
    assert [c.token for c in tf.calls] == [None, "***"]
    assert tf.calls[1].user is None


def test_token_is_validated_against_keystone_once_then_cached(tf, keystone, admin):
    seen = len(keystone.calls)
    assert admin.get("/virtual-networks").status_code == 200
    assert admin.get("/network-ipams").status_code == 200
    validations = [
        c
        for c in keystone.calls[seen:]
        if c.method == "GET" and c.path.endswith("/auth/tokens") and c.status == 200
    ]  # a 401 first is TF renewing its own service token after the Keystone fake's reset
    assert len(validations) == 1
    assert validations[0].headers["x-subject-token"] == "***"  # TF's service token asks about ours
    call = tf.calls[-1]
    assert (call.user, call.project, call.token) == ("admin", "admin", "***")
    assert "admin" in call.roles
    assert call.project_id == project_hex(admin.http, keystone, "admin")


def test_a_token_past_its_expiry_is_401(keystone, http):
    now = [0.0]
    with TungstenFake(keystone_url=keystone.auth_url, clock=lambda: now[0]) as tf:
        client = api(http, keystone, tf, "admin", scope=("secret", "admin"))
        assert client.get("/virtual-networks").status_code == 200
        now[0] = 4_000_000_000.0  # far beyond the token's expires_at (epoch seconds)
        assert client.get("/virtual-networks").status_code == 401


def test_a_revoked_token_is_401_once_the_cache_time_passes(keystone, http):
    now = [1000.0]
    with TungstenFake(keystone_url=keystone.auth_url, clock=lambda: now[0], token_cache_seconds=300) as tf:
        client = api(http, keystone, tf, "admin", scope=("secret", "admin"))
        assert client.get("/virtual-networks").status_code == 200
        revoker = {"X-Auth-Token": client.token, "X-Subject-Token": client.token}
        assert http.delete(f"{keystone.auth_url}/auth/tokens", headers=revoker).status_code == 204
        assert client.get("/virtual-networks").status_code == 200  # still cached (keystonemiddleware)
        now[0] += 301
        assert client.get("/virtual-networks").status_code == 401


def test_cloud_admin_mode_refuses_a_member_token_with_plain_text(tf, cust1):
    for reply in (
        cust1.get("/virtual-networks"),
        cust1.post("/fqname-to-id", {"type": "project", "fq_name": []}),
    ):
        assert reply.status_code == 403
        assert reply.text == "403 Permission Denied"
        assert reply.headers["Content-Type"] == "text/plain"
    assert tf.calls[-1].roles == ("member", "reader")


def test_no_auth_mode_needs_no_token(tf, http):
    tf.aaa_mode = "no-auth"
    reply = Api(http, tf.url, None).get("/virtual-networks")
    assert reply.status_code == 200
    assert len(reply.json()["virtual-networks"]) == 3


def test_aaa_mode_can_be_read_and_switched_by_an_admin_only(tf, admin, cust1):
    assert admin.get("/aaa-mode").json() == {"aaa-mode": "cloud-admin"}
    assert admin.put("/aaa-mode", {"aaa-mode": "rbac"}).json() == {"aaa-mode": "rbac"}
    assert tf.aaa_mode == "rbac"
    refused = cust1.put("/aaa-mode", {"aaa-mode": "no-auth"})
    assert (refused.status_code, refused.text) == (403, " Permission denied")
    assert admin.put("/aaa-mode", {"aaa-mode": "bogus"}).status_code == 400


def test_rbac_role_rules_come_from_the_api_access_list(keystone, http):
    with TungstenFake(
        keystone_url=keystone.auth_url, aaa_mode="rbac", rbac_rules=["virtual-network => member:R"]
    ) as tf:
        client = api(http, keystone, tf, "cust1-user", scope=("c1-pass", "cust1"))
        assert client.get("/virtual-networks").status_code == 200
        refused = client.get("/logical-routers")
        assert refused.status_code == 403
        assert (
            refused.text
            == "Permission Denied for cust1-user as ['member', 'reader'] to R logical-router in cust1"
        )
        fq = client.post("/fqname-to-id", {"type": "project", "fq_name": ["default-domain", "cust1"]})
        assert fq.status_code == 200  # contrail-api's own default rule opens fqname-to-id to every role


# ---------------------------------------------------------------------------------------------- projects
def test_projects_mirror_keystone_with_their_own_ownership(tf, keystone, admin, http):
    cust2 = project_hex(http, keystone, "cust2")
    project = admin.read("project", f"{cust2[:8]}-{cust2[8:12]}-{cust2[12:16]}-{cust2[16:20]}-{cust2[20:]}")
    assert project["fq_name"] == ["default-domain", "cust2"]
    assert project["perms2"]["owner"] == cust2
    assert project["parent_type"] == "domain"
    assert [sg["to"][-1] for sg in project["security_groups"]] == ["default"]
    by_name = admin.post("/fqname-to-id", {"type": "project", "fq_name": ["default-domain", "service"]})
    assert by_name.status_code == 200
    missing = admin.post("/fqname-to-id", {"type": "project", "fq_name": ["default-domain", "nope"]})
    assert (missing.status_code, missing.text) == (404, "Name ['default-domain', 'nope'] not found")


# ---------------------------------------------------------------------------------------------- networks
def test_create_vn_with_subnet_and_mtu(tf, admin, keystone, http):
    created = make_vn(admin, "admin", "vn-blue", mtu=1450, virtual_network_properties={"mtu": 1450})
    assert set(created) == {"fq_name", "uuid", "name", "href", "parent_type", "parent_uuid", "parent_href"}
    assert created["href"] == f"{tf.url}/virtual-network/{created['uuid']}"
    assert created["parent_href"].startswith(f"{tf.url}/project/")
    vn = admin.read("virtual-network", created["uuid"])
    subnet = vn["network_ipam_refs"][0]["attr"]["ipam_subnets"][0]
    assert subnet["subnet"] == {"ip_prefix": "10.0.0.0", "ip_prefix_len": 24}
    assert (subnet["default_gateway"], subnet["dns_server_address"]) == ("10.0.0.254", "10.0.0.253")
    assert len(subnet["subnet_uuid"]) == 36
    assert vn["network_ipam_refs"][0]["to"] == IPAM
    assert vn["mtu"] == 1450
    assert vn["virtual_network_properties"] == {"mtu": 1450}
    assert vn["perms2"] == {
        "owner": project_hex(http, keystone, "admin"),
        "owner_access": 7,
        "global_access": 0,
        "share": [],
    }
    assert vn["id_perms"]["enable"] is True
    assert vn["display_name"] == "vn-blue"
    assert vn["is_shared"] is False
    assert vn["virtual_network_network_id"] > 3
    assert [ri["to"][-1] for ri in vn["routing_instances"]] == ["vn-blue"]
    ipam = admin.read("network-ipam", vn["network_ipam_refs"][0]["uuid"])
    assert [b["uuid"] for b in ipam["virtual_network_back_refs"]] == [created["uuid"]]


def test_vn_property_validation_is_400_plain_text(tf, admin):
    too_big = admin.post(
        "/virtual-networks",
        {
            "virtual-network": {
                "parent_type": "project",
                "fq_name": ["default-domain", "admin", "x"],
                "mtu": 10000,
            }
        },
    )
    assert too_big.status_code == 400
    assert (
        too_big.text
        == "Bad property in create: Error validating property mtu: value must be between 0 and 9216"
    )
    bad_subnet = admin.post(
        "/virtual-networks",
        {
            "virtual-network": {
                "fq_name": ["default-domain", "admin", "x"],
                "network_ipam_refs": [{"to": IPAM, "attr": ipam_attr("10.0.0.300")}],
            }
        },
    )
    assert bad_subnet.status_code == 400
    assert bad_subnet.text.startswith("Bad reference in create: Error validating reference network_ipam_refs")
    assert "Subnet type '10.0.0.300/24' is invalid" in bad_subnet.text
    overlap = admin.post(
        "/virtual-networks",
        {
            "virtual-network": {
                "fq_name": ["default-domain", "admin", "x"],
                "network_ipam_refs": [
                    {
                        "to": IPAM,
                        "attr": {
                            "ipam_subnets": [
                                {"subnet": {"ip_prefix": "10.0.0.0", "ip_prefix_len": 24}},
                                {"subnet": {"ip_prefix": "10.0.0.128", "ip_prefix_len": 25}},
                            ]
                        },
                    }
                ],
            }
        },
    )
    assert (overlap.status_code, overlap.text) == (
        400,
        "Overlapping addresses: [IPNetwork('10.0.0.0/24'), IPNetwork('10.0.0.128/25')]",
    )
    assert not [o for o in tf.objects("virtual-network") if o["name"] == "x"]


def test_duplicate_fq_name_and_uuid_are_409(admin):
    first = make_vn(admin, "admin", "dup")
    again = admin.post(
        "/virtual-networks", {"virtual-network": {"fq_name": first["fq_name"], "parent_type": "project"}}
    )
    assert again.status_code == 409
    assert again.text == f"['default-domain', 'admin', 'dup'] already exists with uuid: {first['uuid']}"
    assert "json" not in again.headers["Content-Type"]
    same_uuid = admin.post(
        "/network-policys",
        {"network-policy": {"fq_name": ["default-domain", "admin", "p"], "uuid": first["uuid"]}},
    )
    assert same_uuid.status_code == 409
    assert (
        same_uuid.text == f"{first['uuid']} already exists with fq_name: ['default-domain', 'admin', 'dup']"
    )


def test_unknown_and_wrong_type_uuids_are_404(admin):
    vn = make_vn(admin, "admin", "vn")
    unknown = admin.get("/virtual-network/0b0b0b0b-0000-4000-8000-000000000000")
    assert (unknown.status_code, unknown.text) == (404, "Unknown id: 0b0b0b0b-0000-4000-8000-000000000000")
    wrong = admin.get(f"/security-group/{vn['uuid']}")
    assert (wrong.status_code, wrong.text) == (404, f"No security-group object found for id {vn['uuid']}")
    gone = admin.delete("/virtual-network/0b0b0b0b-0000-4000-8000-000000000000")
    assert (gone.status_code, gone.text) == (404, "ID 0b0b0b0b-0000-4000-8000-000000000000 does not exist")
    assert (
        admin.put(f"/security-group/{vn['uuid']}", {"security-group": {"display_name": "x"}}).status_code
        == 404
    )
    assert admin.get("/no-such-things").status_code == 404


def test_missing_parent(admin):
    body = {"parent_type": "project", "fq_name": ["default-domain", "nope", "vn"]}
    plain = admin.post("/virtual-networks", {"virtual-network": body})
    assert (plain.status_code, plain.text) == (404, "Name['default-domain', 'nope'] not found")
    owned = admin.post("/virtual-networks", {"virtual-network": {**body, "perms2": {"owner": "ab" * 16}}})
    assert (owned.status_code, owned.text) == (
        400,
        "Parent ['default-domain', 'nope'] type project does not exist",
    )


def test_bad_bodies_are_400(admin, tf, http):
    cases = [
        ({"network-ipam": {}}, "Bad Request, no virtual-network in POST body"),
        ({"virtual-network": {"parent_type": "project"}}, "Bad Request, no fq_name in POST body"),
        (
            {"virtual-network": {"fq_name": ["default-domain", "admin", "a:b"]}},
            "Bad Request, name has one of invalid chars {':'}",
        ),
        (
            {"virtual-network": {"fq_name": ["default-domain", "admin", "u"], "uuid": "nope"}},
            "Invalid UUID format: nope",
        ),
        (
            {"virtual-network": {"fq_name": ["x"]}},
            "Invalid fq-name for object with parent_type project: ['x']",
        ),
        (
            {"virtual-network": {"fq_name": ["d", "a", "b"], "parent_type": "domain"}},
            "Invalid parent type: domain. Allowed types: ['project']",
        ),
        ({"virtual-machine-interface": {"fq_name": ["d", "a", "b"]}}, None),
    ]
    for body, text in cases:
        kind = "virtual-machine-interface" if "virtual-machine-interface" in body else "virtual-network"
        reply = admin.post(f"/{kind}s", body)
        assert reply.status_code == 400, body
        if text is not None:
            assert reply.text == text
    missing_parent_type = admin.post("/virtual-machine-interfaces", cases[-1][0])
    assert missing_parent_type.text.startswith("Missing parent type: None. Allowed types: ['project'")
    not_json = http.post(f"{tf.url}/virtual-networks", content=b"{", headers={"X-Auth-Token": admin.token})
    assert not_json.status_code == 400
    unknown_ref = admin.post(
        "/virtual-networks",
        {
            "virtual-network": {
                "fq_name": ["default-domain", "admin", "r"],
                "route_table_refs": [{"to": ["a", "b", "c"]}],
            }
        },
    )
    assert unknown_ref.status_code == 400
    assert unknown_ref.text.startswith("Unknown reference in resource create {")
    assert admin.put(
        "/virtual-network/whatever", {"virtual-network": {"perms2": {"global_access": 5}}}
    ).text == ("owner in perms2 must be present")


# ------------------------------------------------------------------------------------ ports and addresses
def test_port_and_instance_ip_allocation(tf, admin):
    vn = make_vn(admin, "admin", "vn")
    port = make_port(admin, "admin", "port-1", vn)
    vmi = admin.read("virtual-machine-interface", port["uuid"])
    u = port["uuid"]
    assert vmi["virtual_machine_interface_mac_addresses"] == {
        "mac_address": [f"02:{u[0:2]}:{u[2:4]}:{u[4:6]}:{u[6:8]}:{u[9:11]}"]
    }
    first = make_iip(admin, "iip-1", vn, port)
    assert first.status_code == 200, first.text
    assert set(first.json()["instance-ip"]) == {"fq_name", "uuid", "name", "href"}  # config-root: no parent
    iip = admin.read("instance-ip", first.json()["instance-ip"]["uuid"])
    assert iip["instance_ip_address"] == "10.0.0.252"  # from the end: .254 gateway, .253 DNS
    assert iip["instance_ip_subnet"] == {"ip_prefix": "10.0.0.0", "ip_prefix_len": 24}
    assert iip["instance_ip_family"] == "v4"
    vn_read = admin.read("virtual-network", vn["uuid"])
    assert iip["subnet_uuid"] == vn_read["network_ipam_refs"][0]["attr"]["ipam_subnets"][0]["subnet_uuid"]
    second = make_iip(admin, "iip-2", vn)
    assert (
        admin.read("instance-ip", second.json()["instance-ip"]["uuid"])["instance_ip_address"] == "10.0.0.251"
    )
    taken = make_iip(admin, "iip-3", vn, instance_ip_address="10.0.0.252")
    assert (taken.status_code, taken.text) == (409, "IP address already in use")
    chosen = make_iip(admin, "iip-4", vn, instance_ip_address="10.0.0.10")
    assert (
        admin.read("instance-ip", chosen.json()["instance-ip"]["uuid"])["instance_ip_address"] == "10.0.0.10"
    )
    read_port = admin.read("virtual-machine-interface", port["uuid"])
    assert [b["uuid"] for b in read_port["instance_ip_back_refs"]] == [first.json()["instance-ip"]["uuid"]]


def test_addr_from_start_and_exhaustion(admin):
    vn = admin.create(
        "virtual-network",
        fq_name=["default-domain", "admin", "tiny"],
        network_ipam_refs=[{"to": IPAM, "attr": ipam_attr("192.168.5.0", 29, addr_from_start=True)}],
    )
    subnet = admin.read("virtual-network", vn["uuid"])["network_ipam_refs"][0]["attr"]["ipam_subnets"][0]
    assert (subnet["default_gateway"], subnet["dns_server_address"]) == ("192.168.5.1", "192.168.5.2")
    got = [make_iip(admin, f"t-{n}", vn) for n in range(4)]
    addresses = [
        admin.read("instance-ip", r.json()["instance-ip"]["uuid"])["instance_ip_address"] for r in got
    ]
    assert addresses == ["192.168.5.3", "192.168.5.4", "192.168.5.5", "192.168.5.6"]
    exhausted = make_iip(admin, "t-5", vn)
    assert (exhausted.status_code, exhausted.text) == (
        400,
        "Virtual-Network(['default-domain', 'admin', 'tiny']) has exhausted subnet(['192.168.5.0/29'])",
    )


def test_floating_ip_pool_and_floating_ip(tf, admin, keystone, http):
    public = make_vn(admin, "admin", "public", prefix="203.0.113.0", router_external=True)
    pool = admin.create(
        "floating-ip-pool", parent_type="virtual-network", fq_name=[*public["fq_name"], "pool"]
    )
    assert pool["parent_type"] == "virtual-network"
    vn = make_vn(admin, "admin", "private")
    port = make_port(admin, "admin", "p1", vn)
    admin_id = project_hex(http, keystone, "admin")
    fip = admin.create(
        "floating-ip",
        parent_type="floating-ip-pool",
        fq_name=[*pool["fq_name"], "fip-1"],
        project_refs=[{"to": ["default-domain", "admin"]}],
        virtual_machine_interface_refs=[{"to": port["fq_name"]}],
    )
    read = admin.read("floating-ip", fip["uuid"])
    assert read["floating_ip_address"] == "203.0.113.252"
    assert read["floating_ip_address_family"] == "v4"
    assert (
        read["project_refs"][0]["uuid"]
        == f"{admin_id[:8]}-{admin_id[8:12]}-{admin_id[12:16]}-{admin_id[16:20]}-{admin_id[20:]}"
    )
    assert read["perms2"]["owner"] == admin_id  # a pool's child: owned like the pool's VN
    pool_read = admin.read("floating-ip-pool", pool["uuid"])
    assert [f["uuid"] for f in pool_read["floating_ips"]] == [fip["uuid"]]
    blocked = admin.delete(f"/floating-ip-pool/{pool['uuid']}")
    assert (blocked.status_code, blocked.text) == (
        409,
        f"Delete when children still present: ['{tf.url}/floating-ip/{fip['uuid']}']",
    )


def test_security_group_rules(admin):
    rule = {
        "direction": ">",
        "protocol": "tcp",
        "ethertype": "IPv4",
        "src_addresses": [{"subnet": {"ip_prefix": ANYWHERE, "ip_prefix_len": 0}}],
        "src_ports": [{"start_port": 0, "end_port": 65535}],
        "dst_addresses": [{"security_group": "local"}],
        "dst_ports": [{"start_port": 443, "end_port": 443}],
    }
    sg = admin.create(
        "security-group",
        parent_type="project",
        fq_name=["default-domain", "admin", "web"],
        security_group_entries={"policy_rule": [rule]},
    )
    read = admin.read("security-group", sg["uuid"])
    stored = read["security_group_entries"]["policy_rule"][0]
    assert len(stored["rule_uuid"]) == 36
    assert {k: v for k, v in stored.items() if k != "rule_uuid"} == rule
    assert read["security_group_id"] >= 8000000

    def attempt(name: str, rules: list[dict[str, Any]]) -> httpx.Response:
        body = {
            "fq_name": ["default-domain", "admin", name],
            "security_group_entries": {"policy_rule": rules},
        }
        return admin.post("/security-groups", {"security-group": body})

    assert attempt("a", [{**rule, "protocol": "bogus"}]).text == "Rule with invalid protocol : bogus"
    no_local = attempt("b", [{**rule, "dst_addresses": [{"security_group": "default-domain:admin:web"}]}])
    assert (no_local.status_code, no_local.text) == (
        400,
        "At least one of source or destination addresses must be 'local'",
    )
    mismatch = attempt("c", [{**rule, "ethertype": "IPv6"}])
    assert mismatch.text == "Rule subnet 0.0.0.0/0 doesn't match ethertype IPv6"
    duplicate = attempt("d", [rule, rule])
    assert (duplicate.status_code, duplicate.text) == (409, "Rule already exists : None")
    update = admin.put(
        f"/security-group/{sg['uuid']}",
        {
            "security-group": {
                "security_group_entries": {
                    "policy_rule": [rule, {**rule, "dst_ports": [{"start_port": 22, "end_port": 22}]}]
                }
            }
        },
    )
    assert update.json() == {"security-group": {"uuid": sg["uuid"], "href": sg["href"]}}
    assert len(admin.read("security-group", sg["uuid"])["security_group_entries"]["policy_rule"]) == 2


def test_logical_router_interface(tf, admin):
    vn = make_vn(admin, "admin", "inside")
    port = make_port(
        admin, "admin", "lr-port", vn, virtual_machine_interface_device_owner="network:router_interface"
    )
    gateway = make_iip(
        admin,
        "lr-port-ip",
        vn,
        admin.read("virtual-machine-interface", port["uuid"]),
        instance_ip_address="10.0.0.254",
    )
    assert gateway.status_code == 200, gateway.text  # the gateway address may go to a router port
    router = admin.create(
        "logical-router",
        parent_type="project",
        fq_name=["default-domain", "admin", "r1"],
        virtual_machine_interface_refs=[{"to": port["fq_name"], "uuid": port["uuid"]}],
    )
    read = admin.read("logical-router", router["uuid"])
    assert read["virtual_machine_interface_refs"][0]["uuid"] == port["uuid"]
    assert read["virtual_machine_interface_refs"][0]["href"] == port["href"]
    back = admin.read("virtual-machine-interface", port["uuid"])["logical_router_back_refs"]
    assert [b["uuid"] for b in back] == [router["uuid"]]
    blocked = admin.delete(f"/virtual-machine-interface/{port['uuid']}")
    assert blocked.status_code == 409
    assert blocked.text.startswith("Delete when resource still referred: [")
    assert f"'{tf.url}/logical-router/{router['uuid']}'" in blocked.text


# ---------------------------------------------------------------------------------------------- helpers
def test_fq_name_to_id_and_back(admin):
    vn = make_vn(admin, "admin", "vn-x")
    to_id = admin.post("/fqname-to-id", {"type": "virtual-network", "fq_name": vn["fq_name"]})
    assert to_id.json() == {"uuid": vn["uuid"]}
    back = admin.post("/id-to-fqname", {"uuid": vn["uuid"]})
    assert back.json() == {"fq_name": vn["fq_name"], "type": "virtual-network"}
    miss = admin.post(
        "/fqname-to-id", {"type": "virtual-network", "fq_name": ["default-domain", "admin", "nope"]}
    )
    assert (miss.status_code, miss.text) == (404, "Name ['default-domain', 'admin', 'nope'] not found")
    gone = admin.post("/id-to-fqname", {"uuid": "0b0b0b0b-0000-4000-8000-000000000000"})
    assert (gone.status_code, gone.text) == (404, "UUID 0b0b0b0b-0000-4000-8000-000000000000 not found")


def test_ref_update_adds_updates_and_deletes_one_ref(admin):
    vn = make_vn(admin, "admin", "vn-r")
    policy = admin.create(
        "network-policy",
        parent_type="project",
        fq_name=["default-domain", "admin", "pol"],
        network_policy_entries={
            "policy_rule": [
                {
                    "direction": "<>",
                    "protocol": "any",
                    "action_list": {"simple_action": "pass"},
                    "src_addresses": [{"virtual_network": "any"}],
                    "dst_addresses": [{"virtual_network": "any"}],
                }
            ]
        },
    )
    base = {"type": "virtual-network", "uuid": vn["uuid"], "ref-type": "network-policy"}
    add = admin.post(
        "/ref-update",
        {
            **base,
            "operation": "ADD",
            "ref-uuid": policy["uuid"],
            "attr": {"sequence": {"major": 0, "minor": 0}},
        },
    )
    assert add.json() == {"uuid": vn["uuid"]}
    again = admin.post(
        "/ref-update",
        {
            **base,
            "operation": "ADD",
            "ref-fq-name": policy["fq_name"],
            "attr": {"sequence": {"major": 1, "minor": 0}},
        },
    )
    assert again.status_code == 200
    refs = admin.read("virtual-network", vn["uuid"])["network_policy_refs"]
    assert [(r["uuid"], r["attr"]) for r in refs] == [
        (policy["uuid"], {"sequence": {"major": 1, "minor": 0}})
    ]
    assert [b["uuid"] for b in admin.read("network-policy", policy["uuid"])["virtual_network_back_refs"]] == [
        vn["uuid"]
    ]
    blocked = admin.delete(f"/network-policy/{policy['uuid']}")
    assert blocked.status_code == 409
    assert (
        admin.post("/ref-update", {**base, "operation": "DELETE", "ref-uuid": policy["uuid"]}).status_code
        == 200
    )
    assert "network_policy_refs" not in admin.read("virtual-network", vn["uuid"])
    bad_op = admin.post("/ref-update", {**base, "operation": "SWAP", "ref-uuid": policy["uuid"]})
    assert (bad_op.status_code, bad_op.text) == (400, "Bad Request: operation should be add or delete: SWAP")
    null = admin.post("/ref-update", {"type": "virtual-network", "uuid": vn["uuid"], "operation": "ADD"})
    assert (
        null.text
        == f"Bad Request: type/uuid/ref-type/operation is null: virtual-network, {vn['uuid']}, None, ADD."
    )
    unknown = admin.post(
        "/ref-update", {**base, "operation": "ADD", "ref-uuid": "0b0b0b0b-0000-4000-8000-000000000000"}
    )
    assert unknown.status_code == 404
    assert admin.delete(f"/network-policy/{policy['uuid']}").status_code == 200


def test_ref_relax_for_delete_lets_the_target_go(admin):
    vn = make_vn(admin, "admin", "vn-relax")
    table = admin.create(
        "route-table", parent_type="project", fq_name=["default-domain", "admin", "rt"], routes={"route": []}
    )
    admin.post(
        "/ref-update",
        {
            "type": "virtual-network",
            "uuid": vn["uuid"],
            "ref-type": "route-table",
            "operation": "ADD",
            "ref-uuid": table["uuid"],
            "attr": None,
        },
    )
    assert admin.delete(f"/route-table/{table['uuid']}").status_code == 409
    assert admin.post("/ref-relax-for-delete", {"uuid": vn["uuid"], "ref-uuid": table["uuid"]}).json() == {
        "uuid": vn["uuid"]
    }
    assert admin.delete(f"/route-table/{table['uuid']}").status_code == 200
    assert "route_table_refs" not in admin.read("virtual-network", vn["uuid"])


# ---------------------------------------------------------------------------------------------- lists
def test_list_plain_detail_fields_parent_and_uuids(tf, admin):
    blue = make_vn(admin, "admin", "blue", router_external=True)
    red = make_vn(admin, "admin", "red", prefix="10.1.0.0")
    plain = admin.get("/virtual-networks").json()["virtual-networks"]
    assert {"uuid": blue["uuid"], "fq_name": blue["fq_name"], "href": blue["href"]} in plain
    assert len(plain) == 5
    project_id = blue["parent_uuid"]
    detail = admin.get(
        "/virtual-networks", parent_id=project_id, detail="True", fields="network_ipam_refs"
    ).json()
    items = detail["virtual-networks"]
    assert [i["virtual-network"]["name"] for i in items] == ["blue", "red"]
    first = items[0]["virtual-network"]
    assert first["network_ipam_refs"][0]["attr"]["ipam_subnets"][0]["subnet"]["ip_prefix"] == "10.0.0.0"
    assert "mtu" not in first
    assert "href" not in first["network_ipam_refs"][0]
    assert admin.get("/virtual-networks", detail="true").json()["virtual-networks"][0]["virtual-network"][
        "id_perms"
    ]
    by_uuid = admin.get("/virtual-networks", obj_uuids=f"{red['uuid']},{blue['uuid']}").json()[
        "virtual-networks"
    ]
    assert [i["uuid"] for i in by_uuid] == [red["uuid"], blue["uuid"]]
    fq_names = admin.get("/virtual-networks", fq_names="default-domain:admin:red").json()["virtual-networks"]
    assert [i["uuid"] for i in fq_names] == [red["uuid"]]
    by_parent_name = admin.get("/virtual-networks", parent_fq_name_str="default-domain:admin").json()
    assert len(by_parent_name["virtual-networks"]) == 2
    with_fields = admin.get("/virtual-networks", obj_uuids=blue["uuid"], fields="router_external").json()
    assert with_fields["virtual-networks"][0]["router_external"] is True
    nothing = admin.get("/virtual-networks", fq_names="default-domain:admin:nope").json()
    assert nothing == {"virtual-networks": []}
    no_hrefs = admin.get("/virtual-networks", obj_uuids=blue["uuid"], exclude_hrefs="").json()
    assert no_hrefs["virtual-networks"] == [{"uuid": blue["uuid"], "fq_name": blue["fq_name"]}]


def test_list_filters_and_back_ref_id(admin):
    blue = make_vn(admin, "admin", "blue", router_external=True)
    make_vn(admin, "admin", "red", prefix="10.1.0.0")
    external = admin.get("/virtual-networks", filters="router_external==true").json()["virtual-networks"]
    assert [i["uuid"] for i in external] == [blue["uuid"]]
    either = admin.get("/virtual-networks", filters="display_name==red,display_name==blue").json()
    assert len(either["virtual-networks"]) == 2
    assert admin.get("/virtual-networks", filters="router_external").status_code == 400
    port = make_port(admin, "admin", "p", blue)
    by_ref = admin.get("/virtual-machine-interfaces", back_ref_id=blue["uuid"]).json()
    assert [i["uuid"] for i in by_ref["virtual-machine-interfaces"]] == [port["uuid"]]


def test_count_and_paging(admin):
    made = [make_vn(admin, "admin", f"vn-{n}", prefix=f"10.{n}.0.0") for n in range(3)]
    assert admin.get("/virtual-networks", count="true").json() == {"virtual-networks": {"count": 6}}
    project = made[0]["parent_uuid"]
    # anchored on a parent: by uuid, the marker is the last uuid of the page
    page1 = admin.get("/virtual-networks", parent_id=project, page_limit=2, page_marker="None").json()
    by_uuid = sorted(v["uuid"] for v in made)
    assert [i["uuid"] for i in page1["virtual-networks"]] == by_uuid[:2]
    assert page1["marker"] == by_uuid[1]
    page2 = admin.get(
        "/virtual-networks", parent_id=project, page_limit=2, page_marker=page1["marker"]
    ).json()
    assert [i["uuid"] for i in page2["virtual-networks"]] == by_uuid[2:]
    assert page2["marker"] is None
    # not anchored: in fq-name order, the marker is "<fq_name_str>:<uuid>"
    first = admin.get("/virtual-networks", page_limit=2).json()
    assert [i["fq_name"][-1] for i in first["virtual-networks"]] == ["vn-0", "vn-1"]
    assert first["marker"] == f"default-domain:admin:vn-1:{made[1]['uuid']}"
    rest = admin.get("/virtual-networks", page_limit=10, page_marker=first["marker"]).json()
    assert [i["fq_name"][-1] for i in rest["virtual-networks"]] == [
        "vn-2",
        "__link_local__",
        "default-virtual-network",
        "ip-fabric",
    ]
    assert rest["marker"] is None
    bad = admin.get("/virtual-networks", page_limit=0)
    assert (bad.status_code, bad.text) == (
        400,
        "Invalid page_limit 0: page_limit has to be greater than zero",
    )
    assert admin.get("/virtual-networks", page_marker="garbage").status_code == 400
    counted = admin.get("/virtual-networks", count="true", page_limit=2).json()
    assert counted["virtual-networks"] == {"count": 2}


# ---------------------------------------------------------------------------------------------- deletes
def test_delete_is_refused_while_a_port_uses_the_network(tf, admin):
    vn = make_vn(admin, "admin", "busy")
    port = make_port(admin, "admin", "p", vn)
    blocked = admin.delete(f"/virtual-network/{vn['uuid']}")
    assert blocked.status_code == 409
    assert blocked.text == (
        f"Delete when resource still referred: ['{tf.url}/virtual-machine-interface/{port['uuid']}']"
    )
    assert blocked.headers["Content-Type"].startswith("text/html")  # bottle's default; the body is plain text
    deleted = admin.delete(f"/virtual-machine-interface/{port['uuid']}")
    assert (deleted.status_code, deleted.text) == (200, "")
    assert admin.delete(f"/virtual-network/{vn['uuid']}").status_code == 200
    assert tf.get("virtual-network", vn["uuid"]) is None
    assert not [ri for ri in tf.objects("routing-instance") if ri["name"] == "busy"]


def test_project_delete_is_refused_while_children_exist(tf, admin):
    vn = make_vn(admin, "admin", "child")
    blocked = admin.delete(f"/project/{vn['parent_uuid']}")
    assert (blocked.status_code, blocked.text) == (
        409,
        f"Delete when children still present: ['{tf.url}/virtual-network/{vn['uuid']}']",
    )


def test_system_networks_cannot_be_deleted(tf, admin):
    fabric = next(v for v in tf.objects("virtual-network") if v["name"] == "ip-fabric")
    assert admin.delete(f"/virtual-network/{fabric['uuid']}").status_code == 409


# ---------------------------------------------------------------------------------------------- rbac
def test_rbac_lists_hide_other_projects_objects_and_reads_are_403(tf, admin, cust1, keystone, http):
    tf.aaa_mode = "rbac"
    mine = make_vn(cust1, "cust1", "mine")
    theirs = make_vn(admin, "admin", "theirs")
    listed = {i["uuid"] for i in cust1.get("/virtual-networks").json()["virtual-networks"]}
    assert mine["uuid"] in listed
    assert theirs["uuid"] not in listed
    assert {i["uuid"] for i in admin.get("/virtual-networks").json()["virtual-networks"]} >= {
        mine["uuid"],
        theirs["uuid"],
    }
    denied = cust1.get(f"/virtual-network/{theirs['uuid']}")
    admin_id = project_hex(http, keystone, "admin")
    assert denied.status_code == 403
    assert denied.text == (
        "Permission Denied for ['member', 'reader'] to read operation in domain 'default-domain' "
        "and project 'cust1' "
        f"RBAC: cust1-user doesn't have read permission in project '{admin_id}'"
    )
    assert (
        cust1.post("/fqname-to-id", {"type": "virtual-network", "fq_name": theirs["fq_name"]}).status_code
        == 403
    )
    assert (
        cust1.put(
            f"/virtual-network/{theirs['uuid']}", {"virtual-network": {"display_name": "x"}}
        ).status_code
        == 403
    )
    assert cust1.get("/virtual-networks", parent_id=theirs["parent_uuid"]).json() == {"virtual-networks": []}
    assert cust1.get("/virtual-networks", count="true").json() == {"virtual-networks": {"count": 1}}


def test_rbac_an_admin_can_make_objects_a_customer_owns(tf, admin, cust1, keystone, http):
    tf.aaa_mode = "rbac"
    cust_id = project_hex(http, keystone, "cust1")
    vn = make_vn(admin, "admin", "for-cust", perms2={"owner": cust_id})
    assert cust1.read("virtual-network", vn["uuid"])["perms2"]["owner"] == cust_id
    assert (
        cust1.put(f"/virtual-network/{vn['uuid']}", {"virtual-network": {"display_name": "ok"}}).status_code
        == 200
    )


def test_rbac_delete_needs_the_owner_project(tf, admin, cust1, keystone, http):
    tf.aaa_mode = "rbac"
    shared = make_vn(admin, "admin", "shared", is_shared=True)
    assert admin.read("virtual-network", shared["uuid"])["perms2"]["global_access"] == 7
    assert cust1.read("virtual-network", shared["uuid"])["name"] == "shared"  # global RWX
    refused = cust1.delete(f"/virtual-network/{shared['uuid']}")
    assert refused.status_code == 403
    assert "RBAC: cust1-user doesn't have write permission in project" in refused.text


def test_rbac_the_default_ipam_is_usable_by_every_tenant(tf, cust1):
    tf.aaa_mode = "rbac"
    vn = make_vn(cust1, "cust1", "own")
    assert cust1.read("virtual-network", vn["uuid"])["network_ipam_refs"][0]["to"] == IPAM
    assert cust1.get("/network-ipams").json()["network-ipams"][0]["fq_name"] == IPAM


def test_chown_and_chmod(tf, admin, cust1, keystone, http):
    tf.aaa_mode = "rbac"
    vn = make_vn(admin, "admin", "moved")
    cust_id = project_hex(http, keystone, "cust1")
    assert admin.post("/chown", {"uuid": vn["uuid"], "owner": cust_id}).json() == {}
    assert cust1.read("virtual-network", vn["uuid"])["perms2"]["owner"] == cust_id
    other = make_vn(admin, "admin", "opened")
    assert admin.post("/chmod", {"uuid": other["uuid"], "global_access": 5}).status_code == 200
    assert cust1.read("virtual-network", other["uuid"])["is_shared"] is True
    refused = cust1.post("/chmod", {"uuid": other["uuid"], "global_access": 7})
    assert (refused.status_code, refused.text) == (403, " Permission denied")


# ---------------------------------------------------------------------------------------------- MTU
def test_mtu_is_not_pushed_to_guests_without_dhcp_option_26(tf, admin):
    plain = make_vn(admin, "admin", "jumbo", mtu=9000)
    port = make_port(admin, "admin", "p", plain)
    make_iip(admin, "p-ip", plain, port)
    assert tf.guest_mtu(port["uuid"]) is None  # TF does not derive option 26 from the VN's mtu
    option = {"dhcp_option": [{"dhcp_option_name": "26", "dhcp_option_value": "1450"}]}
    with_option = admin.create(
        "virtual-network",
        fq_name=["default-domain", "admin", "overlay"],
        mtu=1450,
        network_ipam_refs=[{"to": IPAM, "attr": ipam_attr("10.9.0.0", 24, dhcp_option_list=option)}],
    )
    port2 = make_port(admin, "admin", "p2", with_option)
    make_iip(admin, "p2-ip", with_option, port2)
    assert tf.guest_mtu(port2["uuid"]) == 1450
    stored = admin.read("virtual-network", with_option["uuid"])["network_ipam_refs"][0]["attr"][
        "ipam_subnets"
    ][0]
    assert stored["dhcp_option_list"] == option
    override = {"dhcp_option": [{"dhcp_option_name": "interface-mtu", "dhcp_option_value": "1400"}]}
    admin.put(
        f"/virtual-machine-interface/{port2['uuid']}",
        {"virtual-machine-interface": {"virtual_machine_interface_dhcp_option_list": override}},
    )
    assert tf.guest_mtu(port2["uuid"]) == 1400  # the port's own option wins


# ---------------------------------------------------------------------------------------------- faults
def test_server_error_fault_is_plain_text(tf, admin):
    tf.inject(
        Fault.server_error(503, "No connection to zookeeper."),
        method="POST",
        path="/virtual-networks",
    )
    reply = admin.post(
        "/virtual-networks", {"virtual-network": {"fq_name": ["default-domain", "admin", "f"]}}
    )
    assert (reply.status_code, reply.text) == (503, "No connection to zookeeper.")
    assert tf.calls[-1].fault == "error"
    assert admin.get("/virtual-networks").status_code == 200  # a POST-only fault
    make_vn(admin, "admin", "f")  # times=1: the next one goes through


def test_drop_connection_fault(tf, admin):
    tf.inject(Fault.drop_connection(), path="/virtual-network/{uuid}", times=2)
    vn = make_vn(admin, "admin", "d")
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            admin.get(f"/virtual-network/{vn['uuid']}")
    assert admin.get(f"/virtual-network/{vn['uuid']}").status_code == 200
    assert [c.status for c in tf.calls[-3:]] == [None, None, 200]


def test_drop_after_effect_keeps_the_create(tf, admin):
    tf.inject(Fault.drop_after_effect(), method="POST", path="/virtual-networks")
    with pytest.raises(httpx.RemoteProtocolError):
        make_vn(admin, "admin", "landed")
    assert [v["name"] for v in tf.objects("virtual-network")][-1] == "landed"
    assert (tf.calls[-1].status, tf.calls[-1].fault) == (None, "drop_after_effect")


def test_unknown_paths_and_methods_answer_as_contrail_api(tf, admin):
    assert (admin.get("/nope").status_code, admin.get("/nope").text) == (404, "Not found: '/nope'")
    assert admin.delete("/virtual-networks").status_code == 405
    assert admin.get("/fqname-to-id").text == "Method not allowed."
    assert admin.get("/neutron/network").status_code == 404  # vnc_openstack's paths are POST only
    assert admin.post("/", {}).status_code == 404


def test_slow_fault_holds_until_released(tf, admin):
    tf.inject(Fault.slow(timeout=5.0), path="/network-ipams")
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(admin.get("/network-ipams").status_code))
    worker.start()
    assert tf.wait_until_held(timeout=5.0)
    assert result == []
    tf.release_slow()
    worker.join(timeout=5.0)
    assert result == [200]
    assert tf.calls[-1].fault == "slow"


def test_a_fault_without_text_answers_the_reason_phrase_as_bottle_does(tf, admin):
    tf.inject(Fault.server_error(502), path="/network-ipams")
    reply = admin.get("/network-ipams")
    assert (reply.status_code, reply.text) == (502, "Bad Gateway")
    assert reply.headers["Content-Type"] == "text/html; charset=UTF-8"
    call = tf.calls[-1]
    assert isinstance(call, Call)
    assert (call.service, call.fault, call.user, call.token) == ("tungsten", "error", None, "***")


# ------------------------------------------------------------------------- the scope capture scenario
def build_routing(admin: Api, owner_hex: str) -> dict[str, dict[str, Any]]:
    external = make_vn(
        admin,
        "admin",
        "public",
        prefix="203.0.113.0",
        router_external=True,
        perms2={"owner": owner_hex, "owner_access": 7, "global_access": 5, "share": []},  # what neutron sets
    )
    pool = admin.create(
        "floating-ip-pool", parent_type="virtual-network", fq_name=[*external["fq_name"], "pool"]
    )
    table = admin.create(
        "route-table",
        parent_type="project",
        fq_name=["default-domain", "admin", "rt"],
        routes={"route": [{"prefix": "0.0.0.0/0", "next_hop": "203.0.113.1", "next_hop_type": "ip-address"}]},
    )
    router = admin.create(
        "logical-router",
        parent_type="project",
        fq_name=["default-domain", "admin", "edge"],
        logical_router_gateway_external=True,
        virtual_network_refs=[{"to": external["fq_name"], "attr": None}],
        route_table_refs=[{"to": table["fq_name"]}],
    )
    return {"external": external, "pool": pool, "table": table, "router": router}


@pytest.fixture
def scenario(http, keystone, tf):
    """Steps (a) to (c): the shared admin account, its routing objects, its token for cust1."""
    grant(http, keystone, "admin", "cust1", "member")  # (a) admin on admin, member on cust1
    admin = api(http, keystone, tf, "admin", scope=("secret", "admin"))
    routing = build_routing(admin, project_hex(http, keystone, "admin"))  # (b)
    switched = api(http, keystone, tf, "admin", scope=("secret", "cust1"))  # (c) the portal switches scope
    assert tf.routing_managed()
    return admin, routing, switched


def test_scope_capture_in_cloud_admin_mode_denies_every_call(tf, scenario):
    admin, routing, switched = scenario
    calls = [
        switched.get("/logical-routers"),
        switched.put(
            f"/logical-router/{routing['router']['uuid']}", {"logical-router": {"display_name": "x"}}
        ),
        switched.post(
            "/ref-update",
            {
                "type": "logical-router",
                "uuid": routing["router"]["uuid"],
                "ref-type": "route-table",
                "operation": "DELETE",
                "ref-uuid": routing["table"]["uuid"],
            },
        ),
    ]
    assert [(c.status_code, c.text) for c in calls] == [(403, "403 Permission Denied")] * 3  # (d)
    assert not tf.routing_managed()
    assert {c.effect for c in tf.captures} == {"denied"}
    capture = tf.captures[0]
    assert (capture.user, capture.project, capture.roles) == ("admin", "cust1", ("member", "reader"))
    assert (tf.calls[-1].note or "").startswith("scope captured:")
    assert admin.get("/logical-routers").status_code == 200  # the admin scope itself is fine


def test_scope_capture_in_rbac_mode_narrows_the_view_and_steals_ownership(tf, scenario, keystone, http):
    tf.aaa_mode = "rbac"
    admin, routing, switched = scenario
    assert switched.get("/logical-routers").json() == {"logical-routers": []}  # (d) silently filtered
    assert switched.get("/route-tables").json() == {"route-tables": []}
    put = switched.put(
        f"/logical-router/{routing['router']['uuid']}", {"logical-router": {"display_name": "x"}}
    )
    admin_id = project_hex(http, keystone, "admin")
    assert put.status_code == 403
    assert put.text.endswith(f"RBAC: admin doesn't have write permission in project '{admin_id}'")
    ref = switched.post(
        "/ref-update",
        {
            "type": "logical-router",
            "uuid": routing["router"]["uuid"],
            "ref-type": "route-table",
            "operation": "DELETE",
            "ref-uuid": routing["table"]["uuid"],
        },
    )
    assert ref.status_code == 403
    created = make_iip(switched, "vip", routing["external"])
    assert created.status_code == 200, created.text
    iip = tf.get("instance-ip", created.json()["instance-ip"]["uuid"])
    assert iip is not None
    assert iip["perms2"]["owner"] == project_hex(http, keystone, "cust1")  # config-root: the caller's scope
    assert not tf.routing_managed()
    assert {c.effect for c in tf.captures} == {"narrowed", "denied"}
    assert admin.get(f"/logical-router/{routing['router']['uuid']}").status_code == 200


def test_scope_capture_with_admin_on_the_customer_project_is_over_privilege(tf, scenario, keystone, http):
    tf.aaa_mode = "rbac"
    _admin, routing, _switched = scenario
    grant(http, keystone, "admin", "cust1", "admin")  # (e)
    elevated = api(http, keystone, tf, "admin", scope=("secret", "cust1"))
    other = api(http, keystone, tf, "cust2-user", scope=("c2-pass", "cust2"))
    foreign = make_vn(other, "cust2", "private-of-cust2")
    listed = {i["uuid"] for i in elevated.get("/virtual-networks").json()["virtual-networks"]}
    assert {foreign["uuid"], routing["external"]["uuid"]} <= listed  # every tenant's objects
    assert (
        elevated.put(
            f"/logical-router/{routing['router']['uuid']}", {"logical-router": {"display_name": "y"}}
        ).status_code
        == 200
    )
    assert elevated.delete(f"/virtual-network/{foreign['uuid']}").status_code == 200
    assert [c.effect for c in tf.captures] == ["over-privileged"] * 3
    assert not tf.routing_managed()


def test_a_dedicated_service_account_keeps_routing_managed(tf, scenario, svc, keystone, http):
    tf.aaa_mode = "rbac"
    _admin, routing, _switched = scenario
    customer = api(http, keystone, tf, "cust1-user", scope=("c1-pass", "cust1"))
    assert (
        svc.put(
            f"/logical-router/{routing['router']['uuid']}", {"logical-router": {"display_name": "z"}}
        ).status_code
        == 200
    )  # (f)
    cust_id = project_hex(http, keystone, "cust1")
    port_net = make_vn(svc, "cust1", "cust-net", prefix="10.20.0.0")  # owned by cust1 (parent's owner)
    port = make_port(svc, "cust1", "cust-port", port_net)
    fip = svc.create(
        "floating-ip",
        parent_type="floating-ip-pool",
        fq_name=[*routing["pool"]["fq_name"], "cust-fip"],
        perms2={"owner": cust_id},
        project_refs=[{"to": ["default-domain", "cust1"]}],
        virtual_machine_interface_refs=[{"to": port["fq_name"]}],
    )
    assert customer.read("floating-ip", fip["uuid"])["floating_ip_address"].startswith("203.0.113.")
    assert customer.read("virtual-network", port_net["uuid"])["perms2"]["owner"] == cust_id
    assert tf.routing_managed()
    assert tf.captures == []
    assert {c.user for c in tf.calls if c.user} >= {"svc-tf", "cust1-user"}


def neutron(client: Api, resource: str, operation: str, *, tenant: str, is_admin: bool = False, **data: Any):
    context = {"operation": operation, "tenant_id": tenant, "is_admin": is_admin, "user_id": "u", "roles": []}
    return client.post(f"/neutron/{resource}", {"context": context, "data": {"filters": {}, **data}})


def test_the_neutron_path_runs_with_the_callers_token(tf, scenario, keystone, http):
    tf.aaa_mode = "rbac"
    admin, routing, switched = scenario
    admin_hex, cust_hex = project_hex(http, keystone, "admin"), project_hex(http, keystone, "cust1")
    as_admin = neutron(admin, "router", "READALL", tenant=admin_hex, is_admin=True)
    assert [r["name"] for r in as_admin.json()] == ["edge"]
    assert as_admin.json()[0]["external_gateway_info"] == {
        "network_id": routing["external"]["uuid"],
        "enable_snat": True,
    }
    assert as_admin.json()[0]["tenant_id"] == admin_hex
    assert neutron(switched, "router", "READALL", tenant=cust_hex).json() == []  # (g) the user's scope
    networks = neutron(switched, "network", "READALL", tenant=cust_hex).json()
    assert [(n["name"], n["router:external"]) for n in networks] == [("public", True)]
    missing = neutron(switched, "router", "READ", tenant=cust_hex, id=routing["router"]["uuid"])
    assert missing.status_code == 400
    assert missing.json() == {"exception": "RouterNotFound", "router_id": routing["router"]["uuid"]}
    assert not tf.routing_managed()
    assert {c.service for c in tf.calls if c.path.startswith("/neutron/")} == {"neutron"}
    tf.aaa_mode = "cloud-admin"
    assert neutron(switched, "network", "READALL", tenant=cust_hex).text == "403 Permission Denied"


def test_capture_detection_can_be_switched_off(keystone, http):
    grant(http, keystone, "admin", "cust1", "member")
    with TungstenFake(keystone_url=keystone.auth_url, capture_scope=False) as tf:
        switched = api(http, keystone, tf, "admin", scope=("secret", "cust1"))
        assert switched.get("/logical-routers").status_code == 403  # TF still uses the token's scope
        assert tf.routing_managed()
        assert tf.calls[-1].note is None


def test_reset_forgets_objects_modes_and_captures(tf, scenario):
    tf.aaa_mode = "rbac"
    scenario[2].get("/logical-routers")
    tf.reset()
    assert tf.aaa_mode == "cloud-admin"
    assert tf.routing_managed()
    assert tf.calls == []
    assert [v["name"] for v in tf.objects("virtual-network")] == [
        "default-virtual-network",
        "ip-fabric",
        "__link_local__",
    ]
    with pytest.raises(ValueError, match="unknown type"):
        tf.objects("nope")
