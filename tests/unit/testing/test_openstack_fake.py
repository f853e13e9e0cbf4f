"""The OpenStack fake, driven by openstacksdk itself (proxy layer) and by raw httpx for exact shapes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import keystoneauth1.exceptions as ks_exc
import openstack.connection
import openstack.exceptions as os_exc
import openstack.utils
import pytest

from cloudkit.testing import FakeClock, Fault
from cloudkit.testing.fakes import FakeCredentials, OpenStackFake
from cloudkit.testing.fakes.openstack import _nova

# openstacksdk 4.22 warns against itself whatever the caller does, so under filterwarnings=error it
# cannot run at all. Exactly these three messages (text and class) are ignored; any other warning
# still fails a test:
# - "Support for InfluxDB ...": on every Connection built from arguments (the config loader hands
#   CloudRegion a dict of Nones, and CloudRegion warns when that dict is non-empty);
# - "The 'service_type' parameter is unnecesary ...": on every proxy request;
# - "The _compute_attributes method is deprecated": on every Resource built from a response.
pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Support for InfluxDB requires the influxdb library:openstack.warnings.RemovedInSDK60Warning"
    ),
    pytest.mark.filterwarnings(
        "ignore:The 'service_type' parameter is unnecesary:openstack.warnings.RemovedInSDK50Warning"
    ),
    pytest.mark.filterwarnings(
        "ignore:The _compute_attributes method is deprecated:openstack.warnings.RemovedInSDK50Warning"
    ),
]

WSREP_NOVA = (
    '{"computeFault": {"code": 500, "message": "Unexpected API Error. Please report this at '
    "http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\\n<class "
    "'oslo_db.exception.DBConnectionError'>\"}}"
)
UNAUTHORIZED = {
    "error": {
        "code": 401,
        "title": "Unauthorized",
        "message": "The request you have made requires authentication.",
    }
}
MV_289 = {"OpenStack-API-Version": "compute 2.89", "X-OpenStack-Nova-API-Version": "2.89"}


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1000.0)


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[OpenStackFake]:
    with OpenStackFake(clock=clock) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        yield client


@pytest.fixture
def connect(fake: OpenStackFake) -> Iterator[Callable[..., openstack.connection.Connection]]:
    """Make openstacksdk connections to the fake (no clouds.yaml, no env); all closed at teardown."""
    made: list[openstack.connection.Connection] = []

    def make(creds: FakeCredentials | None = None, **auth: str) -> openstack.connection.Connection:
        conn = openstack.connection.Connection(
            auth={**(creds or fake.portal).auth(fake.auth_url), **auth},
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
def portal(connect):
    return connect()


@pytest.fixture
def admin(connect, fake):
    return connect(fake.admin)


def token_of(http: httpx.Client, fake: OpenStackFake, creds: FakeCredentials) -> str:
    response = http.post(f"{fake.auth_url}/auth/tokens", json=creds.token_request())
    assert response.status_code == 201
    return response.headers["X-Subject-Token"]


def boot(
    conn, fake: OpenStackFake, *, name: str = "vm-1", delete_on_termination: bool = True, size: int = 10
):
    image = next(i for i in conn.image.images() if i.os_distro == "ubuntu")
    mapping = {
        "uuid": image.id,
        "source_type": "image",
        "destination_type": "volume",
        "boot_index": 0,
        "volume_size": size,
        "delete_on_termination": delete_on_termination,
    }
    return conn.compute.create_server(
        name=name, flavor_id="2", networks="none", block_device_mapping=[mapping]
    )


def new_volume(conn, size: int = 5, **attrs: Any):
    volume = conn.block_storage.create_volume(size=size, **attrs)
    return conn.block_storage.wait_for_status(volume, "available", interval=1, wait=5)


def compute(fake: OpenStackFake, path: str) -> str:
    return f"{fake.url}/compute/v2.1{path}"


def cinder(fake: OpenStackFake, creds: FakeCredentials, path: str) -> str:
    return f"{fake.url}/volume/v3/{creds.project_id}{path}"


# ---------------------------------------------------------------------------------------------- Keystone
def test_token_has_subject_header_project_roles_and_catalog(fake, http):
    response = http.post(f"{fake.auth_url}/auth/tokens", json=fake.portal.token_request())
    assert response.status_code == 201
    assert response.headers["X-Subject-Token"]
    assert response.headers["x-openstack-request-id"].startswith("req-")
    token = response.json()["token"]
    assert token["project"] == {
        "domain": {"id": "default", "name": "Default"},
        "id": fake.portal.project_id,
        "name": "alice",
    }
    assert token["user"]["name"] == "portal"
    assert [r["name"] for r in token["roles"]] == ["member", "reader"]
    assert token["expires_at"].endswith(".000000Z")
    catalog = {entry["type"]: entry for entry in token["catalog"]}
    assert set(catalog) == {
        "identity",
        "compute",
        "volumev3",
        "block-storage",
        "image",
        "network",
        "placement",
    }
    urls = {kind: entry["endpoints"][0]["url"] for kind, entry in catalog.items()}
    assert urls == {
        "identity": f"{fake.url}/identity",
        "compute": f"{fake.url}/compute/v2.1",
        "volumev3": f"{fake.url}/volume/v3/{fake.portal.project_id}",
        "block-storage": f"{fake.url}/volume/v3/{fake.portal.project_id}",
        "image": f"{fake.url}/image",
        "network": f"{fake.url}/networking",
        "placement": f"{fake.url}/placement",
    }
    for entry in catalog.values():
        assert sorted(e["interface"] for e in entry["endpoints"]) == ["admin", "internal", "public"]
        assert {e["region"] for e in entry["endpoints"]} == {"RegionOne"}


def test_scope_by_project_id_and_default_project_without_scope(fake, http):
    body = fake.admin.token_request()
    body["auth"]["scope"] = {"project": {"id": fake.admin.project_id}}
    scoped = http.post(f"{fake.auth_url}/auth/tokens", json=body).json()["token"]
    assert [r["name"] for r in scoped["roles"]] == ["admin", "member", "reader"]
    del body["auth"]["scope"]
    # Keystone scopes a login without a scope to the user's default project (when it has a role there)
    defaulted = http.post(f"{fake.auth_url}/auth/tokens", json=body)
    assert defaulted.status_code == 201
    assert defaulted.json()["token"]["project"]["id"] == fake.admin.project_id


@pytest.mark.parametrize(
    "change",
    [
        {"password": "wrong"},
        {"name": "nobody"},
    ],
)
def test_bad_credentials_are_401(fake, http, change):
    body = fake.portal.token_request()
    body["auth"]["identity"]["password"]["user"].update(change)
    response = http.post(f"{fake.auth_url}/auth/tokens", json=body)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_sdk_authorize_and_bad_password(fake, connect, http):
    token = connect().authorize()
    admin_token = token_of(http, fake, fake.admin)
    check = http.get(
        f"{fake.auth_url}/auth/tokens", headers={"X-Auth-Token": admin_token, "X-Subject-Token": token}
    )
    assert check.status_code == 200
    assert check.json()["token"]["user"]["name"] == "portal"
    with pytest.raises(os_exc.SDKException, match="requires authentication"):
        connect(password="wrong").authorize()


def test_discovery_documents(fake, http):
    identity = http.get(f"{fake.url}/identity")
    assert identity.status_code == 300
    assert identity.json()["versions"]["values"][0]["links"][0]["href"] == f"{fake.auth_url}/"
    assert http.get(fake.auth_url).json()["version"]["status"] == "stable"
    nova = http.get(f"{fake.url}/compute/").json()["versions"]
    current = next(v for v in nova if v["id"] == "v2.1")
    assert (current["min_version"], current["version"]) == ("2.1", "2.100")
    assert http.get(f"{fake.url}/compute/v2.1").json()["version"]["version"] == "2.100"
    cinder_root = http.get(f"{fake.url}/volume/")
    assert cinder_root.status_code == 300
    assert cinder_root.json()["versions"][0]["version"] == "3.71"
    glance = http.get(f"{fake.url}/image")
    assert glance.status_code == 300
    assert glance.json()["versions"][0] == {
        "id": "v2.17",
        "status": "CURRENT",
        "links": [{"rel": "self", "href": f"{fake.url}/image/v2/"}],
    }


def test_validation_head_and_permissions(fake, http):
    portal = token_of(http, fake, fake.portal)
    admin = token_of(http, fake, fake.admin)
    bob = token_of(http, fake, fake.add_user("bob", "bob-pass", project="bob"))
    url = f"{fake.auth_url}/auth/tokens"
    assert http.get(url, headers={"X-Auth-Token": portal, "X-Subject-Token": portal}).status_code == 200
    assert http.head(url, headers={"X-Auth-Token": admin, "X-Subject-Token": portal}).status_code == 200
    assert http.get(url, headers={"X-Auth-Token": bob, "X-Subject-Token": portal}).status_code == 403
    unknown = http.get(url, headers={"X-Auth-Token": admin, "X-Subject-Token": "garbage"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Could not recognize Fernet token"
    assert http.get(url, headers={"X-Subject-Token": portal}).status_code == 401
    assert http.delete(url, headers={"X-Auth-Token": admin, "X-Subject-Token": portal}).status_code == 204
    assert http.head(url, headers={"X-Auth-Token": admin, "X-Subject-Token": portal}).status_code == 404


def test_password_change_revokes_every_token_including_the_same_second(fake, http, clock):
    old = token_of(http, fake, fake.portal)
    admin = token_of(http, fake, fake.admin)
    validate = f"{fake.auth_url}/auth/tokens"
    assert http.get(validate, headers={"X-Auth-Token": admin, "X-Subject-Token": old}).status_code == 200

    change = {"user": {"original_password": "portal-pass", "password": "new-pass"}}
    wrong = {"user": {"original_password": "nope", "password": "x"}}
    password_url = f"{fake.auth_url}/users/{fake.portal.user_id}/password"
    assert http.post(password_url, json=wrong).json() == UNAUTHORIZED
    changed = http.post(password_url, json=change, headers={"X-Auth-Token": old})
    assert changed.status_code == 204

    revoked = http.get(validate, headers={"X-Auth-Token": admin, "X-Subject-Token": old})
    assert revoked.status_code == 404
    assert revoked.json() == {
        "error": {"code": 404, "title": "Not Found", "message": "Failed to validate token"}
    }
    used = http.get(compute(fake, "/servers/detail"), headers={"X-Auth-Token": old})
    assert used.status_code == 401
    assert used.json() == UNAUTHORIZED
    assert used.headers["WWW-Authenticate"] == f'Keystone uri="{fake.url}/identity"'
    old_login = http.post(f"{fake.auth_url}/auth/tokens", json=fake.portal.token_request())
    assert old_login.status_code == 401

    renewed = FakeCredentials("portal", "new-pass", "alice", fake.portal.user_id, fake.portal.project_id)
    clock.advance(0.5)  # quirk keystone.same-second-revocation: same whole second as the change
    same_second = token_of(http, fake, renewed)
    assert (
        http.get(validate, headers={"X-Auth-Token": admin, "X-Subject-Token": same_second}).status_code == 404
    )
    clock.advance(0.5)  # the next second
    fresh = token_of(http, fake, renewed)
    assert http.get(validate, headers={"X-Auth-Token": admin, "X-Subject-Token": fresh}).status_code == 200
    assert http.get(compute(fake, "/servers/detail"), headers={"X-Auth-Token": fresh}).status_code == 200


def test_sdk_session_dies_after_password_change(fake, connect, http):
    conn = connect()
    list(conn.compute.servers())
    change = {"user": {"original_password": "portal-pass", "password": "new-pass"}}
    assert http.post(f"{fake.auth_url}/users/{fake.portal.user_id}/password", json=change).status_code == 204
    with pytest.raises(ks_exc.Unauthorized):  # keystoneauth's one re-auth uses the old password
        list(conn.compute.servers())
    renewed = connect(password="new-pass")
    with pytest.raises(os_exc.HttpException) as info:  # logged in again within the same second
        list(renewed.compute.servers())
    assert info.value.status_code == 401


def test_expired_token_is_rejected(fake, http, clock):
    token = token_of(http, fake, fake.portal)
    clock.advance(3600.0)
    assert http.get(compute(fake, "/flavors"), headers={"X-Auth-Token": token}).status_code == 401


def test_users_projects_and_roles(fake, http):
    admin = {"X-Auth-Token": token_of(http, fake, fake.admin)}
    portal = {"X-Auth-Token": token_of(http, fake, fake.portal)}
    base = fake.auth_url
    project = http.post(f"{base}/projects", json={"project": {"name": "carol"}}, headers=admin)
    assert project.status_code == 201
    project_id = project.json()["project"]["id"]
    duplicate = http.post(f"{base}/projects", json={"project": {"name": "carol"}}, headers=admin)
    assert duplicate.status_code == 409
    user = http.post(
        f"{base}/users",
        json={"user": {"name": "carol", "password": "carol-pass", "default_project_id": project_id}},
        headers=admin,
    )
    assert user.status_code == 201
    user_id = user.json()["user"]["id"]
    assert http.post(f"{base}/users", json={"user": {"name": "x"}}, headers=portal).status_code == 403
    member = http.get(f"{base}/roles", params={"name": "member"}, headers=admin).json()["roles"][0]["id"]
    assigned = http.put(f"{base}/projects/{project_id}/users/{user_id}/roles/{member}", headers=admin)
    assert assigned.status_code == 204
    carol = FakeCredentials("carol", "carol-pass", "carol", user_id, project_id)
    carol_headers = {"X-Auth-Token": token_of(http, fake, carol)}
    assert http.get(f"{base}/users/{user_id}", headers=carol_headers).json()["user"]["name"] == "carol"
    projects = http.get(f"{base}/users/{user_id}/projects", headers=carol_headers).json()["projects"]
    assert [p["name"] for p in projects] == ["carol"]
    assert http.get(f"{base}/users/{fake.admin.user_id}", headers=carol_headers).status_code == 403
    listed = http.get(f"{base}/projects", headers=admin).json()["projects"]
    assert {p["name"] for p in listed} >= {"admin", "alice", "carol"}
    assert http.get(f"{base}/projects", headers=portal).status_code == 403


# ---------------------------------------------------------------------------------------------- Nova
def test_service_calls_need_a_valid_token(fake, http):
    missing = http.get(compute(fake, "/servers/detail"))
    assert missing.status_code == 401
    assert missing.json() == UNAUTHORIZED
    assert http.get(f"{fake.url}/image/v2/images", headers={"X-Auth-Token": "nope"}).status_code == 401


def test_flavors(portal):
    flavors = {f.id: f for f in portal.compute.flavors()}
    assert sorted(flavors) == ["1", "2", "3", "4", "5"]  # devstack's m1.tiny to m1.xlarge
    assert (flavors["2"].name, flavors["2"].vcpus, flavors["2"].ram, flavors["2"].disk) == (
        "m1.small",
        1,
        2048,
        20,
    )
    assert portal.compute.get_flavor("3").name == "m1.medium"
    with pytest.raises(os_exc.NotFoundException, match="Flavor 9 could not be found"):
        portal.compute.get_flavor("9")


def test_boot_from_volume_server_becomes_active_with_root_volume(fake, portal, http):
    created = boot(portal, fake)
    server = portal.compute.wait_for_server(created, interval=1, wait=5)  # transition 0: one GET
    assert server.status == "ACTIVE"
    assert server.task_state is None
    assert server.addresses == {}
    [root] = server.attached_volumes
    assert root.delete_on_termination is True
    volume = portal.block_storage.get_volume(root.id)
    assert (volume.status, volume.is_bootable, volume.size) == ("in-use", True, 10)
    assert [(a["server_id"], a["device"]) for a in volume.attachments] == [(server.id, "/dev/vda")]
    assert volume.volume_image_metadata["os_distro"] == "ubuntu"
    listed = list(portal.compute.volume_attachments(server))
    assert [(a.volume_id, a.device) for a in listed] == [(root.id, "/dev/vda")]
    assert fake.server(server.id).root_volume_id == root.id
    headers = {"X-Auth-Token": portal.auth_token, "OpenStack-API-Version": "compute 2.100"}
    raw = http.get(compute(fake, f"/servers/{server.id}"), headers=headers).json()["server"]
    assert raw["image"] == ""
    assert raw["os-extended-volumes:volumes_attached"] == [{"id": root.id, "delete_on_termination": True}]
    assert (raw["locked"], raw["locked_reason"], raw["OS-EXT-STS:task_state"]) == (False, None, None)
    assert [s.id for s in portal.compute.servers()] == [server.id]


def test_transitions_follow_the_fake_clock(clock, monkeypatch):
    with OpenStackFake(clock=clock, transition_seconds=5.0) as slow_fake:
        conn = openstack.connection.Connection(
            auth=slow_fake.portal.auth(slow_fake.auth_url),
            identity_interface="public",
            compute_api_version="2",
        )
        try:
            server = boot(conn, slow_fake)
            assert conn.compute.get_server(server).status == "BUILD"
            root_id = slow_fake.server(server.id).root_volume_id
            assert slow_fake.volume(root_id).status == "attaching"
            clock.advance(4.9)
            assert conn.compute.get_server(server).status == "BUILD"
            monkeypatch.setattr(openstack.utils.time, "sleep", clock.sleep)  # the SDK's poll sleeps here
            active = conn.compute.wait_for_server(server, interval=2, wait=60)
            assert active.status == "ACTIVE"
            assert clock.sleeps == [2]
            assert slow_fake.volume(root_id).status == "in-use"
            slow_fake.advance(1.0)
            assert slow_fake.now() == clock() + 1.0
        finally:
            conn.close()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (None, "Missing imageRef attribute"),  # neither an image nor a volume to boot from (Nova's text)
        ({"source_type": "image", "destination_type": "volume", "boot_index": 0}, "non-zero size"),
        (
            {"source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1},
            (
                "Volume is smaller than the minimum size specified in image metadata. Volume size is "
                "1073741824 bytes, minimum size is 3221225472 bytes."
            ),
        ),
    ],
)
def test_server_create_is_validated(fake, http, mapping, message):
    ubuntu = fake.image_ids()[2]
    server: dict[str, Any] = {"name": "x", "flavorRef": "1", "networks": "none"}
    if mapping is not None:
        server["block_device_mapping_v2"] = [{**mapping, "uuid": ubuntu}]
    headers = {"X-Auth-Token": token_of(http, fake, fake.portal), "OpenStack-API-Version": "compute 2.100"}
    response = http.post(compute(fake, "/servers"), json={"server": server}, headers=headers)
    assert response.status_code == 400
    assert message in response.json()["badRequest"]["message"]


def test_networks_follow_the_microversion(fake, http):
    token = token_of(http, fake, fake.portal)
    root = {
        "uuid": fake.image_ids()[0],
        "source_type": "image",
        "destination_type": "volume",
        "boot_index": 0,
    }
    server = {"name": "x", "flavorRef": "1", "block_device_mapping_v2": [{**root, "volume_size": 1}]}
    old = {"X-Auth-Token": token, "X-OpenStack-Nova-API-Version": "2.36"}
    new = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.37"}
    assert (
        http.post(
            compute(fake, "/servers"), json={"server": {**server, "networks": "none"}}, headers=old
        ).status_code
        == 400
    )
    assert http.post(compute(fake, "/servers"), json={"server": server}, headers=new).status_code == 400
    created = http.post(
        compute(fake, "/servers"), json={"server": {**server, "networks": "none"}}, headers=new
    )
    assert created.status_code == 202
    assert created.headers["OpenStack-API-Version"] == "compute 2.37"
    assert set(created.json()["server"]) == {
        "id",
        "links",
        "OS-DCF:diskConfig",
        "security_groups",
        "adminPass",
    }


def test_microversion_out_of_range_or_malformed(fake, http):
    token = token_of(http, fake, fake.portal)
    too_new = http.get(
        compute(fake, "/servers"), headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.101"}
    )
    assert too_new.status_code == 406
    assert "maximum is 2.100" in too_new.json()["computeFault"]["message"]
    bad = http.get(
        compute(fake, "/servers"), headers={"X-Auth-Token": token, "X-OpenStack-Nova-API-Version": "two"}
    )
    assert bad.status_code == 400


def test_nova_attach_lists_the_volume_and_puts_it_in_use(fake, portal):
    server = portal.compute.wait_for_server(boot(portal, fake), interval=1, wait=5)
    volume = new_volume(portal, name="data")
    attachment = portal.compute.create_volume_attachment(server, volume)
    assert (attachment.volume_id, attachment.device) == (volume.id, "/dev/vdb")
    assert portal.block_storage.get_volume(volume).status == "in-use"
    listed = {a.volume_id: a for a in portal.compute.volume_attachments(server)}
    assert listed[volume.id].device == "/dev/vdb"
    assert listed[volume.id].attachment_id  # 2.89: attachment_id and bdm_uuid
    assert volume.id in {v.id for v in portal.compute.get_server(server).attached_volumes}
    with pytest.raises(os_exc.BadRequestException, match="status must be available"):
        portal.compute.create_volume_attachment(server, volume)
    portal.compute.delete_volume_attachment(server, volume)
    assert portal.block_storage.get_volume(volume).status == "available"
    assert [a.volume_id for a in portal.compute.volume_attachments(server)] == [server.attached_volumes[0].id]


def test_nova_attach_shapes_follow_the_microversion(fake, portal, http):
    server = portal.compute.wait_for_server(boot(portal, fake), interval=1, wait=5)
    first, second = new_volume(portal), new_volume(portal)
    token = portal.auth_token
    url = compute(fake, f"/servers/{server.id}/os-volume_attachments")
    body = {"volumeAttachment": {"volumeId": first.id, "tag": "foo", "delete_on_termination": True}}
    answer = http.post(url, json=body, headers={"X-Auth-Token": token, **MV_289})
    assert answer.status_code == 200
    assert answer.json() == {
        "volumeAttachment": {
            "delete_on_termination": True,
            "device": "/dev/vdb",
            "id": first.id,
            "serverId": server.id,
            "tag": "foo",
            "volumeId": first.id,
        }
    }
    item = http.get(url, headers={"X-Auth-Token": token, **MV_289}).json()["volumeAttachments"][1]
    assert set(item) == {
        "attachment_id",
        "bdm_uuid",
        "delete_on_termination",
        "device",
        "serverId",
        "tag",
        "volumeId",
    }
    old = http.get(url, headers={"X-Auth-Token": token, "X-OpenStack-Nova-API-Version": "2.60"})
    assert set(old.json()["volumeAttachments"][1]) == {"id", "device", "serverId", "volumeId"}
    tagged_too_early = http.post(
        url,
        json={"volumeAttachment": {"volumeId": second.id, "tag": "x"}},
        headers={"X-Auth-Token": token, "X-OpenStack-Nova-API-Version": "2.48"},
    )
    assert tagged_too_early.status_code == 400


def test_nova_attach_without_body_from_2_101(clock, http):
    with OpenStackFake(clock=clock, compute_max_microversion="2.101") as newer:
        token = token_of(http, newer, newer.portal)
        root = {
            "uuid": newer.image_ids()[0],
            "source_type": "image",
            "destination_type": "volume",
            "boot_index": 0,
        }
        server = {
            "name": "x",
            "flavorRef": "1",
            "networks": "none",
            "block_device_mapping_v2": [{**root, "volume_size": 1}],
        }
        headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute latest"}
        server_id = http.post(compute(newer, "/servers"), json={"server": server}, headers=headers).json()[
            "server"
        ]["id"]
        volume = http.post(
            cinder(newer, newer.portal, "/volumes"), json={"volume": {"size": 1}}, headers=headers
        ).json()
        attach = http.post(
            compute(newer, f"/servers/{server_id}/os-volume_attachments"),
            json={"volumeAttachment": {"volumeId": volume["volume"]["id"]}},
            headers=headers,
        )
        assert (attach.status_code, attach.content) == (202, b"")
        assert attach.headers["OpenStack-API-Version"] == "compute 2.101"


def test_attach_completes_after_the_transition(clock, http):
    with OpenStackFake(clock=clock, transition_seconds=2.0) as slow_fake:
        headers = {"X-Auth-Token": token_of(http, slow_fake, slow_fake.portal), **MV_289}
        root = {
            "uuid": slow_fake.image_ids()[0],
            "source_type": "image",
            "destination_type": "volume",
            "boot_index": 0,
        }
        server = {
            "name": "x",
            "flavorRef": "1",
            "networks": "none",
            "block_device_mapping_v2": [{**root, "volume_size": 1}],
        }
        server_id = http.post(
            compute(slow_fake, "/servers"), json={"server": server}, headers=headers
        ).json()["server"]["id"]
        volume_id = http.post(
            cinder(slow_fake, slow_fake.portal, "/volumes"), json={"volume": {"size": 1}}, headers=headers
        ).json()["volume"]["id"]
        attach_url = compute(slow_fake, f"/servers/{server_id}/os-volume_attachments")
        body = {"volumeAttachment": {"volumeId": volume_id}}
        early = http.post(attach_url, json=body, headers=headers)
        assert early.status_code == 409
        assert early.json()["conflictingRequest"]["message"] == (
            f"Cannot 'attach_volume' instance {server_id} while it is in task_state scheduling"
        )
        clock.advance(2.0)
        assert http.post(attach_url, json=body, headers=headers).status_code == 200
        assert slow_fake.volume(volume_id).status == "attaching"
        assert [a.attached for a in slow_fake.volume(volume_id).attachments] == [False]
        clock.advance(2.0)
        assert slow_fake.volume(volume_id).status == "in-use"


@pytest.mark.quirk("openstack.cinder-attach-no-device")
def test_cinder_os_attach_changes_only_cinder_records(fake, portal):
    server = portal.compute.wait_for_server(boot(portal, fake), interval=1, wait=5)
    volume = new_volume(portal)
    portal.block_storage.attach_volume(volume, "/dev/vdc", instance=server.id)
    in_cinder = portal.block_storage.get_volume(volume)
    assert in_cinder.status == "in-use"
    assert [(a["server_id"], a["device"]) for a in in_cinder.attachments] == [(server.id, "/dev/vdc")]
    assert volume.id not in {a.volume_id for a in portal.compute.volume_attachments(server)}
    assert volume.id not in {v.id for v in portal.compute.get_server(server).attached_volumes}
    assert fake.server(server.id).volume_ids == (fake.server(server.id).root_volume_id,)
    # Nova knows nothing, so detaching through it is a 404; Cinder's own detach works.
    with pytest.raises(os_exc.NotFoundException, match="is not attached to volume"):
        portal.compute.delete_volume_attachment(server, volume, ignore_missing=False)
    portal.block_storage.detach_volume(volume, in_cinder.attachments[0]["attachment_id"])
    assert portal.block_storage.get_volume(volume).status == "available"


def test_cinder_os_attach_reaches_the_guest_when_switched_on(fake, portal):
    fake.cinder_attach_reaches_guest = True
    server = portal.compute.wait_for_server(boot(portal, fake), interval=1, wait=5)
    volume = new_volume(portal)
    portal.block_storage.attach_volume(volume, "/dev/vdc", instance=server.id)
    assert portal.block_storage.get_volume(volume).status == "in-use"
    listed = {a.volume_id: a.device for a in portal.compute.volume_attachments(server)}
    assert listed[volume.id] == "/dev/vdc"
    fake.reset()
    assert fake.cinder_attach_reaches_guest is False


def test_cinder_detach_of_a_nova_attachment_is_409(fake, portal, http):
    server = portal.compute.wait_for_server(boot(portal, fake), interval=1, wait=5)
    volume = new_volume(portal)
    portal.compute.create_volume_attachment(server, volume)
    attachment_id = portal.block_storage.get_volume(volume).attachments[0]["attachment_id"]
    answer = http.post(
        cinder(fake, fake.portal, f"/volumes/{volume.id}/action"),
        json={"os-detach": {"attachment_id": attachment_id}},
        headers={"X-Auth-Token": portal.auth_token},
    )
    assert answer.status_code == 409
    assert answer.json() == {
        "conflictingRequest": {
            "code": 409,
            "message": (
                f"ConflictNovaUsingAttachment: Detach volume from instance {server.id} using the Compute API"
            ),
        }
    }


@pytest.mark.quirk("openstack.system-volume")
def test_root_volume_detach_is_400(fake, portal, http):
    server = portal.compute.wait_for_server(boot(portal, fake), interval=1, wait=5)
    root_id = server.attached_volumes[0].id
    answer = http.delete(
        compute(fake, f"/servers/{server.id}/os-volume_attachments/{root_id}"),
        headers={"X-Auth-Token": portal.auth_token},
    )
    assert answer.status_code == 400
    assert answer.json() == {"badRequest": {"code": 400, "message": "Cannot detach a root device volume"}}
    root = portal.block_storage.get_volume(root_id)
    with pytest.raises(os_exc.BadRequestException, match="Cannot detach a root device volume"):
        portal.compute.delete_volume_attachment(server, root, ignore_missing=False)
    assert fake.volume(root_id).status == "in-use"


def test_lock_stop_unlock_start(fake, portal, admin):
    server = portal.compute.wait_for_server(boot(portal, fake), interval=1, wait=5)
    volume = new_volume(portal)
    as_admin = admin.compute.get_server(server.id)  # admins reach other projects' servers by id
    admin.compute.stop_server(as_admin)
    admin.compute.lock_server(as_admin, locked_reason="unpaid invoice")
    seen = portal.compute.get_server(server)
    assert (seen.status, seen.is_locked, seen.locked_reason) == ("SHUTOFF", True, "unpaid invoice")
    for refused in (
        lambda: portal.compute.start_server(server),
        lambda: portal.compute.delete_server(server),
        lambda: portal.compute.create_volume_attachment(server, volume),
    ):
        with pytest.raises(os_exc.ConflictException, match=f"Instance {server.id} is locked"):
            refused()
    with pytest.raises(os_exc.ForbiddenException, match="unlock_override"):
        portal.compute.unlock_server(server)
    admin.compute.unlock_server(as_admin)
    portal.compute.start_server(server)
    started = portal.compute.get_server(server)
    assert (started.status, started.is_locked, started.locked_reason) == ("ACTIVE", False, None)
    with pytest.raises(os_exc.ConflictException, match="while it is in vm_state active"):
        portal.compute.start_server(server)
    portal.compute.lock_server(server)  # an owner's own lock the owner may lift
    portal.compute.unlock_server(server)
    assert fake.server(server.id).locked is False


def test_shelve_and_reboot(fake, portal):
    server = portal.compute.wait_for_server(boot(portal, fake), interval=1, wait=5)
    portal.compute.shelve_server(server)
    assert portal.compute.get_server(server).status == "SHELVED_OFFLOADED"
    portal.compute.unshelve_server(server)
    portal.compute.reboot_server(server, "HARD")
    assert portal.compute.get_server(server).status == "ACTIVE"


def test_delete_server_removes_its_root_volume_and_frees_the_others(fake, portal):
    server = portal.compute.wait_for_server(boot(portal, fake), interval=1, wait=5)
    root_id = server.attached_volumes[0].id
    data = new_volume(portal)
    portal.compute.create_volume_attachment(server, data)
    portal.compute.delete_server(server)
    portal.compute.wait_for_delete(server, interval=1, wait=5)
    with pytest.raises(os_exc.NotFoundException, match=f"Instance {server.id} could not be found"):
        portal.compute.get_server(server.id)
    assert fake.server(server.id) is None
    assert fake.volume(root_id) is None
    assert portal.block_storage.get_volume(data).status == "available"


def test_root_volume_survives_without_delete_on_termination(fake, portal):
    server = portal.compute.wait_for_server(
        boot(portal, fake, delete_on_termination=False), interval=1, wait=5
    )
    root_id = server.attached_volumes[0].id
    portal.compute.delete_server(server)
    portal.compute.wait_for_delete(server, interval=1, wait=5)
    root = portal.block_storage.get_volume(root_id)
    assert (root.status, root.attachments, root.is_bootable) == ("available", [], True)
    portal.block_storage.delete_volume(root)
    assert fake.volume(root_id) is None


def test_projects_are_isolated(fake, portal, connect, http):
    server = boot(portal, fake)
    volume = new_volume(portal)
    bob = connect(fake.add_user("bob", "bob-pass", project="bob"))
    with pytest.raises(os_exc.NotFoundException):
        bob.compute.get_server(server.id)
    with pytest.raises(os_exc.NotFoundException):
        bob.block_storage.get_volume(volume.id)
    assert list(bob.compute.servers()) == []
    admin_token = token_of(http, fake, fake.admin)
    own = http.get(compute(fake, "/servers"), headers={"X-Auth-Token": admin_token}).json()["servers"]
    assert own == []
    everyone = http.get(compute(fake, "/servers?all_tenants=1"), headers={"X-Auth-Token": admin_token})
    assert [s["id"] for s in everyone.json()["servers"]] == [server.id]
    foreign_url = cinder(fake, fake.admin, "").replace(fake.admin.project_id, fake.portal.project_id)
    assert http.get(f"{foreign_url}/volumes", headers={"X-Auth-Token": admin_token}).status_code == 400


def test_server_list_pages_with_servers_links(fake, portal, http):
    ids = [boot(portal, fake, name=f"vm-{n}").id for n in range(3)]
    token = {"X-Auth-Token": portal.auth_token}
    first = http.get(compute(fake, "/servers/detail?limit=2"), headers=token).json()
    assert [s["id"] for s in first["servers"]] == ids[::-1][:2]
    next_url = first["servers_links"][0]["href"]
    assert next_url == compute(fake, f"/servers/detail?limit=2&marker={ids[1]}")
    second = http.get(next_url, headers=token).json()
    assert [s["id"] for s in second["servers"]] == [ids[0]]
    assert "servers_links" not in second
    assert sorted(s.id for s in portal.compute.servers(limit=1)) == sorted(ids)


def test_max_page_size_caps_pages_whatever_the_limit(fake, portal, http):
    ids = [boot(portal, fake, name=f"vm-{n}").id for n in range(3)]
    token = {"X-Auth-Token": portal.auth_token}
    fake.max_page_size = 2
    first = http.get(compute(fake, "/servers/detail?limit=50"), headers=token).json()
    assert [s["id"] for s in first["servers"]] == ids[::-1][:2]
    assert first["servers_links"][0]["href"] == compute(fake, f"/servers/detail?limit=50&marker={ids[1]}")
    unasked = http.get(compute(fake, "/servers"), headers=token).json()
    assert unasked["servers_links"][0]["href"] == compute(fake, f"/servers?marker={ids[1]}")
    images = http.get(f"{fake.url}/image/v2/images?limit=3", headers=token).json()
    assert (len(images["images"]), "next" in images) == (2, True)
    with pytest.raises(ValueError, match="max_page_size"):
        fake.max_page_size = 0
    fake.reset()
    assert fake.max_page_size is None
    assert OpenStackFake(max_page_size=5).max_page_size == 5


def test_unknown_action_path_and_method(fake, portal, http):
    server = boot(portal, fake)
    token = {"X-Auth-Token": portal.auth_token}
    action = http.post(compute(fake, f"/servers/{server.id}/action"), json={"fly": None}, headers=token)
    assert action.json() == {"badRequest": {"code": 400, "message": "There is no such action: fly"}}
    assert http.get(compute(fake, "/nothing"), headers=token).json()["itemNotFound"]["code"] == 404
    assert http.put(compute(fake, "/flavors"), headers=token).status_code == 405
    outside = http.get(f"{fake.url}/elsewhere")
    assert (outside.status_code, outside.headers["content-type"]) == (404, "text/plain; charset=utf-8")


# ---------------------------------------------------------------------------------------------- Cinder
def test_volume_lifecycle_metadata_and_listing(fake, portal):
    volume = portal.block_storage.create_volume(size=3, name="data", metadata={"owner": "alice"})
    assert volume.status == "creating"
    volume = portal.block_storage.wait_for_status(volume, "available", interval=1, wait=5)
    assert (volume.name, volume.size, volume.metadata, volume.is_bootable) == (
        "data",
        3,
        {"owner": "alice"},
        False,
    )
    portal.block_storage.set_volume_metadata(volume, tier="gold")
    assert portal.block_storage.get_volume(volume).metadata == {"owner": "alice", "tier": "gold"}
    portal.block_storage.delete_volume_metadata(volume, keys=["owner"])
    assert fake.volume(volume.id).metadata == {"tier": "gold"}
    assert [v.id for v in portal.block_storage.volumes(name="data")] == [volume.id]
    portal.block_storage.delete_volume(volume)
    portal.block_storage.wait_for_delete(volume, interval=1, wait=5)
    assert fake.volumes() == []


def test_volume_delete_refused_when_in_use_or_with_snapshots(fake, portal, http):
    server = portal.compute.wait_for_server(boot(portal, fake), interval=1, wait=5)
    root_id = server.attached_volumes[0].id
    answer = http.delete(
        cinder(fake, fake.portal, f"/volumes/{root_id}"), headers={"X-Auth-Token": portal.auth_token}
    )
    assert answer.status_code == 400
    assert answer.json()["badRequest"]["message"] == (
        "Invalid volume: Volume status must be available or error or error_restoring or error_extending or "
        "error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a "
        "transfer, or be disassociated from snapshots after volume transfer."
    )
    volume = new_volume(portal)
    portal.block_storage.create_snapshot(volume_id=volume.id)
    with pytest.raises(os_exc.BadRequestException, match="have snapshots"):
        portal.block_storage.delete_volume(volume)


def test_volume_create_checks_image_min_disk(fake, portal):
    ubuntu = fake.image_ids()[2]
    with pytest.raises(os_exc.BadRequestException, match="cannot be smaller than the image minDisk size 3GB"):
        portal.block_storage.create_volume(size=1, image_id=ubuntu)
    bootable = new_volume(portal, size=3, image_id=ubuntu)
    assert bootable.is_bootable is True


def test_snapshots(fake, portal):
    server = portal.compute.wait_for_server(boot(portal, fake), interval=1, wait=5)
    root_id = server.attached_volumes[0].id
    with pytest.raises(
        os_exc.BadRequestException, match="status must be available, but current status is: in-use"
    ):
        portal.block_storage.create_snapshot(volume_id=root_id, name="nope")
    snapshot = portal.block_storage.create_snapshot(volume_id=root_id, name="daily", is_forced=True)
    assert snapshot.status == "creating"
    snapshot = portal.block_storage.wait_for_status(snapshot, "available", interval=1, wait=5)
    assert (snapshot.name, snapshot.size, snapshot.volume_id) == ("daily", 10, root_id)
    assert [s.id for s in portal.block_storage.snapshots(details=True)] == [snapshot.id]
    assert portal.block_storage.get_snapshot(snapshot.id).name == "daily"
    restored = new_volume(portal, size=10, snapshot_id=snapshot.id)
    assert restored.snapshot_id == snapshot.id
    portal.block_storage.delete_snapshot(snapshot)
    portal.block_storage.wait_for_delete(snapshot, interval=1, wait=5)
    assert fake.snapshots() == []


def test_legacy_volume_actions(fake, portal):
    volume = new_volume(portal)
    portal.block_storage.reserve_volume(volume)
    assert fake.volume(volume.id).status == "attaching"
    with pytest.raises(os_exc.BadRequestException, match="must be available to reserve"):
        portal.block_storage.reserve_volume(volume)
    portal.block_storage.unreserve_volume(volume)
    assert fake.volume(volume.id).status == "available"
    portal.block_storage.attach_volume(volume, "/dev/vdz", host_name="backup-host")
    portal.block_storage.begin_volume_detaching(volume)
    assert fake.volume(volume.id).status == "detaching"
    portal.block_storage.abort_volume_detaching(volume)
    assert fake.volume(volume.id).status == "in-use"
    assert fake.volume(volume.id).attachments[0].host_name == "backup-host"


# ---------------------------------------------------------------------------------------------- Glance
def test_image_paging_follows_next(fake, portal, http):
    token = {"X-Auth-Token": portal.auth_token}
    first = http.get(f"{fake.url}/image/v2/images?limit=2", headers=token).json()
    names = [i["name"] for i in first["images"]]
    assert names == ["ubuntu-24.04", "debian-12"]
    assert first["first"] == "/v2/images?limit=2"
    assert first["next"] == f"/v2/images?limit=2&marker={first['images'][1]['id']}"
    assert first["schema"] == "/v2/schemas/images"
    second = http.get(f"{fake.url}/image{first['next']}", headers=token).json()
    assert [i["name"] for i in second["images"]] == ["cirros-0.6.2"]
    assert "next" not in second
    image = first["images"][0]
    assert (image["os_distro"], image["os_version"], image["min_disk"]) == ("ubuntu", "24.04", 3)
    assert (image["status"], image["visibility"], image["self"]) == (
        "active",
        "public",
        f"/v2/images/{image['id']}",
    )
    extra = fake.add_image("rocky-9", os_distro="rocky", os_version="9", min_disk=5)
    assert next(i.id for i in portal.image.images(limit=1)) == extra  # newest first
    assert sorted(i.name for i in portal.image.images(limit=1)) == [
        "cirros-0.6.2",
        "debian-12",
        "rocky-9",
        "ubuntu-24.04",
    ]
    assert [i.name for i in portal.image.images(os_distro="debian")] == ["debian-12"]


def test_image_get_and_404(fake, portal):
    image = portal.image.get_image(fake.image_ids()[1])
    assert (image.name, image.os_distro, image.min_disk) == ("debian-12", "debian", 2)
    with pytest.raises(os_exc.NotFoundException, match="No image found with ID nope"):
        portal.image.get_image("nope")


# ---------------------------------------------------------------------------------------------- faults
def test_wsrep_fault_body_is_exact_for_nova(fake, http):
    token = token_of(http, fake, fake.portal)
    fake.inject(Fault.wsrep(), service="compute")
    answer = http.get(compute(fake, "/servers/detail"), headers={"X-Auth-Token": token})
    assert answer.status_code == 500
    assert answer.text == WSREP_NOVA
    assert answer.headers["x-openstack-request-id"].startswith("req-")
    assert http.get(compute(fake, "/servers/detail"), headers={"X-Auth-Token": token}).status_code == 200


def test_wsrep_fault_per_service_and_echo(fake, http, portal):
    token = {"X-Auth-Token": portal.auth_token}
    fake.inject(Fault.wsrep(), service="volume")
    cinder_answer = http.get(cinder(fake, fake.portal, "/volumes"), headers=token).json()
    assert cinder_answer == {
        "computeFault": {
            "code": 500,
            "message": "The server has either erred or is incapable of performing the requested operation.",
        }
    }
    fake.inject(Fault.wsrep(echo=True), path="/auth/tokens")
    keystone = http.post(f"{fake.auth_url}/auth/tokens", json=fake.portal.token_request()).json()
    assert keystone["error"]["code"] == 500
    assert "(1047, 'WSREP has not yet prepared node for application use')" in keystone["error"]["message"]
    fake.inject(Fault.wsrep(), path="/servers/detail")
    with pytest.raises(os_exc.HttpException) as info:
        list(portal.compute.servers())
    assert info.value.status_code == 500
    assert "DBConnectionError" in info.value.details


def test_server_error_fault(fake, http, portal):
    token = {"X-Auth-Token": portal.auth_token}
    fake.inject(Fault.server_error(), method="get", service="compute", times=2)
    for _ in range(2):
        answer = http.get(compute(fake, "/flavors"), headers=token)
        assert answer.json() == {
            "serviceUnavailable": {
                "code": 503,
                "message": "The server is currently unavailable. Please try again at a later time.",
            }
        }
    assert http.get(compute(fake, "/flavors"), headers=token).status_code == 200
    fake.inject(Fault.server_error(status=502, body="<html><h1>502 Bad Gateway</h1></html>"))
    proxy = http.get(f"{fake.url}/image/v2/images", headers=token)
    assert (proxy.status_code, proxy.headers["content-type"]) == (502, "text/html; charset=utf-8")
    fake.inject(Fault.server_error(status=500, body={"oops": 1}), method="POST")
    assert http.get(compute(fake, "/flavors"), headers=token).status_code == 200  # the method filter
    assert http.post(compute(fake, "/servers"), json={}, headers=token).json() == {"oops": 1}
    with pytest.raises(ValueError, match="HTTP error code"):
        Fault.server_error(status=200)


def test_drop_connection_fault(fake, http, portal):
    token = {"X-Auth-Token": portal.auth_token}
    fake.inject(Fault.drop_connection(), path="/flavors/{id}")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(compute(fake, "/flavors/detail"), headers=token)
    fake.inject(Fault.drop_connection(), path="/flavors/detail", service="compute")
    with pytest.raises(ks_exc.ConnectFailure, match="Remote end closed connection"):
        list(portal.compute.flavors())
    assert [c.status for c in fake.calls if c.fault == "drop_connection"] == [None, None]


def test_drop_after_effect_fault_lands_the_create(fake, http, portal):
    token = {"X-Auth-Token": portal.auth_token}
    fake.inject(Fault.drop_after_effect(), method="POST", path="/volumes")
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(
            cinder(fake, fake.portal, "/volumes"), json={"volume": {"size": 1, "name": "lost"}}, headers=token
        )
    [volume] = fake.volumes()
    assert volume.name == "lost"
    fake.inject(Fault.drop_after_effect(), method="POST", path="/servers")
    with pytest.raises(ks_exc.ConnectFailure):  # openstacksdk lets keystoneauth's error through
        boot(portal, fake)
    assert [s.name for s in fake.servers()] == ["vm-1"]
    assert [c.fault for c in fake.calls if c.status is None] == ["drop_after_effect", "drop_after_effect"]


def test_slow_fault_holds_until_released(fake, http, portal):
    token = {"X-Auth-Token": portal.auth_token}
    fake.inject(Fault.slow(), path="/flavors")
    answers: list[httpx.Response] = []
    worker = threading.Thread(
        target=lambda: answers.append(http.get(compute(fake, "/flavors"), headers=token))
    )
    worker.start()
    assert fake.wait_until_held(timeout=5)
    assert answers == []
    fake.release_slow()
    worker.join(timeout=5)
    assert answers[0].status_code == 200


def test_fault_filters_and_path_template(fake, http, portal):
    token = {"X-Auth-Token": portal.auth_token}
    fake.inject(Fault.server_error(status=503), path="/compute/v2.1/flavors/{id}", service="compute")
    assert http.get(compute(fake, "/flavors"), headers=token).status_code == 200
    assert http.get(f"{fake.url}/image/v2/images", headers=token).status_code == 200
    assert http.get(compute(fake, "/flavors/1"), headers=token).status_code == 503
    assert http.get(compute(fake, "/flavors/1"), headers=token).status_code == 200
    with pytest.raises(ValueError, match="times"):
        fake.inject(Fault.drop_connection(), times=0)


# ---------------------------------------------------------------------------------------------- harness
def test_request_log_masks_secrets(fake, http):
    token = token_of(http, fake, fake.portal)
    http.get(
        compute(fake, "/flavors"), headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.89"}
    )
    login, flavors = fake.calls
    assert (login.method, login.path, login.service, login.status) == (
        "POST",
        "/identity/v3/auth/tokens",
        "identity",
        201,
    )
    assert "portal-pass" not in login.body
    assert '"password": "***"' in login.body
    assert (flavors.service, flavors.status, flavors.headers["x-auth-token"]) == ("compute", 200, "***")
    assert flavors.headers["openstack-api-version"] == "compute 2.89"
    assert token not in repr(fake.calls)


def test_reset_forgets_everything(fake, portal, http):
    boot(portal, fake)
    token = portal.auth_token
    fake.inject(Fault.drop_connection())
    fake.reset()
    assert fake.servers() == []
    assert fake.calls == []
    assert (
        http.get(compute(fake, "/flavors"), headers={"X-Auth-Token": token}).status_code == 401
    )  # no fault left
    assert len(fake.image_ids()) == 3


def test_unseeded_fake_has_identities_only(clock, http):
    with OpenStackFake(clock=clock, seed=False) as bare:
        token = {"X-Auth-Token": token_of(http, bare, bare.portal)}
        assert http.get(compute(bare, "/flavors"), headers=token).json() == {"flavors": []}
        bare.add_flavor("7", "m1.custom", vcpus=2)
        assert [f["name"] for f in http.get(compute(bare, "/flavors"), headers=token).json()["flavors"]] == [
            "m1.custom"
        ]
        assert bare.image_ids() == []


def test_internal_error_answers_500_naming_it(fake, http, monkeypatch, capsys):
    token = {"X-Auth-Token": token_of(http, fake, fake.portal)}

    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(_nova, "flavor_view", broken)
    answer = http.get(compute(fake, "/flavors"), headers=token)
    assert answer.status_code == 500
    assert answer.text == "openstack fake internal error: KeyError: 'boom'\n"
    capsys.readouterr()  # socketserver printed the traceback


def test_fake_refuses_bad_options_and_double_start(clock):
    with pytest.raises(ValueError, match="compute_max_microversion"):
        OpenStackFake(compute_max_microversion="x")
    with pytest.raises(ValueError, match="transition_seconds"):
        OpenStackFake(transition_seconds=-1)
    fake = OpenStackFake(clock=clock)
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.url
    with fake, pytest.raises(RuntimeError, match="already running"):
        fake.start()
    with pytest.raises(ValueError, match="already exists"):
        fake.add_user("portal", "x", project="alice")
    with pytest.raises(ValueError, match="unknown roles"):
        fake.add_user("eve", "x", project="eve", roles=("root",))
    with pytest.raises(ValueError, match="forward"):
        fake.advance(-1)
