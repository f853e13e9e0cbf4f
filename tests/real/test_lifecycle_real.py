"""The lifecycle sagas against the lab's real Keystone, Nova, Cinder and Glance (``cloudkit lab``).

The network step runs on the Tungsten fake, which validates tokens on the lab's real Keystone. The lab's
Nova has no TF-aware Neutron, so the server boots with ``server_network="none"`` and the TF port is
only recorded (the mode the engine offers for such a Nova). Billing is the billing fake (``lab_platform``
in ``conftest.py``).
"""

from __future__ import annotations

import uuid

from cloudkit.lifecycle import Lifecycle, LifecycleSettings, SagaState, ServerPlan
from cloudkit.lifecycle._steps import project_name
from cloudkit.openstack import OpenStackClient, OpenStackSettings


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
