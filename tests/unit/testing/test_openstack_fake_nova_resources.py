"""The OpenStack fake's Nova resources beside servers, on the wire: flavor management, access and extra
specs, keypairs, limits, quota sets, availability zones, aggregates and server groups, with Nova's
policy answers (403 for a member where only an admin may act) and microversion steps."""

import base64
import hashlib

import openstack.connection
import pytest

PUBLIC_KEY = (  # openstacksdk's functional tests' FAKE_PUBLIC_KEY
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCkF3MX59OrlBs3dH5CU7lNmvpbrgZxSpyGj"
    "lnE8Flkirnc/Up22lpjznoxqeoTAwTW034k7Dz6aYIrZGmQwe2TkE084yqvlj45Dkyoj95fW/"
    "sZacm0cZNuL69EObEGHdprfGJQajrpz22NQoCD8TFB8Wv+8om9NH9Le6s+WPe98WC77KLw8qg"
    "fQsbIey+JawPWl4O67ZdL5xrypuRjfIPWjgy/VH85IXg/Z/GONZ2nxHgSShMkwqSFECAC5L3P"
    "HB+0+/12M/iikdatFSVGjpuHvkLOs3oe7m6HlOfluSJ85BzLWBbvva93qkGmLg4ZAc8rPh2O+"
    "YIsBUHNLLMM/oQp Generated-by-Nova\n"
)


@pytest.fixture
def connect(openstack_fake):
    made = []

    def make(creds):
        conn = openstack.connection.Connection(
            auth=creds.auth(openstack_fake.auth_url),
            identity_interface="public",
            compute_api_version="2",
            region_name="RegionOne",
            connect_retries=0,
        )
        made.append(conn)
        return conn

    yield make
    for conn in made:
        conn.close()


@pytest.fixture
def admin(connect, openstack_fake):
    return connect(openstack_fake.admin).compute  # a keystoneauth adapter on Nova, as admin


@pytest.fixture
def member(connect, openstack_fake):
    return connect(openstack_fake.portal).compute  # as portal, a member of project alice


def call(adapter, method, path, body=None, microversion="2.1"):
    return adapter.request(path, method, json=body, microversion=microversion, raise_exc=False)


def fault(answer, status, name):
    assert answer.status_code == status, answer.text
    return answer.json()[name]["message"]


def new_flavor(admin, name="f", **extra):
    spec = {"name": name, "ram": 128, "vcpus": 1, "disk": 0, **extra}
    answer = call(admin, "POST", "/flavors", {"flavor": spec}, "2.61")
    assert answer.status_code == 200, answer.text
    return answer.json()["flavor"]


# ================================================================================== flavors
def test_seed_has_devstacks_five_flavors_in_id_order(member):
    flavors = call(member, "GET", "/flavors/detail").json()["flavors"]
    assert [(f["id"], f["name"], f["vcpus"], f["ram"], f["disk"]) for f in flavors] == [
        ("1", "m1.tiny", 1, 512, 1),
        ("2", "m1.small", 1, 2048, 20),
        ("3", "m1.medium", 2, 4096, 40),
        ("4", "m1.large", 4, 8192, 80),
        ("5", "m1.xlarge", 8, 16384, 160),
    ]


def test_member_may_not_manage_flavors(member):
    answer = call(member, "POST", "/flavors", {"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 0}})
    assert fault(answer, 403, "forbidden") == (
        "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed."
    )
    assert call(member, "DELETE", "/flavors/1").status_code == 403


def test_flavor_create_shows_every_field_and_refuses_a_taken_name(admin):
    flavor = new_flavor(
        admin, "big", id="big-1", **{"OS-FLV-EXT-DATA:ephemeral": 5, "swap": 100, "rxtx_factor": 1.5}
    )
    assert flavor["id"] == "big-1"
    assert (flavor["OS-FLV-EXT-DATA:ephemeral"], flavor["swap"], flavor["rxtx_factor"]) == (5, 100, 1.5)
    assert (flavor["os-flavor-access:is_public"], flavor["extra_specs"], flavor["description"]) == (
        True,
        {},
        None,
    )
    again = call(admin, "POST", "/flavors", {"flavor": {"name": "big", "ram": 1, "vcpus": 1, "disk": 0}})
    assert fault(again, 409, "conflictingRequest") == "Flavor with name big already exists."
    described = {"flavor": {"name": "d", "ram": 1, "vcpus": 1, "disk": 0, "description": "x"}}
    assert "'description' was unexpected" in fault(
        call(admin, "POST", "/flavors", described), 400, "badRequest"
    )


def test_flavor_description_updates_from_2_55_and_delete_answers_202(admin):
    flavor = new_flavor(admin)
    update = {"flavor": {"description": "updated"}}
    assert call(admin, "PUT", f"/flavors/{flavor['id']}", update, "2.54").status_code == 404
    answer = call(admin, "PUT", f"/flavors/{flavor['id']}", update, "2.55")
    assert answer.json()["flavor"]["description"] == "updated"
    assert call(admin, "DELETE", f"/flavors/{flavor['id']}").status_code == 202
    assert call(admin, "GET", f"/flavors/{flavor['id']}").status_code == 404


def test_private_flavor_is_seen_by_the_projects_given_access_only(admin, member, openstack_fake):
    flavor = new_flavor(admin, "private", **{"os-flavor-access:is_public": False})
    path = f"/flavors/{flavor['id']}"
    project = openstack_fake.portal.project_id

    def member_sees():
        names = {f["name"] for f in call(member, "GET", "/flavors?is_public=None").json()["flavors"]}
        return "private" in names, call(member, "GET", path).status_code

    assert member_sees() == (False, 404)
    # an admin lists the public flavors unless is_public says otherwise (Nova's default)
    assert "private" not in {f["name"] for f in call(admin, "GET", "/flavors").json()["flavors"]}
    assert "private" in {f["name"] for f in call(admin, "GET", "/flavors?is_public=None").json()["flavors"]}
    added = call(admin, "POST", f"{path}/action", {"addTenantAccess": {"tenant": project}})
    assert added.json() == {"flavor_access": [{"flavor_id": flavor["id"], "tenant_id": project}]}
    assert member_sees() == (True, 200)
    again = call(admin, "POST", f"{path}/action", {"addTenantAccess": {"tenant": project}})
    assert fault(again, 409, "conflictingRequest").startswith("Flavor access already exists")
    assert call(admin, "GET", f"{path}/os-flavor-access").json()["flavor_access"][0]["tenant_id"] == project
    refused = call(member, "POST", f"{path}/action", {"removeTenantAccess": {"tenant": project}})
    assert fault(refused, 403, "forbidden").endswith("os-flavor-access:remove_tenant_access to be performed.")
    assert (
        call(admin, "POST", f"{path}/action", {"removeTenantAccess": {"tenant": project}}).status_code == 200
    )
    assert member_sees() == (False, 404)
    public = call(admin, "POST", "/flavors/1/action", {"addTenantAccess": {"tenant": project}})
    assert fault(public, 409, "conflictingRequest") == "Can not add access to a public flavor."
    assert fault(call(admin, "GET", "/flavors/1/os-flavor-access"), 404, "itemNotFound") == (
        "Access list not available for public flavors."
    )
    unknown = call(admin, "POST", f"{path}/action", {"addTenantAccess": {"tenant": "nope"}})
    assert fault(unknown, 400, "badRequest") == "Project ID nope is not a valid project."


def test_flavor_extra_specs_crud(admin, member):
    path = f"/flavors/{new_flavor(admin)['id']}/os-extra_specs"
    assert call(member, "POST", "/flavors/1/os-extra_specs", {"extra_specs": {"a": "b"}}).status_code == 403
    assert call(admin, "POST", path, {"extra_specs": {"a": "b", "n": 1}}).json() == {
        "extra_specs": {"a": "b", "n": 1}
    }
    assert call(admin, "GET", path).json() == {"extra_specs": {"a": "b", "n": "1"}}
    assert call(admin, "PUT", f"{path}/c", {"c": "d"}).json() == {"c": "d"}
    assert call(admin, "GET", f"{path}/c").json() == {"c": "d"}
    assert (
        fault(call(admin, "PUT", f"{path}/c", {"x": "d"}), 400, "badRequest")
        == "Request body and URI mismatch"
    )
    deleted = call(admin, "DELETE", f"{path}/c")
    assert (deleted.status_code, deleted.content) == (200, b"")
    assert fault(call(admin, "GET", f"{path}/c"), 404, "itemNotFound").endswith(
        "has no extra specs with key c."
    )
    flavor_id = path.split("/")[2]
    assert call(admin, "GET", f"/flavors/{flavor_id}", microversion="2.61").json()["flavor"][
        "extra_specs"
    ] == {
        "a": "b",
        "n": "1",
    }


# ================================================================================== keypairs
def test_keypair_generated_and_imported_as_nova_shows_them(member):
    made = call(member, "POST", "/os-keypairs", {"keypair": {"name": "gen", "type": "ssh"}}, "2.2")
    assert made.status_code == 201
    keypair = made.json()["keypair"]
    assert keypair["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert keypair["public_key"].startswith("ssh-rsa ")
    assert keypair["type"] == "ssh"
    imported = call(member, "POST", "/os-keypairs", {"keypair": {"name": "imp", "public_key": PUBLIC_KEY}})
    assert imported.status_code == 200  # 2.1
    shown = imported.json()["keypair"]
    digest = hashlib.md5(base64.b64decode(PUBLIC_KEY.split(" ")[1]), usedforsecurity=False).hexdigest()
    assert shown["fingerprint"] == ":".join(digest[i : i + 2] for i in range(0, 32, 2))
    assert "private_key" not in shown
    assert "type" not in shown
    listed = call(member, "GET", "/os-keypairs", microversion="2.2").json()["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["gen", "imp"]
    assert set(listed[0]["keypair"]) == {"name", "public_key", "fingerprint", "type"}
    full = call(member, "GET", "/os-keypairs/imp").json()["keypair"]
    assert {"user_id", "created_at", "deleted", "id"} <= set(full)
    assert call(member, "DELETE", "/os-keypairs/imp").status_code == 202
    assert call(member, "DELETE", "/os-keypairs/gen", microversion="2.2").status_code == 204


def test_keypair_checks(member):
    def create(keypair, microversion="2.1"):
        return call(member, "POST", "/os-keypairs", {"keypair": keypair}, microversion)

    assert fault(create({"name": "a.b"}), 400, "badRequest") == (
        "Keypair data is invalid: Keypair name contains unsafe characters"
    )
    assert fault(create({"name": "k", "public_key": "junk"}), 400, "badRequest") == (
        "Keypair data is invalid: failed to generate fingerprint"
    )
    assert "'public_key' is a required property" in fault(create({"name": "k"}, "2.92"), 400, "badRequest")
    assert create({"name": "k", "public_key": PUBLIC_KEY}).status_code == 200
    assert fault(create({"name": "k", "public_key": PUBLIC_KEY}), 409, "conflictingRequest") == (
        "Key pair 'k' already exists."
    )


def test_keypairs_belong_to_a_user_and_an_admin_may_name_one_from_2_10(admin, member, openstack_fake):
    user = openstack_fake.portal.user_id
    body = {"keypair": {"name": "theirs", "public_key": PUBLIC_KEY, "user_id": user}}
    assert call(admin, "POST", "/os-keypairs", body, "2.9").status_code == 400
    assert call(admin, "POST", "/os-keypairs", body, "2.10").json()["keypair"]["user_id"] == user
    assert call(admin, "GET", "/os-keypairs").json() == {"keypairs": []}  # the admin's own: none
    assert call(admin, "GET", f"/os-keypairs/theirs?user_id={user}", microversion="2.10").status_code == 200
    assert [k["keypair"]["name"] for k in call(member, "GET", "/os-keypairs").json()["keypairs"]] == [
        "theirs"
    ]
    other = {"keypair": {"name": "x", "public_key": PUBLIC_KEY, "user_id": "someone"}}
    assert fault(call(member, "POST", "/os-keypairs", other, "2.10"), 403, "forbidden") == (
        "Policy doesn't allow os_compute_api:os-keypairs:create to be performed."
    )
    assert fault(call(admin, "GET", "/os-keypairs/theirs"), 404, "itemNotFound") == (
        f"Keypair theirs not found for user {openstack_fake.admin.user_id}"
    )


# ================================================================================== limits and quotas
def test_limits_follow_the_microversion_and_count_the_projects_use(admin, member, openstack_fake):
    old = call(member, "GET", "/limits").json()["limits"]
    assert old["rate"] == []
    assert (old["absolute"]["maxSecurityGroups"], old["absolute"]["maxImageMeta"]) == (10, 128)
    assert old["absolute"]["totalInstancesUsed"] == 0
    new = call(member, "GET", "/limits", microversion="2.57").json()["limits"]["absolute"]
    assert "maxSecurityGroups" not in new
    assert "maxImageMeta" not in new
    assert "maxPersonality" not in new
    assert new["maxTotalKeypairs"] == 100
    alice = openstack_fake.portal.project_id
    assert call(member, "GET", f"/limits?tenant_id={openstack_fake.admin.project_id}").status_code == 403
    call(member, "POST", "/os-server-groups", {"server_group": {"name": "g", "policies": ["affinity"]}})
    assert (
        call(admin, "GET", f"/limits?tenant_id={alice}").json()["limits"]["absolute"]["totalServerGroupsUsed"]
        == 1
    )


def test_quota_sets_show_update_detail_defaults_revert(admin, member, openstack_fake):
    alice = openstack_fake.portal.project_id
    path = f"/os-quota-sets/{alice}"
    assert fault(call(member, "PUT", path, {"quota_set": {"key_pairs": 1}}), 403, "forbidden") == (
        "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed."
    )
    assert call(member, "GET", f"/os-quota-sets/{openstack_fake.admin.project_id}").status_code == 403
    updated = call(admin, "PUT", path, {"quota_set": {"key_pairs": 1}}).json()["quota_set"]
    assert updated["key_pairs"] == 1
    assert "id" not in updated
    shown = call(member, "GET", path).json()["quota_set"]
    assert (shown["id"], shown["key_pairs"], shown["security_groups"]) == (alice, 1, 10)
    assert "security_groups" not in call(member, "GET", path, microversion="2.36").json()["quota_set"]
    assert call(member, "GET", f"{path}/defaults").json()["quota_set"]["key_pairs"] == 100
    call(member, "POST", "/os-keypairs", {"keypair": {"name": "one", "public_key": PUBLIC_KEY}})
    second = call(member, "POST", "/os-keypairs", {"keypair": {"name": "two", "public_key": PUBLIC_KEY}})
    assert fault(second, 403, "forbidden") == "Quota exceeded, too many key pairs."
    call(member, "POST", "/os-server-groups", {"server_group": {"name": "g", "policies": ["affinity"]}})
    detail = call(admin, "GET", f"{path}/detail").json()["quota_set"]
    assert detail["server_groups"] == {"in_use": 1, "limit": 10, "reserved": 0}
    too_low = call(admin, "PUT", path, {"quota_set": {"server_groups": 0}})
    assert fault(too_low, 400, "badRequest") == (
        "Quota limit 0 for server_groups must be greater than or equal to already used and reserved 1."
    )
    assert call(admin, "PUT", path, {"quota_set": {"server_groups": 0, "force": True}}).status_code == 200
    assert call(admin, "DELETE", path).status_code == 202
    assert call(member, "GET", path).json()["quota_set"]["key_pairs"] == 100


# ================================================================================== zones and aggregates
def test_availability_zones_answer_nova_and_follow_aggregates(admin, member):
    assert call(member, "GET", "/os-availability-zone").json() == {
        "availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]
    }
    assert call(member, "GET", "/os-availability-zone/detail").status_code == 403
    detail = call(admin, "GET", "/os-availability-zone/detail").json()["availabilityZoneInfo"]
    assert [z["zoneName"] for z in detail] == ["internal", "nova"]
    assert set(detail[1]["hosts"]["fake-compute-1"]) == {"nova-compute"}
    made = call(admin, "POST", "/os-aggregates", {"aggregate": {"name": "a", "availability_zone": "az1"}})
    aggregate_id = made.json()["aggregate"]["id"]
    call(admin, "POST", f"/os-aggregates/{aggregate_id}/action", {"add_host": {"host": "fake-compute-1"}})
    zones = call(member, "GET", "/os-availability-zone").json()["availabilityZoneInfo"]
    assert [z["zoneName"] for z in zones] == ["az1"]


def test_aggregates_crud_and_actions(admin, member):
    assert fault(call(member, "GET", "/os-aggregates"), 403, "forbidden") == (
        "Policy doesn't allow os_compute_api:os-aggregates:index to be performed."
    )
    made = call(admin, "POST", "/os-aggregates", {"aggregate": {"name": "agg"}}, "2.41").json()["aggregate"]
    assert "hosts" not in made
    assert "metadata" not in made
    assert made["uuid"]
    again = call(admin, "POST", "/os-aggregates", {"aggregate": {"name": "agg"}})
    assert fault(again, 409, "conflictingRequest") == "Aggregate agg already exists."
    path = f"/os-aggregates/{made['id']}"
    assert call(admin, "GET", "/os-aggregates/agg").status_code == 400
    updated = call(admin, "PUT", path, {"aggregate": {"availability_zone": "z"}}).json()["aggregate"]
    assert (updated["availability_zone"], updated["metadata"]) == ("z", {"availability_zone": "z"})

    def act(action, args):
        return call(admin, "POST", f"{path}/action", {action: args})

    assert act("set_metadata", {"metadata": {"k": "v"}}).json()["aggregate"]["metadata"]["k"] == "v"
    assert "k" not in act("set_metadata", {"metadata": {"k": None}}).json()["aggregate"]["metadata"]
    assert (
        fault(act("add_host", {"host": "nope"}), 404, "itemNotFound")
        == "Compute host nope could not be found."
    )
    assert act("add_host", {"host": "fake-compute-1"}).json()["aggregate"]["hosts"] == ["fake-compute-1"]
    assert act("add_host", {"host": "fake-compute-1"}).status_code == 409
    assert call(admin, "DELETE", path).status_code == 400  # not empty
    assert act("remove_host", {"host": "fake-compute-1"}).json()["aggregate"]["hosts"] == []
    assert act("remove_host", {"host": "fake-compute-1"}).status_code == 404
    assert call(admin, "DELETE", path).status_code == 200
    assert (
        fault(call(admin, "GET", path), 404, "itemNotFound") == f"Aggregate {made['id']} could not be found."
    )


# ================================================================================== server groups
def test_server_groups_per_microversion(admin, member):
    old = call(member, "POST", "/os-server-groups", {"server_group": {"name": "o", "policies": ["affinity"]}})
    assert set(old.json()["server_group"]) == {"id", "name", "policies", "members", "metadata"}
    body = {"server_group": {"name": "n", "policy": "anti-affinity", "rules": {"max_server_per_host": 2}}}
    new = call(member, "POST", "/os-server-groups", body, "2.64").json()["server_group"]
    assert (new["policy"], new["rules"], new["members"]) == ("anti-affinity", {"max_server_per_host": 2}, [])
    assert {"project_id", "user_id"} <= set(new)
    assert "policies" not in new
    ruled = {"server_group": {"name": "r", "policy": "affinity", "rules": {"max_server_per_host": 2}}}
    assert fault(call(member, "POST", "/os-server-groups", ruled, "2.64"), 400, "badRequest") == (
        "Only anti-affinity policy supports rules."
    )
    soft = {"server_group": {"name": "s", "policies": ["soft-affinity"]}}
    assert call(member, "POST", "/os-server-groups", soft, "2.14").status_code == 400
    assert call(member, "POST", "/os-server-groups", soft, "2.15").status_code == 200
    assert len(call(member, "GET", "/os-server-groups").json()["server_groups"]) == 3
    assert call(admin, "GET", "/os-server-groups").json()["server_groups"] == []
    assert len(call(admin, "GET", "/os-server-groups?all_projects=True").json()["server_groups"]) == 3
    assert call(member, "DELETE", f"/os-server-groups/{new['id']}").status_code == 204
    assert fault(call(member, "GET", f"/os-server-groups/{new['id']}"), 404, "itemNotFound") == (
        f"Instance group {new['id']} could not be found."
    )


# ================================================================================== hosts and extensions
def test_hypervisors_and_services_show_the_one_host_to_an_admin(admin, member):
    assert fault(call(member, "GET", "/os-hypervisors"), 403, "forbidden") == (
        "Policy doesn't allow os_compute_api:os-hypervisors:list to be performed."
    )
    listed = call(admin, "GET", "/os-hypervisors", microversion="2.88").json()["hypervisors"]
    assert [(h["hypervisor_hostname"], h["state"], h["status"]) for h in listed] == [
        ("fake-compute-1", "up", "enabled")
    ]
    shown = call(admin, "GET", f"/os-hypervisors/{listed[0]['id']}", microversion="2.88").json()["hypervisor"]
    assert "uptime" in shown
    assert "vcpus" not in shown  # dropped at 2.88
    assert call(admin, "GET", "/os-hypervisors/fake-compute-1", microversion="2.88").status_code == 400
    old = call(admin, "GET", "/os-hypervisors/detail").json()["hypervisors"][0]
    assert (old["id"], old["running_vms"], old["cpu_info"]) == (1, 0, "{}")
    services = call(admin, "GET", "/os-services", microversion="2.11").json()["services"]
    assert [(s["binary"], s["zone"], s["forced_down"]) for s in services] == [
        ("nova-conductor", "internal", False),
        ("nova-scheduler", "internal", False),
        ("nova-compute", "nova", False),
    ]
    assert call(admin, "GET", "/os-services?binary=nova-compute").json()["services"][0]["id"] == 3


def test_extensions_list_nova_legacy_entries(member):
    extensions = call(member, "GET", "/extensions").json()["extensions"]
    keypairs = next(e for e in extensions if e["alias"] == "os-keypairs")
    assert keypairs["namespace"] == "http://docs.openstack.org/compute/ext/fake_xml"
    assert call(member, "GET", "/extensions/os-keypairs").json()["extension"] == keypairs
    assert call(member, "GET", "/extensions/nope").status_code == 404
