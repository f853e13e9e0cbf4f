"""The doctor's capacity check against the lab's real Placement and Nova (runs when CLOUDKIT_LAB=1).

The test boots one server in a project of its own (not the shared ``alice``), then checks that the
finding's numbers are Placement's (capacity as read, not hard-coded) and that the host is the
hypervisor Nova names.
"""

from __future__ import annotations

import datetime as dt
import uuid

from cloudkit._doctor_checks import DoctorSettings, check_capacity
from cloudkit.lab._admin import LabAdmin
from cloudkit.openstack import OpenStackClient, OpenStackSettings


def test_capacity_check_reports_the_lab_host_with_placements_numbers(openstack_lab):
    admin = LabAdmin(openstack_lab.ports)
    suffix = uuid.uuid4().hex[:6]
    project, user, password = f"doctor-{suffix}", f"doctor-{suffix}", "doctor-Passw0rd"
    admin_settings = OpenStackSettings(
        auth_url=openstack_lab.auth_url,
        username=openstack_lab.admin_username,
        password=openstack_lab.admin_password,
        project_name=openstack_lab.admin_project,
    )
    try:
        admin.create_tenant(project, user, password)
        member = OpenStackSettings(
            auth_url=openstack_lab.auth_url, username=user, password=password, project_name=project
        )
        with OpenStackClient(member) as portal, OpenStackClient(admin_settings) as client:
            image = next(i.id for i in portal.list_images() if i.os_distro == "ubuntu")
            portal.create_server("doctor-1", image=image, flavor="2", system_volume_size=10)
            read = {r.resource_class: r for a in client.placement_capacity() for r in a.resources}
            compute = client._conn.compute
            hosts = [
                h["hypervisor_hostname"] for h in compute.get("/os-hypervisors/detail").json()["hypervisors"]
            ]
            findings, notes = [], []
            # a threshold of 100 % makes any used vCPU a finding: ours is one
            check_capacity(
                client,
                DoctorSettings(min_free_percent=100),
                findings,
                notes,
                now=lambda: dt.datetime.now(dt.UTC),
                who="admin",
            )
    finally:
        admin.purge_project(project, user)
        admin.close()
    vcpu = next(f for f in findings if f.details.get("resource_class") == "VCPU")
    assert vcpu.quirk == "openstack.capacity"
    assert vcpu.details["hosts"] == hosts
    assert vcpu.details["capacity"] == read["VCPU"].capacity  # Placement's capacity, as read
    assert vcpu.details["used"] >= 1  # our server holds at least one vCPU
    assert 0 <= vcpu.details["free"] < vcpu.details["capacity"]
    assert f"on {', '.join(hosts)}" in vcpu.problem
