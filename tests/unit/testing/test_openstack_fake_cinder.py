"""The OpenStack fake's Cinder beyond volumes, on the wire, as Cinder 29 answers: volume types
(admin-only changes, private types and their access list, the extra specs a member may see), limits
with used counts, quota sets, and what Cinder tells about itself (zones, resource filters, extensions,
services, capabilities). Transitions finish at the next request (the fake's default)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from cloudkit.testing.fakes import FakeCredentials, OpenStackFake

Call = Callable[..., httpx.Response]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        yield client


def _caller(http: httpx.Client, fake: OpenStackFake, creds: FakeCredentials) -> Call:
    login = http.post(f"{fake.auth_url}/auth/tokens", json=creds.token_request())
    token = login.headers["X-Subject-Token"]
    base = f"{fake.url}/volume/v3/{creds.project_id}"

    def call(method: str, path: str, json: Any = None, mv: str = "3.0", **params: str) -> httpx.Response:
        headers = {"X-Auth-Token": token, "OpenStack-API-Version": f"volume {mv}"}
        return http.request(method, f"{base}{path}", json=json, params=params, headers=headers)

    return call


@pytest.fixture
def admin(http, openstack_fake) -> Call:
    return _caller(http, openstack_fake, openstack_fake.admin)


@pytest.fixture
def member(http, openstack_fake) -> Call:
    return _caller(http, openstack_fake, openstack_fake.portal)


# ================================================================================== volume types
def test_every_cloud_has_the_default_type_and_a_member_sees_it_without_admin_fields(member):
    types = member("GET", "/types").json()["volume_types"]
    assert [t["name"] for t in types] == ["__DEFAULT__"]
    assert types[0] == {
        "id": types[0]["id"],
        "name": "__DEFAULT__",
        "is_public": True,
        "description": "Default Volume Type",
        "extra_specs": {},
        "os-volume-type-access:is_public": True,
    }
    assert member("GET", "/types/default").json()["volume_type"]["id"] == types[0]["id"]


def test_only_an_admin_changes_types(member):
    refused = member("POST", "/types", {"volume_type": {"name": "gold"}})
    assert refused.status_code == 403
    assert refused.json() == {
        "forbidden": {
            "code": 403,
            "message": "Policy doesn't allow volume_extension:type_create to be performed.",
        }
    }


def test_a_private_type_is_seen_by_the_projects_given_access(admin, member, openstack_fake):
    made = admin(
        "POST", "/types", {"volume_type": {"name": "gold", "os-volume-type-access:is_public": False}}
    )
    assert made.status_code == 200
    gold = made.json()["volume_type"]
    assert gold["os-volume-type-access:is_public"] is False
    assert "qos_specs_id" not in gold  # create answers with types_manage's older view
    assert admin("POST", "/types", {"volume_type": {"name": "gold"}}).status_code == 409
    # Cinder's default list shows public types and the caller's private ones: an admin asks for all
    assert [t["name"] for t in admin("GET", "/types").json()["volume_types"]] == ["__DEFAULT__"]
    assert [t["name"] for t in admin("GET", "/types", is_public="none").json()["volume_types"]] == [
        "gold",
        "__DEFAULT__",
    ]
    assert member("GET", f"/types/{gold['id']}").status_code == 404
    project = openstack_fake.portal.project_id
    grant = {"addProjectAccess": {"project": project}}
    assert admin("POST", f"/types/{gold['id']}/action", grant).status_code == 202
    assert admin("POST", f"/types/{gold['id']}/action", grant).status_code == 409
    assert admin("GET", f"/types/{gold['id']}/os-volume-type-access").json() == {
        "volume_type_access": [{"volume_type_id": gold["id"], "project_id": project}]
    }
    assert [t["name"] for t in member("GET", "/types").json()["volume_types"]] == ["gold", "__DEFAULT__"]
    revoke = {"removeProjectAccess": {"project": project}}
    assert admin("POST", f"/types/{gold['id']}/action", revoke).status_code == 202
    gone = admin("POST", f"/types/{gold['id']}/action", revoke)
    assert gone.json()["itemNotFound"]["message"] == (
        f"Volume type access not found for {gold['id']} / {project} combination."
    )
    public_default = admin("GET", "/types/default").json()["volume_type"]["id"]
    assert admin("POST", f"/types/{public_default}/action", grant).status_code == 400


def test_a_member_sees_only_user_visible_extra_specs(admin, member):
    gold = admin("POST", "/types", {"volume_type": {"name": "gold"}}).json()["volume_type"]
    specs = {"volume_backend_name": "lvm", "multiattach": "<is> True"}
    assert admin("POST", f"/types/{gold['id']}/extra_specs", {"extra_specs": specs}).json() == {
        "extra_specs": specs
    }
    assert admin("GET", f"/types/{gold['id']}/extra_specs").json() == {"extra_specs": specs}
    assert member("GET", f"/types/{gold['id']}/extra_specs").json() == {
        "extra_specs": {"multiattach": "<is> True"}
    }
    assert member("GET", f"/types/{gold['id']}/extra_specs/volume_backend_name").status_code == 404
    assert admin("DELETE", f"/types/{gold['id']}/extra_specs/multiattach").status_code == 202
    assert admin("GET", f"/types/{gold['id']}").json()["volume_type"]["extra_specs"] == {
        "volume_backend_name": "lvm"
    }


def test_a_volume_carries_its_type_and_a_used_type_cannot_be_deleted(admin, member, openstack_fake):
    gold = admin("POST", "/types", {"volume_type": {"name": "gold"}}).json()["volume_type"]
    made = member("POST", "/volumes", {"volume": {"size": 1, "volume_type": "gold"}}, mv="3.63")
    volume = made.json()["volume"]
    assert (volume["volume_type"], volume["volume_type_id"]) == ("gold", gold["id"])
    plain = member("POST", "/volumes", {"volume": {"size": 1}}).json()["volume"]
    assert plain["volume_type"] == "__DEFAULT__"
    missing = member("POST", "/volumes", {"volume": {"size": 1, "volume_type": "silver"}})
    assert missing.json()["itemNotFound"]["message"] == "Volume type with name silver could not be found."
    in_use = admin("DELETE", f"/types/{gold['id']}")
    assert in_use.json() == {"badRequest": {"code": 400, "message": "Target volume type is still in use."}}
    default_id = admin("GET", "/types/default").json()["volume_type"]["id"]
    refused = admin("DELETE", f"/types/{default_id}")
    assert refused.json()["badRequest"]["message"] == (
        f"The volume type {default_id} is a default volume type and cannot be deleted."
    )
    member("DELETE", f"/volumes/{volume['id']}")
    assert admin("DELETE", f"/types/{gold['id']}").status_code == 202


# ================================================================================== limits and quotas
def test_limits_count_what_the_project_holds(member, admin, openstack_fake):
    volume = member("POST", "/volumes", {"volume": {"size": 3}}).json()["volume"]
    member("POST", "/snapshots", {"snapshot": {"volume_id": volume["id"]}})
    limits = member("GET", "/limits").json()["limits"]
    assert limits == {
        "rate": [],
        "absolute": {
            "maxTotalVolumes": 10,
            "maxTotalSnapshots": 10,
            "maxTotalVolumeGigabytes": 1000,
            "maxTotalBackups": 10,
            "maxTotalBackupGigabytes": 1000,
            "totalVolumesUsed": 1,
            "totalGigabytesUsed": 6,  # the snapshot's 3 GB count too
            "totalSnapshotsUsed": 1,
            "totalBackupsUsed": 0,
            "totalBackupGigabytesUsed": 0,
        },
    }
    project = openstack_fake.portal.project_id
    # an admin may ask for another project from 3.39 on; before, and for a member, project_id is ignored
    assert (
        admin("GET", "/limits", mv="3.39", project_id=project).json()["limits"]["absolute"][
            "totalVolumesUsed"
        ]
        == 1
    )
    assert (
        admin("GET", "/limits", mv="3.38", project_id=project).json()["limits"]["absolute"][
            "totalVolumesUsed"
        ]
        == 0
    )


def test_quota_sets_are_read_by_the_project_and_changed_by_an_admin(member, admin, openstack_fake):
    project, other = openstack_fake.portal.project_id, openstack_fake.admin.project_id
    shown = member("GET", f"/os-quota-sets/{project}").json()["quota_set"]
    assert shown == {
        "volumes": 10,
        "per_volume_gigabytes": -1,
        "snapshots": 10,
        "gigabytes": 1000,
        "backups": 10,
        "backup_gigabytes": 1000,
        "volumes___DEFAULT__": -1,
        "gigabytes___DEFAULT__": -1,
        "snapshots___DEFAULT__": -1,
        "groups": 10,
        "id": project,
    }
    assert member("GET", f"/os-quota-sets/{other}").status_code == 403
    assert member("PUT", f"/os-quota-sets/{project}", {"quota_set": {"volumes": 20}}).status_code == 403
    updated = admin("PUT", f"/os-quota-sets/{project}", {"quota_set": {"volumes": 20}}).json()["quota_set"]
    assert updated["volumes"] == 20
    assert "id" not in updated
    assert admin("GET", f"/os-quota-sets/{project}/defaults").json()["quota_set"]["volumes"] == 10
    assert member("GET", "/limits").json()["limits"]["absolute"]["maxTotalVolumes"] == 20
    bad = admin("PUT", f"/os-quota-sets/{project}", {"quota_set": {"cores": 1}})
    assert bad.json()["badRequest"]["message"] == "Invalid input received: Bad key(s) in quota set: cores"
    member("POST", "/volumes", {"volume": {"size": 1}})
    member("POST", "/volumes", {"volume": {"size": 1}})
    usage = member("GET", f"/os-quota-sets/{project}", usage="true").json()["quota_set"]
    assert usage["volumes"] == {"limit": 20, "in_use": 2, "reserved": 0}
    below = admin("PUT", f"/os-quota-sets/{project}", {"quota_set": {"volumes": 1}})
    assert below.json()["badRequest"]["message"] == (
        "Quota volumes limit must be equal or greater than existing resources. Current usage is 2 and the "
        "requested limit is 1."
    )
    assert admin("DELETE", f"/os-quota-sets/{project}").status_code == 200
    assert member("GET", f"/os-quota-sets/{project}").json()["quota_set"]["volumes"] == 10


# ================================================================================== about the service
def test_zones_filters_and_extensions(member):
    assert member("GET", "/os-availability-zone").json() == {
        "availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True}}]
    }
    assert member("GET", "/resource_filters").status_code == 404  # from 3.33 on
    filters = member("GET", "/resource_filters", mv="3.33", resource="volume").json()["resource_filters"]
    assert filters[0]["resource"] == "volume"
    assert "name" in filters[0]["filters"]
    extensions = member("GET", "/extensions").json()["extensions"]
    assert {"os-volume-type-access", "os-used-limits", "os-quota-sets"} <= {e["alias"] for e in extensions}


def test_services_and_capabilities_are_admin_only(member, admin):
    assert member("GET", "/os-services").status_code == 403
    services = admin("GET", "/os-services", mv="3.32").json()["services"]
    assert [(s["binary"], s["state"]) for s in services] == [
        ("cinder-scheduler", "up"),
        ("cinder-volume", "up"),
    ]
    host = services[1]["host"]
    capabilities = admin("GET", f"/capabilities/{host}").json()
    assert capabilities["namespace"] == f"OS::Storage::Capabilities::{host}"
    assert (
        admin("GET", "/capabilities/nowhere").json()["itemNotFound"]["message"]
        == "Can't find service: nowhere"
    )
    assert member("GET", f"/capabilities/{host}").status_code == 403
