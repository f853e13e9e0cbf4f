"""The OpenStack fake's Keystone: the default domain by id and ``/role_assignments``, which openstacksdk's
``create_temporary_project`` (get_domain, list_role_assignments, grant_role with wait) relies on."""

import httpx
import pytest


@pytest.fixture
def http():
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        yield client


def _token(http, fake, creds):
    answer = http.post(f"{fake.auth_url}/auth/tokens", json=creds.token_request())
    return {"X-Auth-Token": answer.headers["X-Subject-Token"]}


def test_default_domain_by_id(http, openstack_fake):
    admin = _token(http, openstack_fake, openstack_fake.admin)
    domain = http.get(f"{openstack_fake.auth_url}/domains/default", headers=admin).json()["domain"]
    assert (domain["id"], domain["name"], domain["enabled"]) == ("default", "Default", True)
    missing = http.get(f"{openstack_fake.auth_url}/domains/other", headers=admin)
    assert (missing.status_code, missing.json()["error"]["message"]) == (404, "Could not find domain: other.")


def test_role_assignments_direct_and_effective(http, openstack_fake):
    fake = openstack_fake
    admin = _token(http, fake, fake.admin)
    url = f"{fake.auth_url}/role_assignments"
    mine = {"user.id": fake.admin.user_id, "scope.project.id": fake.admin.project_id}
    direct = http.get(url, params=mine, headers=admin).json()["role_assignments"]
    roles = {r["name"]: r["id"] for r in http.get(f"{fake.auth_url}/roles", headers=admin).json()["roles"]}
    assert [a["role"]["id"] for a in direct] == [roles["admin"]]
    assert direct[0]["scope"] == {"project": {"id": fake.admin.project_id}}
    assert direct[0]["user"] == {"id": fake.admin.user_id}
    assert direct[0]["links"]["assignment"].endswith(
        f"/projects/{fake.admin.project_id}/users/{fake.admin.user_id}/roles/{roles['admin']}"
    )
    effective = http.get(url, params={**mine, "effective": ""}, headers=admin).json()["role_assignments"]
    assert [a["role"]["id"] for a in effective] == [roles["admin"], roles["member"], roles["reader"]]
    assert effective[2]["links"]["prior_role"].endswith(f"/roles/{roles['member']}")
    only_member = http.get(url, params={**mine, "role.id": roles["member"]}, headers=admin)
    assert only_member.json()["role_assignments"] == []
    refused = http.get(url, headers=_token(http, fake, fake.portal))
    assert refused.status_code == 403
