"""The stop-rule sweep against the lab's real Keystone and Nova (``cloudkit lab``): a broke customer's
server is stopped and admin-locked, and its owner's own token cannot start it again (Nova answers 409).

On ``lab_platform`` (``conftest.py``), like ``test_lifecycle_real.py``: billing is the billing fake, the
network step runs on the Tungsten fake validating tokens on the lab's Keystone, the server boots with
``server_network="none"``. Without a lab it skips, and fails when ``CI`` is set (a lab test must not
pass unseen).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from cloudkit.lifecycle import Lifecycle, LifecycleSettings, SagaState, ServerPlan, StopPolicy
from cloudkit.lifecycle._steps import project_name
from cloudkit.openstack import OpenStackClient, OpenStackSettings

OWNER_PASSWORD = "Owner-Passw0rd-1"  # a lab-only customer password
SUSPENDED, ACTIVE = 3, 2


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
