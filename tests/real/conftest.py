"""Shared fixtures of the tests against the lab (``cloudkit lab``).

``lab_platform`` builds what a lifecycle needs against the lab: billing is the billing fake, OpenStack
is the lab's real Keystone, Nova, Cinder and Glance (its admin is the lifecycle account), and the
network step runs on the Tungsten fake validating tokens on the lab's Keystone. It asks for the
plugin's ``openstack_lab``, so it skips unless the lab is asked for and fails when asked but missing
(``CLOUDKIT_LAB=1``, set in CI; see tests/conftest.py: a lab test must not
pass unseen).
"""

from __future__ import annotations

import uuid

import pytest

from cloudkit.billing import BillingSettings
from cloudkit.lab._admin import LabAdmin
from cloudkit.openstack import OpenStackSettings
from cloudkit.platform import Platform
from cloudkit.testing.fakes import BillingFake, TungstenFake
from cloudkit.tungsten import TungstenSettings


@pytest.fixture
def lab_platform(openstack_lab, lab_tenant):
    """``(platform, billing, made)``: append to ``made`` every project the test creates, to purge it.

    The Tungsten fake logs in as a fresh admin of its own project ``svc-tf-<suffix>``; that project,
    its user and every project in ``made`` are purged in teardown.
    """
    admin = LabAdmin(openstack_lab.ports)
    suffix = uuid.uuid4().hex[:6]
    tf_user, tf_password = f"svc-tf-{suffix}", "svc-tf-Passw0rd"
    made: list[str] = []
    try:
        tenant = admin.create_tenant(f"svc-tf-{suffix}", tf_user, tf_password)
        admin_role = admin.ks("GET", "/roles", params={"name": "admin"})["roles"][0]["id"]
        admin.ks("PUT", f"/projects/{tenant.project_id}/users/{tenant.user_id}/roles/{admin_role}")
        with (
            BillingFake(complete_operations=False) as billing,
            TungstenFake(
                keystone_url=openstack_lab.auth_url,
                keystone_admin=(
                    openstack_lab.admin_username,
                    openstack_lab.admin_password.get_secret_value(),
                    openstack_lab.admin_project,
                ),
            ) as tf,
        ):
            platform = Platform(
                billing=BillingSettings(url=billing.url, username="admin", password="secret"),
                openstack=OpenStackSettings(
                    auth_url=openstack_lab.auth_url,
                    username=openstack_lab.admin_username,
                    password=openstack_lab.admin_password,
                    project_name=openstack_lab.admin_project,
                ),
                tungsten=TungstenSettings(
                    url=tf.url,
                    auth_url=openstack_lab.auth_url,
                    username=tf_user,
                    password=tf_password,
                    project_name=f"svc-tf-{suffix}",
                ),
            )
            yield platform, billing, made
    finally:
        for project in made:
            admin.purge_project(project, project)
        admin.purge_project(f"svc-tf-{suffix}", tf_user)
        admin.close()
