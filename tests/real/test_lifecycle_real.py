"""The lifecycle sagas against the lab's real Keystone, Nova, Cinder and Glance (``cloudkit lab``).

The network step runs on the Tungsten fake, which validates tokens on the lab's real Keystone. The lab's
Nova has no TF-aware Neutron, so the server boots with ``server_network="none"`` and the TF port is
only recorded (the mode the engine offers for such a Nova). Billing is the billing fake.
"""

from __future__ import annotations

import uuid

import pytest

from cloudkit.billing import BillingSettings
from cloudkit.lab._admin import LabAdmin
from cloudkit.lifecycle import Lifecycle, LifecycleSettings, SagaState, ServerPlan
from cloudkit.lifecycle._steps import project_name
from cloudkit.openstack import OpenStackClient, OpenStackSettings
from cloudkit.platform import Platform
from cloudkit.testing.fakes import BillingFake, TungstenFake
from cloudkit.tungsten import TungstenSettings


@pytest.fixture
def lab_platform(openstack_lab, lab_tenant, tmp_path):
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


def test_provision_suspend_resume_close_on_real_nova_and_cinder(lab_platform, tmp_path):
    platform, billing, made = lab_platform
    login = f"lab-{uuid.uuid4().hex[:6]}"
    account = billing.add_user(login, "pw", account_name=f"{login} Ltd").account_id
    item = billing.add_service(login, "cloud server", status=1)
    settings = LifecycleSettings(db_url=f"sqlite:///{tmp_path / 'lc.db'}", server_network="none")
    made.append(project_name(settings, account))
    with Lifecycle(platform, settings=settings) as lifecycle, OpenStackClient(platform.openstack) as admin:
        image = next(i for i in admin.list_images() if i.os_distro == "cirros" or "cirros" in i.name)
        plan = ServerPlan(image=image.id, flavor="1", system_volume_gb=1)
        opened = lifecycle.provision(item, account, plan)
        assert opened.state is SagaState.DONE, opened.last_error
        server_id = opened.outside_ids["server"]
        customer = OpenStackSettings(
            auth_url=platform.openstack.auth_url,
            username=platform.openstack.username,
            password=platform.openstack.password,
            project_name=project_name(settings, account),
        )
        with OpenStackClient(customer) as cloud:
            server = cloud.get_server(server_id)
            assert server.status == "ACTIVE"
            assert f"cloudkit-saga:{opened.id}" in server.tags
            assert server.system_volume_id

            assert lifecycle.suspend(item, "nonpayment").state is SagaState.DONE
            suspended = cloud.get_server(server_id)
            assert (suspended.status, suspended.locked) == ("SHUTOFF", True)
            assert lifecycle.resume(item).state is SagaState.DONE
            assert cloud.get_server(server_id).status == "ACTIVE"
            assert lifecycle.close(item).state is SagaState.DONE
            assert cloud.list_servers(tags=[f"cloudkit-item:{item}"]) == []
            assert server.system_volume_id not in {v.id for v in cloud.list_volumes()}
        assert billing.service_status(item) == 4
