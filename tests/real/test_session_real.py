"""The portal session against the real Keystone (tools/real-services) and the billing fake.

Keystone's same-second revocation is a property of the real server's clock, so this module waits for
real (about one second per password change): the only tests in the suite that do.
"""

import json
import os
import uuid
from urllib.request import Request, urlopen

import pytest

from cloudkit.errors import AuthenticationError, TokenRevokedError
from cloudkit.session import SessionManager
from cloudkit.testing.plugin import real_keystone_url


def _call(method: str, url: str, *, token: str | None = None, body: dict | None = None) -> tuple[dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310 (loopback)
    if token:
        request.add_header("X-Auth-Token", token)
    with urlopen(request, timeout=30) as response:  # noqa: S310 (loopback Keystone)
        raw = response.read()
        return (json.loads(raw) if raw else {}), dict(response.headers)


@pytest.fixture
def keystone_user(billing_fake):
    """A throwaway user in real Keystone (default project alice, role member) and in the billing fake."""
    url = real_keystone_url(required=False)
    admin_body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "domain": {"name": "Default"},
                        "password": os.environ["CLOUDKIT_REAL_ADMIN_PASSWORD"],
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }
    _, headers = _call("POST", f"{url}/auth/tokens", body=admin_body)
    admin = headers["X-Subject-Token"]
    project_id = os.environ["CLOUDKIT_REAL_ALICE_PROJECT_ID"]
    name, password = f"portal-{uuid.uuid4().hex[:8]}", "first-Passw0rd"
    user = {
        "user": {"name": name, "password": password, "domain_id": "default", "default_project_id": project_id}
    }
    created, _ = _call("POST", f"{url}/users", token=admin, body=user)
    roles, _ = _call("GET", f"{url}/roles?name=member", token=admin)
    role_id = roles["roles"][0]["id"]
    _call("PUT", f"{url}/projects/{project_id}/users/{created['user']['id']}/roles/{role_id}", token=admin)
    billing_fake.add_user(name, password, account_name=f"{name} Ltd")
    yield url, name, password
    _call("DELETE", f"{url}/users/{created['user']['id']}", token=admin)


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
