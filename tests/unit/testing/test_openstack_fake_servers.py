"""The OpenStack fake's Nova servers as real Nova shows them: image boot, actions, views, metadata, images."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cloudkit.testing import FakeClock
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


class Nova:
    """One caller's requests to the fake's Nova at a microversion."""

    def __init__(self, http: httpx.Client, fake: OpenStackFake, creds: FakeCredentials) -> None:
        reply = http.post(f"{fake.auth_url}/auth/tokens", json=creds.token_request())
        self.http, self.fake, self.token = http, fake, reply.headers["X-Subject-Token"]

    def call(self, method: str, path: str, version: str = NEWEST, **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.token, "OpenStack-API-Version": version}
        return self.http.request(method, f"{self.fake.url}/compute/v2.1{path}", headers=headers, **kwargs)

    def create(self, **spec: Any) -> httpx.Response:
        body = {"name": "vm-1", "flavorRef": "1", "networks": "none", "imageRef": self.fake.image_ids()[0]}
        return self.call("POST", "/servers", json={"server": {**body, **spec}})

    def boot(self, **spec: Any) -> str:
        reply = self.create(**spec)
        assert reply.status_code == 202, reply.text
        return str(reply.json()["server"]["id"])

    def show(self, server_id: str, version: str = NEWEST) -> dict[str, Any]:
        reply = self.call("GET", f"/servers/{server_id}", version)
        assert reply.status_code == 200, reply.text
        return dict(reply.json()["server"])


@pytest.fixture
def member(http, fake) -> Nova:
    return Nova(http, fake, fake.portal)


@pytest.fixture
def admin(http, fake) -> Nova:
    return Nova(http, fake, fake.admin)


# ---------------------------------------------------------------------------------------------- boot
def test_a_server_boots_from_an_image_on_a_local_disk(fake, member):
    cirros = fake.image_ids()[0]
    server_id = member.boot()
    server = member.show(server_id)
    assert server["status"] == "ACTIVE"
    assert server["image"]["id"] == cirros
    assert server["image"]["properties"] == {"os_distro": "cirros"}  # 2.98: Nova's standard ones
    assert server["os-extended-volumes:volumes_attached"] == []
    assert (fake.server(server_id).root_volume_id, fake.volumes()) == ("", [])
    assert "properties" not in member.show(server_id, "compute 2.97")["image"]


def test_a_volume_only_cloud_refuses_an_image_boot(http):
    with OpenStackFake(image_boot_allowed=False) as fake:
        reply = Nova(http, fake, fake.portal).create()
    assert reply.status_code == 400
    assert "boots from volume only" in reply.json()["badRequest"]["message"]


@pytest.mark.parametrize(
    ("spec", "status", "message"),
    [
        ({"imageRef": ""}, 400, "Missing imageRef attribute"),
        ({"imageRef": "nope"}, 400, "Image nope could not be found."),
        (
            {"image": 2},  # debian-12 wants 2 GiB; m1.tiny has 1
            400,
            (
                "Flavor's disk is smaller than the minimum size specified in image metadata. Flavor disk is "
                "1073741824 bytes, minimum size is 2147483648 bytes."
            ),
        ),
        ({"user_data": "not base64!"}, 400, "is not a 'base64'"),
        ({"availability_zone": "elsewhere"}, 400, "The requested availability zone is not available"),
    ],
)
def test_an_image_boot_is_validated_as_nova_does(fake, member, spec, status, message):
    if "image" in spec:
        spec = {"imageRef": fake.image_ids()[spec.pop("image") - 1]}
    body = {"name": "x", "flavorRef": "1", "networks": "none", "imageRef": fake.image_ids()[0], **spec}
    reply = member.call("POST", "/servers", json={"server": body})
    assert reply.status_code == status
    assert message in next(iter(reply.json().values()))["message"]


def test_a_zero_disk_flavor_boots_an_image_for_an_admin_only(fake, member, admin):
    fake.add_flavor("0", "m1.nodisk", disk=0)
    reply = member.create(flavorRef="0")
    assert reply.status_code == 403
    assert admin.boot(flavorRef="0")


# ---------------------------------------------------------------------------------------------- views
def test_the_server_view_shows_what_was_asked_at_create(member, admin):
    server_id = member.boot(
        user_data="SSdtIGFjdHVhbGx5IGEgZ29hdC4=",
        config_drive=True,
        availability_zone="nova",
        accessIPv4="192.0.2.7",
        adminPass="sheiqu9loegahSh",
    )
    hints = {"OS-SCH-HNT:scheduler_hints": {"same_host": "a-server", "group": ["g"]}}
    other = member.call("POST", "/servers", json={"server": {**_minimal(member), "name": "vm-2"}, **hints})
    as_admin = admin.show(server_id)
    assert as_admin["OS-EXT-SRV-ATTR:user_data"] == "SSdtIGFjdHVhbGx5IGEgZ29hdC4="
    assert (as_admin["host_status"], as_admin["OS-EXT-SRV-ATTR:host"]) == ("UP", "fake-compute-1")
    assert (as_admin["config_drive"], as_admin["pinned_availability_zone"]) == ("True", "nova")
    assert (as_admin["accessIPv4"], as_admin["scheduler_hints"]) == ("192.0.2.7", {})
    assert admin.show(other.json()["server"]["id"])["scheduler_hints"] == {
        "same_host": ["a-server"],
        "group": ["g"],
    }
    as_member = member.show(server_id)
    assert not {"host_status", "OS-EXT-SRV-ATTR:user_data", "OS-EXT-SRV-ATTR:host"} & set(as_member)
    assert "scheduler_hints" not in member.show(server_id, "compute 2.99")
    assert admin.show(server_id, "compute 2.3")["OS-EXT-SRV-ATTR:hostname"] == "vm-1"  # an admin's from 2.3


def _minimal(nova: Nova) -> dict[str, Any]:
    return {"flavorRef": "1", "networks": "none", "imageRef": nova.fake.image_ids()[0]}


def test_a_member_may_not_list_every_project(member, admin):
    member.boot()
    refused = member.call("GET", "/servers/detail?all_tenants=True")
    assert refused.status_code == 403
    assert "servers:detail:get_all_tenants" in refused.json()["forbidden"]["message"]
    assert member.call("GET", "/servers?all_tenants").status_code == 403  # no value: yes, as Nova reads it
    assert len(admin.call("GET", "/servers/detail?all_tenants=1").json()["servers"]) == 1
    assert admin.call("GET", "/servers/detail").json()["servers"] == []  # the admin's own project only


# ---------------------------------------------------------------------------------------------- actions
def test_create_image_makes_a_private_glance_snapshot(fake, http, member, admin):
    server_id = member.boot()
    action = f"/servers/{server_id}/action"
    new = member.call("POST", action, json={"createImage": {"name": "snap", "metadata": {"k": "v"}}})
    old = member.call("POST", action, "compute 2.44", json={"createImage": {"name": "s2"}})
    assert (new.status_code, old.status_code, old.content) == (202, 202, b"")
    image_id = new.json()["image_id"]  # 2.45: in the body; before: the Location header
    assert old.headers["Location"].startswith(f"{fake.url}/image/images/")
    assert len(fake.image_ids()) == 5
    glance = http.get(f"{fake.url}/image/v2/images/{image_id}", headers={"X-Auth-Token": member.token}).json()
    assert (glance["name"], glance["visibility"], glance["owner"]) == (
        "snap",
        "private",
        fake.portal.project_id,
    )
    proxied = member.call("GET", f"/images/{image_id}", "compute 2.1").json()["image"]
    assert proxied["server"]["id"] == server_id
    assert (proxied["metadata"]["image_type"], proxied["metadata"]["k"]) == ("snapshot", "v")
    other = Nova(http, fake, fake.add_user("bob", "pw", project="bob"))
    assert other.call("GET", f"/images/{image_id}", "compute 2.1").status_code == 404  # private


def test_console_output_is_the_tail_of_the_log(member):
    server_id = member.boot(name="web")
    whole = member.call("POST", f"/servers/{server_id}/action", json={"os-getConsoleOutput": {}})
    tail = member.call("POST", f"/servers/{server_id}/action", json={"os-getConsoleOutput": {"length": 1}})
    assert whole.status_code == 200
    assert whole.json()["output"].endswith("web login: ")
    assert tail.json() == {"output": "web login: "}
    bad = member.call("POST", f"/servers/{server_id}/action", json={"os-getConsoleOutput": {"length": -2}})
    assert bad.status_code == 400


def test_a_volume_attachment_updates_delete_on_termination_from_2_85(fake, http, member):
    server_id = member.boot()
    volume = http.post(
        f"{fake.url}/volume/v3/{fake.portal.project_id}/volumes",
        json={"volume": {"size": 1}},
        headers={"X-Auth-Token": member.token},
    ).json()["volume"]
    member.call("GET", "/servers")  # the volume becomes available
    attach = {"volumeAttachment": {"volumeId": volume["id"]}}
    assert member.call("POST", f"/servers/{server_id}/os-volume_attachments", json=attach).status_code == 200
    path = f"/servers/{server_id}/os-volume_attachments/{volume['id']}"
    update = {"volumeAttachment": {"volumeId": volume["id"], "delete_on_termination": True}}
    old = member.call("PUT", path, "compute 2.84", json=update)
    assert old.status_code == 400  # below 2.85 only volumeId is allowed
    swap = member.call("PUT", path, "compute 2.84", json={"volumeAttachment": {"volumeId": volume["id"]}})
    assert swap.status_code == 403  # a swap is Cinder's call (service role)
    assert member.call("PUT", path, json=update).status_code == 202
    assert member.call("GET", path).json()["volumeAttachment"]["delete_on_termination"] is True
    moved = {"volumeAttachment": {"volumeId": volume["id"], "device": "/dev/vdz"}}
    assert (
        member.call("PUT", path, json=moved).json()["badRequest"]["message"]
        == "The device property is not mutable"
    )


# ---------------------------------------------------------------------------------------------- metadata
def test_server_metadata_merges_replaces_and_deletes(member):
    server_id = member.boot()
    path = f"/servers/{server_id}/metadata"
    assert member.call("POST", path, json={"metadata": {"a": "1", "b": "2"}}).json() == {
        "metadata": {"a": "1", "b": "2"}
    }
    assert member.call("PUT", f"{path}/b", json={"meta": {"b": "3"}}).json() == {"meta": {"b": "3"}}
    assert member.call("DELETE", f"{path}/a").status_code == 204
    assert member.call("DELETE", f"{path}/a").status_code == 404
    assert member.call("PUT", path, json={"metadata": {"c": ""}}).json() == {"metadata": {"c": ""}}
    assert member.show(server_id)["metadata"] == {"c": ""}


def test_a_server_is_renamed(member):
    server_id = member.boot()
    reply = member.call("PUT", f"/servers/{server_id}", json={"server": {"name": "new-name"}})
    assert (reply.status_code, reply.json()["server"]["name"]) == (200, "new-name")
    assert member.call("PUT", f"/servers/{server_id}", json={"server": {"flavorRef": "2"}}).status_code == 400


def test_the_image_proxy_ends_at_2_35(fake, member, admin):
    cirros = fake.image_ids()[0]
    assert [i["name"] for i in member.call("GET", "/images/detail", "compute 2.35").json()["images"]][
        -1
    ] == "cirros-0.6.2"
    assert member.call("GET", "/images", "compute 2.36").status_code == 404
    path = f"/images/{cirros}/metadata"
    assert member.call("GET", path, "compute 2.1").json()["metadata"] == {
        "os_distro": "cirros",
        "os_version": "0.6.2",
    }
    assert (
        member.call("POST", path, "compute 2.1", json={"metadata": {"k": "v"}}).status_code == 403
    )  # not its image
    assert (
        admin.call("POST", path, "compute 2.1", json={"metadata": {"k": "v"}}).json()["metadata"]["k"] == "v"
    )
    assert admin.call("DELETE", f"{path}/os_distro", "compute 2.1").status_code == 204
    assert "os_distro" not in admin.call("GET", path, "compute 2.1").json()["metadata"]


def test_usage_counts_the_projects_servers(fake, member):
    member.show(member.boot())  # launched now
    fake.advance(1800)
    reply = member.call(
        "GET", f"/os-simple-tenant-usage/{fake.portal.project_id}?start=2000-01-01T00:00:00.5", "compute 2.1"
    )
    usage = reply.json()["tenant_usage"]
    assert usage["start"] == "2000-01-01T00:00:00.500000"
    assert usage["total_hours"] == pytest.approx(0.5)
    assert member.call("GET", f"/os-simple-tenant-usage/{fake.admin.project_id}").status_code == 403
