"""The TF client on the live fakes: the service account and the scope capture, tokens, retries, faults.

The scope-capture scenario follows reference/tungsten.md §7.13: the shared admin account switched to
a customer's scope loses routing (cloud-admin: 403; rbac: the admin project's objects vanish), while
the dedicated service account keeps working whatever scope the portal acts in.
"""

import uuid

import httpx
import pytest

from cloudkit._core._retry import RetryPolicy
from cloudkit.errors import (
    AuthenticationError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    TransportError,
)
from cloudkit.testing._tungsten_fixtures import ADMIN_PROJECT_ID, ALICE_PROJECT_ID, SERVICE_ACCOUNT
from cloudkit.testing.fakes.tungsten import Fault, TungstenFake
from cloudkit.tungsten import TungstenClient, TungstenSettings

ALICE = str(uuid.UUID(ALICE_PROJECT_ID))


def _token(keystone, user, password, project):
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}},
            },
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
        }
    }
    with httpx.Client(trust_env=False) as http:
        reply = http.post(f"{keystone.auth_url}/auth/tokens", json=body)
    assert reply.status_code == 201, reply.text
    return reply.headers["X-Subject-Token"]


def _as_customer(tf, token, path):
    with httpx.Client(trust_env=False) as http:
        return http.get(f"{tf.url}{path}", headers={"X-Auth-Token": token})


def _grant(keystone, user, project, role):
    admin = _token(keystone, "admin", "secret", "admin")
    with httpx.Client(trust_env=False) as http:
        users = http.get(f"{keystone.auth_url}/users?name={user}", headers={"X-Auth-Token": admin}).json()
        projects = http.get(
            f"{keystone.auth_url}/projects?name={project}", headers={"X-Auth-Token": admin}
        ).json()
        user_id, project_id = users["users"][0]["id"], projects["projects"][0]["id"]
        roles = http.get(f"{keystone.auth_url}/roles?name={role}", headers={"X-Auth-Token": admin}).json()
        role_id = roles["roles"][0]["id"]
        reply = http.put(
            f"{keystone.auth_url}/projects/{project_id}/users/{user_id}/roles/{role_id}",
            headers={"X-Auth-Token": admin},
        )
    assert reply.status_code in {200, 204}, reply.text


def test_fixture_ids_are_the_fakes_seed(openstack_fake):
    assert openstack_fake.portal.project_id == ALICE_PROJECT_ID
    assert openstack_fake.admin.project_id == ADMIN_PROJECT_ID


def test_identity_is_the_service_accounts_own_token(tungsten):
    me = tungsten.identity()
    assert (me.user_name, me.project_name, me.is_admin) == ("svc-tf", "service", True)
    assert tungsten.aaa_mode() == "cloud-admin"


@pytest.mark.quirk("tungsten.admin-scope-capture")
def test_every_request_carries_the_service_token_never_a_users(tungsten_fake, openstack_fake, make_tungsten):
    # A caller that hands cloudkit an httpx client with a user's token in its default headers does
    # not get that token forwarded: every request carries the service account's own token.
    user_token = _token(openstack_fake, "portal", "portal-pass", "alice")
    http = httpx.Client(headers={"X-Auth-Token": user_token}, trust_env=False)
    settings = TungstenSettings(
        url=tungsten_fake.url,
        auth_url=openstack_fake.auth_url,
        username=SERVICE_ACCOUNT[0],
        password=SERVICE_ACCOUNT[1],
        project_name=SERVICE_ACCOUNT[2],
    )
    with http, TungstenClient(settings, http=http) as tf:
        vn = tf.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1", subnets=["10.0.0.0/24"])
        tf.list_virtual_networks(project_id=ALICE_PROJECT_ID)
        tf.delete_virtual_network(vn.uuid)
    assert {(r.user, r.project) for r in tungsten_fake.calls} == {("svc-tf", "service")}
    assert tungsten_fake.routing_managed()


@pytest.mark.quirk("tungsten.admin-scope-capture")
def test_scope_capture_in_cloud_admin_mode_and_the_service_account_fix(
    tungsten_fake, openstack_fake, make_tungsten
):
    # (a) the shared admin account holds admin on "admin" and member on the customer's project
    openstack_fake.add_user("cust1-user", "cust1-pass", project="cust1")
    _grant(openstack_fake, "admin", "cust1", "member")
    # (b) in admin scope it manages routing
    shared_admin = make_tungsten(username="admin", password="secret", project_name="admin")
    router = shared_admin.create_logical_router(project_id=ADMIN_PROJECT_ID, name="edge")
    assert tungsten_fake.routing_managed()
    # (c)+(d) switched to the customer's scope, TF refuses everything: no admin role there
    captured = make_tungsten(username="admin", password="secret", project_name="cust1")
    with pytest.raises(PermissionDeniedError) as info:
        captured.list_logical_routers()
    assert info.value.quirk == "tungsten.admin-scope-capture"
    assert "never give it admin on a customer's project" in info.value.__notes__[0]
    assert "role add" not in info.value.__notes__[0]  # no command that would grant admin on cust1
    assert not tungsten_fake.routing_managed()
    assert tungsten_fake.captures[0].effect == "denied"
    # (f) the dedicated service account manages routing whatever scope the portal acts in
    service = make_tungsten()
    assert [r.uuid for r in service.list_logical_routers(project_id=ADMIN_PROJECT_ID)] == [router.uuid]
    ext = service.create_virtual_network(project_id=ADMIN_PROJECT_ID, name="public", external=True)
    assert service.set_router_gateway(router.uuid, network_id=ext.uuid).gateway_network_ids == (ext.uuid,)


@pytest.mark.quirk("tungsten.admin-scope-capture")
def test_scope_capture_in_rbac_mode_and_customer_ownership(tungsten_fake, openstack_fake, make_tungsten):
    tungsten_fake.aaa_mode = "rbac"
    openstack_fake.add_user("cust1-user", "cust1-pass", project="cust1")
    _grant(openstack_fake, "admin", "cust1", "member")
    shared_admin = make_tungsten(username="admin", password="secret", project_name="admin")
    router = shared_admin.create_logical_router(project_id=ADMIN_PROJECT_ID, name="edge")
    # (d) rbac: the admin project's router silently drops out of the captured scope's lists
    captured = make_tungsten(username="admin", password="secret", project_name="cust1")
    assert router.uuid not in [r.uuid for r in captured.list_logical_routers()]
    with pytest.raises(PermissionDeniedError):
        captured.get_logical_router(router.uuid)
    assert tungsten_fake.captures[0].effect == "narrowed"
    # the service account still sees and manages it, and makes the customer's objects owned by it
    service = make_tungsten()
    assert router.uuid in [r.uuid for r in service.list_logical_routers()]
    cust1 = openstack_fake.add_user("cust1-other", "pw2", project="cust1").project_id
    vn = service.create_virtual_network(project_id=cust1, name="net-1", subnets=["10.0.0.0/24"])
    port = service.create_port(project_id=cust1, network_id=vn.uuid, name="vm-1-eth0")
    (iip,) = service.list_instance_ips(port_id=port.uuid)
    assert {vn.owner, port.owner, iip.owner} == {str(uuid.UUID(cust1))}  # not the service project
    # the customer, in its own scope, sees what the service account made for it, and nothing else
    customer = _token(openstack_fake, "cust1-user", "cust1-pass", "cust1")
    networks = _as_customer(tungsten_fake, customer, "/virtual-networks").json()["virtual-networks"]
    assert [n["uuid"] for n in networks] == [vn.uuid]
    iips = _as_customer(tungsten_fake, customer, "/instance-ips").json()["instance-ips"]
    assert [i["uuid"] for i in iips] == [iip.uuid]
    assert _as_customer(tungsten_fake, customer, f"/logical-router/{router.uuid}").status_code == 403


@pytest.mark.quirk("tungsten.mtu-not-in-dhcp")
def test_without_option_26_the_guest_gets_no_mtu(tungsten_fake, tungsten, openstack_fake):
    # A network with only the mtu property, as a client that does not know the quirk makes it.
    token = _token(openstack_fake, *SERVICE_ACCOUNT)
    body = {
        "virtual-network": {
            "parent_type": "project",
            "fq_name": ["default-domain", "alice", "bare"],
            "mtu": 1450,
            "network_ipam_refs": [
                {
                    "to": ["default-domain", "default-project", "default-network-ipam"],
                    "attr": {"ipam_subnets": [{"subnet": {"ip_prefix": "10.0.0.0", "ip_prefix_len": 24}}]},
                }
            ],
        }
    }
    tungsten.list_virtual_networks(project_id=ALICE_PROJECT_ID)  # TF learns project alice
    with httpx.Client(trust_env=False) as http:
        created = http.post(
            f"{tungsten_fake.url}/virtual-networks", json=body, headers={"X-Auth-Token": token}
        )
    assert created.status_code == 200, created.text
    bare = created.json()["virtual-network"]["uuid"]
    port = tungsten.create_port(project_id=ALICE_PROJECT_ID, network_id=bare, name="p")
    assert tungsten_fake.guest_mtu(port.uuid) is None  # guests keep 1500: large packets hang
    fixed = tungsten.update_virtual_network(bare, mtu=1450)
    assert fixed.subnets[0].mtu == 1450
    assert tungsten_fake.guest_mtu(port.uuid) == 1450


def test_token_is_renewed_before_it_expires(tungsten, fake_clock, tungsten_calls):
    tungsten.list_virtual_networks()
    fake_clock.advance(3600 - 120 - 1)
    tungsten.list_virtual_networks()
    auths = [c for c in tungsten_calls.calls if c[1].startswith("/identity")]
    assert len(auths) == 1
    fake_clock.advance(2)
    tungsten.list_virtual_networks()
    auths = [c for c in tungsten_calls.calls if c[1].startswith("/identity")]
    assert len(auths) == 2


def test_a_401_authenticates_once_more_and_repeats(openstack_fake, tungsten_fake, fake_clock):
    with TungstenFake(keystone_url=openstack_fake.auth_url, token_cache_seconds=0.001) as tf:
        settings = TungstenSettings(
            url=tf.url,
            auth_url=openstack_fake.auth_url,
            username=SERVICE_ACCOUNT[0],
            password=SERVICE_ACCOUNT[1],
            project_name=SERVICE_ACCOUNT[2],
        )
        with TungstenClient(settings, clock=fake_clock, retry=RetryPolicy.no_retry()) as client:
            client.list_virtual_networks(project_id=ALICE_PROJECT_ID)
            token = client._current_token().issued.value.get_secret_value()
            admin = _token(openstack_fake, "admin", "secret", "admin")
            with httpx.Client(trust_env=False) as http:
                revoked = http.delete(
                    f"{openstack_fake.auth_url}/auth/tokens",
                    headers={"X-Auth-Token": admin, "X-Subject-Token": token},
                )
            assert revoked.status_code == 204
            assert client.list_virtual_networks(project_id=ALICE_PROJECT_ID) == []  # 401, new token, again
            assert [r.status for r in tf.calls][-2:] == [401, 200]
            assert client._current_token().issued.value.get_secret_value() != token


def test_transient_5xx_is_retried_on_the_fake_clock(tungsten_fake, tungsten, fake_clock):
    tungsten.list_virtual_networks()
    tungsten_fake.inject(Fault.server_error(503), method="GET", path="/virtual-networks", times=2)
    assert tungsten.list_virtual_networks(project_id=ALICE_PROJECT_ID) == []
    assert fake_clock.sleeps == [0.2, 0.4]


def test_persistent_5xx_gives_up_with_a_server_error(tungsten_fake, tungsten):
    tungsten.list_virtual_networks()
    tungsten_fake.inject(Fault.server_error(500, "boom"), method="GET", path="/virtual-networks", times=9)
    with pytest.raises(ServerError) as info:
        tungsten.list_virtual_networks()
    assert "after 4 attempts" in info.value.__notes__[-1]


def test_a_create_whose_connection_dropped_is_repeated_once_it_did_not_land(tungsten_fake, tungsten):
    tungsten.list_virtual_networks()
    tungsten_fake.inject(Fault.drop_connection(), method="POST", path="/virtual-networks")
    vn = tungsten.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1")
    posts = [r for r in tungsten_fake.calls if r.method == "POST" and r.path == "/virtual-networks"]
    assert len(posts) == 2  # dropped, read back (404), sent again
    assert [n.uuid for n in tungsten.list_virtual_networks(project_id=ALICE_PROJECT_ID)] == [vn.uuid]


def test_a_delete_repeated_after_a_lost_answer_is_done(tungsten_fake, tungsten):
    vn = tungsten.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1")
    tungsten_fake.inject(Fault.drop_connection(), method="DELETE", path="/virtual-network/{uuid}")
    tungsten.delete_virtual_network(vn.uuid)
    with pytest.raises(NotFoundError):
        tungsten.delete_virtual_network(vn.uuid)  # a first attempt's 404 is an error


def test_unreachable_tf_is_a_transport_error(openstack_fake, tungsten_fake, fake_clock):
    settings = TungstenSettings(
        url="http://127.0.0.1:9",
        auth_url=openstack_fake.auth_url,
        username=SERVICE_ACCOUNT[0],
        password=SERVICE_ACCOUNT[1],
        project_name=SERVICE_ACCOUNT[2],
    )
    with TungstenClient(settings, retry=RetryPolicy.no_retry()) as client, pytest.raises(TransportError):
        client.list_virtual_networks()


def test_unknown_project_and_wrong_types_are_not_found(tungsten):
    with pytest.raises(NotFoundError):
        tungsten.create_virtual_network(project_id=uuid.uuid4().hex, name="net-1")
    vn = tungsten.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1")
    with pytest.raises(NotFoundError) as info:
        tungsten.create_port(project_id=ALICE_PROJECT_ID, network_id=ALICE, name="p")  # a project's uuid
    assert "not a virtual-network" in info.value.message
    assert info.value.code is None
    with pytest.raises(InvalidArgumentError):
        tungsten.create_port(project_id="alice", network_id=vn.uuid, name="p")
    with pytest.raises(InvalidArgumentError):
        tungsten.get_virtual_network()
    with pytest.raises(InvalidArgumentError):
        tungsten.get_virtual_network(vn.uuid, fq_name=vn.fq_name)


def test_generic_escape_hatches(tungsten):
    vn = tungsten.create_virtual_network(project_id=ALICE_PROJECT_ID, name="net-1", subnets=["10.0.0.0/24"])
    assert tungsten.id_to_fq_name(vn.uuid).fq_name == vn.fq_name
    assert tungsten.fq_name_to_id("virtual-network", vn.fq_name) == vn.uuid
    assert tungsten.get_object("virtual-network", vn.uuid)["uuid"] == vn.uuid
    listed = tungsten.list_objects("virtual-network", parent_id=ALICE)
    assert [o["uuid"] for o in listed] == [vn.uuid]
    sg = tungsten.create_security_group(project_id=ALICE_PROJECT_ID, name="web")
    port = tungsten.create_port(project_id=ALICE_PROJECT_ID, network_id=vn.uuid, name="p")
    tungsten.add_ref("virtual-machine-interface", port.uuid, "security-group", sg.uuid)
    assert tungsten.get_port(port.uuid).security_group_ids == (sg.uuid,)
    tungsten.remove_ref("virtual-machine-interface", port.uuid, "security-group", sg.uuid)
    assert tungsten.get_port(port.uuid).security_group_ids == ()
    tungsten.delete_object("security-group", sg.uuid)
    with pytest.raises(InvalidArgumentError):
        tungsten.fq_name_to_id("virtual-network", [])


def test_pools_and_floating_ips_by_network_and_pool(tungsten):
    ext = tungsten.create_virtual_network(
        project_id=ADMIN_PROJECT_ID, name="public", subnets=["203.0.113.0/24"], external=True
    )
    tungsten.create_virtual_network(project_id=ADMIN_PROJECT_ID, name="internal")
    external = tungsten.list_virtual_networks(filters={"router_external": True})
    assert [n.uuid for n in external] == [ext.uuid]
    pool = tungsten.create_floating_ip_pool(network_id=ext.uuid, name="pool")
    assert tungsten.get_floating_ip_pool(fq_name=pool.fq_name) == pool
    assert [p.uuid for p in tungsten.list_floating_ip_pools(network_id=ext.uuid)] == [pool.uuid]
    fip = tungsten.create_floating_ip(pool_id=pool.uuid, project_id=ALICE_PROJECT_ID, address="203.0.113.7")
    assert fip.address == "203.0.113.7"
    assert [f.uuid for f in tungsten.list_floating_ips(pool_id=pool.uuid)] == [fip.uuid]
    tungsten.delete_floating_ip(fip.uuid)
    tungsten.delete_floating_ip_pool(pool.uuid)
    iip = tungsten.create_instance_ip(project_id=ALICE_PROJECT_ID, network_id=ext.uuid)
    assert iip.owner == ALICE
    assert tungsten.get_instance_ip(iip.uuid).address == iip.address
    tungsten.delete_instance_ip(iip.uuid)


def test_bad_password_error_holds_no_secret(make_tungsten):
    client = make_tungsten(password="hunter2-secret")
    with pytest.raises(AuthenticationError) as info:
        client.identity()
    assert "hunter2-secret" not in f"{info.value!r} {info.value.detail}"


def test_application_credentials_authenticate_without_a_password():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v3/auth/tokens":
            body = request.read()
            assert b'"application_credential"' in body
            assert b'"secret":"ac-secret"' in body.replace(b" ", b"")
            token = {
                "token": {
                    "user": {"id": "u1", "name": "svc-tf", "domain": {"name": "Default"}},
                    "project": {"id": "p1", "name": "service"},
                    "roles": [{"name": "admin"}],
                    "expires_at": "2030-01-01T01:00:00.000000Z",
                }
            }
            return httpx.Response(201, json=token, headers={"X-Subject-Token": "app-token"})
        assert request.headers["X-Auth-Token"] == "app-token"
        return httpx.Response(200, json={"virtual-networks": [], "marker": None})

    settings = TungstenSettings(
        url="http://tf:8082",
        auth_url="http://ks:5000/v3",
        application_credential_id="ac-1",
        application_credential_secret="ac-secret",
    )
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = TungstenClient(settings, http=http)
        assert client.list_virtual_networks() == []
        assert client.identity().user_name == "svc-tf"
        client.close()  # the caller's http stays open
    assert [r.url.path for r in seen] == ["/v3/auth/tokens", "/virtual-networks"]
