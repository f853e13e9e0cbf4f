"""Smoke test of the lab's real Keystone and Glance (``cloudkit lab``) through plain openstacksdk.

The lab is found or started by the ``openstack_lab`` fixture: when the lab is asked for (``CLOUDKIT_LAB=1``,
which cloudkit's CI sets) a missing lab is a failure, never a skip, because a CI run that silently
skipped the live checks would prove nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from openstack import exceptions
from openstack.connection import Connection

from cloudkit.testing._lab_fixtures import LAB_PASSWORD

# openstacksdk 4.22 warns against itself, whatever the caller passes, so with filterwarnings=error it
# cannot be used at all. Exactly these three messages (by text and class) are ignored; any other warning
# still fails the tests.
# - RemovedInSDK60Warning "Support for InfluxDB ...": on every Connection built from arguments, though no
#   InfluxDB is configured (the config loader returns a dict of Nones, CloudRegion warns if it is non-empty).
# - RemovedInSDK50Warning "The 'service_type' parameter is unnecesary ...": on every request
#   (Proxy._get_cache_key_prefix passes it to Proxy._extract_name).
# - RemovedInSDK50Warning "The _compute_attributes method ...": on every Resource built from a response.
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


@dataclass(frozen=True)
class RealServices:
    keystone_url: str
    glance_url: str
    region: str
    admin_password: str
    portal_password: str


@pytest.fixture
def real(openstack_lab, lab_tenant) -> RealServices:
    """The lab's Keystone and Glance, with user portal in a fresh project alice."""
    return RealServices(
        keystone_url=openstack_lab.auth_url,
        glance_url=f"http://127.0.0.1:{openstack_lab.ports.glance}",
        region="RegionOne",
        admin_password=openstack_lab.admin_password.get_secret_value(),
        portal_password=LAB_PASSWORD,
    )


@contextmanager
def connect(real: RealServices, username: str, password: str, project: str) -> Iterator[Connection]:
    """A project-scoped openstacksdk connection (no clouds.yaml, no OS_* variables), closed afterwards."""
    conn = Connection(
        auth_type="password",
        auth={
            "auth_url": real.keystone_url,
            "username": username,
            "password": password,
            "project_name": project,
            "user_domain_id": "default",
            "project_domain_id": "default",
        },
        region_name=real.region,
        interface="public",
        api_timeout=30,
    )
    try:
        yield conn
    finally:
        conn.close()


def test_portal_authenticates_and_its_token_validates(real: RealServices) -> None:
    with connect(real, "portal", real.portal_password, "alice") as portal:
        token = portal.authorize()
        validated = portal.identity.validate_token(token)
        assert validated.user["name"] == "portal"
        assert validated.project["name"] == "alice"
        assert "member" in {role["name"] for role in validated.roles}
        assert portal.identity.check_token(token)

        garbage = portal.identity.get(
            "/auth/tokens", headers={"X-Subject-Token": "gAAAAAnonsense"}, raise_exc=False
        )
        assert garbage.status_code == 404


def test_portal_lists_the_public_images_through_the_catalog(real: RealServices) -> None:
    with connect(real, "portal", real.portal_password, "alice") as portal:
        # The image endpoint comes from the Keystone catalog (service type "image"), not from the test.
        assert portal.image.get_endpoint().rstrip("/").startswith(real.glance_url.rstrip("/"))
        images = {image.name: image for image in portal.image.images()}
        ubuntu = images["ubuntu-24.04"]
        assert (ubuntu.status, ubuntu.visibility, ubuntu.os_distro) == ("active", "public", "ubuntu")
        assert ubuntu.owner_id != portal.current_project_id  # the lab's admin published it


def test_password_change_revokes_the_old_token_and_a_new_login_works(real: RealServices) -> None:
    name = f"smoke-{uuid.uuid4().hex[:12]}"
    old_password, new_password = "old-pass-1", "new-pass-2"
    with connect(real, "admin", real.admin_password, "admin") as admin:
        alice = admin.identity.find_project("alice", domain_id="default", ignore_missing=False)
        user = admin.identity.create_user(
            name=name, password=old_password, domain_id="default", default_project_id=alice.id
        )
        try:
            member = admin.identity.find_role("member", ignore_missing=False)
            admin.identity.assign_project_role_to_user(alice, user, member)

            with connect(real, name, old_password, "alice") as throwaway:
                old_token = throwaway.authorize()
                assert admin.identity.validate_token(old_token).user["id"] == user.id

                # POST /v3/users/{id}/password, authenticated with the user's own token.
                throwaway.identity.update_password(user, old_password, new_password)
            changed_at = time.monotonic()

            with pytest.raises(exceptions.NotFoundException) as refused:
                admin.identity.validate_token(old_token)
            assert refused.value.status_code == 404
            assert not admin.identity.check_token(old_token)

            with connect(real, name, old_password, "alice") as stale, pytest.raises(exceptions.SDKException):
                stale.authorize()

            # Keystone revokes every token of the user issued up to the change, and fernet tokens carry
            # whole seconds: a token issued in the same second as the change is revoked too.
            time.sleep(max(0.0, 1.1 - (time.monotonic() - changed_at)))
            with connect(real, name, new_password, "alice") as fresh:
                new_token = fresh.authorize()
                assert fresh.identity.validate_token(new_token).user["id"] == user.id
            assert admin.identity.check_token(new_token)
        finally:
            admin.identity.delete_user(user)
