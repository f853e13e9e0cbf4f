"""The portal session against the lab's real Keystone (``cloudkit lab``) and the billing fake.

Keystone's same-second revocation is a property of the real server's clock, so this module waits for
real (about one second per password change): the only tests in the suite that do.
"""

import os
import uuid

import pytest

from cloudkit.errors import AuthenticationError, TokenRevokedError
from cloudkit.lab._admin import LabAdmin
from cloudkit.session import SessionManager


@pytest.fixture
def keystone_user(openstack_lab, lab_tenant, billing_fake):
    """A throwaway user in the lab's Keystone (project alice, role member) and in the billing fake."""
    name, password = f"portal-{uuid.uuid4().hex[:8]}", "first-Passw0rd"
    admin = LabAdmin(openstack_lab.ports)
    try:
        user = {
            "name": name,
            "password": password,
            "domain_id": "default",
            "default_project_id": lab_tenant.project_id,
        }
        user_id = admin.ks("POST", "/users", json={"user": user})["user"]["id"]
        member = admin.ks("GET", "/roles", params={"name": "member"})["roles"][0]["id"]
        admin.ks("PUT", f"/projects/{lab_tenant.project_id}/users/{user_id}/roles/{member}")
        billing_fake.add_user(name, password, account_name=f"{name} Ltd")
        yield openstack_lab.auth_url, name, password
        admin.ks("DELETE", f"/users/{user_id}")
    finally:
        admin.close()


@pytest.mark.quirk("keystone.same-second-revocation")
def test_password_change_against_real_keystone(keystone_user, billing_fake):
    url, name, password = keystone_user
    manager = SessionManager(billing_url=billing_fake.url, auth_url=url, key=os.urandom(32))
    try:
        issued = manager.login(name, password)
        old = manager.verify(issued.token)
        new = manager.change_password(issued.token, password, "second-Passw0rd")
        # Keystone itself refuses the old token and accepts the new one
        with pytest.raises(TokenRevokedError):
            manager._keystone_validate(old.keystone_token)
        fresh = manager.verify(new.token)
        manager._keystone_validate(fresh.keystone_token)
        with pytest.raises(TokenRevokedError):
            manager.verify(issued.token)
        with pytest.raises(AuthenticationError):
            manager.login(name, password)
        manager.logout(new.token)
        with pytest.raises(TokenRevokedError):
            manager._keystone_validate(fresh.keystone_token)  # logout released the Keystone token too
    finally:
        manager.close()
