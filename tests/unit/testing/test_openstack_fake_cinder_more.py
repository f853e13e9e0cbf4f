"""The OpenStack fake's Cinder attachments API, volume summary, default types, groups and transfers,
on the wire, as Cinder 29 answers them. Transitions finish at the next request (the fake's default)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from cloudkit.testing.fakes import FakeCredentials, OpenStackFake

Call = Callable[..., httpx.Response]
NEWEST = "3.71"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        yield client


def _login(http: httpx.Client, fake: OpenStackFake, creds: FakeCredentials) -> str:
    return http.post(f"{fake.auth_url}/auth/tokens", json=creds.token_request()).headers["X-Subject-Token"]


def _caller(http: httpx.Client, fake: OpenStackFake, creds: FakeCredentials) -> Call:
    token = _login(http, fake, creds)
    base = f"{fake.url}/volume/v3/{creds.project_id}"

    def call(method: str, path: str, json: Any = None, mv: str = NEWEST, **params: str) -> httpx.Response:
        headers = {"X-Auth-Token": token, "OpenStack-API-Version": f"volume {mv}"}
        return http.request(method, f"{base}{path}", json=json, params=params, headers=headers)

    return call


@pytest.fixture
def admin(http, openstack_fake) -> Call:
    return _caller(http, openstack_fake, openstack_fake.admin)


@pytest.fixture
def member(http, openstack_fake) -> Call:
    return _caller(http, openstack_fake, openstack_fake.portal)


def _volume(call: Call, **spec: Any) -> dict[str, Any]:
    made = call("POST", "/volumes", {"volume": {"size": 1, **spec}})
    assert made.status_code == 202, made.text
    volume = call("GET", f"/volumes/{made.json()['volume']['id']}").json()["volume"]  # now available
    return dict(volume)


def _status(call: Call, volume_id: str) -> str:
    return str(call("GET", f"/volumes/{volume_id}").json()["volume"]["status"])


# ================================================================================== attachments
def test_an_attachment_is_reserved_then_connected_then_completed(member):
    volume = _volume(member)
    server = "8f0c5b1e-6f43-4c55-9d0a-2b8c3f0b9e11"
    made = member(
        "POST", "/attachments", {"attachment": {"volume_uuid": volume["id"], "instance_uuid": server}}
    )
    assert made.status_code == 200
    attachment = made.json()["attachment"]
    assert attachment == {
        "id": attachment["id"],
        "status": "reserved",
        "instance": server,
        "volume_id": volume["id"],
        "attached_at": "",
        "detached_at": "",
        "attach_mode": "null",
        "connection_info": {},
    }
    assert _status(member, volume["id"]) == "reserved"
    again = member("POST", "/attachments", {"attachment": {"volume_uuid": volume["id"]}})
    assert again.status_code == 400
    assert again.json()["badRequest"]["message"] == (
        f"Invalid volume: Volume {volume['id']} status must be available or downloading to reserve, "
        "but the current status is reserved."
    )

    connector = {"host": "compute-1", "initiator": "iqn.1993-08.org.debian:01:cad181614cec"}
    updated = member("PUT", f"/attachments/{attachment['id']}", {"attachment": {"connector": connector}})
    assert updated.status_code == 200
    shown = updated.json()["attachment"]
    assert (shown["status"], shown["attach_mode"]) == ("attaching", "rw")
    assert shown["connection_info"]["driver_volume_type"] == "iscsi"
    assert shown["connection_info"]["attachment_id"] == attachment["id"]
    assert _status(member, volume["id"]) == "attaching"
    assert member("GET", f"/volumes/{volume['id']}").json()["volume"]["attachments"] == []

    done = member("POST", f"/attachments/{attachment['id']}/action", {"os-complete": None})
    assert done.status_code == 204
    listed = member("GET", f"/volumes/{volume['id']}").json()["volume"]
    assert listed["status"] == "in-use"
    assert [(a["attachment_id"], a["server_id"]) for a in listed["attachments"]] == [
        (attachment["id"], server)
    ]
    summaries = member("GET", "/attachments", volume_id=volume["id"]).json()["attachments"]
    assert summaries == [
        {"id": attachment["id"], "status": "attached", "instance": server, "volume_id": volume["id"]}
    ]

    gone = member("DELETE", f"/attachments/{attachment['id']}")
    assert (gone.status_code, gone.json()) == (200, {"attachments": []})
    assert _status(member, volume["id"]) == "available"
    missing = member("GET", f"/attachments/{attachment['id']}")
    assert missing.json()["itemNotFound"]["message"] == (
        f"Volume attachment could not be found with filter: attachment_id = {attachment['id']}."
    )


def test_the_attachments_api_starts_at_3_27_and_os_complete_at_3_44(member):
    assert member("GET", "/attachments", mv="3.26").status_code == 404
    volume = _volume(member)
    made = member("POST", "/attachments", {"attachment": {"volume_uuid": volume["id"]}}, mv="3.27").json()
    complete = member(
        "POST", f"/attachments/{made['attachment']['id']}/action", {"os-complete": None}, mv="3.43"
    )
    assert complete.status_code == 404
    mode = member(
        "POST", "/attachments", {"attachment": {"volume_uuid": volume["id"], "mode": "ro"}}, mv="3.53"
    )
    assert (
        "Additional properties are not allowed ('mode' was unexpected)"
        in mode.json()["badRequest"]["message"]
    )


def test_another_project_sees_no_attachment_of_a_volume_it_does_not_own(admin, member):
    volume = _volume(member)
    made = admin("POST", "/attachments", {"attachment": {"volume_uuid": volume["id"], "connector": {}}})
    attachment_id = made.json()["attachment"]["id"]
    assert made.json()["attachment"]["status"] == "reserved"  # an empty connector connects nothing
    assert admin("GET", "/attachments").json()["attachments"] == []  # the admin's own project
    assert [a["id"] for a in admin("GET", "/attachments", all_tenants="1").json()["attachments"]] == [
        attachment_id
    ]
    assert member("GET", f"/attachments/{attachment_id}").status_code == 200
    assert member("DELETE", f"/attachments/{attachment_id}").status_code == 200


def test_a_user_may_not_delete_the_attachment_nova_uses(http, openstack_fake, member):
    token = _login(http, openstack_fake, openstack_fake.portal)
    nova = f"{openstack_fake.url}/compute/v2.1"
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.89"}
    server = {"name": "vm", "flavorRef": "1", "networks": "none", "imageRef": openstack_fake.image_ids()[0]}
    server_id = http.post(f"{nova}/servers", json={"server": server}, headers=headers).json()["server"]["id"]
    volume = _volume(member)
    http.get(f"{nova}/servers/{server_id}", headers=headers)  # the server becomes active
    attach = {"volumeAttachment": {"volumeId": volume["id"]}}
    assert (
        http.post(
            f"{nova}/servers/{server_id}/os-volume_attachments", json=attach, headers=headers
        ).status_code
        == 200
    )
    [attachment] = member("GET", "/attachments/detail", volume_id=volume["id"]).json()["attachments"]
    assert attachment["instance"] == server_id
    refused = member("DELETE", f"/attachments/{attachment['id']}")
    assert refused.status_code == 409
    assert refused.json()["conflictingRequest"]["message"] == (
        f"ConflictNovaUsingAttachment: Detach volume from instance {server_id} using the Compute API"
    )


# ================================================================================== summary
def test_the_volume_summary_counts_sizes_and_metadata_per_project(admin, member):
    _volume(member, size=2, metadata={"tier": "gold"})
    _volume(member, size=3, metadata={"tier": "silver", "app": "db"})
    _volume(admin, size=5, metadata={"tier": "gold"})
    mine = member("GET", "/volumes/summary").json()["volume-summary"]
    assert mine == {
        "total_count": 2,
        "total_size": 5,
        "metadata": {"tier": ["gold", "silver"], "app": ["db"]},
    }
    assert "metadata" not in member("GET", "/volumes/summary", mv="3.35").json()["volume-summary"]
    assert member("GET", "/volumes/summary", mv="3.11").status_code == 404
    assert member("GET", "/volumes/summary", all_tenants="1").json()["volume-summary"]["total_count"] == 2
    everyone = admin("GET", "/volumes/summary", all_tenants="1").json()["volume-summary"]
    assert (everyone["total_count"], everyone["total_size"]) == (3, 10)


# ================================================================================== default types
def test_a_projects_default_type_is_an_admins_to_set_and_new_volumes_take_it(admin, member, openstack_fake):
    project = openstack_fake.portal.project_id
    gold = admin("POST", "/types", {"volume_type": {"name": "gold"}}).json()["volume_type"]
    body = {"default_type": {"volume_type": "gold"}}
    refused = member("PUT", f"/default-types/{project}", body)
    assert refused.json() == {
        "forbidden": {"code": 403, "message": "You are not authorized to perform this operation."}
    }
    assert admin("PUT", f"/default-types/{project}", body, mv="3.61").status_code == 404
    made = admin("PUT", f"/default-types/{project}", body)
    assert (made.status_code, made.json()) == (
        200,
        {"default_type": {"project_id": project, "volume_type_id": gold["id"]}},
    )
    assert admin("GET", "/default-types").json() == {"default_types": [made.json()["default_type"]]}
    assert _volume(member)["volume_type"] == "gold"
    assert member("GET", "/types/default").json()["volume_type"]["id"] == gold["id"]
    assert admin("DELETE", f"/types/{gold['id']}").json()["badRequest"]["message"] == (
        f"The volume type {gold['id']} is a default volume type and cannot be deleted."
    )
    assert admin("DELETE", f"/default-types/{project}").status_code == 204
    missing = admin("GET", f"/default-types/{project}")
    assert missing.json()["itemNotFound"]["message"] == f"Default type for project {project} not found."
    nowhere = admin("PUT", "/default-types/no-such-project", body)
    assert nowhere.json()["itemNotFound"]["message"] == "Project with id no-such-project not found."
    unknown = admin("PUT", f"/default-types/{project}", {"default_type": {"volume_type": "platinum"}})
    assert unknown.status_code == 400


# ================================================================================== groups
def test_group_types_are_an_admins_and_only_an_admin_sees_their_specs(admin, member):
    assert member("POST", "/group_types", {"group_type": {"name": "g"}}).status_code == 403
    made = admin("POST", "/group_types", {"group_type": {"name": "g", "group_specs": {"a": "1"}}})
    assert made.status_code == 202
    gtype = made.json()["group_type"]
    assert gtype == {
        "id": gtype["id"],
        "name": "g",
        "description": None,
        "is_public": True,
        "group_specs": {"a": "1"},
    }
    assert "group_specs" not in member("GET", f"/group_types/{gtype['id']}").json()["group_type"]
    names = [t["name"] for t in member("GET", "/group_types").json()["group_types"]]
    assert names == ["g", "default_cgsnapshot_type"]
    assert admin("POST", "/group_types", {"group_type": {"name": "g"}}).status_code == 409
    specs = f"/group_types/{gtype['id']}/group_specs"
    assert admin("POST", specs, {"group_specs": {"b": "2"}}).status_code == 202
    assert admin("PUT", f"{specs}/b", {"b": "3"}).json() == {"b": "3"}
    assert admin("GET", specs).json() == {"group_specs": {"a": "1", "b": "3"}}
    assert admin("DELETE", f"{specs}/a").status_code == 202
    assert admin("GET", f"{specs}/a").json()["itemNotFound"]["message"] == (
        f"Group Type {gtype['id']} has no extra spec with key a."
    )
    assert member("GET", specs).status_code == 403
    assert admin("GET", "/group_types", mv="3.10").status_code == 404


def test_a_group_holds_volumes_and_snapshots_and_goes_with_them(admin, member):
    gtype = admin("POST", "/group_types", {"group_type": {"name": "g"}}).json()["group_type"]
    vtype = member("GET", "/types").json()["volume_types"][0]
    made = member(
        "POST", "/groups", {"group": {"name": "grp", "group_type": "g", "volume_types": [vtype["name"]]}}
    )
    assert made.status_code == 202
    group_id = made.json()["group"]["id"]
    assert made.json() == {"group": {"id": group_id, "name": "grp"}}
    group = member("GET", f"/groups/{group_id}").json()["group"]
    assert (group["status"], group["group_type"], group["volume_types"]) == (
        "available",
        gtype["id"],
        [vtype["id"]],
    )
    assert group["replication_status"] == "disabled"
    assert "project_id" not in group  # an admin's only
    untyped = member("POST", "/volumes", {"volume": {"size": 1, "group_id": group_id}})
    assert untyped.json()["badRequest"]["message"] == (
        "Invalid input received: volume_type must be provided when creating a volume in a group."
    )
    volume = _volume(member, group_id=group_id, volume_type=vtype["id"])
    assert volume["group_id"] == group_id
    assert member("DELETE", f"/volumes/{volume['id']}").status_code == 400  # it belongs to a group

    snap = member("POST", "/group_snapshots", {"group_snapshot": {"group_id": group_id, "name": "gs"}})
    assert snap.status_code == 202
    snap_id = snap.json()["group_snapshot"]["id"]
    shown = member("GET", f"/group_snapshots/{snap_id}").json()["group_snapshot"]
    assert (shown["status"], shown["group_id"]) == ("available", group_id)
    [member_snapshot] = member("GET", "/snapshots/detail").json()["snapshots"]
    assert (member_snapshot["volume_id"], member_snapshot["group_snapshot_id"]) == (volume["id"], snap_id)
    held = member("POST", f"/groups/{group_id}/action", {"delete": {"delete-volumes": True}})
    assert held.json()["badRequest"]["message"] == "Invalid Group: Group has existing snapshots."
    assert member("DELETE", f"/group_snapshots/{snap_id}").status_code == 202
    assert member("GET", f"/group_snapshots/{snap_id}").status_code == 404
    assert member("GET", "/snapshots").json()["snapshots"] == []

    assert member("PUT", f"/groups/{group_id}", {"group": {"description": "d"}}).status_code == 202
    assert member("GET", "/groups/detail").json()["groups"][0]["description"] == "d"
    kept = member("POST", f"/groups/{group_id}/action", {"delete": {}})
    assert kept.json()["badRequest"]["message"] == (
        f"Invalid Group: Group {group_id} still contains volumes. The delete-volumes flag is required to "
        "delete it."
    )
    assert admin("DELETE", f"/group_types/{gtype['id']}").json()["badRequest"]["message"] == (
        "Target group type is still in use."
    )
    assert (
        member("POST", f"/groups/{group_id}/action", {"delete": {"delete-volumes": True}}).status_code == 202
    )
    assert member("GET", f"/groups/{group_id}").status_code == 404
    assert member("GET", f"/volumes/{volume['id']}").status_code == 404
    assert admin("DELETE", f"/group_types/{gtype['id']}").status_code == 202


def test_the_migration_group_type_is_refused_for_groups(member):
    refused = member(
        "POST",
        "/groups",
        {"group": {"group_type": "default_cgsnapshot_type", "volume_types": ["__DEFAULT__"]}},
    )
    assert refused.status_code == 400
    assert "is reserved for migrating CGs to groups" in refused.json()["badRequest"]["message"]


# ================================================================================== transfers
def test_a_transfer_moves_a_volume_to_the_project_with_the_key(http, openstack_fake, member):
    bob_creds = openstack_fake.add_user("bob", "bob-pass", project="bob")
    bob = _caller(http, openstack_fake, bob_creds)
    volume = _volume(member)
    member("POST", "/snapshots", {"snapshot": {"volume_id": volume["id"]}})
    member("GET", "/snapshots")  # the snapshot becomes available
    made = member("POST", "/volume-transfers", {"transfer": {"volume_id": volume["id"], "name": " t "}})
    assert made.status_code == 202
    transfer = made.json()["transfer"]
    assert (transfer["name"], transfer["volume_id"], transfer["no_snapshots"]) == ("t", volume["id"], False)
    assert len(transfer["auth_key"]) == 16
    assert _status(member, volume["id"]) == "awaiting-transfer"
    assert (
        member("POST", "/volume-transfers", {"transfer": {"volume_id": volume["id"]}}, mv="3.54").status_code
        == 404
    )
    listed = member("GET", "/os-volume-transfer/detail", mv="3.0").json()["transfers"]
    assert [t["id"] for t in listed] == [transfer["id"]]
    assert "no_snapshots" not in listed[0]
    assert bob("GET", f"/volume-transfers/{transfer['id']}").status_code == 404
    wrong = bob("POST", f"/volume-transfers/{transfer['id']}/accept", {"accept": {"auth_key": "0" * 16}})
    assert wrong.json()["badRequest"]["message"] == (
        f"Invalid auth key: Attempt to transfer {transfer['id']} with invalid auth key."
    )
    taken = bob(
        "POST", f"/volume-transfers/{transfer['id']}/accept", {"accept": {"auth_key": transfer["auth_key"]}}
    )
    assert taken.status_code == 202
    assert set(taken.json()["transfer"]) == {"id", "volume_id", "name", "links"}
    assert member("GET", f"/volumes/{volume['id']}").status_code == 404
    moved = bob("GET", f"/volumes/{volume['id']}").json()["volume"]
    assert (moved["status"], moved["os-vol-tenant-attr:tenant_id"]) == ("available", bob_creds.project_id)
    assert [s["volume_id"] for s in bob("GET", "/snapshots").json()["snapshots"]] == [volume["id"]]
    assert bob("GET", f"/volume-transfers/{transfer['id']}").status_code == 404
    assert not any(
        transfer["auth_key"] in (c.body or "") for c in openstack_fake.calls
    )  # masked, as a password


def test_deleting_a_transfer_gives_the_volume_back(admin, member):
    volume = _volume(member)
    transfer = admin("POST", "/volume-transfers", {"transfer": {"volume_id": volume["id"]}}).json()[
        "transfer"
    ]
    assert member("DELETE", f"/volume-transfers/{transfer['id']}").status_code == 202
    assert _status(member, volume["id"]) == "available"
    missing = member("GET", f"/volume-transfers/{transfer['id']}")
    assert missing.json()["itemNotFound"]["message"] == f"Transfer {transfer['id']} could not be found."
