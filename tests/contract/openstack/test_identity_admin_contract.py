"""Onboarding a customer in Keystone with IdentityAdmin: cassette (recorded from the lab's real Keystone),
the fake and the lab (``cloudkit lab``).

The same assertions, including the exact Keystone calls of a re-run (reads only), hold on all three.
"""

import re

import pytest

from cloudkit import Secret
from cloudkit.errors import ConflictError, PermissionDeniedError
from cloudkit.openstack import IdentityAdmin

CUSTOMER = "onb-cust-1"
PASSWORD = "onb-Passw0rd-1"
_V3 = re.compile(r"^.*?/v3(?=/)")


@pytest.fixture
def clean(keystone_backend):
    """On the lab, the customer's project and user are gone before and after the test."""

    def purge():
        if keystone_backend.users is not None:
            keystone_backend.users.admin.purge_project(CUSTOMER, CUSTOMER)

    purge()
    yield
    purge()


def keystone_calls(calls, since=0):
    """(method, path below /v3) of the Keystone calls past the logins, on the fake's and the lab's URLs."""
    out = []
    for method, path in calls.calls[since:]:
        rest = _V3.sub("", path)
        if rest not in (path, "/auth/tokens"):
            out.append((method, rest))
    return out


def onboard(admin):
    project = admin.ensure_project(CUSTOMER, description="contract test", tags=("cloudkit",))
    user = admin.ensure_user(CUSTOMER, password=Secret(PASSWORD), project=project)
    admin.grant_role(user, project, "member")
    return project, user


def test_onboard__twice(keystone_backend, openstack_calls, clean):
    admin = keystone_backend.make_identity_admin()
    project, user = onboard(admin)
    assert (project.name, project.domain_id, project.tags, project.enabled) == (
        CUSTOMER,
        "default",
        ("cloudkit",),
        True,
    )
    assert (user.name, user.default_project_id) == (CUSTOMER, project.id)
    assert admin.roles_of(user, project) == ("member",)

    seen = len(openstack_calls.calls)
    assert onboard(admin) == (project, user)
    assert keystone_calls(openstack_calls, seen) == [
        ("GET", "/projects"),
        ("GET", "/users"),
        ("GET", "/roles"),
        ("HEAD", "/projects/{id}/users/{id}/roles/{id}"),
    ]

    customer = keystone_backend.make_client(username=CUSTOMER, password=PASSWORD, project_name=CUSTOMER)
    info = customer.token_info()
    assert (info.user_name, info.project_id) == (CUSTOMER, project.id)
    assert "member" in info.roles

    admin.revoke_role(user, project, "member")
    assert not admin.has_role(user, project, "member")
    admin.delete_user(user)
    admin.delete_project(project)
    admin.delete_project(project)  # already gone: done
    assert admin.find_project(CUSTOMER) is None
    assert admin.find_user(CUSTOMER) is None


def test_create_project__duplicate_name(keystone_backend, clean):
    admin = keystone_backend.make_identity_admin()
    first = admin.create_project(CUSTOMER)
    with pytest.raises(ConflictError) as info:
        admin.create_project(CUSTOMER)
    assert info.value.status == 409
    assert re.fullmatch(
        "Keystone refused: Conflict occurred attempting to store project - it is not permitted to have two "
        f"projects with either the same name or same id in the same domain: name is {CUSTOMER}, "
        "project id [0-9a-f]{32}.",
        str(info.value).removesuffix(" [openstack create_project]"),
    ), str(info.value)
    assert admin.ensure_project(CUSTOMER) == first  # no tags asked: the existing one is adopted
    admin.delete_project(first)


def test_ensure_project__member_is_refused(keystone_backend):
    member = keystone_backend.make_client()  # portal, member of alice
    with pytest.raises(PermissionDeniedError) as info:
        IdentityAdmin.of(member).ensure_project(CUSTOMER)
    assert info.value.status == 403


def test_has_role__direct_assignment_only(keystone_backend):
    admin = keystone_backend.make_identity_admin()
    project, user = admin.find_project("admin"), admin.find_user("admin")
    assert admin.has_role(user, project, "admin")
    assert not admin.has_role(user, project, "member")  # implied by admin, never assigned
