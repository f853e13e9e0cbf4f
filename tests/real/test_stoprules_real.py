"""The stop-rule sweep against the lab's real Keystone and Nova (``cloudkit lab``): a broke customer's
server is stopped and admin-locked, and its owner's own token cannot start it again (Nova answers 409).

Built like ``test_lifecycle_real.py``: billing is the billing fake, the network step runs on the Tungsten
fake validating tokens on the lab's Keystone, the server boots with ``server_network="none"``. Without a
lab the ``openstack_lab`` fixture skips, and fails when ``CI`` is set (a lab test must not pass unseen).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from cloudkit.billing import BillingSettings
from cloudkit.lab._admin import LabAdmin
from cloudkit.lifecycle import Lifecycle, LifecycleSettings, SagaState, ServerPlan, StopPolicy
from cloudkit.lifecycle._steps import project_name
from cloudkit.openstack import OpenStackClient, OpenStackSettings
from cloudkit.platform import Platform
from cloudkit.testing.fakes import BillingFake, TungstenFake
from cloudkit.tungsten import TungstenSettings

OWNER_PASSWORD = "Owner-Passw0rd-1"  # a lab-only customer password
SUSPENDED, ACTIVE = 3, 2


@pytest.fixture
def lab_platform(openstack_lab, lab_tenant):
    """Billing fake, the lab's admin as the lifecycle account, a TF fake on the lab's Keystone."""
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


def _start_as(owner: OpenStackClient, server_id: str) -> tuple[int, str]:
    """``os-start`` sent with the owner's own token, Nova's answer as is (no cloudkit check in front)."""
    reply = owner._conn.compute.post(f"/servers/{server_id}/action", json={"os-start": None}, raise_exc=False)
    return reply.status_code, reply.text


def test_the_sweep_locks_a_broke_customers_server_against_its_owner(lab_platform, tmp_path):
    platform, billing, made = lab_platform
    login = f"lab-{uuid.uuid4().hex[:6]}"
    account = billing.add_user(login, "pw", account_name=f"{login} Ltd").account_id
    item = billing.add_service(login, "cloud server", status=1)
    settings = LifecycleSettings(db_url=f"sqlite:///{tmp_path / 'lc.db'}", server_network="none")
    project = project_name(settings, account)
    made.append(project)
    policy = StopPolicy(name="lab")
    with Lifecycle(platform, settings=settings) as lifecycle, OpenStackClient(platform.openstack) as admin:
        image = next(i for i in admin.list_images() if i.os_distro == "cirros" or "cirros" in i.name)
        lifecycle.onboard(account, password=OWNER_PASSWORD)  # the owner's password, for the owner's token
        opened = lifecycle.provision(
            item, account, ServerPlan(image=image.id, flavor="1", system_volume_gb=1)
        )
        assert opened.state is SagaState.DONE, opened.last_error
        server_id = opened.outside_ids["server"]
        owner_settings = OpenStackSettings(
            auth_url=platform.openstack.auth_url,
            username=project,  # assumption of onboard: the user is named like the project
            password=OWNER_PASSWORD,
            project_name=project,
        )
        with OpenStackClient(owner_settings) as owner:
            assert owner.get_server(server_id).status == "ACTIVE"

            billing.charge(login, Decimal("5.00"))
            report = lifecycle.sweep(policy)
            assert (report.state, report["suspend"], report["items_suspended"]) == ("done", 1, 1), (
                report.errors
            )

            suspended = owner.get_server(server_id)
            assert (suspended.status, suspended.locked) == ("SHUTOFF", True)
            status, text = _start_as(owner, server_id)
            assert status == 409, text
            assert "locked" in text.lower()
            assert owner.get_server(server_id).status == "SHUTOFF"
            assert billing.service_status(item) == SUSPENDED
            assert lifecycle.sweep(policy)["items_suspended"] == 0  # nothing new

            billing.pay(login, Decimal("10.00"))
            resumed = lifecycle.sweep(policy)
            assert resumed["items_resumed"] == 1, resumed.errors
            server = owner.get_server(server_id)
            assert (server.status, server.locked) == ("ACTIVE", False)
            assert billing.service_status(item) == ACTIVE
        assert lifecycle.close(item).state is SagaState.DONE
