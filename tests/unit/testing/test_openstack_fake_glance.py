"""The OpenStack fake's Glance beyond list and show: images made, patched, uploaded, shared, imported,
schemas, metadefs and tasks, as a real Glance 33 answered them (probed with its default policies)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator

import httpx
import openstack.connection
import openstack.exceptions as os_exc
import pytest

from cloudkit.testing import FakeClock
from cloudkit.testing.fakes import FakeCredentials, OpenStackFake

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def fake() -> Iterator[OpenStackFake]:
    with OpenStackFake(clock=FakeClock(start=1000.0)) as running:
        yield running


@pytest.fixture
def bob(fake: OpenStackFake) -> FakeCredentials:
    return fake.add_user("bob", "bob-pass", project="bob")


@pytest.fixture
def glance(fake: OpenStackFake) -> Iterator[Callable[[FakeCredentials], httpx.Client]]:
    """httpx clients on the fake's Glance (``/image/v2``), each with its user's token."""
    made: list[httpx.Client] = []

    def make(creds: FakeCredentials) -> httpx.Client:
        client = httpx.Client(base_url=f"{fake.url}/image/v2", trust_env=False, timeout=5.0)
        answer = client.post(f"{fake.auth_url}/auth/tokens", json=creds.token_request())
        client.headers["X-Auth-Token"] = answer.headers["X-Subject-Token"]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def member(glance, fake):
    return glance(fake.portal)


@pytest.fixture
def admin(glance, fake):
    return glance(fake.admin)


def _patch(client: httpx.Client, image_id: str, *changes: dict[str, object]) -> httpx.Response:
    return client.patch(f"/images/{image_id}", content=json.dumps(list(changes)), headers=PATCH)


def _new(client: httpx.Client, **attrs: object) -> str:
    answer = client.post("/images", json={"disk_format": "raw", "container_format": "bare", **attrs})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_create_answers_a_queued_shared_image_with_import_headers(member, fake):
    answer = member.post("/images", json={"name": "x", "min_ram": 1024, "tags": ["a", "a"], "foo": "bar"})
    assert answer.status_code == 201
    image = answer.json()
    assert (image["status"], image["visibility"], image["size"], image["checksum"]) == (
        "queued",
        "shared",
        None,
        None,
    )
    assert (image["foo"], image["tags"], image["min_ram"], image["owner"]) == (
        "bar",
        ["a"],
        1024,
        fake.portal.project_id,
    )
    assert answer.headers["OpenStack-image-import-methods"] == "glance-direct,web-download,copy-image"
    assert answer.headers["Location"].endswith(f"/image/v2/images/{image['id']}")


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"status": "active"}, 403, "Attribute &#x27;status&#x27; is read-only."),
        ({"visibility": "public"}, 403, "You are not authorized to complete publicize_image action."),
        (
            {"disk_format": "nope"},
            400,
            "Provided object does not match schema &#x27;image&#x27;: &#x27;nope&#x27;",
        ),
        ({"foo": 1}, 400, "1 is not of type &#x27;string&#x27;"),
        ({"os_glance_x": "1"}, 403, "Attribute &#x27;os_glance_x&#x27; is reserved."),
    ],
)
def test_create_refuses_what_glance_refuses(member, body, status, text):
    answer = member.post("/images", json=body)
    assert answer.status_code == status
    assert text in answer.text


def test_upload_needs_octet_stream_then_computes_size_and_hashes(member):
    image_id = _new(member)
    assert member.get(f"/images/{image_id}/file").status_code == 204  # no data yet
    wrong = member.put(
        f"/images/{image_id}/file", content=b"abc", headers={"Content-Type": "application/json"}
    )
    assert (wrong.status_code, "Invalid content type application/json" in wrong.text) == (415, True)
    assert member.put(f"/images/{image_id}/file", content=b"abc", headers=OCTETS).status_code == 204
    image = member.get(f"/images/{image_id}").json()
    md5 = hashlib.md5(b"abc", usedforsecurity=False).hexdigest()
    assert (image["status"], image["size"], image["virtual_size"], image["checksum"]) == ("active", 3, 3, md5)
    assert (image["os_hash_algo"], image["os_hash_value"]) == ("sha512", hashlib.sha512(b"abc").hexdigest())
    assert image["stores"] == "fs"
    download = member.get(f"/images/{image_id}/file")
    assert (download.content, download.headers["Content-MD5"]) == (b"abc", md5)
    again = member.put(f"/images/{image_id}/file", content=b"x", headers=OCTETS)
    assert again.status_code == 409
    assert "Image status transition from active to saving is not allowed" in again.text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        ("10", "Size mismatch: expected 10 bytes, got 3 bytes"),
        ("2", "Size exceeds: expected 2 bytes, got 3 bytes"),
        ("x", "Invalid or missing image size in request headers."),
    ],
)
def test_upload_checks_the_declared_size(member, size, text):
    image_id = _new(member)
    headers = {**OCTETS, "X-OpenStack-Image-Size": size}
    answer = member.put(f"/images/{image_id}/file", content=b"abc", headers=headers)
    assert (answer.status_code, text in answer.text) == (400, True)
    assert member.get(f"/images/{image_id}").json()["status"] == "queued"


def test_patch_adds_replaces_and_removes_properties_and_tags(member):
    image_id = _new(member, name="old")
    no_patch_type = member.patch(
        f"/images/{image_id}", json=[{"op": "replace", "path": "/name", "value": "n"}]
    )
    assert no_patch_type.status_code == 415
    changed = _patch(
        member,
        image_id,
        {"op": "replace", "path": "/name", "value": "new"},
        {"op": "add", "path": "/foo", "value": "bar"},
        {"op": "add", "path": "/tags", "value": ["t1", "t2"]},
    )
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["foo"], changed.json()["tags"]) == (
        "new",
        "bar",
        ["t1", "t2"],
    )
    removed = _patch(member, image_id, {"op": "remove", "path": "/foo"})
    assert "foo" not in removed.json()
    missing = _patch(member, image_id, {"op": "replace", "path": "/zzz", "value": "1"})
    assert (missing.status_code, "Property zzz does not exist." in missing.text) == (409, True)
    # one failing change saves none of them
    _patch(
        member, image_id, {"op": "replace", "path": "/name", "value": "lost"}, {"op": "remove", "path": "/zz"}
    )
    assert member.get(f"/images/{image_id}").json()["name"] == "new"
    read_only = _patch(member, image_id, {"op": "replace", "path": "/status", "value": "active"})
    assert read_only.status_code == 403


def test_protected_image_cannot_be_deleted_and_others_cannot_touch_it(member, glance, bob):
    image_id = _new(member, protected=True, visibility="private")
    refused = member.delete(f"/images/{image_id}")
    assert (refused.status_code, f"Image {image_id} is protected and cannot be deleted." in refused.text) == (
        403,
        True,
    )
    stranger = glance(bob)
    assert stranger.get(f"/images/{image_id}").status_code == 404
    assert stranger.delete(f"/images/{image_id}").status_code == 404
    _patch(member, image_id, {"op": "replace", "path": "/protected", "value": False})
    assert member.delete(f"/images/{image_id}").status_code == 204
    assert member.get(f"/images/{image_id}").status_code == 404


def test_tags_and_the_tag_filter(member):
    image_id = _new(member)
    assert member.put(f"/images/{image_id}/tags/t1").status_code == 204
    assert member.put(f"/images/{image_id}/tags/t2").status_code == 204
    both = member.get("/images", params=[("tag", "t1"), ("tag", "t2")]).json()["images"]
    assert [i["id"] for i in both] == [image_id]
    assert member.delete(f"/images/{image_id}/tags/t1").status_code == 204
    assert member.delete(f"/images/{image_id}/tags/t1").status_code == 404
    assert member.get("/images", params=[("tag", "t1")]).json()["images"] == []


def test_deactivated_image_data_is_for_the_admin_only(member, admin):
    image_id = _new(member)
    member.put(f"/images/{image_id}/file", content=b"abc", headers=OCTETS)
    assert member.post(f"/images/{image_id}/actions/deactivate").status_code == 204
    assert member.get(f"/images/{image_id}").json()["status"] == "deactivated"
    assert member.get(f"/images/{image_id}/file").status_code == 403
    assert admin.get(f"/images/{image_id}/file").content == b"abc"
    assert member.post(f"/images/{image_id}/actions/reactivate").status_code == 204
    assert member.get(f"/images/{image_id}").json()["status"] == "active"


def test_sharing_with_a_member_pending_then_accepted(member, glance, bob):
    other = glance(bob)
    private = _new(member, visibility="private")
    refused = member.post(f"/images/{private}/members", json={"member": bob.project_id})
    assert (refused.status_code, "Not allowed to create members" in refused.text) == (403, True)
    image_id = _new(member)
    assert other.get(f"/images/{image_id}").status_code == 404
    added = member.post(f"/images/{image_id}/members", json={"member": bob.project_id})
    assert (added.status_code, added.json()["status"], added.json()["schema"]) == (
        200,
        "pending",
        "/v2/schemas/member",
    )
    assert member.post(f"/images/{image_id}/members", json={"member": bob.project_id}).status_code == 409
    assert other.get(f"/images/{image_id}").status_code == 200  # a pending member sees it by id
    assert image_id not in {i["id"] for i in other.get("/images").json()["images"]}  # but does not list it
    pending = other.get("/images", params={"member_status": "pending"}).json()["images"]
    assert image_id in {i["id"] for i in pending}
    by_owner = member.put(f"/images/{image_id}/members/{bob.project_id}", json={"status": "accepted"})
    assert by_owner.status_code == 403
    accepted = other.put(f"/images/{image_id}/members/{bob.project_id}", json={"status": "accepted"})
    assert accepted.json()["status"] == "accepted"
    assert image_id in {i["id"] for i in other.get("/images").json()["images"]}
    members = member.get(f"/images/{image_id}/members").json()
    assert ([m["member_id"] for m in members["members"]], members["schema"]) == (
        [bob.project_id],
        "/v2/schemas/members",
    )
    assert other.delete(f"/images/{image_id}/members/{bob.project_id}").status_code == 403
    assert member.delete(f"/images/{image_id}/members/{bob.project_id}").status_code == 204
    assert member.get(f"/images/{image_id}/members/{bob.project_id}").status_code == 404


def test_glance_direct_import_activates_and_web_download_fails(member):
    image_id = _new(member)
    early = member.post(f"/images/{image_id}/import", json={"method": {"name": "glance-direct"}})
    assert early.status_code == 409
    assert member.put(f"/images/{image_id}/stage", content=b"hello", headers=OCTETS).status_code == 204
    assert member.get(f"/images/{image_id}").json()["status"] == "uploading"
    assert (
        member.post(f"/images/{image_id}/import", json={"method": {"name": "glance-direct"}}).status_code
        == 202
    )
    image = member.get(f"/images/{image_id}").json()
    assert (image["status"], image["size"], image["os_glance_failed_import"]) == ("active", 5, "")
    [task] = member.get(f"/images/{image_id}/tasks").json()["tasks"]
    assert (task["type"], task["status"], task["result"]) == (
        "api_image_import",
        "success",
        {"image_id": image_id},
    )

    web = _new(member)
    local = member.post(
        f"/images/{web}/import", json={"method": {"name": "web-download", "uri": "http://127.0.0.1/x"}}
    )
    assert (local.status_code, "does not pass filtering" in local.text) == (400, True)
    uri = "http://192.0.2.1/x.img"
    assert (
        member.post(
            f"/images/{web}/import", json={"method": {"name": "web-download", "uri": uri}}
        ).status_code
        == 202
    )
    image = member.get(f"/images/{web}").json()
    assert (image["status"], image["os_glance_failed_import"]) == ("queued", "fs")


def test_schemas_are_real_glance_documents(member):
    image = member.get("/schemas/image").json()
    assert image["name"] == "image"
    assert image["properties"]["disk_format"]["enum"][-1] == "ploop"
    for name in ("images", "member", "members", "task", "tasks", "metadefs/namespace", "metadefs/tags"):
        assert member.get(f"/schemas/{name}").json()["name"] == name.split("/")[-1]
    assert member.get("/schemas/nothing").status_code == 404


def test_metadefs_are_written_by_an_admin_and_read_by_their_visibility(admin, member):
    refused = member.post("/metadefs/namespaces", json={"namespace": "ns"})
    assert refused.status_code == 403
    created = admin.post("/metadefs/namespaces", json={"namespace": "ns"})
    assert (created.status_code, created.json()["visibility"], created.json()["protected"]) == (
        201,
        "private",
        False,
    )
    assert admin.post("/metadefs/namespaces", json={"namespace": "ns"}).status_code == 409
    assert member.get("/metadefs/namespaces/ns").status_code == 404  # private to the admin's project
    prop = {"name": "port", "title": "port", "type": "string", "enum": ["80", "443"]}
    assert admin.post("/metadefs/namespaces/ns/properties", json=prop).json() == prop
    assert admin.post("/metadefs/namespaces/ns/objects", json={"name": "o"}).status_code == 201
    renamed = admin.put("/metadefs/namespaces/ns/objects/o", json={"name": "o2", "description": "d"})
    assert (renamed.json()["name"], renamed.json()["description"]) == ("o2", "d")
    association = admin.post("/metadefs/namespaces/ns/resource_types", json={"name": "OS::Glance::Image"})
    assert association.status_code == 201
    assert (
        admin.post("/metadefs/namespaces/ns/tags", json={"tags": [{"name": "a"}, {"name": "b"}]}).status_code
        == 201
    )
    assert admin.post("/metadefs/namespaces/ns/tags/A").status_code == 409  # names ignore case
    namespace = admin.get("/metadefs/namespaces/ns").json()
    assert [t["name"] for t in namespace["tags"]] == ["b", "a"]  # newest first
    assert namespace["properties"] == {"port": {"type": "string", "title": "port", "enum": ["80", "443"]}}
    assert [o["name"] for o in namespace["objects"]] == ["o2"]
    assert (
        admin.put("/metadefs/namespaces/ns", json={"namespace": "ns", "display_name": "D"}).status_code == 200
    )
    assert admin.delete("/metadefs/namespaces/ns/resource_types/OS::Glance::Image").status_code == 204
    types = admin.get("/metadefs/resource_types").json()["resource_types"]
    assert [t["name"] for t in types] == ["OS::Glance::Image"]  # the type outlives the association
    assert admin.delete("/metadefs/namespaces/ns").status_code == 204


def test_tasks_are_admin_only_and_a_url_import_ends_in_failure(admin, member):
    assert member.get("/tasks").status_code == 403
    body = {"type": "import", "input": {"import_from": "http://192.0.2.1/x.img", "import_from_format": "raw"}}
    created = admin.post("/tasks", json=body)
    assert (created.status_code, created.json()["status"]) == (201, "pending")
    task = admin.get(f"/tasks/{created.json()['id']}").json()
    assert (task["status"], task["message"]) == ("failure", "Task failed due to Internal Error")
    listed = admin.get("/tasks").json()
    assert ([t["id"] for t in listed["tasks"]], listed["schema"]) == ([task["id"]], "/v2/schemas/tasks")
    assert admin.post("/tasks", json={"type": "import"}).status_code == 400


def test_openstacksdk_uploads_and_downloads_an_image(fake, tmp_path):
    conn = openstack.connection.Connection(
        auth=fake.portal.auth(fake.auth_url), identity_interface="public", region_name="RegionOne"
    )
    try:
        data = b"\0" * 4096
        # data=, not filename=: openstacksdk 4.22 never closes the file it opens (a ResourceWarning)
        image = conn.image.create_image("disk", data=data, disk_format="raw", container_format="bare")
        image = conn.image.wait_for_status(image, "active", wait=5)
        assert (image.size, image.checksum) == (4096, hashlib.md5(data, usedforsecurity=False).hexdigest())
        target = tmp_path / "out.raw"
        conn.download_image("disk", str(target))
        assert target.read_bytes() == data
        conn.update_image_properties(image=image, name="renamed", color="blue")
        assert conn.image.get_image(image.id).properties["color"] == "blue"
        with pytest.raises(os_exc.NotFoundException):
            conn.image.get_member(image=image, member=fake.admin.project_id)
        conn.image.delete_image(image)
        assert conn.image.find_image("renamed") is None
    finally:
        conn.close()


def test_novas_image_proxy_lists_what_glances_default_list_shows(member, admin, glance, bob, fake):
    community = _new(member, name="community", visibility="community")
    shared = _new(member, name="shared", visibility="shared")
    hidden = _new(admin, name="hidden", visibility="public", os_hidden=True)
    assert member.post(f"/images/{shared}/members", json={"member": bob.project_id}).status_code == 200
    other = glance(bob)
    nova = httpx.Client(base_url=f"{fake.url}/compute/v2.1", trust_env=False, timeout=5.0)
    nova.headers.update(
        {"X-Auth-Token": other.headers["X-Auth-Token"], "OpenStack-API-Version": "compute 2.1"}
    )
    with nova:

        def names_listed() -> tuple[set[str], set[str]]:
            by_glance = {i["id"] for i in other.get("/images").json()["images"]}
            by_nova = {i["id"] for i in nova.get("/images").json()["images"]}
            return by_glance, by_nova

        by_glance, by_nova = names_listed()
        assert by_nova == by_glance
        assert not {community, shared, hidden} & by_nova  # community, pending membership, hidden
        assert nova.get(f"/images/{community}").status_code == 200  # show still finds them
        assert other.put(f"/images/{shared}/members/{bob.project_id}", json={"status": "accepted"}).is_success
        by_glance, by_nova = names_listed()
        assert shared in by_nova
        assert by_nova == by_glance
        assert hidden in {i["id"] for i in other.get("/images?os_hidden=true").json()["images"]}
