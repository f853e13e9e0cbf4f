"""Placement capacity contract: the cassette (recorded from the lab's real Placement and Nova), fake, lab.

The numbers are checked against Nova's own view of the same host (``os-hypervisors/detail`` at 2.87, the
last microversion that still shows vCPUs, RAM and disk), never hard-coded: the lab's host is large (the
fake virt driver), the fake's small, and both must agree with their Nova.
"""

import datetime as dt

import pytest

RESERVED_MB = 512  # Nova's reserved_host_memory_mb default: in the hypervisor's memory_mb_used, not in usages
SINCE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)  # fixed, so a replay asks the recorded changes-since


def _admin(backend):
    return backend.make_client(username="admin", password=backend.admin_password, project_name="admin")


@pytest.mark.quirk("openstack.capacity")
def test_placement_capacity__one_host(keystone_backend):
    admin = _admin(keystone_backend)
    calls = keystone_backend.make_client.calls
    calls.clear()
    aggregates = admin.placement_capacity()
    reads = [c for c in calls.api_calls() if c[1].startswith("/resource_providers")]
    assert reads == [  # the list, then each provider's three reads: the same sequence on every backend
        ("GET", "/resource_providers"),
        ("GET", "/resource_providers/{id}/inventories"),
        ("GET", "/resource_providers/{id}/usages"),
        ("GET", "/resource_providers/{id}/aggregates"),
    ]
    compute = admin._conn.compute
    hypervisors = compute.get("/os-hypervisors/detail", microversion="2.87").json()["hypervisors"]
    assert sorted(p for a in aggregates for p in a.providers) == sorted(
        h["hypervisor_hostname"] for h in hypervisors
    )
    (host,) = hypervisors  # one compute host in the lab and in the fake
    (only,) = aggregates
    vcpu, ram, disk = (only.resource(name) for name in ("VCPU", "MEMORY_MB", "DISK_GB"))
    assert vcpu is not None
    assert ram is not None
    assert disk is not None
    assert vcpu.used == host["vcpus_used"]
    assert ram.used == host["memory_mb_used"] - RESERVED_MB
    assert vcpu.capacity % host["vcpus"] == 0
    assert vcpu.capacity >= host["vcpus"]
    assert ram.capacity == host["memory_mb"] - RESERVED_MB  # ratio 1.0 in both
    assert disk.capacity == host["local_gb"]
    for resource in only.resources:
        assert 0 <= resource.free <= resource.capacity
    failures = admin.build_failures(since=SINCE)
    assert all(f.at >= SINCE and f.message for f in failures)
