"""TungstenClient.ensure_project: a Keystone project (made by IdentityAdmin) becomes TF's on one read."""

import uuid

import pytest

from cloudkit.errors import InvalidArgumentError, NotFoundError
from cloudkit.openstack import IdentityAdmin


@pytest.fixture
def customer(make_openstack):
    admin = IdentityAdmin.of(make_openstack(username="admin", password="secret", project_name="admin"))
    return admin.ensure_project("cust-42", tags=("cloudkit",))


def test_ensure_project__synced_from_keystone_in_one_read(tungsten, tungsten_calls, customer):
    tungsten.identity()  # log in first
    tungsten_calls.clear()
    ref = tungsten.ensure_project(customer.id)
    assert tungsten_calls.tf_calls() == [("GET", "/project/{id}")]
    assert (ref.type, ref.uuid, ref.fq_name) == (
        "project",
        str(uuid.UUID(customer.id)),
        ("default-domain", "cust-42"),
    )
    groups = tungsten.list_security_groups(project_id=customer.id)
    assert [g.name for g in groups] == ["default"]  # vnc_openstack's sync makes the default group


def test_ensure_project__idempotent(tungsten, tungsten_calls, customer):
    first = tungsten.ensure_project(customer.id)
    tungsten_calls.clear()
    assert tungsten.ensure_project(str(uuid.UUID(customer.id))) == first  # the dashed form too
    assert tungsten_calls.tf_calls() == [("GET", "/project/{id}")]
    assert len(list(tungsten.list_security_groups(project_id=customer.id))) == 1


def test_ensure_project__unknown_in_keystone(tungsten):
    with pytest.raises(NotFoundError) as info:
        tungsten.ensure_project(uuid.uuid4().hex)
    assert any("keystone_sync_on_demand" in note for note in info.value.__notes__)


def test_ensure_project__bad_id(tungsten):
    with pytest.raises(InvalidArgumentError):
        tungsten.ensure_project("cust-42")
